//! Embedded persistent state of the central system (sites, stations, connectors, id tags,
//! transactions, meter values, profile state) in one SQLite file under `--data-dir`.
//!
//! Every write commits before it returns (WAL, `synchronous=FULL`), so a charger's
//! CALLRESULT never acknowledges data that a crash could lose.

pub mod commands;
mod migrations;
pub mod profiles;
pub mod sites;
pub mod stations;
pub mod transactions;

pub use sites::Site;
pub use stations::{ConnectorState, Station, StationUpdate};
pub use transactions::{IdTag, Transaction};

use rusqlite::Connection;
use std::path::Path;
use std::sync::{Arc, Mutex};

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("not found: {0}")]
    NotFound(String),
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("invalid: {0}")]
    Invalid(String),
    #[error("state store failed: {0}")]
    Db(#[from] rusqlite::Error),
    #[error("state store task failed")]
    Join,
}

pub type Result<T> = std::result::Result<T, StateError>;

/// The state store. Cheap to clone; calls run on the blocking pool.
#[derive(Clone)]
pub struct StateStore {
    conn: Arc<Mutex<Connection>>,
}

impl StateStore {
    pub fn open(dir: &Path) -> Result<StateStore> {
        std::fs::create_dir_all(dir).map_err(|e| StateError::Invalid(format!("{}: {e}", dir.display())))?;
        let mut conn = Connection::open(dir.join("state.db"))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        migrations::migrate(&mut conn)?;
        Ok(StateStore { conn: Arc::new(Mutex::new(conn)) })
    }

    /// Runs `f` with the connection on the blocking pool.
    pub async fn run<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = conn.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut guard)
        })
        .await
        .map_err(|_| StateError::Join)?
    }

    /// Runs `f` synchronously (for startup and tests).
    pub fn run_sync<T>(&self, f: impl FnOnce(&mut Connection) -> Result<T>) -> Result<T> {
        let mut guard = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard)
    }
}

pub(crate) fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
