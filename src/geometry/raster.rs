//! The one rasteriser (docs/design.md §3): which pixels a shape covers.
//!
//! **The rule.** Pixel `(x, y)` belongs to a shape when its centre `(x + 0.5, y + 0.5)` lies in
//! the shape. For an ellipse that means `(u/rx)² + (v/ry)² ≤ 1`, with `(u, v)` the centre
//! offset rotated into the ellipse's axes (the `rx` axis along `(cos θ, sin θ)`, θ in degrees,
//! y down). Every raster path of the crate (masks, COCO RLE, mask agreement, areas) goes
//! through this file so that they can never disagree by a pixel.
//!
//! **Spans.** Shapes are produced as horizontal spans `(y, x0, x1_exclusive)`, clipped to the
//! image, so that cost is proportional to the covered area and no full-image buffer is needed.
//! Contract for every `*_spans` function: `x0 < x1 ≤ width`, `y < height`, the spans of one
//! shape are disjoint, rows come in ascending `y` and spans within a row in ascending `x`.
//!
//! **Exactness.** The ellipse scanline solves the row's quadratic analytically for an estimate
//! and then fixes both ends with the exact per-pixel predicate [`EllipseTest::contains`], so
//! the result is identical to testing every pixel (floating-point ties included); the
//! property test in `tests/raster_props.rs` checks that.

use crate::model::{Annotation, BoxShape, Ellipse, MaskData, Point, Shape};

/// The exact per-pixel ellipse predicate, with the rotation precomputed.
///
/// Both the scanline and any brute-force check must use this one function: two algebraically
/// equal formulas can round differently on boundary pixels.
#[derive(Clone, Copy, Debug)]
pub struct EllipseTest {
    cx: f64,
    cy: f64,
    rx: f64,
    ry: f64,
    cos: f64,
    sin: f64,
    /// `1 / rx²` and `1 / ry²` for the division-free first look in [`EllipseTest::contains`].
    irx2: f64,
    iry2: f64,
    /// Whether the sizes are in the range where that first look's error bound holds.
    fast: bool,
}

/// Half width of the band around 1 in which the division-free estimate of `(u/rx)² + (v/ry)²`
/// cannot decide and the exact formula is evaluated. The estimate and the exact value each
/// carry a relative error of a few units in the last place (≈ 1e-15); 1e-12 is a thousand
/// times that.
const FAST_MARGIN: f64 = 1e-12;

impl EllipseTest {
    /// `None` for an ellipse that can cover no pixel: a non-finite number or a semi-axis ≤ 0.
    pub fn new(e: &Ellipse) -> Option<EllipseTest> {
        let finite = [e.cx, e.cy, e.rx, e.ry, e.rotation]
            .iter()
            .all(|v| v.is_finite());
        if !finite || e.rx <= 0.0 || e.ry <= 0.0 {
            return None;
        }
        let (sin, cos) = e.rotation.to_radians().sin_cos();
        // Semi-axes from 1e-6 to 1e12 px and centres within 1e12 px keep every intermediate
        // of the estimate far from overflow and its squares' rounding far below FAST_MARGIN
        // (pixel indices come from grids of at most u32::MAX a side).
        let fast = [e.rx, e.ry].iter().all(|r| (1e-6..=1e12).contains(r))
            && e.cx.abs() <= 1e12
            && e.cy.abs() <= 1e12;
        Some(EllipseTest {
            cx: e.cx,
            cy: e.cy,
            rx: e.rx,
            ry: e.ry,
            cos,
            sin,
            irx2: 1.0 / (e.rx * e.rx),
            iry2: 1.0 / (e.ry * e.ry),
            fast,
        })
    }

    /// Whether pixel `(x, y)` (its centre `(x + 0.5, y + 0.5)`) belongs to the ellipse.
    ///
    /// Always the same answer as [`EllipseTest::contains_exact`], usually without its two
    /// divisions (the rasteriser's hottest instruction): the sum is first estimated with
    /// precomputed reciprocals, and only a pixel centre whose estimate lies within
    /// `FAST_MARGIN` of the boundary, where the two roundings could disagree, gets the
    /// exact formula. Pixels next to a boundary of a realistic ellipse are ~1/r away from it
    /// in this measure, so the exact path is almost never taken.
    #[inline]
    pub fn contains(&self, x: i64, y: i64) -> bool {
        if self.fast {
            let dx = (x as f64 + 0.5) - self.cx;
            let dy = (y as f64 + 0.5) - self.cy;
            let u = dx * self.cos + dy * self.sin;
            let v = dy * self.cos - dx * self.sin;
            let q = u * u * self.irx2 + v * v * self.iry2;
            if q < 1.0 - FAST_MARGIN {
                return true;
            }
            if q > 1.0 + FAST_MARGIN {
                return false;
            }
        }
        self.contains_exact(x, y)
    }

