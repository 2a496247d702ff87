//! Profile state endpoints (configuration, availability, firmware and diagnostics jobs,
//! local lists, reservations, charging profiles) and the file endpoints stations use.

use super::AppState;
use axum::Router;

pub fn routes() -> Router<AppState> {
    Router::new()
}
