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
