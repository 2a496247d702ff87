//! Who is calling, and what they may see. The admin token (SPEC.md) is the bootstrap
//! credential; operator accounts sign in with a password and get revocable API tokens.
//! An operator belongs to one client and sees only that client's sites and their stations.

use super::error::ApiJson;
use super::{ApiError, AppState};
use crate::state::{accounts, stations, Station};
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

/// What a caller may see.
#[derive(Debug, Clone, PartialEq)]
pub enum Scope {
    /// The admin: everything.
    All,
    /// An operator of one client: that client's sites (and the stations on them).
    Client { client_id: String, sites: Vec<String> },
}

/// The authenticated caller, from `Authorization: Bearer TOKEN`.
#[derive(Debug, Clone)]
pub struct Caller {
    pub name: String,
    pub user_id: Option<i64>,
    pub token_id: Option<i64>,
    pub scope: Scope,
}

impl Caller {
    pub fn is_admin(&self) -> bool {
        self.scope == Scope::All
    }

    pub fn require_admin(&self) -> Result<(), ApiError> {
        self.is_admin().then_some(()).ok_or_else(|| ApiError::Forbidden("only an admin may do this".into()))
    }

    /// The sites the caller may see; `None` = every site.
    pub fn site_scope(&self) -> Option<&[String]> {
        match &self.scope {
            Scope::All => None,
            Scope::Client { sites, .. } => Some(sites),
        }
    }

    pub fn client_id(&self) -> Option<&str> {
        match &self.scope {
            Scope::All => None,
            Scope::Client { client_id, .. } => Some(client_id),
        }
    }

    pub fn can_see_site(&self, site_id: Option<&str>) -> bool {
        match self.site_scope() {
            None => true,
            Some(sites) => site_id.is_some_and(|s| sites.iter().any(|x| x == s)),
        }
    }

    /// The station, if it exists and the caller may see it (else 404, revealing nothing).
    pub async fn station(&self, app: &AppState, id: &str) -> Result<Station, ApiError> {
        let sid = id.to_string();
        let station = app.state.run(move |c| stations::find(c, &sid)).await?;
        match station {
            Some(s) if self.can_see_site(s.site_id.as_deref()) => Ok(s),
            _ => Err(ApiError::NotFound(format!("station `{id}` does not exist"))),
        }
    }

