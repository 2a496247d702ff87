//! Operators see and act on only their client's sites and stations; tokens can be
//! revoked; who changed what is audited; masked id tags never reach the log.

mod common;
use common::*;
use futures_util::StreamExt;
use serde_json::{json, Value};
use std::time::Duration;

struct As {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl As {
    async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.base)).bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        self.send(reqwest::Method::GET, path, None).await
    }
}

async fn login(api: &Api, user: &str, password: &str) -> As {
    let resp = api
        .http
        .post(format!("{}/api/v1/auth/login", api.base))
        .json(&json!({"username": user, "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    As { base: api.base.clone(), token: v["token"].as_str().unwrap().to_string(), http: api.http.clone() }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_operator_never_sees_another_clients_data() {
    let s = start("tenants").await;
    let api = Api::new(&s);
    for (c, site, station) in [("client-a", "site-a", "SA"), ("client-b", "site-b", "SB")] {
        assert_eq!(api.post("/api/v1/clients", json!({"id": c, "name": c})).await.0, 201);
        let (st, v) =
            api.post("/api/v1/sites", json!({"id": site, "name": site, "client_id": c, "log_level": "debug"})).await;
        assert_eq!(st, 201, "{v}");
        api.put(&format!("/api/v1/stations/{station}"), json!({"site_id": site})).await;
        let (st, v) = api.post("/api/v1/users", json!({"username": format!("op-{c}"), "password": "correct horse battery", "role": "operator", "client_id": c})).await;
        assert_eq!(st, 201, "{v}");
    }
    api.put("/api/v1/id-tags/TAG-B", json!({"status": "Accepted"})).await;
    let mut sb = connect(&s, "SB").await;
    sb.boot().await;
    let tx = sb
        .ok("StartTransaction", json!({"connectorId": 1, "idTag": "TAG-B", "meterStart": 0, "timestamp": now()}))
        .await;
    let mut sa = connect(&s, "SA").await;
    sa.boot().await;
    api.logs_until("station_id=SB&action=StartTransaction", |i| i.len() == 2).await;
    api.logs_until("station_id=SA&action=BootNotification", |i| i.len() == 2).await;

    let bad = api
        .http
        .post(format!("{}/api/v1/auth/login", api.base))
        .json(&json!({"username": "op-client-a", "password": "wrong"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 401);
    let a = login(&api, "op-client-a", "correct horse battery").await;

    let (_, sites) = a.get("/api/v1/sites").await;
    assert_eq!(sites.as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap()).collect::<Vec<_>>(), ["site-a"]);
    let (_, stations) = a.get("/api/v1/stations").await;
    assert_eq!(stations.as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap()).collect::<Vec<_>>(), ["SA"]);
    let tx_id = tx["transactionId"].as_i64().unwrap();
    for path in [
        "/api/v1/sites/site-b".to_string(),
        "/api/v1/stations/SB".into(),
        "/api/v1/stations/SB/transactions".into(),
        "/api/v1/stations/SB/status-history".into(),
        "/api/v1/stations/SB/commands".into(),
        format!("/api/v1/transactions/{tx_id}"),
    ] {
        let (st, body) = a.get(&path).await;
        assert_eq!(st, 404, "{path}: {body}");
        assert!(!body.to_string().contains("client-b"), "{path} leaks: {body}");
    }
    for (method, path, body) in [
        (reqwest::Method::PATCH, "/api/v1/sites/site-b", json!({"log_level": "none"})),
        (reqwest::Method::PUT, "/api/v1/stations/SB/log-level", json!({"level": "debug", "minutes": 5})),
        (reqwest::Method::DELETE, "/api/v1/stations/SB/log-level", json!({})),
        (reqwest::Method::POST, "/api/v1/stations/SB/commands/ClearCache", json!({})),
    ] {
        let (st, _) = a.send(method.clone(), path, Some(body)).await;
        assert_eq!(st, 404, "{method} {path}");
    }
    let (st, _) = a.send(reqwest::Method::PUT, "/api/v1/stations/SB", Some(json!({"site_id": "site-a"}))).await;
    assert_eq!(st, 403, "cannot take another client's station");
    let (st, _) = a.send(reqwest::Method::PUT, "/api/v1/stations/SX", Some(json!({"site_id": "site-b"}))).await;
    assert_eq!(st, 404, "cannot register onto another client's site");
    for admin_only in ["/api/v1/id-tags", "/api/v1/users", "/api/v1/clients", "/api/v1/logs/stats"] {
        assert_eq!(a.get(admin_only).await.0, 403, "{admin_only}");
    }
    // Every log filter that would reveal client B's rows comes back empty.
    for q in [
        "",
        "site_id=site-b",
        "station_id=SB",
        "action=StartTransaction",
        "q=TAG-B",
        "site_id=site-a&site_id=site-b",
        "status=Accepted",
    ] {
        let (st, v) = a.get(&format!("/api/v1/logs?limit=1000&{q}")).await;
        assert_eq!(st, 200);
        assert!(v["items"].as_array().unwrap().iter().all(|r| r["station_id"] == "SA"), "{q}: {v}");
    }
    for fmt in ["csv", "ndjson"] {
        let (_, body) = a.get(&format!("/api/v1/logs/export?format={fmt}")).await;
        let text = body.as_str().map(str::to_string).unwrap_or(body.to_string());
        assert!(text.contains("SA") && !text.contains("SB"), "{fmt}: {text}");
    }
    // The live tail, asked for B's station, stays silent while B talks.
    let resp =
        a.http.get(format!("{}/api/v1/logs/stream?station_id=SB", a.base)).bearer_auth(&a.token).send().await.unwrap();
    let mut body = resp.bytes_stream();
    sb.ok("Heartbeat", json!({})).await;
    api.logs_until("station_id=SB&action=Heartbeat", |i| i.len() == 2).await;
    let got = tokio::time::timeout(Duration::from_millis(700), async {
        loop {
            match body.next().await {
                Some(Ok(chunk)) if String::from_utf8_lossy(&chunk).contains("event: log") => return true,
                Some(Ok(_)) => {}
                _ => return false,
            }
        }
    })
    .await;
    assert!(!matches!(got, Ok(true)), "tail leaked B's frames");

    // Own site: works, audited, visible in the operator's audit view.
    assert_eq!(a.send(reqwest::Method::PATCH, "/api/v1/sites/site-a", Some(json!({"log_level": "info"}))).await.0, 200);
    let (_, audit) = a.get("/api/v1/audit").await;
    let entries = audit.as_array().unwrap();
    assert!(entries.iter().any(|e| e["action"] == "site.update" && e["actor"] == "op-client-a"), "{audit}");
    assert!(entries.iter().all(|e| e["client_id"] == "client-a"), "only own client's audit: {audit}");
    let all = api.get("/api/v1/audit").await;
    assert!(all.as_array().unwrap().iter().any(|e| e["action"] == "client.create" && e["actor"] == "admin"));

    // Revocation: signed out, the token stops working.
    assert_eq!(a.send(reqwest::Method::POST, "/api/v1/auth/logout", None).await.0, 204);
    assert_eq!(a.get("/api/v1/sites").await.0, 401);
    drop((sa, sb));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn masked_id_tags_never_reach_the_store_api_or_exports() {
    let s = start("masking").await;
    let api = Api::new(&s);
    let (st, _) = api
        .post("/api/v1/sites", json!({"id": "priv", "name": "Private", "log_level": "debug", "mask_id_tags": true}))
        .await;
    assert_eq!(st, 201);
    api.put("/api/v1/stations/CP-M", json!({"site_id": "priv"})).await;
    api.put("/api/v1/id-tags/SECRETTAG1", json!({"status": "Accepted"})).await;
    let mut cp = connect(&s, "CP-M").await;
    cp.boot().await;
    assert_eq!(
        cp.ok("Authorize", json!({"idTag": "SECRETTAG1"})).await["idTagInfo"]["status"],
        "Accepted",
        "masking is for the log only"
    );
    cp.ok("StartTransaction", json!({"connectorId": 1, "idTag": "SECRETTAG1", "meterStart": 0, "timestamp": now()}))
        .await;
    let rows = api.logs_until("station_id=CP-M&action=Authorize", |i| i.len() == 2).await;
    let masked =
        rows.iter().find(|r| r["direction"] == "in").unwrap()["payload"]["idTag"].as_str().unwrap().to_string();
    assert!(masked.starts_with("SE…") && !masked.contains("SECRETTAG1"), "{masked}");
    let start = api.logs_until("station_id=CP-M&action=StartTransaction&direction=in", |i| i.len() == 1).await;
    assert_eq!(start[0]["payload"]["idTag"], masked.as_str(), "the same tag masks the same way: it can be followed");
    for fmt in ["csv", "ndjson"] {
        let text = api
            .http
            .get(format!("{}/api/v1/logs/export?format={fmt}", api.base))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(!text.contains("SECRETTAG1") && text.contains(&masked), "{fmt}");
    }
    assert!(api.get("/api/v1/logs?q=SECRETTAG1").await["items"].as_array().unwrap().is_empty());
    // The store itself holds only the masked form.
    let q = chargewatch_logstore::LogQuery { limit: 1000, ..Default::default() };
    let stored = s.log_store.query(&q).await.unwrap();
    assert!(!stored.items.is_empty());
    assert!(stored.items.iter().all(|r| !r.raw.contains("SECRETTAG1")));
    drop(cp);
    s.stop().await;
}