    /// The docs/design.md §3 rule as written: `(u/rx)² + (v/ry)² ≤ 1` at the pixel's centre, with
    /// `u`, `v` its offset rotated into the ellipse's axes. This is the definition every
    /// raster path agrees with, floating-point ties included.
    #[inline]
    pub fn contains_exact(&self, x: i64, y: i64) -> bool {
        let dx = (x as f64 + 0.5) - self.cx;
        let dy = (y as f64 + 0.5) - self.cy;
        let u = (dx * self.cos + dy * self.sin) / self.rx;
        let v = (dy * self.cos - dx * self.sin) / self.ry;
        u * u + v * v <= 1.0
    }
}

/// Whether pixel `(x, y)` belongs to the ellipse (the docs/design.md §3 rule), for one-off tests.
pub fn ellipse_contains(e: &Ellipse, x: i64, y: i64) -> bool {
    EllipseTest::new(e).is_some_and(|t| t.contains(x, y))
}

/// Float → integer pixel index, saturating (the row and column loops clip afterwards).
fn to_i64(v: f64) -> i64 {
    // `as` saturates and maps NaN to 0; callers only pass finite values.
    v.clamp(-1e15, 1e15) as i64
}

/// `floor` without a libm call: the x86-64 baseline has no rounding instruction, and these
/// run once per line of every shape. Exact for every finite `v` (the clamp keeps the
/// conversion in range; values that large are whole numbers already).
#[inline]
fn floor_i64(v: f64) -> i64 {
    let i = to_i64(v);
    if (i as f64) > v {
        i - 1
    } else {
        i
    }
}

/// `ceil` counterpart of [`floor_i64`].
#[inline]
fn ceil_i64(v: f64) -> i64 {
    let i = to_i64(v);
    if (i as f64) < v {
        i + 1
    } else {
        i
    }
}

/// Which lines an ellipse is scanned along: image rows (spans) or image columns (COCO's
/// column-major runs).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Lines {
    Rows,
    Columns,
}

