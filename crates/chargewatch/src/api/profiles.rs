//! Profile state endpoints (configuration, availability, firmware and diagnostics jobs,
//! local lists, reservations, charging profiles, composite schedules, TriggerMessage
//! results) and the file endpoints stations use.
//!
//! Operator endpoints (bearer token, station visibility as everywhere else):
//! - `GET /api/v1/stations/{id}/profile-state`: everything below in one document;
//! - `GET /api/v1/stations/{id}/{configuration|availability|firmware-jobs|diagnostics-jobs|
//!   local-list|reservations|charging-profiles|composite-schedules|triggers}`: one part each;
//! - `GET /api/v1/stations/{id}/diagnostics/{job_id}/file`: download an uploaded diagnostics file;
//! - `GET /api/v1/firmware`, `PUT|GET|DELETE /api/v1/firmware/{name}`: firmware files (PUT:
//!   the raw file as the body, at most [`FIRMWARE_MAX_BYTES`]).
//!
//! Station endpoints (no token: a charger cannot send one):
//! - `GET /files/firmware/{name}`: the firmware file, for UpdateFirmware's `location`;
//! - `POST` (multipart/form-data, the first file part) or `PUT` (raw body)
//!   `/files/diagnostics/{station_id}[/{file_name}]`: the diagnostics upload for GetDiagnostics'
//!   `location`. Accepted only while the station has an open diagnostics job (see
//!   [`profiles::open_diagnostics_job`]), at most [`DIAGNOSTICS_MAX_BYTES`]; otherwise 404/413.

use super::{ApiError, AppState, Caller};
use crate::state::profiles;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use futures_util::StreamExt;
use serde_json::json;

/// Largest diagnostics upload a station may send, bytes.
pub const DIAGNOSTICS_MAX_BYTES: usize = 50 * 1024 * 1024;
/// Largest firmware file an operator may upload, bytes.
pub const FIRMWARE_MAX_BYTES: usize = 100 * 1024 * 1024;

pub fn routes() -> Router<AppState> {
    let upload = post(upload_diagnostics_multipart)
        .put(upload_diagnostics_raw)
        .layer(DefaultBodyLimit::max(DIAGNOSTICS_MAX_BYTES + 64 * 1024));
    Router::new()
        .route("/api/v1/stations/{id}/profile-state", get(profile_state))
        .route("/api/v1/stations/{id}/configuration", get(configuration))
        .route("/api/v1/stations/{id}/availability", get(availability))
        .route("/api/v1/stations/{id}/firmware-jobs", get(firmware_jobs))
        .route("/api/v1/stations/{id}/diagnostics-jobs", get(diagnostics_jobs))
        .route("/api/v1/stations/{id}/local-list", get(local_list))
        .route("/api/v1/stations/{id}/reservations", get(reservations))
        .route("/api/v1/stations/{id}/charging-profiles", get(charging_profiles))
        .route("/api/v1/stations/{id}/composite-schedules", get(composite_schedules))
        .route("/api/v1/stations/{id}/triggers", get(triggers))
        .route("/api/v1/stations/{id}/diagnostics/{job_id}/file", get(download_diagnostics))
        .route("/api/v1/firmware", get(list_firmware))
        .route("/api/v1/firmware/{name}", get(firmware_info).put(put_firmware).delete(delete_firmware))
        .route("/files/firmware/{name}", get(serve_firmware))
        .route("/files/diagnostics/{station_id}", upload.clone())
        .route("/files/diagnostics/{station_id}/{file_name}", upload)
}

/// Reads one part of a visible station's profile state.
macro_rules! station_part {
    ($name:ident, $ty:ty, |$c:ident, $id:ident| $body:expr) => {
        async fn $name(
            State(app): State<AppState>,
            caller: Caller,
            Path(id): Path<String>,
        ) -> Result<Json<$ty>, ApiError> {
            caller.station(&app, &id).await?;
            let $id = id;
            Ok(Json(app.state.run(move |$c| $body).await?))
        }
    };
}

