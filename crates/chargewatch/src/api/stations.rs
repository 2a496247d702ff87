//! `/api/v1/stations`, id tags and transactions.

use super::error::ApiJson;
use super::sites::parse_level;
use super::{ApiError, AppState, Caller};
use crate::logs::levels::StationLevel;
use crate::state::{stations, transactions, IdTag, Station};
use axum::extract::{Path, Query, State};
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// A station as the API shows it: stored state plus live connection state.
#[derive(Serialize)]
pub struct StationView {
    #[serde(flatten)]
    station: Station,
    connected: bool,
    effective_log_level: chargewatch_logstore::LogLevel,
}

fn view(app: &AppState, mut station: Station) -> StationView {
    app.state.overlay_seen(&mut station);
    let connected = app.commands.is_connected(&station.id).unwrap_or(station.connected);
    let effective_log_level = app.levels.effective(&station.id).level;
    StationView { station, connected, effective_log_level }
}

/// Keeps the in-memory level directory in step with a station's stored state.
pub fn sync_levels(app: &AppState, s: &Station) {
    let override_level = s.level_override.zip(s.level_override_until);
    app.levels.set_station(&s.id, StationLevel { site_id: s.site_id.clone(), override_level });
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Assign {
    site_id: Option<String>,
}

pub async fn register(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<Assign>,
) -> Result<Json<StationView>, ApiError> {
    crate::gateway::valid_station_id(&id).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    if !caller.is_admin() {
        if !caller.can_see_site(b.site_id.as_deref()) {
            return Err(ApiError::NotFound(format!("site `{}` does not exist", b.site_id.unwrap_or_default())));
        }
        let sid = id.clone();
        let existing = app.state.run(move |c| stations::find(c, &sid)).await?;
        if existing.is_some_and(|s| !caller.can_see_site(s.site_id.as_deref())) {
            return Err(ApiError::Forbidden(format!("station `{id}` belongs to a site you cannot manage")));
        }
    }
    let site = b.site_id.clone();
    let st = app.state.run(move |c| stations::register(c, &id, b.site_id.as_deref())).await?;
    sync_levels(&app, &st);
    caller.audit(&app, "station.assign", &st.id, json!({"site_id": site})).await?;
    Ok(Json(view(&app, st)))
}

pub async fn list(State(app): State<AppState>, caller: Caller) -> Result<Json<Vec<StationView>>, ApiError> {
    let all = app.state.run(|c| stations::list(c)).await?;
    Ok(Json(all.into_iter().filter(|s| caller.can_see_site(s.site_id.as_deref())).map(|s| view(&app, s)).collect()))
}

pub async fn read(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<StationView>, ApiError> {
    Ok(Json(view(&app, caller.station(&app, &id).await?)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Override {
    level: String,
    /// Until when; or give `minutes`.
    until: Option<DateTime<Utc>>,
    minutes: Option<u32>,
}

pub async fn set_override(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<Override>,
) -> Result<Json<StationView>, ApiError> {
    caller.station(&app, &id).await?;
    let level = parse_level(Some(&b.level))?;
    let until = match (b.until, b.minutes) {
        (Some(t), None) => t,
        (None, Some(m)) if (1..=60 * 24 * 30).contains(&m) => app.levels.now() + chrono::Duration::minutes(m as i64),
        (None, Some(_)) => return Err(ApiError::BadRequest("minutes must be 1 to 43200 (30 days)".into())),
        _ => return Err(ApiError::BadRequest("give exactly one of `until` (RFC 3339) or `minutes`".into())),
    };
    if until <= app.levels.now() {
        return Err(ApiError::BadRequest("`until` is in the past".into()));
    }
    let st = app.state.run(move |c| stations::set_level_override(c, &id, level, Some(until))).await?;
    sync_levels(&app, &st);
    caller.audit(&app, "station.log_level_override", &st.id, json!({"level": level, "until": until})).await?;
    Ok(Json(view(&app, st)))
}

pub async fn clear_override(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<StationView>, ApiError> {
    caller.station(&app, &id).await?;
    let st = app.state.run(move |c| stations::set_level_override(c, &id, None, None)).await?;
    sync_levels(&app, &st);
    caller.audit(&app, "station.log_level_override", &st.id, json!({"level": null})).await?;
    Ok(Json(view(&app, st)))
}

#[derive(Deserialize)]
pub struct Limit {
    limit: Option<usize>,
    hours: Option<i64>,
}

pub async fn transactions(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<Limit>,
) -> Result<Json<Vec<transactions::Transaction>>, ApiError> {
    caller.station(&app, &id).await?;
    let limit = q.limit.unwrap_or(20).min(500);
    let rows = app.state.run(move |c| transactions::recent_transactions(c, &id, limit));
    Ok(Json(rows.await?))
}

pub async fn status_history(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<Limit>,
) -> Result<Json<Vec<stations::StatusChange>>, ApiError> {
    caller.station(&app, &id).await?;
    let since = Utc::now() - chrono::Duration::hours(q.hours.unwrap_or(24).clamp(1, 24 * 31));
    let rows = app.state.run(move |c| stations::status_history(c, &id, since));
    Ok(Json(rows.await?))
}

#[derive(Serialize)]
pub struct TransactionView {
    #[serde(flatten)]
    transaction: transactions::Transaction,
    meter_values: Vec<transactions::MeterValueRow>,
}

pub async fn transaction(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<TransactionView>, ApiError> {
    let view = app.state.run(move |c| {
        let t = transactions::transaction(c, id)?
            .ok_or_else(|| crate::state::StateError::NotFound(format!("transaction {id}")))?;
        let meter_values = transactions::meter_values_of_transaction(c, id)?;
        Ok(TransactionView { transaction: t, meter_values })
    });
    let view = view.await?;
    caller
        .station(&app, &view.transaction.station_id)
        .await
        .map_err(|_| ApiError::NotFound(format!("transaction {id} does not exist")))?;
    Ok(Json(view))
}

pub async fn list_id_tags(State(app): State<AppState>, caller: Caller) -> Result<Json<Vec<IdTag>>, ApiError> {
    caller.require_admin()?;
    Ok(Json(app.state.run(|c| transactions::list_id_tags(c)).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TagBody {
    status: String,
    expiry_date: Option<DateTime<Utc>>,
    parent_id_tag: Option<String>,
}

pub async fn put_id_tag(
    State(app): State<AppState>,
    caller: Caller,
    Path(id_tag): Path<String>,
    ApiJson(b): ApiJson<TagBody>,
) -> Result<Json<IdTag>, ApiError> {
    caller.require_admin()?;
    let tag = IdTag { id_tag, status: b.status, expiry_date: b.expiry_date, parent_id_tag: b.parent_id_tag };
    Ok(Json(app.state.run(move |c| transactions::put_id_tag(c, &tag)).await?))
}
