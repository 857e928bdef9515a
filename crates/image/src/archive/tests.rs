//! Tests of archive loading: `docker save` (legacy and `blobs/` layouts), OCI layouts with
//! nested indexes, as tar, gzipped tar and directory; digests verified.

use super::*;
use crate::testing::{LayerBuilder, docker_archive, image_config, oci_arch, write_tar};
use crate::{Image, ImageError};
use serde_json::json;
use std::io::Write;

fn layer_a() -> Vec<u8> {
    LayerBuilder::new().file("a", 0o644, b"a").build()
}

fn layer_b() -> Vec<u8> {
    LayerBuilder::new()
        .file("b", 0o644, b"b")
        .file(".wh.a", 0o644, b"")
        .build()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(data).expect("gzip");
    gz.finish().expect("gzip")
}

fn hex(data: &[u8]) -> String {
    sha256(data)[7..].to_string()
}

struct Fixture {
    dir: tempfile::TempDir,
    store: ImageStore,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = ImageStore::open(&dir.path().join("cache")).expect("store");
    Fixture { dir, store }
}

impl Fixture {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn load(&self, name: &str, reference: Option<&str>) -> Result<Image, ImageError> {
        self.store.load_archive(&self.path(name), reference)
    }
}

fn assert_two_layer_image(image: &Image, reference: &str) {
    assert_eq!(image.reference, reference);
    assert_eq!(
        image.layer_ids,
        vec![sha256(&layer_a()), sha256(&layer_b())]
    );
    assert_eq!(image.config.cmd, vec!["run".to_string()]);
    assert_eq!(
        fs::read(image.layers[0].join("a")).ok(),
        Some(b"a".to_vec())
    );
    assert_eq!(
        fs::read(image.layers[1].join("b")).ok(),
        Some(b"b".to_vec())
    );
    assert!(
        image.layers[1].join("a").symlink_metadata().is_ok(),
        "whiteout"
    );
}

#[test]
fn docker_save_legacy_layout_as_tar_gzip_and_directory() -> Result<(), ImageError> {
    let f = fixture();
    let layers = [layer_a(), layer_b()];
    docker_archive(
        &f.path("app.tar"),
        "team/app:v1",
        &layers,
        json!({"Cmd": ["run"]}),
    );
    let image = f.load("app.tar", None)?;
    assert_two_layer_image(&image, "docker.io/team/app:v1");
    let config = image_config(&layers, json!({"Cmd": ["run"]}));
    assert_eq!(
        image.digest,
        sha256(&config),
        "docker save images are named by config"
    );

    let tar = fs::read(f.path("app.tar")).expect("read");
    fs::write(f.path("app.tar.gz"), gzip(&tar)).expect("write");
    let image = f.load("app.tar.gz", Some("other/name:v2"))?;
    assert_two_layer_image(&image, "docker.io/other/name:v2");

    let unpacked = f.path("unpacked");
    fs::create_dir(&unpacked).expect("mkdir");
    tar::Archive::new(&tar[..])
        .unpack(&unpacked)
        .expect("unpack");
    assert_two_layer_image(&f.load("unpacked", None)?, "docker.io/team/app:v1");
    Ok(())
}

#[test]
fn docker_save_blobs_layout_with_gzip_layers() -> Result<(), ImageError> {
    let f = fixture();
    let layers = [layer_a(), layer_b()];
    let config = image_config(&layers, json!({"Cmd": ["run"]}));
    let gz: Vec<Vec<u8>> = layers.iter().map(|l| gzip(l)).collect();
    let manifest = json!([{
        "Config": format!("blobs/sha256/{}", hex(&config)),
        "RepoTags": ["127.0.0.1:5000/app:v1"],
        "Layers": gz.iter().map(|l| format!("blobs/sha256/{}", hex(l))).collect::<Vec<_>>(),
    }]);
    let mut files = vec![
        (
            "manifest.json".to_string(),
            serde_json::to_vec(&manifest).expect("json"),
        ),
        (format!("blobs/sha256/{}", hex(&config)), config.clone()),
    ];
    files.extend(
        gz.iter()
            .map(|l| (format!("blobs/sha256/{}", hex(l)), l.clone())),
    );
    write_tar(&f.path("new.tar"), &files);
    assert_two_layer_image(&f.load("new.tar", None)?, "127.0.0.1:5000/app:v1");
    Ok(())
}

