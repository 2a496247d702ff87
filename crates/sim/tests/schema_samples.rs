//! Drives stations through every feature and collects each payload they produce. With
//! `SIM_SCHEMA_DUMP=/path/file.ndjson` the samples are written out, one
//! `{"action", "kind": "req"|"conf", "payload"}` per line, for validation against the
//! official OCPP 1.6 JSON schemas (e.g. with Python's jsonschema and the `ocpp` package).

mod common;

use chargewatch_ocpp::Action;
use chargewatch_sim::station::{Station, StationParams};
use common::*;
use serde_json::{json, Value};

#[test]
fn payload_samples() {
    let mut out: Vec<Value> = Vec::new();
    let reqs = |calls: Vec<chargewatch_sim::station::OutCall>, out: &mut Vec<Value>| {
        for c in calls {
            out.push(json!({"action": c.action.as_str(), "kind": "req", "payload": c.payload}));
        }
    };
    // Autonomous station with faults and transactions.
    let params = StationParams {
        transaction_interval: std::time::Duration::from_secs(20),
        fault_probability: 0.3,
        ..StationParams::new("SCHEMA-0001", 2)
    };
    let mut st = Station::new(params, 5, t0());
    st.on_connected(t0());
    let mut now = t0();
    for _ in 0..400 {
        now += secs(9);
        st.tick(now);
        while let Some(c) = st.next_call(now) {
            let conf = match c.action {
                Action::BootNotification => {
                    json!({"status": "Accepted", "interval": 60, "currentTime": "2026-03-01T12:00:00Z"})
                }
                Action::Authorize => json!({"idTagInfo": {"status": "Accepted"}}),
                Action::StartTransaction => json!({"transactionId": 1, "idTagInfo": {"status": "Accepted"}}),
                _ => json!({}),
            };
            st.on_conf(&c, &conf, now);
            reqs(vec![c], &mut out);
        }
    }
    // Every central-system call.
    let mut st = booted(2);
    start_tx(&mut st, 1, "TAG", 77, t0());
    let profile = json!({
        "chargingProfileId": 1, "stackLevel": 0, "chargingProfilePurpose": "TxDefaultProfile", "chargingProfileKind": "Relative",
        "chargingSchedule": {"chargingRateUnit": "A", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 13.3}, {"startPeriod": 60, "limit": 7.7}]}
    });
    let calls: Vec<(&str, Value)> = vec![
        ("ChangeAvailability", json!({"connectorId": 2, "type": "Inoperative"})),
        ("ChangeAvailability", json!({"connectorId": 1, "type": "Inoperative"})),
        ("ChangeAvailability", json!({"connectorId": 0, "type": "Operative"})),
        ("ChangeConfiguration", json!({"key": "HeartbeatInterval", "value": "90"})),
        ("ChangeConfiguration", json!({"key": "Nope", "value": "1"})),
        ("GetConfiguration", json!({})),
        ("GetConfiguration", json!({"key": ["HeartbeatInterval", "Nope"]})),
        ("ClearCache", json!({})),
        ("DataTransfer", json!({"vendorId": "x"})),
        ("DataTransfer", json!({"vendorId": "chargewatch-sim", "data": "hi"})),
        ("DataTransfer", json!({"vendorId": "chargewatch-sim", "messageId": "status"})),
        ("SetChargingProfile", json!({"connectorId": 0, "csChargingProfiles": profile})),
        ("GetCompositeSchedule", json!({"connectorId": 1, "duration": 600})),
        ("GetCompositeSchedule", json!({"connectorId": 1, "duration": 600, "chargingRateUnit": "A"})),
        ("GetCompositeSchedule", json!({"connectorId": 0, "duration": 600})),
        ("GetCompositeSchedule", json!({"connectorId": 9, "duration": 600})),
        ("ClearChargingProfile", json!({"id": 1})),
        ("ClearChargingProfile", json!({"id": 1})),
        (
            "ReserveNow",
            json!({"connectorId": 2, "expiryDate": "2026-03-01T13:00:00Z", "idTag": "R", "reservationId": 1}),
        ),
        ("ChangeAvailability", json!({"connectorId": 2, "type": "Operative"})),
        (
            "ReserveNow",
            json!({"connectorId": 2, "expiryDate": "2026-03-01T13:00:00Z", "idTag": "R", "reservationId": 1}),
        ),
        ("CancelReservation", json!({"reservationId": 1})),
        ("GetLocalListVersion", json!({})),
        (
            "SendLocalList",
            json!({"listVersion": 1, "updateType": "Full", "localAuthorizationList": [{"idTag": "A", "idTagInfo": {"status": "Accepted"}}]}),
        ),
        ("GetDiagnostics", json!({"location": "http://127.0.0.1/"})),
        ("UpdateFirmware", json!({"location": "http://127.0.0.1/fw.bin", "retrieveDate": "2026-03-01T12:00:00Z"})),
        ("TriggerMessage", json!({"requestedMessage": "MeterValues"})),
        ("TriggerMessage", json!({"requestedMessage": "StatusNotification"})),
        ("TriggerMessage", json!({"requestedMessage": "BootNotification"})),
        ("TriggerMessage", json!({"requestedMessage": "DiagnosticsStatusNotification"})),
        ("TriggerMessage", json!({"requestedMessage": "FirmwareStatusNotification"})),
        ("TriggerMessage", json!({"requestedMessage": "Heartbeat", "connectorId": 9})),
        ("UnlockConnector", json!({"connectorId": 2})),
        ("UnlockConnector", json!({"connectorId": 0})),
        ("RemoteStopTransaction", json!({"transactionId": 77})),
        ("RemoteStopTransaction", json!({"transactionId": 77})),
        ("RemoteStartTransaction", json!({"idTag": "NEW"})),
        ("Reset", json!({"type": "Hard"})),
    ];
    for (action, p) in calls {
        let conf = call(&mut st, action, p, t0());
        out.push(json!({"action": action, "kind": "conf", "payload": conf}));
        reqs(drain(&mut st, t0()), &mut out);
    }
    st.diagnostics_status("Uploading");
    st.diagnostics_status("Uploaded");
    st.firmware_status("Downloading");
    st.firmware_status("Installed");
    reqs(drain(&mut st, t0()), &mut out);
    // The load generator's calls.
    let mut rng = <rand::rngs::SmallRng as rand::SeedableRng>::seed_from_u64(1);
    let mut e = 0;
    for _ in 0..30 {
        let (a, p) = chargewatch_sim::load::load_call(&mut rng, &mut e);
        out.push(json!({"action": a, "kind": "req", "payload": p}));
    }

    let kinds: std::collections::BTreeSet<String> =
        out.iter().map(|v| format!("{}.{}", v["action"].as_str().unwrap(), v["kind"].as_str().unwrap())).collect();
    for needed in [
        "Authorize.req",
        "StartTransaction.req",
        "StopTransaction.req",
        "MeterValues.req",
        "StatusNotification.req",
        "Heartbeat.req",
    ] {
        assert!(kinds.contains(needed), "{needed} not produced: {kinds:?}");
    }
    assert!(out.iter().any(|v| v["payload"]["status"] == "Faulted"));
    if let Ok(path) = std::env::var("SIM_SCHEMA_DUMP") {
        let text: String = out.iter().map(|v| v.to_string() + "\n").collect();
        std::fs::write(path, text).unwrap();
    }
}
