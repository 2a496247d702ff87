//! Id tags, transactions and meter values.

use super::sampled;
use super::{now_ms, rows, ts, Result, StateError};
use chargewatch_ocpp::messages::SampledValue;
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct IdTag {
    pub id_tag: String,
    /// Accepted, Blocked, Expired or Invalid.
    pub status: String,
    pub expiry_date: Option<DateTime<Utc>>,
    pub parent_id_tag: Option<String>,
}

/// The OCPP `idTagInfo` the central system answers with.
#[derive(Debug, Clone, PartialEq)]
pub struct TagVerdict {
    pub status: &'static str,
    pub expiry_date: Option<DateTime<Utc>>,
    pub parent_id_tag: Option<String>,
}

pub const TAG_STATUSES: [&str; 4] = ["Accepted", "Blocked", "Expired", "Invalid"];

pub fn put_id_tag(c: &Connection, tag: &IdTag) -> Result<IdTag> {
    if !TAG_STATUSES.contains(&tag.status.as_str()) {
        return Err(StateError::Invalid(format!("status must be one of {TAG_STATUSES:?}")));
    }
    if tag.id_tag.is_empty() || tag.id_tag.len() > 20 {
        return Err(StateError::Invalid("id_tag must be 1 to 20 characters (OCPP CiString20)".into()));
    }
    c.prepare_cached("INSERT INTO id_tags (id_tag, status, expiry_date, parent_id_tag, created_at) VALUES (?1,?2,?3,?4,?5)
         ON CONFLICT(id_tag) DO UPDATE SET status=excluded.status, expiry_date=excluded.expiry_date, parent_id_tag=excluded.parent_id_tag")?.execute(
        params![tag.id_tag, tag.status, tag.expiry_date.map(|t| t.timestamp_millis()), tag.parent_id_tag, now_ms()],
    )?;
    Ok(tag.clone())
}

