//! The seam between gateways and indexers (SPEC.md, Data flow): gateways publish log
//! records to a [`LogTransport`]; indexers take batches from a [`RecordSource`] and
//! acknowledge each batch once the log store has committed it. Backends: the in-process
//! queue (one machine) and RabbitMQ.

use crate::record::LogRecord;

/// Gateway side: hands records to the indexers.
pub trait LogTransport: Send + Sync + 'static {
    /// Never waits. A record that cannot be queued is counted as dropped by the backend.
    fn publish(&self, record: LogRecord);
}

/// A batch of records from the transport; call `ack` once the store has committed it.
pub struct Batch {
    pub records: Vec<LogRecord>,
    pub ack: Option<Box<dyn FnOnce() + Send>>,
}

/// Indexer side: where records come from.
#[async_trait::async_trait]
pub trait RecordSource: Send + 'static {
    /// Waits for at least one record, then takes what is ready, up to `max`.
    /// `None` when the transport is closed and drained.
    async fn next_batch(&mut self, max: usize) -> Option<Batch>;
}
