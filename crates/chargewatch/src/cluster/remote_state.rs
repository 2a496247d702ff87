//! Gateways on other hosts: a gateway started with `--gateway-state remote` keeps no state
//! store. It asks the API processes for everything a charger's connection needs, over the
//! command bus's shared routing key [`STATE_KEY`] (each request reaches exactly one API
//! process):
//!
//! - `call`: a charger-initiated CALL, answered by the API process's call handler (`Csms`)
//!   against its state store; the CALLRESULT or CALLERROR comes back as is;
//! - `connected` / `disconnected`: the station's connection state;
//! - `credentials`: the station's security profile, password hash and pinned certificate
//!   (the gateway verifies the password itself);
//! - `directory`: every site's log level and every station's site and override, for the
//!   capture's level filter (polled twice a second; unchanged directories are not resent);
//! - `mask_key`: the key id tags are masked with, so that masks agree across gateways.
//!
//! Requests travel in batches (`{"op":"batch","requests":[…]}`, answered by one message
//! `{"replies":[…]}` in the same order): whatever requests wait while up to
//! [`BATCHES_IN_FLIGHT`] batches are out go together, up to [`BATCH_MAX`], so that a busy
//! gateway costs the broker a few messages per many charger calls. A lone request goes at
//! once.
//!
//! When no API process answers, a charger's CALL gets a CALLERROR `InternalError` that says
//! so (the charger retries, as OCPP has it), and the gateway's `/health` turns degraded.

use crate::csms::Csms;
use crate::gateway::{CallFailure, CallHandler};
use crate::logs::levels::{SiteLevel, StationLevel};
use crate::logs::Levels;
use crate::state::credentials::{self, Credentials};
use crate::state::{sites, stations, StateStore};
use chargewatch_logstore::LogLevel;
use chargewatch_ocpp::{Action, ErrorCode};
use chargewatch_transport_amqp::commands::{CommandBus, CommandBusError, CommandReply, CommandRequest};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit, Semaphore};

/// The shared routing key the API processes serve (a station id never contains `/`).
pub const STATE_KEY: &str = "chargewatch/state";

/// What a remote gateway asks an API process.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum StateRequest {
    Call { station_id: String, action: String, payload: Value },
    Connected { station_id: String },
    Disconnected { station_id: String },
    Credentials { station_id: String },
    Directory { known: Option<String> },
    MaskKey,
    Batch { requests: Vec<StateRequest> },
}

/// Most requests in one batch.
pub const BATCH_MAX: usize = 256;
/// Most batches a gateway has out at once.
pub const BATCHES_IN_FLIGHT: usize = 4;

