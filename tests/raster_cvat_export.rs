//! `src/raster_cvat_export.rs` is pixel-identical to OpenCV's `cv2.ellipse` as CVAT's COCO
//! export calls it, on every case of the committed fixture (written by
//! `benches/baselines/opencv_ellipse_fixture.py` with opencv-python-headless 4.10.0.84; 5.0.0
//! gives the same masks on all of them). No Python needed here.

use neutrostruct::geometry::raster_cvat_export::{
    coco_counts_from_spans, cvat_export_coco, cvat_export_ellipse_spans,
};
use neutrostruct::geometry::rle::decode_counts_string;
use neutrostruct::model::Ellipse;
use serde_json::Value;

const FIXTURE: &str = include_str!("fixtures/opencv_ellipse/cases.jsonl");

fn fnv64(counts: &[u32]) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for c in counts {
        for b in c.to_le_bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x100000001b3);
        }
    }
    h
}

struct Case {
    line: usize,
    w: u32,
    h: u32,
    e: Ellipse,
    area: u64,
    bbox: [u32; 4],
    hash: u64,
    counts: Option<String>,
}

fn cases() -> Vec<Case> {
    let mut lines = FIXTURE.lines().enumerate();
    let (_, header) = lines.next().expect("header line");
    let header: Value = serde_json::from_str(header).expect("header JSON");
    assert!(header["opencv"].as_str().unwrap().starts_with('4'));
    lines
        .map(|(i, l)| {
            let v: Vec<Value> = serde_json::from_str(l).expect("case JSON");
            let f = |k: usize| v[k].as_f64().unwrap();
            let u = |k: usize| v[k].as_u64().unwrap();
            Case {
                line: i + 1,
                w: u(0) as u32,
                h: u(1) as u32,
                e: Ellipse {
                    cx: f(2),
                    cy: f(3),
                    rx: f(4),
                    ry: f(5),
                    rotation: f(6),
                },
                area: u(7),
                bbox: [u(8) as u32, u(9) as u32, u(10) as u32, u(11) as u32],
                hash: u64::from_str_radix(v[12].as_str().unwrap(), 16).unwrap(),
                counts: v.get(13).map(|c| c.as_str().unwrap().to_string()),
            }
        })
        .collect()
}

#[test]
fn every_fixture_case_is_pixel_identical_to_opencv() {
    let cases = cases();
    assert!(cases.len() >= 10_000, "{} cases", cases.len());
    let mut identical = 0;
    let mut full = 0;
    let mut failures = Vec::new();
    for c in &cases {
        let m = cvat_export_coco(&c.e, c.w, c.h).expect("drawable");
        let mut ok = m.area == c.area && m.bbox == c.bbox && fnv64(&m.counts) == c.hash;
        if let Some(s) = &c.counts {
            ok &= decode_counts_string(s).unwrap() == m.counts;
            full += 1;
        }
        if ok {
            identical += 1;
        } else if failures.len() < 10 {
            failures.push(format!(
                "line {}: {}x{} {:?}: area {} vs {}, bbox {:?} vs {:?}",
                c.line, c.w, c.h, c.e, m.area, c.area, m.bbox, c.bbox
            ));
        }
    }
    assert!(full >= 250, "{full} cases with full counts");
    assert_eq!(
        identical,
        cases.len(),
        "{} of {} identical; first failures:\n{}",
        identical,
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn the_fixture_covers_what_it_claims() {
    let cases = cases();
    let count = |p: &dyn Fn(&Case) -> bool| cases.iter().filter(|c| p(c)).count();
    let crossing = |c: &Case| {
        let (x0, x1) = (c.e.cx - c.e.rx.max(c.e.ry), c.e.cx + c.e.rx.max(c.e.ry));
        let (y0, y1) = (c.e.cy - c.e.rx.max(c.e.ry), c.e.cy + c.e.rx.max(c.e.ry));
        c.area > 0 && (x0 < 0.0 || y0 < 0.0 || x1 >= f64::from(c.w) || y1 >= f64::from(c.h))
    };
    assert!(count(&|c| c.e.rx.max(c.e.ry) <= 3.0) > 1000);
    assert!(count(&|c| c.e.rx.max(c.e.ry) >= 1000.0) > 100);
    assert!(count(&crossing) > 1000);
    assert!(count(&|c| c.e.cx < 0.0 || c.e.cy < 0.0) > 500);
    assert!(count(&|c| c.area == 0) > 100);
    assert!(count(&|c| c.e.rotation < 0.0) > 1000);
    assert!(count(&|c| c.e.rotation >= 360.0) > 1000);
    assert!(count(&|c| c.e.rotation.fract().abs() == 0.5) > 1000);
    assert!(count(&|c| c.e.cx.fract().abs() == 0.5 || c.e.rx.fract() == 0.5) > 1000);
    assert!(count(&|c| c.w == 4096 && c.h == 4224) >= 30);
}

#[test]
fn spans_keep_the_contract_and_give_the_same_counts() {
    for c in cases().iter().step_by(7) {
        let mut spans = Vec::new();
        cvat_export_ellipse_spans(&c.e, c.w, c.h, |y, a, b| spans.push((y, a, b))).unwrap();
        for w in spans.windows(2) {
            let ((y0, _, b0), (y1, a1, _)) = (w[0], w[1]);
            assert!(y0 < y1 || (y0 == y1 && b0 < a1), "line {}: {:?}", c.line, w);
        }
        for &(y, a, b) in &spans {
            assert!(a < b && b <= c.w && y < c.h, "line {}", c.line);
        }
        assert_eq!(fnv64(&coco_counts_from_spans(&spans, c.w, c.h)), c.hash);
    }
}
