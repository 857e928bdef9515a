//! Test support (feature `testing`): a busybox image built from Debian's `busybox-static`,
//! written as a `docker save` archive, and a real Debian `docker-registry` on loopback
//! (optionally with basic auth, bearer tokens from an in-process token server, or TLS) that
//! archives are pushed to with `skopeo`.
//! Missing tools are a panic naming the Debian package, never a skipped test.

use std::fs;
use std::io::ErrorKind;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::digest::sha256;
use crate::sources::Sources;

mod token;

pub use token::{TokenRequest, TokenServer};

/// Fixed mtime of everything the helpers write, so archives are reproducible.
pub const MTIME: u64 = 1_700_000_000;
const BUSYBOX: &str = "/bin/busybox";
const REGISTRY_BIN: &str = "/usr/bin/docker-registry";
const START_LIMIT: Duration = Duration::from_secs(30);

/// Builds an uncompressed layer tar entry by entry (uid/gid 0, mtime `MTIME`).
pub struct LayerBuilder {
    builder: tar::Builder<Vec<u8>>,
}

impl Default for LayerBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl LayerBuilder {
    pub fn new() -> Self {
        LayerBuilder {
            builder: tar::Builder::new(Vec::new()),
        }
    }

    fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(MTIME);
        h.set_size(size);
        h
    }

    pub fn dir(mut self, path: &str, mode: u32) -> Self {
        let mut h = Self::header(tar::EntryType::Directory, mode, 0);
        self.builder
            .append_data(&mut h, path, &[][..])
            .expect("tar dir");
        self
    }

    pub fn file(mut self, path: &str, mode: u32, data: &[u8]) -> Self {
        let mut h = Self::header(tar::EntryType::Regular, mode, data.len() as u64);
        self.builder
            .append_data(&mut h, path, data)
            .expect("tar file");
        self
    }

    pub fn symlink(mut self, path: &str, target: &str) -> Self {
        let mut h = Self::header(tar::EntryType::Symlink, 0o777, 0);
        self.builder
            .append_link(&mut h, path, target)
            .expect("tar symlink");
        self
    }

    pub fn hard_link(mut self, path: &str, target: &str) -> Self {
        let mut h = Self::header(tar::EntryType::Link, 0o644, 0);
        self.builder
            .append_link(&mut h, path, target)
            .expect("tar hard link");
        self
    }

    /// An entry with a raw name (no validation: `..`, absolute paths) and header `h`.
    pub fn raw(mut self, mut h: tar::Header, name: &[u8], link: &[u8], data: &[u8]) -> Self {
        let old = h.as_old_mut();
        old.name = [0; 100];
        old.name[..name.len()].copy_from_slice(name);
        old.linkname = [0; 100];
        old.linkname[..link.len()].copy_from_slice(link);
        h.set_size(data.len() as u64);
        h.set_cksum();
        self.builder.append(&h, data).expect("tar raw entry");
        self
    }

    /// A raw header of `kind` for `raw`.
    pub fn raw_header(kind: tar::EntryType, mode: u32) -> tar::Header {
        Self::header(kind, mode, 0)
    }

    pub fn build(self) -> Vec<u8> {
        self.builder.into_inner().expect("tar finish")
    }
}

/// The root filesystem layer of the test busybox image: `/bin/busybox` with a symlink per
/// applet, `/usr/bin/env`, minimal `/etc/passwd` and `/etc/group`, the usual mount points.
pub fn busybox_layer() -> Vec<u8> {
    let binary = fs::read(BUSYBOX)
        .unwrap_or_else(|e| panic!("cannot read {BUSYBOX} ({e}): install Debian's busybox-static"));
    let list = Command::new(BUSYBOX)
        .arg("--list")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {BUSYBOX} --list: {e}"));
    let list = String::from_utf8_lossy(&list.stdout).into_owned();
    let mut applets: Vec<&str> = list.lines().filter(|a| *a != "busybox").collect();
    applets.sort_unstable();
    applets.dedup();
    let mut layer = LayerBuilder::new();
    for (dir, mode) in [
        ("bin", 0o755),
        ("dev", 0o755),
        ("etc", 0o755),
        ("proc", 0o555),
        ("root", 0o700),
        ("sys", 0o555),
        ("tmp", 0o1777),
        ("usr", 0o755),
        ("usr/bin", 0o755),
        ("var", 0o755),
    ] {
        layer = layer.dir(dir, mode);
    }
    layer = layer.file("bin/busybox", 0o755, &binary);
    for applet in applets {
        layer = layer.symlink(&format!("bin/{applet}"), "busybox");
    }
    layer
        .symlink("usr/bin/env", "/bin/busybox")
        .file(
            "etc/passwd",
            0o644,
            b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
        )
        .file("etc/group", 0o644, b"root:x:0:\nnogroup:x:65534:\n")
        .build()
}

