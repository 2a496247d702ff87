//! OCPP 1.6 profile state rules (state/profiles.rs), applied directly to a state store in a
//! temporary directory, and the state surviving a restart of the store.

use chargewatch::state::profiles::{self, apply_result, on_charger_call};
use chargewatch::state::{transactions, StateStore};
use chargewatch_ocpp::Action;
use chrono::{Duration, Utc};
use serde_json::{json, Value};
use std::path::PathBuf;

const ST: &str = "CP-1";

fn temp_dir(name: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let dir = std::env::temp_dir().join(format!("chargewatch-profiles-{name}-{}-{nanos}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn open(name: &str) -> (StateStore, PathBuf) {
    let dir = temp_dir(name);
    (StateStore::open(&dir).unwrap(), dir)
}

fn result(store: &StateStore, action: Action, req: Value, conf: Value) {
    store.run_sync(|c| apply_result(c, ST, action, &req, &conf)).unwrap();
}

fn charger(store: &StateStore, action: Action, req: Value) {
    store.run_sync(|c| on_charger_call(c, ST, action, &req)).unwrap();
}

fn state(store: &StateStore) -> profiles::ProfileState {
    store.run_sync(|c| profiles::profile_state(c, ST, Utc::now())).unwrap()
}

fn rfc(t: chrono::DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[test]
fn configuration_read_set_and_full_reread() {
    let (store, _d) = open("config");
    result(
        &store,
        Action::GetConfiguration,
        json!({}),
        json!({
            "configurationKey": [
                {"key": "HeartbeatInterval", "readonly": false, "value": "300"},
                {"key": "NumberOfConnectors", "readonly": true, "value": "2"},
                {"key": "MeterValueSampleInterval", "readonly": false, "value": "60"}
            ]
        }),
    );
    result(
        &store,
        Action::GetConfiguration,
        json!({"key": ["FooBar"]}),
        json!({"configurationKey": [], "unknownKey": ["FooBar"]}),
    );
    let cfg = state(&store).configuration;
    assert_eq!(cfg.len(), 4);
    let key = |k: &str| cfg.iter().find(|x| x.key == k).unwrap().clone();
    assert_eq!(key("NumberOfConnectors").readonly, Some(true));
    assert_eq!(key("NumberOfConnectors").value.as_deref(), Some("2"));
    assert!(!key("FooBar").known);

    // Set: Accepted and RebootRequired store the value; Rejected/NotSupported do not.
    // Keys are case-insensitive (CiString50).
    result(
        &store,
        Action::ChangeConfiguration,
        json!({"key": "heartbeatinterval", "value": "60"}),
        json!({"status": "Accepted"}),
    );
    result(
        &store,
        Action::ChangeConfiguration,
        json!({"key": "WebSocketPingInterval", "value": "30"}),
        json!({"status": "RebootRequired"}),
    );
    result(
        &store,
        Action::ChangeConfiguration,
        json!({"key": "NumberOfConnectors", "value": "9"}),
        json!({"status": "Rejected"}),
    );
    let cfg = state(&store).configuration;
    let key = |k: &str| cfg.iter().find(|x| x.key.eq_ignore_ascii_case(k)).unwrap().clone();
    assert_eq!(key("HeartbeatInterval").value.as_deref(), Some("60"));
    assert_eq!(key("HeartbeatInterval").source, "ChangeConfiguration");
    assert_eq!(key("HeartbeatInterval").change_status.as_deref(), Some("Accepted"));
    assert_eq!(key("WebSocketPingInterval").change_status.as_deref(), Some("RebootRequired"));
    assert_eq!(key("NumberOfConnectors").value.as_deref(), Some("2"));
    assert_eq!(cfg.len(), 5);

    // A full read is authoritative for known keys: what it no longer lists is forgotten.
    result(
        &store,
        Action::GetConfiguration,
        json!({"key": []}),
        json!({"configurationKey": [{"key": "HeartbeatInterval", "readonly": false, "value": "60"}]}),
    );
    let cfg = state(&store).configuration;
    let names: Vec<_> = cfg.iter().map(|k| (k.key.as_str(), k.known)).collect();
    assert_eq!(names, vec![("FooBar", false), ("HeartbeatInterval", true)]);
    assert_eq!(cfg[1].source, "GetConfiguration");
    assert_eq!(cfg[1].change_status, None);
}

#[test]
fn availability_keeps_requested_type_and_status() {
    let (store, _d) = open("availability");
    result(
        &store,
        Action::ChangeAvailability,
        json!({"connectorId": 1, "type": "Inoperative"}),
        json!({"status": "Accepted"}),
    );
    result(
        &store,
        Action::ChangeAvailability,
        json!({"connectorId": 2, "type": "Inoperative"}),
        json!({"status": "Scheduled"}),
    );
    result(
        &store,
        Action::ChangeAvailability,
        json!({"connectorId": 0, "type": "Inoperative"}),
        json!({"status": "Rejected"}),
    );
    result(
        &store,
        Action::ChangeAvailability,
        json!({"connectorId": 1, "type": "Operative"}),
        json!({"status": "Accepted"}),
    );
    let a = state(&store).availability;
    let v: Vec<_> = a.iter().map(|x| (x.connector_id, x.kind.as_str(), x.status.as_str())).collect();
    assert_eq!(v, vec![(1, "Operative", "Accepted"), (2, "Inoperative", "Scheduled")]);
}

#[test]
fn firmware_jobs_advance_and_supersede() {
    let (store, _d) = open("firmware");
    let retrieve = Utc::now() + Duration::hours(1);
    let req =
        json!({"location": "http://cs.example/files/firmware/fw-1.bin", "retrieveDate": rfc(retrieve), "retries": 3});
    result(&store, Action::UpdateFirmware, req, json!({}));
    let jobs = state(&store).firmware_jobs;
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].status, "Accepted");
    assert_eq!(jobs[0].retries, Some(3));
    assert_eq!(jobs[0].retrieve_date.unwrap().timestamp_millis(), retrieve.timestamp_millis());

    for s in ["Downloading", "Downloaded", "Idle", "Installing"] {
        charger(&store, Action::FirmwareStatusNotification, json!({"status": s}));
    }
    let job = &state(&store).firmware_jobs[0];
    assert_eq!(job.status, "Installing", "Idle stays in the history only");
    assert!(!job.finished);
    let hist: Vec<_> = job.history.as_array().unwrap().iter().map(|h| h["status"].as_str().unwrap()).collect();
    assert_eq!(hist, vec!["Accepted", "Downloading", "Downloaded", "Idle", "Installing"]);
    charger(&store, Action::FirmwareStatusNotification, json!({"status": "Installed"}));
    let job = &state(&store).firmware_jobs[0];
    assert_eq!(job.status, "Installed");
    assert!(job.finished && job.finished_at.is_some());
    // A notification with no unfinished job changes nothing.
    charger(&store, Action::FirmwareStatusNotification, json!({"status": "Downloading"}));
    assert_eq!(state(&store).firmware_jobs[0].status, "Installed");

    // A new job supersedes an unfinished one; notifications go to the newest.
    let req = |n: u32| json!({"location": format!("http://cs.example/files/firmware/fw-{n}.bin"), "retrieveDate": rfc(Utc::now())});
    result(&store, Action::UpdateFirmware, req(2), json!({}));
    charger(&store, Action::FirmwareStatusNotification, json!({"status": "Downloading"}));
    result(&store, Action::UpdateFirmware, req(3), json!({}));
    charger(&store, Action::FirmwareStatusNotification, json!({"status": "DownloadFailed"}));
    let jobs = state(&store).firmware_jobs;
    let v: Vec<_> =
        jobs.iter().map(|j| (j.location.rsplit('/').next().unwrap(), j.status.as_str(), j.finished)).collect();
    assert_eq!(
        v,
        vec![("fw-3.bin", "DownloadFailed", true), ("fw-2.bin", "Superseded", true), ("fw-1.bin", "Installed", true)]
    );
}

#[test]
fn diagnostics_jobs_uploads_and_statuses() {
    let (store, _d) = open("diagnostics");
    // No open job: an upload is refused.
    let refused = store.run_sync(|c| profiles::store_diagnostics_file(c, ST, Some("x.log"), None, b"nope"));
    assert!(matches!(refused, Err(chargewatch::state::StateError::NotFound(_))), "{refused:?}");

    let loc = json!({"location": "http://cs.example/files/diagnostics/CP-1"});
    result(&store, Action::GetDiagnostics, loc.clone(), json!({}));
    let job = &state(&store).diagnostics_jobs[0];
    assert_eq!(job.status, "NoDiagnostics");
    assert!(job.finished);
    assert_eq!(store.run_sync(|c| profiles::open_diagnostics_job(c, ST)).unwrap(), None);

    let start = Utc::now() - Duration::days(1);
    let req = json!({"location": "http://cs.example/files/diagnostics/CP-1", "startTime": rfc(start)});
    result(&store, Action::GetDiagnostics, req, json!({"fileName": "diag-2026.tar.gz"}));
    let job_id = state(&store).diagnostics_jobs[0].id;
    assert_eq!(store.run_sync(|c| profiles::open_diagnostics_job(c, ST)).unwrap(), Some(job_id));
    charger(&store, Action::DiagnosticsStatusNotification, json!({"status": "Uploading"}));
    // A retried upload replaces the first.
    store.run_sync(|c| profiles::store_diagnostics_file(c, ST, Some("diag.tar.gz"), None, b"partial")).unwrap();
    let f = store
        .run_sync(|c| {
            profiles::store_diagnostics_file(c, ST, Some("diag-2026.tar.gz"), Some("application/gzip"), b"DIAG")
        })
        .unwrap();
    assert_eq!(f.job_id, job_id);
    assert_eq!(f.size, 4);
    charger(&store, Action::DiagnosticsStatusNotification, json!({"status": "Uploaded"}));

    let job = &state(&store).diagnostics_jobs[0];
    assert_eq!(job.status, "Uploaded");
    assert!(job.finished);
    assert_eq!(job.file_name.as_deref(), Some("diag-2026.tar.gz"));
    assert_eq!(job.start_time.unwrap().timestamp_millis(), start.timestamp_millis());
    let file = job.file.as_ref().unwrap();
    assert_eq!(file.size, 4);
    assert_eq!(file.download_path, format!("/api/v1/stations/CP-1/diagnostics/{job_id}/file"));
    let (meta, data) = store.run_sync(|c| profiles::diagnostics_file(c, ST, job_id)).unwrap();
    assert_eq!(data, b"DIAG");
    assert_eq!(meta.content_type.as_deref(), Some("application/gzip"));
    // Uploaded and received: closed for uploads.
    assert_eq!(store.run_sync(|c| profiles::open_diagnostics_job(c, ST)).unwrap(), None);
    // Another station cannot read it.
    assert!(store.run_sync(|c| profiles::diagnostics_file(c, "CP-2", job_id)).is_err());

    // UploadFailed closes a job too.
    result(&store, Action::GetDiagnostics, loc, json!({"fileName": "d2.log"}));
    charger(&store, Action::DiagnosticsStatusNotification, json!({"status": "UploadFailed"}));
    assert_eq!(state(&store).diagnostics_jobs[0].status, "UploadFailed");
    assert_eq!(store.run_sync(|c| profiles::open_diagnostics_job(c, ST)).unwrap(), None);
}

fn entry(tag: &str, status: Option<&str>) -> Value {
    match status {
        Some(s) => json!({"idTag": tag, "idTagInfo": {"status": s}}),
        None => json!({"idTag": tag}),
    }
}

fn list_tags(store: &StateStore) -> Vec<(String, String)> {
    state(store).local_list.entries.into_iter().map(|e| (e.id_tag, e.status)).collect()
}

#[test]
fn local_list_full_and_differential() {
    let (store, _d) = open("local-list");
    let accepted = json!({"status": "Accepted"});
    result(
        &store,
        Action::SendLocalList,
        json!({"listVersion": 1, "updateType": "Full", "localAuthorizationList": [
            entry("AAA", Some("Accepted")), entry("BBB", Some("Accepted")), entry("CCC", Some("Blocked"))
        ]}),
        accepted.clone(),
    );
    assert_eq!(list_tags(&store).len(), 3);
    // Differential: add DDD, update BBB, remove CCC (no idTagInfo); case-insensitive tags.
    result(
        &store,
        Action::SendLocalList,
        json!({"listVersion": 2, "updateType": "Differential", "localAuthorizationList": [
            entry("DDD", Some("Accepted")), entry("bbb", Some("Blocked")), entry("ccc", None)
        ]}),
        accepted.clone(),
    );
    assert_eq!(
        list_tags(&store),
        vec![("AAA".into(), "Accepted".into()), ("bbb".into(), "Blocked".into()), ("DDD".into(), "Accepted".into())]
    );
    // Not accepted: entries untouched, the answer kept.
    result(
        &store,
        Action::SendLocalList,
        json!({"listVersion": 5, "updateType": "Full", "localAuthorizationList": []}),
        json!({"status": "VersionMismatch"}),
    );
    let l = state(&store).local_list;
    assert_eq!(l.entries.len(), 3);
    assert_eq!(l.sent_version, Some(2));
    assert_eq!(l.sent_update_type.as_deref(), Some("Differential"));
    assert_eq!(l.last_send_status.as_deref(), Some("VersionMismatch"));
    assert_eq!(l.last_send_version, Some(5));
    // Full replaces everything.
    result(
        &store,
        Action::SendLocalList,
        json!({"listVersion": 3, "updateType": "Full", "localAuthorizationList": [entry("ZZZ", Some("Expired"))]}),
        accepted.clone(),
    );
    assert_eq!(list_tags(&store), vec![("ZZZ".into(), "Expired".into())]);
    // Full without a list empties it.
    result(&store, Action::SendLocalList, json!({"listVersion": 4, "updateType": "Full"}), accepted);
    assert!(list_tags(&store).is_empty());
    result(&store, Action::GetLocalListVersion, json!({}), json!({"listVersion": 4}));
    let l = state(&store).local_list;
    assert_eq!((l.sent_version, l.reported_version), (Some(4), Some(4)));
    assert!(l.reported_at.is_some());
}

#[test]
fn reservation_outcomes() {
    let (store, _d) = open("reservations");
    let soon = Utc::now() + Duration::minutes(30);
    let reserve = |id: i64, connector: i64, tag: &str, expiry: chrono::DateTime<Utc>, status: &str| {
        result(
            &store,
            Action::ReserveNow,
            json!({"reservationId": id, "connectorId": connector, "idTag": tag, "expiryDate": rfc(expiry)}),
            json!({"status": status}),
        );
    };
    reserve(1, 1, "TAG1", soon, "Accepted");
    reserve(2, 2, "TAG2", soon, "Accepted");
    reserve(3, 1, "TAG3", soon, "Occupied");
    reserve(4, 0, "TAG4", Utc::now() + Duration::seconds(1), "Accepted");
    // The same id replaces the reservation.
    reserve(2, 2, "TAG2B", soon, "Accepted");
    result(&store, Action::CancelReservation, json!({"reservationId": 1}), json!({"status": "Accepted"}));
    result(&store, Action::CancelReservation, json!({"reservationId": 2}), json!({"status": "Rejected"}));

    // The reservation is used by a transaction.
    let tx = store
        .run_sync(|c| {
            transactions::start_transaction(
                c,
                &transactions::NewTransaction {
                    station_id: ST,
                    connector_id: 2,
                    id_tag: "TAG2B",
                    id_tag_status: "Accepted",
                    meter_start: 0,
                    timestamp: Utc::now(),
                    reservation_id: Some(2),
                },
            )
        })
        .unwrap();
    charger(
        &store,
        Action::StartTransaction,
        json!({"connectorId": 2, "idTag": "TAG2B", "meterStart": 0, "timestamp": rfc(Utc::now()), "reservationId": 2}),
    );

    let later = Utc::now() + Duration::minutes(5);
    let rs = store.run_sync(|c| profiles::reservations(c, ST, later, 100)).unwrap();
    let mut v: Vec<_> =
        rs.iter().map(|r| (r.reservation_id, r.id_tag.as_str(), r.outcome.as_str(), r.transaction_id)).collect();
    v.sort();
    assert_eq!(v, vec![(1, "TAG1", "cancelled", None), (2, "TAG2B", "used", Some(tx)), (4, "TAG4", "expired", None)]);
    // Before its expiry the same reservation reads as active.
    let rs = store.run_sync(|c| profiles::reservations(c, ST, Utc::now() - Duration::minutes(1), 100)).unwrap();
    assert_eq!(rs.iter().find(|r| r.reservation_id == 4).unwrap().outcome, "active");
}

fn profile(id: i64, stack: i64, purpose: &str) -> Value {
    json!({
        "chargingProfileId": id, "stackLevel": stack, "chargingProfilePurpose": purpose,
        "chargingProfileKind": "Absolute",
        "chargingSchedule": {"chargingRateUnit": "A", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16.0}]}
    })
}

