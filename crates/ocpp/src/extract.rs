//! Where each OCPP 1.6 message keeps its connector, status and error code
//! (SPEC.md, The OCPP Logs table; OCPP-NOTES.md).

use crate::action::Action;
use crate::messages::MeterValuesReq;
use serde_json::Value;

/// The log-relevant fields found in one payload.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extracted {
    pub connector_id: Option<i64>,
    pub status: Option<String>,
    pub error_code: Option<String>,
    /// The transaction the message names (StopTransaction, RemoteStopTransaction,
    /// MeterValues) or starts (StartTransaction.conf), so the connector can be resolved.
    pub transaction_id: Option<i64>,
}

fn int(payload: &Value, key: &str) -> Option<i64> {
    payload.get(key).and_then(Value::as_i64)
}

fn string(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str).map(str::to_string)
}

/// Fields of a CALL payload of `action`.
pub fn extract_request(action: Action, payload: &Value) -> Extracted {
    use Action::*;
    let mut x = Extracted::default();
    match action {
        StatusNotification => {
            x.connector_id = int(payload, "connectorId");
            x.status = string(payload.get("status"));
            x.error_code = string(payload.get("errorCode"));
        }
        DiagnosticsStatusNotification | FirmwareStatusNotification => {
            x.status = string(payload.get("status"));
        }
        StartTransaction
        | UnlockConnector
        | ChangeAvailability
        | ReserveNow
        | SetChargingProfile
        | GetCompositeSchedule
        | RemoteStartTransaction
        | ClearChargingProfile
        | TriggerMessage => {
            x.connector_id = int(payload, "connectorId");
        }
        MeterValues => {
            x.connector_id = int(payload, "connectorId");
            x.transaction_id = int(payload, "transactionId");
        }
        StopTransaction | RemoteStopTransaction => {
            x.transaction_id = int(payload, "transactionId");
        }
        _ => {}
    }
    x
}

/// Fields of a CALLRESULT payload answering a CALL of `action`. The connector of a
/// response is its request's; the caller merges that in.
/// [`extract_request`] of a MeterValues request decoded by the fast path.
pub fn extract_meter_values(request: &MeterValuesReq) -> Extracted {
    Extracted {
        connector_id: Some(i64::from(request.connector_id)),
        transaction_id: request.transaction_id.map(i64::from),
        ..Extracted::default()
    }
}

pub fn extract_response(action: Action, payload: &Value) -> Extracted {
    use Action::*;
    let mut x = Extracted::default();
    match action {
        Authorize | StartTransaction | StopTransaction => {
            x.status = string(payload.get("idTagInfo").and_then(|i| i.get("status")));
            if action == StartTransaction {
                x.transaction_id = int(payload, "transactionId");
            }
        }
        GetCompositeSchedule => {
            x.status = string(payload.get("status"));
            x.connector_id = int(payload, "connectorId");
        }
        Heartbeat
        | MeterValues
        | GetConfiguration
        | GetLocalListVersion
        | GetDiagnostics
        | UpdateFirmware
        | StatusNotification
        | DiagnosticsStatusNotification
        | FirmwareStatusNotification => {}
        _ => x.status = string(payload.get("status")),
    }
    x
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn status_notification_has_connector_status_and_error() {
        let x = extract_request(
            Action::StatusNotification,
            &json!({"connectorId": 2, "status": "Faulted", "errorCode": "GroundFailure"}),
        );
        assert_eq!(x.connector_id, Some(2));
        assert_eq!(x.status.as_deref(), Some("Faulted"));
        assert_eq!(x.error_code.as_deref(), Some("GroundFailure"));
    }

    #[test]
    fn id_tag_info_status_for_authorize_start_stop_responses() {
        for a in [Action::Authorize, Action::StartTransaction, Action::StopTransaction] {
            let x = extract_response(a, &json!({"idTagInfo": {"status": "Blocked"}, "transactionId": 7}));
            assert_eq!(x.status.as_deref(), Some("Blocked"), "{a}");
        }
        let x = extract_response(
            Action::StartTransaction,
            &json!({"idTagInfo": {"status": "Accepted"}, "transactionId": 7}),
        );
        assert_eq!(x.transaction_id, Some(7));
        assert_eq!(extract_response(Action::StopTransaction, &json!({})).status, None);
    }

    #[test]
    fn top_level_status_for_boot_and_cs_initiated_responses() {
        for a in [
            Action::BootNotification,
            Action::RemoteStartTransaction,
            Action::Reset,
            Action::TriggerMessage,
            Action::DataTransfer,
        ] {
            let x = extract_response(a, &json!({"status": "Rejected"}));
            assert_eq!(x.status.as_deref(), Some("Rejected"), "{a}");
        }
        for a in [Action::Heartbeat, Action::GetConfiguration, Action::GetDiagnostics] {
            assert_eq!(extract_response(a, &json!({"status": "X"})).status, None, "{a}");
        }
    }

    #[test]
    fn stop_transaction_names_its_transaction() {
        let x = extract_request(Action::StopTransaction, &json!({"transactionId": 42, "meterStop": 1}));
        assert_eq!((x.connector_id, x.transaction_id), (None, Some(42)));
        let x = extract_request(Action::RemoteStopTransaction, &json!({"transactionId": 43}));
        assert_eq!(x.transaction_id, Some(43));
    }

    #[test]
    fn typed_meter_values_give_the_same_columns_as_json() {
        for payload in [
            json!({"connectorId": 2, "transactionId": 9, "meterValue": [{"timestamp": "2026-01-01T00:00:00Z", "sampledValue": [{"value": "1"}]}]}),
            json!({"connectorId": 0, "meterValue": [{"timestamp": "2026-01-01T00:00:00Z", "sampledValue": [{"value": "1"}]}]}),
        ] {
            let typed: MeterValuesReq = crate::validate::parse_request(&payload).unwrap();
            assert_eq!(extract_meter_values(&typed), extract_request(Action::MeterValues, &payload), "{payload}");
        }
    }
}
