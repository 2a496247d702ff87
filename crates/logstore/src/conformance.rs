//! The conformance suite of [`LogStore`]: what every backend must do, checked against
//! [`LogQuery::matches`] as the reference. Backend-agnostic: each check takes a fresh,
//! empty store and panics (like `assert!`) on the first difference.
//!
//! A backend's test file runs every check on its own fresh store, e.g.
//! `conformance::filters_match_reference(&store).await`; [`CHECKS`] lists them all.

use crate::fleet::{Fleet, FleetConfig, Rng};
use crate::query::{Cursor, LogQuery};
use crate::record::{Direction, LogLevel, LogRecord, RecordId};
use crate::store::LogStore;
use chrono::{DateTime, TimeDelta, Utc};
use std::collections::HashSet;

/// The names of the checks, in the order a backend's tests should cover them.
pub const CHECKS: [&str; 10] = [
    "filters_match_reference",
    "paging_while_appending",
    "duplicates_are_skipped",
    "records_sharing_id_bits_are_all_stored",
    "retention_purges_old_records",
    "site_scoping",
    "newest_first_across_days",
    "same_millisecond_paging",
    "fields_round_trip",
    "stats_count_records",
];

fn start() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-21T20:00:00Z").expect("valid").to_utc()
}

fn fleet(records: u64, seed: u64) -> Vec<LogRecord> {
    Fleet::new(FleetConfig { stations: 24, sites: 5, start: start(), span: TimeDelta::hours(60), records, seed })
        .take(records as usize)
        .collect()
}

