//! Beyond one machine (SPEC.md, Data flow): roles, RabbitMQ between gateways, indexers and
//! API processes, PostgreSQL as the log store.
//!
//! - A gateway publishes log records to RabbitMQ with confirms and binds each station it
//!   holds on the command exchange (RabbitMQ is the presence registry).
//! - An indexer consumes with manual acks into the log store.
//! - An API process routes commands through the command exchange and tails the log store.
//! - Every process reloads log levels from the shared state store twice a second, so a
//!   change applies everywhere within one second.
//! - A gateway on another host (`--gateway-state remote`) has no state store: it asks the
//!   API processes over the command bus ([`remote_state`]).

pub mod remote_state;

use crate::api::Commands;
use crate::gateway::{CallFailure, CallHandler, CommandError, CommandOutcome, Registry};
use crate::logs::indexer::Tail;
use crate::logs::Levels;
use crate::state::StateStore;
use chargewatch_logstore::{LogQuery, LogRecord, LogStore};
use chargewatch_ocpp::Action;
use chargewatch_transport_amqp::commands::{CommandBus, CommandBusError, CommandReply, CommandRequest};
use clap::Args;
use remote_state::{StateOwner, STATE_KEY};
use serde_json::Value;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

#[derive(Args, Debug, Clone)]
pub struct ClusterArgs {
    /// What this process does: any of gateway, indexer, api, or all (comma-separated).
    /// Roles other than `all` need --amqp-url (and --database-url for indexer/api).
    #[arg(long, env = "CHARGEWATCH_ROLE", default_value = "all", value_delimiter = ',')]
    pub role: Vec<String>,
    /// RabbitMQ URL, e.g. amqp://guest:guest@127.0.0.1:5672/%2f. Without it the transport
    /// is the in-process queue.
    #[arg(long, env = "CHARGEWATCH_AMQP_URL", hide_env_values = true)]
    pub amqp_url: Option<String>,
    /// PostgreSQL URL of the log store, e.g. postgres://postgres@127.0.0.1:5432/chargewatch.
    /// Without it the log store is embedded under --data-dir.
    #[arg(long, env = "CHARGEWATCH_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Prefix of every RabbitMQ exchange and queue name (separates deployments sharing a
    /// broker): `{prefix}.logs`, `{prefix}.logs.indexer`, `{prefix}.commands`, `{prefix}.levels`.
    #[arg(long, env = "CHARGEWATCH_AMQP_PREFIX", default_value = "chargewatch")]
    pub amqp_prefix: String,
    /// PostgreSQL schema of the log store.
    #[arg(long, env = "CHARGEWATCH_DATABASE_SCHEMA", default_value = "chargewatch")]
    pub database_schema: String,
    /// Keep a trigram index (`pg_trgm`) on the log payloads in PostgreSQL, so that `q`
    /// searches use it. It costs about two thirds of PostgreSQL's ingest rate; with `false`
    /// a `q` search scans the rows its other filters leave (an index made earlier stays
    /// until dropped by hand: `DROP INDEX {schema}.log_raw_trgm`).
    #[arg(long, env = "CHARGEWATCH_DATABASE_PAYLOAD_INDEX", default_value_t = true, action = clap::ArgAction::Set)]
    pub database_payload_index: bool,
    /// Where a gateway process (`--role gateway` without `api`) keeps the state its chargers
    /// need (stations, id tags, transactions, credentials, levels): `local` reads and writes
    /// the state store under --data-dir, shared with the API process, so both run on one
    /// host; `remote` keeps no state and asks the API processes through RabbitMQ, so the
    /// gateway can run on any host.
    #[arg(long, env = "CHARGEWATCH_GATEWAY_STATE", value_enum, default_value_t = GatewayState::Local)]
    pub gateway_state: GatewayState,
}

/// See `--gateway-state`.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum GatewayState {
    Local,
    Remote,
}

/// The roles of this process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Roles {
    pub gateway: bool,
    pub indexer: bool,
    pub api: bool,
}

