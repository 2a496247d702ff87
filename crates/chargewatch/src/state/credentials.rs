//! Per-station charger security (OCPP 1.6 security whitepaper): the security profile a
//! station must connect with, its HTTP Basic password (argon2 PHC string, never the
//! password itself) and an optional pinned client-certificate fingerprint.

use super::Result;
use rusqlite::{params, Connection, OptionalExtension};

/// The security settings of one station.
#[derive(Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Credentials {
    pub station_id: String,
    /// 0 = none, 1 = HTTP Basic, 2 = TLS + HTTP Basic, 3 = TLS client certificate.
    pub profile: u8,
    /// argon2 PHC string of the Basic password.
    pub password_hash: Option<String>,
    /// SHA-256 of the client certificate (DER), lowercase hex, 64 characters.
    pub cert_fingerprint: Option<String>,
    pub updated_at: i64,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("station_id", &self.station_id)
            .field("profile", &self.profile)
            .field("password_hash", &self.password_hash.as_ref().map(|_| "<hidden>"))
            .field("cert_fingerprint", &self.cert_fingerprint)
            .field("updated_at", &self.updated_at)
            .finish()
    }
}

pub fn get(c: &Connection, station_id: &str) -> Result<Option<Credentials>> {
    Ok(c.query_row(
        "SELECT station_id, profile, password_hash, cert_fingerprint, updated_at
         FROM station_credentials WHERE station_id = ?1",
        [station_id],
        |r| {
            Ok(Credentials {
                station_id: r.get(0)?,
                profile: r.get(1)?,
                password_hash: r.get(2)?,
                cert_fingerprint: r.get(3)?,
                updated_at: r.get(4)?,
            })
        },
    )
    .optional()?)
}

pub fn put(c: &Connection, cr: &Credentials) -> Result<()> {
    c.execute(
        "INSERT INTO station_credentials (station_id, profile, password_hash, cert_fingerprint, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT(station_id) DO UPDATE SET profile = excluded.profile,
             password_hash = excluded.password_hash, cert_fingerprint = excluded.cert_fingerprint,
             updated_at = excluded.updated_at",
        params![cr.station_id, cr.profile, cr.password_hash, cr.cert_fingerprint, cr.updated_at],
    )?;
    Ok(())
}
