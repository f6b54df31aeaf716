//! The YOLO reader: model → YOLO → model on a small synthetic dataset with real image files
//! (counts equal, geometry within the 6 decimals the writer keeps), and the fuzz target's
//! invariant (parse → write → parse is stable) as property tests.

use neutrostruct::labelset::LabelSet;
use neutrostruct::model::*;
use neutrostruct::synth::{self, SynthConfig};
use neutrostruct::training::yolo::{self, Flavour, YoloRequest};
use neutrostruct::training::yolo_labels::{
    check_label_text, parse_label_text, write_label_text, Row, RowProblem,
};
use neutrostruct::training::yolo_read;
use neutrostruct::training::yolo_yaml::{parse_data_yaml, write_data_yaml, DataYaml};
use neutrostruct::training::{ClassMap, SplitPlan};
use proptest::prelude::*;
use std::collections::HashMap;
use std::path::Path;

/// The writer keeps 6 decimals: each normalised value is within 5e-7 of the exact one.
const NORM_TOL: f64 = 1e-6;
/// A rotated box is fitted to four corners that were each rounded: the angle carries their
/// rounding too, so its far corners may move a little more than one rounding step.
const OBB_TOL: f64 = 2e-6;

struct Synth {
    _dir: tempfile::TempDir,
    ds: Dataset,
    images: std::path::PathBuf,
}

fn synth_with_images() -> Synth {
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = SynthConfig {
        images: 4,
        seed: 11,
        size: Some((256, 264)),
        per_image: 25,
        write_images: true,
        ..SynthConfig::default()
    };
    let out = synth::write(dir.path(), &cfg).expect("synth writes");
    let (ds, _) =
        neutrostruct::cvat::read_path(&out.cvat, &Default::default()).expect("synth CVAT reads");
    let images = out.images_dir.expect("images written");
    Synth {
        _dir: dir,
        ds,
        images,
    }
}

/// Writes `ds` as `flavour` (images linked) and reads it back.
fn round_trip(s: &Synth, flavour: Flavour) -> (Dataset, neutrostruct::lossiness::Lossiness, usize) {
    let out = tempfile::tempdir().expect("tmp");
    let classes = ClassMap::new(&s.ds, Some(&LabelSet::four_class())).expect("classes");
    let req = YoloRequest {
        flavour,
        out: out.path(),
        classes: &classes,
        split: &SplitPlan::FromInput,
        images: Some(&s.images),
        copy_images: false,
    };
    let written = yolo::write(&s.ds, &req).expect("writes");
    assert_eq!(written.images_missing, Vec::<String>::new());
    let (back, loss, summary) = yolo_read::read_dir(out.path(), flavour).expect("reads back");
    assert_eq!(summary.rows, written.rows, "{}", flavour.name());
    assert_eq!(summary.label_files, written.label_files);
    (back, loss, written.rows)
}

/// Original annotations per image file name, in document order (the writer's row order).
fn by_file(ds: &Dataset) -> HashMap<String, (&Image, Vec<&Annotation>)> {
    ds.annotations_by_image()
        .into_iter()
        .map(|(im, a)| (im.file_name.clone(), (im, a)))
        .collect()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= NORM_TOL
}

fn close_obb(a: f64, b: f64) -> bool {
    (a - b).abs() <= OBB_TOL
}

/// The read lost nothing: every row became an annotation, and no loss line was needed.
/// (YOLO has no ids and stores fractions of the image size; neither is a loss of what the
/// label file holds, so neither is a loss line: `--deny-lossy` passes a clean read.)
fn assert_lossless(loss: &neutrostruct::lossiness::Lossiness, annotations: usize) {
    assert!(loss.is_lossless(), "{loss}");
    assert_eq!(loss.total_in(), annotations, "{loss}");
    assert_eq!(loss.total_out(), annotations, "{loss}");
}

/// The loss lines, code and count.
fn losses(loss: &neutrostruct::lossiness::Lossiness) -> Vec<(&'static str, usize)> {
    loss.losses.iter().map(|l| (l.code, l.count)).collect()
}

#[test]
fn detect_round_trip_keeps_every_box() {
    let s = synth_with_images();
    let (back, loss, rows) = round_trip(&s, Flavour::Detect);
    assert_eq!(back.images.len(), s.ds.images.len());
    assert_eq!(back.annotations.len(), s.ds.annotations.len());
    assert_eq!(rows, s.ds.annotations.len(), "one row per ellipse");
    assert_lossless(&loss, back.annotations.len());
    assert_eq!(loss.total_in(), loss.total_out());
    let orig = by_file(&s.ds);
    let names: Vec<&str> = back.categories.iter().map(|c| c.name.as_str()).collect();
    for (im, anns) in back.annotations_by_image() {
        let (oim, oanns) = &orig[&im.file_name];
        assert_eq!(
            (im.width, im.height),
            (oim.width, oim.height),
            "size from the header"
        );
        assert_eq!(
            im.subset.as_deref(),
            oim.subset.as_deref().map(str::to_lowercase).as_deref()
        );
        assert_eq!(anns.len(), oanns.len(), "{}", im.file_name);
        let (w, h) = (f64::from(im.width), f64::from(im.height));
        for (a, o) in anns.iter().zip(oanns) {
            let Shape::Box(b) = &a.shape else {
                panic!("detect rows read as boxes, got {}", a.shape.kind())
            };
            let (want, _) = yolo::detect_box(&o.shape, w, h).expect("inside");
            let got = [
                (b.xtl + b.xbr) / 2.0 / w,
                (b.ytl + b.ybr) / 2.0 / h,
                (b.xbr - b.xtl) / w,
                (b.ybr - b.ytl) / h,
            ];
            for k in 0..4 {
                assert!(close(got[k], want[k]), "{got:?} vs {want:?}");
            }
            let oname = &s.ds.category(o.category_id).expect("category").name;
            assert_eq!(names[a.category_id.0 as usize - 1], oname.as_str());
        }
    }
}

