//! Operator commands routed across gateway processes (SPEC.md, Data flow: "commands reach
//! the charger wherever its connection lives").
//!
//! Every process opens a [`CommandBus`]. A gateway process calls
//! [`CommandBus::serve_station`] when a charger connects and [`CommandBus::release_station`]
//! when it leaves: that binds / unbinds the station id as routing key on the process's own
//! exclusive, auto-delete queue on the direct exchange `chargewatch.commands`. RabbitMQ is
//! thus the presence registry: a dead process's queue disappears with its bindings.
//!
//! The API process calls [`CommandBus::call`]: the request is published with `mandatory`
//! (no gateway holds the station → the broker returns it → [`CommandBusError::NotConnected`],
//! at once), a per-message TTL equal to the timeout (a late gateway never runs a stale
//! command), `reply_to` = the caller's exclusive reply queue and a correlation id. No reply
//! in time → [`CommandBusError::Timeout`].
//!
//! Request body: `{"v":1,"station_id":…,"action":…,"payload":…}`. Reply body:
//! `{"outcome":"result","payload":…}`, `{"outcome":"error","code":…,"description":…,"details":…}`,
//! or `{"outcome":"not_connected"|"timeout"|"queue_full"}` ([`CommandReply`]).
//!
//! If two gateways briefly serve the same station (a charger reconnected elsewhere before
//! the old connection was released), both get the request and the caller takes the first
//! reply.
//!
//! A process can also serve a *shared* routing key ([`CommandBus::connect_serving`]): every
//! process serving it consumes from one queue, `{command_exchange}.{key}` (auto-delete: it
//! goes away with its last server), so each request reaches exactly one of them. Gateways
//! without a state store of their own reach the API processes this way. Pick keys that are
//! not station ids (a station id never contains `/`).

use crate::config::AmqpConfig;
use crate::conn::{connect, first_open, AmqpError, Backoff};
use futures_util::StreamExt;
use lapin::message::Delivery;
use lapin::options::{
    BasicConsumeOptions, BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions, QueueBindOptions,
    QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Confirmation, Connection, Consumer, ExchangeKind};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, RwLock};
use tokio::task::JoinHandle;

const JSON: &str = "application/json";

/// The answer to a command, as the gateway reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum CommandReply {
    /// The charger answered with a CALLRESULT.
    Result { payload: serde_json::Value },
    /// The charger answered with a CALLERROR.
    Error {
        code: String,
        #[serde(default)]
        description: String,
        #[serde(default)]
        details: serde_json::Value,
    },
    /// The gateway no longer holds the station.
    NotConnected,
    /// The charger did not answer in time.
    Timeout,
    /// The gateway (or the station's outgoing queue) is full.
    QueueFull,
}

/// Why a call got no reply from a gateway.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandBusError {
    #[error("no gateway holds station `{0}`")]
    NotConnected(String),
    #[error("no reply within {0:?}")]
    Timeout(Duration),
    #[error("command transport: {0}")]
    Transport(String),
}

/// A command for a station this process serves. Answer it with `reply.send(…)`; dropping
/// the request unanswered leaves the caller to time out.
#[derive(Debug)]
pub struct CommandRequest {
    pub station_id: String,
    pub action: String,
    pub payload: serde_json::Value,
    pub reply: CommandReplier,
}

/// Where the reply to one [`CommandRequest`] goes.
#[derive(Debug)]
pub struct CommandReplier {
    inner: Arc<Inner>,
    reply_to: String,
    correlation_id: String,
}

impl CommandReplier {
    /// Publishes the reply to the caller's reply queue.
    pub async fn send(self, reply: CommandReply) -> Result<(), CommandBusError> {
        let guard = self.inner.live.read().await;
        let live = guard.as_ref().ok_or_else(|| CommandBusError::Transport("not connected to RabbitMQ".into()))?;
        let body = serde_json::to_vec(&reply).expect("a reply serializes");
        let props = BasicProperties::default()
            .with_content_type(JSON.into())
            .with_correlation_id(self.correlation_id.as_str().into());
        let confirm = live
            .channel
            .basic_publish("".into(), self.reply_to.as_str().into(), BasicPublishOptions::default(), &body, props)
            .await
            .map_err(transport)?;
        drop(guard);
        confirm.await.map_err(transport)?;
        self.inner.counters.replies_sent.fetch_add(1, Relaxed);
        Ok(())
    }
}

