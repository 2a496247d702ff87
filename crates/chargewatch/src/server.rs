//! `chargewatch serve`: builds every part from the configuration, wires them, and shuts
//! them down in order (chargers first, then the HTTP API, then the log pipeline drains).

use crate::api::{self, AppState};
use crate::cluster::remote_state::{self, RemoteState, StateOwner, STATE_KEY};
use crate::cluster::{self, BusCommands, ClusterArgs, PresenceHandler, Roles};
use crate::config::ServeArgs;
use crate::csms::{Csms, CsmsConfig};
use crate::gateway::{self, Gateway, GatewayConfig, Registry};
use crate::logs::capture::{Capture, RingLimits};
use crate::logs::indexer::{self, Indexer};
use crate::logs::levels;
use crate::logs::privacy::Masker;
use crate::logs::{transport, Levels, Metrics};
use crate::security::auth::CredentialSource;
use crate::state::{stations, transactions, StateStore};
use anyhow::Context;
use chargewatch_logstore::sqlite::SqliteLogStore;
use chargewatch_logstore::transport::LogTransport;
use chargewatch_logstore::LogStore;
use chargewatch_logstore_postgres::PgLogStore;
use chargewatch_transport_amqp::commands::CommandBus;
use chargewatch_transport_amqp::{AmqpConfig, AmqpPublisher, AmqpSource};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// A started server: its bound addresses and the handles to stop it.
pub struct Running {
    pub ocpp_addr: SocketAddr,
    /// The TLS OCPP endpoint (wss://), when `--ocpp-tls-listen` is given.
    pub ocpp_tls_addr: Option<SocketAddr>,
    pub http_addr: SocketAddr,
    pub admin_token: String,
    pub state: StateStore,
    pub levels: Arc<Levels>,
    pub metrics: Arc<Metrics>,
    pub log_store: Arc<dyn LogStore>,
    shutdown: CancellationToken,
    tracker: TaskTracker,
    servers: Vec<JoinHandle<()>>,
    indexer: JoinHandle<()>,
    publisher: Option<Arc<AmqpPublisher>>,
    amqp: bool,
}

/// What a stopped server had done, printed by `serve` as its last line
/// (`chargewatch-final {json}`), so operators and tests can reconcile counts.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StopReport {
    pub pipeline: crate::logs::metrics::MetricsSnapshot,
    pub amqp: Option<chargewatch_transport_amqp::PublisherStats>,
    /// Records the publisher still held unconfirmed when it gave up at shutdown.
    pub amqp_unsent: u64,
}

pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let running = start(args).await?;
    tracing::info!(ocpp = %running.ocpp_addr, http = %running.http_addr, "chargewatch is serving: ws://{}/ocpp/{{chargeBoxId}}, http://{}/", running.ocpp_addr, running.http_addr);
    shutdown_signal().await;
    tracing::info!("shutting down: closing charger connections");
    let report = running.stop().await;
    println!("chargewatch-final {}", serde_json::to_string(&report).unwrap_or_default());
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! { _ = ctrl_c => {}, _ = term.recv() => {} }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

