//! Typed requests (`<Action>Req`) and responses (`<Action>Conf`) for the 28 actions of
//! OCPP 1.6's six feature profiles, field for field as the official OCPP 1.6 JSON
//! schemas define them.
//!
//! - Field names are the schemas' (camelCase on the wire); optional fields are `Option`
//!   and are left out when `None`.
//! - Every object of every OCPP 1.6 schema sets `additionalProperties: false`, so every
//!   struct here denies unknown fields.
//! - String limits are [`CiString`](crate::types::CiString)s of the schemas' lengths;
//!   integers are `i32` (OCPP's 32-bit `integer`); dateTimes are
//!   [`DateTime`](crate::types::DateTime).
//!
//! Use [`crate::validate::parse_request`] / [`crate::validate::parse_response`] to read a
//! payload with OCPP-J error codes on failure.

use crate::action::Action;
use serde::de::DeserializeOwned;
use serde::Serialize;

mod common;
mod core_profile;
mod firmware;
mod local_auth;
mod remote_trigger;
mod reservation;
mod smart_charging;

pub use self::common::*;
pub use self::core_profile::*;
pub use self::firmware::*;
pub use self::local_auth::*;
pub use self::remote_trigger::*;
pub use self::reservation::*;
pub use self::smart_charging::*;

/// A request (CALL payload) of an OCPP 1.6 action.
pub trait Request: Serialize + DeserializeOwned {
    /// The action whose CALL carries this payload.
    const ACTION: Action;
    /// The payload of the CALLRESULT that answers it.
    type Response: Serialize + DeserializeOwned;
}

/// Calls `$cb! { Action => Req, Conf; ... }` with all 28 actions.
macro_rules! for_each_message {
    ($cb:ident) => {
        $cb! {
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
    };
}
pub(crate) use for_each_message;

macro_rules! impl_requests {
    ($( $action:ident => $req:ident, $conf:ident; )*) => {
        $(
            impl Request for $req {
                const ACTION: Action = Action::$action;
                type Response = $conf;
            }
        )*
    };
}

for_each_message!(impl_requests);
