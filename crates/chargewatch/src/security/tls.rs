//! The TLS side of security profiles 2 and 3: the rustls server configuration (ring
//! provider) and what a charger's client certificate says.
//!
//! Client certificates are requested of every TLS client but required of none at the TLS
//! level: rustls checks only that the client holds the certificate's key (the handshake
//! signature). Whether the certificate chains to `--ocpp-tls-client-ca` is decided after
//! the handshake and handed to the endpoint as [`TlsPeer`], so a wrong certificate is
//! refused with HTTP 401 and a `ConnectionRefused` event naming the station, like a wrong
//! password, instead of a bare TLS alert.

use anyhow::Context;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::WebPkiClientVerifier;
use rustls::{DigitallySignedStruct, DistinguishedName, RootCertStore, ServerConfig, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use sha2::{Digest, Sha256};
use std::path::Path;
use std::sync::Arc;

pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The loaded TLS configuration of the OCPP endpoint.
#[derive(Clone)]
pub struct ServerTls {
    pub acceptor: tokio_rustls::TlsAcceptor,
    /// Checks client certificate chains; `None` without `--ocpp-tls-client-ca`.
    pub client_ca: Option<Arc<dyn ClientCertVerifier>>,
}

impl ServerTls {
    pub fn load(cert: &Path, key: &Path, client_ca: Option<&Path>) -> anyhow::Result<ServerTls> {
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
            .with_context(|| format!("reading --ocpp-tls-cert {}", cert.display()))?
            .collect::<Result<_, _>>()
            .with_context(|| format!("parsing --ocpp-tls-cert {}", cert.display()))?;
        anyhow::ensure!(!chain.is_empty(), "--ocpp-tls-cert {} holds no certificate", cert.display());
        let key = PrivateKeyDer::from_pem_file(key)
            .with_context(|| format!("reading the private key --ocpp-tls-key {}", key.display()))?;
        let provider = provider();
        let client_ca = match client_ca {
            None => None,
            Some(path) => {
                let mut roots = RootCertStore::empty();
                for c in CertificateDer::pem_file_iter(path)
                    .with_context(|| format!("reading --ocpp-tls-client-ca {}", path.display()))?
                {
                    let c = c.with_context(|| format!("parsing --ocpp-tls-client-ca {}", path.display()))?;
                    roots.add(c).with_context(|| format!("a CA certificate in {}", path.display()))?;
                }
                anyhow::ensure!(!roots.is_empty(), "--ocpp-tls-client-ca {} holds no certificate", path.display());
                let v = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                    .allow_unauthenticated()
                    .build()
                    .context("building the client certificate verifier")?;
                Some(v)
            }
        };
        let verifier = Arc::new(AnyClientCert {
            algorithms: provider.signature_verification_algorithms,
            hints: client_ca.as_ref().map(|v| v.root_hint_subjects().to_vec()).unwrap_or_default(),
        });
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .context("TLS protocol versions")?
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain, key)
            .context("the TLS certificate and key do not fit together")?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(ServerTls { acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)), client_ca })
    }

    /// What the client's certificate (if any) says, after the handshake.
    pub fn peer(&self, conn: &rustls::ServerConnection) -> TlsPeer {
        let Some(certs) = conn.peer_certificates().filter(|c| !c.is_empty()) else {
            return TlsPeer { cert: None };
        };
        let end = &certs[0];
        let chain = match &self.client_ca {
            None => Err("no client CA is configured (--ocpp-tls-client-ca)".to_string()),
            Some(v) => v
                .verify_client_cert(end, &certs[1..], UnixTime::now())
                .map(|_| ())
                .map_err(|e| format!("the client certificate does not chain to the client CA: {e}")),
        };
        TlsPeer {
            cert: Some(PeerCert {
                fingerprint: fingerprint(end),
                common_name: super::der::subject_common_name(end),
                chain,
            }),
        }
    }
}

/// Marks a request that came over TLS; carries the client certificate, if one was sent.
#[derive(Debug, Clone)]
pub struct TlsPeer {
    pub cert: Option<PeerCert>,
}

#[derive(Debug, Clone)]
pub struct PeerCert {
    /// SHA-256 of the DER certificate, lowercase hex.
    pub fingerprint: String,
    pub common_name: Option<String>,
    /// Whether the certificate chains to the client CA (and why not).
    pub chain: Result<(), String>,
}

pub fn fingerprint(der: &[u8]) -> String {
    Sha256::digest(der).iter().map(|b| format!("{b:02x}")).collect()
}

/// Normalizes a SHA-256 fingerprint (hex, colons and spaces allowed) to 64 lowercase hex
/// characters.
pub fn normalize_fingerprint(s: &str) -> Option<String> {
    let hex: String = s.chars().filter(|c| *c != ':' && !c.is_whitespace()).collect::<String>().to_ascii_lowercase();
    (hex.len() == 64 && hex.chars().all(|c| c.is_ascii_hexdigit())).then_some(hex)
}

/// Accepts any client certificate whose key the client proves to hold; the chain is judged
/// after the handshake (see the module doc).
#[derive(Debug)]
struct AnyClientCert {
    algorithms: WebPkiSupportedAlgorithms,
    hints: Vec<DistinguishedName>,
}

impl ClientCertVerifier for AnyClientCert {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &self.hints
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_normalize() {
        let fp = "AB:".repeat(31) + "AB";
        assert_eq!(normalize_fingerprint(&fp), Some("ab".repeat(32)));
        assert_eq!(normalize_fingerprint("abc"), None);
        assert_eq!(normalize_fingerprint(&"zz".repeat(32)), None);
    }
}