/// Resolves the admin token: the flag/variable, else the one kept in the data dir, else a
/// new one, printed once.
fn admin_token(args: &ServeArgs) -> anyhow::Result<String> {
    if let Some(t) = &args.admin_token {
        anyhow::ensure!(t.len() >= 8, "--admin-token must be at least 8 characters");
        return Ok(t.clone());
    }
    let path = args.data_dir.join("admin-token");
    if let Ok(t) = std::fs::read_to_string(&path) {
        tracing::info!("admin token: the one kept in {}", path.display());
        return Ok(t.trim().to_string());
    }
    let token: String = {
        use rand::Rng;
        rand::thread_rng().sample_iter(&rand::distributions::Alphanumeric).take(40).map(char::from).collect()
    };
    std::fs::write(&path, &token).with_context(|| format!("writing {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600));
    }
    println!("Generated admin token (kept in {}): {token}", path.display());
    Ok(token)
}

/// A random secret kept in `path` (created on first use, mode 600).
fn secret_file(path: &Path) -> anyhow::Result<String> {
    if let Ok(s) = std::fs::read_to_string(path) {
        return Ok(s.trim().to_string());
    }
    let secret: String = {
        use rand::Rng;
        rand::thread_rng().sample_iter(&rand::distributions::Alphanumeric).take(40).map(char::from).collect()
    };
    std::fs::write(path, &secret).with_context(|| format!("writing {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
    }
    Ok(secret)
}

/// Loads every site's level and station's site into the in-memory level directory.
pub fn load_levels(state: &StateStore, levels: &Levels) -> anyhow::Result<()> {
    let (sites, stations) = remote_state::level_entries(state)?;
    remote_state::apply_levels(levels, sites, stations);
    Ok(())
}

/// What this process's gateway answers chargers from: the state store, or the API processes.
enum StateSource {
    Local(StateStore),
    Remote(Arc<RemoteState>),
}

impl StateSource {
    fn connector_lookup(&self) -> crate::logs::capture::ConnectorLookup {
        match self {
            StateSource::Local(state) => {
                let state = state.clone();
                Arc::new(move |station: &str, tx: i64| {
                    state.run_sync(|c| transactions::connector_of_transaction(c, station, tx)).ok().flatten()
                })
            }
            StateSource::Remote(remote) => {
                let remote = remote.clone();
                Arc::new(move |station: &str, tx: i64| remote.connector_of(station, tx))
            }
        }
    }

    async fn mask_key(&self, data_dir: &Path) -> anyhow::Result<String> {
        match self {
            StateSource::Local(_) => secret_file(&data_dir.join("mask-key")),
            StateSource::Remote(remote) => remote.mask_key(Duration::from_secs(30)).await,
        }
    }

    fn credentials(&self) -> CredentialSource {
        match self {
            StateSource::Local(state) => CredentialSource::Store(state.clone()),
            StateSource::Remote(remote) => CredentialSource::Remote(remote.clone()),
        }
    }

    /// Loads the level directory and keeps it current: from the state store (polled when
    /// other processes may change it, i.e. with RabbitMQ), or from the API processes.
    fn follow_levels(&self, levels: &Arc<Levels>, amqp: bool) -> anyhow::Result<()> {
        match self {
            StateSource::Local(state) => {
                load_levels(state, levels)?;
                if amqp {
                    cluster::spawn_level_poller(state.clone(), levels.clone());
                }
            }
            StateSource::Remote(remote) => {
                remote_state::spawn_directory_poller(remote.clone(), levels.clone());
            }
        }
        Ok(())
    }

    /// A remote gateway's health check and counters.
    fn add_ops(&self, ops: &mut OpsParts) {
        let StateSource::Remote(remote) = self else { return };
        let r = remote.clone();
        ops.checks.push(Box::new(move || ("api_reachable", r.reachable(Duration::from_secs(5)))));
        let r = remote.clone();
        ops.metrics.push(Box::new(move || remote_metrics(&r.counters)));
    }
}

fn remote_metrics(c: &remote_state::RemoteCounters) -> String {
    use std::sync::atomic::Ordering::Relaxed;
    let mut out = counter("state_requests", "state requests sent to the API processes", c.requests.load(Relaxed));
    out += &counter("state_batches", "messages (batches of state requests) sent", c.batches.load(Relaxed));
    out +=
        &counter("state_request_failures", "state requests no API process answered in time", c.failures.load(Relaxed));
    out
}

async fn open_stores(dir: &Path, cluster: &ClusterArgs) -> anyhow::Result<(StateStore, Arc<dyn LogStore>)> {
    let state = StateStore::open(dir).with_context(|| format!("opening the state store in {}", dir.display()))?;
    if let Some(url) = &cluster.database_url {
        let options = chargewatch_logstore_postgres::PgOptions {
            trigram_index: cluster.database_payload_index,
            ..Default::default()
        };
        let store = PgLogStore::connect_with(url, &cluster.database_schema, options)
            .await
            .with_context(|| format!("opening the PostgreSQL log store (schema {})", cluster.database_schema))?;
        return Ok((state, Arc::new(store)));
    }
    let logs = SqliteLogStore::open(&dir.join("logs"))
        .with_context(|| format!("opening the log store in {}", dir.join("logs").display()))?;
    Ok((state, Arc::new(logs)))
}

/// The log pipeline of this process: where the gateway publishes and, with the indexer
/// role, the indexer task.
async fn pipeline(
    args: &ServeArgs,
    roles: Roles,
    amqp: Option<&AmqpConfig>,
    indexer: Indexer,
    ops: &mut OpsParts,
) -> anyhow::Result<(Arc<dyn LogTransport>, JoinHandle<()>, Option<Arc<AmqpPublisher>>)> {
    let Some(cfg) = amqp else {
        let (transport, source) = transport::in_process(args.log_queue, indexer.metrics.clone());
        return Ok((transport, tokio::spawn(indexer.run(source)), None));
    };
    let mut kept = None;
    let transport: Arc<dyn LogTransport> = if roles.gateway {
        let publisher =
            Arc::new(AmqpPublisher::connect(cfg.clone()).await.context("connecting the log publisher to RabbitMQ")?);
        let p = publisher.clone();
        ops.metrics.push(Box::new(move || amqp_publisher_metrics(&p.stats())));
        let p = publisher.clone();
        ops.checks.push(Box::new(move || ("amqp_publisher", p.stats().dropped == 0 || p.stats().buffered < 1000)));
        kept = Some(publisher.clone());
        Arc::new(SharedPublisher(publisher))
    } else {
        Arc::new(NoTransport)
    };
    let task = if roles.indexer {
        let source = AmqpSource::connect(cfg.clone()).await.context("connecting the indexer to RabbitMQ")?;
        let stats = source.stats_handle();
        ops.metrics.push(Box::new(move || amqp_source_metrics(&stats.get())));
        tokio::spawn(indexer.run(source))
    } else {
        tokio::spawn(async {})
    };
    Ok((transport, task, kept))
}

/// Health checks and metrics the pipeline adds.
#[derive(Default)]
struct OpsParts {
    checks: Vec<Box<dyn Fn() -> (&'static str, bool) + Send + Sync>>,
    metrics: Vec<Box<dyn Fn() -> String + Send + Sync>>,
}

impl OpsParts {
    fn into_ops(self, roles: Roles) -> api::Ops {
        let (checks, metrics) = (self.checks, self.metrics);
        api::Ops {
            roles: roles.names(),
            checks: Box::new(move || checks.iter().map(|c| c()).collect()),
            metrics: Box::new(move || metrics.iter().map(|m| m()).collect()),
        }
    }
}

struct SharedPublisher(Arc<AmqpPublisher>);

impl LogTransport for SharedPublisher {
    fn publish(&self, record: chargewatch_logstore::LogRecord) {
        self.0.publish(record);
    }
}

/// A process without the gateway role produces no records.
struct NoTransport;

impl LogTransport for NoTransport {
    fn publish(&self, _record: chargewatch_logstore::LogRecord) {}
}

fn counter(name: &str, help: &str, v: u64) -> String {
    format!("# HELP chargewatch_{name} {help}\n# TYPE chargewatch_{name} counter\nchargewatch_{name} {v}\n")
}

fn amqp_publisher_metrics(s: &chargewatch_transport_amqp::PublisherStats) -> String {
    let mut out = format!("# TYPE chargewatch_amqp_buffered gauge\nchargewatch_amqp_buffered {}\n", s.buffered);
    out += &counter("amqp_published", "messages (batches of log records) published to RabbitMQ", s.published);
    out += &counter("amqp_confirmed", "log records whose message the broker confirmed", s.confirmed);
    out += &counter("amqp_nacked", "publishes the broker refused (retried)", s.nacked);
    out += &counter("amqp_dropped", "records dropped because the publish buffer was full", s.dropped);
    out += &counter("amqp_publisher_reconnects", "publisher reconnects", s.reconnects);
    out
}

fn security_metrics(
    auth: &crate::security::auth::AuthCounters,
    l: &crate::security::listener::ListenerCounters,
) -> String {
    use std::sync::atomic::Ordering::Relaxed;
    let mut out = counter("charger_auth_accepted", "charger connections authenticated", auth.accepted.load(Relaxed));
    out += &counter(
        "charger_auth_refused",
        "charger connections refused (bad or missing credentials)",
        auth.refused.load(Relaxed),
    );
    out += &counter(
        "charger_auth_rate_limited",
        "charger connections refused by the failed-attempt limit",
        auth.rate_limited.load(Relaxed),
    );
    out += &counter("ocpp_accepted", "TCP connections accepted on the OCPP listeners", l.accepted.load(Relaxed));
    out += &counter(
        "ocpp_handshake_timeouts",
        "connections dropped for not finishing the handshake in time",
        l.handshake_timeouts.load(Relaxed),
    );
    out += &counter("ocpp_tls_failures", "failed TLS handshakes", l.tls_failures.load(Relaxed));
    out += &counter(
        "ocpp_over_handshake_limit",
        "connections refused over the handshakes-in-flight limit",
        l.over_handshake_limit.load(Relaxed),
    );
    out
}

fn amqp_source_metrics(s: &chargewatch_transport_amqp::SourceStats) -> String {
    let mut out = counter("amqp_received", "messages received by the indexer", s.received);
    out += &counter("amqp_records_received", "log records in the messages received by the indexer", s.records);
    out += &counter("amqp_redelivered", "messages the broker redelivered", s.redelivered);
    out += &counter("amqp_acked", "records acknowledged after the store committed", s.acked);
    out += &counter("amqp_rejected", "unreadable records dead-lettered", s.rejected);
    out += &counter("amqp_source_reconnects", "indexer reconnects", s.reconnects);
    out
}

pub async fn start(args: ServeArgs) -> anyhow::Result<Running> {
    std::fs::create_dir_all(&args.data_dir).with_context(|| format!("creating {}", args.data_dir.display()))?;
    let roles = args.cluster.validate()?;
    let token = admin_token(&args)?;
    let (state, log_store) = open_stores(&args.data_dir, &args.cluster).await?;
    let metrics = Arc::new(Metrics::default());
    let levels = Levels::new(args.default_log_level, levels::system_clock());
    let amqp = args.cluster.amqp_config();
    if amqp.is_none() {
        // One process holds every connection: whatever the store says was connected is not.
        state.run_sync(|c| stations::clear_connected(c))?;
    }

    let tail = indexer::tail_channel();
    let indexer_part = Indexer {
        store: log_store.clone(),
        levels: levels.clone(),
        metrics: metrics.clone(),
        tail: tail.clone(),
        batch_max: 8192,
    };
    let mut ops = OpsParts::default();
    let (transport, indexer, publisher) = pipeline(&args, roles, amqp.as_ref(), indexer_part, &mut ops).await?;
    if roles.indexer {
        indexer::spawn_retention(log_store.clone(), args.log_retention_days);
    } else if roles.api {
        cluster::spawn_tail_poller(log_store.clone(), tail.clone());
    }
    // API processes serve the state requests of remote gateways.
    let shared = if roles.api { vec![STATE_KEY.to_owned()] } else { Vec::new() };
    let bus = match &amqp {
        Some(cfg) => Some(Arc::new(
            CommandBus::connect_serving(cfg.clone(), 1024, shared).await.context("connecting the command bus")?,
        )),
        None => None,
    };
    let source = match &bus {
        Some(bus) if args.cluster.remote_state() => {
            let timeout = Duration::from_secs(args.call_timeout.clamp(1, 10));
            StateSource::Remote(Arc::new(RemoteState::new(bus.clone(), timeout)))
        }
        _ => StateSource::Local(state.clone()),
    };
    source.follow_levels(&levels, amqp.is_some())?;
    source.add_ops(&mut ops);
    let mask_key = source.mask_key(&args.data_dir).await?;
    let masker = Masker::new(mask_key.clone());
    let lookup = source.connector_lookup();
    let capture = Capture::new(levels.clone(), transport, metrics.clone(), lookup, RingLimits::default(), masker);

    let shutdown = CancellationToken::new();
    capture.spawn_backfill(shutdown.clone());
    let tracker = TaskTracker::new();
    let registry = Registry::default();
    // Charger security (security/): authentication, per-connection limits, TLS.
    let security = crate::security::Security::from_args(&args.security, source.credentials())?;
    let counters = Arc::new(crate::security::listener::ListenerCounters::default());
    let (auth, listen) = (security.auth.clone(), counters.clone());
    ops.metrics.push(Box::new(move || security_metrics(&auth.counters, &listen)));
    let mut gw_config = GatewayConfig {
        max_frame_bytes: args.max_frame_bytes as usize,
        hard_message_bytes: (args.max_frame_bytes as usize * 16).max(1024 * 1024),
        max_connections: args.max_connections,
        call_timeout: Duration::from_secs(args.call_timeout),
        command_queue: args.command_queue,
        ping_interval: Duration::from_secs(args.ping_interval),
        pong_timeout: Duration::from_secs(args.ping_interval),
        shutdown: shutdown.clone(),
        tracker: tracker.clone(),
        ..GatewayConfig::default()
    };
    security.configure(&mut gw_config);
    let csms = Csms::new(
        state.clone(),
        CsmsConfig {
            heartbeat_interval: Duration::from_secs(args.heartbeat_interval),
            accept_unknown_stations: args.accept_unknown_stations,
            accept_unknown_id_tags: args.accept_unknown_id_tags,
        },
    );
    let answers: Arc<dyn gateway::CallHandler> = match &source {
        StateSource::Remote(remote) => remote.clone(),
        StateSource::Local(_) => Arc::new(csms.clone()),
    };
    if let Some(bus) = bus.as_ref().filter(|_| roles.gateway || roles.api) {
        let owner = roles.api.then(|| StateOwner { csms, state: state.clone(), mask_key: mask_key.into() });
        cluster::spawn_command_server(bus, registry.clone(), owner);
    }
    let handler: Arc<dyn gateway::CallHandler> = match &bus {
        Some(bus) if roles.gateway => Arc::new(PresenceHandler { inner: answers, bus: bus.clone() }),
        _ => answers,
    };
    let command_timeout = Duration::from_secs(args.call_timeout * (args.command_queue as u64 + 1))
        .min(Duration::from_secs(args.call_timeout + 5));
    let commands: Arc<dyn api::Commands> = match &bus {
        Some(bus) => Arc::new(BusCommands { bus: bus.clone(), timeout: command_timeout }),
        None => Arc::new(registry.clone()),
    };
    let gateway =
        Gateway { handler, observe: Arc::new(capture), registry: registry.clone(), config: Arc::new(gw_config) };

    let app = AppState {
        state: state.clone(),
        levels: levels.clone(),
        commands,
        log_store: log_store.clone(),
        tail,
        metrics: metrics.clone(),
        admin_token: token.clone().into(),
        command_timeout,
        max_body_bytes: args.max_body_bytes,
        ops: Arc::new(ops.into_ops(roles)),
    };

    let ocpp_listener = tokio::net::TcpListener::bind(args.ocpp_listen)
        .await
        .with_context(|| format!("binding the OCPP endpoint to {}", args.ocpp_listen))?;
    let http_listener = tokio::net::TcpListener::bind(args.http_listen)
        .await
        .with_context(|| format!("binding the HTTP API to {}", args.http_listen))?;
    let ocpp_addr = ocpp_listener.local_addr()?;
    let http_addr = http_listener.local_addr()?;
    // The OCPP endpoint: plain ws on --ocpp-listen, wss on --ocpp-tls-listen, both through
    // security::listener (handshake deadline, TLS client certificates).
    let ocpp_router = gateway::router(gateway);
    let spawn_ocpp = |listener, tls| {
        let config = security.listener.clone();
        crate::security::listener::spawn(listener, ocpp_router.clone(), tls, config, counters.clone(), shutdown.clone())
    };
    // Only a gateway speaks OCPP; other roles let the port go.
    let mut servers = if roles.gateway { vec![spawn_ocpp(ocpp_listener, None)] } else { Vec::new() };
    let mut ocpp_tls_addr = None;
    if let (true, Some(addr), Some(tls)) = (roles.gateway, security.tls_listen(), security.tls.clone()) {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("binding the TLS OCPP endpoint to {addr}"))?;
        ocpp_tls_addr = Some(listener.local_addr()?);
        servers.push(spawn_ocpp(listener, Some(tls)));
    }
    let http_router = if roles.api { api::router(app) } else { api::ops_router(app) };
    servers.push(spawn_http(http_listener, http_router, shutdown.clone()));
    Ok(Running {
        ocpp_addr,
        ocpp_tls_addr,
        http_addr,
        admin_token: token,
        state,
        levels,
        metrics,
        log_store,
        shutdown,
        tracker,
        servers,
        indexer,
        publisher,
        amqp: amqp.is_some(),
    })
}

fn spawn_http(listener: tokio::net::TcpListener, router: axum::Router, shutdown: CancellationToken) -> JoinHandle<()> {
    tokio::spawn(async move {
        let service = router.into_make_service_with_connect_info::<SocketAddr>();
        let result =
            axum::serve(listener, service).with_graceful_shutdown(async move { shutdown.cancelled().await }).await;
        if let Err(e) = result {
            tracing::error!(error = %e, "HTTP server failed");
        }
    })
}

impl Running {
    /// Closes every charger connection (1001), stops the HTTP servers, then lets the log
    /// pipeline drain into the store.
    pub async fn stop(self) -> StopReport {
        self.shutdown.cancel();
        self.tracker.close();
        let _ = tokio::time::timeout(Duration::from_secs(10), self.tracker.wait()).await;
        for s in self.servers {
            let _ = tokio::time::timeout(Duration::from_secs(10), s).await;
        }
        if let Err(e) = self.state.flush_seen().await {
            tracing::warn!(error = %e, "last-seen marks not written at shutdown");
        }
        let mut amqp_unsent = 0;
        if let Some(p) = &self.publisher {
            amqp_unsent = p.shutdown(Duration::from_secs(15)).await;
        }
        if self.amqp {
            // Unacknowledged deliveries go back to the broker for the next indexer.
            self.indexer.abort();
        } else {
            let _ = tokio::time::timeout(Duration::from_secs(15), self.indexer).await;
        }
        StopReport { pipeline: self.metrics.snapshot(), amqp: self.publisher.map(|p| p.stats()), amqp_unsent }
    }

    pub fn ocpp_url(&self) -> String {
        format!("ws://{}/ocpp", self.ocpp_addr)
    }

    pub fn http_url(&self) -> String {
        format!("http://{}", self.http_addr)
    }
}
