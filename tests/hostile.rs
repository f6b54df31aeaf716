//! Hostile and broken input, through the binary and the library: the tool answers with a clear
//! error (exit 2, `error: <path>:line:col: …` for JSON, XML, YOLO labels and `data.yaml`) or a
//! result, never with a panic, a hang, a memory blow-up or a file outside its output folder.
//!
//! Small files live in `tests/hostile/`; big ones (deep nesting, millions of points) are made
//! here so that nothing big is committed. Hundreds of mutated files through the binary are in
//! `hostile_mutants.rs`.

mod hostile_util;

use hostile_util::*;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
/// Runs `convert` (to COCO and to CVAT), `validate` and `masks` on `input` inside `work`,
/// then checks that nothing was written outside `work/out`.
fn run_all(input_bytes: &[u8], name: &str) {
    let dirs = work_dirs();
    let (work, inp, out, cwd, logs) = (dirs.root, dirs.inp, dirs.out, dirs.cwd, dirs.logs);
    let input = inp.join(name);
    std::fs::write(&input, input_bytes).expect("write input");
    let is_json = name.ends_with(".json");
    let os = |s: &str| std::ffi::OsString::from(s);
    let p = |p: &Path| p.as_os_str().to_os_string();
    let runs: Vec<(&str, Vec<std::ffi::OsString>)> = vec![
        (
            "convert --to coco",
            vec![
                os("convert"),
                os("--to"),
                os("coco"),
                p(&input),
                os("-o"),
                p(&out.join("c.json")),
            ],
        ),
        (
            "convert --to cvat",
            vec![
                os("convert"),
                os("--to"),
                os("cvat"),
                p(&input),
                os("-o"),
                p(&out.join("c.xml")),
            ],
        ),
        (
            "validate",
            vec![
                os("validate"),
                os(if is_json { "--coco" } else { "--cvat" }),
                p(&input),
            ],
        ),
        (
            "masks",
            vec![os("masks"), p(&input), os("--out"), p(&out.join("masks"))],
        ),
    ];
    // Training formats write one file per image: names must never leave the output folder.
    let mut runs = runs;
    for to in ["yolo", "voc", "masks"] {
        runs.push((
            "convert --to training",
            vec![
                os("convert"),
                os("--to"),
                os(to),
                os("--labelset"),
                os("4"),
                p(&input),
                os("-o"),
                p(&out.join(to)),
            ],
        ));
    }
    for (what, args) in &runs {
        let args: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
        let r = run_bin(&args, &cwd, &logs);
        check(&input, what, &r);
    }
    // Nothing outside `out/` (besides our own logs), nothing in the working directory.
    assert_eq!(
        tree(&inp),
        vec![PathBuf::from(name)],
        "{name}: input folder changed"
    );
    assert!(
        tree(&cwd).is_empty(),
        "{name}: files in the working directory: {:?}",
        tree(&cwd)
    );
    for f in walk(work.path()) {
        let n = f.file_name().and_then(|n| n.to_str()).unwrap_or("");
        assert!(
            !n.contains("passwd") || f == input,
            "{name}: a file named after the traversal target appeared: {}",
            f.display()
        );
    }
}

fn corpus() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/hostile");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/hostile")
        .flatten()
        .map(|e| e.path())
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("json" | "xml")))
        .collect();
    v.sort();
    v
}

#[test]
fn hostile_corpus_through_the_binary() {
    let files = corpus();
    assert!(files.len() >= 30, "corpus has {} files", files.len());
    for f in files {
        let bytes = std::fs::read(&f).expect("read corpus file");
        let name = f.file_name().and_then(|n| n.to_str()).expect("name");
        run_all(&bytes, name);
    }
}

