//! The OCPP message log: the log record, the query of the OCPP Logs table, and the
//! [`LogStore`] trait with its backends.
//!
//! The store knows nothing of WebSockets or OCPP sessions: it stores and finds records.

pub mod conformance;
pub mod fleet;
pub mod query;
pub mod record;
pub mod sqlite;
pub mod store;
pub mod transport;

pub use query::{Cursor, LogPage, LogQuery, QueryError};
pub use record::{Direction, LogLevel, LogRecord, RecordId};
pub use sqlite::{SqliteLogStore, SqliteOptions};
pub use store::{LogStore, StoreError, StoreStats};
