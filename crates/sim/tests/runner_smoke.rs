//! A smoke test of the I/O side against a minimal in-test central system (the real server
//! tests the simulator end to end): connect with subprotocol ocpp1.6, boot, report, answer
//! central-system CALLs, and reconnect and boot again after a Reset.

use chargewatch_ocpp::Frame;
use chargewatch_sim::{run_with_progress, SimConfig};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;

#[derive(Default)]
struct Seen {
    paths: Vec<String>,
    calls: Vec<String>,
    answers: Vec<Value>,
}

#[allow(clippy::result_large_err)]
async fn serve_one(stream: tokio::net::TcpStream, seen: Arc<Mutex<Seen>>, connection: usize) {
    let seen2 = seen.clone();
    let cb = move |req: &Request, mut resp: Response| {
        let proto = req.headers().get("Sec-WebSocket-Protocol").and_then(|v| v.to_str().ok()).unwrap_or("");
        assert!(proto.split(',').any(|p| p.trim() == "ocpp1.6"));
        seen2.lock().unwrap().paths.push(req.uri().path().to_string());
        resp.headers_mut().insert("Sec-WebSocket-Protocol", HeaderValue::from_static("ocpp1.6"));
        Ok(resp)
    };
    let mut ws = tokio_tungstenite::accept_hdr_async(stream, cb).await.unwrap();
    let mut sent_commands = false;
    let mut n = 0;
    while let Some(Ok(msg)) = ws.next().await {
        let Message::Text(t) = msg else { continue };
        match Frame::decode(&t).unwrap() {
            Frame::Call { unique_id, action, .. } => {
                seen.lock().unwrap().calls.push(action.clone());
                let conf = match action.as_str() {
                    "BootNotification" => {
                        json!({"status": "Accepted", "interval": 300, "currentTime": "2026-03-01T12:00:00Z"})
                    }
                    "Heartbeat" => json!({"currentTime": "2026-03-01T12:00:00Z"}),
                    "Authorize" => json!({"idTagInfo": {"status": "Accepted"}}),
                    "StartTransaction" => json!({"transactionId": 1, "idTagInfo": {"status": "Accepted"}}),
                    _ => json!({}),
                };
                ws.send(Message::Text(Frame::CallResult { unique_id, payload: conf }.encode().into())).await.unwrap();
                if action == "StatusNotification" && !sent_commands && connection == 0 {
                    sent_commands = true;
                    for (a, p) in [
                        ("GetConfiguration", json!({"key": ["HeartbeatInterval"]})),
                        ("NoSuchAction", json!({})),
                        ("Reset", json!({"type": "Soft"})),
                    ] {
                        n += 1;
                        let f = Frame::Call { unique_id: format!("cs-{n}"), action: a.into(), payload: p };
                        ws.send(Message::Text(f.encode().into())).await.unwrap();
                    }
                }
            }
            other => seen.lock().unwrap().answers.push(serde_json::from_str(&other.encode()).unwrap()),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boots_answers_and_reboots() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let s2 = seen.clone();
    tokio::spawn(async move {
        let mut i = 0;
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve_one(stream, s2.clone(), i));
            i += 1;
        }
    });
    let cfg = SimConfig {
        url: format!("ws://127.0.0.1:{port}/ocpp"),
        stations: 1,
        connectors: 2,
        duration: Some(Duration::from_secs(4)),
        time_scale: 10.0,
        fault_probability: 0.0,
        ..Default::default()
    };
    let summary = run_with_progress(cfg, std::future::pending(), Duration::from_secs(1), |_| {}).await;
    let seen = seen.lock().unwrap();
    assert_eq!(seen.paths[0], "/ocpp/SIM-0001");
    assert!(seen.paths.len() >= 2, "reconnected after Reset: {:?}", seen.paths);
    assert_eq!(seen.calls.iter().filter(|a| *a == "BootNotification").count(), 2, "{:?}", seen.calls);
    assert_eq!(seen.answers[0][2]["configurationKey"][0]["key"], "HeartbeatInterval");
    assert_eq!(seen.answers[1][0], 4);
    assert_eq!(seen.answers[1][2], "NotImplemented");
    assert_eq!(seen.answers[2][2]["status"], "Accepted");
    assert_eq!(summary.calls_answered, 3);
    assert_eq!(summary.reconnects, 1);
    assert_eq!(summary.protocol_errors, 0);
    assert_eq!(summary.call_errors_received, 0);
    assert!(summary.frames_sent >= 8, "{summary}");
}

/// A server that answers every connection as `serve_one` does for connection number `connection`.
async fn answering_server(connection: usize) -> (u16, Arc<Mutex<Seen>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let s2 = seen.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve_one(stream, s2.clone(), connection));
        }
    });
    (port, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_loop_reports_round_trips() {
    let (port, seen) = answering_server(1000).await;
    let report =
        chargewatch_sim::run_closed_loop(&format!("ws://127.0.0.1:{port}/ocpp"), 3, Duration::from_secs(1)).await;
    assert_eq!(report.stations_ready, 3, "{report}");
    assert_eq!(report.errors, 0, "{report}");
    assert!(report.round_trips > 30, "{report}");
    assert!(report.p50 <= report.p90 && report.p90 <= report.p99 && report.p99 <= report.max);
    let seen = seen.lock().unwrap();
    let mv = seen.calls.iter().filter(|a| *a == "MeterValues").count() as f64;
    let share = mv / seen.calls.len() as f64;
    assert!((0.55..0.85).contains(&share), "MeterValues share {share}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_loop_with_a_rate_keeps_to_it() {
    let (port, _seen) = answering_server(1000).await;
    let opts = chargewatch_sim::load::LoadOptions {
        rate: Some(100.0),
        source_addrs: 0,
        ..chargewatch_sim::load::LoadOptions::new(format!("ws://127.0.0.1:{port}/ocpp"), 4)
    };
    let report = chargewatch_sim::load::run_closed_loop_with(&opts, Duration::from_secs(2)).await;
    assert_eq!((report.stations_ready, report.errors), (4, 0), "{report}");
    // 100/s for 2 s: about 200 (the unpaced loop makes thousands against this server).
    assert!((170..=210).contains(&report.round_trips), "{report}");
}