station_part!(profile_state, profiles::ProfileState, |c, id| profiles::profile_state(c, &id, Utc::now()));
station_part!(configuration, Vec<profiles::ConfigKey>, |c, id| profiles::configuration(c, &id));
station_part!(availability, Vec<profiles::Availability>, |c, id| profiles::availability(c, &id));
station_part!(firmware_jobs, Vec<profiles::FirmwareJob>, |c, id| profiles::firmware_jobs(c, &id, profiles::LIST_LIMIT));
station_part!(diagnostics_jobs, Vec<profiles::DiagnosticsJob>, |c, id| profiles::diagnostics_jobs(
    c,
    &id,
    profiles::LIST_LIMIT
));
station_part!(local_list, profiles::LocalList, |c, id| profiles::local_list(c, &id));
station_part!(reservations, Vec<profiles::Reservation>, |c, id| profiles::reservations(
    c,
    &id,
    Utc::now(),
    profiles::LIST_LIMIT
));
station_part!(charging_profiles, Vec<profiles::StoredChargingProfile>, |c, id| profiles::charging_profiles(c, &id));
station_part!(composite_schedules, Vec<profiles::CompositeSchedule>, |c, id| profiles::composite_schedules(c, &id));
station_part!(triggers, Vec<profiles::TriggerResult>, |c, id| profiles::triggers(c, &id, profiles::LIST_LIMIT));

/// An error of the file endpoints: an [`ApiError`], or a body over the size cap (413).
enum FileError {
    Api(ApiError),
    TooLarge(usize),
}

impl From<ApiError> for FileError {
    fn from(e: ApiError) -> Self {
        FileError::Api(e)
    }
}

impl From<crate::state::StateError> for FileError {
    fn from(e: crate::state::StateError) -> Self {
        FileError::Api(e.into())
    }
}

impl IntoResponse for FileError {
    fn into_response(self) -> Response {
        match self {
            FileError::Api(e) => e.into_response(),
            FileError::TooLarge(max) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                Json(json!({"error": "payload_too_large", "detail": format!("the file is larger than {max} bytes")})),
            )
                .into_response(),
        }
    }
}

/// Reads a raw body of at most `max` bytes.
async fn read_body(headers: &HeaderMap, body: Body, max: usize) -> Result<bytes::Bytes, FileError> {
    let declared =
        headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return Err(FileError::TooLarge(max));
    }
    let mut stream = body.into_data_stream();
    // The declared length only sizes the first allocation, at most 1 MiB: it is not trusted.
    let mut buf = bytes::BytesMut::with_capacity(declared.unwrap_or(0).min(max as u64).min(1 << 20) as usize);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| ApiError::BadRequest("the request body could not be read to its end".into()))?;
        if buf.len() + chunk.len() > max {
            return Err(FileError::TooLarge(max));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

fn content_type(headers: &HeaderMap) -> Option<String> {
    headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_string)
}

/// A file name safe to echo in `Content-Disposition`.
fn safe_name(name: &str) -> String {
    let s: String =
        name.chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')).take(128).collect();
    if s.is_empty() {
        "download".into()
    } else {
        s
    }
}

fn file_response(data: Vec<u8>, content_type: Option<&str>, name: &str, sha256: &str) -> Response {
    let ctype = content_type.unwrap_or("application/octet-stream").to_string();
    (
        [
            (header::CONTENT_TYPE, ctype),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{}\"", safe_name(name))),
            (header::ETAG, format!("\"{sha256}\"")),
        ],
        data,
    )
        .into_response()
}

async fn store_upload(
    app: &AppState,
    station_id: String,
    file_name: Option<String>,
    ctype: Option<String>,
    data: bytes::Bytes,
) -> Result<Response, FileError> {
    let sid = station_id.clone();
    let stored = app
        .state
        .run(move |c| profiles::store_diagnostics_file(c, &sid, file_name.as_deref(), ctype.as_deref(), &data))
        .await
        .map_err(|e| match e {
            crate::state::StateError::NotFound(_) => FileError::Api(ApiError::NotFound(format!(
                "station `{station_id}` has no open diagnostics job; send GetDiagnostics first"
            ))),
            other => other.into(),
        })?;
    tracing::info!(station_id = %station_id, job_id = stored.job_id, size = stored.size, "diagnostics file received");
    Ok((StatusCode::CREATED, Json(stored)).into_response())
}