/// A YOLO dataset around one hostile file: a `.txt` is the label file of the only image, a
/// `.yaml` is the `data.yaml`, a `.list` is the split's image list (`train: train.txt`).
/// Each goes through every `--from yolo*` task (a `data.yaml` or a list only through
/// `--from yolo`) to COCO, CVAT and YOLO; an exit-2 error must name the hostile file with its
/// line and column.
fn run_yolo(bytes: &[u8], name: &str) -> Vec<i32> {
    let work = tempfile::tempdir().expect("tempdir");
    let (ds, out, cwd, logs) = (
        work.path().join("in"),
        work.path().join("out"),
        work.path().join("cwd"),
        work.path().join("logs"),
    );
    for d in [&out, &cwd, &logs] {
        std::fs::create_dir(d).expect("mkdir");
    }
    for d in ["images/train", "labels/train"] {
        std::fs::create_dir_all(ds.join(d)).expect("mkdir");
    }
    image::GrayImage::new(8, 8)
        .save(ds.join("images/train/a.png"))
        .expect("png");
    let yaml = "train: images/train\nval: images/train\nnc: 4\nnames: [a, b, c, d]\n";
    let label = "0 0.5 0.5 0.25 0.25\n";
    let input = if name.ends_with(".yaml") {
        std::fs::write(ds.join("labels/train/a.txt"), label).expect("label");
        ds.join("data.yaml")
    } else if name.ends_with(".list") {
        let listed = "train: train.txt\nval: train.txt\nnc: 4\nnames: [a, b, c, d]\n";
        std::fs::write(ds.join("data.yaml"), listed).expect("yaml");
        std::fs::write(ds.join("labels/train/a.txt"), label).expect("label");
        ds.join("train.txt")
    } else {
        std::fs::write(ds.join("data.yaml"), yaml).expect("yaml");
        ds.join("labels/train/a.txt")
    };
    std::fs::write(&input, bytes).expect("hostile file");
    let before = tree(&ds);
    let mut codes = Vec::new();
    // The label beside a hostile data.yaml is a detection row: only `--from yolo` fits it.
    let tasks: &[&str] = if name.ends_with(".yaml") || name.ends_with(".list") {
        &["yolo"]
    } else {
        &["yolo", "yolo-seg", "yolo-obb"]
    };
    for from in tasks {
        for (to, target) in [("coco", "c.json"), ("cvat", "c.xml"), ("yolo", "y")] {
            let target = out.join(format!("{from}-{target}"));
            let args: Vec<&std::ffi::OsStr> = vec![
                "convert".as_ref(),
                "--from".as_ref(),
                from.as_ref(),
                "--to".as_ref(),
                to.as_ref(),
                ds.as_os_str(),
                "-o".as_ref(),
                target.as_os_str(),
            ];
            let r = run_bin(&args, &cwd, &logs);
            check(&input, &format!("convert --from {from} --to {to}"), &r);
            codes.push(r.code.unwrap_or(-1));
        }
    }
    assert_eq!(tree(&ds), before, "{name}: dataset folder changed");
    assert!(
        tree(&cwd).is_empty(),
        "{name}: files in the working directory"
    );
    codes
}

#[test]
fn hostile_yolo_corpus_through_the_binary() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/hostile");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/hostile")
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("yolo_"))
        })
        .collect();
    files.sort();
    assert!(files.len() >= 20, "yolo corpus has {} files", files.len());
    for f in files {
        let bytes = std::fs::read(&f).expect("read corpus file");
        let name = f.file_name().and_then(|n| n.to_str()).expect("name");
        let codes = run_yolo(&bytes, name);
        // What each file must give: refused by every task, or read (possibly as nothing).
        match name {
            "yolo_empty.txt" | "yolo_data_traversal.yaml" | "yolo_list_traversal.list" => {
                assert!(codes.iter().all(|&c| c == 0), "{name}: {codes:?}")
            }
            // 9 numbers: an oriented box, and a 4-point polygon; not a detection row.
            "yolo_truncated.txt" => assert_eq!(codes, [2, 2, 2, 0, 0, 0, 0, 0, 0], "{name}"),
            _ => assert!(codes.iter().all(|&c| c == 2), "{name}: {codes:?}"),
        }
    }
}

