//! The station index of day files created since 2026-12-06: postings instead of a B-tree
//! index on `log (station)`.
//!
//! With a hundred stations sending at once, a B-tree index on `station` takes every record
//! into a different leaf, and each commit rewrites about one leaf per station: that index
//! was three quarters of the log store's index cost (bench/README.md, "Which index costs
//! what"). Here the newest keys of each station wait in memory ([`StationTail`]) and are
//! written about once a second as one posting per station: a row of `post` holding the
//! keys of that station's records, delta-encoded, newest first.
//!
//! Invariants (per file):
//! - Every row of `log` with a key above the watermark (`meta.post_mark`) is in the tail,
//!   and no posting holds such a key. On open the tail is rebuilt from those rows, so a
//!   crash loses nothing the postings need.
//! - Every row with a key at or below the watermark is in a posting. A *late* record (its
//!   key at or below the watermark when it is stored) gets a posting of its own key in its
//!   own commit. A redelivered record may put its key in the index twice; readers return
//!   each key once ([`StationKeys::next_key`]).
//! - A flush writes each station's keys between the previous watermark and the new one, so
//!   a station's flushed postings cover disjoint key ranges, and a late posting covers one
//!   key: at most one posting straddles any key.

use super::codec::{get_varint, put_varint};
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

use foldhash::HashMap;

/// The `meta` key of the watermark; its presence marks a file whose station index is postings.
pub(crate) const MARK_KEY: &str = "post_mark";

/// The schema of the postings, created with a new day file.
pub(crate) const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS post (
        station INTEGER NOT NULL,   -- dict id
        hi INTEGER NOT NULL,        -- newest key
        lo INTEGER NOT NULL,        -- oldest key
        ks BLOB NOT NULL,           -- the keys, newest first: varints of (previous - key)
        PRIMARY KEY (station, hi)
     ) WITHOUT ROWID";

/// Keys above the watermark, per station, not yet written as postings.
#[derive(Debug)]
pub(crate) struct StationTail {
    pub mark: i64,
    keys: HashMap<i64, Vec<i64>>,
    count: usize,
    flushed_at: Instant,
}

/// Most keys the tail holds before it is written whatever its age: bounds its memory and
/// the rows read back on open.
const TAIL_MAX_KEYS: usize = 1 << 18;

impl StationTail {
    /// Reads the watermark and the rows above it (None: the file has a B-tree station index).
    pub fn load(conn: &Connection) -> rusqlite::Result<Option<StationTail>> {
        let mark: Option<i64> =
            conn.query_row("SELECT value FROM meta WHERE key = ?1", [MARK_KEY], |r| r.get(0)).optional()?;
        let Some(mark) = mark else { return Ok(None) };
        let mut tail = StationTail { mark, keys: HashMap::default(), count: 0, flushed_at: Instant::now() };
        let mut st = conn.prepare("SELECT station, k FROM log WHERE k > ?1")?;
        let rows = st.query_map([mark], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))?;
        for row in rows {
            let (station, k) = row?;
            tail.push(station, k);
        }
        Ok(Some(tail))
    }

    /// Makes `conn`'s new, empty file one with postings.
    pub fn create(conn: &Connection) -> rusqlite::Result<()> {
        conn.execute_batch(SCHEMA)?;
        conn.execute_batch("DROP INDEX IF EXISTS log_station")?;
        conn.execute("INSERT INTO meta (key, value) VALUES (?1, ?2)", params![MARK_KEY, i64::MIN])?;
        Ok(())
    }

    fn push(&mut self, station: i64, k: i64) {
        self.keys.entry(station).or_default().push(k);
        self.count += 1;
    }

    /// The keys of `station` in `[lo, hi)`, newest first, and the watermark they lie above.
    pub fn snapshot(&self, station: i64, lo: i64, hi: i64) -> (Vec<i64>, i64) {
        let mut keys: Vec<i64> = self
            .keys
            .get(&station)
            .map(|ks| ks.iter().copied().filter(|k| (lo..hi).contains(k)).collect())
            .unwrap_or_default();
        keys.sort_unstable_by(|a, b| b.cmp(a));
        (keys, self.mark)
    }
}

/// What one append does to the station index, decided before its commit and applied to
/// the tail after it ([`Update::apply`]).
pub(crate) struct Update {
    fresh: Vec<(i64, i64)>,
    flushed: Option<i64>,
}

/// Writes the postings `added` (station, key) needs inside `tx`: the late keys each in a
/// posting of its own, and the whole tail when it is due (`every` old or too large).
pub(crate) fn write(
    tx: &Transaction<'_>,
    tail: &StationTail,
    added: Vec<(i64, i64)>,
    every: Duration,
) -> rusqlite::Result<Update> {
    let (late, fresh): (Vec<_>, Vec<_>) = added.into_iter().partition(|&(_, k)| k <= tail.mark);
    for (station, k) in late {
        // OR IGNORE: a redelivered record's key may already end a posting.
        tx.prepare_cached("INSERT OR IGNORE INTO post (station, hi, lo, ks) VALUES (?1, ?2, ?2, ?3)")?
            .execute(params![station, k, encode(&[k])])?;
    }
    let due = tail.flushed_at.elapsed() >= every || tail.count + fresh.len() >= TAIL_MAX_KEYS;
    if !due || tail.count + fresh.len() == 0 {
        return Ok(Update { fresh, flushed: None });
    }
    let mut all: HashMap<i64, Vec<i64>> = tail.keys.clone();
    for &(station, k) in &fresh {
        all.entry(station).or_default().push(k);
    }
    let mut mark = tail.mark;
    for (station, mut keys) in all {
        keys.sort_unstable_by(|a, b| b.cmp(a));
        mark = mark.max(keys[0]);
        insert(tx, station, &keys)?;
    }
    tx.execute("UPDATE meta SET value = ?2 WHERE key = ?1", params![MARK_KEY, mark])?;
    Ok(Update { fresh, flushed: Some(mark) })
}

