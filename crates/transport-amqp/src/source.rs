//! Indexer side: [`AmqpSource`] implements [`RecordSource`] on the durable indexer queue with
//! manual acknowledgements. A batch is acknowledged only through [`Batch::ack`], which the
//! indexer calls after the store committed it; a crash before that means redelivery (the
//! store deduplicates by record id). Messages that cannot be read (unknown wire version,
//! malformed) are rejected without requeue — the broker dead-letters them to `{queue}.dead`
//! — and counted; they never stop the consumer.

use crate::config::AmqpConfig;
use crate::conn::{connect, first_open, AmqpError, Backoff};
use crate::topology::{declare_logs, QueueKind};
use crate::wire;
use chargewatch_logstore::transport::{Batch, RecordSource};
use chargewatch_logstore::LogRecord;
use futures_util::StreamExt;
use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicQosOptions, BasicRejectOptions};
use lapin::types::FieldTable;
use lapin::{Channel, Connection, Consumer};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

#[derive(Debug, Default)]
struct Counters {
    received: AtomicU64,
    records: AtomicU64,
    redelivered: AtomicU64,
    acked: AtomicU64,
    rejected: AtomicU64,
    ack_failures: AtomicU64,
    reconnects: AtomicU64,
}

/// A snapshot of a source's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SourceStats {
    /// Deliveries taken from the broker (valid or not).
    pub received: u64,
    /// Records in the readable deliveries (a v2 delivery carries a batch).
    pub records: u64,
    /// Deliveries (messages) the broker flagged as redelivered (a consumer died before
    /// acking them).
    pub redelivered: u64,
    /// Records acknowledged after the store committed them.
    pub acked: u64,
    /// Unreadable messages rejected to the dead-letter queue.
    pub rejected: u64,
    /// Acknowledgements that could not be sent (the channel died; the broker redelivers).
    pub ack_failures: u64,
    /// Successful re-connections after a lost connection.
    pub reconnects: u64,
}

/// Reads a source's counters from elsewhere (the indexer owns the source itself).
#[derive(Debug, Clone)]
pub struct SourceStatsHandle(Arc<Counters>);

impl SourceStatsHandle {
    pub fn get(&self) -> SourceStats {
        let c = &self.0;
        SourceStats {
            received: c.received.load(Relaxed),
            records: c.records.load(Relaxed),
            redelivered: c.redelivered.load(Relaxed),
            acked: c.acked.load(Relaxed),
            rejected: c.rejected.load(Relaxed),
            ack_failures: c.ack_failures.load(Relaxed),
            reconnects: c.reconnects.load(Relaxed),
        }
    }
}

/// Consumes log records from the indexer queue; see the module documentation.
pub struct AmqpSource {
    config: AmqpConfig,
    counters: Arc<Counters>,
    backoff: Backoff,
    live: Option<Live>,
    queue_kind: QueueKind,
}

struct Live {
    conn: Connection,
    channel: Channel,
    consumer: Consumer,
    acks: Arc<Acks>,
}

/// The acknowledgement state of one channel: delivery tags handed out and not yet acked,
/// and the ordered queue to the task that sends the acks. Tags of a dead channel are never
/// acked on another.
struct Acks {
    outstanding: Mutex<BTreeSet<u64>>,
    tx: mpsc::UnboundedSender<(u64, bool, u64)>,
}

impl AmqpSource {
    /// Connects, declares the topology and starts consuming. Fails when the configuration is
    /// invalid or the broker cannot be reached within `connect_timeout` (failed attempts are
    /// retried with backoff until then); later losses reconnect with backoff.
    pub async fn connect(config: AmqpConfig) -> Result<Self, AmqpError> {
        config.validate().map_err(AmqpError::Config)?;
        let counters = Arc::new(Counters::default());
        let (live, queue_kind) = first_open(&config, "indexer", || open(&config, &counters)).await?;
        let backoff = Backoff::new(&config);
        Ok(AmqpSource { config, counters, backoff, live: Some(live), queue_kind })
    }

    pub fn stats(&self) -> SourceStats {
        self.stats_handle().get()
    }

    /// A handle to read the counters after the source has been moved into the indexer.
    pub fn stats_handle(&self) -> SourceStatsHandle {
        SourceStatsHandle(self.counters.clone())
    }

    /// Quorum, or classic if the broker refused a quorum queue.
    pub fn queue_kind(&self) -> QueueKind {
        self.queue_kind
    }

