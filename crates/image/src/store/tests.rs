//! Tests of the cache: provisioning from a local archive directory, cache hits, force
//! pulls, concurrent provisions, gc.

use super::*;
use crate::testing::{LayerBuilder, docker_archive};
use crate::{GcReport, Sources};
use serde_json::json;
use std::collections::BTreeSet;
use std::os::unix::fs::MetadataExt;
use std::sync::Arc;

const STALE: Duration = Duration::from_secs(3600);

struct Fixture {
    _dir: tempfile::TempDir,
    archives: PathBuf,
    cache: PathBuf,
    sources: Sources,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let archives = dir.path().join("archives");
    fs::create_dir(&archives).expect("mkdir");
    let sources = Sources {
        local_dir: Some(archives.clone()),
        ..Sources::default()
    };
    Fixture {
        cache: dir.path().join("cache"),
        archives,
        sources,
        _dir: dir,
    }
}

fn base_layer() -> Vec<u8> {
    LayerBuilder::new().file("base", 0o644, b"base").build()
}

fn top_layer(content: &[u8]) -> Vec<u8> {
    LayerBuilder::new().file("top", 0o644, content).build()
}

impl Fixture {
    fn archive(&self, file: &str, layers: &[Vec<u8>], cmd: &str) {
        let tag = file.trim_end_matches(".tar");
        docker_archive(
            &self.archives.join(file),
            tag,
            layers,
            json!({"Cmd": [cmd]}),
        );
    }

    fn store(&self) -> ImageStore {
        ImageStore::open(&self.cache).expect("open")
    }
}

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn provisions_from_the_local_directory_then_from_the_cache() -> Result<(), ImageError> {
    let f = fixture();
    f.archive("app:v1.tar", &[base_layer(), top_layer(b"one")], "one");
    let store = f.store();
    let image = store.provision("127.0.0.1:5000/team/app:v1", &f.sources, false)?;
    assert_eq!(image.reference, "127.0.0.1:5000/team/app:v1");
    assert_eq!(image.config.cmd, vec!["one".to_string()]);
    assert_eq!(
        fs::read(image.layers[1].join("top")).ok(),
        Some(b"one".to_vec())
    );
    expect_test::expect![[r#"
        [
            "127.0.0.1%3A5000%2Fteam%2Fapp%3Av1.json",
        ]
    "#]]
    .assert_debug_eq(&entries(&store.images_dir()));

    fs::remove_file(f.archives.join("app:v1.tar")).expect("rm");
    let again = store.provision("127.0.0.1:5000/team/app:v1", &f.sources, false)?;
    assert_eq!(again, image, "served from the cache without a source");
    assert!(
        entries(&store.tmp_dir()).is_empty(),
        "no staging left behind"
    );
    Ok(())
}

#[test]
fn force_pull_re_resolves_and_reuses_cached_layers() -> Result<(), ImageError> {
    let f = fixture();
    f.archive("app:v1.tar", &[base_layer(), top_layer(b"one")], "one");
    let store = f.store();
    let first = store.provision("app:v1", &f.sources, false)?;
    let base_inode = fs::metadata(&first.layers[0]).map(|m| m.ino()).ok();

    f.archive("app:v1.tar", &[base_layer(), top_layer(b"two")], "two");
    let cached = store.provision("app:v1", &f.sources, false)?;
    assert_eq!(
        cached.digest, first.digest,
        "without force_pull the cache answers"
    );
    let pulled = store.provision("app:v1", &f.sources, true)?;
    assert_ne!(pulled.digest, first.digest);
    assert_eq!(pulled.config.cmd, vec!["two".to_string()]);
    assert_eq!(pulled.layers[0], first.layers[0]);
    assert_eq!(
        fs::metadata(&pulled.layers[0]).map(|m| m.ino()).ok(),
        base_inode,
        "the shared layer is reused, not unpacked again"
    );
    assert_eq!(entries(&store.layers_dir()).len(), 3);
    Ok(())
}

#[test]
fn concurrent_provisions_share_one_copy() -> Result<(), ImageError> {
    let f = fixture();
    f.archive("app:v1.tar", &[base_layer(), top_layer(b"one")], "one");
    let store = Arc::new(f.store());
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let (store, sources) = (store.clone(), f.sources.clone());
            std::thread::spawn(move || store.provision("app:v1", &sources, true))
        })
        .collect();
    let images: Vec<Image> = threads
        .into_iter()
        .map(|t| t.join().expect("thread"))
        .collect::<Result<_, _>>()?;
    assert!(images.windows(2).all(|w| w[0] == w[1]));
    assert_eq!(entries(&store.layers_dir()).len(), 2);
    assert!(entries(&store.tmp_dir()).is_empty());
    Ok(())
}