#[test]
fn segment_round_trip_keeps_every_polygon_vertex() {
    let s = synth_with_images();
    let (back, loss, _) = round_trip(&s, Flavour::Segment);
    assert_eq!(back.annotations.len(), s.ds.annotations.len());
    assert_lossless(&loss, back.annotations.len());
    let orig = by_file(&s.ds);
    for (im, anns) in back.annotations_by_image() {
        let (_, oanns) = &orig[&im.file_name];
        let (w, h) = (f64::from(im.width), f64::from(im.height));
        for (a, o) in anns.iter().zip(oanns) {
            let Shape::Polygon(rings) = &a.shape else {
                panic!("segment rows read as polygons")
            };
            let rings = rings.to_vec();
            let Shape::Ellipse(e) = &o.shape else {
                panic!("synth makes ellipses")
            };
            let ring = neutrostruct::geometry::ellipse_polygon::ellipse_polygon(
                e,
                neutrostruct::training::yolo::SEG_MAX_ERROR_PX,
            );
            let (want, _) = yolo::clip_ring(&ring, w, h).expect("inside");
            assert_eq!(rings.len(), 1);
            assert_eq!(rings[0].len(), want.len());
            for (p, q) in rings[0].iter().zip(&want) {
                assert!(close(p[0] / w, q[0] / w) && close(p[1] / h, q[1] / h));
            }
        }
    }
}

#[test]
fn obb_round_trip_gives_rotated_boxes_with_the_ellipse_corners() {
    let s = synth_with_images();
    let (back, loss, _) = round_trip(&s, Flavour::Obb);
    assert_eq!(back.annotations.len(), s.ds.annotations.len());
    let orig = by_file(&s.ds);
    let mut polygons = 0;
    for (im, anns) in back.annotations_by_image() {
        let (_, oanns) = &orig[&im.file_name];
        let (w, h) = (f64::from(im.width), f64::from(im.height));
        for (a, o) in anns.iter().zip(oanns) {
            let Shape::Ellipse(e) = &o.shape else {
                panic!("synth makes ellipses")
            };
            let want: Vec<Point> = rotated_rect_corners(e.cx, e.cy, e.rx, e.ry, e.rotation)
                .iter()
                .map(|p| [p[0].clamp(0.0, w), p[1].clamp(0.0, h)])
                .collect();
            let got: Vec<Point> = match &a.shape {
                Shape::Box(b) => b.corners().to_vec(),
                Shape::Polygon(r) => {
                    polygons += 1;
                    r.to_vec()[0].clone()
                }
                other => panic!("obb read as {}", other.kind()),
            };
            // The same four corners, whichever corner the box starts at.
            for q in &want {
                assert!(
                    got.iter()
                        .any(|p| close_obb(p[0] / w, q[0] / w) && close_obb(p[1] / h, q[1] / h)),
                    "{got:?} vs {want:?}"
                );
            }
        }
    }
    // Clamped boxes are no longer rectangles: each is kept as a polygon and said so.
    assert_eq!(loss.count("obb-not-rectangle"), polygons);
}

#[test]
fn yolo_to_coco_and_cvat_through_the_binary() {
    let s = synth_with_images();
    let work = tempfile::tempdir().expect("tmp");
    let yolo_dir = work.path().join("yolo");
    let bin = env!("CARGO_BIN_EXE_neutrostruct");
    let st = std::process::Command::new(bin)
        .args(["convert", "--to", "yolo", "--labelset", "4"])
        .arg(
            s.images
                .parent()
                .expect("synth root")
                .join("annotations_4classes.xml"),
        )
        .arg("-o")
        .arg(&yolo_dir)
        .arg("--images")
        .arg(&s.images)
        .output()
        .expect("runs");
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    for to in ["coco", "cvat"] {
        let out = work.path().join(format!(
            "back_{to}.{}",
            if to == "coco" { "json" } else { "xml" }
        ));
        let st = std::process::Command::new(bin)
            .args(["convert", "--from", "yolo", "--to", to, "--report", "json"])
            .arg(yolo_dir.join("data.yaml"))
            .arg("-o")
            .arg(&out)
            .output()
            .expect("runs");
        assert!(
            st.status.success(),
            "{}",
            String::from_utf8_lossy(&st.stderr)
        );
        let report: serde_json::Value = serde_json::from_slice(&st.stdout).expect("JSON report");
        assert_eq!(
            report["input"]["yolo"].as_u64(),
            Some(s.ds.annotations.len() as u64)
        );
        assert_eq!(
            report["output"]["box"].as_u64(),
            Some(s.ds.annotations.len() as u64),
            "{report}"
        );
    }
    // Without --from the folder is recognised and the user asked for the task.
    let st = std::process::Command::new(bin)
        .args(["convert", "--to", "coco"])
        .arg(&yolo_dir)
        .arg("-o")
        .arg(work.path().join("x.json"))
        .output()
        .expect("runs");
    assert_eq!(st.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&st.stderr)
        .contains("its task must be given: yolo, yolo-seg or yolo-obb"));
}

