//! `chargewatch simulate`: simulated charging stations (the `chargewatch-sim` crate) on
//! the command line. With `--register`, the stations, their site and their id tags are
//! registered through the HTTP API first, so the server's default of refusing unknown
//! stations stays on.

use anyhow::Context;
use chargewatch_sim::SimConfig;
use clap::Args;
use serde_json::json;
use std::time::Duration;

#[derive(Args, Debug, Clone)]
pub struct SimulateArgs {
    /// Base URL of the central system's OCPP endpoint; station ids are appended.
    #[arg(long, env = "CHARGEWATCH_SIM_URL", default_value = "ws://127.0.0.1:9000/ocpp")]
    pub url: String,
    /// Number of simulated stations.
    #[arg(long, short = 'n', env = "CHARGEWATCH_SIM_STATIONS", default_value_t = 10)]
    pub stations: usize,
    /// Connectors per station.
    #[arg(long, env = "CHARGEWATCH_SIM_CONNECTORS", default_value_t = 2)]
    pub connectors: usize,
    /// Station ids are this prefix plus a 4-digit number.
    #[arg(long, env = "CHARGEWATCH_SIM_ID_PREFIX", default_value = "SIM-")]
    pub id_prefix: String,
    /// Heartbeat interval in seconds (default: the one BootNotification.conf gives).
    #[arg(long, env = "CHARGEWATCH_SIM_HEARTBEAT_INTERVAL")]
    pub heartbeat_interval: Option<u64>,
    /// Seconds between MeterValues during a transaction.
    #[arg(long, env = "CHARGEWATCH_SIM_METER_INTERVAL", default_value_t = 10.0)]
    pub meter_interval: f64,
    /// Mean seconds between RFID transactions per connector.
    #[arg(long, env = "CHARGEWATCH_SIM_TRANSACTION_INTERVAL", default_value_t = 60.0)]
    pub transaction_interval: f64,
    /// Mean transaction length, seconds.
    #[arg(long, env = "CHARGEWATCH_SIM_TRANSACTION_DURATION", default_value_t = 120.0)]
    pub transaction_duration: f64,
    /// Chance per connector and meter tick to report a fault (then recover).
    #[arg(long, env = "CHARGEWATCH_SIM_FAULT_PROBABILITY", default_value_t = 0.01)]
    pub fault_probability: f64,
    /// Seed for reproducible runs.
    #[arg(long, env = "CHARGEWATCH_SIM_SEED", default_value_t = 1)]
    pub seed: u64,
    /// Stop after this many seconds (default: run until Ctrl-C).
    #[arg(long, env = "CHARGEWATCH_SIM_DURATION")]
    pub duration: Option<f64>,
    /// Compress simulated activity (meter interval, transactions, faults) by this factor.
    #[arg(long, env = "CHARGEWATCH_SIM_TIME_SCALE", default_value_t = 1.0)]
    pub time_scale: f64,
    /// Id tags the simulated drivers present (comma-separated).
    #[arg(
        long,
        env = "CHARGEWATCH_SIM_ID_TAGS",
        value_delimiter = ',',
        default_value = "SIM-TAG-1,SIM-TAG-2,SIM-TAG-3,SIM-TAG-4"
    )]
    pub id_tags: Vec<String>,
    /// Register the stations, a site and the id tags through the API first.
    #[arg(long, env = "CHARGEWATCH_SIM_REGISTER")]
    pub register: bool,
    /// The central system's HTTP API, for --register.
    #[arg(long, env = "CHARGEWATCH_SIM_API", default_value = "http://127.0.0.1:8080")]
    pub api: String,
    /// The admin token, for --register.
    #[arg(long, env = "CHARGEWATCH_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// Site the stations are registered to, with --register (created if missing).
    #[arg(long, env = "CHARGEWATCH_SIM_SITE", default_value = "sim-site")]
    pub site: String,
    /// Closed-loop load mode: each station sends its next CALL as soon as the previous
    /// answer arrives, for --duration seconds (default 10); prints round trips/s, latency
    /// percentiles and every kind of error.
    #[arg(long, conflicts_with_all = ["idle", "storm"])]
    pub closed_loop: bool,
    /// Closed-loop mode with a ceiling: at most this many CALLs per second from all stations
    /// together, evenly spaced (to measure latency at a given load rather than at saturation).
    #[arg(long, requires = "closed_loop")]
    pub rate: Option<f64>,
    /// Idle load mode: all stations connect and boot, then only heartbeat (every
    /// --heartbeat-interval, default the server's) for --duration seconds (default 30);
    /// prints how many booted and stayed connected. A line starting `IDLE-READY` is printed
    /// when all stations booted (for scripts measuring the server's memory).
    #[arg(long, conflicts_with = "storm")]
    pub idle: bool,
    /// Connection-storm load mode: all stations connect and boot as fast as they can (at most
    /// --connect-concurrency handshakes in flight); prints the time until all booted and errors.
    /// --duration (default 60) bounds the wait.
    #[arg(long)]
    pub storm: bool,
    /// Load modes: loopback source addresses to spread connections over (127.0.0.1..=N,
    /// at most 250; 0 lets the kernel choose), so more stations than one address has ports.
    #[arg(long, env = "CHARGEWATCH_SIM_SOURCE_ADDRS", default_value_t = 250)]
    pub source_addrs: u8,
    /// Load modes: most TCP connects + WebSocket handshakes in flight at once.
    #[arg(long, env = "CHARGEWATCH_SIM_CONNECT_CONCURRENCY", default_value_t = 1000)]
    pub connect_concurrency: usize,
    /// Load modes: also write the report as JSON to this file.
    #[arg(long, env = "CHARGEWATCH_SIM_REPORT_JSON")]
    pub report_json: Option<std::path::PathBuf>,
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s.max(0.001))
}

