//! Turns what the gateway sees into log records: applies the station's effective log
//! level, extracts the table columns, and keeps what the level filtered out in a small
//! per-station ring buffer that is written into the log when the level is raised.

use super::levels::Levels;
use super::metrics::Metrics;
use super::privacy::Masker;
use super::transport::LogTransport;
use crate::gateway::{ConnectionEvent, ConnectionObserver, Decoded, FrameEvent, Observe};
use chargewatch_logstore::record::new_record_id;
use chargewatch_logstore::{Direction, LogLevel, LogRecord};
use chargewatch_ocpp::extract::{extract_response, Extracted};
use chargewatch_ocpp::{Action, Frame, MessageType};
use chrono::{DateTime, SubsecRound, Utc};
use foldhash::HashMap;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

/// Looks up the connector of a transaction the capture has not seen start (after a restart).
pub type ConnectorLookup = Arc<dyn Fn(&str, i64) -> Option<i64> + Send + Sync>;

/// Bounds of each station's ring buffer of filtered-out records.
#[derive(Debug, Clone, Copy)]
pub struct RingLimits {
    pub records: usize,
    pub bytes: usize,
}

impl Default for RingLimits {
    fn default() -> Self {
        RingLimits { records: 200, bytes: 256 * 1024 }
    }
}

#[derive(Default)]
struct Ring {
    records: VecDeque<LogRecord>,
    bytes: usize,
}

impl Ring {
    fn push(&mut self, r: LogRecord, limits: RingLimits) {
        self.bytes += r.raw.len();
        self.records.push_back(r);
        while self.records.len() > limits.records || (self.bytes > limits.bytes && self.records.len() > 1) {
            if let Some(old) = self.records.pop_front() {
                self.bytes -= old.raw.len();
            }
        }
    }

    /// Takes out the records `level` now keeps.
    fn take_kept(&mut self, level: LogLevel) -> Vec<LogRecord> {
        let (kept, rest): (Vec<_>, Vec<_>) = self.records.drain(..).partition(|r| r.level <= level);
        self.bytes = rest.iter().map(|r| r.raw.len()).sum();
        self.records = rest.into();
        kept
    }
}

/// The capture: shared by every connection of a gateway. Cheap to clone.
#[derive(Clone)]
pub struct Capture {
    inner: Arc<Shared>,
}

struct Shared {
    levels: Arc<Levels>,
    transport: Arc<dyn LogTransport>,
    metrics: Arc<Metrics>,
    lookup: ConnectorLookup,
    ring_limits: RingLimits,
    rings: Mutex<HashMap<String, Arc<Mutex<Ring>>>>,
    masker: Masker,
}

impl Capture {
    pub fn new(
        levels: Arc<Levels>,
        transport: Arc<dyn LogTransport>,
        metrics: Arc<Metrics>,
        lookup: ConnectorLookup,
        ring_limits: RingLimits,
        masker: Masker,
    ) -> Capture {
        let rings = Mutex::default();
        Capture { inner: Arc::new(Shared { levels, transport, metrics, lookup, ring_limits, rings, masker }) }
    }

    fn ring(&self, station_id: &str) -> Arc<Mutex<Ring>> {
        let mut rings = self.inner.rings.lock().unwrap_or_else(|p| p.into_inner());
        rings.entry(station_id.to_string()).or_default().clone()
    }

    /// Writes the ring-buffered records that each station's current level keeps, with
    /// their original timestamps. Returns how many were written.
    pub fn backfill(&self) -> usize {
        let c = &self.inner;
        let rings: Vec<(String, Arc<Mutex<Ring>>)> = {
            let rings = c.rings.lock().unwrap_or_else(|p| p.into_inner());
            rings.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
        };
        let mut n = 0;
        for (station, ring) in rings {
            let eff = c.levels.effective(&station);
            let kept = ring.lock().unwrap_or_else(|p| p.into_inner()).take_kept(eff.level);
            n += kept.len();
            Metrics::add(&c.metrics.records_published, kept.len() as u64);
            for r in kept {
                c.transport.publish(r);
            }
        }
        Metrics::add(&c.metrics.records_backfilled, n as u64);
        n
    }

    /// Runs [`Capture::backfill`] whenever a level changes, until `shutdown`.
    pub fn spawn_backfill(&self, shutdown: tokio_util::sync::CancellationToken) -> tokio::task::JoinHandle<()> {
        let me = self.clone();
        let mut changes = self.inner.levels.subscribe();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    changed = changes.changed() => {
                        if changed.is_err() {
                            return;
                        }
                        me.backfill();
                    }
                }
            }
        })
    }

    /// Keeps `record` if the station's level allows it, else rings it. Id tags of masked
    /// sites are masked first, so not even the ring holds them in clear.
    fn submit(&self, mut record: LogRecord, ring: &Mutex<Ring>) {
        let c = &self.inner;
        Metrics::add(&c.metrics.records_captured, 1);
        let eff = c.levels.effective(&record.station_id);
        record.site_id = eff.site_id;
        if eff.mask_id_tags {
            record.raw = c.masker.mask_frame(&record.raw);
        }
        if record.level <= eff.level {
            Metrics::add(&c.metrics.records_published, 1);
            c.transport.publish(record);
        } else {
            Metrics::add(&c.metrics.records_filtered, 1);
            ring.lock().unwrap_or_else(|p| p.into_inner()).push(record, c.ring_limits);
        }
    }
}

impl Observe for Capture {
    fn observe(&self, station_id: &str) -> Box<dyn ConnectionObserver> {
        Box::new(StationCapture {
            capture: self.clone(),
            station_id: station_id.to_string(),
            ring: self.ring(station_id),
            transactions: HashMap::default(),
            unknown_calls: None,
        })
    }
}

