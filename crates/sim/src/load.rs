//! Load generation against a central system, three modes:
//!
//! - **closed loop** ([`run_closed_loop_with`]): N stations, each sends its next CALL as soon
//!   as the answer to the previous one arrives (~70% MeterValues with 4 sampled values, 20%
//!   Heartbeat, 10% StatusNotification); reports round trips per second, latency percentiles
//!   and every kind of error.
//! - **idle** ([`run_idle`]): N stations boot, then only heartbeat at the interval for the hold
//!   time; reports how many booted and how many were still connected at the end (the server's
//!   memory is measured from outside, e.g. `VmRSS` in `/proc/PID/status`).
//! - **connection storm** ([`run_storm`]): N stations connect and boot as fast as they can;
//!   reports the time until all booted, the distribution of connect+boot times and errors.
//!
//! Every mode connects from many loopback source addresses (127.0.0.1 .. 127.0.0.250 in turn,
//! when the target is an IPv4 loopback address) so that N can exceed the ~28k ephemeral ports
//! of one address, and bounds the WebSocket handshakes in flight. The process needs one file
//! descriptor per station (raise `ulimit -n`).

mod conn;
mod idle;
mod storm;

pub use idle::{run_idle, IdleReport};
pub use storm::{run_storm, StormReport};

use conn::{boot_payload, boot_verdict, Answer, Target};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch, Semaphore};

/// What every load mode needs to know.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadOptions {
    /// Base URL (`ws://host:port/ocpp`); station `id` connects to `{url}/{id}`.
    pub url: String,
    pub stations: usize,
    /// Station ids are this prefix and the 1-based index, 4 digits (`LOAD-0001`).
    pub id_prefix: String,
    /// Loopback source addresses to cycle through (127.0.0.1..=N, at most 250; 0: kernel's choice).
    pub source_addrs: u8,
    /// Most TCP connects + WebSocket handshakes in flight at once.
    pub connect_concurrency: usize,
    /// Limit for one connect + handshake.
    pub connect_timeout: Duration,
    /// Limit for one CALL's answer.
    pub call_timeout: Duration,
    /// Closed loop with a ceiling: at most this many CALLs per second in all, each station
    /// sending on its own evenly spaced schedule (and at once when it is behind). `None`:
    /// as fast as answers come.
    pub rate: Option<f64>,
}

impl LoadOptions {
    pub fn new(url: impl Into<String>, stations: usize) -> LoadOptions {
        LoadOptions {
            url: url.into(),
            stations,
            id_prefix: "LOAD-".into(),
            source_addrs: 250,
            connect_concurrency: 1000,
            connect_timeout: Duration::from_secs(30),
            call_timeout: Duration::from_secs(30),
            rate: None,
        }
    }

    fn station_id(&self, i: usize) -> String {
        crate::runner::station_id(&self.id_prefix, i)
    }
}

/// Errors counted by kind (`"CALLERROR FormationViolation"`, `"connect: tcp connect: …"`,
/// `"timeout"`, `"boot Rejected"`, …).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ErrorCounts(pub BTreeMap<String, u64>);

impl ErrorCounts {
    pub fn add(&mut self, kind: impl Into<String>) {
        *self.0.entry(kind.into()).or_default() += 1;
    }

    pub fn merge(&mut self, other: ErrorCounts) {
        for (k, v) in other.0 {
            *self.0.entry(k).or_default() += v;
        }
    }

    pub fn total(&self) -> u64 {
        self.0.values().sum()
    }

    pub fn to_json(&self) -> Value {
        Value::Object(self.0.iter().map(|(k, v)| (k.clone(), json!(v))).collect())
    }
}

impl fmt::Display for ErrorCounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return write!(f, "none");
        }
        for (i, (k, v)) in self.0.iter().enumerate() {
            if i > 0 {
                write!(f, ", ")?;
            }
            write!(f, "{k}: {v}")?;
        }
        Ok(())
    }
}

/// Latency distribution of a sorted list of microsecond samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Percentiles {
    pub p50: Duration,
    pub p90: Duration,
    pub p99: Duration,
    pub max: Duration,
}

impl Percentiles {
    /// `sorted_us` must be sorted ascending.
    pub fn of_sorted(sorted_us: &[u64]) -> Percentiles {
        let pct = |p: f64| -> Duration {
            if sorted_us.is_empty() {
                return Duration::ZERO;
            }
            let idx = ((p * sorted_us.len() as f64).ceil() as usize).clamp(1, sorted_us.len()) - 1;
            Duration::from_micros(sorted_us[idx])
        };
        Percentiles {
            p50: pct(0.50),
            p90: pct(0.90),
            p99: pct(0.99),
            max: sorted_us.last().map_or(Duration::ZERO, |m| Duration::from_micros(*m)),
        }
    }
}

pub(crate) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

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
    /// CALLERROR answers, timeouts, lost connections, failed boots (see `error_kinds`).
    pub errors: u64,
    pub connect_failures: u64,
    /// Every error (including connect failures) by kind.
    pub error_kinds: ErrorCounts,
}

