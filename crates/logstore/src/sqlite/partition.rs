//! One day of records: one SQLite file, its schema, its string dictionary, its writer and
//! its readers.

use super::codec::{decode_uid, encode_uid, BodyDecoder, BodyEncoder};
use super::postings::{self, Tail};
use super::zdict;
use crate::record::{Direction, LogLevel, LogRecord, RecordId};
use crate::store::StoreError;
use chrono::{DateTime, NaiveDate, Utc};
use foldhash::HashMap;
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};

/// Bits of the row key below the millisecond timestamp: `k = ts_ms << SLOT_BITS | slot`.
pub(crate) const SLOT_BITS: u32 = 20;
const SLOT_MASK: i64 = (1 << SLOT_BITS) - 1;
pub(crate) const MS_PER_DAY: i64 = 86_400_000;

/// Interned string kinds (the `dict.kind` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Kind {
    Station = 1,
    Site = 2,
    SiteName = 3,
    Action = 4,
    Status = 5,
    ErrorCode = 6,
    MessageType = 7,
}

/// Message types with a fixed code in `mt`; any other text is stored as `-(dict id)`.
const MT_CODES: [&str; 4] = ["CALL", "CALLRESULT", "CALLERROR", "EVENT"];
/// `mt >= MT_RARE` is the partial index of the rare message types.
pub(crate) const MT_RARE: i64 = 2;

/// Schema migrations: entry `i` brings a file from `user_version` i to i + 1.
///
/// The indexes are on `(column)`: `k` is the rowid, and SQLite ends every index entry with
/// the rowid, so an index on `(station)` is ordered by `(station, k)` and answers
/// `station = ? AND k >= ? AND k < ? ORDER BY k DESC` by a range of its own entries, exactly
/// as an index on `(station, k)` does, with entries 9 bytes shorter. Files created before
/// 2026-12-03 have the same indexes on `(column, k)`. Both layouts answer the same queries
/// with the same plans, so every build reads and writes files of either layout and the
/// layout is not part of the schema version: a rollback to an older build keeps working
/// (`tests/index_layouts.rs`).
const MIGRATIONS: &[&str] = &[
    // v1
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
     CREATE TABLE dict (kind INTEGER NOT NULL, id INTEGER NOT NULL, s TEXT NOT NULL,
                        PRIMARY KEY (kind, id), UNIQUE (kind, s)) WITHOUT ROWID;
     CREATE TABLE log (
        k INTEGER PRIMARY KEY,       -- timestamp_ms << 20 | slot: newest first = k DESC
        uid BLOB NOT NULL,           -- record id (10 bytes for a UUIDv7 of this timestamp)
        station INTEGER NOT NULL,    -- dict ids
        site INTEGER, sname INTEGER, action INTEGER, status INTEGER, err INTEGER,
        conn INTEGER,
        dir INTEGER NOT NULL,        -- 0 in, 1 out
        mt INTEGER NOT NULL,         -- 0 CALL, 1 CALLRESULT, 2 CALLERROR, 3 EVENT, <0 other
        lvl INTEGER NOT NULL,        -- 0 none, 1 info, 2 debug
        lat INTEGER,
        body BLOB NOT NULL           -- unique id, validation error, raw (see codec.rs)
     );
     CREATE INDEX log_station ON log (station);
     CREATE INDEX log_site ON log (site) WHERE site IS NOT NULL;
     CREATE INDEX log_action ON log (action) WHERE action IS NOT NULL;
     CREATE INDEX log_status ON log (status) WHERE status IS NOT NULL;
     CREATE INDEX log_err ON log (err) WHERE err IS NOT NULL;
     CREATE INDEX log_mt ON log (mt) WHERE mt >= 2;",
];

pub(crate) fn schema_version() -> i64 {
    MIGRATIONS.len() as i64
}

