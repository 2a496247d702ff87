//! The OCPP message log in PostgreSQL (SPEC.md, Data flow: many machines): [`PgLogStore`]
//! implements [`LogStore`] with the same meaning as the embedded store, checked by the
//! shared conformance suite.
//!
//! Layout, all inside one schema chosen by the caller (created if missing):
//! - `schema_migrations`: the applied versions of the append-only migration list
//!   (`migrations.rs`); a schema from a newer build is refused as
//!   [`StoreError::Incompatible`].
//! - `log`: one row per record, range-partitioned by UTC day on `ts`
//!   (partitions `log_pYYYYMMDD`, created on demand before an insert and remembered).
//!   The primary key `(ts, id)` makes appends idempotent (`ON CONFLICT DO NOTHING`; a
//!   record's id and timestamp never change, and the partition key must be part of every
//!   unique key). Newest first is a backwards walk of `(ts, id)` or of
//!   `(filter column, ts, id)`, partition by partition (ordered append, stops at the limit).
//! - Indexes: `station_id`, `station_id + connector_id`, `site_id`, `action`, `status`,
//!   `error_code` (the last two partial: most rows have neither), and a `pg_trgm` GIN index
//!   on `raw` for `q` when the extension is available.
//!
//! Timestamps are stored at millisecond precision (like the embedded store), so a cursor
//! `(timestamp_ms, id)` names a row exactly. `uuid` compares byte-wise in PostgreSQL, the
//! same order as `Uuid`'s `Ord`. `q` is `raw ILIKE '%q%'`: case-insensitive with the
//! database's `lower()` (full Unicode under a UTF-8 ctype such as `C.UTF-8`).
//!
//! Retention drops whole day partitions older than the cutoff and deletes the older rows
//! of the boundary day.

mod migrations;
mod text;

use chargewatch_logstore::query::Cursor;
use chargewatch_logstore::{Direction, LogLevel, LogPage, LogQuery, LogRecord, LogStore, StoreError, StoreStats};
use chrono::{DateTime, NaiveDate, Utc};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use std::borrow::Cow;
use std::collections::{BTreeSet, HashSet};
use std::sync::Mutex;
use std::time::Duration;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::NoTls;
use uuid::Uuid;

/// Settings of [`PgLogStore`]; `Default` is what [`PgLogStore::connect`] uses.
#[derive(Debug, Clone)]
pub struct PgOptions {
    /// Most connections held open to the server (default 8).
    pub pool_size: usize,
    /// Create the `pg_trgm` extension (if allowed) and a trigram index on the payload for
    /// `q` searches (default true). Costs ingest speed and disk; without it `q` scans.
    pub trigram_index: bool,
    /// Connect timeout when the URL does not set one (default 5 s).
    pub connect_timeout: Duration,
}

impl Default for PgOptions {
    fn default() -> Self {
        PgOptions { pool_size: 8, trigram_index: true, connect_timeout: Duration::from_secs(5) }
    }
}

/// The log store in PostgreSQL. Cheap to share between tasks (`Arc` it); every call takes
/// a connection from its pool.
pub struct PgLogStore {
    pool: Pool,
    /// The schema name as given, and quoted for SQL.
    schema: String,
    schema_sql: String,
    /// `"schema".log`
    log: String,
    /// Days whose partition is known to exist.
    days: Mutex<HashSet<NaiveDate>>,
    trigram: bool,
}

const COLUMNS: &str = "ts, id, action, station_id, connector_id, status, error_code, site_id, site_name, \
                       direction, message_type, unique_id, level, latency_ms, validation_error, raw";

pub(crate) fn be(e: tokio_postgres::Error) -> StoreError {
    match e.as_db_error() {
        Some(db) => StoreError::Backend(format!(
            "PostgreSQL {}: {}{}",
            db.code().code(),
            db.message(),
            db.detail().map(|d| format!(" ({d})")).unwrap_or_default()
        )),
        None => match std::error::Error::source(&e) {
            Some(cause) => StoreError::Backend(format!("PostgreSQL: {e}: {cause}")),
            None => StoreError::Backend(format!("PostgreSQL: {e}")),
        },
    }
}

fn pool_error(e: deadpool_postgres::PoolError) -> StoreError {
    match e {
        deadpool_postgres::PoolError::Backend(e) => be(e),
        e => StoreError::Backend(format!("PostgreSQL connection pool: {e}")),
    }
}

