//! The conformance suite against the embedded store, one fresh store per check.

use chargewatch_logstore::{conformance, SqliteLogStore};

macro_rules! check {
    ($($name:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            let dir = tempfile::tempdir().expect("temp dir");
            let store = SqliteLogStore::open(dir.path()).expect("open");
            conformance::$name(&store).await;
            // And again after reopening: what was stored is still found.
            drop(store);
            let store = SqliteLogStore::open(dir.path()).expect("reopen");
            let stats = chargewatch_logstore::LogStore::stats(&store).await.expect("stats");
            assert!(stats.partitions <= 4);
        }
    )*};
}

check!(
    filters_match_reference,
    paging_while_appending,
    duplicates_are_skipped,
    records_sharing_id_bits_are_all_stored,
    retention_purges_old_records,
    site_scoping,
    newest_first_across_days,
    same_millisecond_paging,
    fields_round_trip,
    stats_count_records,
);

#[test]
fn every_check_is_run() {
    let me = include_str!("sqlite_conformance.rs");
    for name in conformance::CHECKS {
        assert!(me.contains(&format!("    {name},")), "{name} is not run here");
    }
}
