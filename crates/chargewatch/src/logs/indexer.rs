//! The indexer: takes records from the transport, adds each record's site name, writes
//! batches to the log store (retrying until the store commits), acknowledges the batch to
//! the transport, and feeds the live tail.

use super::levels::Levels;
use super::metrics::Metrics;
use super::transport::RecordSource;
use chargewatch_logstore::{LogRecord, LogStore};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::broadcast;

/// Live tail: every committed record, in commit order.
pub type Tail = broadcast::Sender<Arc<LogRecord>>;

pub fn tail_channel() -> Tail {
    broadcast::channel(16 * 1024).0
}

pub struct Indexer {
    pub store: Arc<dyn LogStore>,
    pub levels: Arc<Levels>,
    pub metrics: Arc<Metrics>,
    pub tail: Tail,
    pub batch_max: usize,
}

impl Indexer {
    /// Runs until the source is closed and drained.
    pub async fn run(self, mut source: impl RecordSource) {
        while let Some(batch) = source.next_batch(self.batch_max).await {
            let mut records = batch.records;
            for r in &mut records {
                if r.site_name.is_none() {
                    r.site_name = r.site_id.as_deref().and_then(|s| self.levels.site_name(s));
                }
            }
            let records: Arc<[LogRecord]> = records.into();
            self.commit(&records).await;
            if let Some(ack) = batch.ack {
                ack();
            }
            if self.tail.receiver_count() > 0 {
                for r in records.iter() {
                    let _ = self.tail.send(Arc::new(r.clone()));
                }
            }
        }
    }

    /// Writes one batch, retrying with backoff until the store takes it: a record the
    /// transport handed over is never dropped here (the bounded queue absorbs the wait,
    /// and counts what it cannot hold).
    async fn commit(&self, records: &Arc<[LogRecord]>) {
        let mut backoff = Duration::from_millis(50);
        loop {
            let started = Instant::now();
            match self.store.append(records.clone()).await {
                Ok(()) => {
                    Metrics::add(&self.metrics.records_stored, records.len() as u64);
                    Metrics::add(&self.metrics.store_batches, 1);
                    Metrics::add(&self.metrics.store_batch_micros, started.elapsed().as_micros() as u64);
                    return;
                }
                Err(e) => {
                    Metrics::add(&self.metrics.store_errors, 1);
                    tracing::warn!(error = %e, records = records.len(), "log store write failed; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
    }
}

/// Deletes records older than `days` every hour (and once at start).
pub fn spawn_retention(store: Arc<dyn LogStore>, days: u32) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(3600));
        loop {
            tick.tick().await;
            let cutoff = chrono::Utc::now() - chrono::Duration::days(days as i64);
            match store.purge_before(cutoff).await {
                Ok(n) if n > 0 => tracing::info!(removed = n, %cutoff, "log retention"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "log retention failed"),
            }
        }
    })
}
