//! Clients (tenants), operator accounts, revocable API tokens and the audit trail.
//! Passwords are hashed with argon2; tokens are stored as SHA-256 hashes.

use super::{now_ms, Result, StateError};
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;
use serde_json::Value;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Client {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct User {
    pub id: i64,
    pub username: String,
    /// `admin` or `operator`.
    pub role: String,
    pub client_id: Option<String>,
    pub disabled: bool,
}

pub fn create_client(c: &Connection, id: &str, name: &str) -> Result<Client> {
    let n = c.execute(
        "INSERT OR IGNORE INTO clients (id, name, created_at) VALUES (?1,?2,?3)",
        params![id, name, now_ms()],
    )?;
    if n == 0 {
        return Err(StateError::Conflict(format!("client `{id}` already exists")));
    }
    Ok(Client { id: id.into(), name: name.into() })
}

pub fn list_clients(c: &Connection) -> Result<Vec<Client>> {
    let mut st = c.prepare("SELECT id, name FROM clients ORDER BY id")?;
    let rows = st.query_map([], |r| Ok(Client { id: r.get(0)?, name: r.get(1)? }))?.collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

pub fn client_exists(c: &Connection, id: &str) -> Result<bool> {
    Ok(c.query_row("SELECT 1 FROM clients WHERE id=?1", [id], |_| Ok(())).optional()?.is_some())
}

pub fn hash_password(password: &str) -> Result<String> {
    use argon2::password_hash::{rand_core::OsRng, PasswordHasher, SaltString};
    let salt = SaltString::generate(&mut OsRng);
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| StateError::Invalid(format!("password could not be hashed: {e}")))
}

pub fn verify_password(hash: &str, password: &str) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    PasswordHash::new(hash).is_ok_and(|h| argon2::Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

pub fn token_hash(token: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn user_from_row(r: &rusqlite::Row) -> rusqlite::Result<User> {
    Ok(User { id: r.get(0)?, username: r.get(1)?, role: r.get(2)?, client_id: r.get(3)?, disabled: r.get(4)? })
}

pub fn create_user(
    c: &Connection,
    username: &str,
    password_hash: &str,
    role: &str,
    client_id: Option<&str>,
) -> Result<User> {
    let exists = c.query_row("SELECT 1 FROM users WHERE username=?1", [username], |_| Ok(())).optional()?;
    if exists.is_some() {
        return Err(StateError::Conflict(format!("user `{username}` already exists")));
    }
    c.execute(
        "INSERT INTO users (username, password_hash, role, client_id, created_at) VALUES (?1,?2,?3,?4,?5)",
        params![username, password_hash, role, client_id, now_ms()],
    )?;
    get_user(c, c.last_insert_rowid())
}

pub fn get_user(c: &Connection, id: i64) -> Result<User> {
    c.query_row("SELECT id, username, role, client_id, disabled FROM users WHERE id=?1", [id], user_from_row)
        .optional()?
        .ok_or_else(|| StateError::NotFound(format!("user {id}")))
}

pub fn list_users(c: &Connection) -> Result<Vec<User>> {
    let mut st = c.prepare("SELECT id, username, role, client_id, disabled FROM users ORDER BY id")?;
    let rows = st.query_map([], user_from_row)?.collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

/// The user and password hash for a sign-in.
pub fn find_login(c: &Connection, username: &str) -> Result<Option<(User, String)>> {
    Ok(c.query_row(
        "SELECT id, username, role, client_id, disabled, password_hash FROM users WHERE username=?1",
        [username],
        |r| Ok((user_from_row(r)?, r.get(5)?)),
    )
    .optional()?)
}

/// Disables a user and revokes every token of theirs.
pub fn disable_user(c: &Connection, id: i64) -> Result<User> {
    get_user(c, id)?;
    c.execute("UPDATE users SET disabled=1 WHERE id=?1", [id])?;
    c.execute("UPDATE api_tokens SET revoked_at=?2 WHERE user_id=?1 AND revoked_at IS NULL", params![id, now_ms()])?;
    get_user(c, id)
}

pub fn create_token(c: &Connection, user_id: i64, token: &str, name: &str) -> Result<i64> {
    c.execute(
        "INSERT INTO api_tokens (user_id, token_hash, name, created_at) VALUES (?1,?2,?3,?4)",
        params![user_id, token_hash(token), name, now_ms()],
    )?;
    Ok(c.last_insert_rowid())
}

/// The enabled user a live token belongs to, with the token's id.
pub fn user_of_token(c: &Connection, token: &str) -> Result<Option<(User, i64)>> {
    Ok(c.query_row(
        "SELECT u.id, u.username, u.role, u.client_id, u.disabled, t.id FROM api_tokens t JOIN users u ON u.id = t.user_id
         WHERE t.token_hash=?1 AND t.revoked_at IS NULL AND u.disabled=0",
        [token_hash(token)],
        |r| Ok((user_from_row(r)?, r.get(5)?)),
    )
    .optional()?)
}

#[derive(Debug, Clone, Serialize)]
pub struct TokenInfo {
    pub id: i64,
    pub user_id: i64,
    pub name: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub revoked: bool,
}

pub fn list_tokens(c: &Connection, user_id: Option<i64>) -> Result<Vec<TokenInfo>> {
    let mut st = c.prepare(
        "SELECT id, user_id, name, created_at, revoked_at IS NOT NULL FROM api_tokens WHERE ?1 IS NULL OR user_id=?1 ORDER BY id",
    )?;
    let rows = st
        .query_map([user_id], |r| {
            Ok(TokenInfo {
                id: r.get(0)?,
                user_id: r.get(1)?,
                name: r.get(2)?,
                created_at: chrono::DateTime::from_timestamp_millis(r.get(3)?).unwrap_or_default(),
                revoked: r.get(4)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

/// Revokes token `id` if it belongs to `user_id` (or to anyone, when `None`).
pub fn revoke_token(c: &Connection, id: i64, user_id: Option<i64>) -> Result<()> {
    let n = c.execute(
        "UPDATE api_tokens SET revoked_at=?3 WHERE id=?1 AND (?2 IS NULL OR user_id=?2) AND revoked_at IS NULL",
        params![id, user_id, now_ms()],
    )?;
    if n == 0 {
        return Err(StateError::NotFound(format!("live token {id}")));
    }
    Ok(())
}

/// The sites a client owns.
pub fn sites_of_client(c: &Connection, client_id: &str) -> Result<Vec<String>> {
    let mut st = c.prepare_cached("SELECT id FROM sites WHERE client_id=?1")?;
    let rows = st.query_map([client_id], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

#[derive(Debug, Clone, Serialize)]
pub struct AuditEntry {
    pub id: i64,
    pub at: chrono::DateTime<chrono::Utc>,
    pub actor: String,
    pub client_id: Option<String>,
    pub action: String,
    pub target: String,
    pub detail: Option<Value>,
}

pub fn audit(
    c: &Connection,
    actor: &str,
    client_id: Option<&str>,
    action: &str,
    target: &str,
    detail: &Value,
) -> Result<()> {
    c.execute(
        "INSERT INTO audit_log (at, actor, client_id, action, target, detail) VALUES (?1,?2,?3,?4,?5,?6)",
        params![now_ms(), actor, client_id, action, target, detail.to_string()],
    )?;
    Ok(())
}

/// Newest first; only `client_id`'s entries when given.
pub fn list_audit(c: &Connection, client_id: Option<&str>, limit: usize) -> Result<Vec<AuditEntry>> {
    let mut st = c.prepare(
        "SELECT id, at, actor, client_id, action, target, detail FROM audit_log WHERE ?1 IS NULL OR client_id=?1 ORDER BY id DESC LIMIT ?2",
    )?;
    let rows = st
        .query_map(params![client_id, limit as i64], |r| {
            let detail: Option<String> = r.get(6)?;
            Ok(AuditEntry {
                id: r.get(0)?,
                at: chrono::DateTime::from_timestamp_millis(r.get(1)?).unwrap_or_default(),
                actor: r.get(2)?,
                client_id: r.get(3)?,
                action: r.get(4)?,
                target: r.get(5)?,
                detail: detail.and_then(|d| serde_json::from_str(&d).ok()),
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}
