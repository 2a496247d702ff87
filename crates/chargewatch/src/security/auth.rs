//! Charger authentication before the WebSocket upgrade (OCPP 1.6 security whitepaper).
//!
//! | profile | the station must present |
//! |---|---|
//! | 0 | nothing |
//! | 1 | HTTP Basic: user = its chargeBoxId, its password (ws:// or wss://) |
//! | 2 | the same, over TLS (wss://) |
//! | 3 | over TLS, a client certificate with its pinned fingerprint, or else one that chains to the client CA with subject CN = its chargeBoxId |
//!
//! **A station never connects with another station's credentials**: the user name must be
//! the chargeBoxId of the URL, the password is checked against that station's hash only,
//! and a certificate must map to that station. Every refusal counts towards the failure
//! limits per station id and per source address.
//!
//! argon2 verification runs on the blocking pool, at most one per core at a time (each
//! takes ~19 MiB and tens of milliseconds); a successful verification is remembered for
//! [`VERIFIED_TTL`] so a reconnect storm does not re-hash every password.

use super::limits::{FailureLimiter, FailureLimits};
use super::tls::TlsPeer;
use crate::state::credentials::{self, Credentials};
use crate::state::StateStore;
use axum::http::{HeaderMap, StatusCode};
use base64::Engine;
use rustls::server::danger::ClientCertVerifier;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// How long a successful password verification is remembered (per station, for the same
/// stored hash and the same password).
pub const VERIFIED_TTL: Duration = Duration::from_secs(300);

/// Passwords of security profiles 1 and 2: 16 to 40 characters (whitepaper).
pub const PASSWORD_CHARS: std::ops::RangeInclusive<usize> = 16..=40;

/// Why a station was refused: HTTP status, and a reason for the log and the response.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    pub status: StatusCode,
    pub reason: String,
    pub retry_after: Option<Duration>,
}

impl Refusal {
    fn unauthorized(reason: impl Into<String>) -> Refusal {
        Refusal { status: StatusCode::UNAUTHORIZED, reason: reason.into(), retry_after: None }
    }
}

/// What the station authenticated with.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Admitted {
    pub profile: u8,
}

/// Counters of charger authentication (named events; see [`ChargerAuth::counters`]).
#[derive(Debug, Default)]
pub struct AuthCounters {
    pub accepted: AtomicU64,
    pub refused: AtomicU64,
    pub rate_limited: AtomicU64,
    pub verifications: AtomicU64,
    pub cache_hits: AtomicU64,
}

/// A remembered successful verification: the stored hash it was for, a keyed digest of the
/// password, and when.
struct Verified {
    hash: String,
    digest: [u8; 32],
    at: Instant,
}

/// Where a station's credentials come from: the state store, or, for a gateway without one
/// (`--gateway-state remote`), the API processes.
#[derive(Clone)]
pub enum CredentialSource {
    Store(StateStore),
    Remote(Arc<crate::cluster::remote_state::RemoteState>),
}

impl CredentialSource {
    async fn get(&self, station_id: &str) -> Result<Option<Credentials>, String> {
        match self {
            CredentialSource::Store(state) => {
                let id = station_id.to_string();
                state.run(move |c| credentials::get(c, &id)).await.map_err(|e| e.to_string())
            }
            CredentialSource::Remote(remote) => remote.credentials(station_id).await,
        }
    }
}

pub struct ChargerAuth {
    source: CredentialSource,
    min_profile: u8,
    failures: FailureLimiter,
    client_ca: Option<Arc<dyn ClientCertVerifier>>,
    verify_slots: Arc<Semaphore>,
    /// station → (stored hash, keyed digest of the password, when verified)
    verified: Mutex<HashMap<String, Verified>>,
    cache_key: [u8; 32],
    pub counters: AuthCounters,
}

impl std::fmt::Debug for ChargerAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChargerAuth")
            .field("min_profile", &self.min_profile)
            .field("client_ca", &self.client_ca.is_some())
            .finish_non_exhaustive()
    }
}

