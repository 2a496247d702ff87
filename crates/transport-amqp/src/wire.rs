//! The versioned wire format of a log record on the broker (STYLE.md habit 9): JSON with an
//! explicit `"v"` field, in a struct of its own so that the internal [`LogRecord`] can change
//! without changing what crosses the broker. Pure functions, no I/O.
//!
//! Version 1 (`application/vnd.chargewatch.logrecord.v1+json`):
//!
//! ```json
//! {"v": 1, "id": "0190…", "timestamp": "2026-11-23T10:15:02.123Z", "station_id": "CP-001",
//!  "action": "StatusNotification", "connector_id": 2, "status": "Faulted",
//!  "error_code": "GroundFailure", "site_id": "berlin-hq", "site_name": null,
//!  "direction": "in", "message_type": "CALL", "unique_id": "…", "level": "info",
//!  "latency_ms": null, "validation_error": null, "raw": "[2,\"…\",…]"}
//! ```
//!
//! Version 2 (`application/vnd.chargewatch.logbatch.v2+json`) is a batch: one message carries
//! many v1 records, so that the broker confirms, stores and delivers one message per batch
//! instead of one per record (the publisher writes v2; readers take both):
//!
//! ```json
//! {"v": 2, "records": [{"v": 1, "id": "0190…", …}, {"v": 1, …}]}
//! ```
//!
//! Optional fields may be absent or `null`. A reader rejects a message whose `v` it does not
//! know (or that has none) with [`WireError::UnsupportedVersion`] / [`WireError::MissingVersion`],
//! never by guessing.

use chargewatch_logstore::record::{Direction, LogLevel, LogRecord};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

/// The version of one record (alone in a message, or inside a batch).
pub const VERSION: u64 = 1;
/// The AMQP `content-type` of version 1.
pub const CONTENT_TYPE: &str = "application/vnd.chargewatch.logrecord.v1+json";
/// The version of a batch of records, what the publisher writes.
pub const BATCH_VERSION: u64 = 2;
/// The AMQP `content-type` of version 2.
pub const BATCH_CONTENT_TYPE: &str = "application/vnd.chargewatch.logbatch.v2+json";

/// Why a message could not be read as a log record.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("log record is not valid JSON: {0}")]
    Json(#[source] serde_json::Error),
    #[error("log record has no `v` (version) field")]
    MissingVersion,
    #[error("log record version {0} is not supported (this build reads versions {VERSION} and {BATCH_VERSION})")]
    UnsupportedVersion(u64),
    #[error("content type `{0}` is not supported (expected `{CONTENT_TYPE}` or `{BATCH_CONTENT_TYPE}`)")]
    ContentType(String),
    #[error("log record is malformed: {0}")]
    Malformed(String),
}

/// Version 1 of the record on the wire. Enums travel as their lower-case names, the id as a
/// UUID string, the timestamp as RFC 3339 UTC
/// (milliseconds, or finer when the record has finer: decoding gives back the same instant).
#[derive(Debug, Serialize, Deserialize)]
struct RecordV1<'a> {
    v: u64,
    id: uuid::Uuid,
    timestamp: String,
    #[serde(borrow)]
    station_id: std::borrow::Cow<'a, str>,
    #[serde(default)]
    action: Option<String>,
    #[serde(default)]
    connector_id: Option<i64>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    error_code: Option<String>,
    #[serde(default)]
    site_id: Option<String>,
    #[serde(default)]
    site_name: Option<String>,
    direction: String,
    message_type: String,
    #[serde(default)]
    unique_id: Option<String>,
    level: String,
    #[serde(default)]
    latency_ms: Option<u32>,
    #[serde(default)]
    validation_error: Option<String>,
    raw: String,
}

/// Version 2: a batch of v1 records.
#[derive(Debug, Serialize, Deserialize)]
struct BatchV2<'a> {
    v: u64,
    #[serde(borrow)]
    records: Vec<RecordV1<'a>>,
}

/// Encodes one record as version 1.
pub fn encode(record: &LogRecord) -> Vec<u8> {
    serde_json::to_vec(&to_v1(record)).expect("a log record always serializes")
}

/// Encodes records as one version-2 batch.
pub fn encode_batch(records: &[LogRecord]) -> Vec<u8> {
    let batch = BatchV2 { v: BATCH_VERSION, records: records.iter().map(to_v1).collect() };
    serde_json::to_vec(&batch).expect("a log record always serializes")
}

