//! Training formats: YOLO flavours and VOC, checked against the analytic geometry and
//! snapshotted on a small dataset.

use neutrostruct::labelset::LabelSet;
use neutrostruct::model::*;
use neutrostruct::training::yolo::{self, detect_box, Flavour, YoloRequest};
use neutrostruct::training::{voc, ClassMap, SplitPlan};
use proptest::prelude::*;
use std::path::Path;

fn image(id: u64, name: &str, w: u32, h: u32, subset: &str) -> Image {
    Image {
        id: ImageId(id),
        file_name: name.into(),
        width: w,
        height: h,
        subset: Some(subset.into()),
        coco_extra: Default::default(),
        cvat_attrs: Vec::new(),
        cvat_unknown: Vec::new(),
        loc: None,
    }
}

fn small_dataset() -> Dataset {
    let mut ds = Dataset {
        categories: LabelSet::four_class().categories(),
        ..Default::default()
    };
    ds.images.push(image(0, "cell_a.png", 200, 100, "train"));
    ds.images.push(image(1, "cell_b.png", 100, 100, "test"));
    let shapes = [
        (
            0,
            1,
            Ellipse {
                cx: 50.0,
                cy: 40.0,
                rx: 20.0,
                ry: 10.0,
                rotation: 0.0,
            },
        ),
        (
            0,
            2,
            Ellipse {
                cx: 120.0,
                cy: 50.0,
                rx: 15.0,
                ry: 8.0,
                rotation: 30.0,
            },
        ),
        (
            0,
            3,
            Ellipse {
                cx: 195.0,
                cy: 95.0,
                rx: 12.0,
                ry: 12.0,
                rotation: 0.0,
            },
        ), // clipped
        (
            1,
            4,
            Ellipse {
                cx: 50.0,
                cy: 50.0,
                rx: 30.0,
                ry: 10.0,
                rotation: 90.0,
            },
        ),
    ];
    for (n, (img, cat, e)) in shapes.into_iter().enumerate() {
        ds.annotations.push(Annotation::new(
            AnnotationId(n as u64 + 1),
            ImageId(img),
            CategoryId(cat),
            Shape::Ellipse(e),
        ));
    }
    ds
}

fn tree(dir: &Path) -> String {
    let mut files: Vec<_> = walkdir::WalkDir::new(dir)
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .map(|e| e.path().to_path_buf())
        .collect();
    files.sort();
    let mut out = String::new();
    for f in files {
        let rel = f.strip_prefix(dir).unwrap_or(&f).display().to_string();
        let text = std::fs::read_to_string(&f).unwrap_or_default();
        let text = text.replace(
            &dir.canonicalize()
                .unwrap_or(dir.to_path_buf())
                .display()
                .to_string(),
            "OUT",
        );
        out.push_str(&format!("=== {rel}\n{text}"));
    }
    out
}

fn snapshot(name: &str, text: &str) {
    insta::with_settings!({snapshot_path => "../snapshots", prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!(name, text);
    });
}

#[test]
fn every_format_on_a_small_dataset() {
    let ds = small_dataset();
    let classes = ClassMap::new(&ds, Some(&LabelSet::four_class())).expect("classes");
    for flavour in [Flavour::Detect, Flavour::Segment, Flavour::Obb] {
        let dir = tempfile::tempdir().expect("tmp");
        let req = YoloRequest {
            flavour,
            out: dir.path(),
            classes: &classes,
            split: &SplitPlan::FromInput,
            images: None,
            copy_images: false,
        };
        let out = yolo::write(&ds, &req).expect("writes");
        assert_eq!(
            out.rows,
            ds.annotations.len(),
            "{}: one row per ellipse",
            flavour.name()
        );
        snapshot(
            &format!("training_{}", flavour.name()),
            &format!("{}\n--- lossiness\n{}", tree(dir.path()), out.loss),
        );
    }
    let dir = tempfile::tempdir().expect("tmp");
    let loss = voc::write(&ds, dir.path(), &classes, &SplitPlan::FromInput).expect("writes");
    snapshot(
        "training_voc",
        &format!("{}\n--- lossiness\n{}", tree(dir.path()), loss),
    );
}

#[test]
fn ratio_splits_are_deterministic_and_complete() {
    let mut ds = small_dataset();
    for i in 2..50 {
        ds.images
            .push(image(i, &format!("x{i}.png"), 10, 10, "train"));
    }
    let plan = SplitPlan::parse_ratios("train=0.8,val=0.2", 5).expect("plan");
    let a = plan.assign(&ds.images);
    let b = plan.assign(&ds.images);
    assert_eq!(a, b);
    assert_eq!(a.len(), 50);
    assert_eq!(a.values().filter(|s| *s == "val").count(), 10);
    assert!(
        SplitPlan::parse_ratios("../x=1", 0).is_err(),
        "split names are plain folder names"
    );
}

