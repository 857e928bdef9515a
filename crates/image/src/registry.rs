//! Pulling from an OCI/Docker registry with oci-client on a private current-thread tokio
//! runtime (the caller is blocking code): manifest (Docker schema 2 or OCI, a list or
//! index resolved to this platform), config, then the layers the cache lacks, each
//! downloaded to `tmp/`, verified and unpacked. oci-client's errors become `ImageError`s.

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io::{self, Write};
use std::pin::Pin;
use std::task::{Context, Poll};

use oci_client::client::{
    Certificate, CertificateEncoding, ClientConfig, ClientProtocol, current_platform_resolver,
};
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, RegistryOperation};

use futures_util::{StreamExt, TryStreamExt};

use crate::config::{self, ParsedConfig};
use crate::error::ImageError;
use crate::reference::Reference;
use crate::sources::{Protocol, Sources};
use crate::store::{ImageStore, Staged, Staging};

/// Layers downloaded at once.
const PARALLEL_DOWNLOADS: usize = 4;

/// What the network part of a pull produced.
struct Pulled {
    digest: String,
    config: ParsedConfig,
    /// Layers the cache lacked: (diff_id, downloaded blob, blob digest).
    downloads: Vec<(String, Staging, String)>,
}

/// Pulls `r` into `store`: manifest, config and missing layers within `sources.timeout`
/// (over each of [`Sources::protocols`] in turn while the registry answers plain HTTP to
/// HTTPS), then unpacks the downloaded layers.
pub(crate) fn stage(
    store: &ImageStore,
    r: &Reference,
    sources: &Sources,
) -> Result<Staged, ImageError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| fail(r, format!("cannot start an async runtime: {e}")))?;
    let pulled = runtime.block_on(async {
        match tokio::time::timeout(sources.timeout, pull_any(store, r, sources)).await {
            Ok(result) => result,
            Err(_) => Err(ImageError::Timeout {
                image: r.to_string(),
                registry: r.registry().to_string(),
                after: sources.timeout,
            }),
        }
    })?;
    drop(runtime);
    let image = r.to_string();
    for (diff_id, blob, blob_digest) in &pulled.downloads {
        let file = File::open(blob.path()).map_err(ImageError::cache(blob.path()))?;
        store.install_layer(&image, diff_id, file, Some(blob_digest))?;
    }
    Ok(Staged {
        reference: r.clone(),
        digest: pulled.digest,
        layer_ids: pulled.config.diff_ids,
        config: pulled.config.config,
    })
}

/// Pulls over the first of the registry's protocols that speaks its language.
async fn pull_any(
    store: &ImageStore,
    r: &Reference,
    sources: &Sources,
) -> Result<Pulled, ImageError> {
    let mut result = Err(fail(r, "no protocol to reach it".into()));
    for protocol in sources.protocols(r.registry()) {
        result = pull(store, r, sources, *protocol).await;
        if !matches!(result, Err(ImageError::PlainHttp { .. })) {
            break;
        }
        tracing::debug!(
            registry = r.registry(),
            "plain HTTP on loopback: retrying without TLS"
        );
    }
    result
}