    async fn reconnect(&mut self) {
        loop {
            match open(&self.config, &self.counters).await {
                Ok((live, _)) => {
                    self.counters.reconnects.fetch_add(1, Relaxed);
                    tracing::info!(url = %self.config.redacted_url(), "AMQP consumer reconnected");
                    self.live = Some(live);
                    self.backoff.reset();
                    return;
                }
                Err(e) => {
                    let delay = self.backoff.next_delay();
                    tracing::warn!(error = %e, retry_in = ?delay, "AMQP consumer cannot connect");
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }

    /// Takes one delivery: a readable record joins the batch, anything else is rejected
    /// (dead-lettered) before the batch is handed out, so no ack can overtake the reject.
    async fn take(
        &self,
        channel: &Channel,
        acks: &Acks,
        d: Delivery,
        records: &mut Vec<LogRecord>,
        tags: &mut Vec<u64>,
    ) {
        self.counters.received.fetch_add(1, Relaxed);
        if d.redelivered {
            self.counters.redelivered.fetch_add(1, Relaxed);
        }
        let decoded = wire::check_content_type(d.properties.content_type().as_ref().map(|s| s.as_str()))
            .and_then(|()| wire::decode_message(&d.data));
        match decoded {
            Ok(batch) => {
                acks.outstanding.lock().unwrap().insert(d.delivery_tag);
                tags.push(d.delivery_tag);
                self.counters.records.fetch_add(batch.len() as u64, Relaxed);
                records.extend(batch);
            }
            Err(e) => {
                self.counters.rejected.fetch_add(1, Relaxed);
                tracing::warn!(error = %e, bytes = d.data.len(), routing_key = %d.routing_key,
                    "unreadable log record dead-lettered");
                let _ = channel.basic_reject(d.delivery_tag, BasicRejectOptions { requeue: false }).await;
            }
        }
    }
}

async fn open(config: &AmqpConfig, counters: &Arc<Counters>) -> Result<(Live, QueueKind), AmqpError> {
    let conn = connect(config, "indexer").await?;
    let (channel, kind) = declare_logs(&conn, config).await?;
    channel.basic_qos(config.prefetch, BasicQosOptions { global: false }).await?;
    let consumer = channel
        .basic_consume(
            config.queue.as_str().into(),
            format!("{}.indexer.{}", config.connection_name, uuid::Uuid::new_v4().simple()).into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(send_acks(channel.clone(), rx, counters.clone()));
    let acks = Arc::new(Acks { outstanding: Mutex::new(BTreeSet::new()), tx });
    Ok((Live { conn, channel, consumer, acks }, kind))
}

/// Sends the acks of one channel in the order the batches were acknowledged.
async fn send_acks(channel: Channel, mut rx: mpsc::UnboundedReceiver<(u64, bool, u64)>, counters: Arc<Counters>) {
    while let Some((tag, multiple, records)) = rx.recv().await {
        match channel.basic_ack(tag, BasicAckOptions { multiple }).await {
            Ok(()) => counters.acked.fetch_add(records, Relaxed),
            Err(_) => counters.ack_failures.fetch_add(records, Relaxed),
        };
    }
}

/// The ack of one batch (`records` records in the deliveries `tags`): one `multiple` ack on
/// its last tag when no older delivery of the channel is still unacknowledged, else one ack
/// per delivery (the last one counts the batch's records).
fn batch_ack(acks: Arc<Acks>, tags: Vec<u64>, records: u64) -> Box<dyn FnOnce() + Send> {
    Box::new(move || {
        let Some(&last) = tags.iter().max() else { return };
        let mut outstanding = acks.outstanding.lock().unwrap();
        for t in &tags {
            outstanding.remove(t);
        }
        if outstanding.range(..last).next().is_none() {
            let _ = acks.tx.send((last, true, records));
        } else {
            for (i, &t) in tags.iter().enumerate() {
                let counted = if i + 1 == tags.len() { records } else { 0 };
                let _ = acks.tx.send((t, false, counted));
            }
        }
    })
}

#[async_trait::async_trait]
impl RecordSource for AmqpSource {
    async fn next_batch(&mut self, max: usize) -> Option<Batch> {
        let max = max.max(1);
        loop {
            if self.live.is_none() {
                self.reconnect().await;
            }
            let mut live = self.live.take().expect("connected");
            let channel = live.channel.clone();
            let mut records = Vec::new();
            let mut tags = Vec::new();
            let mut broken = None;
            // Wait for the first readable record …
            while records.is_empty() {
                match live.consumer.next().await {
                    Some(Ok(d)) => self.take(&channel, &live.acks, d, &mut records, &mut tags).await,
                    Some(Err(e)) => {
                        broken = Some(e.to_string());
                        break;
                    }
                    None => {
                        broken = Some("consumer cancelled".to_owned());
                        break;
                    }
                }
            }
            // … then take what arrives within the linger, up to `max`.
            if broken.is_none() {
                let deadline = tokio::time::Instant::now() + self.config.linger;
                while records.len() < max {
                    match tokio::time::timeout_at(deadline, live.consumer.next()).await {
                        Ok(Some(Ok(d))) => self.take(&channel, &live.acks, d, &mut records, &mut tags).await,
                        Ok(Some(Err(e))) => {
                            broken = Some(e.to_string());
                            break;
                        }
                        Ok(None) => {
                            broken = Some("consumer cancelled".to_owned());
                            break;
                        }
                        Err(_) => break,
                    }
                }
            }
            let acks = live.acks.clone();
            match broken {
                None => self.live = Some(live),
                Some(why) => {
                    tracing::warn!(error = %why, "AMQP consumer lost its connection; unacknowledged deliveries will be redelivered");
                    let _ = live.conn.close(320, "consumer reconnecting".into()).await;
                    let delay = self.backoff.next_delay();
                    tokio::time::sleep(delay).await;
                }
            }
            if !records.is_empty() {
                let n = records.len() as u64;
                return Some(Batch { records, ack: Some(batch_ack(acks, tags, n)) });
            }
        }
    }
}
