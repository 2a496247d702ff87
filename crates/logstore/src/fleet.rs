//! A deterministic generator of realistic OCPP log records: a fleet of stations on sites,
//! mostly `MeterValues` and `Heartbeat` traffic with status changes, transactions,
//! authorisations, commands, `CALLERROR`s and connection events. Used by the conformance
//! suite and the `logbench` benchmark; useful to any backend's tests.

use crate::record::{Direction, LogLevel, LogRecord, RecordId};
use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};

/// A small, fast, seedable random number generator (SplitMix64).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    pub fn chance(&mut self, p: f64) -> bool {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// What fleet to simulate.
#[derive(Debug, Clone)]
pub struct FleetConfig {
    pub stations: usize,
    pub sites: usize,
    /// Timestamp of the first record.
    pub start: DateTime<Utc>,
    /// The records are spread evenly over this time.
    pub span: TimeDelta,
    /// How many records in all.
    pub records: u64,
    pub seed: u64,
}

impl Default for FleetConfig {
    fn default() -> Self {
        FleetConfig {
            stations: 1000,
            sites: 50,
            start: DateTime::parse_from_rfc3339("2026-11-21T00:00:00Z").expect("valid").to_utc(),
            span: TimeDelta::days(3),
            records: 1_000_000,
            seed: 1,
        }
    }
}

pub const STATUSES: [&str; 8] =
    ["Available", "Preparing", "Charging", "SuspendedEV", "SuspendedEVSE", "Finishing", "Faulted", "Unavailable"];
pub const FAULTS: [&str; 6] = [
    "GroundFailure",
    "OverCurrentFailure",
    "HighTemperature",
    "PowerMeterFailure",
    "EVCommunicationError",
    "OtherError",
];
pub const RPC_ERRORS: [&str; 4] = ["NotImplemented", "NotSupported", "FormationViolation", "InternalError"];

/// The site of station `i` (every 20th station belongs to no site).
pub fn site_of(cfg: &FleetConfig, station: usize) -> Option<(String, String)> {
    (station % 20 != 7).then(|| {
        let s = station % cfg.sites.max(1);
        (format!("site-{s:03}"), format!("Site {s} – Parkhaus Nord"))
    })
}

pub fn station_name(i: usize) -> String {
    match i % 3 {
        0 => format!("CP-{i:05}"),
        1 => format!("DE*CWT*E{:06}", i * 7),
        _ => format!("wallbox-{i}"),
    }
}

/// An endless, deterministic stream of records in (roughly) time order; `take` what you need.
pub struct Fleet {
    cfg: FleetConfig,
    rng: Rng,
    emitted: u64,
    pending: Vec<LogRecord>,
    energy: Vec<f64>,
    counters: Vec<u64>,
    next_tx: i64,
}

impl Fleet {
    pub fn new(cfg: FleetConfig) -> Fleet {
        let rng = Rng::new(cfg.seed);
        let n = cfg.stations.max(1);
        Fleet {
            rng,
            emitted: 0,
            pending: Vec::new(),
            energy: vec![0.0; n * 2],
            counters: vec![0; n],
            next_tx: 1000,
            cfg,
        }
    }

    fn now(&self) -> DateTime<Utc> {
        let total = self.cfg.span.num_milliseconds().max(1) as u128;
        let off = (self.emitted as u128 * total / self.cfg.records.max(1) as u128) as i64;
        self.cfg.start + TimeDelta::milliseconds(off)
    }

    fn id(&mut self, ts: DateTime<Utc>) -> RecordId {
        let rand = self.rng.next_u64().to_le_bytes();
        let rand2 = self.rng.next_u64().to_le_bytes();
        let mut bytes = [0u8; 10];
        bytes[..8].copy_from_slice(&rand);
        bytes[8..].copy_from_slice(&rand2[..2]);
        uuid::Builder::from_unix_timestamp_millis(ts.timestamp_millis() as u64, &bytes).into_uuid()
    }