pub(crate) fn be(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// Tuning of the store (see `SqliteOptions`).
#[derive(Debug, Clone)]
pub(crate) struct Tuning {
    pub zstd_level: i32,
    pub writer_cache_kib: i64,
    pub reader_cache_kib: i64,
    pub reader_mmap_bytes: i64,
    pub max_idle_readers: usize,
    pub synchronous_full: bool,
    pub wal_checkpoint_bytes: i64,
    pub page_size: i64,
    pub station_postings: bool,
    pub action_postings: bool,
    pub station_flush: std::time::Duration,
}

/// The string dictionary of one partition, both ways.
#[derive(Default)]
pub(crate) struct Dict {
    /// kind → string → id (nested so that a lookup by `&str` allocates nothing).
    ids: HashMap<u8, HashMap<String, i64>>,
    strings: HashMap<(u8, i64), String>,
    next: HashMap<u8, i64>,
}

impl Dict {
    fn load(conn: &Connection) -> rusqlite::Result<Dict> {
        let mut d = Dict::default();
        let mut stmt = conn.prepare("SELECT kind, id, s FROM dict")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, u8>(0)?, r.get::<_, i64>(1)?, r.get::<_, String>(2)?)))?;
        for row in rows {
            let (kind, id, s) = row?;
            d.add(kind, id, s);
        }
        Ok(d)
    }

    fn add(&mut self, kind: u8, id: i64, s: String) {
        let next = self.next.entry(kind).or_insert(1);
        *next = (*next).max(id + 1);
        self.strings.insert((kind, id), s.clone());
        self.ids.entry(kind).or_default().insert(s, id);
    }

    pub fn id(&self, kind: Kind, s: &str) -> Option<i64> {
        self.ids.get(&(kind as u8))?.get(s).copied()
    }

    pub fn string(&self, kind: Kind, id: i64) -> Option<&str> {
        self.strings.get(&(kind as u8, id)).map(String::as_str)
    }
}

struct Writer {
    conn: Connection,
    enc: BodyEncoder,
}

pub(crate) struct Reader {
    pub conn: Connection,
    pub dec: BodyDecoder,
}

pub(crate) struct Partition {
    pub day: NaiveDate,
    pub path: PathBuf,
    /// First key of the day (inclusive) and first key of the next day (exclusive).
    pub k_start: i64,
    pub k_end: i64,
    zdict: Vec<u8>,
    tuning: Tuning,
    writer: Mutex<Option<Writer>>,
    readers: Mutex<Vec<Reader>>,
    pub dict: RwLock<Dict>,
    pub rows: AtomicU64,
    /// The newest keys of the postings, in a file whose station index is postings
    /// (`postings.rs`); None in a file with a B-tree index on `log (station)`.
    pub tail: Option<Mutex<Tail>>,
    /// Whether this file's action index is postings too (else a B-tree on `log (action)`).
    pub action_postings: bool,
}

pub(crate) fn file_name(day: NaiveDate) -> String {
    format!("logs-{}.db", day.format("%Y-%m-%d"))
}

pub(crate) fn parse_file_name(name: &str) -> Option<NaiveDate> {
    let day = name.strip_prefix("logs-")?.strip_suffix(".db")?;
    NaiveDate::parse_from_str(day, "%Y-%m-%d").ok()
}

pub(crate) fn day_of_ms(ts_ms: i64) -> NaiveDate {
    let day_ms = ts_ms.div_euclid(MS_PER_DAY) * MS_PER_DAY;
    DateTime::<Utc>::from_timestamp_millis(day_ms).map_or(NaiveDate::MIN, |t| t.date_naive())
}

fn day_start_ms(day: NaiveDate) -> i64 {
    day.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc().timestamp_millis()
}

fn open_connection(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(be)?;
    conn.busy_timeout(std::time::Duration::from_secs(10)).map_err(be)?;
    Ok(conn)
}