fn to_v1(record: &LogRecord) -> RecordV1<'_> {
    RecordV1 {
        v: VERSION,
        id: record.id,
        timestamp: record.timestamp.to_rfc3339_opts(SecondsFormat::AutoSi, true),
        station_id: std::borrow::Cow::Borrowed(&record.station_id),
        action: record.action.clone(),
        connector_id: record.connector_id,
        status: record.status.clone(),
        error_code: record.error_code.clone(),
        site_id: record.site_id.clone(),
        site_name: record.site_name.clone(),
        direction: record.direction.as_str().to_owned(),
        message_type: record.message_type.clone(),
        unique_id: record.unique_id.clone(),
        level: record.level.as_str().to_owned(),
        latency_ms: record.latency_ms,
        validation_error: record.validation_error.clone(),
        raw: record.raw.clone(),
    }
}

/// Checks an AMQP `content-type`: absent is accepted (the body's `v` decides), anything but
/// the v1 and v2 types is refused.
pub fn check_content_type(content_type: Option<&str>) -> Result<(), WireError> {
    match content_type {
        None | Some(CONTENT_TYPE) | Some(BATCH_CONTENT_TYPE) => Ok(()),
        Some(other) => Err(WireError::ContentType(other.to_owned())),
    }
}

/// Decodes a message of any supported version: a v2 batch or a single v1 record. A batch
/// is read whole or not at all (one broken record rejects the message).
pub fn decode_message(bytes: &[u8]) -> Result<Vec<LogRecord>, WireError> {
    match serde_json::from_slice::<BatchV2>(bytes) {
        Ok(b) if b.v == BATCH_VERSION => b.records.into_iter().map(from_v1).collect(),
        Ok(b) => Err(WireError::UnsupportedVersion(b.v)),
        Err(_) => decode(bytes).map(|r| vec![r]),
    }
}

/// Decodes one version-1 record.
pub fn decode(bytes: &[u8]) -> Result<LogRecord, WireError> {
    // Fast path: a well-formed v1 record parses in one pass; only a failure looks closer.
    let w: RecordV1 = match serde_json::from_slice(bytes) {
        Ok(w) => w,
        Err(e) => return Err(explain(bytes, e)),
    };
    if w.v == BATCH_VERSION {
        return Err(batch_without_records());
    }
    from_v1(w)
}

fn batch_without_records() -> WireError {
    WireError::Malformed(format!("a v{BATCH_VERSION} batch needs `records`, an array of v{VERSION} records"))
}

fn from_v1(w: RecordV1<'_>) -> Result<LogRecord, WireError> {
    if w.v != VERSION {
        return Err(WireError::UnsupportedVersion(w.v));
    }
    let timestamp = DateTime::parse_from_rfc3339(&w.timestamp)
        .map_err(|e| WireError::Malformed(format!("timestamp `{}`: {e}", w.timestamp)))?
        .with_timezone(&Utc);
    let direction: Direction = w.direction.parse().map_err(WireError::Malformed)?;
    let level: LogLevel = w.level.parse().map_err(WireError::Malformed)?;
    Ok(LogRecord {
        id: w.id,
        timestamp,
        action: w.action,
        station_id: w.station_id.into_owned(),
        connector_id: w.connector_id,
        status: w.status,
        error_code: w.error_code,
        site_id: w.site_id,
        site_name: w.site_name,
        direction,
        message_type: w.message_type,
        unique_id: w.unique_id,
        level,
        latency_ms: w.latency_ms,
        validation_error: w.validation_error,
        raw: w.raw,
    })
}

