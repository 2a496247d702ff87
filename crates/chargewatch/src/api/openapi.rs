//! The OpenAPI 3.1 document at `/api/openapi.json`, built from one table of endpoints.

use axum::Json;
use serde_json::{json, Map, Value};

/// (method, path, summary, query parameters, has JSON body)
const ENDPOINTS: &[(&str, &str, &str, &[&str], bool)] = &[
    ("post", "/api/v1/sites", "Create a site (`id`, `name`, `log_level` none|info|debug, default info)", &[], true),
    ("get", "/api/v1/sites", "List sites with their log levels", &[], false),
    ("get", "/api/v1/sites/{id}", "Read a site", &[], false),
    ("patch", "/api/v1/sites/{id}", "Rename a site or change its log level (applies to the next frame)", &[], true),
    ("get", "/api/v1/stations", "Stations with connection state, boot info, connector statuses", &[], false),
    ("put", "/api/v1/stations/{id}", "Register a station and assign it to a site (`site_id`, null for none)", &[], true),
    ("get", "/api/v1/stations/{id}", "Read a station", &[], false),
    ("put", "/api/v1/stations/{id}/log-level", "Per-station log level override with an expiry (`level`, and `until` or `minutes`)", &[], true),
    ("delete", "/api/v1/stations/{id}/log-level", "Remove the per-station override", &[], false),
    ("get", "/api/v1/stations/{id}/transactions", "Recent transactions of a station", &["limit"], false),
    ("get", "/api/v1/stations/{id}/status-history", "Connector status changes (timeline)", &["hours"], false),
    ("get", "/api/v1/transactions/{id}", "A transaction with its meter values", &[], false),
    ("get", "/api/v1/id-tags", "The id-tag store", &[], false),
    ("put", "/api/v1/id-tags/{id_tag}", "Create or update an id tag (`status` Accepted|Blocked|Expired|Invalid, `expiry_date`, `parent_id_tag`)", &[], true),
    ("get", "/api/v1/logs", "The OCPP Logs table, newest first, paged by cursor", LOG_FILTERS, false),
    ("get", "/api/v1/logs/stream", "Live tail of the OCPP Logs table (Server-Sent Events, event `log`)", LOG_FILTERS, false),
    ("get", "/api/v1/logs/export", "Export as CSV or NDJSON (`format`), streamed", LOG_FILTERS, false),
    ("get", "/api/v1/logs/stats", "Log pipeline counters (captured, filtered, dropped, stored) and store size", &[], false),
    ("get", "/api/v1/stations/{id}/commands", "Commands sent to a station: who, when, the answer", &[], false),
    ("post", "/api/v1/stations/{id}/commands/{action}", "Send a central-system-initiated OCPP call; body = the OCPP request payload. 404 unknown station, 409 not connected, 504 no answer in time", &[], true),
    ("get", "/api/v1/stations/{id}/profile-state", "Every feature-profile state of a station at once", &[], false),
    ("get", "/api/v1/stations/{id}/configuration", "Configuration keys last read or set", &[], false),
    ("get", "/api/v1/stations/{id}/availability", "Availability per connector (ChangeAvailability)", &[], false),
    ("get", "/api/v1/stations/{id}/firmware-jobs", "Firmware update jobs with the status notifications received", &[], false),
    ("get", "/api/v1/stations/{id}/diagnostics-jobs", "Diagnostics jobs with the status notifications received", &[], false),
    ("get", "/api/v1/stations/{id}/diagnostics/{job_id}/file", "Download the diagnostics file the station uploaded", &[], false),
    ("get", "/api/v1/stations/{id}/local-list", "Local authorization list: version and entries sent", &[], false),
    ("get", "/api/v1/stations/{id}/reservations", "Reservations and their outcome", &[], false),
    ("get", "/api/v1/stations/{id}/charging-profiles", "Charging profiles per connector, purpose and stack level", &[], false),
    ("get", "/api/v1/stations/{id}/composite-schedules", "Composite schedules the station reported", &[], false),
    ("get", "/api/v1/stations/{id}/triggers", "TriggerMessage requests and answers", &[], false),
    ("get", "/api/v1/stations/{id}/security", "The station's OCPP security profile (never the password)", &[], false),
    ("put", "/api/v1/stations/{id}/security", "Set the security profile 0-3, password (profiles 1-2), certificate fingerprint (profile 3)", &[], true),
    ("get", "/api/v1/firmware", "Firmware files stations can download at /files/firmware/{name}", &[], false),
    ("get", "/api/v1/firmware/{name}", "A firmware file's metadata", &[], false),
    ("put", "/api/v1/firmware/{name}", "Upload a firmware file (raw body)", &[], true),
    ("delete", "/api/v1/firmware/{name}", "Delete a firmware file", &[], false),
    ("post", "/api/v1/auth/login", "Sign in with `username` and `password`; answers a revocable token", &[], true),
    ("post", "/api/v1/auth/logout", "Revoke the token of this request", &[], false),
    ("get", "/api/v1/auth/me", "Who the token belongs to, role and visible sites", &[], false),
    ("get", "/api/v1/auth/tokens", "API tokens (own; all for an admin)", &[], false),
    ("post", "/api/v1/auth/tokens", "Create a named API token for the caller's account", &[], true),
    ("delete", "/api/v1/auth/tokens/{id}", "Revoke a token", &[], false),
    ("get", "/api/v1/clients", "Clients (admin)", &[], false),
    ("post", "/api/v1/clients", "Create a client (admin)", &[], true),
    ("get", "/api/v1/users", "Users (admin)", &[], false),
    ("post", "/api/v1/users", "Create a user: role admin, or operator of a client (admin)", &[], true),
    ("delete", "/api/v1/users/{id}", "Disable a user and revoke their tokens (admin)", &[], false),
    ("get", "/api/v1/audit", "Audit trail: who changed a log level, assigned a station, sent a command", &[], false),
];