pub(crate) fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// Schema names are restricted to `[A-Za-z_][A-Za-z0-9_]*`, at most 63 bytes.
fn valid_schema(s: &str) -> bool {
    let mut chars = s.chars();
    s.len() <= 63
        && chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn partition_name(day: NaiveDate) -> String {
    format!("log_p{}", day.format("%Y%m%d"))
}

fn parse_partition_name(name: &str) -> Option<NaiveDate> {
    let digits = name.strip_prefix("log_p")?;
    (digits.len() == 8).then(|| NaiveDate::parse_from_str(digits, "%Y%m%d").ok())?
}

fn day_start(day: NaiveDate) -> DateTime<Utc> {
    day.and_hms_opt(0, 0, 0).expect("midnight").and_utc()
}

/// Millisecond precision, like the embedded store (a cursor names a row exactly).
fn truncate_ms(ts: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ts.timestamp_millis()).unwrap_or(ts)
}

fn opt(s: &Option<String>) -> Option<Cow<'_, str>> {
    s.as_deref().map(text::escape)
}

/// The columns of a batch, as arrays for `unnest`.
#[derive(Default)]
struct Columns<'a> {
    ts: Vec<DateTime<Utc>>,
    id: Vec<Uuid>,
    action: Vec<Option<Cow<'a, str>>>,
    station_id: Vec<Cow<'a, str>>,
    connector_id: Vec<Option<i64>>,
    status: Vec<Option<Cow<'a, str>>>,
    error_code: Vec<Option<Cow<'a, str>>>,
    site_id: Vec<Option<Cow<'a, str>>>,
    site_name: Vec<Option<Cow<'a, str>>>,
    direction: Vec<&'static str>,
    message_type: Vec<Cow<'a, str>>,
    unique_id: Vec<Option<Cow<'a, str>>>,
    level: Vec<&'static str>,
    latency_ms: Vec<Option<i64>>,
    validation_error: Vec<Option<Cow<'a, str>>>,
    raw: Vec<Cow<'a, str>>,
}

impl<'a> Columns<'a> {
    fn push(&mut self, r: &'a LogRecord) {
        self.ts.push(truncate_ms(r.timestamp));
        self.id.push(r.id);
        self.action.push(opt(&r.action));
        self.station_id.push(text::escape(&r.station_id));
        self.connector_id.push(r.connector_id);
        self.status.push(opt(&r.status));
        self.error_code.push(opt(&r.error_code));
        self.site_id.push(opt(&r.site_id));
        self.site_name.push(opt(&r.site_name));
        self.direction.push(r.direction.as_str());
        self.message_type.push(text::escape(&r.message_type));
        self.unique_id.push(opt(&r.unique_id));
        self.level.push(r.level.as_str());
        self.latency_ms.push(r.latency_ms.map(i64::from));
        self.validation_error.push(opt(&r.validation_error));
        self.raw.push(text::escape(&r.raw));
    }

    fn params(&self) -> [&(dyn ToSql + Sync); 16] {
        [
            &self.ts,
            &self.id,
            &self.action,
            &self.station_id,
            &self.connector_id,
            &self.status,
            &self.error_code,
            &self.site_id,
            &self.site_name,
            &self.direction,
            &self.message_type,
            &self.unique_id,
            &self.level,
            &self.latency_ms,
            &self.validation_error,
            &self.raw,
        ]
    }
}

fn decode_row(row: &tokio_postgres::Row) -> Result<LogRecord, StoreError> {
    let bad = |what: &str, v: &str| StoreError::Incompatible(format!("stored {what} `{v}` is not valid"));
    let s = |i: usize| -> String { text::unescape(row.get::<_, String>(i)) };
    let o = |i: usize| -> Option<String> { row.get::<_, Option<String>>(i).map(text::unescape) };
    let direction: &str = row.get(9);
    let level: &str = row.get(12);
    let latency: Option<i64> = row.get(13);
    Ok(LogRecord {
        timestamp: row.get(0),
        id: row.get(1),
        action: o(2),
        station_id: s(3),
        connector_id: row.get(4),
        status: o(5),
        error_code: o(6),
        site_id: o(7),
        site_name: o(8),
        direction: direction.parse::<Direction>().map_err(|_| bad("direction", direction))?,
        message_type: s(10),
        unique_id: o(11),
        level: level.parse::<LogLevel>().map_err(|_| bad("level", level))?,
        latency_ms: latency.map(|l| u32::try_from(l).map_err(|_| bad("latency", &l.to_string()))).transpose()?,
        validation_error: o(14),
        raw: s(15),
    })
}