    fn unique_id(&mut self, station: usize) -> String {
        if station.is_multiple_of(2) {
            let a = self.rng.next_u64();
            let b = self.rng.next_u64();
            format!(
                "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
                a >> 32,
                (a >> 16) & 0xffff,
                a & 0xfff,
                (b >> 48) & 0x3fff | 0x8000,
                b & 0xffff_ffff_ffff
            )
        } else {
            self.counters[station] += 1;
            self.counters[station].to_string()
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn record(
        &mut self,
        ts: DateTime<Utc>,
        station: usize,
        action: &str,
        direction: Direction,
        message_type: &str,
        unique_id: Option<String>,
        raw: String,
        level: LogLevel,
    ) -> LogRecord {
        let site = site_of(&self.cfg, station);
        LogRecord {
            id: self.id(ts),
            timestamp: ts,
            action: Some(action.to_owned()),
            station_id: station_name(station),
            connector_id: None,
            status: None,
            error_code: None,
            site_id: site.as_ref().map(|s| s.0.clone()),
            site_name: site.map(|s| s.1),
            direction,
            message_type: message_type.to_owned(),
            unique_id,
            level,
            latency_ms: None,
            validation_error: None,
            raw,
        }
    }

    /// A CALL and its answer (CALLRESULT, or CALLERROR when `error` is given).
    #[allow(clippy::too_many_arguments)]
    fn exchange(
        &mut self,
        station: usize,
        action: &str,
        from_charger: bool,
        req: String,
        conf: String,
        connector: Option<i64>,
        req_status: (Option<&str>, Option<&str>),
        conf_status: Option<&str>,
        error: Option<&str>,
    ) {
        let ts = self.now();
        let uid = self.unique_id(station);
        let level = if ["Authorize", "BootNotification", "StartTransaction", "StatusNotification", "StopTransaction"]
            .contains(&action)
        {
            LogLevel::Info
        } else {
            LogLevel::Debug
        };
        let (d_req, d_conf) =
            if from_charger { (Direction::In, Direction::Out) } else { (Direction::Out, Direction::In) };
        let raw = format!(r#"[2,"{uid}","{action}",{req}]"#);
        let mut a = self.record(ts, station, action, d_req, "CALL", Some(uid.clone()), raw, level);
        a.connector_id = connector;
        a.status = req_status.0.map(str::to_owned);
        a.error_code = req_status.1.map(str::to_owned);
        let latency = 5 + self.rng.below(if from_charger { 40 } else { 900 }) as i64;
        let ts2 = ts + TimeDelta::milliseconds(latency);
        let mut b = match error {
            Some(code) => {
                let raw = format!(r#"[4,"{uid}","{code}","",{{}}]"#);
                let mut b = self.record(ts2, station, action, d_conf, "CALLERROR", Some(uid), raw, LogLevel::Info);
                b.error_code = Some(code.to_owned());
                b
            }
            None => {
                let raw = format!(r#"[3,"{uid}",{conf}]"#);
                let mut b = self.record(ts2, station, action, d_conf, "CALLRESULT", Some(uid), raw, level);
                b.status = conf_status.map(str::to_owned);
                b
            }
        };
        b.connector_id = connector;
        b.latency_ms = Some(latency as u32);
        self.pending.push(b);
        self.pending.push(a);
    }

    fn event(&mut self) {
        let station = self.rng.below(self.cfg.stations as u64) as usize;
        let connector = 1 + self.rng.below(2) as i64;
        let ts = self.now();
        let iso = ts.to_rfc3339_opts(SecondsFormat::Millis, true);
        let tag = format!("04{:08X}", self.rng.below(5000) * 2_654_435 % 0xFFFF_FFFF);
        let roll = self.rng.below(1000);
        match roll {
            0..=549 => {
                let e = &mut self.energy[station * 2 + connector as usize - 1];
                *e += self.rng.below(400) as f64 / 10.0;
                let energy = *e;
                let power = 3000 + self.rng.below(19000);
                let current = power as f64 / 690.0;
                let tx = self.next_tx - 1 - self.rng.below(500) as i64;
                let extra = match station % 3 {
                    0 => format!(
                        r#",{{"value":"{current:.1}","context":"Sample.Periodic","measurand":"Current.Import","phase":"L1","unit":"A"}},{{"value":"{}","context":"Sample.Periodic","measurand":"SoC","location":"EV","unit":"Percent"}}"#,
                        20 + self.rng.below(80)
                    ),
                    1 => format!(
                        r#",{{"value":"{current:.2}","context":"Sample.Periodic","measurand":"Current.Import","unit":"A"}}"#
                    ),
                    _ => String::new(),
                };
                let req = format!(
                    r#"{{"connectorId":{connector},"transactionId":{tx},"meterValue":[{{"timestamp":"{iso}","sampledValue":[{{"value":"{energy:.1}","context":"Sample.Periodic","format":"Raw","measurand":"Energy.Active.Import.Register","location":"Outlet","unit":"Wh"}},{{"value":"{power}","context":"Sample.Periodic","measurand":"Power.Active.Import","unit":"W"}}{extra}]}}]}}"#
                );
                self.exchange(
                    station,
                    "MeterValues",
                    true,
                    req,
                    "{}".into(),
                    Some(connector),
                    (None, None),
                    None,
                    None,
                );
            }
            550..=799 => {
                let conf = format!(r#"{{"currentTime":"{iso}"}}"#);
                self.exchange(station, "Heartbeat", true, "{}".into(), conf, None, (None, None), None, None);
            }
            800..=879 => {
                let status = *self.rng.pick(&STATUSES);
                let code = if status == "Faulted" { *self.rng.pick(&FAULTS) } else { "NoError" };
                let req = format!(
                    r#"{{"connectorId":{connector},"errorCode":"{code}","status":"{status}","timestamp":"{iso}"}}"#
                );
                self.exchange(
                    station,
                    "StatusNotification",
                    true,
                    req,
                    "{}".into(),
                    Some(connector),
                    (Some(status), Some(code)),
                    None,
                    None,
                );
            }
            880..=909 => {
                let ok = if self.rng.chance(0.9) { "Accepted" } else { "Invalid" };
                let req = format!(r#"{{"idTag":"{tag}"}}"#);
                let conf = format!(r#"{{"idTagInfo":{{"status":"{ok}"}}}}"#);
                self.exchange(station, "Authorize", true, req, conf, None, (None, None), Some(ok), None);
            }
            910..=934 => {
                self.next_tx += 1;
                let tx = self.next_tx;
                let meter = self.energy[station * 2 + connector as usize - 1] as i64;
                let req = format!(
                    r#"{{"connectorId":{connector},"idTag":"{tag}","meterStart":{meter},"timestamp":"{iso}"}}"#
                );
                let conf = format!(r#"{{"idTagInfo":{{"status":"Accepted"}},"transactionId":{tx}}}"#);
                self.exchange(
                    station,
                    "StartTransaction",
                    true,
                    req,
                    conf,
                    Some(connector),
                    (None, None),
                    Some("Accepted"),
                    None,
                );
            }
            935..=959 => {
                let tx = self.next_tx - self.rng.below(200) as i64;
                let meter = self.energy[station * 2 + connector as usize - 1] as i64;
                let reason = *self.rng.pick(&["Local", "EVDisconnected", "Remote"]);
                let req = format!(
                    r#"{{"idTag":"{tag}","meterStop":{meter},"timestamp":"{iso}","transactionId":{tx},"reason":"{reason}"}}"#
                );
                let conf = r#"{"idTagInfo":{"status":"Accepted"}}"#.to_owned();
                self.exchange(
                    station,
                    "StopTransaction",
                    true,
                    req,
                    conf,
                    Some(connector),
                    (None, None),
                    Some("Accepted"),
                    None,
                );
            }
            960..=969 => {
                let req = format!(r#"{{"connectorId":{connector},"idTag":"{tag}"}}"#);
                let ok = if self.rng.chance(0.95) { "Accepted" } else { "Rejected" };
                let conf = format!(r#"{{"status":"{ok}"}}"#);
                self.exchange(
                    station,
                    "RemoteStartTransaction",
                    false,
                    req,
                    conf,
                    Some(connector),
                    (None, None),
                    Some(ok),
                    None,
                );
            }
            970..=979 => {
                let req = format!(r#"{{"vendorId":"com.vendor{}","messageId":"diag","data":"{tag}"}}"#, station % 4);
                let code = *self.rng.pick(&RPC_ERRORS[..2]);
                self.exchange(station, "DataTransfer", false, req, String::new(), None, (None, None), None, Some(code));
            }
            980..=984 => {
                let req = format!(
                    r#"{{"chargePointVendor":"Vendor{}","chargePointModel":"Model-{}","firmwareVersion":"1.{}.0"}}"#,
                    station % 5,
                    station % 7,
                    station % 3
                );
                let conf = format!(r#"{{"status":"Accepted","currentTime":"{iso}","interval":300}}"#);
                self.exchange(station, "BootNotification", true, req, conf, None, (None, None), Some("Accepted"), None);
            }
            985..=989 => {
                // A malformed frame from the charger, answered with a CALLERROR.
                let uid = self.unique_id(station);
                let raw = format!(r#"[2,"{uid}","StatusNotification",{{"connectorId":"one"}}]"#);
                let mut a = self.record(
                    ts,
                    station,
                    "StatusNotification",
                    Direction::In,
                    "CALL",
                    Some(uid.clone()),
                    raw,
                    LogLevel::Info,
                );
                a.validation_error = Some("connectorId: \"one\" is not of type \"integer\"".into());
                let raw = format!(r#"[4,"{uid}","FormationViolation","connectorId must be an integer",{{}}]"#);
                let mut b = self.record(
                    ts,
                    station,
                    "StatusNotification",
                    Direction::Out,
                    "CALLERROR",
                    Some(uid),
                    raw,
                    LogLevel::Info,
                );
                b.error_code = Some("FormationViolation".into());
                b.latency_ms = Some(0);
                self.pending.push(b);
                self.pending.push(a);
            }
            _ => {
                let (action, raw) = if self.rng.chance(0.5) {
                    (
                        "Connected",
                        format!(
                            r#"{{"event":"Connected","remote":"10.0.{}.{}:51234","subprotocol":"ocpp1.6"}}"#,
                            station / 250,
                            station % 250
                        ),
                    )
                } else {
                    ("Disconnected", r#"{"event":"Disconnected","code":1006,"reason":"ping timeout"}"#.to_owned())
                };
                let r = self.record(ts, station, action, Direction::In, "EVENT", None, raw, LogLevel::Info);
                self.pending.push(r);
            }
        }
    }
}

impl Iterator for Fleet {
    type Item = LogRecord;

    fn next(&mut self) -> Option<LogRecord> {
        if self.pending.is_empty() {
            self.event();
        }
        self.emitted += 1;
        self.pending.pop()
    }
}

/// Makes one query of a benchmark's filter mix.
pub type QueryMaker = Box<dyn Fn(&mut Rng) -> crate::LogQuery>;

/// The first-page benchmark's filters, each making varied queries over a fleet of `sites`
/// sites and `stations` stations whose records start at `start` and span `span` (shared by
/// the embedded and PostgreSQL store benchmarks).
pub fn query_mix(start: DateTime<Utc>, span: TimeDelta, sites: u64, stations: u64) -> Vec<(&'static str, QueryMaker)> {
    use crate::{Direction, LogQuery};
    let span_ms = span.num_milliseconds();
    let actions = [
        "MeterValues",
        "Heartbeat",
        "StatusNotification",
        "Authorize",
        "StartTransaction",
        "StopTransaction",
        "RemoteStartTransaction",
        "DataTransfer",
        "BootNotification",
        "Connected",
        "Disconnected",
    ];
    let statuses: Vec<&'static str> =
        STATUSES.iter().chain(["Accepted", "Invalid", "Rejected"].iter()).copied().collect();
    let errors: Vec<&'static str> = FAULTS.iter().chain(RPC_ERRORS.iter()).chain(["NoError"].iter()).copied().collect();
    let terms = [
        "Faulted",
        "groundfailure",
        "SoC",
        "Model-3",
        "ping timeout",
        "EVDisconnected",
        "Current.Import",
        "vendor2",
        "connectorId must be",
        "Percent",
    ];
    let at = move |rng: &mut Rng| start + TimeDelta::milliseconds(rng.below(span_ms as u64) as i64);
    vec![
        ("no filter", Box::new(move |_| LogQuery::default())),
        (
            "site_id",
            Box::new(move |r| LogQuery {
                site_ids: Some(vec![format!("site-{:03}", r.below(sites))]),
                ..LogQuery::default()
            }),
        ),
        (
            "site_ids (10 sites)",
            Box::new(move |r| LogQuery {
                site_ids: Some((0..10).map(|_| format!("site-{:03}", r.below(sites))).collect()),
                ..LogQuery::default()
            }),
        ),
        (
            "station_id",
            Box::new(move |r| LogQuery {
                station_id: Some(station_name(r.below(stations) as usize)),
                ..LogQuery::default()
            }),
        ),
        (
            "connector_id + station_id",
            Box::new(move |r| LogQuery {
                station_id: Some(station_name(r.below(stations) as usize)),
                connector_id: Some(1 + r.below(2) as i64),
                ..LogQuery::default()
            }),
        ),
        ("action", Box::new(move |r| LogQuery { actions: vec![r.pick(&actions).to_string()], ..LogQuery::default() })),
        (
            "action (2 actions)",
            Box::new(move |r| LogQuery {
                actions: vec![r.pick(&actions).to_string(), r.pick(&actions).to_string()],
                ..LogQuery::default()
            }),
        ),
        ("status", Box::new(move |r| LogQuery { status: Some(r.pick(&statuses).to_string()), ..LogQuery::default() })),
        (
            "error_code",
            Box::new(move |r| LogQuery { error_code: Some(r.pick(&errors).to_string()), ..LogQuery::default() }),
        ),
        (
            "direction",
            Box::new(move |r| LogQuery {
                direction: Some(if r.chance(0.5) { Direction::In } else { Direction::Out }),
                ..LogQuery::default()
            }),
        ),
        (
            "message_type",
            Box::new(move |r| LogQuery {
                message_type: Some(r.pick(&["CALL", "CALLRESULT", "CALLERROR", "EVENT"]).to_string()),
                ..LogQuery::default()
            }),
        ),
        (
            "from/to (1 h window)",
            Box::new(move |r| {
                let to = at(r);
                LogQuery { from: Some(to - TimeDelta::hours(1)), to: Some(to), ..LogQuery::default() }
            }),
        ),
        (
            "site_id + action + from/to",
            Box::new(move |r| {
                let to = at(r);
                LogQuery {
                    site_ids: Some(vec![format!("site-{:03}", r.below(sites))]),
                    actions: vec![r.pick(&actions).to_string()],
                    from: Some(to - TimeDelta::hours(6)),
                    to: Some(to),
                    ..LogQuery::default()
                }
            }),
        ),
        ("q (substring)", Box::new(move |r| LogQuery { q: Some(r.pick(&terms).to_string()), ..LogQuery::default() })),
        (
            "q rare (idTag) + station_id",
            Box::new(move |r| LogQuery {
                q: Some(format!("04{:08X}", r.below(5000) * 2_654_435 % 0xFFFF_FFFF)),
                station_id: Some(station_name(r.below(stations) as usize)),
                ..LogQuery::default()
            }),
        ),
        (
            "q rare (idTag)",
            Box::new(move |r| LogQuery {
                q: Some(format!("04{:08X}", r.below(5000) * 2_654_435 % 0xFFFF_FFFF)),
                ..LogQuery::default()
            }),
        ),
    ]
}

/// Generates `records` records of a fleet in batches of `batch`, handing each to `send`
/// until it returns `false`; returns the raw payload bytes generated (for benchmarks).
pub fn generate_batches(
    cfg: FleetConfig,
    records: usize,
    batch: usize,
    mut send: impl FnMut(Vec<crate::LogRecord>) -> bool,
) -> u64 {
    let mut fleet = Fleet::new(cfg);
    let mut left = records;
    let mut raw_bytes = 0u64;
    while left > 0 {
        let b: Vec<_> = fleet.by_ref().take(batch.min(left)).collect();
        raw_bytes += b.iter().map(|r| r.raw.len() as u64).sum::<u64>();
        left -= b.len();
        if !send(b) {
            break;
        }
    }
    raw_bytes
}