/// The container config of the test busybox image.
pub fn busybox_config() -> serde_json::Value {
    json!({
        "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "KEEL_IMAGE=busybox"],
        "Cmd": ["sh"],
    })
}

/// Writes the busybox image as `dir/busybox:latest.tar` (`docker save` format, tagged
/// `busybox:latest`, the name Mesos's local puller looks for) and returns its path.
pub fn busybox_archive(dir: &Path) -> PathBuf {
    fs::create_dir_all(dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
    let path = dir.join("busybox:latest.tar");
    docker_archive(
        &path,
        "busybox:latest",
        &[busybox_layer()],
        busybox_config(),
    );
    path
}

/// The image config blob for `layers` (uncompressed tars) and `container_config`.
pub fn image_config(layers: &[Vec<u8>], container_config: serde_json::Value) -> Vec<u8> {
    let diff_ids: Vec<String> = layers.iter().map(|l| sha256(l)).collect();
    let history: Vec<_> = layers
        .iter()
        .map(|_| json!({"created": "2023-11-14T22:13:20Z", "created_by": "keel-image testing"}))
        .collect();
    let config = json!({
        "architecture": oci_arch(),
        "os": "linux",
        "created": "2023-11-14T22:13:20Z",
        "config": container_config,
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": history,
    });
    serde_json::to_vec(&config).expect("config json")
}

/// Writes a `docker save` archive (legacy layout: `<config hex>.json`,
/// `<layer hex>/layer.tar`, `manifest.json`) of one image tagged `repo_tag`.
pub fn docker_archive(
    path: &Path,
    repo_tag: &str,
    layers: &[Vec<u8>],
    container_config: serde_json::Value,
) {
    let config = image_config(layers, container_config);
    let config_name = format!("{}.json", &sha256(&config)[7..]);
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let mut layer_names = Vec::new();
    for layer in layers {
        let name = format!("{}/layer.tar", &sha256(layer)[7..]);
        layer_names.push(name.clone());
        files.push((name, layer.clone()));
    }
    let manifest = json!([{"Config": config_name, "RepoTags": [repo_tag], "Layers": layer_names}]);
    files.push((config_name, config));
    files.push((
        "manifest.json".into(),
        serde_json::to_vec(&manifest).expect("manifest json"),
    ));
    write_tar(path, &files);
}

/// Writes a tar of regular files (directories implied by the names).
pub fn write_tar(path: &Path, files: &[(String, Vec<u8>)]) {
    let mut outer = LayerBuilder::new();
    let mut dirs = std::collections::BTreeSet::new();
    for (name, data) in files {
        if let Some((dir, _)) = name.rsplit_once('/')
            && dirs.insert(dir.to_string())
        {
            outer = outer.dir(dir, 0o755);
        }
        outer = outer.file(name, 0o644, data);
    }
    fs::write(path, outer.build()).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
}

/// Writes an OCI image layout directory `dir` whose entry `tag` is a multi-platform image
/// index: this machine's platform and one other (a copy with another `architecture`), all
/// blobs present, layers gzipped. Push it with `skopeo copy --all oci:DIR:TAG ...`.
/// Returns the digest of this platform's manifest.
pub fn oci_index_layout(
    dir: &Path,
    tag: &str,
    layers: &[Vec<u8>],
    container_config: serde_json::Value,
) -> String {
    use std::io::Write;
    let blobs = dir.join("blobs").join("sha256");
    fs::create_dir_all(&blobs).expect("blobs dir");
    let put = |data: &[u8]| {
        let digest = sha256(data);
        fs::write(blobs.join(&digest[7..]), data).expect("write blob");
        json!({"digest": digest, "size": data.len()})
    };
    let gz_layers: Vec<Vec<u8>> = layers
        .iter()
        .map(|l| {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(l).expect("gzip");
            gz.finish().expect("gzip")
        })
        .collect();
    let layer_descs: Vec<_> = gz_layers
        .iter()
        .map(|l| with_type(put(l), "application/vnd.oci.image.layer.v1.tar+gzip"))
        .collect();
    let other = if oci_arch() == "arm64" {
        "amd64"
    } else {
        "arm64"
    };
    let mut entries = Vec::new();
    let mut native = String::new();
    for arch in [other, oci_arch()] {
        let mut config: serde_json::Value =
            serde_json::from_slice(&image_config(layers, container_config.clone())).expect("json");
        config["architecture"] = json!(arch);
        let config = serde_json::to_vec(&config).expect("json");
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": with_type(put(&config), "application/vnd.oci.image.config.v1+json"),
            "layers": layer_descs,
        });
        let manifest = serde_json::to_vec(&manifest).expect("json");
        let mut desc = with_type(put(&manifest), "application/vnd.oci.image.manifest.v1+json");
        desc["platform"] = json!({"os": "linux", "architecture": arch});
        native = sha256(&manifest);
        entries.push(desc);
    }
    let index = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": entries,
    });
    let mut top = with_type(
        put(&serde_json::to_vec(&index).expect("json")),
        "application/vnd.oci.image.index.v1+json",
    );
    top["annotations"] = json!({"org.opencontainers.image.ref.name": tag});
    let layout = json!({"schemaVersion": 2, "manifests": [top]});
    fs::write(
        dir.join("index.json"),
        serde_json::to_vec(&layout).expect("json"),
    )
    .expect("index");
    fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).expect("layout");
    native
}

