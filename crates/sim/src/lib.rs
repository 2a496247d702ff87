//! Simulated OCPP 1.6-J charging stations.
//!
//! [`run`] starts `stations` simulated charge points against a central system. Each one
//! connects to `{url}/{id}` with subprotocol `ocpp1.6`, boots, reports its connectors,
//! sends heartbeats, runs RFID transactions with meter values, has the occasional fault,
//! and answers every central-system CALL of the six OCPP 1.6 feature profiles.
//!
//! The protocol behaviour lives in [`station::Station`], a pure state machine (state +
//! event → CALLs to send and effects), so it is testable without sockets; [`runner`] does
//! the I/O. [`load::run_closed_loop`] is a closed-loop load generator.

pub mod config_store;
pub mod load;
pub mod local_list;
pub mod runner;
pub mod smart;
pub mod station;
pub mod stats;
pub mod util;

pub use load::{run_closed_loop, LoadReport};
pub use stats::{SimProgress, SimSummary};

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What to simulate.
///
/// `time_scale` > 1 compresses simulated activity (meter interval, time between and
/// length of transactions, fault durations, firmware install steps); protocol intervals
/// set by the central system (heartbeat, boot retry, reservation expiry, charging
/// schedules) run in real time.
#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    /// Base URL; station `id` connects to `{url}/{id}`, e.g. `ws://127.0.0.1:9000/ocpp`.
    pub url: String,
    pub stations: usize,
    /// Connectors per station (at least 1).
    pub connectors: usize,
    /// Station ids are the prefix followed by the 1-based index, zero-padded to 4 digits.
    pub id_prefix: String,
    /// `None`: use the interval from BootNotification.conf.
    pub heartbeat_interval: Option<Duration>,
    pub meter_interval: Duration,
    /// Mean time between new RFID transactions per connector (exponentially distributed).
    pub transaction_interval: Duration,
    /// Mean length of a transaction.
    pub transaction_duration: Duration,
    /// Per connector and status tick (one meter interval), the chance to report a fault.
    pub fault_probability: f64,
    /// Each station's random generator is seeded with `seed + index`.
    pub seed: u64,
    /// Stop after this long (`None`: run until the shutdown future completes).
    pub duration: Option<Duration>,
    pub time_scale: f64,
    /// idTags the simulated drivers present (empty: built-in tags).
    pub id_tags: Vec<String>,
    /// HTTP Basic password (user = station id) for OCPP security profile 1.
    pub basic_auth_password: Option<String>,
    /// How long a station waits for the answer to its CALL.
    pub call_timeout: Duration,
    /// Delay between consecutive station start-ups (spreads the connect burst).
    pub ramp_up_step: Duration,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            url: "ws://127.0.0.1:9000/ocpp".into(),
            stations: 1,
            connectors: 2,
            id_prefix: "SIM-".into(),
            heartbeat_interval: None,
            meter_interval: Duration::from_secs(60),
            transaction_interval: Duration::from_secs(1800),
            transaction_duration: Duration::from_secs(1800),
            fault_probability: 0.001,
            seed: 1,
            duration: None,
            time_scale: 1.0,
            id_tags: Vec::new(),
            basic_auth_password: None,
            call_timeout: Duration::from_secs(30),
            ramp_up_step: Duration::from_millis(10),
        }
    }
}

/// Runs the simulation until `shutdown` completes or `config.duration` passes, logging a
/// progress line with `tracing::info!` every 10 seconds.
pub async fn run(config: SimConfig, shutdown: impl Future<Output = ()>) -> SimSummary {
    run_with_progress(config, shutdown, Duration::from_secs(10), |p| tracing::info!(target: "chargewatch_sim", "{p}"))
        .await
}

/// Like [`run`], calling `on_progress` every `every` with a snapshot (its `Display` is a
/// one-line summary).
pub async fn run_with_progress(
    config: SimConfig,
    shutdown: impl Future<Output = ()>,
    every: Duration,
    mut on_progress: impl FnMut(&SimProgress) + Send + 'static,
) -> SimSummary {
    let started = Instant::now();
    let stats = Arc::new(stats::Stats::default());
    let (tx, rx) = tokio::sync::watch::channel(false);
    let http = reqwest::Client::builder().build().unwrap_or_default();
    let cfg = Arc::new(config);
    let mut set = tokio::task::JoinSet::new();
    for i in 0..cfg.stations {
        let (cfg, stats, http, rx) = (cfg.clone(), stats.clone(), http.clone(), rx.clone());
        let delay = cfg.ramp_up_step * (i as u32);
        set.spawn(async move {
            let mut rx2 = rx.clone();
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = rx2.changed() => return,
            }
            runner::run_station(i, cfg, stats, http, rx).await
        });
    }
    let reporter = {
        let stats = stats.clone();
        tokio::spawn(async move {
            let mut t = tokio::time::interval(every.max(Duration::from_millis(100)));
            t.tick().await;
            loop {
                t.tick().await;
                on_progress(&stats.progress(started.elapsed()));
            }
        })
    };
    let limit = async {
        match cfg.duration {
            Some(d) => tokio::time::sleep(d).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = shutdown => {}
        _ = limit => {}
    }
    let _ = tx.send(true);
    // Stations stop their transactions and close within a few seconds.
    let drain = async { while set.join_next().await.is_some() {} };
    if tokio::time::timeout(Duration::from_secs(10), drain).await.is_err() {
        set.abort_all();
    }
    reporter.abort();
    stats.summary(cfg.stations, started.elapsed())
}
