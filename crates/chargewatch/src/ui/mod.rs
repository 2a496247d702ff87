//! The operator web UI: pages and assets embedded in the binary (no CDN, works offline).

use crate::api::AppState;
use axum::Router;

pub fn routes() -> Router<AppState> {
    Router::new()
}