/// Records that probe the edges: shared milliseconds, ids that are not UUIDv7, empty
/// optional fields, non-ASCII payloads, an unusual message type, connector 0.
pub fn edge_records() -> Vec<LogRecord> {
    let t = start() + TimeDelta::hours(30) + TimeDelta::milliseconds(123);
    let base = LogRecord {
        id: RecordId::nil(),
        timestamp: t,
        action: None,
        station_id: "edge-station".into(),
        connector_id: None,
        status: None,
        error_code: None,
        site_id: None,
        site_name: None,
        direction: Direction::In,
        message_type: "EVENT".into(),
        unique_id: None,
        level: LogLevel::Info,
        latency_ms: None,
        validation_error: None,
        raw: "{}".into(),
    };
    let mut out = Vec::new();
    let mut rng = Rng::new(99);
    for i in 0..12u128 {
        let mut r = base.clone();
        r.id = RecordId::from_u128(((rng.next_u64() as u128) << 64) | i);
        r.raw = format!(r#"{{"event":"Connected","n":{i}}}"#);
        r.action = Some("Connected".into());
        out.push(r);
    }
    let mut r = base.clone();
    r.id = RecordId::from_u128(7);
    r.timestamp = t + TimeDelta::milliseconds(1);
    r.raw = "Grüße aus Köln: ÜBERSTROM, KELVIN \u{212A}".into();
    r.message_type = "CALL".into();
    r.action = Some("DataTransfer".into());
    r.validation_error = Some("payload is not JSON".into());
    r.site_id = Some("site-000".into());
    r.site_name = Some("Ünïcödé Site".into());
    out.push(r);
    let mut r = base.clone();
    r.id = RecordId::from_u128(u128::MAX);
    r.timestamp = t + TimeDelta::milliseconds(2);
    r.message_type = "WEIRD".into();
    r.connector_id = Some(0);
    r.status = Some("Unavailable".into());
    r.error_code = Some("NoError".into());
    r.direction = Direction::Out;
    r.level = LogLevel::Debug;
    r.latency_ms = Some(u32::MAX);
    r.unique_id = Some(String::new());
    r.raw = String::new();
    out.push(r);
    let mut r = base;
    r.id = crate::record::new_record_id(t + TimeDelta::milliseconds(3));
    r.timestamp = t + TimeDelta::milliseconds(3);
    r.message_type = "CALL".into();
    r.action = Some("DataTransfer".into());
    r.raw = format!(r#"[2,"big","DataTransfer",{{"vendorId":"x","data":"{}"}}]"#, "AbC".repeat(30_000));
    r.unique_id = Some("big".into());
    out.push(r);
    out
}

/// The records of the suite: a small fleet over three UTC days plus [`edge_records`].
pub fn dataset() -> Vec<LogRecord> {
    let mut v = fleet(4000, 7);
    v.extend(edge_records());
    v
}

/// Newest first: timestamp descending, then id descending.
pub fn sort_newest_first(v: &mut [LogRecord]) {
    v.sort_by(|a, b| b.timestamp.cmp(&a.timestamp).then(b.id.cmp(&a.id)));
}

fn reference(data: &[LogRecord], q: &LogQuery) -> Vec<LogRecord> {
    let mut v: Vec<LogRecord> = data.iter().filter(|r| q.matches(r)).cloned().collect();
    sort_newest_first(&mut v);
    v
}

/// Appends in batches, in an order that is not time order.
async fn load(store: &dyn LogStore, data: &[LogRecord], batch: usize) {
    let mut shuffled = data.to_vec();
    let mut rng = Rng::new(5);
    for i in (1..shuffled.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        shuffled.swap(i, j);
    }
    for chunk in shuffled.chunks(batch) {
        store.append(chunk.to_vec().into()).await.expect("append");
    }
}

/// Every row of `q` by following `next` from page to page; checks each page's size and
/// that pages never overlap or go back in order.
pub async fn collect_all(store: &dyn LogStore, q: &LogQuery) -> Vec<LogRecord> {
    let mut q = q.clone();
    let mut out: Vec<LogRecord> = Vec::new();
    for _ in 0..100_000 {
        let page = store.query(&q).await.expect("query");
        assert!(page.items.len() <= q.effective_limit(), "page larger than the limit");
        for r in &page.items {
            if let Some(last) = out.last() {
                assert!(
                    (r.timestamp, r.id) < (last.timestamp, last.id),
                    "not strictly newest first: {} {} after {} {} (query {q:?})",
                    r.timestamp,
                    r.id,
                    last.timestamp,
                    last.id
                );
            }
            if let Some(c) = q.cursor {
                assert!(
                    (r.timestamp.timestamp_millis(), r.id) < (c.timestamp_ms, c.id),
                    "row not older than the cursor"
                );
            }
            out.push(r.clone());
        }
        match page.next {
            Some(c) => {
                if let Some(prev) = q.cursor {
                    assert!((c.timestamp_ms, c.id) < (prev.timestamp_ms, prev.id), "cursor did not move");
                }
                q.cursor = Some(c)
            }
            None => return out,
        }
    }
    panic!("paging did not end");
}

fn assert_same(got: &[LogRecord], want: &[LogRecord], what: &str) {
    if got.len() != want.len() {
        let g: HashSet<_> = got.iter().map(|r| r.id).collect();
        let w: HashSet<_> = want.iter().map(|r| r.id).collect();
        let missing: Vec<_> = want.iter().filter(|r| !g.contains(&r.id)).take(3).collect();
        let extra: Vec<_> = got.iter().filter(|r| !w.contains(&r.id)).take(3).collect();
        panic!("{what}: got {} rows, want {}; missing e.g. {missing:#?}; extra e.g. {extra:#?}", got.len(), want.len());
    }
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert_eq!(g, w, "{what}: row {i} differs");
    }
}

fn queries(data: &[LogRecord]) -> Vec<(String, LogQuery)> {
    let t0 = start();
    let some = |f: &dyn Fn(&LogRecord) -> Option<String>| -> String {
        let values: Vec<String> = data.iter().filter_map(f).collect();
        values.get(values.len() / 3).cloned().expect("value in dataset")
    };
    let station = some(&|r| Some(r.station_id.clone()));
    let other_station = data.iter().map(|r| r.station_id.clone()).find(|s| *s != station).expect("two stations");
    let site = some(&|r| r.site_id.clone());
    let faulted = some(&|r| r.error_code.clone().filter(|e| e != "NoError" && r.message_type == "CALL"));
    let q = LogQuery::default;
    let mut v: Vec<(String, LogQuery)> = vec![
        ("no filter".into(), q()),
        ("station".into(), LogQuery { station_id: Some(station.clone()), ..q() }),
        ("station+connector".into(), LogQuery { station_id: Some(station.clone()), connector_id: Some(2), ..q() }),
        ("connector alone".into(), LogQuery { connector_id: Some(1), ..q() }),
        ("connector 0".into(), LogQuery { connector_id: Some(0), ..q() }),
        ("site".into(), LogQuery { site_ids: Some(vec![site.clone()]), ..q() }),
        ("two sites".into(), LogQuery { site_ids: Some(vec![site.clone(), "site-003".into()]), ..q() }),
        ("no sites".into(), LogQuery { site_ids: Some(vec![]), ..q() }),
        ("unknown site".into(), LogQuery { site_ids: Some(vec!["nowhere".into()]), ..q() }),
        ("action".into(), LogQuery { actions: vec!["StatusNotification".into()], ..q() }),
        (
            "actions".into(),
            LogQuery { actions: vec!["StartTransaction".into(), "StopTransaction".into(), "Nope".into()], ..q() },
        ),
        ("unknown action".into(), LogQuery { actions: vec!["Nope".into()], ..q() }),
        ("status".into(), LogQuery { status: Some("Accepted".into()), ..q() }),
        ("status faulted".into(), LogQuery { status: Some("Faulted".into()), ..q() }),
        ("error code".into(), LogQuery { error_code: Some(faulted.clone()), ..q() }),
        ("rpc error code".into(), LogQuery { error_code: Some("NotImplemented".into()), ..q() }),
        ("direction in".into(), LogQuery { direction: Some(Direction::In), ..q() }),
        ("direction out".into(), LogQuery { direction: Some(Direction::Out), ..q() }),
        ("CALL".into(), LogQuery { message_type: Some("CALL".into()), ..q() }),
        ("CALLRESULT".into(), LogQuery { message_type: Some("CALLRESULT".into()), ..q() }),
        ("CALLERROR".into(), LogQuery { message_type: Some("CALLERROR".into()), ..q() }),
        ("EVENT".into(), LogQuery { message_type: Some("EVENT".into()), ..q() }),
        ("WEIRD".into(), LogQuery { message_type: Some("WEIRD".into()), ..q() }),
        ("from".into(), LogQuery { from: Some(t0 + TimeDelta::hours(40)), ..q() }),
        ("to".into(), LogQuery { to: Some(t0 + TimeDelta::hours(5)), ..q() }),
        (
            "from/to sub-millisecond".into(),
            LogQuery {
                from: Some(t0 + TimeDelta::hours(30) + TimeDelta::microseconds(122_500)),
                to: Some(t0 + TimeDelta::hours(30) + TimeDelta::microseconds(125_500)),
                ..q()
            },
        ),
        (
            "empty range".into(),
            LogQuery { from: Some(t0 + TimeDelta::hours(5)), to: Some(t0 + TimeDelta::hours(5)), ..q() },
        ),
        ("q".into(), LogQuery { q: Some("faulted".into()), ..q() }),
        ("q upper".into(), LogQuery { q: Some("ENERGY.ACTIVE".into()), ..q() }),
        ("q unicode".into(), LogQuery { q: Some("grÜße".into()), ..q() }),
        ("q kelvin".into(), LogQuery { q: Some("kelvin k".into()), ..q() }),
        ("q nothing".into(), LogQuery { q: Some("no such text anywhere".into()), ..q() }),
        ("q big".into(), LogQuery { q: Some("cabca".into()), ..q() }),
    ];
    let combos: Vec<(String, LogQuery)> = vec![
        (
            "station+action".into(),
            LogQuery { station_id: Some(station.clone()), actions: vec!["MeterValues".into()], ..q() },
        ),
        (
            "site+status+direction".into(),
            LogQuery {
                site_ids: Some(vec![site.clone()]),
                status: Some("Accepted".into()),
                direction: Some(Direction::Out),
                ..q()
            },
        ),
        (
            "sites+actions".into(),
            LogQuery {
                site_ids: Some(vec![site.clone(), "site-001".into(), "site-004".into()]),
                actions: vec!["Heartbeat".into(), "StatusNotification".into()],
                ..q()
            },
        ),
        (
            "station of another site".into(),
            LogQuery { site_ids: Some(vec![site.clone()]), station_id: Some(other_station.clone()), ..q() },
        ),
        (
            "action+message type+time".into(),
            LogQuery {
                actions: vec!["DataTransfer".into()],
                message_type: Some("CALLERROR".into()),
                from: Some(t0 + TimeDelta::hours(10)),
                to: Some(t0 + TimeDelta::hours(50)),
                ..q()
            },
        ),
        (
            "error code+station".into(),
            LogQuery { error_code: Some("NoError".into()), station_id: Some(station.clone()), ..q() },
        ),
        ("q+station".into(), LogQuery { q: Some("transactionid".into()), station_id: Some(station.clone()), ..q() }),
        (
            "q+action+site".into(),
            LogQuery { q: Some("04".into()), actions: vec!["Authorize".into()], site_ids: Some(vec![site]), ..q() },
        ),
        (
            "everything".into(),
            LogQuery {
                station_id: Some(station),
                connector_id: Some(1),
                actions: vec!["StatusNotification".into()],
                status: Some("Charging".into()),
                error_code: Some("NoError".into()),
                direction: Some(Direction::In),
                message_type: Some("CALL".into()),
                from: Some(t0),
                to: Some(t0 + TimeDelta::hours(100)),
                q: Some("charging".into()),
                ..q()
            },
        ),
    ];
    v.extend(combos);
    v
}

/// Every filter alone and combined returns exactly the reference rows, in order, across pages.
pub async fn filters_match_reference(store: &dyn LogStore) {
    let data = dataset();
    load(store, &data, 500).await;
    filters_match(store, &data).await;
}

/// Every filter alone and combined returns exactly the rows of `data` it matches, in order,
/// across pages, from a store that holds `data` and nothing else.
pub async fn filters_match(store: &dyn LogStore, data: &[LogRecord]) {
    let mut nonempty = 0;
    for (name, mut query) in queries(data) {
        let want = reference(data, &query);
        nonempty += usize::from(!want.is_empty());
        for limit in [0, 7, 1000] {
            query.limit = limit;
            if limit == 7 && want.len() > 700 {
                continue; // small pages over big results are covered by paging_while_appending
            }
            let got = collect_all(store, &query).await;
            assert_same(&got, &want, &format!("{name} (limit {limit})"));
        }
        // A first page alone is the newest rows.
        query.limit = 3;
        let page = store.query(&query).await.expect("query");
        assert_same(&page.items, &want[..want.len().min(3)], &format!("{name}: first page"));
        if want.len() > 3 {
            assert!(page.next.is_some(), "{name}: no next cursor on a full first page");
        }
    }
    assert!(nonempty >= 30, "too few queries with results: {nonempty}");
}

/// Paging newest-first while newer (and some late, older) rows arrive: every row that was
/// there at the start is seen exactly once, and nothing is repeated.
pub async fn paging_while_appending(store: &dyn LogStore) {
    let all = fleet(6000, 11);
    let (initial, later) = all.split_at(3000);
    // `initial` is the older half in time; `later` arrives while the reader pages.
    load(store, initial, 400).await;
    let mut q = LogQuery { limit: 25, ..LogQuery::default() };
    let mut seen: Vec<LogRecord> = Vec::new();
    let mut pending = later.chunks(60);
    loop {
        let page = store.query(&q).await.expect("query");
        seen.extend(page.items.iter().cloned());
        if let Some(chunk) = pending.next() {
            // New rows, plus a late copy of an already stored row (a redelivery).
            let mut batch = chunk.to_vec();
            batch.push(initial[seen.len() % initial.len()].clone());
            store.append(batch.into()).await.expect("append");
        }
        match page.next {
            Some(c) => q.cursor = Some(c),
            None => break,
        }
    }
    let ids: HashSet<RecordId> = seen.iter().map(|r| r.id).collect();
    assert_eq!(ids.len(), seen.len(), "a row was returned twice");
    let mut want = initial.to_vec();
    sort_newest_first(&mut want);
    // Later rows are all newer than the first page's cursor, so only `initial` is seen.
    assert_same(&seen, &want, "paging while appending");
}

/// A record whose id is stored already is skipped, within a batch and across batches.
pub async fn duplicates_are_skipped(store: &dyn LogStore) {
    let data = fleet(1200, 3);
    store.append(data[..800].to_vec().into()).await.expect("append");
    let mut again = data[400..].to_vec();
    again.extend(data[1000..1100].iter().cloned()); // duplicate inside one batch too
    store.append(again.into()).await.expect("append");
    store.append(data[..10].to_vec().into()).await.expect("append");
    let got = collect_all(store, &LogQuery { limit: 1000, ..LogQuery::default() }).await;
    let mut want = data.clone();
    sort_newest_first(&mut want);
    assert_same(&got, &want, "after redelivery");
    assert_eq!(store.stats().await.expect("stats").records, data.len() as u64, "stats after redelivery");
}

/// Records of one millisecond whose ids share their low 20 bits (the embedded store's
/// key slot) are all stored: in one batch longer than a multi-row insert, and again when the
/// batch comes back with new records mixed in (nothing twice, nothing lost).
pub async fn records_sharing_id_bits_are_all_stored(store: &dyn LogStore) {
    let t = start() + TimeDelta::hours(5);
    let mut data = fleet(70, 11);
    for (i, r) in data.iter_mut().enumerate() {
        r.timestamp = t;
        let low = if i % 2 == 0 { 0x5_4321 } else { i as u128 };
        r.id = RecordId::from_u128(((i as u128 + 1) << 64) | (0x77 << 32) | low);
    }
    store.append(data[..40].to_vec().into()).await.expect("append");
    store.append(data[20..].to_vec().into()).await.expect("append");
    let mut want = data.clone();
    sort_newest_first(&mut want);
    for limit in [7, 1000] {
        let q = LogQuery { limit, ..LogQuery::default() };
        assert_same(&collect_all(store, &q).await, &want, &format!("shared id bits, limit {limit}"));
    }
    assert_eq!(store.stats().await.expect("stats").records, data.len() as u64, "stats");
}

/// `purge_before` removes exactly the rows older than the cutoff (whole days and part of
/// the boundary day); later appends and queries work.
pub async fn retention_purges_old_records(store: &dyn LogStore) {
    let data = dataset();
    load(store, &data, 700).await;
    let cutoff = start() + TimeDelta::hours(30) + TimeDelta::microseconds(123_500);
    let removed = store.purge_before(cutoff).await.expect("purge");
    let kept: Vec<LogRecord> = data.iter().filter(|r| r.timestamp >= cutoff).cloned().collect();
    assert!(removed > 0, "purge removed nothing");
    let mut want = kept.clone();
    sort_newest_first(&mut want);
    let got = collect_all(store, &LogQuery { limit: 1000, ..LogQuery::default() }).await;
    assert_same(&got, &want, "after purge");
    let stats = store.stats().await.expect("stats");
    assert_eq!(stats.records, kept.len() as u64, "stats after purge");
    assert!(stats.oldest.is_some_and(|o| o >= cutoff - TimeDelta::milliseconds(1)), "oldest after purge");
    assert_eq!(store.purge_before(cutoff).await.expect("purge again"), 0, "second purge");
    // Old rows may be appended again (e.g. a late import) and are found.
    store.append(data[..50].to_vec().into()).await.expect("append after purge");
    let mut want2: Vec<LogRecord> = kept.into_iter().chain(data[..50].iter().cloned()).collect();
    want2.sort_by_key(|r| r.id);
    want2.dedup_by_key(|r| r.id);
    sort_newest_first(&mut want2);
    let got = collect_all(store, &LogQuery { limit: 1000, ..LogQuery::default() }).await;
    assert_same(&got, &want2, "append after purge");
}

/// `site_ids` scopes every query: rows of other sites and of no site never show.
pub async fn site_scoping(store: &dyn LogStore) {
    let data = dataset();
    load(store, &data, 1000).await;
    let sites = ["site-000", "site-002"];
    for query in [
        LogQuery { site_ids: Some(sites.iter().map(|s| s.to_string()).collect()), limit: 1000, ..LogQuery::default() },
        LogQuery { site_ids: Some(vec!["site-002".into()]), q: Some("a".into()), limit: 100, ..LogQuery::default() },
        LogQuery { site_ids: Some(vec![]), limit: 1000, ..LogQuery::default() },
        LogQuery {
            site_ids: Some(vec!["site-001".into()]),
            station_id: Some("edge-station".into()),
            ..LogQuery::default()
        },
    ] {
        let got = collect_all(store, &query).await;
        assert!(got.iter().all(|r| r.site_id.as_deref().is_some_and(|s| sites.contains(&s) || s == "site-001")));
        assert_same(&got, &reference(&data, &query), "site scoping");
    }
}

/// Pages run newest first across UTC days, whatever order the days were written in.
pub async fn newest_first_across_days(store: &dyn LogStore) {
    let data = fleet(3000, 21);
    let mut by_day_desc = data.clone();
    by_day_desc.sort_by_key(|r| std::cmp::Reverse(r.timestamp.date_naive()));
    // Oldest day written last.
    for chunk in by_day_desc.chunks(500) {
        store.append(chunk.to_vec().into()).await.expect("append");
    }
    let days: HashSet<_> = data.iter().map(|r| r.timestamp.date_naive()).collect();
    assert!(days.len() >= 3, "dataset spans {} days", days.len());
    let mut want = data.clone();
    sort_newest_first(&mut want);
    for limit in [1, 999, 1000] {
        let q = LogQuery { limit, ..LogQuery::default() };
        if limit == 1 {
            let page = store.query(&q).await.expect("query");
            assert_same(&page.items, &want[..1], "newest row");
            continue;
        }
        assert_same(&collect_all(store, &q).await, &want, "across days");
    }
}

/// Many rows in one millisecond page exactly by id, with no row missed or repeated.
pub async fn same_millisecond_paging(store: &dyn LogStore) {
    let t = start() + TimeDelta::hours(1);
    let mut rng = Rng::new(8);
    let mut data = Vec::new();
    for (i, r) in fleet(400, 2).into_iter().enumerate() {
        let mut r = r;
        r.timestamp = t + TimeDelta::milliseconds((i % 3) as i64);
        r.id = if i % 2 == 0 {
            crate::record::new_record_id(r.timestamp)
        } else {
            RecordId::from_u128(((rng.next_u64() as u128) << 64) | rng.next_u64() as u128)
        };
        data.push(r);
    }
    load(store, &data, 90).await;
    let mut want = data.clone();
    sort_newest_first(&mut want);
    for limit in [1, 7, 50, 133] {
        let q = LogQuery { limit, ..LogQuery::default() };
        assert_same(&collect_all(store, &q).await, &want, &format!("same millisecond, limit {limit}"));
    }
    // A cursor taken from a row resumes right after it.
    let c = Cursor::after(&want[150]);
    let q = LogQuery { limit: 5, cursor: Some(c), ..LogQuery::default() };
    assert_same(&store.query(&q).await.expect("query").items, &want[151..156], "resume after a cursor");
}

/// Every field of a record comes back exactly as stored.
pub async fn fields_round_trip(store: &dyn LogStore) {
    let data = edge_records();
    store.append(data.clone().into()).await.expect("append");
    let mut want = data;
    sort_newest_first(&mut want);
    assert_same(&collect_all(store, &LogQuery::default()).await, &want, "round trip");
}

/// `stats` counts the records and knows the oldest.
pub async fn stats_count_records(store: &dyn LogStore) {
    let empty = store.stats().await.expect("stats");
    assert_eq!(empty.records, 0);
    assert_eq!(empty.oldest, None);
    let data = fleet(2500, 4);
    load(store, &data, 1000).await;
    let stats = store.stats().await.expect("stats");
    assert_eq!(stats.records, data.len() as u64);
    assert_eq!(stats.oldest, data.iter().map(|r| r.timestamp).min());
    assert!(stats.partitions >= 1);
    assert!(stats.disk_bytes > 0);
}
