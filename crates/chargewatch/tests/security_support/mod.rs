//! Helpers of the security tests: certificates made with rcgen, WebSocket clients that
//! present HTTP Basic credentials, connect from a chosen loopback address, or speak TLS
//! with an optional client certificate.
#![allow(dead_code)]

use crate::common::*;
use base64::Engine;
use chargewatch::server::Running;
use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Error as WsError;
use tokio_tungstenite::WebSocketStream;

/// A certificate authority that signs server and client certificates.
pub struct Ca {
    pub cert: rcgen::Certificate,
    pub key: KeyPair,
}

/// A certificate and its key, as DER.
pub struct Identity {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: Vec<u8>,
    pub cert_pem: String,
    pub key_pem: String,
}

impl Identity {
    pub fn fingerprint(&self) -> String {
        use sha2::Digest;
        sha2::Sha256::digest(&self.chain[0]).iter().map(|b| format!("{b:02x}")).collect()
    }

    fn key_der(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key.clone()))
    }
}

impl Ca {
    pub fn new(name: &str) -> Ca {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let cert = params.self_signed(&key).unwrap();
        Ca { cert, key }
    }

    pub fn pem(&self) -> String {
        self.cert.pem()
    }

    pub fn server(&self) -> Identity {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
        params.distinguished_name.push(DnType::CommonName, "localhost");
        let cert = params.signed_by(&key, &self.cert, &self.key).unwrap();
        identity(cert, key)
    }

    /// A client certificate with subject CN = `cn`.
    pub fn client(&self, cn: &str) -> Identity {
        let key = KeyPair::generate().unwrap();
        let cert = client_params(cn).signed_by(&key, &self.cert, &self.key).unwrap();
        identity(cert, key)
    }
}

fn client_params(cn: &str) -> CertificateParams {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, cn);
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    params
}

/// A self-signed client certificate (for fingerprint pinning).
pub fn self_signed_client(cn: &str) -> Identity {
    let key = KeyPair::generate().unwrap();
    let cert = client_params(cn).self_signed(&key).unwrap();
    identity(cert, key)
}

fn identity(cert: rcgen::Certificate, key: KeyPair) -> Identity {
    Identity {
        chain: vec![cert.der().clone()],
        key: key.serialize_der(),
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    }
}

/// Files for --ocpp-tls-cert, --ocpp-tls-key, --ocpp-tls-client-ca.
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub client_ca: PathBuf,
}

pub fn write_tls_files(dir: &Path, server: &Identity, client_ca: &Ca) -> TlsFiles {
    std::fs::create_dir_all(dir).unwrap();
    let files =
        TlsFiles { cert: dir.join("server.pem"), key: dir.join("server.key"), client_ca: dir.join("client-ca.pem") };
    std::fs::write(&files.cert, &server.cert_pem).unwrap();
    std::fs::write(&files.key, &server.key_pem).unwrap();
    std::fs::write(&files.client_ca, client_ca.pem()).unwrap();
    files
}

fn request(url: &str, basic: Option<(&str, &str)>) -> tokio_tungstenite::tungstenite::handshake::client::Request {
    let mut req = url.into_client_request().unwrap();
    req.headers_mut().insert("Sec-WebSocket-Protocol", "ocpp1.6".parse().unwrap());
    if let Some((user, password)) = basic {
        let b64 = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        req.headers_mut().insert("Authorization", format!("Basic {b64}").parse().unwrap());
    }
    req
}

/// Connects over plain ws from `from` (a loopback address such as 127.0.0.2) with optional
/// Basic credentials.
pub async fn connect_from(
    s: &Running,
    from: &str,
    id: &str,
    basic: Option<(&str, &str)>,
) -> Result<WebSocketStream<TcpStream>, WsError> {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(format!("{from}:0").parse().unwrap()).unwrap();
    let tcp = socket.connect(s.ocpp_addr).await.map_err(WsError::Io)?;
    let url = format!("ws://{}/ocpp/{id}", s.ocpp_addr);
    tokio_tungstenite::client_async(request(&url, basic), tcp).await.map(|(ws, _)| ws)
}

/// Connects over plain ws from 127.0.0.1 with optional Basic credentials.
pub async fn connect_basic(
    s: &Running,
    id: &str,
    basic: Option<(&str, &str)>,
) -> Result<WebSocketStream<TcpStream>, WsError> {
    connect_from(s, "127.0.0.1", id, basic).await
}

pub type TlsWs = WebSocketStream<tokio_rustls::client::TlsStream<TcpStream>>;

/// Connects over wss to `addr`, trusting `server_ca`, with an optional client certificate
/// and optional Basic credentials. A TLS failure is an `Err` too.
pub async fn connect_tls(
    addr: SocketAddr,
    server_ca: &Ca,
    client: Option<&Identity>,
    id: &str,
    basic: Option<(&str, &str)>,
) -> Result<TlsWs, WsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.add(server_ca.cert.der().clone()).unwrap();
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let config = match client {
        Some(c) => builder.with_client_auth_cert(c.chain.clone(), c.key_der()).unwrap(),
        None => builder.with_no_client_auth(),
    };
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = TcpStream::connect(addr).await.map_err(WsError::Io)?;
    let tls = connector.connect(ServerName::try_from("localhost").unwrap(), tcp).await.map_err(WsError::Io)?;
    let url = format!("wss://localhost:{}/ocpp/{id}", addr.port());
    tokio_tungstenite::client_async(request(&url, basic), tls).await.map(|(ws, _)| ws)
}

/// The HTTP status of a refused handshake, or panics.
pub fn status_of<T: std::fmt::Debug>(r: Result<T, WsError>) -> u16 {
    match r {
        Err(WsError::Http(resp)) => resp.status().as_u16(),
        other => panic!("expected an HTTP refusal, got {other:?}"),
    }
}

/// Sends an OCPP CALL on any WebSocket and returns the answer frame.
pub async fn call<S>(
    ws: &mut WebSocketStream<S>,
    uid: &str,
    action: &str,
    payload: serde_json::Value,
) -> serde_json::Value
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let frame = serde_json::json!([2, uid, action, payload]).to_string();
    ws.send(Message::Text(frame.into())).await.unwrap();
    loop {
        let msg = tokio::time::timeout(std::time::Duration::from_secs(5), ws.next()).await.expect("answer in time");
        if let Message::Text(t) = msg.expect("open").expect("ws ok") {
            return serde_json::from_str(t.as_str()).unwrap();
        }
    }
}

/// A Heartbeat that must be answered with a CALLRESULT.
pub async fn heartbeat<S>(ws: &mut WebSocketStream<S>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let answer = call(ws, "hb", "Heartbeat", serde_json::json!({})).await;
    assert_eq!(answer[0], 3, "Heartbeat answered: {answer}");
}

/// Registers `station` on a fresh site and sets its security settings.
pub async fn secure(api: &Api, station: &str, settings: serde_json::Value) {
    let (s, v) = api.put(&format!("/api/v1/stations/{station}/security"), settings).await;
    assert_eq!(s, 200, "{v}");
}