impl LoadReport {
    pub fn to_json(&self) -> Value {
        json!({
            "mode": "closed-loop",
            "stations": self.stations,
            "stations_ready": self.stations_ready,
            "duration_s": self.duration.as_secs_f64(),
            "round_trips": self.round_trips,
            "round_trips_per_sec": self.round_trips_per_sec,
            "p50_ms": ms(self.p50),
            "p90_ms": ms(self.p90),
            "p99_ms": ms(self.p99),
            "max_ms": ms(self.max),
            "errors": self.errors,
            "connect_failures": self.connect_failures,
            "error_kinds": self.error_kinds.to_json(),
        })
    }
}

impl fmt::Display for LoadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{} stations, {:.1}s: {} round trips ({:.1}/s), latency p50={:.2}ms p90={:.2}ms p99={:.2}ms max={:.2}ms, errors={}, connect_failures={} [{}]",
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
            self.connect_failures,
            self.error_kinds
        )
    }
}

#[derive(Default)]
struct StationResult {
    ready: bool,
    connect_failed: bool,
    latencies_us: Vec<u64>,
    errors: ErrorCounts,
}

/// The CALL a load station sends next, with the current time.
pub fn load_call(rng: &mut SmallRng, energy_wh: &mut u64) -> (&'static str, Value) {
    let (action, text) = load_call_text(rng, energy_wh, &crate::util::ts(chrono::Utc::now()));
    (action, serde_json::from_str(&text).expect("load payloads are JSON"))
}

