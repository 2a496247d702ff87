//! Connection storm: N stations connect and boot as fast as they can.

use super::conn::{boot_payload, boot_verdict, Answer, Conn, Target};
use super::{answer_error, ms, ErrorCounts, LoadOptions, Percentiles};
use serde_json::{json, Value};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch, Semaphore};

/// Result of [`run_storm`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StormReport {
    pub stations: usize,
    /// Stations that connected and got BootNotification Accepted.
    pub booted: usize,
    /// From the start until the last station booted (or gave up).
    pub time_to_all: Duration,
    /// Distribution over booted stations of the time from the start of the storm until the
    /// station's BootNotification was accepted.
    pub booted_after: Percentiles,
    /// Distribution of one station's own connect + handshake + boot time.
    pub connect_and_boot: Percentiles,
    pub errors: ErrorCounts,
}

impl StormReport {
    pub fn to_json(&self) -> Value {
        json!({
            "mode": "storm",
            "stations": self.stations,
            "booted": self.booted,
            "time_to_all_s": self.time_to_all.as_secs_f64(),
            "booted_after_p50_ms": ms(self.booted_after.p50),
            "booted_after_p99_ms": ms(self.booted_after.p99),
            "connect_and_boot_p50_ms": ms(self.connect_and_boot.p50),
            "connect_and_boot_p99_ms": ms(self.connect_and_boot.p99),
            "connect_and_boot_max_ms": ms(self.connect_and_boot.max),
            "errors": self.errors.total(),
            "error_kinds": self.errors.to_json(),
        })
    }
}

impl fmt::Display for StormReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "storm: {}/{} stations booted, all done in {:.2}s (half booted after {:.0}ms), connect+boot per station p50={:.1}ms p99={:.1}ms max={:.1}ms, errors={} [{}]",
            self.booted,
            self.stations,
            self.time_to_all.as_secs_f64(),
            ms(self.booted_after.p50),
            ms(self.connect_and_boot.p50),
            ms(self.connect_and_boot.p99),
            ms(self.connect_and_boot.max),
            self.errors.total(),
            self.errors
        )
    }
}

enum Booted {
    /// Since the start of the storm, and the station's own connect+boot time.
    Ok(Duration, Duration),
    Failed(String),
}

/// Starts all stations at once (at most `opts.connect_concurrency` handshakes in flight),
/// waits until every one booted or failed (at most `limit`), then closes them all.
/// Stations stay connected until the end, so the server holds all N at once.
pub async fn run_storm(opts: &LoadOptions, limit: Duration) -> StormReport {
    let mut report = StormReport { stations: opts.stations, ..Default::default() };
    let target = match Target::resolve(&opts.url, opts.source_addrs).await {
        Ok(t) => Arc::new(t),
        Err(e) => {
            report.errors.add(e);
            return report;
        }
    };
    let (stop_tx, stop_rx) = watch::channel(false);
    let (tx, mut rx) = mpsc::unbounded_channel::<Booted>();
    let gate = Arc::new(Semaphore::new(opts.connect_concurrency.max(1)));
    let start = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for i in 0..opts.stations {
        let (target, gate, opts, tx) = (target.clone(), gate.clone(), opts.clone(), tx.clone());
        let mut stop = stop_rx.clone();
        set.spawn(async move {
            let id = opts.station_id(i);
            let r = async {
                let _permit = gate.acquire().await;
                let t0 = Instant::now();
                let ws = target.connect(i, &id, opts.connect_timeout).await.map_err(|e| format!("connect: {e}"))?;
                drop(_permit);
                let mut conn = Conn::new(ws, id.clone());
                let verdict = match conn.call("BootNotification", &boot_payload(&id), opts.call_timeout).await {
                    Answer::Result(t) => boot_verdict(&t),
                    other => Err(answer_error(other)),
                };
                verdict.map(|_| (conn, t0))
            }
            .await;
            match r {
                Ok((mut conn, t0)) => {
                    let _ = tx.send(Booted::Ok(start.elapsed(), t0.elapsed()));
                    drop(tx);
                    // Hold the connection (answering pings) until the storm is over.
                    tokio::select! {
                        _ = stop.wait_for(|s| *s) => {}
                        _ = conn.idle_until(tokio::time::Instant::now() + Duration::from_secs(3600)) => {}
                    }
                    conn.close().await;
                }
                Err(e) => {
                    let _ = tx.send(Booted::Failed(e));
                }
            }
        });
    }
    drop(tx);
    let mut since_start = Vec::with_capacity(opts.stations);
    let mut own = Vec::with_capacity(opts.stations);
    let collect = async {
        let mut seen = 0;
        while seen < opts.stations {
            match rx.recv().await {
                Some(Booted::Ok(at, took)) => {
                    since_start.push(at.as_micros() as u64);
                    own.push(took.as_micros() as u64);
                }
                Some(Booted::Failed(e)) => report.errors.add(e),
                None => break,
            }
            seen += 1;
        }
    };
    if tokio::time::timeout(limit, collect).await.is_err() {
        let missing = opts.stations - since_start.len() - report.errors.total() as usize;
        for _ in 0..missing {
            report.errors.add(format!("not booted within {:.0}s", limit.as_secs_f64()));
        }
    }
    report.time_to_all = start.elapsed();
    let _ = stop_tx.send(true);
    since_start.sort_unstable();
    own.sort_unstable();
    report.booted = since_start.len();
    report.booted_after = Percentiles::of_sorted(&since_start);
    report.connect_and_boot = Percentiles::of_sorted(&own);
    let _ = tokio::time::timeout(Duration::from_secs(60), async { while set.join_next().await.is_some() {} }).await;
    set.abort_all();
    report
}
