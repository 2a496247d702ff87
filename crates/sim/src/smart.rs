//! Smart Charging: charging profiles, their stacking and the composite schedule
//! (OCPP 1.6 section 3.13).

use crate::util::{opt_enum, opt_int, opt_num, opt_time, req_enum, req_int, req_num, CallErr};
use chargewatch_ocpp::ErrorCode;
use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

/// Nominal voltage used to convert between A and W.
pub const VOLTAGE: f64 = 230.0;
/// Phases assumed when a period does not say.
pub const DEFAULT_PHASES: i64 = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    ChargePointMaxProfile,
    TxDefaultProfile,
    TxProfile,
}

impl Purpose {
    pub const NAMES: &'static [&'static str] = &["ChargePointMaxProfile", "TxDefaultProfile", "TxProfile"];

    pub fn parse(s: &str) -> Option<Purpose> {
        match s {
            "ChargePointMaxProfile" => Some(Purpose::ChargePointMaxProfile),
            "TxDefaultProfile" => Some(Purpose::TxDefaultProfile),
            "TxProfile" => Some(Purpose::TxProfile),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Absolute,
    Recurring,
    Relative,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    A,
    W,
}

impl Unit {
    pub fn parse(s: &str) -> Option<Unit> {
        match s {
            "A" => Some(Unit::A),
            "W" => Some(Unit::W),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Unit::A => "A",
            Unit::W => "W",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Period {
    /// Seconds from the start of the schedule.
    pub start: i64,
    pub limit: f64,
    pub phases: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChargingProfile {
    pub id: i64,
    /// The connector the profile was set on (0 = the charge point).
    pub connector_id: usize,
    pub transaction_id: Option<i64>,
    pub stack_level: i64,
    pub purpose: Purpose,
    pub kind: Kind,
    /// Recurrence period for Recurring profiles (a day or a week).
    pub recurrency: Option<Duration>,
    pub valid_from: Option<DateTime<Utc>>,
    pub valid_to: Option<DateTime<Utc>>,
    pub duration: Option<i64>,
    pub start_schedule: Option<DateTime<Utc>>,
    pub unit: Unit,
    pub periods: Vec<Period>,
    pub min_rate: Option<f64>,
}

fn bad(d: impl Into<String>) -> CallErr {
    CallErr::new(ErrorCode::PropertyConstraintViolation, d)
}

impl ChargingProfile {
    /// Parses a csChargingProfiles / chargingProfile object.
    pub fn parse(connector_id: usize, v: &Value) -> Result<ChargingProfile, CallErr> {
        if !v.is_object() {
            return Err(CallErr::new(ErrorCode::TypeConstraintViolation, "charging profile must be an object"));
        }
        let id = req_int(v, "chargingProfileId")?;
        let stack_level = req_int(v, "stackLevel")?;
        if stack_level < 0 {
            return Err(bad("stackLevel must not be negative"));
        }
        let purpose = Purpose::parse(req_enum(v, "chargingProfilePurpose", Purpose::NAMES)?).expect("enum checked");
        let kind = match req_enum(v, "chargingProfileKind", &["Absolute", "Recurring", "Relative"])? {
            "Absolute" => Kind::Absolute,
            "Recurring" => Kind::Recurring,
            _ => Kind::Relative,
        };
        let recurrency = opt_enum(v, "recurrencyKind", &["Daily", "Weekly"])?.map(|r| match r {
            "Daily" => Duration::days(1),
            _ => Duration::weeks(1),
        });
        let sched = v
            .get("chargingSchedule")
            .ok_or_else(|| CallErr::new(ErrorCode::OccurenceConstraintViolation, "chargingSchedule is missing"))?;
        if !sched.is_object() {
            return Err(CallErr::new(ErrorCode::TypeConstraintViolation, "chargingSchedule must be an object"));
        }
        let unit = Unit::parse(req_enum(sched, "chargingRateUnit", &["A", "W"])?).expect("enum checked");
        let raw_periods = sched.get("chargingSchedulePeriod").and_then(Value::as_array).ok_or_else(|| {
            CallErr::new(ErrorCode::OccurenceConstraintViolation, "chargingSchedulePeriod is missing")
        })?;
        let mut periods = Vec::with_capacity(raw_periods.len());
        for p in raw_periods {
            let start = req_int(p, "startPeriod")?;
            let limit = req_num(p, "limit")?;
            if start < 0 || limit < 0.0 {
                return Err(bad("startPeriod and limit must not be negative"));
            }
            periods.push(Period { start, limit, phases: opt_int(p, "numberPhases")? });
        }
        if periods.is_empty() {
            return Err(bad("chargingSchedulePeriod is empty"));
        }
        if periods[0].start != 0 || periods.windows(2).any(|w| w[1].start <= w[0].start) {
            return Err(bad("periods must start at 0 and be in increasing order of startPeriod"));
        }
        let p = ChargingProfile {
            id,
            connector_id,
            transaction_id: opt_int(v, "transactionId")?,
            stack_level,
            purpose,
            kind,
            recurrency,
            valid_from: opt_time(v, "validFrom")?,
            valid_to: opt_time(v, "validTo")?,
            duration: opt_int(sched, "duration")?,
            start_schedule: opt_time(sched, "startSchedule")?,
            unit,
            periods,
            min_rate: opt_num(sched, "minChargingRate")?,
        };
        if p.kind == Kind::Recurring && (p.recurrency.is_none() || p.start_schedule.is_none()) {
            return Err(bad("a Recurring profile needs recurrencyKind and startSchedule"));
        }
        if p.purpose == Purpose::TxProfile && p.transaction_id.is_none() && connector_id == 0 {
            return Err(bad("TxProfile on connector 0"));
        }
        Ok(p)
    }

    /// Where the schedule instance that covers `t` starts. `rel_start` is the start of the
    /// transaction (for Relative profiles).
    fn schedule_start(&self, t: DateTime<Utc>, rel_start: DateTime<Utc>) -> DateTime<Utc> {
        match self.kind {
            Kind::Absolute => self.start_schedule.or(self.valid_from).unwrap_or(rel_start),
            Kind::Relative => rel_start,
            Kind::Recurring => {
                let ss = self.start_schedule.unwrap_or(rel_start);
                let period = self.recurrency.unwrap_or(Duration::days(1)).num_seconds().max(1);
                let k = (t - ss).num_seconds().div_euclid(period);
                ss + Duration::seconds(k * period)
            }
        }
    }

    /// The limit and phases in effect at `t`, if the profile is active then.
    pub fn limit_at(&self, t: DateTime<Utc>, rel_start: DateTime<Utc>) -> Option<(f64, i64)> {
        if self.valid_from.is_some_and(|f| t < f) || self.valid_to.is_some_and(|to| t >= to) {
            return None;
        }
        let start = self.schedule_start(t, rel_start);
        let elapsed = (t - start).num_milliseconds();
        if elapsed < 0 || self.duration.is_some_and(|d| elapsed >= d * 1000) {
            return None;
        }
        let p = self.periods.iter().rev().find(|p| p.start * 1000 <= elapsed)?;
        Some((p.limit, p.phases.unwrap_or(DEFAULT_PHASES)))
    }

    /// The limit at `t` in watts.
    pub fn limit_w_at(&self, t: DateTime<Utc>, rel_start: DateTime<Utc>) -> Option<f64> {
        self.limit_at(t, rel_start).map(|(l, ph)| match self.unit {
            Unit::W => l,
            Unit::A => l * VOLTAGE * ph as f64,
        })
    }

    /// The times in `[from, to)` where this profile's limit may change.
    fn breakpoints(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        rel_start: DateTime<Utc>,
        out: &mut Vec<DateTime<Utc>>,
    ) {
        out.extend(self.valid_from);
        out.extend(self.valid_to);
        let mut starts = Vec::new();
        match (self.kind, self.recurrency) {
            (Kind::Recurring, Some(rec)) => {
                let mut s = self.schedule_start(from, rel_start);
                while s < to && starts.len() < 1000 {
                    starts.push(s);
                    s += rec;
                }
            }
            _ => starts.push(self.schedule_start(from, rel_start)),
        }
        for s in starts {
            out.extend(self.periods.iter().map(|p| s + Duration::seconds(p.start)));
            if let Some(d) = self.duration {
                out.push(s + Duration::seconds(d));
            }
        }
    }
}

/// What a connector is doing, for profile selection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TxContext {
    pub transaction_id: Option<i64>,
    pub started: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProfileStore {
    pub profiles: Vec<ChargingProfile>,
}

impl ProfileStore {
    /// Installs a profile, replacing one with the same id, and one with the same
    /// connector, purpose and stack level.
    pub fn set(&mut self, p: ChargingProfile) {
        self.profiles.retain(|q| {
            q.id != p.id
                && !(q.connector_id == p.connector_id && q.purpose == p.purpose && q.stack_level == p.stack_level)
        });
        self.profiles.push(p);
    }

    /// Number of profiles installed after `set(p)` would have replaced what it replaces.
    pub fn count_after_set(&self, p: &ChargingProfile) -> usize {
        1 + self
            .profiles
            .iter()
            .filter(|q| {
                q.id != p.id
                    && !(q.connector_id == p.connector_id && q.purpose == p.purpose && q.stack_level == p.stack_level)
            })
            .count()
    }

    /// ClearChargingProfile: with an id, clears that profile (the other criteria are
    /// ignored); otherwise clears every profile matching all given criteria (no criteria:
    /// all profiles). Returns whether anything was cleared (Accepted) or not (Unknown).
    pub fn clear(
        &mut self,
        id: Option<i64>,
        connector: Option<usize>,
        purpose: Option<Purpose>,
        stack: Option<i64>,
    ) -> bool {
        let before = self.profiles.len();
        match id {
            Some(id) => self.profiles.retain(|p| p.id != id),
            None => self.profiles.retain(|p| {
                let m = connector.is_none_or(|c| p.connector_id == c)
                    && purpose.is_none_or(|pu| p.purpose == pu)
                    && stack.is_none_or(|s| p.stack_level == s);
                !m
            }),
        }
        self.profiles.len() != before
    }

    /// Drops the TxProfiles of a connector (its transaction ended).
    pub fn end_transaction(&mut self, connector: usize) {
        self.profiles.retain(|p| !(p.purpose == Purpose::TxProfile && p.connector_id == connector));
    }

    /// The highest-stack active profile's limit (W) among `candidates`.
    fn best<'a>(
        candidates: impl Iterator<Item = &'a ChargingProfile>,
        t: DateTime<Utc>,
        rel_start: DateTime<Utc>,
    ) -> Option<f64> {
        let mut c: Vec<&ChargingProfile> = candidates.collect();
        // Highest stack level first; at equal levels a connector-specific profile wins over connector 0.
        c.sort_by(|a, b| b.stack_level.cmp(&a.stack_level).then(b.connector_id.cmp(&a.connector_id)));
        c.into_iter().find_map(|p| p.limit_w_at(t, rel_start))
    }

    /// The limit in watts for `connector` at `t`: the active TxProfile (or else
    /// TxDefaultProfile, connector-specific or of connector 0), capped by the
    /// ChargePointMaxProfile. `None` = no limit.
    pub fn limit_w(&self, connector: usize, t: DateTime<Utc>, tx: TxContext) -> Option<f64> {
        let rel_start = tx.started.unwrap_or(t);
        let cp_max =
            Self::best(self.profiles.iter().filter(|p| p.purpose == Purpose::ChargePointMaxProfile), t, rel_start);
        if connector == 0 {
            let def = Self::best(
                self.profiles.iter().filter(|p| p.purpose == Purpose::TxDefaultProfile && p.connector_id == 0),
                t,
                rel_start,
            );
            return min_opt(def, cp_max);
        }
        let txp = if tx.started.is_some() || tx.transaction_id.is_some() {
            Self::best(
                self.profiles.iter().filter(|p| {
                    p.purpose == Purpose::TxProfile
                        && p.connector_id == connector
                        && (p.transaction_id.is_none() || p.transaction_id == tx.transaction_id)
                }),
                t,
                rel_start,
            )
        } else {
            None
        };
        let base = txp.or_else(|| {
            Self::best(
                self.profiles.iter().filter(|p| {
                    p.purpose == Purpose::TxDefaultProfile && (p.connector_id == connector || p.connector_id == 0)
                }),
                t,
                rel_start,
            )
        });
        min_opt(base, cp_max)
    }

    /// The composite schedule of `connector` over `[start, start + duration)`, as
    /// `(startPeriod seconds, limit)` in `unit`, merging equal neighbours. Where no profile
    /// limits, `max_w` (the hardware limit) applies.
    #[allow(clippy::too_many_arguments)]
    pub fn composite(
        &self,
        connector: usize,
        start: DateTime<Utc>,
        duration_s: i64,
        unit: Unit,
        tx: TxContext,
        max_w: f64,
        phases: i64,
    ) -> Vec<(i64, f64)> {
        let end = start + Duration::seconds(duration_s.max(1));
        let rel_start = tx.started.unwrap_or(start);
        let mut points = vec![start];
        for p in &self.profiles {
            if p.connector_id == connector || p.connector_id == 0 {
                p.breakpoints(start, end, rel_start, &mut points);
            }
        }
        points.retain(|t| *t >= start && *t < end);
        points.sort();
        points.dedup();
        let tx = TxContext { started: Some(rel_start), ..tx };
        let mut out: Vec<(i64, f64)> = Vec::new();
        for t in points {
            let w = self.limit_w(connector, t, tx).unwrap_or(max_w).min(max_w);
            let v = match unit {
                Unit::W => w,
                Unit::A => w / (VOLTAGE * phases as f64),
            };
            let v = (v * 10.0).round() / 10.0;
            if out.last().is_none_or(|(_, l)| *l != v) {
                out.push(((t - start).num_seconds(), v));
            }
        }
        out
    }
}

fn min_opt(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}
