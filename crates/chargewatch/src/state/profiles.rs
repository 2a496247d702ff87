//! State of the OCPP 1.6 feature profiles that central-system commands and charger
//! notifications change: configuration keys, availability, firmware and diagnostics jobs,
//! local authorization lists, reservations, charging profiles, composite schedules and
//! TriggerMessage results; plus the firmware files stations download and the diagnostics
//! files they upload (BLOBs in the same database: one file to back up, crash-safe).
//!
//! [`apply_result`] runs after every CALLRESULT of a central-system command, in the same
//! transaction that records the answer; [`on_charger_call`] runs after every charger CALL
//! the central system handled successfully, in the same transaction as its handler. Payloads
//! arrive schema-validated, but both functions stay lenient: a field they cannot read makes
//! them skip the change, never fail the caller.
//!
//! Rules (OCPP 1.6):
//! - **Core.** GetConfiguration.conf stores each `configurationKey` (value, readonly) and each
//!   `unknownKey` (known = false); a read of all keys (no `key` in the request) first forgets
//!   the keys it no longer lists. ChangeConfiguration `Accepted`/`RebootRequired` stores the
//!   value (with that status). ChangeAvailability `Accepted`/`Scheduled` stores the requested
//!   type with the status, per connector (0 = the station as a whole).
//! - **Firmware Management.** UpdateFirmware.conf creates a firmware job (status `Accepted`);
//!   GetDiagnostics.conf a diagnostics job (`Accepted`, or `NoDiagnostics` without a
//!   `fileName`). A newer job supersedes the station's unfinished ones (`Superseded`).
//!   FirmwareStatusNotification / DiagnosticsStatusNotification advance the station's newest
//!   unfinished job; `Idle` is kept in the history only. Finished: `Installed`,
//!   `DownloadFailed`, `InstallationFailed`, `Uploaded`, `UploadFailed`, `NoDiagnostics`,
//!   `Superseded`.
//! - **Local Auth List.** SendLocalList `Accepted`: `Full` replaces the entries, `Differential`
//!   adds/updates entries with `idTagInfo` and removes those without; every answer is kept as
//!   the last send status. GetLocalListVersion.conf keeps the version the station reports.
//! - **Reservation.** ReserveNow `Accepted` → `active` (the same reservationId replaces the
//!   reservation); CancelReservation `Accepted` → `cancelled`; StartTransaction.req with a
//!   reservationId → `used`; an `active` one past its expiry reads as `expired`.
//! - **Smart Charging.** SetChargingProfile `Accepted` (and RemoteStartTransaction `Accepted`
//!   with a chargingProfile and a connectorId) stores the profile, replacing the profile with
//!   the same chargingProfileId and the one with the same stackLevel and purpose on the same
//!   connector. ClearChargingProfile `Accepted` removes by `id` when given, else by the
//!   connectorId/purpose/stackLevel filters it has (none = all). A StopTransaction removes the
//!   TxProfiles of that transaction and its connector. GetCompositeSchedule `Accepted` keeps
//!   the latest schedule per connector.
//! - **Remote Trigger.** Every TriggerMessage answer is kept (message, connector, status).

use super::{now_ms, rows, ts, Result, StateError};
use chargewatch_ocpp::Action;
use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;
use serde_json::{json, Value};

// ---------------------------------------------------------------------------------------
// Payload helpers
// ---------------------------------------------------------------------------------------

fn s<'a>(p: &'a Value, key: &str) -> Option<&'a str> {
    p.get(key).and_then(Value::as_str)
}

fn int(p: &Value, key: &str) -> Option<i64> {
    p.get(key).and_then(Value::as_i64)
}

