//! Answering a [`LogQuery`]: newest partition first, each by an index in `k DESC` order,
//! stopping as soon as the page is full (plus one row to know whether there is more).
//!
//! Rows of one millisecond are ordered by slot in the file but by record id in the API, so
//! a page always reads the whole millisecond at its end and sorts it: cursors stay exact.
//! A scan that runs out of its time budget stops at a millisecond boundary and returns what
//! it found with a cursor there (possibly a short or empty page with a `next`): only `q`
//! and rare combinations of filters ever get there.

use super::codec::BodyDecoder;
use super::partition::{
    be, direction_of, level_of, message_type_code, message_type_of, row_id, Kind, Partition, Reader, MT_RARE, SLOT_BITS,
};
use super::postings::{action_term, MergedKeys, TermKeys, POSTINGS_SQL, STRADDLER_SQL};
use crate::query::{Cursor, LogPage, LogQuery};
use crate::record::{LogRecord, RecordId};
use crate::store::StoreError;
use chrono::{DateTime, Utc};
use memchr::memmem::Finder;
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Milliseconds far enough out that shifting by SLOT_BITS cannot overflow.
const MS_LIMIT: i64 = 1 << 42;

/// The first millisecond at or after `t` (record timestamps have millisecond precision).
pub(crate) fn ceil_ms(t: DateTime<Utc>) -> i64 {
    let ms = t.timestamp_millis();
    if !t.timestamp_subsec_nanos().is_multiple_of(1_000_000) {
        ms + 1
    } else {
        ms
    }
}

pub(crate) fn key_of_ms(ms: i64) -> i64 {
    ms.clamp(-MS_LIMIT, MS_LIMIT) << SLOT_BITS
}

struct RawRow {
    k: i64,
    uid: Vec<u8>,
    station: i64,
    site: Option<i64>,
    sname: Option<i64>,
    action: Option<i64>,
    status: Option<i64>,
    err: Option<i64>,
    conn: Option<i64>,
    dir: i64,
    mt: i64,
    lvl: i64,
    lat: Option<i64>,
    body: Vec<u8>,
}

impl RawRow {
    fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawRow> {
        Ok(RawRow {
            k: r.get(0)?,
            uid: r.get(1)?,
            station: r.get(2)?,
            site: r.get(3)?,
            sname: r.get(4)?,
            action: r.get(5)?,
            status: r.get(6)?,
            err: r.get(7)?,
            conn: r.get(8)?,
            dir: r.get(9)?,
            mt: r.get(10)?,
            lvl: r.get(11)?,
            lat: r.get(12)?,
            body: r.get(13)?,
        })
    }
}

const SELECT: &str = "SELECT k, uid, station, site, sname, action, status, err, conn, dir, mt, lvl, lat, body FROM log";

/// The state of one page being filled, carried from partition to partition.
struct Page<'q> {
    query: &'q LogQuery,
    limit: usize,
    needle: Option<(String, Finder<'static>)>,
    lower: Vec<u8>,
    items: Vec<LogRecord>,
    /// Timestamp of the `limit`-th item found: the millisecond that ends the page.
    boundary: Option<i64>,
    prev_ts: Option<i64>,
    more: bool,
    budget_stop: Option<i64>,
    deadline: Instant,
}

enum Flow {
    Continue,
    Stop,
}

