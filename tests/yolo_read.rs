//! The YOLO reader: model → YOLO → model on a small synthetic dataset with real image files
//! (counts equal, geometry within the 6 decimals the writer keeps), and the fuzz target's
//! invariant (parse → write → parse is stable) as property tests.

use neutrostruct::labelset::LabelSet;
use neutrostruct::model::*;
use neutrostruct::synth::{self, SynthConfig};
use neutrostruct::training::yolo::{self, Flavour, YoloRequest};
use neutrostruct::training::yolo_labels::{parse_label_text, write_label_text, Row};
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

#[test]
fn detect_round_trip_keeps_every_box() {
    let s = synth_with_images();
    let (back, loss, rows) = round_trip(&s, Flavour::Detect);
    assert_eq!(back.images.len(), s.ds.images.len());
    assert_eq!(back.annotations.len(), s.ds.annotations.len());
    assert_eq!(rows, s.ds.annotations.len(), "one row per ellipse");
    assert!(loss.is_lossless(), "{loss}");
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
    assert!(loss.is_lossless(), "{loss}");
    let orig = by_file(&s.ds);
    for (im, anns) in back.annotations_by_image() {
        let (_, oanns) = &orig[&im.file_name];
        let (w, h) = (f64::from(im.width), f64::from(im.height));
        for (a, o) in anns.iter().zip(oanns) {
            let Shape::Polygon(rings) = &a.shape else {
                panic!("segment rows read as polygons")
            };
            let Shape::Ellipse(e) = &o.shape else {
                panic!("synth makes ellipses")
            };
            let ring = neutrostruct::ellipse_polygon::ellipse_polygon(
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
                    r[0].clone()
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
    let said = loss
        .losses
        .iter()
        .find(|l| l.code == "obb-not-rectangle")
        .map_or(0, |l| l.count);
    assert_eq!(said, polygons);
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
        let out = work.path().join(format!("back.{to}"));
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
    assert!(String::from_utf8_lossy(&st.stderr).contains("pass --from yolo"));
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
    std::fs::write(root.join("images/train/b.bmp"), b"BM").expect("bmp");
    let rows = "0 0.5 0.5 0.2 0.1\n1 0.25 0.25 0.5 0.5\n";
    for stem in ["a", "b", "c"] {
        std::fs::write(root.join(format!("labels/train/{stem}.txt")), rows).expect("label");
    }
    let (ds, loss, sum) = yolo_read::read_dir(root, Flavour::Detect).expect("reads");
    assert_eq!(sum.rows, 6);
    assert_eq!(ds.annotations.len(), 2);
    assert_eq!(ds.images.len(), 1);
    assert_eq!((ds.images[0].width, ds.images[0].height), (10, 20));
    let dropped: usize = loss.losses.iter().map(|l| l.count).sum();
    assert_eq!(loss.total_in(), ds.annotations.len() + dropped, "{loss}");
    let codes: Vec<&str> = loss.losses.iter().map(|l| l.code).collect();
    assert_eq!(codes, ["image-size-unknown", "label-without-image"]);
    // The box in pixels: centre (5, 10), 2 × 2 px.
    let Shape::Box(b) = &ds.annotations[0].shape else {
        panic!("a box")
    };
    assert_eq!([b.xtl, b.ytl, b.xbr, b.ybr], [4.0, 9.0, 6.0, 11.0]);
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
    assert!(loss.is_lossless(), "{loss}");
    let subsets: Vec<_> = ds.images.iter().map(|i| i.subset.as_deref()).collect();
    assert_eq!(subsets, [Some("train"), Some("val")]);
    assert_eq!(ds.images[0].file_name, "im_train.jpg");
    assert_eq!(ds.categories[1].name, "granule");
    assert_eq!(ds.annotations[0].category_id, CategoryId(2));
    assert_eq!(
        ds.annotations[1].shape,
        Shape::Polygon(vec![vec![[10.0, 5.0], [20.0, 5.0], [20.0, 10.0]]])
    );
}
