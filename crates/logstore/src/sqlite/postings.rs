//! The station index of day files created since 2026-12-06, and the action index of those
//! created since the afternoon of that day: postings instead of B-tree indexes on `log (station)` and
//! `log (action)`.
//!
//! With a hundred stations sending at once, a B-tree index on `station` takes every record
//! into a different leaf, and each commit rewrites about one leaf per station: that index
//! was three quarters of the log store's index cost (bench/README.md, "Which index costs
//! what"). The action index, which every record enters too, was then a quarter of the log
//! store's CPU. Here the newest keys of each *term* (a station, or an action) wait in
//! memory ([`Tail`]) and are written about once a second as one posting per term: a row of
//! `post` holding the keys of that term's records, delta-encoded, newest first.
//!
//! A term is a station's dictionary id (≥ 1) or an action's, negated ([`action_term`]), in
//! the column `post.station` (named when it held only stations). Files whose watermark is
//! `meta.post_mark_actions` ([`ACTIONS_MARK_KEY`]) keep their actions' keys in postings and
//! have no `log_action` index; files whose watermark is `meta.post_mark` ([`MARK_KEY`],
//! created on the morning of 2026-12-06) have station postings and a B-tree action index.
//! The two names keep a build of that morning, which knows only `post_mark`, from writing
//! and flushing station postings into a file with action postings (its flushes would leave
//! the action keys of its records out for good): it takes such a file for one without
//! postings, scans it for a station or an action filter and leaves its watermark alone, so
//! this build reads the rows it wrote back from above the watermark.
//!
//! Invariants (per file):
//! - Every row of `log` with a key above the watermark is in the tail
//!   under each of its terms, and no posting holds such a key. On open the tail is rebuilt
//!   from those rows, so a crash loses nothing the postings need.
//! - Every row with a key at or below the watermark is in a posting of each of its terms.
//!   A *late* record (its key at or below the watermark when it is stored) gets a posting
//!   of its own key per term in its own commit. A redelivered record may put its key in the
//!   index twice; readers return each key once ([`TermKeys::next_key`]).
//! - A flush writes each term's keys between the previous watermark and the new one, so a
//!   term's flushed postings cover disjoint key ranges, and a late posting covers one key:
//!   at most one posting straddles any key.

use super::codec::{get_varint, put_varint};
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

use foldhash::HashMap;

/// The `meta` key of the watermark of a file whose station index alone is postings.
const MARK_KEY: &str = "post_mark";
/// The `meta` key of the watermark of a file whose station and action indexes are postings.
const ACTIONS_MARK_KEY: &str = "post_mark_actions";

/// The `meta` key of the watermark of a file with action postings or without.
fn mark_key(actions: bool) -> &'static str {
    if actions {
        ACTIONS_MARK_KEY
    } else {
        MARK_KEY
    }
}

/// The term of an action's dictionary id (stations' terms are their ids).
pub(crate) fn action_term(action: i64) -> i64 {
    -action
}

/// The schema of the postings, created with a new day file.
const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS post (
        station INTEGER NOT NULL,   -- the term: a station's dict id, or an action's negated
        hi INTEGER NOT NULL,        -- newest key
        lo INTEGER NOT NULL,        -- oldest key
        ks BLOB NOT NULL,           -- the keys, newest first: varints of (previous - key)
        PRIMARY KEY (station, hi)
     ) WITHOUT ROWID";

/// Adds to `out` the (term, key) pairs of a row with key `k`, its station and action (dict
/// ids), in a file that keeps actions' postings when `actions`.
pub(crate) fn push_terms(actions: bool, (station, action): (i64, Option<i64>), k: i64, out: &mut Vec<(i64, i64)>) {
    out.push((station, k));
    if let Some(action) = action.filter(|_| actions) {
        out.push((action_term(action), k));
    }
}

/// Keys above the watermark, per term, not yet written as postings.
#[derive(Debug)]
pub(crate) struct Tail {
    pub mark: i64,
    /// Whether actions are terms in this file ([`ACTIONS_MARK_KEY`]).
    pub actions: bool,
    /// Each term's keys, ascending.
    keys: HashMap<i64, Vec<i64>>,
    count: usize,
    flushed_at: Instant,
}

/// Most keys the tail holds before it is written whatever its age: bounds its memory and
/// the rows read back on open.
const TAIL_MAX_KEYS: usize = 1 << 18;

