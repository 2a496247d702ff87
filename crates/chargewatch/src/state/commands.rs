//! Central-system commands: who sent what, when, and what the station answered.

use super::{now_ms, Result};
use rusqlite::{params, Connection};
use serde::Serialize;
use serde_json::Value;

pub struct NewCommand {
    pub station_id: String,
    pub action: String,
    pub payload: Value,
    pub sent_by: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct CommandRecord {
    pub id: i64,
    pub station_id: String,
    pub action: String,
    pub payload: Value,
    pub sent_by: String,
    pub sent_at: chrono::DateTime<chrono::Utc>,
    /// CALLRESULT, CALLERROR, Timeout, NotConnected, Disconnected, QueueFull; null while waiting.
    pub outcome: Option<String>,
    pub response: Option<Value>,
    pub answered_at: Option<chrono::DateTime<chrono::Utc>>,
}

pub fn record(c: &Connection, cmd: &NewCommand) -> Result<i64> {
    c.execute(
        "INSERT INTO commands (station_id, action, payload, sent_by, sent_at) VALUES (?1,?2,?3,?4,?5)",
        params![cmd.station_id, cmd.action, cmd.payload.to_string(), cmd.sent_by, now_ms()],
    )?;
    Ok(c.last_insert_rowid())
}

pub fn answer(c: &Connection, id: i64, outcome: &str, response: &Value) -> Result<()> {
    c.execute(
        "UPDATE commands SET outcome=?2, response=?3, answered_at=?4 WHERE id=?1",
        params![id, outcome, response.to_string(), now_ms()],
    )?;
    Ok(())
}

pub fn list(c: &Connection, station_id: &str, limit: usize) -> Result<Vec<CommandRecord>> {
    let mut st = c.prepare_cached(
        "SELECT id, station_id, action, payload, sent_by, sent_at, outcome, response, answered_at
         FROM commands WHERE station_id=?1 ORDER BY id DESC LIMIT ?2",
    )?;
    let ts = |v: Option<i64>| v.and_then(chrono::DateTime::from_timestamp_millis);
    let json = |v: Option<String>| v.and_then(|s| serde_json::from_str(&s).ok());
    let rows = st
        .query_map(params![station_id, limit as i64], |r| {
            Ok(CommandRecord {
                id: r.get(0)?,
                station_id: r.get(1)?,
                action: r.get(2)?,
                payload: json(r.get(3)?).unwrap_or_default(),
                sent_by: r.get(4)?,
                sent_at: ts(r.get(5)?).unwrap_or_default(),
                outcome: r.get(6)?,
                response: json(r.get(7)?),
                answered_at: ts(r.get(8)?),
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}
