mod common;

use chargewatch_ocpp::{Action, ErrorCode};
use chargewatch_sim::config_store::{ChangeResult, ConfigStore};
use chargewatch_sim::station::{firmware_version_from, Effect, Station, StationParams};
use common::*;
use serde_json::json;

#[test]
fn boot_then_statuses_for_all_connectors() {
    let params = StationParams { autonomous: false, ..StationParams::new("TEST-0001", 2) };
    let mut st = Station::new(params, 1, t0());
    st.on_connected(t0());
    let boot = st.next_call(t0()).unwrap();
    assert_eq!(boot.action, Action::BootNotification);
    assert!(st.next_call(t0()).is_none(), "nothing before the boot is answered");
    st.on_conf(&boot, &json!({"status": "Pending", "interval": 20, "currentTime": "2026-03-01T12:00:00Z"}), t0());
    assert!(!st.booted);
    assert!(st.next_call(t0() + secs(5)).is_none(), "retry waits for the interval");
    let again = st.next_call(t0() + secs(20)).unwrap();
    assert_eq!(again.action, Action::BootNotification);
    st.on_conf(&again, &json!({"status": "Accepted", "interval": 120, "currentTime": "2026-03-01T12:00:00Z"}), t0());
    assert_eq!(st.heartbeat_interval_s, 120);
    assert_eq!(st.config.get("HeartbeatInterval"), Some("120"));
    let calls = drain(&mut st, t0());
    assert_eq!(actions(&calls), ["Status:0:Available", "Status:1:Available", "Status:2:Available"]);
    st.tick(t0() + secs(121));
    assert_eq!(actions(&drain(&mut st, t0())), ["Heartbeat"]);
}

#[test]
fn rfid_transaction_sequence() {
    let params = StationParams {
        transaction_interval: std::time::Duration::from_secs(1),
        meter_interval: std::time::Duration::from_secs(60),
        transaction_duration: std::time::Duration::from_secs(600),
        id_tags: vec!["TAG-1".into()],
        ..StationParams::new("TEST-0002", 1)
    };
    let mut st = Station::new(params, 3, t0());
    st.config.change("HeartbeatInterval", "0");
    st.on_connected(t0());
    let boot = st.next_call(t0()).unwrap();
    st.on_conf(&boot, &json!({"status": "Accepted", "interval": 0, "currentTime": "2026-03-01T12:00:00Z"}), t0());
    drain(&mut st, t0());
    let mut now = t0();
    let mut seen = Vec::new();
    let mut tx_done = false;
    for _ in 0..2000 {
        now += secs(5);
        st.tick(now);
        while let Some(c) = st.next_call(now) {
            let conf = match c.action {
                Action::Authorize => json!({"idTagInfo": {"status": "Accepted"}}),
                Action::StartTransaction => json!({"transactionId": 7, "idTagInfo": {"status": "Accepted"}}),
                _ => json!({}),
            };
            if c.action == Action::StopTransaction {
                tx_done = true;
                assert_eq!(c.payload["transactionId"], 7);
                assert_eq!(c.payload["transactionData"].as_array().unwrap().len(), 2);
                assert!(c.payload["meterStop"].as_i64().unwrap() > 0);
            }
            if c.action == Action::MeterValues {
                let sv = c.payload["meterValue"][0]["sampledValue"].as_array().unwrap();
                assert_eq!(sv.len(), 4);
                assert!(sv.iter().all(|v| v["value"].is_string() && v["context"] == "Sample.Periodic"));
                assert_eq!(c.payload["transactionId"], 7);
            }
            st.on_conf(&c, &conf, now);
            seen.push(c);
        }
        if tx_done && actions(&seen).last().map(String::as_str) == Some("Status:1:Available") {
            break;
        }
    }
    let names = actions(&seen);
    let pos = |s: &str| names.iter().position(|n| n == s).unwrap_or_else(|| panic!("{s} missing in {names:?}"));
    assert!(pos("Authorize") < pos("Status:1:Preparing"));
    assert!(pos("Status:1:Preparing") < pos("StartTransaction"));
    assert!(pos("StartTransaction") < pos("Status:1:Charging"));
    assert!(pos("Status:1:Charging") < pos("MeterValues"));
    assert!(pos("MeterValues") < pos("StopTransaction"));
    assert!(pos("StopTransaction") < pos("Status:1:Finishing"));
    assert!(names.iter().rposition(|n| n == "Status:1:Available").unwrap() > pos("Status:1:Finishing"));
    assert_eq!(st.take_effects()[..2], [Effect::TransactionStarted, Effect::TransactionCompleted]);
}

