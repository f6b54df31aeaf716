//! `convert --from masks DIR` takes its colours from the `labelmap.txt` beside the masks (our
//! `masks` output, and CVAT's "Segmentation mask 1.1" export layout); `--labelset` wins when
//! given; a malformed labelmap is an error at its file and line (exit 2).

use assert_cmd::Command;
use std::path::Path;

fn bin() -> Command {
    let mut c = Command::cargo_bin("neutrostruct").expect("binary is built");
    c.env("NO_COLOR", "1");
    c
}

/// A small synthetic release and its colour masks (with labelmap.txt) in `dir`.
fn masks_of_synth(dir: &Path) -> std::path::PathBuf {
    let data = dir.join("data");
    bin()
        .args([
            "synth", "--images", "2", "--width", "200", "--height", "150",
        ])
        .args(["--per-image", "12", "--no-images", "--out"])
        .arg(&data)
        .assert()
        .success();
    let masks = dir.join("masks");
    bin()
        .arg("masks")
        .arg(data.join("annotations_4classes.xml"))
        .arg("--out")
        .arg(&masks)
        .assert()
        .success();
    masks
}

fn categories(coco: &Path) -> Vec<(u64, String)> {
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(coco).unwrap()).unwrap();
    v["categories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["id"].as_u64().unwrap(),
                c["name"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn annotation_count(coco: &Path) -> usize {
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(coco).unwrap()).unwrap();
    v["annotations"].as_array().unwrap().len()
}

#[test]
fn our_masks_read_back_without_labelset() {
    let dir = tempfile::tempdir().unwrap();
    let masks = masks_of_synth(dir.path());
    let (by_map, by_flag) = (dir.path().join("a.json"), dir.path().join("b.json"));
    bin()
        .args(["convert", "--from", "masks", "--to", "coco"])
        .arg(&masks)
        .arg("-o")
        .arg(&by_map)
        .assert()
        .success();
    bin()
        .args([
            "convert",
            "--from",
            "masks",
            "--labelset",
            "4",
            "--to",
            "coco",
        ])
        .arg(&masks)
        .arg("-o")
        .arg(&by_flag)
        .assert()
        .success();
    // The labelmap we write is the 4-class set: the same file as with --labelset 4.
    assert_eq!(
        std::fs::read(&by_map).unwrap(),
        std::fs::read(&by_flag).unwrap()
    );
    assert!(annotation_count(&by_map) > 0);
}

#[test]
fn cvat_segmentation_export_layout_and_labels() {
    let dir = tempfile::tempdir().unwrap();
    let masks = masks_of_synth(dir.path());
    // CVAT's export: SegmentationClass/ with labelmap.txt at the top, its own label names,
    // parts and actions columns, CRLF line ends.
    let export = dir.path().join("export");
    let class_dir = export.join("SegmentationClass");
    std::fs::create_dir_all(&class_dir).unwrap();
    for e in std::fs::read_dir(&masks).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "png") {
            std::fs::copy(&p, class_dir.join(p.file_name().unwrap())).unwrap();
        }
    }
    std::fs::write(
        export.join("labelmap.txt"),
        "# label:color_rgb:parts:actions\r\nbackground:0,0,0::\r\nPG:230,25,75::\r\nSG:0,130,200:core:\r\nEV:245,130,48::\r\nEmV:145,30,180::\r\n",
    )
    .unwrap();
    for input in [&export, &class_dir] {
        let out = dir.path().join("cvat.json");
        bin()
            .args(["convert", "--from", "masks", "--to", "coco"])
            .arg(input)
            .arg("-o")
            .arg(&out)
            .assert()
            .success();
        let names: Vec<String> = categories(&out).into_iter().map(|(_, n)| n).collect();
        assert_eq!(names, ["PG", "SG", "EV", "EmV"]);
        let reference = dir.path().join("ref.json");
        bin()
            .args([
                "convert",
                "--from",
                "masks",
                "--labelset",
                "4",
                "--to",
                "coco",
            ])
            .arg(&masks)
            .arg("-o")
            .arg(&reference)
            .assert()
            .success();
        assert_eq!(annotation_count(&out), annotation_count(&reference));
    }
}

#[test]
fn labelset_flag_wins_over_the_labelmap() {
    let dir = tempfile::tempdir().unwrap();
    let masks = masks_of_synth(dir.path());
    let out = dir.path().join("seven.json");
    bin()
        .args([
            "convert",
            "--from",
            "masks",
            "--labelset",
            "7",
            "--to",
            "coco",
        ])
        .arg(&masks)
        .arg("-o")
        .arg(&out)
        .assert()
        .success();
    // The 7-class set: its names, although the labelmap beside the masks is 4-class.
    assert_eq!(categories(&out).len(), 7);
    assert_eq!(categories(&out)[0].1, "Specific granules");
}

#[test]
fn malformed_labelmap_is_an_error_at_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let masks = masks_of_synth(dir.path());
    let map = masks.join("labelmap.txt");
    std::fs::write(
        &map,
        "# label:color_rgb:parts:actions\nbackground:0,0,0::\nPrimary granules:230,25::\n",
    )
    .unwrap();
    let out = bin()
        .args(["convert", "--from", "masks", "--to", "coco"])
        .arg(&masks)
        .arg("-o")
        .arg(dir.path().join("x.json"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("{}:3:18:", map.display())),
        "{stderr}"
    );
    // Without any labelmap and without --labelset: a usage error that says what to do.
    std::fs::remove_file(&map).unwrap();
    let out = bin()
        .args(["convert", "--from", "masks", "--to", "coco"])
        .arg(&masks)
        .arg("-o")
        .arg(dir.path().join("x.json"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--labelset"));
}
