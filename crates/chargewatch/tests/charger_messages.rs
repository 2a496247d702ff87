//! Every charger-initiated action end to end over a real WebSocket, with lasting effect.

mod common;
use common::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn every_charger_initiated_action_is_answered_and_kept() {
    let s = start("charger-actions").await;
    let api = Api::new(&s);
    api.site_with("s1", "info", &["CP-1"]).await;
    api.put("/api/v1/id-tags/TAG-OK", json!({"status": "Accepted", "parent_id_tag": "FLEET"})).await;
    api.put("/api/v1/id-tags/TAG-BLOCKED", json!({"status": "Blocked"})).await;
    api.put("/api/v1/id-tags/TAG-OLD", json!({"status": "Accepted", "expiry_date": "2020-01-01T00:00:00Z"})).await;
    let mut cp = connect(&s, "CP-1").await;

    let boot = cp.boot().await;
    assert_eq!(boot["status"], "Accepted");
    assert_eq!(boot["interval"], 300);
    assert!(cp.ok("Heartbeat", json!({})).await["currentTime"].is_string());
    let st = json!({"connectorId": 2, "status": "Faulted", "errorCode": "GroundFailure", "info": "RCD tripped",
        "vendorId": "ACME", "vendorErrorCode": "E42", "timestamp": now()});
    assert_eq!(cp.ok("StatusNotification", st).await, json!({}));

    let auth = |tag: &str| json!({"idTag": tag});
    let ok = cp.ok("Authorize", auth("TAG-OK")).await;
    assert_eq!(ok["idTagInfo"]["status"], "Accepted");
    assert_eq!(ok["idTagInfo"]["parentIdTag"], "FLEET");
    assert_eq!(cp.ok("Authorize", auth("TAG-BLOCKED")).await["idTagInfo"]["status"], "Blocked");
    assert_eq!(cp.ok("Authorize", auth("TAG-OLD")).await["idTagInfo"]["status"], "Expired");
    assert_eq!(cp.ok("Authorize", auth("NOBODY")).await["idTagInfo"]["status"], "Invalid", "unknown tags are Invalid");

    let start =
        json!({"connectorId": 1, "idTag": "TAG-OK", "meterStart": 1000, "timestamp": now(), "reservationId": 7});
    let started = cp.ok("StartTransaction", start).await;
    let tx = started["transactionId"].as_i64().unwrap();
    assert_eq!(started["idTagInfo"]["status"], "Accepted");
    let again = json!({"connectorId": 2, "idTag": "TAG-OK", "meterStart": 0, "timestamp": now()});
    let second = cp.ok("StartTransaction", again).await;
    assert_eq!(second["idTagInfo"]["status"], "ConcurrentTx");
    assert_ne!(second["transactionId"], started["transactionId"], "transaction ids are unique");

    let mv = json!({"connectorId": 1, "transactionId": tx, "meterValue": [{"timestamp": now(), "sampledValue": [
        {"value": "1500", "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
        {"value": "7200", "measurand": "Power.Active.Import", "unit": "W"}]}]});
    assert_eq!(cp.ok("MeterValues", mv).await, json!({}));
    let stop = json!({"transactionId": tx, "idTag": "TAG-OK", "meterStop": 2500, "timestamp": now(), "reason": "EVDisconnected",
        "transactionData": [{"timestamp": now(), "sampledValue": [{"value": "2500"}]}]});
    assert_eq!(cp.ok("StopTransaction", stop).await["idTagInfo"]["status"], "Accepted");

    let dt = cp.ok("DataTransfer", json!({"vendorId": "com.example", "messageId": "x", "data": "hello"})).await;
    assert_eq!(dt["status"], "UnknownVendorId");
    assert_eq!(cp.ok("DiagnosticsStatusNotification", json!({"status": "Uploaded"})).await, json!({}));
    assert_eq!(cp.ok("FirmwareStatusNotification", json!({"status": "Installed"})).await, json!({}));

    let station = api.get("/api/v1/stations/CP-1").await;
    assert_eq!(station["connected"], true);
    assert_eq!(station["vendor"], "TestVendor");
    assert_eq!(station["firmware_version"], "1.0");
    assert_eq!(station["diagnostics_status"], "Uploaded");
    assert_eq!(station["firmware_status"], "Installed");
    assert!(station["last_heartbeat_at"].is_string());
    let c2 = &station["connectors"][0];
    assert_eq!(
        (c2["connector_id"].as_i64(), c2["status"].as_str(), c2["error_code"].as_str()),
        (Some(2), Some("Faulted"), Some("GroundFailure"))
    );
    assert_eq!(
        (c2["info"].as_str(), c2["vendor_id"].as_str(), c2["vendor_error_code"].as_str()),
        (Some("RCD tripped"), Some("ACME"), Some("E42"))
    );

    let t = api.get(&format!("/api/v1/transactions/{tx}")).await;
    assert_eq!(
        (t["meter_start"].as_i64(), t["meter_stop"].as_i64(), t["energy_wh"].as_i64()),
        (Some(1000), Some(2500), Some(1500))
    );
    assert_eq!(t["reservation_id"], 7);
    assert_eq!(t["stop_reason"], "EVDisconnected");
    assert!(t["transaction_data"].is_array(), "transactionData kept");
    assert_eq!(t["meter_values"].as_array().unwrap().len(), 2, "MeterValues and transactionData kept per transaction");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_stations_are_refused_until_registered_or_let_in_by_flag() {
    let s = start("unknown-stations").await;
    let api = Api::new(&s);
    let mut cp = connect(&s, "STRANGER").await;
    assert_eq!(cp.boot().await["status"], "Rejected");
    let hb = cp.call("Heartbeat", json!({})).await;
    assert_eq!(
        (hb[0].as_i64(), hb[2].as_str()),
        (Some(4), Some("SecurityError")),
        "a refused station's other calls: {hb}"
    );
    let listed = api.get("/api/v1/stations/STRANGER").await;
    assert_eq!(listed["registered"], false, "the attempt is visible to operators");
    api.put("/api/v1/stations/STRANGER", json!({"site_id": null})).await;
    assert_eq!(cp.boot().await["status"], "Accepted");
    s.stop().await;

    let open = start_with("accept-unknown", |a| a.accept_unknown_stations = true).await;
    let mut cp = connect(&open, "NEWBIE").await;
    assert_eq!(cp.boot().await["status"], "Accepted");
    assert!(cp.ok("Heartbeat", json!({})).await["currentTime"].is_string());
    open.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn state_written_before_a_restart_is_there_after_it() {
    let dir = temp_dir("restart");
    let args = chargewatch::config::ServeArgs::for_test(dir.clone(), TOKEN);
    let s = chargewatch::server::start(args.clone()).await.unwrap();
    let api = Api::new(&s);
    api.site_with("depot", "debug", &["CP-R"]).await;
    api.put("/api/v1/id-tags/T1", json!({"status": "Accepted"})).await;
    let mut cp = connect(&s, "CP-R").await;
    cp.boot().await;
    cp.ok("StatusNotification", json!({"connectorId": 1, "status": "Charging", "errorCode": "NoError"})).await;
    let tx =
        cp.ok("StartTransaction", json!({"connectorId": 1, "idTag": "T1", "meterStart": 5, "timestamp": now()})).await;
    api.logs_until("station_id=CP-R&action=StartTransaction", |i| i.len() == 2).await;
    drop(cp);
    s.stop().await;

    let s = chargewatch::server::start(args).await.unwrap();
    let api = Api::new(&s);
    assert_eq!(api.get("/api/v1/sites/depot").await["log_level"], "debug");
    let st = api.get("/api/v1/stations/CP-R").await;
    assert_eq!((st["site_id"].as_str(), st["vendor"].as_str()), (Some("depot"), Some("TestVendor")));
    assert_eq!(st["connectors"][0]["status"], "Charging");
    let t = api.get(&format!("/api/v1/transactions/{}", tx["transactionId"])).await;
    assert_eq!(t["meter_start"], 5);
    let logs = api.get("/api/v1/logs?station_id=CP-R&action=StartTransaction").await;
    assert_eq!(logs["items"].as_array().unwrap().len(), 2, "log records survive the restart");
    let mut cp = connect(&s, "CP-R").await;
    let next =
        cp.ok("StartTransaction", json!({"connectorId": 2, "idTag": "T1", "meterStart": 0, "timestamp": now()})).await;
    assert!(next["transactionId"].as_i64() > tx["transactionId"].as_i64(), "ids keep growing across restarts");
    s.stop().await;
    let _ = std::fs::remove_dir_all(dir);
}

/// A MeterValues the fast path takes (plain), the same one it leaves to the usual decode (a
/// duplicate key, which JSON reads as the last), and a broken one: the first two are kept
/// alike, with the same log columns; the third gets the validator's CALLERROR.
#[tokio::test(flavor = "multi_thread")]
async fn meter_values_are_kept_alike_on_the_fast_path_and_the_usual_way() {
    let s = start("meter-values-paths").await;
    let api = Api::new(&s);
    api.site_with("s1", "debug", &["CP-MV"]).await;
    let mut cp = connect(&s, "CP-MV").await;
    cp.boot().await;
    let start = json!({"connectorId": 2, "idTag": "T", "meterStart": 0, "timestamp": now()});
    let tx = cp.ok("StartTransaction", start).await["transactionId"].as_i64().unwrap();
    let body = format!(
        r#""transactionId":{tx},"meterValue":[{{"timestamp":"2026-12-05T10:00:00.000Z","sampledValue":[{{"value":"1500","measurand":"Energy.Active.Import.Register","unit":"Wh","context":"Sample.Periodic"}},{{"value":"16","measurand":"Current.Import","phase":"L1","unit":"A"}}]}}]}}]"#
    );
    let fast = format!(r#"[2,"mv-fast","MeterValues",{{"connectorId":2,{body}"#);
    let usual = format!(r#"[2,"mv-usual","MeterValues",{{"connectorId":1,"connectorId":2,{body}"#);
    for (text, id) in [(&fast, "mv-fast"), (&usual, "mv-usual")] {
        cp.send_text(text).await;
        assert_eq!(cp.recv().await, json!([3, id, {}]), "{text}");
    }
    cp.send_text(&fast.replace("mv-fast", "mv-null").replace(r#""phase":"L1""#, r#""phase":null"#)).await;
    let refused = cp.recv().await;
    assert_eq!(
        (&refused[0], &refused[1], &refused[2]),
        (&json!(4), &json!("mv-null"), &json!("TypeConstraintViolation"))
    );
    assert!(refused[3].as_str().unwrap().contains("meterValue[0].sampledValue[1].phase"), "{refused}");

    let t = api.get(&format!("/api/v1/transactions/{tx}")).await;
    let kept = t["meter_values"].as_array().unwrap();
    assert_eq!(kept.len(), 2, "{t}");
    assert_eq!(kept[0], kept[1], "the same row either way");
    assert_eq!(
        kept[0]["sampled_value"][1],
        json!({"value": "16", "measurand": "Current.Import", "phase": "L1", "unit": "A"})
    );
    let rows = api.logs_until("station_id=CP-MV&action=MeterValues", |i| i.len() == 6).await;
    for row in rows.iter().filter(|r| r["unique_id"] != "mv-null") {
        assert_eq!(row["connector_id"], json!(2), "{row}");
    }
    s.stop().await;
}

/// The status history keeps changes: a StatusNotification that repeats the connector's
/// status and error code adds no row, and each connector's list starts with the change in
/// effect when the window opens.
#[tokio::test(flavor = "multi_thread")]
async fn status_history_keeps_changes_and_the_status_in_effect_at_the_window_start() {
    let s = start("status-history").await;
    let api = Api::new(&s);
    api.site_with("s1", "info", &["CP-H"]).await;
    let mut cp = connect(&s, "CP-H").await;
    cp.boot().await;
    let at = |hours_ago: i64| (chrono::Utc::now() - chrono::Duration::hours(hours_ago)).to_rfc3339();
    let status = |c: i64, status: &str, error: &str, when: String| json!({"connectorId": c, "status": status, "errorCode": error, "timestamp": when});
    for (c, st, err, hours_ago) in [
        (1, "Available", "NoError", 30),
        (1, "Available", "NoError", 28),
        (2, "Faulted", "GroundFailure", 26),
        (1, "Charging", "NoError", 5),
        (1, "Charging", "NoError", 4),
        (1, "Charging", "NoError", 3),
        (2, "Faulted", "HighTemperature", 2),
        (1, "Available", "NoError", 1),
    ] {
        assert_eq!(cp.ok("StatusNotification", status(c, st, err, at(hours_ago))).await, json!({}));
    }
    let history = api.get("/api/v1/stations/CP-H/status-history?hours=24").await;
    let seen: Vec<(i64, &str, &str)> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (c["connector_id"].as_i64().unwrap(), c["status"].as_str().unwrap(), c["error_code"].as_str().unwrap())
        })
        .collect();
    assert_eq!(
        seen,
        [
            (1, "Available", "NoError"),
            (2, "Faulted", "GroundFailure"),
            (1, "Charging", "NoError"),
            (2, "Faulted", "HighTemperature"),
            (1, "Available", "NoError"),
        ],
        "repeats are not changes; the first row of each connector is the one in effect 24 hours ago: {history}"
    );
    let first = chrono::DateTime::parse_from_rfc3339(history[0]["at"].as_str().unwrap()).unwrap();
    assert!(chrono::Utc::now() - first.to_utc() > chrono::Duration::hours(29), "the first change, 30 hours ago");
    let station = api.get("/api/v1/stations/CP-H").await;
    assert_eq!(station["connectors"][1]["error_code"], "HighTemperature", "the current status is the last one");
    s.stop().await;
}
