//! Gateway side: [`AmqpPublisher`] implements [`LogTransport`]. `publish` never waits: it
//! counts the record into a bounded buffer and hands it to a background task, which
//! publishes persistent messages to the log exchange with publisher confirms, many in flight
//! at once. Each message is a wire v2 batch of the records waiting at that moment (up to
//! `batch_records`): one alone when the load is light, hundreds when the confirm window is
//! full, so the broker's cost per record falls as the load rises. A record leaves the
//! buffer only when the broker has confirmed its message; a nacked or
//! interrupted publish is sent again (at least once: the store deduplicates by record id).
//! A lost connection is re-opened with capped exponential backoff while the buffer keeps
//! filling; when it is full, new records are dropped and counted.

use crate::config::AmqpConfig;
use crate::conn::{connect, first_open, AmqpError, Backoff};
use crate::topology::{declare_logs, QueueKind};
use crate::wire;
use chargewatch_logstore::transport::LogTransport;
use chargewatch_logstore::LogRecord;
use futures_util::stream::FuturesUnordered;
use futures_util::StreamExt;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::ShortString;
use lapin::Confirmation;
use lapin::{BasicProperties, Channel, Connection};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Live counters of a publisher.
#[derive(Debug, Default)]
struct Counters {
    buffered: AtomicU64,
    published: AtomicU64,
    confirmed: AtomicU64,
    nacked: AtomicU64,
    returned: AtomicU64,
    dropped: AtomicU64,
    reconnects: AtomicU64,
}

/// A snapshot of a publisher's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct PublisherStats {
    /// Records accepted and not yet confirmed (queued or in flight) — a gauge.
    pub buffered: u64,
    /// basic.publish calls sent (messages, each a batch of records), retries included.
    pub published: u64,
    /// Records the broker confirmed (each record once).
    pub confirmed: u64,
    /// Publishes the broker nacked (each is retried).
    pub nacked: u64,
    /// Publishes returned as unroutable (the topology is re-declared and they are retried).
    pub returned: u64,
    /// Records dropped because the buffer was full.
    pub dropped: u64,
    /// Successful re-connections after a lost connection.
    pub reconnects: u64,
}

