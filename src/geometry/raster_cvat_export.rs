//! The rasteriser of CVAT's COCO export: which pixels CVAT's mask of an ellipse holds.
//!
//! CVAT exports an ellipse to COCO as an RLE mask. It rounds the centre and the semi-axes with
//! Python's `round()` (half to even) and calls
//! `cv2.ellipse(mask, (cx, cy), (rx, ry), rotation, 0, 360, 255, thickness=-1)` on a `uint8`
//! mask the size of the image, then encodes it with pycocotools. This file reproduces what
//! OpenCV does there, integer for integer, so that a mask of the export can be predicted and
//! inverted exactly. It sits beside [`crate::geometry::raster`] (this project's pixel-centre rule, used
//! for everything the project draws itself) and follows that file's span contract: spans
//! `(y, x0, x1_exclusive)` clipped to the image, rows ascending, spans of a row ascending and
//! disjoint, no full-image buffer.
//!
//! **What OpenCV does** (imgproc `drawing.cpp`, facts carried over, code our own):
//! 1. The angle is rounded to whole degrees (`cvRound`, half to even), then brought into
//!    `[0, 360]`. Centre and axes become 16-bit fixed point (`XY_SHIFT = 16`).
//! 2. The outline is a polygon of points every `delta` degrees from 0 to 360 inclusive, with
//!    `delta` = 90, 30, 18 or 5 for a larger semi-axis below 3, 10, 15 or from 15 on. Each
//!    point is computed in `double` from a table of `float` sines of whole degrees, rounded to
//!    fixed point, and repeated points are dropped.
//! 3. The polygon is filled as a convex polygon: first every edge is drawn as a fixed-point
//!    line (clipped to the image, one pixel per step along the major direction), then rows are
//!    filled between two edge walkers whose `x` starts at the edge's upper vertex and moves by
//!    a rounded per-row slope. A pixel is in the mask when it is on an edge line or in a row's
//!    fill, so a row of the mask is the union of the two; it is usually one run but is not
//!    assumed to be.

use crate::geometry::rle::RunEncoder;
use crate::model::Ellipse;

const XY_SHIFT: u32 = 16;
const XY_ONE: i64 = 1 << XY_SHIFT;
const HALF: i64 = XY_ONE >> 1;

/// Largest centre coordinate or semi-axis (in pixels) this file models. OpenCV rounds the
/// outline points to 32-bit `int` pixels; far beyond the image it also overflows its 64-bit
/// products, and Python's `cv2` refuses numbers beyond 32 bits. Within this bound every
/// intermediate fits.
pub(crate) const MAX_COORDINATE: i64 = 1 << 24;

/// OpenCV's float sine table, first quadrant (sin of 0°..=90°, the literal values OpenCV
/// uses); the other quadrants follow by symmetry, exactly as in OpenCV's 451-entry table.
// The literals are kept digit for digit as OpenCV writes them (trailing zeros included), so
// they can be checked against its source; the f32 they parse to is the same either way.
#[allow(clippy::excessive_precision, clippy::approx_constant)]
const SIN_QUADRANT: [f32; 91] = [
    0.0000000, 0.0174524, 0.0348995, 0.0523360, 0.0697565, 0.0871557, 0.1045285, 0.1218693,
    0.1391731, 0.1564345, 0.1736482, 0.1908090, 0.2079117, 0.2249511, 0.2419219, 0.2588190,
    0.2756374, 0.2923717, 0.3090170, 0.3255682, 0.3420201, 0.3583679, 0.3746066, 0.3907311,
    0.4067366, 0.4226183, 0.4383711, 0.4539905, 0.4694716, 0.4848096, 0.5000000, 0.5150381,
    0.5299193, 0.5446390, 0.5591929, 0.5735764, 0.5877853, 0.6018150, 0.6156615, 0.6293204,
    0.6427876, 0.6560590, 0.6691306, 0.6819984, 0.6946584, 0.7071068, 0.7193398, 0.7313537,
    0.7431448, 0.7547096, 0.7660444, 0.7771460, 0.7880108, 0.7986355, 0.8090170, 0.8191520,
    0.8290376, 0.8386706, 0.8480481, 0.8571673, 0.8660254, 0.8746197, 0.8829476, 0.8910065,
    0.8987940, 0.9063078, 0.9135455, 0.9205049, 0.9271839, 0.9335804, 0.9396926, 0.9455186,
    0.9510565, 0.9563048, 0.9612617, 0.9659258, 0.9702957, 0.9743701, 0.9781476, 0.9816272,
    0.9848078, 0.9876883, 0.9902681, 0.9925462, 0.9945219, 0.9961947, 0.9975641, 0.9986295,
    0.9993908, 0.9998477, 1.0000000,
];

/// `sin(deg°)` as OpenCV's table holds it, for `deg` in `0..=450`.
fn table_sin(deg: i32) -> f64 {
    let d = deg.rem_euclid(360) as usize;
    let v = match d {
        0..=90 => SIN_QUADRANT[d],
        91..=180 => SIN_QUADRANT[180 - d],
        181..=270 => -SIN_QUADRANT[d - 180],
        _ => -SIN_QUADRANT[360 - d],
    };
    f64::from(v)
}

/// `cvRound`: nearest integer, ties to even (the SSE2 conversion OpenCV uses); a value out of
/// `int` range or NaN becomes `INT_MIN`, as that conversion does.
fn cv_round(v: f64) -> i32 {
    let r = v.round_ties_even();
    if (-2147483648.0..=2147483647.0).contains(&r) {
        r as i32
    } else {
        i32::MIN
    }
}

/// Exactly the arguments `cv2.ellipse` receives from CVAT's export: whole-pixel centre and
/// semi-axes, and the rotation as CVAT stores it (OpenCV rounds it itself).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct CvEllipse {
    pub cx: i64,
    pub cy: i64,
    pub rx: i64,
    pub ry: i64,
    /// Degrees, as in CVAT's `rotation` (any real number).
    pub angle: f64,
}