/// Inputs too big to commit, made here.
#[test]
fn generated_big_inputs_through_the_binary() {
    // 100k nested arrays: serde_json's recursion limit (128) answers, not the stack.
    let deep_json = format!("{{\"images\": {}", "[".repeat(100_000));
    run_all(deep_json.as_bytes(), "deep_nesting.json");
    // 100k nested elements: the CVAT reader's depth guard answers.
    let deep_xml = format!("<annotations>{}", "<a>".repeat(100_000));
    run_all(deep_xml.as_bytes(), "deep_nesting.xml");
    // A polygon of more than the allowed points, in both formats.
    let n = neutrostruct::cvat::MAX_POINTS + 1;
    let pts = vec!["1,1"; n].join(";");
    let xml = format!(
        r#"<annotations><image id="0" name="a.tif" width="10" height="10"><polygon label="x" points="{pts}"/></image></annotations>"#
    );
    run_all(xml.as_bytes(), "cvat_polygon_too_many_points.xml");
    let coords = vec!["1"; 2 * (neutrostruct::coco::MAX_POINTS + 1)].join(",");
    let json = format!(
        r#"{{"images": [{{"id": 1, "file_name": "a.tif", "width": 10, "height": 10}}],
"categories": [{{"id": 1, "name": "x"}}],
"annotations": [{{"id": 1, "image_id": 1, "category_id": 1, "segmentation": [[{coords}]]}}]}}"#
    );
    run_all(json.as_bytes(), "coco_polygon_too_many_points.json");
}
/// Reads `bytes` as its format; when accepted, writes both formats and checks that the same
/// format reads back and writes again to the same text (the fuzz targets' invariant).
fn read_write_stable(bytes: &[u8], json: bool) {
    let path = Path::new(if json { "m.json" } else { "m.xml" });
    let ds = if json {
        neutrostruct::coco::read_bytes(bytes, path, &Default::default()).map(|r| r.0)
    } else {
        neutrostruct::cvat::read_bytes(bytes, path, &Default::default()).map(|r| r.0)
    };
    let Ok(ds) = ds else { return };
    let (coco, _) = neutrostruct::coco::to_string(&ds, &Default::default());
    let (cvat, _) = neutrostruct::cvat::to_string(&ds, &Default::default());
    if json {
        let (again, _) = neutrostruct::coco::read_bytes(coco.as_bytes(), path, &Default::default())
            .expect("what the COCO writer wrote reads back");
        assert_eq!(
            coco,
            neutrostruct::coco::to_string(&again, &Default::default()).0
        );
    } else {
        let (again, _) = neutrostruct::cvat::read_bytes(cvat.as_bytes(), path, &Default::default())
            .expect("what the CVAT writer wrote reads back");
        assert_eq!(
            cvat,
            neutrostruct::cvat::to_string(&again, &Default::default()).0
        );
    }
}

#[test]
fn mutated_fixtures_never_panic_the_readers_and_writers() {
    let fx = fixtures();
    assert!(!fx.is_empty());
    let mut rng = Rng(0x5eed_1234_abcd_ef01);
    let mut accepted = 0;
    for round in 0..240 {
        let (path, src) = &fx[round % fx.len()];
        let json = path.extension().and_then(|e| e.to_str()) == Some("json");
        let m = mutate(src, &mut rng);
        let r = catch_unwind(AssertUnwindSafe(|| read_write_stable(&m, json)));
        if r.is_err() {
            let keep = std::env::temp_dir().join(format!("hostile-mutant-{round}"));
            let _ = std::fs::write(&keep, &m);
            panic!(
                "round {round} on {} panicked; input kept in {}",
                path.display(),
                keep.display()
            );
        }
        // Count how much of the mutated space still parses (sanity: not all rejected).
        let p = Path::new("x");
        if (json && neutrostruct::coco::read_bytes(&m, p, &Default::default()).is_ok())
            || (!json && neutrostruct::cvat::read_bytes(&m, p, &Default::default()).is_ok())
        {
            accepted += 1;
        }
    }
    assert!(
        accepted > 0,
        "no mutant was accepted: the mutations are too coarse to test writers"
    );
}
/// Builds a CVAT export archive in memory with the given entries.
#[test]
fn cvat_export_zip_is_read_in_memory_and_never_extracted() {
    let xml = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/conformance/cvat-ellipse/annotations_4classes.xml"),
    )
    .expect("fixture");
    let zip = zip_of(&[
        ("../evil", b"escaped"),
        ("/tmp/evil-absolute", b"escaped"),
        ("images/a.png", b"not read"),
        ("annotations.xml", &xml),
    ]);
    let work = tempfile::tempdir().expect("tempdir");
    let inner = work.path().join("inner");
    std::fs::create_dir(&inner).expect("mkdir");
    let input = inner.join("export.zip");
    std::fs::write(&input, &zip).expect("write zip");
    let out = inner.join("out.json");
    // Format detected from the zip magic; no --from.
    let args: Vec<&std::ffi::OsStr> = vec![
        "convert".as_ref(),
        "--to".as_ref(),
        "coco".as_ref(),
        input.as_os_str(),
        "-o".as_ref(),
        out.as_os_str(),
    ];
    let r = run_bin(&args, &inner, work.path());
    check(&input, "convert zip", &r);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let direct = neutrostruct::cvat::read_bytes(&xml, Path::new("a.xml"), &Default::default())
        .expect("fixture reads")
        .0;
    let (via_zip, _) =
        neutrostruct::coco::read_path(&out, &Default::default()).expect("output reads");
    assert_eq!(via_zip.annotations.len(), direct.annotations.len());
    assert!(!work.path().join("evil").exists(), "../evil was extracted");
    assert!(!Path::new("/tmp/evil-absolute").exists());
    let mut names: Vec<String> = tree(work.path())
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    names.retain(|n| !n.starts_with("stdout") && !n.starts_with("stderr"));
    names.sort();
    assert_eq!(names, ["inner", "inner/export.zip", "inner/out.json"]);

    // `validate --cvat` and `masks` take the archive too.
    let r = run_bin(
        &["validate".as_ref(), "--cvat".as_ref(), input.as_os_str()],
        &inner,
        work.path(),
    );
    check(&input, "validate zip", &r);
}

