//! One simulated charging station as a pure state machine: no sockets, no clocks.
//!
//! The runner feeds it events — [`Station::on_connected`], [`Station::tick`],
//! [`Station::handle_call`] (a central-system CALL), [`Station::on_conf`] /
//! [`Station::on_call_error`] (the answer to the station's own CALL), and the results of
//! background work (diagnostics upload, firmware download) — and takes from it the CALLs to
//! send ([`Station::next_call`], one at a time) and [`Effect`]s that need I/O.

use crate::config_store::{ChangeResult, ConfigStore, SUPPORTED_MEASURANDS};
use crate::local_list::LocalList;
use crate::smart::{ChargingProfile, ProfileStore, Purpose, TxContext, Unit, DEFAULT_PHASES, VOLTAGE};
use crate::util::{
    opt_enum, opt_int, opt_str, opt_time, req_enum, req_int, req_str, req_time, scaled, trunc, ts, CallErr,
};
use chargewatch_ocpp::{Action, ErrorCode};
use chrono::{DateTime, Duration, Utc};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use std::collections::{HashMap, VecDeque};
use std::str::FromStr;

/// The vendor id this simulator answers DataTransfer for.
pub const VENDOR_ID: &str = "chargewatch-sim";
/// Initial firmware version reported in BootNotification.
pub const INITIAL_FIRMWARE: &str = "1.0.0";

/// Per-station settings (derived from [`crate::SimConfig`]).
#[derive(Debug, Clone)]
pub struct StationParams {
    pub id: String,
    pub connectors: usize,
    pub heartbeat_override: Option<std::time::Duration>,
    pub meter_interval: std::time::Duration,
    pub transaction_interval: std::time::Duration,
    pub transaction_duration: std::time::Duration,
    pub fault_probability: f64,
    pub time_scale: f64,
    pub id_tags: Vec<String>,
    /// Hardware limit of one connector in W.
    pub max_power_w: f64,
    /// Whether the station starts transactions on its own (RFID drivers arriving).
    pub autonomous: bool,
}

impl StationParams {
    pub fn new(id: impl Into<String>, connectors: usize) -> StationParams {
        StationParams {
            id: id.into(),
            connectors,
            heartbeat_override: None,
            meter_interval: std::time::Duration::from_secs(60),
            transaction_interval: std::time::Duration::from_secs(1800),
            transaction_duration: std::time::Duration::from_secs(1800),
            fault_probability: 0.0,
            time_scale: 1.0,
            id_tags: default_id_tags(),
            max_power_w: 22_080.0,
            autonomous: true,
        }
    }
}

pub fn default_id_tags() -> Vec<String> {
    ["04A1B2C3D4E5F6", "04B7C8D9E0F1A2", "DEADBEEF01", "CAFEBABE02", "SIM-DRIVER-01", "SIM-DRIVER-02"]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

/// A CALL the station wants to send.
#[derive(Debug, Clone, PartialEq)]
pub struct OutCall {
    pub action: Action,
    pub payload: Value,
}

/// Work the runner has to do outside the state machine.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// GetDiagnostics: upload `body` to `location`; report through [`Station::diagnostics_status`].
    Upload {
        location: String,
        file_name: String,
        body: String,
        retries: u32,
        retry_interval_s: u64,
    },
    /// UpdateFirmware: download from `location` at `retrieve_date`; report through
    /// [`Station::firmware_status`] and finish with [`Station::firmware_installed`].
    DownloadFirmware {
        location: String,
        retrieve_date: DateTime<Utc>,
        retries: u32,
        retry_interval_s: u64,
        version: String,
    },
    /// Close the connection once the outbox is drained, call [`Station::reboot`], reconnect.
    Reset {
        hard: bool,
    },
    TransactionStarted,
    TransactionCompleted,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    pub code: &'static str,
    pub info: &'static str,
    pub vendor_error_code: &'static str,
    pub until: DateTime<Utc>,
}

/// Realistic faults: (errorCode, info, vendorErrorCode).
pub const FAULTS: &[(&str, &str, &str)] = &[
    ("GroundFailure", "Residual current device tripped (30 mA)", "E-GF-101"),
    ("HighTemperature", "Socket temperature 87 C above limit", "E-HT-212"),
    ("ConnectorLockFailure", "Lock motor did not reach end position", "E-LK-303"),
    ("OverCurrentFailure", "Over-current on L2: 41 A for 5 s", "E-OC-404"),
    ("PowerMeterFailure", "Energy meter not responding on Modbus", "E-PM-505"),
    ("PowerSwitchFailure", "Contactor feedback mismatch", "E-PS-606"),
    ("EVCommunicationError", "Control pilot state E detected", "E-EV-707"),
    ("ReaderFailure", "RFID reader not responding", "E-RF-808"),
    ("OverVoltage", "L1 voltage 262 V", "E-OV-909"),
    ("UnderVoltage", "L3 voltage 189 V", "E-UV-910"),
    ("InternalError", "Watchdog reset of the power module", "E-IN-911"),
];

#[derive(Debug, Clone, PartialEq)]
pub struct Reservation {
    pub id: i64,
    pub id_tag: String,
    pub parent_id_tag: Option<String>,
    pub expiry: DateTime<Utc>,
}

impl Reservation {
    /// Whether a driver with `id_tag` (and, once known, `parent`) may use the reservation.
    pub fn admits(&self, id_tag: &str, parent: Option<&str>) -> bool {
        self.id_tag.eq_ignore_ascii_case(id_tag)
            || matches!((&self.parent_id_tag, parent), (Some(p), Some(q)) if p.eq_ignore_ascii_case(q))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Authorize.req sent, waiting for the answer.
    Authorizing,
    /// StartTransaction.req queued or sent, waiting for the transaction id.
    Starting,
    /// Charging with a transaction id.
    Active,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub id_tag: String,
    pub phase: Phase,
    pub remote: bool,
    pub transaction_id: Option<i64>,
    pub reservation_id: Option<i64>,
    pub started: DateTime<Utc>,
    pub meter_start_wh: i64,
    pub stop_at: DateTime<Utc>,
    pub next_meter: DateTime<Utc>,
    /// What the car takes at most, in W.
    pub ev_max_w: f64,
    pub power_w: f64,
    pub last_update: DateTime<Utc>,
    /// A stop requested before the transaction id was known.
    pub stop_requested: Option<&'static str>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Connector {
    pub id: usize,
    pub operative: bool,
    /// A ChangeAvailability answered Scheduled, applied when the transaction ends.
    pub pending_operative: Option<bool>,
    pub fault: Option<Fault>,
    pub reservation: Option<Reservation>,
    pub session: Option<Session>,
    pub finishing_until: Option<DateTime<Utc>>,
    /// Last reported (status, errorCode).
    pub reported: Option<(&'static str, &'static str)>,
    pub meter_wh: f64,
    pub next_tx_at: DateTime<Utc>,
    pub next_fault_check: DateTime<Utc>,
}

impl Connector {
    /// The StatusNotification status derived from the state.
    pub fn status(&self) -> &'static str {
        if self.fault.is_some() {
            return "Faulted";
        }
        if let Some(s) = &self.session {
            match s.phase {
                Phase::Authorizing => {}
                Phase::Starting => return "Preparing",
                Phase::Active => return if s.power_w <= 0.0 { "SuspendedEVSE" } else { "Charging" },
            }
        }
        if self.finishing_until.is_some() {
            return "Finishing";
        }
        if !self.operative {
            return "Unavailable";
        }
        if self.id != 0 && self.reservation.is_some() {
            return "Reserved";
        }
        "Available"
    }

