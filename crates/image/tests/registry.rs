//! Pulls from a real Debian `docker-registry` on loopback, with the busybox image (from
//! `busybox-static`) pushed by `skopeo`: plain HTTP, basic auth, bearer tokens from a token
//! server (anonymous and credentialed), HTTPS with a private CA, OCI manifests and multi-platform indexes, errors (down, stalled, unknown, rejected),
//! force pulls and concurrent provisions sharing one cache.

use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use keel_image::testing::{
    LayerBuilder, Registry, RegistryOptions, TokenRequest, busybox_archive, busybox_layer,
    docker_archive, free_port, oci_index_layout,
};
use keel_image::{ImageError, ImageStore, Sources, copy_rootfs};
use serde_json::json;

type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

/// A temp dir with the busybox archive and an empty cache.
struct Env {
    dir: tempfile::TempDir,
    store: ImageStore,
}

fn env() -> Result<Env> {
    let dir = tempfile::tempdir()?;
    let store = ImageStore::open(&dir.path().join("cache"))?;
    Ok(Env { dir, store })
}

impl Env {
    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// A registry with busybox pushed as `busybox:latest`.
    fn registry(&self, options: RegistryOptions) -> Registry {
        let archive = busybox_archive(self.path());
        let registry = Registry::start(self.path(), options);
        registry.push_archive(&archive, "busybox:latest");
        registry
    }

    /// A registry taking bearer tokens from its token server, with busybox pushed as
    /// `team/busybox:latest`.
    fn token_registry(&self, options: RegistryOptions) -> Registry {
        let archive = busybox_archive(self.path());
        let registry = Registry::start_token_auth(self.path(), options);
        registry.push_archive(&archive, "team/busybox:latest");
        registry
    }

    fn count(&self, sub: &str) -> usize {
        std::fs::read_dir(self.store.root().join(sub)).map_or(0, |d| d.count())
    }
}

#[test]
fn anonymous_http_pull_gives_a_runnable_busybox() -> Result {
    let env = env()?;
    let registry = env.registry(RegistryOptions::default());
    let reference = registry.reference("busybox:latest");

    let started = Instant::now();
    let image = env
        .store
        .provision(&reference, &registry.sources(), false)?;
    eprintln!(
        "timing: pull + unpack busybox over HTTP: {:?}",
        started.elapsed()
    );
    assert_eq!(image.reference, format!("{}/busybox:latest", registry.addr));
    assert!(image.digest.starts_with("sha256:"), "{}", image.digest);
    assert_eq!(image.layers.len(), 1);
    assert_eq!(image.config.cmd, vec!["sh".to_string()]);
    assert!(image.config.env.iter().any(|e| e.starts_with("PATH=")));
    let layer = &image.layers[0];
    assert_eq!(
        std::fs::read_link(layer.join("bin/sh"))?,
        Path::new("busybox")
    );

    let started = Instant::now();
    let cached = env
        .store
        .provision(&reference, &registry.sources(), false)?;
    eprintln!("timing: provision from the cache: {:?}", started.elapsed());
    assert_eq!(cached, image);

    let rootfs = env.path().join("rootfs");
    let started = Instant::now();
    copy_rootfs(&image.layers, &rootfs)?;
    eprintln!("timing: copy_rootfs of busybox: {:?}", started.elapsed());
    let out = Command::new("chroot")
        .arg(&rootfs)
        .args([
            "/bin/sh",
            "-c",
            "echo hello from $(cat /etc/passwd | head -1 | cut -d: -f1)",
        ])
        .output()?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello from root\n");
    Ok(())
}

#[test]
fn a_plain_http_registry_on_loopback_needs_no_insecure_flag() -> Result {
    let env = env()?;
    let registry = env.registry(RegistryOptions::default());
    let mut sources = registry.sources();
    sources.insecure_registries.clear();
    for reference in [
        registry.reference("busybox:latest"),
        format!(
            "localhost:{}",
            registry.addr.rsplit(':').next().unwrap_or_default()
        ) + "/busybox:latest",
    ] {
        let image = env.store.provision(&reference, &sources, true)?;
        assert!(image.layers[0].join("bin/busybox").is_file(), "{reference}");
    }
    Ok(())
}