/// `q`'s case-insensitive substring test, with the same meaning as `LogQuery::matches`
/// (Unicode lower case), fast for ASCII payloads.
fn matches_q(needle: Option<&(String, Finder<'static>)>, lower: &mut Vec<u8>, raw: &[u8]) -> bool {
    let Some((needle, finder)) = needle else { return true };
    if raw.is_ascii() {
        lower.clear();
        lower.extend(raw.iter().map(u8::to_ascii_lowercase));
        finder.find(lower).is_some()
    } else {
        std::str::from_utf8(raw).is_ok_and(|s| s.to_lowercase().contains(needle.as_str()))
    }
}

impl Page<'_> {
    fn row(
        &mut self,
        p: &Partition,
        conn: &Connection,
        dec: &mut BodyDecoder,
        row: RawRow,
    ) -> Result<Flow, StoreError> {
        let ts = row.k >> SLOT_BITS;
        if let Flow::Stop = self.reached(ts) {
            return Ok(Flow::Stop);
        }
        let id = row_id(&row.uid, ts)?;
        if let Some(c) = self.query.cursor {
            if ts == c.timestamp_ms && id >= c.id {
                return Ok(Flow::Continue);
            }
        }
        let lookahead = self.boundary.is_some_and(|b| ts < b);
        if self.needle.is_some() {
            let raw = dec.raw(&row.body).map_err(be)?;
            if !matches_q(self.needle.as_ref(), &mut self.lower, raw) {
                return Ok(Flow::Continue);
            }
        }
        if lookahead {
            self.more = true;
            return Ok(Flow::Stop);
        }
        let record = decode(p, conn, dec, row, ts, id)?;
        self.items.push(record);
        if self.items.len() == self.limit {
            self.boundary = Some(ts);
        }
        Ok(Flow::Continue)
    }

    /// Notes that the scan reached millisecond `ts`; stops it at the millisecond before
    /// (all of which was scanned) once the time budget is spent.
    fn reached(&mut self, ts: i64) -> Flow {
        if self.prev_ts.is_some_and(|prev| prev != ts) && Instant::now() >= self.deadline {
            self.budget_stop = self.prev_ts;
            return Flow::Stop;
        }
        self.prev_ts = Some(ts);
        Flow::Continue
    }

    fn finish(mut self) -> LogPage {
        self.items.sort_by(|a, b| b.timestamp.cmp(&a.timestamp).then(b.id.cmp(&a.id)));
        if self.items.len() > self.limit {
            self.more = true;
            self.items.truncate(self.limit);
        }
        let full = self.items.len() >= self.limit;
        let next = match (self.budget_stop, self.items.last()) {
            (Some(_), Some(last)) if full => Some(Cursor::after(last)),
            (Some(ts), _) => Some(Cursor { timestamp_ms: ts, id: RecordId::nil() }),
            (None, Some(last)) if self.more => Some(Cursor::after(last)),
            _ => None,
        };
        LogPage { items: self.items, next }
    }
}

fn decode(
    p: &Partition,
    conn: &Connection,
    dec: &mut BodyDecoder,
    row: RawRow,
    ts: i64,
    id: RecordId,
) -> Result<LogRecord, StoreError> {
    let body = dec.decode(&row.body).map_err(be)?;
    let opt = |kind: Kind, v: Option<i64>| v.map(|id| p.string(conn, kind, id)).transpose();
    Ok(LogRecord {
        id,
        timestamp: DateTime::from_timestamp_millis(ts).ok_or_else(|| be("timestamp out of range"))?,
        action: opt(Kind::Action, row.action)?,
        station_id: p.string(conn, Kind::Station, row.station)?,
        connector_id: row.conn,
        status: opt(Kind::Status, row.status)?,
        error_code: opt(Kind::ErrorCode, row.err)?,
        site_id: opt(Kind::Site, row.site)?,
        site_name: opt(Kind::SiteName, row.sname)?,
        direction: direction_of(row.dir),
        message_type: message_type_of(p, conn, row.mt)?,
        unique_id: body.unique_id,
        level: level_of(row.lvl),
        latency_ms: row.lat.and_then(|l| u32::try_from(l).ok()),
        validation_error: body.validation_error,
        raw: body.raw,
    })
}

/// How one partition answers a query.
enum Plan {
    /// One SQL statement per value of the expanded multi-valued filter (each in `k DESC`
    /// order by its own index), merged by `k`.
    Streams(Vec<(String, Vec<Value>)>),
    /// The keys in `range` of the station, or of the actions, from their postings
    /// (`postings.rs`), newest first, the rows read [`KEYS_PER_READ`] keys at a time by
    /// `sql`, whose first parameters are the keys and whose other clauses are the query's
    /// other filters.
    Keys { terms: Vec<i64>, range: (i64, i64), sql: String, params: Vec<Value> },
}

/// Which postings answer a query in a partition.
#[derive(Clone, Copy, PartialEq)]
enum ByKeys {
    /// None: SQLite's indexes do.
    No,
    Station,
    Actions,
}

/// Keys per statement when a partition is read by a station's keys: one statement per key
/// made a scan of a station's whole day (a rare `q` with a station) 50 % slower than
/// walking a B-tree index.
const KEYS_PER_READ: usize = 64;