    pub fn error_code(&self) -> &'static str {
        self.fault.as_ref().map_or("NoError", |f| f.code)
    }

    /// Free for a new transaction by `id_tag`: operative, no fault, no session, no
    /// finishing, and no reservation for someone else.
    pub fn free_for(&self, id_tag: &str, parent: Option<&str>) -> bool {
        self.id != 0
            && self.operative
            && self.fault.is_none()
            && self.session.is_none()
            && self.finishing_until.is_none()
            && self.reservation.as_ref().is_none_or(|r| r.admits(id_tag, parent))
    }
}

pub struct Station {
    pub params: StationParams,
    pub rng: SmallRng,
    pub config: ConfigStore,
    pub local_list: LocalList,
    pub auth_cache: HashMap<String, Value>,
    pub profiles: ProfileStore,
    /// Index 0 is the charge point as a whole.
    pub connectors: Vec<Connector>,
    pub booted: bool,
    pub boot_retry_at: Option<DateTime<Utc>>,
    pub heartbeat_interval_s: i64,
    pub next_heartbeat: Option<DateTime<Utc>>,
    pub firmware_version: String,
    pub pending_firmware: Option<String>,
    pub firmware_state: &'static str,
    pub diagnostics_state: &'static str,
    pub resetting: bool,
    pub outbox: VecDeque<OutCall>,
    effects: Vec<Effect>,
}

fn resp_status(s: &str) -> Value {
    json!({ "status": s })
}

fn exp_sample(rng: &mut SmallRng, mean: std::time::Duration, time_scale: f64) -> Duration {
    let u: f64 = rng.gen_range(0.0..1.0);
    let secs = -mean.as_secs_f64() * (1.0 - u).ln();
    scaled(std::time::Duration::from_secs_f64(secs.clamp(0.0, 1e9)), time_scale)
}

impl Station {
    pub fn new(params: StationParams, seed: u64, now: DateTime<Utc>) -> Station {
        let mut rng = SmallRng::seed_from_u64(seed);
        let hb = params.heartbeat_override.map_or(300, |d| d.as_secs().max(1));
        let meter_s = params.meter_interval.as_secs().max(1);
        let config = ConfigStore::standard(params.connectors, hb, meter_s);
        let mut connectors = Vec::with_capacity(params.connectors + 1);
        for id in 0..=params.connectors {
            let next_tx_at = now + exp_sample(&mut rng, params.transaction_interval, params.time_scale);
            let meter_wh = if id == 0 { 0.0 } else { rng.gen_range(0..2_000_000) as f64 };
            connectors.push(Connector {
                id,
                operative: true,
                pending_operative: None,
                fault: None,
                reservation: None,
                session: None,
                finishing_until: None,
                reported: None,
                meter_wh,
                next_tx_at,
                next_fault_check: now + scaled(params.meter_interval, params.time_scale),
            });
        }
        Station {
            params,
            rng,
            config,
            local_list: LocalList::default(),
            auth_cache: HashMap::new(),
            profiles: ProfileStore::default(),
            connectors,
            booted: false,
            boot_retry_at: None,
            heartbeat_interval_s: hb as i64,
            next_heartbeat: None,
            firmware_version: INITIAL_FIRMWARE.to_string(),
            pending_firmware: None,
            firmware_state: "Idle",
            diagnostics_state: "Idle",
            resetting: false,
            outbox: VecDeque::new(),
            effects: Vec::new(),
        }
    }

    pub fn id(&self) -> &str {
        &self.params.id
    }

    pub fn take_effects(&mut self) -> Vec<Effect> {
        std::mem::take(&mut self.effects)
    }

    fn push(&mut self, action: Action, payload: Value) {
        self.outbox.push_back(OutCall { action, payload });
    }

    /// Transactions with a known id or about to get one.
    pub fn transactions_running(&self) -> usize {
        self.connectors.iter().filter(|c| c.session.as_ref().is_some_and(|s| s.phase != Phase::Authorizing)).count()
    }

    fn meter_interval(&self) -> Option<Duration> {
        let s = self.config.get_int("MeterValueSampleInterval").unwrap_or(60);
        // Unchanged by the central system: keep the configured (possibly sub-second) interval.
        let d = if s as u64 == self.params.meter_interval.as_secs().max(1) {
            self.params.meter_interval.max(std::time::Duration::from_millis(100))
        } else {
            std::time::Duration::from_secs(s.max(0) as u64)
        };
        (s > 0).then(|| scaled(d, self.params.time_scale))
    }

    // ----- connection lifecycle ---------------------------------------------------------

    /// A WebSocket connection is open: boot first.
    pub fn on_connected(&mut self, _now: DateTime<Utc>) {
        self.booted = false;
        self.boot_retry_at = None;
        self.outbox.retain(|c| c.action != Action::BootNotification);
        let boot = self.boot_payload();
        self.outbox.push_front(OutCall { action: Action::BootNotification, payload: boot });
    }

    /// The connection is gone. `pending` is the CALL that was waiting for its answer:
    /// transaction messages are kept to be sent again, the rest is dropped.
    pub fn on_disconnected(&mut self, pending: Option<OutCall>) {
        self.booted = false;
        let keep = |c: &OutCall| {
            matches!(c.action, Action::StartTransaction | Action::StopTransaction)
                || (c.action == Action::MeterValues && c.payload.get("transactionId").is_some())
        };
        self.outbox.retain(keep);
        if let Some(p) = pending.filter(keep) {
            self.outbox.push_front(p);
        }
        for c in &mut self.connectors {
            c.reported = None;
        }
    }

    /// After a Reset or a firmware installation: the station restarts.
    pub fn reboot(&mut self, now: DateTime<Utc>) {
        self.booted = false;
        self.resetting = false;
        if let Some(v) = self.pending_firmware.take() {
            self.firmware_version = v;
        }
        self.firmware_state = "Idle";
        self.diagnostics_state = "Idle";
        self.outbox.retain(|c| matches!(c.action, Action::StopTransaction));
        for i in 0..self.connectors.len() {
            let c = &mut self.connectors[i];
            c.session = None;
            c.finishing_until = None;
            c.fault = None;
            c.reported = None;
            c.reservation = None;
            if let Some(op) = c.pending_operative.take() {
                c.operative = op;
            }
            self.profiles.end_transaction(i);
        }
        let _ = now;
    }