async fn pull(
    store: &ImageStore,
    r: &Reference,
    sources: &Sources,
    protocol: Protocol,
) -> Result<Pulled, ImageError> {
    let client = client(r, sources, protocol)?;
    let oci_ref: oci_client::Reference = r
        .to_string()
        .parse()
        .map_err(|e| fail(r, format!("reference not understood by the client: {e}")))?;
    let auth = match sources.credentials_for(r.registry()) {
        Some((user, password)) => RegistryAuth::Basic(user.clone(), password.clone()),
        None => RegistryAuth::Anonymous,
    };
    let map = |e| map_error(r, &auth, sources.timeout, e);
    client
        .auth(&oci_ref, &auth, RegistryOperation::Pull)
        .await
        .map_err(map)?;
    let (manifest, digest) = client
        .pull_image_manifest(&oci_ref, &auth)
        .await
        .map_err(map)?;
    let mut config_blob = Vec::new();
    client
        .pull_blob(&oci_ref, &manifest.config, &mut config_blob)
        .await
        .map_err(map)?;
    let config = config::parse(&config_blob).map_err(|reason| fail(r, reason))?;
    if config.diff_ids.len() != manifest.layers.len() {
        let (m, c) = (manifest.layers.len(), config.diff_ids.len());
        return Err(fail(
            r,
            format!("manifest has {m} layers but its config {c}"),
        ));
    }
    let mut wanted = BTreeSet::new();
    let missing = manifest
        .layers
        .iter()
        .zip(&config.diff_ids)
        .filter(|(_, diff_id)| !store.has_layer(diff_id) && wanted.insert(diff_id.as_str()));
    let (client, oci_ref, map) = (&client, &oci_ref, &map);
    let downloads = futures_util::stream::iter(missing)
        .map(|(layer, diff_id)| async move {
            let blob = store.staging("blob");
            let path = blob.path();
            let file = File::create(path).map_err(ImageError::cache(path))?;
            client
                .pull_blob(oci_ref, layer, BlockingWriter(file))
                .await
                .map_err(map)?;
            Ok::<_, ImageError>((diff_id.clone(), blob, layer.digest.clone()))
        })
        .buffer_unordered(PARALLEL_DOWNLOADS)
        .try_collect()
        .await?;
    Ok(Pulled {
        digest,
        config,
        downloads,
    })
}

fn client(r: &Reference, sources: &Sources, protocol: Protocol) -> Result<Client, ImageError> {
    let mut certs = Vec::new();
    for path in &sources.ca_certs {
        let data = fs::read(path).map_err(|e| {
            fail(
                r,
                format!("cannot read CA certificate {}: {e}", path.display()),
            )
        })?;
        certs.push(Certificate {
            encoding: CertificateEncoding::Pem,
            data,
        });
    }
    let config = ClientConfig {
        protocol: match protocol {
            Protocol::Https => ClientProtocol::Https,
            Protocol::Http => ClientProtocol::Http,
        },
        extra_root_certificates: certs,
        platform_resolver: Some(Box::new(current_platform_resolver)),
        connect_timeout: Some(sources.timeout),
        ..ClientConfig::default()
    };
    Client::try_from(config).map_err(|e| fail(r, format!("cannot set up the client: {e}")))
}

fn fail(r: &Reference, reason: String) -> ImageError {
    ImageError::Registry {
        image: r.to_string(),
        registry: r.registry().to_string(),
        reason,
    }
}

/// Maps an oci-client error onto the error kinds the executor reports.
fn map_error(
    r: &Reference,
    auth: &RegistryAuth,
    timeout: std::time::Duration,
    e: OciDistributionError,
) -> ImageError {
    let image = r.to_string();
    let registry = r.registry().to_string();
    let unauthorized = |registry, by: &str| {
        let reason = match auth {
            RegistryAuth::Anonymous => "credentials required",
            _ => "credentials rejected",
        };
        ImageError::Unauthorized {
            image: r.to_string(),
            registry,
            reason: format!("{reason}{by}"),
        }
    };
    let not_found = |registry: String| ImageError::NotFound {
        image: r.to_string(),
        place: format!("registry {registry}"),
    };
    match e {
        OciDistributionError::RequestError(e) if e.is_timeout() => ImageError::Timeout {
            image,
            registry,
            after: timeout,
        },
        OciDistributionError::RequestError(e) if e.is_connect() => match tls_error(&e) {
            Some(rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType)) => {
                ImageError::PlainHttp { image, registry }
            }
            Some(rustls::Error::InvalidCertificate(_)) => ImageError::Unreachable {
                reason: format!("{}: trust its CA with --registry-ca PEM_FILE", cause(&e)),
                image,
                registry,
            },
            _ => ImageError::Unreachable {
                image,
                registry,
                reason: cause(&e),
            },
        },
        OciDistributionError::UnauthorizedError { .. } => unauthorized(registry, ""),
        // Only the token endpoint named in the registry's bearer challenge answers this way.
        OciDistributionError::AuthenticationFailure(_) => {
            unauthorized(registry, " by its token service")
        }
        OciDistributionError::RegistryError { envelope, .. } => {
            let codes: Vec<&OciErrorCode> = envelope.errors.iter().map(|e| &e.code).collect();
            if codes.iter().any(|c| is_not_found(c)) {
                not_found(registry)
            } else if codes
                .iter()
                .any(|c| matches!(c, OciErrorCode::Unauthorized | OciErrorCode::Denied))
            {
                unauthorized(registry, "")
            } else {
                ImageError::Registry {
                    image,
                    registry,
                    reason: envelope.to_string(),
                }
            }
        }
        OciDistributionError::ServerError { code: 404, .. } => not_found(registry),
        OciDistributionError::ServerError {
            code: 401 | 403, ..
        } => unauthorized(registry, ""),
        OciDistributionError::ImageManifestNotFoundError(reason) => ImageError::NotFound {
            image,
            place: format!("registry {registry} ({reason})"),
        },
        OciDistributionError::DigestError(oci_client::errors::DigestError::VerificationError {
            expected,
            actual,
        }) => ImageError::DigestMismatch {
            image,
            blob: format!("a blob from registry {registry}"),
            expected,
            actual,
        },
        OciDistributionError::RequestError(e) => ImageError::Registry {
            image,
            registry,
            reason: cause(&e),
        },
        other => ImageError::Registry {
            image,
            registry,
            reason: other.to_string(),
        },
    }
}