/// RFC 3339 with or without fractional seconds; a timestamp without a zone is UTC.
fn parse_time(t: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(t)
        .map(|d| d.with_timezone(&Utc))
        .ok()
        .or_else(|| chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.f").ok().map(|n| n.and_utc()))
}

fn time_ms(p: &Value, key: &str) -> Option<i64> {
    s(p, key).and_then(parse_time).map(|t| t.timestamp_millis())
}

fn ts0(v: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(v).unwrap_or_default()
}

fn json_col(v: Option<String>) -> Value {
    v.and_then(|t| serde_json::from_str(&t).ok()).unwrap_or(Value::Null)
}

fn status_of(response: &Value) -> &str {
    s(response, "status").unwrap_or_default()
}

fn now_text(ms: i64) -> String {
    ts0(ms).to_rfc3339_opts(SecondsFormat::Millis, true)
}

// ---------------------------------------------------------------------------------------
// Effects of central-system commands
// ---------------------------------------------------------------------------------------

/// Applies the effect of a central-system CALL that the station answered with `response`.
pub fn apply_result(
    c: &mut Connection,
    station_id: &str,
    action: Action,
    request: &Value,
    response: &Value,
) -> Result<()> {
    let now = now_ms();
    let ok = |accepted: &[&str]| accepted.contains(&status_of(response));
    match action {
        Action::GetConfiguration => get_configuration(c, station_id, request, response, now),
        Action::ChangeConfiguration if ok(&["Accepted", "RebootRequired"]) => {
            let (Some(key), Some(value)) = (s(request, "key"), s(request, "value")) else { return Ok(()) };
            c.execute(
                "INSERT INTO station_config (station_id, key, value, readonly, known, source, change_status, updated_at)
                 VALUES (?1,?2,?3,0,1,'ChangeConfiguration',?4,?5)
                 ON CONFLICT(station_id, key) DO UPDATE SET value=excluded.value, readonly=0, known=1,
                 source=excluded.source, change_status=excluded.change_status, updated_at=excluded.updated_at",
                params![station_id, key, value, status_of(response), now],
            )?;
            Ok(())
        }
        Action::ChangeAvailability if ok(&["Accepted", "Scheduled"]) => {
            let (Some(connector), Some(kind)) = (int(request, "connectorId"), s(request, "type")) else {
                return Ok(());
            };
            c.execute(
                "INSERT INTO connector_availability (station_id, connector_id, type, status, updated_at) VALUES (?1,?2,?3,?4,?5)
                 ON CONFLICT(station_id, connector_id) DO UPDATE SET type=excluded.type, status=excluded.status,
                 updated_at=excluded.updated_at",
                params![station_id, connector, kind, status_of(response), now],
            )?;
            Ok(())
        }
        Action::UpdateFirmware => {
            let Some(location) = s(request, "location") else { return Ok(()) };
            supersede(c, "firmware_jobs", station_id, now)?;
            c.execute(
                "INSERT INTO firmware_jobs (station_id, location, retrieve_date, retries, retry_interval, status, history,
                 created_at, updated_at) VALUES (?1,?2,?3,?4,?5,'Accepted',?6,?7,?7)",
                params![
                    station_id,
                    location,
                    time_ms(request, "retrieveDate"),
                    int(request, "retries"),
                    int(request, "retryInterval"),
                    history_start(now),
                    now
                ],
            )?;
            Ok(())
        }
        Action::GetDiagnostics => {
            let Some(location) = s(request, "location") else { return Ok(()) };
            supersede(c, "diagnostics_jobs", station_id, now)?;
            let file_name = s(response, "fileName").filter(|f| !f.is_empty());
            let (status, finished) = match file_name {
                Some(_) => ("Accepted", None),
                None => ("NoDiagnostics", Some(now)),
            };
            let history = json!([{"status": status, "at": now_text(now)}]).to_string();
            c.execute(
                "INSERT INTO diagnostics_jobs (station_id, location, file_name, start_time, stop_time, status, history,
                 created_at, updated_at, finished_at) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?8,?9)",
                params![
                    station_id,
                    location,
                    file_name,
                    time_ms(request, "startTime"),
                    time_ms(request, "stopTime"),
                    status,
                    history,
                    now,
                    finished
                ],
            )?;
            Ok(())
        }
        Action::SendLocalList => send_local_list(c, station_id, request, status_of(response), now),
        Action::GetLocalListVersion => {
            let Some(version) = int(response, "listVersion") else { return Ok(()) };
            c.execute(
                "INSERT INTO local_lists (station_id, reported_version, reported_at) VALUES (?1,?2,?3)
                 ON CONFLICT(station_id) DO UPDATE SET reported_version=excluded.reported_version,
                 reported_at=excluded.reported_at",
                params![station_id, version, now],
            )?;
            Ok(())
        }
        Action::ReserveNow if ok(&["Accepted"]) => {
            let (Some(id), Some(connector), Some(tag), Some(expiry)) = (
                int(request, "reservationId"),
                int(request, "connectorId"),
                s(request, "idTag"),
                time_ms(request, "expiryDate"),
            ) else {
                return Ok(());
            };
            c.execute(
                "INSERT INTO reservations (station_id, reservation_id, connector_id, id_tag, parent_id_tag, expiry_date,
                 outcome, created_at, updated_at) VALUES (?1,?2,?3,?4,?5,?6,'active',?7,?7)
                 ON CONFLICT(station_id, reservation_id) DO UPDATE SET connector_id=excluded.connector_id,
                 id_tag=excluded.id_tag, parent_id_tag=excluded.parent_id_tag, expiry_date=excluded.expiry_date,
                 outcome='active', created_at=excluded.created_at, updated_at=excluded.updated_at",
                params![station_id, id, connector, tag, s(request, "parentIdTag"), expiry, now],
            )?;
            Ok(())
        }
        Action::CancelReservation if ok(&["Accepted"]) => {
            let Some(id) = int(request, "reservationId") else { return Ok(()) };
            c.execute(
                "UPDATE reservations SET outcome='cancelled', updated_at=?3 WHERE station_id=?1 AND reservation_id=?2",
                params![station_id, id, now],
            )?;
            Ok(())
        }
        Action::SetChargingProfile if ok(&["Accepted"]) => {
            let (Some(connector), Some(profile)) = (int(request, "connectorId"), request.get("csChargingProfiles"))
            else {
                return Ok(());
            };
            store_charging_profile(c, station_id, connector, profile, now)
        }
        Action::RemoteStartTransaction if ok(&["Accepted"]) => {
            match (int(request, "connectorId"), request.get("chargingProfile")) {
                (Some(connector), Some(profile)) => store_charging_profile(c, station_id, connector, profile, now),
                _ => Ok(()),
            }
        }
        Action::ClearChargingProfile if ok(&["Accepted"]) => {
            if let Some(id) = int(request, "id") {
                c.execute(
                    "DELETE FROM charging_profiles WHERE station_id=?1 AND charging_profile_id=?2",
                    params![station_id, id],
                )?;
            } else {
                c.execute(
                    "DELETE FROM charging_profiles WHERE station_id=?1 AND (?2 IS NULL OR connector_id=?2)
                     AND (?3 IS NULL OR purpose=?3) AND (?4 IS NULL OR stack_level=?4)",
                    params![
                        station_id,
                        int(request, "connectorId"),
                        s(request, "chargingProfilePurpose"),
                        int(request, "stackLevel")
                    ],
                )?;
            }
            Ok(())
        }
        Action::GetCompositeSchedule if ok(&["Accepted"]) => {
            let Some(connector) = int(response, "connectorId").or_else(|| int(request, "connectorId")) else {
                return Ok(());
            };
            let schedule = response.get("chargingSchedule");
            let unit = schedule.and_then(|x| s(x, "chargingRateUnit")).or_else(|| s(request, "chargingRateUnit"));
            c.execute(
                "INSERT INTO composite_schedules (station_id, connector_id, duration, charging_rate_unit, schedule_start,
                 charging_schedule, received_at) VALUES (?1,?2,?3,?4,?5,?6,?7)
                 ON CONFLICT(station_id, connector_id) DO UPDATE SET duration=excluded.duration,
                 charging_rate_unit=excluded.charging_rate_unit, schedule_start=excluded.schedule_start,
                 charging_schedule=excluded.charging_schedule, received_at=excluded.received_at",
                params![
                    station_id,
                    connector,
                    int(request, "duration"),
                    unit,
                    time_ms(response, "scheduleStart"),
                    schedule.map(Value::to_string),
                    now
                ],
            )?;
            Ok(())
        }
        Action::TriggerMessage => {
            let Some(message) = s(request, "requestedMessage") else { return Ok(()) };
            c.execute(
                "INSERT INTO trigger_results (station_id, requested_message, connector_id, status, at) VALUES (?1,?2,?3,?4,?5)",
                params![station_id, message, int(request, "connectorId"), status_of(response), now],
            )?;
            Ok(())
        }
        _ => Ok(()),
    }
}

