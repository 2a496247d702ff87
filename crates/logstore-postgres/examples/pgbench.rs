//! Benchmark of the PostgreSQL log store: ingest rate, disk bytes per record and
//! first-page latency of every filter of the OCPP Logs table on the fleet mix of
//! `chargewatch_logstore::fleet` (the same as the embedded store's `logbench`).
//!
//! `cargo run --release -p chargewatch-logstore-postgres --example pgbench -- --records 1000000`
//! Options: `--records N` (1,000,000), `--batch N` (1000), `--writers N` concurrent appends
//! (2), `--queries N` per filter (50), `--stations N` (1000), `--sites N` (50), `--days N`
//! (3), `--url URL` (env `CHARGEWATCH_TEST_DATABASE_URL`, else
//! `postgres://postgres@127.0.0.1:5432/test`), `--schema NAME` (a fresh `cw_bench_…`,
//! dropped at the end unless `--keep`; `--records 0 --schema S` reruns the queries on
//! a kept schema), `--no-trigram`, `--no-analyze` (skip `ANALYZE` before the queries).

use chargewatch_logstore::fleet::{generate_batches, FleetConfig, Rng};
use chargewatch_logstore::LogStore;
use chargewatch_logstore_postgres::{PgLogStore, PgOptions};
use chrono::TimeDelta;
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Args {
    records: u64,
    batch: usize,
    writers: usize,
    queries: usize,
    stations: usize,
    sites: usize,
    days: i64,
    url: String,
    schema: Option<String>,
    keep: bool,
    trigram: bool,
    analyze: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        records: 1_000_000,
        batch: 1000,
        writers: 2,
        queries: 50,
        stations: 1000,
        sites: 50,
        days: 3,
        url: std::env::var("CHARGEWATCH_TEST_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned()),
        schema: None,
        keep: false,
        trigram: true,
        analyze: true,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        let num = |v: String| v.replace('_', "").parse::<u64>().map_err(|e| format!("{flag}: {e}"));
        match flag.as_str() {
            "--records" => a.records = num(value()?)?,
            "--batch" => a.batch = num(value()?)?.max(1) as usize,
            "--writers" => a.writers = num(value()?)?.max(1) as usize,
            "--queries" => a.queries = num(value()?)?.max(1) as usize,
            "--stations" => a.stations = num(value()?)? as usize,
            "--sites" => a.sites = num(value()?)? as usize,
            "--days" => a.days = num(value()?)? as i64,
            "--url" => a.url = value()?,
            "--schema" => a.schema = Some(value()?),
            "--keep" => a.keep = true,
            "--no-trigram" => a.trigram = false,
            "--no-analyze" => a.analyze = false,
            "--help" | "-h" => return Err("see the doc comment of examples/pgbench.rs".into()),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(a)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

#[tokio::main]
async fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("pgbench: {e}");
            std::process::exit(2);
        }
    };
    let schema = args.schema.clone().unwrap_or_else(|| format!("cw_bench_{}", std::process::id()));
    let options = PgOptions { pool_size: args.writers + 2, trigram_index: args.trigram, ..PgOptions::default() };
    let store = match PgLogStore::connect_with(&args.url, &schema, options).await {
        Ok(s) => Arc::new(s),
        Err(e) => {
            eprintln!("pgbench: {e}");
            std::process::exit(1);
        }
    };
    let cfg = FleetConfig {
        stations: args.stations,
        sites: args.sites,
        span: TimeDelta::days(args.days),
        records: args.records,
        ..FleetConfig::default()
    };
    println!(
        "pgbench: {} records, batches of {}, {} writers, {} stations, {} sites over {} days, schema {schema}, trigram index {}",
        args.records,
        args.batch,
        args.writers,
        args.stations,
        args.sites,
        args.days,
        store.has_trigram_index()
    );

    // Ingest: a generator thread feeds batches to `writers` concurrent appenders.
    let (tx, rx) = tokio::sync::mpsc::channel::<Vec<_>>(8);
    let gen_cfg = cfg.clone();
    let (records, batch) = (args.records as usize, args.batch);
    let generator =
        std::thread::spawn(move || generate_batches(gen_cfg, records, batch, |b| tx.blocking_send(b).is_ok()));
    let rx = Arc::new(tokio::sync::Mutex::new(rx));
    let wall = Instant::now();
    let mut writers = Vec::new();
    for _ in 0..args.writers {
        let (rx, store) = (rx.clone(), store.clone());
        writers.push(tokio::spawn(async move {
            let mut times = Vec::new();
            let mut appended = 0u64;
            loop {
                let Some(b) = rx.lock().await.recv().await else { break };
                let n = b.len() as u64;
                let t = Instant::now();
                store.append(b.into()).await.expect("append");
                times.push(t.elapsed());
                appended += n;
                if times.len() % 200 == 0 {
                    eprintln!("  a writer: {appended} records");
                }
            }
            (appended, times)
        }));
    }
    let mut appended = 0u64;
    let mut batch_times = Vec::new();
    for w in writers {
        let (n, t) = w.await.expect("writer");
        appended += n;
        batch_times.extend(t);
    }
    let wall = wall.elapsed();
    let raw_bytes = generator.join().expect("generator");
    batch_times.sort();
    let t = Instant::now();
    let stats = store.stats().await.expect("stats");
    let stats_time = t.elapsed();
    println!();
    println!("## Ingest\n");
    println!("| what | value |\n|---|---|");
    println!("| records stored | {} |", stats.records);
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
    println!("| raw payload bytes per record (mean) | {:.0} |", raw_bytes as f64 / appended.max(1) as f64);
    println!(
        "| disk bytes per record (tables + indexes) | {:.1} |",
        stats.disk_bytes as f64 / stats.records.max(1) as f64
    );
    println!("| day partitions | {} |", stats.partitions);
    println!("| stats() time | {} ms |", ms(stats_time));
    if args.analyze {
        let t = Instant::now();
        store.analyze().await.expect("analyze");
        println!("| ANALYZE time | {} ms |", ms(t.elapsed()));
    }

    // First-page latency of each filter, varied values (same mix as logbench).
    let filters = chargewatch_logstore::fleet::query_mix(cfg.start, cfg.span, args.sites as u64, args.stations as u64);
    let mut rng = Rng::new(77);

    println!("\n## First page (limit 50, newest first), {} queries per filter\n", args.queries);
    println!("| filter | p50 ms | p99 ms | max ms | mean rows |\n|---|---|---|---|---|");
    for (name, make) in &filters {
        let mut times = Vec::new();
        let mut rows = 0usize;
        let _ = store.query(&make(&mut rng)).await; // warm-up
        for _ in 0..args.queries {
            let q = make(&mut rng);
            let t = Instant::now();
            let page = store.query(&q).await.expect("query");
            times.push(t.elapsed());
            rows += page.items.len();
        }
        times.sort();
        println!(
            "| {name} | {} | {} | {} | {:.1} |",
            ms(percentile(&times, 0.5)),
            ms(percentile(&times, 0.99)),
            ms(*times.last().expect("queries")),
            rows as f64 / args.queries as f64
        );
    }
    drop(store);
    if !args.keep {
        match tokio_postgres::connect(&args.url, tokio_postgres::NoTls).await {
            Ok((client, conn)) => {
                let task = tokio::spawn(conn);
                if let Err(e) = client.batch_execute(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE")).await {
                    eprintln!("pgbench: could not drop schema {schema}: {e}");
                }
                drop(client);
                let _ = task.await;
            }
            Err(e) => eprintln!("pgbench: could not drop schema {schema}: {e}"),
        }
    }
}