/// A label set of rows and their text, in any of the three tasks.
fn arb_rows() -> impl Strategy<Value = (Flavour, Vec<Row>)> {
    let value = prop_oneof![
        0.0f64..=1.0,
        Just(0.0),
        Just(1.0),
        (0u32..=1_000_000).prop_map(|n| f64::from(n) / 1e6)
    ];
    let positive = prop_oneof![1e-9f64..=1.0, Just(1.0)];
    prop_oneof![
        prop::collection::vec(
            (
                0usize..4,
                value.clone(),
                value.clone(),
                positive.clone(),
                positive
            )
                .prop_map(|(class, a, b, c, d)| Row {
                    class,
                    coords: vec![a, b, c, d]
                }),
            0..20
        )
        .prop_map(|r| (Flavour::Detect, r)),
        prop::collection::vec(
            (0usize..4, prop::collection::vec(value.clone(), 8))
                .prop_map(|(class, coords)| Row { class, coords }),
            0..20
        )
        .prop_map(|r| (Flavour::Obb, r)),
        prop::collection::vec(
            (
                0usize..4,
                prop::collection::vec((value.clone(), value), 3..40)
            )
                .prop_map(|(class, pts)| Row {
                    class,
                    coords: pts.into_iter().flat_map(|(x, y)| [x, y]).collect()
                }),
            0..20
        )
        .prop_map(|r| (Flavour::Segment, r)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Rows written and read back are the same rows, bit for bit.
    #[test]
    fn rows_write_then_parse_exactly((flavour, rows) in arb_rows()) {
        let p = Path::new("p.txt");
        let text = write_label_text(&rows);
        let back = parse_label_text(&text, flavour, 4, p).expect("what the writer wrote reads");
        prop_assert_eq!(&back, &rows);
        prop_assert_eq!(write_label_text(&back), text);
    }

    /// The fuzz target's invariant on text made of label-like tokens: whatever parses
    /// writes, reads back to the same rows and writes again to the same text.
    #[test]
    fn accepted_label_text_is_stable(
        tokens in prop::collection::vec(
            prop_oneof![
                Just("0"), Just("3"), Just("4"), Just("-1"), Just("0.5"), Just("1"), Just("1e-3"),
                Just("NaN"), Just("inf"), Just("1e400"), Just("-0"), Just(".5"), Just("5."),
                Just("\n"), Just("\r\n"), Just(" "), Just("\t"), Just("x"), Just("+0.25"),
            ],
            0..60,
        )
    ) {
        let text = tokens.join(" ");
        let p = Path::new("p.txt");
        for flavour in [Flavour::Detect, Flavour::Segment, Flavour::Obb] {
            if let Ok(rows) = parse_label_text(&text, flavour, 4, p) {
                let w = write_label_text(&rows);
                let again = parse_label_text(&w, flavour, 4, p).expect("reads back");
                prop_assert_eq!(&again, &rows);
                prop_assert_eq!(write_label_text(&again), w);
            }
            // `validate`'s lenient reading agrees with the strict one: every line is either a
            // row or a problem; the strict read fails exactly when a problem other than a
            // duplicate is found, at the first such problem's line and column.
            let (good, issues) = check_label_text(&text, flavour, 4, p).expect("no limit here");
            let lines = text
                .trim_start_matches('\u{feff}')
                .lines()
                .filter(|l| !l.trim().is_empty())
                .count();
            prop_assert_eq!(good.len() + issues.len(), lines);
            let first_hard = issues.iter().find(|i| i.problem != RowProblem::Duplicate);
            match (parse_label_text(&text, flavour, 4, p), first_hard) {
                (Ok(rows), None) => {
                    let kept: Vec<Row> = good.iter().map(|(r, _)| r.clone()).collect();
                    prop_assert_eq!(rows.len(), kept.len() + issues.len());
                    prop_assert!(kept.iter().all(|r| rows.contains(r)));
                }
                (Err(e), Some(i)) => {
                    let at = format!("p.txt:{}:{}: ", i.line, i.column);
                    prop_assert!(e.to_string().starts_with(&at), "{} vs {}", e, at);
                }
                (strict, lenient) => prop_assert!(false, "strict {:?} but lenient {:?}", strict, lenient),
            }
        }
    }

    /// Any class names and split paths survive data.yaml write → parse.
    #[test]
    fn data_yaml_write_then_parse(
        names in prop::collection::vec(any::<String>(), 0..8),
        train in prop::collection::vec("[a-z/ #:'\"\\\\,\\[\\]{}-]{0,12}", 0..3),
        path in proptest::option::of(any::<String>()),
    ) {
        let y = DataYaml {
            names,
            splits: vec![("train".to_string(), train)],
            path,
        };
        let text = write_data_yaml(&y);
        let back = parse_data_yaml(&text, Path::new("data.yaml")).expect("reads back");
        prop_assert_eq!(&back, &y);
        prop_assert_eq!(write_data_yaml(&back), text);
    }
}

/// Rows that cannot become annotations are counted in a loss line: rows in = annotations out
/// + rows reported dropped.
#[test]
fn rows_not_read_are_counted_by_a_loss_line() {
    let dir = tempfile::tempdir().expect("tmp");
    let root = dir.path();
    for d in ["images/train", "labels/train"] {
        std::fs::create_dir_all(root.join(d)).expect("mkdir");
    }
    std::fs::write(
        root.join("data.yaml"),
        "train: images/train\nnames: [a, b]\n",
    )
    .expect("yaml");
    image::GrayImage::new(10, 20)
        .save(root.join("images/train/a.png"))
        .expect("png");
    // An image in a format whose size is not read here, and a label without any image.
    std::fs::write(root.join("images/train/b.dng"), b"II*\0").expect("dng");
    let rows = "0 0.5 0.5 0.2 0.1\n1 0.25 0.25 0.5 0.5\n";
    for stem in ["a", "b", "c"] {
        std::fs::write(root.join(format!("labels/train/{stem}.txt")), rows).expect("label");
    }
    let (ds, loss, sum) = yolo_read::read_dir(root, Flavour::Detect).expect("reads");
    assert_eq!(sum.rows, 6);
    assert_eq!(ds.annotations.len(), 2);
    assert_eq!(ds.images.len(), 1);
    assert_eq!((ds.images[0].width, ds.images[0].height), (10, 20));
    // Rows in = annotations out + rows a loss line says were dropped.
    let dropped: usize = losses(&loss).iter().map(|(_, n)| n).sum();
    assert_eq!(loss.total_in(), ds.annotations.len() + dropped, "{loss}");
    assert_eq!(loss.total_out(), ds.annotations.len(), "{loss}");
    assert_eq!(
        losses(&loss),
        [("image-size-unknown", 2), ("label-without-image", 2)]
    );
    // The box in pixels: centre (5, 10), 2 × 2 px.
    assert_eq!(box_corners(&ds.annotations[0].shape), [4.0, 9.0, 6.0, 11.0]);
}

/// Roboflow's export layout: `train: ../train/images` beside `data.yaml`, labels in
/// `train/labels`, names as a flow list, an unused `roboflow:` block.
#[test]
fn roboflow_layout_reads() {
    let dir = tempfile::tempdir().expect("tmp");
    let root = dir.path();
    for d in [
        "train/images",
        "train/labels",
        "valid/images",
        "valid/labels",
    ] {
        std::fs::create_dir_all(root.join(d)).expect("mkdir");
    }
    std::fs::write(
        root.join("data.yaml"),
        "train: ../train/images\nval: ../valid/images\n\nnc: 2\nnames: ['cell', 'granule']\n\nroboflow:\n  workspace: x\n  version: 1\n",
    )
    .expect("yaml");
    for split in ["train", "valid"] {
        image::GrayImage::new(100, 50)
            .save(root.join(format!("{split}/images/im_{split}.jpg")))
            .expect("jpeg");
        std::fs::write(
            root.join(format!("{split}/labels/im_{split}.txt")),
            "1 0.1 0.1 0.2 0.1 0.2 0.2\n",
        )
        .expect("label");
    }
    let (ds, loss, _) =
        yolo_read::read_dir(&root.join("data.yaml"), Flavour::Segment).expect("reads");
    assert_lossless(&loss, 2);
    let subsets: Vec<_> = ds.images.iter().map(|i| i.subset.as_deref()).collect();
    assert_eq!(subsets, [Some("train"), Some("val")]);
    assert_eq!(ds.images[0].file_name, "im_train.jpg");
    assert_eq!(ds.categories[1].name, "granule");
    assert_eq!(ds.annotations[0].category_id, CategoryId(2));
    assert_eq!(
        ds.annotations[1].shape,
        Shape::Polygon(vec![vec![[10.0, 5.0], [20.0, 5.0], [20.0, 10.0]]].into())
    );
}

/// A dataset folder with `data.yaml` and empty `images/`, `labels/` folders.
fn list_dataset(yaml: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tmp");
    let root = dir.path();
    for d in ["images/train", "images/val", "labels/train", "labels/val"] {
        std::fs::create_dir_all(root.join(d)).expect("mkdir");
    }
    std::fs::write(root.join("data.yaml"), yaml).expect("yaml");
    dir
}

/// Ultralytics' `train: train.txt`: `./` lines are relative to the list file's folder, other
/// lines to the dataset root; labels are found by `img2label_paths`; absolute and `..`
/// entries are reported `unsafe-path` and never opened; a listed image that is missing and a
/// line that is not an image are counted, not guessed.
#[test]
fn split_list_files_read_as_ultralytics_reads_them() {
    let dir = list_dataset("train: lists/train.txt\nval: val.txt\nnames: [a, b]\n");
    let root = dir.path();
    std::fs::create_dir_all(root.join("lists")).expect("mkdir");
    image::GrayImage::new(10, 20)
        .save(root.join("images/train/a.png"))
        .expect("png");
    image::GrayImage::new(40, 30)
        .save(root.join("images/val/b.jpg"))
        .expect("jpeg");
    std::fs::create_dir_all(root.join("lists/images")).expect("mkdir");
    std::fs::create_dir_all(root.join("lists/labels")).expect("mkdir");
    image::GrayImage::new(8, 8)
        .save(root.join("lists/images/c.png"))
        .expect("png");
    std::fs::write(root.join("labels/train/a.txt"), "0 0.5 0.5 0.2 0.1\n").expect("label");
    std::fs::write(
        root.join("labels/val/b.txt"),
        "1 0.5 0.5 0.5 0.5\n0 0.25 0.25 0.5 0.5\n",
    )
    .expect("label");
    std::fs::write(root.join("lists/labels/c.txt"), "1 0.5 0.5 0.25 0.25\n").expect("label");
    // A secret outside the dataset that the list tries to reach.
    let outside = tempfile::tempdir().expect("tmp");
    std::fs::create_dir_all(outside.path().join("images")).expect("mkdir");
    image::GrayImage::new(5, 5)
        .save(outside.path().join("images/secret.png"))
        .expect("png");
    std::fs::write(
        root.join("lists/train.txt"),
        format!(
            "images/train/a.png\n\n./images/c.png\r\n{}/images/secret.png\n../images/train/a.png\nimages/train/a.png\nnotes.md\nimages/train/gone.png\n",
            outside.path().display()
        ),
    )
    .expect("list");
    std::fs::write(root.join("val.txt"), "./images/val/b.jpg\n").expect("list");
    let (ds, loss, sum) = yolo_read::read_dir(root, Flavour::Detect).expect("reads");
    let names: Vec<(&str, Option<&str>, u32, u32)> = ds
        .images
        .iter()
        .map(|i| (i.file_name.as_str(), i.subset.as_deref(), i.width, i.height))
        .collect();
    assert_eq!(
        names,
        [
            ("train/a.png", Some("train"), 10, 20),
            ("c.png", Some("train"), 8, 8),
            ("val/b.jpg", Some("val"), 40, 30),
        ]
    );
    assert_eq!(sum.rows, 4);
    assert_eq!(ds.annotations.len(), 4);
    assert_eq!(
        losses(&loss),
        [
            ("unsafe-path", 2),
            ("list-entry-not-an-image", 1),
            ("listed-image-missing", 1)
        ],
        "{loss}"
    );
    let unsafe_msg = &loss.losses[0].message;
    assert!(unsafe_msg.contains("train.txt:4:"), "{unsafe_msg}");
    // The box of c.png in pixels: centre (4, 4), 2 × 2 px, class b.
    let c = &ds.annotations[1];
    assert_eq!(c.category_id, CategoryId(2));
    assert_eq!(box_corners(&c.shape), [3.0, 3.0, 5.0, 5.0]);
}

/// The list file's limits: more than `MAX_LIST_LINES` lines, or a line longer than
/// `MAX_LIST_LINE_BYTES`, is an error naming the list file and the line.
#[test]
fn split_list_limits_are_errors_with_positions() {
    let dir = list_dataset("train: train.txt\nnames: [a]\n");
    let root = dir.path();
    let long = format!(
        "images/train/a.png\nimages/train/{}.png\n",
        "x".repeat(yolo_read::MAX_LIST_LINE_BYTES)
    );
    std::fs::write(root.join("train.txt"), long).expect("list");
    let e = yolo_read::read_dir(root, Flavour::Detect)
        .expect_err("a line over the limit")
        .to_string();
    assert!(
        e.contains("train.txt:2:1: ") && e.contains("longer than 4096 bytes"),
        "{e}"
    );
    // Exactly at the limit is accepted (the image just does not exist).
    let ok = format!(
        "images/train/{}.png\n",
        "x".repeat(yolo_read::MAX_LIST_LINE_BYTES - "images/train/.png".len())
    );
    std::fs::write(root.join("train.txt"), ok).expect("list");
    let (_, loss, _) = yolo_read::read_dir(root, Flavour::Detect).expect("at the limit");
    assert_eq!(losses(&loss), [("listed-image-missing", 1)], "{loss}");
    // Blank lines count as lines: the limit bounds the text, not only the entries.
    let mut many = "\n".repeat(yolo_read::MAX_LIST_LINES);
    many.push_str("images/train/a.png\n");
    std::fs::write(root.join("train.txt"), many).expect("list");
    let e = yolo_read::read_dir(root, Flavour::Detect)
        .expect_err("too many lines")
        .to_string();
    let want = format!("train.txt:{}:1: ", yolo_read::MAX_LIST_LINES + 1);
    assert!(e.contains(&want) && e.contains("lines"), "{e}");
    // Not UTF-8: an error at its position.
    std::fs::write(
        root.join("train.txt"),
        b"images/train/a.png\nimages/\xff.png\n",
    )
    .expect("list");
    let e = yolo_read::read_dir(root, Flavour::Detect)
        .expect_err("not UTF-8")
        .to_string();
    assert!(e.contains("train.txt:2:8: "), "{e}");
}

/// A split list that is a symbolic link leading out of the dataset is not read.
#[cfg(unix)]
#[test]
fn split_list_linking_out_of_the_dataset_is_not_read() {
    let dir = list_dataset("train: train.txt\nnames: [a]\n");
    let outside = tempfile::tempdir().expect("tmp");
    std::fs::write(outside.path().join("list.txt"), "images/train/a.png\n").expect("list");
    std::os::unix::fs::symlink(
        outside.path().join("list.txt"),
        dir.path().join("train.txt"),
    )
    .expect("link");
    let (ds, loss, _) = yolo_read::read_dir(dir.path(), Flavour::Detect).expect("reads");
    assert!(ds.images.is_empty());
    assert_eq!(loss.losses[0].code, "unsafe-path", "{loss}");
}

/// A 24-bit BMP of `w × h` (negative `h`: stored top-down), pixels included.
fn bmp(w: i32, h: i32) -> Vec<u8> {
    let row = (w.unsigned_abs() * 3).div_ceil(4) * 4;
    let data = row * h.unsigned_abs();
    let mut b = b"BM".to_vec();
    b.extend((54 + data).to_le_bytes());
    b.extend([0u8; 4]);
    b.extend(54u32.to_le_bytes());
    b.extend(40u32.to_le_bytes());
    b.extend(w.to_le_bytes());
    b.extend(h.to_le_bytes());
    b.extend(1u16.to_le_bytes());
    b.extend(24u16.to_le_bytes());
    b.extend(0u32.to_le_bytes());
    b.extend(data.to_le_bytes());
    b.extend(2835u32.to_le_bytes());
    b.extend(2835u32.to_le_bytes());
    b.extend([0u8; 8]);
    b.resize(54 + data as usize, 0x80);
    b
}

/// WebP headers: lossless (`VP8L`) and extended (`VP8X`), as their specification lays them out.
fn webp_vp8l(w: u32, h: u32) -> Vec<u8> {
    let mut b = b"RIFF".to_vec();
    b.extend(26u32.to_le_bytes());
    b.extend(b"WEBPVP8L");
    b.extend(13u32.to_le_bytes());
    b.push(0x2f);
    b.extend(((w - 1) | ((h - 1) << 14)).to_le_bytes());
    b.extend([0u8; 8]);
    b
}

fn webp_vp8x(w: u32, h: u32) -> Vec<u8> {
    let mut b = b"RIFF".to_vec();
    b.extend(22u32.to_le_bytes());
    b.extend(b"WEBPVP8X");
    b.extend(10u32.to_le_bytes());
    b.extend([0u8; 4]);
    b.extend(&(w - 1).to_le_bytes()[..3]);
    b.extend(&(h - 1).to_le_bytes()[..3]);
    b
}

/// A HEIF box: size, type, body.
fn heif_box(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
    let mut b = (8 + body.len() as u32).to_be_bytes().to_vec();
    b.extend(kind);
    b.extend(body);
    b
}

/// A HEIC file's header: `ftyp`, then `meta` holding the image's `ispe` (spatial extent).
fn heic(w: u32, h: u32) -> Vec<u8> {
    let mut ftyp = b"heic".to_vec();
    ftyp.extend([0u8; 4]);
    ftyp.extend(b"mif1heic");
    let mut ispe = vec![0u8; 4];
    ispe.extend(w.to_be_bytes());
    ispe.extend(h.to_be_bytes());
    let ipco = heif_box(b"ipco", &heif_box(b"ispe", &ispe));
    let mut meta = vec![0u8; 4];
    meta.extend(heif_box(b"hdlr", &[0u8; 25]));
    meta.extend(heif_box(b"iprp", &ipco));
    let mut b = heif_box(b"ftyp", &ftyp);
    b.extend(heif_box(b"meta", &meta));
    b
}

/// A PFM (portable float map, colour) of `w × h`.
fn pfm(w: u32, h: u32) -> Vec<u8> {
    let mut b = format!("PF\n{w} {h}\n-1.0\n").into_bytes();
    b.resize(b.len() + (w * h * 3 * 4) as usize, 0);
    b
}

/// Every format of Ultralytics' `IMG_FORMATS` but DNG gets its size from the header; DNG is
/// reported. Sizes differ per file so a swapped or default size would show.
#[test]
fn image_sizes_of_every_ultralytics_format_but_dng() {
    let dir = list_dataset("train: images/train\nnames: [a]\n");
    let root = dir.path();
    let t = root.join("images/train");
    image::GrayImage::new(11, 7)
        .save(t.join("a.png"))
        .expect("png");
    image::GrayImage::new(12, 9)
        .save(t.join("b.jpg"))
        .expect("jpeg");
    image::GrayImage::new(13, 5)
        .save(t.join("c.tif"))
        .expect("tiff");
    // MPO is a JPEG whose first image is the primary one.
    image::GrayImage::new(14, 6)
        .save(t.join("d.jpeg"))
        .expect("jpeg");
    std::fs::rename(t.join("d.jpeg"), t.join("d.mpo")).expect("mpo");
    std::fs::write(t.join("e.bmp"), bmp(3, 2)).expect("bmp");
    std::fs::write(t.join("f.bmp"), bmp(5, -4)).expect("top-down bmp");
    std::fs::write(t.join("g.webp"), webp_vp8l(300, 17)).expect("webp");
    std::fs::write(t.join("h.webp"), webp_vp8x(16385, 21)).expect("webp");
    std::fs::write(t.join("i.heic"), heic(4032, 3024)).expect("heic");
    std::fs::write(t.join("j.pfm"), pfm(6, 3)).expect("pfm");
    std::fs::write(t.join("k.dng"), b"II*\0\x08\0\0\0").expect("dng");
    for stem in ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k"] {
        write_label(root, stem, "0 0.5 0.5 0.5 0.5\n");
    }
    let (ds, loss, _) = yolo_read::read_dir(root, Flavour::Detect).expect("reads");
    let sizes = image_sizes(&ds);
    assert_eq!(
        sizes,
        [
            ("a.png", 11, 7),
            ("b.jpg", 12, 9),
            ("c.tif", 13, 5),
            ("d.mpo", 14, 6),
            ("e.bmp", 3, 2),
            ("f.bmp", 5, 4),
            ("g.webp", 300, 17),
            ("h.webp", 16385, 21),
            ("i.heic", 4032, 3024),
            ("j.pfm", 6, 3),
        ]
    );
    assert_eq!(losses(&loss), [("image-size-unknown", 1)], "{loss}");
}

/// Header sizes keep the 1..=100000 px bound, and a header cut short is an error naming the
/// file (exit 2 through the binary), never a panic.
#[test]
fn image_headers_out_of_range_or_cut_short_are_errors() {
    let cases: [(&str, Vec<u8>, &str); 5] = [
        ("a.bmp", bmp(100_001, 1), "out of range"),
        ("a.webp", webp_vp8l(300, 17)[..22].to_vec(), "cut short"),
        ("a.heic", heic(0, 10), "out of range"),
        ("a.pfm", b"PF\n6".to_vec(), "not a PFM header"),
        ("a.bmp", b"BM".to_vec(), "cut short"),
    ];
    for (name, bytes, want) in cases {
        let dir = list_dataset("train: images/train\nnames: [a]\n");
        let p = dir.path().join("images/train").join(name);
        std::fs::write(&p, &bytes).expect("image");
        let e = yolo_read::read_dir(dir.path(), Flavour::Detect)
            .expect_err(name)
            .to_string();
        assert!(e.contains(name) && e.contains(want), "{name}: {e}");
        // Outside the dataset folder: an output inside an input is refused (io_guard).
        let out_dir = tempfile::tempdir().expect("tmp");
        let out = out_dir.path().join("out.json");
        let run = std::process::Command::new(env!("CARGO_BIN_EXE_neutrostruct"))
            .args(["convert", "--from", "yolo", "--to", "coco", "-o"])
            .arg(&out)
            .arg(dir.path())
            .output()
            .expect("runs");
        assert_eq!(run.status.code(), Some(2), "{name}");
        let err = String::from_utf8_lossy(&run.stderr);
        assert!(err.contains(name) && !err.contains("panicked"), "{err}");
    }
}

/// A YOLO dataset with one problem of each kind: `validate --yolo` reports every row problem
/// at its label file, line and column (exit 1, not a parse failure), then runs the
/// model-level rules on the rows that read, pinned to their label file and line.
fn yolo_dataset_with_problems() -> tempfile::TempDir {
    let dir = list_dataset("train: images/train\nnames: [a, b]\n");
    let root = dir.path();
    for stem in ["a", "b"] {
        image::GrayImage::new(100, 100)
            .save(root.join(format!("images/train/{stem}.png")))
            .expect("png");
    }
    std::fs::write(
        root.join("labels/train/a.txt"),
        "0 0.1 0.1 0.05 0.05\n5 0.5 0.5 0.1 0.1\n1 0.5 1.5 0.1 0.1\n0 0.1 0.1 0.05 0.05\n1 0.5 0.5 0 0.1\n0 0.5 0.5 0.1\n",
    )
    .expect("label");
    // Two boxes of one class on top of each other.
    std::fs::write(
        root.join("labels/train/b.txt"),
        "1 0.2 0.2 0.1 0.1\n0 0.5 0.5 0.4 0.4\n0 0.501 0.5 0.4 0.4\n",
    )
    .expect("label");
    std::fs::write(root.join("labels/train/c.txt"), "0 0.5 0.5 0.1 0.1\n").expect("label");
    dir
}

/// `validate … --format json` run in `cwd` (findings name files relative to it).
fn validate_json(
    cwd: &Path,
    args: &[&std::ffi::OsStr],
) -> (Option<i32>, serde_json::Value, String) {
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_neutrostruct"))
        .current_dir(cwd)
        .arg("validate")
        .args(args)
        .args(["--format", "json"])
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&run.stderr).to_string();
    let report = serde_json::from_slice(&run.stdout).unwrap_or(serde_json::Value::Null);
    (run.status.code(), report, stderr)
}

