//! State of the OCPP 1.6 feature profiles that central-system commands and charger
//! notifications change: configuration keys, availability, firmware and diagnostics jobs,
//! local authorization lists, reservations, charging profiles, composite schedules.

use super::Result;
use chargewatch_ocpp::Action;
use rusqlite::Connection;
use serde_json::Value;

/// Applies the effect of a central-system CALL that the station answered with `response`.
pub fn apply_result(
    _c: &mut Connection,
    _station_id: &str,
    _action: Action,
    _request: &Value,
    _response: &Value,
) -> Result<()> {
    Ok(())
}

/// Applies the effect of a charger-initiated CALL on profile state (e.g. a StartTransaction
/// that uses a reservation, a FirmwareStatusNotification that advances a job).
pub fn on_charger_call(_c: &mut Connection, _station_id: &str, _action: Action, _payload: &Value) -> Result<()> {
    Ok(())
}