    /// Writes an audit entry.
    pub async fn audit(&self, app: &AppState, action: &str, target: &str, detail: Value) -> Result<(), ApiError> {
        let (actor, client, action, target) =
            (self.name.clone(), self.client_id().map(str::to_string), action.to_string(), target.to_string());
        app.state.run(move |c| accounts::audit(c, &actor, client.as_deref(), &action, &target, &detail)).await?;
        Ok(())
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        let header = parts.headers.get(axum::http::header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        let Some(token) = header.and_then(|h| h.strip_prefix("Bearer ")).map(str::trim) else {
            return Err(ApiError::Unauthorized(
                "send `Authorization: Bearer TOKEN` (the admin token or a sign-in token)".into(),
            ));
        };
        if constant_time_eq(token.as_bytes(), app.admin_token.as_bytes()) {
            return Ok(Caller { name: "admin".into(), user_id: None, token_id: None, scope: Scope::All });
        }
        let t = token.to_string();
        let found = app
            .state
            .run(move |c| {
                let Some((user, token_id)) = accounts::user_of_token(c, &t)? else { return Ok(None) };
                let sites = match &user.client_id {
                    Some(client) => accounts::sites_of_client(c, client)?,
                    None => Vec::new(),
                };
                Ok(Some((user, token_id, sites)))
            })
            .await?;
        let Some((user, token_id, sites)) = found else {
            return Err(ApiError::Unauthorized("the bearer token is not valid (revoked, or never issued)".into()));
        };
        let scope = match (user.role.as_str(), user.client_id) {
            ("admin", _) => Scope::All,
            (_, client) => Scope::Client { client_id: client.unwrap_or_default(), sites },
        };
        Ok(Caller { name: user.username, user_id: Some(user.id), token_id: Some(token_id), scope })
    }
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/auth/login", post(login))
        .route("/api/v1/auth/logout", post(logout))
        .route("/api/v1/auth/me", get(me))
        .route("/api/v1/auth/tokens", get(tokens).post(new_token))
        .route("/api/v1/auth/tokens/{id}", delete(revoke))
        .route("/api/v1/clients", get(clients).post(create_client))
        .route("/api/v1/users", get(users).post(create_user))
        .route("/api/v1/users/{id}", delete(disable_user))
        .route("/api/v1/audit", get(audit_log))
}

fn new_secret() -> String {
    use rand::Rng;
    let s: String =
        rand::thread_rng().sample_iter(&rand::distributions::Alphanumeric).take(40).map(char::from).collect();
    format!("cw_{s}")
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Login {
    username: String,
    password: String,
}

/// Signs in with a password; answers a new API token (a session), shown once.
async fn login(State(app): State<AppState>, ApiJson(b): ApiJson<Login>) -> Result<Json<Value>, ApiError> {
    let username = b.username.clone();
    let found = app.state.run(move |c| accounts::find_login(c, &username)).await?;
    let password = b.password;
    let user = match found {
        Some((user, hash)) if !user.disabled => {
            let ok =
                tokio::task::spawn_blocking(move || accounts::verify_password(&hash, &password)).await.unwrap_or(false);
            ok.then_some(user)
        }
        _ => None,
    };
    let Some(user) = user else {
        return Err(ApiError::Unauthorized("wrong user name or password".into()));
    };
    let token = new_secret();
    let (t, uid) = (token.clone(), user.id);
    let id = app.state.run(move |c| accounts::create_token(c, uid, &t, "sign-in")).await?;
    Ok(Json(json!({"token": token, "token_id": id, "user": user})))
}

async fn logout(State(app): State<AppState>, caller: Caller) -> Result<StatusCode, ApiError> {
    let Some(id) = caller.token_id else {
        return Err(ApiError::BadRequest("the admin token cannot be signed out; change --admin-token".into()));
    };
    app.state.run(move |c| accounts::revoke_token(c, id, None)).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn me(caller: Caller) -> Json<Value> {
    let role = if caller.is_admin() { "admin" } else { "operator" };
    Json(json!({"name": caller.name, "role": role, "client_id": caller.client_id(), "sites": caller.site_scope()}))
}

async fn tokens(State(app): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    let user = if caller.is_admin() { None } else { caller.user_id };
    Ok(Json(json!(app.state.run(move |c| accounts::list_tokens(c, user)).await?)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    name: String,
}

/// A named API token for the caller's own account (for scripts).
async fn new_token(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(b): ApiJson<TokenRequest>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let Some(uid) = caller.user_id else {
        return Err(ApiError::BadRequest("the admin token is not an account; create a user for API tokens".into()));
    };
    let token = new_secret();
    let t = token.clone();
    let id = app.state.run(move |c| accounts::create_token(c, uid, &t, &b.name)).await?;
    Ok((StatusCode::CREATED, Json(json!({"token": token, "token_id": id}))))
}

async fn revoke(State(app): State<AppState>, caller: Caller, Path(id): Path<i64>) -> Result<StatusCode, ApiError> {
    let owner = if caller.is_admin() { None } else { Some(caller.user_id.unwrap_or(-1)) };
    app.state.run(move |c| accounts::revoke_token(c, id, owner)).await?;
    caller.audit(&app, "token.revoke", &id.to_string(), json!({})).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn clients(State(app): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    caller.require_admin()?;
    Ok(Json(json!(app.state.run(|c| accounts::list_clients(c)).await?)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewClient {
    id: String,
    name: String,
}

async fn create_client(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(b): ApiJson<NewClient>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require_admin()?;
    super::sites::valid_id("client id", &b.id)?;
    let client = app.state.run(move |c| accounts::create_client(c, &b.id, &b.name)).await?;
    caller.audit(&app, "client.create", &client.id, json!({"name": client.name})).await?;
    Ok((StatusCode::CREATED, Json(json!(client))))
}

async fn users(State(app): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    caller.require_admin()?;
    Ok(Json(json!(app.state.run(|c| accounts::list_users(c)).await?)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    username: String,
    password: String,
    role: String,
    client_id: Option<String>,
}

async fn create_user(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(b): ApiJson<NewUser>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require_admin()?;
    if b.username.trim().is_empty() || b.username.len() > 64 {
        return Err(ApiError::BadRequest("username must be 1 to 64 characters".into()));
    }
    if b.password.len() < 12 {
        return Err(ApiError::BadRequest("password must be at least 12 characters".into()));
    }
    match (b.role.as_str(), &b.client_id) {
        ("admin", None) | ("operator", Some(_)) => {}
        ("operator", None) => return Err(ApiError::BadRequest("an operator needs a client_id".into())),
        ("admin", Some(_)) => return Err(ApiError::BadRequest("an admin belongs to no client".into())),
        _ => return Err(ApiError::BadRequest("role must be `admin` or `operator`".into())),
    }
    let password = b.password;
    let hash = tokio::task::spawn_blocking(move || accounts::hash_password(&password))
        .await
        .map_err(|_| ApiError::Internal)??;
    let (username, role, client) = (b.username.trim().to_string(), b.role, b.client_id);
    let user = app
        .state
        .run(move |c| {
            if let Some(client) = &client {
                if !accounts::client_exists(c, client)? {
                    return Err(crate::state::StateError::NotFound(format!("client `{client}`")));
                }
            }
            accounts::create_user(c, &username, &hash, &role, client.as_deref())
        })
        .await?;
    caller.audit(&app, "user.create", &user.username, json!({"role": user.role, "client_id": user.client_id})).await?;
    Ok((StatusCode::CREATED, Json(json!(user))))
}

async fn disable_user(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    caller.require_admin()?;
    let user = app.state.run(move |c| accounts::disable_user(c, id)).await?;
    caller.audit(&app, "user.disable", &user.username, json!({})).await?;
    Ok(Json(json!(user)))
}

async fn audit_log(State(app): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    let client = caller.client_id().map(str::to_string);
    Ok(Json(json!(app.state.run(move |c| accounts::list_audit(c, client.as_deref(), 500)).await?)))
}
