//! One charger's connection: a small state machine over the WebSocket.
//!
//! Incoming CALLs are answered in order; central-system calls go out one at a time from
//! the station's queue, each with a deadline; a connection that stays silent for a whole
//! ping interval after a ping is closed as dead.
//!
//! Frames a charger sends pass a token bucket (`frames_per_second`, `frame_burst`): a CALL
//! over the limit is answered with CALLERROR GenericError "rate limit exceeded" and not
//! handled (the charger may retry it later; the refusal is in the message log), anything
//! else over the limit is logged and ignored, except answers to the central system's own
//! outstanding CALL, which are never limited. More than `flood_close_after` frames over the
//! limit within [`FLOOD_WINDOW`] close the connection with 1008 (policy violation).

use super::endpoint::FLOOD_WINDOW;
use super::registry::{Command, CommandError, CommandOutcome, Registration};
use super::{CallFailure, CallPayload, ConnectionEvent, ConnectionObserver, Decoded, FrameEvent, Gateway};
use crate::security::limits::TokenBucket;
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use chargewatch_logstore::Direction;
use chargewatch_ocpp::fast::{meter_values_call, MeterValuesCall};
use chargewatch_ocpp::{validate_request, validate_response, Action, ErrorCode, Frame, MessageType};
use chrono::Utc;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::oneshot;
use tokio::time::Instant;

type Sink = SplitSink<WebSocket, Message>;

/// A central-system CALL waiting for its answer.
struct Outstanding {
    unique_id: String,
    action: Action,
    payload: Value,
    sent_at: Instant,
    deadline: Instant,
    reply: oneshot::Sender<Result<CommandOutcome, CommandError>>,
}

/// How a connection was admitted.
pub(super) struct Admission {
    pub remote: SocketAddr,
    pub profile: u8,
    pub tls: bool,
}

/// How long closing may take before the socket is simply dropped (a half-open peer
/// never reads our close frame).
const CLOSE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Frames over the rate limit in the current [`FLOOD_WINDOW`].
struct Flood {
    bucket: TokenBucket,
    window_start: Instant,
    over: u32,
}

/// When a frame arrived: wall-clock time for its log record, monotonic time for its
/// answer's latency, each read once per frame.
#[derive(Clone, Copy)]
struct Received {
    at: chrono::DateTime<Utc>,
    started: Instant,
}

impl Received {
    /// The answer's log time (the arrival plus the monotonic time since, without a second
    /// wall-clock reading) and its latency in milliseconds.
    fn answered_at(self) -> (chrono::DateTime<Utc>, u32) {
        let elapsed = self.started.elapsed();
        let at = self.at + chrono::TimeDelta::from_std(elapsed).unwrap_or_default();
        (at, u32::try_from(elapsed.as_millis()).unwrap_or(u32::MAX))
    }
}

/// Why a connection ended.
struct Ended {
    code: Option<u16>,
    reason: String,
}

struct Conn {
    gw: Gateway,
    station_id: String,
    obs: Box<dyn ConnectionObserver>,
    sink: Sink,
    outstanding: Option<Outstanding>,
    awaiting_pong: bool,
    flood: Flood,
}

pub(super) async fn run(gw: Gateway, station_id: String, admission: Admission, socket: WebSocket) {
    let remote = admission.remote;
    let reg = gw.registry.register(&station_id, gw.config.command_queue, &gw.config.shutdown);
    let conn_id = reg.conn_id;
    let mut obs = gw.observe.observe(&station_id);
    obs.event(ConnectionEvent {
        at: Utc::now(),
        kind: "Connected",
        detail: json!({
            "remote_addr": remote.to_string(),
            "subprotocol": "ocpp1.6",
            "security_profile": admission.profile,
            "tls": admission.tls,
        }),
    });
    gw.handler.connected(&station_id).await;
    let (sink, stream) = socket.split();
    let now = Instant::now();
    let flood = Flood {
        bucket: TokenBucket::new(gw.config.frames_per_second, gw.config.frame_burst, now.into_std()),
        window_start: now,
        over: 0,
    };
    let mut conn = Conn {
        gw: gw.clone(),
        station_id: station_id.clone(),
        obs,
        sink,
        outstanding: None,
        awaiting_pong: false,
        flood,
    };
    let ended = conn.serve(stream, reg).await;
    if let Some(o) = conn.outstanding.take() {
        let _ = o.reply.send(Err(CommandError::Disconnected));
    }
    gw.registry.unregister(&station_id, conn_id);
    gw.handler.disconnected(&station_id).await;
    conn.obs.event(ConnectionEvent {
        at: Utc::now(),
        kind: "Disconnected",
        detail: json!({"code": ended.code, "reason": ended.reason}),
    });
}