impl Tail {
    /// Reads the watermark and the rows above it (None: the file has a B-tree station index).
    pub fn load(conn: &Connection) -> rusqlite::Result<Option<Tail>> {
        let meta = |key| conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get::<_, i64>(0));
        let (mark, actions) = match (meta(ACTIONS_MARK_KEY).optional()?, meta(MARK_KEY).optional()?) {
            (Some(mark), _) => (mark, true),
            (None, Some(mark)) => (mark, false),
            (None, None) => return Ok(None),
        };
        let mut tail = Tail { mark, actions, keys: HashMap::default(), count: 0, flushed_at: Instant::now() };
        let mut st = conn.prepare("SELECT station, action, k FROM log WHERE k > ?1")?;
        let mut rows = st.query([mark])?;
        let mut terms = Vec::with_capacity(2);
        while let Some(r) = rows.next()? {
            let k = r.get(2)?;
            push_terms(actions, (r.get(0)?, r.get(1)?), k, &mut terms);
            for (term, k) in terms.drain(..) {
                tail.push(term, k);
            }
        }
        Ok(Some(tail))
    }

    /// Makes `conn`'s new, empty file one with station postings, and action postings too
    /// when `actions`.
    pub fn create(conn: &Connection, actions: bool) -> rusqlite::Result<()> {
        conn.execute_batch(SCHEMA)?;
        conn.execute_batch("DROP INDEX IF EXISTS log_station")?;
        if actions {
            conn.execute_batch("DROP INDEX IF EXISTS log_action")?;
        }
        conn.execute("INSERT INTO meta (key, value) VALUES (?1, ?2)", params![mark_key(actions), i64::MIN])?;
        Ok(())
    }

    /// Adds a key, keeping the term's keys in ascending order (they come nearly in order:
    /// an action's tail may hold a second of records, which a query must not sort).
    fn push(&mut self, term: i64, k: i64) {
        let keys = self.keys.entry(term).or_default();
        match keys.last() {
            Some(&last) if k < last => keys.insert(keys.partition_point(|&x| x <= k), k),
            _ => keys.push(k),
        }
        self.count += 1;
    }

    /// The keys of `term` in `[lo, hi)`, newest first.
    pub fn snapshot(&self, term: i64, lo: i64, hi: i64) -> Vec<i64> {
        let Some(keys) = self.keys.get(&term) else { return Vec::new() };
        let (from, to) = (keys.partition_point(|&k| k < lo), keys.partition_point(|&k| k < hi));
        keys[from..to.max(from)].iter().rev().copied().collect()
    }
}

/// What one append does to the postings, decided before its commit and applied to
/// the tail after it ([`Update::apply`]).
pub(crate) struct Update {
    fresh: Vec<(i64, i64)>,
    flushed: Option<i64>,
}

/// Writes the postings `added` (term, key) needs inside `tx`: the late keys each in a
/// posting of its own, and the whole tail when it is due (`every` old or too large).
pub(crate) fn write(
    tx: &Transaction<'_>,
    tail: &Tail,
    added: Vec<(i64, i64)>,
    every: Duration,
) -> rusqlite::Result<Update> {
    let (late, fresh): (Vec<_>, Vec<_>) = added.into_iter().partition(|&(_, k)| k <= tail.mark);
    for (term, k) in late {
        // OR IGNORE: a redelivered record's key may already end a posting.
        tx.prepare_cached("INSERT OR IGNORE INTO post (station, hi, lo, ks) VALUES (?1, ?2, ?2, ?3)")?
            .execute(params![term, k, encode(&[k])])?;
    }
    let due = tail.flushed_at.elapsed() >= every || tail.count + fresh.len() >= TAIL_MAX_KEYS;
    if !due || tail.count + fresh.len() == 0 {
        return Ok(Update { fresh, flushed: None });
    }
    let mut all: HashMap<i64, Vec<i64>> = tail.keys.clone();
    for &(term, k) in &fresh {
        all.entry(term).or_default().push(k);
    }
    let mut mark = tail.mark;
    for (term, mut keys) in all {
        keys.sort_unstable_by(|a, b| b.cmp(a));
        mark = mark.max(keys[0]);
        insert(tx, term, &keys)?;
    }
    tx.execute("UPDATE meta SET value = ?2 WHERE key = ?1", params![mark_key(tail.actions), mark])?;
    Ok(Update { fresh, flushed: Some(mark) })
}

impl Update {
    /// Brings the tail up to date once the commit that [`write`] wrote into succeeded.
    pub fn apply(self, tail: &mut Tail) {
        if let Some(mark) = self.flushed {
            tail.keys.clear();
            tail.count = 0;
            tail.mark = mark;
            tail.flushed_at = Instant::now();
            return;
        }
        for (term, k) in self.fresh {
            tail.push(term, k);
        }
    }
}

