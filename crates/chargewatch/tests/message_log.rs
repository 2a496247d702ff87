//! The OCPP message log end to end: levels and their live changes, the per-station
//! override, ring-buffer backfill, columns, filters through the API, live tail, export.

mod common;
use common::*;
use futures_util::StreamExt;
use serde_json::{json, Value};
use std::time::Duration;

fn actions(rows: &[Value]) -> Vec<String> {
    rows.iter()
        .map(|r| format!("{} {}", r["action"].as_str().unwrap_or("-"), r["message_type"].as_str().unwrap_or("-")))
        .collect()
}

async fn heartbeat_and_status(cp: &mut Station, n: i64) {
    cp.ok("Heartbeat", json!({})).await;
    cp.ok("StatusNotification", json!({"connectorId": n, "status": "Available", "errorCode": "NoError"})).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn each_level_and_each_change_while_connected() {
    let s = start("levels").await;
    let api = Api::new(&s);
    api.site_with("lv", "none", &["CP-L"]).await;
    let mut cp = connect(&s, "CP-L").await;
    cp.boot().await;
    heartbeat_and_status(&mut cp, 1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let none = api.get("/api/v1/logs?station_id=CP-L").await;
    assert_eq!(none["items"].as_array().unwrap().len(), 0, "level none keeps nothing: {}", none);

    api.patch("/api/v1/sites/lv", json!({"log_level": "info"})).await;
    heartbeat_and_status(&mut cp, 2).await;
    let rows = api.logs_until("station_id=CP-L&connector_id=2", |i| i.len() == 2).await;
    assert_eq!(actions(&rows), ["StatusNotification CALLRESULT", "StatusNotification CALL"]);
    // Raising the level wrote what `none` held back in the ring buffer, at its own time.
    let held = api.logs_until("station_id=CP-L&connector_id=1", |i| i.len() == 2).await;
    assert!(held[0]["timestamp"].as_str() <= rows[1]["timestamp"].as_str());
    let all = api.get("/api/v1/logs?station_id=CP-L&action=Heartbeat").await;
    assert!(all["items"].as_array().unwrap().is_empty(), "info keeps no Heartbeat");

    api.patch("/api/v1/sites/lv", json!({"log_level": "debug"})).await;
    heartbeat_and_status(&mut cp, 3).await;
    // Debug keeps the new Heartbeats and backfills the two rounds held back before.
    api.logs_until("station_id=CP-L&action=Heartbeat", |i| i.len() == 6).await;
    let row = &api.logs_until("station_id=CP-L&connector_id=3&direction=in", |i| i.len() == 1).await[0];
    assert_eq!(row["site_name"], "Site lv");
    assert_eq!(row["level"], "info");

    api.patch("/api/v1/sites/lv", json!({"name": "Renamed", "log_level": "info"})).await;
    heartbeat_and_status(&mut cp, 4).await;
    let renamed = api.logs_until("station_id=CP-L&connector_id=4&direction=in", |i| i.len() == 1).await;
    assert_eq!(renamed[0]["site_name"], "Renamed");
    let old = api.get("/api/v1/logs?station_id=CP-L&connector_id=3&direction=in").await;
    assert_eq!(old["items"][0]["site_name"], "Site lv", "history is not rewritten");
    let hb = api.get("/api/v1/logs?station_id=CP-L&action=Heartbeat").await;
    assert_eq!(hb["items"].as_array().unwrap().len(), 6, "back at info: no new Heartbeat rows");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn station_override_and_ring_buffer_backfill() {
    let s = start("override").await;
    let api = Api::new(&s);
    api.site_with("ov", "info", &["CP-O", "CP-OTHER"]).await;
    let mut cp = connect(&s, "CP-O").await;
    cp.boot().await;
    let mv = json!({"connectorId": 1, "meterValue": [{"timestamp": now(), "sampledValue": [{"value": "42"}]}]});
    cp.ok("MeterValues", mv.clone()).await;
    cp.ok("StatusNotification", json!({"connectorId": 1, "status": "Faulted", "errorCode": "HighTemperature"})).await;
    api.logs_until("station_id=CP-O&status=Faulted", |i| i.len() == 1).await;
    assert!(api.get("/api/v1/logs?station_id=CP-O&action=MeterValues").await["items"].as_array().unwrap().is_empty());

    let (st, v) = api.put("/api/v1/stations/CP-O/log-level", json!({"level": "debug", "minutes": 120})).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["effective_log_level"], "debug");
    assert_eq!(api.get("/api/v1/stations/CP-OTHER").await["effective_log_level"], "info", "override is per station");
    // The MeterValues the info level filtered out before the fault are backfilled.
    let rows = api.logs_until("station_id=CP-O&action=MeterValues", |i| i.len() == 2).await;
    let fault = api.get("/api/v1/logs?station_id=CP-O&status=Faulted").await;
    assert!(rows[0]["timestamp"].as_str() <= fault["items"][0]["timestamp"].as_str(), "original timestamps kept");
    cp.ok("Heartbeat", json!({})).await;
    api.logs_until("station_id=CP-O&action=Heartbeat", |i| i.len() == 2).await;

    let (st, v) =
        api.put("/api/v1/stations/CP-O/log-level", json!({"level": "debug", "until": "2001-01-01T00:00:00Z"})).await;
    assert_eq!(st, 400, "{v}");
    let (st, _) = api.send(reqwest::Method::DELETE, "/api/v1/stations/CP-O/log-level", None).await;
    assert_eq!(st, 200);
    assert_eq!(api.get("/api/v1/stations/CP-O").await["effective_log_level"], "info");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn what_happened_on_connector_2_between_two_times() {
    let s = start("question").await;
    let api = Api::new(&s);
    api.site_with("q", "info", &["X"]).await;
    api.put("/api/v1/id-tags/T", json!({"status": "Accepted"})).await;
    let mut cp = connect(&s, "X").await;
    cp.boot().await;
    let from = now();
    cp.ok("StatusNotification", json!({"connectorId": 2, "status": "Preparing", "errorCode": "NoError"})).await;
    let tx =
        cp.ok("StartTransaction", json!({"connectorId": 2, "idTag": "T", "meterStart": 0, "timestamp": now()})).await;
    cp.ok("StatusNotification", json!({"connectorId": 1, "status": "Available", "errorCode": "NoError"})).await;
    cp.ok("StatusNotification", json!({"connectorId": 2, "status": "Faulted", "errorCode": "GroundFailure"})).await;
    cp.ok(
        "StopTransaction",
        json!({"transactionId": tx["transactionId"], "meterStop": 10, "timestamp": now(), "reason": "EmergencyStop"}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    let to = now();
    let q = format!("station_id=X&connector_id=2&from={}&to={}", urlenc(&from), urlenc(&to));
    let rows = api.logs_until(&q, |i| i.len() == 8).await;
    assert_eq!(
        actions(&rows),
        [
            "StopTransaction CALLRESULT",
            "StopTransaction CALL",
            "StatusNotification CALLRESULT",
            "StatusNotification CALL",
            "StartTransaction CALLRESULT",
            "StartTransaction CALL",
            "StatusNotification CALLRESULT",
            "StatusNotification CALL",
        ]
    );
    assert_eq!((rows[3]["status"].as_str(), rows[3]["error_code"].as_str()), (Some("Faulted"), Some("GroundFailure")));
    assert_eq!(rows[4]["status"], "Accepted", "StartTransaction.conf status is idTagInfo.status");
    assert_eq!(rows[1]["connector_id"], 2, "StopTransaction's connector is its transaction's");
    assert!(rows[4]["latency_ms"].is_number());
    assert_eq!(rows[1]["payload"]["reason"], "EmergencyStop", "exact payload");

    // Filters combine; bad filters are 400 with a message.
    let faults =
        api.get("/api/v1/logs?error_code=GroundFailure&direction=in&action=StatusNotification&action=Heartbeat").await;
    assert_eq!(faults["items"].as_array().unwrap().len(), 1);
    let text = api.get("/api/v1/logs?q=emergencystop").await;
    assert_eq!(text["items"].as_array().unwrap().len(), 1, "q is case-insensitive text in the payload");
    for bad in [
        "connector_id=two",
        "direction=sideways",
        "from=yesterday",
        "limit=5000",
        "cursor=zzz",
        "colour=red",
        "message_type=PING",
    ] {
        let (st, body) = api.send(reqwest::Method::GET, &format!("/api/v1/logs?{bad}"), None).await;
        assert_eq!(st, 400, "{bad}: {body}");
        assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()), "{bad}: {body}");
    }
    // Paging: two rows at a time reaches every row exactly once.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let c = cursor.as_ref().map(|c| format!("&cursor={c}")).unwrap_or_default();
        let page = api.get(&format!("/api/v1/logs?{q}&limit=2{c}")).await;
        seen.extend(page["items"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap().to_string()));
        match page["next"].as_str() {
            Some(n) => cursor = Some(n.to_string()),
            None => break,
        }
    }
    assert_eq!(seen, rows.iter().map(|r| r["id"].as_str().unwrap().to_string()).collect::<Vec<_>>());
    s.stop().await;
}

fn urlenc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn live_tail_streams_new_rows_with_the_same_filters() {
    let s = start("tail").await;
    let api = Api::new(&s);
    api.site_with("t", "debug", &["CP-T", "CP-U"]).await;
    let resp = api
        .http
        .get(format!("{}/api/v1/logs/stream?station_id=CP-T&action=Heartbeat", api.base))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let mut body = resp.bytes_stream();
    let mut u = connect(&s, "CP-U").await;
    u.boot().await;
    u.ok("Heartbeat", json!({})).await;
    let mut t = connect(&s, "CP-T").await;
    t.boot().await;
    t.ok("Heartbeat", json!({})).await;
    let mut text = String::new();
    let got = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(chunk) = body.next().await {
            text.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
            if text.matches("event: log").count() >= 2 {
                return;
            }
        }
    })
    .await;
    assert!(got.is_ok(), "tail delivered: {text}");
    assert!(!text.contains("CP-U"), "filtered by station");
    assert!(!text.contains("BootNotification"), "filtered by action");
    let (st, _) = api.send(reqwest::Method::GET, "/api/v1/logs/stream?direction=up", None).await;
    assert_eq!(st, 400);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn export_as_csv_and_ndjson() {
    let s = start("export").await;
    let api = Api::new(&s);
    api.site_with("e", "debug", &["CP-E"]).await;
    let mut cp = connect(&s, "CP-E").await;
    cp.boot().await;
    cp.ok("DataTransfer", json!({"vendorId": "v", "data": "a,b \"quoted\"\nline"})).await;
    api.logs_until("station_id=CP-E&action=DataTransfer", |i| i.len() == 2).await;
    let get = |fmt: &str| {
        let url = format!("{}/api/v1/logs/export?format={fmt}&station_id=CP-E", api.base);
        let http = api.http.clone();
        async move { http.get(url).bearer_auth(TOKEN).send().await.unwrap() }
    };
    let csv = get("csv").await;
    assert!(csv.headers()["content-disposition"].to_str().unwrap().contains(".csv"));
    let csv = csv.text().await.unwrap();
    assert!(csv.starts_with("timestamp,action,station_id,connector_id,status,error_code,site_name"));
    assert!(csv.contains("\"{\"\"data\"\":\"\"a,b \\\"\"quoted\\\"\"\\nline\"\""), "CSV quoting: {csv}");
    let nd = get("ndjson").await.text().await.unwrap();
    let lines: Vec<Value> = nd.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 5, "Connected, Boot x2, DataTransfer x2: {nd}");
    assert!(lines.iter().all(|l| l["station_id"] == "CP-E"));
    let (st, _) = api.send(reqwest::Method::GET, "/api/v1/logs/export?format=xml", None).await;
    assert_eq!(st, 400);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn api_errors_are_json_and_need_the_token() {
    let s = start("api-errors").await;
    let api = Api::new(&s);
    let r = api.http.get(format!("{}/api/v1/sites", api.base)).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "unauthorized");
    let r = api.http.get(format!("{}/api/v1/sites", api.base)).bearer_auth("wrong-token").send().await.unwrap();
    assert_eq!(r.status(), 401);
    let (st, v) = api.post("/api/v1/sites", json!({"id": "a b", "name": "x"})).await;
    assert_eq!((st, v["error"].as_str()), (400, Some("bad_request")));
    let (st, _) = api.post("/api/v1/sites", json!({"id": "ok", "name": "x", "log_level": "verbose"})).await;
    assert_eq!(st, 400);
    let (st, v) = api.post("/api/v1/sites", json!({"name": "missing id"})).await;
    assert_eq!(st, 400, "{v}");
    api.site_with("dup", "info", &[]).await;
    let (st, _) = api.post("/api/v1/sites", json!({"id": "dup", "name": "again"})).await;
    assert_eq!(st, 409);
    let (st, _) = api.put("/api/v1/stations/CP", json!({"site_id": "nowhere"})).await;
    assert_eq!(st, 404);
    let (st, _) = api.send(reqwest::Method::GET, "/api/v1/nothing", None).await;
    assert_eq!(st, 404);
    let doc = api.get("/api/openapi.json").await;
    for path in [
        "/api/v1/sites",
        "/api/v1/logs",
        "/api/v1/logs/stream",
        "/api/v1/logs/export",
        "/api/v1/stations/{id}/commands/{action}",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} documented");
    }
    let health: Value = api.http.get(format!("{}/health", api.base)).send().await.unwrap().json().await.unwrap();
    assert_eq!(health["status"], "ok");
    let metrics = api.http.get(format!("{}/metrics", api.base)).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("chargewatch_records_dropped 0"));
    assert!(
        metrics.contains("chargewatch_charger_auth_refused 0")
            && metrics.contains("chargewatch_ocpp_handshake_timeouts 0")
    );
    s.stop().await;
}
