//! The ceiling of the WebSocket stack on one core: a server that answers every OCPP CALL
//! at once with one fixed payload, without parsing JSON, validating or storing anything.
//! `bench/compare.sh` runs it beside the real servers so that a reader sees how much of a
//! round trip the kernel and the WebSocket library (tokio-tungstenite, the one under
//! axum's WebSocket) take by themselves. Not a central system: nothing is checked.
//!
//!     cargo run --release -p chargewatch-sim --example bare_answerer -- 127.0.0.1:19103

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::Message;

/// One answer for every action the load generator sends (BootNotification needs the
/// status, Heartbeat the time; the others ignore what they do not expect).
const ANSWER: &str = r#"{"status":"Accepted","currentTime":"2026-01-01T00:00:00.000Z","interval":300}"#;

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:19103".into());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    eprintln!("bare answerer on ws://{addr}/ocpp");
    loop {
        let (socket, _) = listener.accept().await?;
        socket.set_nodelay(true)?;
        tokio::spawn(serve(socket));
    }
}

async fn serve(socket: tokio::net::TcpStream) {
    let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(socket, subprotocol).await else { return };
    while let Some(Ok(msg)) = ws.next().await {
        let Message::Text(text) = msg else { continue };
        let Some(uid) = unique_id(text.as_str()) else { continue };
        let answer = format!(r#"[3,"{uid}",{ANSWER}]"#);
        if ws.send(Message::Text(answer.into())).await.is_err() {
            return;
        }
    }
}

/// Agrees to `ocpp1.6` (the handshake callback's signature is tungstenite's).
#[allow(clippy::result_large_err)]
fn subprotocol(_: &Request, mut resp: Response) -> Result<Response, ErrorResponse> {
    resp.headers_mut().insert("Sec-WebSocket-Protocol", "ocpp1.6".parse().expect("a valid header value"));
    Ok(resp)
}

/// The unique id of `[2,"<id>",...]`: the text between the first two quotes.
fn unique_id(frame: &str) -> Option<&str> {
    let start = frame.find('"')? + 1;
    let len = frame[start..].find('"')?;
    Some(&frame[start..start + len])
}