#[test]
fn zip_without_annotations_or_with_only_a_traversal_entry_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("export.zip");
    let xml = b"<annotations><version>1.1</version></annotations>";
    for entries in [
        vec![("images/a.png", &b"x"[..])],
        vec![("../annotations.xml", &xml[..])],
    ] {
        std::fs::write(&p, zip_of(&entries)).expect("write");
        let e = neutrostruct::cvat::read_path(&p, &Default::default())
            .expect_err("refused")
            .to_string();
        assert!(
            e.starts_with(&p.display().to_string()) && e.contains("no annotations.xml"),
            "{e}"
        );
    }
    // A broken archive (magic, then garbage) is an error, not a panic.
    std::fs::write(&p, b"PK\x03\x04garbage").expect("write");
    assert!(neutrostruct::cvat::read_path(&p, &Default::default()).is_err());
}

#[test]
fn xml_inside_a_zip_reports_line_and_column_of_the_entry() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("export.zip");
    let bad = b"<annotations>\n<image id=\"0\" name=\"a\" width=\"x\" height=\"1\"/></annotations>";
    std::fs::write(&p, zip_of(&[("annotations.xml", &bad[..])])).expect("write");
    let e = neutrostruct::cvat::read_path(&p, &Default::default())
        .expect_err("bad width")
        .to_string();
    let want = format!("{}:2:", p.join("annotations.xml").display());
    assert!(e.starts_with(&want), "{e}");
}

// Limits, one test each (docs/limits-and-security.md lists them).

fn coco_err(text: &str) -> String {
    neutrostruct::coco::read_bytes(text.as_bytes(), Path::new("in.json"), &Default::default())
        .expect_err("refused")
        .to_string()
}

#[test]
fn limit_json_nesting_depth_is_an_error_with_position() {
    let e = coco_err(&format!("{{\"info\": {}", "[".repeat(200)));
    assert!(
        e.starts_with("in.json:1:") && e.contains("recursion limit"),
        "{e}"
    );
}

#[test]
fn limit_xml_nesting_depth_is_an_error_with_position() {
    let deep = format!(
        "<annotations>\n{}",
        "<a>".repeat(neutrostruct::cvat::MAX_DEPTH + 1)
    );
    let e = cvat_err(&deep);
    assert!(
        e.starts_with("in.xml:2:") && e.contains("nest deeper"),
        "{e}"
    );
}

/// Regression: a CVAT `<image width="4000000000">` read fine and converted to a COCO file the
/// COCO reader refuses; the side is now bounded by `coco::MAX_SIDE` where it is read.
#[test]
fn cvat_image_width_4000000000_is_refused_at_its_attribute() {
    for w in ["4000000000", "100001", "0"] {
        let e = cvat_err(&format!(
            "<annotations>\n<image id=\"0\" name=\"a\" width=\"{w}\" height=\"1\"/></annotations>"
        ));
        assert!(
            e.starts_with("in.xml:2:") && e.contains("out of range"),
            "{e}"
        );
    }
}