/// `%` `_` and `\` taken literally in a LIKE pattern.
fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

type Param = Box<dyn ToSql + Sync + Send>;

/// A query's SQL and parameters: `None` when nothing can match (an empty site list).
fn build_query(log: &str, q: &LogQuery) -> Option<(String, Vec<Param>)> {
    let mut clauses: Vec<String> = Vec::new();
    let mut params: Vec<Param> = Vec::new();
    let mut bind = |p: Param| {
        params.push(p);
        format!("${}", params.len())
    };
    let esc = |s: &String| text::escape(s).into_owned();
    if let Some(sites) = &q.site_ids {
        match sites.as_slice() {
            [] => return None,
            [one] => clauses.push(format!("site_id = {}", bind(Box::new(esc(one))))),
            many => {
                clauses.push(format!("site_id = ANY({})", bind(Box::new(many.iter().map(esc).collect::<Vec<_>>()))))
            }
        }
    }
    if let Some(s) = &q.station_id {
        clauses.push(format!("station_id = {}", bind(Box::new(esc(s)))));
    }
    if let Some(c) = q.connector_id {
        clauses.push(format!("connector_id = {}", bind(Box::new(c))));
    }
    match q.actions.as_slice() {
        [] => {}
        [one] => clauses.push(format!("action = {}", bind(Box::new(esc(one))))),
        many => clauses.push(format!("action = ANY({})", bind(Box::new(many.iter().map(esc).collect::<Vec<_>>())))),
    }
    for (col, v) in [("status", &q.status), ("error_code", &q.error_code), ("message_type", &q.message_type)] {
        if let Some(v) = v {
            clauses.push(format!("{col} = {}", bind(Box::new(esc(v)))));
        }
    }
    if let Some(d) = q.direction {
        clauses.push(format!("direction = {}", bind(Box::new(d.as_str()))));
    }
    if let Some(from) = q.from {
        clauses.push(format!("ts >= {}", bind(Box::new(from))));
    }
    if let Some(to) = q.to {
        clauses.push(format!("ts < {}", bind(Box::new(to))));
    }
    if let Some(text) = &q.q {
        let pattern = format!("%{}%", like_escape(&text::escape(text)));
        clauses.push(format!("raw ILIKE {}", bind(Box::new(pattern))));
    }
    if let Some(Cursor { timestamp_ms, id }) = q.cursor {
        let ts = DateTime::from_timestamp_millis(timestamp_ms)?;
        let t = bind(Box::new(ts));
        let i = bind(Box::new(id));
        // The plain `ts <=` lets the planner skip newer partitions.
        clauses.push(format!("ts <= {t} AND (ts, id) < ({t}, {i})"));
    }
    let filter = if clauses.is_empty() { String::new() } else { format!(" WHERE {}", clauses.join(" AND ")) };
    let sql =
        format!("SELECT {COLUMNS} FROM {log}{filter} ORDER BY ts DESC, id DESC LIMIT {}", q.effective_limit() + 1);
    Some((sql, params))
}

impl PgLogStore {
    /// Connects to `url` (e.g. `postgres://postgres@127.0.0.1:5432/test`) and uses the
    /// schema `schema` (`[A-Za-z_][A-Za-z0-9_]*`), creating and migrating it as needed.
    /// Different schemas are independent stores (tests use a random one each).
    pub async fn connect(url: &str, schema: &str) -> Result<PgLogStore, StoreError> {
        PgLogStore::connect_with(url, schema, PgOptions::default()).await
    }

    pub async fn connect_with(url: &str, schema: &str, options: PgOptions) -> Result<PgLogStore, StoreError> {
        if !valid_schema(schema) {
            return Err(StoreError::Backend(format!(
                "schema name `{schema}` must be letters, digits and `_`, not starting with a digit, at most 63 bytes"
            )));
        }
        let mut config: tokio_postgres::Config =
            url.parse().map_err(|e| StoreError::Backend(format!("PostgreSQL URL {url}: {e}")))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(options.connect_timeout);
        }
        if config.get_application_name().is_none() {
            config.application_name("chargewatch-logstore");
        }
        let manager = Manager::from_config(config, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = Pool::builder(manager)
            .max_size(options.pool_size.max(1))
            .build()
            .map_err(|e| StoreError::Backend(format!("PostgreSQL connection pool: {e}")))?;
        let quoted = quote_ident(schema);
        let mut store = PgLogStore {
            pool,
            schema: schema.to_owned(),
            log: format!("{quoted}.log"),
            schema_sql: quoted,
            days: Mutex::new(HashSet::new()),
            trigram: false,
        };
        let mut client = store.pool.get().await.map_err(pool_error)?;
        migrations::migrate(&mut client, &store.schema_sql).await?;
        if options.trigram_index {
            store.trigram = migrations::ensure_trigram_index(&mut client, &store.schema_sql).await?;
        }
        let days = store.partitions(&client).await?.into_iter().map(|(d, _)| d).collect();
        *store.days.lock().expect("days lock") = days;
        drop(client);
        Ok(store)
    }

