//! Handlers of the ten charger-initiated actions.

use super::CsmsConfig;
use crate::state::{stations, transactions, Result};
use chargewatch_ocpp::messages::MeterValuesReq;
use chargewatch_ocpp::types::DateTime as OcppDateTime;
use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::Connection;
use serde_json::{json, Value};

fn s<'a>(p: &'a Value, key: &str) -> Option<&'a str> {
    p.get(key).and_then(Value::as_str)
}

fn int(p: &Value, key: &str) -> Option<i64> {
    p.get(key).and_then(Value::as_i64)
}

/// A dateTime field read as the validator reads it (`chargewatch_ocpp::types::DateTime`), so
/// that a payload decoded by the MeterValues fast path and the same payload as JSON give the
/// same instant.
fn time(p: &Value, key: &str) -> Option<DateTime<Utc>> {
    s(p, key).and_then(OcppDateTime::parse).map(|t| t.inner())
}

pub fn now_text() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn id_tag_info(v: &transactions::TagVerdict) -> Value {
    let mut info = json!({"status": v.status});
    if let Some(e) = v.expiry_date {
        info["expiryDate"] = json!(e.to_rfc3339_opts(SecondsFormat::Millis, true));
    }
    if let Some(p) = &v.parent_id_tag {
        info["parentIdTag"] = json!(p);
    }
    info
}

pub fn boot_notification(c: &mut Connection, id: &str, p: &Value, cfg: &CsmsConfig) -> Result<Value> {
    let known = stations::find(c, id)?;
    let accepted = match known {
        Some(st) => st.registered,
        None => {
            stations::ensure_known(c, id, cfg.accept_unknown_stations)?;
            // Its connection opened before the station had a row to mark.
            stations::set_connected(c, id, true)?;
            cfg.accept_unknown_stations
        }
    };
    let status = if accepted { "Accepted" } else { "Rejected" };
    let update = stations::StationUpdate {
        vendor: s(p, "chargePointVendor").unwrap_or_default().to_string(),
        model: s(p, "chargePointModel").unwrap_or_default().to_string(),
        serial_number: s(p, "chargePointSerialNumber").or(s(p, "chargeBoxSerialNumber")).map(str::to_string),
        firmware_version: s(p, "firmwareVersion").map(str::to_string),
        iccid: s(p, "iccid").map(str::to_string),
        imsi: s(p, "imsi").map(str::to_string),
        meter_type: s(p, "meterType").map(str::to_string),
        meter_serial_number: s(p, "meterSerialNumber").map(str::to_string),
    };
    stations::record_boot(c, id, &update, status)?;
    let interval = cfg.heartbeat_interval.as_secs();
    Ok(json!({"status": status, "currentTime": now_text(), "interval": interval}))
}

/// A Heartbeat only makes the station "seen" (`StateStore::mark_seen`, by the caller):
/// it needs no store round trip.
pub fn heartbeat() -> Value {
    json!({"currentTime": now_text()})
}

pub fn status_notification(c: &mut Connection, id: &str, p: &Value) -> Result<Value> {
    stations::record_status(
        c,
        id,
        int(p, "connectorId").unwrap_or(0),
        s(p, "status").unwrap_or("Unavailable"),
        s(p, "errorCode").unwrap_or("NoError"),
        s(p, "info"),
        s(p, "vendorId"),
        s(p, "vendorErrorCode"),
        time(p, "timestamp"),
    )?;
    Ok(json!({}))
}

pub fn authorize(c: &mut Connection, p: &Value, cfg: &CsmsConfig) -> Result<Value> {
    let tag = s(p, "idTag").unwrap_or_default();
    let verdict = transactions::authorize(c, tag, Utc::now(), cfg.accept_unknown_id_tags)?;
    Ok(json!({"idTagInfo": id_tag_info(&verdict)}))
}

/// Always records the transaction (the charger has started it); the idTagInfo tells the
/// charger whether to go on. A tag already in another open transaction gets `ConcurrentTx`.
pub fn start_transaction(c: &mut Connection, id: &str, p: &Value, cfg: &CsmsConfig) -> Result<Value> {
    let tag = s(p, "idTag").unwrap_or_default();
    let mut verdict = transactions::authorize(c, tag, Utc::now(), cfg.accept_unknown_id_tags)?;
    if verdict.status == "Accepted" && transactions::has_open_transaction(c, tag)? {
        verdict.status = "ConcurrentTx";
    }
    let tx_id = transactions::start_transaction(
        c,
        &transactions::NewTransaction {
            station_id: id,
            connector_id: int(p, "connectorId").unwrap_or(0),
            id_tag: tag,
            id_tag_status: verdict.status,
            meter_start: int(p, "meterStart").unwrap_or(0),
            timestamp: time(p, "timestamp").unwrap_or_else(Utc::now),
            reservation_id: int(p, "reservationId"),
        },
    )?;
    Ok(json!({"transactionId": tx_id, "idTagInfo": id_tag_info(&verdict)}))
}