    /// The next CALL to send, if any. Before the boot is accepted only BootNotification goes.
    pub fn next_call(&mut self, now: DateTime<Utc>) -> Option<OutCall> {
        if !self.booted {
            if self.boot_retry_at.is_some_and(|t| now < t) {
                return None;
            }
            let pos = self.outbox.iter().position(|c| c.action == Action::BootNotification)?;
            return self.outbox.remove(pos);
        }
        self.outbox.pop_front()
    }

    pub fn boot_payload(&self) -> Value {
        let id = &self.params.id;
        json!({
            "chargePointVendor": "Chargewatch",
            "chargePointModel": trunc(&format!("SimCharger-{}C", self.params.connectors), 20),
            "chargePointSerialNumber": trunc(id, 25),
            "chargeBoxSerialNumber": trunc(&format!("CB-{id}"), 25),
            "firmwareVersion": trunc(&self.firmware_version, 50),
            "meterType": "SimMeter AC3",
            "meterSerialNumber": trunc(&format!("M-{id}"), 25),
        })
    }

    // ----- answers to the station's own CALLs -------------------------------------------

    /// The CALLRESULT for `call` arrived.
    pub fn on_conf(&mut self, call: &OutCall, conf: &Value, now: DateTime<Utc>) {
        match call.action {
            Action::BootNotification => {
                let status = conf.get("status").and_then(Value::as_str).unwrap_or("Rejected");
                let interval = conf.get("interval").and_then(Value::as_i64).unwrap_or(0);
                if status == "Accepted" {
                    let was_booted = self.booted;
                    self.booted = true;
                    self.boot_retry_at = None;
                    if self.params.heartbeat_override.is_none() && interval > 0 {
                        self.heartbeat_interval_s = interval;
                        self.config.set_internal("HeartbeatInterval", &interval.to_string());
                    }
                    self.next_heartbeat = Some(now + Duration::seconds(self.heartbeat_interval_s.max(1)));
                    if !was_booted {
                        for c in &mut self.connectors {
                            c.reported = None;
                        }
                    }
                    self.sync_statuses(now);
                } else if !self.booted {
                    let wait = if interval > 0 { interval } else { 30 };
                    self.boot_retry_at = Some(now + Duration::seconds(wait));
                    let boot = self.boot_payload();
                    self.outbox.push_front(OutCall { action: Action::BootNotification, payload: boot });
                }
            }
            Action::Authorize => {
                let id_tag = call.payload.get("idTag").and_then(Value::as_str).unwrap_or_default().to_string();
                let info = conf.get("idTagInfo").cloned().unwrap_or(Value::Null);
                let accepted = info.get("status").and_then(Value::as_str) == Some("Accepted");
                if self.config.get_bool("AuthorizationCacheEnabled") && info.is_object() {
                    self.auth_cache.insert(id_tag.to_ascii_uppercase(), info.clone());
                }
                let parent = info.get("parentIdTag").and_then(Value::as_str);
                let idx = self.connectors.iter().position(|c| {
                    c.session.as_ref().is_some_and(|s| s.phase == Phase::Authorizing && s.id_tag == id_tag)
                });
                let Some(idx) = idx else { return };
                let admitted = self.connectors[idx].reservation.as_ref().is_none_or(|r| r.admits(&id_tag, parent));
                if accepted && admitted {
                    self.proceed_to_start(idx, now);
                } else {
                    self.connectors[idx].session = None;
                    self.sync_statuses(now);
                }
            }
            Action::StartTransaction => {
                let connector = call.payload.get("connectorId").and_then(Value::as_u64).unwrap_or(0) as usize;
                let tx_id = conf.get("transactionId").and_then(Value::as_i64);
                let status = conf.pointer("/idTagInfo/status").and_then(Value::as_str).unwrap_or("Invalid");
                let Some(c) = self.connectors.get_mut(connector) else { return };
                let Some(s) = c.session.as_mut().filter(|s| s.phase == Phase::Starting) else { return };
                let Some(tx_id) = tx_id else { return };
                s.phase = Phase::Active;
                s.transaction_id = Some(tx_id);
                s.last_update = now;
                for p in &mut self.profiles.profiles {
                    if p.purpose == Purpose::TxProfile && p.connector_id == connector && p.transaction_id.is_none() {
                        p.transaction_id = Some(tx_id);
                    }
                }
                self.effects.push(Effect::TransactionStarted);
                self.update_power(connector, now);
                let stop = self.connectors[connector].session.as_ref().and_then(|s| s.stop_requested);
                if let Some(reason) = stop {
                    self.stop_session(connector, reason, now);
                } else if status != "Accepted" && self.config.get_bool("StopTransactionOnInvalidId") {
                    self.stop_session(connector, "DeAuthorized", now);
                } else {
                    self.sync_statuses(now);
                }
            }
            _ => {}
        }
    }

    /// A CALLERROR (or a timeout, `code` = None) answered `call`.
    pub fn on_call_error(&mut self, call: &OutCall, _code: Option<&str>, now: DateTime<Utc>) {
        match call.action {
            Action::BootNotification if !self.booted => {
                self.boot_retry_at = Some(now + Duration::seconds(30));
                self.outbox.push_front(call.clone());
            }
            Action::Authorize => {
                let tag = call.payload.get("idTag").and_then(Value::as_str).unwrap_or_default();
                for c in &mut self.connectors {
                    if c.session.as_ref().is_some_and(|s| s.phase == Phase::Authorizing && s.id_tag == tag) {
                        c.session = None;
                    }
                }
                self.sync_statuses(now);
            }
            Action::StartTransaction => {
                let connector = call.payload.get("connectorId").and_then(Value::as_u64).unwrap_or(0) as usize;
                if let Some(c) = self.connectors.get_mut(connector) {
                    if c.session.as_ref().is_some_and(|s| s.phase == Phase::Starting) {
                        c.session = None;
                        self.profiles.end_transaction(connector);
                        self.apply_pending_availability(connector);
                        self.sync_statuses(now);
                    }
                }
            }
            _ => {}
        }
    }

    // ----- the passage of time ----------------------------------------------------------