fn with_type(mut desc: serde_json::Value, media_type: &str) -> serde_json::Value {
    desc["mediaType"] = json!(media_type);
    desc
}

/// The OCI architecture name of this machine.
pub fn oci_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// How to start a test registry.
#[derive(Debug, Clone, Default)]
pub struct RegistryOptions {
    /// Require these credentials (htpasswd, bcrypt; with `Registry::start_token_auth`, at
    /// the token server).
    pub basic_auth: Option<(String, String)>,
    /// Serve HTTPS with a certificate for 127.0.0.1 signed by a fresh CA (`Registry::ca_cert`).
    pub tls: bool,
}

/// A Debian `docker-registry` process on 127.0.0.1, killed on drop.
pub struct Registry {
    /// `127.0.0.1:<port>`.
    pub addr: String,
    /// The CA certificate (PEM) to trust when `tls`.
    pub ca_cert: Option<PathBuf>,
    pub options: RegistryOptions,
    dir: PathBuf,
    child: Child,
    token_server: Option<TokenServer>,
}

impl Registry {
    /// Starts a registry keeping its config, storage and log under `dir`.
    pub fn start(dir: &Path, options: RegistryOptions) -> Registry {
        Self::start_with(dir, options, None)
    }

    /// Starts a registry that demands bearer tokens (Docker's token authentication) from a
    /// `TokenServer` started with it, which grants every scope: to anyone, or with
    /// `options.basic_auth` only to requests carrying those credentials.
    pub fn start_token_auth(dir: &Path, options: RegistryOptions) -> Registry {
        let tokens = TokenServer::start(dir, options.basic_auth.clone());
        Self::start_with(dir, options, Some(tokens))
    }

    fn start_with(dir: &Path, options: RegistryOptions, tokens: Option<TokenServer>) -> Registry {
        assert!(
            Path::new(REGISTRY_BIN).exists(),
            "{REGISTRY_BIN} not found: install Debian's docker-registry"
        );
        for _ in 0..5 {
            if let Some(mut registry) = Self::try_start(dir, &options, tokens.as_ref()) {
                registry.token_server = tokens;
                return registry;
            }
        }
        panic!("docker-registry: could not bind a free port in 5 attempts");
    }

    /// The token server's requests so far (empty without token auth).
    pub fn token_requests(&self) -> Vec<TokenRequest> {
        self.token_server
            .as_ref()
            .map(TokenServer::requests)
            .unwrap_or_default()
    }

    /// One start on a fresh port; `None` when the port was taken meanwhile.
    fn try_start(
        dir: &Path,
        options: &RegistryOptions,
        tokens: Option<&TokenServer>,
    ) -> Option<Registry> {
        let port = free_port();
        let addr = format!("127.0.0.1:{port}");
        let root = dir.join(format!("registry-{port}"));
        fs::create_dir_all(&root).expect("registry dir");
        let mut config = format!(
            "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\n\
             storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
             http:\n  addr: {addr}\n  secret: keel-image-testing\n",
            root.join("data").display()
        );
        let mut ca_cert = None;
        if options.tls {
            let (ca, cert, key) = write_certs(&root);
            config += &format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                cert.display(),
                key.display()
            );
            ca_cert = Some(ca);
        }
        if let Some(tokens) = tokens {
            config += &format!(
                "auth:\n  token:\n    realm: {}\n    service: {}\n    issuer: {}\n    \
                 rootcertbundle: {}\n",
                tokens.realm,
                token::SERVICE,
                token::ISSUER,
                tokens.cert.display()
            );
        } else if let Some((user, password)) = &options.basic_auth {
            let htpasswd = write_htpasswd(&root, user, password);
            config += &format!(
                "auth:\n  htpasswd:\n    realm: keel\n    path: {}\n",
                htpasswd.display()
            );
        }
        let config_path = root.join("config.yml");
        fs::write(&config_path, config).expect("registry config");
        let log_path = root.join("registry.log");
        let log = fs::File::create(&log_path).expect("registry log");
        let child = Command::new(REGISTRY_BIN)
            .arg("serve")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("registry log"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {REGISTRY_BIN}: {e}"));
        let mut registry = Registry {
            addr,
            ca_cert,
            options: options.clone(),
            dir: root,
            child,
            token_server: None,
        };
        registry.wait_ready(&log_path).then_some(registry)
    }

