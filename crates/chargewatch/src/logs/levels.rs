//! Effective log level per station: the site's level, or a per-station override until it
//! expires; stations without a site use the default level.
//!
//! In memory, read on every frame; updated by the API (and, across processes, by a poller).
//! Every update bumps a version that wakes the ring-buffer backfill.

use chargewatch_logstore::LogLevel;
use chrono::{DateTime, Utc};
use foldhash::HashMap;
use std::sync::{Arc, RwLock};
use tokio::sync::watch;

/// The source of "now", injected so that override expiry can be tested.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

pub fn system_clock() -> Clock {
    Arc::new(Utc::now)
}

#[derive(Debug, Clone, PartialEq)]
pub struct SiteLevel {
    pub name: String,
    pub level: LogLevel,
    pub mask_id_tags: bool,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct StationLevel {
    pub site_id: Option<String>,
    pub override_level: Option<(LogLevel, DateTime<Utc>)>,
}

#[derive(Debug, Default, Clone)]
struct Directory {
    sites: HashMap<String, SiteLevel>,
    stations: HashMap<String, StationLevel>,
}

/// What the capture needs to know about a station right now.
#[derive(Debug, Clone, PartialEq)]
pub struct Effective {
    pub level: LogLevel,
    pub site_id: Option<String>,
    pub mask_id_tags: bool,
}

pub struct Levels {
    dir: RwLock<Directory>,
    default_level: LogLevel,
    clock: Clock,
    version: watch::Sender<u64>,
}

impl Levels {
    pub fn new(default_level: LogLevel, clock: Clock) -> Arc<Levels> {
        Arc::new(Levels { dir: RwLock::default(), default_level, clock, version: watch::channel(0).0 })
    }

    pub fn now(&self) -> DateTime<Utc> {
        (self.clock)()
    }

    pub fn effective(&self, station_id: &str) -> Effective {
        let now = self.now();
        let dir = self.dir.read().unwrap_or_else(|p| p.into_inner());
        let station = dir.stations.get(station_id);
        let site_id = station.and_then(|s| s.site_id.clone());
        let site = site_id.as_ref().and_then(|id| dir.sites.get(id));
        let site_level = site.map(|s| s.level);
        let mask_id_tags = site.is_some_and(|s| s.mask_id_tags);
        let level = match station.and_then(|s| s.override_level) {
            Some((level, until)) if until > now => level,
            _ => site_level.unwrap_or(self.default_level),
        };
        Effective { level, site_id, mask_id_tags }
    }

    pub fn site_name(&self, site_id: &str) -> Option<String> {
        let dir = self.dir.read().unwrap_or_else(|p| p.into_inner());
        dir.sites.get(site_id).map(|s| s.name.clone())
    }

    fn update(&self, f: impl FnOnce(&mut Directory)) {
        f(&mut self.dir.write().unwrap_or_else(|p| p.into_inner()));
        self.version.send_modify(|v| *v += 1);
    }

    pub fn set_site(&self, site_id: &str, name: &str, level: LogLevel, mask_id_tags: bool) {
        let site = SiteLevel { name: name.to_string(), level, mask_id_tags };
        self.update(|d| {
            d.sites.insert(site_id.to_string(), site);
        });
    }

    pub fn set_station(&self, station_id: &str, level: StationLevel) {
        self.update(|d| {
            d.stations.insert(station_id.to_string(), level);
        });
    }

    /// Replaces the whole directory (used at startup and by the cross-process poller);
    /// bumps the version only when something changed.
    pub fn replace(
        &self,
        sites: impl IntoIterator<Item = (String, SiteLevel)>,
        stations: impl IntoIterator<Item = (String, StationLevel)>,
    ) {
        let (sites, stations): (HashMap<_, _>, HashMap<_, _>) =
            (sites.into_iter().collect(), stations.into_iter().collect());
        let mut dir = self.dir.write().unwrap_or_else(|p| p.into_inner());
        if dir.sites == sites && dir.stations == stations {
            return;
        }
        *dir = Directory { sites, stations };
        drop(dir);
        self.version.send_modify(|v| *v += 1);
    }

    /// Wakes whenever a level may have changed.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.version.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn override_applies_until_expiry_then_site_level_returns() {
        let now = Arc::new(Mutex::new(Utc::now()));
        let n = now.clone();
        let levels = Levels::new(LogLevel::Info, Arc::new(move || *n.lock().unwrap()));
        assert_eq!(levels.effective("X").level, LogLevel::Info, "no site: the default");
        levels.set_site("s1", "Site 1", LogLevel::None, false);
        levels.set_station("X", StationLevel { site_id: Some("s1".into()), override_level: None });
        assert_eq!(levels.effective("X").level, LogLevel::None);
        let until = *now.lock().unwrap() + chrono::Duration::hours(2);
        levels.set_station(
            "X",
            StationLevel { site_id: Some("s1".into()), override_level: Some((LogLevel::Debug, until)) },
        );
        assert_eq!(levels.effective("X").level, LogLevel::Debug);
        *now.lock().unwrap() += chrono::Duration::minutes(119);
        assert_eq!(levels.effective("X").level, LogLevel::Debug);
        *now.lock().unwrap() += chrono::Duration::minutes(2);
        assert_eq!(levels.effective("X").level, LogLevel::None, "expired: back to the site's level");
    }
}