    /// Advances timers: heartbeat, meter values, transactions, faults, reservations.
    pub fn tick(&mut self, now: DateTime<Utc>) {
        if !self.booted {
            return;
        }
        if self.heartbeat_interval_s > 0 && self.next_heartbeat.is_some_and(|t| now >= t) {
            if !self.outbox.iter().any(|c| c.action == Action::Heartbeat) {
                self.push(Action::Heartbeat, json!({}));
            }
            self.next_heartbeat = Some(now + Duration::seconds(self.heartbeat_interval_s));
        }
        let meter_every = self.meter_interval();
        let status_tick = scaled(self.params.meter_interval, self.params.time_scale);
        for i in 1..self.connectors.len() {
            self.update_power(i, now);
            let c = &mut self.connectors[i];
            if c.reservation.as_ref().is_some_and(|r| now >= r.expiry) {
                c.reservation = None;
            }
            if c.fault.as_ref().is_some_and(|f| now >= f.until) {
                c.fault = None;
            }
            if c.finishing_until.is_some_and(|t| now >= t) {
                c.finishing_until = None;
            }
            if let Some(s) = c.session.as_mut().filter(|s| s.phase == Phase::Active) {
                if let Some(every) = meter_every {
                    if now >= s.next_meter {
                        s.next_meter = now + every;
                        let mv = self.meter_values(i, "Sample.Periodic", now);
                        self.push(Action::MeterValues, mv);
                    }
                }
                let c = &self.connectors[i];
                if c.session.as_ref().is_some_and(|s| now >= s.stop_at) {
                    let reason = if self.rng.gen_bool(0.5) { "EVDisconnected" } else { "Local" };
                    self.stop_session(i, reason, now);
                }
            }
            if self.params.autonomous && !self.resetting {
                self.maybe_fault(i, now, status_tick);
                self.maybe_start(i, now);
            }
        }
        self.sync_statuses(now);
    }

    fn maybe_fault(&mut self, i: usize, now: DateTime<Utc>, status_tick: Duration) {
        if now < self.connectors[i].next_fault_check {
            return;
        }
        self.connectors[i].next_fault_check = now + status_tick;
        let c = &self.connectors[i];
        let idle = c.fault.is_none() && c.session.is_none() && c.finishing_until.is_none() && c.operative;
        if idle && self.params.fault_probability > 0.0 && self.rng.gen_bool(self.params.fault_probability.min(1.0)) {
            let (code, info, vendor) = FAULTS[self.rng.gen_range(0..FAULTS.len())];
            let ticks = self.rng.gen_range(2..10);
            let until = now + status_tick * ticks;
            self.connectors[i].fault = Some(Fault { code, info, vendor_error_code: vendor, until });
        }
    }

    fn maybe_start(&mut self, i: usize, now: DateTime<Utc>) {
        if now < self.connectors[i].next_tx_at {
            return;
        }
        let next = now + exp_sample(&mut self.rng, self.params.transaction_interval, self.params.time_scale);
        self.connectors[i].next_tx_at = next;
        if self.params.id_tags.is_empty() {
            return;
        }
        let tag = match &self.connectors[i].reservation {
            // The driver who reserved arrives now and then; others are turned away.
            Some(r) => {
                if self.rng.gen_bool(0.5) {
                    r.id_tag.clone()
                } else {
                    return;
                }
            }
            None => self.params.id_tags[self.rng.gen_range(0..self.params.id_tags.len())].clone(),
        };
        let tag = trunc(&tag, 20);
        if self.connectors[i].free_for(&tag, None) {
            self.begin_session(i, &tag, false, now);
        }
    }

    /// Recomputes the power of a session and integrates the energy since the last update.
    fn update_power(&mut self, i: usize, now: DateTime<Utc>) {
        let limit = self.limit_w(i, now);
        let time_scale = self.params.time_scale.max(0.0);
        let max = self.params.max_power_w;
        let jitter = self.rng.gen_range(0.97..1.0);
        let c = &mut self.connectors[i];
        let Some(s) = c.session.as_mut() else { return };
        if s.phase != Phase::Active {
            s.last_update = now;
            return;
        }
        let dt_h = ((now - s.last_update).num_milliseconds().max(0) as f64 / 3_600_000.0) * time_scale;
        c.meter_wh += s.power_w * dt_h;
        s.last_update = now;
        s.power_w = (s.ev_max_w * jitter).min(max).min(limit.unwrap_or(f64::MAX)).max(0.0);
    }

    /// The charging limit (W) for connector `i` now, from the installed profiles.
    pub fn limit_w(&self, i: usize, now: DateTime<Utc>) -> Option<f64> {
        let s = self.connectors.get(i)?.session.as_ref();
        let tx = TxContext { transaction_id: s.and_then(|s| s.transaction_id), started: s.map(|s| s.started) };
        self.profiles.limit_w(i, now, tx)
    }

    // ----- transactions -----------------------------------------------------------------