impl ChargerAuth {
    pub fn new(
        source: CredentialSource,
        min_profile: u8,
        failures: FailureLimits,
        client_ca: Option<Arc<dyn ClientCertVerifier>>,
    ) -> ChargerAuth {
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        ChargerAuth {
            source,
            min_profile,
            failures: FailureLimiter::new(failures),
            client_ca,
            verify_slots: Arc::new(Semaphore::new(cores)),
            verified: Mutex::new(HashMap::new()),
            cache_key: rand::random(),
            counters: AuthCounters::default(),
        }
    }

    /// Decides whether `station_id` may connect from `addr` with what it presented.
    /// `tls` is `Some` when the request came over the TLS endpoint.
    pub async fn admit(
        &self,
        station_id: &str,
        addr: IpAddr,
        headers: &HeaderMap,
        tls: Option<&TlsPeer>,
    ) -> Result<Admitted, Refusal> {
        if let Some((left, what)) = self.failures.blocked(station_id, addr, Instant::now()) {
            self.counters.rate_limited.fetch_add(1, Ordering::Relaxed);
            let secs = left.as_secs().max(1);
            return Err(Refusal {
                status: StatusCode::TOO_MANY_REQUESTS,
                reason: format!("too many failed authentication attempts from {what}; retry in {secs} s"),
                retry_after: Some(Duration::from_secs(secs)),
            });
        }
        let creds = self.source.get(station_id).await.map_err(|e| {
            tracing::error!(error = %e, "reading station credentials failed");
            Refusal {
                status: StatusCode::SERVICE_UNAVAILABLE,
                reason: "credentials could not be read".into(),
                retry_after: Some(Duration::from_secs(5)),
            }
        })?;
        let outcome = self.judge(station_id, creds.as_ref(), headers, tls).await;
        match &outcome {
            Ok(_) => {
                self.counters.accepted.fetch_add(1, Ordering::Relaxed);
            }
            Err(r) => {
                self.counters.refused.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(station = station_id, remote = %addr, reason = %r.reason, "charger authentication failed");
                self.failures.fail(station_id, addr, Instant::now());
            }
        }
        outcome
    }

    async fn judge(
        &self,
        station_id: &str,
        creds: Option<&Credentials>,
        headers: &HeaderMap,
        tls: Option<&TlsPeer>,
    ) -> Result<Admitted, Refusal> {
        let profile = creds.map(|c| c.profile).unwrap_or(0);
        if profile < self.min_profile {
            return Err(Refusal::unauthorized(format!(
                "station has security profile {profile}; this central system requires at least {}",
                self.min_profile
            )));
        }
        if profile >= 2 && tls.is_none() {
            return Err(Refusal::unauthorized(format!("security profile {profile} requires TLS (wss://)")));
        }
        match profile {
            0 => Ok(Admitted { profile }),
            1 | 2 => {
                let Some((user, password)) = basic_credentials(headers) else {
                    return Err(Refusal::unauthorized(format!(
                        "no HTTP Basic credentials (required by security profile {profile})"
                    )));
                };
                if user != station_id {
                    return Err(Refusal::unauthorized("the Basic user name is not the chargeBoxId of the URL"));
                }
                let Some(hash) = creds.and_then(|c| c.password_hash.clone()) else {
                    return Err(Refusal::unauthorized("no password is configured for this station"));
                };
                if self.verify(station_id, hash, password).await {
                    Ok(Admitted { profile })
                } else {
                    Err(Refusal::unauthorized("wrong password"))
                }
            }
            3 => {
                let Some(cert) = tls.and_then(|t| t.cert.as_ref()) else {
                    return Err(Refusal::unauthorized("no client certificate (required by security profile 3)"));
                };
                if let Some(pinned) = creds.and_then(|c| c.cert_fingerprint.as_deref()) {
                    return if constant_time_eq(cert.fingerprint.as_bytes(), pinned.as_bytes()) {
                        Ok(Admitted { profile })
                    } else {
                        Err(Refusal::unauthorized("the client certificate is not the one pinned for this station"))
                    };
                }
                if let Err(why) = &cert.chain {
                    return Err(Refusal::unauthorized(why.clone()));
                }
                match cert.common_name.as_deref() {
                    Some(cn) if cn == station_id => Ok(Admitted { profile }),
                    Some(_) => Err(Refusal::unauthorized(
                        "the client certificate's subject CN is not the chargeBoxId of the URL",
                    )),
                    None => Err(Refusal::unauthorized("the client certificate has no subject CN")),
                }
            }
            other => Err(Refusal::unauthorized(format!("unknown security profile {other}"))),
        }
    }

