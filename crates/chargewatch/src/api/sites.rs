//! `/api/v1/sites`: sites, their log levels and id-tag masking.

use super::error::ApiJson;
use super::{ApiError, AppState, Caller};
use crate::state::sites::{self, SiteChange};
use crate::state::Site;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chargewatch_logstore::LogLevel;
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewSite {
    id: String,
    name: String,
    log_level: Option<String>,
    client_id: Option<String>,
    mask_id_tags: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SitePatch {
    name: Option<String>,
    log_level: Option<String>,
    mask_id_tags: Option<bool>,
}

pub fn parse_level(s: Option<&str>) -> Result<Option<LogLevel>, ApiError> {
    s.map(|l| l.parse::<LogLevel>().map_err(ApiError::BadRequest)).transpose()
}

pub fn valid_id(what: &str, id: &str) -> Result<(), ApiError> {
    let ok = !id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    ok.then_some(())
        .ok_or_else(|| ApiError::BadRequest(format!("{what} must be 1 to 64 characters of A-Z, a-z, 0-9, `-` and `_`")))
}

fn valid_name(name: &str) -> Result<(), ApiError> {
    let n = name.trim();
    (!n.is_empty() && n.len() <= 200)
        .then_some(())
        .ok_or_else(|| ApiError::BadRequest("name must be 1 to 200 characters".into()))
}

/// Keeps the in-memory level directory in step with a site.
pub fn sync_levels(app: &AppState, site: &Site) {
    app.levels.set_site(&site.id, &site.name, site.log_level, site.mask_id_tags);
}

pub async fn create(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(b): ApiJson<NewSite>,
) -> Result<(StatusCode, Json<Site>), ApiError> {
    valid_id("site id", &b.id)?;
    valid_name(&b.name)?;
    let level = parse_level(b.log_level.as_deref())?.unwrap_or_default();
    let client = match (caller.client_id(), b.client_id) {
        (Some(own), None) => Some(own.to_string()),
        (Some(own), Some(asked)) if asked == own => Some(own.to_string()),
        (Some(_), Some(_)) => {
            return Err(ApiError::Forbidden("an operator creates sites only for their own client".into()))
        }
        (None, asked) => asked,
    };
    let mask = b.mask_id_tags.unwrap_or(false);
    let site = app
        .state
        .run(move |c| {
            if let Some(client) = &client {
                if !crate::state::accounts::client_exists(c, client)? {
                    return Err(crate::state::StateError::NotFound(format!("client `{client}`")));
                }
            }
            let site = sites::create(c, &b.id, b.name.trim(), level, client.as_deref())?;
            sites::update(c, &site.id, &SiteChange { mask_id_tags: Some(mask), ..Default::default() })
        })
        .await?;
    sync_levels(&app, &site);
    caller
        .audit(
            &app,
            "site.create",
            &site.id,
            json!({"name": site.name, "log_level": site.log_level, "client_id": site.client_id}),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(site)))
}

pub async fn list(State(app): State<AppState>, caller: Caller) -> Result<Json<Vec<Site>>, ApiError> {
    let all = app.state.run(|c| sites::list(c)).await?;
    Ok(Json(all.into_iter().filter(|s| caller.can_see_site(Some(&s.id))).collect()))
}

async fn visible(app: &AppState, caller: &Caller, id: String) -> Result<Site, ApiError> {
    if !caller.can_see_site(Some(&id)) {
        return Err(ApiError::NotFound(format!("site `{id}` does not exist")));
    }
    Ok(app.state.run(move |c| sites::get(c, &id)).await?)
}

pub async fn read(State(app): State<AppState>, caller: Caller, Path(id): Path<String>) -> Result<Json<Site>, ApiError> {
    Ok(Json(visible(&app, &caller, id).await?))
}

pub async fn update(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<SitePatch>,
) -> Result<Json<Site>, ApiError> {
    if let Some(n) = &b.name {
        valid_name(n)?;
    }
    let level = parse_level(b.log_level.as_deref())?;
    let before = visible(&app, &caller, id.clone()).await?;
    let site = app
        .state
        .run(move |c| {
            let change = SiteChange { name: b.name.as_deref().map(str::trim), level, mask_id_tags: b.mask_id_tags };
            sites::update(c, &id, &change)
        })
        .await?;
    sync_levels(&app, &site);
    let detail = json!({
        "log_level": {"from": before.log_level, "to": site.log_level},
        "name": {"from": before.name, "to": site.name},
        "mask_id_tags": {"from": before.mask_id_tags, "to": site.mask_id_tags},
    });
    caller.audit(&app, "site.update", &site.id, detail).await?;
    Ok(Json(site))
}