/// The pixel runs of an ellipse along every row (or every column) of a `len_along ×
/// len_across` grid, clipped to it: `f(line, first, end_exclusive)` in ascending `line`.
///
/// Each line's quadratic is solved analytically for an estimate of its two ends, and both
/// ends are then settled with the exact per-pixel predicate [`EllipseTest::contains`] of the
/// *original* ellipse (never a transformed copy, which would round differently), so the runs
/// hold exactly the pixels that pass it. An estimate that is inside is grown outward until
/// the next pixel fails; one that is outside is moved inward until a pixel passes; a line
/// whose quadratic has no root still probes the pixels around its vertex, where a tie can
/// hide. Two predicate calls per end in the usual case.
fn ellipse_lines(
    t: &EllipseTest,
    lines: Lines,
    len_along: u32,
    len_across: u32,
    mut f: impl FnMut(u32, u32, u32),
) {
    if len_along == 0 || len_across == 0 {
        return;
    }
    let (c, s) = (t.cos, t.sin);
    let (irx2, iry2) = (t.irx2, t.iry2);
    // With `d` the offset along the line and `k` across it, the ellipse is
    // A d² + (B k) d + (C k²) ≤ 1. Rows: d = dx, k = dy; columns: d = dy, k = dx, which swaps
    // the roles of cos² and sin² (u = dx c + dy s, v = dy c − dx s).
    let (ca, sa) = match lines {
        Lines::Rows => (c, s),
        Lines::Columns => (s, c),
    };
    let (cc2, ss2) = (ca * ca, sa * sa);
    let a = cc2 * irx2 + ss2 * iry2;
    let b_per_k = 2.0 * c * s * (irx2 - iry2);
    let c_per_k2 = ss2 * irx2 + cc2 * iry2;
    let (centre_along, centre_across) = match lines {
        Lines::Rows => (t.cx, t.cy),
        Lines::Columns => (t.cy, t.cx),
    };
    let inside = |along: i64, across: i64| match lines {
        Lines::Rows => t.contains(along, across),
        Lines::Columns => t.contains(across, along),
    };
    // Half extent of the tight box across the lines; one line of margin either side absorbs
    // rounding.
    let half = ((t.rx * sa).powi(2) + (t.ry * ca).powi(2)).sqrt();
    let (along_max, across_max) = (i64::from(len_along) - 1, i64::from(len_across) - 1);
    let k_lo = (ceil_i64(centre_across - half - 0.5) - 1).max(0);
    let k_hi = (floor_i64(centre_across + half - 0.5) + 1).min(across_max);
    // The estimate only seeds the exact search, so a reciprocal is good enough here.
    let inv_two_a = 0.5 / a;
    for line in k_lo..=k_hi {
        let k = (line as f64 + 0.5) - centre_across;
        let b = b_per_k * k;
        let cc = c_per_k2 * k * k - 1.0;
        let disc = b * b - 4.0 * a * cc;
        let (est_lo, est_hi) = if disc >= 0.0 {
            let r = disc.sqrt();
            (
                ceil_i64(centre_along + (-b - r) * inv_two_a - 0.5),
                floor_i64(centre_along + (-b + r) * inv_two_a - 0.5),
            )
        } else {
            let m = centre_along - b * inv_two_a - 0.5;
            (floor_i64(m) - 1, ceil_i64(m) + 1)
        };
        // Search bounds: the estimate widened by one pixel, clipped to the grid.
        let (lo_limit, hi_limit) = ((est_lo - 1).max(0), (est_hi + 1).min(along_max));
        if lo_limit > hi_limit {
            continue;
        }
        let mut lo = est_lo.max(lo_limit).min(hi_limit);
        if inside(lo, line) {
            while lo > 0 && inside(lo - 1, line) {
                lo -= 1;
            }
        } else {
            // Inward; `lo_limit` was below the estimate only to catch a short estimate.
            if lo > lo_limit && inside(lo - 1, line) {
                lo -= 1;
                while lo > 0 && inside(lo - 1, line) {
                    lo -= 1;
                }
            } else {
                lo += 1;
                while lo <= hi_limit && !inside(lo, line) {
                    lo += 1;
                }
                if lo > hi_limit {
                    continue;
                }
            }
        }
        let mut hi = est_hi.max(lo).min(along_max);
        if inside(hi, line) {
            while hi < along_max && inside(hi + 1, line) {
                hi += 1;
            }
        } else {
            while hi > lo && !inside(hi, line) {
                hi -= 1;
            }
        }
        f(line as u32, lo as u32, (hi + 1) as u32);
    }
}

/// The spans of an ellipse, clipped to `width × height`. Paints nothing for a degenerate or
/// non-finite ellipse.
pub fn ellipse_spans(e: &Ellipse, width: u32, height: u32, f: impl FnMut(u32, u32, u32)) {
    if let Some(t) = EllipseTest::new(e) {
        ellipse_lines(&t, Lines::Rows, width, height, f);
    }
}