impl Partition {
    /// Opens (creating and migrating if needed) the file of `day` in `dir`.
    pub fn open(dir: &Path, day: NaiveDate, tuning: &Tuning) -> Result<Partition, StoreError> {
        let path = dir.join(file_name(day));
        let mut conn = open_connection(&path)?;
        // WAL + synchronous=NORMAL: a commit is in the WAL (in the OS page cache) when COMMIT
        // returns, so it survives the death of this process (kill -9); only an OS crash or
        // power loss can lose the last commits. The database is never corrupted either way.
        conn.execute_batch(&format!(
            "PRAGMA page_size={}; PRAGMA journal_mode=WAL; PRAGMA synchronous={}; PRAGMA cache_size=-{};",
            tuning.page_size,
            if tuning.synchronous_full { "FULL" } else { "NORMAL" },
            tuning.writer_cache_kib,
        ))
        .map_err(be)?;
        migrate(&mut conn, &path, (tuning.station_postings, tuning.action_postings))?;
        // In pages of this file, which keeps the page size it was created with.
        let page_size: i64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0)).map_err(be)?;
        conn.pragma_update(None, "wal_autocheckpoint", tuning.wal_checkpoint_bytes / page_size.max(512)).map_err(be)?;
        let zdict: Vec<u8> = conn
            .query_row("SELECT value FROM meta WHERE key = 'zdict'", [], |r| r.get(0))
            .map_err(|e| StoreError::Incompatible(format!("{}: no compression dictionary: {e}", path.display())))?;
        let dict = Dict::load(&conn).map_err(be)?;
        let rows: i64 = conn.query_row("SELECT count(*) FROM log", [], |r| r.get(0)).map_err(be)?;
        let tail = Tail::load(&conn).map_err(be)?;
        let action_postings = tail.as_ref().is_some_and(|t| t.actions);
        let tail = tail.map(Mutex::new);
        // The count read a whole index through the cache: none of it is needed for writing.
        conn.execute_batch("PRAGMA shrink_memory").map_err(be)?;
        let enc = BodyEncoder::new(&zdict, tuning.zstd_level).map_err(be)?;
        let k_start = day_start_ms(day) << SLOT_BITS;
        Ok(Partition {
            day,
            path,
            k_start,
            k_end: k_start + (MS_PER_DAY << SLOT_BITS),
            zdict,
            tuning: tuning.clone(),
            writer: Mutex::new(Some(Writer { conn, enc })),
            readers: Mutex::new(Vec::new()),
            dict: RwLock::new(dict),
            rows: AtomicU64::new(rows as u64),
            tail,
            action_postings,
        })
    }

    /// Gives back the memory of this day's connections: the writer's page cache (refilled
    /// on demand if late records come) and the idle readers; the station keys still in
    /// memory are written as postings first.
    pub fn release_cache(&self) {
        if let Some(w) = self.writer.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
            // On failure the keys stay in memory, where queries find them, and the next
            // append or opening of the file writes or reads them back.
            let _ = self.write_tail(&mut w.conn);
            let _ = w.conn.execute_batch("PRAGMA shrink_memory");
        }
        self.readers.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    /// Bytes of page cache the writer connection holds now (`SQLITE_DBSTATUS_CACHE_USED`).
    #[cfg(test)]
    pub fn writer_cache_bytes(&self) -> i64 {
        let guard = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let conn = &guard.as_ref().expect("open").conn;
        let (mut now, mut high) = (0, 0);
        // SAFETY: the handle is a live connection, used by this thread alone under the lock.
        let rc = unsafe {
            rusqlite::ffi::sqlite3_db_status(
                conn.handle(),
                rusqlite::ffi::SQLITE_DBSTATUS_CACHE_USED,
                &mut now,
                &mut high,
                0,
            )
        };
        assert_eq!(rc, rusqlite::ffi::SQLITE_OK);
        i64::from(now)
    }

    /// Closes every connection (before the file is deleted).
    pub fn close(&self) {
        self.writer.lock().unwrap_or_else(|e| e.into_inner()).take();
        self.readers.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    /// Stores records (all of this day) in one transaction; returns how many were new.
    pub fn append(&self, records: &[&LogRecord]) -> Result<u64, StoreError> {
        let mut guard = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let w = guard.as_mut().ok_or_else(|| be("partition was dropped by retention"))?;
        let tx = w.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(be)?;
        let mut new_strings: Vec<(u8, i64, String)> = Vec::new();
        let result = (|| -> rusqlite::Result<(u64, Vec<(i64, i64)>)> {
            let mut intern = |kind: Kind, s: &str| -> rusqlite::Result<i64> {
                if let Some(id) = self.dict.read().unwrap_or_else(|e| e.into_inner()).id(kind, s) {
                    return Ok(id);
                }
                if let Some((_, id, _)) = new_strings.iter().find(|(k, _, v)| *k == kind as u8 && v == s) {
                    return Ok(*id);
                }
                let dict = self.dict.read().unwrap_or_else(|e| e.into_inner());
                let used = new_strings.iter().filter(|(k, _, _)| *k == kind as u8).count() as i64;
                let id = dict.next.get(&(kind as u8)).copied().unwrap_or(1) + used;
                drop(dict);
                tx.prepare_cached("INSERT INTO dict (kind, id, s) VALUES (?1, ?2, ?3)")?
                    .execute(params![kind as u8, id, s])?;
                new_strings.push((kind as u8, id, s.to_owned()));
                Ok(id)
            };
            let mut inserted = 0u64;
            let mut stored = Vec::with_capacity(records.len() * 2);
            let mut one = tx.prepare_cached(&insert_sql(1))?;
            let mut many = tx.prepare_cached(insert_many_sql())?;
            let mut existing = tx.prepare_cached("SELECT uid FROM log WHERE k = ?1")?;
            let mut rows = Vec::with_capacity(ROWS_PER_INSERT);
            for chunk in records.chunks(ROWS_PER_INSERT) {
                rows.clear();
                for r in chunk {
                    rows.push(Row::new(r, &mut intern, &mut w.enc)?);
                }
                let mut n = 0;
                if rows.len() == ROWS_PER_INSERT {
                    for (i, row) in rows.iter().enumerate() {
                        row.bind(&mut many, i * COLUMNS, row.k)?;
                    }
                    n = many.raw_execute()? as u64;
                }
                if n == rows.len() as u64 {
                    for row in &rows {
                        postings::push_terms(self.action_postings, row.terms(), row.k, &mut stored);
                    }
                } else {
                    // A key was taken (a redelivered record or, rarely, another record in
                    // the same millisecond and slot), or the chunk was short: one by one.
                    // A record found already stored (by the statement above, or before:
                    // a redelivery) goes to the postings again, which keep each key once.
                    for row in &rows {
                        if let Some((k, added)) = row.settle(&mut one, &mut existing)? {
                            postings::push_terms(self.action_postings, row.terms(), k, &mut stored);
                            n += u64::from(added);
                        }
                    }
                }
                inserted += n;
            }
            Ok((inserted, stored))
        })();
        let (inserted, stored) = match result {
            Ok(done) => done,
            Err(e) => return Err(be(e)), // the transaction rolls back on drop
        };
        let update = match &self.tail {
            Some(tail) => {
                let tail = tail.lock().unwrap_or_else(|e| e.into_inner());
                Some(postings::write(&tx, &tail, stored, self.tuning.station_flush).map_err(be)?)
            }
            None => None,
        };
        if !new_strings.is_empty() {
            // Readers may see the new rows as soon as COMMIT returns: publish the strings first.
            let mut dict = self.dict.write().unwrap_or_else(|e| e.into_inner());
            for (kind, id, s) in new_strings.iter().cloned() {
                dict.add(kind, id, s);
            }
        }
        if let Err(e) = tx.commit() {
            let fresh = Dict::load(&w.conn);
            if let Ok(fresh) = fresh {
                *self.dict.write().unwrap_or_else(|e| e.into_inner()) = fresh;
            }
            return Err(be(e));
        }
        if let (Some(tail), Some(update)) = (&self.tail, update) {
            update.apply(&mut tail.lock().unwrap_or_else(|e| e.into_inner()));
        }
        self.rows.fetch_add(inserted, Ordering::Relaxed);
        Ok(inserted)
    }

    /// Writes the station keys waiting in memory as postings (a file with postings).
    fn write_tail(&self, conn: &mut Connection) -> rusqlite::Result<()> {
        let Some(tail) = &self.tail else { return Ok(()) };
        let mut tail = tail.lock().unwrap_or_else(|e| e.into_inner());
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let update = postings::write(&tx, &tail, Vec::new(), std::time::Duration::ZERO)?;
        tx.commit()?;
        update.apply(&mut tail);
        Ok(())
    }

    /// Deletes the rows older than `k`; returns how many.
    pub fn delete_before(&self, k: i64) -> Result<u64, StoreError> {
        let mut guard = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let w = guard.as_mut().ok_or_else(|| be("partition was dropped by retention"))?;
        let n = w.conn.execute("DELETE FROM log WHERE k < ?1", [k]).map_err(be)? as u64;
        if self.tail.is_some() {
            w.conn.execute("DELETE FROM post WHERE hi < ?1", [k]).map_err(be)?;
        }
        let _ = w.conn.execute_batch("PRAGMA wal_checkpoint(PASSIVE)");
        self.rows.fetch_sub(n.min(self.rows.load(Ordering::Relaxed)), Ordering::Relaxed);
        Ok(n)
    }

    /// The oldest stored timestamp, if any.
    pub fn oldest_ms(&self) -> Result<Option<i64>, StoreError> {
        self.with_reader(|r| {
            let k: Option<i64> = r.conn.query_row("SELECT min(k) FROM log", [], |row| row.get(0)).map_err(be)?;
            Ok(k.map(|k| k >> SLOT_BITS))
        })
    }

    /// Runs `f` with a reader connection from the pool.
    pub fn with_reader<T>(&self, f: impl FnOnce(&mut Reader) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let pooled = self.readers.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let mut reader = match pooled {
            Some(r) => r,
            None => self.open_reader()?,
        };
        let out = f(&mut reader);
        let mut pool = self.readers.lock().unwrap_or_else(|e| e.into_inner());
        if pool.len() < self.tuning.max_idle_readers {
            pool.push(reader);
        }
        out
    }

    fn open_reader(&self) -> Result<Reader, StoreError> {
        let conn = open_connection(&self.path)?;
        conn.execute_batch(&format!(
            "PRAGMA query_only=1; PRAGMA cache_size=-{}; PRAGMA mmap_size={};",
            self.tuning.reader_cache_kib, self.tuning.reader_mmap_bytes
        ))
        .map_err(be)?;
        Ok(Reader { conn, dec: BodyDecoder::new(&self.zdict).map_err(be)? })
    }

    /// A string of the dictionary, looked up in the file when this process has not seen it.
    pub fn string(&self, conn: &Connection, kind: Kind, id: i64) -> Result<String, StoreError> {
        if let Some(s) = self.dict.read().unwrap_or_else(|e| e.into_inner()).string(kind, id) {
            return Ok(s.to_owned());
        }
        let s: Option<String> = conn
            .query_row("SELECT s FROM dict WHERE kind = ?1 AND id = ?2", params![kind as u8, id], |r| r.get(0))
            .optional()
            .map_err(be)?;
        s.ok_or_else(|| StoreError::Incompatible(format!("{}: unknown dictionary id {id}", self.path.display())))
    }
}

