//! The transport between gateways and indexers. Publishing never blocks the charger's
//! path: when the queue is full the record is dropped and counted (`records_dropped`).

use super::metrics::Metrics;
use chargewatch_logstore::LogRecord;
use std::sync::Arc;
use tokio::sync::mpsc;

pub use chargewatch_logstore::transport::{Batch, LogTransport, RecordSource};

/// How long a small batch waits for more records before it is written.
/// Longer lingering means fewer, larger commits: each commit rewrites the index pages it
/// touches, so at high load a 25 ms batch costs little more than a 10 ms one.
const LINGER: std::time::Duration = std::time::Duration::from_millis(25);

/// The in-process transport of the one-machine default: a bounded queue.
pub struct InProcess {
    tx: mpsc::Sender<LogRecord>,
    metrics: Arc<Metrics>,
}

pub struct InProcessSource {
    rx: mpsc::Receiver<LogRecord>,
}

pub fn in_process(capacity: usize, metrics: Arc<Metrics>) -> (Arc<InProcess>, InProcessSource) {
    let (tx, rx) = mpsc::channel(capacity.max(1));
    (Arc::new(InProcess { tx, metrics }), InProcessSource { rx })
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
    /// Waits for a first record, then lingers briefly so that batches are large when the
    /// load is high (one store commit per batch) and a lone record still goes out fast.
    async fn next_batch(&mut self, max: usize) -> Option<Batch> {
        let mut records = Vec::with_capacity(max.min(4096));
        if self.rx.recv_many(&mut records, max).await == 0 {
            return None;
        }
        if records.len() < max / 4 {
            tokio::time::sleep(LINGER).await;
            while records.len() < max {
                match self.rx.try_recv() {
                    Ok(r) => records.push(r),
                    Err(_) => break,
                }
            }
        }
        Some(Batch { records, ack: None })
    }
}