/// The CALL a load station sends next: the action and its payload as JSON text, with the
/// timestamp `now` (RFC 3339).
pub fn load_call_text(rng: &mut SmallRng, energy_wh: &mut u64, now: &str) -> (&'static str, String) {
    let r: f64 = rng.gen_range(0.0..1.0);
    if r < 0.7 {
        *energy_wh += rng.gen_range(1..50);
        let power: f64 = rng.gen_range(3000.0..22000.0);
        let voltage: f64 = rng.gen_range(226.0..234.0);
        let current = power / (voltage * 3.0);
        let sv = |v: &str, m: &str, u: &str| {
            format!(
                r#"{{"value":"{v}","context":"Sample.Periodic","measurand":"{m}","location":"Outlet","unit":"{u}"}}"#
            )
        };
        let payload = format!(
            r#"{{"connectorId":1,"meterValue":[{{"timestamp":"{now}","sampledValue":[{},{},{},{}]}}]}}"#,
            sv(&energy_wh.to_string(), "Energy.Active.Import.Register", "Wh"),
            sv(&format!("{power:.1}"), "Power.Active.Import", "W"),
            sv(&format!("{current:.2}"), "Current.Import", "A"),
            sv(&format!("{voltage:.1}"), "Voltage", "V"),
        );
        ("MeterValues", payload)
    } else if r < 0.9 {
        ("Heartbeat", "{}".to_string())
    } else {
        (
            "StatusNotification",
            format!(r#"{{"connectorId":1,"errorCode":"NoError","status":"Available","timestamp":"{now}"}}"#),
        )
    }
}

/// Runs `stations` closed-loop stations (ids `LOAD-0001`…) against `url` for `duration`
/// after they booted.
pub async fn run_closed_loop(url: &str, stations: usize, duration: Duration) -> LoadReport {
    run_closed_loop_with(&LoadOptions::new(url, stations), duration).await
}

/// Closed loop with explicit options: all stations connect and boot first, then every
/// booted station runs CALL after CALL for `duration`.
pub async fn run_closed_loop_with(opts: &LoadOptions, duration: Duration) -> LoadReport {
    let mut report = LoadReport { stations: opts.stations, duration, ..Default::default() };
    let target = match Target::resolve(&opts.url, opts.source_addrs).await {
        Ok(t) => Arc::new(t),
        Err(e) => {
            report.connect_failures = opts.stations as u64;
            report.error_kinds.add(e);
            return report;
        }
    };
    let (start_tx, start_rx) = watch::channel::<Option<Instant>>(None);
    let (ready_tx, mut ready_rx) = mpsc::channel::<()>(opts.stations.max(1));
    let gate = Arc::new(Semaphore::new(opts.connect_concurrency.max(1)));
    let mut set = tokio::task::JoinSet::new();
    for i in 0..opts.stations {
        let (target, gate, opts) = (target.clone(), gate.clone(), opts.clone());
        let (start, ready) = (start_rx.clone(), ready_tx.clone());
        set.spawn(async move { load_station(&target, &gate, &opts, i, duration, start, ready).await });
    }
    drop(ready_tx);
    // Start the clock once every station booted or gave up (at most two minutes).
    let all_in = async {
        let mut n = 0;
        while n < opts.stations && ready_rx.recv().await.is_some() {
            n += 1;
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(120), all_in).await;
    let _ = start_tx.send(Some(Instant::now()));
    let mut all = Vec::new();
    while let Some(r) = set.join_next().await {
        let Ok(r) = r else { continue };
        report.stations_ready += r.ready as usize;
        report.connect_failures += r.connect_failed as u64;
        report.error_kinds.merge(r.errors);
        all.extend(r.latencies_us);
    }
    all.sort_unstable();
    report.errors = report.error_kinds.total() - report.connect_failures;
    report.round_trips = all.len() as u64;
    report.round_trips_per_sec = all.len() as f64 / duration.as_secs_f64().max(1e-9);
    let p = Percentiles::of_sorted(&all);
    (report.p50, report.p90, report.p99, report.max) = (p.p50, p.p90, p.p99, p.max);
    report
}

async fn load_station(
    target: &Target,
    gate: &Semaphore,
    opts: &LoadOptions,
    i: usize,
    duration: Duration,
    mut start: watch::Receiver<Option<Instant>>,
    ready: mpsc::Sender<()>,
) -> StationResult {
    let id = opts.station_id(i);
    let mut res = StationResult::default();
    let mut conn = match target.open(gate, i, &id, opts.connect_timeout).await {
        Ok(conn) => conn,
        Err(e) => {
            res.connect_failed = true;
            res.errors.add(format!("connect: {e}"));
            let _ = ready.send(()).await;
            return res;
        }
    };
    let booted = match conn.call("BootNotification", &boot_payload(&id), opts.call_timeout).await {
        Answer::Result(t) => boot_verdict(&t),
        other => Err(answer_error(other)),
    };
    let _ = ready.send(()).await;
    if let Err(e) = booted {
        res.errors.add(e);
        return res;
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
    let mut rng = SmallRng::seed_from_u64(i as u64);
    let mut energy = rng.gen_range(0..1_000_000u64);
    let end = t0 + duration;
    res.latencies_us.reserve(4096);
    let mut now_s = String::new();
    let mut now_ms = 0i64;
    let pace = opts.rate.filter(|r| *r > 0.0).map(|r| Duration::from_secs_f64(opts.stations as f64 / r));
    let mut due = pace.map(|p| t0 + p.mul_f64(i as f64 / opts.stations.max(1) as f64));
    loop {
        if let (Some(at), Some(p)) = (due, pace) {
            tokio::time::sleep_until(at.into()).await;
            due = Some(at + p);
        }
        let sent = Instant::now();
        if sent >= end {
            break;
        }
        // The timestamp string changes once per millisecond at most.
        let now = chrono::Utc::now();
        if now.timestamp_millis() != now_ms {
            now_ms = now.timestamp_millis();
            now_s = crate::util::ts(now);
        }
        let (action, payload) = load_call_text(&mut rng, &mut energy, &now_s);
        let answer = conn.call(action, &payload, end.saturating_duration_since(sent) + opts.call_timeout).await;
        let done = Instant::now();
        match answer {
            Answer::Result(_) => {
                if done <= end {
                    res.latencies_us.push((done - sent).as_micros() as u64);
                }
            }
            Answer::Error(code) => {
                if done <= end {
                    res.latencies_us.push((done - sent).as_micros() as u64);
                }
                res.errors.add(format!("CALLERROR {code} ({action})"));
            }
            Answer::Timeout => res.errors.add(format!("timeout ({action})")),
            Answer::Closed(e) => {
                res.errors.add(format!("connection lost: {e}"));
                return res;
            }
        }
    }
    conn.close().await;
    res
}

/// An unsuccessful answer as an error kind.
pub(crate) fn answer_error(a: Answer) -> String {
    match a {
        Answer::Result(_) => "unexpected CALLRESULT".into(),
        Answer::Error(code) => format!("CALLERROR {code}"),
        Answer::Timeout => "timeout".into(),
        Answer::Closed(e) => format!("connection lost: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_calls_are_valid_ocpp() {
        let mut rng = SmallRng::seed_from_u64(7);
        let mut energy = 1000;
        let mut counts = BTreeMap::new();
        for _ in 0..2000 {
            let (action, payload) = load_call_text(&mut rng, &mut energy, "2026-11-23T10:00:00.000Z");
            let v: Value = serde_json::from_str(&payload).unwrap();
            let a: chargewatch_ocpp::Action = action.parse().unwrap();
            assert!(chargewatch_ocpp::validate_request(a, &v).is_ok(), "{action} {payload}");
            *counts.entry(action).or_insert(0) += 1;
        }
        let mv = counts["MeterValues"] as f64 / 2000.0;
        assert!((0.65..0.75).contains(&mv), "{counts:?}");
    }

    #[test]
    fn percentiles_and_errors() {
        let p = Percentiles::of_sorted(&(1..=100).collect::<Vec<u64>>());
        assert_eq!(p.p50, Duration::from_micros(50));
        assert_eq!(p.p99, Duration::from_micros(99));
        assert_eq!(p.max, Duration::from_micros(100));
        let mut e = ErrorCounts::default();
        e.add("timeout");
        e.add("timeout");
        e.add("boot Rejected");
        assert_eq!(e.total(), 3);
        assert_eq!(e.to_string(), "boot Rejected: 1, timeout: 2");
    }
}
