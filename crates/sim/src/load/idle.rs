//! Idle mode: N stations boot, then only heartbeat at the interval, for a hold time.

use super::conn::{boot_payload, boot_verdict, Answer, Target};
use super::{answer_error, ErrorCounts, LoadOptions};
use rand::Rng;
use serde_json::{json, Value};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch, Semaphore};

/// Result of [`run_idle`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct IdleReport {
    pub stations: usize,
    /// Stations that connected and got BootNotification Accepted.
    pub booted: usize,
    /// From the first connect until every station booted or gave up.
    pub time_to_boot: Duration,
    /// How long the booted stations were held connected.
    pub hold: Duration,
    /// Booted stations whose connection was still open at the end of the hold.
    pub connected_at_end: usize,
    pub heartbeats: u64,
    pub errors: ErrorCounts,
}

impl IdleReport {
    pub fn to_json(&self) -> Value {
        json!({
            "mode": "idle",
            "stations": self.stations,
            "booted": self.booted,
            "time_to_boot_s": self.time_to_boot.as_secs_f64(),
            "hold_s": self.hold.as_secs_f64(),
            "connected_at_end": self.connected_at_end,
            "heartbeats": self.heartbeats,
            "errors": self.errors.total(),
            "error_kinds": self.errors.to_json(),
        })
    }
}

impl fmt::Display for IdleReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "idle: {}/{} stations booted in {:.2}s, held {:.0}s, {} still connected at the end, {} heartbeats, errors={} [{}]",
            self.booted,
            self.stations,
            self.time_to_boot.as_secs_f64(),
            self.hold.as_secs_f64(),
            self.connected_at_end,
            self.heartbeats,
            self.errors.total(),
            self.errors
        )
    }
}

#[derive(Default)]
struct Outcome {
    booted: bool,
    connected_at_end: bool,
    heartbeats: u64,
    errors: ErrorCounts,
}

/// Connects and boots `opts.stations` stations, calls `on_booted(booted, stations, elapsed)`
/// once all of them booted or gave up, then holds them connected for `hold`, each sending
/// Heartbeat every `heartbeat` (default: the BootNotification.conf interval; the first one
/// at a random point of the first interval so they do not come in waves).
pub async fn run_idle(
    opts: &LoadOptions,
    hold: Duration,
    heartbeat: Option<Duration>,
    on_booted: impl FnOnce(usize, usize, Duration),
) -> IdleReport {
    let mut report = IdleReport { stations: opts.stations, hold, ..Default::default() };
    let target = match Target::resolve(&opts.url, opts.source_addrs).await {
        Ok(t) => Arc::new(t),
        Err(e) => {
            report.errors.add(e);
            return report;
        }
    };
    let (stop_tx, stop_rx) = watch::channel::<Option<tokio::time::Instant>>(None);
    let (boot_tx, mut boot_rx) = mpsc::channel::<bool>(opts.stations.max(1));
    let gate = Arc::new(Semaphore::new(opts.connect_concurrency.max(1)));
    let started = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for i in 0..opts.stations {
        let (target, gate, opts) = (target.clone(), gate.clone(), opts.clone());
        let (stop, boot) = (stop_rx.clone(), boot_tx.clone());
        set.spawn(async move { idle_station(&target, &gate, &opts, i, heartbeat, stop, boot).await });
    }
    drop(boot_tx);
    let mut seen = 0;
    let mut booted = 0;
    while seen < opts.stations {
        match boot_rx.recv().await {
            Some(ok) => {
                seen += 1;
                booted += ok as usize;
            }
            None => break,
        }
    }
    report.time_to_boot = started.elapsed();
    on_booted(booted, opts.stations, report.time_to_boot);
    let _ = stop_tx.send(Some(tokio::time::Instant::now() + hold));
    while let Some(r) = set.join_next().await {
        let Ok(r) = r else { continue };
        report.booted += r.booted as usize;
        report.connected_at_end += r.connected_at_end as usize;
        report.heartbeats += r.heartbeats;
        report.errors.merge(r.errors);
    }
    report
}

async fn idle_station(
    target: &Target,
    gate: &Semaphore,
    opts: &LoadOptions,
    i: usize,
    heartbeat: Option<Duration>,
    mut stop: watch::Receiver<Option<tokio::time::Instant>>,
    boot: mpsc::Sender<bool>,
) -> Outcome {
    let id = opts.station_id(i);
    let mut out = Outcome::default();
    let mut conn = match target.open(gate, i, &id, opts.connect_timeout).await {
        Ok(conn) => conn,
        Err(e) => {
            out.errors.add(format!("connect: {e}"));
            let _ = boot.send(false).await;
            return out;
        }
    };
    let verdict = match conn.call("BootNotification", &boot_payload(&id), opts.call_timeout).await {
        Answer::Result(t) => boot_verdict(&t),
        other => Err(answer_error(other)),
    };
    let _ = boot.send(verdict.is_ok()).await;
    let interval = match verdict {
        Ok(s) => heartbeat.unwrap_or(Duration::from_secs(s.max(1))),
        Err(e) => {
            out.errors.add(e);
            return out;
        }
    };
    out.booted = true;
    drop(boot);
    // Stay connected (answering pings and central-system calls) until the hold starts...
    let end = loop {
        if let Some(end) = *stop.borrow() {
            break end;
        }
        tokio::select! {
            changed = stop.changed() => if changed.is_err() { return out },
            r = conn.idle_until(tokio::time::Instant::now() + Duration::from_secs(3600)) => if let Err(e) = r {
                out.errors.add(format!("connection lost: {e}"));
                return out;
            },
        }
    };
    // ... then heartbeat until its end.
    let first = interval.mul_f64(rand::thread_rng().gen_range(0.0..1.0));
    let mut next = tokio::time::Instant::now() + first;
    while next < end {
        if let Err(e) = conn.idle_until(next).await {
            out.errors.add(format!("connection lost: {e}"));
            return out;
        }
        match conn.call("Heartbeat", "{}", opts.call_timeout).await {
            Answer::Result(_) => out.heartbeats += 1,
            Answer::Closed(e) => {
                out.errors.add(format!("connection lost: {e}"));
                return out;
            }
            other => out.errors.add(format!("Heartbeat: {}", answer_error(other))),
        }
        next += interval;
    }
    if let Err(e) = conn.idle_until(end).await {
        out.errors.add(format!("connection lost: {e}"));
        return out;
    }
    out.connected_at_end = true;
    conn.close().await;
    out
}