fn set(store: &StateStore, connector: i64, p: Value) {
    result(
        store,
        Action::SetChargingProfile,
        json!({"connectorId": connector, "csChargingProfiles": p}),
        json!({"status": "Accepted"}),
    );
}

fn profiles_of(store: &StateStore) -> Vec<(i64, i64, i64, String)> {
    let mut v: Vec<_> = state(store)
        .charging_profiles
        .into_iter()
        .map(|p| (p.charging_profile_id, p.connector_id, p.stack_level, p.purpose))
        .collect();
    v.sort();
    v
}

fn t(id: i64, conn: i64, stack: i64, purpose: &str) -> (i64, i64, i64, String) {
    (id, conn, stack, purpose.to_string())
}

#[test]
fn charging_profiles_replace_and_clear() {
    let (store, _d) = open("smart");
    set(&store, 0, profile(1, 0, "ChargePointMaxProfile"));
    set(&store, 1, profile(2, 1, "TxDefaultProfile"));
    set(&store, 2, profile(3, 1, "TxDefaultProfile"));
    // Same stackLevel + purpose on the same connector: replaces 2.
    set(&store, 1, profile(4, 1, "TxDefaultProfile"));
    // Same id: replaces 3 (even on another connector, with another level).
    set(&store, 1, profile(3, 2, "TxDefaultProfile"));
    // Not accepted: nothing stored.
    result(
        &store,
        Action::SetChargingProfile,
        json!({"connectorId": 1, "csChargingProfiles": profile(9, 5, "TxDefaultProfile")}),
        json!({"status": "Rejected"}),
    );
    assert_eq!(
        profiles_of(&store),
        vec![t(1, 0, 0, "ChargePointMaxProfile"), t(3, 1, 2, "TxDefaultProfile"), t(4, 1, 1, "TxDefaultProfile")]
    );
    let stored = state(&store).charging_profiles;
    let p4 = stored.iter().find(|p| p.charging_profile_id == 4).unwrap();
    assert_eq!(p4.profile, profile(4, 1, "TxDefaultProfile"));
    assert_eq!(p4.kind.as_deref(), Some("Absolute"));

    // Clear by id (the other fields are ignored when an id is given).
    result(&store, Action::ClearChargingProfile, json!({"id": 3, "connectorId": 0}), json!({"status": "Accepted"}));
    assert_eq!(profiles_of(&store), vec![t(1, 0, 0, "ChargePointMaxProfile"), t(4, 1, 1, "TxDefaultProfile")]);
    // Unknown: nothing removed.
    result(&store, Action::ClearChargingProfile, json!({}), json!({"status": "Unknown"}));
    assert_eq!(profiles_of(&store).len(), 2);

    // Filters combine.
    set(&store, 2, profile(5, 3, "TxDefaultProfile"));
    set(&store, 2, profile(6, 4, "TxDefaultProfile"));
    result(
        &store,
        Action::ClearChargingProfile,
        json!({"connectorId": 2, "chargingProfilePurpose": "TxDefaultProfile", "stackLevel": 3}),
        json!({"status": "Accepted"}),
    );
    assert_eq!(
        profiles_of(&store),
        vec![t(1, 0, 0, "ChargePointMaxProfile"), t(4, 1, 1, "TxDefaultProfile"), t(6, 2, 4, "TxDefaultProfile")]
    );
    result(
        &store,
        Action::ClearChargingProfile,
        json!({"chargingProfilePurpose": "TxDefaultProfile"}),
        json!({"status": "Accepted"}),
    );
    assert_eq!(profiles_of(&store), vec![t(1, 0, 0, "ChargePointMaxProfile")]);
    set(&store, 1, profile(7, 0, "TxDefaultProfile"));
    result(&store, Action::ClearChargingProfile, json!({"connectorId": 0}), json!({"status": "Accepted"}));
    assert_eq!(profiles_of(&store), vec![t(7, 1, 0, "TxDefaultProfile")]);
    // No filter: all.
    result(&store, Action::ClearChargingProfile, json!({}), json!({"status": "Accepted"}));
    assert!(profiles_of(&store).is_empty());
}