/// Records per multi-row INSERT: the statement's cursors on the table and its indexes are
/// opened and closed once for all of them, and rusqlite's per-call work is paid once.
const ROWS_PER_INSERT: usize = 32;
/// Columns of one row in [`insert_sql`].
const COLUMNS: usize = 14;

/// `INSERT OR IGNORE` of `rows` rows.
fn insert_sql(rows: usize) -> String {
    let one = format!("({})", vec!["?"; COLUMNS].join(","));
    format!(
        "INSERT OR IGNORE INTO log (k, uid, station, site, sname, action, status, err, conn, dir, mt, lvl, lat, body) \
         VALUES {}",
        vec![one; rows].join(",")
    )
}

fn insert_many_sql() -> &'static str {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SQL.get_or_init(|| insert_sql(ROWS_PER_INSERT))
}

/// One record as the columns of its row; `k` is its first-choice key.
struct Row {
    k: i64,
    ts: i64,
    id: RecordId,
    uid: Vec<u8>,
    strings: [Option<i64>; 6],
    conn: Option<i64>,
    dir: i64,
    mt: i64,
    lvl: i64,
    lat: Option<u32>,
    body: Vec<u8>,
}

impl Row {
    fn new(
        r: &LogRecord,
        intern: &mut impl FnMut(Kind, &str) -> rusqlite::Result<i64>,
        enc: &mut BodyEncoder,
    ) -> rusqlite::Result<Row> {
        let ts = r.timestamp.timestamp_millis();
        let station = intern(Kind::Station, &r.station_id)?;
        let mut opt = |kind, s: &Option<String>| s.as_deref().map(|s| intern(kind, s)).transpose();
        let strings = [
            Some(station),
            opt(Kind::Site, &r.site_id)?,
            opt(Kind::SiteName, &r.site_name)?,
            opt(Kind::Action, &r.action)?,
            opt(Kind::Status, &r.status)?,
            opt(Kind::ErrorCode, &r.error_code)?,
        ];
        Ok(Row {
            k: (ts << SLOT_BITS) | ((r.id.as_u128() as i64) & SLOT_MASK),
            ts,
            id: r.id,
            uid: encode_uid(&r.id, ts),
            strings,
            conn: r.connector_id,
            dir: match r.direction {
                Direction::In => 0,
                Direction::Out => 1,
            },
            mt: match MT_CODES.iter().position(|m| *m == r.message_type) {
                Some(code) => code as i64,
                None => -intern(Kind::MessageType, &r.message_type)?,
            },
            lvl: level_code(r.level),
            lat: r.latency_ms,
            body: enc
                .encode(r.unique_id.as_deref(), r.validation_error.as_deref(), &r.raw)
                .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?,
        })
    }

