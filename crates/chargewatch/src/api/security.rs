//! Charger security settings: `PUT`/`GET /api/v1/stations/{id}/security` (admin only).
//! The password is hashed with argon2 before it is stored and is never returned.

use super::error::ApiJson;
use super::{ApiError, AppState, Caller};
use crate::security::auth::{check_password, hash_password};
use crate::security::tls::normalize_fingerprint;
use crate::state::credentials::{self, Credentials};
use axum::extract::{Path, State};
use axum::routing::put;
use axum::{Json, Router};
use serde::{Deserialize, Deserializer};
use serde_json::{json, Value};

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/stations/{id}/security", put(set).get(get))
}

/// Body of `PUT /api/v1/stations/{id}/security`. A field left out keeps its stored value;
/// `null` clears it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecuritySettings {
    pub profile: u8,
    #[serde(default, deserialize_with = "present")]
    pub password: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub certificate_fingerprint: Option<Option<String>>,
}

/// Tells a field given as `null` (`Some(None)`) from one left out (`None`).
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

fn view(station_id: &str, cr: Option<&Credentials>) -> Value {
    json!({
        "station_id": station_id,
        "profile": cr.map(|c| c.profile).unwrap_or(0),
        "password_set": cr.is_some_and(|c| c.password_hash.is_some()),
        "certificate_fingerprint": cr.and_then(|c| c.cert_fingerprint.clone()),
        "updated_at": cr.and_then(|c| chrono::DateTime::from_timestamp_millis(c.updated_at))
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
    })
}

fn check_station_id(id: &str) -> Result<(), ApiError> {
    crate::gateway::valid_station_id(id).map_err(|why| ApiError::BadRequest(why.into()))
}

async fn get(c: Caller, State(app): State<AppState>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    c.require_admin()?;
    check_station_id(&id)?;
    let sid = id.clone();
    let cr = app.state.run(move |conn| credentials::get(conn, &sid)).await?;
    Ok(Json(view(&id, cr.as_ref())))
}

async fn set(
    c: Caller,
    State(app): State<AppState>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<SecuritySettings>,
) -> Result<Json<Value>, ApiError> {
    c.require_admin()?;
    check_station_id(&id)?;
    if body.profile > 3 {
        return Err(ApiError::BadRequest(format!(
            "profile must be 0 (none), 1 (Basic), 2 (TLS + Basic) or 3 (TLS client certificate), not {}",
            body.profile
        )));
    }
    let new_hash = match &body.password {
        Some(Some(p)) => {
            check_password(p).map_err(ApiError::BadRequest)?;
            let p = p.clone();
            let hash = tokio::task::spawn_blocking(move || hash_password(&p)).await.map_err(|_| ApiError::Internal)?;
            Some(Some(hash.map_err(|e| {
                tracing::error!(error = %e, "hashing a station password failed");
                ApiError::Internal
            })?))
        }
        Some(None) => Some(None),
        None => None,
    };
    let new_fp = match &body.certificate_fingerprint {
        Some(Some(f)) => Some(Some(normalize_fingerprint(f).ok_or_else(|| {
            ApiError::BadRequest(
                "certificate_fingerprint must be the SHA-256 of the DER certificate: 64 hex digits".into(),
            )
        })?)),
        Some(None) => Some(None),
        None => None,
    };
    let (sid, profile) = (id.clone(), body.profile);
    let stored = app
        .state
        .run(move |conn| {
            let old = credentials::get(conn, &sid)?;
            let cr = Credentials {
                station_id: sid.clone(),
                profile,
                password_hash: new_hash.unwrap_or_else(|| old.as_ref().and_then(|o| o.password_hash.clone())),
                cert_fingerprint: new_fp.unwrap_or_else(|| old.as_ref().and_then(|o| o.cert_fingerprint.clone())),
                updated_at: crate::state::now_ms(),
            };
            if matches!(profile, 1 | 2) && cr.password_hash.is_none() {
                return Err(crate::state::StateError::Invalid(format!(
                    "security profile {profile} needs a password (16 to 40 characters)"
                )));
            }
            credentials::put(conn, &cr)?;
            Ok(cr)
        })
        .await?;
    let detail = json!({
        "profile": stored.profile,
        "password_changed": body.password.is_some(),
        "certificate_fingerprint": stored.cert_fingerprint,
    });
    c.audit(&app, "station.security", &id, detail).await?;
    Ok(Json(view(&id, Some(&stored))))
}
