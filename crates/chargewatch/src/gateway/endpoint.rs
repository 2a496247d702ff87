//! The WebSocket endpoint `/ocpp/{chargeBoxId}`: admission, subprotocol, upgrade.

use super::{connection, ConnectionEvent, Gateway};
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
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

/// Limits and timers of the gateway. Defaults are documented in README.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// A frame larger than this is answered with a FormationViolation CALLERROR.
    pub max_frame_bytes: usize,
    /// A WebSocket message larger than this closes the connection (1009).
    pub hard_message_bytes: usize,
    pub max_connections: usize,
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
}

pub fn router(gateway: Gateway) -> Router {
    let slots = Arc::new(Semaphore::new(gateway.config.max_connections));
    let state = Arc::new(EndpointState { gateway, slots });
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
    let Ok(permit) = state.slots.clone().try_acquire_owned() else {
        refuse(gw, &station_id, remote, "connection limit reached");
        return (StatusCode::SERVICE_UNAVAILABLE, "connection limit reached, retry later\n").into_response();
    };
    if gw.config.shutdown.is_cancelled() {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response();
    }
    let gw = gw.clone();
    let tracker = gw.config.tracker.clone();
    ws.protocols([SUBPROTOCOL])
        .max_message_size(gw.config.hard_message_bytes)
        .max_frame_size(gw.config.hard_message_bytes)
        .on_upgrade(move |socket| {
            tracker.track_future(async move {
                connection::run(gw, station_id, remote, socket).await;
                drop(permit);
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
