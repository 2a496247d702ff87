//! Day files created before 2026-12-03 (indexes on `(column, k)`) open with this build as
//! they are, answer every filter of the conformance suite exactly and take more records; a
//! new day file gets indexes on `(column)` (the rowid `k` implied), its station and action
//! indexes as postings (`post`, since 2026-12-06) and the same schema version, so that a
//! build from before opens it too (it runs the same queries; a station or action filter
//! reads the table then).

mod common;

use chargewatch_logstore::conformance::filters_match;
use chargewatch_logstore::{LogStore, SqliteLogStore, SqliteOptions};
use rusqlite::Connection;
use std::path::{Path, PathBuf};

/// The indexes of day files created before 2026-12-03.
const INDEXES_WITH_K: &str = "
    CREATE INDEX log_station ON log (station, k);
    CREATE INDEX log_site ON log (site, k) WHERE site IS NOT NULL;
    CREATE INDEX log_action ON log (action, k) WHERE action IS NOT NULL;
    CREATE INDEX log_status ON log (status, k) WHERE status IS NOT NULL;
    CREATE INDEX log_err ON log (err, k) WHERE err IS NOT NULL;
    CREATE INDEX log_mt ON log (mt, k) WHERE mt >= 2;";

fn version(file: &Path) -> i64 {
    Connection::open(file).expect("open").query_row("PRAGMA user_version", [], |r| r.get(0)).expect("version")
}

/// The columns of each index of the file, as `name(col,col)`.
fn index_columns(file: &Path) -> Vec<String> {
    let conn = Connection::open(file).expect("open");
    let mut names = common::texts(
        &conn,
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'log' AND sql IS NOT NULL",
    );
    names.sort();
    names
        .into_iter()
        .map(|name| {
            let cols = common::texts(&conn, &format!("SELECT name FROM pragma_index_info('{name}')"));
            format!("{name}({})", cols.join(","))
        })
        .collect()
}

/// Rewrites a day file's indexes as files created before 2026-12-03 have them.
fn index_with_k(file: &Path) {
    let conn = Connection::open(file).expect("open");
    for name in ["log_station", "log_site", "log_action", "log_status", "log_err", "log_mt"] {
        conn.execute_batch(&format!("DROP INDEX {name}")).expect("drop index");
    }
    conn.execute_batch(INDEXES_WITH_K).expect("indexes with k");
}

#[tokio::test]
async fn files_of_both_index_layouts_answer_every_filter_and_take_more_records() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (old, new) = common::dataset_split_at_last_day();
    let data: Vec<_> = old.iter().chain(&new).cloned().collect();

    // Files with a B-tree station index, as before 2026-12-06.
    let btree = SqliteOptions { station_postings: false, ..SqliteOptions::default() };
    SqliteLogStore::open_with(dir.path(), btree).expect("open").append_blocking(&old).expect("append");
    let old_files = common::day_files(dir.path());
    assert!(old_files.len() >= 2, "the older records span several days: {old_files:?}");
    for file in &old_files {
        assert_eq!(version(file), 1, "the index layout does not change the schema version");
        assert!(index_columns(file).contains(&"log_station(station)".to_owned()), "{:?}", index_columns(file));
        index_with_k(file);
    }

    // The new day's keys go into postings at every append.
    let postings = SqliteOptions { station_flush: std::time::Duration::ZERO, ..SqliteOptions::default() };
    let store = SqliteLogStore::open_with(dir.path(), postings).expect("reopen over files indexed on (column, k)");
    store.append_blocking(&new).expect("append to a new day");
    // Records of a day whose file is indexed on (column, k), again: skipped as duplicates.
    store.append_blocking(&old[..old.len().min(50)]).expect("append to a file indexed on (column, k)");
    for file in &old_files {
        assert!(index_columns(file).contains(&"log_station(station,k)".to_owned()), "{:?}", index_columns(file));
    }
    let added: Vec<PathBuf> = common::day_files(dir.path()).into_iter().filter(|f| !old_files.contains(f)).collect();
    assert_eq!(added.len(), 1, "one new day file");
    assert_eq!(version(&added[0]), 1);
    let columns = index_columns(&added[0]);
    assert!(!columns.iter().any(|c| c.starts_with("log_station")), "no B-tree station index: {columns:?}");
    assert!(!columns.iter().any(|c| c.starts_with("log_action")), "no B-tree action index: {columns:?}");
    assert!(columns.contains(&"log_site(site)".to_owned()), "{columns:?}");
    let written: i64 = Connection::open(&added[0])
        .expect("open")
        .query_row("SELECT count(*) FROM post", [], |r| r.get(0))
        .expect("the new file has postings");
    assert!(written > 0, "the new day's keys are in postings");

    assert_eq!(store.stats().await.expect("stats").records, data.len() as u64, "no duplicates, nothing lost");
    filters_match(&store, &data).await;
}
