//! The embedded log store: SQLite files on local disk, one per UTC day.
//!
//! Layout of `dir`: `logs-YYYY-MM-DD.db` (+ its `-wal` and `-shm` while open), one per UTC
//! day of the records' timestamps. Each file is self-contained: its own schema version
//! (`PRAGMA user_version`, migrated on open), its own string dictionary and its own copy
//! of the zstd dictionary its bodies were compressed with. Retention deletes whole files.
//!
//! Row format (see `partition.rs` and `codec.rs`): the integer primary key is
//! `timestamp_ms << 20 | slot`, the slot taken from the id's low bits (probing on the
//! rare collision), so newest-first is a backwards walk of the table or of an index on
//! `(column)` (SQLite ends every index entry with the rowid, `k`; files created before
//! 2026-12-03 index `(column, k)`, which answers the same queries) or, for the station in
//! files created since 2026-12-06, of its postings (`postings.rs`); repeated strings are
//! small integers; the record id takes 10 bytes; the unique id, validation note and raw
//! frame are compressed together with zstd.
//!
//! Durability: WAL with `synchronous=NORMAL`. When `append` returns, the batch is in the
//! WAL file (in the operating system's cache), so it survives the death of the process
//! (`kill -9`, panic, OOM kill) — the crash test proves it. Only an operating-system crash
//! or power loss may lose the last batches (never corrupting the files); set
//! `SqliteOptions::synchronous_full` where that matters more than ingest speed.
//!
//! Concurrency: one writer connection per file (appends to a day are serialised), readers
//! from a small per-file pool; all SQLite work runs on tokio's blocking pool.

mod codec;
mod partition;
mod postings;
mod scan;
mod zdict;

use crate::query::{LogPage, LogQuery};
use crate::record::LogRecord;
use crate::store::{LogStore, StoreError, StoreStats};
use chrono::{DateTime, NaiveDate, Utc};
use partition::{be, day_of_ms, parse_file_name, Partition, Tuning};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Settings of the embedded store; `Default` is what `SqliteLogStore::open` uses.
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// zstd level for the payloads (default 3; higher is a little smaller and slower).
    pub zstd_level: i32,
    /// Longest a query scans before it returns a partial page with a `next` cursor
    /// (only `q` searches and rare filter combinations get there). Default 300 ms.
    pub scan_budget: Duration,
    /// Page cache of each day's writer connection, KiB (default 96 MiB). Only the newest day's
    /// writer keeps its cache: the others give theirs back when a newer day's file opens and
    /// after opening (`Partition::release_cache`). Every connection's cache is its own
    /// (SQLite is built without SQLITE_ENABLE_MEMORY_MANAGEMENT, `.cargo/config.toml`); with
    /// one shared pool before 2026-12-04 the newest writer used the caches of the older days'
    /// writers as well, and logbench's 3 days ingested as fast as with 96 MiB now.
    pub writer_cache_kib: i64,
    /// Page cache of each reader connection, KiB (default 8 MiB).
    pub reader_cache_kib: i64,
    /// Memory-mapped reads, bytes per reader connection (default 256 MiB; 0 = off).
    pub reader_mmap_bytes: i64,
    /// Idle reader connections kept per day file (default 4).
    pub max_idle_readers: usize,
    /// `synchronous=FULL`: also survive power loss, at some ingest speed (default off).
    pub synchronous_full: bool,
    /// WAL size before a checkpoint copies its pages into the day file (default 80 MiB). Each batch rewrites the index pages it touches (about one per
    /// station), so rarer checkpoints write each hot page back once instead of many times:
    /// ingest is about 1.8x faster than with SQLite's default of 4 MiB.
    pub wal_checkpoint_bytes: i64,
    /// Page size of new day files, bytes (default 4096, the file system's block; files keep
    /// the size they were created with). Each page written is one WAL frame write and, at a
    /// checkpoint, one write into the day file: 1 KiB pages quadrupled those writes, and a
    /// 1 KiB write into a 4 KiB block the file did not have yet makes the kernel zero the rest
    /// of the block (4 % of the server's samples under the closed loop). 4096 against 1024:
    /// logbench ingest +13 to +21 % at 1 M records and +39 % at 10 M, fewer bytes per
    /// record, first pages no slower (bench/README-logstore.md).
    pub page_size: i64,
    /// Station index of new day files: postings written about once per `station_flush`
    /// (default, `postings.rs`) or, when false, a B-tree index on `log (station)` as files
    /// created before 2026-12-06 have. Without it ingest under a hundred stations at once
    /// costs the log store about a third less CPU (bench/README.md); files of either kind
    /// answer the same queries.
    pub station_postings: bool,
    /// Action index of new day files with station postings: postings too (default), or when
    /// false a B-tree index on `log (action)` as files created on 2026-12-06 have. Every
    /// record enters it at one of a few places (one per action): as a B-tree it was a
    /// quarter of the log store's CPU under a hundred stations at once (bench/README.md).
    pub action_postings: bool,
    /// Longest the newest keys of the postings wait in memory before they are written
    /// as postings (default 1 s). Queries see them at once either way.
    pub station_flush: Duration,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions {
            zstd_level: 3,
            scan_budget: Duration::from_millis(300),
            writer_cache_kib: 96 * 1024,
            reader_cache_kib: 8 * 1024,
            reader_mmap_bytes: 256 << 20,
            max_idle_readers: 4,
            synchronous_full: false,
            wal_checkpoint_bytes: 80 << 20,
            page_size: 4096,
            station_postings: true,
            action_postings: true,
            station_flush: Duration::from_secs(1),
        }
    }
}