pub fn list_id_tags(c: &Connection) -> Result<Vec<IdTag>> {
    let mut st = c.prepare("SELECT id_tag, status, expiry_date, parent_id_tag FROM id_tags ORDER BY id_tag")?;
    let rows = st
        .query_map([], |r| {
            Ok(IdTag { id_tag: r.get(0)?, status: r.get(1)?, expiry_date: ts(r.get(2)?), parent_id_tag: r.get(3)? })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

/// The verdict for `id_tag` at `now`. Policy for unknown tags: `Invalid` unless
/// `accept_unknown` (then `Accepted`).
pub fn authorize(c: &Connection, id_tag: &str, now: DateTime<Utc>, accept_unknown: bool) -> Result<TagVerdict> {
    let row = c
        .query_row("SELECT status, expiry_date, parent_id_tag FROM id_tags WHERE id_tag = ?1", [id_tag], |r| {
            Ok((r.get::<_, String>(0)?, ts(r.get(1)?), r.get::<_, Option<String>>(2)?))
        })
        .optional()?;
    let Some((status, expiry, parent)) = row else {
        let status = if accept_unknown { "Accepted" } else { "Invalid" };
        return Ok(TagVerdict { status, expiry_date: None, parent_id_tag: None });
    };
    let status = match status.as_str() {
        "Accepted" if expiry.is_some_and(|e| e <= now) => "Expired",
        s => TAG_STATUSES.into_iter().find(|k| *k == s).unwrap_or("Invalid"),
    };
    Ok(TagVerdict { status, expiry_date: expiry, parent_id_tag: parent })
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Transaction {
    pub id: i64,
    pub station_id: String,
    pub connector_id: i64,
    pub id_tag: String,
    pub id_tag_status: String,
    pub meter_start: i64,
    pub start_timestamp: DateTime<Utc>,
    pub reservation_id: Option<i64>,
    pub meter_stop: Option<i64>,
    pub stop_timestamp: Option<DateTime<Utc>>,
    pub stop_reason: Option<String>,
    pub stop_id_tag: Option<String>,
    pub transaction_data: Option<serde_json::Value>,
    /// Wh consumed, once stopped.
    pub energy_wh: Option<i64>,
}

const TX_COLS: &str = "id, station_id, connector_id, id_tag, id_tag_status, meter_start, start_timestamp, \
    reservation_id, meter_stop, stop_timestamp, stop_reason, stop_id_tag, transaction_data";

fn tx_from_row(r: &Row) -> rusqlite::Result<Transaction> {
    let data: Option<String> = r.get(12)?;
    let meter_start: i64 = r.get(5)?;
    let meter_stop: Option<i64> = r.get(8)?;
    Ok(Transaction {
        id: r.get(0)?,
        station_id: r.get(1)?,
        connector_id: r.get(2)?,
        id_tag: r.get(3)?,
        id_tag_status: r.get(4)?,
        meter_start,
        start_timestamp: ts(r.get(6)?).unwrap_or_default(),
        reservation_id: r.get(7)?,
        meter_stop,
        stop_timestamp: ts(r.get(9)?),
        stop_reason: r.get(10)?,
        stop_id_tag: r.get(11)?,
        transaction_data: data.and_then(|d| serde_json::from_str(&d).ok()),
        energy_wh: meter_stop.map(|m| m - meter_start),
    })
}

pub struct NewTransaction<'a> {
    pub station_id: &'a str,
    pub connector_id: i64,
    pub id_tag: &'a str,
    pub id_tag_status: &'a str,
    pub meter_start: i64,
    pub timestamp: DateTime<Utc>,
    pub reservation_id: Option<i64>,
}

/// Whether `id_tag` already has an open transaction (for `ConcurrentTx`).
pub fn has_open_transaction(c: &Connection, id_tag: &str) -> Result<bool> {
    let n: i64 = c.query_row(
        "SELECT COUNT(*) FROM transactions WHERE id_tag = ?1 COLLATE NOCASE AND stop_timestamp IS NULL",
        [id_tag],
        |r| r.get(0),
    )?;
    Ok(n > 0)
}

/// Opens a transaction and returns its unique id. Durable when this returns.
pub fn start_transaction(c: &Connection, t: &NewTransaction) -> Result<i64> {
    c.prepare_cached("INSERT INTO transactions (station_id, connector_id, id_tag, id_tag_status, meter_start, start_timestamp, reservation_id)
         VALUES (?1,?2,?3,?4,?5,?6,?7)")?.execute(
        params![
            t.station_id, t.connector_id, t.id_tag, t.id_tag_status, t.meter_start,
            t.timestamp.timestamp_millis(), t.reservation_id
        ],
    )?;
    Ok(c.last_insert_rowid())
}

pub struct StopTransaction<'a> {
    pub station_id: &'a str,
    pub transaction_id: i64,
    pub meter_stop: i64,
    pub timestamp: DateTime<Utc>,
    pub reason: Option<&'a str>,
    pub id_tag: Option<&'a str>,
    pub transaction_data: Option<&'a serde_json::Value>,
}

/// Closes a transaction; `false` when the station has no such transaction.
pub fn stop_transaction(c: &Connection, s: &StopTransaction) -> Result<bool> {
    let n = c.prepare_cached("UPDATE transactions SET meter_stop=?3, stop_timestamp=?4, stop_reason=?5, stop_id_tag=?6, transaction_data=?7
         WHERE id=?1 AND station_id=?2")?.execute(
        params![
            s.transaction_id,
            s.station_id,
            s.meter_stop,
            s.timestamp.timestamp_millis(),
            s.reason.unwrap_or("Local"),
            s.id_tag,
            s.transaction_data.map(json_text)
        ],
    )?;
    Ok(n > 0)
}

pub fn transaction(c: &Connection, id: i64) -> Result<Option<Transaction>> {
    Ok(c.prepare_cached(&format!("SELECT {TX_COLS} FROM transactions WHERE id=?1"))?
        .query_row([id], tx_from_row)
        .optional()?)
}

pub fn connector_of_transaction(c: &Connection, station_id: &str, id: i64) -> Result<Option<i64>> {
    Ok(c.query_row(
        "SELECT connector_id FROM transactions WHERE id=?1 AND station_id=?2",
        params![id, station_id],
        |r| r.get(0),
    )
    .optional()?)
}

pub fn recent_transactions(c: &Connection, station_id: &str, limit: usize) -> Result<Vec<Transaction>> {
    let mut st =
        c.prepare_cached(&format!("SELECT {TX_COLS} FROM transactions WHERE station_id=?1 ORDER BY id DESC LIMIT ?2"))?;
    let rows = st.query_map(params![station_id, limit as i64], tx_from_row)?.collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

/// A JSON value as text. `serde_json::to_string` writes straight into the string; the
/// `Display` impl (`value.to_string()`) goes through `fmt` for every token and cost about
/// 16,000 instructions per MeterValues on the state writer (callgrind).
fn json_text(v: &impl Serialize) -> String {
    serde_json::to_string(v).expect("a JSON value or a typed message always serializes")
}

/// A `meterValue` element's `sampledValue` array, as a meter-value row keeps it: compact
/// ([`super::sampled`]).
pub trait SampledValuesCell {
    fn cell(&self) -> rusqlite::types::Value;
}

/// A validated payload's array, kept compact; as its JSON text if it is not one (which
/// validation rules out).
impl SampledValuesCell for &serde_json::Value {
    fn cell(&self) -> rusqlite::types::Value {
        match Vec::<SampledValue>::deserialize(*self) {
            Ok(values) => rusqlite::types::Value::Blob(sampled::encode(&values)),
            Err(_) => rusqlite::types::Value::Text(json_text(self)),
        }
    }
}

impl SampledValuesCell for &Vec<SampledValue> {
    fn cell(&self) -> rusqlite::types::Value {
        rusqlite::types::Value::Blob(sampled::encode(self))
    }
}

/// Keeps each `meterValue` element of a MeterValues (or transactionData) payload: its time
/// and its `sampledValue` array, as JSON (`serde_json::Value`) or typed (`Vec<SampledValue>`).
pub fn add_meter_values<S: SampledValuesCell>(
    c: &mut Connection,
    station_id: &str,
    connector_id: i64,
    transaction_id: Option<i64>,
    values: &[(DateTime<Utc>, S)],
) -> Result<()> {
    // Atomic through the caller: `StateStore::run` runs every job in a savepoint of its own.
    let mut st = c.prepare_cached(
        "INSERT INTO meter_values (station_id, connector_id, transaction_id, timestamp, sampled_value) VALUES (?1,?2,?3,?4,?5)",
    )?;
    for (at, sampled) in values {
        st.execute(params![station_id, connector_id, transaction_id, at.timestamp_millis(), sampled.cell()])?;
    }
    Ok(())
}

#[derive(Debug, Clone, Serialize)]
pub struct MeterValueRow {
    pub connector_id: i64,
    pub transaction_id: Option<i64>,
    pub timestamp: DateTime<Utc>,
    pub sampled_value: serde_json::Value,
}

pub fn meter_values_of_transaction(c: &Connection, transaction_id: i64) -> Result<Vec<MeterValueRow>> {
    rows(c, "SELECT connector_id, transaction_id, timestamp, sampled_value FROM meter_values WHERE transaction_id=?1 ORDER BY timestamp", [transaction_id], |r| {
            Ok(MeterValueRow {
                connector_id: r.get(0)?,
                transaction_id: r.get(1)?,
                timestamp: ts(r.get(2)?).unwrap_or_default(),
                sampled_value: sampled::sampled_values_from_cell(r.get_ref(3)?),
            })
        })
}

pub fn record_data_transfer(
    c: &Connection,
    station_id: &str,
    vendor_id: &str,
    message_id: Option<&str>,
    data: Option<&str>,
) -> Result<()> {
    c.prepare_cached(
        "INSERT INTO data_transfers (station_id, vendor_id, message_id, data, at) VALUES (?1,?2,?3,?4,?5)",
    )?
    .execute(params![station_id, vendor_id, message_id, data, now_ms()])?;
    Ok(())
}
