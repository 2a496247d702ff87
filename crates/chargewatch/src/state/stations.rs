//! Charging stations: registration, boot information, connection facts and connectors.

use super::{now_ms, rows, ts, Result, StateError};
use chargewatch_logstore::LogLevel;
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::Serialize;

#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct Station {
    pub id: String,
    pub site_id: Option<String>,
    pub registered: bool,
    pub vendor: Option<String>,
    pub model: Option<String>,
    pub serial_number: Option<String>,
    pub firmware_version: Option<String>,
    pub iccid: Option<String>,
    pub imsi: Option<String>,
    pub meter_type: Option<String>,
    pub meter_serial_number: Option<String>,
    pub boot_status: Option<String>,
    pub last_boot_at: Option<DateTime<Utc>>,
    pub last_seen_at: Option<DateTime<Utc>>,
    pub last_heartbeat_at: Option<DateTime<Utc>>,
    pub diagnostics_status: Option<String>,
    pub firmware_status: Option<String>,
    pub level_override: Option<LogLevel>,
    pub level_override_until: Option<DateTime<Utc>>,
    /// Whether a gateway holds the station's connection (as the gateways last reported).
    #[serde(skip)]
    pub connected: bool,
    pub connectors: Vec<ConnectorState>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ConnectorState {
    pub connector_id: i64,
    pub status: String,
    pub error_code: String,
    pub info: Option<String>,
    pub vendor_id: Option<String>,
    pub vendor_error_code: Option<String>,
    pub timestamp: Option<DateTime<Utc>>,
}

/// The facts a BootNotification reports.
#[derive(Debug, Clone, Default)]
pub struct StationUpdate {
    pub vendor: String,
    pub model: String,
    pub serial_number: Option<String>,
    pub firmware_version: Option<String>,
    pub iccid: Option<String>,
    pub imsi: Option<String>,
    pub meter_type: Option<String>,
    pub meter_serial_number: Option<String>,
}

const COLS: &str = "id, site_id, registered, vendor, model, serial_number, firmware_version, iccid, imsi, \
    meter_type, meter_serial_number, boot_status, last_boot_at, last_seen_at, last_heartbeat_at, \
    diagnostics_status, firmware_status, level_override, level_override_until, connected";

fn from_row(r: &Row) -> rusqlite::Result<Station> {
    let lvl: Option<String> = r.get(17)?;
    Ok(Station {
        id: r.get(0)?,
        site_id: r.get(1)?,
        registered: r.get(2)?,
        vendor: r.get(3)?,
        model: r.get(4)?,
        serial_number: r.get(5)?,
        firmware_version: r.get(6)?,
        iccid: r.get(7)?,
        imsi: r.get(8)?,
        meter_type: r.get(9)?,
        meter_serial_number: r.get(10)?,
        boot_status: r.get(11)?,
        last_boot_at: ts(r.get(12)?),
        last_seen_at: ts(r.get(13)?),
        last_heartbeat_at: ts(r.get(14)?),
        diagnostics_status: r.get(15)?,
        firmware_status: r.get(16)?,
        level_override: lvl.and_then(|l| l.parse().ok()),
        level_override_until: ts(r.get(18)?),
        connected: r.get(19)?,
        connectors: Vec::new(),
    })
}

pub fn find(c: &Connection, id: &str) -> Result<Option<Station>> {
    // Cached: a station's connect and its BootNotification each look it up (a connection
    // storm of 10,000 stations is 20,000 lookups; preparing the statement was most of each).
    let st = c
        .prepare_cached(&format!("SELECT {COLS} FROM stations WHERE id = ?1"))?
        .query_row([id], from_row)
        .optional()?;
    match st {
        Some(mut st) => {
            st.connectors = connectors(c, id)?;
            Ok(Some(st))
        }
        None => Ok(None),
    }
}

pub fn get(c: &Connection, id: &str) -> Result<Station> {
    find(c, id)?.ok_or_else(|| StateError::NotFound(format!("station `{id}`")))
}