#[test]
fn tx_profiles_end_with_their_transaction() {
    let (store, _d) = open("txprofile");
    let tx = store
        .run_sync(|c| {
            transactions::start_transaction(
                c,
                &transactions::NewTransaction {
                    station_id: ST,
                    connector_id: 1,
                    id_tag: "TAG",
                    id_tag_status: "Accepted",
                    meter_start: 0,
                    timestamp: Utc::now(),
                    reservation_id: None,
                },
            )
        })
        .unwrap();
    set(&store, 1, profile(10, 1, "TxProfile"));
    set(&store, 1, profile(11, 1, "TxDefaultProfile"));
    set(&store, 2, profile(12, 1, "TxProfile"));
    // RemoteStartTransaction with a profile keeps it too.
    result(
        &store,
        Action::RemoteStartTransaction,
        json!({"connectorId": 2, "idTag": "TAG", "chargingProfile": profile(13, 2, "TxProfile")}),
        json!({"status": "Accepted"}),
    );
    charger(
        &store,
        Action::StopTransaction,
        json!({"transactionId": tx, "meterStop": 10, "timestamp": rfc(Utc::now())}),
    );
    assert_eq!(
        profiles_of(&store),
        vec![t(11, 1, 1, "TxDefaultProfile"), t(12, 2, 1, "TxProfile"), t(13, 2, 2, "TxProfile")]
    );
}

