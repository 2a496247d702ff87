//! The command line, parsed once into a validated configuration. Every flag has an
//! environment variable of the same name (`--ocpp-listen` is `CHARGEWATCH_OCPP_LISTEN`).

use chargewatch_logstore::LogLevel;
use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(name = "chargewatch", version, about = "OCPP 1.6-J central system with an operator-facing OCPP message log")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Start the central system: OCPP WebSocket endpoint, log pipeline, HTTP API and web UI.
    Serve(Box<ServeArgs>),
    /// Run simulated charging stations against an OCPP 1.6-J central system.
    Simulate(Box<crate::simulate::SimulateArgs>),
}

#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// Address of the OCPP WebSocket endpoint (ws://ADDR/ocpp/{chargeBoxId}).
    #[arg(long, env = "CHARGEWATCH_OCPP_LISTEN", default_value = "0.0.0.0:9000")]
    pub ocpp_listen: SocketAddr,

    /// Address of the HTTP API and web UI.
    #[arg(long, env = "CHARGEWATCH_HTTP_LISTEN", default_value = "0.0.0.0:8080")]
    pub http_listen: SocketAddr,

    /// Where the embedded state and log store live.
    #[arg(long, env = "CHARGEWATCH_DATA_DIR", default_value = "./chargewatch-data")]
    pub data_dir: PathBuf,

    /// Bearer token for the API. When neither this nor the variable is set, a token is
    /// generated, printed once and kept in DATA_DIR/admin-token.
    #[arg(long, env = "CHARGEWATCH_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,

    /// Let stations that no operator registered boot (they are registered on first boot).
    /// Off by default: unknown stations get BootNotification status Rejected.
    #[arg(long, env = "CHARGEWATCH_ACCEPT_UNKNOWN_STATIONS")]
    pub accept_unknown_stations: bool,

    /// Answer Accepted for id tags not in the id-tag store (default: Invalid).
    #[arg(long, env = "CHARGEWATCH_ACCEPT_UNKNOWN_ID_TAGS")]
    pub accept_unknown_id_tags: bool,

    /// Heartbeat interval sent in BootNotification.conf, seconds.
    #[arg(long, env = "CHARGEWATCH_HEARTBEAT_INTERVAL", default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=86400))]
    pub heartbeat_interval: u64,

    /// How long to wait for a charger's answer to a central-system call, seconds.
    #[arg(long, env = "CHARGEWATCH_CALL_TIMEOUT", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub call_timeout: u64,

    /// WebSocket ping interval, seconds; a connection silent for a whole interval after a ping is closed.
    #[arg(long, env = "CHARGEWATCH_PING_INTERVAL", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub ping_interval: u64,

    /// Largest OCPP frame accepted, bytes; larger ones get a FormationViolation CALLERROR
    /// (beyond 16 times this, or 1 MiB, the connection is closed with 1009).
    #[arg(long, env = "CHARGEWATCH_MAX_FRAME_BYTES", default_value_t = 65536, value_parser = clap::value_parser!(u64).range(1024..=16777216))]
    pub max_frame_bytes: u64,

    /// Most charger connections at once; more are refused with HTTP 503.
    #[arg(long, env = "CHARGEWATCH_MAX_CONNECTIONS", default_value_t = 100_000)]
    pub max_connections: usize,

    /// Central-system calls queued per station beyond the one outstanding.
    #[arg(long, env = "CHARGEWATCH_COMMAND_QUEUE", default_value_t = 32)]
    pub command_queue: usize,

    /// Days of OCPP message log kept; older day partitions are deleted.
    #[arg(long, env = "CHARGEWATCH_LOG_RETENTION_DAYS", default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=3650))]
    pub log_retention_days: u32,

    /// Log level of stations that belong to no site.
    #[arg(long, env = "CHARGEWATCH_DEFAULT_LOG_LEVEL", default_value = "info", value_parser = parse_level)]
    pub default_log_level: LogLevel,

    /// Log records queued between gateways and the log store; beyond it records are
    /// dropped and counted (records_dropped in /metrics and /api/v1/logs/stats).
    #[arg(long, env = "CHARGEWATCH_LOG_QUEUE", default_value_t = 200_000)]
    pub log_queue: usize,

    /// Largest API request body, bytes.
    #[arg(long, env = "CHARGEWATCH_MAX_BODY_BYTES", default_value_t = 1024 * 1024)]
    pub max_body_bytes: usize,

    #[command(flatten)]
    pub security: crate::security::SecurityArgs,

    #[command(flatten)]
    pub cluster: crate::cluster::ClusterArgs,
}

fn parse_level(s: &str) -> Result<LogLevel, String> {
    s.parse()
}

impl ServeArgs {
    /// Defaults for tests: loopback, ephemeral ports, the given data dir and token.
    pub fn for_test(data_dir: PathBuf, token: &str) -> ServeArgs {
        let cli = Cli::parse_from([
            "chargewatch",
            "serve",
            "--ocpp-listen",
            "127.0.0.1:0",
            "--http-listen",
            "127.0.0.1:0",
            "--admin-token",
            token,
        ]);
        let Command::Serve(mut args) = cli.command else { unreachable!() };
        args.data_dir = data_dir;
        *args
    }
}
