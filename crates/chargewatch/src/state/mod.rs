//! Embedded persistent state of the central system (sites, stations, connectors, id tags,
//! transactions, meter values, profile state) in one SQLite file under `--data-dir`.
//!
//! Every write is on disk before it returns (group commit in WAL mode, then a flush of the
//! WAL by the syncer thread, `durable.rs`), so a charger's CALLRESULT never acknowledges
//! data that a crash could lose.

pub mod accounts;
pub mod commands;
pub mod credentials;
mod durable;
mod migrations;
pub mod profiles;
mod sampled;
pub mod sites;
pub mod stations;
pub mod transactions;

pub use sites::Site;
pub use stations::{ConnectorState, Station, StationUpdate};
pub use transactions::{IdTag, Transaction};

use durable::{Deliver, Syncer, Wal};
use foldhash::HashMap;
use rusqlite::Connection;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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
/// the group has committed. `savepoint: false` for jobs whose only change is one SQL
/// statement, their last step (see [`StateStore::run_one_write`]).
struct Job {
    savepoint: bool,
    work: Work,
}

/// What a job does: its changes, whether they succeeded, and how to deliver its result.
type Work = Box<dyn FnOnce(&mut Connection) -> (bool, Deliver) + Send>;

/// The state store. Cheap to clone. Every call runs on one writer thread that commits
/// the calls waiting together in one transaction (group commit): one fsync for many
/// chargers, and no caller hears back before its data is durable.
#[derive(Clone)]
pub struct StateStore {
    jobs: std::sync::mpsc::SyncSender<Job>,
    conn: Arc<Mutex<Connection>>,
    seen: Arc<SeenMarks>,
    wal: Wal,
}

/// The state writer's page cache, KiB (see `StateStore::open`).
const STATE_CACHE_KIB: i64 = 2 * 1024;

/// Prepared statements kept by the state store's connection.
const STATEMENT_CACHE: usize = 128;

/// Most calls committed in one transaction.
const GROUP_MAX: usize = 512;

/// Under load (the previous commit ended less than [`BUSY`] before this group's first call
/// arrived), the writer waits this long once for more calls before it commits, like
/// PostgreSQL's `commit_delay`: groups grow and commits (each WAL pages and an fsync) get
/// fewer. A call that comes alone after a quiet spell never waits.
const GROUP_LINGER: Duration = Duration::from_micros(500);
const BUSY: Duration = Duration::from_millis(2);

/// How often the writer folds the pending "last seen" marks into the stations table.
const SEEN_FLUSH_EVERY: Duration = Duration::from_secs(1);

/// When each station was last heard from (and last sent a Heartbeat), not yet written.
///
/// Every frame a charger sends makes it "seen"; writing that per frame would cost one row
/// update each. The marks wait here and the writer thread writes them at most once per
/// [`SEEN_FLUSH_EVERY`] (and at [`StateStore::flush_seen`], on an orderly stop); readers
/// lay the pending marks over what they read ([`StateStore::overlay_seen`]). A crash loses
/// at most the last second of these timestamps and nothing else: no charger data waits here.
#[derive(Default)]
struct SeenMarks {
    pending: Mutex<HashMap<String, SeenMark>>,
}

/// Writes last-seen marks (inside the caller's transaction).
fn write_marks(c: &Connection, marks: &HashMap<String, SeenMark>) -> rusqlite::Result<()> {
    let mut seen = c.prepare_cached(
        "UPDATE stations SET last_seen_at=max(coalesce(last_seen_at, 0), ?2),
         last_heartbeat_at=coalesce(?3, last_heartbeat_at) WHERE id=?1",
    )?;
    for (id, m) in marks {
        seen.execute(rusqlite::params![id, m.seen_ms, m.heartbeat_ms])?;
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, Default)]
struct SeenMark {
    seen_ms: i64,
    heartbeat_ms: Option<i64>,
}

impl SeenMarks {
    fn mark(&self, station_id: &str, heartbeat: bool) {
        let now = now_ms();
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        let mark = match pending.get_mut(station_id) {
            Some(m) => m,
            None => pending.entry(station_id.to_string()).or_default(),
        };
        mark.seen_ms = now;
        if heartbeat {
            mark.heartbeat_ms = Some(now);
        }
    }

