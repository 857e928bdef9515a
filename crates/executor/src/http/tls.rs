//! TLS client settings on `rustls` with the `aws-lc-rs` provider: either verified against
//! CA certificates from a PEM bundle (the fetcher), or with no certificate verification
//! at all (HTTPS health checks, as Marathon and Mesos run them).

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

/// Debian's bundle of the system's trusted CA certificates.
pub(crate) const SYSTEM_CA_FILE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read CA certificates from {path}: {source}")]
    ReadRoots { path: PathBuf, source: io::Error },
    #[error("no usable CA certificate in {path}")]
    NoRoots { path: PathBuf },
    #[error("cannot configure TLS: {0}")]
    Config(rustls::Error),
}

/// Which servers to trust; the client config is built on first use and then shared.
#[derive(Debug)]
pub(crate) struct TlsMode {
    trust: Trust,
    config: OnceLock<Arc<ClientConfig>>,
}

#[derive(Debug, Clone)]
enum Trust {
    Anyone,
    CaFile(PathBuf),
}

impl TlsMode {
    /// No certificate verification (the handshake signatures are still checked).
    pub fn insecure() -> Self {
        Self::new(Trust::Anyone)
    }

    /// Servers with a certificate chain to a CA in the PEM bundle `ca_file`.
    pub fn verified(ca_file: &Path) -> Self {
        Self::new(Trust::CaFile(ca_file.to_path_buf()))
    }

    fn new(trust: Trust) -> Self {
        Self {
            trust,
            config: OnceLock::new(),
        }
    }

    /// The rustls client config.
    pub fn client_config(&self) -> Result<Arc<ClientConfig>, TlsError> {
        if let Some(config) = self.config.get() {
            return Ok(config.clone());
        }
        let config = Arc::new(build_config(&self.trust)?);
        Ok(self.config.get_or_init(|| config).clone())
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

fn build_config(trust: &Trust) -> Result<ClientConfig, TlsError> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Config)?;
    let config = match trust {
        Trust::Anyone => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerification {
                algorithms: provider.signature_verification_algorithms,
            }))
            .with_no_client_auth(),
        Trust::CaFile(path) => builder
            .with_root_certificates(load_roots(path)?)
            .with_no_client_auth(),
    };
    Ok(config)
}

/// The CA certificates in the PEM bundle at `path` (unparsable ones are skipped).
pub(crate) fn load_roots(path: &Path) -> Result<RootCertStore, TlsError> {
    let pem = std::fs::read(path).map_err(|source| TlsError::ReadRoots {
        path: path.to_path_buf(),
        source,
    })?;
    let mut roots = RootCertStore::empty();
    let certs = CertificateDer::pem_slice_iter(&pem).filter_map(Result::ok);
    let (added, skipped) = roots.add_parsable_certificates(certs);
    if skipped > 0 {
        tracing::debug!(path = %path.display(), skipped, "unparsable CA certificates skipped");
    }
    match added {
        0 => Err(TlsError::NoRoots {
            path: path.to_path_buf(),
        }),
        _ => Ok(roots),
    }
}

/// Accepts any certificate; only proves that the server holds the certificate's key.
#[derive(Debug)]
struct NoVerification {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
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