impl SimulateArgs {
    fn config(&self) -> SimConfig {
        SimConfig {
            url: self.url.trim_end_matches('/').to_string(),
            stations: self.stations,
            connectors: self.connectors.max(1),
            id_prefix: self.id_prefix.clone(),
            heartbeat_interval: self.heartbeat_interval.map(Duration::from_secs),
            meter_interval: secs(self.meter_interval),
            transaction_interval: secs(self.transaction_interval),
            transaction_duration: secs(self.transaction_duration),
            fault_probability: self.fault_probability.clamp(0.0, 1.0),
            seed: self.seed,
            duration: self.duration.map(secs),
            time_scale: self.time_scale.max(0.001),
            id_tags: self.id_tags.clone(),
            ..SimConfig::default()
        }
    }

    fn station_ids(&self) -> Vec<String> {
        (1..=self.stations).map(|i| format!("{}{i:04}", self.id_prefix)).collect()
    }
}

/// Registers the site, the stations and the id tags through the API.
async fn register(args: &SimulateArgs) -> anyhow::Result<()> {
    let token = args.admin_token.as_deref().context("--register needs --admin-token (or CHARGEWATCH_ADMIN_TOKEN)")?;
    let http = reqwest::Client::new();
    let api = args.api.trim_end_matches('/');
    let site = json!({"id": args.site, "name": format!("Simulated site {}", args.site)});
    let resp = http
        .post(format!("{api}/api/v1/sites"))
        .bearer_auth(token)
        .json(&site)
        .send()
        .await
        .context("reaching the API")?;
    anyhow::ensure!(resp.status().is_success() || resp.status() == 409, "creating the site: {}", resp.text().await?);
    for id in args.station_ids() {
        let resp = http
            .put(format!("{api}/api/v1/stations/{id}"))
            .bearer_auth(token)
            .json(&json!({"site_id": args.site}))
            .send()
            .await?;
        anyhow::ensure!(resp.status().is_success(), "registering {id}: {}", resp.text().await?);
    }
    for tag in &args.id_tags {
        let resp = http
            .put(format!("{api}/api/v1/id-tags/{tag}"))
            .bearer_auth(token)
            .json(&json!({"status": "Accepted"}))
            .send()
            .await?;
        anyhow::ensure!(resp.status().is_success(), "registering id tag {tag}: {}", resp.text().await?);
    }
    println!("registered {} stations on site `{}` and {} id tags", args.stations, args.site, args.id_tags.len());
    Ok(())
}

pub async fn run(args: SimulateArgs) -> anyhow::Result<()> {
    if args.register {
        register(&args).await?;
    }
    if args.closed_loop || args.idle || args.storm {
        return run_load(&args).await;
    }
    let config = args.config();
    println!("simulating {} stations x {} connectors against {}", config.stations, config.connectors, config.url);
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let summary =
        chargewatch_sim::run_with_progress(config, shutdown, Duration::from_secs(5), |p| println!("{p}")).await;
    println!("{summary}");
    Ok(())
}

/// The load modes (`--closed-loop`, `--idle`, `--storm`).
async fn run_load(args: &SimulateArgs) -> anyhow::Result<()> {
    use chargewatch_sim::load::{run_closed_loop_with, run_idle, run_storm, LoadOptions};
    use std::io::Write;
    let opts = LoadOptions {
        id_prefix: args.id_prefix.clone(),
        source_addrs: args.source_addrs,
        connect_concurrency: args.connect_concurrency.max(1),
        rate: args.rate,
        ..LoadOptions::new(args.url.trim_end_matches('/'), args.stations)
    };
    let (text, json) = if args.closed_loop {
        let r = run_closed_loop_with(&opts, secs(args.duration.unwrap_or(10.0))).await;
        (r.to_string(), r.to_json())
    } else if args.idle {
        let hold = secs(args.duration.unwrap_or(30.0));
        let heartbeat = args.heartbeat_interval.map(|s| Duration::from_secs(s.max(1)));
        let r = run_idle(&opts, hold, heartbeat, |booted, n, took| {
            println!(
                "IDLE-READY {booted}/{n} stations booted in {:.2}s; holding for {:.0}s",
                took.as_secs_f64(),
                hold.as_secs_f64()
            );
            let _ = std::io::stdout().flush();
        })
        .await;
        (r.to_string(), r.to_json())
    } else {
        let r = run_storm(&opts, secs(args.duration.unwrap_or(60.0))).await;
        (r.to_string(), r.to_json())
    };
    println!("{text}");
    if let Some(path) = &args.report_json {
        std::fs::write(path, format!("{json}\n")).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}