/// Publishes log records to RabbitMQ; see the module documentation. Dropping it lets the
/// background task publish what it still holds and then close (it keeps retrying until
/// then); [`AmqpPublisher::shutdown`] bounds that time.
pub struct AmqpPublisher {
    tx: mpsc::UnboundedSender<LogRecord>,
    counters: Arc<Counters>,
    capacity: u64,
    queue_kind: QueueKind,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl AmqpPublisher {
    /// Connects, declares the topology, and starts the background publisher. Fails when the
    /// configuration is invalid or the broker cannot be reached within `connect_timeout`
    /// (failed attempts are retried with backoff until then; later losses are handled by
    /// reconnecting). Must be called inside a tokio runtime.
    pub async fn connect(config: AmqpConfig) -> Result<Self, AmqpError> {
        config.validate().map_err(AmqpError::Config)?;
        let (conn, channel, queue_kind) = first_open(&config, "publisher", || open(&config)).await?;
        let (tx, rx) = mpsc::unbounded_channel();
        let counters = Arc::new(Counters::default());
        let capacity = config.buffer_capacity as u64;
        let task = tokio::spawn(run(config, rx, counters.clone(), Some((conn, channel))));
        Ok(AmqpPublisher { tx, counters, capacity, queue_kind, task: Mutex::new(Some(task)) })
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> PublisherStats {
        let c = &self.counters;
        PublisherStats {
            buffered: c.buffered.load(Relaxed),
            published: c.published.load(Relaxed),
            confirmed: c.confirmed.load(Relaxed),
            nacked: c.nacked.load(Relaxed),
            returned: c.returned.load(Relaxed),
            dropped: c.dropped.load(Relaxed),
            reconnects: c.reconnects.load(Relaxed),
        }
    }

    /// The kind of indexer queue found or made when connecting.
    pub fn queue_kind(&self) -> QueueKind {
        self.queue_kind
    }

    /// Waits until every accepted record is confirmed, or `timeout` passes; true if all were.
    pub async fn flush(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.counters.buffered.load(Relaxed) == 0 {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Flushes for at most `timeout`, then stops the background task. Returns the number of
    /// records still unconfirmed (lost with this process unless it flushed fully).
    pub async fn shutdown(&self, timeout: Duration) -> u64 {
        self.flush(timeout).await;
        if let Some(task) = self.task.lock().unwrap().take() {
            task.abort();
        }
        self.counters.buffered.load(Relaxed)
    }
}

impl LogTransport for AmqpPublisher {
    fn publish(&self, record: LogRecord) {
        let c = &self.counters;
        if c.buffered.fetch_add(1, Relaxed) >= self.capacity {
            c.buffered.fetch_sub(1, Relaxed);
            c.dropped.fetch_add(1, Relaxed);
            return;
        }
        if self.tx.send(record).is_err() {
            c.buffered.fetch_sub(1, Relaxed);
            c.dropped.fetch_add(1, Relaxed);
        }
    }
}

async fn open(config: &AmqpConfig) -> Result<(Connection, Channel, QueueKind), AmqpError> {
    let conn = connect(config, "publisher").await?;
    let (channel, kind) = declare_logs(&conn, config).await?;
    channel.confirm_select(ConfirmSelectOptions::default()).await?;
    Ok((conn, channel, kind))
}

/// A message ready to send: routing key, body, properties and how many records it holds.
struct Encoded {
    key: ShortString,
    body: Arc<[u8]>,
    props: BasicProperties,
    records: u64,
}

/// One message of `records` (at least one): a wire v2 batch whose message id is its first
/// record's id and whose routing key is that record's station.
fn encode(records: &[LogRecord]) -> Encoded {
    let first = &records[0];
    let body: Arc<[u8]> = wire::encode_batch(records).into();
    let props = BasicProperties::default()
        .with_content_type(wire::BATCH_CONTENT_TYPE.into())
        .with_delivery_mode(2)
        .with_message_id(first.id.to_string().into())
        .with_timestamp(first.timestamp.timestamp().max(0) as u64)
        .with_app_id("chargewatch".into());
    Encoded { key: routing_key(&first.station_id), body, props, records: records.len() as u64 }
}

/// Takes up to `max` records already waiting (after `first`, if given) and encodes them as
/// one message; `None` when nothing waits. Sets `closed` when the sender side is gone.
fn next_message(
    rx: &mut mpsc::UnboundedReceiver<LogRecord>,
    first: Option<LogRecord>,
    max: usize,
    closed: &mut bool,
) -> Option<Encoded> {
    let mut records: Vec<LogRecord> = first.into_iter().collect();
    while records.len() < max {
        match rx.try_recv() {
            Ok(r) => records.push(r),
            Err(mpsc::error::TryRecvError::Empty) => break,
            Err(mpsc::error::TryRecvError::Disconnected) => {
                *closed = true;
                break;
            }
        }
    }
    (!records.is_empty()).then(|| encode(&records))
}

/// AMQP routing keys are at most 255 bytes; cut longer station ids at a char boundary.
fn routing_key(station_id: &str) -> ShortString {
    let mut end = station_id.len().min(255);
    while !station_id.is_char_boundary(end) {
        end -= 1;
    }
    station_id[..end].into()
}

async fn run(
    config: AmqpConfig,
    mut rx: mpsc::UnboundedReceiver<LogRecord>,
    counters: Arc<Counters>,
    mut first: Option<(Connection, Channel)>,
) {
    let mut pending: VecDeque<Encoded> = VecDeque::new();
    let mut closed = false;
    let mut backoff = Backoff::new(&config);
    loop {
        let (conn, channel) = match first.take() {
            Some(c) => c,
            None => match open(&config).await {
                Ok((conn, channel, _)) => {
                    counters.reconnects.fetch_add(1, Relaxed);
                    tracing::info!(url = %config.redacted_url(), "AMQP publisher reconnected");
                    (conn, channel)
                }
                Err(e) => {
                    let delay = backoff.next_delay();
                    tracing::warn!(error = %e, retry_in = ?delay, "AMQP publisher cannot connect");
                    absorb(&mut rx, &mut pending, &mut closed, config.batch_records);
                    tokio::time::sleep(delay).await;
                    continue;
                }
            },
        };
        let mut pump = Pump { config: &config, conn: &conn, channel: &channel, counters: &counters, progressed: false };
        let result = pump.run(&mut rx, &mut pending, &mut closed).await;
        if pump.progressed {
            backoff.reset();
        }
        match result {
            Ok(()) => {
                let _ = conn.close(200, "publisher closed".into()).await;
                return;
            }
            Err(why) => {
                let delay = backoff.next_delay();
                tracing::warn!(error = %why, retry_in = ?delay, buffered = counters.buffered.load(Relaxed),
                    "AMQP publisher lost its connection; buffering and reconnecting");
                let _ = conn.close(320, "publisher reconnecting".into()).await;
                absorb(&mut rx, &mut pending, &mut closed, config.batch_records);
                tokio::time::sleep(delay).await;
            }
        }
    }
}

/// Moves records waiting in the channel into the local queue (encoding them), so that the
/// channel does not grow while disconnected. Bounded by the buffer capacity either way.
fn absorb(
    rx: &mut mpsc::UnboundedReceiver<LogRecord>,
    pending: &mut VecDeque<Encoded>,
    closed: &mut bool,
    batch: usize,
) {
    while let Some(message) = next_message(rx, None, batch, closed) {
        pending.push_back(message);
    }
}

struct Pump<'a> {
    config: &'a AmqpConfig,
    conn: &'a Connection,
    channel: &'a Channel,
    counters: &'a Counters,
    progressed: bool,
}

type InFlight = FuturesUnordered<std::pin::Pin<Box<dyn std::future::Future<Output = (u64, Outcome)> + Send>>>;

enum Outcome {
    Confirmed,
    Nacked,
    Returned,
    Failed(lapin::Error),
}

impl Pump<'_> {
    /// Publishes until the publisher is closed and everything is confirmed (`Ok`), or the
    /// connection breaks (`Err`, with every unconfirmed record back in `pending`).
    async fn run(
        &mut self,
        rx: &mut mpsc::UnboundedReceiver<LogRecord>,
        pending: &mut VecDeque<Encoded>,
        closed: &mut bool,
    ) -> Result<(), String> {
        let window = self.config.confirm_window;
        let batch = self.config.batch_records;
        let exchange: ShortString = self.config.exchange.as_str().into();
        let mut inflight: InFlight = FuturesUnordered::new();
        let mut held: HashMap<u64, Encoded> = HashMap::new();
        let mut seq = 0u64;
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        let mut last_progress = Instant::now();
        let failure: String = loop {
            // Fill the confirm window: retries first, then new records.
            while inflight.len() < window {
                // A full batch goes at once; fewer records wait for the linger (below).
                let item = match pending.pop_front() {
                    Some(item) => item,
                    None if rx.len() >= batch => match next_message(rx, None, batch, closed) {
                        Some(item) => item,
                        None => break,
                    },
                    None => break,
                };
                seq += 1;
                self.counters.published.fetch_add(1, Relaxed);
                inflight.push(Box::pin(publish_one(self.channel.clone(), exchange.clone(), seq, &item)));
                held.insert(seq, item);
            }
            if inflight.is_empty() {
                if *closed {
                    return Ok(());
                }
                last_progress = Instant::now();
                tokio::select! {
                    r = rx.recv() => match r {
                        Some(r) => {
                        if rx.len() + 1 < batch {
                            tokio::time::sleep(self.config.publish_linger).await;
                        }
                        pending.extend(next_message(rx, Some(r), batch, closed));
                    }
                        None => *closed = true,
                    },
                    _ = tick.tick() => if !self.conn.status().connected() {
                        break "connection closed".to_owned();
                    },
                }
                continue;
            }
            tokio::select! {
                biased;
                Some((id, outcome)) = inflight.next() => {
                    last_progress = Instant::now();
                    let item = held.remove(&id).expect("every publish in flight is held");
                    match outcome {
                        Outcome::Confirmed => {
                            self.progressed = true;
                            self.counters.confirmed.fetch_add(item.records, Relaxed);
                            self.counters.buffered.fetch_sub(item.records, Relaxed);
                        }
                        Outcome::Nacked => {
                            self.counters.nacked.fetch_add(1, Relaxed);
                            pending.push_back(item);
                            tokio::time::sleep(self.config.backoff_initial).await;
                        }
                        Outcome::Returned => {
                            // Someone removed the queue or its binding: declare it again.
                            self.counters.returned.fetch_add(1, Relaxed);
                            pending.push_front(item);
                            break "a record was returned as unroutable".to_owned();
                        }
                        Outcome::Failed(e) => {
                            pending.push_front(item);
                            break e.to_string();
                        }
                    }
                }
                r = rx.recv(), if inflight.len() < window => match r {
                    Some(r) => {
                        if rx.len() + 1 < batch {
                            tokio::time::sleep(self.config.publish_linger).await;
                        }
                        pending.extend(next_message(rx, Some(r), batch, closed));
                    }
                    None => *closed = true,
                },
                _ = tick.tick() => {
                    if !self.conn.status().connected() {
                        break "connection closed".to_owned();
                    }
                    if last_progress.elapsed() > self.config.confirm_timeout {
                        break format!("no publisher confirm for {:?}", self.config.confirm_timeout);
                    }
                }
            }
        };
        // Broken: give the publishes in flight a moment to settle (a closing connection fails
        // them at once), then put every unconfirmed record back, in order.
        let settle = tokio::time::sleep(Duration::from_secs(2));
        tokio::pin!(settle);
        loop {
            tokio::select! {
                next = inflight.next() => match next {
                    Some((id, Outcome::Confirmed)) => {
                        if let Some(item) = held.remove(&id) {
                            self.counters.confirmed.fetch_add(item.records, Relaxed);
                            self.counters.buffered.fetch_sub(item.records, Relaxed);
                        }
                    }
                    Some((_, Outcome::Nacked)) => {
                        self.counters.nacked.fetch_add(1, Relaxed);
                    }
                    Some(_) => {}
                    None => break,
                },
                _ = &mut settle => break,
            }
        }
        let mut unconfirmed: Vec<(u64, Encoded)> = held.into_iter().collect();
        unconfirmed.sort_unstable_by_key(|(id, _)| std::cmp::Reverse(*id));
        for (_, item) in unconfirmed {
            pending.push_front(item);
        }
        Err(failure)
    }
}

fn publish_one(
    channel: Channel,
    exchange: ShortString,
    id: u64,
    item: &Encoded,
) -> impl std::future::Future<Output = (u64, Outcome)> + Send + 'static {
    let key = item.key.clone();
    let body = item.body.clone();
    let props = item.props.clone();
    async move {
        let options = BasicPublishOptions { mandatory: true, immediate: false };
        let confirm = match channel.basic_publish(exchange, key, options, &body, props).await {
            Ok(c) => c,
            Err(e) => return (id, Outcome::Failed(e)),
        };
        let outcome = match confirm.await {
            Ok(Confirmation::Ack(None)) | Ok(Confirmation::NotRequested) => Outcome::Confirmed,
            Ok(Confirmation::Ack(Some(_))) => Outcome::Returned,
            Ok(Confirmation::Nack(_)) => Outcome::Nacked,
            Err(e) => Outcome::Failed(e),
        };
        (id, outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_routing_keys_are_cut_at_a_char_boundary() {
        assert_eq!(routing_key("CP-1").as_str(), "CP-1");
        let long = "é".repeat(200);
        let k = routing_key(&long);
        assert!(k.as_str().len() <= 255 && k.as_str().chars().all(|c| c == 'é'));
    }
}
