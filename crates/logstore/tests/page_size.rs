//! Day files keep the page size they were created with. Files of 1 KiB pages (the default
//! before 4 KiB) open, answer every query page and take more records; a new day file gets
//! the page size of the options in force.

mod common;

use chargewatch_logstore::{LogQuery, LogRecord, SqliteLogStore, SqliteOptions};
use std::collections::BTreeMap;
use std::path::Path;

/// Page size of each day file in `dir`, by file name.
fn page_sizes(dir: &Path) -> BTreeMap<String, i64> {
    common::day_files(dir)
        .into_iter()
        .map(|path| {
            let conn = rusqlite::Connection::open(&path).expect("open day file");
            let size = conn.query_row("PRAGMA page_size", [], |r| r.get(0)).expect("page size");
            let name = path.file_name().expect("file name").to_string_lossy().into_owned();
            (name, size)
        })
        .collect()
}

/// Every record of the store, newest first, one page of 100 at a time.
fn all_records(store: &SqliteLogStore) -> Vec<LogRecord> {
    let mut out = Vec::new();
    let mut query = LogQuery { limit: 100, ..LogQuery::default() };
    loop {
        let page = store.query_blocking(&query).expect("query");
        out.extend(page.items);
        match page.next {
            Some(cursor) => query.cursor = Some(cursor),
            None => return out,
        }
    }
}

#[test]
fn files_of_1_kib_pages_stay_readable_and_new_days_get_4_kib() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (old, new) = common::dataset_split_at_last_day();
    assert!(!old.is_empty() && !new.is_empty(), "the dataset spans several days");

    let small = SqliteOptions { page_size: 1024, ..SqliteOptions::default() };
    SqliteLogStore::open_with(dir.path(), small).expect("open").append_blocking(&old).expect("append");
    let before = page_sizes(dir.path());
    assert!(!before.is_empty() && before.values().all(|&s| s == 1024), "{before:?}");

    let store = SqliteLogStore::open(dir.path()).expect("reopen with the defaults");
    store.append_blocking(&new).expect("append to a new day");
    let after = page_sizes(dir.path());
    for (name, size) in &after {
        let expected = if before.contains_key(name) { 1024 } else { SqliteOptions::default().page_size };
        assert_eq!(*size, expected, "{name}");
    }
    assert_eq!(after.len(), before.len() + 1, "one new day file: {after:?}");

    let stored = all_records(&store);
    assert_eq!(stored.len(), old.len() + new.len(), "every record, from files of both page sizes");
    assert!(stored.windows(2).all(|w| w[0].timestamp >= w[1].timestamp), "newest first across the files");
}