impl Conn {
    async fn serve(&mut self, mut stream: SplitStream<WebSocket>, mut reg: Registration) -> Ended {
        let cfg = self.gw.config.clone();
        let mut ping = tokio::time::interval_at(Instant::now() + cfg.ping_interval, cfg.ping_interval);
        // Made once: a fresh `cancelled()` in every turn of the loop joined and left the
        // token's waiter list (a lock each way) for every frame. One token for both reasons
        // to end (a child of the shutdown token): each poll of it takes the token's lock.
        let ended = reg.replaced.clone().cancelled_owned();
        tokio::pin!(ended);
        loop {
            let deadline = self.outstanding.as_ref().map(|o| o.deadline);
            tokio::select! {
                biased;
                _ = &mut ended => {
                    return if cfg.shutdown.is_cancelled() {
                        self.close(1001, "server shutting down").await
                    } else {
                        self.close(1000, "replaced by a new connection").await
                    };
                }
                msg = stream.next() => {
                    self.awaiting_pong = false;
                    if let Some(ended) = self.on_message(msg).await {
                        return ended;
                    }
                }
                cmd = reg.commands.recv(), if self.outstanding.is_none() => {
                    if let Some(cmd) = cmd {
                        self.send_call(cmd).await;
                    }
                }
                _ = tokio::time::sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() => {
                    if let Some(o) = self.outstanding.take() {
                        let _ = o.reply.send(Err(CommandError::Timeout));
                    }
                }
                _ = ping.tick() => {
                    if self.awaiting_pong {
                        return self.close(1001, "no pong").await;
                    }
                    self.awaiting_pong = true;
                    if self.sink.send(Message::Ping(Default::default())).await.is_err() {
                        return Ended { code: None, reason: "connection lost".into() };
                    }
                }
            }
        }
    }