/// Why an ellipse has no CVAT-export mask.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotDrawable {
    /// A centre, axis or rotation is NaN or infinite (Python's `round()` raises).
    NotFinite,
    /// A semi-axis rounds below zero (`cv2.ellipse` asserts `axes >= 0`).
    NegativeAxis,
    /// Beyond `MAX_COORDINATE`, where OpenCV's own arithmetic overflows.
    OutOfRange,
}

impl std::fmt::Display for NotDrawable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            NotDrawable::NotFinite => "a centre, semi-axis or rotation is not finite",
            NotDrawable::NegativeAxis => "a semi-axis is negative",
            NotDrawable::OutOfRange => "a centre or semi-axis is beyond 2^24 px",
        })
    }
}

impl CvEllipse {
    /// CVAT's rounding of its float ellipse: Python's `round()` (half to even) of the centre
    /// and of the semi-axes; the rotation is passed on unrounded.
    pub(crate) fn from_cvat(e: &Ellipse) -> Result<CvEllipse, NotDrawable> {
        let vals = [e.cx, e.cy, e.rx, e.ry];
        if !vals.iter().chain([&e.rotation]).all(|v| v.is_finite()) {
            return Err(NotDrawable::NotFinite);
        }
        let r = |v: f64| v.round_ties_even();
        let lim = MAX_COORDINATE as f64;
        if vals.iter().any(|&v| r(v).abs() > lim) {
            return Err(NotDrawable::OutOfRange);
        }
        let c = CvEllipse {
            cx: r(e.cx) as i64,
            cy: r(e.cy) as i64,
            rx: r(e.rx) as i64,
            ry: r(e.ry) as i64,
            angle: e.rotation,
        };
        c.check()?;
        Ok(c)
    }

    fn check(&self) -> Result<(), NotDrawable> {
        if self.rx < 0 || self.ry < 0 {
            return Err(NotDrawable::NegativeAxis);
        }
        let lim = MAX_COORDINATE;
        if [self.cx, self.cy, self.rx, self.ry]
            .iter()
            .any(|v| v.abs() > lim)
        {
            return Err(NotDrawable::OutOfRange);
        }
        if !self.angle.is_finite() {
            return Err(NotDrawable::NotFinite);
        }
        Ok(())
    }

    /// The whole-degree angle OpenCV draws with, in `[0, 360]` (360 stays 360, as in OpenCV).
    pub(crate) fn whole_degrees(&self) -> i32 {
        let mut a = cv_round(self.angle);
        if a < 0 {
            a = a.rem_euclid(360);
        }
        if a > 360 {
            a = (a - 1) % 360 + 1;
        }
        a
    }
}

/// One horizontal run `[x0, x1)` of row `y`, in signed pixels before the final conversion.
type Run = (i32, i32, i32);

/// Reusable buffers for rendering many ellipses (the inversion renders hundreds per mask).
#[derive(Default)]
pub(crate) struct CvatExportRaster {
    poly: Vec<(i64, i64)>,
    runs: Vec<Run>,
    spans: Vec<(u32, u32, u32)>,
}

impl CvatExportRaster {
    pub fn new() -> Self {
        Self::default()
    }

    /// The mask's spans of `e` on a `width × height` image, in this file's span contract.
    pub fn spans(
        &mut self,
        e: &CvEllipse,
        width: u32,
        height: u32,
    ) -> Result<&[(u32, u32, u32)], NotDrawable> {
        e.check()?;
        self.spans.clear();
        self.runs.clear();
        self.poly.clear();
        // OpenCV's `int` image sizes: anything larger is not an image cv2 can allocate.
        let (w, h) = (
            i32::try_from(width).map_err(|_| NotDrawable::OutOfRange)?,
            i32::try_from(height).map_err(|_| NotDrawable::OutOfRange)?,
        );
        if w == 0 || h == 0 {
            return Ok(&self.spans);
        }
        outline(e, &mut self.poly);
        fill_convex_poly(&self.poly, w, h, &mut self.runs);
        union_runs(&mut self.runs, &mut self.spans);
        Ok(&self.spans)
    }
}

/// Steps 1–2 of the module doc: OpenCV's `ellipse2Poly` on fixed-point centre and axes, then
/// the fixed-point rounding and de-duplication `EllipseEx` applies.
fn outline(e: &CvEllipse, out: &mut Vec<(i64, i64)>) {
    let (cx, cy) = (e.cx << XY_SHIFT, e.cy << XY_SHIFT);
    let (ax, ay) = ((e.rx << XY_SHIFT).abs(), (e.ry << XY_SHIFT).abs());
    let larger = (ax.max(ay) + HALF) >> XY_SHIFT;
    let delta = match larger {
        0..=2 => 90,
        3..=9 => 30,
        10..=14 => 18,
        _ => 5,
    };
    let angle = e.whole_degrees();
    let (alpha, beta) = (table_sin(450 - angle), table_sin(angle));
    let (cxf, cyf, axf, ayf) = (cx as f64, cy as f64, ax as f64, ay as f64);
    let mut prev = (-1i64, -1i64);
    let mut i = 0;
    while i < 360 + delta {
        let a = i.min(360);
        let x = axf * table_sin(450 - a);
        let y = ayf * table_sin(a);
        // Same operations in the same order as OpenCV: `c + x·α − y·β`, `c + x·β + y·α`.
        let px = cxf + x * alpha - y * beta;
        let py = cyf + x * beta + y * alpha;
        let fixed = |v: f64| {
            let whole = i64::from(cv_round(v / XY_ONE as f64)) << XY_SHIFT;
            whole + i64::from(cv_round(v - whole as f64))
        };
        let p = (fixed(px), fixed(py));
        if p != prev {
            out.push(p);
            prev = p;
        }
        i += delta;
    }
    if out.len() == 1 {
        out.clear();
        out.extend([(cx, cy), (cx, cy)]);
    }
}

/// Collects a line's pixels as runs, joining horizontally adjacent pixels of one row.
struct RunSink<'a> {
    runs: &'a mut Vec<Run>,
    current: Option<Run>,
    w: i64,
    h: i64,
}

