//! Charger authentication (OCPP 1.6 security whitepaper profiles 1–3) and abuse limits of
//! the OCPP endpoint.
//!
//! - [`auth`]: decides, before the WebSocket upgrade, whether a station may connect with
//!   what it presented (HTTP Basic password, TLS client certificate) under its security
//!   profile; counts failed attempts per station and per source address.
//! - [`tls`]: the rustls server configuration (ring provider) and what a client
//!   certificate says (fingerprint, subject CN, whether it chains to the client CA).
//! - [`listener`]: the OCPP accept loop: optional TLS, a deadline on the whole handshake
//!   (TCP accept → TLS → HTTP upgrade), a cap on handshakes in progress.
//! - [`limits`]: token bucket, failure counters, per-address connection counts.
//!
//! **The gateway never sees a password**: it asks [`auth::ChargerAuth`], which reads the
//! station's settings from the state store and verifies off the async workers.

pub mod auth;
pub mod der;
pub mod limits;
pub mod listener;
pub mod tls;

pub use auth::{ChargerAuth, Refusal};
pub use tls::TlsPeer;

use crate::gateway::GatewayConfig;
use clap::Args;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Flags of charger security and abuse limits.
#[derive(Args, Debug, Clone)]
pub struct SecurityArgs {
    /// Address of the TLS OCPP endpoint (wss://ADDR/ocpp/{chargeBoxId}), needed by security
    /// profiles 2 and 3. Off unless given; requires --ocpp-tls-cert and --ocpp-tls-key.
    #[arg(long, env = "CHARGEWATCH_OCPP_TLS_LISTEN", requires_all = ["ocpp_tls_cert", "ocpp_tls_key"])]
    pub ocpp_tls_listen: Option<SocketAddr>,

    /// PEM file with the server certificate chain of the TLS OCPP endpoint.
    #[arg(long, env = "CHARGEWATCH_OCPP_TLS_CERT")]
    pub ocpp_tls_cert: Option<PathBuf>,

    /// PEM file with the private key of --ocpp-tls-cert (PKCS#8, PKCS#1 or SEC1).
    #[arg(long, env = "CHARGEWATCH_OCPP_TLS_KEY")]
    pub ocpp_tls_key: Option<PathBuf>,

    /// PEM file with the CA certificate(s) that sign charger client certificates
    /// (security profile 3: the certificate's subject CN must be the chargeBoxId, unless the
    /// station has a pinned certificate fingerprint). Client certificates are optional at
    /// the TLS level and required only of profile-3 stations.
    #[arg(long, env = "CHARGEWATCH_OCPP_TLS_CLIENT_CA")]
    pub ocpp_tls_client_ca: Option<PathBuf>,

    /// Lowest security profile a station may connect with (0 to 3). Stations without
    /// security settings have profile 0, so 1 or more refuses every station that was not
    /// given credentials with PUT /api/v1/stations/{id}/security.
    #[arg(long, env = "CHARGEWATCH_OCPP_MIN_SECURITY_PROFILE", default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=3))]
    pub ocpp_min_security_profile: u8,

    /// Failed authentication attempts of one chargeBoxId within --ocpp-auth-failure-window
    /// after which it is refused (HTTP 429) for --ocpp-auth-block seconds. 0 = no limit.
    #[arg(long, env = "CHARGEWATCH_OCPP_AUTH_FAILURES_PER_STATION", default_value_t = 5)]
    pub ocpp_auth_failures_per_station: u32,

    /// Failed authentication attempts from one source IP address within
    /// --ocpp-auth-failure-window after which it is refused (HTTP 429) for --ocpp-auth-block
    /// seconds. Higher than the per-station limit: a site's chargers often share one address.
    /// 0 = no limit.
    #[arg(long, env = "CHARGEWATCH_OCPP_AUTH_FAILURES_PER_ADDRESS", default_value_t = 20)]
    pub ocpp_auth_failures_per_address: u32,

    /// Window in which failed authentication attempts are counted, seconds.
    #[arg(long, env = "CHARGEWATCH_OCPP_AUTH_FAILURE_WINDOW", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86400))]
    pub ocpp_auth_failure_window: u64,

    /// How long a station id or address that hit its failure limit is refused, seconds.
    #[arg(long, env = "CHARGEWATCH_OCPP_AUTH_BLOCK", default_value_t = 120, value_parser = clap::value_parser!(u64).range(1..=86400))]
    pub ocpp_auth_block: u64,