/// Per-connection observer: remembers which connector each transaction runs on.
struct StationCapture {
    capture: Capture,
    station_id: String,
    ring: Arc<Mutex<Ring>>,
    transactions: HashMap<i64, i64>,
    /// The last incoming CALL with an unknown action: (unique id, action).
    unknown_calls: Option<(String, String)>,
}

/// The level a record needs to be kept (SPEC.md, Log levels). Frames that broke the
/// schema are kept at `info`, like the CALLERROR that answers them.
pub fn required_level(message_type: &str, action: Option<Action>, invalid: bool) -> LogLevel {
    if message_type == "CALLERROR" || message_type == "EVENT" || invalid {
        return LogLevel::Info;
    }
    match action {
        Some(a) if a.is_info_action() => LogLevel::Info,
        _ => LogLevel::Debug,
    }
}

fn ms(t: DateTime<Utc>) -> DateTime<Utc> {
    t.trunc_subsecs(3)
}

impl StationCapture {
    fn columns(&mut self, ev: &FrameEvent<'_>, frame: Decoded<'_>) -> Extracted {
        let request = |action| ev.request.map(|r| r.columns(action)).unwrap_or_default();
        let mut x = match (frame, ev.action) {
            (Decoded::Frame(Frame::CallError { error_code, .. }), action) => {
                let mut x = action.map(request).unwrap_or_default();
                x.status = None;
                x.error_code = Some(error_code.clone());
                x
            }
            (_, None) => return Extracted::default(),
            (Decoded::Frame(Frame::CallResult { payload, .. }), Some(action)) => {
                let mut x = extract_response(action, payload);
                let req = request(action);
                x.connector_id = x.connector_id.or(req.connector_id);
                x.transaction_id = x.transaction_id.or(req.transaction_id);
                x
            }
            (call, Some(action)) => call.call_payload().map(|p| p.columns(action)).unwrap_or_default(),
        };
        if let Some(action) = ev.action {
            self.learn_transaction(action, frame, &x);
        }
        if x.connector_id.is_none() {
            if let Some(tx) = x.transaction_id {
                x.connector_id =
                    self.transactions.get(&tx).copied().or_else(|| (self.capture.inner.lookup)(&self.station_id, tx));
            }
        }
        x
    }

    /// The action name of a frame: the known action, or for a CALL with an unknown action
    /// (and the CALLERROR that answers it) the name the charger sent.
    fn action_name(&mut self, ev: &FrameEvent<'_>) -> Option<String> {
        if let Some(a) = ev.action {
            return Some(a.as_str().to_string());
        }
        match ev.frame {
            Ok(Decoded::Frame(Frame::Call { unique_id, action, .. })) => {
                self.unknown_calls = Some((unique_id.clone(), action.clone()));
                Some(action.clone())
            }
            Ok(Decoded::Frame(Frame::CallError { unique_id, .. })) if ev.direction == Direction::Out => {
                match self.unknown_calls.take() {
                    Some((uid, action)) if &uid == unique_id => Some(action),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    fn learn_transaction(&mut self, action: Action, frame: Decoded<'_>, x: &Extracted) {
        let learns = matches!(
            (action, frame.message_type()),
            (Action::StartTransaction, MessageType::CallResult) | (Action::MeterValues, MessageType::Call)
        );
        if let (true, Some(tx), Some(c)) = (learns, x.transaction_id, x.connector_id) {
            self.transactions.insert(tx, c);
        }
    }
}

impl ConnectionObserver for StationCapture {
    fn frame(&mut self, ev: FrameEvent<'_>) {
        let c = &self.capture.inner;
        let counter = if ev.direction == Direction::In { &c.metrics.frames_in } else { &c.metrics.frames_out };
        Metrics::add(counter, 1);
        let (message_type, unique_id, x) = match ev.frame {
            Ok(frame) => {
                let x = self.columns(&ev, frame);
                (frame.message_type().as_str(), Some(frame.unique_id().to_string()), x)
            }
            Err(e) => {
                let mt = e.message_type.map(MessageType::as_str).unwrap_or("CALL");
                (mt, e.unique_id.clone(), Extracted::default())
            }
        };
        let invalid = ev.validation_error.is_some();
        let record = LogRecord {
            id: new_record_id(ev.at),
            timestamp: ms(ev.at),
            action: self.action_name(&ev),
            station_id: self.station_id.clone(),
            connector_id: x.connector_id,
            status: x.status,
            error_code: x.error_code,
            site_id: None,
            site_name: None,
            direction: ev.direction,
            message_type: message_type.to_string(),
            unique_id,
            level: required_level(message_type, ev.action, invalid),
            latency_ms: ev.latency_ms,
            validation_error: ev.validation_error,
            raw: ev.raw.to_string(),
        };
        self.capture.submit(record, &self.ring);
    }

    fn event(&mut self, ev: ConnectionEvent) {
        let record = LogRecord {
            id: new_record_id(ev.at),
            timestamp: ms(ev.at),
            action: Some(ev.kind.to_string()),
            station_id: self.station_id.clone(),
            connector_id: None,
            status: None,
            error_code: None,
            site_id: None,
            site_name: None,
            direction: Direction::In,
            message_type: "EVENT".to_string(),
            unique_id: None,
            level: LogLevel::Info,
            latency_ms: None,
            validation_error: None,
            raw: ev.detail.to_string(),
        };
        self.capture.submit(record, &self.ring);
    }
}
