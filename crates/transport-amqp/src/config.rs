//! Names, sizes and timings of the RabbitMQ transport, with documented defaults.

use std::fmt;
use std::time::Duration;

/// Configuration of every part of the RabbitMQ transport. `Default` gives the production
/// names; tests override the names with random ones.
#[derive(Clone)]
pub struct AmqpConfig {
    /// `amqp://user:password@host:port/vhost` (the vhost `/` is written `%2f`).
    /// Default `amqp://guest:guest@127.0.0.1:5672/%2f`. The password is hidden in `Debug`.
    pub url: String,
    /// Durable topic exchange for log records, routing key = station id. Default `chargewatch.logs`.
    pub exchange: String,
    /// Durable (quorum) queue the indexers consume. Default `chargewatch.logs.indexer`.
    /// Unreadable messages are dead-lettered to `{queue}.dead` through the fanout exchange
    /// `{exchange}.dead`.
    pub queue: String,
    /// Ask for a quorum queue (`x-queue-type: quorum`); falls back to a classic durable queue
    /// when the broker refuses. Default `true`.
    pub quorum_queue: bool,
    /// Direct exchange routing operator commands to the gateway holding the station.
    /// Default `chargewatch.commands`.
    pub command_exchange: String,
    /// Fanout exchange announcing log-level changes. Default `chargewatch.levels`.
    pub levels_exchange: String,
    /// Publisher: records held in memory until the broker confirms them (queued + in flight).
    /// When full, new records are dropped and counted. Default 100 000.
    pub buffer_capacity: usize,
    /// Publisher: unconfirmed messages in flight at once. Default 64: when the window is
    /// full, records wait and the next message carries many of them.
    pub confirm_window: usize,
    /// Publisher: most records in one message (a wire v2 batch). Default 200.
    pub batch_records: usize,
    /// Publisher: after a record arrives with fewer than `batch_records` waiting, how long
    /// to wait for more before it goes out. Default 2 ms: the broker's cost is mostly per
    /// message, and 2 ms is nothing against the time to visibility.
    pub publish_linger: Duration,
    /// Publisher: a publish not confirmed within this time counts as a broken connection. Default 30 s.
    pub confirm_timeout: Duration,
    /// Consumer: unacknowledged deliveries (messages, each one or more records) the broker
    /// sends ahead (basic.qos). Default 400.
    pub prefetch: u16,
    /// Consumer: after the first delivery of a batch, how long to wait for more. Default 5 ms.
    pub linger: Duration,
    /// Reconnect backoff: first delay, doubled per failure up to `backoff_max`. Defaults 100 ms, 10 s.
    pub backoff_initial: Duration,
    pub backoff_max: Duration,
    /// The longest one connection attempt may take, and how long a part's first connection
    /// keeps trying (with backoff) before its process gives up. Default 10 s.
    pub connect_timeout: Duration,
    /// Shown in the RabbitMQ management UI as the connection name (a suffix names the part).
    /// Default `chargewatch`.
    pub connection_name: String,
}

impl Default for AmqpConfig {
    fn default() -> Self {
        AmqpConfig {
            url: "amqp://guest:guest@127.0.0.1:5672/%2f".into(),
            exchange: "chargewatch.logs".into(),
            queue: "chargewatch.logs.indexer".into(),
            quorum_queue: true,
            command_exchange: "chargewatch.commands".into(),
            levels_exchange: "chargewatch.levels".into(),
            buffer_capacity: 100_000,
            confirm_window: 64,
            batch_records: 200,
            publish_linger: Duration::from_millis(2),
            confirm_timeout: Duration::from_secs(30),
            prefetch: 400,
            linger: Duration::from_millis(5),
            backoff_initial: Duration::from_millis(100),
            backoff_max: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(10),
            connection_name: "chargewatch".into(),
        }
    }
}

impl AmqpConfig {
    /// The configuration with `url`, everything else default.
    pub fn with_url(url: impl Into<String>) -> Self {
        AmqpConfig { url: url.into(), ..Default::default() }
    }

    /// Checks the values before anything connects.
    pub fn validate(&self) -> Result<(), String> {
        if !(self.url.starts_with("amqp://") || self.url.starts_with("amqps://")) {
            return Err(format!("AMQP URL must start with amqp:// or amqps://, not `{}`", self.redacted_url()));
        }
        for (what, name) in [
            ("exchange", &self.exchange),
            ("queue", &self.queue),
            ("command exchange", &self.command_exchange),
            ("levels exchange", &self.levels_exchange),
        ] {
            if name.is_empty() || name.len() > 200 {
                return Err(format!("{what} name must be 1..=200 bytes"));
            }
        }
        if self.buffer_capacity == 0 || self.confirm_window == 0 || self.prefetch == 0 || self.batch_records == 0 {
            return Err("buffer capacity, confirm window, batch size and prefetch must be at least 1".into());
        }
        if self.backoff_initial.is_zero() || self.backoff_max < self.backoff_initial {
            return Err("backoff must be positive and backoff_max >= backoff_initial".into());
        }
        Ok(())
    }

    /// The URL with its password replaced by `***`.
    pub fn redacted_url(&self) -> String {
        redact(&self.url)
    }
}

pub(crate) fn redact(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else { return url.to_owned() };
    let rest = &url[scheme_end..];
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => {
            let userinfo = &rest[..at];
            let user = userinfo.split(':').next().unwrap_or("");
            if userinfo.contains(':') {
                format!("{}{}:***{}", &url[..scheme_end], user, &rest[at..])
            } else {
                url.to_owned()
            }
        }
        None => url.to_owned(),
    }
}

impl fmt::Debug for AmqpConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AmqpConfig")
            .field("url", &self.redacted_url())
            .field("exchange", &self.exchange)
            .field("queue", &self.queue)
            .field("quorum_queue", &self.quorum_queue)
            .field("command_exchange", &self.command_exchange)
            .field("levels_exchange", &self.levels_exchange)
            .field("buffer_capacity", &self.buffer_capacity)
            .field("confirm_window", &self.confirm_window)
            .field("batch_records", &self.batch_records)
            .field("publish_linger", &self.publish_linger)
            .field("confirm_timeout", &self.confirm_timeout)
            .field("prefetch", &self.prefetch)
            .field("linger", &self.linger)
            .field("backoff_initial", &self.backoff_initial)
            .field("backoff_max", &self.backoff_max)
            .field("connect_timeout", &self.connect_timeout)
            .field("connection_name", &self.connection_name)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_is_hidden() {
        let c = AmqpConfig::with_url("amqp://user:s3cret@host:5672/%2f");
        assert_eq!(c.redacted_url(), "amqp://user:***@host:5672/%2f");
        assert!(!format!("{c:?}").contains("s3cret"));
        assert_eq!(redact("amqp://host/%2f"), "amqp://host/%2f");
        assert!(c.validate().is_ok());
        assert!(AmqpConfig::with_url("http://x").validate().is_err());
    }
}