impl RunSink<'_> {
    #[inline]
    fn put(&mut self, x: i64, y: i64) {
        if x < 0 || x >= self.w || y < 0 || y >= self.h {
            return;
        }
        let (x, y) = (x as i32, y as i32);
        if let Some((cy, x0, x1)) = &mut self.current {
            if *cy == y && *x1 == x {
                *x1 += 1;
                return;
            }
            if *cy == y && x + 1 == *x0 {
                *x0 -= 1;
                return;
            }
        }
        if let Some(r) = self.current.replace((y, x, x + 1)) {
            self.runs.push(r);
        }
    }

    fn flush(&mut self) {
        if let Some(r) = self.current.take() {
            self.runs.push(r);
        }
    }
}

/// OpenCV's `clipLine` on a fixed-point image of `w × h` (both already shifted): clips both
/// ends into `[0, w−1] × [0, h−1]`, in its order and with its truncating divisions. False
/// when the line misses the image. Products wrap as the compiled C++ does.
fn clip_line(w: i64, h: i64, p1: &mut (i64, i64), p2: &mut (i64, i64)) -> bool {
    let (right, bottom) = (w - 1, h - 1);
    if w <= 0 || h <= 0 {
        return false;
    }
    let code = |x: i64, y: i64| {
        i32::from(x < 0)
            + i32::from(x > right) * 2
            + i32::from(y < 0) * 4
            + i32::from(y > bottom) * 8
    };
    let div = |a: i64, b: i64| a.checked_div(b).unwrap_or(0);
    let (mut c1, mut c2) = (code(p1.0, p1.1), code(p2.0, p2.1));
    if (c1 & c2) == 0 && (c1 | c2) != 0 {
        if c1 & 12 != 0 {
            let a = if c1 < 8 { 0 } else { bottom };
            p1.0 += div((a - p1.1).wrapping_mul(p2.0 - p1.0), p2.1 - p1.1);
            p1.1 = a;
            c1 = i32::from(p1.0 < 0) + i32::from(p1.0 > right) * 2;
        }
        if c2 & 12 != 0 {
            let a = if c2 < 8 { 0 } else { bottom };
            p2.0 += div((a - p2.1).wrapping_mul(p2.0 - p1.0), p2.1 - p1.1);
            p2.1 = a;
            c2 = i32::from(p2.0 < 0) + i32::from(p2.0 > right) * 2;
        }
        if (c1 & c2) == 0 && (c1 | c2) != 0 {
            if c1 != 0 {
                let a = if c1 == 1 { 0 } else { right };
                p1.1 += div((a - p1.0).wrapping_mul(p2.1 - p1.1), p2.0 - p1.0);
                p1.0 = a;
                c1 = 0;
            }
            if c2 != 0 {
                let a = if c2 == 1 { 0 } else { right };
                p2.1 += div((a - p2.0).wrapping_mul(p2.1 - p1.1), p2.0 - p1.0);
                p2.0 = a;
                c2 = 0;
            }
        }
    }
    (c1 | c2) == 0
}

/// OpenCV's fixed-point line (`Line2`, used for polygon edges when `shift > 0`): the far end
/// rounded, then `1 + ⌊length⌋` pixels from the near end along the major direction.
fn line2(mut p1: (i64, i64), mut p2: (i64, i64), sink: &mut RunSink) {
    if !clip_line(sink.w << XY_SHIFT, sink.h << XY_SHIFT, &mut p1, &mut p2) {
        return;
    }
    let (dx, dy) = (p2.0 - p1.0, p2.1 - p1.1);
    let (ax, ay) = (dx.abs(), dy.abs());
    let x_major = ax > ay;
    // Walk in increasing major coordinate: swap the ends when it decreases.
    let swap = if x_major { dx < 0 } else { dy < 0 };
    if swap {
        std::mem::swap(&mut p1, &mut p2);
    }
    let (minor_step, ecount) = if x_major {
        let dy = if swap { -dy } else { dy };
        ((dy << XY_SHIFT) / (ax | 1), (p2.0 - p1.0) >> XY_SHIFT)
    } else {
        let dx = if swap { -dx } else { dx };
        ((dx << XY_SHIFT) / (ay | 1), (p2.1 - p1.1) >> XY_SHIFT)
    };
    p1.0 += HALF;
    p1.1 += HALF;
    sink.put((p2.0 + HALF) >> XY_SHIFT, (p2.1 + HALF) >> XY_SHIFT);
    if x_major {
        let (mut x, mut y) = (p1.0 >> XY_SHIFT, p1.1);
        for _ in 0..=ecount {
            sink.put(x, y >> XY_SHIFT);
            x += 1;
            y += minor_step;
        }
    } else {
        let (mut x, mut y) = (p1.0, p1.1 >> XY_SHIFT);
        for _ in 0..=ecount {
            sink.put(x >> XY_SHIFT, y);
            x += minor_step;
            y += 1;
        }
    }
}

/// One of the two edge walkers of OpenCV's convex fill.
#[derive(Clone, Copy)]
struct Walker {
    idx: usize,
    step: usize,
    x: i64,
    dx: i64,
    y_end: i64,
}