#[test]
fn composite_schedules_and_triggers() {
    let (store, _d) = open("composite");
    let start = Utc::now();
    let schedule = json!({"chargingRateUnit": "W", "duration": 3600,
        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 11000.0}]});
    result(
        &store,
        Action::GetCompositeSchedule,
        json!({"connectorId": 1, "duration": 3600}),
        json!({"status": "Accepted", "connectorId": 1, "scheduleStart": rfc(start), "chargingSchedule": schedule}),
    );
    result(
        &store,
        Action::GetCompositeSchedule,
        json!({"connectorId": 2, "duration": 3600}),
        json!({"status": "Rejected"}),
    );
    let cs = state(&store).composite_schedules;
    assert_eq!(cs.len(), 1);
    assert_eq!(cs[0].connector_id, 1);
    assert_eq!(cs[0].duration, Some(3600));
    assert_eq!(cs[0].charging_rate_unit.as_deref(), Some("W"));
    assert_eq!(cs[0].schedule_start.unwrap().timestamp_millis(), start.timestamp_millis());
    assert_eq!(cs[0].charging_schedule, schedule);

    result(
        &store,
        Action::TriggerMessage,
        json!({"requestedMessage": "StatusNotification", "connectorId": 1}),
        json!({"status": "Accepted"}),
    );
    result(
        &store,
        Action::TriggerMessage,
        json!({"requestedMessage": "DiagnosticsStatusNotification"}),
        json!({"status": "NotImplemented"}),
    );
    let tr = state(&store).triggers;
    let v: Vec<_> = tr.iter().map(|t| (t.requested_message.as_str(), t.connector_id, t.status.as_str())).collect();
    assert_eq!(
        v,
        vec![("DiagnosticsStatusNotification", None, "NotImplemented"), ("StatusNotification", Some(1), "Accepted")]
    );
}

