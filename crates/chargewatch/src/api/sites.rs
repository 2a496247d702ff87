//! `/api/v1/sites`: sites and their log levels.

use super::error::ApiJson;
use super::{ApiError, AppState, Caller};
use crate::state::{sites, Site};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chargewatch_logstore::LogLevel;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewSite {
    id: String,
    name: String,
    log_level: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SitePatch {
    name: Option<String>,
    log_level: Option<String>,
}

pub fn parse_level(s: Option<&str>) -> Result<Option<LogLevel>, ApiError> {
    s.map(|l| l.parse::<LogLevel>().map_err(ApiError::BadRequest)).transpose()
}

fn valid_site_id(id: &str) -> Result<(), ApiError> {
    let ok = !id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    ok.then_some(())
        .ok_or_else(|| ApiError::BadRequest("site id must be 1 to 64 characters of A-Z, a-z, 0-9, `-` and `_`".into()))
}

fn valid_name(name: &str) -> Result<(), ApiError> {
    let n = name.trim();
    (!n.is_empty() && n.len() <= 200)
        .then_some(())
        .ok_or_else(|| ApiError::BadRequest("name must be 1 to 200 characters".into()))
}

pub async fn create(
    State(app): State<AppState>,
    _c: Caller,
    ApiJson(b): ApiJson<NewSite>,
) -> Result<(StatusCode, Json<Site>), ApiError> {
    valid_site_id(&b.id)?;
    valid_name(&b.name)?;
    let level = parse_level(b.log_level.as_deref())?.unwrap_or_default();
    let site = app.state.run(move |c| sites::create(c, &b.id, b.name.trim(), level)).await?;
    app.levels.set_site(&site.id, &site.name, site.log_level);
    Ok((StatusCode::CREATED, Json(site)))
}

pub async fn list(State(app): State<AppState>, _c: Caller) -> Result<Json<Vec<Site>>, ApiError> {
    Ok(Json(app.state.run(|c| sites::list(c)).await?))
}

pub async fn read(State(app): State<AppState>, _c: Caller, Path(id): Path<String>) -> Result<Json<Site>, ApiError> {
    Ok(Json(app.state.run(move |c| sites::get(c, &id)).await?))
}

pub async fn update(
    State(app): State<AppState>,
    _c: Caller,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<SitePatch>,
) -> Result<Json<Site>, ApiError> {
    if let Some(n) = &b.name {
        valid_name(n)?;
    }
    let level = parse_level(b.log_level.as_deref())?;
    let site = app.state.run(move |c| sites::update(c, &id, b.name.as_deref().map(str::trim), level)).await?;
    app.levels.set_site(&site.id, &site.name, site.log_level);
    Ok(Json(site))
}