fn insert(tx: &Transaction<'_>, term: i64, keys_newest_first: &[i64]) -> rusqlite::Result<()> {
    let (hi, lo) = (keys_newest_first[0], keys_newest_first[keys_newest_first.len() - 1]);
    tx.prepare_cached("INSERT INTO post (station, hi, lo, ks) VALUES (?1, ?2, ?3, ?4)")?.execute(params![
        term,
        hi,
        lo,
        encode(keys_newest_first)
    ])?;
    Ok(())
}

/// The keys (newest first) as varints of the differences, the first from `keys[0]` itself.
fn encode(keys_newest_first: &[i64]) -> Vec<u8> {
    let mut out = Vec::with_capacity(keys_newest_first.len() * 4);
    let mut prev = keys_newest_first.first().copied().unwrap_or(0);
    for &k in keys_newest_first {
        put_varint(&mut out, prev.wrapping_sub(k) as u64);
        prev = k;
    }
    out
}

/// The keys of one term in `[lo, hi)`, newest first: the tail's, then the postings'
/// (merged, since a late posting's key may fall inside another posting's range).
pub(crate) struct TermKeys<'c> {
    tail: std::vec::IntoIter<i64>,
    /// Postings may hold keys only up to this: the watermark when the tail was read. Keys
    /// above it that a flush since then wrote are in `tail` already (or newer than the read).
    mark: i64,
    lo: i64,
    hi: i64,
    rows: rusqlite::Rows<'c>,
    /// The next posting not yet decoded: (hi, keys blob).
    next: Option<(i64, Vec<u8>)>,
    /// The postings read so far, each decoded only as far as its keys are returned: a
    /// first page needs the newest keys of a posting that may hold a second of an action.
    loaded: Vec<PostingCursor>,
    /// The next key in range of each posting read, not yet returned: (key, posting).
    heap: BinaryHeap<(i64, usize)>,
    /// The key returned last: a redelivered record may be in the index twice.
    last: Option<i64>,
}

/// Postings of a term whose newest key is below `hi_k`, newest first.
pub(crate) const POSTINGS_SQL: &str =
    "SELECT hi, ks FROM post WHERE station = ?1 AND hi >= ?2 AND hi < ?3 ORDER BY hi DESC";
/// The one posting that may hold keys below `hi_k` while its newest key is not.
pub(crate) const STRADDLER_SQL: &str =
    "SELECT hi, ks FROM post WHERE station = ?1 AND hi >= ?2 AND lo < ?2 ORDER BY hi LIMIT 1";

impl<'c> TermKeys<'c> {
    /// `tail` from [`Tail::snapshot`] and `mark` read with it, before `postings` ran.
    pub fn new(
        tail: Vec<i64>,
        mark: i64,
        (lo, hi): (i64, i64),
        straddler: Option<(i64, Vec<u8>)>,
        postings: rusqlite::Rows<'c>,
    ) -> Result<Self, String> {
        let mut keys = TermKeys {
            tail: tail.into_iter(),
            mark,
            lo,
            hi,
            rows: postings,
            next: None,
            loaded: Vec::new(),
            heap: BinaryHeap::new(),
            last: None,
        };
        if let Some((hi, ks)) = straddler {
            keys.load(hi, ks)?;
        }
        keys.advance()?;
        Ok(keys)
    }

    fn advance(&mut self) -> Result<(), String> {
        self.next = match self.rows.next().map_err(|e| e.to_string())? {
            Some(r) => Some((r.get(0).map_err(|e| e.to_string())?, r.get(1).map_err(|e| e.to_string())?)),
            None => None,
        };
        Ok(())
    }

    fn load(&mut self, hi: i64, ks: Vec<u8>) -> Result<(), String> {
        let mut cursor = PostingCursor { ks, pos: 0, prev: hi };
        if let Some(first) = cursor.next_in(self.lo, self.hi.min(self.mark.saturating_add(1)))? {
            self.heap.push((first, self.loaded.len()));
            self.loaded.push(cursor);
        }
        Ok(())
    }

    /// The next key, newest first, each once.
    pub fn next_key(&mut self) -> Result<Option<i64>, String> {
        loop {
            let k = self.next_or_repeat()?;
            if k.is_none() || k != self.last {
                self.last = k;
                return Ok(k);
            }
        }
    }

    fn next_or_repeat(&mut self) -> Result<Option<i64>, String> {
        if let Some(k) = self.tail.next() {
            return Ok(Some(k));
        }
        loop {
            let top = self.heap.peek().map(|&(k, _)| k);
            match (&self.next, top) {
                // A posting not yet read may hold keys newer than the heap's newest.
                (Some((hi, _)), t) if t.is_none_or(|t| *hi > t) => {
                    let (hi, ks) = self.next.take().expect("matched Some");
                    self.load(hi, ks)?;
                    self.advance()?;
                }
                _ => return self.pop(),
            }
        }
    }

