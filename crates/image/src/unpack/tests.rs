//! Tests of layer unpacking: metadata kept, whiteouts converted, escapes refused, digests
//! verified. Run as root (CI does): whiteouts are device nodes and `trusted.*` xattrs.

use super::*;
use crate::digest::sha256;
use crate::testing::LayerBuilder;
use std::io::Write;
use std::os::unix::fs::{FileTypeExt, MetadataExt};

fn unpack(layer: &[u8]) -> (tempfile::TempDir, Result<(), LayerError>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let result = unpack_tar(layer, dir.path());
    (dir, result)
}

fn bad_reason(result: Result<(), LayerError>) -> String {
    match result {
        Err(LayerError::Bad(reason)) => reason,
        other => panic!("expected a bad layer, got {other:?}"),
    }
}

#[test]
fn keeps_modes_owners_links_and_mtimes() -> io::Result<()> {
    let mut h = LayerBuilder::raw_header(EntryType::Regular, 0o4755);
    h.set_uid(1000);
    h.set_gid(1001);
    let layer = LayerBuilder::new()
        .dir("usr", 0o750)
        .file("usr/tool", 0o644, b"tool")
        .raw(h, b"usr/suid", b"", b"#!/bin/sh\n")
        .symlink("usr/abs", "/etc/passwd")
        .hard_link("usr/tool2", "usr/tool")
        .file("./dotted/name", 0o600, b"x")
        .build();
    let (dir, result) = unpack(&layer);
    result.map_err(|e| io::Error::other(format!("{e:?}")))?;
    let root = dir.path();
    let usr = fs::metadata(root.join("usr"))?;
    assert_eq!(usr.mode() & 0o7777, 0o750);
    assert_eq!(
        usr.mtime(),
        crate::testing::MTIME as i64,
        "dir mtime set last"
    );
    let suid = fs::metadata(root.join("usr/suid"))?;
    assert_eq!(suid.mode() & 0o7777, 0o4755, "set-uid survives chown");
    assert_eq!((suid.uid(), suid.gid()), (1000, 1001));
    assert_eq!(
        fs::read_link(root.join("usr/abs"))?,
        Path::new("/etc/passwd")
    );
    let (a, b) = (
        fs::metadata(root.join("usr/tool"))?,
        fs::metadata(root.join("usr/tool2"))?,
    );
    assert_eq!(a.ino(), b.ino(), "hard link shares the inode");
    assert_eq!(a.mtime(), crate::testing::MTIME as i64);
    assert_eq!(fs::read(root.join("dotted/name"))?, b"x");
    Ok(())
}

#[test]
fn whiteouts_become_overlay_devices_and_opaque_xattrs() -> io::Result<()> {
    let layer = LayerBuilder::new()
        .dir("etc", 0o755)
        .file("etc/.wh.motd", 0o644, b"")
        .dir("var/cache", 0o755)
        .file("var/cache/.wh..wh..opq", 0o644, b"")
        .file("var/cache/new", 0o644, b"new")
        .file(".wh..wh.plnk", 0o644, b"")
        .build();
    let (dir, result) = unpack(&layer);
    result.map_err(|e| io::Error::other(format!("{e:?}")))?;
    let root = dir.path();
    let motd = fs::symlink_metadata(root.join("etc/motd"))?;
    assert!(motd.file_type().is_char_device() && motd.rdev() == 0);
    assert!(!root.join("etc/.wh.motd").exists());
    let opaque = sys::get_xattr(&root.join("var/cache"), OPAQUE_XATTR)?;
    assert_eq!(opaque.as_deref(), Some(&b"y"[..]));
    assert!(!root.join("var/cache/.wh..wh..opq").exists());
    assert_eq!(fs::read(root.join("var/cache/new"))?, b"new");
    assert!(!root.join(".wh..wh.plnk").exists());
    Ok(())
}

#[test]
fn absolute_names_stay_inside_the_layer() -> io::Result<()> {
    let h = LayerBuilder::raw_header(EntryType::Regular, 0o644);
    let layer = LayerBuilder::new().raw(h, b"/abs/file", b"", b"in").build();
    let (dir, result) = unpack(&layer);
    result.map_err(|e| io::Error::other(format!("{e:?}")))?;
    assert_eq!(fs::read(dir.path().join("abs/file"))?, b"in");
    Ok(())
}

