//! The RabbitMQ transport of Chargewatch (SPEC.md, Data flow: many machines).
//!
//! - [`wire`]: the versioned wire format of a log record (pure, no I/O).
//! - [`AmqpPublisher`] (gateway side, implements `LogTransport`) and [`AmqpSource`] (indexer
//!   side, implements `RecordSource`): log records through the durable topic exchange
//!   `chargewatch.logs` into the quorum queue `chargewatch.logs.indexer`, with publisher
//!   confirms and manual acknowledgements — no confirmed record is lost.
//! - [`commands`]: operator commands routed to the gateway process that holds the station;
//!   RabbitMQ's exclusive queues are the presence registry.
//! - [`levels`]: the "log levels changed" broadcast to every process.
//!
//! **This crate knows nothing of the chargewatch binary**: records are
//! `chargewatch_logstore::LogRecord`, commands are strings and `serde_json::Value`.

pub mod commands;
mod config;
mod conn;
pub mod levels;
mod publisher;
mod source;
mod topology;
pub mod wire;

pub use config::AmqpConfig;
pub use conn::AmqpError;
pub use publisher::{AmqpPublisher, PublisherStats};
pub use source::{AmqpSource, SourceStats, SourceStatsHandle};
pub use topology::QueueKind;