impl Update {
    /// Brings the tail up to date once the commit that [`write`] wrote into succeeded.
    pub fn apply(self, tail: &mut StationTail) {
        if let Some(mark) = self.flushed {
            tail.keys.clear();
            tail.count = 0;
            tail.mark = mark;
            tail.flushed_at = Instant::now();
            return;
        }
        for (station, k) in self.fresh {
            tail.push(station, k);
        }
    }
}

fn insert(tx: &Transaction<'_>, station: i64, keys_newest_first: &[i64]) -> rusqlite::Result<()> {
    let (hi, lo) = (keys_newest_first[0], keys_newest_first[keys_newest_first.len() - 1]);
    tx.prepare_cached("INSERT INTO post (station, hi, lo, ks) VALUES (?1, ?2, ?3, ?4)")?.execute(params![
        station,
        hi,
        lo,
        encode(keys_newest_first)
    ])?;
    Ok(())
}

/// The keys (newest first) as varints of the differences, the first from `keys[0]` itself.
pub(crate) fn encode(keys_newest_first: &[i64]) -> Vec<u8> {
    let mut out = Vec::with_capacity(keys_newest_first.len() * 4);
    let mut prev = keys_newest_first.first().copied().unwrap_or(0);
    for &k in keys_newest_first {
        put_varint(&mut out, prev.wrapping_sub(k) as u64);
        prev = k;
    }
    out
}

/// The keys of a posting whose newest key is `hi`; None when the blob is malformed.
pub(crate) fn decode(hi: i64, ks: &[u8]) -> Option<Vec<i64>> {
    let mut keys = Vec::with_capacity(ks.len() / 3);
    let (mut prev, mut pos) = (hi, 0);
    while pos < ks.len() {
        prev = prev.wrapping_sub(get_varint(ks, &mut pos)? as i64);
        keys.push(prev);
    }
    Some(keys)
}

/// The keys of one station in `[lo, hi)`, newest first: the tail's, then the postings'
/// (merged, since a late posting's key may fall inside another posting's range).
pub(crate) struct StationKeys<'c> {
    tail: std::vec::IntoIter<i64>,
    /// Postings may hold keys only up to this: the watermark when the tail was read. Keys
    /// above it that a flush since then wrote are in `tail` already (or newer than the read).
    mark: i64,
    lo: i64,
    hi: i64,
    rows: rusqlite::Rows<'c>,
    /// The next posting not yet decoded: (hi, keys blob).
    next: Option<(i64, Vec<u8>)>,
    heap: BinaryHeap<i64>,
    /// The key returned last: a redelivered record may be in the index twice.
    last: Option<i64>,
}

/// Postings of a station whose newest key is below `hi_k`, newest first.
pub(crate) const POSTINGS_SQL: &str =
    "SELECT hi, ks FROM post WHERE station = ?1 AND hi >= ?2 AND hi < ?3 ORDER BY hi DESC";
/// The one posting that may hold keys below `hi_k` while its newest key is not.
pub(crate) const STRADDLER_SQL: &str =
    "SELECT hi, ks FROM post WHERE station = ?1 AND hi >= ?2 AND lo < ?2 ORDER BY hi LIMIT 1";

impl<'c> StationKeys<'c> {
    /// `tail` and `mark` from [`StationTail::snapshot`], read before `postings` ran.
    pub fn new(
        tail: Vec<i64>,
        mark: i64,
        (lo, hi): (i64, i64),
        straddler: Option<(i64, Vec<u8>)>,
        postings: rusqlite::Rows<'c>,
    ) -> Result<Self, String> {
        let mut keys = StationKeys {
            tail: tail.into_iter(),
            mark,
            lo,
            hi,
            rows: postings,
            next: None,
            heap: BinaryHeap::new(),
            last: None,
        };
        if let Some((hi, ks)) = straddler {
            keys.load(hi, &ks)?;
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

    fn load(&mut self, hi: i64, ks: &[u8]) -> Result<(), String> {
        let keys = decode(hi, ks).ok_or("malformed station posting")?;
        let (lo, hi, mark) = (self.lo, self.hi, self.mark);
        self.heap.extend(keys.into_iter().filter(|k| (lo..hi).contains(k) && *k <= mark));
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
            let top = self.heap.peek().copied();
            match (&self.next, top) {
                // A posting not yet read may hold keys newer than the heap's newest.
                (Some((hi, _)), t) if t.is_none_or(|t| *hi > t) => {
                    let (hi, ks) = self.next.take().expect("matched Some");
                    self.load(hi, &ks)?;
                    self.advance()?;
                }
                _ => return Ok(self.heap.pop()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip() {
        for keys in [vec![5], vec![9, 7, 3, -4], vec![i64::MAX - 1, 1 << 40, 0, i64::MIN + 1]] {
            assert_eq!(decode(keys[0], &encode(&keys)).as_deref(), Some(keys.as_slice()));
        }
        assert_eq!(decode(5, &[0x80]), None, "a truncated varint");
    }
}
