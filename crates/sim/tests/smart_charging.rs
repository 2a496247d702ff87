mod common;

use chargewatch_sim::smart::{ChargingProfile, ProfileStore, Purpose, TxContext, Unit};
use common::{secs, t0};
use serde_json::{json, Value};

fn profile(id: i64, stack: i64, purpose: &str, kind: &str, unit: &str, periods: Value) -> Value {
    json!({
        "chargingProfileId": id, "stackLevel": stack, "chargingProfilePurpose": purpose,
        "chargingProfileKind": kind,
        "chargingSchedule": {"chargingRateUnit": unit, "chargingSchedulePeriod": periods}
    })
}

fn parse(connector: usize, v: Value) -> ChargingProfile {
    ChargingProfile::parse(connector, &v).unwrap()
}

fn no_tx() -> TxContext {
    TxContext::default()
}

#[test]
fn higher_stack_level_wins_while_active() {
    let mut s = ProfileStore::default();
    s.set(parse(1, profile(1, 0, "TxDefaultProfile", "Relative", "W", json!([{"startPeriod": 0, "limit": 11000}]))));
    let mut high = profile(2, 1, "TxDefaultProfile", "Relative", "W", json!([{"startPeriod": 0, "limit": 4000}]));
    high["chargingSchedule"]["duration"] = json!(600);
    s.set(parse(1, high));
    let tx = TxContext { transaction_id: Some(1), started: Some(t0()) };
    assert_eq!(s.limit_w(1, t0() + secs(10), tx), Some(4000.0));
    // After its duration the lower stack level applies again.
    assert_eq!(s.limit_w(1, t0() + secs(700), tx), Some(11000.0));
}

#[test]
fn tx_profile_overrides_default_and_cp_max_caps() {
    let mut s = ProfileStore::default();
    s.set(parse(0, profile(1, 0, "TxDefaultProfile", "Relative", "W", json!([{"startPeriod": 0, "limit": 11000}]))));
    let mut txp = profile(2, 0, "TxProfile", "Relative", "A", json!([{"startPeriod": 0, "limit": 10}]));
    txp["transactionId"] = json!(42);
    s.set(parse(1, txp));
    let tx = TxContext { transaction_id: Some(42), started: Some(t0()) };
    assert_eq!(s.limit_w(1, t0(), tx), Some(10.0 * 230.0 * 3.0));
    // Another transaction: the TxProfile does not apply, the default of connector 0 does.
    let other = TxContext { transaction_id: Some(43), started: Some(t0()) };
    assert_eq!(s.limit_w(1, t0(), other), Some(11000.0));
    assert_eq!(s.limit_w(2, t0(), no_tx()), Some(11000.0));
    s.set(parse(
        0,
        profile(3, 0, "ChargePointMaxProfile", "Relative", "W", json!([{"startPeriod": 0, "limit": 5000}])),
    ));
    assert_eq!(s.limit_w(1, t0(), tx), Some(5000.0));
    s.end_transaction(1);
    assert_eq!(s.limit_w(1, t0(), tx), Some(5000.0));
    assert_eq!(s.profiles.len(), 2);
}

#[test]
fn connector_specific_default_beats_connector_zero_at_equal_level() {
    let mut s = ProfileStore::default();
    s.set(parse(0, profile(1, 2, "TxDefaultProfile", "Relative", "W", json!([{"startPeriod": 0, "limit": 9000}]))));
    s.set(parse(2, profile(2, 2, "TxDefaultProfile", "Relative", "W", json!([{"startPeriod": 0, "limit": 6000}]))));
    assert_eq!(s.limit_w(2, t0(), no_tx()), Some(6000.0));
    assert_eq!(s.limit_w(1, t0(), no_tx()), Some(9000.0));
}

#[test]
fn absolute_and_recurring_schedules() {
    let mut abs = profile(
        1,
        0,
        "TxDefaultProfile",
        "Absolute",
        "W",
        json!([
            {"startPeriod": 0, "limit": 7000}, {"startPeriod": 3600, "limit": 3000}
        ]),
    );
    abs["chargingSchedule"]["startSchedule"] = json!("2026-03-01T12:00:00Z");
    abs["chargingSchedule"]["duration"] = json!(7200);
    let p = parse(1, abs);
    assert_eq!(p.limit_w_at(t0() - secs(1), t0()), None);
    assert_eq!(p.limit_w_at(t0() + secs(59 * 60), t0()), Some(7000.0));
    assert_eq!(p.limit_w_at(t0() + secs(3600), t0()), Some(3000.0));
    assert_eq!(p.limit_w_at(t0() + secs(7200), t0()), None);

    let mut rec = profile(
        2,
        0,
        "TxDefaultProfile",
        "Recurring",
        "W",
        json!([
            {"startPeriod": 0, "limit": 2000}, {"startPeriod": 6 * 3600, "limit": 11000}
        ]),
    );
    rec["recurrencyKind"] = json!("Daily");
    rec["chargingSchedule"]["startSchedule"] = json!("2026-01-01T00:00:00Z");
    let p = parse(1, rec);
    // 12:00 is past 06:00 of that day; 03:00 the next day is in the night period.
    assert_eq!(p.limit_w_at(t0(), t0()), Some(11000.0));
    assert_eq!(p.limit_w_at(t0() + secs(15 * 3600), t0()), Some(2000.0));
}

