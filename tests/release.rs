//! Real-shaped releases (issue 13): clean data gives no error, by folder discovery and by
//! explicit flags, on every conformance folder and on synthetic releases that draw what real
//! data has (shapes cut by the border, overlaps, hidden shapes, ties, odd angles, CVAT's exact
//! export, 4- and 7-class files side by side); and real defects injected into such a release
//! are still found.

use assert_cmd::Command;
use std::path::{Path, PathBuf};

fn bin() -> Command {
    let mut c = Command::cargo_bin("neutrostruct").expect("binary is built");
    c.env("NO_COLOR", "1");
    c
}

fn conformance(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/conformance")
        .join(name)
}

/// A validate run's JSON report, its stderr and exit code.
struct Run {
    report: serde_json::Value,
    stderr: String,
    code: i32,
}

impl Run {
    fn errors(&self) -> u64 {
        self.report["summary"]["errors"].as_u64().expect("summary")
    }

    /// The error findings, one line each, for assertion messages.
    fn error_lines(&self) -> Vec<String> {
        self.findings()
            .filter(|f| f["severity"] == "error")
            .map(|f| format!("{} {} {}", f["rule"], f["file"], f["message"]))
            .collect()
    }

    fn findings(&self) -> impl Iterator<Item = &serde_json::Value> {
        self.report["findings"].as_array().into_iter().flatten()
    }

    fn has(&self, rule: &str, file_ends: &str) -> bool {
        self.findings().any(|f| {
            f["rule"] == rule
                && f["severity"] == "error"
                && f["file"].as_str().is_some_and(|p| p.ends_with(file_ends))
        })
    }
}

fn validate(args: &[&std::ffi::OsStr]) -> Run {
    let out = bin()
        .arg("validate")
        .args(args)
        .args(["--format", "json"])
        .output()
        .expect("runs");
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not a JSON report ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    Run {
        report,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        code: out.status.code().unwrap_or(-1),
    }
}

fn os<P: AsRef<std::ffi::OsStr> + ?Sized>(p: &P) -> &std::ffi::OsStr {
    p.as_ref()
}

#[test]
fn every_conformance_folder_validates_clean_by_discovery() {
    for name in [
        "published-layout",
        "cvat-ellipse",
        "datumaro-coco",
        "datumaro-cvat",
    ] {
        let dir = conformance(name);
        let r = validate(&[dir.as_os_str()]);
        assert_eq!(r.errors(), 0, "{name}: {:#?}", r.error_lines());
        assert_eq!(r.code, 0, "{name}: {}", r.stderr);
    }
}

#[test]
fn the_published_layout_checks_its_division_by_discovery() {
    let r = validate(&[conformance("published-layout").as_os_str()]);
    assert!(r.stderr.contains("division checked"), "{}", r.stderr);
    assert!(
        r.stderr
            .contains("masks read as label set TEM-NeutroStruct 7 classes"),
        "{}",
        r.stderr
    );
}

#[test]
fn the_published_layout_validates_clean_by_flags() {
    let d = conformance("published-layout");
    for set in ["4", "7"] {
        let coco = d.join(format!("annotations_{set}classes.json"));
        let cvat = d.join(format!("annotations_{set}classes.xml"));
        let mut args: Vec<&std::ffi::OsStr> = vec![
            os("--coco"),
            coco.as_os_str(),
            os("--cvat"),
            cvat.as_os_str(),
            os("--labelset"),
            os(set),
        ];
        let (masks, images, source, scale) = (
            d.join("masks"),
            d.join("images"),
            d.join("annotations_4classes.json"),
            d.join("scale.xlsx"),
        );
        args.extend([os("--images"), images.as_os_str()]);
        if set == "7" {
            args.extend([
                os("--masks"),
                masks.as_os_str(),
                os("--source-coco"),
                source.as_os_str(),
                os("--scale"),
                scale.as_os_str(),
            ]);
        }
        let r = validate(&args);
        assert_eq!(r.errors(), 0, "{set}-class: {:#?}", r.error_lines());
    }
    let c = conformance("cvat-ellipse");
    let (coco, cvat) = (
        c.join("annotations_4classes.json"),
        c.join("annotations_4classes.xml"),
    );
    let r = validate(&[
        os("--coco"),
        coco.as_os_str(),
        os("--cvat"),
        cvat.as_os_str(),
        os("--labelset"),
        os("4"),
    ]);
    assert_eq!(r.errors(), 0, "cvat-ellipse: {:#?}", r.error_lines());
}