/// The level directory as it crosses the bus.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DirectoryReply {
    /// A digest of the directory: a request that knows it gets `unchanged`.
    pub digest: String,
    #[serde(default)]
    pub unchanged: bool,
    #[serde(default)]
    pub sites: Vec<SiteEntry>,
    #[serde(default)]
    pub stations: Vec<StationEntry>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SiteEntry {
    pub id: String,
    pub name: String,
    pub level: LogLevel,
    pub mask_id_tags: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StationEntry {
    pub id: String,
    pub site_id: Option<String>,
    pub override_level: Option<(LogLevel, DateTime<Utc>)>,
}

/// The API process's side: answers remote gateways from its state store.
#[derive(Clone)]
pub struct StateOwner {
    pub csms: Csms,
    pub state: StateStore,
    pub mask_key: Arc<str>,
}

impl StateOwner {
    /// Answers one request or batch (spawned per message by the command server).
    pub async fn answer(self, req: CommandRequest) {
        let reply = match serde_json::from_value::<StateRequest>(req.payload) {
            Ok(StateRequest::Batch { requests }) => {
                let replies = futures_util::future::join_all(requests.into_iter().map(|r| self.reply(r))).await;
                CommandReply::Result { payload: serde_json::json!({ "replies": replies }) }
            }
            Ok(r) => self.reply(r).await,
            Err(e) => error_reply(ErrorCode::FormationViolation, format!("unreadable state request: {e}")),
        };
        if let Err(e) = req.reply.send(reply).await {
            tracing::warn!(error = %e, "could not answer a remote gateway");
        }
    }

    async fn reply(&self, req: StateRequest) -> CommandReply {
        let done = |r: Result<Value, String>| match r {
            Ok(payload) => CommandReply::Result { payload },
            Err(e) => {
                tracing::error!(error = %e, "state request failed");
                error_reply(ErrorCode::InternalError, "the central system could not read its state; retry".into())
            }
        };
        match req {
            StateRequest::Call { station_id, action, payload } => self.call(&station_id, &action, payload).await,
            StateRequest::Connected { station_id } => {
                self.csms.connected(&station_id).await;
                CommandReply::Result { payload: Value::Null }
            }
            StateRequest::Disconnected { station_id } => {
                self.csms.disconnected(&station_id).await;
                CommandReply::Result { payload: Value::Null }
            }
            StateRequest::Credentials { station_id } => {
                let found = self.state.run(move |c| credentials::get(c, &station_id)).await;
                done(found.map_err(|e| e.to_string()).map(|c| serde_json::to_value(c).unwrap_or_default()))
            }
            StateRequest::Directory { known } => done(self.directory(known).await),
            StateRequest::MaskKey => CommandReply::Result { payload: Value::String(self.mask_key.to_string()) },
            StateRequest::Batch { .. } => error_reply(ErrorCode::FormationViolation, "a batch inside a batch".into()),
        }
    }

    /// The level directory, or only its digest when the gateway already holds it.
    async fn directory(&self, known: Option<String>) -> Result<Value, String> {
        let s = self.state.clone();
        let d = tokio::task::spawn_blocking(move || directory(&s)).await.map_err(|e| e.to_string())?;
        let d = d.map_err(|e| e.to_string())?;
        let d = if known.as_deref() == Some(d.digest.as_str()) {
            DirectoryReply { digest: d.digest, unchanged: true, ..Default::default() }
        } else {
            d
        };
        serde_json::to_value(d).map_err(|e| e.to_string())
    }

    async fn call(&self, station_id: &str, action: &str, payload: Value) -> CommandReply {
        let Ok(action) = action.parse::<Action>() else {
            return error_reply(ErrorCode::NotImplemented, format!("unknown action `{action}`"));
        };
        match self.csms.handle(station_id, action, Arc::new(payload)).await {
            Ok(payload) => CommandReply::Result { payload },
            Err(f) => error_reply(f.code, f.description),
        }
    }
}

fn error_reply(code: ErrorCode, description: String) -> CommandReply {
    CommandReply::Error { code: code.as_str().to_owned(), description, details: Value::Null }
}

/// Every site's level and every station's site, as the state store has them.
pub fn level_entries(state: &StateStore) -> anyhow::Result<(Vec<SiteEntry>, Vec<StationEntry>)> {
    let (all_sites, all_stations) = state.run_sync(|c| Ok((sites::list(c)?, stations::list(c)?)))?;
    let sites = all_sites
        .into_iter()
        .map(|s| SiteEntry { id: s.id, name: s.name, level: s.log_level, mask_id_tags: s.mask_id_tags })
        .collect();
    let stations = all_stations
        .into_iter()
        .map(|s| StationEntry {
            id: s.id,
            site_id: s.site_id,
            override_level: s.level_override.zip(s.level_override_until),
        })
        .collect();
    Ok((sites, stations))
}

/// The level entries with a digest of both, as they cross the bus.
pub fn directory(state: &StateStore) -> anyhow::Result<DirectoryReply> {
    let (sites, stations) = level_entries(state)?;
    let digest = crate::state::profiles::sha256_hex(&serde_json::to_vec(&(&sites, &stations))?);
    Ok(DirectoryReply { digest, unchanged: false, sites, stations })
}

/// Puts level entries into the level filter.
pub fn apply_levels(levels: &Levels, sites: Vec<SiteEntry>, stations: Vec<StationEntry>) {
    let sites =
        sites.into_iter().map(|s| (s.id, SiteLevel { name: s.name, level: s.level, mask_id_tags: s.mask_id_tags }));
    let stations =
        stations.into_iter().map(|s| (s.id, StationLevel { site_id: s.site_id, override_level: s.override_level }));
    levels.replace(sites, stations);
}

/// Counters of a remote gateway's requests (`/metrics`).
#[derive(Debug, Default)]
pub struct RemoteCounters {
    pub requests: AtomicU64,
    /// Messages (batches of requests) sent.
    pub batches: AtomicU64,
    pub failures: AtomicU64,
    /// When an API process last answered (Unix milliseconds).
    pub last_answer_ms: AtomicI64,
}

/// The gateway's side: a call handler and state source that asks the API processes.
pub struct RemoteState {
    queue: mpsc::Sender<Waiting>,
    /// (station, transaction id) → connector, learned from the StartTransactions this
    /// gateway forwarded, for the log records of later StopTransactions.
    connectors: Mutex<HashMap<(String, i64), i64>>,
    pub counters: Arc<RemoteCounters>,
}

type Answer = Result<CommandReply, CommandBusError>;

/// A request waiting for its batch.
struct Waiting {
    req: StateRequest,
    answer: oneshot::Sender<Answer>,
}

/// Sends the waiting requests in batches, at most [`BATCHES_IN_FLIGHT`] at a time.
async fn dispatch(bus: Arc<CommandBus>, timeout: Duration, mut queue: mpsc::Receiver<Waiting>, c: Arc<RemoteCounters>) {
    let slots = Arc::new(Semaphore::new(BATCHES_IN_FLIGHT));
    while let Some(first) = queue.recv().await {
        let Ok(slot) = slots.clone().acquire_owned().await else { return };
        let mut batch = vec![first];
        while batch.len() < BATCH_MAX {
            match queue.try_recv() {
                Ok(w) => batch.push(w),
                Err(_) => break,
            }
        }
        tokio::spawn(send_batch(bus.clone(), timeout, batch, c.clone(), slot));
    }
}

async fn send_batch(
    bus: Arc<CommandBus>,
    timeout: Duration,
    batch: Vec<Waiting>,
    c: Arc<RemoteCounters>,
    _slot: OwnedSemaphorePermit,
) {
    let (requests, answers): (Vec<_>, Vec<_>) = batch.into_iter().map(|w| (w.req, w.answer)).unzip();
    let n = requests.len();
    c.batches.fetch_add(1, Relaxed);
    let body = serde_json::to_value(StateRequest::Batch { requests }).expect("a state request serializes");
    let replies = match bus.call(STATE_KEY, "batch".into(), body, timeout).await {
        Ok(CommandReply::Result { mut payload }) => {
            match serde_json::from_value::<Vec<CommandReply>>(payload["replies"].take()) {
                Ok(r) if r.len() == n => Ok(r),
                Ok(r) => Err(CommandBusError::Transport(format!("{} replies to {n} requests", r.len()))),
                Err(e) => Err(CommandBusError::Transport(format!("unreadable replies: {e}"))),
            }
        }
        Ok(other) => Err(CommandBusError::Transport(format!("unexpected answer to a batch: {other:?}"))),
        Err(e) => Err(e),
    };
    match replies {
        Ok(replies) => {
            c.last_answer_ms.store(Utc::now().timestamp_millis(), Relaxed);
            for (answer, reply) in answers.into_iter().zip(replies) {
                let _ = answer.send(Ok(reply));
            }
        }
        Err(e) => {
            c.failures.fetch_add(n as u64, Relaxed);
            tracing::warn!(error = %e, requests = n, "no API process answered state requests");
            for answer in answers {
                let _ = answer.send(Err(e.clone()));
            }
        }
    }
}

/// Transactions remembered for the connector lookup before the map starts over.
const CONNECTORS_KEPT: usize = 100_000;

impl RemoteState {
    /// Starts the batching task; `timeout` bounds each batch's round trip.
    pub fn new(bus: Arc<CommandBus>, timeout: Duration) -> RemoteState {
        let (queue, waiting) = mpsc::channel(BATCH_MAX * BATCHES_IN_FLIGHT * 4);
        let counters = Arc::new(RemoteCounters::default());
        tokio::spawn(dispatch(bus, timeout, waiting, counters.clone()));
        RemoteState { queue, connectors: Mutex::default(), counters }
    }

    async fn ask(&self, req: StateRequest) -> Answer {
        self.counters.requests.fetch_add(1, Relaxed);
        let (answer, answered) = oneshot::channel();
        let gone = || CommandBusError::Transport("the state request dispatcher stopped".into());
        self.queue.send(Waiting { req, answer }).await.map_err(|_| gone())?;
        answered.await.unwrap_or_else(|_| Err(gone()))
    }

    /// Asks and expects a result.
    async fn fetch(&self, req: StateRequest) -> Result<Value, String> {
        match self.ask(req).await {
            Ok(CommandReply::Result { payload }) => Ok(payload),
            Ok(CommandReply::Error { code, description, .. }) => Err(format!("{code}: {description}")),
            Ok(other) => Err(format!("unexpected answer {other:?}")),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Whether an API process answered within `within`.
    pub fn reachable(&self, within: Duration) -> bool {
        let last = self.counters.last_answer_ms.load(Relaxed);
        Utc::now().timestamp_millis() - last <= within.as_millis() as i64
    }

    /// The station's charger security settings.
    pub async fn credentials(&self, station_id: &str) -> Result<Option<Credentials>, String> {
        let v = self.fetch(StateRequest::Credentials { station_id: station_id.to_owned() }).await?;
        serde_json::from_value(v).map_err(|e| format!("unreadable credentials: {e}"))
    }

    /// The mask key, waiting up to `patience` for an API process to answer.
    pub async fn mask_key(&self, patience: Duration) -> anyhow::Result<String> {
        let deadline = tokio::time::Instant::now() + patience;
        loop {
            match self.fetch(StateRequest::MaskKey).await {
                Ok(Value::String(k)) => return Ok(k),
                Ok(other) => anyhow::bail!("the API process sent a mask key that is not a string: {other}"),
                Err(e) if tokio::time::Instant::now() >= deadline => {
                    anyhow::bail!("--gateway-state remote: no API process answered within {patience:?} ({e})")
                }
                Err(e) => {
                    tracing::info!(error = %e, "waiting for an API process to answer");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
    }

    /// The level directory, or `None` when it is the one with digest `known`.
    pub async fn directory(&self, known: Option<String>) -> Result<Option<DirectoryReply>, String> {
        let v = self.fetch(StateRequest::Directory { known }).await?;
        let d: DirectoryReply = serde_json::from_value(v).map_err(|e| format!("unreadable directory: {e}"))?;
        Ok((!d.unchanged).then_some(d))
    }

    /// The connector of a transaction this gateway saw start.
    pub fn connector_of(&self, station_id: &str, transaction_id: i64) -> Option<i64> {
        self.connectors.lock().unwrap_or_else(|p| p.into_inner()).get(&(station_id.to_owned(), transaction_id)).copied()
    }

    fn learn(&self, station_id: &str, action: Action, request: &Value, answer: &Value) {
        if action != Action::StartTransaction {
            return;
        }
        let (Some(tx), Some(connector)) = (answer["transactionId"].as_i64(), request["connectorId"].as_i64()) else {
            return;
        };
        let mut map = self.connectors.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= CONNECTORS_KEPT {
            map.clear();
        }
        map.insert((station_id.to_owned(), tx), connector);
    }
}

#[async_trait::async_trait]
impl CallHandler for RemoteState {
    async fn handle(&self, station_id: &str, action: Action, payload: Arc<Value>) -> Result<Value, CallFailure> {
        let req = StateRequest::Call {
            station_id: station_id.to_owned(),
            action: action.as_str().to_owned(),
            payload: Value::clone(&payload),
        };
        match self.ask(req).await {
            Ok(CommandReply::Result { payload: answer }) => {
                self.learn(station_id, action, &payload, &answer);
                Ok(answer)
            }
            Ok(CommandReply::Error { code, description, .. }) => {
                let code = code.parse().unwrap_or(ErrorCode::InternalError);
                Err(CallFailure::new(code, description))
            }
            Ok(_) | Err(_) => Err(CallFailure::new(
                ErrorCode::InternalError,
                "the central system is unavailable (no API process answered); retry",
            )),
        }
    }

    async fn connected(&self, station_id: &str) {
        let _ = self.ask(StateRequest::Connected { station_id: station_id.to_owned() }).await;
    }

    async fn disconnected(&self, station_id: &str) {
        let _ = self.ask(StateRequest::Disconnected { station_id: station_id.to_owned() }).await;
    }
}

/// Keeps a remote gateway's level filter current: asks for the directory twice a second.
pub fn spawn_directory_poller(remote: Arc<RemoteState>, levels: Arc<Levels>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut known: Option<String> = None;
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match remote.directory(known.clone()).await {
                Ok(Some(d)) => {
                    known = Some(d.digest);
                    apply_levels(&levels, d.sites, d.stations);
                }
                Ok(None) => {}
                Err(e) => tracing::debug!(error = %e, "level directory not refreshed"),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn requests_have_a_stable_wire_form() {
        let r = StateRequest::Call { station_id: "CP1".into(), action: "Heartbeat".into(), payload: json!({}) };
        assert_eq!(
            serde_json::to_value(&r).unwrap(),
            json!({"op": "call", "station_id": "CP1", "action": "Heartbeat", "payload": {}})
        );
        assert_eq!(serde_json::to_value(StateRequest::MaskKey).unwrap(), json!({"op": "mask_key"}));
        let batch = StateRequest::Batch { requests: vec![StateRequest::MaskKey] };
        assert_eq!(serde_json::to_value(&batch).unwrap(), json!({"op": "batch", "requests": [{"op": "mask_key"}]}));
        let back: StateRequest = serde_json::from_value(json!({"op": "directory", "known": "ab"})).unwrap();
        assert!(matches!(back, StateRequest::Directory { known: Some(k) } if k == "ab"));
    }

    #[test]
    fn the_directory_digest_follows_its_content() {
        let dir = std::env::temp_dir().join(format!("cw-remote-dir-{}", uuid::Uuid::new_v4().simple()));
        let state = StateStore::open(&dir).unwrap();
        let a = directory(&state).unwrap();
        assert_eq!(a.digest, directory(&state).unwrap().digest, "same content, same digest");
        state.run_sync(|c| sites::create(c, "s1", "Depot", LogLevel::Debug, None).map(|_| ())).unwrap();
        let b = directory(&state).unwrap();
        assert_ne!(a.digest, b.digest);
        assert_eq!(
            b.sites,
            vec![SiteEntry { id: "s1".into(), name: "Depot".into(), level: LogLevel::Debug, mask_id_tags: false }]
        );
        let levels = Levels::new(LogLevel::Info, crate::logs::levels::system_clock());
        apply_levels(&levels, b.sites, b.stations);
        assert_eq!(levels.site_name("s1").as_deref(), Some("Depot"));
        let _ = std::fs::remove_dir_all(dir);
    }
}
