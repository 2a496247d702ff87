//! The OCPP message log pipeline on the gateway side and the indexer:
//!
//! gateway ──FrameEvent──▶ [`capture`] (level filter, ring buffer, record building)
//!   ──LogRecord──▶ [`transport`] (bounded; drops are counted) ──▶ [`indexer`]
//!   (site names, batching) ──▶ `LogStore` ──▶ live tail broadcast.

pub mod capture;
pub mod indexer;
pub mod levels;
pub mod metrics;
pub mod privacy;
pub mod transport;

pub use capture::Capture;
pub use levels::{Clock, Levels};
pub use metrics::Metrics;