    /// Waits until the port accepts connections; false if it was already in use.
    fn wait_ready(&mut self, log_path: &Path) -> bool {
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                let log = fs::read_to_string(log_path).unwrap_or_default();
                if log.contains("address already in use") {
                    return false;
                }
                panic!("docker-registry exited with {status}:\n{log}");
            }
            if TcpStream::connect(&self.addr).is_ok() {
                return true;
            }
            if started.elapsed() > START_LIMIT {
                let log = fs::read_to_string(log_path).unwrap_or_default();
                panic!(
                    "docker-registry did not listen on {} in time:\n{log}",
                    self.addr
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `<addr>/<name>`, e.g. `127.0.0.1:5000/busybox:latest`.
    pub fn reference(&self, name: &str) -> String {
        format!("{}/{name}", self.addr)
    }

    /// Pushes a `docker save` archive as `<addr>/<name>` with skopeo.
    pub fn push_archive(&self, archive: &Path, name: &str) {
        // skopeo splits `docker-archive:PATH[:REF]` at the first ':', so hide the path's.
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let link = self
            .dir
            .join(format!("push-{}.tar", NEXT.fetch_add(1, Ordering::Relaxed)));
        let target = archive
            .canonicalize()
            .unwrap_or_else(|e| panic!("{}: {e}", archive.display()));
        std::os::unix::fs::symlink(target, &link).expect("push symlink");
        self.push(&format!("docker-archive:{}", link.display()), name, &[]);
    }

    /// Pushes any skopeo source (`oci:DIR:TAG`, `docker-archive:PATH`, ...) as
    /// `<addr>/<name>`, with extra `skopeo copy` flags (e.g. `--format oci`, `--all`).
    pub fn push(&self, source: &str, name: &str, extra: &[&str]) {
        let mut cmd = Command::new("skopeo");
        cmd.args([
            "--insecure-policy",
            "copy",
            "--quiet",
            "--dest-tls-verify=false",
        ]);
        if let Some((user, password)) = &self.options.basic_auth {
            cmd.arg("--dest-creds").arg(format!("{user}:{password}"));
        }
        cmd.args(extra)
            .arg(source)
            .arg(format!("docker://{}", self.reference(name)));
        let out = cmd
            .output()
            .unwrap_or_else(|e| panic!("cannot run skopeo ({e}): install Debian's skopeo"));
        assert!(
            out.status.success(),
            "skopeo copy {source} -> {name} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Sources that reach this registry: plain HTTP or its CA, and its credentials.
    pub fn sources(&self) -> Sources {
        let mut sources = Sources {
            timeout: Duration::from_secs(60),
            ..Sources::default()
        };
        if self.options.tls {
            sources.ca_certs.extend(self.ca_cert.clone());
        } else {
            sources.insecure_registries.push(self.addr.clone());
        }
        if let Some(creds) = &self.options.basic_auth {
            sources.credentials.insert(self.addr.clone(), creds.clone());
        }
        sources
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
}

fn write_htpasswd(dir: &Path, user: &str, password: &str) -> PathBuf {
    let out = Command::new("htpasswd")
        .args(["-Bbn", user, password])
        .output()
        .unwrap_or_else(|e| match e.kind() {
            ErrorKind::NotFound => panic!("htpasswd not found: install Debian's apache2-utils"),
            _ => panic!("cannot run htpasswd: {e}"),
        });
    assert!(out.status.success(), "htpasswd failed");
    let path = dir.join("htpasswd");
    fs::write(&path, out.stdout).expect("write htpasswd");
    path
}

/// Writes a CA and a server certificate for 127.0.0.1/localhost; returns (ca, cert, key).
fn write_certs(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_key = KeyPair::generate().expect("ca key");
    let ca = CertifiedIssuer::self_signed(ca_params, ca_key).expect("ca cert");
    let key = KeyPair::generate().expect("server key");
    let names = vec!["127.0.0.1".to_string(), "localhost".to_string()];
    let cert = CertificateParams::new(names)
        .expect("server params")
        .signed_by(&key, &ca)
        .expect("server cert");
    let paths = (
        dir.join("ca.pem"),
        dir.join("cert.pem"),
        dir.join("key.pem"),
    );
    fs::write(&paths.0, ca.as_ref().pem()).expect("write ca");
    fs::write(&paths.1, cert.pem()).expect("write cert");
    fs::write(&paths.2, key.serialize_pem()).expect("write key");
    paths
}