fn arb_ellipse() -> impl Strategy<Value = Ellipse> {
    (
        -50.0f64..350.0,
        -50.0f64..250.0,
        0.5f64..120.0,
        0.5f64..120.0,
        -360.0f64..360.0,
    )
        .prop_map(|(cx, cy, rx, ry, rotation)| Ellipse {
            cx,
            cy,
            rx,
            ry,
            rotation,
        })
}

/// The tight box of a rotated ellipse by dense sampling of its boundary (independent of the
/// closed form used by the writer).
fn sampled_box(e: &Ellipse) -> [f64; 4] {
    let (s, c) = e.rotation.to_radians().sin_cos();
    let (mut x0, mut y0, mut x1, mut y1) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
    for k in 0..200_000 {
        let t = k as f64 / 200_000.0 * std::f64::consts::TAU;
        let (u, v) = (e.rx * t.cos(), e.ry * t.sin());
        let (x, y) = (e.cx + u * c - v * s, e.cy + u * s + v * c);
        x0 = x0.min(x);
        y0 = y0.min(y);
        x1 = x1.max(x);
        y1 = y1.max(y);
    }
    [x0, y0, x1, y1]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn yolo_box_is_the_clipped_tight_box(e in arb_ellipse()) {
        let (w, h) = (300.0, 200.0);
        let [x0, y0, x1, y1] = sampled_box(&e);
        let (cx0, cy0, cx1, cy1) = (x0.max(0.0), y0.max(0.0), x1.min(w), y1.min(h));
        match detect_box(&Shape::Ellipse(e), w, h) {
            Some((b, _)) => {
                // Sampling undershoots the true extreme by at most r·(1-cos(π/N)) ≈ 1.5e-8 px.
                let tol = 1e-6;
                prop_assert!((b[0] - (cx0 + cx1) / 2.0 / w).abs() < tol);
                prop_assert!((b[1] - (cy0 + cy1) / 2.0 / h).abs() < tol);
                prop_assert!((b[2] - (cx1 - cx0) / w).abs() < tol);
                prop_assert!((b[3] - (cy1 - cy0) / h).abs() < tol);
            }
            None => prop_assert!(cx1 <= cx0 + 1e-6 || cy1 <= cy0 + 1e-6),
        }
    }

    #[test]
    fn obb_corners_lie_on_the_rotated_rectangle(e in arb_ellipse()) {
        let c = rotated_rect_corners(e.cx, e.cy, e.rx, e.ry, e.rotation);
        let (s, co) = e.rotation.to_radians().sin_cos();
        let (mx, my) = (c.iter().map(|p| p[0]).sum::<f64>() / 4.0, c.iter().map(|p| p[1]).sum::<f64>() / 4.0);
        prop_assert!((mx - e.cx).abs() < 1e-9 && (my - e.cy).abs() < 1e-9, "centroid is the centre");
        for p in c {
            let (dx, dy) = (p[0] - e.cx, p[1] - e.cy);
            let (u, v) = (dx * co + dy * s, -dx * s + dy * co);
            prop_assert!((u.abs() - e.rx).abs() < 1e-9 && (v.abs() - e.ry).abs() < 1e-9, "corner at (±rx, ±ry) in the ellipse's axes");
        }
    }

    #[test]
    fn segment_polygons_stay_in_the_unit_square(e in arb_ellipse()) {
        let mut ds = small_dataset();
        ds.annotations.clear();
        ds.annotations.push(Annotation::new(AnnotationId(1), ImageId(0), CategoryId(1), Shape::Ellipse(e)));
        let classes = ClassMap::new(&ds, None).expect("classes");
        let dir = tempfile::tempdir().expect("tmp");
        let req = YoloRequest { flavour: Flavour::Segment, out: dir.path(), classes: &classes, split: &SplitPlan::FromInput, images: None, copy_images: false };
        let out = yolo::write(&ds, &req).expect("writes");
        let text = std::fs::read_to_string(dir.path().join("labels/train/cell_a.txt")).expect("label file");
        prop_assert!(out.rows <= 1);
        for v in text.split_whitespace().skip(1) {
            let v: f64 = v.parse().expect("number");
            prop_assert!((0.0..=1.0).contains(&v));
        }
    }
}
