#![allow(dead_code)]

use chargewatch_ocpp::Action;
use chargewatch_sim::station::{OutCall, Station, StationParams};
use chrono::{DateTime, TimeZone, Utc};
use serde_json::{json, Value};

pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap()
}

pub fn secs(s: i64) -> chrono::Duration {
    chrono::Duration::seconds(s)
}

/// A station with `n` connectors, booted, outbox drained. No autonomous transactions.
pub fn booted(n: usize) -> Station {
    let params = StationParams { autonomous: false, ..StationParams::new("TEST-0001", n) };
    let mut st = Station::new(params, 7, t0());
    st.on_connected(t0());
    let boot = st.next_call(t0()).expect("boot first");
    assert_eq!(boot.action, Action::BootNotification);
    st.on_conf(&boot, &json!({"status": "Accepted", "interval": 300, "currentTime": "2026-03-01T12:00:00Z"}), t0());
    assert!(st.booted);
    drain(&mut st, t0());
    st
}

/// Takes every queued CALL (in order).
pub fn drain(st: &mut Station, now: DateTime<Utc>) -> Vec<OutCall> {
    let mut out = Vec::new();
    while let Some(c) = st.next_call(now) {
        out.push(c);
    }
    out
}

pub fn actions(calls: &[OutCall]) -> Vec<String> {
    calls
        .iter()
        .map(|c| match c.action {
            Action::StatusNotification => {
                format!("Status:{}:{}", c.payload["connectorId"], c.payload["status"].as_str().unwrap())
            }
            a => a.to_string(),
        })
        .collect()
}

/// Runs a call and returns the answer payload.
pub fn call(st: &mut Station, action: &str, p: Value, now: DateTime<Utc>) -> Value {
    st.handle_call(action, &p, now).unwrap_or_else(|e| panic!("{action}: {e:?}"))
}

/// Starts a remote transaction on `connector` and answers StartTransaction with `tx`.
pub fn start_tx(st: &mut Station, connector: i64, tag: &str, tx: i64, now: DateTime<Utc>) -> Vec<OutCall> {
    let r = call(st, "RemoteStartTransaction", json!({"connectorId": connector, "idTag": tag}), now);
    assert_eq!(r["status"], "Accepted");
    let mut calls = drain(st, now);
    let start = calls.iter().find(|c| c.action == Action::StartTransaction).expect("StartTransaction").clone();
    st.on_conf(&start, &json!({"transactionId": tx, "idTagInfo": {"status": "Accepted"}}), now);
    calls.extend(drain(st, now));
    calls
}