/// Step 3 of the module doc: OpenCV's `FillConvexPoly` with `shift = XY_SHIFT`, 8-connected
/// lines. Appends the edge pixels' runs and the rows' fills to `runs` (image-clipped,
/// unsorted, possibly overlapping).
fn fill_convex_poly(v: &[(i64, i64)], w: i32, h: i32, runs: &mut Vec<Run>) {
    let n = v.len();
    if n == 0 {
        return;
    }
    let (w64, h64) = (i64::from(w), i64::from(h));
    let mut sink = RunSink {
        runs,
        current: None,
        w: w64,
        h: h64,
    };
    let mut p0 = v[n - 1];
    let (mut xmin, mut xmax, mut ymin, mut ymax) = (v[0].0, v[0].0, v[0].1, v[0].1);
    let mut imin = 0;
    for (i, &p) in v.iter().enumerate() {
        if p.1 < ymin {
            ymin = p.1;
            imin = i;
        }
        ymax = ymax.max(p.1);
        xmax = xmax.max(p.0);
        xmin = xmin.min(p.0);
        line2(p0, p, &mut sink);
        p0 = p;
    }
    sink.flush();
    let runs = sink.runs;
    let round = |v: i64| (v + HALF) >> XY_SHIFT;
    let (xmin, xmax, ymin, ymax) = (round(xmin), round(xmax), round(ymin), round(ymax));
    if n < 3 || xmax < 0 || ymax < 0 || xmin >= w64 || ymin >= h64 {
        return;
    }
    let ymax = ymax.min(h64 - 1);
    let start = Walker {
        idx: imin,
        step: 1,
        x: -XY_ONE,
        dx: 0,
        y_end: ymin,
    };
    let mut walkers = [
        start,
        Walker {
            step: n - 1,
            ..start
        },
    ];
    // OpenCV's budget of edge steps, shared by both walkers; exhausted means the polygon is
    // done.
    let mut edges_left = n as i64;
    let mut y = ymin;
    loop {
        for wk in walkers.iter_mut() {
            if y < wk.y_end {
                continue;
            }
            let mut idx0 = wk.idx;
            let mut idx = idx0 + wk.step;
            if idx >= n {
                idx -= n;
            }
            loop {
                let more = edges_left > 0;
                edges_left -= 1;
                if !more {
                    break;
                }
                let ty = round(v[idx].1);
                if ty > y {
                    let (xs, xe) = (v[idx0].0, v[idx].0);
                    wk.y_end = ty;
                    wk.dx = ((xe - xs) * 2 + (ty - y)) / (2 * (ty - y));
                    wk.x = xs;
                    wk.idx = idx;
                    break;
                }
                idx0 = idx;
                idx += wk.step;
                if idx >= n {
                    idx -= n;
                }
            }
        }
        if edges_left < 0 {
            break;
        }
        if y >= 0 {
            let (l, r) = if walkers[0].x > walkers[1].x {
                (1, 0)
            } else {
                (0, 1)
            };
            let x1 = round(walkers[l].x);
            let x2 = round(walkers[r].x);
            if x2 >= 0 && x1 < w64 {
                runs.push((y as i32, x1.max(0) as i32, (x2.min(w64 - 1) + 1) as i32));
            }
        }
        walkers[0].x += walkers[0].dx;
        walkers[1].x += walkers[1].dx;
        y += 1;
        if y < 0 {
            // Rows above the image only move the walkers: skip to the next row where an
            // edge ends or drawing starts (same arithmetic, without the row-by-row cost).
            let target = walkers[0].y_end.min(walkers[1].y_end).min(0);
            if target > y {
                let k = target - y;
                walkers[0].x += k * walkers[0].dx;
                walkers[1].x += k * walkers[1].dx;
                y = target;
            }
        }
        if y > ymax {
            break;
        }
    }
}

/// Sorts and unites overlapping or touching runs into the span contract.
fn union_runs(runs: &mut [Run], out: &mut Vec<(u32, u32, u32)>) {
    runs.sort_unstable();
    let mut cur: Option<Run> = None;
    for &(y, a, b) in runs.iter() {
        match &mut cur {
            Some((cy, _, cb)) if *cy == y && a <= *cb => *cb = (*cb).max(b),
            _ => {
                if let Some((cy, ca, cb)) = cur.replace((y, a, b)) {
                    out.push((cy as u32, ca as u32, cb as u32));
                }
            }
        }
    }
    if let Some((cy, ca, cb)) = cur {
        out.push((cy as u32, ca as u32, cb as u32));
    }
}

/// The spans of CVAT's export of the float ellipse `e` on a `width × height` image (CVAT's
/// rounding applied here). See the module doc.
pub fn cvat_export_ellipse_spans(
    e: &Ellipse,
    width: u32,
    height: u32,
    mut f: impl FnMut(u32, u32, u32),
) -> Result<(), NotDrawable> {
    let c = CvEllipse::from_cvat(e)?;
    cv_ellipse_spans(&c, width, height, &mut f)
}

/// The spans `cv2.ellipse(mask, (cx, cy), (rx, ry), angle, 0, 360, 255, -1)` paints.
pub(crate) fn cv_ellipse_spans(
    e: &CvEllipse,
    width: u32,
    height: u32,
    mut f: impl FnMut(u32, u32, u32),
) -> Result<(), NotDrawable> {
    let mut r = CvatExportRaster::new();
    for &(y, a, b) in r.spans(e, width, height)? {
        f(y, a, b);
    }
    Ok(())
}

/// A mask as CVAT's COCO export writes it: pycocotools' column-major RLE counts, and its
/// `area` and `bbox` (`toBbox`: `[x, y, w, h]` of the foreground pixels; zeros when empty).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CocoMask {
    /// Column-major run lengths over the whole image, starting with background.
    pub counts: Vec<u32>,
    /// Foreground pixels.
    pub area: u64,
    /// `[x, y, w, h]` of the foreground pixels (zeros when empty).
    pub bbox: [u32; 4],
}

/// CVAT's COCO export of the float ellipse `e`.
pub fn cvat_export_coco(e: &Ellipse, width: u32, height: u32) -> Result<CocoMask, NotDrawable> {
    let c = CvEllipse::from_cvat(e)?;
    let mut r = CvatExportRaster::new();
    let spans = r.spans(&c, width, height)?;
    Ok(coco_mask_from_spans(spans, width, height))
}

/// Area, bbox and COCO counts of spans in the span contract.
pub(crate) fn coco_mask_from_spans(spans: &[(u32, u32, u32)], width: u32, height: u32) -> CocoMask {
    let mut area = 0u64;
    let (mut x0, mut y0, mut x1, mut y1) = (u32::MAX, u32::MAX, 0u32, 0u32);
    for &(y, a, b) in spans {
        area += u64::from(b - a);
        x0 = x0.min(a);
        x1 = x1.max(b);
        y0 = y0.min(y);
        y1 = y1.max(y + 1);
    }
    let bbox = if area == 0 {
        [0; 4]
    } else {
        [x0, y0, x1 - x0, y1 - y0]
    };
    CocoMask {
        counts: coco_counts_from_spans(spans, width, height),
        area,
        bbox,
    }
}