#[test]
fn same_seed_same_behaviour() {
    let run = || {
        let params = StationParams {
            transaction_interval: std::time::Duration::from_secs(30),
            fault_probability: 0.2,
            ..StationParams::new("TEST-0003", 2)
        };
        let mut st = Station::new(params, 99, t0());
        st.on_connected(t0());
        let boot = st.next_call(t0()).unwrap();
        st.on_conf(&boot, &json!({"status": "Accepted", "interval": 60, "currentTime": "2026-03-01T12:00:00Z"}), t0());
        let mut log = Vec::new();
        let mut now = t0();
        for _ in 0..300 {
            now += secs(7);
            st.tick(now);
            while let Some(c) = st.next_call(now) {
                let conf = match c.action {
                    Action::Authorize => json!({"idTagInfo": {"status": "Accepted"}}),
                    Action::StartTransaction => json!({"transactionId": 1, "idTagInfo": {"status": "Accepted"}}),
                    _ => json!({}),
                };
                st.on_conf(&c, &conf, now);
                log.push(c);
            }
        }
        log
    };
    let a = run();
    assert_eq!(a, run());
    assert!(a.iter().any(|c| c.payload["status"] == "Faulted" && c.payload["errorCode"] != "NoError"));
}

#[test]
fn reservation_is_honoured() {
    let mut st = booted(2);
    let expiry = "2026-03-01T12:30:00Z";
    let r = call(
        &mut st,
        "ReserveNow",
        json!({"connectorId": 1, "expiryDate": expiry, "idTag": "RES-TAG", "reservationId": 11}),
        t0(),
    );
    assert_eq!(r["status"], "Accepted");
    assert_eq!(actions(&drain(&mut st, t0())), ["Status:1:Reserved"]);
    // Somebody else cannot start there.
    assert!(st.may_start(1, "OTHER", None).is_err());
    let r = call(&mut st, "RemoteStartTransaction", json!({"connectorId": 1, "idTag": "OTHER"}), t0());
    assert_eq!(r["status"], "Rejected");
    // The reserving tag can, and StartTransaction carries the reservation id.
    assert_eq!(st.may_start(1, "res-tag", None), Ok(Some(11)));
    let calls = start_tx(&mut st, 1, "RES-TAG", 5, t0());
    let start = calls.iter().find(|c| c.action == Action::StartTransaction).unwrap();
    assert_eq!(start.payload["reservationId"], 11);
    assert!(st.connectors[1].reservation.is_none());
    // Occupied connector.
    let r = call(
        &mut st,
        "ReserveNow",
        json!({"connectorId": 1, "expiryDate": expiry, "idTag": "X", "reservationId": 12}),
        t0(),
    );
    assert_eq!(r["status"], "Occupied");
}

