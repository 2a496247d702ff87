//! Embedded persistent state of the central system (sites, stations, connectors, id tags,
//! transactions, meter values, profile state) in one SQLite file under `--data-dir`.
//!
//! Every write commits before it returns (WAL, `synchronous=FULL`), so a charger's
//! CALLRESULT never acknowledges data that a crash could lose.

pub mod accounts;
pub mod commands;
pub mod credentials;
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
    #[error("state store could not commit")]
    Commit,
}

pub type Result<T> = std::result::Result<T, StateError>;

/// A unit of work for the writer thread: runs on the connection inside the group's
/// transaction, says whether it succeeded, and hands back how to deliver its result once
/// the group has committed.
type Job = Box<dyn FnOnce(&mut Connection) -> (bool, Deliver) + Send>;

/// Hands a job's result to its caller; `false` when the group failed to commit.
type Deliver = Box<dyn FnOnce(bool) + Send>;

/// The state store. Cheap to clone. Every call runs on one writer thread that commits
/// the calls waiting together in one transaction (group commit): one fsync for many
/// chargers, and no caller hears back before its data is durable.
#[derive(Clone)]
pub struct StateStore {
    jobs: std::sync::mpsc::SyncSender<Job>,
    conn: Arc<Mutex<Connection>>,
}

/// Most calls committed in one transaction.
const GROUP_MAX: usize = 512;

impl StateStore {
    pub fn open(dir: &Path) -> Result<StateStore> {
        std::fs::create_dir_all(dir).map_err(|e| StateError::Invalid(format!("{}: {e}", dir.display())))?;
        let mut conn = Connection::open(dir.join("state.db"))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        migrations::migrate(&mut conn)?;
        let conn = Arc::new(Mutex::new(conn));
        let (jobs, rx) = std::sync::mpsc::sync_channel::<Job>(4096);
        let writer = conn.clone();
        std::thread::Builder::new()
            .name("state-writer".into())
            .spawn(move || write_loop(&writer, rx))
            .map_err(|e| StateError::Invalid(format!("starting the state writer: {e}")))?;
        Ok(StateStore { jobs, conn })
    }

    /// Runs `f` on the writer thread inside a group transaction; returns once committed.
    /// An `Err` from `f` rolls back only `f`'s own changes.
    pub async fn run<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |c| {
            let out = f(c);
            let ok = out.is_ok();
            let deliver: Deliver = Box::new(move |committed| {
                let out = if committed { out } else { Err(StateError::Commit) };
                let _ = tx.send(out);
            });
            (ok, deliver)
        });
        let jobs = self.jobs.clone();
        // A full queue blocks; do that off the async workers.
        match jobs.try_send(job) {
            Ok(()) => {}
            Err(std::sync::mpsc::TrySendError::Full(job)) => tokio::task::spawn_blocking(move || jobs.send(job))
                .await
                .map_err(|_| StateError::Join)?
                .map_err(|_| StateError::Join)?,
            Err(std::sync::mpsc::TrySendError::Disconnected(_)) => return Err(StateError::Join),
        }
        rx.await.map_err(|_| StateError::Join)?
    }

    /// Runs `f` synchronously on the connection (startup, rare lookups, tests).
    pub fn run_sync<T>(&self, f: impl FnOnce(&mut Connection) -> Result<T>) -> Result<T> {
        let mut guard = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard)
    }
}

fn write_loop(conn: &Mutex<Connection>, rx: std::sync::mpsc::Receiver<Job>) {
    while let Ok(first) = rx.recv() {
        let mut group = vec![first];
        while group.len() < GROUP_MAX {
            match rx.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        let mut c = conn.lock().unwrap_or_else(|p| p.into_inner());
        let (committed, deliveries) = run_group(&mut c, group);
        drop(c);
        for deliver in deliveries {
            deliver(committed);
        }
    }
}

/// Runs each job in its own savepoint inside one transaction and commits once.
fn run_group(c: &mut Connection, group: Vec<Job>) -> (bool, Vec<Deliver>) {
    let began = c.execute_batch("BEGIN IMMEDIATE").is_ok();
    let mut out = Vec::with_capacity(group.len());
    for job in group {
        let _ = c.execute_batch("SAVEPOINT job");
        let (ok, deliver) = job(c);
        let end = if ok { "RELEASE job" } else { "ROLLBACK TO job; RELEASE job" };
        if let Err(e) = c.execute_batch(end) {
            tracing::error!(error = %e, "state store savepoint failed");
        }
        out.push(deliver);
    }
    let committed = began
        && c.execute_batch("COMMIT").map_err(|e| tracing::error!(error = %e, "state store commit failed")).is_ok();
    if !committed {
        let _ = c.execute_batch("ROLLBACK");
    }
    (committed, out)
}

/// A stored millisecond timestamp as a time.
pub(crate) fn ts(v: Option<i64>) -> Option<chrono::DateTime<chrono::Utc>> {
    v.and_then(chrono::DateTime::from_timestamp_millis)
}

/// Every row of a (cached) query, each turned into a `T` by `row`.
pub(crate) fn rows<T, P: rusqlite::Params>(
    c: &Connection,
    sql: &str,
    params: P,
    row: impl FnMut(&rusqlite::Row) -> rusqlite::Result<T>,
) -> Result<Vec<T>> {
    let mut st = c.prepare_cached(sql)?;
    let out = st.query_map(params, row)?.collect::<rusqlite::Result<_>>()?;
    Ok(out)
}

pub(crate) fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
