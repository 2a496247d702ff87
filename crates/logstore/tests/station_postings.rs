//! The station index of new day files (postings, `post`, since 2026-12-06): a station filter
//! finds the same rows, in the same order, whether their keys wait in memory, were written
//! as postings, came late (below the watermark of what was written before) or were read
//! back from the rows after the store was dropped without writing them; a redelivered
//! record is not repeated.

use chargewatch_logstore::conformance::{dataset, filters_match};
use chargewatch_logstore::{LogRecord, LogStore, SqliteLogStore, SqliteOptions};
use std::path::Path;
use std::time::Duration;

fn open(dir: &Path, station_flush: Duration) -> SqliteLogStore {
    SqliteLogStore::open_with(dir, SqliteOptions { station_flush, ..SqliteOptions::default() }).expect("open")
}

fn append(store: &SqliteLogStore, records: &[LogRecord]) {
    for chunk in records.chunks(97) {
        store.append_blocking(chunk).expect("append");
    }
}

/// Rows of `post` in every day file of `dir`, and how many hold one key.
fn postings(dir: &Path) -> (i64, i64) {
    let mut total = (0, 0);
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "db") {
            let conn = rusqlite::Connection::open(&path).expect("open file");
            let (all, single): (i64, i64) = conn
                .query_row("SELECT count(*), count(*) FILTER (WHERE lo = hi) FROM post", [], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .expect("count postings");
            total = (total.0 + all, total.1 + single);
        }
    }
    total
}

#[tokio::test]
async fn postings_memory_late_keys_and_reopening_answer_every_filter() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut data = dataset();
    data.sort_by_key(|r| r.timestamp);
    let fifth = data.len() / 5;
    let (early, rest) = data.split_at(2 * fifth);
    let (late, rest) = rest.split_at(fifth);
    let (middle, newest) = rest.split_at(fifth);

    // Every append writes its keys as postings at once.
    let store = open(dir.path(), Duration::ZERO);
    append(&store, early);
    append(&store, middle);
    drop(store);
    let (written, _) = postings(dir.path());
    assert!(written > 0, "postings were written");

    // Now keys wait in memory; `late` lies below what was written, `newest` above it.
    let store = open(dir.path(), Duration::from_secs(3600));
    append(&store, late);
    append(&store, newest);
    append(&store, &early[..50]);
    append(&store, &newest[..50]);
    let (after, single) = postings(dir.path());
    assert!(after > written && single > 0, "late keys got postings of their own at once: {written} → {after}");
    assert_eq!(store.stats().await.expect("stats").records, data.len() as u64, "redeliveries stored nothing");
    filters_match(&store, &data).await;

    // Dropped with `newest`'s keys only in memory: reopening reads them back from the rows.
    drop(store);
    assert_eq!(postings(dir.path()).0, after, "nothing was written on drop");
    let store = open(dir.path(), Duration::from_secs(3600));
    filters_match(&store, &data).await;
}
