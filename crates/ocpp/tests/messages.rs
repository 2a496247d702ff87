//! Per-action tests of the typed messages and their validation.
//!
//! `data/valid.json` holds realistic payloads (`[action, "req"|"conf", payload]`) that must
//! validate; `data/invalid.json` holds payloads (`[action, kind, payload, code,
//! description part]`) that must fail with that OCPP-J error code and a description
//! containing that text. Both files can be checked against the official schemas with
//! `data/check_with_official_schemas.py`.

use chargewatch_ocpp::messages::*;
use chargewatch_ocpp::types::*;
use chargewatch_ocpp::validate::{parse_request, parse_response};
use chargewatch_ocpp::{validate_request, validate_response, Action, ErrorCode, Violation};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashMap};
use std::fmt::Debug;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Kind {
    Req,
    Conf,
}

fn kind(s: &str) -> Kind {
    match s {
        "req" => Kind::Req,
        "conf" => Kind::Conf,
        other => panic!("bad kind {other}"),
    }
}

fn action(s: &str) -> Action {
    s.parse().unwrap_or_else(|_| panic!("unknown action {s}"))
}

fn validate(a: Action, k: Kind, payload: &Value) -> Result<(), Violation> {
    match k {
        Kind::Req => validate_request(a, payload),
        Kind::Conf => validate_response(a, payload),
    }
}

fn valid_cases() -> Vec<(Action, Kind, Value)> {
    let v: Vec<(String, String, Value)> = serde_json::from_str(include_str!("data/valid.json")).unwrap();
    v.into_iter().map(|(a, k, p)| (action(&a), kind(&k), p)).collect()
}

fn invalid_cases() -> Vec<(Action, Kind, Value, ErrorCode, String)> {
    let v: Vec<(String, String, Value, String, String)> =
        serde_json::from_str(include_str!("data/invalid.json")).unwrap();
    v.into_iter().map(|(a, k, p, c, d)| (action(&a), kind(&k), p, c.parse().expect("error code"), d)).collect()
}

/// Typed round trip: payload → T → JSON → validates → T again, equal.
fn round_trip<T: Serialize + DeserializeOwned + PartialEq + Debug>(a: Action, k: Kind, payload: &Value) {
    let typed: T = parse_response(payload).unwrap_or_else(|e| panic!("{a} {k:?}: {e}"));
    let again = serde_json::to_value(&typed).unwrap();
    validate(a, k, &again).unwrap_or_else(|e| panic!("{a} {k:?} re-serialized {again}: {e}"));
    let typed2: T = parse_response(&again).unwrap();
    assert_eq!(typed, typed2, "{a} {k:?}");
    // Also readable with plain serde_json.
    let typed3: T = serde_json::from_value(again.clone()).unwrap();
    assert_eq!(typed, typed3, "{a} {k:?}");
    // The same fields come back (numbers may change from 32 to 32.0, dates to UTC millis).
    assert_eq!(keys(payload), keys(&again), "{a} {k:?}");
}

fn keys(v: &Value) -> BTreeSet<String> {
    fn walk(v: &Value, prefix: &str, out: &mut BTreeSet<String>) {
        match v {
            Value::Object(m) => {
                for (k, v) in m {
                    let p = format!("{prefix}.{k}");
                    out.insert(p.clone());
                    walk(v, &p, out);
                }
            }
            Value::Array(a) => {
                for (i, v) in a.iter().enumerate() {
                    walk(v, &format!("{prefix}[{i}]"), out);
                }
            }
            _ => {}
        }
    }
    let mut out = BTreeSet::new();
    walk(v, "", &mut out);
    out
}

macro_rules! typed_dispatch {
    ($a:expr, $k:expr, $p:expr; $( $name:ident => $req:ident, $conf:ident; )*) => {
        match ($a, $k) {
            $(
                (Action::$name, Kind::Req) => round_trip::<$req>($a, $k, $p),
                (Action::$name, Kind::Conf) => round_trip::<$conf>($a, $k, $p),
            )*
        }
    };
}

