//! The transport between gateways and indexers. Publishing never blocks the charger's
//! path: when the queue is full the record is dropped and counted (`records_dropped`).

use super::metrics::Metrics;
use chargewatch_logstore::LogRecord;
use std::sync::Arc;
use tokio::sync::mpsc;

pub use chargewatch_logstore::transport::{Batch, LogTransport, RecordSource};

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
        match self.tx.try_send(record) {
            Ok(()) => Metrics::add(&self.metrics.records_published, 1),
            Err(_) => Metrics::add(&self.metrics.records_dropped, 1),
        }
    }
}

#[async_trait::async_trait]
impl RecordSource for InProcessSource {
    async fn next_batch(&mut self, max: usize) -> Option<Batch> {
        let mut records = Vec::with_capacity(max.min(1024));
        if self.rx.recv_many(&mut records, max).await == 0 {
            return None;
        }
        Some(Batch { records, ack: None })
    }
}