#[test]
fn validity_window_applies() {
    let mut v = profile(1, 0, "TxDefaultProfile", "Relative", "W", json!([{"startPeriod": 0, "limit": 1000}]));
    v["validFrom"] = json!("2026-03-01T13:00:00Z");
    v["validTo"] = json!("2026-03-01T14:00:00Z");
    let p = parse(1, v);
    assert_eq!(p.limit_w_at(t0(), t0()), None);
    assert_eq!(p.limit_w_at(t0() + secs(3600), t0()), Some(1000.0));
    assert_eq!(p.limit_w_at(t0() + secs(7200), t0()), None);
}

#[test]
fn composite_schedule_merges_stack_levels() {
    let mut s = ProfileStore::default();
    s.set(parse(
        1,
        profile(
            1,
            0,
            "TxDefaultProfile",
            "Relative",
            "W",
            json!([
                {"startPeriod": 0, "limit": 11000}, {"startPeriod": 1800, "limit": 7000}
            ]),
        ),
    ));
    let mut high = profile(2, 1, "TxDefaultProfile", "Relative", "W", json!([{"startPeriod": 0, "limit": 3000}]));
    high["chargingSchedule"]["duration"] = json!(600);
    s.set(parse(1, high));
    let c = s.composite(1, t0(), 3600, Unit::W, no_tx(), 22080.0, 3);
    assert_eq!(c, vec![(0, 3000.0), (600, 11000.0), (1800, 7000.0)]);
    let a = s.composite(1, t0(), 3600, Unit::A, no_tx(), 22080.0, 3);
    assert_eq!(a[0], (0, 4.3));
    // Without profiles the hardware limit is the schedule.
    let empty = ProfileStore::default().composite(1, t0(), 60, Unit::W, no_tx(), 22080.0, 3);
    assert_eq!(empty, vec![(0, 22080.0)]);
}

#[test]
fn clear_rules() {
    let mk = || {
        let mut s = ProfileStore::default();
        s.set(parse(
            0,
            profile(1, 0, "ChargePointMaxProfile", "Relative", "W", json!([{"startPeriod": 0, "limit": 1}])),
        ));
        s.set(parse(1, profile(2, 0, "TxDefaultProfile", "Relative", "W", json!([{"startPeriod": 0, "limit": 1}]))));
        s.set(parse(1, profile(3, 1, "TxDefaultProfile", "Relative", "W", json!([{"startPeriod": 0, "limit": 1}]))));
        s.set(parse(2, profile(4, 1, "TxDefaultProfile", "Relative", "W", json!([{"startPeriod": 0, "limit": 1}]))));
        s
    };
    let ids = |s: &ProfileStore| s.profiles.iter().map(|p| p.id).collect::<Vec<_>>();
    let mut s = mk();
    assert!(s.clear(Some(3), Some(2), Some(Purpose::ChargePointMaxProfile), None), "id wins over other criteria");
    assert_eq!(ids(&s), vec![1, 2, 4]);
    assert!(!s.clear(Some(99), None, None, None));
    let mut s = mk();
    assert!(s.clear(None, Some(1), None, None));
    assert_eq!(ids(&s), vec![1, 4]);
    let mut s = mk();
    assert!(s.clear(None, None, Some(Purpose::TxDefaultProfile), Some(1)));
    assert_eq!(ids(&s), vec![1, 2]);
    let mut s = mk();
    assert!(!s.clear(None, Some(2), Some(Purpose::TxProfile), None));
    assert!(s.clear(None, None, None, None), "no criteria clears all");
    assert!(s.profiles.is_empty());
    assert!(!s.clear(None, None, None, None));
}

#[test]
fn set_replaces_same_id_and_same_stack_purpose_connector() {
    let mut s = ProfileStore::default();
    s.set(parse(1, profile(1, 0, "TxDefaultProfile", "Relative", "W", json!([{"startPeriod": 0, "limit": 1}]))));
    s.set(parse(1, profile(2, 0, "TxDefaultProfile", "Relative", "W", json!([{"startPeriod": 0, "limit": 2}]))));
    assert_eq!(s.profiles.len(), 1);
    s.set(parse(2, profile(2, 3, "TxDefaultProfile", "Relative", "W", json!([{"startPeriod": 0, "limit": 3}]))));
    assert_eq!(s.profiles.len(), 1);
    assert_eq!(s.profiles[0].connector_id, 2);
}

#[test]
fn rejects_malformed_profiles() {
    let bad_order = profile(1, 0, "TxDefaultProfile", "Relative", "W", json!([{"startPeriod": 10, "limit": 1}]));
    assert!(ChargingProfile::parse(1, &bad_order).is_err());
    let mut rec = profile(1, 0, "TxDefaultProfile", "Recurring", "W", json!([{"startPeriod": 0, "limit": 1}]));
    assert!(ChargingProfile::parse(1, &rec).is_err());
    rec["recurrencyKind"] = json!("Weekly");
    rec["chargingSchedule"]["startSchedule"] = json!("2026-01-01T00:00:00Z");
    assert!(ChargingProfile::parse(1, &rec).is_ok());
    let unit = profile(1, 0, "TxDefaultProfile", "Relative", "kW", json!([{"startPeriod": 0, "limit": 1}]));
    assert!(ChargingProfile::parse(1, &unit).is_err());
}
