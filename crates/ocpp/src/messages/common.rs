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
/// The state store keeps these in a compact form of its own (`chargewatch::state::sampled`):
/// a new field goes there too.
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
