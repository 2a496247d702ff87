//! The operator web UI: pages and assets embedded in the binary (no CDN, works offline).
//!
//! A single-page application of hand-written JavaScript modules (no build step). `GET /` serves
//! the shell page; `GET /ui/{file}` serves the embedded assets. The pages talk to the HTTP API
//! with the token the operator signs in with — a session token from `POST /api/v1/auth/login`
//! (user name and password) or the admin token — kept in the browser's session or local
//! storage and sent as `Authorization: Bearer TOKEN`. After sign-in the UI asks
//! `GET /api/v1/auth/me` and shows operators only what their client may see.

use crate::api::AppState;
use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

/// One embedded file.
struct Asset {
    name: &'static str,
    mime: &'static str,
    body: &'static [u8],
}

macro_rules! asset {
    ($name:literal, $mime:expr) => {
        Asset { name: $name, mime: $mime, body: include_bytes!(concat!("assets/", $name)) }
    };
}

const JS: &str = "text/javascript; charset=utf-8";

static ASSETS: &[Asset] = &[
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("style.css", "text/css; charset=utf-8"),
    asset!("favicon.svg", "image/svg+xml"),
    asset!("app.js", JS),
    asset!("api.js", JS),
    asset!("dom.js", JS),
    asset!("ocpp.js", JS),
    asset!("signin.js", JS),
    asset!("logs.js", JS),
    asset!("livetail.js", JS),
    asset!("detail.js", JS),
    asset!("stations.js", JS),
    asset!("station.js", JS),
    asset!("admin.js", JS),
    asset!("console.js", JS),
    asset!("audit.js", JS),
    asset!("profile.js", JS),
];

/// The shell page may only load what the binary serves itself.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

pub fn routes() -> Router<AppState> {
    Router::new().route("/", get(index)).route("/ui/{*file}", get(file))
}

async fn index(headers: HeaderMap) -> Response {
    serve("index.html", &headers)
}

async fn file(Path(name): Path<String>, headers: HeaderMap) -> Response {
    serve(&name, &headers)
}

fn find(name: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.name == name)
}

/// FNV-1a: a cheap content hash for the ETag (assets change only with the binary).
fn etag(body: &[u8]) -> String {
    let h = body.iter().fold(0xcbf29ce484222325u64, |h, b| (h ^ *b as u64).wrapping_mul(0x100000001b3));
    format!("\"{h:016x}\"")
}

fn serve(name: &str, headers: &HeaderMap) -> Response {
    let Some(a) = find(name) else {
        let body = serde_json::json!({"error": "not_found", "detail": format!("no UI file `{name}`")});
        return (StatusCode::NOT_FOUND, axum::Json(body)).into_response();
    };
    let tag = etag(a.body);
    let fresh = headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()).is_some_and(|v| v == tag);
    let mut res = if fresh { StatusCode::NOT_MODIFIED.into_response() } else { a.body.into_response() };
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(a.mime));
    // Revalidate every time: a new binary must never run with yesterday's scripts.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(v) = HeaderValue::from_str(&tag) {
        h.insert(header::ETAG, v);
    }
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    if a.name == "index.html" {
        h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_module_the_pages_import_is_embedded() {
        for a in ASSETS.iter().filter(|a| a.name.ends_with(".js") || a.name.ends_with(".html")) {
            let text = std::str::from_utf8(a.body).expect("assets are UTF-8");
            for line in text.lines() {
                for quote in ['\'', '"'] {
                    let pat = format!("from {quote}./");
                    if let Some(i) = line.find(&pat) {
                        let rest = &line[i + pat.len()..];
                        let dep = &rest[..rest.find(quote).unwrap()];
                        assert!(find(dep).is_some(), "{} imports {dep}, which is not embedded", a.name);
                    }
                }
            }
        }
        let index = std::str::from_utf8(find("index.html").unwrap().body).unwrap();
        assert!(index.contains("/ui/app.js") && index.contains("/ui/style.css"));
        assert!(!index.contains("http://") && !index.contains("https://"), "no CDN");
    }

    #[test]
    fn serves_with_type_cache_headers_and_etag() {
        let res = serve("app.js", &HeaderMap::new());
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()[header::CONTENT_TYPE], JS);
        let tag = res.headers()[header::ETAG].clone();
        let mut h = HeaderMap::new();
        h.insert(header::IF_NONE_MATCH, tag);
        assert_eq!(serve("app.js", &h).status(), StatusCode::NOT_MODIFIED);
        assert_eq!(serve("../Cargo.toml", &HeaderMap::new()).status(), StatusCode::NOT_FOUND);
        assert!(serve("index.html", &HeaderMap::new()).headers().contains_key(header::CONTENT_SECURITY_POLICY));
    }
}
