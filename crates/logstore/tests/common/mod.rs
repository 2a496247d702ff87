//! Helpers shared by the tests that look at the embedded store's day files.

use chargewatch_logstore::conformance::dataset;
use chargewatch_logstore::LogRecord;
use std::path::{Path, PathBuf};

/// The day files (`logs-YYYY-MM-DD.db`) in `dir`, sorted by name.
pub fn day_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("logs-") && n.ends_with(".db"))
        })
        .collect();
    files.sort();
    files
}

/// The conformance dataset in time order, split into the records before its last UTC day
/// and those of that day (for a store that first holds the older days, then gets a new one).
pub fn dataset_split_at_last_day() -> (Vec<LogRecord>, Vec<LogRecord>) {
    let mut data = dataset();
    data.sort_by_key(|r| r.timestamp);
    let last_day = data.last().expect("records").timestamp.date_naive();
    data.into_iter().partition(|r| r.timestamp.date_naive() < last_day)
}

/// The first column of every row `sql` returns on `conn`, as text.
#[allow(dead_code)] // each test file compiles this module; page_size.rs does not use it
pub fn texts(conn: &rusqlite::Connection, sql: &str) -> Vec<String> {
    conn.prepare(sql)
        .expect("prepare")
        .query_map([], |r| r.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows")
}
