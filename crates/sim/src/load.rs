//! Closed-loop load generator: each station sends its next CALL as soon as the answer to
//! the previous one arrives (~70% MeterValues with 4 sampled values, 20% Heartbeat, 10%
//! StatusNotification), and the report gives round trips per second and latency percentiles.

use crate::runner::{connect, Ws};
use crate::station::{Station, StationParams};
use crate::util::ts;
use chargewatch_ocpp::Frame;
use chrono::Utc;
use futures_util::{SinkExt, StreamExt};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use std::fmt;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

/// Result of [`run_closed_loop`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LoadReport {
    pub stations: usize,
    /// Stations that connected and booted.
    pub stations_ready: usize,
    pub duration: Duration,
    /// CALL → CALLRESULT/CALLERROR round trips completed in the measuring window.
    pub round_trips: u64,
    pub round_trips_per_sec: f64,
    pub p50: Duration,
    pub p90: Duration,
    pub p99: Duration,
    pub max: Duration,
    /// CALLERROR answers, timeouts, unmatched or broken frames, lost connections.
    pub errors: u64,
    pub connect_failures: u64,
}

impl fmt::Display for LoadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{} stations, {:.1}s: {} round trips ({:.1}/s), latency p50={:.2}ms p90={:.2}ms p99={:.2}ms max={:.2}ms, errors={}, connect_failures={}",
            self.stations_ready,
            self.stations,
            self.duration.as_secs_f64(),
            self.round_trips,
            self.round_trips_per_sec,
            ms(self.p50),
            ms(self.p90),
            ms(self.p99),
            ms(self.max),
            self.errors,
            self.connect_failures
        )
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[derive(Default)]
struct StationResult {
    ready: bool,
    connect_failed: bool,
    latencies_us: Vec<u64>,
    errors: u64,
}

/// The CALL a load station sends next.
pub fn load_call(rng: &mut SmallRng, energy_wh: &mut u64) -> (&'static str, Value) {
    let now = ts(Utc::now());
    let r: f64 = rng.gen_range(0.0..1.0);
    if r < 0.7 {
        *energy_wh += rng.gen_range(1..50);
        let power: f64 = rng.gen_range(3000.0..22000.0);
        let voltage: f64 = rng.gen_range(226.0..234.0);
        let sv = |v: String, m: &str, u: &str| json!({"value": v, "context": "Sample.Periodic", "measurand": m, "location": "Outlet", "unit": u});
        (
            "MeterValues",
            json!({"connectorId": 1, "meterValue": [{"timestamp": now, "sampledValue": [
                sv(energy_wh.to_string(), "Energy.Active.Import.Register", "Wh"),
                sv(format!("{power:.1}"), "Power.Active.Import", "W"),
                sv(format!("{:.2}", power / (voltage * 3.0)), "Current.Import", "A"),
                sv(format!("{voltage:.1}"), "Voltage", "V"),
            ]}]}),
        )
    } else if r < 0.9 {
        ("Heartbeat", json!({}))
    } else {
        (
            "StatusNotification",
            json!({"connectorId": 1, "errorCode": "NoError", "status": "Available", "timestamp": now}),
        )
    }
}

/// Runs `stations` closed-loop stations (ids `LOAD-0001`…) against `url` for `duration`
/// after they booted.
pub async fn run_closed_loop(url: &str, stations: usize, duration: Duration) -> LoadReport {
    let (ready_tx, ready_rx) = tokio::sync::watch::channel::<Option<Instant>>(None);
    let mut set = tokio::task::JoinSet::new();
    for i in 0..stations {
        let url = url.to_string();
        let rx = ready_rx.clone();
        set.spawn(async move { load_station(&url, i, duration, rx).await });
    }
    // Give every station up to 30 s to connect and boot, then start the clock for all.
    tokio::time::sleep(Duration::from_millis(200 + stations as u64 * 2).min(Duration::from_secs(30))).await;
    let start = Instant::now();
    let _ = ready_tx.send(Some(start));
    let mut all = Vec::new();
    let mut report = LoadReport { stations, duration, ..Default::default() };
    while let Some(r) = set.join_next().await {
        let Ok(r) = r else { continue };
        report.stations_ready += r.ready as usize;
        report.connect_failures += r.connect_failed as u64;
        report.errors += r.errors;
        all.extend(r.latencies_us);
    }
    all.sort_unstable();
    report.round_trips = all.len() as u64;
    report.round_trips_per_sec = all.len() as f64 / duration.as_secs_f64().max(1e-9);
    let pct = |p: f64| -> Duration {
        if all.is_empty() {
            return Duration::ZERO;
        }
        let idx = ((p * all.len() as f64).ceil() as usize).clamp(1, all.len()) - 1;
        Duration::from_micros(all[idx])
    };
    report.p50 = pct(0.50);
    report.p90 = pct(0.90);
    report.p99 = pct(0.99);
    report.max = all.last().map_or(Duration::ZERO, |m| Duration::from_micros(*m));
    report
}

