//! The Firmware Management profile.

use crate::types::*;
use serde::{Deserialize, Serialize};

/// DiagnosticsStatusNotification.req (charge point → central system).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DiagnosticsStatusNotificationReq {
    pub status: DiagnosticsStatus,
}

/// DiagnosticsStatusNotification.conf (empty).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiagnosticsStatusNotificationConf {}

/// FirmwareStatusNotification.req (charge point → central system).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FirmwareStatusNotificationReq {
    pub status: FirmwareStatus,
}

/// FirmwareStatusNotification.conf (empty).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FirmwareStatusNotificationConf {}

/// GetDiagnostics.req (central system → charge point). `location` is a URI.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GetDiagnosticsReq {
    #[serde(deserialize_with = "de_uri")]
    pub location: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retries: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_interval: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_time: Option<DateTime>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_time: Option<DateTime>,
}

/// GetDiagnostics.conf. No `fileName`: no diagnostics available.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GetDiagnosticsConf {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_name: Option<CiString255>,
}

/// UpdateFirmware.req (central system → charge point). `location` is a URI.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateFirmwareReq {
    #[serde(deserialize_with = "de_uri")]
    pub location: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retries: Option<i32>,
    pub retrieve_date: DateTime,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_interval: Option<i32>,
}

/// UpdateFirmware.conf (empty).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateFirmwareConf {}