pub fn list(c: &Connection) -> Result<Vec<Station>> {
    let mut st = c.prepare(&format!("SELECT {COLS} FROM stations ORDER BY id"))?;
    let mut out: Vec<Station> = st.query_map([], from_row)?.collect::<rusqlite::Result<_>>()?;
    for s in &mut out {
        s.connectors = connectors(c, &s.id)?;
    }
    Ok(out)
}

fn connectors(c: &Connection, id: &str) -> Result<Vec<ConnectorState>> {
    rows(
        c,
        "SELECT connector_id, status, error_code, info, vendor_id, vendor_error_code, status_timestamp \
         FROM connectors WHERE station_id = ?1 ORDER BY connector_id",
        [id],
        |r| {
            Ok(ConnectorState {
                connector_id: r.get(0)?,
                status: r.get(1)?,
                error_code: r.get(2)?,
                info: r.get(3)?,
                vendor_id: r.get(4)?,
                vendor_error_code: r.get(5)?,
                timestamp: ts(r.get(6)?),
            })
        },
    )
}

/// Registers a station (or moves it) to a site, `None` = no site.
pub fn register(c: &Connection, id: &str, site_id: Option<&str>) -> Result<Station> {
    if let Some(site) = site_id {
        super::sites::get(c, site)?;
    }
    c.prepare_cached(
        "INSERT INTO stations (id, site_id, registered, created_at) VALUES (?1, ?2, 1, ?3)
         ON CONFLICT(id) DO UPDATE SET site_id = excluded.site_id, registered = 1",
    )?
    .execute(params![id, site_id, now_ms()])?;
    get(c, id)
}

/// Records an unknown station that tried to boot (registered = 0, so it stays refused
/// until an operator registers it), or that was let in by `--accept-unknown-stations`.
pub fn ensure_known(c: &Connection, id: &str, registered: bool) -> Result<()> {
    c.prepare_cached(
        "INSERT INTO stations (id, registered, created_at) VALUES (?1, ?2, ?3) ON CONFLICT(id) DO NOTHING",
    )?
    .execute(params![id, registered, now_ms()])?;
    Ok(())
}

pub fn record_boot(c: &Connection, id: &str, u: &StationUpdate, status: &str) -> Result<()> {
    c.prepare_cached(
        "UPDATE stations SET vendor=?2, model=?3, serial_number=?4, firmware_version=?5, iccid=?6, imsi=?7,
         meter_type=?8, meter_serial_number=?9, boot_status=?10, last_boot_at=?11, last_seen_at=?11 WHERE id=?1",
    )?
    .execute(params![
        id,
        u.vendor,
        u.model,
        u.serial_number,
        u.firmware_version,
        u.iccid,
        u.imsi,
        u.meter_type,
        u.meter_serial_number,
        status,
        now_ms()
    ])?;
    Ok(())
}

pub fn touch(c: &Connection, id: &str) -> Result<()> {
    c.prepare_cached("UPDATE stations SET last_seen_at=?2 WHERE id=?1")?.execute(params![id, now_ms()])?;
    Ok(())
}