    /// The schema this store lives in.
    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// Whether `q` searches have the trigram index (the `pg_trgm` extension was available).
    pub fn has_trigram_index(&self) -> bool {
        self.trigram
    }

    /// Refreshes the planner statistics of every partition (`ANALYZE`). Autovacuum does
    /// this as partitions grow; call it after a bulk import so that `q` and rare-value
    /// filters get good plans at once (without statistics a common `q` term can take a
    /// bitmap scan of every match instead of a newest-first walk that stops at the limit).
    pub async fn analyze(&self) -> Result<(), StoreError> {
        let client = self.pool.get().await.map_err(pool_error)?;
        client.batch_execute(&format!("ANALYZE {}", self.log)).await.map_err(be)
    }

    /// The day partitions, oldest first, as (day, table name).
    async fn partitions(&self, client: &tokio_postgres::Client) -> Result<Vec<(NaiveDate, String)>, StoreError> {
        let rows = client
            .query(
                "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
                 WHERE i.inhparent = to_regclass($1)",
                &[&self.log],
            )
            .await
            .map_err(be)?;
        let mut out: Vec<(NaiveDate, String)> = rows
            .iter()
            .filter_map(|r| {
                let name: String = r.get(0);
                parse_partition_name(&name).map(|d| (d, name))
            })
            .collect();
        out.sort();
        Ok(out)
    }

    /// Creates the partitions of `days` that are not known to exist.
    async fn ensure_partitions(&self, days: &BTreeSet<NaiveDate>) -> Result<(), StoreError> {
        let missing: Vec<NaiveDate> = {
            let known = self.days.lock().expect("days lock");
            days.iter().filter(|d| !known.contains(d)).copied().collect()
        };
        if missing.is_empty() {
            return Ok(());
        }
        let mut client = self.pool.get().await.map_err(pool_error)?;
        let tx = client.transaction().await.map_err(be)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&migrations::DDL_LOCK]).await.map_err(be)?;
        for &day in &missing {
            let next = day.succ_opt().ok_or_else(|| StoreError::Backend(format!("no day after {day}")))?;
            tx.batch_execute(&format!(
                "CREATE TABLE IF NOT EXISTS {}.{} PARTITION OF {} FOR VALUES FROM ('{} 00:00:00+00') TO ('{} 00:00:00+00')",
                self.schema_sql,
                quote_ident(&partition_name(day)),
                self.log,
                day.format("%Y-%m-%d"),
                next.format("%Y-%m-%d"),
            ))
            .await
            .map_err(be)?;
        }
        tx.commit().await.map_err(be)?;
        self.days.lock().expect("days lock").extend(missing);
        Ok(())
    }

    async fn insert(&self, columns: &Columns<'_>) -> Result<Result<(), tokio_postgres::Error>, StoreError> {
        let client = self.pool.get().await.map_err(pool_error)?;
        let sql = format!(
            "INSERT INTO {} ({COLUMNS}) SELECT * FROM unnest($1::timestamptz[], $2::uuid[], $3::text[], \
             $4::text[], $5::int8[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], \
             $12::text[], $13::text[], $14::int8[], $15::text[], $16::text[]) ON CONFLICT DO NOTHING",
            self.log
        );
        Ok(client.execute(&sql, &columns.params()).await.map(|_| ()))
    }
}