/// A small synthetic release of the published layout (real shapes on).
fn synth_release(dir: &Path, seed: u64) {
    let out = bin()
        .args(["synth", "--out"])
        .arg(dir)
        .args([
            "--images",
            "3",
            "--width",
            "1024",
            "--height",
            "1056",
            "--per-image",
            "150",
            "--layout",
            "published",
            "--seed",
        ])
        .arg(seed.to_string())
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The label of every ellipse of a CVAT file, in document order (a plain scan: our writer
/// puts each start tag on one line).
fn labels_of(xml: &Path) -> Vec<String> {
    std::fs::read_to_string(xml)
        .expect("read")
        .lines()
        .filter(|l| l.trim_start().starts_with("<ellipse"))
        .map(|l| {
            let start = l.find("label=\"").expect("label") + 7;
            l[start..start + l[start..].find('"').expect("quote")].to_string()
        })
        .collect()
}

#[test]
fn synthetic_releases_validate_clean_and_divide_like_the_published_files() {
    for seed in [1u64, 2, 3] {
        let tmp = tempfile::tempdir().expect("tempdir");
        let d = tmp.path().join("release");
        synth_release(&d, seed);
        // What real data has is really there: shapes cut by the border.
        let xml4 = d.join("annotations_4classes.xml");
        let r = validate(&[d.as_os_str()]);
        assert_eq!(r.errors(), 0, "seed {seed}: {:#?}", r.error_lines());
        assert!(r.stderr.contains("division checked"), "{}", r.stderr);
        let cut = r
            .findings()
            .filter(|f| f["rule"] == "ellipse-out-of-bounds" && f["severity"] == "info")
            .count();
        assert!(cut >= 8, "seed {seed}: {cut} shapes cut by the border");
        // reclassify --cvat succeeds and gives every shape the 7-class label the release holds.
        let out_cvat = tmp.path().join("out7.xml");
        let out = bin()
            .arg("reclassify")
            .arg("--coco")
            .arg(d.join("annotations_4classes.json"))
            .arg("--scale")
            .arg(d.join("scale.xlsx"))
            .arg("--cvat")
            .arg(&xml4)
            .arg("--out-coco")
            .arg(tmp.path().join("out7.json"))
            .arg("--out-cvat")
            .arg(&out_cvat)
            .output()
            .expect("runs");
        assert!(
            out.status.success(),
            "seed {seed}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            labels_of(&out_cvat),
            labels_of(&d.join("annotations_7classes.xml")),
            "seed {seed}"
        );
    }
}

/// Replaces the first occurrence of `from` after `after` in a file.
fn edit(path: &Path, after: &str, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).expect("read");
    let at = text.find(after).expect("anchor") + after.len();
    let pos = at + text[at..].find(from).expect("text to replace");
    let mut s = text[..pos].to_string();
    s.push_str(to);
    s.push_str(&text[pos + from.len()..]);
    std::fs::write(path, s).expect("write");
}

#[test]
fn defects_injected_into_a_real_shaped_release_are_found() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let clean = tmp.path().join("clean");
    synth_release(&clean, 5);
    let copy = |name: &str| {
        let d = tmp.path().join(name);
        let out = std::process::Command::new("cp")
            .arg("-r")
            .arg(&clean)
            .arg(&d)
            .output()
            .expect("cp");
        assert!(out.status.success());
        d
    };

    // A wrong 7-class label: the division gives "Specific granules" to this shape.
    let d = copy("label");
    let xml7 = d.join("annotations_7classes.xml");
    edit(
        &xml7,
        "<image ",
        "label=\"Specific granules\"",
        "label=\"Non-specific primary granules\"",
    );
    let r = validate(&[d.as_os_str()]);
    assert!(
        r.has("division-mismatch", "annotations_7classes.xml"),
        "{:#?}",
        r.error_lines()
    );
    assert!(
        r.has("coco-cvat-mismatch", "annotations_7classes.xml"),
        "{:#?}",
        r.error_lines()
    );
    assert_eq!(r.code, 1);

    // A wrong mask colour: one class painted in another class's colour.
    let d = copy("colour");
    let mask = d.join("masks/neutrophil_000.png");
    let mut img = image::open(&mask).expect("mask").into_rgb8();
    for p in img.pixels_mut() {
        if p.0 == [230, 25, 75] {
            p.0 = [0, 130, 200];
        }
    }
    img.save(&mask).expect("save");
    let r = validate(&[d.as_os_str()]);
    assert!(r.has("mask-disagreement", ""), "{:#?}", r.error_lines());

    // A hidden duplicate: a shape drawn twice, the copy exactly over the original.
    let d = copy("duplicate");
    let xml7 = d.join("annotations_7classes.xml");
    let text = std::fs::read_to_string(&xml7).expect("read");
    let start = text.find("<ellipse").expect("an ellipse");
    let end = match (text[start..].find("/>"), text[start..].find("</ellipse>")) {
        (Some(a), Some(b)) if b < a || text[start..start + a].contains('>') => {
            start + b + "</ellipse>".len()
        }
        (Some(a), _) => start + a + 2,
        (None, Some(b)) => start + b + "</ellipse>".len(),
        (None, None) => panic!("unterminated ellipse"),
    };
    let element = &text[start..end];
    let doubled = format!("{}{element}\n    {}", &text[..start], &text[start..]);
    std::fs::write(&xml7, doubled).expect("write");
    let r = validate(&[d.as_os_str()]);
    assert!(
        r.has("duplicate-shape", "annotations_7classes.xml"),
        "{:#?}",
        r.error_lines()
    );
}
