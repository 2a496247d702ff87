//! The Core profile.

use super::common::*;
use crate::types::*;
use serde::{Deserialize, Serialize};

/// Authorize.req (charge point → central system).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuthorizeReq {
    pub id_tag: IdToken,
}

/// Authorize.conf.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuthorizeConf {
    pub id_tag_info: IdTagInfo,
}

/// BootNotification.req (charge point → central system).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BootNotificationReq {
    pub charge_point_vendor: CiString20,
    pub charge_point_model: CiString20,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub charge_point_serial_number: Option<CiString25>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub charge_box_serial_number: Option<CiString25>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub firmware_version: Option<CiString50>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iccid: Option<CiString20>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub imsi: Option<CiString20>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meter_type: Option<CiString25>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meter_serial_number: Option<CiString25>,
}

/// BootNotification.conf.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BootNotificationConf {
    pub status: RegistrationStatus,
    pub current_time: DateTime,
    /// Heartbeat interval in seconds (retry interval when not accepted).
    pub interval: i32,
}

/// DataTransfer.req (both directions). `data` is a string in the 1.6 schema; a JSON
/// object or array there is a TypeConstraintViolation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DataTransferReq {
    pub vendor_id: CiString255,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<CiString50>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
}

/// DataTransfer.conf.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DataTransferConf {
    pub status: DataTransferStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
}

/// Heartbeat.req (empty).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeartbeatReq {}

/// Heartbeat.conf.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HeartbeatConf {
    pub current_time: DateTime,
}

/// MeterValues.req (charge point → central system). `meterValue` holds at least one
/// item, and each of them at least one sampled value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MeterValuesReq {
    pub connector_id: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<i32>,
    #[serde(deserialize_with = "de_meter_values")]
    pub meter_value: Vec<MeterValue>,
}

/// MeterValues.conf (empty).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeterValuesConf {}

/// StartTransaction.req (charge point → central system).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StartTransactionReq {
    pub connector_id: i32,
    pub id_tag: IdToken,
    /// Meter value in Wh at the start.
    pub meter_start: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reservation_id: Option<i32>,
    pub timestamp: DateTime,
}

/// StartTransaction.conf.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StartTransactionConf {
    pub id_tag_info: IdTagInfo,
    pub transaction_id: i32,
}

/// StatusNotification.req (charge point → central system).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StatusNotificationReq {
    pub connector_id: i32,
    pub error_code: ChargePointErrorCode,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub info: Option<CiString50>,
    pub status: ChargePointStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<DateTime>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vendor_id: Option<CiString255>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vendor_error_code: Option<CiString50>,
}

/// StatusNotification.conf (empty).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusNotificationConf {}

/// StopTransaction.req (charge point → central system).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StopTransactionReq {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_tag: Option<IdToken>,
    /// Meter value in Wh at the end.
    pub meter_stop: i32,
    pub timestamp: DateTime,
    pub transaction_id: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transaction_data: Option<Vec<MeterValue>>,
}

/// StopTransaction.conf.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StopTransactionConf {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_tag_info: Option<IdTagInfo>,
}

/// ChangeAvailability.req (central system → charge point).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChangeAvailabilityReq {
    pub connector_id: i32,
    #[serde(rename = "type")]
    pub kind: AvailabilityType,
}

/// ChangeAvailability.conf.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChangeAvailabilityConf {
    pub status: AvailabilityStatus,
}

/// ChangeConfiguration.req (central system → charge point).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChangeConfigurationReq {
    pub key: CiString50,
    pub value: CiString500,
}

/// ChangeConfiguration.conf.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChangeConfigurationConf {
    pub status: ConfigurationStatus,
}

/// ClearCache.req (empty).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClearCacheReq {}

/// ClearCache.conf.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClearCacheConf {
    pub status: ClearCacheStatus,
}

/// GetConfiguration.req (central system → charge point). No `key`: all keys.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GetConfigurationReq {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<Vec<CiString50>>,
}

/// GetConfiguration.conf.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GetConfigurationConf {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub configuration_key: Option<Vec<KeyValue>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unknown_key: Option<Vec<CiString50>>,
}

/// RemoteStartTransaction.req (central system → charge point).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RemoteStartTransactionReq {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connector_id: Option<i32>,
    pub id_tag: IdToken,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub charging_profile: Option<ChargingProfile>,
}

/// RemoteStartTransaction.conf.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RemoteStartTransactionConf {
    pub status: RemoteStartStopStatus,
}

/// RemoteStopTransaction.req (central system → charge point).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RemoteStopTransactionReq {
    pub transaction_id: i32,
}

/// RemoteStopTransaction.conf.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RemoteStopTransactionConf {
    pub status: RemoteStartStopStatus,
}

/// Reset.req (central system → charge point).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResetReq {
    #[serde(rename = "type")]
    pub kind: ResetType,
}

/// Reset.conf.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResetConf {
    pub status: ResetStatus,
}

/// UnlockConnector.req (central system → charge point).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UnlockConnectorReq {
    pub connector_id: i32,
}

/// UnlockConnector.conf.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UnlockConnectorConf {
    pub status: UnlockStatus,
}