/// The spans of a polygon with one or more rings, clipped to the image.
///
/// Each ring is filled with the **even-odd** rule (a self-intersecting ring leaves its doubly
/// covered parts empty) and the rings are **united**, as COCO means several polygons of one
/// annotation (pycocotools merges them). A pixel centre `(px, py)` is inside a ring when an
/// odd number of its edges cross the horizontal line `py` strictly right of `px`; an edge
/// `a → b` crosses when `(a.y ≤ py) ≠ (b.y ≤ py)`, at `x = a.x + (py − a.y)(b.x − a.x)/(b.y − a.y)`.
/// This half-open rule makes an axis-aligned box `[x0, x1) × [y0, y1)` cover exactly the
/// centres inside it, so that boxes sharing an edge never share a pixel.
pub(crate) fn polygon_spans(
    rings: &[Vec<Point>],
    width: u32,
    height: u32,
    mut f: impl FnMut(u32, u32, u32),
) {
    if width == 0 || height == 0 {
        return;
    }
    let rings: Vec<&Vec<Point>> = rings
        .iter()
        .filter(|r| r.len() >= 3 && r.iter().all(|p| p[0].is_finite() && p[1].is_finite()))
        .collect();
    let (mut ymin, mut ymax) = (f64::INFINITY, f64::NEG_INFINITY);
    for p in rings.iter().flat_map(|r| r.iter()) {
        ymin = ymin.min(p[1]);
        ymax = ymax.max(p[1]);
    }
    if ymin > ymax {
        return;
    }
    let y_lo = (to_i64((ymin - 0.5).floor()) - 1).max(0);
    let y_hi = (to_i64((ymax - 0.5).ceil()) + 1).min(i64::from(height) - 1);
    let mut xs: Vec<f64> = Vec::new();
    let mut row: Vec<(u32, u32)> = Vec::new();
    for y in y_lo..=y_hi {
        let py = y as f64 + 0.5;
        row.clear();
        for ring in &rings {
            xs.clear();
            for i in 0..ring.len() {
                let a = ring[i];
                let b = ring[(i + 1) % ring.len()];
                if let Some(x) = crossing(a, b, py) {
                    xs.push(x);
                }
            }
            xs.sort_by(f64::total_cmp);
            for pair in xs.chunks_exact(2) {
                // Centres px with pair[0] ≤ px < pair[1].
                let x0 = first_centre_at_or_after(pair[0]);
                // One past the last centre < pair[1] is the first centre ≥ pair[1].
                let x1 = first_centre_at_or_after(pair[1]);
                let x0 = x0.max(0);
                let x1 = x1.min(i64::from(width));
                if x0 < x1 {
                    row.push((x0 as u32, x1 as u32));
                }
            }
        }
        emit_union(y as u32, &mut row, &mut f);
    }
}

/// Where edge `a → b` crosses the line `y = py` under the half-open rule, if it does.
#[inline]
fn crossing(a: Point, b: Point, py: f64) -> Option<f64> {
    ((a[1] <= py) != (b[1] <= py)).then(|| a[0] + (py - a[1]) * (b[0] - a[0]) / (b[1] - a[1]))
}

/// Smallest pixel index `x` with `x + 0.5 ≥ xa`.
fn first_centre_at_or_after(xa: f64) -> i64 {
    let mut x = to_i64((xa - 0.5).ceil());
    while (x - 1) as f64 + 0.5 >= xa {
        x -= 1;
    }
    while (x as f64 + 0.5) < xa {
        x += 1;
    }
    x
}

/// Sorts and merges overlapping or touching spans of one row, then emits them.
fn emit_union(y: u32, row: &mut [(u32, u32)], f: &mut impl FnMut(u32, u32, u32)) {
    if row.is_empty() {
        return;
    }
    row.sort_unstable();
    let (mut s, mut e) = row[0];
    for &(a, b) in &row[1..] {
        if a <= e {
            e = e.max(b);
        } else {
            f(y, s, e);
            (s, e) = (a, b);
        }
    }
    f(y, s, e);
}

/// The spans of a CVAT box (rotated about its centre when `rotation ≠ 0`): the polygon of its
/// corners, so it follows the same half-open centre rule as polygons.
pub(crate) fn box_spans(b: &BoxShape, width: u32, height: u32, f: impl FnMut(u32, u32, u32)) {
    let corners = if b.rotation == 0.0 {
        [
            [b.xtl, b.ytl],
            [b.xbr, b.ytl],
            [b.xbr, b.ybr],
            [b.xtl, b.ybr],
        ]
    } else {
        b.corners()
    };
    polygon_spans(&[corners.to_vec()], width, height, f)
}