#[test]
fn other_stations_are_separate() {
    let (store, _d) = open("separate");
    set(&store, 1, profile(1, 0, "TxDefaultProfile"));
    let other = store.run_sync(|c| profiles::profile_state(c, "CP-2", Utc::now())).unwrap();
    assert!(other.charging_profiles.is_empty());
    assert_eq!(other.local_list, profiles::LocalList::default());
}

#[tokio::test]
async fn state_survives_a_restart() {
    let (store, dir) = open("restart");
    // Through the writer thread, as the server does.
    let run = |action: Action, req: Value, conf: Value| {
        let store = store.clone();
        async move { store.run(move |c| apply_result(c, ST, action, &req, &conf)).await.unwrap() }
    };
    run(
        Action::GetConfiguration,
        json!({}),
        json!({"configurationKey": [{"key": "HeartbeatInterval", "readonly": false, "value": "300"}]}),
    )
    .await;
    run(Action::ChangeAvailability, json!({"connectorId": 1, "type": "Inoperative"}), json!({"status": "Accepted"}))
        .await;
    run(Action::UpdateFirmware, json!({"location": "http://x/fw", "retrieveDate": rfc(Utc::now())}), json!({})).await;
    run(Action::GetDiagnostics, json!({"location": "http://x/d"}), json!({"fileName": "d.log"})).await;
    store.run(|c| profiles::store_diagnostics_file(c, ST, Some("d.log"), None, b"log")).await.unwrap();
    run(
        Action::SendLocalList,
        json!({"listVersion": 7, "updateType": "Full", "localAuthorizationList": [entry("AAA", Some("Accepted"))]}),
        json!({"status": "Accepted"}),
    )
    .await;
    run(
        Action::ReserveNow,
        json!({"reservationId": 5, "connectorId": 1, "idTag": "AAA", "expiryDate": rfc(Utc::now() + Duration::hours(1))}),
        json!({"status": "Accepted"}),
    )
    .await;
    run(
        Action::SetChargingProfile,
        json!({"connectorId": 1, "csChargingProfiles": profile(1, 0, "TxDefaultProfile")}),
        json!({"status": "Accepted"}),
    )
    .await;
    run(
        Action::GetCompositeSchedule,
        json!({"connectorId": 1, "duration": 60}),
        json!({"status": "Accepted", "connectorId": 1, "scheduleStart": rfc(Utc::now()),
               "chargingSchedule": {"chargingRateUnit": "A", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 6.0}]}}),
    )
    .await;
    run(Action::TriggerMessage, json!({"requestedMessage": "Heartbeat"}), json!({"status": "Accepted"})).await;
    store
        .run(|c| on_charger_call(c, ST, Action::FirmwareStatusNotification, &json!({"status": "Downloading"})))
        .await
        .unwrap();
    store.run(|c| profiles::put_firmware_file(c, "fw-1.bin", None, None, b"FIRMWARE", "admin")).await.unwrap();
    let before = state(&store);
    drop(store);

    let store = StateStore::open(&dir).unwrap();
    let after = state(&store);
    assert_eq!(before, after);
    assert_eq!(after.configuration.len(), 1);
    assert_eq!(after.availability.len(), 1);
    assert_eq!(after.firmware_jobs[0].status, "Downloading");
    assert_eq!(after.diagnostics_jobs[0].file.as_ref().unwrap().size, 3);
    assert_eq!(after.local_list.sent_version, Some(7));
    assert_eq!(after.reservations[0].outcome, "active");
    assert_eq!(after.charging_profiles.len(), 1);
    assert_eq!(after.composite_schedules.len(), 1);
    assert_eq!(after.triggers.len(), 1);
    let fw = store.run_sync(|c| profiles::firmware_file(c, "fw-1.bin")).unwrap().unwrap();
    assert_eq!(fw.1, b"FIRMWARE");
    assert_eq!(fw.0.size, 8);
}

