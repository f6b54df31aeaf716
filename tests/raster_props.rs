//! Property tests of the rasteriser: the scanline spans equal the per-pixel predicate, COCO RLE
//! counts decode to the same pixels, paint order is z_order then document order.

use neutrostruct::geometry::raster::{self, ellipse_contains};
use neutrostruct::model::{Annotation, AnnotationId, CategoryId, Ellipse, ImageId, Point, Shape};
use proptest::prelude::*;

/// The spans as a row-major grid, checking the span contract on the way.
fn grid_from_spans(shape: &Shape, w: u32, h: u32) -> Vec<bool> {
    let mut g = vec![false; (w * h) as usize];
    let mut last: Option<(u32, u32)> = None;
    raster::shape_spans(shape, w, h, |y, a, b| {
        assert!(
            a < b && b <= w && y < h,
            "span out of contract: {y} {a} {b}"
        );
        if let Some((ly, lb)) = last {
            assert!(
                y > ly || (y == ly && a > lb),
                "spans out of order or touching: {ly},{lb} then {y},{a}"
            );
        }
        last = Some((y, b));
        for x in a..b {
            g[(y * w + x) as usize] = true;
        }
    });
    g
}

/// Per-pixel polygon predicate as documented: even-odd per ring, rings united.
fn polygon_contains(rings: &[Vec<Point>], x: u32, y: u32) -> bool {
    let (px, py) = (x as f64 + 0.5, y as f64 + 0.5);
    rings.iter().filter(|r| r.len() >= 3).any(|r| {
        let mut odd = false;
        for i in 0..r.len() {
            let (a, b) = (r[i], r[(i + 1) % r.len()]);
            if (a[1] <= py) != (b[1] <= py) {
                let xc = a[0] + (py - a[1]) * (b[0] - a[0]) / (b[1] - a[1]);
                if xc > px {
                    odd = !odd;
                }
            }
        }
        odd
    })
}

/// Decodes column-major COCO counts into a row-major grid.
fn decode_coco(counts: &[u32], w: u32, h: u32) -> Vec<bool> {
    let mut g = vec![false; (w * h) as usize];
    let mut pos = 0u64;
    for (i, &n) in counts.iter().enumerate() {
        for p in pos..pos + u64::from(n) {
            if i % 2 == 1 {
                let (x, y) = (p / u64::from(h), p % u64::from(h));
                g[(y * u64::from(w) + x) as usize] = true;
            }
        }
        pos += u64::from(n);
    }
    assert_eq!(pos, u64::from(w) * u64::from(h), "counts must sum to w*h");
    g
}

fn coord() -> impl Strategy<Value = f64> {
    prop_oneof![
        -30.0..90.0f64,
        (-30i32..90).prop_map(|v| v as f64),
        (-30i32..90).prop_map(|v| v as f64 + 0.5),
        (-600i32..600).prop_map(|v| v as f64 * 0.25),
    ]
}

fn radius() -> impl Strategy<Value = f64> {
    prop_oneof![
        0.01..1.0f64,
        1.0..20.0f64,
        (1i32..40).prop_map(|v| v as f64 * 0.5),
        20.0..2000.0f64,
        Just(0.5),
        Just(0.0),
    ]
}

fn rotation() -> impl Strategy<Value = f64> {
    prop_oneof![
        -720.0..720.0f64,
        (-8i32..9).prop_map(|k| k as f64 * 45.0),
        (-4i32..5).prop_map(|k| k as f64 * 90.0)
    ]
}

fn ellipse() -> impl Strategy<Value = Ellipse> {
    (coord(), coord(), radius(), radius(), rotation()).prop_map(|(cx, cy, rx, ry, rotation)| {
        Ellipse {
            cx,
            cy,
            rx,
            ry,
            rotation,
        }
    })
}