/// Regression: CVAT accepted `rx="1e300"`, giving a COCO the COCO reader refuses.
#[test]
fn cvat_coordinate_1e300_is_refused_like_coco() {
    let e = cvat_err(
        "<annotations><image id=\"0\" name=\"a\" width=\"9\" height=\"9\">\n<ellipse label=\"x\" cx=\"1\" cy=\"1\" rx=\"1e300\" ry=\"1\"/></image></annotations>",
    );
    assert!(
        e.starts_with("in.xml:2:") && e.contains("out of range"),
        "{e}"
    );
}

#[test]
fn limit_coco_polygon_vertices() {
    let coords = vec!["1"; 2 * (neutrostruct::coco::MAX_POINTS + 1)].join(",");
    let e = coco_err(&format!(
        r#"{{"images": [], "categories": [],
"annotations": [{{"id": 1, "image_id": 1, "category_id": 1, "segmentation": [[{coords}]]}}]}}"#
    ));
    assert!(
        e.starts_with("in.json:2:") && e.contains("more than"),
        "{e}"
    );
}

#[test]
fn limit_image_sides_in_coco() {
    let e = coco_err(
        r#"{"images": [{"id": 1, "file_name": "a", "width": 100001, "height": 1}], "annotations": [], "categories": []}"#,
    );
    assert!(e.contains("out of range 1..=100000"), "{e}");
}

#[test]
fn limit_rle_counts_overrunning_their_size() {
    let e = coco_err(
        r#"{"images": [{"id": 1, "file_name": "a", "width": 2, "height": 2}], "categories": [],
"annotations": [{"id": 1, "image_id": 1, "category_id": 1, "iscrowd": 1, "segmentation": {"size": [2, 2], "counts": [1, 9]}}]}"#,
    );
    assert!(
        e.starts_with("in.json:2:") && e.contains("RLE counts sum"),
        "{e}"
    );
    let e = cvat_err(
        "<annotations><image id=\"0\" name=\"a\" width=\"9\" height=\"9\">\n<mask label=\"x\" rle=\"3, 9\" left=\"0\" top=\"0\" width=\"2\" height=\"2\"/></image></annotations>",
    );
    assert!(
        e.starts_with("in.xml:2:") && e.contains("more than its 2×2 box"),
        "{e}"
    );
}

#[test]
fn limit_absurd_numbers() {
    for n in ["1e400", "NaN", "Infinity", "1e300"] {
        let e = coco_err(&format!(
            r#"{{"images": [], "categories": [],
"annotations": [{{"id": 1, "image_id": 1, "category_id": 1, "bbox": [{n}, 0, 1, 1]}}]}}"#
        ));
        assert!(e.starts_with("in.json:2:"), "{n}: {e}");
    }
}

#[test]
fn empty_and_array_inputs_get_a_position_from_format_detection() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (bytes, want) in [(&b""[..], ":1:1: empty file"), (b"\n  [1]", ":2:3: ")] {
        let p = dir.path().join("x.json");
        std::fs::write(&p, bytes).expect("write");
        let e = neutrostruct::convert::Format::detect(&p)
            .expect_err("refused")
            .to_string();
        assert!(e.starts_with(&format!("{}{want}", p.display())), "{e}");
    }
}

/// Regression (fuzz `coco_reader`, 60 s run): a bbox-only annotation whose `attributes` lack
/// `occluded` read as a box and was written with `occluded: false`; the polygon written for
/// it read back as a polygon and the key was dropped, so write → read → write differed.
#[test]
fn coco_fuzz_attributes_without_occluded() {
    coco_fuzz_regression("coco_fuzz_attributes_without_occluded.json", "\"occluded\"");
}

