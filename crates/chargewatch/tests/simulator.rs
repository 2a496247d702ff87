//! The simulator against the server: every central-system operation through the HTTP API,
//! and a run of compressed time with zero protocol errors.

mod common;
use chargewatch_sim::{SimConfig, SimSummary};
use common::*;
use serde_json::{json, Value};
use std::time::Duration;
use tokio::sync::oneshot;

async fn register(api: &Api, ids: &[&str]) {
    api.site_with("sim", "debug", ids).await;
    for tag in ["SIM-TAG-1", "SIM-TAG-2"] {
        api.put(&format!("/api/v1/id-tags/{tag}"), json!({"status": "Accepted"})).await;
    }
}

fn sim_config(url: String, stations: usize) -> SimConfig {
    SimConfig {
        url,
        stations,
        connectors: 2,
        id_tags: vec!["SIM-TAG-1".into(), "SIM-TAG-2".into()],
        fault_probability: 0.0,
        transaction_interval: Duration::from_secs(3600 * 24),
        meter_interval: Duration::from_secs(5),
        ..SimConfig::default()
    }
}

fn spawn_sim(config: SimConfig) -> (oneshot::Sender<()>, tokio::task::JoinHandle<SimSummary>) {
    let (stop, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(chargewatch_sim::run(config, async move {
        let _ = rx.await;
    }));
    (stop, task)
}

async fn command(api: &Api, action: &str, payload: Value) -> Value {
    let (status, body) = api.post(&format!("/api/v1/stations/SIM-0001/commands/{action}"), payload).await;
    assert_eq!(status, 200, "{action}: {body}");
    assert_eq!(body["message_type"], "CALLRESULT", "{action}: {body}");
    body["payload"].clone()
}

async fn wait_connected(api: &Api, id: &str) {
    for _ in 0..100 {
        let st = api.get(&format!("/api/v1/stations/{id}")).await;
        if st["connected"] == true && st["boot_status"] == "Accepted" {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{id} never booted");
}

async fn open_transaction(api: &Api) -> i64 {
    for _ in 0..100 {
        let txs = api.get("/api/v1/stations/SIM-0001/transactions").await;
        if let Some(t) = txs.as_array().unwrap().iter().find(|t| t["stop_timestamp"].is_null()) {
            return t["id"].as_i64().unwrap();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("remote start never became a transaction");
}

#[tokio::test(flavor = "multi_thread")]
async fn every_central_system_operation_against_the_simulator() {
    let s = start("sim-commands").await;
    let api = Api::new(&s);
    register(&api, &["SIM-0001"]).await;
    let (stop, sim) = spawn_sim(sim_config(s.ocpp_url(), 1));
    wait_connected(&api, "SIM-0001").await;
    let base = s.http_url();
    let soon = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let profile = json!({"chargingProfileId": 1, "stackLevel": 0, "chargingProfilePurpose": "TxDefaultProfile",
        "chargingProfileKind": "Absolute", "chargingSchedule": {"chargingRateUnit": "W", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 7400.0}]}});

    assert_eq!(
        command(&api, "ChangeConfiguration", json!({"key": "MeterValueSampleInterval", "value": "30"})).await["status"],
        "Accepted"
    );
    let conf = command(&api, "GetConfiguration", json!({"key": ["MeterValueSampleInterval"]})).await;
    assert_eq!(conf["configurationKey"][0]["value"], "30");
    assert_eq!(command(&api, "ClearCache", json!({})).await["status"], "Accepted");
    assert_eq!(
        command(&api, "DataTransfer", json!({"vendorId": "chargewatch-sim", "messageId": "echo", "data": "hi"})).await
            ["data"],
        "hi"
    );
    assert_eq!(
        command(
            &api,
            "SendLocalList",
            json!({"listVersion": 4, "updateType": "Full",
        "localAuthorizationList": [{"idTag": "LOCAL-1", "idTagInfo": {"status": "Accepted"}}]})
        )
        .await["status"],
        "Accepted"
    );
    assert_eq!(command(&api, "GetLocalListVersion", json!({})).await["listVersion"], 4);
    assert_eq!(
        command(
            &api,
            "ReserveNow",
            json!({"connectorId": 1, "expiryDate": soon, "idTag": "SIM-TAG-2", "reservationId": 5})
        )
        .await["status"],
        "Accepted"
    );
    assert_eq!(command(&api, "CancelReservation", json!({"reservationId": 5})).await["status"], "Accepted");
    assert_eq!(
        command(&api, "SetChargingProfile", json!({"connectorId": 1, "csChargingProfiles": profile})).await["status"],
        "Accepted"
    );
    let composite =
        command(&api, "GetCompositeSchedule", json!({"connectorId": 1, "duration": 3600, "chargingRateUnit": "W"}))
            .await;
    assert_eq!(composite["status"], "Accepted");
    assert_eq!(command(&api, "ClearChargingProfile", json!({"id": 1})).await["status"], "Accepted");
    assert_eq!(
        command(&api, "TriggerMessage", json!({"requestedMessage": "StatusNotification", "connectorId": 1})).await
            ["status"],
        "Accepted"
    );
    assert_eq!(
        command(&api, "RemoteStartTransaction", json!({"connectorId": 2, "idTag": "SIM-TAG-1"})).await["status"],
        "Accepted"
    );
    let tx = open_transaction(&api).await;
    assert_eq!(command(&api, "RemoteStopTransaction", json!({"transactionId": tx})).await["status"], "Accepted");
    assert_eq!(command(&api, "UnlockConnector", json!({"connectorId": 1})).await["status"], "Unlocked");
    assert_eq!(
        command(&api, "ChangeAvailability", json!({"connectorId": 1, "type": "Inoperative"})).await["status"],
        "Accepted"
    );
    let diag = command(&api, "GetDiagnostics", json!({"location": format!("{base}/files/diagnostics/SIM-0001")})).await;
    assert!(diag["fileName"].is_string(), "{diag}");
    let fw = command(&api, "UpdateFirmware", json!({"location": format!("{base}/files/firmware/fw-2.0.bin"), "retrieveDate": chrono::Utc::now().to_rfc3339()})).await;
    assert_eq!(fw, json!({}));
    assert_eq!(command(&api, "Reset", json!({"type": "Soft"})).await["status"], "Accepted");

    // The station acted on them: the stop happened, and the log shows every exchange.
    let rows = api.logs_until("station_id=SIM-0001&action=StopTransaction&direction=in", |i| !i.is_empty()).await;
    assert_eq!(rows[0]["payload"]["reason"], "Remote");
    for action in [
        "ChangeConfiguration",
        "GetConfiguration",
        "ClearCache",
        "DataTransfer",
        "SendLocalList",
        "GetLocalListVersion",
        "ReserveNow",
        "CancelReservation",
        "SetChargingProfile",
        "GetCompositeSchedule",
        "ClearChargingProfile",
        "TriggerMessage",
        "RemoteStartTransaction",
        "RemoteStopTransaction",
        "UnlockConnector",
        "ChangeAvailability",
        "GetDiagnostics",
        "UpdateFirmware",
        "Reset",
    ] {
        let rows = api
            .logs_until(&format!("station_id=SIM-0001&action={action}&direction=out&message_type=CALL"), |i| {
                !i.is_empty()
            })
            .await;
        assert!(rows[0]["validation_error"].is_null(), "{action}");
        api.logs_until(&format!("station_id=SIM-0001&action={action}&message_type=CALLRESULT"), |i| !i.is_empty())
            .await;
    }
    let _ = stop.send(());
    let summary = sim.await.unwrap();
    assert_eq!(summary.protocol_errors, 0, "{summary}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn compressed_time_run_has_no_protocol_errors() {
    let s = start("sim-run").await;
    let api = Api::new(&s);
    let ids = ["SIM-0001", "SIM-0002", "SIM-0003"];
    register(&api, &ids).await;
    let config = SimConfig {
        transaction_interval: Duration::from_secs(120),
        transaction_duration: Duration::from_secs(300),
        meter_interval: Duration::from_secs(30),
        fault_probability: 0.02,
        time_scale: 60.0,
        duration: Some(Duration::from_secs(15)),
        ..sim_config(s.ocpp_url(), 3)
    };
    let summary = chargewatch_sim::run(config, std::future::pending()).await;
    assert_eq!(
        (summary.protocol_errors, summary.call_errors_received, summary.timeouts, summary.connect_failures),
        (0, 0, 0, 0),
        "{summary}"
    );
    assert!(summary.transactions_completed > 0, "{summary}");
    let stats = api.get("/api/v1/logs/stats").await;
    assert_eq!(stats["pipeline"]["records_dropped"], 0);
    let errors = api.get("/api/v1/logs?message_type=CALLERROR").await;
    assert!(errors["items"].as_array().unwrap().is_empty(), "{errors}");
    let invalid: Vec<Value> = api.get("/api/v1/logs?limit=1000").await["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| !r["validation_error"].is_null())
        .cloned()
        .collect();
    assert!(invalid.is_empty(), "{invalid:?}");
    s.stop().await;
}
