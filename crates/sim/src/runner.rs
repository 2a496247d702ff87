//! The async side of a simulated station: the WebSocket, one outstanding CALL at a time,
//! timers, reconnects, and the background HTTP work (diagnostics upload, firmware download).

use crate::station::{Effect, OutCall, Station, StationParams};
use crate::stats::Stats;
use crate::util::{base64, scaled};
use crate::SimConfig;
use chargewatch_ocpp::{validate_request, validate_response, Action, Frame, MessageType};
use chrono::Utc;
use futures_util::{SinkExt, StreamExt};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::str::FromStr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub(crate) type Ws = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

/// Results of background work, fed back into the station.
#[derive(Debug)]
enum Internal {
    Diagnostics(&'static str),
    Firmware(&'static str),
    FirmwareInstalled(String),
}

enum Outcome {
    Closed,
    Reboot,
    Shutdown,
}

/// The station's id for index `i` (0-based): prefix + 4-digit 1-based number.
pub fn station_id(prefix: &str, i: usize) -> String {
    format!("{prefix}{:04}", i + 1)
}

/// Opens the OCPP WebSocket for `id` under `base`, offering subprotocol `ocpp1.6`.
pub(crate) async fn connect(base: &str, id: &str, password: Option<&str>) -> Result<Ws, String> {
    let url = format!("{}/{}", base.trim_end_matches('/'), percent_encode(id));
    let mut req = url.as_str().into_client_request().map_err(|e| e.to_string())?;
    req.headers_mut().insert("Sec-WebSocket-Protocol", HeaderValue::from_static("ocpp1.6"));
    if let Some(pw) = password {
        let v = format!("Basic {}", base64(format!("{id}:{pw}").as_bytes()));
        req.headers_mut().insert("Authorization", HeaderValue::from_str(&v).map_err(|e| e.to_string())?);
    }
    let connect = tokio_tungstenite::connect_async(req);
    let (ws, resp) = tokio::time::timeout(Duration::from_secs(20), connect)
        .await
        .map_err(|_| "connect timed out".to_string())?
        .map_err(|e| e.to_string())?;
    if resp.headers().get("Sec-WebSocket-Protocol").and_then(|v| v.to_str().ok()) != Some("ocpp1.6") {
        tracing::debug!(station = id, "server did not confirm subprotocol ocpp1.6");
    }
    Ok(ws)
}

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub(crate) fn params_for(cfg: &SimConfig, index: usize) -> StationParams {
    let mut p = StationParams::new(station_id(&cfg.id_prefix, index), cfg.connectors.max(1));
    p.heartbeat_override = cfg.heartbeat_interval;
    p.meter_interval = cfg.meter_interval;
    p.transaction_interval = cfg.transaction_interval;
    p.transaction_duration = cfg.transaction_duration;
    p.fault_probability = cfg.fault_probability.clamp(0.0, 1.0);
    p.time_scale = if cfg.time_scale > 0.0 && cfg.time_scale.is_finite() { cfg.time_scale } else { 1.0 };
    if !cfg.id_tags.is_empty() {
        p.id_tags = cfg.id_tags.clone();
    }
    p
}

/// Runs one station until shutdown.
pub(crate) async fn run_station(
    index: usize,
    cfg: Arc<SimConfig>,
    stats: Arc<Stats>,
    http: reqwest::Client,
    mut shutdown: watch::Receiver<bool>,
) {
    let params = params_for(&cfg, index);
    let id = params.id.clone();
    let mut station = Station::new(params, cfg.seed.wrapping_add(index as u64), Utc::now());
    let mut rng = SmallRng::seed_from_u64(cfg.seed.wrapping_add(index as u64) ^ 0x5eed_cafe);
    let mut backoff = Duration::from_secs(1);
    let mut connected_once = false;
    let (itx, mut irx) = mpsc::unbounded_channel::<Internal>();
    let mut tasks = JoinSet::new();
    let mut gauges = Gauges::default();
    loop {
        if *shutdown.borrow() {
            break;
        }
        let attempt = tokio::select! {
            r = connect(&cfg.url, &id, cfg.basic_auth_password.as_deref()) => r,
            _ = shutdown.changed() => break,
        };
        let ws = match attempt {
            Ok(ws) => ws,
            Err(e) => {
                stats.connect_failures.fetch_add(1, Relaxed);
                tracing::debug!(station = %id, error = %e, "connect failed");
                let wait = backoff.mul_f64(rng.gen_range(0.5..1.5));
                backoff = (backoff * 2).min(Duration::from_secs(60));
                tokio::select! {
                    _ = tokio::time::sleep(wait) => continue,
                    _ = shutdown.changed() => break,
                }
            }
        };
        if connected_once {
            stats.reconnects.fetch_add(1, Relaxed);
        }
        connected_once = true;
        backoff = Duration::from_secs(1);
        stats.connects.fetch_add(1, Relaxed);
        stats.connected.fetch_add(1, Relaxed);
        let outcome = session(
            &mut station,
            ws,
            &cfg,
            &stats,
            &http,
            &itx,
            &mut irx,
            &mut tasks,
            &mut shutdown,
            &mut gauges,
            rng.gen(),
        )
        .await;
        stats.connected.fetch_sub(1, Relaxed);
        gauges.apply(&station, &stats, false);
        match outcome {
            Outcome::Shutdown => break,
            Outcome::Reboot => {
                let wait = scaled(Duration::from_secs(5), cfg.time_scale).to_std().unwrap_or_default();
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = shutdown.changed() => break,
                }
            }
            Outcome::Closed => {
                let wait = backoff.mul_f64(rng.gen_range(0.5..1.5));
                backoff = (backoff * 2).min(Duration::from_secs(60));
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = shutdown.changed() => break,
                }
            }
        }
    }
    gauges.apply(&station, &stats, false);
    tasks.abort_all();
}