/// Transposes runs: input `(line, a, b)` sorted by line then `a`, disjoint within a line;
/// output `(k, line_start, line_end)` for every maximal run of consecutive lines holding
/// position `k`, sorted by `k` then `line_start`. Cost follows the boundary length (the
/// positions where consecutive lines differ), not the area.
pub(crate) fn transpose_runs(runs: &[(u32, u32, u32)]) -> Vec<(u32, u32, u32)> {
    let mut starts: Vec<(u32, u32)> = Vec::new();
    let mut ends: Vec<(u32, u32)> = Vec::new();
    let mut edges: Vec<(u32, i8)> = Vec::new();
    let mut i = 0;
    let mut prev: &[(u32, u32, u32)] = &[];
    let mut prev_line: Option<u32> = None;
    // Differences between consecutive lines; a missing line counts as empty.
    let mut diff = |prev: &[(u32, u32, u32)], cur: &[(u32, u32, u32)], line: u32| {
        edges.clear();
        for &(_, a, b) in prev {
            edges.push((a, -1));
            edges.push((b, 1));
        }
        for &(_, a, b) in cur {
            edges.push((a, 2));
            edges.push((b, -2));
        }
        edges.sort_unstable_by_key(|e| e.0);
        // State bits: in_prev = 1, in_cur = 2.
        let (mut in_prev, mut in_cur) = (0i32, 0i32);
        let mut j = 0;
        let mut seg_start = 0u32;
        let mut state = 0;
        while j < edges.len() {
            let pos = edges[j].0;
            while j < edges.len() && edges[j].0 == pos {
                match edges[j].1 {
                    -1 => in_prev += 1,
                    1 => in_prev -= 1,
                    2 => in_cur += 1,
                    _ => in_cur -= 1,
                }
                j += 1;
            }
            let new_state = i32::from(in_prev > 0) | (i32::from(in_cur > 0) << 1);
            if new_state != state {
                // Close the segment [seg_start, pos) of the old state.
                match state {
                    2 => starts.extend((seg_start..pos).map(|k| (k, line))),
                    1 => ends.extend((seg_start..pos).map(|k| (k, line))),
                    _ => {}
                }
                seg_start = pos;
                state = new_state;
            }
        }
    };
    while i < runs.len() {
        let line = runs[i].0;
        let mut j = i;
        while j < runs.len() && runs[j].0 == line {
            j += 1;
        }
        let cur = &runs[i..j];
        match prev_line {
            Some(p) if p + 1 == line => diff(prev, cur, line),
            Some(p) => {
                diff(prev, &[], p + 1);
                diff(&[], cur, line);
            }
            None => diff(&[], cur, line),
        }
        prev = cur;
        prev_line = Some(line);
        i = j;
    }
    if let Some(p) = prev_line {
        diff(prev, &[], p + 1);
    }
    starts.sort_unstable();
    ends.sort_unstable();
    // Per position, starts and ends alternate, so the i-th start pairs with the i-th end.
    starts
        .iter()
        .zip(ends.iter())
        .map(|(&(k, s), &(_, e))| (k, s, e))
        .collect()
}

/// pycocotools' column-major counts of spans in the span contract.
pub fn coco_counts_from_spans(spans: &[(u32, u32, u32)], width: u32, height: u32) -> Vec<u32> {
    let h = u64::from(height);
    let total = u64::from(width) * h;
    let mut enc = RunEncoder::new();
    let mut written = 0u64;
    for (x, y0, y1) in transpose_runs(spans) {
        let start = u64::from(x) * h + u64::from(y0);
        push_long(&mut enc, false, start - written);
        push_long(&mut enc, true, u64::from(y1 - y0));
        written = start + u64::from(y1 - y0);
    }
    push_long(&mut enc, false, total - written);
    enc.finish()
}

/// A run longer than `u32::MAX` split with zero-length runs of the other value between.
fn push_long(enc: &mut RunEncoder, on: bool, mut n: u64) {
    while n > 0 {
        let part = n.min(u64::from(u32::MAX));
        enc.push(on, part as u32);
        n -= part;
        if n > 0 {
            enc.push(!on, 0);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Inversion: from a mask of CVAT's export (and the rotation the export carries) back to the
// whole-pixel ellipse CVAT drew.
// ---------------------------------------------------------------------------------------------

/// How a mask was inverted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Recovery {
    /// One whole-pixel ellipse in the searched neighbourhood renders exactly this mask.
    Exact,
    /// `n ≥ 2` whole-pixel ellipses render exactly this mask (typically one mostly outside
    /// the image); the one closest to the moment fit was kept.
    Ambiguous { n: usize },
    /// None found within the search budget; the closest rendering, `pixels_off` pixels off.
    Approximate { pixels_off: u64 },
}

/// The result of [`invert_cvat_export_mask`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Inverted {
    /// Whole-pixel centre and semi-axes; the rotation as given.
    pub ellipse: Ellipse,
    pub recovery: Recovery,
    /// Renderings tried (the search's cost).
    pub evaluations: usize,
}

/// Most renderings one mask may cost. An exact mask is usually found in under 20; the rest
/// goes to masks that are not CVAT's export, which keep the best fit found.
const SEARCH_BUDGET: usize = 400;

/// The mask, as row spans, with what the search needs to know about it.
struct Target {
    spans: Vec<(u32, u32, u32)>,
    area: u64,
    clipped: bool,
}

/// Pixels in exactly one of two span lists (both in the span contract).
fn xor_pixels(a: &[(u32, u32, u32)], b: &[(u32, u32, u32)], area_a: u64, area_b: u64) -> u64 {
    let (mut i, mut j, mut common) = (0, 0, 0u64);
    while i < a.len() && j < b.len() {
        let (ya, a0, a1) = a[i];
        let (yb, b0, b1) = b[j];
        if ya < yb {
            i += 1;
        } else if yb < ya {
            j += 1;
        } else {
            let lo = a0.max(b0);
            let hi = a1.min(b1);
            if hi > lo {
                common += u64::from(hi - lo);
            }
            if a1 < b1 {
                i += 1;
            } else {
                j += 1;
            }
        }
    }
    area_a + area_b - 2 * common
}

struct Search<'t> {
    target: &'t Target,
    raster: CvatExportRaster,
    width: u32,
    height: u32,
    angle: f64,
    seen: std::collections::HashMap<[i64; 4], u64>,
}