/// The embedded [`LogStore`]: one SQLite file per UTC day under a directory.
#[derive(Clone)]
pub struct SqliteLogStore {
    inner: Arc<Inner>,
}

struct Inner {
    dir: PathBuf,
    options: SqliteOptions,
    tuning: Tuning,
    partitions: Mutex<BTreeMap<NaiveDate, Arc<Partition>>>,
}

impl std::fmt::Debug for SqliteLogStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteLogStore").field("dir", &self.inner.dir).finish_non_exhaustive()
    }
}

impl SqliteLogStore {
    /// Opens the store in `dir` (created if missing), migrating every day file to the
    /// current schema. Fails with `StoreError::Incompatible` on a file of a newer version.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        Self::open_with(dir, SqliteOptions::default())
    }

    pub fn open_with(dir: &Path, options: SqliteOptions) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir).map_err(|e| be(format!("cannot create {}: {e}", dir.display())))?;
        let tuning = Tuning {
            zstd_level: options.zstd_level,
            writer_cache_kib: options.writer_cache_kib,
            reader_cache_kib: options.reader_cache_kib,
            reader_mmap_bytes: options.reader_mmap_bytes,
            max_idle_readers: options.max_idle_readers,
            synchronous_full: options.synchronous_full,
            wal_checkpoint_bytes: options.wal_checkpoint_bytes,
            page_size: options.page_size,
            station_postings: options.station_postings,
            action_postings: options.action_postings,
            station_flush: options.station_flush,
        };
        let mut partitions = BTreeMap::new();
        let entries = std::fs::read_dir(dir).map_err(|e| be(format!("cannot read {}: {e}", dir.display())))?;
        for entry in entries {
            let entry = entry.map_err(be)?;
            let Some(day) = entry.file_name().to_str().and_then(parse_file_name) else { continue };
            partitions.insert(day, Arc::new(Partition::open(dir, day, &tuning)?));
        }
        Ok(SqliteLogStore {
            inner: Arc::new(Inner { dir: dir.to_owned(), options, tuning, partitions: Mutex::new(partitions) }),
        })
    }

    /// The directory this store keeps its files in.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// Blocking `append` (what the async method runs on the blocking pool).
    pub fn append_blocking(&self, batch: &[LogRecord]) -> Result<u64, StoreError> {
        let mut by_day: BTreeMap<NaiveDate, Vec<&LogRecord>> = BTreeMap::new();
        for r in batch {
            by_day.entry(day_of_ms(r.timestamp.timestamp_millis())).or_default().push(r);
        }
        let mut inserted = 0;
        // A batch that spans midnight commits once per day file; redelivering it after a
        // failure in between is harmless because stored ids are skipped.
        for (day, records) in by_day {
            inserted += self.partition(day)?.append(&records)?;
        }
        Ok(inserted)
    }

    /// Blocking `query`.
    pub fn query_blocking(&self, query: &LogQuery) -> Result<LogPage, StoreError> {
        scan::query(self.all_partitions(), query, self.inner.options.scan_budget)
    }

    /// Blocking `purge_before`.
    pub fn purge_before_blocking(&self, cutoff: DateTime<Utc>) -> Result<u64, StoreError> {
        let cutoff_ms = scan::ceil_ms(cutoff);
        let cutoff_k = scan::key_of_ms(cutoff_ms);
        let mut removed = 0;
        let doomed: Vec<Arc<Partition>> = {
            let mut map = self.inner.partitions.lock().unwrap_or_else(|e| e.into_inner());
            let days: Vec<NaiveDate> = map.values().filter(|p| p.k_end <= cutoff_k).map(|p| p.day).collect();
            days.iter().filter_map(|d| map.remove(d)).collect()
        };
        for p in doomed {
            removed += p.rows.load(Ordering::Relaxed);
            p.close();
            for suffix in ["", "-wal", "-shm"] {
                let mut path = p.path.clone().into_os_string();
                path.push(suffix);
                match std::fs::remove_file(&path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(be(format!("cannot delete {}: {e}", p.path.display()))),
                }
            }
        }
        if let Some(p) = self.all_partitions().into_iter().find(|p| p.k_start < cutoff_k && cutoff_k < p.k_end) {
            removed += p.delete_before(cutoff_k)?;
        }
        Ok(removed)
    }

    /// Blocking `stats`.
    pub fn stats_blocking(&self) -> Result<StoreStats, StoreError> {
        let parts = self.all_partitions();
        let mut stats = StoreStats { partitions: parts.len() as u64, ..StoreStats::default() };
        for p in &parts {
            stats.records += p.rows.load(Ordering::Relaxed);
            for suffix in ["", "-wal"] {
                let mut path = p.path.clone().into_os_string();
                path.push(suffix);
                stats.disk_bytes += std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            }
        }
        for p in &parts {
            if let Some(ms) = p.oldest_ms()? {
                stats.oldest = DateTime::from_timestamp_millis(ms);
                break;
            }
        }
        Ok(stats)
    }

    /// Every day file, oldest first.
    fn all_partitions(&self) -> Vec<Arc<Partition>> {
        self.inner.partitions.lock().unwrap_or_else(|e| e.into_inner()).values().cloned().collect()
    }

    fn partition(&self, day: NaiveDate) -> Result<Arc<Partition>, StoreError> {
        let mut map = self.inner.partitions.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(p) = map.get(&day) {
            return Ok(p.clone());
        }
        // Opening a new day's file is rare (once a day) and quick: holding the lock is fine.
        let p = Arc::new(Partition::open(&self.inner.dir, day, &self.inner.tuning)?);
        if map.keys().next_back().is_none_or(|newest| *newest < day) {
            // A new day began: the earlier days get few records from now on (late ones).
            map.values().for_each(|older| older.release_cache());
        }
        map.insert(day, p.clone());
        Ok(p)
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(SqliteLogStore) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let this = self.clone();
        tokio::task::spawn_blocking(move || f(this)).await.map_err(|e| be(format!("log store task failed: {e}")))?
    }
}