/// Tracks the gauge contributions of one station so they can be adjusted by difference.
#[derive(Default)]
struct Gauges {
    booted: bool,
    tx: usize,
}

impl Gauges {
    fn apply(&mut self, st: &Station, stats: &Stats, online: bool) {
        let booted = online && st.booted;
        if booted != self.booted {
            if booted {
                stats.booted.fetch_add(1, Relaxed);
            } else {
                stats.booted.fetch_sub(1, Relaxed);
            }
            self.booted = booted;
        }
        let tx = st.transactions_running();
        if tx != self.tx {
            stats.transactions_running.fetch_add(tx as i64 - self.tx as i64, Relaxed);
            self.tx = tx;
        }
    }
}

struct Pending {
    unique_id: String,
    call: OutCall,
    deadline: Instant,
    sent: Instant,
}

#[allow(clippy::too_many_arguments)]
async fn session(
    station: &mut Station,
    ws: Ws,
    cfg: &SimConfig,
    stats: &Stats,
    http: &reqwest::Client,
    itx: &mpsc::UnboundedSender<Internal>,
    irx: &mut mpsc::UnboundedReceiver<Internal>,
    tasks: &mut JoinSet<()>,
    shutdown: &mut watch::Receiver<bool>,
    gauges: &mut Gauges,
    id_base: u32,
) -> Outcome {
    let (mut sink, mut stream) = ws.split();
    station.on_connected(Utc::now());
    let mut pending: Option<Pending> = None;
    let mut counter: u64 = 0;
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Set when the connection should close once the outbox is drained.
    let mut closing: Option<(Instant, Outcome)> = None;
    let timeout = cfg.call_timeout;

    macro_rules! send {
        ($frame:expr) => {{
            let text = $frame.encode();
            if sink.send(Message::Text(text.into())).await.is_err() {
                station.on_disconnected(pending.take().map(|p| p.call));
                return Outcome::Closed;
            }
            stats.frames_sent.fetch_add(1, Relaxed);
        }};
    }

    loop {
        let now = Utc::now();
        // Effects of the last event.
        for e in station.take_effects() {
            match e {
                Effect::TransactionStarted => {
                    stats.transactions_started.fetch_add(1, Relaxed);
                }
                Effect::TransactionCompleted => {
                    stats.transactions_completed.fetch_add(1, Relaxed);
                }
                Effect::Reset { .. } => {
                    if closing.is_none() {
                        closing = Some((Instant::now() + Duration::from_secs(15), Outcome::Reboot));
                    }
                }
                Effect::Upload { location, file_name, body, retries, retry_interval_s } => {
                    let (itx, http) = (itx.clone(), http.clone());
                    let retry =
                        scaled(Duration::from_secs(retry_interval_s), cfg.time_scale).to_std().unwrap_or_default();
                    tasks.spawn(async move {
                        let _ = itx.send(Internal::Diagnostics("Uploading"));
                        let ok = upload(&http, &location, &file_name, body, retries, retry).await;
                        let _ = itx.send(Internal::Diagnostics(if ok { "Uploaded" } else { "UploadFailed" }));
                    });
                }
                Effect::DownloadFirmware { location, retrieve_date, retries, retry_interval_s, version } => {
                    let (itx, http) = (itx.clone(), http.clone());
                    let scale = cfg.time_scale;
                    let retry = scaled(Duration::from_secs(retry_interval_s), scale).to_std().unwrap_or_default();
                    tasks.spawn(async move {
                        let wait = (retrieve_date - Utc::now()).to_std().unwrap_or_default();
                        tokio::time::sleep(wait).await;
                        let _ = itx.send(Internal::Firmware("Downloading"));
                        if !download(&http, &location, retries, retry).await {
                            let _ = itx.send(Internal::Firmware("DownloadFailed"));
                            return;
                        }
                        let step = scaled(Duration::from_secs(10), scale).to_std().unwrap_or_default();
                        let _ = itx.send(Internal::Firmware("Downloaded"));
                        tokio::time::sleep(step).await;
                        let _ = itx.send(Internal::Firmware("Installing"));
                        tokio::time::sleep(step).await;
                        let _ = itx.send(Internal::Firmware("Installed"));
                        tokio::time::sleep(step / 5).await;
                        let _ = itx.send(Internal::FirmwareInstalled(version));
                    });
                }
            }
        }
        gauges.apply(station, stats, true);
        // One outstanding CALL at a time.
        if pending.is_none() {
            if let Some(call) = station.next_call(now) {
                counter += 1;
                let unique_id = format!("{id_base:x}-{counter}");
                let frame = Frame::Call {
                    unique_id: unique_id.clone(),
                    action: call.action.as_str().to_string(),
                    payload: call.payload.clone(),
                };
                let sent = Instant::now();
                pending = Some(Pending { unique_id, call, deadline: sent + timeout, sent });
                send!(frame);
                stats.calls_sent.fetch_add(1, Relaxed);
                continue;
            }
        }
        if let Some((deadline, _)) = &closing {
            if (pending.is_none() && station.outbox.is_empty()) || Instant::now() >= *deadline {
                let (_, outcome) = closing.take().expect("checked");
                let _ =
                    sink.send(Message::Close(Some(CloseFrame { code: CloseCode::Normal, reason: "".into() }))).await;
                let _ = sink.close().await;
                match outcome {
                    Outcome::Reboot => {
                        station.on_disconnected(None);
                        station.reboot(Utc::now());
                    }
                    _ => station.on_disconnected(None),
                }
                return outcome;
            }
        }
        let pending_deadline = pending.as_ref().map(|p| p.deadline);
        tokio::select! {
            msg = stream.next() => {
                let text = match msg {
                    Some(Ok(Message::Text(t))) => t.to_string(),
                    Some(Ok(Message::Binary(_))) => {
                        stats.protocol_errors.fetch_add(1, Relaxed);
                        continue;
                    }
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => {
                        station.on_disconnected(pending.take().map(|p| p.call));
                        return Outcome::Closed;
                    }
                    Some(Ok(_)) => continue,
                };
                stats.frames_received.fetch_add(1, Relaxed);
                let now = Utc::now();
                match Frame::decode(&text) {
                    Err(e) => {
                        stats.protocol_errors.fetch_add(1, Relaxed);
                        tracing::debug!(station = %station.id(), error = %e, "bad frame from central system");
                        if let (Some(uid), Some(MessageType::Call)) = (e.unique_id.clone(), e.message_type) {
                            send!(Frame::call_error(uid, e.code, e.description));
                        }
                    }
                    Ok(Frame::Call { unique_id, action, payload }) => {
                        let checked = match Action::from_str(&action) {
                            Ok(a) if a.sent_by_central_system() => validate_request(a, &payload)
                                .map_err(|v| crate::util::CallErr::new(v.code, v.description)),
                            _ => Ok(()),
                        };
                        let answer = checked.and_then(|()| station.handle_call(&action, &payload, now));
                        stats.calls_answered.fetch_add(1, Relaxed);
                        match answer {
                            Ok(p) => send!(Frame::CallResult { unique_id, payload: p }),
                            Err(e) => {
                                stats.call_errors_sent.fetch_add(1, Relaxed);
                                send!(Frame::call_error(unique_id, e.code, e.description));
                            }
                        }
                    }
                    Ok(Frame::CallResult { unique_id, payload }) => {
                        match pending.take_if(|p| p.unique_id == unique_id) {
                            Some(p) => {
                                stats.record_latency(p.sent.elapsed());
                                if let Err(v) = validate_response(p.call.action, &payload) {
                                    stats.protocol_errors.fetch_add(1, Relaxed);
                                    tracing::debug!(station = %station.id(), action = %p.call.action, error = %v, "invalid CALLRESULT");
                                }
                                station.on_conf(&p.call, &payload, now);
                            }
                            None => {
                                stats.protocol_errors.fetch_add(1, Relaxed);
                            }
                        }
                    }
                    Ok(Frame::CallError { unique_id, error_code, description, .. }) => {
                        match pending.take_if(|p| p.unique_id == unique_id) {
                            Some(p) => {
                                stats.call_errors_received.fetch_add(1, Relaxed);
                                tracing::debug!(station = %station.id(), action = %p.call.action, %error_code, %description, "CALLERROR");
                                station.on_call_error(&p.call, Some(&error_code), now);
                            }
                            None => {
                                stats.protocol_errors.fetch_add(1, Relaxed);
                            }
                        }
                    }
                }
            }
            _ = tick.tick() => {
                station.tick(Utc::now());
            }
            Some(ev) = irx.recv() => {
                let now = Utc::now();
                match ev {
                    Internal::Diagnostics(s) => station.diagnostics_status(s),
                    Internal::Firmware(s) => station.firmware_status(s),
                    Internal::FirmwareInstalled(v) => station.firmware_installed(v, now),
                }
            }
            _ = tokio::time::sleep_until(pending_deadline.unwrap_or_else(Instant::now)), if pending_deadline.is_some() => {
                if let Some(p) = pending.take() {
                    stats.timeouts.fetch_add(1, Relaxed);
                    tracing::debug!(station = %station.id(), action = %p.call.action, "no answer in time");
                    station.on_call_error(&p.call, None, Utc::now());
                }
            }
            _ = shutdown.changed(), if closing.is_none() || !matches!(closing, Some((_, Outcome::Shutdown))) => {
                station.begin_shutdown(Utc::now());
                closing = Some((Instant::now() + Duration::from_secs(3), Outcome::Shutdown));
            }
        }
    }
}

