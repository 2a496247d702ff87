//! Throughput of the RabbitMQ log transport against a real broker.
//!
//! `cargo run --release -p chargewatch-transport-amqp --example amqpbench -- --records 200000 [--url URL]`
//!
//! 1. publish: N records through `AmqpPublisher` (persistent, publisher confirms, pipelined),
//!    timed until the last confirm;
//! 2. drain: `AmqpSource` takes them back in batches of 2000, acking each batch;
//! 3. end to end: publishing and consuming at the same time, timed until the last record
//!    has been consumed and acked.
//!
//! `--classic` uses a classic queue instead of a quorum queue; `--window N` sets the number of
//! unconfirmed publishes in flight. Uses its own random exchange and queue names and deletes them afterwards.

use chargewatch_logstore::record::{new_record_id, Direction, LogLevel, LogRecord};
use chargewatch_logstore::transport::{LogTransport, RecordSource};
use chargewatch_transport_amqp::{AmqpConfig, AmqpPublisher, AmqpSource};
use std::collections::HashSet;
use std::time::{Duration, Instant};

fn record(n: usize) -> LogRecord {
    let ts = chrono::Utc::now();
    LogRecord {
        id: new_record_id(ts),
        timestamp: ts,
        action: Some("MeterValues".into()),
        station_id: format!("CP-{:04}", n % 1000),
        connector_id: Some(1),
        status: None,
        error_code: None,
        site_id: Some("bench".into()),
        site_name: None,
        direction: Direction::In,
        message_type: "CALL".into(),
        unique_id: Some(format!("{n}")),
        level: LogLevel::Debug,
        latency_ms: None,
        validation_error: None,
        raw: format!(
            r#"[2,"{n}","MeterValues",{{"connectorId":1,"meterValue":[{{"timestamp":"2026-11-23T10:15:02Z","sampledValue":[{{"value":"{n}","measurand":"Energy.Active.Import.Register","unit":"Wh"}}]}}]}}]"#
        ),
    }
}

async fn drain(source: &mut AmqpSource, n: usize) -> usize {
    let mut seen = HashSet::with_capacity(n);
    while seen.len() < n {
        match tokio::time::timeout(Duration::from_secs(30), source.next_batch(2000)).await {
            Ok(Some(batch)) => {
                seen.extend(batch.records.iter().map(|r| r.id));
                if let Some(ack) = batch.ack {
                    ack();
                }
            }
            _ => break,
        }
    }
    seen.len()
}

fn rate(n: usize, d: Duration) -> String {
    format!("{n} records in {:.2} s = {:.0} records/s", d.as_secs_f64(), n as f64 / d.as_secs_f64())
}

#[tokio::main]
async fn main() {
    let mut records = 200_000usize;
    let mut url = "amqp://guest:guest@127.0.0.1:5672/%2f".to_owned();
    let mut classic = false;
    let mut window = AmqpConfig::default().confirm_window;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--records" => records = args.next().and_then(|v| v.parse().ok()).expect("--records N"),
            "--url" => url = args.next().expect("--url URL"),
            "--classic" => classic = true,
            "--window" => window = args.next().and_then(|v| v.parse().ok()).expect("--window N"),
            other => {
                eprintln!(
                    "unknown argument `{other}`; usage: amqpbench [--records N] [--url URL] [--classic] [--window N]"
                );
                std::process::exit(2);
            }
        }
    }
    let tag = format!("bench.{}", uuid::Uuid::new_v4().simple());
    let config = AmqpConfig {
        url,
        exchange: format!("{tag}.logs"),
        queue: format!("{tag}.indexer"),
        buffer_capacity: records.max(1),
        quorum_queue: !classic,
        confirm_window: window,
        connection_name: format!("chargewatch-{tag}"),
        ..Default::default()
    };
    let body_len = chargewatch_transport_amqp::wire::encode(&record(0)).len();
    println!("amqpbench: {records} records of ~{body_len} bytes, {}", config.redacted_url());

    // 1. Publish with confirms.
    let publisher = AmqpPublisher::connect(config.clone()).await.expect("connect publisher");
    println!("queue: {:?}", publisher.queue_kind());
    let started = Instant::now();
    for n in 0..records {
        publisher.publish(record(n));
    }
    let handed_over = started.elapsed();
    assert!(publisher.flush(Duration::from_secs(600)).await, "not all confirmed: {:?}", publisher.stats());
    let published = started.elapsed();
    println!(
        "publish():        {:.0} calls/s ({:.2} µs each, never waits)",
        records as f64 / handed_over.as_secs_f64(),
        handed_over.as_secs_f64() * 1e6 / records as f64
    );
    println!("publish+confirm:  {}", rate(records, published));
    println!("                  {:?}", publisher.stats());

    // 2. Drain the queue.
    let mut source = AmqpSource::connect(config.clone()).await.expect("connect source");
    let started = Instant::now();
    let got = drain(&mut source, records).await;
    println!("consume+ack:      {}", rate(got, started.elapsed()));
    assert_eq!(got, records, "every record arrives");

    // 3. Both at once.
    let started = Instant::now();
    let consumer = tokio::spawn(async move {
        let got = drain(&mut source, records).await;
        (got, started.elapsed(), source.stats())
    });
    for n in 0..records {
        publisher.publish(record(n));
    }
    let (got, took, stats) = consumer.await.unwrap();
    println!("end to end:       {} (publish → confirm → consume → ack, concurrently)", rate(got, took));
    println!("                  {:?}", stats);
    println!("                  {:?}", publisher.stats());
    publisher.shutdown(Duration::from_secs(10)).await;

    // Clean up.
    if let Ok(conn) = lapin::Connection::connect(&config.url, lapin::ConnectionProperties::default()).await {
        if let Ok(ch) = conn.create_channel().await {
            for q in [config.queue.clone(), format!("{}.dead", config.queue)] {
                let _ = ch.queue_delete(q.as_str().into(), Default::default()).await;
            }
            for x in [config.exchange.clone(), format!("{}.dead", config.exchange)] {
                let _ = ch.exchange_delete(x.as_str().into(), Default::default()).await;
            }
        }
        let _ = conn.close(200, "bye".into()).await;
    }
}