const LOG_FILTERS: &[&str] = &[
    "site_id",
    "station_id",
    "connector_id",
    "action",
    "status",
    "error_code",
    "direction",
    "message_type",
    "from",
    "to",
    "q",
    "limit",
    "cursor",
    "format",
];

fn operation(summary: &str, path: &str, params: &[&str], body: bool) -> Value {
    let mut parameters: Vec<Value> = path
        .split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
        .collect();
    parameters.extend(params.iter().map(|p| {
        let schema = if *p == "action" {
            json!({"type": "array", "items": {"type": "string"}})
        } else {
            json!({"type": "string"})
        };
        json!({"name": p, "in": "query", "required": false, "schema": schema})
    }));
    let mut op = json!({
        "summary": summary,
        "parameters": parameters,
        "security": [{"bearer": []}],
        "responses": {
            "200": {"description": "OK", "content": {"application/json": {}}},
            "400": {"$ref": "#/components/responses/Error"},
            "401": {"$ref": "#/components/responses/Error"},
            "404": {"$ref": "#/components/responses/Error"},
        }
    });
    if body {
        op["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": {"type": "object"}}}});
    }
    op
}

pub fn build() -> Value {
    let mut paths = Map::new();
    for (method, path, summary, params, body) in ENDPOINTS {
        let entry = paths.entry(path.to_string()).or_insert_with(|| json!({}));
        entry[*method] = operation(summary, path, params, *body);
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "Chargewatch API", "version": "1", "description": "OCPP 1.6-J central system and OCPP message log. Every /api/ call needs `Authorization: Bearer TOKEN`."},
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "responses": {"Error": {"description": "Error", "content": {"application/json": {"schema": {
                "type": "object", "required": ["error", "detail"],
                "properties": {"error": {"type": "string"}, "detail": {"type": "string"}}
            }}}}}
        }
    })
}

pub async fn document(_c: super::Caller) -> Json<Value> {
    Json(build())
}