#[test]
fn reservation_parent_expiry_cancel() {
    let mut st = booted(1);
    let r = call(
        &mut st,
        "ReserveNow",
        json!({"connectorId": 1, "expiryDate": "2026-03-01T12:10:00Z", "idTag": "CARD", "parentIdTag": "FLEET", "reservationId": 1}),
        t0(),
    );
    assert_eq!(r["status"], "Accepted");
    assert_eq!(st.may_start(1, "OTHER-CARD", Some("FLEET")), Ok(Some(1)), "same parent idTag may use it");
    assert_eq!(call(&mut st, "CancelReservation", json!({"reservationId": 2}), t0())["status"], "Rejected");
    assert_eq!(call(&mut st, "CancelReservation", json!({"reservationId": 1}), t0())["status"], "Accepted");
    assert_eq!(actions(&drain(&mut st, t0())), ["Status:1:Reserved", "Status:1:Available"]);
    call(
        &mut st,
        "ReserveNow",
        json!({"connectorId": 1, "expiryDate": "2026-03-01T12:10:00Z", "idTag": "CARD", "reservationId": 2}),
        t0(),
    );
    st.tick(t0() + secs(601));
    assert!(st.connectors[1].reservation.is_none(), "expired");
    let names: Vec<String> = actions(&drain(&mut st, t0())).into_iter().filter(|a| a != "Heartbeat").collect();
    assert_eq!(names, ["Status:1:Reserved", "Status:1:Available"]);
    // Past expiry, connector 0 and unknown connectors are rejected.
    let past = json!({"connectorId": 1, "expiryDate": "2026-03-01T11:00:00Z", "idTag": "CARD", "reservationId": 3});
    assert_eq!(call(&mut st, "ReserveNow", past, t0())["status"], "Rejected");
    let zero = json!({"connectorId": 0, "expiryDate": "2026-03-01T13:00:00Z", "idTag": "CARD", "reservationId": 3});
    assert_eq!(call(&mut st, "ReserveNow", zero, t0())["status"], "Rejected");
    call(&mut st, "ChangeAvailability", json!({"connectorId": 1, "type": "Inoperative"}), t0());
    let r = json!({"connectorId": 1, "expiryDate": "2026-03-01T13:00:00Z", "idTag": "CARD", "reservationId": 3});
    assert_eq!(call(&mut st, "ReserveNow", r, t0())["status"], "Unavailable");
}

#[test]
fn config_store_rules() {
    let mut c = ConfigStore::standard(2, 300, 60);
    assert_eq!(c.change("HeartbeatInterval", "60"), ChangeResult::Accepted);
    assert_eq!(c.get_int("heartbeatinterval"), Some(60), "keys are case-insensitive");
    assert_eq!(c.change("HeartbeatInterval", "soon"), ChangeResult::Rejected);
    assert_eq!(c.change("NumberOfConnectors", "4"), ChangeResult::Rejected, "read-only");
    assert_eq!(c.change("NoSuchKey", "1"), ChangeResult::NotSupported);
    assert_eq!(c.change("LocalPreAuthorize", "TRUE"), ChangeResult::Accepted);
    assert!(c.get_bool("LocalPreAuthorize"));
    assert_eq!(c.change("MeterValuesSampledData", "Energy.Active.Import.Register,Voltage"), ChangeResult::Accepted);
    assert_eq!(c.change("MeterValuesSampledData", "SoC"), ChangeResult::Rejected);
    let all = c.get_configuration(None);
    assert!(all["configurationKey"].as_array().unwrap().len() > 30);
    assert!(all.get("unknownKey").is_none());
    let some = c.get_configuration(Some(&["HeartbeatInterval".to_string(), "Bogus".to_string()]));
    assert_eq!(some["configurationKey"][0], json!({"key": "HeartbeatInterval", "readonly": false, "value": "60"}));
    assert_eq!(some["unknownKey"], json!(["Bogus"]));
}

#[test]
fn change_configuration_through_calls_applies() {
    let mut st = booted(1);
    assert_eq!(
        call(&mut st, "ChangeConfiguration", json!({"key": "HeartbeatInterval", "value": "30"}), t0())["status"],
        "Accepted"
    );
    assert_eq!(st.heartbeat_interval_s, 30);
    assert_eq!(
        call(&mut st, "ChangeConfiguration", json!({"key": "SupportedFeatureProfiles", "value": "Core"}), t0())
            ["status"],
        "Rejected"
    );
    assert_eq!(
        call(&mut st, "ChangeConfiguration", json!({"key": "Foo", "value": "1"}), t0())["status"],
        "NotSupported"
    );
    let r = call(&mut st, "GetConfiguration", json!({"key": ["Foo", "NumberOfConnectors"]}), t0());
    assert_eq!(r["configurationKey"][0]["value"], "1");
    assert_eq!(r["configurationKey"][0]["readonly"], true);
    assert_eq!(r["unknownKey"], json!(["Foo"]));
}

