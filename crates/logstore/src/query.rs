//! A query of the OCPP Logs table: SPEC.md's filters, newest first, paged by cursor.

use crate::record::{Direction, LogRecord, RecordId};
use chrono::{DateTime, Utc};

pub const DEFAULT_LIMIT: usize = 50;
pub const MAX_LIMIT: usize = 1000;

/// Filters of `GET /api/v1/logs` (all optional, combined with AND; `actions` with OR).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogQuery {
    /// Restrict to these sites (None = any). Also used for tenant scoping.
    pub site_ids: Option<Vec<String>>,
    pub station_id: Option<String>,
    pub connector_id: Option<i64>,
    pub actions: Vec<String>,
    pub status: Option<String>,
    pub error_code: Option<String>,
    pub direction: Option<Direction>,
    pub message_type: Option<String>,
    /// Inclusive lower bound.
    pub from: Option<DateTime<Utc>>,
    /// Exclusive upper bound.
    pub to: Option<DateTime<Utc>>,
    /// Case-insensitive substring of the raw payload text.
    pub q: Option<String>,
    pub limit: usize,
    /// Start strictly after (older than) this position.
    pub cursor: Option<Cursor>,
}

/// A position in the newest-first order: rows strictly older than (timestamp, id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub timestamp_ms: i64,
    pub id: RecordId,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum QueryError {
    #[error("cursor is not one this server issued")]
    BadCursor,
}

impl Cursor {
    pub fn after(record: &LogRecord) -> Cursor {
        Cursor { timestamp_ms: record.timestamp.timestamp_millis(), id: record.id }
    }

    /// Opaque text form: `<timestamp_ms>_<uuid simple>`.
    pub fn encode(&self) -> String {
        format!("{}_{}", self.timestamp_ms, self.id.simple())
    }

    pub fn decode(s: &str) -> Result<Cursor, QueryError> {
        let (ts, id) = s.split_once('_').ok_or(QueryError::BadCursor)?;
        Ok(Cursor {
            timestamp_ms: ts.parse().map_err(|_| QueryError::BadCursor)?,
            id: RecordId::parse_str(id).map_err(|_| QueryError::BadCursor)?,
        })
    }
}

impl LogQuery {
    pub fn effective_limit(&self) -> usize {
        match self.limit {
            0 => DEFAULT_LIMIT,
            n => n.min(MAX_LIMIT),
        }
    }

    /// Whether `r` passes every filter except the cursor and limit (used by the live tail
    /// and as the reference semantics in the conformance suite).
    pub fn matches(&self, r: &LogRecord) -> bool {
        let eq = |f: &Option<String>, v: &Option<String>| f.as_ref().is_none_or(|f| v.as_deref() == Some(f));
        self.site_ids.as_ref().is_none_or(|s| r.site_id.as_ref().is_some_and(|id| s.contains(id)))
            && self.station_id.as_ref().is_none_or(|s| &r.station_id == s)
            && self.connector_id.is_none_or(|c| r.connector_id == Some(c))
            && (self.actions.is_empty() || r.action.as_ref().is_some_and(|a| self.actions.contains(a)))
            && eq(&self.status, &r.status)
            && eq(&self.error_code, &r.error_code)
            && self.direction.is_none_or(|d| r.direction == d)
            && self.message_type.as_ref().is_none_or(|m| &r.message_type == m)
            && self.from.is_none_or(|f| r.timestamp >= f)
            && self.to.is_none_or(|t| r.timestamp < t)
            && self.q.as_ref().is_none_or(|q| r.raw.to_lowercase().contains(&q.to_lowercase()))
    }
}

/// One page of results, newest first.
#[derive(Debug, Clone, Default)]
pub struct LogPage {
    pub items: Vec<LogRecord>,
    /// Where the next (older) page starts; `None` when there is no more.
    pub next: Option<Cursor>,
}