#[derive(Serialize, Deserialize)]
struct RequestBody {
    v: u32,
    station_id: String,
    action: String,
    #[serde(default)]
    payload: serde_json::Value,
}

#[derive(Debug, Default)]
struct Counters {
    calls: AtomicU64,
    not_connected: AtomicU64,
    timeouts: AtomicU64,
    requests_received: AtomicU64,
    requests_refused: AtomicU64,
    replies_sent: AtomicU64,
    reconnects: AtomicU64,
}

/// A snapshot of a command bus's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CommandBusStats {
    pub calls: u64,
    pub not_connected: u64,
    pub timeouts: u64,
    pub requests_received: u64,
    /// Requests answered `queue_full` because the request channel was full, or unreadable.
    pub requests_refused: u64,
    pub replies_sent: u64,
    pub reconnects: u64,
}

type Pending = Mutex<HashMap<String, oneshot::Sender<Result<CommandReply, CommandBusError>>>>;

#[derive(Debug)]
struct Inner {
    config: AmqpConfig,
    /// Set while connected; held for writing while (re)establishing, so that a concurrent
    /// `serve_station` either is rebound by the setup or binds after it.
    live: RwLock<Option<Live>>,
    served: Mutex<HashSet<String>>,
    pending: Pending,
    requests: mpsc::Sender<CommandRequest>,
    /// Shared routing keys this process serves (one queue per key, shared by its servers).
    shared: Vec<String>,
    counters: Counters,
}

#[derive(Debug)]
struct Live {
    channel: Channel,
    command_queue: String,
    reply_queue: String,
}

/// See the module documentation.
pub struct CommandBus {
    inner: Arc<Inner>,
    requests: Mutex<Option<mpsc::Receiver<CommandRequest>>>,
    supervisor: JoinHandle<()>,
}

impl CommandBus {
    /// Connects and sets up this process's command and reply queues. Incoming requests are
    /// buffered up to `request_capacity` (beyond that they are answered `queue_full`).
    pub async fn connect(config: AmqpConfig, request_capacity: usize) -> Result<Self, AmqpError> {
        Self::connect_serving(config, request_capacity, Vec::new()).await
    }

    /// Like [`CommandBus::connect`], and also serves the shared routing keys `shared`: each
    /// request published to one of them reaches exactly one of the processes serving it.
    pub async fn connect_serving(
        config: AmqpConfig,
        request_capacity: usize,
        shared: Vec<String>,
    ) -> Result<Self, AmqpError> {
        config.validate().map_err(AmqpError::Config)?;
        let (tx, rx) = mpsc::channel(request_capacity.max(1));
        let inner = Arc::new(Inner {
            config,
            live: RwLock::new(None),
            served: Mutex::new(HashSet::new()),
            pending: Mutex::new(HashMap::new()),
            requests: tx,
            shared,
            counters: Counters::default(),
        });
        let first = first_open(&inner.config, "commands", || establish(&inner)).await?;
        let supervisor = tokio::spawn(supervise(inner.clone(), first));
        Ok(CommandBus { inner, requests: Mutex::new(Some(rx)), supervisor })
    }

    /// The incoming requests for stations this process serves (once; later calls get `None`).
    pub fn take_requests(&self) -> Option<mpsc::Receiver<CommandRequest>> {
        self.requests.lock().unwrap().take()
    }

    /// Routes commands for `station_id` to this process (kept across reconnects).
    pub async fn serve_station(&self, station_id: &str) -> Result<(), CommandBusError> {
        let live = self.inner.live.read().await;
        self.inner.served.lock().unwrap().insert(station_id.to_owned());
        if let Some(live) = live.as_ref() {
            bind(&live.channel, &self.inner.config, &live.command_queue, station_id).await.map_err(transport)?;
        }
        Ok(())
    }

