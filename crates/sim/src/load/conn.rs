//! The connection side of the load modes: resolving the target once, connecting from one of
//! many loopback source addresses, and a cheap one-CALL-at-a-time client.

use crate::station::{Station, StationParams};
use chargewatch_ocpp::Frame;
use chrono::Utc;
use futures_util::{SinkExt, StreamExt};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderValue, Uri};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use tokio_tungstenite::WebSocketStream;

pub(crate) type LoadWs = WebSocketStream<TcpStream>;

/// Where the load goes: the base URL and its resolved socket address.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    base: String,
    addr: SocketAddr,
    /// Number of loopback source addresses to cycle through (0: let the kernel choose).
    source_addrs: u8,
}

impl Target {
    /// Resolves `url` (`ws://host:port/path`; `wss` is not supported by the load modes).
    pub(crate) async fn resolve(url: &str, source_addrs: u8) -> Result<Target, String> {
        let base = url.trim_end_matches('/').to_string();
        let uri: Uri = base.parse().map_err(|e| format!("bad url {url}: {e}"))?;
        if uri.scheme_str() != Some("ws") {
            return Err(format!("load modes need a ws:// url, got {url}"));
        }
        let host = uri.host().ok_or_else(|| format!("no host in {url}"))?.trim_matches(['[', ']']);
        let port = uri.port_u16().unwrap_or(80);
        let addr = tokio::net::lookup_host((host, port))
            .await
            .map_err(|e| format!("resolving {host}: {e}"))?
            .next()
            .ok_or_else(|| format!("{host} resolves to nothing"))?;
        // Extra source addresses only make sense towards an IPv4 loopback target.
        let source_addrs = match addr.ip() {
            IpAddr::V4(ip) if ip.is_loopback() => source_addrs.min(250),
            _ => 0,
        };
        Ok(Target { base, addr, source_addrs })
    }

    /// The source address of connection `i`: 127.0.0.1 .. 127.0.0.N in turn.
    fn source(&self, i: usize) -> Option<SocketAddr> {
        (self.source_addrs > 0).then(|| {
            let x = (i % self.source_addrs as usize) as u8 + 1;
            SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, x)), 0)
        })
    }

    /// [`Target::connect`] holding a permit of `gate` (the handshakes-in-flight cap), as a
    /// [`Conn`] for station `id`.
    pub(crate) async fn open(
        &self,
        gate: &tokio::sync::Semaphore,
        i: usize,
        id: &str,
        timeout: Duration,
    ) -> Result<Conn, String> {
        let _permit = gate.acquire().await;
        let ws = self.connect(i, id, timeout).await?;
        Ok(Conn::new(ws, id.to_string()))
    }

    /// TCP connect (bound to this connection's source address) and WebSocket handshake
    /// offering `ocpp1.6`. Errors are short, countable descriptions.
    pub(crate) async fn connect(&self, i: usize, id: &str, timeout: Duration) -> Result<LoadWs, String> {
        let fut = async {
            let sock = if self.addr.is_ipv4() { TcpSocket::new_v4() } else { TcpSocket::new_v6() }
                .map_err(|e| format!("socket: {}", io_kind(&e)))?;
            if let Some(src) = self.source(i) {
                sock.bind(src).map_err(|e| format!("bind: {}", io_kind(&e)))?;
            }
            let stream = sock.connect(self.addr).await.map_err(|e| format!("tcp connect: {}", io_kind(&e)))?;
            let _ = stream.set_nodelay(true);
            let mut req = format!("{}/{}", self.base, id).into_client_request().map_err(|e| format!("request: {e}"))?;
            req.headers_mut().insert("Sec-WebSocket-Protocol", HeaderValue::from_static("ocpp1.6"));
            // tungstenite zero-fills its whole read buffer (128 KiB by default) per
            // connection; OCPP frames are small, so 4 KiB keeps 100k stations affordable.
            let config = WebSocketConfig::default().read_buffer_size(4096).write_buffer_size(0);
            let (ws, _resp) = tokio_tungstenite::client_async_with_config(req, stream, Some(config))
                .await
                .map_err(|e| handshake_error(&e))?;
            Ok(ws)
        };
        tokio::time::timeout(timeout, fut).await.map_err(|_| "connect timed out".to_string())?
    }
}

