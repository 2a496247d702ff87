//! Sites: a location with charging stations, and its log level.

use super::{now_ms, Result, StateError};
use chargewatch_logstore::LogLevel;
use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::Serialize;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Site {
    pub id: String,
    pub name: String,
    pub log_level: LogLevel,
    /// The client (tenant) that owns the site.
    pub client_id: Option<String>,
    /// Mask id tags in the log records of this site's stations.
    pub mask_id_tags: bool,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

fn from_row(r: &Row) -> rusqlite::Result<Site> {
    let level: String = r.get(2)?;
    Ok(Site {
        id: r.get(0)?,
        name: r.get(1)?,
        log_level: level.parse().unwrap_or_default(),
        created_at: chrono::DateTime::from_timestamp_millis(r.get(3)?).unwrap_or_default(),
        client_id: r.get(4)?,
        mask_id_tags: r.get(5)?,
    })
}

const COLS: &str = "id, name, log_level, created_at, client_id, mask_id_tags";

pub fn create(c: &Connection, id: &str, name: &str, level: LogLevel, client_id: Option<&str>) -> Result<Site> {
    let exists: Option<String> = c.query_row("SELECT id FROM sites WHERE id = ?1", [id], |r| r.get(0)).optional()?;
    if exists.is_some() {
        return Err(StateError::Conflict(format!("site `{id}` already exists")));
    }
    c.execute(
        "INSERT INTO sites (id, name, log_level, created_at, client_id) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![id, name, level.as_str(), now_ms(), client_id],
    )?;
    get(c, id)
}

pub fn get(c: &Connection, id: &str) -> Result<Site> {
    c.prepare_cached(&format!("SELECT {COLS} FROM sites WHERE id = ?1"))?
        .query_row([id], from_row)
        .optional()?
        .ok_or_else(|| StateError::NotFound(format!("site `{id}`")))
}

pub fn list(c: &Connection) -> Result<Vec<Site>> {
    let mut st = c.prepare(&format!("SELECT {COLS} FROM sites ORDER BY id"))?;
    let rows = st.query_map([], from_row)?.collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

/// A change of a site; `None` fields stay as they are.
#[derive(Debug, Default)]
pub struct SiteChange<'a> {
    pub name: Option<&'a str>,
    pub level: Option<LogLevel>,
    pub mask_id_tags: Option<bool>,
}

pub fn update(c: &Connection, id: &str, change: &SiteChange) -> Result<Site> {
    get(c, id)?;
    let (name, level) = (change.name, change.level);
    if let Some(mask) = change.mask_id_tags {
        c.execute("UPDATE sites SET mask_id_tags = ?2 WHERE id = ?1", params![id, mask])?;
    }
    if let Some(name) = name {
        c.execute("UPDATE sites SET name = ?2 WHERE id = ?1", params![id, name])?;
    }
    if let Some(level) = level {
        c.execute("UPDATE sites SET log_level = ?2 WHERE id = ?1", params![id, level.as_str()])?;
    }
    get(c, id)
}
