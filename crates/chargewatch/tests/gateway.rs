//! The gateway as a charger sees it: framing errors, subprotocol, ids, one outstanding
//! call per direction, timeouts, replacement, dead connections, size limits, shutdown.

mod common;
use common::*;
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test(flavor = "multi_thread")]
async fn bad_frames_get_the_callerror_ocpp_requires_and_the_connection_stays_up() {
    let s = start_with("bad-frames", |a| a.max_frame_bytes = 2048).await;
    let api = Api::new(&s);
    api.site_with("s", "debug", &["CP-BAD"]).await;
    let mut cp = connect(&s, "CP-BAD").await;
    cp.boot().await;
    let big = format!(r#"[2,"big","DataTransfer",{{"vendorId":"x","data":"{}"}}]"#, "a".repeat(4000));
    let cases: &[(&str, &str, &str)] = &[
        ("not json", "-1", "FormationViolation"),
        (r#"{"a":1}"#, "-1", "FormationViolation"),
        (r#"[7,"u1",{}]"#, "u1", "ProtocolError"),
        (r#"[2,"u2","Heartbeat"]"#, "u2", "ProtocolError"),
        (r#"[2,"u3",5,{}]"#, "u3", "FormationViolation"),
        (r#"[2,"u4","NoSuchAction",{}]"#, "u4", "NotImplemented"),
        (r#"[2,"u5","Reset",{"type":"Hard"}]"#, "u5", "NotSupported"),
        (
            r#"[2,"u6","StatusNotification",{"status":"Available","errorCode":"NoError"}]"#,
            "u6",
            "OccurenceConstraintViolation",
        ),
        (
            r#"[2,"u7","StatusNotification",{"connectorId":"1","status":"Available","errorCode":"NoError"}]"#,
            "u7",
            "TypeConstraintViolation",
        ),
        (
            r#"[2,"u8","StatusNotification",{"connectorId":1,"status":"Sleeping","errorCode":"NoError"}]"#,
            "u8",
            "PropertyConstraintViolation",
        ),
        (r#"[2,"u9","Authorize",{"idTag":"012345678901234567890"}]"#, "u9", "PropertyConstraintViolation"),
        (r#"[2,"u10","Heartbeat",{"extra":1}]"#, "u10", "FormationViolation"),
        (&big, "big", "FormationViolation"),
    ];
    for (frame, uid, code) in cases {
        cp.send_text(frame).await;
        let answer = cp.recv().await;
        assert_eq!(answer[0], 4, "{frame} -> {answer}");
        assert_eq!((answer[1].as_str(), answer[2].as_str()), (Some(*uid), Some(*code)), "{frame}");
        assert!(!answer[3].as_str().unwrap().is_empty(), "a description says what was wrong");
    }
    // A CALLRESULT for no outstanding call is logged and ignored: nothing to answer.
    cp.send_text(r#"[3,"nobody-asked",{}]"#).await;
    assert!(cp.ok("Heartbeat", json!({})).await["currentTime"].is_string(), "connection still up");
    let rows =
        api.logs_until("station_id=CP-BAD&direction=in", |i| i.iter().any(|r| r["unique_id"] == "nobody-asked")).await;
    let stray = rows.iter().find(|r| r["unique_id"] == "nobody-asked").unwrap();
    assert!(stray["validation_error"].as_str().unwrap().contains("no outstanding CALL"));
    let bad = api.logs_until("station_id=CP-BAD&message_type=CALLERROR", |i| i.len() >= cases.len()).await;
    assert!(
        bad.iter().any(|r| r["action"] == "NoSuchAction" && r["error_code"] == "NotImplemented"),
        "CALLERROR rows carry the action they answer"
    );
    s.stop().await;
}

/// The WebSocket read buffer is 1 KiB (`endpoint.rs`): a longer frame is read whole,
/// answered and logged whole, and the frames after it are read as before.
#[tokio::test(flavor = "multi_thread")]
async fn frames_longer_than_the_read_buffer_are_read_whole() {
    let s = start("long-frames").await;
    let api = Api::new(&s);
    api.site_with("s", "debug", &["CP-LONG"]).await;
    let mut cp = connect(&s, "CP-LONG").await;
    cp.boot().await;
    let lengths = [1000, 1024, 1100, 5000, 40_000];
    for len in lengths {
        let frame = json!([2, format!("long-{len}"), "DataTransfer", {"vendorId": "x", "data": "d".repeat(len)}]);
        cp.send_text(&frame.to_string()).await;
        let answer = cp.recv().await;
        assert_eq!((answer[0].as_u64(), answer[1].as_str()), (Some(3), Some(format!("long-{len}").as_str())));
        assert_eq!(answer[2]["status"], "UnknownVendorId", "{len}: {answer}");
        assert!(cp.ok("Heartbeat", json!({})).await["currentTime"].is_string(), "the next frame after {len}");
    }
    let rows =
        api.logs_until("station_id=CP-LONG&action=DataTransfer&message_type=CALL", |i| i.len() >= lengths.len()).await;
    for len in lengths {
        let row = rows.iter().find(|r| r["unique_id"] == format!("long-{len}")).expect("logged");
        assert_eq!(row["payload"], json!({"vendorId": "x", "data": "d".repeat(len)}), "logged whole");
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn subprotocol_and_station_id_are_checked_before_the_upgrade() {
    let s = start("handshake").await;
    let none = connect_raw(&s, "CP-1", None).await.unwrap_err();
    assert!(none.to_string().contains("400"), "no subprotocol offered: {none}");
    let other = connect_raw(&s, "CP-1", Some("ocpp2.0.1")).await.unwrap_err();
    assert!(other.to_string().contains("400"), "only ocpp2.0.1 offered: {other}");
    let ok = connect_raw(&s, "CP-1", Some("ocpp2.0.1, ocpp1.6")).await;
    assert!(ok.is_ok(), "ocpp1.6 among others is accepted");
    let long = "X".repeat(49);
    assert!(connect_raw(&s, &long, Some("ocpp1.6")).await.is_err(), "49-character id refused");
    assert!(connect_raw(&s, "a%20b", Some("ocpp1.6")).await.is_err(), "space in id refused");
    let api = Api::new(&s);
    api.logs_until("action=ConnectionRefused", |i| i.len() >= 2).await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn commands_go_out_one_at_a_time_and_time_out_with_504() {
    let s = start_with("one-outstanding", |a| a.call_timeout = 2).await;
    let api = Api::new(&s);
    api.site_with("s", "info", &["CP-Q"]).await;
    let (status, _) = api.post("/api/v1/stations/CP-Q/commands/ClearCache", json!({})).await;
    assert_eq!(status, 409, "not connected");
    let (status, _) = api.post("/api/v1/stations/NOPE/commands/ClearCache", json!({})).await;
    assert_eq!(status, 404, "unknown station");
    let (status, body) = api.post("/api/v1/stations/CP-Q/commands/Reset", json!({"type": "Sideways"})).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["detail"].as_str().unwrap().contains("type"), "{body}");
    let (status, _) = api.post("/api/v1/stations/CP-Q/commands/Heartbeat", json!({})).await;
    assert_eq!(status, 400, "charger-initiated action refused");

    let mut cp = connect(&s, "CP-Q").await;
    cp.boot().await;
    let a = tokio::spawn({
        let api = Api::new(&s);
        async move { api.post("/api/v1/stations/CP-Q/commands/ClearCache", json!({})).await }
    });
    let b = tokio::spawn({
        let api = Api::new(&s);
        async move { api.post("/api/v1/stations/CP-Q/commands/GetLocalListVersion", json!({})).await }
    });
    let first = cp.recv().await;
    assert_eq!(first[0], 2);
    // While the first CALL is outstanding, the second must not arrive.
    let early = tokio::time::timeout(Duration::from_millis(400), cp.ws.next()).await;
    assert!(early.is_err(), "second CALL sent before the first was answered: {early:?}");
    // The charger may still send its own CALL meanwhile (the other direction).
    assert!(cp.ok("Heartbeat", json!({})).await["currentTime"].is_string());
    let reply = if first[2] == "ClearCache" { json!({"status": "Accepted"}) } else { json!({"listVersion": 3}) };
    cp.send_text(&json!([3, first[1], reply]).to_string()).await;
    let second = cp.recv().await;
    assert_ne!(second[2], first[2]);
    let reply = if second[2] == "ClearCache" { json!({"status": "Accepted"}) } else { json!({"listVersion": 3}) };
    cp.send_text(&json!([3, second[1], reply]).to_string()).await;
    let (sa, va) = a.await.unwrap();
    let (sb, vb) = b.await.unwrap();
    assert_eq!((sa, sb), (200, 200), "{va} {vb}");
    assert_eq!(va, json!({"message_type": "CALLRESULT", "payload": {"status": "Accepted"}}));
    assert_eq!(vb["payload"]["listVersion"], 3);

    // A CALLERROR answer comes back as such.
    let c = tokio::spawn({
        let api = Api::new(&s);
        async move { api.post("/api/v1/stations/CP-Q/commands/UnlockConnector", json!({"connectorId": 1})).await }
    });
    let call = cp.recv().await;
    cp.send_text(&json!([4, call[1], "NotSupported", "no lock", {}]).to_string()).await;
    let (sc, vc) = c.await.unwrap();
    assert_eq!(sc, 200);
    assert_eq!((vc["message_type"].as_str(), vc["error_code"].as_str()), (Some("CALLERROR"), Some("NotSupported")));

    // No answer at all: 504 after the call timeout, and the next command still goes out.
    let (st, body) = api.post("/api/v1/stations/CP-Q/commands/ClearCache", json!({})).await;
    assert_eq!(st, 504, "{body}");
    let _ignored = cp.recv().await;
    let history = api.get("/api/v1/stations/CP-Q/commands").await;
    let outcomes: Vec<_> =
        history.as_array().unwrap().iter().map(|c| c["outcome"].as_str().unwrap_or("").to_string()).collect();
    assert!(outcomes.contains(&"Timeout".to_string()) && outcomes.contains(&"CALLERROR".to_string()), "{outcomes:?}");
    assert!(history[0]["sent_by"].is_string());
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_connection_with_the_same_id_replaces_the_first() {
    let s = start("replace").await;
    let api = Api::new(&s);
    api.site_with("s", "info", &["CP-DUP"]).await;
    let mut first = connect(&s, "CP-DUP").await;
    first.boot().await;
    let mut second = connect(&s, "CP-DUP").await;
    second.boot().await;
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match first.ws.next().await {
                Some(Ok(Message::Close(f))) => return f.map(|f| f.reason.to_string()),
                None | Some(Err(_)) => return None,
                _ => {}
            }
        }
    })
    .await
    .expect("old connection closed");
    assert_eq!(closed.as_deref(), Some("replaced by a new connection"));
    assert!(second.ok("Heartbeat", json!({})).await["currentTime"].is_string());
    let rows = api.logs_until("station_id=CP-DUP&action=Disconnected", |i| !i.is_empty()).await;
    assert_eq!(rows[0]["payload"]["reason"], "replaced by a new connection");
    assert_eq!(api.get("/api/v1/stations/CP-DUP").await["connected"], true, "the new connection stays registered");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_silent_connection_is_closed_as_dead() {
    let s = start_with("dead", |a| a.ping_interval = 1).await;
    let api = Api::new(&s);
    api.site_with("s", "info", &["CP-DEAD"]).await;
    let mut cp = connect(&s, "CP-DEAD").await;
    cp.boot().await;
    // Never read again: pings go unanswered.
    let rows = api.logs_until("station_id=CP-DEAD&action=Disconnected", |i| !i.is_empty()).await;
    assert_eq!(rows[0]["payload"]["reason"], "no pong");
    drop(cp);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_responsive_connection_survives_pings() {
    let s = start_with("alive", |a| a.ping_interval = 1).await;
    let api = Api::new(&s);
    api.site_with("s", "info", &["CP-LIVE"]).await;
    let mut cp = connect(&s, "CP-LIVE").await;
    cp.boot().await;
    // Reading lets tungstenite answer pings.
    let _ = tokio::time::timeout(Duration::from_millis(3500), cp.ws.next()).await;
    assert!(cp.ok("Heartbeat", json!({})).await["currentTime"].is_string());
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn connection_limit_and_graceful_shutdown() {
    let s = start_with("limits", |a| a.max_connections = 2).await;
    let api = Api::new(&s);
    api.site_with("s", "info", &["A", "B", "C"]).await;
    let mut a = connect(&s, "A").await;
    let _b = connect(&s, "B").await;
    let refused = connect_raw(&s, "C", Some("ocpp1.6")).await.unwrap_err();
    assert!(refused.to_string().contains("503"), "{refused}");
    a.boot().await;
    let ocpp = s.ocpp_addr;
    let stop = tokio::spawn(s.stop());
    let close = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match a.ws.next().await {
                Some(Ok(Message::Close(f))) => return f.map(|f| u16::from(f.code)),
                None | Some(Err(_)) => return None,
                _ => {}
            }
        }
    })
    .await
    .expect("closed on shutdown");
    assert_eq!(close, Some(1001), "going away");
    let _ = a.ws.send(Message::Close(None)).await;
    stop.await.unwrap();
    assert!(tokio::net::TcpStream::connect(ocpp).await.is_err(), "listener closed");
}