fn is_not_found(code: &OciErrorCode) -> bool {
    matches!(
        code,
        OciErrorCode::ManifestUnknown
            | OciErrorCode::NameUnknown
            | OciErrorCode::BlobUnknown
            | OciErrorCode::NotFound
    )
}

/// The TLS error under a request error, if the handshake failed. (An `io::Error`'s
/// `source` skips the error it wraps, so step into each one.)
fn tls_error<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut next: Option<&'a (dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = next {
        if let Some(tls) = err.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        next = match err.downcast_ref::<io::Error>().and_then(|io| io.get_ref()) {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => err.source(),
        };
    }
    None
}

/// The innermost cause of a request error, short: "connection refused",
/// "invalid peer certificate: UnknownIssuer".
fn cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut deepest: &(dyn std::error::Error + 'static) = e;
    while let Some(next) = deepest.source() {
        if let Some(io) = next.downcast_ref::<io::Error>() {
            let short = match io.kind() {
                io::ErrorKind::ConnectionRefused => Some("connection refused"),
                io::ErrorKind::ConnectionReset => Some("connection reset"),
                io::ErrorKind::TimedOut => Some("connection timed out"),
                io::ErrorKind::HostUnreachable => Some("host unreachable"),
                io::ErrorKind::NetworkUnreachable => Some("network unreachable"),
                _ => None,
            };
            if let Some(short) = short {
                return short.to_string();
            }
        }
        deepest = next;
    }
    let text = deepest.to_string();
    match text.find(" (os error") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

/// Blocking writes behind tokio's `AsyncWrite`: the runtime is this pull's alone.
struct BlockingWriter(File);

impl tokio::io::AsyncWrite for BlockingWriter {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(self.0.write(buf))
    }

    fn poll_flush(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.0.flush())
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{Registry, RegistryOptions, busybox_archive};

    /// Over HTTPS only (what a registry elsewhere gets), a plain-HTTP registry's answer
    /// becomes an error that names the flag to pass.
    #[test]
    fn a_plain_http_answer_to_https_names_the_insecure_registry_flag()
    -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let store = ImageStore::open(&dir.path().join("cache"))?;
        let registry = Registry::start(dir.path(), RegistryOptions::default());
        registry.push_archive(&busybox_archive(dir.path()), "busybox:latest");
        let r: Reference = registry.reference("busybox:latest").parse()?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let sources = Sources::default();
        let err = runtime
            .block_on(pull(&store, &r, &sources, Protocol::Https))
            .err();
        let addr = &registry.addr;
        assert_eq!(
            err.map(|e| e.to_string()),
            Some(format!(
                "image {r}: registry {addr} answers plain HTTP, not HTTPS: \
                 start the agent with --insecure-registry {addr}"
            ))
        );
        Ok(())
    }
}