/// (rule, file, line, column) of every finding.
fn placed(report: &serde_json::Value) -> Vec<(String, String, Option<u64>, Option<u64>)> {
    report["findings"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|f| {
                    (
                        f["rule"].as_str().unwrap_or("").to_string(),
                        f["file"].as_str().unwrap_or("").to_string(),
                        f["line"].as_u64(),
                        f["column"].as_u64(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn validate_yolo_reports_rows_at_file_line_column_and_runs_the_model_rules() {
    let dir = yolo_dataset_with_problems();
    let root = dir.path();
    let (code, report, stderr) = validate_json(
        root,
        &[".".as_ref(), "--yolo-task".as_ref(), "yolo".as_ref()],
    );
    assert_eq!(code, Some(1), "{stderr}");
    let want =
        |r: &str, f: &str, l: Option<u64>, c: Option<u64>| (r.to_string(), f.to_string(), l, c);
    let got = placed(&report);
    for w in [
        want(
            "yolo-class-out-of-range",
            "labels/train/a.txt",
            Some(2),
            Some(1),
        ),
        want(
            "yolo-not-normalised",
            "labels/train/a.txt",
            Some(3),
            Some(7),
        ),
        want("yolo-duplicate-row", "labels/train/a.txt", Some(4), Some(1)),
        want(
            "yolo-degenerate-row",
            "labels/train/a.txt",
            Some(5),
            Some(1),
        ),
        want("yolo-malformed-row", "labels/train/a.txt", Some(6), Some(1)),
        want("image-missing", "labels/train/c.txt", None, None),
    ] {
        assert!(got.contains(&w), "{w:?} not in {got:#?}");
    }
    // The model-level rules see the rows that read, and name the label file and row line.
    let overlap: Vec<_> = got
        .iter()
        .filter(|(_, f, _, _)| f == "labels/train/b.txt")
        .collect();
    assert!(
        !overlap.is_empty() && overlap.iter().all(|(_, _, l, _)| *l == Some(3)),
        "{got:#?}"
    );
    // No finding for the good rows; nothing names data.yaml.
    assert!(got.iter().all(|(_, f, _, _)| f != "data.yaml"), "{got:#?}");
    // --yolo with the data.yaml finds the same, and the row task is taken from the first row.
    let (code2, report2, stderr2) = validate_json(root, &["--yolo".as_ref(), "data.yaml".as_ref()]);
    assert_eq!(code2, Some(1), "{stderr2}");
    assert!(stderr2.contains("read as yolo"), "{stderr2}");
    let mut a = got.clone();
    let mut b = placed(&report2);
    a.sort();
    b.sort();
    assert_eq!(a, b);
    // Found under DIR and named by --yolo too: read once, so no finding comes twice.
    let (_, report3, stderr3) = validate_json(
        root,
        &[
            ".".as_ref(),
            "--yolo".as_ref(),
            ".".as_ref(),
            "--yolo-task".as_ref(),
            "yolo".as_ref(),
        ],
    );
    assert_eq!(placed(&report3), got, "{stderr3}");
}

#[test]
fn validate_yolo_clean_dataset_passes_and_broken_files_still_exit_2() {
    let dir = list_dataset("train: images/train\nnames: [a, b]\n");
    let root = dir.path();
    image::GrayImage::new(100, 100)
        .save(root.join("images/train/a.png"))
        .expect("png");
    std::fs::write(
        root.join("labels/train/a.txt"),
        "0 0.2 0.2 0.1 0.1\n1 0.7 0.7 0.2 0.2\n",
    )
    .expect("label");
    let (code, report, stderr) = validate_json(root, &["--yolo".as_ref(), ".".as_ref()]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(placed(&report), []);
    // Not UTF-8 is no row problem: the file cannot be read at all.
    std::fs::write(
        root.join("labels/train/a.txt"),
        b"0 0.2 0.2 0.1 0.1\n1 \xff\n",
    )
    .expect("label");
    let (code, _, stderr) = validate_json(root, &["--yolo".as_ref(), ".".as_ref()]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("a.txt:2:3: ") && !stderr.contains("panicked"),
        "{stderr}"
    );
}

/// `[xtl, ytl, xbr, ybr]` of a box shape; anything else fails the test.
fn box_corners(shape: &Shape) -> [f64; 4] {
    let Shape::Box(b) = shape else {
        panic!("a box, got {}", shape.kind())
    };
    [b.xtl, b.ytl, b.xbr, b.ybr]
}

/// (file name, width, height) of each image, in order.
fn image_sizes(ds: &Dataset) -> Vec<(&str, u32, u32)> {
    ds.images
        .iter()
        .map(|i| (i.file_name.as_str(), i.width, i.height))
        .collect()
}

/// Writes `labels/train/<stem>.txt`.
fn write_label(root: &Path, stem: &str, rows: &str) {
    std::fs::write(root.join(format!("labels/train/{stem}.txt")), rows).expect("label");
}

/// A JPEG of `w × h` whose EXIF orientation tag is `orientation`: an APP1 segment (a
/// little-endian TIFF header and one IFD entry, tag 0x0112, SHORT) put right after SOI.
fn jpeg_with_orientation(w: u32, h: u32, orientation: u16) -> Vec<u8> {
    let mut plain = Vec::new();
    image::GrayImage::new(w, h)
        .write_to(
            &mut std::io::Cursor::new(&mut plain),
            image::ImageFormat::Jpeg,
        )
        .expect("jpeg");
    let mut tiff = b"II*\0\x08\0\0\0\x01\0".to_vec(); // header, IFD at 8, one entry
    tiff.extend_from_slice(&0x0112u16.to_le_bytes()); // Orientation
    tiff.extend_from_slice(&3u16.to_le_bytes()); // SHORT
    tiff.extend_from_slice(&1u32.to_le_bytes()); // one value
    tiff.extend_from_slice(&orientation.to_le_bytes());
    tiff.extend_from_slice(&[0, 0, 0, 0, 0, 0]); // value padding, no next IFD
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend_from_slice(&tiff);
    let len = u16::try_from(app1.len() + 2).expect("small");
    let mut out = plain[..2].to_vec(); // SOI
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&app1);
    out.extend_from_slice(&plain[2..]);
    out
}

/// Ultralytics normalises labels by the size of a JPEG as displayed (`exif_size`: EXIF
/// orientations 6 and 8 swap width and height), so the pixels come from that size too.
#[test]
fn a_jpeg_turned_by_its_exif_orientation_is_sized_as_displayed() {
    let dir = list_dataset("train: images/train\nnames: [a]\n");
    let root = dir.path();
    let t = root.join("images/train");
    for (stem, orientation) in [("r6", 6), ("r8", 8), ("r3", 3), ("r1", 1)] {
        std::fs::write(
            t.join(format!("{stem}.jpg")),
            jpeg_with_orientation(40, 20, orientation),
        )
        .expect("jpeg");
        write_label(root, stem, "0 0.5 0.5 0.5 0.5\n");
    }
    let (ds, _, _) = yolo_read::read_dir(root, Flavour::Detect).expect("reads");
    let sizes = image_sizes(&ds);
    assert_eq!(
        sizes,
        [
            ("r1.jpg", 40, 20),
            ("r3.jpg", 40, 20),
            ("r6.jpg", 20, 40),
            ("r8.jpg", 20, 40)
        ]
    );
    // The box of r6: centre (10, 20), 10 × 20 px in the turned frame.
    assert_eq!(
        box_corners(&ds.annotations[2].shape),
        [5.0, 10.0, 15.0, 30.0]
    );
}

/// A DNG's size is not read from its header, so its rows cannot be checked: `validate` says
/// so as a warning at the label file, and the run still passes.
#[test]
fn validate_warns_about_an_image_whose_size_is_unknown() {
    let dir = list_dataset("train: images/train\nnames: [a]\n");
    let root = dir.path();
    image::GrayImage::new(10, 10)
        .save(root.join("images/train/a.png"))
        .expect("png");
    std::fs::write(root.join("images/train/b.dng"), b"II*\0\x08\0\0\0").expect("dng");
    for stem in ["a", "b"] {
        std::fs::write(
            root.join(format!("labels/train/{stem}.txt")),
            "0 0.5 0.5 0.2 0.2\n",
        )
        .expect("label");
    }
    let (code, report, stderr) = validate_json(root, &["--yolo".as_ref(), ".".as_ref()]);
    assert_eq!(code, Some(0), "{stderr}");
    let findings = report["findings"].as_array().cloned().unwrap_or_default();
    let unknown: Vec<_> = findings
        .iter()
        .filter(|f| f["rule"] == "image-size-mismatch")
        .collect();
    assert_eq!(unknown.len(), 1, "{report:#}");
    assert_eq!(unknown[0]["severity"], "warning");
    assert_eq!(unknown[0]["file"], "labels/train/b.txt");
}

/// Read as oriented boxes, a row whose corners are not a rectangle is kept as a polygon and
/// reported at its line; the rectangle on the line before is not.
#[test]
fn validate_reports_an_oriented_box_that_is_not_a_rectangle() {
    let dir = list_dataset("train: images/train\nnames: [a]\n");
    let root = dir.path();
    image::GrayImage::new(100, 100)
        .save(root.join("images/train/a.png"))
        .expect("png");
    write_label(
        root,
        "a",
        "0 0.1 0.4 0.2 0.4 0.2 0.6 0.1 0.6\n0 0.6 0.4 0.7 0.3 0.7 0.6 0.6 0.6\n",
    );
    let (code, report, stderr) = validate_json(
        root,
        &[
            "--yolo".as_ref(),
            ".".as_ref(),
            "--yolo-task".as_ref(),
            "yolo-obb".as_ref(),
        ],
    );
    assert_eq!(code, Some(0), "{stderr}");
    let got: Vec<_> = placed(&report)
        .into_iter()
        .filter(|(rule, ..)| rule == "yolo-obb-not-rectangle")
        .collect();
    assert_eq!(
        got,
        [(
            "yolo-obb-not-rectangle".to_string(),
            "labels/train/a.txt".to_string(),
            Some(2),
            Some(1)
        )]
    );
}