async fn load_station(
    url: &str,
    i: usize,
    duration: Duration,
    mut start: tokio::sync::watch::Receiver<Option<Instant>>,
) -> StationResult {
    let id = crate::runner::station_id("LOAD-", i);
    let mut res = StationResult::default();
    let ws = match connect(url, &id, None).await {
        Ok(ws) => ws,
        Err(_) => {
            res.connect_failed = true;
            return res;
        }
    };
    let mut station =
        Station::new(StationParams { autonomous: false, ..StationParams::new(id.clone(), 1) }, i as u64, Utc::now());
    let mut rng = SmallRng::seed_from_u64(i as u64);
    let mut energy = rng.gen_range(0..1_000_000u64);
    let mut conn = Conn { ws, counter: 0 };
    // Boot.
    let boot = station.boot_payload();
    match conn.call(&mut station, "BootNotification", boot, Duration::from_secs(30)).await {
        Ok(Some(_)) => {}
        _ => {
            res.errors += 1;
            return res;
        }
    }
    res.ready = true;
    let t0 = loop {
        if let Some(t) = *start.borrow() {
            break t;
        }
        if start.changed().await.is_err() {
            return res;
        }
    };
    let end = t0 + duration;
    while Instant::now() < end {
        let (action, payload) = load_call(&mut rng, &mut energy);
        let sent = Instant::now();
        match conn
            .call(&mut station, action, payload, end.saturating_duration_since(sent) + Duration::from_secs(5))
            .await
        {
            Ok(Some(ok)) => {
                if Instant::now() <= end {
                    res.latencies_us.push(sent.elapsed().as_micros() as u64);
                }
                if !ok {
                    res.errors += 1;
                }
            }
            Ok(None) => res.errors += 1,
            Err(()) => {
                res.errors += 1;
                return res;
            }
        }
    }
    let _ = conn.ws.close(None).await;
    res
}

struct Conn {
    ws: Ws,
    counter: u64,
}

impl Conn {
    /// Sends a CALL and waits for its answer, answering central-system CALLs meanwhile.
    /// `Ok(Some(true))` CALLRESULT, `Ok(Some(false))` CALLERROR, `Ok(None)` timeout,
    /// `Err` connection lost.
    async fn call(
        &mut self,
        station: &mut Station,
        action: &str,
        payload: Value,
        timeout: Duration,
    ) -> Result<Option<bool>, ()> {
        self.counter += 1;
        let uid = format!("L{}", self.counter);
        let frame = Frame::Call { unique_id: uid.clone(), action: action.to_string(), payload };
        self.ws.send(Message::Text(frame.encode().into())).await.map_err(|_| ())?;
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let msg = match tokio::time::timeout_at(deadline, self.ws.next()).await {
                Err(_) => return Ok(None),
                Ok(Some(Ok(m))) => m,
                Ok(_) => return Err(()),
            };
            let Message::Text(t) = msg else {
                if matches!(msg, Message::Close(_)) {
                    return Err(());
                }
                continue;
            };
            match Frame::decode(&t) {
                Ok(Frame::CallResult { unique_id, .. }) if unique_id == uid => return Ok(Some(true)),
                Ok(Frame::CallError { unique_id, .. }) if unique_id == uid => return Ok(Some(false)),
                Ok(Frame::Call { unique_id, action, payload }) => {
                    let answer = match station.handle_call(&action, &payload, Utc::now()) {
                        Ok(p) => Frame::CallResult { unique_id, payload: p },
                        Err(e) => Frame::call_error(unique_id, e.code, e.description),
                    };
                    station.take_effects();
                    station.outbox.clear();
                    self.ws.send(Message::Text(answer.encode().into())).await.map_err(|_| ())?;
                }
                _ => {}
            }
        }
    }
}