    /// The heap's newest key, replaced by the next key in range of its posting.
    fn pop(&mut self) -> Result<Option<i64>, String> {
        let Some((k, posting)) = self.heap.pop() else { return Ok(None) };
        if let Some(next) = self.loaded[posting].next_in(self.lo, self.hi.min(self.mark.saturating_add(1)))? {
            self.heap.push((next, posting));
        }
        Ok(Some(k))
    }
}

/// A posting's keys, decoded one at a time, newest first.
struct PostingCursor {
    ks: Vec<u8>,
    pos: usize,
    /// The key decoded last (at first the posting's newest key, `hi`).
    prev: i64,
}

impl PostingCursor {
    /// The next key in `[lo, hi)`: the keys from `hi` up are skipped, and the first below
    /// `lo` ends the posting (its keys descend).
    fn next_in(&mut self, lo: i64, hi: i64) -> Result<Option<i64>, String> {
        while self.pos < self.ks.len() {
            let delta = get_varint(&self.ks, &mut self.pos).ok_or("malformed posting")?;
            self.prev = self.prev.wrapping_sub(delta as i64);
            if self.prev < lo {
                self.pos = self.ks.len();
                return Ok(None);
            }
            if self.prev < hi {
                return Ok(Some(self.prev));
            }
        }
        Ok(None)
    }
}

/// The keys of several terms (the actions of one filter), newest first, each once.
pub(crate) struct MergedKeys<'c> {
    /// Each term's keys and its next key.
    terms: Vec<(TermKeys<'c>, Option<i64>)>,
}

impl<'c> MergedKeys<'c> {
    pub fn new(terms: Vec<TermKeys<'c>>) -> Result<Self, String> {
        let mut merged = Vec::with_capacity(terms.len());
        for mut keys in terms {
            let head = keys.next_key()?;
            merged.push((keys, head));
        }
        Ok(MergedKeys { terms: merged })
    }

    pub fn next_key(&mut self) -> Result<Option<i64>, String> {
        let Some(newest) = self.terms.iter().filter_map(|(_, head)| *head).max() else { return Ok(None) };
        for (keys, head) in &mut self.terms {
            if *head == Some(newest) {
                *head = keys.next_key()?;
            }
        }
        Ok(Some(newest))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The keys of a posting whose newest key is `hi`, in `[lo, below)`.
    fn decode(hi: i64, ks: &[u8], lo: i64, below: i64) -> Result<Vec<i64>, String> {
        let mut cursor = PostingCursor { ks: ks.to_vec(), pos: 0, prev: hi };
        let mut keys = Vec::new();
        while let Some(k) = cursor.next_in(lo, below)? {
            keys.push(k);
        }
        Ok(keys)
    }

    #[test]
    fn keys_round_trip() {
        for keys in [vec![5], vec![9, 7, 3, -4], vec![i64::MAX - 1, 1 << 40, 0, i64::MIN + 1]] {
            assert_eq!(decode(keys[0], &encode(&keys), i64::MIN, i64::MAX), Ok(keys));
        }
        assert!(decode(5, &[0x80], i64::MIN, i64::MAX).is_err(), "a truncated varint");
    }

    #[test]
    fn a_cursor_returns_the_keys_in_range_only() {
        let keys = [90, 80, 70, 60, 50];
        let ks = encode(&keys);
        assert_eq!(decode(90, &ks, 55, 80), Ok(vec![70, 60]), "from 80 up skipped, below 55 the end");
        assert_eq!(decode(90, &ks, 0, 50), Ok(vec![]));
        assert_eq!(decode(90, &ks, 95, 100), Ok(vec![]));
    }

    #[test]
    fn the_tail_keeps_each_term_s_keys_in_order_and_snapshots_a_range() {
        let mut tail = Tail { mark: 0, actions: true, keys: HashMap::default(), count: 0, flushed_at: Instant::now() };
        for k in [10, 20, 15, 30, 5, 30] {
            tail.push(1, k);
        }
        assert_eq!(tail.snapshot(1, 10, 30), vec![20, 15, 10]);
        assert_eq!(tail.snapshot(1, i64::MIN, i64::MAX), vec![30, 30, 20, 15, 10, 5]);
        assert_eq!(tail.snapshot(2, i64::MIN, i64::MAX), Vec::<i64>::new());
    }
}