    async fn close(&mut self, code: u16, reason: &str) -> Ended {
        let frame = CloseFrame { code, reason: reason.into() };
        let sink = &mut self.sink;
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, async move {
            let _ = sink.send(Message::Close(Some(frame))).await;
            let _ = sink.close().await;
        })
        .await;
        Ended { code: Some(code), reason: reason.to_string() }
    }

    async fn on_message(&mut self, msg: Option<Result<Message, axum::Error>>) -> Option<Ended> {
        match msg {
            None => Some(Ended { code: None, reason: "connection lost".into() }),
            Some(Err(e)) => {
                let text = e.to_string();
                if text.contains("Space limit") || text.contains("too long") || text.contains("too big") {
                    return Some(self.close(1009, "message exceeds the size limit").await);
                }
                Some(Ended { code: None, reason: format!("connection error: {text}") })
            }
            Some(Ok(Message::Text(t))) => self.on_text(t.as_str()).await,
            Some(Ok(Message::Binary(b))) => {
                let text = String::from_utf8_lossy(&b).into_owned();
                self.on_text(&text).await
            }
            Some(Ok(Message::Close(frame))) => Some(Ended {
                code: frame.as_ref().map(|f| f.code),
                reason: frame.map(|f| f.reason.to_string()).unwrap_or_default(),
            }),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => None,
        }
    }

    async fn on_text(&mut self, text: &str) -> Option<Ended> {
        // The frame's two clock readings: its time in the log, and the start of its answer's
        // latency. The answer's log time is derived from both (`Received::answered_at`).
        let got = Received { at: Utc::now(), started: Instant::now() };
        if let Some(call) = self.fast_call(text) {
            if !self.flood.bucket.take(got.started.into_std()) {
                return self.over_rate_limit(got, text, Frame::decode(text)).await;
            }
            self.on_meter_values(got, text, call).await;
            return None;
        }
        let decoded = Frame::decode(text);
        let answers_ours = matches!(&decoded, Ok(f) if f.message_type() != MessageType::Call
            && self.outstanding.as_ref().is_some_and(|o| o.unique_id == f.unique_id()));
        if !answers_ours && !self.flood.bucket.take(got.started.into_std()) {
            return self.over_rate_limit(got, text, decoded).await;
        }
        self.on_frame(got, text, decoded).await;
        None
    }

    /// A frame over the rate limit: refused, and counted towards closing the connection.
    async fn over_rate_limit(
        &mut self,
        got: Received,
        text: &str,
        decoded: Result<Frame, chargewatch_ocpp::FrameError>,
    ) -> Option<Ended> {
        let (at, now) = (got.at, got.started);
        if now.duration_since(self.flood.window_start) >= FLOOD_WINDOW {
            self.flood.window_start = now;
            self.flood.over = 0;
        }
        self.flood.over += 1;
        let cfg = self.gw.config.clone();
        let why = format!(
            "rate limit exceeded: at most {} frames per second (bursts of {})",
            cfg.frames_per_second, cfg.frame_burst
        );
        match &decoded {
            Ok(frame @ Frame::Call { unique_id, action, payload }) => {
                let known = action.parse::<Action>().ok();
                self.log_in(at, text, Ok(Decoded::Frame(frame)), known, Some(why.clone()));
                let request = Some(CallPayload::Json(payload));
                self.reply_error(unique_id, known, request, ErrorCode::GenericError, &why).await;
            }
            Ok(frame) => self.log_in(at, text, Ok(Decoded::Frame(frame)), None, Some(format!("{why}: ignored"))),
            Err(e) => self.log_in(at, text, Err(e), None, Some(format!("{why}: ignored"))),
        }
        if self.flood.over > cfg.flood_close_after {
            tracing::warn!(station = %self.station_id, "frame flood: connection closed (1008)");
            return Some(self.close(1008, "rate limit exceeded").await);
        }
        None
    }

    async fn on_frame(&mut self, got: Received, text: &str, decoded: Result<Frame, chargewatch_ocpp::FrameError>) {
        let at = got.at;
        let frame = match decoded {
            Ok(frame) if text.len() > self.gw.config.max_frame_bytes => {
                let why = format!(
                    "frame of {} bytes exceeds the limit of {} bytes",
                    text.len(),
                    self.gw.config.max_frame_bytes
                );
                self.log_in(at, text, Ok(Decoded::Frame(&frame)), None, Some(why.clone()));
                if frame.message_type() == MessageType::Call {
                    self.reply_error(frame.unique_id(), None, None, ErrorCode::FormationViolation, &why).await;
                }
                return;
            }
            Ok(frame) => frame,
            Err(e) => {
                self.log_in(at, text, Err(&e), None, Some(e.to_string()));
                if !matches!(e.message_type, Some(MessageType::CallResult | MessageType::CallError)) {
                    let uid = e.unique_id.clone().unwrap_or_else(|| "-1".to_string());
                    self.reply_error(&uid, None, None, e.code, &e.description).await;
                }
                return;
            }
        };
        match frame {
            Frame::Call { .. } => self.on_call(got, text, frame).await,
            _ => self.on_response(at, text, &frame),
        }
    }

    async fn on_call(&mut self, got: Received, text: &str, frame: Frame) {
        let at = got.at;
        let Frame::Call { unique_id: uid, action, payload } = &frame else { return };
        let known = action.parse::<Action>().ok();
        let check = match known {
            None => Err((ErrorCode::NotImplemented, format!("unknown action `{action}`"))),
            Some(a) if !a.sent_by_charge_point() => {
                Err((ErrorCode::NotSupported, format!("{a} is sent by the central system, not by a charge point")))
            }
            Some(a) => validate_request(a, payload).map_err(|v| (v.code, v.description)),
        };
        let note = check.as_ref().err().map(|(c, d)| format!("{c}: {d}"));
        self.log_in(at, text, Ok(Decoded::Frame(&frame)), known, note);
        let (Some(action), Ok(())) = (known, &check) else {
            let (code, desc) = check.err().unwrap_or((ErrorCode::GenericError, String::new()));
            self.reply_error(uid, known, Some(CallPayload::Json(payload)), code, &desc).await;
            return;
        };
        let Frame::Call { unique_id, payload, .. } = frame else { return };
        let payload = Arc::new(payload);
        let answer = self.gw.handler.handle(&self.station_id, action, payload.clone()).await;
        self.answer(unique_id, action, CallPayload::Json(&payload), answer, got).await;
    }

    /// A frame the MeterValues fast path takes: within the size limit and decoded by it.
    fn fast_call(&self, text: &str) -> Option<MeterValuesCall> {
        if text.len() > self.gw.config.max_frame_bytes {
            return None;
        }
        meter_values_call(text)
    }

    /// A MeterValues CALL the fast path decoded: valid already, handled as [`Conn::on_call`]
    /// handles a valid CALL.
    async fn on_meter_values(&mut self, got: Received, text: &str, call: MeterValuesCall) {
        self.log_in(got.at, text, Ok(Decoded::MeterValues(&call)), Some(Action::MeterValues), None);
        let MeterValuesCall { unique_id, request } = call;
        let request = Arc::new(request);
        let answer = self.gw.handler.handle_meter_values(&self.station_id, request.clone()).await;
        self.answer(unique_id, Action::MeterValues, CallPayload::MeterValues(&request), answer, got).await;
    }

    /// Sends the handler's answer to a CALL.
    async fn answer(
        &mut self,
        unique_id: String,
        action: Action,
        request: CallPayload<'_>,
        answer: Result<Value, CallFailure>,
        got: Received,
    ) {
        let (at, latency) = got.answered_at();
        let reply = match answer {
            Ok(result) => Frame::CallResult { unique_id, payload: result },
            Err(f) => Frame::call_error(&unique_id, f.code, f.description),
        };
        self.send_frame_at(at, &reply, Some(action), Some(request), Some(latency)).await;
    }

    fn on_response(&mut self, at: chrono::DateTime<Utc>, text: &str, frame: &Frame) {
        let matches = self.outstanding.as_ref().is_some_and(|o| o.unique_id == frame.unique_id());
        if !matches {
            let note = format!("no outstanding CALL with unique id `{}`: ignored", frame.unique_id());
            self.log_in(at, text, Ok(Decoded::Frame(frame)), None, Some(note));
            return;
        }
        let Some(o) = self.outstanding.take() else { return };
        let latency = o.sent_at.elapsed().as_millis() as u32;
        let (outcome, note) = match frame {
            Frame::CallResult { payload, .. } => {
                let note = validate_response(o.action, payload).err().map(|v| v.to_string());
                (CommandOutcome::Result(payload.clone()), note)
            }
            Frame::CallError { error_code, description, details, .. } => {
                let out = CommandOutcome::Error {
                    code: error_code.clone(),
                    description: description.clone(),
                    details: details.clone(),
                };
                (out, None)
            }
            Frame::Call { .. } => return,
        };
        self.obs.frame(FrameEvent {
            at,
            direction: Direction::In,
            raw: text,
            frame: Ok(Decoded::Frame(frame)),
            action: Some(o.action),
            request: Some(CallPayload::Json(&o.payload)),
            latency_ms: Some(latency),
            validation_error: note,
        });
        let _ = o.reply.send(Ok(outcome));
    }

    async fn send_call(&mut self, cmd: Command) {
        let unique_id = uuid::Uuid::new_v4().to_string();
        let frame =
            Frame::Call { unique_id: unique_id.clone(), action: cmd.action.as_str().to_string(), payload: cmd.payload };
        self.send_frame(&frame, Some(cmd.action), None, None).await;
        let Frame::Call { payload, .. } = frame else { return };
        let now = Instant::now();
        self.outstanding = Some(Outstanding {
            unique_id,
            action: cmd.action,
            payload,
            sent_at: now,
            deadline: now + self.gw.config.call_timeout,
            reply: cmd.reply,
        });
    }

    async fn reply_error(
        &mut self,
        uid: &str,
        action: Option<Action>,
        request: Option<CallPayload<'_>>,
        code: ErrorCode,
        desc: &str,
    ) {
        let frame = Frame::call_error(uid, code, desc);
        self.send_frame(&frame, action, request, Some(0)).await;
    }

    async fn send_frame(
        &mut self,
        frame: &Frame,
        action: Option<Action>,
        request: Option<CallPayload<'_>>,
        latency_ms: Option<u32>,
    ) {
        self.send_frame_at(Utc::now(), frame, action, request, latency_ms).await;
    }

    /// [`Conn::send_frame`] with the time its log record gets.
    async fn send_frame_at(
        &mut self,
        at: chrono::DateTime<Utc>,
        frame: &Frame,
        action: Option<Action>,
        request: Option<CallPayload<'_>>,
        latency_ms: Option<u32>,
    ) {
        let text = frame.encode();
        self.obs.frame(FrameEvent {
            at,
            direction: Direction::Out,
            raw: &text,
            frame: Ok(Decoded::Frame(frame)),
            action,
            request,
            latency_ms,
            validation_error: None,
        });
        let _ = self.sink.send(Message::Text(text.into())).await;
    }

    fn log_in(
        &mut self,
        at: chrono::DateTime<Utc>,
        raw: &str,
        frame: Result<Decoded<'_>, &chargewatch_ocpp::FrameError>,
        action: Option<Action>,
        validation_error: Option<String>,
    ) {
        self.obs.frame(FrameEvent {
            at,
            direction: Direction::In,
            raw,
            frame,
            action,
            request: None,
            latency_ms: None,
            validation_error,
        });
    }
}