    /// Binds this row with key `k` to the parameters after the first `offset`.
    fn bind(&self, st: &mut rusqlite::Statement<'_>, offset: usize, k: i64) -> rusqlite::Result<()> {
        let [station, site, sname, action, status, err] = self.strings;
        st.raw_bind_parameter(offset + 1, k)?;
        st.raw_bind_parameter(offset + 2, &self.uid)?;
        st.raw_bind_parameter(offset + 3, station)?;
        st.raw_bind_parameter(offset + 4, site)?;
        st.raw_bind_parameter(offset + 5, sname)?;
        st.raw_bind_parameter(offset + 6, action)?;
        st.raw_bind_parameter(offset + 7, status)?;
        st.raw_bind_parameter(offset + 8, err)?;
        st.raw_bind_parameter(offset + 9, self.conn)?;
        st.raw_bind_parameter(offset + 10, self.dir)?;
        st.raw_bind_parameter(offset + 11, self.mt)?;
        st.raw_bind_parameter(offset + 12, self.lvl)?;
        st.raw_bind_parameter(offset + 13, self.lat)?;
        st.raw_bind_parameter(offset + 14, &self.body)
    }

    /// The station's and the action's dictionary ids: the row's terms in the postings.
    fn terms(&self) -> (i64, Option<i64>) {
        (self.strings[0].expect("every record has a station"), self.strings[3])
    }

