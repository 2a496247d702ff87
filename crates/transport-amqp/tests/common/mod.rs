//! Shared helpers of the RabbitMQ integration tests: every test uses its own random
//! exchange and queue names, and is skipped (loudly) when no broker is reachable — except
//! under CI=true, where a missing broker is a failure.

#![allow(dead_code)]

use chargewatch_logstore::record::{new_record_id, Direction, LogLevel, LogRecord};
use chargewatch_transport_amqp::AmqpConfig;
use std::time::Duration;

pub const DEFAULT_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

/// A config with random names, or `None` (after printing SKIPPED) without a broker.
pub fn config(test: &str) -> Option<AmqpConfig> {
    let url = std::env::var("CHARGEWATCH_TEST_AMQP_URL").unwrap_or_else(|_| DEFAULT_URL.to_owned());
    let addr =
        url.split('@').next_back().and_then(|rest| rest.split('/').next()).unwrap_or("127.0.0.1:5672").to_owned();
    let reachable = std::net::ToSocketAddrs::to_socket_addrs(&addr.as_str())
        .ok()
        .and_then(|mut a| a.next())
        .is_some_and(|a| std::net::TcpStream::connect_timeout(&a, Duration::from_secs(2)).is_ok());
    if !reachable {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("RabbitMQ not reachable at {addr} (CI=true: the broker is required)");
        }
        // Written to the real stderr, past the test harness's capture, so that it shows.
        use std::io::Write;
        let _ = writeln!(std::io::stderr(), "SKIPPED: RabbitMQ not reachable at {addr} ({test})");
        return None;
    }
    let tag = format!("test.{test}.{}", uuid::Uuid::new_v4().simple());
    Some(AmqpConfig {
        url,
        exchange: format!("{tag}.logs"),
        queue: format!("{tag}.indexer"),
        command_exchange: format!("{tag}.commands"),
        levels_exchange: format!("{tag}.levels"),
        connection_name: format!("chargewatch-{tag}"),
        backoff_initial: Duration::from_millis(50),
        backoff_max: Duration::from_millis(500),
        ..Default::default()
    })
}

pub fn record(station: &str, n: usize) -> LogRecord {
    let ts = chrono::Utc::now();
    LogRecord {
        id: new_record_id(ts),
        timestamp: ts,
        action: Some("Heartbeat".into()),
        station_id: station.into(),
        connector_id: Some((n % 3) as i64),
        status: None,
        error_code: None,
        site_id: Some("site".into()),
        site_name: None,
        direction: Direction::In,
        message_type: "CALL".into(),
        unique_id: Some(format!("u-{n}")),
        level: LogLevel::Debug,
        latency_ms: None,
        validation_error: None,
        raw: format!(r#"[2,"u-{n}","Heartbeat",{{}}]"#),
    }
}

/// Removes the test's exchanges and queues (best effort).
pub async fn cleanup(config: &AmqpConfig) {
    use lapin::options::{ExchangeDeleteOptions, QueueDeleteOptions};
    let Ok(conn) = lapin::Connection::connect(&config.url, lapin::ConnectionProperties::default()).await else {
        return;
    };
    if let Ok(ch) = conn.create_channel().await {
        for q in [config.queue.clone(), format!("{}.dead", config.queue)] {
            let _ = ch.queue_delete(q.as_str().into(), QueueDeleteOptions::default()).await;
        }
        for x in [
            config.exchange.clone(),
            format!("{}.dead", config.exchange),
            config.command_exchange.clone(),
            config.levels_exchange.clone(),
        ] {
            let _ = ch.exchange_delete(x.as_str().into(), ExchangeDeleteOptions::default()).await;
        }
    }
    let _ = conn.close(200, "bye".into()).await;
}

/// Closes this test's broker connections (those whose name contains `tag`) as an operator
/// would with `rabbitmqctl close_connection`; other tests' connections stay up. Returns how
/// many were closed.
pub fn close_connections(tag: &str) -> usize {
    let out = std::process::Command::new("rabbitmqctl")
        .args(["-q", "list_connections", "pid", "client_properties"])
        .output()
        .expect("rabbitmqctl runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut closed = 0;
    for line in text.lines().filter(|l| l.contains(tag)) {
        let Some(pid) = line.split_whitespace().next() else { continue };
        let status = std::process::Command::new("rabbitmqctl")
            .args(["-q", "close_connection", pid, "test"])
            .status()
            .expect("rabbitmqctl runs");
        if status.success() {
            closed += 1;
        }
    }
    closed
}
