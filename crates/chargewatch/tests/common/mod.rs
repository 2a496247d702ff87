//! Test harness: a real server on 127.0.0.1 ephemeral ports, a real WebSocket station
//! client, and a real HTTP client.
#![allow(dead_code)]

use chargewatch::config::ServeArgs;
use chargewatch::server::{self, Running};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub const TOKEN: &str = "test-admin-token";

pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("chargewatch-test-{name}-{}-{}", std::process::id(), rand_suffix()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn rand_suffix() -> u64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64 % 1_000_000_007
}

pub async fn start(name: &str) -> Running {
    start_with(name, |_| {}).await
}

pub async fn start_with(name: &str, tweak: impl FnOnce(&mut ServeArgs)) -> Running {
    let mut args = ServeArgs::for_test(temp_dir(name), TOKEN);
    tweak(&mut args);
    server::start(args).await.expect("server starts")
}

pub struct Api {
    pub base: String,
    pub http: reqwest::Client,
}

impl Api {
    pub fn new(s: &Running) -> Api {
        Api { base: s.http_url(), http: reqwest::Client::new() }
    }

    pub async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.base)).bearer_auth(TOKEN);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("http");
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    pub async fn get(&self, path: &str) -> Value {
        let (s, v) = self.send(reqwest::Method::GET, path, None).await;
        assert_eq!(s, 200, "GET {path}: {v}");
        v
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(reqwest::Method::PUT, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(reqwest::Method::PATCH, path, Some(body)).await
    }

    /// Creates a site and registers stations to it.
    pub async fn site_with(&self, site: &str, level: &str, stations: &[&str]) {
        let (s, v) =
            self.post("/api/v1/sites", json!({"id": site, "name": format!("Site {site}"), "log_level": level})).await;
        assert_eq!(s, 201, "{v}");
        for st in stations {
            let (s, v) = self.put(&format!("/api/v1/stations/{st}"), json!({"site_id": site})).await;
            assert_eq!(s, 200, "{v}");
        }
    }

    /// Polls the logs API until `pred` holds for the items (newest first), up to 5 s.
    pub async fn logs_until(&self, query: &str, pred: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let mut last = Vec::new();
        for _ in 0..100 {
            let v = self.get(&format!("/api/v1/logs?{query}")).await;
            last = v["items"].as_array().cloned().unwrap_or_default();
            if pred(&last) {
                return last;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("logs never matched for `{query}`; last: {}", serde_json::to_string_pretty(&last).unwrap());
    }
}

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A test charging station speaking raw OCPP-J frames.
pub struct Station {
    pub ws: Ws,
    pub next_id: u64,
}

pub async fn connect(s: &Running, id: &str) -> Station {
    Station { ws: connect_raw(s, id, Some("ocpp1.6")).await.expect("ws connects"), next_id: 1 }
}

pub async fn connect_raw(
    s: &Running,
    id: &str,
    protocol: Option<&str>,
) -> Result<Ws, tokio_tungstenite::tungstenite::Error> {
    let mut req = format!("{}/{id}", s.ocpp_url()).into_client_request().unwrap();
    if let Some(p) = protocol {
        req.headers_mut().insert("Sec-WebSocket-Protocol", p.parse().unwrap());
    }
    tokio_tungstenite::connect_async(req).await.map(|(ws, _)| ws)
}

impl Station {
    pub async fn send_text(&mut self, text: &str) {
        self.ws.send(Message::Text(text.into())).await.unwrap();
    }

    /// Next text frame, as JSON, within 5 s.
    pub async fn recv(&mut self) -> Value {
        loop {
            let msg = tokio::time::timeout(Duration::from_secs(5), self.ws.next()).await.expect("frame in time");
            match msg.expect("stream open").expect("ws ok") {
                Message::Text(t) => return serde_json::from_str(t.as_str()).unwrap(),
                Message::Close(f) => panic!("closed: {f:?}"),
                _ => {}
            }
        }
    }

    /// Sends a CALL and returns the answer frame.
    pub async fn call(&mut self, action: &str, payload: Value) -> Value {
        let id = self.next_id.to_string();
        self.next_id += 1;
        self.send_text(&json!([2, id, action, payload]).to_string()).await;
        let answer = self.recv().await;
        assert_eq!(answer[1], json!(id), "answer to {action}: {answer}");
        answer
    }

    /// Sends a CALL expecting a CALLRESULT; returns its payload.
    pub async fn ok(&mut self, action: &str, payload: Value) -> Value {
        let a = self.call(action, payload).await;
        assert_eq!(a[0], json!(3), "{action} answered with {a}");
        a[2].clone()
    }

    pub async fn boot(&mut self) -> Value {
        self.ok(
            "BootNotification",
            json!({"chargePointVendor": "TestVendor", "chargePointModel": "T1", "firmwareVersion": "1.0"}),
        )
        .await
    }
}

pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