fn polygon() -> impl Strategy<Value = Vec<Vec<Point>>> {
    let pt = (coord(), coord()).prop_map(|(x, y)| [x, y]);
    prop::collection::vec(prop::collection::vec(pt, 0..8), 1..3)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn ellipse_scanline_equals_brute_force(e in ellipse(), w in 1u32..70, h in 1u32..70) {
        let g = grid_from_spans(&Shape::Ellipse(e), w, h);
        for y in 0..h {
            for x in 0..w {
                prop_assert_eq!(g[(y * w + x) as usize], ellipse_contains(&e, x as i64, y as i64), "pixel ({}, {}) of {:?}", x, y, e);
            }
        }
    }

    /// The division-free first look of `contains` never disagrees with the rule as written,
    /// ties on the boundary included (half-integer centres and radii, 45° rotations).
    #[test]
    fn fast_predicate_equals_the_exact_rule(e in ellipse(), w in 1u32..70, h in 1u32..70) {
        if let Some(t) = raster::EllipseTest::new(&e) {
            for y in -2..h as i64 + 2 {
                for x in -2..w as i64 + 2 {
                    prop_assert_eq!(t.contains(x, y), t.contains_exact(x, y), "pixel ({}, {}) of {:?}", x, y, e);
                }
            }
        }
    }

    #[test]
    fn polygon_scanline_equals_brute_force(rings in polygon(), w in 1u32..60, h in 1u32..60) {
        let g = grid_from_spans(&Shape::Polygon(rings.clone().into()), w, h);
        for y in 0..h {
            for x in 0..w {
                prop_assert_eq!(g[(y * w + x) as usize], polygon_contains(&rings, x, y), "pixel ({}, {})", x, y);
            }
        }
    }

    #[test]
    fn coco_rle_decodes_to_the_spans(e in ellipse(), rings in polygon(), w in 1u32..50, h in 1u32..50) {
        for shape in [Shape::Ellipse(e), Shape::Polygon(rings.into())] {
            let g = grid_from_spans(&shape, w, h);
            let counts = raster::shape_to_coco_rle(&shape, w, h);
            prop_assert_eq!(&decode_coco(&counts, w, h), &g);
            // Alternating runs: no zero run except possibly the first.
            prop_assert!(counts.iter().skip(1).all(|&n| n > 0), "{:?}", counts);
            // And back through the mask path.
            let m = Shape::Mask(neutrostruct::model::MaskData::Coco { height: h, width: w, counts: counts.clone() });
            prop_assert_eq!(&grid_from_spans(&m, w, h), &g);
            prop_assert_eq!(raster::shape_to_coco_rle(&m, w, h), counts);
            let stats = raster::shape_stats(&shape, w, h);
            prop_assert_eq!(stats.area, g.iter().filter(|&&b| b).count() as u64);
        }
    }

    #[test]
    fn paint_order_is_z_then_document(zs in prop::collection::vec(-3i32..3, 0..30)) {
        let anns: Vec<Annotation> = zs.iter().enumerate().map(|(i, &z)| {
            let mut a = Annotation::new(AnnotationId(i as u64), ImageId(1), CategoryId(1), Shape::Tag);
            a.z_order = z;
            a
        }).collect();
        let refs: Vec<&Annotation> = anns.iter().collect();
        let order = raster::paint_order(&refs);
        prop_assert_eq!(order.len(), anns.len());
        for pair in order.windows(2) {
            let (a, b) = (&anns[pair[0]], &anns[pair[1]]);
            prop_assert!(a.z_order < b.z_order || (a.z_order == b.z_order && pair[0] < pair[1]));
        }
    }
}

proptest! {
    // Each case tests 84 000 pixels by brute force, so fewer cases than above.
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Published-scale ellipses (tens to hundreds of pixels, any rotation, centres off-grid):
    /// the column-wise RLE holds exactly the pixels the per-pixel rule accepts.
    #[test]
    fn column_wise_rle_equals_brute_force_at_granule_scale(
        cx in 0.0..300.0f64, cy in 0.0..300.0f64, rx in 0.5..160.0f64, ry in 0.5..160.0f64,
        rotation in -360.0..360.0f64,
    ) {
        let (w, h) = (300u32, 280u32);
        let e = Ellipse { cx, cy, rx, ry, rotation };
        let got = decode_coco(&raster::shape_to_coco_rle(&Shape::Ellipse(e), w, h), w, h);
        for y in 0..h {
            for x in 0..w {
                prop_assert_eq!(got[(y * w + x) as usize], ellipse_contains(&e, x as i64, y as i64), "pixel ({}, {}) of {:?}", x, y, e);
            }
        }
    }
}

#[test]
fn cvat_mask_clips_to_the_image() {
    use neutrostruct::model::MaskData;
    // A 3×2 box at (2, 1), all set, on a 4×2 image: column 4 and row 3 fall outside.
    let m = Shape::Mask(MaskData::Cvat {
        left: 2,
        top: 1,
        width: 3,
        height: 2,
        counts: vec![0, 6],
    });
    let g = grid_from_spans(&m, 4, 2);
    assert_eq!(
        g,
        vec![false, false, false, false, false, false, true, true]
    );
}

#[test]
fn rotated_box_is_its_corner_polygon() {
    use neutrostruct::model::BoxShape;
    let b = BoxShape {
        xtl: 2.0,
        ytl: 3.0,
        xbr: 12.0,
        ybr: 7.0,
        rotation: 30.0,
    };
    let g = grid_from_spans(&Shape::Box(b), 20, 20);
    let poly = vec![b.corners().to_vec()];
    for y in 0..20 {
        for x in 0..20 {
            assert_eq!(g[(y * 20 + x) as usize], polygon_contains(&poly, x, y));
        }
    }
}