    /// Stores this row alone: at its key, or at the next free slot of its millisecond when
    /// another record holds the key; nothing when the record is already stored. Returns
    /// the key of the record's row and whether this call added it (None: every slot of
    /// the millisecond is taken).
    fn settle(
        &self,
        one: &mut rusqlite::Statement<'_>,
        existing: &mut rusqlite::Statement<'_>,
    ) -> rusqlite::Result<Option<(i64, bool)>> {
        let base = self.k & !SLOT_MASK;
        let mut slot = self.k & SLOT_MASK;
        for _probe in 0..=SLOT_MASK {
            let k = base | slot;
            self.bind(one, 0, k)?;
            if one.raw_execute()? == 1 {
                return Ok(Some((k, true)));
            }
            let there: Vec<u8> = existing.query_row([k], |row| row.get(0))?;
            if decode_uid(&there, self.ts) == Some(self.id) {
                return Ok(Some((k, false))); // already stored
            }
            slot = (slot + 1) & SLOT_MASK;
        }
        Ok(None)
    }
}

fn level_code(l: LogLevel) -> i64 {
    match l {
        LogLevel::None => 0,
        LogLevel::Info => 1,
        LogLevel::Debug => 2,
    }
}

pub(crate) fn level_of(code: i64) -> LogLevel {
    match code {
        0 => LogLevel::None,
        2 => LogLevel::Debug,
        _ => LogLevel::Info,
    }
}

pub(crate) fn message_type_of(p: &Partition, conn: &Connection, code: i64) -> Result<String, StoreError> {
    match usize::try_from(code).ok().and_then(|c| MT_CODES.get(c)) {
        Some(m) => Ok((*m).to_owned()),
        None => p.string(conn, Kind::MessageType, -code),
    }
}

/// The `mt` code a message-type filter compares with (None: not in this partition).
pub(crate) fn message_type_code(p: &Partition, m: &str) -> Option<i64> {
    match MT_CODES.iter().position(|c| *c == m) {
        Some(code) => Some(code as i64),
        None => p.dict.read().unwrap_or_else(|e| e.into_inner()).id(Kind::MessageType, m).map(|id| -id),
    }
}

pub(crate) fn direction_of(code: i64) -> Direction {
    if code == 0 {
        Direction::In
    } else {
        Direction::Out
    }
}

/// Brings the file to the current schema version; a new file gets a station index of
/// postings when `postings` (`postings.rs`), else a B-tree index on `log (station)`, and an
/// action index of postings when `actions` as well.
fn migrate(conn: &mut Connection, path: &Path, (postings, actions): (bool, bool)) -> Result<(), StoreError> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(be)?;
    if version > schema_version() {
        return Err(StoreError::Incompatible(format!(
            "{} has schema version {version}, this build knows up to {}",
            path.display(),
            schema_version()
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(be)?;
        tx.execute_batch(sql).map_err(be)?;
        if i == 0 {
            tx.execute("INSERT INTO meta (key, value) VALUES ('zdict', ?1)", [zdict::builtin()]).map_err(be)?;
            if postings {
                Tail::create(&tx, actions).map_err(be)?;
            }
        }
        tx.execute_batch(&format!("PRAGMA user_version = {}", i + 1)).map_err(be)?;
        tx.commit().map_err(be)?;
    }
    Ok(())
}

/// Helper for tests and the query planner: decodes a row's id.
pub(crate) fn row_id(uid: &[u8], ts_ms: i64) -> Result<RecordId, StoreError> {
    decode_uid(uid, ts_ms).ok_or_else(|| StoreError::Incompatible("malformed record id".into()))
}
