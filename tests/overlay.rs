//! `overlay` through the binary: mask kinds, unpaired files, scale and format.

use assert_cmd::Command;
use std::path::{Path, PathBuf};

fn bin() -> Command {
    let mut c = Command::cargo_bin("neutrostruct").expect("binary is built");
    c.env("NO_COLOR", "1");
    c
}

/// A small synthetic release (images) and its masks of `kind` in `dir`.
fn release(dir: &Path, kind: &str) -> (PathBuf, PathBuf) {
    let data = dir.join("data");
    bin()
        .args([
            "synth", "--images", "2", "--width", "200", "--height", "150",
        ])
        .args(["--per-image", "12", "--out"])
        .arg(&data)
        .assert()
        .success();
    let masks = dir.join(format!("masks_{kind}"));
    bin()
        .arg("masks")
        .arg(data.join("annotations_4classes.xml"))
        .args(["--kind", kind, "--out"])
        .arg(&masks)
        .assert()
        .success();
    (data.join("images"), masks)
}

fn overlay(images: &Path, masks: &Path, out: &Path, extra: &[&str]) -> (i32, String) {
    let o = bin()
        .arg("overlay")
        .arg("--images")
        .arg(images)
        .arg("--masks")
        .arg(masks)
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Distinct non-gray colours of an overlay: the mask was coloured.
fn colours(path: &Path) -> usize {
    let img = image::open(path).unwrap().to_rgb8();
    let mut set = std::collections::HashSet::new();
    for p in img.pixels() {
        let [r, g, b] = p.0;
        if r.abs_diff(g) > 40 || g.abs_diff(b) > 40 {
            set.insert(p.0);
        }
    }
    set.len()
}

#[test]
fn every_mask_kind_is_coloured_and_defaults_are_half_size_jpeg() {
    let dir = tempfile::tempdir().unwrap();
    for kind in ["color", "index", "instance"] {
        let (images, masks) = release(dir.path(), kind);
        let out = dir.path().join(format!("out_{kind}"));
        let (code, err) = overlay(&images, &masks, &out, &["--ids", "--legend"]);
        assert_eq!(code, 0, "{kind}: {err}");
        let first = out.join("synth_000.jpg");
        let first = if first.is_file() {
            first
        } else {
            std::fs::read_dir(&out)
                .unwrap()
                .map(|e| e.unwrap().path())
                .find(|p| {
                    p.extension().is_some_and(|x| x == "jpg") && !p.ends_with("contact_sheet.jpg")
                })
                .unwrap()
        };
        let img = image::open(&first).unwrap();
        assert_eq!((img.width(), img.height()), (100, 75), "{kind}: half size");
        assert!(
            colours(&first) > 20,
            "{kind}: no colour in {}",
            first.display()
        );
        assert!(out.join("contact_sheet.jpg").is_file());
    }
}

#[test]
fn an_index_mask_without_labelmap_is_refused_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let (images, masks) = release(dir.path(), "index");
    std::fs::remove_file(masks.join("labelmap.txt")).unwrap();
    let (code, err) = overlay(&images, &masks, &dir.path().join("o"), &[]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("class-index") && err.contains("masks_index"),
        "{err}"
    );
    // A label set given on the command line colours it.
    let (code, err) = overlay(
        &images,
        &masks,
        &dir.path().join("o2"),
        &["--labelset", "4"],
    );
    assert_eq!(code, 0, "{err}");
}

#[test]
fn unpaired_files_are_listed_and_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let (images, masks) = release(dir.path(), "color");
    let mut names: Vec<PathBuf> = std::fs::read_dir(&images)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    // One image loses its mask, and a mask appears with no image.
    let stem = names[0].file_stem().unwrap().to_str().unwrap().to_owned();
    std::fs::rename(masks.join(format!("{stem}.png")), masks.join("orphan.png")).unwrap();
    let out = dir.path().join("o");
    let (code, err) = overlay(
        &images,
        &masks,
        &out,
        &["--image-format", "png", "--scale", "1"],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("warning: image without mask, skipped"),
        "{err}"
    );
    assert!(
        err.contains("warning: mask without image, skipped") && err.contains("orphan.png"),
        "{err}"
    );
    assert!(
        err.contains("skipped: 1 images without mask, 1 masks without image"),
        "{err}"
    );
    let written: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".png") && n != "contact_sheet.png")
        .collect();
    assert_eq!(written.len(), names.len() - 1);
    let img = image::open(out.join(&written[0])).unwrap();
    assert_eq!((img.width(), img.height()), (200, 150), "--scale 1");
    // Nothing paired at all is a usage error.
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let (code, err) = overlay(&images, &empty, &dir.path().join("o3"), &[]);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn bad_scale_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let (code, err) = overlay(
        dir.path(),
        dir.path(),
        &dir.path().join("o"),
        &["--scale", "0"],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--scale"), "{err}");
}
