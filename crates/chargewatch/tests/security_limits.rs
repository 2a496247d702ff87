//! Abuse limits of the OCPP endpoint, each hit on loopback while another station keeps
//! being served: frame size, frames per second, connections per address and in total,
//! handshake time, handshakes in progress, idle half-open sockets.

mod common;
mod security_support;
use common::*;
use futures_util::{SinkExt, StreamExt};
use security_support::*;
use serde_json::json;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;

/// Waits up to `within` for the server to close a raw TCP connection (EOF or reset).
async fn closed_within(tcp: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 1024];
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, tcp.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
        }
    }
}

/// Waits for a close frame (or the end of the stream) and returns its code.
async fn close_code(ws: &mut Ws) -> Option<CloseCode> {
    loop {
        match tokio::time::timeout(Duration::from_secs(5), ws.next()).await.expect("closed in time") {
            Some(Ok(Message::Close(f))) => return f.map(|f| f.code),
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => return None,
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn frames_over_the_rate_limit_get_callerror_and_a_flood_is_closed() {
    let s = start_with("lim-rate", |a| {
        a.security.ocpp_frames_per_second = 2;
        a.security.ocpp_frame_burst = 5;
        a.security.ocpp_flood_close_after = 10;
    })
    .await;
    let api = Api::new(&s);
    api.site_with("s", "info", &["CP-FLOOD", "CP-CALM"]).await;
    let mut calm = connect(&s, "CP-CALM").await;
    let mut cp = connect(&s, "CP-FLOOD").await;
    // Eight CALLs back to back: the burst of 5 is answered, the rest refused.
    for i in 0..8 {
        cp.send_text(&json!([2, format!("r{i}"), "Heartbeat", {}]).to_string()).await;
    }
    let mut answers = Vec::new();
    for _ in 0..8 {
        answers.push(cp.recv().await);
    }
    let ok = answers.iter().filter(|a| a[0] == 3).count();
    let limited: Vec<_> = answers.iter().filter(|a| a[0] == 4).collect();
    assert!((5..=6).contains(&ok), "the burst is served: {answers:?}");
    assert!(!limited.is_empty());
    for a in &limited {
        assert_eq!(a[2], "GenericError");
        assert!(a[3].as_str().unwrap().contains("rate limit"), "{a}");
    }
    assert!(calm.ok("Heartbeat", json!({})).await["currentTime"].is_string(), "others are served");
    // Keep flooding: more than 10 refused frames within 10 s close the connection (1008).
    for i in 0..20 {
        if cp.ws.send(Message::Text(json!([2, format!("f{i}"), "Heartbeat", {}]).to_string().into())).await.is_err() {
            break;
        }
    }
    assert_eq!(close_code(&mut cp.ws).await, Some(CloseCode::Policy));
    assert!(calm.ok("Heartbeat", json!({})).await["currentTime"].is_string(), "others are still served");
    let rows = api.logs_until("station_id=CP-FLOOD&action=Disconnected", |i| !i.is_empty()).await;
    assert_eq!(rows[0]["payload"]["code"], 1008);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn connections_per_address_are_capped() {
    let s = start_with("lim-addr", |a| a.security.ocpp_max_connections_per_address = 2).await;
    let api = Api::new(&s);
    api.site_with("s", "info", &["A1", "A2", "A3", "LOCAL"]).await;
    let mut a1 = connect_from(&s, "127.0.0.2", "A1", None).await.unwrap();
    let a2 = connect_from(&s, "127.0.0.2", "A2", None).await.unwrap();
    assert_eq!(status_of(connect_from(&s, "127.0.0.2", "A3", None).await), 429, "a third from the same address");
    let mut local = connect_basic(&s, "LOCAL", None).await.expect("another address is served");
    heartbeat(&mut local).await;
    heartbeat(&mut a1).await;
    let rows = api.logs_until("station_id=A3&action=ConnectionRefused", |i| !i.is_empty()).await;
    assert!(rows[0]["payload"]["reason"].as_str().unwrap().contains("too many connections from this address"));
    // A closed connection frees its place.
    drop(a2);
    let mut freed = None;
    for _ in 0..50 {
        if let Ok(ws) = connect_from(&s, "127.0.0.2", "A3", None).await {
            freed = Some(ws);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    heartbeat(freed.as_mut().expect("a place is freed")).await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn total_connections_are_capped() {
    let s = start_with("lim-total", |a| a.max_connections = 2).await;
    let api = Api::new(&s);
    api.site_with("s", "info", &["T1", "T2", "T3"]).await;
    let mut t1 = connect(&s, "T1").await;
    let _t2 = connect(&s, "T2").await;
    assert_eq!(status_of(connect_basic(&s, "T3", None).await), 503);
    assert!(t1.ok("Heartbeat", json!({})).await["currentTime"].is_string());
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_connection_that_does_not_finish_its_handshake_is_dropped() {
    let s = start_with("lim-handshake", |a| a.security.ocpp_handshake_timeout = 1).await;
    let api = Api::new(&s);
    api.site_with("s", "info", &["CP-OK"]).await;
    let mut ok = connect(&s, "CP-OK").await;
    let started = Instant::now();
    let mut silent = TcpStream::connect(s.ocpp_addr).await.unwrap();
    let mut slow = TcpStream::connect(s.ocpp_addr).await.unwrap();
    slow.write_all(b"GET /ocpp/CP-SLOW HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    // Meanwhile the upgraded station is served, past the deadline too.
    assert!(ok.ok("Heartbeat", json!({})).await["currentTime"].is_string());
    assert!(closed_within(&mut silent, Duration::from_secs(4)).await, "a silent connection is dropped");
    assert!(closed_within(&mut slow, Duration::from_secs(4)).await, "an unfinished request is dropped");
    assert!(started.elapsed() >= Duration::from_millis(900), "not before the deadline");
    assert!(
        ok.ok("Heartbeat", json!({})).await["currentTime"].is_string(),
        "the upgraded station outlives the deadline"
    );
    s.stop().await;
}

/// The value of one `chargewatch_…` counter on `/metrics`.
async fn metric(api: &Api, name: &str) -> u64 {
    let text = api.http.get(format!("{}/metrics", api.base)).send().await.unwrap().text().await.unwrap();
    let prefix = format!("chargewatch_{name} ");
    let line = text.lines().find(|l| l.starts_with(&prefix)).unwrap_or_else(|| panic!("no {name} on /metrics"));
    line[prefix.len()..].trim().parse().unwrap()
}

/// Polls a counter until it reaches `want` (the server takes connections on its own time).
async fn wait_for_metric(api: &Api, name: &str, want: u64) {
    for _ in 0..100 {
        if metric(api, name).await >= want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{name} never reached {want}");
}

#[tokio::test(flavor = "multi_thread")]
async fn handshakes_in_progress_are_capped() {
    let s = start_with("lim-handshakes", |a| {
        a.security.ocpp_max_handshakes = 2;
        a.security.ocpp_handshake_timeout = 3;
    })
    .await;
    let api = Api::new(&s);
    api.site_with("s", "info", &["CP-OK", "CP-LATER"]).await;
    let mut ok = connect(&s, "CP-OK").await;
    let _idle1 = TcpStream::connect(s.ocpp_addr).await.unwrap();
    let _idle2 = TcpStream::connect(s.ocpp_addr).await.unwrap();
    // Wait until the server has taken both (not a fixed sleep: the suite shares two cores).
    wait_for_metric(&api, "ocpp_accepted", 3).await;
    let mut third = TcpStream::connect(s.ocpp_addr).await.unwrap();
    // "At once": well before the 3 s handshake deadline that would close it otherwise.
    assert!(closed_within(&mut third, Duration::from_millis(1500)).await, "over the cap: closed at once");
    assert_eq!(metric(&api, "ocpp_over_handshake_limit").await, 1, "refused by the cap, not by a timeout");
    assert!(ok.ok("Heartbeat", json!({})).await["currentTime"].is_string(), "upgraded stations are not affected");
    // Once the idle ones time out, new stations connect again.
    wait_for_metric(&api, "ocpp_handshake_timeouts", 2).await;
    let mut later = connect(&s, "CP-LATER").await;
    assert!(later.ok("Heartbeat", json!({})).await["currentTime"].is_string());
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn oversized_frames_are_refused_and_huge_messages_close_the_connection() {
    let s = start_with("lim-size", |a| a.max_frame_bytes = 2048).await;
    let api = Api::new(&s);
    api.site_with("s", "info", &["CP-BIG", "CP-SMALL"]).await;
    let mut small = connect(&s, "CP-SMALL").await;
    let mut big = connect(&s, "CP-BIG").await;
    let frame = json!([2, "b1", "DataTransfer", {"vendorId": "x", "data": "a".repeat(4000)}]).to_string();
    big.send_text(&frame).await;
    let answer = big.recv().await;
    assert_eq!((answer[0].as_u64(), answer[2].as_str()), (Some(4), Some("FormationViolation")));
    assert!(small.ok("Heartbeat", json!({})).await["currentTime"].is_string());
    // Beyond the hard limit (1 MiB here) the connection is closed with 1009.
    let _ = big.ws.send(Message::Text("x".repeat(1024 * 1024 + 10).into())).await;
    assert_eq!(close_code(&mut big.ws).await, Some(CloseCode::Size));
    assert!(small.ok("Heartbeat", json!({})).await["currentTime"].is_string());
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn idle_half_open_sockets_are_closed_by_ping_pong() {
    let s = start_with("lim-idle", |a| a.ping_interval = 1).await;
    let api = Api::new(&s);
    api.site_with("s", "info", &["CP-GONE", "CP-HERE"]).await;
    let gone = connect(&s, "CP-GONE").await;
    let mut here = connect(&s, "CP-HERE").await;
    // CP-GONE never reads again (so never answers a ping), as a half-open peer; CP-HERE
    // keeps talking (reading answers the pings).
    let until = Instant::now() + Duration::from_millis(3500);
    while Instant::now() < until {
        assert!(here.ok("Heartbeat", json!({})).await["currentTime"].is_string());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let rows = api.logs_until("station_id=CP-GONE&action=Disconnected", |i| !i.is_empty()).await;
    assert_eq!(rows[0]["payload"]["reason"], "no pong");
    assert!(api.logs_until("station_id=CP-HERE&action=Disconnected", |_| true).await.is_empty(), "CP-HERE stays");
    drop(gone);
    s.stop().await;
}
