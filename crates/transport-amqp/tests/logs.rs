//! Log records through the real RabbitMQ: publisher confirms, manual acks, redelivery,
//! reconnection, dead-lettering, the full-buffer policy.

mod common;

use chargewatch_logstore::transport::{LogTransport, RecordSource};
use chargewatch_transport_amqp::{wire, AmqpConfig, AmqpPublisher, AmqpSource, QueueKind};
use std::collections::HashSet;
use std::time::{Duration, Instant};

/// Consumes and acks until `want` distinct ids arrived or `limit` passed.
async fn consume_distinct(source: &mut AmqpSource, want: usize, limit: Duration) -> HashSet<uuid::Uuid> {
    let mut seen = HashSet::new();
    let deadline = Instant::now() + limit;
    while seen.len() < want && Instant::now() < deadline {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok(Some(batch)) = tokio::time::timeout(left, source.next_batch(500)).await else { break };
        for r in &batch.records {
            seen.insert(r.id);
        }
        if let Some(ack) = batch.ack {
            ack();
        }
    }
    seen
}

async fn nothing_more(source: &mut AmqpSource) -> bool {
    tokio::time::timeout(Duration::from_millis(500), source.next_batch(500)).await.is_err()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn published_records_arrive_exactly_once() {
    let Some(config) = common::config("exactly") else { return };
    let publisher = AmqpPublisher::connect(config.clone()).await.unwrap();
    let mut source = AmqpSource::connect(config.clone()).await.unwrap();
    assert_eq!(source.queue_kind(), QueueKind::Quorum, "the local RabbitMQ supports quorum queues");
    const N: usize = 3000;
    let mut ids = HashSet::new();
    for n in 0..N {
        let r = common::record(&format!("CP-{}", n % 7), n);
        ids.insert(r.id);
        publisher.publish(r);
    }
    assert!(publisher.flush(Duration::from_secs(30)).await, "{:?}", publisher.stats());
    let seen = consume_distinct(&mut source, N, Duration::from_secs(30)).await;
    assert_eq!(seen, ids);
    assert!(nothing_more(&mut source).await, "no duplicates without failures");
    let p = publisher.stats();
    assert_eq!((p.confirmed, p.dropped, p.buffered, p.reconnects), (N as u64, 0, 0, 0), "{p:?}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let s = source.stats();
    assert_eq!((s.records, s.acked, s.redelivered, s.rejected), (N as u64, N as u64, 0, 0), "{s:?}");
    assert!(s.received <= N as u64, "{s:?}");
    common::cleanup(&config).await;
}

/// While the confirm window is full, waiting records go out together in one v2 message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_records_travel_in_one_message() {
    let Some(config) = common::config("batches") else { return };
    let config = AmqpConfig { confirm_window: 1, batch_records: 100, ..config };
    let publisher = AmqpPublisher::connect(config.clone()).await.unwrap();
    let mut source = AmqpSource::connect(config.clone()).await.unwrap();
    const N: usize = 2000;
    for n in 0..N {
        publisher.publish(common::record("CP-B", n));
    }
    assert!(publisher.flush(Duration::from_secs(30)).await, "{:?}", publisher.stats());
    let seen = consume_distinct(&mut source, N, Duration::from_secs(30)).await;
    assert_eq!(seen.len(), N);
    let p = publisher.stats();
    assert_eq!(p.confirmed, N as u64, "{p:?}");
    assert!(p.published <= 1 + (N as u64) / 10, "at most ~1 message per 100 records plus the first: {p:?}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let s = source.stats();
    assert_eq!((s.received, s.records, s.acked), (p.published, N as u64, N as u64), "{s:?}");
    common::cleanup(&config).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unacknowledged_batch_is_redelivered() {
    let Some(config) = common::config("redeliver") else { return };
    let publisher = AmqpPublisher::connect(config.clone()).await.unwrap();
    let mut first = AmqpSource::connect(config.clone()).await.unwrap();
    let ids: HashSet<_> = (0..50)
        .map(|n| {
            let r = common::record("CP-R", n);
            let id = r.id;
            publisher.publish(r);
            id
        })
        .collect();
    assert!(publisher.flush(Duration::from_secs(10)).await);
    // Take everything but never ack: the "indexer" dies before its store commits.
    let mut taken = HashSet::new();
    while taken.len() < ids.len() {
        let batch = first.next_batch(1000).await.unwrap();
        taken.extend(batch.records.iter().map(|r| r.id));
    }
    drop(first);
    let mut second = AmqpSource::connect(config.clone()).await.unwrap();
    let seen = consume_distinct(&mut second, ids.len(), Duration::from_secs(20)).await;
    assert_eq!(seen, ids);
    let s = second.stats();
    assert!(s.redelivered > 0 && s.redelivered == s.received, "every delivery was a redelivery: {s:?}");
    assert_eq!(s.records, ids.len() as u64, "{s:?}");
    assert!(nothing_more(&mut second).await);
    common::cleanup(&config).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_record_arrives_across_a_broker_connection_loss() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let Some(config) = common::config("reconnect") else { return };
    let tag = config.connection_name.clone();
    let publisher = Arc::new(AmqpPublisher::connect(config.clone()).await.unwrap());
    let mut source = AmqpSource::connect(config.clone()).await.unwrap();
    let source_stats = source.stats_handle();
    // Records keep flowing before, during and after the connections are closed.
    let stop = Arc::new(AtomicBool::new(false));
    let feeder = {
        let (publisher, stop) = (publisher.clone(), stop.clone());
        tokio::spawn(async move {
            let mut ids = HashSet::new();
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                for _ in 0..50 {
                    let r = common::record(&format!("CP-{}", n % 5), n);
                    ids.insert(r.id);
                    publisher.publish(r);
                    n += 1;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            ids
        })
    };
    let consumer = tokio::spawn(async move {
        let mut seen = HashSet::new();
        while let Ok(Some(batch)) = tokio::time::timeout(Duration::from_secs(5), source.next_batch(500)).await {
            seen.extend(batch.records.iter().map(|r| r.id));
            if let Some(ack) = batch.ack {
                ack();
            }
        }
        seen
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let closed = tokio::task::spawn_blocking(move || common::close_connections(&tag)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stop.store(true, Ordering::Relaxed);
    let ids = feeder.await.unwrap();
    assert!(publisher.flush(Duration::from_secs(30)).await, "{:?}", publisher.stats());
    let seen = consumer.await.unwrap();
    let p = publisher.stats();
    let s = source_stats.get();
    eprintln!("{} records across a connection loss: publisher {p:?}, source {s:?}", ids.len());
    assert!(closed >= 2, "closed {closed} connections (publisher and indexer)");
    assert_eq!(seen.len(), ids.len(), "distinct records; publisher {p:?}, source {s:?}");
    assert_eq!(seen, ids);
    assert_eq!(p.dropped, 0);
    assert!(p.reconnects >= 1 && s.reconnects >= 1, "{p:?} {s:?}");
    common::cleanup(&config).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_messages_are_dead_lettered_and_counted() {
    use lapin::options::{BasicPublishOptions, QueueDeclareOptions};
    let Some(config) = common::config("deadletter") else { return };
    let mut source = AmqpSource::connect(config.clone()).await.unwrap();
    let conn = lapin::Connection::connect(&config.url, lapin::ConnectionProperties::default()).await.unwrap();
    let ch = conn.create_channel().await.unwrap();
    let good = common::record("CP-D", 1);
    let mut future =
        serde_json::to_value(serde_json::from_slice::<serde_json::Value>(&wire::encode(&good)).unwrap()).unwrap();
    future["v"] = 9.into();
    let bodies: Vec<(Vec<u8>, Option<&str>)> = vec![
        (serde_json::to_vec(&future).unwrap(), None),
        (b"not json at all".to_vec(), Some(wire::CONTENT_TYPE)),
        (wire::encode(&good), Some("application/vnd.chargewatch.logrecord.v9+json")),
        (wire::encode(&good), Some(wire::CONTENT_TYPE)),
    ];
    for (body, ct) in bodies {
        let mut props = lapin::BasicProperties::default();
        if let Some(ct) = ct {
            props = props.with_content_type(ct.into());
        }
        ch.basic_publish(config.exchange.as_str().into(), "CP-D".into(), BasicPublishOptions::default(), &body, props)
            .await
            .unwrap();
    }
    let batch = tokio::time::timeout(Duration::from_secs(10), source.next_batch(10)).await.unwrap().unwrap();
    assert_eq!(batch.records, vec![good]);
    (batch.ack.unwrap())();
    let s = source.stats();
    assert_eq!((s.received, s.rejected), (4, 3), "{s:?}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let dead = ch
        .queue_declare(
            format!("{}.dead", config.queue).as_str().into(),
            QueueDeclareOptions { passive: true, ..Default::default() },
            Default::default(),
        )
        .await
        .unwrap();
    assert_eq!(dead.message_count(), 3, "rejected messages wait in the dead-letter queue");
    common::cleanup(&config).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_buffer_drops_and_counts() {
    let Some(config) = common::config("full") else { return };
    let config = AmqpConfig { buffer_capacity: 10, confirm_window: 4, ..config };
    let publisher = AmqpPublisher::connect(config.clone()).await.unwrap();
    let started = Instant::now();
    for n in 0..2000 {
        publisher.publish(common::record("CP-F", n));
    }
    assert!(started.elapsed() < Duration::from_millis(500), "publish never waits");
    assert!(publisher.flush(Duration::from_secs(10)).await);
    let p = publisher.stats();
    assert!(p.dropped > 0, "{p:?}");
    assert_eq!(p.confirmed + p.dropped, 2000, "{p:?}");
    let mut source = AmqpSource::connect(config.clone()).await.unwrap();
    let seen = consume_distinct(&mut source, p.confirmed as usize, Duration::from_secs(10)).await;
    assert_eq!(seen.len() as u64, p.confirmed);
    common::cleanup(&config).await;
}

/// Several processes starting at once declare the same new quorum queue concurrently; the
/// broker can answer one of them INTERNAL_ERROR (a RabbitMQ race). Every one must still
/// connect: a failed first attempt is retried within `connect_timeout`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processes_starting_at_once_all_connect() {
    for round in 0..10 {
        let Some(config) = common::config(&format!("startup{round}")) else { return };
        let sources = (0..4).map(|_| AmqpSource::connect(config.clone()));
        let publishers = (0..4).map(|_| AmqpPublisher::connect(config.clone()));
        let (sources, publishers) =
            tokio::join!(futures_util::future::join_all(sources), futures_util::future::join_all(publishers));
        for s in &sources {
            assert!(s.is_ok(), "round {round}: indexer: {:?}", s.as_ref().err());
        }
        for p in &publishers {
            assert!(p.is_ok(), "round {round}: publisher: {:?}", p.as_ref().err());
        }
        common::cleanup(&config).await;
    }
}