fn typed_round_trip(a: Action, k: Kind, p: &Value) {
    typed_dispatch! { a, k, p;
        Authorize => AuthorizeReq, AuthorizeConf;
        BootNotification => BootNotificationReq, BootNotificationConf;
        DataTransfer => DataTransferReq, DataTransferConf;
        Heartbeat => HeartbeatReq, HeartbeatConf;
        MeterValues => MeterValuesReq, MeterValuesConf;
        StartTransaction => StartTransactionReq, StartTransactionConf;
        StatusNotification => StatusNotificationReq, StatusNotificationConf;
        StopTransaction => StopTransactionReq, StopTransactionConf;
        ChangeAvailability => ChangeAvailabilityReq, ChangeAvailabilityConf;
        ChangeConfiguration => ChangeConfigurationReq, ChangeConfigurationConf;
        ClearCache => ClearCacheReq, ClearCacheConf;
        GetConfiguration => GetConfigurationReq, GetConfigurationConf;
        RemoteStartTransaction => RemoteStartTransactionReq, RemoteStartTransactionConf;
        RemoteStopTransaction => RemoteStopTransactionReq, RemoteStopTransactionConf;
        Reset => ResetReq, ResetConf;
        UnlockConnector => UnlockConnectorReq, UnlockConnectorConf;
        DiagnosticsStatusNotification => DiagnosticsStatusNotificationReq, DiagnosticsStatusNotificationConf;
        FirmwareStatusNotification => FirmwareStatusNotificationReq, FirmwareStatusNotificationConf;
        GetDiagnostics => GetDiagnosticsReq, GetDiagnosticsConf;
        UpdateFirmware => UpdateFirmwareReq, UpdateFirmwareConf;
        GetLocalListVersion => GetLocalListVersionReq, GetLocalListVersionConf;
        SendLocalList => SendLocalListReq, SendLocalListConf;
        CancelReservation => CancelReservationReq, CancelReservationConf;
        ReserveNow => ReserveNowReq, ReserveNowConf;
        ClearChargingProfile => ClearChargingProfileReq, ClearChargingProfileConf;
        GetCompositeSchedule => GetCompositeScheduleReq, GetCompositeScheduleConf;
        SetChargingProfile => SetChargingProfileReq, SetChargingProfileConf;
        TriggerMessage => TriggerMessageReq, TriggerMessageConf;
    }
}

#[test]
fn every_action_has_valid_request_and_response_examples() {
    let cases = valid_cases();
    for a in Action::ALL {
        for k in [Kind::Req, Kind::Conf] {
            assert!(cases.iter().any(|(ca, ck, _)| ca == a && *ck == k), "no valid {a} {k:?}");
        }
    }
}

#[test]
fn valid_examples_validate() {
    for (a, k, p) in valid_cases() {
        if let Err(e) = validate(a, k, &p) {
            panic!("{a} {k:?} {p}: {e}");
        }
    }
}

#[test]
fn valid_examples_round_trip_through_the_typed_structs() {
    for (a, k, p) in valid_cases() {
        typed_round_trip(a, k, &p);
    }
}

