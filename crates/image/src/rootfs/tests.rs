//! Tests of `copy_rootfs`: layers in overlay form (as `unpack` writes them) merged into
//! one directory as overlayfs would show them.

use super::*;
use crate::testing::LayerBuilder;
use crate::unpack::unpack_tar;

/// Unpacks each layer tar into `base/layer-<i>` and returns the directories.
fn layers(base: &Path, tars: &[Vec<u8>]) -> io::Result<Vec<PathBuf>> {
    let mut dirs = Vec::new();
    for (i, tar) in tars.iter().enumerate() {
        let dir = base.join(format!("layer-{i}"));
        fs::create_dir(&dir)?;
        unpack_tar(&tar[..], &dir).map_err(|e| io::Error::other(format!("{e:?}")))?;
        dirs.push(dir);
    }
    Ok(dirs)
}

/// Every path under `dir` with a one-letter kind (`d`, `f:<content>`, `l-><target>`).
fn tree(dir: &Path) -> io::Result<Vec<String>> {
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let mut names: Vec<_> = fs::read_dir(dir.join(&rel))?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<io::Result<_>>()?;
        names.sort();
        for name in names {
            let rel = rel.join(name);
            let path = dir.join(&rel);
            let md = fs::symlink_metadata(&path)?;
            let kind = if md.is_dir() {
                stack.push(rel.clone());
                "d".to_string()
            } else if md.file_type().is_symlink() {
                format!("l->{}", fs::read_link(&path)?.display())
            } else if md.is_file() {
                format!("f:{}", String::from_utf8_lossy(&fs::read(&path)?))
            } else {
                "other".to_string()
            };
            out.push(format!("{} {kind}", rel.display()));
        }
    }
    out.sort();
    Ok(out)
}

#[test]
fn whiteouts_delete_and_opaque_directories_replace() -> io::Result<()> {
    let base = tempfile::tempdir()?;
    let lower = LayerBuilder::new()
        .file("gone", 0o644, b"lower")
        .file("kept", 0o644, b"lower")
        .dir("merged", 0o755)
        .file("merged/a", 0o644, b"lower")
        .file("merged/b", 0o644, b"lower")
        .dir("opaque", 0o755)
        .file("opaque/old", 0o644, b"lower")
        .dir("dir-to-file", 0o755)
        .file("dir-to-file/x", 0o644, b"lower")
        .symlink("link-to-dir", "merged")
        .build();
    let upper = LayerBuilder::new()
        .file(".wh.gone", 0o644, b"")
        .dir("merged", 0o700)
        .file("merged/.wh.a", 0o644, b"")
        .file("merged/c", 0o644, b"upper")
        .dir("opaque", 0o755)
        .file("opaque/.wh..wh..opq", 0o644, b"")
        .file("opaque/new", 0o644, b"upper")
        .file("dir-to-file", 0o644, b"upper")
        .dir("link-to-dir", 0o755)
        .file("link-to-dir/inside", 0o644, b"upper")
        .build();
    let dirs = layers(base.path(), &[lower, upper])?;
    let dest = base.path().join("rootfs");
    copy_rootfs(&dirs, &dest).map_err(io::Error::other)?;
    expect_test::expect![[r#"
        [
            "dir-to-file f:upper",
            "kept f:lower",
            "link-to-dir d",
            "link-to-dir/inside f:upper",
            "merged d",
            "merged/b f:lower",
            "merged/c f:upper",
            "opaque d",
            "opaque/new f:upper",
        ]
    "#]]
    .assert_debug_eq(&tree(&dest)?);
    let merged = fs::metadata(dest.join("merged"))?;
    assert_eq!(
        merged.mode() & 0o7777,
        0o700,
        "the upper directory's mode wins"
    );
    assert_eq!(merged.mtime(), crate::testing::MTIME as i64);
    assert!(
        fs::symlink_metadata(base.path().join("layer-0/merged"))?.is_dir(),
        "layers are not modified"
    );
    Ok(())
}

#[test]
fn hard_links_and_modes_survive_the_copy() -> io::Result<()> {
    let base = tempfile::tempdir()?;
    let layer = LayerBuilder::new()
        .file("bin/tool", 0o4755, b"tool")
        .hard_link("bin/alias", "bin/tool")
        .symlink("bin/sh", "tool")
        .build();
    let dirs = layers(base.path(), &[layer])?;
    let dest = base.path().join("rootfs");
    copy_rootfs(&dirs, &dest).map_err(io::Error::other)?;
    let (tool, alias) = (
        fs::metadata(dest.join("bin/tool"))?,
        fs::metadata(dest.join("bin/alias"))?,
    );
    assert_eq!(tool.ino(), alias.ino());
    assert_eq!(tool.mode() & 0o7777, 0o4755);
    assert_eq!(tool.mtime(), crate::testing::MTIME as i64);
    assert_eq!(fs::read_link(dest.join("bin/sh"))?, Path::new("tool"));
    Ok(())
}

#[test]
fn errors_name_the_layer() {
    let base = tempfile::tempdir().expect("tempdir");
    let missing = base.path().join("missing-layer");
    let err = copy_rootfs(std::slice::from_ref(&missing), &base.path().join("rootfs"));
    let msg = err.map_err(|e| e.to_string()).err().unwrap_or_default();
    assert!(
        msg.starts_with(&format!("rootfs {}", missing.display())),
        "{msg}"
    );
}
