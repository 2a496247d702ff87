//! The transport between gateways and indexers. Publishing never blocks the charger's
//! path: when the queue is full the record is dropped and counted (`records_dropped`).

use super::metrics::Metrics;
use chargewatch_logstore::LogRecord;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

pub use chargewatch_logstore::transport::{Batch, LogTransport, RecordSource};

/// How long a small batch waits for more records before it is written, under load.
/// Longer lingering means fewer, larger commits: each commit rewrites the index pages it
/// touches (every station's last leaf of the station index, for one), so a commit of
/// 100 ms of records writes far fewer pages per record than four of 25 ms. Measured against
/// 25 ms (`bench/threads.sh`, bench/README.md, 2026-12-04): the log store's write system calls
/// per record −30 %, its CPU time relative to the gateway's −6 to −8 %.
const LINGER: Duration = Duration::from_millis(100);

/// A batch whose first record comes longer than this after the previous batch was written
/// does not linger: after a quiet spell a lone record is stored at once.
const QUIET: Duration = Duration::from_millis(500);

/// The in-process transport of the one-machine default: a bounded queue.
pub struct InProcess {
    tx: mpsc::Sender<LogRecord>,
    metrics: Arc<Metrics>,
}

pub struct InProcessSource {
    rx: mpsc::Receiver<LogRecord>,
    /// When the previous batch was handed out.
    last_batch: Option<Instant>,
}

pub fn in_process(capacity: usize, metrics: Arc<Metrics>) -> (Arc<InProcess>, InProcessSource) {
    let (tx, rx) = mpsc::channel(capacity.max(1));
    (Arc::new(InProcess { tx, metrics }), InProcessSource { rx, last_batch: None })
}

impl LogTransport for InProcess {
    fn publish(&self, record: LogRecord) {
        if self.tx.try_send(record).is_err() {
            Metrics::add(&self.metrics.records_dropped, 1);
        }
    }
}

#[async_trait::async_trait]
impl RecordSource for InProcessSource {
    /// Waits for a first record, then, under load, lingers briefly so that batches are large
    /// (one store commit per batch); after a quiet spell a lone record goes out at once.
    async fn next_batch(&mut self, max: usize) -> Option<Batch> {
        let mut records = Vec::with_capacity(max.min(4096));
        if self.rx.recv_many(&mut records, max).await == 0 {
            return None;
        }
        let busy = self.last_batch.is_some_and(|at| at.elapsed() < QUIET);
        if busy && records.len() < max / 4 {
            tokio::time::sleep(LINGER).await;
            while records.len() < max {
                match self.rx.try_recv() {
                    Ok(r) => records.push(r),
                    Err(_) => break,
                }
            }
        }
        self.last_batch = Some(Instant::now());
        Some(Batch { records, ack: None })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chargewatch_logstore::conformance::edge_records;

    fn record(raw: &str) -> LogRecord {
        let mut r = edge_records().swap_remove(0);
        r.raw = raw.into();
        r
    }

    fn raws(batch: &Batch) -> Vec<&str> {
        batch.records.iter().map(|r| r.raw.as_str()).collect()
    }

    #[tokio::test(start_paused = true)]
    async fn a_record_after_a_quiet_spell_goes_out_at_once_and_a_busy_batch_lingers() {
        let (tx, mut source) = in_process(100, Arc::new(Metrics::default()));
        tx.publish(record("first"));
        let started = Instant::now();
        assert_eq!(raws(&source.next_batch(64).await.unwrap()), ["first"]);
        assert_eq!(started.elapsed(), Duration::ZERO, "nothing written lately: no linger");

        // Busy: the next batch waits and takes what comes meanwhile.
        tx.publish(record("second"));
        let late = tx.clone();
        tokio::spawn(async move {
            tokio::time::sleep(LINGER / 2).await;
            late.publish(record("third"));
        });
        let started = Instant::now();
        assert_eq!(raws(&source.next_batch(64).await.unwrap()), ["second", "third"]);
        assert_eq!(started.elapsed(), LINGER);

        // A full quarter of a batch goes out without waiting, busy or not.
        for i in 0..16 {
            tx.publish(record(&i.to_string()));
        }
        let started = Instant::now();
        assert_eq!(source.next_batch(64).await.unwrap().records.len(), 16);
        assert_eq!(started.elapsed(), Duration::ZERO);

        // Quiet again.
        tokio::time::sleep(QUIET).await;
        tx.publish(record("after a pause"));
        let started = Instant::now();
        assert_eq!(raws(&source.next_batch(64).await.unwrap()), ["after a pause"]);
        assert_eq!(started.elapsed(), Duration::ZERO);
    }

    #[tokio::test]
    async fn a_full_queue_drops_and_counts_and_a_closed_one_ends_the_source() {
        let metrics = Arc::new(Metrics::default());
        let (tx, mut source) = in_process(2, metrics.clone());
        for raw in ["a", "b", "c"] {
            tx.publish(record(raw));
        }
        assert_eq!(metrics.records_dropped.load(std::sync::atomic::Ordering::Relaxed), 1);
        drop(tx);
        assert_eq!(raws(&source.next_batch(64).await.unwrap()), ["a", "b"]);
        assert!(source.next_batch(64).await.is_none());
    }
}
