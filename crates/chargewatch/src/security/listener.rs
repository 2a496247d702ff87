//! The OCPP accept loop (plain and TLS).
//!
//! `axum::serve` has no deadline on a connection that never finishes its HTTP request, so
//! the OCPP endpoint is served by this small loop instead: each accepted TCP connection
//! gets `--ocpp-handshake-timeout` for the TLS handshake plus the HTTP upgrade request
//! together. Once upgraded, the WebSocket lives on in its own task (the gateway's ping/pong
//! and limits apply from then on) and the deadline no longer matters; a connection that is
//! still in HTTP when the deadline passes — slow headers, a held-open keep-alive, a stalled
//! TLS handshake — is dropped. At most `--ocpp-max-handshakes` connections may be in their
//! handshake at once; more are closed on accept.
//!
//! Each request carries `ConnectInfo<SocketAddr>` (as with axum's own server) and, over
//! TLS, a [`TlsPeer`] extension with the client certificate.

use super::tls::{ServerTls, TlsPeer};
use axum::extract::ConnectInfo;
use axum::Router;
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

#[derive(Debug, Clone)]
pub struct ListenerConfig {
    pub handshake_timeout: Duration,
    pub max_handshakes: usize,
}

/// Counters of the accept loop.
#[derive(Debug, Default)]
pub struct ListenerCounters {
    pub accepted: AtomicU64,
    pub handshake_timeouts: AtomicU64,
    pub tls_failures: AtomicU64,
    pub over_handshake_limit: AtomicU64,
}

/// Serves `router` on `listener` until `shutdown`; with `tls`, as HTTPS/WSS.
pub fn spawn(
    listener: TcpListener,
    router: Router,
    tls: Option<ServerTls>,
    config: ListenerConfig,
    counters: Arc<ListenerCounters>,
    shutdown: CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let handshakes = Arc::new(Semaphore::new(config.max_handshakes.max(1)));
        loop {
            let (tcp, remote) = tokio::select! {
                _ = shutdown.cancelled() => return,
                accepted = listener.accept() => match accepted {
                    Ok(x) => x,
                    Err(e) => {
                        // Out of file descriptors and the like: back off instead of spinning.
                        tracing::warn!(error = %e, "OCPP accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            counters.accepted.fetch_add(1, Ordering::Relaxed);
            let Ok(permit) = handshakes.clone().try_acquire_owned() else {
                counters.over_handshake_limit.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(remote = %remote, "too many OCPP handshakes in progress: connection closed");
                drop(tcp);
                continue;
            };
            let _ = tcp.set_nodelay(true);
            let (router, tls, counters) = (router.clone(), tls.clone(), counters.clone());
            let deadline = config.handshake_timeout;
            tokio::spawn(async move {
                let work = async {
                    match tls {
                        None => serve_connection(tcp, remote, None, router).await,
                        Some(tls) => match tls.acceptor.accept(tcp).await {
                            Ok(stream) => {
                                let peer = tls.peer(stream.get_ref().1);
                                serve_connection(stream, remote, Some(peer), router).await
                            }
                            Err(e) => {
                                counters.tls_failures.fetch_add(1, Ordering::Relaxed);
                                tracing::info!(remote = %remote, error = %e, "OCPP TLS handshake failed");
                            }
                        },
                    }
                };
                if tokio::time::timeout(deadline, work).await.is_err() {
                    counters.handshake_timeouts.fetch_add(1, Ordering::Relaxed);
                    tracing::info!(remote = %remote, "OCPP handshake not completed in time: connection dropped");
                }
                drop(permit);
            });
        }
    })
}

/// HTTP/1.1 on one connection until it upgrades or closes.
async fn serve_connection<IO>(io: IO, remote: SocketAddr, tls: Option<TlsPeer>, router: Router)
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
        req.extensions_mut().insert(ConnectInfo(remote));
        if let Some(peer) = &tls {
            req.extensions_mut().insert(peer.clone());
        }
        router.clone().oneshot(req)
    });
    let conn = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(io), service).with_upgrades();
    if let Err(e) = conn.await {
        tracing::debug!(remote = %remote, error = %e, "OCPP HTTP connection ended with an error");
    }
}