/// Which postings answer `q` in `p`: the station's when the file has them and the query
/// filters by station, else the actions' when the file has those and the query filters by
/// action; none when the query also filters by a column whose own index is likely to be
/// more selective (a status, an error code, a rare message type).
fn by_keys(p: &Partition, q: &LogQuery) -> ByKeys {
    let rare_type = q.message_type.as_deref().and_then(|m| message_type_code(p, m)).is_some_and(|c| c >= MT_RARE);
    if p.tail.is_none() || q.status.is_some() || q.error_code.is_some() || rare_type {
        ByKeys::No
    } else if q.station_id.is_some() {
        ByKeys::Station
    } else if p.action_postings && !q.actions.is_empty() {
        ByKeys::Actions
    } else {
        ByKeys::No
    }
}

/// The plan of `q` in partition `p` between keys `lo_k` and `hi_k`; `None` when the
/// partition cannot match.
fn plan(p: &Partition, q: &LogQuery, lo_k: i64, hi_k: i64) -> Option<Plan> {
    let by_keys = by_keys(p, q);
    let range = (lo_k.max(p.k_start), hi_k.min(p.k_end));
    let mut clauses = if by_keys == ByKeys::No {
        Clauses { sql: vec!["k >= ?".to_owned(), "k < ?".to_owned()], params: vec![range.0.into(), range.1.into()] }
    } else {
        Clauses {
            sql: vec![format!("k IN ({})", vec!["?"; KEYS_PER_READ].join(","))],
            params: vec![Value::Null; KEYS_PER_READ],
        }
    };
    let station = single_filters(p, q, by_keys, &mut clauses)?;
    let lists = Lists::of(p, q)?;
    Some(match by_keys {
        ByKeys::No => streams_plan(p, lists, clauses),
        ByKeys::Station => keys_plan(vec![station], lists, clauses, range),
        ByKeys::Actions => {
            let terms = lists.actions.iter().flatten().map(|&a| action_term(a)).collect();
            keys_plan(terms, Lists { actions: None, ..lists }, clauses, range)
        }
    })
}

/// The WHERE clauses of a plan's statement and their parameters.
struct Clauses {
    sql: Vec<String>,
    params: Vec<Value>,
}

impl Clauses {
    fn eq(&mut self, col: &str, v: i64) {
        self.sql.push(format!("{col} = ?"));
        self.params.push(Value::Integer(v));
    }

    /// `col IN (…)`, the values in the text; `+col` keeps SQLite from choosing the column's
    /// index for it (a row-by-row check).
    fn any_of(&mut self, col: &str, values: &[i64]) {
        let list = values.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
        self.sql.push(format!("{col} IN ({list})"));
    }

    fn select(&self) -> String {
        format!("{SELECT} WHERE {}", self.sql.join(" AND "))
    }
}

/// Adds the query's single-valued filters; returns the station's dictionary id (0 without
/// a station filter), which a plan by the station's keys does not add. `None` when a value
/// is not in the partition.
fn single_filters(p: &Partition, q: &LogQuery, by_keys: ByKeys, c: &mut Clauses) -> Option<i64> {
    let dict = p.dict.read().unwrap_or_else(|e| e.into_inner());
    let mut station = 0;
    if let Some(s) = &q.station_id {
        station = dict.id(Kind::Station, s)?;
        if by_keys != ByKeys::Station {
            c.eq("station", station);
        }
    }
    if let Some(conn) = q.connector_id {
        c.eq("conn", conn);
    }
    if let Some(s) = &q.status {
        c.eq("status", dict.id(Kind::Status, s)?);
    }
    if let Some(s) = &q.error_code {
        c.eq("err", dict.id(Kind::ErrorCode, s)?);
    }
    if let Some(d) = q.direction {
        c.eq("dir", d as i64);
    }
    drop(dict);
    if let Some(m) = &q.message_type {
        let code = message_type_code(p, m)?;
        c.eq("mt", code);
        if code >= MT_RARE {
            c.sql.push(format!("mt >= {MT_RARE}")); // the partial index's own term
        }
    }
    Some(station)
}

/// The dictionary ids of the query's multi-valued filters, sorted, each once (None: not
/// filtered by it).
struct Lists {
    sites: Option<Vec<i64>>,
    actions: Option<Vec<i64>>,
}