impl Roles {
    pub fn parse(roles: &[String]) -> anyhow::Result<Roles> {
        let mut r = Roles { gateway: false, indexer: false, api: false };
        for role in roles {
            match role.trim() {
                "all" => r = Roles { gateway: true, indexer: true, api: true },
                "gateway" => r.gateway = true,
                "indexer" => r.indexer = true,
                "api" => r.api = true,
                other => anyhow::bail!("--role: `{other}` is not one of gateway, indexer, api, all"),
            }
        }
        anyhow::ensure!(r.gateway || r.indexer || r.api, "--role: give at least one role");
        Ok(r)
    }

    pub fn all(self) -> bool {
        self.gateway && self.indexer && self.api
    }

    pub fn names(self) -> Vec<&'static str> {
        [("gateway", self.gateway), ("indexer", self.indexer), ("api", self.api)]
            .into_iter()
            .filter(|(_, on)| *on)
            .map(|(n, _)| n)
            .collect()
    }
}

impl ClusterArgs {
    /// The RabbitMQ configuration, when a broker is configured.
    pub fn amqp_config(&self) -> Option<chargewatch_transport_amqp::AmqpConfig> {
        let url = self.amqp_url.as_ref()?;
        let p = &self.amqp_prefix;
        Some(chargewatch_transport_amqp::AmqpConfig {
            exchange: format!("{p}.logs"),
            queue: format!("{p}.logs.indexer"),
            command_exchange: format!("{p}.commands"),
            levels_exchange: format!("{p}.levels"),
            connection_name: p.clone(),
            ..chargewatch_transport_amqp::AmqpConfig::with_url(url.clone())
        })
    }

    /// Checks that the roles can work with the transport and store given.
    pub fn validate(&self) -> anyhow::Result<Roles> {
        let roles = Roles::parse(&self.role)?;
        if !roles.all() {
            anyhow::ensure!(
                self.amqp_url.is_some(),
                "--role {} needs --amqp-url: processes talk through RabbitMQ",
                roles.names().join(",")
            );
            if roles.indexer || roles.api {
                anyhow::ensure!(
                    self.database_url.is_some(),
                    "--role {} needs --database-url: the log store must be shared",
                    roles.names().join(",")
                );
            }
        }
        if self.gateway_state == GatewayState::Remote {
            anyhow::ensure!(
                roles.gateway && !roles.api && self.amqp_url.is_some(),
                "--gateway-state remote is for a gateway process without the api role, with --amqp-url \
                 (it asks the API processes for its state through RabbitMQ)"
            );
        }
        Ok(roles)
    }

    /// Whether this process's gateway asks the API processes for its state.
    pub fn remote_state(&self) -> bool {
        self.gateway_state == GatewayState::Remote
    }
}

/// Commands routed to whichever gateway holds the station.
pub struct BusCommands {
    pub bus: Arc<CommandBus>,
    pub timeout: Duration,
}

#[async_trait::async_trait]
impl Commands for BusCommands {
    fn is_connected(&self, _station_id: &str) -> Option<bool> {
        None
    }

    async fn call(&self, station_id: &str, action: Action, payload: Value) -> Result<CommandOutcome, CommandError> {
        match self.bus.call(station_id, action.as_str().to_string(), payload, self.timeout).await {
            Ok(CommandReply::Result { payload }) => Ok(CommandOutcome::Result(payload)),
            Ok(CommandReply::Error { code, description, details }) => {
                Ok(CommandOutcome::Error { code, description, details })
            }
            Ok(CommandReply::NotConnected) | Err(CommandBusError::NotConnected(_)) => Err(CommandError::NotConnected),
            Ok(CommandReply::Timeout) | Err(CommandBusError::Timeout(_)) => Err(CommandError::Timeout),
            Ok(CommandReply::QueueFull) => Err(CommandError::QueueFull),
            Err(CommandBusError::Transport(e)) => {
                tracing::warn!(error = %e, "command bus unavailable");
                Err(CommandError::Disconnected)
            }
        }
    }
}

/// A gateway's call handler that also announces which stations it holds.
pub struct PresenceHandler {
    pub inner: Arc<dyn CallHandler>,
    pub bus: Arc<CommandBus>,
}