fn get_configuration(c: &Connection, station_id: &str, request: &Value, response: &Value, now: i64) -> Result<()> {
    let asked_all = request.get("key").and_then(Value::as_array).is_none_or(|k| k.is_empty());
    if asked_all {
        c.execute("DELETE FROM station_config WHERE station_id=?1 AND known=1", [station_id])?;
    }
    let mut known = c.prepare_cached(
        "INSERT INTO station_config (station_id, key, value, readonly, known, source, change_status, updated_at)
         VALUES (?1,?2,?3,?4,1,'GetConfiguration',NULL,?5)
         ON CONFLICT(station_id, key) DO UPDATE SET key=excluded.key, value=excluded.value, readonly=excluded.readonly,
         known=1, source=excluded.source, change_status=NULL, updated_at=excluded.updated_at",
    )?;
    for kv in response.get("configurationKey").and_then(Value::as_array).into_iter().flatten() {
        let Some(key) = s(kv, "key") else { continue };
        let readonly = kv.get("readonly").and_then(Value::as_bool);
        known.execute(params![station_id, key, s(kv, "value"), readonly, now])?;
    }
    let mut unknown = c.prepare_cached(
        "INSERT INTO station_config (station_id, key, value, readonly, known, source, change_status, updated_at)
         VALUES (?1,?2,NULL,NULL,0,'GetConfiguration',NULL,?3)
         ON CONFLICT(station_id, key) DO UPDATE SET value=NULL, readonly=NULL, known=0, source=excluded.source,
         change_status=NULL, updated_at=excluded.updated_at",
    )?;
    for key in response.get("unknownKey").and_then(Value::as_array).into_iter().flatten() {
        if let Some(key) = key.as_str() {
            unknown.execute(params![station_id, key, now])?;
        }
    }
    Ok(())
}

fn send_local_list(c: &Connection, station_id: &str, request: &Value, status: &str, now: i64) -> Result<()> {
    let Some(version) = int(request, "listVersion") else { return Ok(()) };
    let update_type = s(request, "updateType").unwrap_or_default();
    c.execute(
        "INSERT INTO local_lists (station_id, last_send_status, last_send_version, last_send_at) VALUES (?1,?2,?3,?4)
         ON CONFLICT(station_id) DO UPDATE SET last_send_status=excluded.last_send_status,
         last_send_version=excluded.last_send_version, last_send_at=excluded.last_send_at",
        params![station_id, status, version, now],
    )?;
    if status != "Accepted" {
        return Ok(());
    }
    c.execute(
        "UPDATE local_lists SET sent_version=?2, sent_update_type=?3, sent_at=?4 WHERE station_id=?1",
        params![station_id, version, update_type, now],
    )?;
    if update_type == "Full" {
        c.execute("DELETE FROM local_list_entries WHERE station_id=?1", [station_id])?;
    }
    let mut upsert = c.prepare_cached(
        "INSERT INTO local_list_entries (station_id, id_tag, status, expiry_date, parent_id_tag, updated_at)
         VALUES (?1,?2,?3,?4,?5,?6)
         ON CONFLICT(station_id, id_tag) DO UPDATE SET id_tag=excluded.id_tag, status=excluded.status,
         expiry_date=excluded.expiry_date, parent_id_tag=excluded.parent_id_tag, updated_at=excluded.updated_at",
    )?;
    let mut remove = c.prepare_cached("DELETE FROM local_list_entries WHERE station_id=?1 AND id_tag=?2")?;
    for item in request.get("localAuthorizationList").and_then(Value::as_array).into_iter().flatten() {
        let Some(tag) = s(item, "idTag") else { continue };
        match item.get("idTagInfo").filter(|i| i.is_object()) {
            Some(info) => {
                upsert.execute(params![
                    station_id,
                    tag,
                    s(info, "status").unwrap_or("Accepted"),
                    time_ms(info, "expiryDate"),
                    s(info, "parentIdTag"),
                    now
                ])?;
            }
            None => {
                remove.execute(params![station_id, tag])?;
            }
        }
    }
    Ok(())
}

