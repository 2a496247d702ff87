//! `/api/v1/logs`: the OCPP Logs table, its live tail and its export.

use super::{ApiError, AppState, Caller};
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::header;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chargewatch_logstore::query::MAX_LIMIT;
use chargewatch_logstore::{Cursor, LogQuery, LogRecord};
use chrono::{DateTime, SecondsFormat, Utc};
use futures_util::Stream;
use serde_json::{json, Value};
use std::convert::Infallible;
use tokio::sync::broadcast::error::RecvError;

/// Parses the log filters of SPEC.md from a query string. Every mistake is named.
pub fn parse_log_query(raw: &str) -> Result<LogQuery, String> {
    let mut q = LogQuery::default();
    for (k, v) in form_urlencoded::parse(raw.as_bytes()) {
        let v = v.trim().to_string();
        if v.is_empty() {
            continue;
        }
        match k.as_ref() {
            "site_id" => q.site_ids.get_or_insert_with(Vec::new).push(v),
            "station_id" => q.station_id = Some(v),
            "connector_id" => {
                q.connector_id = Some(v.parse().map_err(|_| format!("connector_id must be an integer, not `{v}`"))?)
            }
            "action" => q.actions.extend(v.split(',').map(|a| a.trim().to_string()).filter(|a| !a.is_empty())),
            "status" => q.status = Some(v),
            "error_code" => q.error_code = Some(v),
            "direction" => q.direction = Some(v.parse()?),
            "message_type" => {
                let m = v.to_uppercase();
                if !chargewatch_logstore::record::MESSAGE_TYPES.contains(&m.as_str()) {
                    return Err(format!("message_type must be CALL, CALLRESULT, CALLERROR or EVENT, not `{v}`"));
                }
                q.message_type = Some(m);
            }
            "from" => q.from = Some(time(&k, &v)?),
            "to" => q.to = Some(time(&k, &v)?),
            "q" => q.q = Some(v),
            "limit" => {
                let n: usize = v.parse().map_err(|_| format!("limit must be a number from 1 to {MAX_LIMIT}"))?;
                if n == 0 || n > MAX_LIMIT {
                    return Err(format!("limit must be from 1 to {MAX_LIMIT}, not {n}"));
                }
                q.limit = n;
            }
            "cursor" => q.cursor = Some(Cursor::decode(&v).map_err(|e| e.to_string())?),
            "format" => {}
            other => return Err(format!("unknown filter `{other}`; see /api/openapi.json")),
        }
    }
    if let (Some(f), Some(t)) = (q.from, q.to) {
        if f >= t {
            return Err("`from` must be before `to`".into());
        }
    }
    Ok(q)
}

fn time(key: &str, v: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(v)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| format!("{key} must be an RFC 3339 time like 2026-11-23T14:00:00Z, not `{v}`"))
}

/// The caller's filters, narrowed to the sites the caller may see.
fn query_of(raw: Option<String>, caller: &Caller) -> Result<LogQuery, ApiError> {
    let mut q = parse_log_query(raw.as_deref().unwrap_or("")).map_err(ApiError::BadRequest)?;
    if let Some(scope) = caller.site_scope() {
        let asked = q.site_ids.take();
        let allowed = scope.iter().filter(|s| asked.as_ref().is_none_or(|a| a.contains(s))).cloned().collect();
        q.site_ids = Some(allowed);
    }
    Ok(q)
}

/// A log item as SPEC.md shows it.
pub fn item(r: &LogRecord) -> Value {
    json!({
        "id": r.id.to_string(),
        "timestamp": r.timestamp.to_rfc3339_opts(SecondsFormat::Millis, true),
        "action": r.action,
        "station_id": r.station_id,
        "connector_id": r.connector_id,
        "status": r.status,
        "error_code": r.error_code,
        "site_id": r.site_id,
        "site_name": r.site_name,
        "direction": r.direction.as_str(),
        "message_type": r.message_type,
        "unique_id": r.unique_id,
        "level": r.level.as_str(),
        "latency_ms": r.latency_ms,
        "validation_error": r.validation_error,
        "payload": r.payload_json(),
    })
}