#[async_trait::async_trait]
impl LogStore for PgLogStore {
    async fn append(&self, batch: std::sync::Arc<[LogRecord]>) -> Result<(), StoreError> {
        let mut seen = HashSet::with_capacity(batch.len());
        let mut records: Vec<&LogRecord> = batch.iter().filter(|r| seen.insert(r.id)).collect();
        if records.is_empty() {
            return Ok(());
        }
        // Key order: neighbouring rows land on the same index pages.
        records.sort_by_key(|r| (r.timestamp.timestamp_millis(), r.id));
        let mut columns = Columns::default();
        for r in &records {
            columns.push(r);
        }
        let days: BTreeSet<NaiveDate> = columns.ts.iter().map(|t| t.date_naive()).collect();
        self.ensure_partitions(&days).await?;
        match self.insert(&columns).await? {
            Err(e) if e.code() == Some(&SqlState::CHECK_VIOLATION) => {
                // A partition this process remembered was dropped (retention elsewhere).
                self.days.lock().expect("days lock").clear();
                self.ensure_partitions(&days).await?;
                self.insert(&columns).await?.map_err(be)
            }
            other => other.map_err(be),
        }
    }

    async fn query(&self, query: &LogQuery) -> Result<LogPage, StoreError> {
        let Some((sql, params)) = build_query(&self.log, query) else {
            return Ok(LogPage::default());
        };
        let client = self.pool.get().await.map_err(pool_error)?;
        let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| &**p as &(dyn ToSql + Sync)).collect();
        let rows = client.query(&sql, &refs).await.map_err(be)?;
        let limit = query.effective_limit();
        let more = rows.len() > limit;
        let items = rows.iter().take(limit).map(decode_row).collect::<Result<Vec<_>, _>>()?;
        let next = if more { items.last().map(Cursor::after) } else { None };
        Ok(LogPage { items, next })
    }

    async fn purge_before(&self, cutoff: DateTime<Utc>) -> Result<u64, StoreError> {
        let mut client = self.pool.get().await.map_err(pool_error)?;
        let tx = client.transaction().await.map_err(be)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&migrations::DDL_LOCK]).await.map_err(be)?;
        let mut removed = 0u64;
        let mut dropped = Vec::new();
        for (day, name) in self.partitions(tx.client()).await? {
            let Some(end) = day.succ_opt().map(day_start) else { continue };
            if end > cutoff {
                break;
            }
            let table = format!("{}.{}", self.schema_sql, quote_ident(&name));
            let n: i64 = tx.query_one(&format!("SELECT count(*) FROM {table}"), &[]).await.map_err(be)?.get(0);
            tx.batch_execute(&format!("DROP TABLE {table}")).await.map_err(be)?;
            removed += n as u64;
            dropped.push(day);
        }
        // The boundary day (and rows of any partition not named by day).
        removed += tx.execute(&format!("DELETE FROM {} WHERE ts < $1", self.log), &[&cutoff]).await.map_err(be)?;
        tx.commit().await.map_err(be)?;
        let mut known = self.days.lock().expect("days lock");
        for d in dropped {
            known.remove(&d);
        }
        Ok(removed)
    }

    async fn stats(&self) -> Result<StoreStats, StoreError> {
        let client = self.pool.get().await.map_err(pool_error)?;
        let row = client
            .query_one(
                &format!(
                    "SELECT (SELECT count(*) FROM {log}), (SELECT min(ts) FROM {log}), count(*), \
                     coalesce(sum(pg_total_relation_size(i.inhrelid)), 0)::bigint \
                     FROM pg_inherits i WHERE i.inhparent = to_regclass($1)",
                    log = self.log
                ),
                &[&self.log],
            )
            .await
            .map_err(be)?;
        let records: i64 = row.get(0);
        let partitions: i64 = row.get(2);
        let disk: i64 = row.get(3);
        Ok(StoreStats {
            records: records as u64,
            disk_bytes: disk as u64,
            partitions: partitions as u64,
            oldest: row.get(1),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_names() {
        assert!(valid_schema("chargewatch"));
        assert!(valid_schema("_t1"));
        assert!(!valid_schema("1abc"));
        assert!(!valid_schema("a-b"));
        assert!(!valid_schema(""));
        assert!(!valid_schema(&"a".repeat(64)));
    }

    #[test]
    fn partition_names() {
        let d = NaiveDate::from_ymd_opt(2026, 11, 21).unwrap();
        assert_eq!(partition_name(d), "log_p20261121");
        assert_eq!(parse_partition_name("log_p20261121"), Some(d));
        assert_eq!(parse_partition_name("log_default"), None);
    }

    #[test]
    fn like_patterns() {
        assert_eq!(like_escape(r"50%_a\b"), r"50\%\_a\\b");
    }
}