#[test]
fn change_availability_scheduled_during_transaction() {
    let mut st = booted(2);
    start_tx(&mut st, 1, "TAG", 9, t0());
    let r = call(&mut st, "ChangeAvailability", json!({"connectorId": 1, "type": "Inoperative"}), t0());
    assert_eq!(r["status"], "Scheduled");
    let r = call(&mut st, "ChangeAvailability", json!({"connectorId": 2, "type": "Inoperative"}), t0());
    assert_eq!(r["status"], "Accepted");
    assert_eq!(actions(&drain(&mut st, t0())), ["Status:2:Unavailable"]);
    let r = call(&mut st, "RemoteStopTransaction", json!({"transactionId": 9}), t0());
    assert_eq!(r["status"], "Accepted");
    let calls = drain(&mut st, t0());
    assert_eq!(calls[0].action, Action::StopTransaction);
    assert_eq!(calls[0].payload["reason"], "Remote");
    st.tick(t0() + secs(600));
    assert_eq!(st.connectors[1].status(), "Unavailable");
    assert_eq!(call(&mut st, "RemoteStopTransaction", json!({"transactionId": 9}), t0())["status"], "Rejected");
    assert_eq!(
        call(&mut st, "ChangeAvailability", json!({"connectorId": 7, "type": "Operative"}), t0())["status"],
        "Rejected"
    );
}

#[test]
fn remote_start_with_profile_limits_power() {
    let mut st = booted(1);
    let profile = json!({
        "chargingProfileId": 5, "stackLevel": 0, "chargingProfilePurpose": "TxProfile", "chargingProfileKind": "Relative",
        "chargingSchedule": {"chargingRateUnit": "A", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 6.0}]}
    });
    let r = call(
        &mut st,
        "RemoteStartTransaction",
        json!({"connectorId": 1, "idTag": "TAG", "chargingProfile": profile}),
        t0(),
    );
    assert_eq!(r["status"], "Accepted");
    let calls = drain(&mut st, t0());
    let start = calls.iter().find(|c| c.action == Action::StartTransaction).unwrap().clone();
    st.on_conf(&start, &json!({"transactionId": 3, "idTagInfo": {"status": "Accepted"}}), t0());
    st.tick(t0() + secs(1));
    assert!(st.power_w(1) <= 6.0 * 230.0 * 3.0 + 0.01);
    assert!(st.power_w(1) > 0.0);
    let sched = call(
        &mut st,
        "GetCompositeSchedule",
        json!({"connectorId": 1, "duration": 3600, "chargingRateUnit": "A"}),
        t0(),
    );
    assert_eq!(sched["status"], "Accepted");
    assert_eq!(sched["connectorId"], 1);
    assert_eq!(sched["chargingSchedule"]["chargingSchedulePeriod"][0]["limit"], 6.0);
    // A zero limit suspends charging.
    let zero = json!({"connectorId": 1, "csChargingProfiles": {
        "chargingProfileId": 6, "stackLevel": 1, "chargingProfilePurpose": "TxProfile", "chargingProfileKind": "Relative",
        "chargingSchedule": {"chargingRateUnit": "W", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 0}]}}});
    assert_eq!(call(&mut st, "SetChargingProfile", zero, t0())["status"], "Accepted");
    st.tick(t0() + secs(2));
    assert_eq!(st.connectors[1].status(), "SuspendedEVSE");
    // TxProfile without a transaction, ChargePointMaxProfile on a connector: rejected.
    let mut other = booted(2);
    let txp = json!({"connectorId": 2, "csChargingProfiles": {
        "chargingProfileId": 7, "stackLevel": 0, "chargingProfilePurpose": "TxProfile", "chargingProfileKind": "Relative",
        "chargingSchedule": {"chargingRateUnit": "W", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 0}]}}});
    assert_eq!(call(&mut other, "SetChargingProfile", txp, t0())["status"], "Rejected");
    let cpmax = json!({"connectorId": 1, "csChargingProfiles": {
        "chargingProfileId": 8, "stackLevel": 0, "chargingProfilePurpose": "ChargePointMaxProfile", "chargingProfileKind": "Relative",
        "chargingSchedule": {"chargingRateUnit": "W", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 0}]}}});
    assert_eq!(call(&mut other, "SetChargingProfile", cpmax, t0())["status"], "Rejected");
    assert_eq!(call(&mut other, "ClearChargingProfile", json!({}), t0())["status"], "Unknown");
}