    /// Stops routing commands for `station_id` to this process.
    pub async fn release_station(&self, station_id: &str) -> Result<(), CommandBusError> {
        let live = self.inner.live.read().await;
        self.inner.served.lock().unwrap().remove(station_id);
        if let Some(live) = live.as_ref() {
            live.channel
                .queue_unbind(
                    live.command_queue.as_str().into(),
                    self.inner.config.command_exchange.as_str().into(),
                    station_id.into(),
                    FieldTable::default(),
                )
                .await
                .map_err(transport)?;
        }
        Ok(())
    }

    /// Sends `action` with `payload` to the gateway holding `station_id` and waits up to
    /// `timeout` for its reply. The reply's own outcome (`not_connected`, `timeout`, …) comes
    /// back as `Ok`; `Err` means no gateway answered.
    pub async fn call(
        &self,
        station_id: &str,
        action: String,
        payload: serde_json::Value,
        timeout: Duration,
    ) -> Result<CommandReply, CommandBusError> {
        let c = &self.inner.counters;
        c.calls.fetch_add(1, Relaxed);
        let result = self.call_inner(station_id, action, payload, timeout).await;
        match &result {
            Err(CommandBusError::NotConnected(_)) => c.not_connected.fetch_add(1, Relaxed),
            Err(CommandBusError::Timeout(_)) => c.timeouts.fetch_add(1, Relaxed),
            _ => 0,
        };
        result
    }

    async fn call_inner(
        &self,
        station_id: &str,
        action: String,
        payload: serde_json::Value,
        timeout: Duration,
    ) -> Result<CommandReply, CommandBusError> {
        let deadline = tokio::time::Instant::now() + timeout;
        let correlation_id = uuid::Uuid::new_v4().simple().to_string();
        let (tx, rx) = oneshot::channel();
        self.inner.pending.lock().unwrap().insert(correlation_id.clone(), tx);
        let _forget = ForgetOnDrop { pending: &self.inner.pending, id: &correlation_id };
        let body = serde_json::to_vec(&RequestBody { v: 1, station_id: station_id.to_owned(), action, payload })
            .expect("a request serializes");
        let confirm = {
            let live = self.inner.live.read().await;
            let live = live.as_ref().ok_or_else(|| CommandBusError::Transport("not connected to RabbitMQ".into()))?;
            let props = BasicProperties::default()
                .with_content_type(JSON.into())
                .with_correlation_id(correlation_id.as_str().into())
                .with_reply_to(live.reply_queue.as_str().into())
                .with_expiration(timeout.as_millis().max(1).to_string().into());
            live.channel
                .basic_publish(
                    self.inner.config.command_exchange.as_str().into(),
                    station_id.into(),
                    BasicPublishOptions { mandatory: true, immediate: false },
                    &body,
                    props,
                )
                .await
                .map_err(transport)?
        };
        match tokio::time::timeout_at(deadline, confirm).await {
            Err(_) => return Err(CommandBusError::Timeout(timeout)),
            Ok(Err(e)) => return Err(transport(e)),
            Ok(Ok(Confirmation::Ack(Some(_)))) => return Err(CommandBusError::NotConnected(station_id.to_owned())),
            Ok(Ok(Confirmation::Nack(_))) => {
                return Err(CommandBusError::Transport("the broker refused the command".into()))
            }
            Ok(Ok(Confirmation::Ack(None) | Confirmation::NotRequested)) => {}
        }
        match tokio::time::timeout_at(deadline, rx).await {
            Ok(Ok(reply)) => reply,
            Ok(Err(_)) => Err(CommandBusError::Transport("connection lost while waiting for the reply".into())),
            Err(_) => Err(CommandBusError::Timeout(timeout)),
        }
    }

    pub fn stats(&self) -> CommandBusStats {
        let c = &self.inner.counters;
        CommandBusStats {
            calls: c.calls.load(Relaxed),
            not_connected: c.not_connected.load(Relaxed),
            timeouts: c.timeouts.load(Relaxed),
            requests_received: c.requests_received.load(Relaxed),
            requests_refused: c.requests_refused.load(Relaxed),
            replies_sent: c.replies_sent.load(Relaxed),
            reconnects: c.reconnects.load(Relaxed),
        }
    }