impl Search<'_> {
    fn eval(&mut self, p: [i64; 4]) -> u64 {
        if let Some(&d) = self.seen.get(&p) {
            return d;
        }
        let e = CvEllipse {
            cx: p[0],
            cy: p[1],
            rx: p[2],
            ry: p[3],
            angle: self.angle,
        };
        let d = match self.raster.spans(&e, self.width, self.height) {
            Ok(s) => {
                let area: u64 = s.iter().map(|&(_, a, b)| u64::from(b - a)).sum();
                xor_pixels(s, &self.target.spans, area, self.target.area)
            }
            Err(_) => u64::MAX,
        };
        self.seen.insert(p, d);
        d
    }

    fn budget_left(&self) -> bool {
        // A border-cut mask constrains the ellipse less (long valleys) and renders cheaply
        // (most of its outline is clipped away): it gets a larger budget.
        let budget = if self.target.clipped {
            4 * SEARCH_BUDGET
        } else {
            SEARCH_BUDGET
        };
        self.seen.len() < budget
    }

    /// Greedy descent on the pixel difference: best single step of ±1 on one value, then of
    /// the 3⁴ cube around the point (joint moves, e.g. centre and axis together for a mask cut
    /// by the border), then single steps of ±2 and ±4; stops at zero, at a local minimum or
    /// when the budget is spent.
    fn descend(&mut self, start: [i64; 4]) -> ([i64; 4], u64) {
        let (mut best, mut best_d) = (start, self.eval(start));
        while best_d > 0 && self.budget_left() {
            let mut moved = false;
            for stage in 0..8 {
                let cands: Vec<[i64; 4]> = match stage {
                    0 => singles(best, 1),
                    1 => cube(best, 1),
                    2 => singles(best, 2),
                    3 => pairs(best, 2),
                    4 => pairs(best, 3),
                    5 => cube(best, 2),
                    6 => singles(best, 4),
                    _ => singles(best, 8),
                };
                let mut step_best = (best, best_d);
                for c in cands {
                    if !self.budget_left() {
                        break;
                    }
                    let d = self.eval(c);
                    if d < step_best.1 {
                        step_best = (c, d);
                    }
                }
                if step_best.1 < best_d {
                    (best, best_d) = step_best;
                    moved = true;
                    break;
                }
            }
            if !moved {
                break;
            }
        }
        (best, best_d)
    }
}

fn singles(p: [i64; 4], s: i64) -> Vec<[i64; 4]> {
    let mut v = Vec::with_capacity(8);
    for k in 0..4 {
        for d in [-s, s] {
            let mut q = p;
            q[k] += d;
            if q[2] >= 0 && q[3] >= 0 {
                v.push(q);
            }
        }
    }
    v
}

/// Joint steps of `±s` on two values at once: the valleys of a border-cut mask, where a
/// centre moving outwards and an axis growing together keep the visible edge in place.
fn pairs(p: [i64; 4], s: i64) -> Vec<[i64; 4]> {
    let mut v = Vec::with_capacity(24);
    for i in 0..4 {
        for j in i + 1..4 {
            for (di, dj) in [(s, s), (s, -s), (-s, s), (-s, -s)] {
                let mut q = p;
                q[i] += di;
                q[j] += dj;
                if q[2] >= 0 && q[3] >= 0 {
                    v.push(q);
                }
            }
        }
    }
    v
}

/// The 3⁴ − 1 neighbours at steps of `0, ±s` on every value.
fn cube(p: [i64; 4], s: i64) -> Vec<[i64; 4]> {
    let mut v = Vec::with_capacity(80);
    for code in 0..81 {
        let mut q = p;
        let mut c = code;
        for value in q.iter_mut() {
            *value += (c % 3 - 1) * s;
            c /= 3;
        }
        if q != p && q[2] >= 0 && q[3] >= 0 {
            v.push(q);
        }
    }
    v
}

/// A continuous ellipse of known rotation through the mask's boundary pixels that are not on
/// the image border: least squares of `A u² + B v² + C u + D v = 1` in the rotated frame
/// (centred on the points). Unlike the moments, it is not pulled inwards by the part of an
/// ellipse the border cut off.
fn boundary_fit(t: &Target, width: u32, height: u32, angle_deg: f64) -> Option<[f64; 4]> {
    let mut pts: Vec<(f64, f64)> = Vec::new();
    for &(y, a, b) in &t.spans {
        if a > 0 {
            pts.push((f64::from(a), f64::from(y)));
        }
        if b < width {
            pts.push((f64::from(b - 1), f64::from(y)));
        }
    }
    for (x, y0, y1) in transpose_runs(&t.spans) {
        if y0 > 0 {
            pts.push((f64::from(x), f64::from(y0)));
        }
        if y1 < height {
            pts.push((f64::from(x), f64::from(y1 - 1)));
        }
    }
    if pts.len() < 8 {
        return None;
    }
    let (s, c) = angle_deg.to_radians().sin_cos();
    let n = pts.len() as f64;
    let (mx, my) = pts
        .iter()
        .fold((0.0, 0.0), |acc, p| (acc.0 + p.0 / n, acc.1 + p.1 / n));
    let mut ata = [[0.0f64; 4]; 4];
    let mut atb = [0.0f64; 4];
    for &(x, y) in &pts {
        let (dx, dy) = (x - mx, y - my);
        let (u, v) = (dx * c + dy * s, -dx * s + dy * c);
        let row = [u * u, v * v, u, v];
        for i in 0..4 {
            for j in 0..4 {
                ata[i][j] += row[i] * row[j];
            }
            atb[i] += row[i];
        }
    }
    let [a, b, cu, cv] = solve4(ata, atb)?;
    if a <= 0.0 || b <= 0.0 {
        return None;
    }
    let (u0, v0) = (-cu / (2.0 * a), -cv / (2.0 * b));
    let g = 1.0 + a * u0 * u0 + b * v0 * v0;
    if g <= 0.0 {
        return None;
    }
    let (ru, rv) = ((g / a).sqrt(), (g / b).sqrt());
    let (cx, cy) = (mx + u0 * c - v0 * s, my + u0 * s + v0 * c);
    let e = [cx, cy, ru, rv];
    e.iter().all(|v| v.is_finite()).then_some(e)
}