#[test]
fn reset_stops_transactions_and_reboots() {
    let mut st = booted(1);
    start_tx(&mut st, 1, "TAG", 4, t0());
    assert_eq!(call(&mut st, "Reset", json!({"type": "Soft"}), t0())["status"], "Accepted");
    let calls = drain(&mut st, t0());
    assert_eq!(calls[0].action, Action::StopTransaction);
    assert_eq!(calls[0].payload["reason"], "SoftReset");
    assert!(st.take_effects().contains(&Effect::Reset { hard: false }));
    st.on_disconnected(None);
    st.reboot(t0());
    st.on_connected(t0());
    assert_eq!(st.next_call(t0()).unwrap().action, Action::BootNotification);
}

#[test]
fn firmware_update_reboots_with_new_version() {
    let mut st = booted(1);
    let r = call(
        &mut st,
        "UpdateFirmware",
        json!({"location": "http://fw.example/files/2.4.1.bin", "retrieveDate": "2026-03-01T12:00:00Z"}),
        t0(),
    );
    assert_eq!(r, json!({}));
    let effects = st.take_effects();
    assert!(matches!(&effects[0], Effect::DownloadFirmware { version, .. } if version == "2.4.1"));
    for s in ["Downloading", "Downloaded", "Installing", "Installed"] {
        st.firmware_status(s);
    }
    st.firmware_installed("2.4.1".into(), t0());
    assert_eq!(st.take_effects(), vec![Effect::Reset { hard: true }]);
    let statuses: Vec<_> = drain(&mut st, t0()).iter().map(|c| c.payload["status"].clone()).collect();
    assert_eq!(statuses, [json!("Downloading"), json!("Downloaded"), json!("Installing"), json!("Installed")]);
    st.on_disconnected(None);
    st.reboot(t0());
    assert_eq!(st.boot_payload()["firmwareVersion"], "2.4.1");
    assert_eq!(firmware_version_from("ftp://x/", "1.0.9"), "1.0.10");
}