#[test]
fn oci_manifests_and_multi_platform_indexes() -> Result {
    let env = env()?;
    let registry = env.registry(RegistryOptions::default());
    let archive = env.path().join("busybox:latest.tar");
    registry.push(
        &format!("docker-archive:{}", link_without_colon(&archive)?),
        "oci/busybox:v1",
        &["--format", "oci"],
    );
    let image = env.store.provision(
        &registry.reference("oci/busybox:v1"),
        &registry.sources(),
        false,
    )?;
    assert_eq!(image.config.cmd, vec!["sh".to_string()]);

    let layout = env.path().join("layout");
    let native = oci_index_layout(&layout, "v1", &[busybox_layer()], json!({"Cmd": ["true"]}));
    registry.push(
        &format!("oci:{}:v1", layout.display()),
        "multi:v1",
        &["--all"],
    );
    let image = env
        .store
        .provision(&registry.reference("multi:v1"), &registry.sources(), false)?;
    assert_eq!(image.digest, native, "this platform's manifest is chosen");
    assert_eq!(image.config.cmd, vec!["true".to_string()]);
    assert_eq!(
        env.count("layers/sha256"),
        1,
        "all three images share the layer"
    );
    Ok(())
}

/// skopeo splits `docker-archive:` at the first ':', so hide the file name's colon.
fn link_without_colon(archive: &Path) -> Result<String> {
    let link = archive.with_file_name("busybox-latest.tar");
    if !link.exists() {
        std::os::unix::fs::symlink(archive, &link)?;
    }
    Ok(link.display().to_string())
}

#[test]
fn basic_auth_pull_and_rejected_credentials() -> Result {
    let env = env()?;
    let creds = ("keel".to_string(), "s3cret".to_string());
    let registry = env.registry(RegistryOptions {
        basic_auth: Some(creds.clone()),
        tls: false,
    });
    let reference = registry.reference("busybox:latest");

    let mut wrong = registry.sources();
    wrong
        .credentials
        .insert(registry.addr.clone(), (creds.0.clone(), "wrong".into()));
    let err = env.store.provision(&reference, &wrong, false).err();
    assert!(
        matches!(err, Some(ImageError::Unauthorized { .. })),
        "{err:?}"
    );
    assert_eq!(
        err.map(|e| e.to_string()),
        Some(format!(
            "image {reference}: registry {} unauthorized: credentials rejected",
            registry.addr
        ))
    );

    let mut anonymous = registry.sources();
    anonymous.credentials.clear();
    let err = env.store.provision(&reference, &anonymous, false).err();
    assert_eq!(
        err.map(|e| e.to_string()),
        Some(format!(
            "image {reference}: registry {} unauthorized: credentials required",
            registry.addr
        ))
    );

    let image = env
        .store
        .provision(&reference, &registry.sources(), false)?;
    assert!(image.layers[0].join("bin/busybox").is_file());
    Ok(())
}

#[test]
fn bearer_tokens_from_an_open_token_server() -> Result {
    let env = env()?;
    let registry = env.token_registry(RegistryOptions::default());
    let pushed = registry.token_requests();
    assert!(
        pushed
            .iter()
            .any(|r| r.scopes == ["repository:team/busybox:pull,push"]),
        "skopeo pushed with a token: {pushed:?}"
    );
    let reference = registry.reference("team/busybox:latest");

    let image = env
        .store
        .provision(&reference, &registry.sources(), false)?;
    assert_eq!(image.config.cmd, vec!["sh".to_string()]);
    assert!(image.layers[0].join("bin/busybox").is_file());
    let pulled = &registry.token_requests()[pushed.len()..];
    let anonymous_pull = TokenRequest {
        account: None,
        scopes: vec!["repository:team/busybox:pull".into()],
        granted: true,
    };
    assert_eq!(pulled, [anonymous_pull]);
    Ok(())
}

