//! The central system's answers to charger-initiated CALLs, with lasting effect in the
//! state store. One function per action; [`Csms::handle`] is the routing table.
//! Payloads arrive validated by the protocol layer.

mod charger;

use crate::gateway::{CallFailure, CallHandler};
use crate::state::{self, StateError, StateStore};
use chargewatch_ocpp::messages::MeterValuesReq;
use chargewatch_ocpp::{Action, ErrorCode};
use foldhash::HashSet;
use serde_json::Value;
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// Policies of the central system (documented in README).
#[derive(Debug, Clone)]
pub struct CsmsConfig {
    pub heartbeat_interval: Duration,
    /// Let stations that nobody registered boot (they are registered on first boot).
    pub accept_unknown_stations: bool,
    /// Answer `Accepted` for id tags that are not in the id-tag store (default: `Invalid`).
    pub accept_unknown_id_tags: bool,
}

impl Default for CsmsConfig {
    fn default() -> Self {
        CsmsConfig {
            heartbeat_interval: Duration::from_secs(300),
            accept_unknown_stations: false,
            accept_unknown_id_tags: false,
        }
    }
}

#[derive(Clone)]
pub struct Csms {
    pub state: StateStore,
    pub config: CsmsConfig,
    /// Stations known to be registered (registration is never taken back), so the check
    /// costs no store round trip on every frame.
    registered: Arc<RwLock<HashSet<String>>>,
}

impl Csms {
    pub fn new(state: StateStore, config: CsmsConfig) -> Csms {
        Csms { state, config, registered: Arc::default() }
    }

    /// Refuses a station that is not registered (except its BootNotification) and marks it
    /// seen.
    async fn admit(&self, station_id: &str, action: Action) -> Result<(), CallFailure> {
        if action != Action::BootNotification && !self.is_registered(station_id).await? {
            return Err(CallFailure::new(
                ErrorCode::SecurityError,
                "station is not registered: send BootNotification after an operator registers it",
            ));
        }
        self.state.mark_seen(station_id, action == Action::Heartbeat);
        Ok(())
    }

    async fn is_registered(&self, station_id: &str) -> Result<bool, CallFailure> {
        if self.registered.read().unwrap_or_else(|p| p.into_inner()).contains(station_id) {
            return Ok(true);
        }
        let sid = station_id.to_string();
        let yes = self.state.run(move |c| Ok(state::stations::find(c, &sid)?.is_some_and(|s| s.registered))).await?;
        if yes {
            self.registered.write().unwrap_or_else(|p| p.into_inner()).insert(station_id.to_string());
        }
        Ok(yes)
    }
}

impl From<StateError> for CallFailure {
    fn from(e: StateError) -> Self {
        tracing::error!(error = %e, "state store failed while answering a charger");
        CallFailure::new(ErrorCode::InternalError, "the central system could not store this message; retry")
    }
}

#[async_trait::async_trait]
impl CallHandler for Csms {
    async fn connected(&self, station_id: &str) {
        let id = station_id.to_string();
        let _ = self.state.run(move |c| state::stations::set_connected(c, &id, true)).await;
    }

    async fn disconnected(&self, station_id: &str) {
        let id = station_id.to_string();
        let _ = self.state.run(move |c| state::stations::set_connected(c, &id, false)).await;
    }

    async fn handle(&self, station_id: &str, action: Action, payload: Arc<Value>) -> Result<Value, CallFailure> {
        use charger::*;
        self.admit(station_id, action).await?;
        if action == Action::Heartbeat {
            return Ok(heartbeat());
        }
        let id = station_id.to_string();
        let cfg = self.config.clone();
        let one_write = action == Action::MeterValues && meter_values_is_one_write(&payload);
        let job = move |c: &mut rusqlite::Connection| {
            let out = match action {
                Action::BootNotification => boot_notification(c, &id, &payload, &cfg),
                Action::StatusNotification => status_notification(c, &id, &payload),
                Action::Authorize => authorize(c, &payload, &cfg),
                Action::StartTransaction => start_transaction(c, &id, &payload, &cfg),
                Action::StopTransaction => stop_transaction(c, &id, &payload, &cfg),
                Action::MeterValues => meter_values(c, &id, &payload),
                Action::DataTransfer => data_transfer(c, &id, &payload),
                Action::DiagnosticsStatusNotification => diagnostics_status(c, &id, &payload),
                Action::FirmwareStatusNotification => firmware_status(c, &id, &payload),
                other => {
                    return Ok(Err(CallFailure::new(
                        ErrorCode::NotSupported,
                        format!("{other} is not sent by a charge point"),
                    )))
                }
            };
            if out.is_ok() {
                state::profiles::on_charger_call(c, &id, action, &payload)?;
            }
            out.map(Ok)
        };
        if one_write {
            self.state.run_one_write(job).await?
        } else {
            self.state.run(job).await?
        }
    }

    /// The same rows as [`CallHandler::handle`] writes for the request as JSON, without the
    /// JSON. `profiles::on_charger_call` changes nothing for a MeterValues (the test
    /// `one_meter_value_is_one_row_changed` keeps that true), so it is not called.
    async fn handle_meter_values(&self, station_id: &str, request: Arc<MeterValuesReq>) -> Result<Value, CallFailure> {
        self.admit(station_id, Action::MeterValues).await?;
        let id = station_id.to_string();
        let one_write = request.meter_value.len() == 1;
        let job = move |c: &mut rusqlite::Connection| charger::typed_meter_values(c, &id, &request);
        let answer = if one_write { self.state.run_one_write(job).await } else { self.state.run(job).await };
        Ok(answer?)
    }
}
