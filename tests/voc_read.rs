//! `convert --from voc`: Pascal VOC read back (issue 18). CVAT → VOC → CVAT keeps every box on
//! the conformance files and on synth output, the reports say which shapes became boxes, and
//! hostile VOC files are errors with a position (exit 2), never a panic.

use assert_cmd::Command;
use neutrostruct::cvat::{self, ReadOptions};
use neutrostruct::model::{Dataset, Shape};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

fn bin() -> Command {
    let mut c = Command::cargo_bin("neutrostruct").expect("binary is built");
    c.env("NO_COLOR", "1");
    c
}

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/conformance")
        .join(rel)
}

/// Runs the binary; (exit code, stdout, stderr).
fn run(args: &[&std::ffi::OsStr]) -> (i32, String, String) {
    let out = bin().args(args).output().expect("runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The box VOC keeps of a shape: its tight box rounded outward to whole pixels and clipped to
/// the image, as the writer documents; `None` for a shape VOC cannot hold.
fn voc_box(shape: &Shape, w: u32, h: u32) -> Option<[i64; 4]> {
    let b = shape.bbox()?;
    let (w, h) = (f64::from(w), f64::from(h));
    let (x0, y0) = (b[0].floor().max(0.0), b[1].floor().max(0.0));
    let (x1, y1) = ((b[0] + b[2]).ceil().min(w), (b[1] + b[3]).ceil().min(h));
    (x1 > x0 && y1 > y0).then_some([x0 as i64, y0 as i64, x1 as i64, y1 as i64])
}

/// Per image name: the sorted (label, box) list VOC holds of it.
fn boxes(ds: &Dataset) -> HashMap<String, Vec<(String, [i64; 4])>> {
    let mut out: HashMap<String, Vec<(String, [i64; 4])>> = HashMap::new();
    for (im, anns) in ds.annotations_by_image() {
        let v = out.entry(im.file_name.clone()).or_default();
        for a in anns {
            let label = ds
                .category(a.category_id)
                .map(|c| c.name.clone())
                .unwrap_or_default();
            if let Some(b) = voc_box(&a.shape, im.width, im.height) {
                v.push((label, b));
            }
        }
        v.sort();
    }
    out
}

/// CVAT → VOC → CVAT through the command line; checks every box came back and the reports
/// say what became a box. Returns (original, read back) for further checks.
fn round_trip(xml: &Path) -> (Dataset, Dataset) {
    let dir = tempfile::tempdir().expect("tmp");
    let voc = dir.path().join("voc");
    let back = dir.path().join("back.xml");
    let (code, stdout, err) = run(&[
        "convert".as_ref(),
        "--to".as_ref(),
        "voc".as_ref(),
        xml.as_os_str(),
        "-o".as_ref(),
        voc.as_os_str(),
        "--report".as_ref(),
        "json".as_ref(),
    ]);
    assert_eq!(code, 0, "{err}");
    let report: serde_json::Value = serde_json::from_str(&stdout).expect("json report");
    let written = report["output"]["voc-box"].as_u64().unwrap_or(0);
    let (orig, _) = cvat::read_path(xml, &ReadOptions::default()).expect("reads");
    let ellipses = orig
        .annotations
        .iter()
        .filter(|a| matches!(a.shape, Shape::Ellipse(_)))
        .count();
    // The export says the ellipses became boxes, with their count.
    let losses = report["losses"].as_array().expect("losses");
    let ellipse_loss = losses
        .iter()
        .find(|l| l["code"] == "ellipse-to-box")
        .and_then(|l| l["count"].as_u64())
        .unwrap_or(0);
    assert_eq!(ellipse_loss as usize, ellipses, "{report}");

    let (code, _, err) = run(&[
        "convert".as_ref(),
        "--from".as_ref(),
        "voc".as_ref(),
        "--to".as_ref(),
        "cvat".as_ref(),
        voc.as_os_str(),
        "-o".as_ref(),
        back.as_os_str(),
    ]);
    assert_eq!(code, 0, "{err}");
    // The read back says it read boxes only, and how many.
    assert!(
        err.contains(&format!("{written} boxes read")),
        "no box count in\n{err}"
    );
    assert!(err.contains("voc-boxes-read"), "{err}");
    // Detection from the content: a folder with Annotations/ is VOC.
    let (code, _, err) = run(&[
        "convert".as_ref(),
        "--to".as_ref(),
        "coco".as_ref(),
        voc.as_os_str(),
        "-o".as_ref(),
        dir.path().join("x.json").as_os_str(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("(voc)"), "{err}");

    let (again, _) = cvat::read_path(&back, &ReadOptions::default()).expect("reads back");
    assert_eq!(again.annotations.len() as u64, written);
    assert!(
        again
            .annotations
            .iter()
            .all(|a| matches!(&a.shape, Shape::Box(b) if b.rotation == 0.0)),
        "everything reads back as an axis-aligned box"
    );
    assert_eq!(boxes(&orig), boxes(&again), "{}", xml.display());
    // Images keep their names and sizes; labels keep their names (labelmap.txt), including
    // labels no shape uses.
    let sizes = |ds: &Dataset| {
        let mut v: Vec<(String, u32, u32)> = ds
            .images
            .iter()
            .map(|i| (i.file_name.clone(), i.width, i.height))
            .collect();
        v.sort();
        v
    };
    assert_eq!(sizes(&orig), sizes(&again));
    let names = |ds: &Dataset| {
        ds.categories
            .iter()
            .map(|c| c.name.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(names(&orig), names(&again));
    (orig, again)
}

#[test]
fn conformance_cvat_files_round_trip_through_voc() {
    for rel in [
        "cvat-ellipse/annotations_4classes.xml",
        "published-layout/annotations_4classes.xml",
        "published-layout/annotations_7classes.xml",
        "datumaro-cvat/export_task_train.xml",
        "datumaro-cvat/export_project_annotations.xml",
    ] {
        let (orig, again) = round_trip(&fixture(rel));
        // A box drawn on whole pixels comes back exactly, coordinates and occlusion.
        for a in orig.annotations.iter().filter(|a| {
            matches!(&a.shape, Shape::Box(b) if b.rotation == 0.0
                && [b.xtl, b.ytl, b.xbr, b.ybr].iter().all(|v| v.fract() == 0.0))
        }) {
            assert!(
                again
                    .annotations
                    .iter()
                    .any(|b| b.shape == a.shape && b.occluded == a.occluded),
                "{rel}: box {:?} lost",
                a.shape
            );
        }
    }
}

#[test]
fn synth_output_round_trips_through_voc() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = dir.path().join("s");
    let (code, _, err) = run(&[
        "synth".as_ref(),
        "--images".as_ref(),
        "3".as_ref(),
        "--per-image".as_ref(),
        "25".as_ref(),
        "--no-images".as_ref(),
        "-o".as_ref(),
        s.as_os_str(),
    ]);
    assert_eq!(code, 0, "{err}");
    let (orig, again) = round_trip(&s.join("annotations_4classes.xml"));
    assert!(orig.annotations.len() >= 60, "synth wrote shapes");
    assert_eq!(orig.annotations.len(), again.annotations.len());
}

/// A VOC folder holding one annotation file with `body`.
fn voc_with(body: &str) -> tempfile::TempDir {
    let t = tempfile::tempdir().expect("tmp");
    std::fs::create_dir_all(t.path().join("Annotations")).expect("mkdir");
    std::fs::write(t.path().join("Annotations/a.xml"), body).expect("write");
    t
}

fn read_voc(dir: &Path) -> (i32, String, String) {
    // Outside the input folder: an output inside an input is refused.
    let t = tempfile::tempdir().expect("tmp");
    let out = t.path().join("out.xml");
    let (code, o, e) = run(&[
        "convert".as_ref(),
        "--from".as_ref(),
        "voc".as_ref(),
        "--to".as_ref(),
        "cvat".as_ref(),
        dir.as_os_str(),
        "-o".as_ref(),
        out.as_os_str(),
    ]);
    let written = std::fs::read_to_string(&out).unwrap_or_default();
    (code, format!("{o}{written}"), e)
}

const SIZE: &str = "<size><width>100</width><height>80</height><depth>3</depth></size>";

#[test]
fn hostile_voc_files_are_errors_with_a_position() {
    let cases: [(&str, String, &str); 9] = [
        (
            "entity",
            format!(
                "<?xml version=\"1.0\"?>\n<!DOCTYPE a [<!ENTITY x \"xxxxxxxx\"><!ENTITY y \"&x;&x;&x;&x;\">]>\n<annotation>{SIZE}<object><name>&y;</name></object></annotation>"
            ),
            "a.xml:2:1: DTD entity",
        ),
        (
            "undeclared entity",
            format!("<annotation>{SIZE}<object><name>&z;</name></object></annotation>"),
            "a.xml:1:",
        ),
        (
            "huge coordinate",
            format!("<annotation>{SIZE}\n<object><name>A</name><bndbox><xmin>1e400</xmin><ymin>1</ymin><xmax>2</xmax><ymax>2</ymax></bndbox></object></annotation>"),
            "a.xml:2:",
        ),
        (
            "huge width",
            "<annotation><size><width>999999999999999999999999</width><height>1</height></size></annotation>".into(),
            "larger than",
        ),
        (
            "not a number",
            format!("<annotation>{SIZE}<object><name>A</name><bndbox><xmin>one</xmin></bndbox></object></annotation>"),
            "is not a number",
        ),
        (
            "unclosed",
            "<annotation>\n<object>".into(),
            "not closed",
        ),
        (
            "nesting",
            format!("<annotation>{}{}</annotation>", "<x>".repeat(200), "</x>".repeat(200)),
            "nest deeper",
        ),
        (
            "no size",
            "<annotation><object><name>A</name></object></annotation>".into(),
            "no <size>",
        ),
        (
            "wrong root",
            "<svg/>".into(),
            "not a VOC annotation",
        ),
    ];
    for (what, body, expect) in cases {
        let t = voc_with(&body);
        let (code, _, err) = read_voc(t.path());
        assert_eq!(code, 2, "{what}: {err}");
        assert!(
            err.contains(expect),
            "{what}: expected {expect:?} in\n{err}"
        );
        assert!(!err.contains("panicked"), "{what}: {err}");
    }
}

#[test]
fn filename_that_escapes_is_not_kept() {
    let t = voc_with(&format!(
        "<annotation><filename>../../etc/passwd</filename>{SIZE}<object><name>A</name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>10</xmax><ymax>10</ymax></bndbox></object></annotation>"
    ));
    let (code, xml, err) = read_voc(t.path());
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("unsafe-path"), "{err}");
    assert!(!xml.contains("passwd"), "{xml}");
    assert!(xml.contains("name=\"a\""), "named after a.xml:\n{xml}");
    // VOC's 1-based inclusive box 1..10 is the model's 0..10.
    assert!(
        xml.contains("xtl=\"0.00\"") && xml.contains("xbr=\"10.00\""),
        "{xml}"
    );
}