#[test]
fn firmware_files_belong_to_their_client() {
    let (store, _d) = open("fwfiles");
    store.run_sync(|c| profiles::put_firmware_file(c, "a.bin", Some("acme"), None, b"1", "alice")).unwrap();
    store.run_sync(|c| profiles::put_firmware_file(c, "shared.bin", None, None, b"2", "admin")).unwrap();
    store.run_sync(|c| profiles::put_firmware_file(c, "b.bin", Some("beta"), None, b"3", "bob")).unwrap();
    // Another client cannot replace or delete it; the same client and the admin can.
    assert!(store.run_sync(|c| profiles::put_firmware_file(c, "a.bin", Some("beta"), None, b"x", "bob")).is_err());
    assert!(store.run_sync(|c| profiles::delete_firmware_file(c, "a.bin", Some("beta"))).is_err());
    store.run_sync(|c| profiles::put_firmware_file(c, "a.bin", Some("acme"), None, b"11", "alice")).unwrap();
    let names = |client: Option<&str>| -> Vec<String> {
        store.run_sync(|c| profiles::list_firmware_files(c, client)).unwrap().into_iter().map(|f| f.name).collect()
    };
    assert_eq!(names(Some("acme")), vec!["a.bin", "shared.bin"]);
    assert_eq!(names(None), vec!["a.bin", "b.bin", "shared.bin"]);
    assert!(store.run_sync(|c| profiles::put_firmware_file(c, "../x", None, None, b"1", "admin")).is_err());
    assert!(store.run_sync(|c| profiles::put_firmware_file(c, ".hidden", None, None, b"1", "admin")).is_err());
    store.run_sync(|c| profiles::delete_firmware_file(c, "a.bin", None)).unwrap();
    assert_eq!(names(None), vec!["b.bin", "shared.bin"]);
}
