//! One row of the OCPP Logs table (SPEC.md, The OCPP Logs table).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A stable, unique, time-ordered record id: a UUIDv7 whose time part is the record's
/// timestamp, so ordering by id is ordering by time. Unique across gateway processes, so a
/// redelivered record is recognised.
pub type RecordId = uuid::Uuid;

/// Makes the id of a record taken at `ts`: a UUIDv7 whose bits after the timestamp are a
/// process-wide counter (so records of one millisecond keep the order they were made in)
/// and a per-process random salt (so ids of different processes never collide).
pub fn new_record_id(ts: DateTime<Utc>) -> RecordId {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::OnceLock;
    static SEQ: AtomicU64 = AtomicU64::new(0);
    static SALT: OnceLock<u128> = OnceLock::new();
    let salt = *SALT.get_or_init(|| uuid::Uuid::new_v4().as_u128() & 0xFFFF_FFFF);
    let ms = (ts.timestamp_millis().max(0) as u128) & ((1 << 48) - 1);
    let seq = (SEQ.fetch_add(1, Ordering::Relaxed) as u128) & ((1 << 42) - 1);
    // The counter's low bits come last, so consecutive records differ in their lowest bits
    // (the embedded store derives a row slot from them).
    let bits = (ms << 80) | (0x7 << 76) | ((seq >> 30) << 64) | (0b10 << 62) | (salt << 30) | (seq & ((1 << 30) - 1));
    uuid::Uuid::from_u128(bits)
}

/// `in` = charger → central system, `out` = central system → charger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    In,
    Out,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::In => "in",
            Direction::Out => "out",
        }
    }
}

impl FromStr for Direction {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "in" => Ok(Direction::In),
            "out" => Ok(Direction::Out),
            _ => Err(format!("direction must be `in` or `out`, not `{s}`")),
        }
    }
}

/// A site's log level (SPEC.md, Log levels). Ordered: `None < Info < Debug`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    None,
    #[default]
    Info,
    Debug,
}

impl LogLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::None => "none",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
        }
    }
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for LogLevel {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "none" => Ok(LogLevel::None),
            "info" => Ok(LogLevel::Info),
            "debug" => Ok(LogLevel::Debug),
            _ => Err(format!("log level must be `none`, `info` or `debug`, not `{s}`")),
        }
    }
}

/// Message type of a record: the three OCPP-J frame types, plus `EVENT` for connection
/// events (whose `action` is `Connected`, `Disconnected` or `ConnectionRefused`).
pub const MESSAGE_TYPES: [&str; 4] = ["CALL", "CALLRESULT", "CALLERROR", "EVENT"];

/// One row of the OCPP Logs table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogRecord {
    pub id: RecordId,
    /// When the gateway received or sent the frame (millisecond precision).
    pub timestamp: DateTime<Utc>,
    /// The CALL's action; for CALLRESULT/CALLERROR the action of the CALL it answers;
    /// for events `Connected` / `Disconnected`.
    pub action: Option<String>,
    pub station_id: String,
    pub connector_id: Option<i64>,
    pub status: Option<String>,
    pub error_code: Option<String>,
    pub site_id: Option<String>,
    /// The station's site name at the time of the frame (filled in by the indexer).
    pub site_name: Option<String>,
    pub direction: Direction,
    /// `CALL`, `CALLRESULT`, `CALLERROR` or `EVENT`.
    pub message_type: String,
    pub unique_id: Option<String>,
    /// The level at which this record was kept: `info` or `debug`.
    pub level: LogLevel,
    pub latency_ms: Option<u32>,
    pub validation_error: Option<String>,
    /// The exact payload text: for a frame, the whole frame text as received or sent;
    /// for an event, a JSON object describing it.
    pub raw: String,
}

impl LogRecord {
    /// The payload as JSON for the API: the payload element of a parseable frame
    /// (error details for a CALLERROR), the event object, or the raw text as a string.
    pub fn payload_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match serde_json::from_str::<Value>(&self.raw) {
            Ok(Value::Array(items)) => {
                let idx = match self.message_type.as_str() {
                    "CALL" => 3,
                    "CALLRESULT" => 2,
                    "CALLERROR" => 4,
                    _ => usize::MAX,
                };
                items.into_iter().nth(idx).unwrap_or(Value::String(self.raw.clone()))
            }
            Ok(v) if self.message_type == "EVENT" => v,
            _ => Value::String(self.raw.clone()),
        }
    }
}