    fn digest(&self, password: &str) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(self.cache_key);
        h.update(password.as_bytes());
        h.finalize().into()
    }

    async fn verify(&self, station_id: &str, hash: String, password: String) -> bool {
        let digest = self.digest(&password);
        {
            let cache = self.verified.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(v) = cache.get(station_id) {
                if v.hash == hash && v.digest == digest && v.at.elapsed() < VERIFIED_TTL {
                    self.counters.cache_hits.fetch_add(1, Ordering::Relaxed);
                    return true;
                }
            }
        }
        let Ok(_slot) = self.verify_slots.acquire().await else { return false };
        self.counters.verifications.fetch_add(1, Ordering::Relaxed);
        let h = hash.clone();
        let ok = tokio::task::spawn_blocking(move || verify_password(&h, &password)).await.unwrap_or(false);
        if ok {
            let mut cache = self.verified.lock().unwrap_or_else(|p| p.into_inner());
            if cache.len() > 100_000 {
                cache.retain(|_, v| v.at.elapsed() < VERIFIED_TTL);
            }
            cache.insert(station_id.to_string(), Verified { hash, digest, at: Instant::now() });
        }
        ok
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `Authorization: Basic base64(user:password)`; the password may contain `:`.
pub fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(axum::http::header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, b64) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD.decode(b64.trim()).ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

/// Checks a password for profiles 1 and 2: 16 to 40 characters, no control characters.
pub fn check_password(password: &str) -> Result<(), String> {
    let n = password.chars().count();
    if !PASSWORD_CHARS.contains(&n) {
        return Err(format!(
            "the password must be {} to {} characters long (OCPP 1.6 security whitepaper), not {n}",
            PASSWORD_CHARS.start(),
            PASSWORD_CHARS.end()
        ));
    }
    if password.chars().any(char::is_control) {
        return Err("the password must not contain control characters".into());
    }
    Ok(())
}

/// argon2id PHC string of `password` (slow: call off the async workers).
pub fn hash_password(password: &str) -> Result<String, String> {
    use argon2::password_hash::{rand_core::OsRng, PasswordHasher, SaltString};
    let salt = SaltString::generate(&mut OsRng);
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// Whether `password` matches the PHC string `hash` (slow: call off the async workers).
pub fn verify_password(hash: &str, password: &str) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    PasswordHash::new(hash).is_ok_and(|h| argon2::Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_header_parsing() {
        let mut h = HeaderMap::new();
        assert_eq!(basic_credentials(&h), None);
        let b64 = base64::engine::general_purpose::STANDARD.encode("CP-1:pa:ss word");
        h.insert("authorization", format!("Basic {b64}").parse().unwrap());
        assert_eq!(basic_credentials(&h), Some(("CP-1".into(), "pa:ss word".into())));
        h.insert("authorization", "Bearer x".parse().unwrap());
        assert_eq!(basic_credentials(&h), None);
        h.insert("authorization", "Basic !!!".parse().unwrap());
        assert_eq!(basic_credentials(&h), None);
    }

    #[test]
    fn password_rules_and_hashing() {
        assert!(check_password("short").is_err());
        assert!(check_password(&"x".repeat(41)).is_err());
        assert!(check_password("0123456789abcdef\n").is_err());
        assert!(check_password("0123456789abcdef").is_ok());
        let h = hash_password("0123456789abcdef").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password(&h, "0123456789abcdef"));
        assert!(!verify_password(&h, "0123456789abcdeF"));
        assert!(!verify_password("not a hash", "0123456789abcdef"));
    }
}
