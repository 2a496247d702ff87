//! The log store trait. Backends: the embedded store (default) and PostgreSQL.

use crate::query::{LogPage, LogQuery};
use crate::record::LogRecord;
use chrono::{DateTime, Utc};
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("log store I/O failed: {0}")]
    Backend(String),
    #[error("log store is corrupt or from a newer version: {0}")]
    Incompatible(String),
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct StoreStats {
    pub records: u64,
    pub disk_bytes: u64,
    pub partitions: u64,
    pub oldest: Option<DateTime<Utc>>,
}

/// Where log records are kept. Implementations are safe to share between tasks.
#[async_trait::async_trait]
pub trait LogStore: Send + Sync + 'static {
    /// Stores a batch atomically: after `Ok`, every record is durable. A record whose id
    /// is already stored is skipped (redelivery never makes a duplicate row). The batch is
    /// shared so that a caller can retry it without copying every record.
    async fn append(&self, batch: std::sync::Arc<[LogRecord]>) -> Result<(), StoreError>;

    /// One page of the OCPP Logs table, newest first.
    async fn query(&self, query: &LogQuery) -> Result<LogPage, StoreError>;

    /// Deletes every record older than `cutoff`, freeing disk space; returns how many
    /// records (or an estimate, for partition drops) were removed.
    async fn purge_before(&self, cutoff: DateTime<Utc>) -> Result<u64, StoreError>;

    async fn stats(&self) -> Result<StoreStats, StoreError>;
}