pub async fn list(
    State(app): State<AppState>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let q = query_of(raw, &caller)?;
    let page = app.log_store.query(&q).await?;
    let items: Vec<Value> = page.items.iter().map(item).collect();
    Ok(Json(json!({"items": items, "next": page.next.map(|c| c.encode())})))
}

pub async fn stream(
    State(app): State<AppState>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let q = query_of(raw, &caller)?;
    let mut rx = app.tail.subscribe();
    let metrics = app.metrics.clone();
    let events = async_stream::stream! {
        loop {
            match rx.recv().await {
                Ok(r) if q.matches(&r) => yield Ok(Event::default().event("log").id(r.id.to_string()).data(item(&r).to_string())),
                Ok(_) => {}
                Err(RecvError::Lagged(n)) => {
                    crate::logs::Metrics::add(&metrics.tail_lagged, 1);
                    yield Ok(Event::default().event("lagged").data(json!({"skipped": n}).to_string()));
                }
                Err(RecvError::Closed) => break,
            }
        }
    };
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}

const CSV_HEADER: &str = "timestamp,action,station_id,connector_id,status,error_code,site_name,site_id,direction,message_type,unique_id,level,latency_ms,validation_error,payload\n";

fn csv_field(out: &mut String, v: &str) {
    if v.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&v.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(v);
    }
}

pub fn csv_row(r: &LogRecord) -> String {
    let mut out = String::with_capacity(r.raw.len() + 128);
    let fields = [
        r.timestamp.to_rfc3339_opts(SecondsFormat::Millis, true),
        r.action.clone().unwrap_or_default(),
        r.station_id.clone(),
        r.connector_id.map(|c| c.to_string()).unwrap_or_default(),
        r.status.clone().unwrap_or_default(),
        r.error_code.clone().unwrap_or_default(),
        r.site_name.clone().unwrap_or_default(),
        r.site_id.clone().unwrap_or_default(),
        r.direction.as_str().to_string(),
        r.message_type.clone(),
        r.unique_id.clone().unwrap_or_default(),
        r.level.as_str().to_string(),
        r.latency_ms.map(|l| l.to_string()).unwrap_or_default(),
        r.validation_error.clone().unwrap_or_default(),
        r.payload_json().to_string(),
    ];
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        csv_field(&mut out, f);
    }
    out.push('\n');
    out
}

/// Streams every matching record, page by page (constant memory).
pub async fn export(
    State(app): State<AppState>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let format = form_urlencoded::parse(raw.as_deref().unwrap_or("").as_bytes())
        .find(|(k, _)| k == "format")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| "csv".into());
    let csv = match format.as_str() {
        "csv" => true,
        "ndjson" => false,
        other => return Err(ApiError::BadRequest(format!("format must be csv or ndjson, not `{other}`"))),
    };
    let mut q = query_of(raw, &caller)?;
    q.limit = MAX_LIMIT;
    let store = app.log_store.clone();
    let body = async_stream::stream! {
        if csv {
            yield Ok::<_, std::io::Error>(CSV_HEADER.to_string());
        }
        loop {
            let page = match store.query(&q).await {
                Ok(p) => p,
                Err(e) => { yield Err(std::io::Error::other(e.to_string())); break; }
            };
            let mut chunk = String::new();
            for r in &page.items {
                if csv { chunk.push_str(&csv_row(r)); } else { chunk.push_str(&item(r).to_string()); chunk.push('\n'); }
            }
            yield Ok(chunk);
            match page.next { Some(c) => q.cursor = Some(c), None => break }
        }
    };
    let (ctype, ext) = if csv { ("text/csv; charset=utf-8", "csv") } else { ("application/x-ndjson", "ndjson") };
    let name = format!("attachment; filename=\"ocpp-logs-{}.{ext}\"", Utc::now().format("%Y%m%dT%H%M%SZ"));
    Ok(([(header::CONTENT_TYPE, ctype.to_string()), (header::CONTENT_DISPOSITION, name)], Body::from_stream(body))
        .into_response())
}

pub async fn stats(State(app): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    caller.require_admin()?;
    let store = app.log_store.stats().await?;
    Ok(Json(json!({"pipeline": app.metrics.snapshot(), "store": store})))
}