#[test]
fn gc_removes_unused_images_then_unreferenced_layers() -> Result<(), ImageError> {
    let f = fixture();
    f.archive("old:v1.tar", &[base_layer(), top_layer(b"old")], "old");
    f.archive("new:v1.tar", &[base_layer(), top_layer(b"new")], "new");
    f.archive("busy:v1.tar", &[top_layer(b"busy")], "busy");
    let store = f.store();
    let old = store.provision("old:v1", &f.sources, false)?;
    let busy = store.provision("busy:v1", &f.sources, false)?;
    let new = store.provision("new:v1", &f.sources, false)?;
    // Last uses: old and busy at t0, new an hour later; gc runs at t0 + 2h.
    let t0 = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let hour = Duration::from_secs(3600);
    for (image, used) in [(&old, t0), (&busy, t0), (&new, t0 + hour)] {
        let path = store.record_path(&image.reference);
        let mut record = store.read_record(&path).expect("record");
        record.last_used_ms = to_ms(used);
        store.write_record(&record)?;
    }
    let now = t0 + 2 * hour;
    let in_use: BTreeSet<String> = busy.layer_ids.iter().cloned().collect();

    let nothing = store.gc(3 * hour, &in_use, now)?;
    assert_eq!(
        nothing,
        GcReport::default(),
        "everything was used within three hours"
    );

    let report = store.gc(90 * 60 * Duration::from_secs(1), &in_use, now)?;
    assert_eq!(report.images, vec![old.reference.clone()]);
    assert_eq!(
        report.layers,
        vec![old.layer_ids[1].clone()],
        "the base is still new's"
    );
    assert!(report.bytes >= 3, "{report:?}");
    assert!(busy.layers[0].is_dir() && new.layers[0].is_dir() && !old.layers[1].exists());
    let again = store.provision("new:v1", &f.sources, false)?;
    assert_eq!(again, new);

    let all = store.gc(Duration::ZERO, &BTreeSet::new(), SystemTime::now())?;
    assert!(
        entries(&store.layers_dir()).is_empty(),
        "{all:?} {:?}",
        entries(&store.layers_dir())
    );
    assert!(entries(&store.images_dir()).is_empty());
    assert!(entries(&store.tmp_dir()).is_empty());
    Ok(())
}

#[test]
fn gc_removes_stale_staging_only() -> Result<(), ImageError> {
    let f = fixture();
    let store = f.store();
    let leftover = store.staging("layer");
    fs::create_dir(leftover.path()).expect("mkdir");
    let now = SystemTime::now();
    store.gc(Duration::ZERO, &BTreeSet::new(), now)?;
    assert!(
        leftover.path().exists(),
        "a fresh staging directory may be in use"
    );
    store.gc(Duration::ZERO, &BTreeSet::new(), now + 2 * STALE)?;
    assert!(!leftover.path().exists());
    Ok(())
}

#[test]
fn record_names_are_escaped_or_hashed() {
    assert_eq!(
        record_file_name("docker.io/library/busybox:latest"),
        "docker.io%2Flibrary%2Fbusybox%3Alatest.json"
    );
    let long = format!("registry.example.com/{}:v1", "a".repeat(200));
    let name = record_file_name(&long);
    assert!(name.starts_with("h-") && name.len() == 2 + 64 + 5, "{name}");
}

#[test]
fn invalid_references_and_missing_images() {
    let f = fixture();
    let store = f.store();
    let err = store
        .provision("Bad/Name", &f.sources, false)
        .err()
        .map(|e| e.to_string());
    assert_eq!(
        err.as_deref(),
        Some(r#"invalid image reference "Bad/Name": repository name must be lowercase"#)
    );
}