/// `PUT /files/diagnostics/{station_id}[/{file_name}]`: the raw file as the body.
async fn upload_diagnostics_raw(
    State(app): State<AppState>,
    Path(params): Path<Vec<(String, String)>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, FileError> {
    let (station_id, file_name) = upload_params(params);
    let data = read_body(&headers, body, DIAGNOSTICS_MAX_BYTES).await?;
    store_upload(&app, station_id, file_name, content_type(&headers), data).await
}

/// `POST /files/diagnostics/{station_id}[/{file_name}]`: multipart/form-data; the first
/// part with a file name (else the first part) is the file.
async fn upload_diagnostics_multipart(
    State(app): State<AppState>,
    Path(params): Path<Vec<(String, String)>>,
    mut multipart: Multipart,
) -> Result<Response, FileError> {
    let (station_id, path_name) = upload_params(params);
    let multipart_error = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            FileError::TooLarge(DIAGNOSTICS_MAX_BYTES)
        } else {
            FileError::Api(ApiError::BadRequest(format!("the multipart body could not be read: {}", e.body_text())))
        }
    };
    let mut chosen: Option<(Option<String>, Option<String>, bytes::Bytes)> = None;
    while let Some(field) = multipart.next_field().await.map_err(multipart_error)? {
        let name = field.file_name().map(str::to_string);
        let ctype = field.content_type().map(str::to_string);
        let is_file = name.is_some();
        let data = field.bytes().await.map_err(multipart_error)?;
        if data.len() > DIAGNOSTICS_MAX_BYTES {
            return Err(FileError::TooLarge(DIAGNOSTICS_MAX_BYTES));
        }
        if is_file || chosen.is_none() {
            chosen = Some((name, ctype, data));
        }
        if is_file {
            break;
        }
    }
    let Some((name, ctype, data)) = chosen else {
        return Err(ApiError::BadRequest("the multipart body has no part; send the file as a form field".into()).into());
    };
    store_upload(&app, station_id, name.or(path_name), ctype, data).await
}

fn upload_params(params: Vec<(String, String)>) -> (String, Option<String>) {
    let mut station_id = String::new();
    let mut file_name = None;
    for (k, v) in params {
        match k.as_str() {
            "station_id" => station_id = v,
            "file_name" => file_name = Some(v),
            _ => {}
        }
    }
    (station_id, file_name)
}

async fn download_diagnostics(
    State(app): State<AppState>,
    caller: Caller,
    Path((id, job_id)): Path<(String, i64)>,
) -> Result<Response, ApiError> {
    caller.station(&app, &id).await?;
    let (meta, data) = app.state.run(move |c| profiles::diagnostics_file(c, &id, job_id)).await?;
    let name = meta.file_name.clone().unwrap_or_else(|| format!("diagnostics-{job_id}"));
    Ok(file_response(data, meta.content_type.as_deref(), &name, &meta.sha256))
}

async fn list_firmware(
    State(app): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<profiles::FirmwareFile>>, ApiError> {
    let client = caller.client_id().map(str::to_string);
    Ok(Json(app.state.run(move |c| profiles::list_firmware_files(c, client.as_deref())).await?))
}

fn visible(caller: &Caller, f: &profiles::FirmwareFile) -> bool {
    caller.is_admin() || f.client_id.is_none() || f.client_id.as_deref() == caller.client_id()
}

async fn firmware_info(
    State(app): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<profiles::FirmwareFile>, ApiError> {
    let n = name.clone();
    let info = app.state.run(move |c| profiles::firmware_file_info(c, &n)).await?;
    match info {
        Some(f) if visible(&caller, &f) => Ok(Json(f)),
        _ => Err(ApiError::NotFound(format!("firmware file `{name}` does not exist"))),
    }
}

/// `PUT /api/v1/firmware/{name}`: the raw file as the body.
async fn put_firmware(
    State(app): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, FileError> {
    profiles::valid_firmware_name(&name)?;
    let data = read_body(&headers, body, FIRMWARE_MAX_BYTES).await?;
    if data.is_empty() {
        return Err(ApiError::BadRequest("the body is empty; send the firmware file as the request body".into()).into());
    }
    let (client, by, ctype) = (caller.client_id().map(str::to_string), caller.name.clone(), content_type(&headers));
    let n = name.clone();
    let stored = app
        .state
        .run(move |c| profiles::put_firmware_file(c, &n, client.as_deref(), ctype.as_deref(), &data, &by))
        .await?;
    caller.audit(&app, "firmware.upload", &name, json!({"size": stored.size, "sha256": stored.sha256})).await?;
    Ok((StatusCode::CREATED, Json(stored)).into_response())
}

async fn delete_firmware(
    State(app): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    let (client, n) = (caller.client_id().map(str::to_string), name.clone());
    app.state.run(move |c| profiles::delete_firmware_file(c, &n, client.as_deref())).await?;
    caller.audit(&app, "firmware.delete", &name, json!({})).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /files/firmware/{name}`: no token, for stations.
async fn serve_firmware(State(app): State<AppState>, Path(name): Path<String>) -> Result<Response, ApiError> {
    let n = name.clone();
    let found = app.state.run(move |c| profiles::firmware_file(c, &n)).await?;
    let Some((meta, data)) = found else {
        return Err(ApiError::NotFound(format!("firmware file `{name}` does not exist")));
    };
    Ok(file_response(data, meta.content_type.as_deref(), &meta.name, &meta.sha256))
}