    /// Closes the connection: this process's queues and bindings disappear at once.
    pub async fn close(&self) {
        self.supervisor.abort();
        if let Some(live) = self.inner.live.write().await.take() {
            let _ = live.channel.close(200, "closing".into()).await;
        }
    }
}

impl Drop for CommandBus {
    fn drop(&mut self) {
        self.supervisor.abort();
    }
}

struct ForgetOnDrop<'a> {
    pending: &'a Pending,
    id: &'a str,
}

impl Drop for ForgetOnDrop<'_> {
    fn drop(&mut self) {
        self.pending.lock().unwrap().remove(self.id);
    }
}

fn transport(e: lapin::Error) -> CommandBusError {
    CommandBusError::Transport(e.to_string())
}

struct Established {
    conn: Connection,
    /// This process's own command queue and the shared queues it serves.
    commands: futures_util::stream::SelectAll<Consumer>,
    replies: Consumer,
}

/// Connects and declares the exchange and both queues, rebinding every served station.
async fn establish(inner: &Arc<Inner>) -> Result<Established, AmqpError> {
    let mut live = inner.live.write().await;
    *live = None;
    let config = &inner.config;
    let conn = connect(config, "commands").await?;
    let channel = conn.create_channel().await?;
    channel.confirm_select(ConfirmSelectOptions::default()).await?;
    channel
        .exchange_declare(
            config.command_exchange.as_str().into(),
            ExchangeKind::Direct,
            ExchangeDeclareOptions { durable: true, ..Default::default() },
            FieldTable::default(),
        )
        .await?;
    let private = QueueDeclareOptions { exclusive: true, auto_delete: true, ..Default::default() };
    let command_queue = channel.queue_declare("".into(), private, FieldTable::default()).await?.name().to_string();
    let reply_queue = channel.queue_declare("".into(), private, FieldTable::default()).await?.name().to_string();
    let served: Vec<String> = inner.served.lock().unwrap().iter().cloned().collect();
    for station in served {
        bind(&channel, config, &command_queue, &station).await?;
    }
    let no_ack = BasicConsumeOptions { no_ack: true, ..Default::default() };
    let own =
        channel.basic_consume(command_queue.as_str().into(), "commands".into(), no_ack, FieldTable::default()).await?;
    let mut commands = futures_util::stream::select_all([own]);
    for key in &inner.shared {
        commands.push(consume_shared(&channel, config, key).await?);
    }
    let replies =
        channel.basic_consume(reply_queue.as_str().into(), "replies".into(), no_ack, FieldTable::default()).await?;
    *live = Some(Live { channel, command_queue, reply_queue });
    Ok(Established { conn, commands, replies })
}

/// Routes `key` on the command exchange to `queue`.
async fn bind(channel: &Channel, config: &AmqpConfig, queue: &str, key: &str) -> Result<(), lapin::Error> {
    let exchange = config.command_exchange.as_str();
    channel
        .queue_bind(queue.into(), exchange.into(), key.into(), QueueBindOptions::default(), FieldTable::default())
        .await
}

/// Declares, binds and consumes the shared queue of `key`.
async fn consume_shared(channel: &Channel, config: &AmqpConfig, key: &str) -> Result<Consumer, AmqpError> {
    let queue = format!("{}.{key}", config.command_exchange);
    let shared = QueueDeclareOptions { auto_delete: true, ..Default::default() };
    channel.queue_declare(queue.as_str().into(), shared, FieldTable::default()).await?;
    bind(channel, config, &queue, key).await?;
    let no_ack = BasicConsumeOptions { no_ack: true, ..Default::default() };
    Ok(channel.basic_consume(queue.as_str().into(), "shared".into(), no_ack, FieldTable::default()).await?)
}