/// Regression (fuzz `coco_reader`, 241 s into a 300 s run): a bbox-only annotation with
/// `bbox: [2, 3, 1, 3.1]` reads as the box 2..3 × 3..6.1, whose recomputed height
/// `6.1 - 3` is 3.0999999999999996, not 3.1. The writer took that as "not a plain COCO
/// box" and added a `neutrostruct` box object; the second pass read a bbox that matched and
/// dropped it again, so write → read → write differed.
#[test]
fn coco_fuzz_bbox_without_segmentation() {
    coco_fuzz_regression(
        "coco_fuzz_bbox_without_segmentation.json",
        "\"neutrostruct\"",
    );
}

/// A COCO fuzz crash input from `tests/hostile/`: write → read → write is stable, and what is
/// written does not contain `invented` (the key the unstable writer used to add).
fn coco_fuzz_regression(file: &str, invented: &str) {
    let bytes = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/hostile")
            .join(file),
    )
    .expect("crash input");
    read_write_stable(&bytes, true);
    let (ds, _) = neutrostruct::coco::read_bytes(&bytes, Path::new("c.json"), &Default::default())
        .expect("reads");
    let (text, _) = neutrostruct::coco::to_string(&ds, &Default::default());
    assert!(!text.contains(invented), "{invented} was invented: {text}");
}

/// A `data.yaml` whose splits point outside its folder (`../..`, an absolute path) is never
/// followed there, even when real images and labels wait at that place.
#[test]
fn yolo_split_outside_the_dataset_folder_is_never_read() {
    let work = tempfile::tempdir().expect("tempdir");
    let outside = work.path().join("outside");
    for d in ["images", "labels"] {
        std::fs::create_dir_all(outside.join(d)).expect("mkdir");
    }
    image::GrayImage::new(8, 8)
        .save(outside.join("images/x.png"))
        .expect("png");
    std::fs::write(outside.join("labels/x.txt"), "0 0.5 0.5 0.1 0.1\n").expect("label");
    let root = work.path().join("a/b");
    std::fs::create_dir_all(&root).expect("mkdir");
    let yaml = format!(
        "train: ../../outside/images\nval: {}\nnames: [a]\n",
        outside.join("images").display()
    );
    std::fs::write(root.join("data.yaml"), yaml).expect("yaml");
    let (ds, loss, sum) = neutrostruct::training::yolo_read::read_dir(
        &root,
        neutrostruct::training::yolo::Flavour::Detect,
    )
    .expect("reads (nothing)");
    assert!(ds.images.is_empty() && sum.label_files == 0, "{sum:?}");
    assert_eq!(loss.count("unsafe-path"), 2, "{loss}");
}

/// A label folder or label file that is a symbolic link out of the dataset folder (git keeps
/// links, so a pull request can add one) is not read: CI never prints another file's content
/// in an error about it.
#[test]
fn yolo_label_links_out_of_the_dataset_are_not_read() {
    let work = tempfile::tempdir().expect("tempdir");
    let secret = work.path().join("secret");
    std::fs::create_dir(&secret).expect("mkdir");
    std::fs::write(secret.join("a.txt"), "TOKEN-1234 0.5 0.5 0.1 0.1\n").expect("secret");
    let root = work.path().join("ds");
    for d in ["images/train", "images/val", "labels/val"] {
        std::fs::create_dir_all(root.join(d)).expect("mkdir");
    }
    std::fs::write(
        root.join("data.yaml"),
        "train: images/train\nval: images/val\nnames: [a]\n",
    )
    .expect("yaml");
    for split in ["train", "val"] {
        image::GrayImage::new(8, 8)
            .save(root.join(format!("images/{split}/a.png")))
            .expect("png");
    }
    // The whole label folder of `train`, and the one label file of `val`, lead outside.
    std::os::unix::fs::symlink(&secret, root.join("labels/train")).expect("link");
    std::os::unix::fs::symlink(secret.join("a.txt"), root.join("labels/val/a.txt")).expect("link");
    let (ds, loss, sum) = neutrostruct::training::yolo_read::read_dir(
        &root,
        neutrostruct::training::yolo::Flavour::Detect,
    )
    .expect("reads without the linked labels");
    assert_eq!(sum.label_files, 0);
    assert_eq!(ds.images.len(), 2, "the images themselves are read");
    assert!(ds.annotations.is_empty());
    assert_eq!(loss.count("unsafe-path"), 2, "{loss}");
    assert!(!loss.to_string().contains("TOKEN"));
}