/// Writes an OCI layout; with `multi_platform` the top descriptor is an index with this
/// platform and another one.
fn write_oci_layout(f: &Fixture, name: &str, ref_name: &str, multi_platform: bool) {
    let layers = [layer_a(), layer_b()];
    let config = image_config(&layers, json!({"Cmd": ["run"]}));
    let gz: Vec<Vec<u8>> = layers.iter().map(|l| gzip(l)).collect();
    let desc = |media: &str, blob: &[u8]| json!({"mediaType": media, "digest": sha256(blob), "size": blob.len()});
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": desc("application/vnd.oci.image.config.v1+json", &config),
        "layers": gz.iter().map(|l| desc("application/vnd.oci.image.layer.v1.tar+gzip", l)).collect::<Vec<_>>(),
    }))
    .expect("json");
    let mut blobs = vec![config.clone(), manifest.clone()];
    blobs.extend(gz.iter().cloned());
    let mut top = desc("application/vnd.oci.image.manifest.v1+json", &manifest);
    if multi_platform {
        let other = if oci_arch() == "arm64" {
            "amd64"
        } else {
            "arm64"
        };
        let mut foreign = desc("application/vnd.oci.image.manifest.v1+json", b"not present");
        foreign["platform"] = json!({"os": "linux", "architecture": other});
        let mut native = desc("application/vnd.oci.image.manifest.v1+json", &manifest);
        native["platform"] = json!({"os": "linux", "architecture": oci_arch()});
        let index = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [foreign, native],
        }))
        .expect("json");
        top = desc("application/vnd.oci.image.index.v1+json", &index);
        blobs.push(index);
    }
    top["annotations"] = json!({"org.opencontainers.image.ref.name": ref_name});
    let index = json!({"schemaVersion": 2, "manifests": [top]});
    let mut files = vec![
        (
            "oci-layout".to_string(),
            br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec(),
        ),
        (
            "index.json".to_string(),
            serde_json::to_vec(&index).expect("json"),
        ),
    ];
    files.extend(
        blobs
            .into_iter()
            .map(|b| (format!("blobs/sha256/{}", hex(&b)), b)),
    );
    write_tar(&f.path(name), &files);
}

#[test]
fn oci_layouts_with_and_without_an_index_per_platform() -> Result<(), ImageError> {
    let f = fixture();
    write_oci_layout(&f, "single.tar", "registry.example.com/app:v1", false);
    let image = f.load("single.tar", None)?;
    assert_two_layer_image(&image, "registry.example.com/app:v1");
    let manifest_digest = image.digest.clone();

    write_oci_layout(&f, "multi.tar", "latest", true);
    let err = f
        .load("multi.tar", None)
        .map(|_| ())
        .map_err(|e| e.to_string());
    assert!(
        err.as_ref()
            .is_err_and(|e| e.ends_with("the image has no name: pass a reference")),
        "a bare tag is not a name: {err:?}"
    );
    let image = f.load("multi.tar", Some("app:v1"))?;
    assert_two_layer_image(&image, "docker.io/library/app:v1");
    assert_eq!(
        image.digest, manifest_digest,
        "the platform's manifest is chosen"
    );
    Ok(())
}

