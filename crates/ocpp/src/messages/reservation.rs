//! The Reservation profile.

use crate::types::*;
use serde::{Deserialize, Serialize};

/// CancelReservation.req (central system → charge point).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CancelReservationReq {
    pub reservation_id: i32,
}

/// CancelReservation.conf.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CancelReservationConf {
    pub status: CancelReservationStatus,
}

/// ReserveNow.req (central system → charge point).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReserveNowReq {
    pub connector_id: i32,
    pub expiry_date: DateTime,
    pub id_tag: IdToken,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_id_tag: Option<IdToken>,
    pub reservation_id: i32,
}

/// ReserveNow.conf.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReserveNowConf {
    pub status: ReservationStatus,
}