#[test]
fn invalid_examples_get_their_error_code_and_name_the_field() {
    let mut failures = Vec::new();
    for (a, k, p, code, part) in invalid_cases() {
        match validate(a, k, &p) {
            Ok(()) => failures.push(format!("{a} {k:?} {p}: accepted, expected {code}")),
            Err(v) if v.code != code || !v.description.contains(&part) => {
                failures.push(format!("{a} {k:?} {p}: got {v}, expected {code} with {part:?}"))
            }
            Err(_) => {}
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_action_has_invalid_examples_for_each_error_code() {
    use ErrorCode::*;
    let mut seen: HashMap<Action, BTreeSet<&'static str>> = HashMap::new();
    for (a, _, _, code, _) in invalid_cases() {
        seen.entry(a).or_default().insert(code.as_str());
    }
    let mut missing = Vec::new();
    for a in Action::ALL {
        for code in
            [FormationViolation, OccurenceConstraintViolation, TypeConstraintViolation, PropertyConstraintViolation]
        {
            if !seen.get(a).is_some_and(|s| s.contains(code.as_str())) {
                missing.push(format!("{a}: no invalid example for {code}"));
            }
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}

/// Mutations of every valid example: an extra field, each field removed, each field of
/// the wrong JSON type.
#[test]
fn mutations_of_valid_examples() {
    for (a, k, p) in valid_cases() {
        let Value::Object(m) = &p else { panic!() };
        let mut extra = m.clone();
        extra.insert("notInTheSchema".into(), json!(1));
        let e = validate(a, k, &Value::Object(extra)).unwrap_err();
        assert_eq!(e.code, ErrorCode::FormationViolation, "{a} {k:?}: {e}");
        assert!(e.description.contains("`notInTheSchema`"), "{e}");

        for key in m.keys() {
            let mut less = m.clone();
            less.remove(key);
            if let Err(e) = validate(a, k, &Value::Object(less)) {
                assert_eq!(e.code, ErrorCode::OccurenceConstraintViolation, "{a} {k:?} without {key}: {e}");
                assert_eq!(e.description, format!("missing field `{key}`"));
            }

            let wrong = match &m[key] {
                Value::String(_) => vec![json!(1), json!(null), json!(["x"])],
                Value::Number(_) => vec![json!("1"), json!(true), json!(null)],
                Value::Bool(_) => vec![json!("true"), json!(0)],
                Value::Array(_) => vec![json!({}), json!("x"), json!(null)],
                Value::Object(_) => vec![json!([]), json!("x"), json!(1)],
                Value::Null => unreachable!(),
            };
            for w in wrong {
                let mut changed = m.clone();
                changed.insert(key.clone(), w.clone());
                let e = validate(a, k, &Value::Object(changed)).unwrap_err();
                assert_eq!(e.code, ErrorCode::TypeConstraintViolation, "{a} {k:?} {key}={w}: {e}");
                assert!(e.description.starts_with(&format!("{key}: expected ")), "{e}");
            }
        }
    }
}

#[test]
fn payloads_that_are_not_objects_are_type_violations() {
    for a in Action::ALL {
        for p in [json!([]), json!("x"), json!(null), json!(1)] {
            assert_eq!(validate_request(*a, &p).unwrap_err().code, ErrorCode::TypeConstraintViolation, "{a} {p}");
            assert_eq!(validate_response(*a, &p).unwrap_err().code, ErrorCode::TypeConstraintViolation, "{a} {p}");
        }
    }
}

#[test]
fn request_trait_names_the_action() {
    fn check<T: Request>(a: Action) {
        assert_eq!(T::ACTION, a);
    }
    check::<AuthorizeReq>(Action::Authorize);
    check::<BootNotificationReq>(Action::BootNotification);
    check::<MeterValuesReq>(Action::MeterValues);
    check::<SetChargingProfileReq>(Action::SetChargingProfile);
    check::<TriggerMessageReq>(Action::TriggerMessage);
    check::<GetLocalListVersionReq>(Action::GetLocalListVersion);

    let req: BootNotificationReq =
        parse_request(&json!({"chargePointVendor": "VendorX", "chargePointModel": "M1"})).unwrap();
    assert_eq!(req.charge_point_vendor, "vendorx");
    assert_eq!(req.charge_point_vendor.as_str(), "VendorX");
    let conf: <BootNotificationReq as Request>::Response =
        parse_response(&json!({"status": "Accepted", "currentTime": "2026-11-23T10:15:02Z", "interval": 300})).unwrap();
    assert_eq!(conf.status, RegistrationStatus::Accepted);
}

#[test]
fn constructed_messages_serialize_to_valid_payloads() {
    let now = DateTime::now();
    let boot = BootNotificationConf { status: RegistrationStatus::Accepted, current_time: now, interval: 300 };
    let v = serde_json::to_value(&boot).unwrap();
    validate_response(Action::BootNotification, &v).unwrap();
    assert!(v["currentTime"].as_str().unwrap().ends_with('Z'));
    assert_eq!(v["currentTime"].as_str().unwrap().len(), "2026-11-23T10:15:02.123Z".len());

    let composite = GetCompositeScheduleConf {
        status: GetCompositeScheduleStatus::Rejected,
        connector_id: None,
        schedule_start: None,
        charging_schedule: None,
    };
    let v = serde_json::to_value(&composite).unwrap();
    assert_eq!(v, json!({"status": "Rejected"}), "None fields are left out, never null");
    validate_response(Action::GetCompositeSchedule, &v).unwrap();

    let profile = SetChargingProfileReq {
        connector_id: 1,
        cs_charging_profiles: ChargingProfile {
            charging_profile_id: 1,
            transaction_id: None,
            stack_level: 0,
            charging_profile_purpose: ChargingProfilePurposeType::TxDefaultProfile,
            charging_profile_kind: ChargingProfileKindType::Absolute,
            recurrency_kind: None,
            valid_from: Some(now),
            valid_to: None,
            charging_schedule: ChargingSchedule {
                duration: None,
                start_schedule: None,
                charging_rate_unit: ChargingRateUnitType::A,
                charging_schedule_period: vec![ChargingSchedulePeriod {
                    start_period: 0,
                    limit: 7.4,
                    number_phases: None,
                }],
                min_charging_rate: None,
            },
        },
    };
    validate_request(Action::SetChargingProfile, &serde_json::to_value(&profile).unwrap()).unwrap();

    let stop = StopTransactionReq {
        id_tag: Some(IdToken::new("04E91C5A123480").unwrap()),
        meter_stop: 1000,
        timestamp: now,
        transaction_id: 5,
        reason: Some(Reason::Local),
        transaction_data: Some(vec![MeterValue {
            timestamp: now,
            sampled_value: vec![SampledValue {
                value: "1000".into(),
                context: Some(ReadingContext::TransactionEnd),
                format: None,
                measurand: Some(Measurand::EnergyActiveImportRegister),
                phase: None,
                location: None,
                unit: Some(UnitOfMeasure::Wh),
            }],
        }]),
    };
    let v = serde_json::to_value(&stop).unwrap();
    validate_request(Action::StopTransaction, &v).unwrap();
    assert_eq!(v["transactionData"][0]["sampledValue"][0]["context"], "Transaction.End");

    for empty in [
        serde_json::to_value(HeartbeatReq {}).unwrap(),
        serde_json::to_value(MeterValuesConf {}).unwrap(),
        serde_json::to_value(GetConfigurationReq::default()).unwrap(),
    ] {
        assert_eq!(empty, json!({}));
    }
    assert_eq!(serde_json::to_value(ResetReq { kind: ResetType::Hard }).unwrap(), json!({"type": "Hard"}));
}

#[test]
fn lenient_date_times_are_accepted_and_sent_back_as_utc_millis() {
    for (sent, normal) in [
        ("2026-11-23T10:15:02Z", "2026-11-23T10:15:02.000Z"),
        ("2026-11-23T10:15:02.123456Z", "2026-11-23T10:15:02.123Z"),
        ("2026-11-23T11:15:02+01:00", "2026-11-23T10:15:02.000Z"),
        ("2026-11-23T11:15:02.5+0100", "2026-11-23T10:15:02.500Z"),
        ("2026-11-23T10:15:02", "2026-11-23T10:15:02.000Z"),
        ("2026-11-23T10:15:02.7", "2026-11-23T10:15:02.700Z"),
    ] {
        let p = json!({"connectorId": 1, "errorCode": "NoError", "status": "Available", "timestamp": sent});
        let req: StatusNotificationReq = parse_request(&p).unwrap_or_else(|e| panic!("{sent}: {e}"));
        let back = serde_json::to_value(&req).unwrap();
        assert_eq!(back["timestamp"], normal, "{sent}");
    }
}

#[test]
fn sampled_values_read_as_numbers() {
    let p = json!({"connectorId": 1, "meterValue": [{"timestamp": "2026-11-23T10:20:00Z", "sampledValue": [
        {"value": "12345.6"}, {"value": "abc", "measurand": "Power.Active.Import", "unit": "kW"},
        {"value": "1", "format": "SignedData"}]}]});
    let req: MeterValuesReq = parse_request(&p).unwrap();
    let sv = &req.meter_value[0].sampled_value;
    assert_eq!(sv[0].numeric_value(), Some(12345.6));
    assert_eq!(sv[0].measurand_or_default(), Measurand::EnergyActiveImportRegister);
    assert_eq!(sv[0].unit_or_default(), UnitOfMeasure::Wh);
    assert_eq!(sv[1].numeric_value(), None);
    assert_eq!(sv[1].unit_or_default(), UnitOfMeasure::KW);
    assert_eq!(sv[2].numeric_value(), None);
}

#[test]
fn meter_values_validation_is_fast() {
    let p = json!({"connectorId": 1, "transactionId": 1234, "meterValue": [{"timestamp": "2026-11-23T10:20:00.000Z", "sampledValue": [
        {"value": "12345.6", "context": "Sample.Periodic", "format": "Raw", "measurand": "Energy.Active.Import.Register", "location": "Outlet", "unit": "Wh"},
        {"value": "7360", "context": "Sample.Periodic", "measurand": "Power.Active.Import", "unit": "W"},
        {"value": "16.02", "measurand": "Current.Import", "phase": "L1", "unit": "A"},
        {"value": "230.4", "measurand": "Voltage", "phase": "L1-N", "unit": "V"}]}]});
    let n = 20_000;
    let start = std::time::Instant::now();
    for _ in 0..n {
        validate_request(Action::MeterValues, std::hint::black_box(&p)).unwrap();
    }
    let per = start.elapsed() / n;
    eprintln!("MeterValues validation: {per:?} per payload");
    // Generous bound: unoptimized test builds on a shared machine.
    assert!(per < std::time::Duration::from_micros(100), "{per:?}");
}
