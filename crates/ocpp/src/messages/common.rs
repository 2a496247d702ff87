//! Types nested in several messages.

use crate::types::*;
use serde::{Deserialize, Serialize};

/// `idTagInfo` of Authorize.conf, StartTransaction.conf, StopTransaction.conf and
/// SendLocalList.req's authorization data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IdTagInfo {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiry_date: Option<DateTime>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_id_tag: Option<IdToken>,
    pub status: AuthorizationStatus,
}

impl IdTagInfo {
    /// An `IdTagInfo` with only a status.
    pub fn with_status(status: AuthorizationStatus) -> Self {
        IdTagInfo { expiry_date: None, parent_id_tag: None, status }
    }
}

/// One `meterValue` of MeterValues.req, one `transactionData` item of StopTransaction.req.
///
/// In MeterValues.req `sampledValue` must hold at least one item (`minItems: 1` there);
/// the StopTransaction schema sets no minimum.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MeterValue {
    pub timestamp: DateTime,
    pub sampled_value: Vec<SampledValue>,
}

/// A `MeterValue` as MeterValues.req defines it: at least one sampled value.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct MeterValueNonEmpty {
    timestamp: DateTime,
    #[serde(deserialize_with = "de_non_empty")]
    sampled_value: Vec<SampledValue>,
}

/// `deserialize_with` for MeterValues.req's `meterValue`: at least one item, each with at
/// least one sampled value.
pub(crate) fn de_meter_values<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<MeterValue>, D::Error> {
    let v: Vec<MeterValueNonEmpty> = de_non_empty(d)?;
    Ok(v.into_iter().map(|m| MeterValue { timestamp: m.timestamp, sampled_value: m.sampled_value }).collect())
}

/// One `sampledValue`. `value` is a string on the wire (it may be signed data).
///
/// [`sampled_values_json`] writes the same JSON as this type's `Serialize` by hand: a new
/// field goes into both (and into their test).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SampledValue {
    pub value: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<ReadingContext>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<ValueFormat>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub measurand: Option<Measurand>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phase: Option<Phase>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<UnitOfMeasure>,
}

impl SampledValue {
    /// The measurand, defaulting to `Energy.Active.Import.Register` as OCPP 1.6 does.
    pub fn measurand_or_default(&self) -> Measurand {
        self.measurand.unwrap_or(Measurand::EnergyActiveImportRegister)
    }

    /// The unit, defaulting to `Wh` as OCPP 1.6 does.
    pub fn unit_or_default(&self) -> UnitOfMeasure {
        self.unit.unwrap_or(UnitOfMeasure::Wh)
    }

    /// The value as a number, unless it is signed data or not numeric.
    pub fn numeric_value(&self) -> Option<f64> {
        if self.format == Some(ValueFormat::SignedData) {
            return None;
        }
        self.value.trim().parse().ok().filter(|x: &f64| x.is_finite())
    }
}

/// `serde_json::to_string(values)`, written by hand: the same text, byte for byte
/// (`sampled_values_json_is_serde_json_s_text`). The enumerations' spellings need no
/// escaping, so only `value` goes through `serde_json`'s string escaper, and only when it
/// holds a character that needs one. The state store keeps every MeterValues' sampled
/// values as this text; through `serde_json` it cost ~7,900 instructions per MeterValues of
/// four sampled values, most of them escaping strings that never need it.
pub fn sampled_values_json(values: &[SampledValue]) -> String {
    let mut out = String::with_capacity(values.len() * 112 + 2);
    out.push('[');
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"value\":");
        push_json_str(&mut out, &v.value);
        let fields = [
            ("context", v.context.map(ReadingContext::as_str)),
            ("format", v.format.map(ValueFormat::as_str)),
            ("measurand", v.measurand.map(Measurand::as_str)),
            ("phase", v.phase.map(Phase::as_str)),
            ("location", v.location.map(Location::as_str)),
            ("unit", v.unit.map(UnitOfMeasure::as_str)),
        ];
        for (name, spelling) in fields {
            if let Some(spelling) = spelling {
                out.push_str(",\"");
                out.push_str(name);
                out.push_str("\":\"");
                out.push_str(spelling);
                out.push('"');
            }
        }
        out.push('}');
    }
    out.push(']');
    out
}

/// `s` as a JSON string; `serde_json` escapes it when it holds `"`, `\\` or a control
/// character.
fn push_json_str(out: &mut String, s: &str) {
    if s.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20) {
        out.push_str(&serde_json::to_string(s).expect("a string always serializes"));
    } else {
        out.push('"');
        out.push_str(s);
        out.push('"');
    }
}

/// A charging profile (`chargingProfile` of RemoteStartTransaction.req,
/// `csChargingProfiles` of SetChargingProfile.req).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChargingProfile {
    pub charging_profile_id: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<i32>,
    pub stack_level: i32,
    pub charging_profile_purpose: ChargingProfilePurposeType,
    pub charging_profile_kind: ChargingProfileKindType,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recurrency_kind: Option<RecurrencyKindType>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<DateTime>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid_to: Option<DateTime>,
    pub charging_schedule: ChargingSchedule,
}

/// A charging schedule. `minChargingRate` and each period's `limit` must be multiples of
/// 0.1 (`multipleOf: 0.1`), checked with a tolerance for binary floating point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChargingSchedule {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_schedule: Option<DateTime>,
    pub charging_rate_unit: ChargingRateUnitType,
    pub charging_schedule_period: Vec<ChargingSchedulePeriod>,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "de_opt_tenths")]
    pub min_charging_rate: Option<Decimal>,
}

/// One period of a charging schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChargingSchedulePeriod {
    pub start_period: i32,
    #[serde(deserialize_with = "de_tenths")]
    pub limit: Decimal,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number_phases: Option<i32>,
}

/// One `configurationKey` of GetConfiguration.conf.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KeyValue {
    pub key: CiString50,
    pub readonly: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<CiString500>,
}

/// One `localAuthorizationList` item of SendLocalList.req.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuthorizationData {
    pub id_tag: IdToken,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_tag_info: Option<IdTagInfo>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `n`th value of an enumeration's `ALL`, or none for one step in `ALL.len() + 1`.
    fn pick<T: Copy>(all: &[T], n: usize) -> Option<T> {
        all.get(n % (all.len() + 1)).copied()
    }

    #[test]
    fn sampled_values_json_is_serde_json_s_text() {
        let texts = [
            "12345.6",
            "",
            "-0.5",
            "a \"quoted\" value",
            "back\\slash",
            "tab\there",
            "nul\u{0}",
            "\u{1f}",
            "del\u{7f}",
            "é ✓ 😀",
            "</script>",
        ];
        let mut values = Vec::new();
        for n in 0..600 {
            values.push(SampledValue {
                value: texts[n % texts.len()].to_owned(),
                context: pick(ReadingContext::ALL, n),
                format: pick(ValueFormat::ALL, n / 3),
                measurand: pick(Measurand::ALL, n / 2),
                phase: pick(Phase::ALL, n / 5),
                location: pick(Location::ALL, n / 7),
                unit: pick(UnitOfMeasure::ALL, n / 11),
            });
        }
        for len in [0, 1, 4] {
            for chunk in values.chunks(len.max(1)).take(200) {
                let chunk = &chunk[..len.min(chunk.len())];
                assert_eq!(sampled_values_json(chunk), serde_json::to_string(chunk).unwrap());
            }
        }
        assert_eq!(sampled_values_json(&values), serde_json::to_string(&values).unwrap());
    }
}
