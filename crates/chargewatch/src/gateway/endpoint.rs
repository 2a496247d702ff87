//! The WebSocket endpoint `/ocpp/{chargeBoxId}`: admission, subprotocol, upgrade.

use super::{connection, ConnectionEvent, Gateway};
use crate::security::limits::AddrCounter;
use crate::security::{ChargerAuth, TlsPeer};
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The OCPP-J subprotocol this endpoint speaks.
pub const SUBPROTOCOL: &str = "ocpp1.6";

/// The window in which frames over the rate limit are counted towards closing (1008).
pub const FLOOD_WINDOW: Duration = Duration::from_secs(10);

/// Limits and timers of the gateway. Defaults are documented in README.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// A frame larger than this is answered with a FormationViolation CALLERROR.
    pub max_frame_bytes: usize,
    /// A WebSocket message larger than this closes the connection (1009).
    pub hard_message_bytes: usize,
    pub max_connections: usize,
    /// Most connections from one source IP address (0 = no limit); more get HTTP 429.
    pub max_connections_per_address: usize,
    /// Charger authentication (security profiles); `None` admits every station (profile 0).
    pub auth: Option<Arc<ChargerAuth>>,
    /// Frames a charger may send per second, sustained (0 = no limit); over it a CALL is
    /// answered with CALLERROR GenericError and not handled.
    pub frames_per_second: u32,
    /// Token-bucket size of `frames_per_second`.
    pub frame_burst: u32,
    /// Frames over the rate limit within [`FLOOD_WINDOW`] after which the connection is
    /// closed with 1008.
    pub flood_close_after: u32,
    /// How long the central system waits for a charger's answer to its CALL.
    pub call_timeout: Duration,
    /// Central-system calls queued per station beyond the outstanding one.
    pub command_queue: usize,
    pub ping_interval: Duration,
    /// A connection silent for this long after a ping is closed as dead ("no pong").
    pub pong_timeout: Duration,
    pub shutdown: CancellationToken,
    pub tracker: TaskTracker,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        GatewayConfig {
            max_frame_bytes: 64 * 1024,
            hard_message_bytes: 1024 * 1024,
            max_connections: 100_000,
            max_connections_per_address: 100,
            auth: None,
            frames_per_second: 20,
            frame_burst: 100,
            flood_close_after: 50,
            call_timeout: Duration::from_secs(30),
            command_queue: 32,
            ping_interval: Duration::from_secs(60),
            pong_timeout: Duration::from_secs(30),
            shutdown: CancellationToken::new(),
            tracker: TaskTracker::new(),
        }
    }
}

struct EndpointState {
    gateway: Gateway,
    slots: Arc<Semaphore>,
    per_address: Arc<AddrCounter>,
}

pub fn router(gateway: Gateway) -> Router {
    let slots = Arc::new(Semaphore::new(gateway.config.max_connections));
    let state = Arc::new(EndpointState { gateway, slots, per_address: Arc::default() });
    Router::new().route("/ocpp/{station_id}", get(upgrade)).fallback(bad_path).with_state(state)
}

async fn bad_path() -> Response {
    (StatusCode::NOT_FOUND, "the OCPP endpoint is /ocpp/{chargeBoxId} (one path segment)\n").into_response()
}

/// A chargeBoxId is 1 to 48 printable characters without spaces or `/`.
pub fn valid_station_id(id: &str) -> Result<(), &'static str> {
    if id.is_empty() || id.len() > 48 {
        return Err("chargeBoxId must be 1 to 48 characters long");
    }
    if !id.chars().all(|c| c.is_ascii_graphic() && c != '/') {
        return Err("chargeBoxId may contain only printable ASCII characters other than space and `/`");
    }
    Ok(())
}

fn offers_ocpp16(headers: &HeaderMap) -> bool {
    headers
        .get_all("sec-websocket-protocol")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim().eq_ignore_ascii_case(SUBPROTOCOL))
}

async fn upgrade(
    State(state): State<Arc<EndpointState>>,
    Path(station_id): Path<String>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    tls: Option<axum::Extension<TlsPeer>>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    let gw = &state.gateway;
    if let Err(why) = valid_station_id(&station_id) {
        return (StatusCode::BAD_REQUEST, format!("{why}\n")).into_response();
    }
    if !offers_ocpp16(&headers) {
        refuse(gw, &station_id, remote, "client did not offer the subprotocol ocpp1.6");
        let body = "this endpoint speaks OCPP 1.6-J only: offer the WebSocket subprotocol `ocpp1.6`\n";
        return (StatusCode::BAD_REQUEST, body).into_response();
    }
    let Some(addr_slot) = state.per_address.try_acquire(remote.ip(), gw.config.max_connections_per_address) else {
        refuse(gw, &station_id, remote, "too many connections from this address");
        return (StatusCode::TOO_MANY_REQUESTS, "too many connections from this address, retry later\n")
            .into_response();
    };
    let Ok(permit) = state.slots.clone().try_acquire_owned() else {
        refuse(gw, &station_id, remote, "connection limit reached");
        return (StatusCode::SERVICE_UNAVAILABLE, "connection limit reached, retry later\n").into_response();
    };
    let tls = tls.map(|axum::Extension(t)| t);
    let profile = match &gw.config.auth {
        None => 0,
        Some(auth) => match auth.admit(&station_id, remote.ip(), &headers, tls.as_ref()).await {
            Ok(admitted) => admitted.profile,
            Err(refusal) => {
                refuse(gw, &station_id, remote, &refusal.reason);
                let mut resp = (refusal.status, format!("{}\n", refusal.reason)).into_response();
                if refusal.status == StatusCode::UNAUTHORIZED {
                    let challenge = header::HeaderValue::from_static("Basic realm=\"OCPP\", charset=\"UTF-8\"");
                    resp.headers_mut().insert(header::WWW_AUTHENTICATE, challenge);
                }
                if let Some(after) = refusal.retry_after {
                    resp.headers_mut().insert(header::RETRY_AFTER, after.as_secs().into());
                }
                return resp;
            }
        },
    };
    if gw.config.shutdown.is_cancelled() {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response();
    }
    let gw = gw.clone();
    let tracker = gw.config.tracker.clone();
    let info = connection::Admission { remote, profile, tls: tls.is_some() };
    // Small buffers: tungstenite's defaults (128 KiB read buffer, zero-filled per
    // connection) would cost ~137 KiB per idle charger. tungstenite 0.26 also zero-fills
    // the read buffer's whole capacity before every read, about twice per frame: 1 KiB
    // holds the usual OCPP frame (a MeterValues is ~400 bytes), and tungstenite grows the
    // buffer for a longer one (`tests/gateway.rs`, frames longer than the read buffer).
    ws.protocols([SUBPROTOCOL])
        .read_buffer_size(1024)
        .write_buffer_size(4 * 1024)
        .max_message_size(gw.config.hard_message_bytes)
        .max_frame_size(gw.config.hard_message_bytes)
        .on_upgrade(move |socket| {
            tracker.track_future(async move {
                connection::run(gw, station_id, info, socket).await;
                drop(permit);
                drop(addr_slot);
            })
        })
}

fn refuse(gw: &Gateway, station_id: &str, remote: SocketAddr, reason: &str) {
    let mut obs = gw.observe.observe(station_id);
    obs.event(ConnectionEvent {
        at: chrono::Utc::now(),
        kind: "ConnectionRefused",
        detail: serde_json::json!({"reason": reason, "remote_addr": remote.to_string()}),
    });
}
