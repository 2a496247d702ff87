//! The OCPP gateway: the WebSocket endpoint chargers connect to.
//!
//! It speaks OCPP-J (framing, one outstanding CALL per direction, timeouts, ping/pong) and
//! knows nothing of storage: charger-initiated CALLs go to a [`CallHandler`], every frame
//! and connection event goes to a [`ConnectionObserver`], and central-system-initiated
//! calls come in through the [`Registry`].

mod connection;
mod endpoint;
mod registry;

pub use endpoint::{router, valid_station_id, GatewayConfig};
pub use registry::{CommandError, CommandOutcome, Registry};

use chargewatch_logstore::Direction;
use chargewatch_ocpp::extract::{extract_meter_values, extract_request, Extracted};
use chargewatch_ocpp::fast::MeterValuesCall;
use chargewatch_ocpp::messages::MeterValuesReq;
use chargewatch_ocpp::{Action, ErrorCode, Frame, FrameError, MessageType};
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::sync::Arc;

/// A CALLERROR a handler answers with.
#[derive(Debug, Clone, PartialEq)]
pub struct CallFailure {
    pub code: ErrorCode,
    pub description: String,
}

impl CallFailure {
    pub fn new(code: ErrorCode, description: impl Into<String>) -> Self {
        CallFailure { code, description: description.into() }
    }
}

/// Answers charger-initiated CALLs. The payload has already passed validation.
#[async_trait::async_trait]
pub trait CallHandler: Send + Sync + 'static {
    /// Answers a validated CALL. The payload is shared: the handler may keep it past the
    /// call (the state store's writer thread reads it) without copying it.
    async fn handle(&self, station_id: &str, action: Action, payload: Arc<Value>) -> Result<Value, CallFailure>;

    /// Answers a MeterValues CALL that the fast path (`chargewatch_ocpp::fast`) decoded
    /// straight into its typed request, already valid. By default as [`CallHandler::handle`]
    /// does, with the request turned back into JSON.
    async fn handle_meter_values(&self, station_id: &str, request: Arc<MeterValuesReq>) -> Result<Value, CallFailure> {
        let payload =
            serde_json::to_value(&*request).map_err(|e| CallFailure::new(ErrorCode::InternalError, e.to_string()))?;
        self.handle(station_id, Action::MeterValues, Arc::new(payload)).await
    }

    /// Called when a station's connection opens and closes (connection state).
    async fn connected(&self, _station_id: &str) {}
    async fn disconnected(&self, _station_id: &str) {}
}

/// A frame as the gateway decoded it.
#[derive(Debug, Clone, Copy)]
pub enum Decoded<'a> {
    Frame(&'a Frame),
    /// A MeterValues CALL decoded by the fast path, straight into its typed request.
    MeterValues(&'a MeterValuesCall),
}

impl<'a> Decoded<'a> {
    pub fn message_type(self) -> MessageType {
        match self {
            Decoded::Frame(f) => f.message_type(),
            Decoded::MeterValues(_) => MessageType::Call,
        }
    }

    pub fn unique_id(&self) -> &str {
        match self {
            Decoded::Frame(f) => f.unique_id(),
            Decoded::MeterValues(c) => &c.unique_id,
        }
    }

    /// The payload of a CALL (`None` for a response).
    pub fn call_payload(self) -> Option<CallPayload<'a>> {
        match self {
            Decoded::Frame(Frame::Call { payload, .. }) => Some(CallPayload::Json(payload)),
            Decoded::MeterValues(c) => Some(CallPayload::MeterValues(&c.request)),
            Decoded::Frame(_) => None,
        }
    }
}

/// The payload of a CALL, as JSON or as the fast path's typed request.
#[derive(Debug, Clone, Copy)]
pub enum CallPayload<'a> {
    Json(&'a Value),
    MeterValues(&'a MeterValuesReq),
}

impl CallPayload<'_> {
    /// Where the CALL keeps its connector, status and error code.
    pub fn columns(self, action: Action) -> Extracted {
        match self {
            CallPayload::Json(payload) => extract_request(action, payload),
            CallPayload::MeterValues(request) => extract_meter_values(request),
        }
    }
}

/// What the gateway saw: one frame in either direction.
pub struct FrameEvent<'a> {
    pub at: DateTime<Utc>,
    pub direction: Direction,
    /// The exact frame text.
    pub raw: &'a str,
    pub frame: Result<Decoded<'a>, &'a FrameError>,
    /// The action of a CALL, or of the CALL a response answers.
    pub action: Option<Action>,
    /// For a response: the payload of the CALL it answers.
    pub request: Option<CallPayload<'a>>,
    pub latency_ms: Option<u32>,
    /// Why the frame broke the OCPP schema or framing, if it did.
    pub validation_error: Option<String>,
}

/// A connection event: `Connected`, `Disconnected`, `ConnectionRefused`.
#[derive(Debug, Clone)]
pub struct ConnectionEvent {
    pub at: DateTime<Utc>,
    pub kind: &'static str,
    pub detail: Value,
}

/// Watches one station's connection. Must not block: it runs on the charger's path.
pub trait ConnectionObserver: Send + 'static {
    fn frame(&mut self, event: FrameEvent<'_>);
    fn event(&mut self, event: ConnectionEvent);
}

/// Makes an observer per connection.
pub trait Observe: Send + Sync + 'static {
    fn observe(&self, station_id: &str) -> Box<dyn ConnectionObserver>;
}

/// The services a gateway needs.
#[derive(Clone)]
pub struct Gateway {
    pub handler: Arc<dyn CallHandler>,
    pub observe: Arc<dyn Observe>,
    pub registry: Registry,
    pub config: Arc<GatewayConfig>,
}
