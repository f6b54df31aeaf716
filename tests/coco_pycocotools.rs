//! Cross-check with the reference implementation: pycocotools must load what we write and
//! decode every mask to the area we wrote. Ignored by default (needs python3 + pycocotools):
//! `cargo test --test coco_pycocotools -- --ignored`.

use neutrostruct::coco::{self, read_path, ReadOptions, WriteOptions};
use std::path::Path;
use std::process::Command;

#[test]
#[ignore]
fn pycocotools_reads_our_output() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for f in [
        "cvat-ellipse/annotations_4classes.json",
        "datumaro-coco/instances_val.json",
        "coco-extras/unknown_fields.json",
    ] {
        let (ds, _) = read_path(
            &Path::new("tests/fixtures/conformance").join(f),
            &ReadOptions::default(),
        )
        .unwrap();
        // Also as generated geometry: drop the kept COCO fields so polygons and RLE strings
        // are written by us.
        let mut fresh = ds.clone();
        fresh.annotations.iter_mut().for_each(|a| a.coco = None);
        // Dangling references cannot be decoded by pycocotools (no image size): skip them.
        let ids: Vec<_> = fresh.images.iter().map(|i| i.id).collect();
        fresh.annotations.retain(|a| ids.contains(&a.image_id));
        for (i, d) in [&ds, &fresh].into_iter().enumerate() {
            let mut d = d.clone();
            d.annotations.retain(|a| ids.contains(&a.image_id));
            let out = dir.path().join(format!("{}-{i}.json", f.replace('/', "_")));
            coco::write_path(&d, &out, &WriteOptions::default()).unwrap();
            files.push(out);
        }
    }
    let status = Command::new("python3")
        .arg("tests/pycocotools_check.py")
        .args(&files)
        .status()
        .unwrap();
    assert!(status.success());
}