#[test]
fn bearer_tokens_for_credentials_and_rejected_ones() -> Result {
    let env = env()?;
    let creds = ("keel".to_string(), "s3cret".to_string());
    let registry = env.token_registry(RegistryOptions {
        basic_auth: Some(creds.clone()),
        tls: false,
    });
    let pushed = registry.token_requests().len();
    let reference = registry.reference("team/busybox:latest");
    let message = |reason: &str| {
        format!(
            "image {reference}: registry {} unauthorized: {reason} by its token service",
            registry.addr
        )
    };

    let mut wrong = registry.sources();
    wrong
        .credentials
        .insert(registry.addr.clone(), (creds.0.clone(), "wrong".into()));
    let err = env.store.provision(&reference, &wrong, false).err();
    assert!(
        matches!(err, Some(ImageError::Unauthorized { .. })),
        "{err:?}"
    );
    assert_eq!(
        err.map(|e| e.to_string()),
        Some(message("credentials rejected"))
    );

    let mut anonymous = registry.sources();
    anonymous.credentials.clear();
    let err = env.store.provision(&reference, &anonymous, false).err();
    assert_eq!(
        err.map(|e| e.to_string()),
        Some(message("credentials required"))
    );

    let image = env
        .store
        .provision(&reference, &registry.sources(), false)?;
    assert!(image.layers[0].join("bin/busybox").is_file());
    let pull = |account: Option<&str>, granted| TokenRequest {
        account: account.map(str::to_string),
        scopes: vec!["repository:team/busybox:pull".into()],
        granted,
    };
    assert_eq!(
        registry.token_requests()[pushed..],
        [
            pull(Some("keel"), false),
            pull(None, false),
            pull(Some("keel"), true)
        ]
    );
    Ok(())
}

#[test]
fn https_with_the_ca_certificate() -> Result {
    let env = env()?;
    let registry = env.registry(RegistryOptions {
        basic_auth: None,
        tls: true,
    });
    let reference = registry.reference("busybox:latest");

    let mut untrusted = registry.sources();
    untrusted.ca_certs.clear();
    let err = env.store.provision(&reference, &untrusted, false).err();
    let msg = err.as_ref().map(|e| e.to_string()).unwrap_or_default();
    assert!(
        matches!(err, Some(ImageError::Unreachable { .. })),
        "{err:?}"
    );
    assert!(msg.contains("certificate"), "{msg}");
    eprintln!("error without the CA: {msg}");

    let started = Instant::now();
    let image = env
        .store
        .provision(&reference, &registry.sources(), false)?;
    eprintln!(
        "timing: pull + unpack busybox over HTTPS: {:?}",
        started.elapsed()
    );
    assert!(image.layers[0].join("bin/busybox").is_file());
    Ok(())
}

#[test]
fn registry_down_is_unreachable() -> Result {
    let env = env()?;
    let addr = format!("127.0.0.1:{}", free_port());
    let sources = Sources {
        insecure_registries: vec![addr.clone()],
        ..Sources::default()
    };
    let reference = format!("{addr}/busybox:latest");
    let err = env.store.provision(&reference, &sources, false).err();
    assert_eq!(
        err.map(|e| e.to_string()),
        Some(format!(
            "image {reference}: registry {addr} unreachable: connection refused"
        ))
    );
    Ok(())
}

#[test]
fn stalled_registry_times_out() -> Result {
    let env = env()?;
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?.to_string();
    // Accepts connections and never answers; the thread ends with the test process.
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            held.push(stream);
        }
    });
    let sources = Sources {
        insecure_registries: vec![addr.clone()],
        timeout: Duration::from_millis(500),
        ..Sources::default()
    };
    let reference = format!("{addr}/busybox:latest");
    let err = env.store.provision(&reference, &sources, false).err();
    assert_eq!(
        err.map(|e| e.to_string()),
        Some(format!(
            "image {reference}: pull from registry {addr} timed out after 500ms"
        ))
    );
    Ok(())
}