/// The spans of a mask, clipped to the image. Mask pixels are already pixels: the centre rule
/// is the identity here.
///
/// - `MaskData::Cvat`: runs over the `width × height` box at `(left, top)`, row-major,
///   starting with background. Runs past the box end are ignored.
/// - `MaskData::Coco`: runs over the mask's own `height × width` grid, column-major, starting
///   with background (pycocotools). Pixels outside the image are clipped. The transposition
///   to rows keeps one span list per row, so memory follows the number of spans, not the
///   image size.
pub(crate) fn mask_spans(m: &MaskData, width: u32, height: u32, mut f: impl FnMut(u32, u32, u32)) {
    match m {
        MaskData::Cvat {
            left,
            top,
            width: bw,
            height: bh,
            counts,
        } => {
            let (bw64, total) = (u64::from(*bw), u64::from(*bw) * u64::from(*bh));
            if bw64 == 0 {
                return;
            }
            let mut pos = 0u64;
            for (i, &n) in counts.iter().enumerate() {
                let end = (pos + u64::from(n)).min(total);
                if i % 2 == 1 {
                    // Foreground run [pos, end): split into rows of the box.
                    let mut p = pos;
                    while p < end {
                        let (ry, rx) = (p / bw64, p % bw64);
                        let row_end = ((ry + 1) * bw64).min(end);
                        let y = u64::from(*top) + ry;
                        let x0 = u64::from(*left) + rx;
                        let x1 = (u64::from(*left) + (row_end - ry * bw64)).min(u64::from(width));
                        if y < u64::from(height) && x0 < x1 {
                            f(y as u32, x0 as u32, x1 as u32);
                        }
                        p = row_end;
                    }
                }
                pos = end;
                if pos >= total {
                    break;
                }
            }
        }
        MaskData::Coco {
            height: mh,
            width: mw,
            counts,
        } => {
            let mh64 = u64::from(*mh);
            if mh64 == 0 {
                return;
            }
            let total = mh64 * u64::from(*mw);
            let rows_used = (*mh).min(height) as usize;
            let mut rows: Vec<Vec<(u32, u32)>> = vec![Vec::new(); rows_used];
            let mut pos = 0u64;
            for (i, &n) in counts.iter().enumerate() {
                let end = (pos + u64::from(n)).min(total);
                if i % 2 == 1 {
                    let mut p = pos;
                    while p < end {
                        let (x, y0) = (p / mh64, p % mh64);
                        let col_end = ((x + 1) * mh64).min(end);
                        let y1 = (col_end - x * mh64).min(rows_used as u64);
                        if x < u64::from(width) {
                            let x = x as u32;
                            for y in y0..y1 {
                                let spans = &mut rows[y as usize];
                                // Columns arrive in ascending x: extend the last span or open one.
                                match spans.last_mut() {
                                    Some(last) if last.1 == x => last.1 = x + 1,
                                    _ => spans.push((x, x + 1)),
                                }
                            }
                        }
                        p = col_end;
                    }
                }
                pos = end;
                if pos >= total {
                    break;
                }
            }
            for (y, spans) in rows.iter().enumerate() {
                for &(a, b) in spans {
                    f(y as u32, a, b);
                }
            }
        }
    }
}

/// Whether a shape kind paints pixels at all (polylines, points and tags do not; the caller
/// reports them).
pub(crate) fn is_fillable(shape: &Shape) -> bool {
    matches!(
        shape,
        Shape::Ellipse(_) | Shape::Box(_) | Shape::Polygon(_) | Shape::Mask(_)
    )
}

/// The spans of any shape (see the module contract). Polylines, points and tags paint nothing.
pub fn shape_spans(shape: &Shape, width: u32, height: u32, f: impl FnMut(u32, u32, u32)) {
    match shape {
        Shape::Ellipse(e) => ellipse_spans(e, width, height, f),
        Shape::Box(b) => box_spans(b, width, height, f),
        Shape::Polygon(rings) => polygon_spans(&rings.to_vec(), width, height, f),
        Shape::Mask(m) => mask_spans(m, width, height, f),
        Shape::Polyline(_) | Shape::Points(_) | Shape::Tag => {}
    }
}

/// Paint order of annotations: ascending `z_order`, ties in document order (later on top).
/// Returns indices into `anns`; paint them in this order, each over the previous ones.
pub fn paint_order(anns: &[&Annotation]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..anns.len()).collect();
    // `sort_by_key` is stable, which is what keeps document order among equal z_order.
    idx.sort_by_key(|&i| anns[i].z_order);
    idx
}

/// Pixel count and tight pixel box of a rasterised shape.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RasterStats {
    /// Number of covered pixels.
    pub area: u64,
    /// `[x, y, w, h]` in whole pixels, `None` when no pixel is covered.
    pub bbox: Option<[u32; 4]>,
}

/// Area and tight box of a shape as rasterised (what COCO's `area` and `bbox` mean for an RLE
/// mask).
pub fn shape_stats(shape: &Shape, width: u32, height: u32) -> RasterStats {
    let mut area = 0u64;
    let (mut x0, mut y0, mut x1, mut y1) = (u32::MAX, u32::MAX, 0u32, 0u32);
    shape_spans(shape, width, height, |y, a, b| {
        area += u64::from(b - a);
        x0 = x0.min(a);
        x1 = x1.max(b);
        y0 = y0.min(y);
        y1 = y1.max(y + 1);
    });
    RasterStats {
        area,
        bbox: (area > 0).then(|| [x0, y0, x1 - x0, y1 - y0]),
    }
}

