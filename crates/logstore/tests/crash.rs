//! Crash safety: a writer process killed with SIGKILL mid-ingest loses no batch it had
//! reported committed, and the store opens afterwards.
//!
//! The test re-runs this test binary as the child (`crash_child_writer`, which does
//! nothing unless `CHARGEWATCH_CRASH_CHILD_DIR` is set).

use chargewatch_logstore::fleet::{Fleet, FleetConfig};
use chargewatch_logstore::{LogQuery, LogStore, SqliteLogStore};
use std::collections::HashSet;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const ENV: &str = "CHARGEWATCH_CRASH_CHILD_DIR";
const BATCH: usize = 500;

fn records() -> Fleet {
    Fleet::new(FleetConfig {
        records: 100_000_000,
        span: chrono::TimeDelta::days(1000),
        seed: 42,
        ..FleetConfig::default()
    })
}

#[test]
fn crash_child_writer() {
    let Ok(dir) = std::env::var(ENV) else { return };
    let store = SqliteLogStore::open(std::path::Path::new(&dir)).expect("open");
    let mut fleet = records();
    let mut committed = 0usize;
    let mut out = std::io::stdout().lock();
    loop {
        let batch: Vec<_> = fleet.by_ref().take(BATCH).collect();
        store.append_blocking(&batch).expect("append");
        committed += batch.len();
        writeln!(out, "COMMITTED {committed}").expect("stdout");
        out.flush().expect("flush");
    }
}

#[tokio::test]
async fn kill_9_loses_no_committed_batch() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut child = Command::new(std::env::current_exe().expect("test binary"))
        .args(["--exact", "crash_child_writer", "--nocapture", "--test-threads=1"])
        .env(ENV, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn child");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut reported = 0usize;
    let started = Instant::now();
    // Let it write a good number of batches (several WAL checkpoints), then kill it
    // while it is in the middle of the next append.
    while reported < 60_000 && started.elapsed() < Duration::from_secs(60) {
        let Some(line) = lines.next() else { break };
        let line = line.expect("child output");
        if let Some(n) = line.strip_prefix("COMMITTED ") {
            reported = n.parse().expect("count");
        }
    }
    child.kill().expect("SIGKILL"); // std's kill is SIGKILL on Unix
    child.wait().expect("reap");
    // Whatever the child printed before dying counts as reported too.
    for line in lines.map_while(Result::ok) {
        if let Some(n) = line.strip_prefix("COMMITTED ") {
            reported = n.parse().expect("count");
        }
    }
    assert!(reported >= 2 * BATCH, "child reported only {reported} records");

    let store = SqliteLogStore::open(dir.path()).expect("reopen after kill -9");
    let stats = store.stats().await.expect("stats");
    assert!(stats.records >= reported as u64, "{} records stored, {reported} reported", stats.records);
    let mut stored = HashSet::new();
    let mut q = LogQuery { limit: 1000, ..LogQuery::default() };
    loop {
        let page = store.query(&q).await.expect("query");
        stored.extend(page.items.iter().map(|r| r.id));
        match page.next {
            Some(c) => q.cursor = Some(c),
            None => break,
        }
    }
    let missing = records().take(reported).filter(|r| !stored.contains(&r.id)).count();
    assert_eq!(missing, 0, "{missing} of {reported} committed records lost");
    // The store still takes writes.
    store.append(records().skip(reported).take(10).collect::<Vec<_>>().into()).await.expect("append after crash");
}
