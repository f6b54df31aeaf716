//! The command line as a user meets it: help texts, exit codes, error messages with positions.

use assert_cmd::Command;
use std::path::Path;

fn bin() -> Command {
    let mut c = Command::cargo_bin("neutrostruct").expect("binary is built");
    c.env("NO_COLOR", "1");
    c
}

fn snapshot(name: &str, text: &str) {
    insta::with_settings!({snapshot_path => "../snapshots", prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!(name, text);
    });
}

#[test]
fn help_texts() {
    for cmd in [
        &[][..],
        &["convert"],
        &["synth"],
        &["demo"],
        &["masks"],
        &["overlay"],
    ] {
        let out = bin().args(cmd).arg("--help").output().expect("runs");
        assert!(out.status.success());
        let name = if cmd.is_empty() {
            "help".to_string()
        } else {
            format!("help_{}", cmd[0])
        };
        snapshot(&name, &String::from_utf8_lossy(&out.stdout));
    }
}

fn run_on(file_name: &str, bytes: &[u8], from: &str) -> (i32, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join(file_name);
    std::fs::write(&input, bytes).expect("write fixture");
    let out = bin()
        .args([
            "convert",
            "--from",
            from,
            "--to",
            if from == "coco" { "cvat" } else { "coco" },
        ])
        .arg(&input)
        .arg("-o")
        .arg(dir.path().join("out"))
        .output()
        .expect("runs");
    let code = out.status.code().unwrap_or(-1);
    let err =
        String::from_utf8_lossy(&out.stderr).replace(&dir.path().display().to_string(), "DIR");
    assert!(
        !dir.path().join("out").exists(),
        "no output is written on failure"
    );
    (code, err)
}

#[test]
fn bad_input_exits_2_with_a_position_and_never_panics() {
    let cases: &[(&str, &[u8], &str, &str)] = &[
        ("truncated.json", br#"{"images": [{"id": 1, "width": 10,"#, "coco", "truncated.json:1:"),
        ("wrong_type.json", b"{\"images\": [{\"id\": \"x\", \"width\": 10, \"height\": 10, \"file_name\": \"a.png\"}],\n \"annotations\": [], \"categories\": []}", "coco", "wrong_type.json:1:"),
        ("bad_utf8.json", b"{\"images\": [], \"categories\": [{\"id\": 1, \"name\": \"\xff\xfe\"}], \"annotations\": []}", "coco", "bad_utf8.json:1:"),
        ("truncated.xml", b"<?xml version=\"1.0\"?>\n<annotations>\n  <image id=\"0\" name=\"a.png\" width=\"10\" height=\"10\">\n    <ellipse label=\"x\" cx=\"1\"", "cvat", "truncated.xml:"),
        ("wrong_type.xml", b"<annotations>\n<image id=\"0\" name=\"a.png\" width=\"10\" height=\"10\">\n<ellipse label=\"x\" cx=\"abc\" cy=\"1\" rx=\"1\" ry=\"1\" z_order=\"0\"/>\n</image>\n</annotations>\n", "cvat", "wrong_type.xml:3:"),
        ("bad_utf8.xml", b"<annotations>\n<image id=\"0\" name=\"\xff.png\" width=\"10\" height=\"10\"/>\n</annotations>\n", "cvat", "bad_utf8.xml:2:"),
        ("entities.xml", b"<?xml version=\"1.0\"?>\n<!DOCTYPE a [<!ENTITY x \"xxxxxxxxxx\"><!ENTITY y \"&x;&x;&x;&x;&x;&x;&x;&x;&x;&x;\">]>\n<annotations><version>&y;</version></annotations>\n", "cvat", "entities.xml:"),
    ];
    for (name, bytes, from, expect) in cases {
        let (code, err) = run_on(name, bytes, from);
        assert_eq!(code, 2, "{name}: {err}");
        assert!(!err.contains("panicked"), "{name}: {err}");
        assert!(
            err.contains(expect),
            "{name}: expected {expect:?} in {err:?}"
        );
    }
}

#[test]
fn dangling_references_still_convert() {
    // A reference to a missing image or category is a validation finding, not a read error.
    let coco = br#"{"images": [{"id": 1, "width": 50, "height": 50, "file_name": "a.png"}],
 "categories": [{"id": 1, "name": "Primary granules"}],
 "annotations": [{"id": 1, "image_id": 1, "category_id": 9, "bbox": [1, 1, 4, 4], "area": 16, "iscrowd": 0, "segmentation": [[1,1,5,1,5,5,1,5]]},
                 {"id": 2, "image_id": 7, "category_id": 1, "bbox": [1, 1, 4, 4], "area": 16, "iscrowd": 0, "segmentation": [[1,1,5,1,5,5,1,5]]}]}"#;
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("in.json");
    std::fs::write(&input, coco).expect("write");
    let out = bin()
        .args(["convert", "--to", "coco"])
        .arg(&input)
        .arg("-o")
        .arg(dir.path().join("out.json"))
        .output()
        .expect("runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(dir.path().join("out.json")).expect("output");
    let v: serde_json::Value = serde_json::from_str(&text).expect("json");
    assert_eq!(v["annotations"].as_array().map(Vec::len), Some(2));
}

#[test]
fn refuses_to_overwrite_its_input() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("in.json");
    std::fs::write(
        &input,
        br#"{"images": [], "categories": [], "annotations": []}"#,
    )
    .expect("write");
    let out = bin()
        .args(["convert", "--to", "coco"])
        .arg(&input)
        .arg("-o")
        .arg(&input)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(Path::new(&input).exists());
}

#[test]
fn a_clean_synthetic_dataset_validates_without_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let out = bin()
        .args([
            "synth",
            "--images",
            "3",
            "--width",
            "512",
            "--height",
            "528",
            "--per-image",
            "40",
            "--no-images",
            "--out",
        ])
        .arg(&data)
        .output()
        .expect("runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Both files of the split, found by content: the CVAT XML and CVAT's own COCO export.
    let out = bin()
        .arg("validate")
        .arg(&data)
        .args(["--format", "json"])
        .output()
        .expect("runs");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json report");
    assert_eq!(report["summary"]["errors"], 0, "{report:#}");
    assert_eq!(out.status.code(), Some(0));
    // An injected defect is found, at its line: a shape moved far out of its image.
    let xml = std::fs::read_to_string(data.join("annotations_4classes.xml")).expect("xml");
    let line = xml
        .lines()
        .position(|l| l.contains("<ellipse"))
        .expect("an ellipse")
        + 1;
    let column = xml
        .lines()
        .nth(line - 1)
        .and_then(|l| l.find("<ellipse"))
        .expect("an ellipse")
        + 1;
    let bad = xml.replacen("cx=\"", "cx=\"9", 1);
    std::fs::write(data.join("annotations_4classes.xml"), bad).expect("write");
    // Run as CI runs it, from the repository root (the folder holding `data/`): GitHub
    // resolves `file=` from there.
    let repo = data.parent().expect("data has a parent");
    let out = bin()
        .current_dir(repo)
        .args(["validate", "data", "--format", "github"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    let pinned = format!("file=data/annotations_4classes.xml,line={line},col={column},title=NS005");
    assert!(text.contains(&pinned), "{pinned} not in {text}");
    // Named the same way when the folder is given as an absolute path inside the working
    // directory.
    let out = bin()
        .current_dir(repo)
        .arg("validate")
        .arg(&data)
        .args(["--format", "github"])
        .output()
        .expect("runs");
    assert!(String::from_utf8_lossy(&out.stdout).contains(&pinned));
}
