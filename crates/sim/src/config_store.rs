//! The charge point's configuration keys (OCPP 1.6 chapter 9), for
//! ChangeConfiguration / GetConfiguration.

use serde_json::{json, Value};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    Int,
    Bool,
    /// Comma separated list.
    Csl,
    Str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigKey {
    pub value: String,
    pub readonly: bool,
    pub ty: KeyType,
}

/// Outcome of ChangeConfiguration (the `status` of ChangeConfiguration.conf).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeResult {
    Accepted,
    Rejected,
    RebootRequired,
    NotSupported,
}

impl ChangeResult {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeResult::Accepted => "Accepted",
            ChangeResult::Rejected => "Rejected",
            ChangeResult::RebootRequired => "RebootRequired",
            ChangeResult::NotSupported => "NotSupported",
        }
    }
}

/// Measurands the simulated meter can sample.
pub const SUPPORTED_MEASURANDS: &[&str] =
    &["Energy.Active.Import.Register", "Power.Active.Import", "Current.Import", "Voltage"];

/// Keys are compared case-insensitively (CiString50); the store keeps the canonical spelling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigStore {
    keys: BTreeMap<String, ConfigKey>,
}

impl ConfigStore {
    /// The standard keys of the profiles the simulator implements.
    pub fn standard(connectors: usize, heartbeat_s: u64, meter_s: u64) -> ConfigStore {
        use KeyType::*;
        let entries: &[(&str, String, bool, KeyType)] = &[
            // Core
            ("AllowOfflineTxForUnknownId", "false".into(), false, Bool),
            ("AuthorizationCacheEnabled", "true".into(), false, Bool),
            ("AuthorizeRemoteTxRequests", "false".into(), false, Bool),
            ("ClockAlignedDataInterval", "0".into(), false, Int),
            ("ConnectionTimeOut", "60".into(), false, Int),
            ("ConnectorPhaseRotation", "0.RST".into(), false, Csl),
            ("ConnectorPhaseRotationMaxLength", "8".into(), true, Int),
            ("GetConfigurationMaxKeys", "50".into(), true, Int),
            ("HeartbeatInterval", heartbeat_s.to_string(), false, Int),
            ("LocalAuthorizeOffline", "true".into(), false, Bool),
            ("LocalPreAuthorize", "false".into(), false, Bool),
            ("MeterValuesAlignedData", "Energy.Active.Import.Register".into(), false, Csl),
            ("MeterValuesAlignedDataMaxLength", "4".into(), true, Int),
            ("MeterValuesSampledData", SUPPORTED_MEASURANDS.join(","), false, Csl),
            ("MeterValuesSampledDataMaxLength", "4".into(), true, Int),
            ("MeterValueSampleInterval", meter_s.to_string(), false, Int),
            ("NumberOfConnectors", connectors.to_string(), true, Int),
            ("ResetRetries", "3".into(), false, Int),
            ("StopTransactionOnEVSideDisconnect", "true".into(), false, Bool),
            ("StopTransactionOnInvalidId", "true".into(), false, Bool),
            ("StopTxnAlignedData", "".into(), false, Csl),
            ("StopTxnAlignedDataMaxLength", "4".into(), true, Int),
            ("StopTxnSampledData", "Energy.Active.Import.Register".into(), false, Csl),
            ("StopTxnSampledDataMaxLength", "4".into(), true, Int),
            (
                "SupportedFeatureProfiles",
                "Core,FirmwareManagement,LocalAuthListManagement,Reservation,SmartCharging,RemoteTrigger".into(),
                true,
                Csl,
            ),
            ("TransactionMessageAttempts", "3".into(), false, Int),
            ("TransactionMessageRetryInterval", "30".into(), false, Int),
            ("UnlockConnectorOnEVSideDisconnect", "true".into(), false, Bool),
            ("WebSocketPingInterval", "0".into(), false, Int),
            // Local Auth List Management
            ("LocalAuthListEnabled", "true".into(), false, Bool),
            ("LocalAuthListMaxLength", "1000".into(), true, Int),
            ("SendLocalListMaxLength", "100".into(), true, Int),
            // Reservation
            ("ReserveConnectorZeroSupported", "false".into(), true, Bool),
            // Smart Charging
            ("ChargeProfileMaxStackLevel", "10".into(), true, Int),
            ("ChargingScheduleAllowedChargingRateUnit", "Current,Power".into(), true, Csl),
            ("ChargingScheduleMaxPeriods", "24".into(), true, Int),
            ("ConnectorSwitch3to1PhaseSupported", "false".into(), true, Bool),
            ("MaxChargingProfilesInstalled", "20".into(), true, Int),
        ];
        let keys = entries
            .iter()
            .map(|(k, v, ro, ty)| (k.to_string(), ConfigKey { value: v.clone(), readonly: *ro, ty: *ty }))
            .collect();
        ConfigStore { keys }
    }