#[test]
fn unknown_images_and_tags_are_not_found() -> Result {
    let env = env()?;
    let registry = env.registry(RegistryOptions::default());
    for name in ["nothing:latest", "busybox:no-such-tag"] {
        let reference = registry.reference(name);
        let err = env
            .store
            .provision(&reference, &registry.sources(), false)
            .err();
        assert!(matches!(err, Some(ImageError::NotFound { .. })), "{err:?}");
        assert_eq!(
            err.map(|e| e.to_string()),
            Some(format!(
                "image {reference}: not found in registry {}",
                registry.addr
            ))
        );
    }
    Ok(())
}

#[test]
fn force_pull_re_resolves_the_tag_and_reuses_layers() -> Result {
    let env = env()?;
    let registry = env.registry(RegistryOptions::default());
    registry.push_archive(&env.path().join("busybox:latest.tar"), "app:v1");
    let reference = registry.reference("app:v1");
    let first = env
        .store
        .provision(&reference, &registry.sources(), false)?;
    let inode = std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(&first.layers[0])?);

    // The new app:v1 adds two layers (downloaded in parallel); the first one is cached.
    let motd = LayerBuilder::new().file("etc/motd", 0o644, b"v2\n").build();
    let no_ls = LayerBuilder::new().file("bin/.wh.ls", 0o644, b"").build();
    let changed = env.path().join("changed.tar");
    let layers = [busybox_layer(), motd, no_ls];
    docker_archive(&changed, "app:v1", &layers, json!({"Cmd": ["true"]}));
    registry.push_archive(&changed, "app:v1");

    let cached = env
        .store
        .provision(&reference, &registry.sources(), false)?;
    assert_eq!(
        cached.digest, first.digest,
        "without force_pull the cache answers"
    );
    let started = Instant::now();
    let pulled = env.store.provision(&reference, &registry.sources(), true)?;
    eprintln!(
        "timing: force pull with the layer cached: {:?}",
        started.elapsed()
    );
    assert_ne!(pulled.digest, first.digest);
    assert_eq!(pulled.config.cmd, vec!["true".to_string()]);
    assert_eq!(pulled.layers.len(), 3);
    assert_eq!(pulled.layers[0], first.layers[0]);
    let rootfs = env.path().join("rootfs");
    copy_rootfs(&pulled.layers, &rootfs)?;
    assert_eq!(std::fs::read(rootfs.join("etc/motd"))?, b"v2\n");
    assert!(rootfs.join("bin/cat").symlink_metadata().is_ok());
    assert!(
        rootfs.join("bin/ls").symlink_metadata().is_err(),
        "whited out"
    );
    let again = std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(&pulled.layers[0])?);
    assert_eq!(again, inode, "the cached layer is reused");
    Ok(())
}

#[test]
fn concurrent_provisions_of_one_image_share_one_cache() -> Result {
    let env = env()?;
    let registry = env.registry(RegistryOptions::default());
    let reference = registry.reference("busybox:latest");
    let store = Arc::new(env.store.clone());
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let (store, sources, reference) =
                (store.clone(), registry.sources(), reference.clone());
            std::thread::spawn(move || store.provision(&reference, &sources, false))
        })
        .collect();
    let mut images = Vec::new();
    for t in threads {
        images.push(t.join().map_err(|_| "provision thread panicked")??);
    }
    assert!(images.windows(2).all(|w| w[0] == w[1]), "{images:?}");
    assert_eq!(env.count("layers/sha256"), 1);
    assert_eq!(env.count("images"), 1);
    assert_eq!(env.count("tmp"), 0, "losers discarded their copies");
    assert!(images[0].layers[0].join("bin/busybox").is_file());
    Ok(())
}
