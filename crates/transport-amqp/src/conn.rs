//! Connecting, with a time limit, and the reconnect backoff shared by every part.

use crate::config::AmqpConfig;
use lapin::{Connection, ConnectionProperties};
use std::future::Future;
use std::time::Duration;
use tokio::time::Instant;

/// Errors of setting up the RabbitMQ transport.
#[derive(Debug, thiserror::Error)]
pub enum AmqpError {
    #[error("invalid AMQP configuration: {0}")]
    Config(String),
    #[error("could not connect to RabbitMQ at {url} within {timeout:?}")]
    ConnectTimeout { url: String, timeout: Duration },
    #[error("RabbitMQ at {url}: {source}")]
    Connect { url: String, source: lapin::Error },
    #[error("RabbitMQ: {0}")]
    Broker(#[from] lapin::Error),
}

/// Opens a connection named `{connection_name}.{part}` (visible in `rabbitmqctl list_connections`).
pub(crate) async fn connect(config: &AmqpConfig, part: &str) -> Result<Connection, AmqpError> {
    let props =
        ConnectionProperties::default().with_connection_name(format!("{}.{part}", config.connection_name).into());
    match tokio::time::timeout(config.connect_timeout, Connection::connect(&config.url, props)).await {
        Ok(Ok(c)) => Ok(c),
        Ok(Err(source)) => Err(AmqpError::Connect { url: config.redacted_url(), source }),
        Err(_) => Err(AmqpError::ConnectTimeout { url: config.redacted_url(), timeout: config.connect_timeout }),
    }
}

/// The first connection of a part: `open` is tried again with backoff until it succeeds or
/// `connect_timeout` has passed since the first try, then the last error is returned. A
/// broker that is still starting refuses connections for a while, and processes that start
/// together race to declare the same new queue, which RabbitMQ can answer with a hard
/// INTERNAL_ERROR on one of them; neither is a reason for the process to exit.
pub(crate) async fn first_open<T, F, Fut>(config: &AmqpConfig, part: &str, mut open: F) -> Result<T, AmqpError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, AmqpError>>,
{
    let deadline = Instant::now() + config.connect_timeout;
    let mut backoff = Backoff::new(config);
    loop {
        let error = match tokio::time::timeout_at(deadline, open()).await {
            Ok(Ok(opened)) => return Ok(opened),
            Ok(Err(e)) => e,
            Err(_) => {
                return Err(AmqpError::ConnectTimeout { url: config.redacted_url(), timeout: config.connect_timeout })
            }
        };
        let delay = backoff.next_delay();
        if Instant::now() + delay >= deadline {
            return Err(error);
        }
        tracing::warn!(part, error = %error, retry_in = ?delay, "RabbitMQ: first connection failed; trying again");
        tokio::time::sleep(delay).await;
    }
}

/// Exponential backoff: `initial`, doubled after every failure, capped at `max`; `reset` after
/// a success.
pub(crate) struct Backoff {
    initial: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    pub(crate) fn new(config: &AmqpConfig) -> Self {
        Backoff { initial: config.backoff_initial, max: config.backoff_max, next: config.backoff_initial }
    }

    /// The delay to wait now; the following one is twice as long (up to the cap).
    pub(crate) fn next_delay(&mut self) -> Duration {
        let d = self.next;
        self.next = (self.next * 2).min(self.max);
        d
    }

    pub(crate) fn reset(&mut self) {
        self.next = self.initial;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let config = AmqpConfig {
            backoff_initial: Duration::from_millis(100),
            backoff_max: Duration::from_millis(350),
            ..Default::default()
        };
        let mut b = Backoff::new(&config);
        let got: Vec<_> = (0..4).map(|_| b.next_delay().as_millis()).collect();
        assert_eq!(got, [100, 200, 350, 350]);
        b.reset();
        assert_eq!(b.next_delay().as_millis(), 100);
    }
}
