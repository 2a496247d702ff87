//! The HTTP API (SPEC.md, HTTP API v1) and the operator pages. Handlers are thin: they
//! parse, call the state store, the log store or the command router, and map errors.

mod auth;
mod commands;
mod error;
mod logs;
mod openapi;
mod profiles;
mod security;
mod sites;
mod stations;

pub use auth::{Caller, Scope};
pub use commands::Commands;
pub use error::ApiError;
pub use logs::parse_log_query;

use crate::logs::indexer::Tail;
use crate::logs::{Levels, Metrics};
use crate::state::StateStore;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use chargewatch_logstore::LogStore;
use std::sync::Arc;
use std::time::Duration;

/// Everything the handlers need.
#[derive(Clone)]
pub struct AppState {
    pub state: StateStore,
    pub levels: Arc<Levels>,
    pub commands: Arc<dyn Commands>,
    pub log_store: Arc<dyn LogStore>,
    pub tail: Tail,
    pub metrics: Arc<Metrics>,
    pub admin_token: Arc<str>,
    /// Upper bound on how long a command call waits for the charger's answer.
    pub command_timeout: Duration,
    /// Largest API request body.
    pub max_body_bytes: usize,
    /// What this process runs and what it depends on, for `/health` and `/metrics`.
    pub ops: Arc<Ops>,
}

/// Role-specific health and metrics (RabbitMQ counters, roles) added by the server.
pub struct Ops {
    pub roles: Vec<&'static str>,
    /// Named dependency checks beyond the two stores: (name, healthy).
    pub checks: Box<dyn Fn() -> Vec<(&'static str, bool)> + Send + Sync>,
    /// Extra Prometheus text.
    pub metrics: Box<dyn Fn() -> String + Send + Sync>,
}

impl Default for Ops {
    fn default() -> Self {
        Ops { roles: vec!["gateway", "indexer", "api"], checks: Box::new(Vec::new), metrics: Box::new(String::new) }
    }
}

/// Only `/health` and `/metrics`: the HTTP side of a process without the `api` role.
pub fn ops_router(app: AppState) -> Router {
    Router::new().route("/health", get(health)).route("/metrics", get(metrics)).with_state(app)
}

pub fn router(app: AppState) -> Router {
    let limit = app.max_body_bytes;
    let api = Router::new()
        .route("/api/openapi.json", get(openapi::document))
        .route("/api/v1/sites", post(sites::create).get(sites::list))
        .route("/api/v1/sites/{id}", get(sites::read).patch(sites::update))
        .route("/api/v1/stations", get(stations::list))
        .route("/api/v1/stations/{id}", put(stations::register).get(stations::read))
        .route("/api/v1/stations/{id}/log-level", put(stations::set_override).delete(stations::clear_override))
        .route("/api/v1/stations/{id}/transactions", get(stations::transactions))
        .route("/api/v1/stations/{id}/status-history", get(stations::status_history))
        .route("/api/v1/transactions/{id}", get(stations::transaction))
        .route("/api/v1/id-tags", get(stations::list_id_tags))
        .route("/api/v1/id-tags/{id_tag}", put(stations::put_id_tag))
        .route("/api/v1/logs", get(logs::list))
        .route("/api/v1/logs/stream", get(logs::stream))
        .route("/api/v1/logs/export", get(logs::export))
        .route("/api/v1/logs/stats", get(logs::stats))
        .route("/api/v1/stations/{id}/commands", get(commands::history))
        .route("/api/v1/stations/{id}/commands/{action}", post(commands::send))
        .merge(profiles::routes())
        .merge(security::routes())
        .merge(auth::routes())
        .fallback(error::not_found);
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .merge(crate::ui::routes())
        .merge(api)
        .layer(axum::extract::DefaultBodyLimit::max(limit))
        .with_state(app)
}

async fn health(State(app): State<AppState>) -> impl IntoResponse {
    let store = app.log_store.stats().await.is_ok();
    let state = app.state.run(|c| Ok(c.query_row("SELECT 1", [], |_| Ok(()))?)).await.is_ok();
    let mut checks = serde_json::json!({"state_store": state, "log_store": store});
    let mut ok = store && state;
    for (name, healthy) in (app.ops.checks)() {
        checks[name] = healthy.into();
        ok &= healthy;
    }
    let code = if ok { axum::http::StatusCode::OK } else { axum::http::StatusCode::SERVICE_UNAVAILABLE };
    let body = serde_json::json!({
        "status": if ok { "ok" } else { "degraded" },
        "roles": app.ops.roles,
        "checks": checks,
        "version": env!("CARGO_PKG_VERSION"),
    });
    (code, Json(body))
}

async fn metrics(State(app): State<AppState>) -> impl IntoResponse {
    let mut text = app.metrics.prometheus();
    text.push_str(&(app.ops.metrics)());
    text.push_str(&format!(
        "# TYPE chargewatch_tail_subscribers gauge\nchargewatch_tail_subscribers {}\n",
        app.tail.receiver_count()
    ));
    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], text)
}
