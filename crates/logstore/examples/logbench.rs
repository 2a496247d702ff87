//! Benchmark of the embedded log store: ingest rate, disk bytes per record and first-page
//! latency of every filter of the OCPP Logs table on a realistic fleet mix.
//!
//! `cargo run --release -p chargewatch-logstore --example logbench -- --records 1000000`
//! Options: `--records N` (1,000,000), `--batch N` (1000), `--queries N` per filter (50),
//! `--stations N` (1000), `--sites N` (50), `--days N` (3), `--dir PATH` (a fresh temp
//! dir, deleted at the end unless `--keep`), `--zstd-level N` (3), `--page-size N` (bytes, the
//! store's default), `--station-btree` (new day files with B-tree station and action indexes
//! instead of postings, as before 2026-12-06), `--action-btree` (station postings and a
//! B-tree action index, as files of 2026-12-06 have).

use chargewatch_logstore::fleet::{generate_batches, FleetConfig, Rng};
use chargewatch_logstore::{SqliteLogStore, SqliteOptions};
use chrono::TimeDelta;
use std::path::PathBuf;
use std::time::{Duration, Instant};

struct Args {
    records: u64,
    batch: usize,
    queries: usize,
    stations: usize,
    sites: usize,
    days: i64,
    dir: Option<PathBuf>,
    keep: bool,
    zstd_level: i32,
    page_size: i64,
    station_btree: bool,
    action_btree: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        records: 1_000_000,
        batch: 1000,
        queries: 50,
        stations: 1000,
        sites: 50,
        days: 3,
        dir: None,
        keep: false,
        zstd_level: 3,
        page_size: SqliteOptions::default().page_size,
        station_btree: false,
        action_btree: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        let num = |v: String| v.replace('_', "").parse::<u64>().map_err(|e| format!("{flag}: {e}"));
        match flag.as_str() {
            "--records" => a.records = num(value()?)?,
            "--batch" => a.batch = num(value()?)? as usize,
            "--queries" => a.queries = num(value()?)? as usize,
            "--stations" => a.stations = num(value()?)? as usize,
            "--sites" => a.sites = num(value()?)? as usize,
            "--days" => a.days = num(value()?)? as i64,
            "--zstd-level" => a.zstd_level = num(value()?)? as i32,
            "--page-size" => a.page_size = num(value()?)? as i64,
            "--dir" => a.dir = Some(PathBuf::from(value()?)),
            "--keep" => a.keep = true,
            "--station-btree" => a.station_btree = true,
            "--action-btree" => a.action_btree = true,
            "--help" | "-h" => return Err("see the doc comment of examples/logbench.rs".into()),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(a)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("logbench: {e}");
            std::process::exit(2);
        }
    };
    let dir = args.dir.clone().unwrap_or_else(|| std::env::temp_dir().join(format!("logbench-{}", std::process::id())));
    let _ = std::fs::remove_dir_all(&dir);
    let options = SqliteOptions {
        zstd_level: args.zstd_level,
        page_size: args.page_size,
        station_postings: !args.station_btree,
        action_postings: !args.action_btree,
        ..SqliteOptions::default()
    };
    let store = SqliteLogStore::open_with(&dir, options.clone()).expect("open store");
    let cfg = FleetConfig {
        stations: args.stations,
        sites: args.sites,
        span: TimeDelta::days(args.days),
        records: args.records,
        ..FleetConfig::default()
    };
    println!(
        "logbench: {} records, batches of {}, {} stations, {} sites over {} days in {}",
        args.records,
        args.batch,
        args.stations,
        args.sites,
        args.days,
        dir.display()
    );

    // Ingest: a generator thread feeds batches; only the store's time is counted as ingest.
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<_>>(8);
    let gen_cfg = cfg.clone();
    let (records, batch) = (args.records as usize, args.batch);
    let generator = std::thread::spawn(move || generate_batches(gen_cfg, records, batch, |b| tx.send(b).is_ok()));
    let wall = Instant::now();
    let mut in_store = Duration::ZERO;
    let mut appended = 0u64;
    let mut batch_times = Vec::new();
    for b in rx {
        let t = Instant::now();
        appended += store.append_blocking(&b).expect("append");
        let d = t.elapsed();
        in_store += d;
        batch_times.push(d);
        if batch_times.len() % 1000 == 0 {
            eprintln!("  {appended} records, {:.0} records/s", appended as f64 / in_store.as_secs_f64());
        }
    }
    let raw_bytes = generator.join().expect("generator");
    let wall = wall.elapsed();
    batch_times.sort();
    let stats_before = store.stats_blocking().expect("stats");
    drop(store);
    let t = Instant::now();
    let store = SqliteLogStore::open_with(&dir, options).expect("reopen");
    let reopen = t.elapsed();
    let stats = store.stats_blocking().expect("stats");
    println!();
    println!("## Ingest\n");
    println!("| what | value |\n|---|---|");
    println!("| records stored | {} |", stats.records);
    println!(
        "| ingest, store time only | {:.0} records/s ({:.1} s) |",
        appended as f64 / in_store.as_secs_f64(),
        in_store.as_secs_f64()
    );
    println!(
        "| ingest, wall clock with generator | {:.0} records/s ({:.1} s) |",
        appended as f64 / wall.as_secs_f64(),
        wall.as_secs_f64()
    );
    println!(
        "| append of one batch p50 / p99 | {} / {} ms |",
        ms(percentile(&batch_times, 0.5)),
        ms(percentile(&batch_times, 0.99))
    );
    println!("| raw payload bytes per record (mean) | {:.0} |", raw_bytes as f64 / appended as f64);
    println!(
        "| disk bytes per record (db + wal, after ingest) | {:.1} |",
        stats_before.disk_bytes as f64 / stats_before.records as f64
    );
    println!("| disk bytes per record (after reopen) | {:.1} |", stats.disk_bytes as f64 / stats.records as f64);
    println!("| day files | {} |", stats.partitions);
    println!("| reopen time | {} ms |", ms(reopen));

    // First-page latency of each filter, varied values.
    let filters = chargewatch_logstore::fleet::query_mix(cfg.start, cfg.span, args.sites as u64, args.stations as u64);
    let mut rng = Rng::new(77);

    println!("\n## First page (limit 50, newest first), {} queries per filter\n", args.queries);
    println!("| filter | p50 ms | p99 ms | max ms | mean rows | partial pages (budget) |\n|---|---|---|---|---|---|");
    for (name, make) in &filters {
        let mut times = Vec::new();
        let mut rows = 0usize;
        let mut partial = 0usize;
        // One warm-up query so the first file open is not counted.
        let _ = store.query_blocking(&make(&mut rng));
        for _ in 0..args.queries {
            let q = make(&mut rng);
            let t = Instant::now();
            let page = store.query_blocking(&q).expect("query");
            times.push(t.elapsed());
            rows += page.items.len();
            partial += usize::from(page.items.len() < q.effective_limit() && page.next.is_some());
        }
        times.sort();
        println!(
            "| {name} | {} | {} | {} | {:.1} | {partial} |",
            ms(percentile(&times, 0.5)),
            ms(percentile(&times, 0.99)),
            ms(*times.last().expect("queries")),
            rows as f64 / args.queries as f64
        );
    }
    drop(store);
    if !args.keep && args.dir.is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
}