fn io_kind(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(code) => format!("{} (os error {code})", e.kind()),
        None => e.kind().to_string(),
    }
}

fn handshake_error(e: &tokio_tungstenite::tungstenite::Error) -> String {
    use tokio_tungstenite::tungstenite::Error;
    match e {
        Error::Http(resp) => format!("handshake: HTTP {}", resp.status()),
        Error::Io(io) => format!("handshake: {}", io_kind(io)),
        other => {
            let mut s = format!("handshake: {other}");
            s.truncate(80);
            s
        }
    }
}

/// The answer to one CALL.
pub(crate) enum Answer {
    /// CALLRESULT; the whole frame text.
    Result(Utf8Bytes),
    /// CALLERROR with its error code.
    Error(String),
    Timeout,
    /// The connection ended (reason).
    Closed(String),
}

/// One station's connection: one outstanding CALL at a time; central-system CALLs that
/// arrive meanwhile are answered by a lazily created simulated [`Station`].
pub(crate) struct Conn {
    pub ws: LoadWs,
    id: String,
    counter: u64,
    uid: String,
    buf: String,
    station: Option<Box<Station>>,
}

impl Conn {
    pub(crate) fn new(ws: LoadWs, id: String) -> Conn {
        Conn { ws, id, counter: 0, uid: String::with_capacity(16), buf: String::with_capacity(512), station: None }
    }

    /// Sends `[2,"L<n>","<action>",<payload_json>]` and waits for its answer.
    pub(crate) async fn call(&mut self, action: &str, payload_json: &str, timeout: Duration) -> Answer {
        use std::fmt::Write;
        self.counter += 1;
        self.uid.clear();
        let _ = write!(self.uid, "L{}", self.counter);
        self.buf.clear();
        let _ = write!(self.buf, "[2,\"{}\",\"{}\",{}]", self.uid, action, payload_json);
        if let Err(e) = self.ws.send(Message::text(self.buf.as_str())).await {
            return Answer::Closed(format!("send: {}", short(&e)));
        }
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let msg = match tokio::time::timeout_at(deadline, self.ws.next()).await {
                Err(_) => return Answer::Timeout,
                Ok(Some(Ok(m))) => m,
                Ok(Some(Err(e))) => return Answer::Closed(format!("receive: {}", short(&e))),
                Ok(None) => return Answer::Closed("connection closed by server".into()),
            };
            let text = match msg {
                Message::Text(t) => t,
                Message::Close(c) => {
                    return Answer::Closed(match c {
                        Some(c) => format!("closed by server ({})", u16::from(c.code)),
                        None => "closed by server".into(),
                    })
                }
                _ => continue,
            };
            match scan_head(&text) {
                Some((3, uid)) if uid == self.uid => return Answer::Result(text),
                Some((4, uid)) if uid == self.uid => {
                    let code = match Frame::decode(&text) {
                        Ok(Frame::CallError { error_code, .. }) => error_code,
                        _ => "?".into(),
                    };
                    return Answer::Error(code);
                }
                Some((2, _)) => {
                    if let Err(e) = self.answer_server_call(&text).await {
                        return Answer::Closed(e);
                    }
                }
                // An answer to something else, or garbage: ignore it as a real charger would.
                _ => {}
            }
        }
    }

    /// Waits for a frame until `deadline`, answering central-system CALLs. `Ok(())` when the
    /// deadline passed with the connection still open.
    pub(crate) async fn idle_until(&mut self, deadline: tokio::time::Instant) -> Result<(), String> {
        loop {
            let msg = match tokio::time::timeout_at(deadline, self.ws.next()).await {
                Err(_) => return Ok(()),
                Ok(Some(Ok(m))) => m,
                Ok(Some(Err(e))) => return Err(format!("receive: {}", short(&e))),
                Ok(None) => return Err("connection closed by server".into()),
            };
            match msg {
                Message::Text(t) if matches!(scan_head(&t), Some((2, _))) => self.answer_server_call(&t).await?,
                Message::Close(_) => return Err("closed by server".into()),
                _ => {}
            }
        }
    }

    async fn answer_server_call(&mut self, text: &str) -> Result<(), String> {
        let Ok(Frame::Call { unique_id, action, payload }) = Frame::decode(text) else { return Ok(()) };
        let id = &self.id;
        let station = self.station.get_or_insert_with(|| {
            Box::new(Station::new(
                StationParams { autonomous: false, ..StationParams::new(id.clone(), 1) },
                0,
                Utc::now(),
            ))
        });
        let answer = match station.handle_call(&action, &payload, Utc::now()) {
            Ok(p) => Frame::CallResult { unique_id, payload: p },
            Err(e) => Frame::call_error(unique_id, e.code, e.description),
        };
        station.take_effects();
        station.outbox.clear();
        self.ws.send(Message::text(answer.encode())).await.map_err(|e| format!("send: {}", short(&e)))
    }

    pub(crate) async fn close(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(2), self.ws.close(None)).await;
    }
}