#[test]
fn archive_with_several_images_needs_a_matching_reference() -> Result<(), ImageError> {
    let f = fixture();
    let layers = [layer_a()];
    let config = image_config(&layers, json!({"Cmd": ["run"]}));
    let config_name = format!("{}.json", hex(&config));
    let layer_name = format!("{}/layer.tar", hex(&layers[0]));
    let manifest = json!([
        {"Config": config_name, "RepoTags": ["one:latest"], "Layers": [layer_name]},
        {"Config": config_name, "RepoTags": ["two:latest"], "Layers": [layer_name]},
    ]);
    write_tar(
        &f.path("two.tar"),
        &[
            (
                "manifest.json".into(),
                serde_json::to_vec(&manifest).expect("json"),
            ),
            (config_name.clone(), config),
            (layer_name.clone(), layers[0].clone()),
        ],
    );
    assert_eq!(
        f.load("two.tar", Some("two"))?.reference,
        "docker.io/library/two:latest"
    );
    let err = f.load("two.tar", None).err().map(|e| e.to_string());
    let path = f.path("two.tar");
    assert_eq!(
        err,
        Some(format!(
            "image archive {}: the archive holds 2 images: pass a reference",
            path.display()
        ))
    );
    let err = f
        .load("two.tar", Some("three"))
        .err()
        .map(|e| e.to_string());
    assert_eq!(
        err,
        Some(format!(
            "image archive {}: the archive holds 2 images, none named docker.io/library/three:latest",
            path.display()
        ))
    );
    Ok(())
}

#[test]
fn tampered_layers_and_configs_are_digest_mismatches() {
    let f = fixture();
    let layers = [layer_a()];
    let config = image_config(&layers, json!({}));
    let config_name = format!("{}.json", hex(&config));
    let tampered = LayerBuilder::new().file("a", 0o644, b"evil").build();
    let manifest =
        json!([{"Config": config_name, "RepoTags": ["app:v1"], "Layers": ["l/layer.tar"]}]);
    let manifest = serde_json::to_vec(&manifest).expect("json");
    write_tar(
        &f.path("layer.tar"),
        &[
            ("manifest.json".into(), manifest.clone()),
            (config_name.clone(), config.clone()),
            ("l/layer.tar".into(), tampered.clone()),
        ],
    );
    match f.load("layer.tar", None) {
        Err(ImageError::DigestMismatch {
            image,
            expected,
            actual,
            ..
        }) => {
            assert_eq!(image, "docker.io/library/app:v1");
            assert_eq!((expected, actual), (sha256(&layers[0]), sha256(&tampered)));
        }
        other => panic!("expected a digest mismatch, got {other:?}"),
    }
    assert_eq!(
        fs::read_dir(f.store.layers_dir()).map(|d| d.count()).ok(),
        Some(0),
        "nothing of a bad layer reaches the cache"
    );
    assert_eq!(
        fs::read_dir(f.store.tmp_dir()).map(|d| d.count()).ok(),
        Some(0)
    );

    let mut other_config = config.clone();
    other_config.push(b' ');
    write_tar(
        &f.path("config.tar"),
        &[
            ("manifest.json".into(), manifest),
            (config_name.clone(), other_config),
            ("l/layer.tar".into(), layers[0].clone()),
        ],
    );
    let err = f
        .load("config.tar", None)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains(&format!("digest mismatch for {config_name}")),
        "{err}"
    );
}

#[test]
fn members_pointing_outside_the_archive_are_refused() {
    let f = fixture();
    let unpacked = f.path("dir");
    fs::create_dir(&unpacked).expect("mkdir");
    let manifest = json!([{"Config": "../secret.json", "RepoTags": ["app:v1"], "Layers": []}]);
    fs::write(
        unpacked.join("manifest.json"),
        serde_json::to_vec(&manifest).expect("json"),
    )
    .expect("write");
    let err = f
        .load("dir", None)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.ends_with("../secret.json: path contains '..'"), "{err}");

    std::os::unix::fs::symlink("/etc/hostname", unpacked.join("cfg.json")).expect("symlink");
    let manifest = json!([{"Config": "cfg.json", "RepoTags": ["app:v1"], "Layers": []}]);
    fs::write(
        unpacked.join("manifest.json"),
        serde_json::to_vec(&manifest).expect("json"),
    )
    .expect("write");
    let err = f
        .load("dir", None)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.ends_with("cfg.json points outside the archive"),
        "{err}"
    );
}

#[test]
fn not_an_archive() {
    let f = fixture();
    fs::write(f.path("junk.tar"), b"junk").expect("write");
    let err = f
        .load("junk.tar", None)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.starts_with(&format!("image archive {}: ", f.path("junk.tar").display())),
        "{err}"
    );
    let err = f
        .load("missing.tar", None)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("cannot read"), "{err}");
}