    fn find(&self, key: &str) -> Option<(&String, &ConfigKey)> {
        self.keys.iter().find(|(k, _)| k.eq_ignore_ascii_case(key))
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.find(key).map(|(_, v)| v.value.as_str())
    }

    pub fn get_int(&self, key: &str) -> Option<i64> {
        self.get(key)?.trim().parse().ok()
    }

    pub fn get_bool(&self, key: &str) -> bool {
        self.get(key).is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
    }

    /// ChangeConfiguration: unknown keys are NotSupported, read-only keys and values of
    /// the wrong type are Rejected.
    pub fn change(&mut self, key: &str, value: &str) -> ChangeResult {
        let Some(canon) = self.find(key).map(|(k, _)| k.clone()) else {
            return ChangeResult::NotSupported;
        };
        let entry = self.keys.get_mut(&canon).expect("found above");
        if entry.readonly {
            return ChangeResult::Rejected;
        }
        let v = value.trim();
        let ok = match entry.ty {
            KeyType::Int => v.parse::<i64>().is_ok_and(|n| n >= 0),
            KeyType::Bool => v.eq_ignore_ascii_case("true") || v.eq_ignore_ascii_case("false"),
            KeyType::Csl => {
                if canon.starts_with("MeterValues") || canon.starts_with("StopTxn") {
                    let items: Vec<&str> = v.split(',').map(str::trim).filter(|s| !s.is_empty()).collect();
                    items.len() <= 4 && items.iter().all(|m| SUPPORTED_MEASURANDS.contains(m))
                } else {
                    true
                }
            }
            KeyType::Str => true,
        };
        if !ok || value.chars().count() > 500 {
            return ChangeResult::Rejected;
        }
        entry.value = match entry.ty {
            KeyType::Bool => v.to_ascii_lowercase(),
            _ => v.to_string(),
        };
        ChangeResult::Accepted
    }

    /// Sets a value regardless of the read-only flag (the charge point's own updates).
    pub fn set_internal(&mut self, key: &str, value: &str) {
        if let Some(canon) = self.find(key).map(|(k, _)| k.clone()) {
            if let Some(e) = self.keys.get_mut(&canon) {
                e.value = value.to_string();
            }
        }
    }

    /// GetConfiguration.conf for the requested keys (all keys when `None` or empty).
    pub fn get_configuration(&self, requested: Option<&[String]>) -> Value {
        let entry = |k: &String, v: &ConfigKey| json!({"key": k, "readonly": v.readonly, "value": v.value});
        match requested {
            Some(req) if !req.is_empty() => {
                let mut known = Vec::new();
                let mut unknown = Vec::new();
                for key in req {
                    match self.find(key) {
                        Some((k, v)) => known.push(entry(k, v)),
                        None => unknown.push(Value::String(key.chars().take(50).collect())),
                    }
                }
                let mut out = serde_json::Map::new();
                if !known.is_empty() {
                    out.insert("configurationKey".into(), Value::Array(known));
                }
                if !unknown.is_empty() {
                    out.insert("unknownKey".into(), Value::Array(unknown));
                }
                Value::Object(out)
            }
            _ => json!({"configurationKey": self.keys.iter().map(|(k, v)| entry(k, v)).collect::<Vec<_>>()}),
        }
    }
}
