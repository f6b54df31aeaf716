//! Step 1 of the workflow through the binary: `synth` images (PNG with bars, TIFF with ImageJ
//! tags) → `neutrostruct scale` → the px/µm used to make them → `reclassify` gives what the
//! original table gives.

use assert_cmd::Command;
use std::collections::BTreeMap;
use std::path::Path;

fn bin() -> Command {
    let mut c = Command::cargo_bin("neutrostruct").expect("binary is built");
    c.env("NO_COLOR", "1");
    c
}

fn table(path: &Path) -> BTreeMap<String, (Option<f64>, String)> {
    let mut r = csv::Reader::from_path(path).expect("table reads");
    let h = r.headers().expect("header").clone();
    let col = |n: &str| h.iter().position(|c| c == n);
    let (ni, vi) = (
        col("image_name").expect("image_name"),
        col("px_per_um").expect("px"),
    );
    let si = col("source");
    r.records()
        .map(|rec| {
            let rec = rec.expect("row");
            let v = rec.get(vi).and_then(|s| s.parse().ok());
            let src = si.and_then(|i| rec.get(i)).unwrap_or("").to_string();
            (rec.get(ni).unwrap_or("").to_string(), (v, src))
        })
        .collect()
}

fn synth(dir: &Path, format: &str) -> Option<f64> {
    let out = bin()
        .args([
            "synth", "--images", "4", "--width", "2048", "--height", "2112",
        ])
        .args([
            "--per-image",
            "80",
            "--seed",
            "5",
            "--image-format",
            format,
            "--out",
        ])
        .arg(dir)
        .output()
        .expect("synth runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    err.split("--bar-um ")
        .nth(1)
        .and_then(|s| s.split(')').next())
        .and_then(|s| s.trim().parse().ok())
}

fn reclassify(dir: &Path, scale: &Path, tag: &str) -> (String, String) {
    let coco = dir.join(format!("out_{tag}.json"));
    let audit = dir.join(format!("audit_{tag}.csv"));
    let out = bin()
        .arg("reclassify")
        .arg("--coco")
        .arg(dir.join("annotations_4classes.json"))
        .arg("--scale")
        .arg(scale)
        .arg("--out-coco")
        .arg(&coco)
        .arg("--audit")
        .arg(&audit)
        .output()
        .expect("reclassify runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let audit_text = std::fs::read_to_string(&audit).expect("audit");
    // The audit's diameters carry the scale's last digits; the classes are what must agree.
    let classes: String = audit_text
        .lines()
        .map(|l| {
            let c: Vec<&str> = l.split(',').collect();
            format!("{} {} {}\n", c[0], c[1], c[c.len() - 1])
        })
        .collect();
    (std::fs::read_to_string(&coco).expect("coco"), classes)
}

#[test]
fn synth_images_give_back_their_scale_and_the_same_division() {
    let tmp = tempfile::tempdir().expect("tempdir");
    for format in ["png", "tif"] {
        let dir = tmp.path().join(format);
        let bar_um = synth(&dir, format).expect("synth says the bar length");
        let measured = dir.join("measured.csv");
        let out = bin()
            .arg("scale")
            .arg(dir.join("images"))
            .arg("-o")
            .arg(&measured)
            .args(["--bar-um", &bar_um.to_string()])
            .output()
            .expect("scale runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let truth = table(&dir.join("scale.csv"));
        let got = table(&measured);
        assert_eq!(truth.len(), 4);
        assert_eq!(
            truth.keys().collect::<Vec<_>>(),
            got.keys().collect::<Vec<_>>()
        );
        for (name, (t, _)) in &truth {
            let t = t.expect("true scale");
            let (v, src) = &got[name];
            let v = v.expect("a measured scale");
            let rel = (v - t).abs() / t;
            let (bound, want) = if format == "tif" {
                (1e-3, "imagej-tiff")
            } else {
                (5e-3, "scale-bar")
            };
            assert_eq!(src, want, "{name}");
            // The bars are at least 200 px long here (2 µm at ≥ 180 px/µm).
            assert!(t * bar_um >= 200.0);
            assert!(rel <= bound, "{name}: {v} vs {t} ({rel:e})");
        }
        let (coco_a, audit_a) = reclassify(&dir, &dir.join("scale.csv"), "truth");
        let (coco_b, audit_b) = reclassify(&dir, &measured, "measured");
        assert_eq!(audit_a, audit_b, "{format}: the 7 classes differ");
        let classes = |s: &str| -> Vec<u64> {
            let v: serde_json::Value = serde_json::from_str(s).expect("json");
            v["annotations"]
                .as_array()
                .expect("annotations")
                .iter()
                .map(|a| a["category_id"].as_u64().unwrap_or(0))
                .collect()
        };
        assert_eq!(classes(&coco_a), classes(&coco_b));
    }
}

#[test]
fn without_the_bar_length_the_bar_is_measured_and_the_value_left_empty() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    synth(dir, "png");
    let measured = dir.join("m.xlsx");
    let out = bin()
        .arg("scale")
        .arg(dir.join("images/neutrophil_000.png"))
        .arg("-o")
        .arg(&measured)
        .output()
        .expect("scale runs");
    assert_eq!(out.status.code(), Some(1), "no value is a finding");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--bar-um") && err.contains("px"), "{err}");
    // The XLSX reads as a scale table; the image without a value gets the default, said so.
    let t = neutrostruct::division::ScaleTable::load(&measured).expect("reads");
    assert!(t.entries.is_empty());
    assert!(
        t.notes.iter().any(|n| n.contains("neutrophil_000.png")),
        "{:?}",
        t.notes
    );
}

#[test]
fn hostile_tiffs_are_exit_2_naming_the_file() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/scale/hostile");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).expect("hostile fixtures") {
        let p = e.expect("entry").path();
        if p.extension().and_then(|e| e.to_str()) != Some("tif") {
            continue;
        }
        n += 1;
        let out = bin()
            .arg("scale")
            .arg(&p)
            .arg("-o")
            .arg(tmp.path().join("s.csv"))
            .output()
            .expect("runs");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{}: {err}", p.display());
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        assert!(err.contains(name), "{err}");
        assert!(!err.contains("panicked"), "{err}");
        assert!(!tmp.path().join("s.csv").exists());
    }
    assert!(n >= 3, "hostile fixtures missing");
}