impl Lists {
    /// `None` when a list has no value in the partition.
    fn of(p: &Partition, q: &LogQuery) -> Option<Lists> {
        let dict = p.dict.read().unwrap_or_else(|e| e.into_inner());
        let ids = |kind: Kind, values: &[String]| -> Vec<i64> {
            let mut v: Vec<i64> = values.iter().filter_map(|s| dict.id(kind, s)).collect();
            v.sort_unstable();
            v.dedup();
            v
        };
        let sites = q.site_ids.as_ref().map(|s| ids(Kind::Site, s));
        let actions = (!q.actions.is_empty()).then(|| ids(Kind::Action, &q.actions));
        let none = |v: &Option<Vec<i64>>| v.as_ref().is_some_and(Vec::is_empty);
        (!none(&sites) && !none(&actions)).then_some(Lists { sites, actions })
    }
}

/// Reads the keys of `terms`; the lists left are checked row by row.
fn keys_plan(terms: Vec<i64>, lists: Lists, mut c: Clauses, range: (i64, i64)) -> Plan {
    for (col, values) in [("action", &lists.actions), ("site", &lists.sites)] {
        if let Some(values) = values {
            c.any_of(col, values);
        }
    }
    let sql = format!("{} ORDER BY k DESC", c.select());
    Plan::Keys { terms, range, sql, params: c.params }
}

/// One statement per action if there are several and a B-tree indexes them, else per
/// site; the other list, if any, is checked row by row.
fn streams_plan(p: &Partition, lists: Lists, mut c: Clauses) -> Plan {
    let Lists { sites, actions } = lists;
    let several = |v: &Option<Vec<i64>>| v.as_ref().is_some_and(|v| v.len() > 1);
    let (expand_col, expand, rest) = if several(&actions) && !p.action_postings {
        ("action", actions.unwrap_or_default(), sites.map(|s| ("+site", s)))
    } else if several(&sites) {
        ("site", sites.unwrap_or_default(), actions.map(|a| ("+action", a)))
    } else {
        if let Some(s) = &sites {
            c.eq("site", s[0]);
        }
        match actions {
            Some(a) if a.len() == 1 => {
                c.eq("action", a[0]);
                ("", Vec::new(), None)
            }
            a => ("", Vec::new(), a.map(|a| ("+action", a))),
        }
    };
    if let Some((col, values)) = rest {
        c.any_of(col, &values);
    }
    let base = c.select();
    if expand.is_empty() {
        return Plan::Streams(vec![(format!("{base} ORDER BY k DESC"), c.params)]);
    }
    let stream = |v: i64| {
        let mut params = c.params.clone();
        params.push(Value::Integer(v));
        (format!("{base} AND {expand_col} = ? ORDER BY k DESC"), params)
    };
    Plan::Streams(expand.into_iter().map(stream).collect())
}

fn scan_partition(p: &Partition, page: &mut Page<'_>, lo_k: i64, hi_k: i64) -> Result<Flow, StoreError> {
    match plan(p, page.query, lo_k, hi_k) {
        None => Ok(Flow::Continue),
        Some(Plan::Streams(streams)) => scan_streams(p, page, &streams),
        Some(Plan::Keys { terms, range, sql, params }) => scan_keys(p, page, &terms, range, &sql, params),
    }
}

/// Reads the rows of the keys of `terms` in `(lo, hi)` that `sql` (`k IN (…)` and the
/// other filters) matches, newest first.
fn scan_keys(
    p: &Partition,
    page: &mut Page<'_>,
    terms: &[i64],
    (lo, hi): (i64, i64),
    sql: &str,
    mut params: Vec<Value>,
) -> Result<Flow, StoreError> {
    let tail = p.tail.as_ref().ok_or_else(|| be("no postings in this file"))?;
    p.with_reader(|reader| {
        let Reader { conn, dec } = reader;
        let conn: &Connection = conn;
        // The tail first, then the postings: a flush in between puts keys in both.
        let (tails, mark) = {
            let tail = tail.lock().unwrap_or_else(|e| e.into_inner());
            (terms.iter().map(|&t| tail.snapshot(t, lo, hi)).collect::<Vec<_>>(), tail.mark)
        };
        let mut statements = Vec::with_capacity(terms.len());
        for _ in terms {
            statements.push(conn.prepare_cached(POSTINGS_SQL).map_err(be)?);
        }
        let mut streams = Vec::with_capacity(terms.len());
        for ((statement, &term), tail) in statements.iter_mut().zip(terms).zip(tails) {
            // Every posting ends at or below the watermark: above it, none can straddle `hi`.
            let straddler = if hi > mark {
                None
            } else {
                conn.prepare_cached(STRADDLER_SQL)
                    .and_then(|mut st| {
                        st.query_row(rusqlite::params![term, hi], |r| Ok((r.get(0)?, r.get(1)?))).optional()
                    })
                    .map_err(be)?
            };
            let rows = statement.query(rusqlite::params![term, lo, hi]).map_err(be)?;
            streams.push(TermKeys::new(tail, mark, (lo, hi), straddler, rows).map_err(be)?);
        }
        let mut keys = MergedKeys::new(streams).map_err(be)?;
        let mut by_keys = conn.prepare_cached(sql).map_err(be)?;
        loop {
            let mut oldest = None;
            for slot in params.iter_mut().take(KEYS_PER_READ) {
                // A short last read repeats its oldest key.
                if let Some(k) = keys.next_key().map_err(be)? {
                    oldest = Some(k);
                }
                let Some(k) = oldest else { return Ok(Flow::Continue) };
                *slot = Value::Integer(k);
            }
            let mut rows = by_keys.query(rusqlite::params_from_iter(params.iter())).map_err(be)?;
            while let Some(row) = rows.next().map_err(be)? {
                if let Flow::Stop = page.row(p, conn, dec, RawRow::read(row).map_err(be)?)? {
                    return Ok(Flow::Stop);
                }
            }
            // The keys that matched nothing count against the time budget too.
            if let Flow::Stop = page.reached(oldest.expect("one key at least") >> SLOT_BITS) {
                return Ok(Flow::Stop);
            }
        }
    })
}