    fn get(&self, station_id: &str) -> Option<SeenMark> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner()).get(station_id).copied()
    }

    fn take(&self) -> HashMap<String, SeenMark> {
        std::mem::take(&mut *self.pending.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Writes the pending marks in one transaction; on failure they are put back. Says
    /// whether it wrote any.
    fn flush(&self, c: &mut Connection) -> bool {
        let marks = self.take();
        if marks.is_empty() {
            return false;
        }
        let written = (|| -> rusqlite::Result<()> {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            write_marks(&tx, &marks)?;
            tx.commit()
        })();
        if let Err(e) = written {
            tracing::warn!(error = %e, "state store: last-seen marks not written; kept for the next flush");
            let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
            for (id, m) in marks {
                pending.entry(id).or_insert(m);
            }
            return false;
        }
        true
    }
}

impl StateStore {
    pub fn open(dir: &Path) -> Result<StateStore> {
        std::fs::create_dir_all(dir).map_err(|e| StateError::Invalid(format!("{}: {e}", dir.display())))?;
        let db = dir.join("state.db");
        let mut conn = Connection::open(&db)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // No fsync inside COMMIT: the syncer thread flushes the WAL before any caller hears
        // back (`durable.rs`), while the writer runs the next group.
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // A small page cache: its hot pages are the stations, their connectors and the
        // tails of the tables. At the end of a transaction that split a B-tree page SQLite
        // walks every page of the cache (`balance_nonroot` renumbers pages through the
        // lock-byte page's number, 262,145, which leaves the cache's highest key beyond the
        // file's end, and the commit then truncates the cache to the file), ~80 of this
        // writer's ~300 commits a second under the closed loop. The walk costs in proportion
        // to the pages cached, so the cache is 2 MiB. That bound holds only because the
        // bundled SQLite is built without SQLITE_ENABLE_MEMORY_MANAGEMENT
        // (`.cargo/config.toml`): with it every connection of the process shares one pool,
        // and this cache had grown to ~5,700 pages whatever its `cache_size`. Checkpoints
        // every 32 MiB of WAL rather than 4: hot pages go back into the file once per
        // checkpoint.
        conn.pragma_update(None, "cache_size", -STATE_CACHE_KIB)?;
        conn.pragma_update(None, "wal_autocheckpoint", 8192)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        // Room for every statement the writer repeats (rusqlite keeps 16 by default; past
        // that the least recent is prepared again on its next use).
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        migrations::migrate(&mut conn)?;
        let io = |what: &str, e: std::io::Error| StateError::Invalid(format!("{what}: {e}"));
        let wal = Wal::open(&db).map_err(|e| io("opening the state store's WAL", e))?;
        wal.flush().map_err(|e| io("flushing the state store's WAL", e))?;
        let syncer = Syncer::start(wal.clone()).map_err(|e| io("starting the state syncer", e))?;
        let conn = Arc::new(Mutex::new(conn));
        let (jobs, rx) = std::sync::mpsc::sync_channel::<Job>(4096);
        let writer = conn.clone();
        let seen = Arc::new(SeenMarks::default());
        let marks = seen.clone();
        std::thread::Builder::new()
            .name("state-writer".into())
            .spawn(move || write_loop(&writer, rx, &marks, &syncer))
            .map_err(|e| io("starting the state writer", e))?;
        Ok(StateStore { jobs, conn, seen, wal })
    }

    /// Notes that a station was heard from now (`heartbeat`: by a Heartbeat). Costs no
    /// store round trip; see [`SeenMarks`].
    pub fn mark_seen(&self, station_id: &str, heartbeat: bool) {
        self.seen.mark(station_id, heartbeat);
    }

    /// Lays the station's pending last-seen marks over what was read from the store.
    pub fn overlay_seen(&self, st: &mut Station) {
        if let Some(m) = self.seen.get(&st.id) {
            let seen = ts(Some(m.seen_ms));
            st.last_seen_at = st.last_seen_at.max(seen);
            if m.heartbeat_ms.is_some() {
                st.last_heartbeat_at = st.last_heartbeat_at.max(ts(m.heartbeat_ms));
            }
        }
    }

    /// Writes the pending last-seen marks now (an orderly stop).
    pub async fn flush_seen(&self) -> Result<()> {
        let marks = self.seen.clone();
        // Inside a group transaction already: write directly.
        self.run(move |c| Ok(write_marks(c, &marks.take())?)).await
    }

    /// Runs `f` on the writer thread inside a group transaction; returns once committed.
    /// An `Err` from `f` rolls back only `f`'s own changes.
    pub async fn run<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    {
        self.submit(true, f).await
    }

    /// [`StateStore::run`] for a job whose only change is one SQL statement, its last
    /// fallible step: SQLite applies a statement whole or not at all, so the job needs no
    /// savepoint of its own (a savepoint copies every page the job touches into the
    /// statement journal; without any savepoint the closed loop ran 4.4 % faster).
    pub async fn run_one_write<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    {
        self.submit(false, f).await
    }

    async fn submit<T, F>(&self, savepoint: bool, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let work = Box::new(move |c: &mut Connection| {
            let out = f(c);
            let ok = out.is_ok();
            let deliver: Deliver = Box::new(move |committed| {
                let out = if committed { out } else { Err(StateError::Commit) };
                let _ = tx.send(out);
            });
            (ok, deliver)
        });
        let job = Job { savepoint, work };
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

    /// Runs `f` synchronously on the connection (startup, rare lookups, tests); what it
    /// changed is on disk when this returns.
    pub fn run_sync<T>(&self, f: impl FnOnce(&mut Connection) -> Result<T>) -> Result<T> {
        let mut guard = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let before = guard.total_changes();
        let out = f(&mut guard)?;
        if guard.total_changes() != before {
            self.wal.flush().map_err(|e| {
                tracing::error!(error = %e, "state store: WAL flush failed");
                StateError::Commit
            })?;
        }
        Ok(out)
    }
}

fn write_loop(conn: &Mutex<Connection>, rx: std::sync::mpsc::Receiver<Job>, seen: &SeenMarks, syncer: &Syncer) {
    let mut flushed = Instant::now();
    let mut committed_at = Instant::now() - BUSY;
    loop {
        let first = match rx.recv_timeout(SEEN_FLUSH_EVERY) {
            Ok(job) => Some(job),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => None,
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
        };
        if flushed.elapsed() >= SEEN_FLUSH_EVERY {
            if seen.flush(&mut conn.lock().unwrap_or_else(|p| p.into_inner())) {
                // On disk within a second too (a flush with no results waiting on it).
                syncer.after_flush(Vec::new());
            }
            flushed = Instant::now();
        }
        let Some(first) = first else { continue };
        let mut group = vec![first];
        gather(&rx, &mut group);
        if committed_at.elapsed() < BUSY && group.len() < GROUP_MAX / 4 {
            std::thread::sleep(GROUP_LINGER);
            gather(&rx, &mut group);
        }
        let mut c = conn.lock().unwrap_or_else(|p| p.into_inner());
        let (committed, deliveries) = run_group(&mut c, group);
        drop(c);
        committed_at = Instant::now();
        if committed {
            syncer.after_flush(deliveries);
        } else {
            deliveries.into_iter().for_each(|deliver| deliver(false));
        }
    }
    if seen.flush(&mut conn.lock().unwrap_or_else(|p| p.into_inner())) {
        syncer.after_flush(Vec::new());
    }
}

/// Adds the jobs already waiting to `group`, up to [`GROUP_MAX`].
fn gather(rx: &std::sync::mpsc::Receiver<Job>, group: &mut Vec<Job>) {
    while group.len() < GROUP_MAX {
        match rx.try_recv() {
            Ok(job) => group.push(job),
            Err(_) => break,
        }
    }
}

/// Runs one statement of the group protocol (prepared once, then cached).
fn group_step(c: &Connection, sql: &str) -> rusqlite::Result<()> {
    c.prepare_cached(sql)?.execute([]).map(|_| ())
}

/// Runs each job in its own savepoint (but one-write jobs) inside one transaction and
/// commits once.
fn run_group(c: &mut Connection, group: Vec<Job>) -> (bool, Vec<Deliver>) {
    let began = group_step(c, "BEGIN IMMEDIATE").is_ok();
    let mut out = Vec::with_capacity(group.len());
    for Job { savepoint, work } in group {
        if !savepoint {
            let (_, deliver) = work(c);
            out.push(deliver);
            continue;
        }
        let _ = group_step(c, "SAVEPOINT job");
        let (ok, deliver) = work(c);
        let ended = if ok {
            group_step(c, "RELEASE job")
        } else {
            group_step(c, "ROLLBACK TO job").and_then(|()| group_step(c, "RELEASE job"))
        };
        if let Err(e) = ended {
            tracing::error!(error = %e, "state store savepoint failed");
        }
        out.push(deliver);
    }
    let committed =
        began && group_step(c, "COMMIT").map_err(|e| tracing::error!(error = %e, "state store commit failed")).is_ok();
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

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("cw-state-{name}-{}-{}", std::process::id(), now_ms()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    /// A fresh store in its own directory, holding one registered station `id`.
    async fn store_with(name: &str, id: &'static str) -> (std::path::PathBuf, StateStore) {
        let dir = temp_dir(name);
        let state = StateStore::open(&dir).unwrap();
        state.run(move |c| stations::register(c, id, None)).await.unwrap();
        (dir, state)
    }

    fn stored(state: &StateStore, id: &str) -> Station {
        state.run_sync(|c| stations::find(c, id)).unwrap().expect("station")
    }

    /// A mark is visible at once through the overlay, in the table after a flush, and
    /// still there after the store is opened again.
    #[tokio::test]
    async fn last_seen_marks_are_overlaid_then_written() {
        let (dir, state) = store_with("seen", "CP-1").await;
        state.mark_seen("CP-1", true);
        let mut st = stored(&state, "CP-1");
        assert_eq!(st.last_heartbeat_at, None, "not written yet");
        state.overlay_seen(&mut st);
        assert!(st.last_heartbeat_at.is_some() && st.last_seen_at.is_some(), "{st:?}");
        state.flush_seen().await.unwrap();
        let written = stored(&state, "CP-1");
        assert_eq!((written.last_seen_at, written.last_heartbeat_at), (st.last_seen_at, st.last_heartbeat_at));
        state.mark_seen("CP-1", false);
        state.flush_seen().await.unwrap();
        let later = stored(&state, "CP-1");
        assert_eq!(later.last_heartbeat_at, st.last_heartbeat_at, "a frame that is not a Heartbeat keeps it");
        assert!(later.last_seen_at >= st.last_seen_at);
        drop(state);
        let again = StateStore::open(&dir).unwrap();
        assert_eq!(stored(&again, "CP-1").last_heartbeat_at, st.last_heartbeat_at);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// No caller hears back before a flush of the WAL that began after its job was sent.
    #[tokio::test]
    async fn results_wait_for_a_flush_of_the_wal() {
        let (dir, state) = store_with("flush-wal", "CP-6").await;
        for id in ["CP-7", "CP-8"] {
            let before = state.wal.flushes();
            state.run(move |c| stations::register(c, id, None).map(|_| ())).await.unwrap();
            assert!(state.wal.flushes() > before, "{id} was answered before the WAL was flushed");
        }
        let before = state.wal.flushes();
        state.run_sync(|c| stations::register(c, "CP-9", None).map(|_| ())).unwrap();
        assert_eq!(state.wal.flushes(), before + 1, "a synchronous write flushes the WAL itself");
        state.run_sync(|c| stations::find(c, "CP-9")).unwrap();
        assert_eq!(state.wal.flushes(), before + 1, "a read flushes nothing");
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A one-write job whose statement fails changes nothing and says so; the jobs
    /// committed with it keep their changes.
    #[tokio::test]
    async fn a_failed_one_write_job_leaves_the_others_committed() {
        let (dir, state) = store_with("one-write", "CP-3").await;
        let good = state.run_one_write(|c| stations::register(c, "CP-4", None).map(|_| ()));
        let bad = state.run_one_write(|c| Ok(c.execute("INSERT INTO stations (id) VALUES ('CP-3')", [])?));
        let also_good = state.run(|c| stations::register(c, "CP-5", None).map(|_| ()));
        let (good, bad, also_good) = tokio::join!(good, bad, also_good);
        assert!(good.is_ok() && also_good.is_ok(), "{good:?} {also_good:?}");
        assert!(bad.is_err(), "a duplicate station id must fail");
        for id in ["CP-3", "CP-4", "CP-5"] {
            assert!(state.run_sync(|c| stations::find(c, id)).unwrap().is_some(), "{id}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// The writer folds pending marks in by itself, about once a second.
    #[tokio::test]
    async fn the_writer_flushes_marks_within_a_second_or_two() {
        let (dir, state) = store_with("flush", "CP-2").await;
        state.mark_seen("CP-2", true);
        let deadline = Instant::now() + Duration::from_secs(5);
        while stored(&state, "CP-2").last_heartbeat_at.is_none() {
            assert!(Instant::now() < deadline, "the mark was never written");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