pub fn stop_transaction(c: &mut Connection, id: &str, p: &Value, cfg: &CsmsConfig) -> Result<Value> {
    let tx_id = int(p, "transactionId").unwrap_or_default();
    let data = p.get("transactionData");
    let stop = transactions::StopTransaction {
        station_id: id,
        transaction_id: tx_id,
        meter_stop: int(p, "meterStop").unwrap_or(0),
        timestamp: time(p, "timestamp").unwrap_or_else(Utc::now),
        reason: s(p, "reason"),
        id_tag: s(p, "idTag"),
        transaction_data: data,
    };
    let found = transactions::stop_transaction(c, &stop)?;
    if let (true, Some(Value::Array(values))) = (found, data) {
        let connector = transactions::connector_of_transaction(c, id, tx_id)?.unwrap_or(0);
        let rows = meter_rows(values);
        transactions::add_meter_values(c, id, connector, Some(tx_id), &rows)?;
    }
    match s(p, "idTag") {
        Some(tag) => {
            let verdict = transactions::authorize(c, tag, Utc::now(), cfg.accept_unknown_id_tags)?;
            Ok(json!({"idTagInfo": id_tag_info(&verdict)}))
        }
        None => Ok(json!({})),
    }
}

fn meter_rows(values: &[Value]) -> Vec<(DateTime<Utc>, &Value)> {
    values
        .iter()
        .map(|mv| (time(mv, "timestamp").unwrap_or_else(Utc::now), mv.get("sampledValue").unwrap_or(&Value::Null)))
        .collect()
}

/// [`meter_values`] of a request the fast path decoded: the same rows.
pub fn typed_meter_values(c: &mut Connection, id: &str, req: &MeterValuesReq) -> Result<Value> {
    let rows: Vec<_> = req.meter_value.iter().map(|mv| (mv.timestamp.inner(), &mv.sampled_value)).collect();
    let tx = req.transaction_id.map(i64::from);
    transactions::add_meter_values(c, id, i64::from(req.connector_id), tx, &rows)?;
    Ok(json!({}))
}

pub fn meter_values(c: &mut Connection, id: &str, p: &Value) -> Result<Value> {
    let rows = p.get("meterValue").and_then(Value::as_array).map(|v| meter_rows(v)).unwrap_or_default();
    transactions::add_meter_values(c, id, int(p, "connectorId").unwrap_or(0), int(p, "transactionId"), &rows)?;
    Ok(json!({}))
}

/// Whether [`meter_values`] is one SQL statement: one `meterValue` element is one row, and
/// `profiles::on_charger_call` changes nothing for a MeterValues. Such a job needs no
/// savepoint of its own (`StateStore::run_one_write`); the test
/// `one_meter_value_is_one_row_changed` keeps this true.
pub fn meter_values_is_one_write(p: &Value) -> bool {
    p.get("meterValue").and_then(Value::as_array).is_some_and(|v| v.len() == 1)
}

/// Vendor ids with a handler here. None yet: every DataTransfer is kept and answered
/// `UnknownVendorId`.
const KNOWN_VENDORS: &[&str] = &[];

pub fn data_transfer(c: &mut Connection, id: &str, p: &Value) -> Result<Value> {
    let vendor = s(p, "vendorId").unwrap_or_default();
    transactions::record_data_transfer(c, id, vendor, s(p, "messageId"), s(p, "data"))?;
    if KNOWN_VENDORS.contains(&vendor) {
        return Ok(json!({"status": "Accepted"}));
    }
    Ok(json!({"status": "UnknownVendorId"}))
}

pub fn diagnostics_status(c: &mut Connection, id: &str, p: &Value) -> Result<Value> {
    stations::record_diagnostics_status(c, id, s(p, "status").unwrap_or_default())?;
    Ok(json!({}))
}

pub fn firmware_status(c: &mut Connection, id: &str, p: &Value) -> Result<Value> {
    stations::record_firmware_status(c, id, s(p, "status").unwrap_or_default())?;
    Ok(json!({}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{profiles, StateStore};
    use chargewatch_ocpp::Action;

    fn meter_payload(elements: usize) -> Value {
        let one = json!({"timestamp": "2026-12-03T08:00:00Z", "sampledValue": [
            {"value": "1200", "measurand": "Energy.Active.Import.Register"},
            {"value": "7.2", "measurand": "Power.Active.Import", "unit": "kW"}]});
        json!({"connectorId": 1, "transactionId": 5, "meterValue": vec![one; elements]})
    }

    /// A MeterValues with one element runs without a savepoint (`run_one_write`), which is
    /// sound only while its handler and the profiles hook change one row, in one statement.
    #[test]
    fn one_meter_value_is_one_row_changed() {
        let dir = std::env::temp_dir().join(format!("cw-one-write-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let state = StateStore::open(&dir).unwrap();
        state
            .run_sync(|c| {
                stations::register(c, "CP-1", None)?;
                let p = meter_payload(1);
                assert!(meter_values_is_one_write(&p));
                let before = c.total_changes();
                meter_values(c, "CP-1", &p)?;
                profiles::on_charger_call(c, "CP-1", Action::MeterValues, &p)?;
                assert_eq!(c.total_changes() - before, 1, "one row changed");
                assert!(!meter_values_is_one_write(&meter_payload(2)));
                assert!(!meter_values_is_one_write(&json!({"connectorId": 1, "meterValue": []})));
                Ok(())
            })
            .unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }
}