#[async_trait::async_trait]
impl LogStore for SqliteLogStore {
    async fn append(&self, batch: Arc<[LogRecord]>) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        self.blocking(move |s| s.append_blocking(&batch).map(|_| ())).await
    }

    async fn query(&self, query: &LogQuery) -> Result<LogPage, StoreError> {
        let query = query.clone();
        self.blocking(move |s| s.query_blocking(&query)).await
    }

    async fn purge_before(&self, cutoff: DateTime<Utc>) -> Result<u64, StoreError> {
        self.blocking(move |s| s.purge_before_blocking(cutoff)).await
    }

    async fn stats(&self) -> Result<StoreStats, StoreError> {
        self.blocking(|s| s.stats_blocking()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::FleetConfig;
    use partition::SLOT_BITS;

    #[test]
    fn keys_order_by_time() {
        assert_eq!(day_of_ms(0).to_string(), "1970-01-01");
        assert_eq!(day_of_ms(-1).to_string(), "1969-12-31");
        assert!(scan::key_of_ms(1) > scan::key_of_ms(0) + (1 << SLOT_BITS) - 2);
    }

    /// `records` records of one fleet, all within the day that begins at `day`.
    fn records_of_day(day: &str, records: u64) -> Vec<LogRecord> {
        let start = DateTime::parse_from_rfc3339(day).expect("valid").to_utc();
        let cfg = FleetConfig { start, span: chrono::TimeDelta::hours(12), records, ..FleetConfig::default() };
        crate::fleet::Fleet::new(cfg).take(records as usize).collect()
    }

    /// SQLite is built without SQLITE_ENABLE_MEMORY_MANAGEMENT (`.cargo/config.toml`): with
    /// it all connections' page caches are one pool and no `cache_size` bounds its own
    /// connection's cache (the state store's grew to ~5,700 pages under load).
    #[test]
    fn page_caches_are_not_pooled() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        let mut st = conn.prepare("PRAGMA compile_options").unwrap();
        let options: Vec<String> = st.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect();
        assert!(!options.iter().any(|o| o == "ENABLE_MEMORY_MANAGEMENT"), "{options:?}");
    }

    /// Each writer's cache stays within its `writer_cache_kib`, and a day's writer gives its
    /// cache back once the next day's file opens.
    #[test]
    fn writer_caches_are_bounded_and_released_when_a_day_ends() {
        let dir = tempfile::tempdir().unwrap();
        let options = SqliteOptions { writer_cache_kib: 512, ..SqliteOptions::default() };
        let store = SqliteLogStore::open_with(dir.path(), options).unwrap();
        for batch in records_of_day("2026-11-21T00:00:00Z", 40_000).chunks(1000) {
            store.append_blocking(batch).unwrap();
        }
        let first = store.all_partitions()[0].clone();
        let used = first.writer_cache_bytes();
        assert!(used > 256 << 10 && used < 640 << 10, "cache of 512 KiB holds {used} bytes");
        store.append_blocking(&records_of_day("2026-11-22T00:00:00Z", 100)).unwrap();
        assert_eq!(store.all_partitions().len(), 2);
        assert!(first.writer_cache_bytes() < 64 << 10, "released: {} bytes", first.writer_cache_bytes());
        let late = records_of_day("2026-11-21T13:00:00Z", 10);
        assert_eq!(store.append_blocking(&late).unwrap(), 10, "the earlier day still takes late records");
    }
}