#[test]
fn refuses_entries_that_escape() {
    let file = || LayerBuilder::raw_header(EntryType::Regular, 0o644);
    let dotdot = LayerBuilder::new()
        .raw(file(), b"a/../../x", b"", b"x")
        .build();
    expect_test::expect!["a/../../x: path contains '..'"].assert_eq(&bad_reason(unpack(&dotdot).1));

    let outside = tempfile::tempdir().expect("tempdir");
    let target = outside.path().to_string_lossy().into_owned();
    let through_symlink = LayerBuilder::new()
        .symlink("evil", &target)
        .raw(file(), b"evil/owned", b"", b"x")
        .build();
    let (dir, result) = unpack(&through_symlink);
    let reason = bad_reason(result);
    assert!(reason.contains("is not a directory"), "{reason}");
    assert!(!outside.path().join("owned").exists());
    drop(dir);

    let link = LayerBuilder::raw_header(EntryType::Link, 0o644);
    let hard_outside = LayerBuilder::new()
        .raw(link, b"passwd", b"../../etc/passwd", b"")
        .build();
    expect_test::expect!["passwd: path contains '..'"]
        .assert_eq(&bad_reason(unpack(&hard_outside).1));

    let link = LayerBuilder::raw_header(EntryType::Link, 0o644);
    let hard_via_symlink = LayerBuilder::new()
        .symlink("etc", "/etc")
        .raw(link, b"shadow", b"etc/shadow", b"")
        .build();
    let reason = bad_reason(unpack(&hard_via_symlink).1);
    assert!(reason.contains("is not a directory"), "{reason}");
}

#[test]
fn later_entries_replace_earlier_ones() -> io::Result<()> {
    let layer = LayerBuilder::new()
        .file("x", 0o644, b"first")
        .symlink("x", "target")
        .dir("d", 0o755)
        .file("d", 0o600, b"file now")
        .build();
    let (dir, result) = unpack(&layer);
    result.map_err(|e| io::Error::other(format!("{e:?}")))?;
    assert_eq!(fs::read_link(dir.path().join("x"))?, Path::new("target"));
    assert_eq!(fs::read(dir.path().join("d"))?, b"file now");
    Ok(())
}

#[test]
fn devices_and_fifos() -> io::Result<()> {
    let mut null = LayerBuilder::raw_header(EntryType::Char, 0o666);
    null.set_device_major(1)?;
    null.set_device_minor(3)?;
    let fifo = LayerBuilder::raw_header(EntryType::Fifo, 0o600);
    let layer = LayerBuilder::new()
        .raw(null, b"dev/null", b"", b"")
        .raw(fifo, b"run/pipe", b"", b"")
        .build();
    let (dir, result) = unpack(&layer);
    result.map_err(|e| io::Error::other(format!("{e:?}")))?;
    let null = fs::symlink_metadata(dir.path().join("dev/null"))?;
    assert!(null.file_type().is_char_device());
    assert_eq!(sys::dev_parts(null.rdev()), (1, 3));
    assert_eq!(null.mode() & 0o7777, 0o666);
    assert!(
        fs::symlink_metadata(dir.path().join("run/pipe"))?
            .file_type()
            .is_fifo()
    );
    Ok(())
}

#[test]
fn gzip_layers_are_verified_against_both_digests() -> io::Result<()> {
    let layer = LayerBuilder::new().file("hello", 0o644, b"hello").build();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&layer)?;
    let gz = gz.finish()?;
    let (diff_id, blob) = (sha256(&layer), sha256(&gz));

    let dir = tempfile::tempdir()?;
    let ok = Expected {
        diff_id: &diff_id,
        blob: Some(&blob),
    };
    unpack_layer(&gz[..], dir.path(), &ok).map_err(|e| io::Error::other(format!("{e:?}")))?;
    assert_eq!(fs::read(dir.path().join("hello"))?, b"hello");

    let wrong = sha256(b"something else");
    let dir = tempfile::tempdir()?;
    let bad_diff = Expected {
        diff_id: &wrong,
        blob: Some(&blob),
    };
    match unpack_layer(&gz[..], dir.path(), &bad_diff) {
        Err(LayerError::Mismatch {
            what,
            expected,
            actual,
        }) => {
            assert_eq!(
                (what, expected, actual),
                ("uncompressed content", wrong.clone(), diff_id.clone())
            );
        }
        other => panic!("expected a mismatch, got {other:?}"),
    }
    let dir = tempfile::tempdir()?;
    let bad_blob = Expected {
        diff_id: &diff_id,
        blob: Some(&wrong),
    };
    assert!(matches!(
        unpack_layer(&gz[..], dir.path(), &bad_blob),
        Err(LayerError::Mismatch { what: "blob", .. })
    ));
    Ok(())
}

#[test]
fn zstd_and_garbage_are_clear_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let zstd = [0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0];
    let any = Expected {
        diff_id: "sha256:x",
        blob: None,
    };
    let reason = match unpack_layer(&zstd[..], dir.path(), &any) {
        Err(LayerError::Bad(reason)) => reason,
        other => panic!("{other:?}"),
    };
    assert_eq!(reason, "zstd-compressed layers are not supported");
    let garbage = vec![7u8; 1024];
    assert!(matches!(
        unpack_layer(&garbage[..], dir.path(), &any),
        Err(LayerError::Bad(_))
    ));
}
