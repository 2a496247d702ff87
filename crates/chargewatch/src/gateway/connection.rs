//! One charger's connection: a small state machine over the WebSocket.
//!
//! Incoming CALLs are answered in order; central-system calls go out one at a time from
//! the station's queue, each with a deadline; a connection that stays silent for a whole
//! ping interval after a ping is closed as dead.

use super::registry::{Command, CommandError, CommandOutcome, Registration};
use super::{ConnectionEvent, ConnectionObserver, FrameEvent, Gateway};
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use chargewatch_logstore::Direction;
use chargewatch_ocpp::{validate_request, validate_response, Action, ErrorCode, Frame, MessageType};
use chrono::Utc;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::net::SocketAddr;
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
}

pub(super) async fn run(gw: Gateway, station_id: String, remote: SocketAddr, socket: WebSocket) {
    let reg = gw.registry.register(&station_id, gw.config.command_queue);
    let conn_id = reg.conn_id;
    let mut obs = gw.observe.observe(&station_id);
    obs.event(ConnectionEvent {
        at: Utc::now(),
        kind: "Connected",
        detail: json!({"remote_addr": remote.to_string(), "subprotocol": "ocpp1.6"}),
    });
    gw.handler.connected(&station_id).await;
    let (sink, stream) = socket.split();
    let mut conn =
        Conn { gw: gw.clone(), station_id: station_id.clone(), obs, sink, outstanding: None, awaiting_pong: false };
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
        loop {
            let deadline = self.outstanding.as_ref().map(|o| o.deadline);
            tokio::select! {
                biased;
                _ = cfg.shutdown.cancelled() => return self.close(1001, "server shutting down").await,
                _ = reg.replaced.cancelled() => return self.close(1000, "replaced by a new connection").await,
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
        let _ = self.sink.send(Message::Close(Some(frame))).await;
        let _ = self.sink.close().await;
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
            Some(Ok(Message::Text(t))) => {
                self.on_text(t.as_str()).await;
                None
            }
            Some(Ok(Message::Binary(b))) => {
                let text = String::from_utf8_lossy(&b).into_owned();
                self.on_text(&text).await;
                None
            }
            Some(Ok(Message::Close(frame))) => Some(Ended {
                code: frame.as_ref().map(|f| f.code),
                reason: frame.map(|f| f.reason.to_string()).unwrap_or_default(),
            }),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => None,
        }
    }

    async fn on_text(&mut self, text: &str) {
        let at = Utc::now();
        let decoded = Frame::decode(text);
        let frame = match decoded {
            Ok(frame) if text.len() > self.gw.config.max_frame_bytes => {
                let why = format!(
                    "frame of {} bytes exceeds the limit of {} bytes",
                    text.len(),
                    self.gw.config.max_frame_bytes
                );
                self.log_in(at, text, Ok(&frame), None, None, Some(why.clone()));
                if frame.message_type() == MessageType::Call {
                    self.reply_error(frame.unique_id(), None, None, ErrorCode::FormationViolation, &why).await;
                }
                return;
            }
            Ok(frame) => frame,
            Err(e) => {
                self.log_in(at, text, Err(&e), None, None, Some(e.to_string()));
                if !matches!(e.message_type, Some(MessageType::CallResult | MessageType::CallError)) {
                    let uid = e.unique_id.clone().unwrap_or_else(|| "-1".to_string());
                    self.reply_error(&uid, None, None, e.code, &e.description).await;
                }
                return;
            }
        };
        match &frame {
            Frame::Call { unique_id, action, payload } => {
                self.on_call(at, text, &frame, unique_id, action, payload).await
            }
            _ => self.on_response(at, text, &frame),
        }
    }

    async fn on_call(
        &mut self,
        at: chrono::DateTime<Utc>,
        text: &str,
        frame: &Frame,
        uid: &str,
        action: &str,
        payload: &Value,
    ) {
        let started = Instant::now();
        let known = action.parse::<Action>().ok();
        let check = match known {
            None => Err((ErrorCode::NotImplemented, format!("unknown action `{action}`"))),
            Some(a) if !a.sent_by_charge_point() => {
                Err((ErrorCode::NotSupported, format!("{a} is sent by the central system, not by a charge point")))
            }
            Some(a) => validate_request(a, payload).map_err(|v| (v.code, v.description)),
        };
        let note = check.as_ref().err().map(|(c, d)| format!("{c}: {d}"));
        self.log_in(at, text, Ok(frame), known, None, note);
        let (Some(action), Ok(())) = (known, &check) else {
            let (code, desc) = check.err().unwrap_or((ErrorCode::GenericError, String::new()));
            self.reply_error(uid, known, Some(payload), code, &desc).await;
            return;
        };
        let answer = self.gw.handler.handle(&self.station_id, action, payload).await;
        let latency = started.elapsed().as_millis() as u32;
        let reply = match answer {
            Ok(result) => Frame::CallResult { unique_id: uid.to_string(), payload: result },
            Err(f) => Frame::call_error(uid, f.code, f.description),
        };
        self.send_frame(&reply, Some(action), Some(payload), Some(latency)).await;
    }

    fn on_response(&mut self, at: chrono::DateTime<Utc>, text: &str, frame: &Frame) {
        let matches = self.outstanding.as_ref().is_some_and(|o| o.unique_id == frame.unique_id());
        if !matches {
            let note = format!("no outstanding CALL with unique id `{}`: ignored", frame.unique_id());
            self.log_in(at, text, Ok(frame), None, None, Some(note));
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
            frame: Ok(frame),
            action: Some(o.action),
            request: Some(&o.payload),
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
        request: Option<&Value>,
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
        request: Option<&Value>,
        latency_ms: Option<u32>,
    ) {
        let text = frame.encode();
        self.obs.frame(FrameEvent {
            at: Utc::now(),
            direction: Direction::Out,
            raw: &text,
            frame: Ok(frame),
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
        frame: Result<&Frame, &chargewatch_ocpp::FrameError>,
        action: Option<Action>,
        request: Option<&Value>,
        validation_error: Option<String>,
    ) {
        self.obs.frame(FrameEvent {
            at,
            direction: Direction::In,
            raw,
            frame,
            action,
            request,
            latency_ms: None,
            validation_error,
        });
    }
}