    /// Most OCPP connections from one source IP address at once; more are refused with
    /// HTTP 429. Behind a reverse proxy every charger has the proxy's address: raise it.
    #[arg(long, env = "CHARGEWATCH_OCPP_MAX_CONNECTIONS_PER_ADDRESS", default_value_t = 100)]
    pub ocpp_max_connections_per_address: usize,

    /// Frames a charger may send per second, sustained (token bucket; 0 = no limit).
    /// A CALL over the limit is answered with CALLERROR GenericError "rate limit exceeded"
    /// and not handled; answers to the central system's own calls are never limited.
    #[arg(long, env = "CHARGEWATCH_OCPP_FRAMES_PER_SECOND", default_value_t = 20)]
    pub ocpp_frames_per_second: u32,

    /// Frames a charger may send in a burst above --ocpp-frames-per-second (bucket size).
    #[arg(long, env = "CHARGEWATCH_OCPP_FRAME_BURST", default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..))]
    pub ocpp_frame_burst: u32,

    /// Frames over the rate limit within 10 seconds after which the connection is closed
    /// with 1008 (policy violation).
    #[arg(long, env = "CHARGEWATCH_OCPP_FLOOD_CLOSE_AFTER", default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..))]
    pub ocpp_flood_close_after: u32,

    /// Time a new TCP connection has to complete the TLS and WebSocket handshakes, seconds;
    /// one that has not upgraded by then is dropped.
    #[arg(long, env = "CHARGEWATCH_OCPP_HANDSHAKE_TIMEOUT", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub ocpp_handshake_timeout: u64,

    /// Most TCP connections still in their handshake at once (per listener); more are
    /// closed as soon as they are accepted.
    #[arg(long, env = "CHARGEWATCH_OCPP_MAX_HANDSHAKES", default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..))]
    pub ocpp_max_handshakes: u64,
}

/// Everything built from [`SecurityArgs`]: the authenticator, the TLS acceptor, the
/// listener settings.
pub struct Security {
    pub auth: Arc<ChargerAuth>,
    pub tls: Option<tls::ServerTls>,
    pub listener: listener::ListenerConfig,
    args: SecurityArgs,
}

impl Security {
    /// Validates the flags and loads the TLS files.
    pub fn from_args(args: &SecurityArgs, credentials: auth::CredentialSource) -> anyhow::Result<Security> {
        let tls = match (&args.ocpp_tls_listen, &args.ocpp_tls_cert, &args.ocpp_tls_key) {
            (Some(_), Some(cert), Some(key)) => {
                Some(tls::ServerTls::load(cert, key, args.ocpp_tls_client_ca.as_deref())?)
            }
            (Some(_), _, _) => anyhow::bail!("--ocpp-tls-listen needs --ocpp-tls-cert and --ocpp-tls-key"),
            (None, ..) => {
                if args.ocpp_tls_cert.is_some() || args.ocpp_tls_client_ca.is_some() {
                    tracing::warn!("TLS files given without --ocpp-tls-listen: no TLS endpoint is started");
                }
                None
            }
        };
        let client_ca = tls.as_ref().and_then(|t| t.client_ca.clone());
        let failures = limits::FailureLimits {
            per_station: args.ocpp_auth_failures_per_station,
            per_address: args.ocpp_auth_failures_per_address,
            window: Duration::from_secs(args.ocpp_auth_failure_window),
            block: Duration::from_secs(args.ocpp_auth_block),
        };
        let auth = Arc::new(ChargerAuth::new(credentials, args.ocpp_min_security_profile, failures, client_ca));
        let listener = listener::ListenerConfig {
            handshake_timeout: Duration::from_secs(args.ocpp_handshake_timeout),
            max_handshakes: args.ocpp_max_handshakes as usize,
        };
        Ok(Security { auth, tls, listener, args: args.clone() })
    }

    /// Puts the authenticator and the per-connection limits into the gateway's config.
    pub fn configure(&self, gw: &mut GatewayConfig) {
        gw.auth = Some(self.auth.clone());
        gw.max_connections_per_address = self.args.ocpp_max_connections_per_address;
        gw.frames_per_second = self.args.ocpp_frames_per_second;
        gw.frame_burst = self.args.ocpp_frame_burst;
        gw.flood_close_after = self.args.ocpp_flood_close_after;
    }

    pub fn tls_listen(&self) -> Option<SocketAddr> {
        self.args.ocpp_tls_listen
    }
}