/// Gaussian elimination with partial pivoting; `None` when singular.
fn solve4(mut m: [[f64; 4]; 4], mut r: [f64; 4]) -> Option<[f64; 4]> {
    for col in 0..4 {
        let piv = (col..4).max_by(|&i, &j| m[i][col].abs().total_cmp(&m[j][col].abs()))?;
        if m[piv][col].abs() < 1e-12 {
            return None;
        }
        m.swap(col, piv);
        r.swap(col, piv);
        for row in col + 1..4 {
            let f = m[row][col] / m[col][col];
            let pivot = m[col];
            for (v, p) in m[row].iter_mut().zip(pivot).skip(col) {
                *v -= f * p;
            }
            r[row] -= f * r[col];
        }
    }
    let mut x = [0.0; 4];
    for col in (0..4).rev() {
        let mut v = r[col];
        for k in col + 1..4 {
            v -= m[col][k] * x[k];
        }
        x[col] = v / m[col][col];
    }
    Some(x)
}

fn to_whole(v: f64) -> i64 {
    let lim = MAX_COORDINATE as f64;
    v.round().clamp(-lim, lim) as i64
}

/// Inverts a mask of CVAT's COCO export (column-major COCO counts of a `width × height`
/// image, possibly cut by the image border) given the export's `attributes.rotation`: the
/// whole-pixel centre and semi-axes whose rendering by this file's rasteriser reproduces the
/// mask exactly. `None` for an empty mask or counts that do not cover the image.
///
/// Starts from the second-moment fit (and, for a mask touching the border, from a fit to the
/// boundary pixels away from the border, which the cut does not bias), then descends on the
/// number of differing pixels. Once an exact rendering is found its neighbourhood is checked
/// for others (the whole 3⁴ cube for a border-cut mask, single steps otherwise); of
/// several, the one closest to the continuous fit is kept, ties broken by the smallest
/// `(cx, cy, rx, ry)`.
pub(crate) fn invert_cvat_export_mask(
    counts: &[u32],
    width: u32,
    height: u32,
    rotation: f64,
) -> Option<Inverted> {
    if crate::geometry::rle::check_counts(counts, width, height).is_err() || !rotation.is_finite() {
        return None;
    }
    let mut cols = Vec::new();
    let mut moments = crate::geometry::fit::Moments::pixels();
    crate::geometry::rle::for_each_column_run(counts, height, |x, y0, len| {
        cols.push((x, y0, y0 + len));
        moments.add_column_run(f64::from(x), f64::from(y0), len);
    });
    let spans = transpose_runs(&cols);
    let area: u64 = spans.iter().map(|&(_, a, b)| u64::from(b - a)).sum();
    if area == 0 {
        return None;
    }
    let (mut x0, mut x1, mut y0, mut y1) = (u32::MAX, 0, u32::MAX, 0);
    for &(y, a, b) in &spans {
        x0 = x0.min(a);
        x1 = x1.max(b);
        y0 = y0.min(y);
        y1 = y1.max(y + 1);
    }
    let clipped = x0 == 0 || y0 == 0 || x1 == width || y1 == height;
    let target = Target {
        spans,
        area,
        clipped,
    };
    // The moment fit: OpenCV's pixel centres are on integers and its mask is the ellipse
    // grown by about half a pixel.
    let moment_fit = crate::geometry::fit::ellipse_from_moments_with_angle(&moments, 0.0, rotation)
        .map(|e| [e.cx, e.cy, (e.rx - 0.5).max(0.0), (e.ry - 0.5).max(0.0)]);
    let drawn_angle = f64::from(
        CvEllipse {
            cx: 0,
            cy: 0,
            rx: 0,
            ry: 0,
            angle: rotation,
        }
        .whole_degrees(),
    );
    let border_fit = if clipped {
        // The boundary pixels sit about a quarter pixel outside the drawn outline.
        boundary_fit(&target, width, height, drawn_angle)
            .map(|e| [e[0], e[1], (e[2] - 0.25).max(0.0), (e[3] - 0.25).max(0.0)])
    } else {
        None
    };
    let reference = border_fit.or(moment_fit)?;
    let mut search = Search {
        target: &target,
        raster: CvatExportRaster::new(),
        width,
        height,
        angle: rotation,
        seen: std::collections::HashMap::new(),
    };
    let mut starts: Vec<[i64; 4]> = Vec::new();
    for fit in [border_fit, moment_fit].into_iter().flatten() {
        let p = fit.map(to_whole);
        if !starts.contains(&p) {
            starts.push(p);
        }
    }
    let (mut best, mut best_d) = (starts[0], u64::MAX);
    for &s in &starts {
        let (p, d) = search.descend(s);
        if d < best_d {
            (best, best_d) = (p, d);
        }
        if d == 0 {
            break;
        }
    }
    // Iterated local search: a border-cut mask's landscape has shallow local minima along its
    // valleys, so kick the best point by up to ±3 on every value and descend again while the
    // budget lasts. The kicks come from a fixed sequence, so the result is deterministic.
    let mut state = 0x9e37_79b9_7f4a_7c15u64 ^ target.area;
    while best_d > 0 && search.budget_left() {
        let mut p = best;
        for value in p.iter_mut() {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            *value += ((state >> 33) % 7) as i64 - 3;
        }
        p[2] = p[2].max(0);
        p[3] = p[3].max(0);
        let (q, d) = search.descend(p);
        if d < best_d {
            (best, best_d) = (q, d);
        }
    }
    let recovery;
    if best_d == 0 {
        // The whole cube only where other renderings of the same mask are to be expected
        // (a border-cut mask); single steps elsewhere, which costs 8 renderings per mask.
        let around = if target.clipped {
            cube(best, 1)
        } else {
            singles(best, 1)
        };
        for c in around {
            search.eval(c);
        }
        let mut exact: Vec<[i64; 4]> = search
            .seen
            .iter()
            .filter(|(_, &d)| d == 0)
            .map(|(&p, _)| p)
            .collect();
        let off = |p: &[i64; 4]| {
            p.iter()
                .zip(reference.iter())
                .map(|(&a, &b)| (a as f64 - b).powi(2))
                .sum::<f64>()
        };
        exact.sort_by(|a, b| off(a).total_cmp(&off(b)).then(a.cmp(b)));
        best = exact[0];
        recovery = if exact.len() > 1 {
            Recovery::Ambiguous { n: exact.len() }
        } else {
            Recovery::Exact
        };
    } else {
        recovery = Recovery::Approximate { pixels_off: best_d };
    }
    Some(Inverted {
        ellipse: Ellipse {
            cx: best[0] as f64,
            cy: best[1] as f64,
            rx: best[2] as f64,
            ry: best[3] as f64,
            rotation,
        },
        recovery,
        evaluations: search.seen.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spans(
        cx: i64,
        cy: i64,
        rx: i64,
        ry: i64,
        angle: f64,
        w: u32,
        h: u32,
    ) -> Vec<(u32, u32, u32)> {
        let mut v = Vec::new();
        cv_ellipse_spans(
            &CvEllipse {
                cx,
                cy,
                rx,
                ry,
                angle,
            },
            w,
            h,
            |y, a, b| v.push((y, a, b)),
        )
        .unwrap();
        v
    }

    #[test]
    fn the_sine_table_follows_opencvs_symmetry() {
        assert_eq!(table_sin(90), 1.0);
        assert_eq!(table_sin(450), 1.0);
        assert_eq!(table_sin(181), -f64::from(SIN_QUADRANT[1]));
        assert_eq!(table_sin(359), -f64::from(SIN_QUADRANT[1]));
        assert_eq!(table_sin(271), -f64::from(SIN_QUADRANT[89]));
    }

    #[test]
    fn a_zero_ellipse_is_one_pixel_and_outside_is_nothing() {
        assert_eq!(spans(3, 4, 0, 0, 0.0, 10, 10), vec![(4, 3, 4)]);
        assert!(spans(-5, 4, 2, 2, 0.0, 10, 10).is_empty());
        assert!(spans(3, 4, 2, 2, 0.0, 0, 10).is_empty());
    }

    #[test]
    fn whole_degrees_round_half_even_and_wrap_like_opencv() {
        let d = |angle: f64| {
            CvEllipse {
                cx: 0,
                cy: 0,
                rx: 1,
                ry: 1,
                angle,
            }
            .whole_degrees()
        };
        assert_eq!(d(0.5), 0);
        assert_eq!(d(1.5), 2);
        assert_eq!(d(-0.5), 0);
        assert_eq!(d(-1.5), 358);
        assert_eq!(d(360.0), 360);
        assert_eq!(d(720.0), 360);
        assert_eq!(d(721.4), 1);
    }

    #[test]
    fn transposed_runs_go_back() {
        let s = spans(20, 15, 9, 4, 33.0, 40, 30);
        let cols = transpose_runs(&s);
        assert_eq!(transpose_runs(&cols), s);
        let area: u32 = s.iter().map(|r| r.2 - r.1).sum();
        assert_eq!(cols.iter().map(|r| r.2 - r.1).sum::<u32>(), area);
    }

    #[test]
    fn counts_cover_the_image() {
        let s = spans(0, 0, 7, 3, 10.0, 12, 9);
        let m = coco_mask_from_spans(&s, 12, 9);
        assert_eq!(m.counts.iter().map(|&c| u64::from(c)).sum::<u64>(), 108);
        let fg: u64 = m
            .counts
            .iter()
            .skip(1)
            .step_by(2)
            .map(|&c| u64::from(c))
            .sum();
        assert_eq!(fg, m.area);
        assert_eq!(m.bbox[0], 0);
        assert_eq!(m.bbox[1], 0);
    }

    #[test]
    fn inversion_finds_the_drawn_integers_inside_and_across_the_border() {
        for (cx, cy, rx, ry, angle) in [
            (40, 30, 12, 7, 33.4),
            (3, 30, 15, 9, -118.5),
            (60, 58, 20, 11, 725.0),
            (20, 20, 0, 0, 0.0),
        ] {
            let e = CvEllipse {
                cx,
                cy,
                rx,
                ry,
                angle,
            };
            let s = spans(cx, cy, rx, ry, angle, 64, 60);
            let counts = coco_counts_from_spans(&s, 64, 60);
            let inv = invert_cvat_export_mask(&counts, 64, 60, angle).unwrap();
            assert!(
                matches!(inv.recovery, Recovery::Exact | Recovery::Ambiguous { .. }),
                "{e:?}: {inv:?}"
            );
            // Whatever was kept renders the very same mask.
            let got = CvEllipse::from_cvat(&inv.ellipse).unwrap();
            assert_eq!(spans(got.cx, got.cy, got.rx, got.ry, angle, 64, 60), s);
            if inv.recovery == Recovery::Exact {
                assert_eq!((got.cx, got.cy, got.rx, got.ry), (cx, cy, rx, ry));
            }
        }
    }

    #[test]
    fn a_mask_that_is_no_ellipse_is_approximate_within_the_budget() {
        // A 10×10 square: no ellipse renders it.
        let s: Vec<(u32, u32, u32)> = (5..15).map(|y| (y, 5, 15)).collect();
        let counts = coco_counts_from_spans(&s, 30, 30);
        let inv = invert_cvat_export_mask(&counts, 30, 30, 0.0).unwrap();
        assert!(matches!(inv.recovery, Recovery::Approximate { pixels_off } if pixels_off > 0));
        assert!(inv.evaluations <= SEARCH_BUDGET);
        assert!((inv.ellipse.cx - 9.5).abs() <= 1.0 && (inv.ellipse.rx - 5.0).abs() <= 1.5);
        assert!(invert_cvat_export_mask(&[900], 30, 30, 0.0).is_none());
        assert!(invert_cvat_export_mask(&[5, 3], 30, 30, 0.0).is_none());
    }
}
