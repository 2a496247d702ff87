//! Charger authentication as a charger sees it (OCPP 1.6 security whitepaper profiles 1–3):
//! wrong password, another station's credentials, no credentials and a wrong client
//! certificate are refused with HTTP 401 before the upgrade and logged as
//! `ConnectionRefused`; the right ones are accepted; failures are rate-limited.

mod common;
mod security_support;
use common::*;
use security_support::*;
use serde_json::json;

const PW_A: &str = "correct-horse-battery-A";
const PW_B: &str = "correct-horse-battery-B";

#[tokio::test(flavor = "multi_thread")]
async fn profile_1_basic_auth_refuses_wrong_missing_and_borrowed_credentials() {
    // A high per-station failure limit: this test makes many failed attempts on purpose.
    let s = start_with("sec-basic", |a| a.security.ocpp_auth_failures_per_station = 100).await;
    let api = Api::new(&s);
    api.site_with("s", "info", &["CP-A", "CP-B", "CP-OPEN"]).await;
    let (st, v) = api.put("/api/v1/stations/CP-A/security", json!({"profile": 1, "password": PW_A})).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!((v["profile"].as_u64(), v["password_set"].as_bool()), (Some(1), Some(true)));
    assert!(!v.to_string().contains(PW_A) && !v.to_string().contains("argon2"), "never returns the password: {v}");
    secure(&api, "CP-B", json!({"profile": 1, "password": PW_B})).await;
    let read = api.get("/api/v1/stations/CP-A/security").await;
    assert!(!read.to_string().contains(PW_A) && !read.to_string().contains("argon2"), "{read}");

    assert_eq!(status_of(connect_basic(&s, "CP-A", None).await), 401, "no credentials");
    assert_eq!(status_of(connect_basic(&s, "CP-A", Some(("CP-A", "wrong-password-123"))).await), 401, "wrong password");
    assert_eq!(status_of(connect_basic(&s, "CP-A", Some(("CP-B", PW_B))).await), 401, "another station's credentials");
    assert_eq!(status_of(connect_basic(&s, "CP-A", Some(("CP-A", PW_B))).await), 401, "another station's password");

    let mut a = connect_basic(&s, "CP-A", Some(("CP-A", PW_A))).await.expect("the right password is accepted");
    heartbeat(&mut a).await;
    let mut b = connect_basic(&s, "CP-B", Some(("CP-B", PW_B))).await.expect("CP-B with its own password");
    heartbeat(&mut b).await;
    // A cached verification does not accept another password.
    assert_eq!(status_of(connect_basic(&s, "CP-A", Some(("CP-A", "wrong-password-456"))).await), 401);
    // Profile 0 (the default) needs nothing; credentials it sends are ignored.
    let mut open = connect_basic(&s, "CP-OPEN", None).await.expect("profile 0 connects without credentials");
    heartbeat(&mut open).await;

    let refused = api
        .logs_until("station_id=CP-A&action=ConnectionRefused", |i| i.len() >= 5)
        .await
        .into_iter()
        .map(|r| r["payload"]["reason"].as_str().unwrap_or_default().to_string())
        .collect::<Vec<_>>();
    assert!(refused.iter().any(|r| r.contains("no HTTP Basic credentials")), "{refused:?}");
    assert!(refused.iter().any(|r| r.contains("wrong password")), "{refused:?}");
    assert!(refused.iter().any(|r| r.contains("user name is not the chargeBoxId")), "{refused:?}");

    // Changing the password takes effect at once, even for a cached verification.
    secure(&api, "CP-A", json!({"profile": 1, "password": "a-brand-new-password"})).await;
    assert_eq!(status_of(connect_basic(&s, "CP-A", Some(("CP-A", PW_A))).await), 401, "old password after a change");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn security_settings_are_validated_and_admin_only() {
    let s = start("sec-api").await;
    let api = Api::new(&s);
    let put = |body: serde_json::Value| api.put("/api/v1/stations/CP-V/security", body);
    assert_eq!(put(json!({"profile": 1, "password": "short"})).await.0, 400, "password under 16 characters");
    assert_eq!(put(json!({"profile": 1, "password": "x".repeat(41)})).await.0, 400, "password over 40 characters");
    assert_eq!(put(json!({"profile": 1})).await.0, 400, "profile 1 without any password");
    assert_eq!(put(json!({"profile": 4})).await.0, 400);
    assert_eq!(put(json!({"profile": 3, "certificate_fingerprint": "abc"})).await.0, 400);
    assert_eq!(put(json!({"profile": 0, "nonsense": 1})).await.0, 400, "unknown fields are refused");
    let (st, v) = put(json!({"profile": 3, "certificate_fingerprint": "AB:".repeat(31) + "AB"})).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["certificate_fingerprint"], "ab".repeat(32), "normalized");
    let (st, v) = put(json!({"profile": 2, "password": "sixteen-chars-ok"})).await;
    assert_eq!((st, v["password_set"].as_bool(), v["certificate_fingerprint"].is_string()), (200, Some(true), true));
    let (st, v) = put(json!({"profile": 0, "password": null, "certificate_fingerprint": null})).await;
    assert_eq!((st, v["password_set"].as_bool(), v["certificate_fingerprint"].is_null()), (200, Some(false), true));
    let resp = api
        .http
        .put(format!("{}/api/v1/stations/CP-V/security", api.base))
        .json(&json!({"profile": 0}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401, "no bearer token");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn failed_attempts_are_rate_limited_per_station_and_per_address() {
    let s = start_with("sec-rate", |a| {
        a.security.ocpp_auth_failures_per_station = 3;
        a.security.ocpp_auth_failures_per_address = 6;
    })
    .await;
    let api = Api::new(&s);
    api.site_with("s", "info", &["CP-R", "CP-OK", "CP-X1", "CP-X2", "CP-X3", "CP-X4"]).await;
    for id in ["CP-R", "CP-OK", "CP-X1", "CP-X2", "CP-X3", "CP-X4"] {
        secure(&api, id, json!({"profile": 1, "password": format!("password-of-{id}")})).await;
    }
    let mut ok = connect_basic(&s, "CP-OK", Some(("CP-OK", "password-of-CP-OK"))).await.unwrap();
    for _ in 0..3 {
        assert_eq!(status_of(connect_basic(&s, "CP-R", Some(("CP-R", "guess-guess-guess"))).await), 401);
    }
    let blocked = connect_basic(&s, "CP-R", Some(("CP-R", "password-of-CP-R"))).await;
    match blocked {
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
            assert_eq!(resp.status().as_u16(), 429, "blocked even with the right password");
            assert!(resp.headers().get("retry-after").is_some());
        }
        other => panic!("expected 429, got {other:?}"),
    }
    // Other stations keep being served, on open and new connections.
    heartbeat(&mut ok).await;
    let mut x1 = connect_basic(&s, "CP-X1", Some(("CP-X1", "password-of-CP-X1"))).await.unwrap();
    heartbeat(&mut x1).await;
    // Per address: failures for many ids from 127.0.0.2 block that address only.
    for id in ["CP-X2", "CP-X3", "CP-X4"] {
        for _ in 0..2 {
            assert_eq!(status_of(connect_from(&s, "127.0.0.2", id, Some((id, "guess-guess-guess"))).await), 401);
        }
    }
    let from_2 = connect_from(&s, "127.0.0.2", "CP-X1", Some(("CP-X1", "password-of-CP-X1"))).await;
    assert_eq!(status_of(from_2), 429, "the address is blocked");
    let mut x2 =
        connect_basic(&s, "CP-X2", Some(("CP-X2", "password-of-CP-X2"))).await.expect("127.0.0.1 still served");
    heartbeat(&mut x2).await;
    heartbeat(&mut ok).await;
    let rows = api.logs_until("station_id=CP-R&action=ConnectionRefused", |i| i.len() >= 4).await;
    assert!(rows[0]["payload"]["reason"].as_str().unwrap().contains("too many failed authentication attempts"));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_profiles_2_and_3_with_client_certificates() {
    let server_ca = Ca::new("Test server CA");
    let client_ca = Ca::new("Test charger CA");
    let other_ca = Ca::new("Someone else's CA");
    let dir = temp_dir("sec-tls-files");
    let files = write_tls_files(&dir, &server_ca.server(), &client_ca);
    let s = start_with("sec-tls", |a| {
        a.security.ocpp_tls_listen = Some("127.0.0.1:0".parse().unwrap());
        a.security.ocpp_tls_cert = Some(files.cert.clone());
        a.security.ocpp_tls_key = Some(files.key.clone());
        a.security.ocpp_tls_client_ca = Some(files.client_ca.clone());
        a.security.ocpp_auth_failures_per_station = 100;
    })
    .await;
    let tls = s.ocpp_tls_addr.expect("TLS endpoint");
    let api = Api::new(&s);
    api.site_with("s", "info", &["P2", "P3", "P3-OTHER", "P3-PIN", "P0"]).await;
    secure(&api, "P2", json!({"profile": 2, "password": "profile-two-password"})).await;
    secure(&api, "P3", json!({"profile": 3})).await;
    secure(&api, "P3-OTHER", json!({"profile": 3})).await;
    let pinned = self_signed_client("whatever-name");
    secure(&api, "P3-PIN", json!({"profile": 3, "certificate_fingerprint": pinned.fingerprint()})).await;

    // Profile 2: Basic over TLS only.
    let p2 = Some(("P2", "profile-two-password"));
    assert_eq!(status_of(connect_basic(&s, "P2", p2).await), 401, "profile 2 over plain ws");
    assert_eq!(status_of(connect_tls(tls, &server_ca, None, "P2", Some(("P2", "wrong-password-1234"))).await), 401);
    assert_eq!(status_of(connect_tls(tls, &server_ca, None, "P2", None).await), 401);
    let mut ws2 = connect_tls(tls, &server_ca, None, "P2", p2).await.expect("profile 2 with its password over TLS");
    heartbeat(&mut ws2).await;

    // Profile 3: a client certificate that maps to the station.
    let p3 = client_ca.client("P3");
    assert_eq!(status_of(connect_tls(tls, &server_ca, None, "P3", None).await), 401, "no client certificate");
    let other = client_ca.client("P3-OTHER");
    assert_eq!(status_of(connect_tls(tls, &server_ca, Some(&other), "P3", None).await), 401, "another station's cert");
    let foreign = other_ca.client("P3");
    assert_eq!(status_of(connect_tls(tls, &server_ca, Some(&foreign), "P3", None).await), 401, "cert of another CA");
    assert_eq!(status_of(connect_tls(tls, &server_ca, Some(&pinned), "P3", None).await), 401, "self-signed cert");
    assert_eq!(status_of(connect_basic(&s, "P3", None).await), 401, "profile 3 over plain ws");
    let mut ws3 = connect_tls(tls, &server_ca, Some(&p3), "P3", None).await.expect("profile 3 with its certificate");
    heartbeat(&mut ws3).await;
    let mut ws3o = connect_tls(tls, &server_ca, Some(&other), "P3-OTHER", None).await.expect("P3-OTHER with its own");
    heartbeat(&mut ws3o).await;

    // Profile 3 with a pinned fingerprint: that certificate only, CA or not.
    let mut pin = connect_tls(tls, &server_ca, Some(&pinned), "P3-PIN", None).await.expect("the pinned certificate");
    heartbeat(&mut pin).await;
    let ca_signed = client_ca.client("P3-PIN");
    assert_eq!(
        status_of(connect_tls(tls, &server_ca, Some(&ca_signed), "P3-PIN", None).await),
        401,
        "not the pinned one"
    );

    // Profile 0 works over TLS too, with or without a client certificate.
    let mut p0 = connect_tls(tls, &server_ca, Some(&p3), "P0", None).await.expect("profile 0 over TLS");
    heartbeat(&mut p0).await;

    let refused = api.logs_until("station_id=P3&action=ConnectionRefused", |i| i.len() >= 5).await;
    let reasons: Vec<_> = refused.iter().map(|r| r["payload"]["reason"].as_str().unwrap().to_string()).collect();
    assert!(reasons.iter().any(|r| r.contains("no client certificate")), "{reasons:?}");
    assert!(reasons.iter().any(|r| r.contains("subject CN is not the chargeBoxId")), "{reasons:?}");
    assert!(reasons.iter().any(|r| r.contains("does not chain to the client CA")), "{reasons:?}");
    assert!(reasons.iter().any(|r| r.contains("requires TLS")), "{reasons:?}");
    let connected = api.logs_until("station_id=P3&action=Connected", |i| !i.is_empty()).await;
    assert_eq!(
        (connected[0]["payload"]["security_profile"].as_u64(), connected[0]["payload"]["tls"].as_bool()),
        (Some(3), Some(true))
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_minimum_profile_refuses_stations_without_credentials() {
    let s = start_with("sec-min", |a| a.security.ocpp_min_security_profile = 1).await;
    let api = Api::new(&s);
    api.site_with("s", "info", &["CP-NONE", "CP-SET"]).await;
    secure(&api, "CP-SET", json!({"profile": 1, "password": "sixteen-chars-ok"})).await;
    assert_eq!(status_of(connect_basic(&s, "CP-NONE", None).await), 401);
    let mut ws = connect_basic(&s, "CP-SET", Some(("CP-SET", "sixteen-chars-ok"))).await.unwrap();
    heartbeat(&mut ws).await;
    s.stop().await;
}