#[async_trait::async_trait]
impl CallHandler for PresenceHandler {
    async fn handle(&self, station_id: &str, action: Action, payload: Arc<Value>) -> Result<Value, CallFailure> {
        self.inner.handle(station_id, action, payload).await
    }

    async fn handle_meter_values(
        &self,
        station_id: &str,
        request: Arc<chargewatch_ocpp::messages::MeterValuesReq>,
    ) -> Result<Value, CallFailure> {
        self.inner.handle_meter_values(station_id, request).await
    }

    async fn connected(&self, station_id: &str) {
        if let Err(e) = self.bus.serve_station(station_id).await {
            tracing::warn!(station = station_id, error = %e, "could not announce the station on the command bus");
        }
        self.inner.connected(station_id).await;
    }

    async fn disconnected(&self, station_id: &str) {
        if let Err(e) = self.bus.release_station(station_id).await {
            tracing::warn!(station = station_id, error = %e, "could not release the station on the command bus");
        }
        self.inner.disconnected(station_id).await;
    }
}

/// Answers commands for stations this gateway holds through its local registry and, in an
/// API process (`owner`), the state requests of remote gateways.
pub fn spawn_command_server(
    bus: &CommandBus,
    registry: Registry,
    owner: Option<StateOwner>,
) -> Option<tokio::task::JoinHandle<()>> {
    let mut requests = bus.take_requests()?;
    Some(tokio::spawn(async move {
        while let Some(req) = requests.recv().await {
            match &owner {
                Some(owner) if req.station_id == STATE_KEY => {
                    tokio::spawn(owner.clone().answer(req));
                }
                _ => {
                    tokio::spawn(answer(registry.clone(), req));
                }
            }
        }
    }))
}

async fn answer(registry: Registry, req: CommandRequest) {
    let reply = match req.action.parse::<Action>() {
        Err(()) => CommandReply::Error {
            code: "NotImplemented".into(),
            description: format!("unknown action {}", req.action),
            details: Value::Null,
        },
        Ok(action) => match registry.call(&req.station_id, action, req.payload).await {
            Ok(CommandOutcome::Result(payload)) => CommandReply::Result { payload },
            Ok(CommandOutcome::Error { code, description, details }) => {
                CommandReply::Error { code, description, details }
            }
            Err(CommandError::NotConnected | CommandError::Disconnected) => CommandReply::NotConnected,
            Err(CommandError::Timeout) => CommandReply::Timeout,
            Err(CommandError::QueueFull) => CommandReply::QueueFull,
        },
    };
    if let Err(e) = req.reply.send(reply).await {
        tracing::warn!(error = %e, "could not send a command reply");
    }
}

/// Reloads the level directory from the shared state store twice a second.
pub fn spawn_level_poller(state: StateStore, levels: Arc<Levels>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        loop {
            tick.tick().await;
            let (s, l) = (state.clone(), levels.clone());
            let _ = tokio::task::spawn_blocking(move || crate::server::load_levels(&s, &l)).await;
        }
    })
}

/// Feeds the API process's live tail from the shared log store (the indexer runs elsewhere).
pub fn spawn_tail_poller(store: Arc<dyn LogStore>, tail: Tail) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut seen: HashSet<chargewatch_logstore::RecordId> = HashSet::new();
        let mut since = chrono::Utc::now();
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        loop {
            tick.tick().await;
            if tail.receiver_count() == 0 {
                since = chrono::Utc::now();
                seen.clear();
                continue;
            }
            let q = LogQuery { from: Some(since - chrono::Duration::seconds(5)), limit: 1000, ..Default::default() };
            let Ok(page) = store.query(&q).await else { continue };
            let mut fresh: Vec<LogRecord> = page.items.into_iter().filter(|r| !seen.contains(&r.id)).collect();
            fresh.reverse();
            for r in fresh {
                seen.insert(r.id);
                since = since.max(r.timestamp);
                let _ = tail.send(Arc::new(r));
            }
            if seen.len() > 100_000 {
                seen.clear();
            }
        }
    })
}
