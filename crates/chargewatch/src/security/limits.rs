//! Small, pure counters behind the abuse limits: a token bucket (frames per second), failed
//! authentication attempts per station id and per address, open connections per address.
//! Time is passed in, so they are tested without sleeping.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A token bucket: `rate` tokens per second, at most `burst` saved up.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// `rate == 0` means no limit.
    pub fn new(rate: u32, burst: u32, now: Instant) -> TokenBucket {
        TokenBucket { rate: rate as f64, burst: burst.max(1) as f64, tokens: burst.max(1) as f64, last: now }
    }

    /// Takes one token; `false` when the bucket is empty.
    pub fn take(&mut self, now: Instant) -> bool {
        if self.rate == 0.0 {
            return true;
        }
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Limits on failed authentication attempts.
#[derive(Debug, Clone)]
pub struct FailureLimits {
    /// 0 = no limit.
    pub per_station: u32,
    /// 0 = no limit.
    pub per_address: u32,
    pub window: Duration,
    pub block: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Station(String),
    Addr(IpAddr),
}

#[derive(Debug)]
struct Entry {
    window_start: Instant,
    failures: u32,
    blocked_until: Option<Instant>,
}

/// Entries kept before old ones are pruned; beyond twice this new station ids are not
/// tracked (addresses still are), so a spray of made-up ids cannot grow memory.
const FAILURE_ENTRIES: usize = 50_000;

/// Counts failed attempts per station id and per source address (fixed window); a key that
/// reaches its limit is blocked for `block`.
#[derive(Debug)]
pub struct FailureLimiter {
    limits: FailureLimits,
    entries: Mutex<HashMap<Key, Entry>>,
}

impl FailureLimiter {
    pub fn new(limits: FailureLimits) -> FailureLimiter {
        FailureLimiter { limits, entries: Mutex::new(HashMap::new()) }
    }

    /// How long the station or the address is still blocked, if it is.
    pub fn blocked(&self, station: &str, addr: IpAddr, now: Instant) -> Option<(Duration, &'static str)> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let left = |k: &Key| {
            entries
                .get(k)
                .and_then(|e| e.blocked_until)
                .and_then(|u| u.checked_duration_since(now))
                .filter(|d| !d.is_zero())
        };
        if let Some(d) = left(&Key::Station(station.to_string())) {
            return Some((d, "this chargeBoxId"));
        }
        left(&Key::Addr(addr)).map(|d| (d, "this address"))
    }

    /// Records a failed attempt.
    pub fn fail(&self, station: &str, addr: IpAddr, now: Instant) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() > FAILURE_ENTRIES {
            let window = self.limits.window;
            entries.retain(|_, e| {
                e.blocked_until.is_some_and(|u| u > now) || now.saturating_duration_since(e.window_start) < window
            });
        }
        let station_key = (entries.len() < 2 * FAILURE_ENTRIES).then(|| Key::Station(station.to_string()));
        for (key, max) in [(station_key, self.limits.per_station), (Some(Key::Addr(addr)), self.limits.per_address)] {
            let (Some(key), true) = (key, max > 0) else { continue };
            let e = entries.entry(key).or_insert(Entry { window_start: now, failures: 0, blocked_until: None });
            if now.saturating_duration_since(e.window_start) >= self.limits.window {
                e.window_start = now;
                e.failures = 0;
            }
            e.failures += 1;
            if e.failures >= max {
                e.blocked_until = Some(now + self.limits.block);
                e.window_start = now;
                e.failures = 0;
            }
        }
    }
}

/// Open connections per source address.
#[derive(Debug, Default)]
pub struct AddrCounter {
    counts: Mutex<HashMap<IpAddr, usize>>,
}

/// One counted connection; uncounts when dropped.
#[derive(Debug)]
pub struct AddrSlot {
    counter: Arc<AddrCounter>,
    addr: IpAddr,
}

impl AddrCounter {
    /// Counts a connection from `addr` unless it already has `max` (0 = no limit).
    pub fn try_acquire(self: &Arc<Self>, addr: IpAddr, max: usize) -> Option<AddrSlot> {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let n = counts.entry(addr).or_insert(0);
        if max > 0 && *n >= max {
            return None;
        }
        *n += 1;
        Some(AddrSlot { counter: self.clone(), addr })
    }

    pub fn count(&self, addr: IpAddr) -> usize {
        self.counts.lock().unwrap_or_else(|p| p.into_inner()).get(&addr).copied().unwrap_or(0)
    }
}

impl Drop for AddrSlot {
    fn drop(&mut self) {
        let mut counts = self.counter.counts.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = counts.get_mut(&self.addr) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                counts.remove(&self.addr);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_allows_a_burst_then_the_rate() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(10, 5, t0);
        assert_eq!((0..8).filter(|_| b.take(t0)).count(), 5);
        assert!(!b.take(t0 + Duration::from_millis(50)));
        assert!(b.take(t0 + Duration::from_millis(150)));
        assert!(!b.take(t0 + Duration::from_millis(150)));
        assert_eq!((0..100).filter(|_| b.take(t0 + Duration::from_secs(60))).count(), 5, "never more than the burst");
        let mut free = TokenBucket::new(0, 1, t0);
        assert!((0..1000).all(|_| free.take(t0)));
    }

    #[test]
    fn failures_block_the_station_and_the_address_then_expire() {
        let limits = FailureLimits {
            per_station: 3,
            per_address: 5,
            window: Duration::from_secs(60),
            block: Duration::from_secs(30),
        };
        let l = FailureLimiter::new(limits);
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let t0 = Instant::now();
        l.fail("CP1", a, t0);
        l.fail("CP1", b, t0);
        assert!(l.blocked("CP1", a, t0).is_none());
        l.fail("CP1", b, t0);
        assert_eq!(l.blocked("CP1", a, t0).map(|x| x.1), Some("this chargeBoxId"), "3 failures from anywhere");
        assert!(l.blocked("CP2", a, t0).is_none(), "other stations are not affected");
        assert!(l.blocked("CP1", a, t0 + Duration::from_secs(31)).is_none(), "the block expires");
        for i in 0..5 {
            l.fail(&format!("X{i}"), a, t0);
        }
        assert_eq!(l.blocked("CP9", a, t0).map(|x| x.1), Some("this address"));
        assert!(l.blocked("CP9", b, t0).is_none());
        // Failures spread over more than a window do not add up.
        let l = FailureLimiter::new(FailureLimits { per_address: 0, ..l.limits.clone() });
        for i in 0..10 {
            l.fail("CP1", a, t0 + Duration::from_secs(61 * i));
        }
        assert!(l.blocked("CP1", a, t0 + Duration::from_secs(610)).is_none());
    }

    #[test]
    fn address_slots_count_and_release() {
        let c = Arc::new(AddrCounter::default());
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let s1 = c.try_acquire(a, 2).unwrap();
        let _s2 = c.try_acquire(a, 2).unwrap();
        assert!(c.try_acquire(a, 2).is_none());
        drop(s1);
        assert!(c.try_acquire(a, 2).is_some());
        assert_eq!(c.count(a), 1);
    }
}