/// Keeps a StatusNotification: the connector's current status, and a row of its history
/// when the status or the error code changed (a notification that repeats the connector's
/// current status is not a change: chargers repeat them after every reconnect, and some on a
/// timer; each would cost a history row and an index entry in that station's leaf).
#[allow(clippy::too_many_arguments)]
pub fn record_status(
    c: &mut Connection,
    id: &str,
    connector_id: i64,
    status: &str,
    error_code: &str,
    info: Option<&str>,
    vendor_id: Option<&str>,
    vendor_error_code: Option<&str>,
    at: Option<DateTime<Utc>>,
) -> Result<()> {
    let now = now_ms();
    let at_ms = at.map(|t| t.timestamp_millis()).unwrap_or(now);
    // Atomic through the caller: `StateStore::run` runs every job in a savepoint of its own.
    let tx = c;
    let before: Option<(String, String)> = tx
        .prepare_cached("SELECT status, error_code FROM connectors WHERE station_id=?1 AND connector_id=?2")?
        .query_row(params![id, connector_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    tx.prepare_cached("INSERT INTO connectors (station_id, connector_id, status, error_code, info, vendor_id, vendor_error_code, status_timestamp, updated_at)
         VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9)
         ON CONFLICT(station_id, connector_id) DO UPDATE SET status=excluded.status, error_code=excluded.error_code,
         info=excluded.info, vendor_id=excluded.vendor_id, vendor_error_code=excluded.vendor_error_code,
         status_timestamp=excluded.status_timestamp, updated_at=excluded.updated_at")?.execute(
        params![id, connector_id, status, error_code, info, vendor_id, vendor_error_code, at_ms, now],
    )?;
    if before.is_some_and(|(s, e)| s == status && e == error_code) {
        return Ok(());
    }
    tx.prepare_cached(
        "INSERT INTO status_history (station_id, connector_id, status, error_code, at) VALUES (?1,?2,?3,?4,?5)",
    )?
    .execute(params![id, connector_id, status, error_code, at_ms])?;
    Ok(())
}

/// One status change of a connector, for the 24-hour timeline.
#[derive(Debug, Clone, Serialize)]
pub struct StatusChange {
    pub connector_id: i64,
    pub status: String,
    pub error_code: String,
    pub at: DateTime<Utc>,
}

/// The station's status changes since `since`, oldest first, each connector's list led by
/// the change in effect at `since` (the last one before it, when there is one), so that a
/// timeline knows every connector's status from its first instant.
pub fn status_history(c: &Connection, id: &str, since: DateTime<Utc>) -> Result<Vec<StatusChange>> {
    let since = since.timestamp_millis();
    let change = |r: &Row| {
        Ok(StatusChange {
            connector_id: r.get(0)?,
            status: r.get(1)?,
            error_code: r.get(2)?,
            at: ts(r.get(3)?).unwrap_or_default(),
        })
    };
    let mut out = Vec::new();
    let connectors: Vec<i64> =
        rows(c, "SELECT connector_id FROM connectors WHERE station_id=?1 ORDER BY connector_id", [id], |r| r.get(0))?;
    let mut in_effect = c.prepare_cached(
        "SELECT connector_id, status, error_code, at FROM status_history
         WHERE station_id=?1 AND connector_id=?2 AND at<?3 ORDER BY at DESC LIMIT 1",
    )?;
    for connector_id in connectors {
        out.extend(in_effect.query_row(params![id, connector_id, since], change).optional()?);
    }
    out.extend(rows(
        c,
        "SELECT connector_id, status, error_code, at FROM status_history WHERE station_id=?1 AND at>=?2 ORDER BY at",
        params![id, since],
        change,
    )?);
    out.sort_by_key(|s| s.at);
    Ok(out)
}

pub fn record_diagnostics_status(c: &Connection, id: &str, status: &str) -> Result<()> {
    c.prepare_cached(
        "UPDATE stations SET diagnostics_status=?2, diagnostics_status_at=?3, last_seen_at=?3 WHERE id=?1",
    )?
    .execute(params![id, status, now_ms()])?;
    Ok(())
}

pub fn record_firmware_status(c: &Connection, id: &str, status: &str) -> Result<()> {
    c.prepare_cached("UPDATE stations SET firmware_status=?2, firmware_status_at=?3, last_seen_at=?3 WHERE id=?1")?
        .execute(params![id, status, now_ms()])?;
    Ok(())
}

pub fn set_level_override(
    c: &Connection,
    id: &str,
    level: Option<LogLevel>,
    until: Option<DateTime<Utc>>,
) -> Result<Station> {
    get(c, id)?;
    c.prepare_cached("UPDATE stations SET level_override=?2, level_override_until=?3 WHERE id=?1")?
        .execute(params![id, level.map(|l| l.as_str()), until.map(|t| t.timestamp_millis())])?;
    get(c, id)
}

/// Records whether a gateway holds the station's connection.
pub fn set_connected(c: &Connection, id: &str, connected: bool) -> Result<()> {
    c.prepare_cached("UPDATE stations SET connected=?2, last_seen_at=?3 WHERE id=?1")?.execute(params![
        id,
        connected,
        now_ms()
    ])?;
    Ok(())
}

/// Marks every station disconnected (a single-process server starting up).
pub fn clear_connected(c: &Connection) -> Result<()> {
    c.prepare_cached("UPDATE stations SET connected=0 WHERE connected=1")?.execute([])?;
    Ok(())
}