#[test]
fn tifffile_fixtures_give_their_calibration() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/scale");
    let tmp = tempfile::tempdir().expect("tempdir");
    let out_path = tmp.path().join("s.csv");
    let expected: &[(&str, &str, Option<f64>)] = &[
        ("imagej_um.tif", "imagej-tiff", Some(375.0)),
        ("imagej_nm.tif", "imagej-tiff", Some(400.0)),
        ("ome_nm.ome.tif", "ome-tiff", Some(400.0)),
        ("ome_um.ome.tif", "ome-tiff", Some(250.0)),
        ("resolution_cm.tif", "tiff-resolution", Some(375.0)),
        ("fei.tif", "fei-tiff", Some(400.0)),
        ("dpi_72.tif", "none", None),
        ("dpi_300_cm.tif", "none", None),
    ];
    let mut cmd = bin();
    cmd.arg("scale");
    for (f, _, _) in expected {
        cmd.arg(dir.join(f));
    }
    let out = cmd.arg("-o").arg(&out_path).output().expect("runs");
    assert_eq!(
        out.status.code(),
        Some(1),
        "the DPI files have no scale: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = table(&out_path);
    for (f, src, v) in expected {
        let (gv, gs) = &got[*f];
        assert_eq!(gs, src, "{f}");
        match (v, gv) {
            (Some(v), Some(g)) => assert!((g - v).abs() / v < 1e-6, "{f}: {g} vs {v}"),
            (None, None) => {}
            _ => panic!("{f}: {gv:?} vs {v:?}"),
        }
    }
}

#[test]
fn cut_and_flipped_tiffs_never_panic_the_metadata_reader() {
    use neutrostruct::scale_from_images::tiff_meta;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/scale");
    let mut runs = 0;
    for e in std::fs::read_dir(&dir).expect("fixtures") {
        let p = e.expect("entry").path();
        if p.extension().and_then(|e| e.to_str()) != Some("tif") {
            continue;
        }
        let bytes = std::fs::read(&p).expect("read");
        for cut in (0..bytes.len()).step_by(7) {
            let b = &bytes[..cut];
            let _ = tiff_meta::read(std::io::Cursor::new(b), b.len() as u64);
            runs += 1;
        }
        // Every byte of the header and first IFD set to 0xFF in turn.
        for i in 0..bytes.len().min(300) {
            let mut b = bytes.clone();
            b[i] = 0xFF;
            let _ = tiff_meta::read(std::io::Cursor::new(&b[..]), b.len() as u64);
            runs += 1;
        }
    }
    assert!(runs > 1000);
}