/// COCO uncompressed RLE counts of a shape: column-major over the whole `width × height`
/// image, alternating runs starting with background (pycocotools' definition; the first run
/// is 0 when pixel (0, 0) is covered). The counts always sum to `width × height`.
///
/// Built from the row spans without an image buffer: the spans are kept per row and each
/// column of the shape's box is walked top to bottom with a cursor per row, so cost is
/// proportional to the shape's box, memory to its rows. A run longer than `u32::MAX` (only
/// possible on images above 4 Gpx) is split with zero-length runs of the other kind, which
/// decodes to the same pixels.
pub fn shape_to_coco_rle(shape: &Shape, width: u32, height: u32) -> Vec<u32> {
    if let Shape::Ellipse(e) = shape {
        if let Some((counts, _)) = ellipse_to_coco_rle(e, width, height) {
            return counts;
        }
    }
    let mut rows: Vec<(u32, u32, u32)> = Vec::new();
    shape_spans(shape, width, height, |y, a, b| rows.push((y, a, b)));
    spans_to_coco_rle(&rows, width, height)
}

/// [`shape_to_coco_rle`] together with the area and tight box of the pixels it covers (what
/// COCO's `area` and `bbox` mean for an RLE annotation). For an ellipse both come out of the
/// one column pass; other shapes read them off the counts.
pub(crate) fn shape_to_coco_rle_with_stats(
    shape: &Shape,
    width: u32,
    height: u32,
) -> (Vec<u32>, RasterStats) {
    if let Shape::Ellipse(e) = shape {
        if let Some(done) = ellipse_to_coco_rle(e, width, height) {
            return done;
        }
    }
    let mask = MaskData::Coco {
        height,
        width,
        counts: shape_to_coco_rle(shape, width, height),
    };
    // The mask's box is whole pixels, so the float → integer casts are exact.
    let bbox = mask
        .bbox()
        .map(|[x, y, w, h]| [x as u32, y as u32, w as u32, h as u32]);
    let area = mask.area();
    let MaskData::Coco { counts, .. } = mask else {
        unreachable!("built as a COCO mask just above")
    };
    (counts, RasterStats { area, bbox })
}

/// Column-major runs of an ellipse, found column by column with the same exact line solver
/// as its rows, at a cost that grows with the number of columns rather than the box's area;
/// the area and tight box are gathered on the way. `None` for an ellipse that can cover no
/// pixel (non-finite or degenerate).
fn ellipse_to_coco_rle(e: &Ellipse, width: u32, height: u32) -> Option<(Vec<u32>, RasterStats)> {
    let test = EllipseTest::new(e)?;
    let (h, total) = (u64::from(height), u64::from(width) * u64::from(height));
    // Two counts per covered column and one for the tail: reserving them up front saves the
    // vector's repeated growth, which cost as much as the pixel tests.
    let half_width = ((test.rx * test.cos).powi(2) + (test.ry * test.sin).powi(2)).sqrt();
    let columns = (2.0 * half_width + 3.0).min(f64::from(width));
    let mut out = RleBuilder {
        counts: Vec::with_capacity(2 * columns as usize + 2),
    };
    let mut written = 0u64;
    let mut area = 0u64;
    let (mut x0, mut y0, mut x1, mut y1) = (u32::MAX, u32::MAX, 0u32, 0u32);
    ellipse_lines(&test, Lines::Columns, height, width, |x, a, b| {
        out.fg(
            u64::from(x) * h + u64::from(a),
            u64::from(b - a),
            &mut written,
        );
        area += u64::from(b - a);
        x0 = x0.min(x);
        x1 = x1.max(x + 1);
        y0 = y0.min(a);
        y1 = y1.max(b);
    });
    if out.counts.is_empty() {
        out.push_run(total);
    } else {
        out.finish(total, written);
    }
    let stats = RasterStats {
        area,
        bbox: (area > 0).then(|| [x0, y0, x1 - x0, y1 - y0]),
    };
    Some((out.counts, stats))
}