async fn upload(
    http: &reqwest::Client,
    location: &str,
    file_name: &str,
    body: String,
    retries: u32,
    retry: Duration,
) -> bool {
    if !(location.starts_with("http://") || location.starts_with("https://")) {
        return false;
    }
    let url = if location.ends_with('/') { format!("{location}{file_name}") } else { location.to_string() };
    for attempt in 0..=retries {
        if attempt > 0 {
            tokio::time::sleep(retry).await;
        }
        let req = |m: reqwest::Method| {
            http.request(m, &url)
                .header("Content-Type", "text/plain; charset=utf-8")
                .header("Content-Disposition", format!("attachment; filename=\"{file_name}\""))
                .timeout(Duration::from_secs(30))
                .body(body.clone())
        };
        match req(reqwest::Method::POST).send().await {
            Ok(r) if r.status().is_success() => return true,
            Ok(r) if r.status() == reqwest::StatusCode::METHOD_NOT_ALLOWED => {
                if let Ok(r) = req(reqwest::Method::PUT).send().await {
                    if r.status().is_success() {
                        return true;
                    }
                }
            }
            _ => {}
        }
    }
    false
}

async fn download(http: &reqwest::Client, location: &str, retries: u32, retry: Duration) -> bool {
    if !(location.starts_with("http://") || location.starts_with("https://")) {
        return false;
    }
    for attempt in 0..=retries {
        if attempt > 0 {
            tokio::time::sleep(retry).await;
        }
        if let Ok(r) = http.get(location).timeout(Duration::from_secs(60)).send().await {
            if r.status().is_success() && r.bytes().await.is_ok() {
                return true;
            }
        }
    }
    false
}