    /// Whether a transaction for `id_tag` may start on connector `i`; returns the
    /// reservation id it uses. Reserved connectors admit only the reserving idTag
    /// (or its parent).
    pub fn may_start(&self, i: usize, id_tag: &str, parent: Option<&str>) -> Result<Option<i64>, &'static str> {
        let c = self.connectors.get(i).ok_or("no such connector")?;
        if !c.free_for(id_tag, parent) {
            return Err(if c.reservation.is_some() { "reserved for another idTag" } else { "connector not free" });
        }
        Ok(c.reservation.as_ref().map(|r| r.id))
    }

    /// A driver presents `id_tag` (RFID) or the central system started remotely.
    pub fn begin_session(&mut self, i: usize, id_tag: &str, remote: bool, now: DateTime<Utc>) {
        let duration = exp_sample(&mut self.rng, self.params.transaction_duration, self.params.time_scale)
            .max(scaled(self.params.transaction_duration, self.params.time_scale) / 4);
        let ev_max_w = [3_680.0, 7_360.0, 11_040.0, 22_080.0][self.rng.gen_range(0..4)];
        self.connectors[i].session = Some(Session {
            id_tag: id_tag.to_string(),
            phase: Phase::Authorizing,
            remote,
            transaction_id: None,
            reservation_id: None,
            started: now,
            meter_start_wh: 0,
            stop_at: now + duration,
            next_meter: now,
            ev_max_w,
            power_w: 0.0,
            last_update: now,
            stop_requested: None,
        });
        let locally_known = self.local_list.get(id_tag).or_else(|| self.auth_cache.get(&id_tag.to_ascii_uppercase()));
        let pre_authorized = self.config.get_bool("LocalPreAuthorize")
            && locally_known.and_then(|i| i.get("status")).and_then(Value::as_str) == Some("Accepted");
        let skip = (remote && !self.config.get_bool("AuthorizeRemoteTxRequests")) || pre_authorized;
        if skip {
            self.proceed_to_start(i, now);
        } else {
            self.push(Action::Authorize, json!({ "idTag": id_tag }));
        }
    }

    /// Authorized: Preparing, then StartTransaction.
    fn proceed_to_start(&mut self, i: usize, now: DateTime<Utc>) {
        let meter = self.connectors[i].meter_wh.round() as i64;
        let reservation_id = self.connectors[i].reservation.take().map(|r| r.id);
        let every = self.meter_interval().unwrap_or(Duration::seconds(60));
        let Some(s) = self.connectors[i].session.as_mut() else { return };
        s.phase = Phase::Starting;
        s.meter_start_wh = meter;
        s.reservation_id = reservation_id;
        s.started = now;
        s.next_meter = now + every;
        s.stop_at = now + (s.stop_at - s.last_update);
        s.last_update = now;
        let mut payload = json!({
            "connectorId": i,
            "idTag": s.id_tag,
            "meterStart": meter,
            "timestamp": ts(now),
        });
        if let Some(r) = reservation_id {
            payload["reservationId"] = json!(r);
        }
        self.sync_statuses(now);
        self.push(Action::StartTransaction, payload);
    }

    /// Ends the session on connector `i`: StopTransaction, then Finishing, then Available.
    pub fn stop_session(&mut self, i: usize, reason: &'static str, now: DateTime<Utc>) {
        self.update_power(i, now);
        let Some(s) = self.connectors[i].session.as_mut() else { return };
        match s.phase {
            Phase::Authorizing => {
                self.connectors[i].session = None;
            }
            Phase::Starting => {
                s.stop_requested = Some(reason);
                return;
            }
            Phase::Active => {
                let s = self.connectors[i].session.take().expect("checked");
                let meter_stop = (self.connectors[i].meter_wh.round() as i64).max(s.meter_start_wh);
                let energy = |v: i64, ctx: &str, t: DateTime<Utc>| {
                    json!({"timestamp": ts(t), "sampledValue": [{
                        "value": v.to_string(), "context": ctx, "format": "Raw",
                        "measurand": "Energy.Active.Import.Register", "location": "Outlet", "unit": "Wh"
                    }]})
                };
                let payload = json!({
                    "idTag": s.id_tag,
                    "meterStop": meter_stop,
                    "timestamp": ts(now),
                    "transactionId": s.transaction_id.unwrap_or(0),
                    "reason": reason,
                    "transactionData": [
                        energy(s.meter_start_wh, "Transaction.Begin", s.started),
                        energy(meter_stop, "Transaction.End", now),
                    ],
                });
                self.push(Action::StopTransaction, payload);
                let finish =
                    scaled(std::time::Duration::from_secs(self.rng.gen_range(20..120)), self.params.time_scale);
                self.connectors[i].finishing_until = Some(now + finish);
                self.effects.push(Effect::TransactionCompleted);
            }
        }
        self.profiles.end_transaction(i);
        self.apply_pending_availability(i);
        self.sync_statuses(now);
    }

    fn apply_pending_availability(&mut self, i: usize) {
        if let Some(op) = self.connectors[i].pending_operative.take() {
            self.connectors[i].operative = op;
        }
        // Connector 0's scheduled change applies once no connector has a session.
        if self.connectors.iter().all(|c| c.session.is_none()) {
            if let Some(op) = self.connectors[0].pending_operative.take() {
                self.connectors[0].operative = op;
            }
        }
    }

    /// Stops every transaction (Reset, reboot, shutdown).
    pub fn stop_all(&mut self, reason: &'static str, now: DateTime<Utc>) {
        for i in 1..self.connectors.len() {
            if self.connectors[i].session.is_some() {
                self.stop_session(i, reason, now);
            }
        }
    }

    // ----- messages ---------------------------------------------------------------------

    /// A MeterValues.req payload for connector `i`.
    pub fn meter_values(&mut self, i: usize, context: &str, now: DateTime<Utc>) -> Value {
        let voltage = 230.0 + self.rng.gen_range(-4.0..4.0);
        let c = &self.connectors[i];
        let power = c.session.as_ref().filter(|s| s.phase == Phase::Active).map_or(0.0, |s| s.power_w);
        let current = power / (voltage * DEFAULT_PHASES as f64);
        let wanted = self.config.get("MeterValuesSampledData").unwrap_or_default().to_string();
        let mut measurands: Vec<&str> =
            wanted.split(',').map(str::trim).filter(|m| SUPPORTED_MEASURANDS.contains(m)).collect();
        if measurands.is_empty() {
            measurands = vec!["Energy.Active.Import.Register"];
        }
        let sampled: Vec<Value> = measurands
            .iter()
            .map(|m| {
                let (value, unit) = match *m {
                    "Energy.Active.Import.Register" => (format!("{}", c.meter_wh.round() as i64), "Wh"),
                    "Power.Active.Import" => (format!("{power:.1}"), "W"),
                    "Current.Import" => (format!("{current:.2}"), "A"),
                    _ => (format!("{voltage:.1}"), "V"),
                };
                json!({"value": value, "context": context, "format": "Raw", "measurand": m, "location": "Outlet", "unit": unit})
            })
            .collect();
        let mut p = json!({
            "connectorId": i,
            "meterValue": [{"timestamp": ts(now), "sampledValue": sampled}],
        });
        if let Some(tx) = c.session.as_ref().and_then(|s| s.transaction_id) {
            p["transactionId"] = json!(tx);
        }
        p
    }

    fn status_payload(&self, i: usize, now: DateTime<Utc>) -> Value {
        let c = &self.connectors[i];
        let mut p = json!({
            "connectorId": i,
            "errorCode": c.error_code(),
            "status": c.status(),
            "timestamp": ts(now),
        });
        if let Some(f) = &c.fault {
            p["info"] = json!(trunc(f.info, 50));
            p["vendorId"] = json!("Chargewatch");
            p["vendorErrorCode"] = json!(f.vendor_error_code);
        }
        p
    }

    /// Queues a StatusNotification for every connector whose status changed since it was
    /// last reported (only once booted).
    pub fn sync_statuses(&mut self, now: DateTime<Utc>) {
        if !self.booted {
            return;
        }
        for i in 0..self.connectors.len() {
            let cur = (self.connectors[i].status(), self.connectors[i].error_code());
            if self.connectors[i].reported != Some(cur) {
                self.connectors[i].reported = Some(cur);
                let p = self.status_payload(i, now);
                self.push(Action::StatusNotification, p);
            }
        }
    }

    // ----- background work reports ------------------------------------------------------

    pub fn diagnostics_status(&mut self, status: &'static str) {
        self.diagnostics_state = if status == "Uploading" { "Uploading" } else { "Idle" };
        self.push(Action::DiagnosticsStatusNotification, json!({ "status": status }));
    }

    pub fn firmware_status(&mut self, status: &'static str) {
        self.firmware_state = status;
        self.push(Action::FirmwareStatusNotification, json!({ "status": status }));
    }

    /// The new firmware is installed: stop transactions and restart with `version`.
    pub fn firmware_installed(&mut self, version: String, now: DateTime<Utc>) {
        self.pending_firmware = Some(version);
        self.resetting = true;
        self.stop_all("Reboot", now);
        self.effects.push(Effect::Reset { hard: true });
    }

    fn diagnostics_text(&self, now: DateTime<Utc>) -> String {
        let mut s = format!(
            "chargewatch-sim diagnostics\nstation: {}\nfirmware: {}\ngenerated: {}\n",
            self.params.id,
            self.firmware_version,
            ts(now)
        );
        for c in &self.connectors {
            s.push_str(&format!(
                "connector {}: status={} errorCode={} meter={}Wh\n",
                c.id,
                c.status(),
                c.error_code(),
                c.meter_wh.round()
            ));
        }
        s.push_str(&format!(
            "localListVersion: {}\nprofiles: {}\n",
            self.local_list.version,
            self.profiles.profiles.len()
        ));
        s
    }

    // ----- central-system CALLs ---------------------------------------------------------

    /// Answers a central-system CALL: the CALLRESULT payload or the CALLERROR. Follow-up
    /// CALLs go to the outbox (sent after the answer), I/O to [`Station::take_effects`].
    pub fn handle_call(&mut self, action: &str, p: &Value, now: DateTime<Utc>) -> Result<Value, CallErr> {
        let Ok(action) = Action::from_str(action) else {
            return Err(CallErr::new(ErrorCode::NotImplemented, format!("unknown action {action}")));
        };
        if !action.sent_by_central_system() {
            return Err(CallErr::new(ErrorCode::NotSupported, format!("{action} is not sent to a charge point")));
        }
        if !p.is_object() {
            return Err(CallErr::new(ErrorCode::FormationViolation, "payload is not an object"));
        }
        let n = self.params.connectors as i64;
        match action {
            Action::ChangeAvailability => {
                let c = req_int(p, "connectorId")?;
                let op = req_enum(p, "type", &["Inoperative", "Operative"])? == "Operative";
                if c < 0 || c > n {
                    return Ok(resp_status("Rejected"));
                }
                let targets: Vec<usize> = if c == 0 { (0..=n as usize).collect() } else { vec![c as usize] };
                let mut scheduled = false;
                for t in targets.iter().copied() {
                    let busy = if t == 0 {
                        self.connectors.iter().any(|c| c.session.is_some())
                    } else {
                        self.connectors[t].session.is_some()
                    };
                    if busy && self.connectors[t].operative != op {
                        self.connectors[t].pending_operative = Some(op);
                        scheduled = true;
                    } else {
                        self.connectors[t].operative = op;
                        self.connectors[t].pending_operative = None;
                    }
                }
                self.sync_statuses(now);
                Ok(resp_status(if scheduled { "Scheduled" } else { "Accepted" }))
            }
            Action::ChangeConfiguration => {
                let key = req_str(p, "key")?;
                let value = req_str(p, "value")?;
                let r = self.config.change(key, value);
                if r == ChangeResult::Accepted {
                    if key.eq_ignore_ascii_case("HeartbeatInterval") {
                        self.heartbeat_interval_s = self.config.get_int("HeartbeatInterval").unwrap_or(0);
                        self.next_heartbeat =
                            (self.heartbeat_interval_s > 0).then(|| now + Duration::seconds(self.heartbeat_interval_s));
                    }
                    if key.eq_ignore_ascii_case("AuthorizationCacheEnabled")
                        && !self.config.get_bool("AuthorizationCacheEnabled")
                    {
                        self.auth_cache.clear();
                    }
                }
                Ok(resp_status(r.as_str()))
            }
            Action::GetConfiguration => {
                let keys: Option<Vec<String>> = match p.get("key") {
                    None | Some(Value::Null) => None,
                    Some(Value::Array(a)) => Some(
                        a.iter()
                            .map(|k| {
                                k.as_str().map(str::to_string).ok_or_else(|| {
                                    CallErr::new(ErrorCode::TypeConstraintViolation, "key items must be strings")
                                })
                            })
                            .collect::<Result<_, _>>()?,
                    ),
                    Some(_) => return Err(CallErr::new(ErrorCode::TypeConstraintViolation, "key must be an array")),
                };
                Ok(self.config.get_configuration(keys.as_deref()))
            }
            Action::ClearCache => {
                self.auth_cache.clear();
                Ok(resp_status("Accepted"))
            }
            Action::DataTransfer => {
                let vendor = req_str(p, "vendorId")?;
                let message_id = opt_str(p, "messageId")?;
                if vendor != VENDOR_ID {
                    return Ok(resp_status("UnknownVendorId"));
                }
                match message_id {
                    None | Some("echo") => {
                        let mut r = json!({"status": "Accepted"});
                        if let Some(d) = p.get("data").and_then(Value::as_str) {
                            r["data"] = json!(d);
                        }
                        Ok(r)
                    }
                    Some("status") => Ok(json!({"status": "Accepted", "data": self.diagnostics_text(now)})),
                    Some(_) => Ok(resp_status("UnknownMessageId")),
                }
            }
            Action::RemoteStartTransaction => {
                let id_tag = req_str(p, "idTag")?;
                if id_tag.chars().count() > 20 {
                    return Err(CallErr::new(
                        ErrorCode::PropertyConstraintViolation,
                        "idTag longer than 20 characters",
                    ));
                }
                let connector = opt_int(p, "connectorId")?;
                let profile = match p.get("chargingProfile") {
                    None | Some(Value::Null) => None,
                    Some(v) => Some(v),
                };
                if self.resetting {
                    return Ok(resp_status("Rejected"));
                }
                let idx = match connector {
                    Some(c) if c >= 1 && c <= n => {
                        Some(c as usize).filter(|&c| self.connectors[c].free_for(id_tag, None))
                    }
                    Some(_) => None,
                    None => (1..=n as usize).find(|&c| self.connectors[c].free_for(id_tag, None)),
                };
                let Some(idx) = idx else { return Ok(resp_status("Rejected")) };
                if let Some(v) = profile {
                    let prof = ChargingProfile::parse(idx, v)?;
                    if prof.purpose != Purpose::TxProfile {
                        return Ok(resp_status("Rejected"));
                    }
                    self.profiles.set(prof);
                }
                self.begin_session(idx, id_tag, true, now);
                Ok(resp_status("Accepted"))
            }
            Action::RemoteStopTransaction => {
                let tx = req_int(p, "transactionId")?;
                let idx = self
                    .connectors
                    .iter()
                    .position(|c| c.session.as_ref().is_some_and(|s| s.transaction_id == Some(tx)));
                match idx {
                    Some(i) => {
                        self.stop_session(i, "Remote", now);
                        Ok(resp_status("Accepted"))
                    }
                    None => Ok(resp_status("Rejected")),
                }
            }
            Action::Reset => {
                let hard = req_enum(p, "type", &["Hard", "Soft"])? == "Hard";
                self.resetting = true;
                self.stop_all(if hard { "HardReset" } else { "SoftReset" }, now);
                self.effects.push(Effect::Reset { hard });
                Ok(resp_status("Accepted"))
            }
            Action::UnlockConnector => {
                let c = req_int(p, "connectorId")?;
                if c < 1 || c > n {
                    return Ok(resp_status("NotSupported"));
                }
                let i = c as usize;
                if self.connectors[i].session.is_some() {
                    self.stop_session(i, "UnlockCommand", now);
                }
                Ok(resp_status("Unlocked"))
            }
            Action::GetDiagnostics => {
                let location = req_str(p, "location")?.to_string();
                let retries = opt_int(p, "retries")?.unwrap_or(1).clamp(0, 5) as u32;
                let retry_interval_s = opt_int(p, "retryInterval")?.unwrap_or(10).clamp(0, 3600) as u64;
                opt_time(p, "startTime")?;
                opt_time(p, "stopTime")?;
                let file_name = format!("{}-diagnostics-{}.txt", self.params.id, now.format("%Y%m%dT%H%M%SZ"));
                let file_name = trunc(&file_name, 255);
                let body = self.diagnostics_text(now);
                self.effects.push(Effect::Upload {
                    location,
                    file_name: file_name.clone(),
                    body,
                    retries,
                    retry_interval_s,
                });
                Ok(json!({ "fileName": file_name }))
            }
            Action::UpdateFirmware => {
                let location = req_str(p, "location")?.to_string();
                let retrieve_date = req_time(p, "retrieveDate")?;
                let retries = opt_int(p, "retries")?.unwrap_or(1).clamp(0, 5) as u32;
                let retry_interval_s = opt_int(p, "retryInterval")?.unwrap_or(10).clamp(0, 3600) as u64;
                let version = firmware_version_from(&location, &self.firmware_version);
                self.effects.push(Effect::DownloadFirmware {
                    location,
                    retrieve_date,
                    retries,
                    retry_interval_s,
                    version,
                });
                Ok(json!({}))
            }
            Action::GetLocalListVersion => {
                let v = if self.config.get_bool("LocalAuthListEnabled") { self.local_list.version } else { -1 };
                Ok(json!({ "listVersion": v }))
            }
            Action::SendLocalList => {
                let version = req_int(p, "listVersion")?;
                let full = req_enum(p, "updateType", &["Differential", "Full"])? == "Full";
                if !self.config.get_bool("LocalAuthListEnabled") {
                    return Ok(resp_status("NotSupported"));
                }
                let entries = LocalList::parse_entries(p.get("localAuthorizationList"))
                    .map_err(|e| CallErr::new(ErrorCode::FormationViolation, e))?;
                let max_len = self.config.get_int("LocalAuthListMaxLength").unwrap_or(1000).max(0) as usize;
                let max_send = self.config.get_int("SendLocalListMaxLength").unwrap_or(100).max(0) as usize;
                Ok(resp_status(self.local_list.apply(version, full, &entries, max_len, max_send).as_str()))
            }
            Action::ReserveNow => {
                let c = req_int(p, "connectorId")?;
                let expiry = req_time(p, "expiryDate")?;
                let id_tag = req_str(p, "idTag")?.to_string();
                let parent = opt_str(p, "parentIdTag")?.map(str::to_string);
                let reservation_id = req_int(p, "reservationId")?;
                Ok(resp_status(self.reserve(c, expiry, id_tag, parent, reservation_id, now)))
            }
            Action::CancelReservation => {
                let id = req_int(p, "reservationId")?;
                let mut found = false;
                for c in &mut self.connectors {
                    if c.reservation.as_ref().is_some_and(|r| r.id == id) {
                        c.reservation = None;
                        found = true;
                    }
                }
                self.sync_statuses(now);
                Ok(resp_status(if found { "Accepted" } else { "Rejected" }))
            }
            Action::SetChargingProfile => {
                let c = req_int(p, "connectorId")?;
                let v = p.get("csChargingProfiles").ok_or_else(|| {
                    CallErr::new(ErrorCode::OccurenceConstraintViolation, "csChargingProfiles is missing")
                })?;
                if c < 0 || c > n {
                    return Ok(resp_status("Rejected"));
                }
                let prof = ChargingProfile::parse(c as usize, v)?;
                let status = self.set_profile(prof);
                for i in 1..self.connectors.len() {
                    self.update_power(i, now);
                }
                self.sync_statuses(now);
                Ok(resp_status(status))
            }
            Action::ClearChargingProfile => {
                let id = opt_int(p, "id")?;
                let c = opt_int(p, "connectorId")?;
                let purpose = opt_enum(p, "chargingProfilePurpose", Purpose::NAMES)?.and_then(Purpose::parse);
                let stack = opt_int(p, "stackLevel")?;
                let cleared = self.profiles.clear(id, c.map(|c| c.max(0) as usize), purpose, stack);
                for i in 1..self.connectors.len() {
                    self.update_power(i, now);
                }
                self.sync_statuses(now);
                Ok(resp_status(if cleared { "Accepted" } else { "Unknown" }))
            }
            Action::GetCompositeSchedule => {
                let c = req_int(p, "connectorId")?;
                let duration = req_int(p, "duration")?;
                let unit = opt_enum(p, "chargingRateUnit", &["A", "W"])?.and_then(Unit::parse).unwrap_or(Unit::W);
                if c < 0 || c > n || duration < 0 {
                    return Ok(resp_status("Rejected"));
                }
                Ok(self.composite_schedule(c as usize, duration, unit, now))
            }
            Action::TriggerMessage => {
                let msg = req_enum(
                    p,
                    "requestedMessage",
                    &[
                        "BootNotification",
                        "DiagnosticsStatusNotification",
                        "FirmwareStatusNotification",
                        "Heartbeat",
                        "MeterValues",
                        "StatusNotification",
                    ],
                )?;
                let c = opt_int(p, "connectorId")?;
                if c.is_some_and(|c| c < 0 || c > n) {
                    return Ok(resp_status("Rejected"));
                }
                self.trigger(msg, c.map(|c| c as usize), now);
                Ok(resp_status("Accepted"))
            }
            _ => Err(CallErr::new(ErrorCode::NotImplemented, format!("{action} is not implemented"))),
        }
    }

    /// ReserveNow: the status of ReserveNow.conf.
    pub fn reserve(
        &mut self,
        c: i64,
        expiry: DateTime<Utc>,
        id_tag: String,
        parent: Option<String>,
        reservation_id: i64,
        now: DateTime<Utc>,
    ) -> &'static str {
        if c < 0 || c > self.params.connectors as i64 || expiry <= now {
            return "Rejected";
        }
        if c == 0 && !self.config.get_bool("ReserveConnectorZeroSupported") {
            return "Rejected";
        }
        let i = c as usize;
        // A reservation with the same id is replaced.
        let replaced =
            self.connectors.iter().position(|c| c.reservation.as_ref().is_some_and(|r| r.id == reservation_id));
        let conn = &self.connectors[i];
        let status = if conn.fault.is_some() {
            "Faulted"
        } else if !conn.operative {
            "Unavailable"
        } else if conn.session.is_some()
            || conn.finishing_until.is_some()
            || conn.reservation.as_ref().is_some_and(|r| r.id != reservation_id)
        {
            "Occupied"
        } else {
            "Accepted"
        };
        if status == "Accepted" {
            if let Some(j) = replaced {
                self.connectors[j].reservation = None;
            }
            self.connectors[i].reservation =
                Some(Reservation { id: reservation_id, id_tag: trunc(&id_tag, 20), parent_id_tag: parent, expiry });
            self.sync_statuses(now);
        }
        status
    }

    /// SetChargingProfile rules; the status of SetChargingProfile.conf.
    pub fn set_profile(&mut self, prof: ChargingProfile) -> &'static str {
        let c = prof.connector_id;
        let max_stack = self.config.get_int("ChargeProfileMaxStackLevel").unwrap_or(10);
        let max_periods = self.config.get_int("ChargingScheduleMaxPeriods").unwrap_or(24) as usize;
        let max_installed = self.config.get_int("MaxChargingProfilesInstalled").unwrap_or(20) as usize;
        if prof.stack_level > max_stack || prof.periods.len() > max_periods {
            return "Rejected";
        }
        match prof.purpose {
            Purpose::ChargePointMaxProfile if c != 0 => return "Rejected",
            Purpose::TxProfile => {
                let tx =
                    self.connectors.get(c).and_then(|c| c.session.as_ref()).filter(|s| s.phase != Phase::Authorizing);
                match tx {
                    None => return "Rejected",
                    Some(s) => {
                        if prof.transaction_id.is_some()
                            && s.transaction_id.is_some()
                            && prof.transaction_id != s.transaction_id
                        {
                            return "Rejected";
                        }
                    }
                }
            }
            _ => {}
        }
        if self.profiles.count_after_set(&prof) > max_installed {
            return "Rejected";
        }
        self.profiles.set(prof);
        "Accepted"
    }

    /// GetCompositeSchedule.conf for connector `c`.
    pub fn composite_schedule(&self, c: usize, duration: i64, unit: Unit, now: DateTime<Utc>) -> Value {
        let s = self.connectors[c].session.as_ref();
        let tx = TxContext { transaction_id: s.and_then(|s| s.transaction_id), started: s.map(|s| s.started) };
        let max_w =
            if c == 0 { self.params.max_power_w * self.params.connectors as f64 } else { self.params.max_power_w };
        let periods = self.profiles.composite(c, now, duration, unit, tx, max_w, DEFAULT_PHASES);
        let periods: Vec<Value> =
            periods.into_iter().map(|(start, limit)| json!({"startPeriod": start, "limit": limit.round()})).collect();
        json!({
            "status": "Accepted",
            "connectorId": c,
            "scheduleStart": ts(now),
            "chargingSchedule": {
                "duration": duration,
                "startSchedule": ts(now),
                "chargingRateUnit": unit.as_str(),
                "chargingSchedulePeriod": periods,
            }
        })
    }

    fn trigger(&mut self, msg: &str, c: Option<usize>, now: DateTime<Utc>) {
        match msg {
            "BootNotification" => {
                let b = self.boot_payload();
                self.push(Action::BootNotification, b);
            }
            "Heartbeat" => self.push(Action::Heartbeat, json!({})),
            "DiagnosticsStatusNotification" => {
                let s = self.diagnostics_state;
                self.push(Action::DiagnosticsStatusNotification, json!({ "status": s }));
            }
            "FirmwareStatusNotification" => {
                // Only in-progress states are reported; a finished update reads Idle.
                let s = match self.firmware_state {
                    s @ ("Downloading" | "Downloaded" | "Installing") => s,
                    _ => "Idle",
                };
                self.push(Action::FirmwareStatusNotification, json!({ "status": s }));
            }
            "MeterValues" => {
                let targets: Vec<usize> = match c {
                    Some(c) if c > 0 => vec![c],
                    _ => (1..self.connectors.len()).collect(),
                };
                for i in targets {
                    self.update_power(i, now);
                    let mv = self.meter_values(i, "Trigger", now);
                    self.push(Action::MeterValues, mv);
                }
            }
            _ => {
                let targets: Vec<usize> = match c {
                    Some(c) => vec![c],
                    None => (0..self.connectors.len()).collect(),
                };
                for i in targets {
                    let cur = (self.connectors[i].status(), self.connectors[i].error_code());
                    self.connectors[i].reported = Some(cur);
                    let p = self.status_payload(i, now);
                    self.push(Action::StatusNotification, p);
                }
            }
        }
    }

    /// Begins a graceful shutdown: stop transactions (reason Local).
    pub fn begin_shutdown(&mut self, now: DateTime<Utc>) {
        self.resetting = true;
        self.stop_all("Local", now);
        self.outbox.retain(|c| {
            matches!(c.action, Action::StopTransaction | Action::StartTransaction | Action::StatusNotification)
        });
    }

    /// Current power in W of connector `i` (0 when idle).
    pub fn power_w(&self, i: usize) -> f64 {
        self.connectors
            .get(i)
            .and_then(|c| c.session.as_ref())
            .filter(|s| s.phase == Phase::Active)
            .map_or(0.0, |s| s.power_w)
    }
}

/// Derives the new firmware version from the download location: its last path segment
/// without extensions, else the current version with a bumped last number.
pub fn firmware_version_from(location: &str, current: &str) -> String {
    let path = location.split(['?', '#']).next().unwrap_or_default();
    let seg = path.rsplit('/').next().unwrap_or_default();
    let mut name = seg.to_string();
    for ext in [".tar.gz", ".tgz", ".zip", ".bin", ".img", ".hex", ".fw", ".txt"] {
        if let Some(s) = name.strip_suffix(ext) {
            name = s.to_string();
            break;
        }
    }
    if !name.is_empty() && !name.contains("://") && name.chars().count() <= 50 && path.contains('/') {
        return name;
    }
    let mut parts: Vec<String> = current.split('.').map(str::to_string).collect();
    match parts.last_mut().and_then(|l| l.parse::<u64>().ok().map(|n| (n, l))) {
        Some((n, l)) => *l = (n + 1).to_string(),
        None => parts.push("1".into()),
    }
    trunc(&parts.join("."), 50)
}

/// The limit of a profile in A for the simulated voltage (helper for tests and reports).
pub fn watts_to_amps(w: f64) -> f64 {
    w / (VOLTAGE * DEFAULT_PHASES as f64)
}