async fn supervise(inner: Arc<Inner>, first: Established) {
    let mut backoff = Backoff::new(&inner.config);
    let mut current = Some(first);
    loop {
        let Established { conn, mut commands, mut replies } = match current.take() {
            Some(e) => e,
            None => match establish(&inner).await {
                Ok(e) => {
                    inner.counters.reconnects.fetch_add(1, Relaxed);
                    tracing::info!("command bus reconnected");
                    backoff.reset();
                    e
                }
                Err(e) => {
                    let delay = backoff.next_delay();
                    tracing::warn!(error = %e, retry_in = ?delay, "command bus cannot connect");
                    tokio::time::sleep(delay).await;
                    continue;
                }
            },
        };
        let why = loop {
            tokio::select! {
                d = commands.next() => match d {
                    Some(Ok(d)) => on_request(&inner, d),
                    Some(Err(e)) => break e.to_string(),
                    None => break "command consumer cancelled".to_owned(),
                },
                d = replies.next() => match d {
                    Some(Ok(d)) => on_reply(&inner, d),
                    Some(Err(e)) => break e.to_string(),
                    None => break "reply consumer cancelled".to_owned(),
                },
            }
        };
        tracing::warn!(error = %why, "command bus lost its connection; reconnecting");
        *inner.live.write().await = None;
        // Replies to calls in flight would go to the old reply queue, which is gone.
        inner.pending.lock().unwrap().clear();
        let _ = conn.close(320, "reconnecting".into()).await;
        tokio::time::sleep(backoff.next_delay()).await;
    }
}

fn on_request(inner: &Arc<Inner>, d: Delivery) {
    inner.counters.requests_received.fetch_add(1, Relaxed);
    let (Some(reply_to), Some(correlation_id)) = (d.properties.reply_to(), d.properties.correlation_id()) else {
        inner.counters.requests_refused.fetch_add(1, Relaxed);
        tracing::warn!("command without reply_to or correlation_id ignored");
        return;
    };
    let reply = CommandReplier {
        inner: inner.clone(),
        reply_to: reply_to.to_string(),
        correlation_id: correlation_id.to_string(),
    };
    let body = match serde_json::from_slice::<RequestBody>(&d.data) {
        Ok(b) if b.v == 1 => b,
        other => {
            inner.counters.requests_refused.fetch_add(1, Relaxed);
            let description = match other {
                Ok(b) => format!("command format version {} is not supported", b.v),
                Err(e) => format!("unreadable command: {e}"),
            };
            tokio::spawn(reply.send(CommandReply::Error {
                code: "FormationViolation".into(),
                description,
                details: serde_json::Value::Null,
            }));
            return;
        }
    };
    let request = CommandRequest { station_id: body.station_id, action: body.action, payload: body.payload, reply };
    if let Err(mpsc::error::TrySendError::Full(request) | mpsc::error::TrySendError::Closed(request)) =
        inner.requests.try_send(request)
    {
        inner.counters.requests_refused.fetch_add(1, Relaxed);
        tokio::spawn(request.reply.send(CommandReply::QueueFull));
    }
}

fn on_reply(inner: &Inner, d: Delivery) {
    let Some(id) = d.properties.correlation_id() else { return };
    let Some(tx) = inner.pending.lock().unwrap().remove(id.as_str()) else { return };
    let reply = serde_json::from_slice::<CommandReply>(&d.data)
        .map_err(|e| CommandBusError::Transport(format!("unreadable reply: {e}")));
    let _ = tx.send(reply);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reply_format() {
        let r = CommandReply::Result { payload: json!({"status": "Accepted"}) };
        assert_eq!(serde_json::to_value(&r).unwrap(), json!({"outcome": "result", "payload": {"status": "Accepted"}}));
        let e = CommandReply::Error { code: "NotSupported".into(), description: "no".into(), details: json!({}) };
        assert_eq!(
            serde_json::to_value(&e).unwrap(),
            json!({"outcome": "error", "code": "NotSupported", "description": "no", "details": {}})
        );
        assert_eq!(serde_json::to_value(CommandReply::NotConnected).unwrap(), json!({"outcome": "not_connected"}));
        assert_eq!(serde_json::to_value(CommandReply::QueueFull).unwrap(), json!({"outcome": "queue_full"}));
        let back: CommandReply = serde_json::from_value(json!({"outcome": "error", "code": "X"})).unwrap();
        assert_eq!(back, CommandReply::Error { code: "X".into(), description: String::new(), details: json!(null) });
    }
}