/// Why a body did not parse: not JSON, no version, another version, or a broken v1 or v2.
fn explain(bytes: &[u8], parse_error: serde_json::Error) -> WireError {
    let value: serde_json::Value = match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(e) => return WireError::Json(e),
    };
    let Some(object) = value.as_object() else {
        return WireError::Malformed("a log record is a JSON object".into());
    };
    match object.get("v") {
        None | Some(serde_json::Value::Null) => WireError::MissingVersion,
        Some(serde_json::Value::Number(n)) => match n.as_u64() {
            Some(VERSION) => WireError::Malformed(parse_error.to_string()),
            Some(BATCH_VERSION) => batch_without_records(),
            Some(other) => WireError::UnsupportedVersion(other),
            None => WireError::Malformed(format!("`v` must be a positive integer, not {n}")),
        },
        Some(other) => WireError::Malformed(format!("`v` must be a number, not {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chargewatch_logstore::record::new_record_id;

    pub(crate) fn sample() -> LogRecord {
        let ts = DateTime::parse_from_rfc3339("2026-11-23T10:15:02.123Z").unwrap().with_timezone(&Utc);
        LogRecord {
            id: new_record_id(ts),
            timestamp: ts,
            action: Some("StatusNotification".into()),
            station_id: "CP-001".into(),
            connector_id: Some(2),
            status: Some("Faulted".into()),
            error_code: Some("GroundFailure".into()),
            site_id: Some("berlin-hq".into()),
            site_name: None,
            direction: Direction::In,
            message_type: "CALL".into(),
            unique_id: Some("u-1".into()),
            level: LogLevel::Info,
            latency_ms: None,
            validation_error: Some("bad \"thing\"".into()),
            raw: r#"[2,"u-1","StatusNotification",{"connectorId":2}]"#.into(),
        }
    }

    #[test]
    fn round_trip() {
        let r = sample();
        let bytes = encode(&r);
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v["v"], 1);
        assert_eq!(v["timestamp"], "2026-11-23T10:15:02.123Z");
        assert_eq!(v["direction"], "in");
        assert_eq!(decode(&bytes).unwrap(), r);
    }

    #[test]
    fn optional_fields_may_be_absent() {
        let text = r#"{"v":1,"id":"0190a6a0-0000-7000-8000-000000000001","timestamp":"2026-11-23T10:15:02.123Z",
            "station_id":"S","direction":"out","message_type":"EVENT","level":"debug","raw":"{}"}"#;
        let r = decode(text.as_bytes()).unwrap();
        assert_eq!(r.direction, Direction::Out);
        assert_eq!(r.level, LogLevel::Debug);
        assert_eq!(r.action, None);
    }

    #[test]
    fn unknown_versions_are_rejected() {
        let mut v: serde_json::Value = serde_json::from_slice(&encode(&sample())).unwrap();
        v["v"] = 3.into();
        let err = decode_message(&serde_json::to_vec(&v).unwrap()).unwrap_err();
        assert!(matches!(err, WireError::UnsupportedVersion(3)), "{err}");
        assert!(err.to_string().contains("version 3 is not supported"));
        v["v"] = 2.into();
        let err = decode_message(&serde_json::to_vec(&v).unwrap()).unwrap_err();
        assert!(matches!(err, WireError::Malformed(_)), "a v2 body without records: {err}");
        v.as_object_mut().unwrap().remove("v");
        assert!(matches!(decode(&serde_json::to_vec(&v).unwrap()), Err(WireError::MissingVersion)));
        v["v"] = "1".into();
        assert!(matches!(decode(&serde_json::to_vec(&v).unwrap()), Err(WireError::Malformed(_))));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(matches!(decode(b"not json"), Err(WireError::Json(_))));
        assert!(matches!(decode(b"[1,2]"), Err(WireError::Malformed(_))));
        let bad_dir =
            String::from_utf8(encode(&sample())).unwrap().replace(r#""direction":"in""#, r#""direction":"up""#);
        assert!(matches!(decode(bad_dir.as_bytes()), Err(WireError::Malformed(_))));
    }

    #[test]
    fn content_type() {
        assert!(check_content_type(None).is_ok());
        assert!(check_content_type(Some(CONTENT_TYPE)).is_ok());
        assert!(check_content_type(Some(BATCH_CONTENT_TYPE)).is_ok());
        assert!(check_content_type(Some("application/vnd.chargewatch.logrecord.v3+json")).is_err());
    }

    #[test]
    fn batches_round_trip_and_single_records_still_read() {
        let mut second = sample();
        second.id = new_record_id(second.timestamp);
        second.raw = "[3,\"u-1\",{}]".into();
        let records = vec![sample(), second];
        let bytes = encode_batch(&records);
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!((v["v"].as_u64(), v["records"][1]["v"].as_u64()), (Some(2), Some(1)));
        assert_eq!(decode_message(&bytes).unwrap(), records);
        assert_eq!(decode_message(&encode(&records[0])).unwrap(), records[..1]);
        let broken = String::from_utf8(bytes).unwrap().replacen(r#""direction":"in""#, r#""direction":"up""#, 1);
        assert!(matches!(decode_message(broken.as_bytes()), Err(WireError::Malformed(_))));
    }
}
