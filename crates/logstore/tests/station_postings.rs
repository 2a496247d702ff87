//! The station and action indexes of new day files (postings, `post`, since 2026-12-06): a
//! station or action filter finds the same rows, in the same order, whether their keys wait
//! in memory, were written as postings, came late (below the watermark of what was written
//! before) or were read back from the rows after the store was dropped without writing
//! them; a redelivered record is not repeated. Files of 2026-12-06 with station postings and
//! a B-tree action index keep theirs, beside new files with both as postings.

mod common;

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

/// Rows of `post` in every day file of `dir`: all, those holding one key, and those of
/// actions (negative terms).
fn postings(dir: &Path) -> (i64, i64, i64) {
    let mut total = (0, 0, 0);
    for path in common::day_files(dir) {
        let (all, single, actions) = file_postings(&path);
        total = (total.0 + all, total.1 + single, total.2 + actions);
    }
    total
}

fn file_postings(path: &Path) -> (i64, i64, i64) {
    rusqlite::Connection::open(path)
        .expect("open file")
        .query_row(
            "SELECT count(*), count(*) FILTER (WHERE lo = hi), count(*) FILTER (WHERE station < 0) FROM post",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .expect("count postings")
}

/// Which watermark the file keeps: `post_mark` (station postings, read by the builds of
/// 2026-12-06 morning too) or `post_mark_actions` (station and action postings, unknown to
/// those builds, which then scan the file and leave its postings alone).
fn mark_key(path: &Path) -> String {
    let conn = rusqlite::Connection::open(path).expect("open file");
    let keys = common::texts(&conn, "SELECT key FROM meta WHERE key LIKE 'post_mark%'");
    assert_eq!(keys.len(), 1, "one watermark: {keys:?}");
    keys[0].clone()
}

/// Whether the file has a B-tree index on `log (action)`.
fn has_action_btree(path: &Path) -> bool {
    rusqlite::Connection::open(path)
        .expect("open file")
        .query_row("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'log_action'", [], |r| {
            r.get::<_, i64>(0)
        })
        .expect("read schema")
        == 1
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
    let (written, _, actions) = postings(dir.path());
    assert!(written > 0 && actions > 0, "station and action postings were written: {written}, {actions}");
    for file in common::day_files(dir.path()) {
        assert!(!has_action_btree(&file), "no B-tree action index in {file:?}");
        assert_eq!(mark_key(&file), "post_mark_actions");
    }

    // Now keys wait in memory; `late` lies below what was written, `newest` above it.
    let store = open(dir.path(), Duration::from_secs(3600));
    append(&store, late);
    append(&store, newest);
    append(&store, &early[..50]);
    append(&store, &newest[..50]);
    let (after, single, _) = postings(dir.path());
    assert!(after > written && single > 0, "late keys got postings of their own at once: {written} → {after}");
    assert_eq!(store.stats().await.expect("stats").records, data.len() as u64, "redeliveries stored nothing");
    filters_match(&store, &data).await;

    // Dropped with `newest`'s keys only in memory: reopening reads them back from the rows.
    drop(store);
    assert_eq!(postings(dir.path()).0, after, "nothing was written on drop");
    let store = open(dir.path(), Duration::from_secs(3600));
    filters_match(&store, &data).await;
}

#[tokio::test]
async fn files_with_a_btree_action_index_keep_it_beside_files_with_action_postings() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (old, new) = common::dataset_split_at_last_day();
    let data: Vec<_> = old.iter().chain(&new).cloned().collect();

    // Files as created on 2026-12-06: station postings, a B-tree action index.
    let options = SqliteOptions { action_postings: false, station_flush: Duration::ZERO, ..SqliteOptions::default() };
    let store = SqliteLogStore::open_with(dir.path(), options).expect("open");
    let (even, odd): (Vec<_>, Vec<_>) = old.iter().cloned().enumerate().partition(|(i, _)| i % 2 == 0);
    let strip = |v: Vec<(usize, LogRecord)>| v.into_iter().map(|(_, r)| r).collect::<Vec<_>>();
    let (even, odd) = (strip(even), strip(odd));
    append(&store, &even);
    drop(store);
    let old_files = common::day_files(dir.path());
    for file in &old_files {
        assert!(has_action_btree(file), "{file:?}");
        assert_eq!(file_postings(file).2, 0, "no action postings in {file:?}");
        assert_eq!(mark_key(file), "post_mark");
    }

    // This build keeps their layout, and gives the new day action postings.
    let store = open(dir.path(), Duration::from_secs(3600));
    append(&store, &odd);
    append(&store, &new);
    append(&store, &old[..50]);
    let new_files: Vec<_> = common::day_files(dir.path()).into_iter().filter(|f| !old_files.contains(f)).collect();
    assert_eq!(new_files.len(), 1, "one new day file");
    assert!(!has_action_btree(&new_files[0]));
    for file in &old_files {
        assert!(has_action_btree(file), "{file:?}");
    }
    assert_eq!(store.stats().await.expect("stats").records, data.len() as u64, "no duplicates, nothing lost");
    filters_match(&store, &data).await;

    // Reopened with every new key only in memory: read back under their stations and actions.
    drop(store);
    let store = open(dir.path(), Duration::from_secs(3600));
    filters_match(&store, &data).await;
    store.append_blocking(&new[..10]).expect("redeliver");
    drop(store);
    for file in &old_files {
        assert_eq!(file_postings(file).2, 0, "still no action postings in {file:?}");
    }
}