/// [`shape_to_coco_rle`] for spans already collected (sorted by `y`, then `x`; disjoint).
pub(crate) fn spans_to_coco_rle(spans: &[(u32, u32, u32)], width: u32, height: u32) -> Vec<u32> {
    let mut out = RleBuilder::default();
    let total = u64::from(width) * u64::from(height);
    if spans.is_empty() || total == 0 {
        out.push_run(total);
        return out.counts;
    }
    // Group spans per row: row_start[k]..row_start[k+1] are the spans of row ys[k].
    let mut ys: Vec<u32> = Vec::new();
    let mut row_start: Vec<usize> = Vec::new();
    let (mut xmin, mut xmax) = (u32::MAX, 0u32);
    for (i, &(y, a, b)) in spans.iter().enumerate() {
        if ys.last() != Some(&y) {
            ys.push(y);
            row_start.push(i);
        }
        xmin = xmin.min(a);
        xmax = xmax.max(b);
    }
    row_start.push(spans.len());
    let mut cursor: Vec<usize> = row_start[..ys.len()].to_vec();
    let h = u64::from(height);
    // `written` is the linear index one past the last run written.
    let mut written = 0u64;
    for x in xmin..xmax {
        let mut run: Option<(u64, u64)> = None; // current vertical run [start, end) in y
        for (k, &y) in ys.iter().enumerate() {
            // Advance this row's cursor past spans that end at or before x.
            let end = row_start[k + 1];
            let mut c = cursor[k];
            while c < end && spans[c].2 <= x {
                c += 1;
            }
            cursor[k] = c;
            let inside = c < end && spans[c].1 <= x;
            if inside {
                let y = u64::from(y);
                match &mut run {
                    Some((_, e)) if *e == y => *e = y + 1,
                    _ => {
                        if let Some((s, e)) = run.take() {
                            out.fg(u64::from(x) * h + s, e - s, &mut written);
                        }
                        run = Some((y, y + 1));
                    }
                }
            }
        }
        if let Some((s, e)) = run {
            out.fg(u64::from(x) * h + s, e - s, &mut written);
        }
    }
    out.finish(total, written);
    out.counts
}

/// Accumulates alternating runs, merging a foreground run that starts where the previous ended.
#[derive(Default)]
struct RleBuilder {
    counts: Vec<u32>,
}

impl RleBuilder {
    /// Appends a run of the kind the next position stands for, splitting at `u32::MAX`.
    #[inline]
    fn push_run(&mut self, mut n: u64) {
        if let Ok(small) = u32::try_from(n) {
            self.counts.push(small);
            return;
        }
        loop {
            let part = n.min(u64::from(u32::MAX));
            self.counts.push(part as u32);
            n -= part;
            if n == 0 {
                break;
            }
            self.counts.push(0);
        }
    }

    /// A foreground run of `len` pixels starting at linear index `start ≥ written`.
    #[inline(always)]
    fn fg(&mut self, start: u64, len: u64, written: &mut u64) {
        if start == *written && self.counts.len().is_multiple_of(2) && !self.counts.is_empty() {
            // Continues the previous foreground run (column end → next column start).
            self.extend_last(len);
        } else {
            self.push_run(start - *written);
            self.push_run(len);
        }
        *written = start + len;
    }

    fn extend_last(&mut self, len: u64) {
        let last = self.counts.len() - 1;
        let sum = u64::from(self.counts[last]) + len;
        if sum <= u64::from(u32::MAX) {
            self.counts[last] = sum as u32;
        } else {
            self.counts[last] = u32::MAX;
            self.counts.push(0);
            self.push_run(sum - u64::from(u32::MAX));
        }
    }