fn store_charging_profile(c: &Connection, station_id: &str, connector: i64, profile: &Value, now: i64) -> Result<()> {
    let (Some(id), Some(stack_level), Some(purpose)) =
        (int(profile, "chargingProfileId"), int(profile, "stackLevel"), s(profile, "chargingProfilePurpose"))
    else {
        return Ok(());
    };
    c.execute(
        "DELETE FROM charging_profiles WHERE station_id=?1
         AND (charging_profile_id=?2 OR (connector_id=?3 AND stack_level=?4 AND purpose=?5))",
        params![station_id, id, connector, stack_level, purpose],
    )?;
    c.execute(
        "INSERT INTO charging_profiles (station_id, charging_profile_id, connector_id, stack_level, purpose, kind,
         transaction_id, valid_from, valid_to, profile, set_at) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11)",
        params![
            station_id,
            id,
            connector,
            stack_level,
            purpose,
            s(profile, "chargingProfileKind"),
            int(profile, "transactionId"),
            time_ms(profile, "validFrom"),
            time_ms(profile, "validTo"),
            profile.to_string(),
            now
        ],
    )?;
    Ok(())
}

fn history_start(now: i64) -> String {
    json!([{"status": "Accepted", "at": now_text(now)}]).to_string()
}

/// Marks the station's unfinished jobs in `table` as superseded by a newer one.
fn supersede(c: &Connection, table: &str, station_id: &str, now: i64) -> Result<()> {
    let ids: Vec<i64> = {
        let mut st =
            c.prepare_cached(&format!("SELECT id FROM {table} WHERE station_id=?1 AND finished_at IS NULL"))?;
        let rows = st.query_map([station_id], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?;
        rows
    };
    for id in ids {
        advance_job(c, table, id, "Superseded", true, now)?;
    }
    Ok(())
}

/// Appends `status` to a job's history; sets it as the job's status unless `history_only`.
fn advance_job(c: &Connection, table: &str, id: i64, status: &str, finished: bool, now: i64) -> Result<()> {
    let history: Option<String> =
        c.query_row(&format!("SELECT history FROM {table} WHERE id=?1"), [id], |r| r.get(0)).optional()?;
    let mut history = match json_col(history) {
        Value::Array(a) => a,
        _ => Vec::new(),
    };
    history.push(json!({"status": status, "at": now_text(now)}));
    let history = Value::Array(history).to_string();
    if status == "Idle" {
        c.execute(&format!("UPDATE {table} SET history=?2 WHERE id=?1"), params![id, history])?;
    } else {
        c.execute(
            &format!("UPDATE {table} SET status=?2, history=?3, updated_at=?4, finished_at=?5 WHERE id=?1"),
            params![id, status, history, now, finished.then_some(now)],
        )?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Effects of charger-initiated calls
// ---------------------------------------------------------------------------------------

const FIRMWARE_FINISHED: [&str; 3] = ["Installed", "DownloadFailed", "InstallationFailed"];
const DIAGNOSTICS_FINISHED: [&str; 2] = ["Uploaded", "UploadFailed"];

/// Applies the effect of a charger-initiated CALL on profile state (e.g. a StartTransaction
/// that uses a reservation, a FirmwareStatusNotification that advances a job).
pub fn on_charger_call(c: &mut Connection, station_id: &str, action: Action, payload: &Value) -> Result<()> {
    let now = now_ms();
    match action {
        Action::FirmwareStatusNotification | Action::DiagnosticsStatusNotification => {
            let Some(status) = s(payload, "status") else { return Ok(()) };
            let (table, finished) = if action == Action::FirmwareStatusNotification {
                ("firmware_jobs", FIRMWARE_FINISHED.contains(&status))
            } else {
                ("diagnostics_jobs", DIAGNOSTICS_FINISHED.contains(&status))
            };
            let job: Option<i64> = c
                .query_row(
                    &format!(
                        "SELECT id FROM {table} WHERE station_id=?1 AND finished_at IS NULL ORDER BY id DESC LIMIT 1"
                    ),
                    [station_id],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(job) = job {
                advance_job(c, table, job, status, finished, now)?;
            }
            Ok(())
        }
        Action::StartTransaction => {
            if let Some(reservation) = int(payload, "reservationId") {
                c.execute(
                    "UPDATE reservations SET outcome='used', updated_at=?3
                     WHERE station_id=?1 AND reservation_id=?2 AND outcome='active'",
                    params![station_id, reservation, now],
                )?;
            }
            Ok(())
        }
        Action::StopTransaction => {
            let Some(tx) = int(payload, "transactionId") else { return Ok(()) };
            c.execute(
                "DELETE FROM charging_profiles WHERE station_id=?1 AND purpose='TxProfile' AND (transaction_id=?2
                 OR connector_id=(SELECT connector_id FROM transactions WHERE id=?2 AND station_id=?1))",
                params![station_id, tx],
            )?;
            Ok(())
        }
        _ => Ok(()),
    }
}

// ---------------------------------------------------------------------------------------
// Reading the state
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ConfigKey {
    pub key: String,
    pub value: Option<String>,
    pub readonly: Option<bool>,
    /// `false`: the station listed the key in `unknownKey`.
    pub known: bool,
    /// `GetConfiguration` (read) or `ChangeConfiguration` (set by us).
    pub source: String,
    /// `Accepted` or `RebootRequired` after a ChangeConfiguration.
    pub change_status: Option<String>,
    pub updated_at: DateTime<Utc>,
}

pub fn configuration(c: &Connection, station_id: &str) -> Result<Vec<ConfigKey>> {
    rows(
        c,
        "SELECT key, value, readonly, known, source, change_status, updated_at FROM station_config
         WHERE station_id=?1 ORDER BY key COLLATE NOCASE",
        [station_id],
        |r| {
            Ok(ConfigKey {
                key: r.get(0)?,
                value: r.get(1)?,
                readonly: r.get(2)?,
                known: r.get(3)?,
                source: r.get(4)?,
                change_status: r.get(5)?,
                updated_at: ts0(r.get(6)?),
            })
        },
    )
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Availability {
    /// 0 = the station as a whole.
    pub connector_id: i64,
    /// `Operative` or `Inoperative`, as requested.
    #[serde(rename = "type")]
    pub kind: String,
    /// `Accepted` or `Scheduled` (after the running transaction).
    pub status: String,
    pub updated_at: DateTime<Utc>,
}

pub fn availability(c: &Connection, station_id: &str) -> Result<Vec<Availability>> {
    rows(c, "SELECT connector_id, type, status, updated_at FROM connector_availability WHERE station_id=?1 ORDER BY connector_id", [station_id], |r| {
            Ok(Availability { connector_id: r.get(0)?, kind: r.get(1)?, status: r.get(2)?, updated_at: ts0(r.get(3)?) })
        })
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FirmwareJob {
    pub id: i64,
    pub station_id: String,
    pub location: String,
    pub retrieve_date: Option<DateTime<Utc>>,
    pub retries: Option<i64>,
    pub retry_interval: Option<i64>,
    /// `Accepted`, then what FirmwareStatusNotification reports; `Superseded` by a newer job.
    pub status: String,
    pub finished: bool,
    /// `[{"status", "at"}]`, oldest first.
    pub history: Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

pub fn firmware_jobs(c: &Connection, station_id: &str, limit: usize) -> Result<Vec<FirmwareJob>> {
    rows(
        c,
        "SELECT id, station_id, location, retrieve_date, retries, retry_interval, status, history, created_at,
         updated_at, finished_at FROM firmware_jobs WHERE station_id=?1 ORDER BY id DESC LIMIT ?2",
        params![station_id, limit as i64],
        |r| {
            let finished_at: Option<i64> = r.get(10)?;
            Ok(FirmwareJob {
                id: r.get(0)?,
                station_id: r.get(1)?,
                location: r.get(2)?,
                retrieve_date: ts(r.get(3)?),
                retries: r.get(4)?,
                retry_interval: r.get(5)?,
                status: r.get(6)?,
                finished: finished_at.is_some(),
                history: json_col(r.get(7)?),
                created_at: ts0(r.get(8)?),
                updated_at: ts0(r.get(9)?),
                finished_at: ts(finished_at),
            })
        },
    )
}

/// A file a station uploaded for a diagnostics job (without its bytes).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DiagnosticsFile {
    pub job_id: i64,
    pub file_name: Option<String>,
    pub content_type: Option<String>,
    pub size: i64,
    pub sha256: String,
    pub received_at: DateTime<Utc>,
    /// Where an operator downloads it (bearer token).
    pub download_path: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DiagnosticsJob {
    pub id: i64,
    pub station_id: String,
    pub location: String,
    /// The name the station said it will upload (GetDiagnostics.conf `fileName`).
    pub file_name: Option<String>,
    pub start_time: Option<DateTime<Utc>>,
    pub stop_time: Option<DateTime<Utc>>,
    /// `Accepted` (or `NoDiagnostics`), then what DiagnosticsStatusNotification reports.
    pub status: String,
    pub finished: bool,
    pub history: Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// The uploaded file, once received at `/files/diagnostics/{station_id}`.
    pub file: Option<DiagnosticsFile>,
}

fn diagnostics_file_from(station_id: &str, r: &rusqlite::Row, at: usize) -> rusqlite::Result<Option<DiagnosticsFile>> {
    let job_id: Option<i64> = r.get(at)?;
    let Some(job_id) = job_id else { return Ok(None) };
    Ok(Some(DiagnosticsFile {
        job_id,
        file_name: r.get(at + 1)?,
        content_type: r.get(at + 2)?,
        size: r.get(at + 3)?,
        sha256: r.get(at + 4)?,
        received_at: ts0(r.get(at + 5)?),
        download_path: format!("/api/v1/stations/{station_id}/diagnostics/{job_id}/file"),
    }))
}

pub fn diagnostics_jobs(c: &Connection, station_id: &str, limit: usize) -> Result<Vec<DiagnosticsJob>> {
    rows(
        c,
        "SELECT j.id, j.station_id, j.location, j.file_name, j.start_time, j.stop_time, j.status, j.history,
         j.created_at, j.updated_at, j.finished_at,
         f.job_id, f.file_name, f.content_type, f.size, f.sha256, f.received_at
         FROM diagnostics_jobs j LEFT JOIN diagnostics_files f ON f.job_id = j.id
         WHERE j.station_id=?1 ORDER BY j.id DESC LIMIT ?2",
        params![station_id, limit as i64],
        |r| {
            let finished_at: Option<i64> = r.get(10)?;
            Ok(DiagnosticsJob {
                id: r.get(0)?,
                station_id: r.get(1)?,
                location: r.get(2)?,
                file_name: r.get(3)?,
                start_time: ts(r.get(4)?),
                stop_time: ts(r.get(5)?),
                status: r.get(6)?,
                finished: finished_at.is_some(),
                history: json_col(r.get(7)?),
                created_at: ts0(r.get(8)?),
                updated_at: ts0(r.get(9)?),
                finished_at: ts(finished_at),
                file: diagnostics_file_from(station_id, r, 11)?,
            })
        },
    )
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LocalListEntry {
    pub id_tag: String,
    pub status: String,
    pub expiry_date: Option<DateTime<Utc>>,
    pub parent_id_tag: Option<String>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct LocalList {
    /// The version of the last SendLocalList the station accepted.
    pub sent_version: Option<i64>,
    pub sent_update_type: Option<String>,
    pub sent_at: Option<DateTime<Utc>>,
    /// The answer to the last SendLocalList (`Accepted`, `Failed`, `NotSupported`, `VersionMismatch`).
    pub last_send_status: Option<String>,
    pub last_send_version: Option<i64>,
    pub last_send_at: Option<DateTime<Utc>>,
    /// The version the station reported (GetLocalListVersion; 0 = no list, -1 = not supported).
    pub reported_version: Option<i64>,
    pub reported_at: Option<DateTime<Utc>>,
    /// The entries as the accepted SendLocalList calls left them.
    pub entries: Vec<LocalListEntry>,
}

pub fn local_list(c: &Connection, station_id: &str) -> Result<LocalList> {
    let mut list = c
        .query_row(
            "SELECT sent_version, sent_update_type, sent_at, last_send_status, last_send_version, last_send_at,
             reported_version, reported_at FROM local_lists WHERE station_id=?1",
            [station_id],
            |r| {
                Ok(LocalList {
                    sent_version: r.get(0)?,
                    sent_update_type: r.get(1)?,
                    sent_at: ts(r.get(2)?),
                    last_send_status: r.get(3)?,
                    last_send_version: r.get(4)?,
                    last_send_at: ts(r.get(5)?),
                    reported_version: r.get(6)?,
                    reported_at: ts(r.get(7)?),
                    entries: Vec::new(),
                })
            },
        )
        .optional()?
        .unwrap_or_default();
    let mut st = c.prepare_cached(
        "SELECT id_tag, status, expiry_date, parent_id_tag, updated_at FROM local_list_entries
         WHERE station_id=?1 ORDER BY id_tag COLLATE NOCASE",
    )?;
    list.entries = st
        .query_map([station_id], |r| {
            Ok(LocalListEntry {
                id_tag: r.get(0)?,
                status: r.get(1)?,
                expiry_date: ts(r.get(2)?),
                parent_id_tag: r.get(3)?,
                updated_at: ts0(r.get(4)?),
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(list)
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Reservation {
    pub reservation_id: i64,
    /// 0 = any connector of the station.
    pub connector_id: i64,
    pub id_tag: String,
    pub parent_id_tag: Option<String>,
    pub expiry_date: DateTime<Utc>,
    /// `active`, `used`, `cancelled` or `expired` (an active one past its expiry).
    pub outcome: String,
    /// The transaction that used it, when known.
    pub transaction_id: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The station's reservations, newest first, with expiry judged at `now`.
pub fn reservations(c: &Connection, station_id: &str, now: DateTime<Utc>, limit: usize) -> Result<Vec<Reservation>> {
    let mut st = c.prepare_cached(
        "SELECT r.reservation_id, r.connector_id, r.id_tag, r.parent_id_tag, r.expiry_date, r.outcome,
         (SELECT t.id FROM transactions t WHERE t.station_id = r.station_id AND t.reservation_id = r.reservation_id
          AND t.start_timestamp >= r.created_at - 86400000 ORDER BY t.id DESC LIMIT 1),
         r.created_at, r.updated_at
         FROM reservations r WHERE r.station_id=?1 ORDER BY r.created_at DESC, r.reservation_id DESC LIMIT ?2",
    )?;
    let now = now.timestamp_millis();
    let rows = st
        .query_map(params![station_id, limit as i64], |r| {
            let expiry: i64 = r.get(4)?;
            let outcome: String = r.get(5)?;
            let outcome = if outcome == "active" && expiry <= now { "expired".to_string() } else { outcome };
            let transaction_id: Option<i64> = r.get(6)?;
            Ok(Reservation {
                reservation_id: r.get(0)?,
                connector_id: r.get(1)?,
                id_tag: r.get(2)?,
                parent_id_tag: r.get(3)?,
                expiry_date: ts0(expiry),
                transaction_id: transaction_id.filter(|_| outcome == "used"),
                outcome,
                created_at: ts0(r.get(7)?),
                updated_at: ts0(r.get(8)?),
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct StoredChargingProfile {
    pub charging_profile_id: i64,
    pub connector_id: i64,
    pub stack_level: i64,
    /// `ChargePointMaxProfile`, `TxDefaultProfile` or `TxProfile`.
    pub purpose: String,
    pub kind: Option<String>,
    pub transaction_id: Option<i64>,
    pub valid_from: Option<DateTime<Utc>>,
    pub valid_to: Option<DateTime<Utc>>,
    /// The profile exactly as sent (`csChargingProfiles`).
    pub profile: Value,
    pub set_at: DateTime<Utc>,
}

pub fn charging_profiles(c: &Connection, station_id: &str) -> Result<Vec<StoredChargingProfile>> {
    rows(
        c,
        "SELECT charging_profile_id, connector_id, stack_level, purpose, kind, transaction_id, valid_from, valid_to,
         profile, set_at FROM charging_profiles WHERE station_id=?1
         ORDER BY connector_id, purpose, stack_level DESC, charging_profile_id",
        [station_id],
        |r| {
            Ok(StoredChargingProfile {
                charging_profile_id: r.get(0)?,
                connector_id: r.get(1)?,
                stack_level: r.get(2)?,
                purpose: r.get(3)?,
                kind: r.get(4)?,
                transaction_id: r.get(5)?,
                valid_from: ts(r.get(6)?),
                valid_to: ts(r.get(7)?),
                profile: json_col(r.get(8)?),
                set_at: ts0(r.get(9)?),
            })
        },
    )
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CompositeSchedule {
    pub connector_id: i64,
    /// The requested duration, seconds.
    pub duration: Option<i64>,
    pub charging_rate_unit: Option<String>,
    pub schedule_start: Option<DateTime<Utc>>,
    /// The `chargingSchedule` the station reported.
    pub charging_schedule: Value,
    pub received_at: DateTime<Utc>,
}

pub fn composite_schedules(c: &Connection, station_id: &str) -> Result<Vec<CompositeSchedule>> {
    rows(
        c,
        "SELECT connector_id, duration, charging_rate_unit, schedule_start, charging_schedule, received_at
         FROM composite_schedules WHERE station_id=?1 ORDER BY connector_id",
        [station_id],
        |r| {
            Ok(CompositeSchedule {
                connector_id: r.get(0)?,
                duration: r.get(1)?,
                charging_rate_unit: r.get(2)?,
                schedule_start: ts(r.get(3)?),
                charging_schedule: json_col(r.get(4)?),
                received_at: ts0(r.get(5)?),
            })
        },
    )
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TriggerResult {
    pub id: i64,
    pub requested_message: String,
    pub connector_id: Option<i64>,
    /// `Accepted`, `Rejected` or `NotImplemented`.
    pub status: String,
    pub at: DateTime<Utc>,
}

/// TriggerMessage results, newest first.
pub fn triggers(c: &Connection, station_id: &str, limit: usize) -> Result<Vec<TriggerResult>> {
    rows(
        c,
        "SELECT id, requested_message, connector_id, status, at FROM trigger_results WHERE station_id=?1
         ORDER BY id DESC LIMIT ?2",
        params![station_id, limit as i64],
        |r| {
            Ok(TriggerResult {
                id: r.get(0)?,
                requested_message: r.get(1)?,
                connector_id: r.get(2)?,
                status: r.get(3)?,
                at: ts0(r.get(4)?),
            })
        },
    )
}

/// Everything above for one station.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ProfileState {
    pub station_id: String,
    pub configuration: Vec<ConfigKey>,
    pub availability: Vec<Availability>,
    pub firmware_jobs: Vec<FirmwareJob>,
    pub diagnostics_jobs: Vec<DiagnosticsJob>,
    pub local_list: LocalList,
    pub reservations: Vec<Reservation>,
    pub charging_profiles: Vec<StoredChargingProfile>,
    pub composite_schedules: Vec<CompositeSchedule>,
    pub triggers: Vec<TriggerResult>,
}

/// How many jobs, reservations and trigger results the listings show.
pub const LIST_LIMIT: usize = 100;

pub fn profile_state(c: &Connection, station_id: &str, now: DateTime<Utc>) -> Result<ProfileState> {
    Ok(ProfileState {
        station_id: station_id.to_string(),
        configuration: configuration(c, station_id)?,
        availability: availability(c, station_id)?,
        firmware_jobs: firmware_jobs(c, station_id, LIST_LIMIT)?,
        diagnostics_jobs: diagnostics_jobs(c, station_id, LIST_LIMIT)?,
        local_list: local_list(c, station_id)?,
        reservations: reservations(c, station_id, now, LIST_LIMIT)?,
        charging_profiles: charging_profiles(c, station_id)?,
        composite_schedules: composite_schedules(c, station_id)?,
        triggers: triggers(c, station_id, LIST_LIMIT)?,
    })
}

// ---------------------------------------------------------------------------------------
// Files: diagnostics uploads and firmware images
// ---------------------------------------------------------------------------------------

/// Lowercase hex SHA-256 of `data`.
pub(crate) fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(data).iter().map(|b| format!("{b:02x}")).collect()
}

/// How long a diagnostics job accepts an upload after it was created.
pub const DIAGNOSTICS_UPLOAD_WINDOW_MS: i64 = 7 * 24 * 3600 * 1000;

/// The job an upload from `station_id` belongs to: its newest job created within the
/// upload window that neither failed, nor was superseded, nor has both a file and the
/// station's `Uploaded` (a station that retries before saying `Uploaded` replaces its file).
pub fn open_diagnostics_job(c: &Connection, station_id: &str) -> Result<Option<i64>> {
    let job = c
        .query_row(
            "SELECT j.id, j.status, f.job_id IS NOT NULL FROM diagnostics_jobs j
             LEFT JOIN diagnostics_files f ON f.job_id = j.id
             WHERE j.station_id=?1 AND j.created_at >= ?2 ORDER BY j.id DESC LIMIT 1",
            params![station_id, now_ms() - DIAGNOSTICS_UPLOAD_WINDOW_MS],
            |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, bool>(2)?)),
        )
        .optional()?;
    Ok(job.and_then(|(id, status, has_file)| {
        let closed = matches!(status.as_str(), "UploadFailed" | "NoDiagnostics" | "Superseded")
            || (status == "Uploaded" && has_file);
        (!closed).then_some(id)
    }))
}

/// Stores a diagnostics upload for the station's open job.
pub fn store_diagnostics_file(
    c: &Connection,
    station_id: &str,
    file_name: Option<&str>,
    content_type: Option<&str>,
    data: &[u8],
) -> Result<DiagnosticsFile> {
    let Some(job_id) = open_diagnostics_job(c, station_id)? else {
        return Err(StateError::NotFound(format!("an open diagnostics job of station `{station_id}`")));
    };
    let now = now_ms();
    let sha = sha256_hex(data);
    c.execute(
        "INSERT INTO diagnostics_files (job_id, station_id, file_name, content_type, size, sha256, data, received_at)
         VALUES (?1,?2,?3,?4,?5,?6,?7,?8)
         ON CONFLICT(job_id) DO UPDATE SET file_name=excluded.file_name, content_type=excluded.content_type,
         size=excluded.size, sha256=excluded.sha256, data=excluded.data, received_at=excluded.received_at",
        params![job_id, station_id, file_name, content_type, data.len() as i64, sha, data, now],
    )?;
    Ok(DiagnosticsFile {
        job_id,
        file_name: file_name.map(str::to_string),
        content_type: content_type.map(str::to_string),
        size: data.len() as i64,
        sha256: sha,
        received_at: ts0(now),
        download_path: format!("/api/v1/stations/{station_id}/diagnostics/{job_id}/file"),
    })
}

/// A diagnostics file with its bytes.
pub fn diagnostics_file(c: &Connection, station_id: &str, job_id: i64) -> Result<(DiagnosticsFile, Vec<u8>)> {
    c.query_row(
        "SELECT job_id, file_name, content_type, size, sha256, received_at, data FROM diagnostics_files
         WHERE job_id=?1 AND station_id=?2",
        params![job_id, station_id],
        |r| Ok((diagnostics_file_from(station_id, r, 0)?, r.get::<_, Vec<u8>>(6)?)),
    )
    .optional()?
    .and_then(|(meta, data)| meta.map(|m| (m, data)))
    .ok_or_else(|| StateError::NotFound(format!("a diagnostics file of job {job_id} of station `{station_id}`")))
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FirmwareFile {
    pub name: String,
    /// The client whose operator uploaded it; null for an admin's.
    pub client_id: Option<String>,
    pub content_type: Option<String>,
    pub size: i64,
    pub sha256: String,
    pub uploaded_by: String,
    pub uploaded_at: DateTime<Utc>,
    /// Where stations download it (no token): give this URL (with the host) as
    /// UpdateFirmware's `location`.
    pub download_path: String,
}

/// A firmware file name: 1 to 128 of `A-Z a-z 0-9 . _ -`, not starting with a dot.
pub fn valid_firmware_name(name: &str) -> Result<()> {
    let ok = (1..=128).contains(&name.len())
        && !name.starts_with('.')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(StateError::Invalid(
            "a firmware file name is 1 to 128 characters of A-Z, a-z, 0-9, `.`, `_`, `-`, not starting with `.`".into(),
        ))
    }
}

const FIRMWARE_COLS: &str = "name, client_id, content_type, size, sha256, uploaded_by, uploaded_at";

fn firmware_from(r: &rusqlite::Row) -> rusqlite::Result<FirmwareFile> {
    let name: String = r.get(0)?;
    Ok(FirmwareFile {
        download_path: format!("/files/firmware/{name}"),
        name,
        client_id: r.get(1)?,
        content_type: r.get(2)?,
        size: r.get(3)?,
        sha256: r.get(4)?,
        uploaded_by: r.get(5)?,
        uploaded_at: ts0(r.get(6)?),
    })
}

pub fn firmware_file_info(c: &Connection, name: &str) -> Result<Option<FirmwareFile>> {
    Ok(c.query_row(&format!("SELECT {FIRMWARE_COLS} FROM firmware_files WHERE name=?1"), [name], firmware_from)
        .optional()?)
}

/// Stores (or replaces) a firmware file. `client_id` is the uploader's client (`None` for an
/// admin); an operator cannot replace another client's file.
pub fn put_firmware_file(
    c: &Connection,
    name: &str,
    client_id: Option<&str>,
    content_type: Option<&str>,
    data: &[u8],
    uploaded_by: &str,
) -> Result<FirmwareFile> {
    valid_firmware_name(name)?;
    if let (Some(existing), Some(client)) = (firmware_file_info(c, name)?, client_id) {
        if existing.client_id.as_deref() != Some(client) {
            return Err(StateError::Conflict(format!("firmware file `{name}` exists and belongs to someone else")));
        }
    }
    c.execute(
        "INSERT INTO firmware_files (name, client_id, content_type, size, sha256, data, uploaded_by, uploaded_at)
         VALUES (?1,?2,?3,?4,?5,?6,?7,?8)
         ON CONFLICT(name) DO UPDATE SET client_id=excluded.client_id, content_type=excluded.content_type,
         size=excluded.size, sha256=excluded.sha256, data=excluded.data, uploaded_by=excluded.uploaded_by,
         uploaded_at=excluded.uploaded_at",
        params![name, client_id, content_type, data.len() as i64, sha256_hex(data), data, uploaded_by, now_ms()],
    )?;
    firmware_file_info(c, name)?.ok_or_else(|| StateError::NotFound(format!("firmware file `{name}`")))
}

/// Firmware files without their bytes; when `client_id` is given, that client's and the
/// admin's (which every operator may use).
pub fn list_firmware_files(c: &Connection, client_id: Option<&str>) -> Result<Vec<FirmwareFile>> {
    rows(
        c,
        &format!(
        "SELECT {FIRMWARE_COLS} FROM firmware_files WHERE ?1 IS NULL OR client_id=?1 OR client_id IS NULL ORDER BY name"
    ),
        [client_id],
        firmware_from,
    )
}

/// A firmware file with its bytes.
pub fn firmware_file(c: &Connection, name: &str) -> Result<Option<(FirmwareFile, Vec<u8>)>> {
    Ok(c.query_row(&format!("SELECT {FIRMWARE_COLS}, data FROM firmware_files WHERE name=?1"), [name], |r| {
        Ok((firmware_from(r)?, r.get::<_, Vec<u8>>(7)?))
    })
    .optional()?)
}

/// Deletes a firmware file; an operator (`client_id` given) only their client's.
pub fn delete_firmware_file(c: &Connection, name: &str, client_id: Option<&str>) -> Result<()> {
    let n = c.execute(
        "DELETE FROM firmware_files WHERE name=?1 AND (?2 IS NULL OR client_id=?2)",
        params![name, client_id],
    )?;
    if n == 0 {
        return Err(StateError::NotFound(format!("firmware file `{name}`")));
    }
    Ok(())
}
