//! `POST /api/v1/stations/{id}/commands/{Action}`: central-system-initiated OCPP calls.

use super::{ApiError, AppState, Caller};
use crate::gateway::{CommandError, CommandOutcome, Registry};
use crate::state::{commands, profiles};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::Json;
use chargewatch_ocpp::{validate_request, Action};
use serde_json::{json, Value};

/// Routes a central-system call to the gateway that holds the station's connection.
#[async_trait::async_trait]
pub trait Commands: Send + Sync + 'static {
    /// Whether this process knows the station to be connected; `None` when only the
    /// gateways know (then the state store's record is used).
    fn is_connected(&self, station_id: &str) -> Option<bool>;
    async fn call(&self, station_id: &str, action: Action, payload: Value) -> Result<CommandOutcome, CommandError>;
}

#[async_trait::async_trait]
impl Commands for Registry {
    fn is_connected(&self, station_id: &str) -> Option<bool> {
        Some(Registry::is_connected(self, station_id))
    }

    async fn call(&self, station_id: &str, action: Action, payload: Value) -> Result<CommandOutcome, CommandError> {
        Registry::call(self, station_id, action, payload).await
    }
}

/// Parses and checks a command before anything is sent.
pub fn check_command(action: &str, body: &[u8]) -> Result<(Action, Value), ApiError> {
    let action: Action =
        action.parse().map_err(|_| ApiError::NotFound(format!("`{action}` is not an OCPP 1.6 action")))?;
    if !action.sent_by_central_system() {
        return Err(ApiError::BadRequest(format!("{action} is sent by charging stations, not by the central system")));
    }
    let payload: Value = if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        serde_json::from_slice(body).map_err(|e| ApiError::BadRequest(format!("body is not JSON: {e}")))?
    };
    validate_request(action, &payload)
        .map_err(|v| ApiError::BadRequest(format!("not a valid {action} request: {v}")))?;
    Ok((action, payload))
}

pub async fn send(
    State(app): State<AppState>,
    caller: Caller,
    Path((id, action)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let (action, payload) = check_command(&action, &body)?;
    caller.station(&app, &id).await?;
    if !app.commands.is_connected(&id).unwrap_or(true) {
        return Err(ApiError::Conflict(format!("station `{id}` is not connected")));
    }
    let record = commands::NewCommand {
        station_id: id.clone(),
        action: action.as_str().into(),
        payload: payload.clone(),
        sent_by: caller.name.clone(),
    };
    let cmd_id = app.state.run(move |c| commands::record(c, &record)).await?;
    let request = payload.clone();
    let answer = tokio::time::timeout(app.command_timeout, app.commands.call(&id, action, payload))
        .await
        .unwrap_or(Err(CommandError::Timeout));
    let (outcome, response) = match &answer {
        Ok(CommandOutcome::Result(p)) => ("CALLRESULT", json!({"message_type": "CALLRESULT", "payload": p})),
        Ok(CommandOutcome::Error { code, description, details }) => (
            "CALLERROR",
            json!({"message_type": "CALLERROR", "error_code": code, "error_description": description, "error_details": details}),
        ),
        Err(e) => (command_error_name(e), Value::Null),
    };
    let stored = response.clone();
    let (sid, request) = (id.clone(), request);
    app.state
        .run(move |c| {
            commands::answer(c, cmd_id, outcome, &stored)?;
            match stored.get("payload") {
                Some(result) if outcome == "CALLRESULT" => profiles::apply_result(c, &sid, action, &request, result),
                _ => Ok(()),
            }
        })
        .await?;
    caller.audit(&app, "command.send", &id, json!({"action": action.as_str(), "outcome": outcome})).await?;
    match answer {
        Ok(_) => Ok(Json(response)),
        Err(CommandError::NotConnected | CommandError::Disconnected) => {
            Err(ApiError::Conflict(format!("station `{id}` is not connected")))
        }
        Err(CommandError::QueueFull) => {
            Err(ApiError::TooMany(format!("station `{id}` has too many commands waiting; retry later")))
        }
        Err(CommandError::Timeout) => Err(ApiError::Timeout(format!("station `{id}` did not answer {action} in time"))),
    }
}

fn command_error_name(e: &CommandError) -> &'static str {
    match e {
        CommandError::NotConnected => "NotConnected",
        CommandError::Disconnected => "Disconnected",
        CommandError::QueueFull => "QueueFull",
        CommandError::Timeout => "Timeout",
    }
}

pub async fn history(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Vec<commands::CommandRecord>>, ApiError> {
    caller.station(&app, &id).await?;
    Ok(Json(app.state.run(move |c| commands::list(c, &id, 100)).await?))
}