    fn finish(&mut self, total: u64, written: u64) {
        if total > written {
            self.push_run(total - written);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(shape: &Shape, w: u32, h: u32) -> Vec<(u32, u32, u32)> {
        let mut v = Vec::new();
        shape_spans(shape, w, h, |y, a, b| v.push((y, a, b)));
        v
    }

    #[test]
    fn circle_radius_one_covers_the_four_centres_around_its_centre() {
        // Centre on a pixel corner: the four neighbouring centres are at distance √0.5 < 1.
        let e = Ellipse {
            cx: 5.0,
            cy: 5.0,
            rx: 1.0,
            ry: 1.0,
            rotation: 0.0,
        };
        assert_eq!(
            collect(&Shape::Ellipse(e), 10, 10),
            vec![(4, 4, 6), (5, 4, 6)]
        );
    }

    #[test]
    fn fast_look_defers_to_the_exact_rule_on_a_rounding_tie() {
        // Found by the property test with FAST_MARGIN = 0: at 180° the rotated offsets carry
        // sin(π) ≈ 1.2e-16 terms, and on this ellipse's boundary the two formulas round to
        // opposite sides of 1 for one pixel. The margin sends that pixel to the exact rule.
        let e = Ellipse {
            cx: 0.5,
            cy: 7.5,
            rx: 12.5,
            ry: 15.0,
            rotation: 180.0,
        };
        let t = EllipseTest::new(&e).expect("valid ellipse");
        for y in -2..4 {
            for x in -2..12 {
                assert_eq!(t.contains(x, y), t.contains_exact(x, y), "pixel ({x}, {y})");
            }
        }
    }

    #[test]
    fn boundary_ties_are_inside() {
        // Centre (2.5, 2.5) of pixel (2, 2); rx = 2 reaches the centres of pixels 0 and 4 exactly.
        let e = Ellipse {
            cx: 2.5,
            cy: 2.5,
            rx: 2.0,
            ry: 0.5,
            rotation: 0.0,
        };
        assert_eq!(collect(&Shape::Ellipse(e), 10, 10), vec![(2, 0, 5)]);
    }

    #[test]
    fn box_is_half_open() {
        let b = BoxShape {
            xtl: 1.0,
            ytl: 1.0,
            xbr: 3.0,
            ybr: 2.0,
            rotation: 0.0,
        };
        assert_eq!(collect(&Shape::Box(b), 10, 10), vec![(1, 1, 3)]);
        let b = BoxShape {
            xtl: 0.5,
            ytl: 0.5,
            xbr: 3.5,
            ybr: 1.5,
            rotation: 0.0,
        };
        // Centres 0.5, 1.5, 2.5 are ≥ 0.5 and < 3.5; row centre 0.5 only.
        assert_eq!(collect(&Shape::Box(b), 10, 10), vec![(0, 0, 3)]);
    }

    #[test]
    fn polygon_rings_are_united() {
        let sq = |x: f64, y: f64| vec![[x, y], [x + 2.0, y], [x + 2.0, y + 2.0], [x, y + 2.0]];
        let shape = Shape::Polygon(vec![sq(0.0, 0.0), sq(1.0, 0.0)].into());
        assert_eq!(collect(&shape, 10, 10), vec![(0, 0, 3), (1, 0, 3)]);
    }

    #[test]
    fn masks_decode_both_layouts() {
        // 2×2 box at (1, 1): pixels (2,1) and (1,2) set, row-major.
        let cvat = MaskData::Cvat {
            left: 1,
            top: 1,
            width: 2,
            height: 2,
            counts: vec![1, 2, 1],
        };
        assert_eq!(
            collect(&Shape::Mask(cvat), 10, 10),
            vec![(1, 2, 3), (2, 1, 2)]
        );
        // 3 rows × 2 columns, column-major: column 0 = [0,1,1], column 1 = [0,0,1].
        let coco = MaskData::Coco {
            height: 3,
            width: 2,
            counts: vec![1, 2, 2, 1],
        };
        assert_eq!(
            collect(&Shape::Mask(coco), 2, 3),
            vec![(1, 0, 1), (2, 0, 2)]
        );
    }

    #[test]
    fn rle_round_trips_a_mask() {
        let coco = MaskData::Coco {
            height: 3,
            width: 2,
            counts: vec![1, 2, 2, 1],
        };
        assert_eq!(
            shape_to_coco_rle(&Shape::Mask(coco), 2, 3),
            vec![1, 2, 2, 1]
        );
        let full = MaskData::Coco {
            height: 3,
            width: 2,
            counts: vec![0, 6],
        };
        assert_eq!(shape_to_coco_rle(&Shape::Mask(full), 2, 3), vec![0, 6]);
        assert_eq!(shape_to_coco_rle(&Shape::Tag, 2, 3), vec![6]);
    }

    #[test]
    fn stats_of_a_box() {
        let b = BoxShape {
            xtl: 1.0,
            ytl: 2.0,
            xbr: 4.0,
            ybr: 4.0,
            rotation: 0.0,
        };
        let s = shape_stats(&Shape::Box(b), 10, 10);
        assert_eq!(
            s,
            RasterStats {
                area: 6,
                bbox: Some([1, 2, 3, 2])
            }
        );
    }
}