/// Reads the rows of every statement of `streams`, merged newest first.
fn scan_streams(p: &Partition, page: &mut Page<'_>, streams: &[(String, Vec<Value>)]) -> Result<Flow, StoreError> {
    p.with_reader(|reader| {
        let Reader { conn, dec } = reader;
        let conn: &Connection = conn;
        let mut stmts = Vec::with_capacity(streams.len());
        for (sql, _) in streams {
            stmts.push(conn.prepare_cached(sql).map_err(be)?);
        }
        let mut rows = Vec::with_capacity(streams.len());
        for (stmt, (_, params)) in stmts.iter_mut().zip(streams) {
            rows.push(stmt.query(rusqlite::params_from_iter(params.iter())).map_err(be)?);
        }
        let mut heads: Vec<Option<RawRow>> = Vec::with_capacity(rows.len());
        for r in rows.iter_mut() {
            heads.push(r.next().map_err(be)?.map(RawRow::read).transpose().map_err(be)?);
        }
        loop {
            let best =
                heads.iter().enumerate().filter_map(|(i, h)| h.as_ref().map(|h| (i, h.k))).max_by_key(|&(_, k)| k);
            let Some((i, _)) = best else { return Ok(Flow::Continue) };
            let next = rows[i].next().map_err(be)?.map(RawRow::read).transpose().map_err(be)?;
            let row = std::mem::replace(&mut heads[i], next).expect("head exists");
            if let Flow::Stop = page.row(p, conn, dec, row)? {
                return Ok(Flow::Stop);
            }
        }
    })
}

/// Answers `q` over `partitions` (any order).
pub(crate) fn query(
    mut partitions: Vec<Arc<Partition>>,
    q: &LogQuery,
    budget: Duration,
) -> Result<LogPage, StoreError> {
    let lo_k = q.from.map_or(i64::MIN, |t| key_of_ms(ceil_ms(t)));
    let mut hi_k = q.to.map_or(i64::MAX, |t| key_of_ms(ceil_ms(t)));
    if let Some(c) = q.cursor {
        hi_k = hi_k.min(key_of_ms(c.timestamp_ms.saturating_add(1)));
    }
    partitions.retain(|p| p.k_end > lo_k && p.k_start < hi_k);
    partitions.sort_by_key(|p| std::cmp::Reverse(p.day));
    let needle = q.q.as_ref().map(|s| {
        let lower = s.to_lowercase();
        let finder = Finder::new(lower.as_bytes()).into_owned();
        (lower, finder)
    });
    let mut page = Page {
        query: q,
        limit: q.effective_limit(),
        needle,
        lower: Vec::new(),
        items: Vec::new(),
        boundary: None,
        prev_ts: None,
        more: false,
        budget_stop: None,
        deadline: Instant::now() + budget,
    };
    for p in &partitions {
        if let Flow::Stop = scan_partition(p, &mut page, lo_k, hi_k)? {
            break;
        }
    }
    Ok(page.finish())
}