fn short(e: &tokio_tungstenite::tungstenite::Error) -> String {
    use tokio_tungstenite::tungstenite::Error;
    match e {
        Error::Io(io) => io_kind(io),
        other => {
            let mut s = other.to_string();
            s.truncate(60);
            s
        }
    }
}

/// Reads the message type and unique id at the head of an OCPP-J frame without parsing the
/// payload: `[3, "L12", …` → `(3, "L12")`. `None` for anything else (then the frame is not
/// an answer this client is waiting for; unique ids with escapes never match ours).
pub(crate) fn scan_head(t: &str) -> Option<(u8, &str)> {
    let s = t.trim_start().strip_prefix('[')?.trim_start();
    let mut chars = s.char_indices();
    let (_, d) = chars.next()?;
    let kind = d.to_digit(10)? as u8;
    let s = s[1..].trim_start().strip_prefix(',')?.trim_start().strip_prefix('"')?;
    let end = s.find(['"', '\\'])?;
    (s.as_bytes()[end] == b'"').then(|| (kind, &s[..end]))
}

/// A BootNotification payload for load station `id`.
pub(crate) fn boot_payload(id: &str) -> String {
    let serial: String = id.chars().take(25).collect();
    let cb: String = format!("CB-{id}").chars().take(25).collect();
    serde_json::json!({
        "chargePointVendor": "Chargewatch",
        "chargePointModel": "LoadCharger-1C",
        "chargePointSerialNumber": serial,
        "chargeBoxSerialNumber": cb,
        "firmwareVersion": "load-1.0",
        "meterType": "SimMeter AC3",
    })
    .to_string()
}

/// The BootNotification.conf verdict: `Ok(interval seconds)` when Accepted, else the status.
pub(crate) fn boot_verdict(text: &str) -> Result<u64, String> {
    match Frame::decode(text) {
        Ok(Frame::CallResult { payload, .. }) => {
            let status = payload.get("status").and_then(|s| s.as_str()).unwrap_or("?");
            if status == "Accepted" {
                Ok(payload.get("interval").and_then(|i| i.as_u64()).unwrap_or(300))
            } else {
                Err(format!("boot {status}"))
            }
        }
        _ => Err("boot answer unreadable".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scans_frame_heads() {
        assert_eq!(scan_head(r#"[3,"L12",{}]"#), Some((3, "L12")));
        assert_eq!(scan_head(r#" [ 4 , "L1", "NotImplemented", "", {}]"#), Some((4, "L1")));
        assert_eq!(scan_head(r#"[2,"abc","Reset",{"type":"Soft"}]"#), Some((2, "abc")));
        assert_eq!(scan_head(r#"[3,"a\"b",{}]"#), None);
        assert_eq!(scan_head("garbage"), None);
        assert_eq!(scan_head("[x"), None);
        assert_eq!(scan_head("[3,12,{}]"), None);
    }

    #[test]
    fn boot_verdicts() {
        assert_eq!(boot_verdict(r#"[3,"L1",{"status":"Accepted","interval":60,"currentTime":"x"}]"#), Ok(60));
        assert_eq!(
            boot_verdict(r#"[3,"L1",{"status":"Rejected","interval":60,"currentTime":"x"}]"#),
            Err("boot Rejected".into())
        );
    }
}
