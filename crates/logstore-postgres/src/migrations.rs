//! Versioned schema migrations: an append-only list, applied in order inside one
//! transaction under an advisory lock, each recorded in `<schema>.schema_migrations`.
//!
//! Never edit or reorder a migration that has shipped: add a new one at the end.
//! `{s}` in a migration's SQL is replaced by the quoted schema name.

use chargewatch_logstore::StoreError;
use deadpool_postgres::Client;

use crate::be;

pub(crate) struct Migration {
    pub version: i32,
    pub name: &'static str,
    pub sql: &'static str,
}

/// The migrations, oldest first. Versions are 1, 2, 3, … with no gaps.
pub(crate) const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "log table partitioned by day, filter indexes",
    sql: r#"
CREATE TABLE {s}.log (
    ts               timestamptz NOT NULL,
    id               uuid        NOT NULL,
    action           text,
    station_id       text        NOT NULL,
    connector_id     bigint,
    status           text,
    error_code       text,
    site_id          text,
    site_name        text,
    direction        text        NOT NULL,
    message_type     text        NOT NULL,
    unique_id        text,
    level            text        NOT NULL,
    latency_ms       bigint,
    validation_error text,
    raw              text        NOT NULL,
    PRIMARY KEY (ts, id)
) PARTITION BY RANGE (ts);
CREATE INDEX log_station ON {s}.log (station_id, ts, id);
CREATE INDEX log_station_connector ON {s}.log (station_id, connector_id, ts, id);
CREATE INDEX log_site ON {s}.log (site_id, ts, id);
CREATE INDEX log_action ON {s}.log (action, ts, id);
CREATE INDEX log_status ON {s}.log (status, ts, id) WHERE status IS NOT NULL;
CREATE INDEX log_error_code ON {s}.log (error_code, ts, id) WHERE error_code IS NOT NULL;
"#,
}];

/// Lock key serialising migrations and partition DDL of every schema in the database
/// (`pg_advisory_xact_lock` takes a bigint; this is "cwlogpg" in ASCII).
pub(crate) const DDL_LOCK: i64 = 0x63_77_6c_6f_67_70_67;

/// Creates the schema if missing and brings it to the newest version.
/// Fails with [`StoreError::Incompatible`] when the schema is from a newer version.
pub(crate) async fn migrate(client: &mut Client, schema: &str) -> Result<(), StoreError> {
    let tx = client.transaction().await.map_err(be)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&DDL_LOCK]).await.map_err(be)?;
    tx.batch_execute(&format!(
        "CREATE SCHEMA IF NOT EXISTS {schema};
         CREATE TABLE IF NOT EXISTS {schema}.schema_migrations (
             version    integer     PRIMARY KEY,
             name       text        NOT NULL,
             applied_at timestamptz NOT NULL DEFAULT now()
         );"
    ))
    .await
    .map_err(be)?;
    let applied: Option<i32> =
        tx.query_one(&format!("SELECT max(version) FROM {schema}.schema_migrations"), &[]).await.map_err(be)?.get(0);
    let applied = applied.unwrap_or(0);
    let newest = MIGRATIONS.last().map_or(0, |m| m.version);
    if applied > newest {
        return Err(StoreError::Incompatible(format!(
            "schema {schema} is at migration {applied}, this build knows up to {newest}"
        )));
    }
    for m in MIGRATIONS.iter().filter(|m| m.version > applied) {
        tx.batch_execute(&m.sql.replace("{s}", schema)).await.map_err(be)?;
        tx.execute(
            &format!("INSERT INTO {schema}.schema_migrations (version, name) VALUES ($1, $2)"),
            &[&m.version, &m.name],
        )
        .await
        .map_err(be)?;
    }
    tx.commit().await.map_err(be)
}

/// The trigram index for `q` searches, when the `pg_trgm` extension is there or can be
/// created (needs a superuser or a trusted extension). Optional: without it `q` searches
/// scan. Kept out of the versioned list because it depends on the server, not the
/// schema's version; created whenever it becomes possible. Returns whether it exists.
pub(crate) async fn ensure_trigram_index(client: &mut Client, schema: &str) -> Result<bool, StoreError> {
    let mut tx = client.transaction().await.map_err(be)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&DDL_LOCK]).await.map_err(be)?;
    let ext_schema = |rows: Vec<tokio_postgres::Row>| rows.first().map(|r| r.get::<_, String>(0));
    let find = "SELECT n.nspname::text FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace \
                WHERE e.extname = 'pg_trgm'";
    let mut found = ext_schema(tx.query(find, &[]).await.map_err(be)?);
    if found.is_none() {
        // In a savepoint: lacking the privilege must not abort the transaction.
        let sp = tx.savepoint("trgm").await.map_err(be)?;
        match sp.batch_execute("CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public").await {
            Ok(()) => sp.commit().await.map_err(be)?,
            Err(_) => sp.rollback().await.map_err(be)?,
        }
        found = ext_schema(tx.query(find, &[]).await.map_err(be)?);
    }
    let Some(ext) = found else {
        tx.rollback().await.map_err(be)?;
        return Ok(false);
    };
    tx.batch_execute(&format!(
        "CREATE INDEX IF NOT EXISTS log_raw_trgm ON {schema}.log USING gin (raw {}.gin_trgm_ops)",
        crate::quote_ident(&ext)
    ))
    .await
    .map_err(be)?;
    tx.commit().await.map_err(be)?;
    Ok(true)
}