#[test]
fn diagnostics_trigger_and_misc_calls() {
    let mut st = booted(2);
    let r = call(&mut st, "GetDiagnostics", json!({"location": "http://127.0.0.1:1/upload/"}), t0());
    assert!(r["fileName"].as_str().unwrap().starts_with("TEST-0001-diagnostics-"));
    assert!(matches!(&st.take_effects()[0], Effect::Upload { body, .. } if body.contains("TEST-0001")));
    for m in ["BootNotification", "Heartbeat", "DiagnosticsStatusNotification", "FirmwareStatusNotification"] {
        assert_eq!(call(&mut st, "TriggerMessage", json!({"requestedMessage": m}), t0())["status"], "Accepted");
    }
    assert_eq!(
        call(&mut st, "TriggerMessage", json!({"requestedMessage": "MeterValues", "connectorId": 2}), t0())["status"],
        "Accepted"
    );
    assert_eq!(
        call(&mut st, "TriggerMessage", json!({"requestedMessage": "StatusNotification"}), t0())["status"],
        "Accepted"
    );
    assert_eq!(
        call(&mut st, "TriggerMessage", json!({"requestedMessage": "StatusNotification", "connectorId": 5}), t0())
            ["status"],
        "Rejected"
    );
    let names = actions(&drain(&mut st, t0()));
    assert_eq!(
        names,
        [
            "BootNotification",
            "Heartbeat",
            "DiagnosticsStatusNotification",
            "FirmwareStatusNotification",
            "MeterValues",
            "Status:0:Available",
            "Status:1:Available",
            "Status:2:Available"
        ]
    );
    let e =
        st.handle_call("TriggerMessage", &json!({"requestedMessage": "SignChargePointCertificate"}), t0()).unwrap_err();
    assert_eq!(e.code, ErrorCode::PropertyConstraintViolation);
    let e = st.handle_call("FooBar", &json!({}), t0()).unwrap_err();
    assert_eq!(e.code, ErrorCode::NotImplemented);
    let e = st.handle_call("Heartbeat", &json!({}), t0()).unwrap_err();
    assert_eq!(e.code, ErrorCode::NotSupported);
    let e = st.handle_call("RemoteStopTransaction", &json!({}), t0()).unwrap_err();
    assert_eq!(e.code, ErrorCode::OccurenceConstraintViolation);
    let e = st.handle_call("RemoteStopTransaction", &json!({"transactionId": "x"}), t0()).unwrap_err();
    assert_eq!(e.code, ErrorCode::TypeConstraintViolation);
    assert_eq!(call(&mut st, "DataTransfer", json!({"vendorId": "acme"}), t0())["status"], "UnknownVendorId");
    assert_eq!(
        call(&mut st, "DataTransfer", json!({"vendorId": "chargewatch-sim", "data": "ping"}), t0()),
        json!({"status": "Accepted", "data": "ping"})
    );
    assert_eq!(
        call(&mut st, "DataTransfer", json!({"vendorId": "chargewatch-sim", "messageId": "nope"}), t0())["status"],
        "UnknownMessageId"
    );
    assert_eq!(call(&mut st, "ClearCache", json!({}), t0())["status"], "Accepted");
    assert_eq!(call(&mut st, "UnlockConnector", json!({"connectorId": 1}), t0())["status"], "Unlocked");
    assert_eq!(call(&mut st, "UnlockConnector", json!({"connectorId": 0}), t0())["status"], "NotSupported");
}

#[test]
fn local_list_through_calls() {
    let mut st = booted(1);
    assert_eq!(call(&mut st, "GetLocalListVersion", json!({}), t0())["listVersion"], 0);
    let full = json!({"listVersion": 3, "updateType": "Full", "localAuthorizationList": [
        {"idTag": "A", "idTagInfo": {"status": "Accepted"}}, {"idTag": "B", "idTagInfo": {"status": "Blocked"}}]});
    assert_eq!(call(&mut st, "SendLocalList", full, t0())["status"], "Accepted");
    assert_eq!(call(&mut st, "GetLocalListVersion", json!({}), t0())["listVersion"], 3);
    let diff = json!({"listVersion": 2, "updateType": "Differential", "localAuthorizationList": [{"idTag": "A"}]});
    assert_eq!(call(&mut st, "SendLocalList", diff, t0())["status"], "VersionMismatch");
    call(&mut st, "ChangeConfiguration", json!({"key": "LocalAuthListEnabled", "value": "false"}), t0());
    assert_eq!(call(&mut st, "GetLocalListVersion", json!({}), t0())["listVersion"], -1);
    let full = json!({"listVersion": 4, "updateType": "Full"});
    assert_eq!(call(&mut st, "SendLocalList", full, t0())["status"], "NotSupported");
}

#[test]
fn transaction_messages_survive_a_disconnect() {
    let mut st = booted(1);
    start_tx(&mut st, 1, "TAG", 4, t0());
    call(&mut st, "RemoteStopTransaction", json!({"transactionId": 4}), t0());
    let stop = st.next_call(t0()).unwrap();
    assert_eq!(stop.action, Action::StopTransaction);
    st.on_disconnected(Some(stop.clone()));
    st.on_connected(t0());
    let boot = st.next_call(t0()).unwrap();
    st.on_conf(&boot, &json!({"status": "Accepted", "interval": 300, "currentTime": "2026-03-01T12:00:00Z"}), t0());
    let calls = drain(&mut st, t0());
    assert_eq!(calls[0], stop, "the unanswered StopTransaction goes first after the boot");
}
