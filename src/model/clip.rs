//! The part of a shape an image shows.
//!
//! CVAT keeps an ellipse as it was drawn, reaching past the image border (a granule cut by
//! the edge of the micrograph); its COCO export rasterises the ellipse on a mask the size of
//! the image, so the exported mask, `bbox` and `area` describe only the part inside the
//! image. Every comparison of a shape with a COCO annotation (bbox and area checks, COCO ↔
//! CVAT matching, the division's CVAT matching, `diff`) goes through this file, so that a
//! border shape is measured the same way everywhere.
//!
//! The image is the rectangle `[0, width] × [0, height]` in the model's continuous
//! coordinates (`geometry.rs`). Boxes are exact for every shape: for an ellipse, the extremes
//! of the convex set ellipse ∩ rectangle lie at the ellipse's own extreme points, at the
//! crossings of its outline with the rectangle's sides, or at the rectangle's corners, and
//! every candidate is computed in closed form. Areas are exact for polygons and boxes
//! (polygon clipping) and for ellipses inside the image (π·rx·ry); an ellipse crossing the
//! border is clipped as a 1,024-gon, whose area is within 1e-5 of the true area (relative).

use super::geometry::{ellipse_bbox, ring_area, Ellipse, Point, Shape};

/// Slack for "on the rectangle": crossings computed in floating point land a few ulps
/// outside a side they lie on.
const EPS: f64 = 1e-9;

/// Vertices of the polygon an ellipse is clipped as, for its area.
const ELLIPSE_CLIP_VERTICES: usize = 1024;

impl Shape {
    /// Tight box `[x, y, w, h]` of the part of the shape inside a `width × height` image;
    /// `None` when no part of it is inside (or it has no geometry).
    pub(crate) fn bbox_in_image(&self, width: u32, height: u32) -> Option<[f64; 4]> {
        let (w, h) = (f64::from(width), f64::from(height));
        let full = self.bbox()?;
        if inside(&full, w, h) {
            return Some(full);
        }
        match self {
            Shape::Ellipse(e) => ellipse_bbox_in(e, w, h),
            Shape::Box(_) | Shape::Polygon(_) => {
                let rings = self.rings();
                let clipped: Vec<Vec<Point>> = rings.iter().map(|r| clip_ring(r, w, h)).collect();
                points_box(clipped.iter().flatten())
            }
            Shape::Polyline(p) | Shape::Points(p) => {
                // Lines and points have no area; their visible box is the box of what lies
                // inside, approximated by clamping (no COCO export keeps them).
                let kept: Vec<Point> = p
                    .iter()
                    .map(|q| [q[0].clamp(0.0, w), q[1].clamp(0.0, h)])
                    .collect();
                points_box(kept.iter())
            }
            // Masks are image rasters already; a CVAT mask box past the border is clamped.
            Shape::Mask(_) => clamp_box(&full, w, h),
            Shape::Tag => None,
        }
    }

    /// Area of the part of the shape inside a `width × height` image (pixel count for
    /// masks, 0 for lines, points and tags).
    pub(crate) fn area_in_image(&self, width: u32, height: u32) -> f64 {
        let (w, h) = (f64::from(width), f64::from(height));
        let Some(full) = self.bbox() else {
            return 0.0;
        };
        if inside(&full, w, h) {
            return self.area();
        }
        match self {
            Shape::Ellipse(e) => ring_area(&clip_ring(&ellipse_ring(e), w, h)),
            Shape::Box(_) | Shape::Polygon(_) => self
                .rings()
                .iter()
                .map(|r| ring_area(&clip_ring(r, w, h)))
                .sum(),
            _ => self.area(),
        }
    }

    /// Whether some part of the shape lies outside a `width × height` image.
    pub(crate) fn crosses_image_border(&self, width: u32, height: u32) -> bool {
        self.bbox()
            .is_some_and(|b| !inside(&b, f64::from(width), f64::from(height)))
    }

    /// The shape as polygon rings (boxes and polygons only).
    fn rings(&self) -> Vec<Vec<Point>> {
        match self {
            Shape::Box(b) => vec![b.corners().to_vec()],
            Shape::Polygon(r) => r.to_vec(),
            _ => Vec::new(),
        }
    }
}

fn inside(b: &[f64; 4], w: f64, h: f64) -> bool {
    b[0] >= 0.0 && b[1] >= 0.0 && b[0] + b[2] <= w && b[1] + b[3] <= h
}

fn clamp_box(b: &[f64; 4], w: f64, h: f64) -> Option<[f64; 4]> {
    let (x0, y0) = (b[0].max(0.0), b[1].max(0.0));
    let (x1, y1) = ((b[0] + b[2]).min(w), (b[1] + b[3]).min(h));
    (x1 >= x0 && y1 >= y0).then_some([x0, y0, x1 - x0, y1 - y0])
}

fn points_box<'a>(pts: impl Iterator<Item = &'a Point>) -> Option<[f64; 4]> {
    let mut b: Option<[f64; 4]> = None;
    for p in pts {
        b = Some(match b {
            None => [p[0], p[1], p[0], p[1]],
            Some([x0, y0, x1, y1]) => [x0.min(p[0]), y0.min(p[1]), x1.max(p[0]), y1.max(p[1])],
        });
    }
    b.map(|[x0, y0, x1, y1]| [x0, y0, x1 - x0, y1 - y0])
}

/// The ellipse as `(c, a, b, cc)` of its implicit form `a·dx² + b·dx·dy + cc·dy² ≤ 1` around
/// the centre `c`.
fn quadratic(e: &Ellipse) -> ([f64; 2], f64, f64, f64) {
    let (s, c) = e.rotation.to_radians().sin_cos();
    let (irx2, iry2) = (1.0 / (e.rx * e.rx), 1.0 / (e.ry * e.ry));
    (
        [e.cx, e.cy],
        c * c * irx2 + s * s * iry2,
        2.0 * c * s * (irx2 - iry2),
        s * s * irx2 + c * c * iry2,
    )
}

/// Real roots of `a·t² + b·t + c = 0` (`a > 0`).
fn roots(a: f64, b: f64, c: f64) -> Option<(f64, f64)> {
    let disc = b * b - 4.0 * a * c;
    // `disc` may be NaN for non-finite input: no roots then either.
    if disc.is_nan() || disc < 0.0 || a <= 0.0 {
        return None;
    }
    let r = disc.sqrt();
    Some(((-b - r) / (2.0 * a), (-b + r) / (2.0 * a)))
}

fn ellipse_bbox_in(e: &Ellipse, w: f64, h: f64) -> Option<[f64; 4]> {
    let finite = [e.cx, e.cy, e.rx, e.ry, e.rotation]
        .iter()
        .all(|v| v.is_finite());
    if !finite || e.rx <= 0.0 || e.ry <= 0.0 {
        return clamp_box(&ellipse_bbox(e), w, h);
    }
    let ([cx, cy], qa, qb, qc) = quadratic(e);
    let in_rect = |p: &Point| p[0] >= -EPS && p[0] <= w + EPS && p[1] >= -EPS && p[1] <= h + EPS;
    let in_ellipse = |p: &Point| {
        let (dx, dy) = (p[0] - cx, p[1] - cy);
        qa * dx * dx + qb * dx * dy + qc * dy * dy <= 1.0 + EPS
    };
    let mut cands: Vec<Point> = Vec::with_capacity(16);
    // The ellipse's own extreme points: x(t) = cx + rx·cos t·cosθ − ry·sin t·sinθ is
    // extreme where tan t = −ry·sinθ / (rx·cosθ); y(t) likewise.
    let (s, c) = e.rotation.to_radians().sin_cos();
    let at = |t: f64| -> Point {
        let (st, ct) = t.sin_cos();
        [
            cx + e.rx * ct * c - e.ry * st * s,
            cy + e.rx * ct * s + e.ry * st * c,
        ]
    };
    let tx = (-e.ry * s).atan2(e.rx * c);
    let ty = (e.ry * c).atan2(e.rx * s);
    for t in [tx, tx + std::f64::consts::PI, ty, ty + std::f64::consts::PI] {
        cands.push(at(t));
    }
    // Crossings of the outline with the sides' lines.
    for x in [0.0, w] {
        let dx = x - cx;
        if let Some((d0, d1)) = roots(qc, qb * dx, qa * dx * dx - 1.0) {
            cands.push([x, cy + d0]);
            cands.push([x, cy + d1]);
        }
    }
    for y in [0.0, h] {
        let dy = y - cy;
        if let Some((d0, d1)) = roots(qa, qb * dy, qc * dy * dy - 1.0) {
            cands.push([cx + d0, y]);
            cands.push([cx + d1, y]);
        }
    }
    let mut kept: Vec<Point> = cands
        .into_iter()
        .filter(in_rect)
        .map(|p| [p[0].clamp(0.0, w), p[1].clamp(0.0, h)])
        .collect();
    kept.extend(
        [[0.0, 0.0], [w, 0.0], [0.0, h], [w, h]]
            .into_iter()
            .filter(in_ellipse),
    );
    points_box(kept.iter())
}

/// The ellipse as a closed polygon of [`ELLIPSE_CLIP_VERTICES`] points on its outline.
fn ellipse_ring(e: &Ellipse) -> Vec<Point> {
    let (s, c) = e.rotation.to_radians().sin_cos();
    (0..ELLIPSE_CLIP_VERTICES)
        .map(|k| {
            let t = std::f64::consts::TAU * k as f64 / ELLIPSE_CLIP_VERTICES as f64;
            let (st, ct) = t.sin_cos();
            let (u, v) = (e.rx * ct, e.ry * st);
            [e.cx + u * c - v * s, e.cy + u * s + v * c]
        })
        .collect()
}

/// Sutherland–Hodgman clipping of one ring to `[0, w] × [0, h]` (exact for convex clip
/// windows, which a rectangle is).
fn clip_ring(ring: &[Point], w: f64, h: f64) -> Vec<Point> {
    // Each side as (inside test, crossing with the side's line).
    fn side(
        pts: &[Point],
        keep: impl Fn(&Point) -> bool,
        cross: impl Fn(&Point, &Point) -> Point,
    ) -> Vec<Point> {
        let mut out = Vec::with_capacity(pts.len() + 4);
        for i in 0..pts.len() {
            let (a, b) = (&pts[i], &pts[(i + 1) % pts.len()]);
            match (keep(a), keep(b)) {
                (true, true) => out.push(*b),
                (true, false) => out.push(cross(a, b)),
                (false, true) => {
                    out.push(cross(a, b));
                    out.push(*b);
                }
                (false, false) => {}
            }
        }
        out
    }
    let at_x = |x: f64| {
        move |a: &Point, b: &Point| {
            let t = (x - a[0]) / (b[0] - a[0]);
            [x, a[1] + t * (b[1] - a[1])]
        }
    };
    let at_y = |y: f64| {
        move |a: &Point, b: &Point| {
            let t = (y - a[1]) / (b[1] - a[1]);
            [a[0] + t * (b[0] - a[0]), y]
        }
    };
    let mut p = ring.to_vec();
    p = side(&p, |q| q[0] >= 0.0, at_x(0.0));
    p = side(&p, |q| q[0] <= w, at_x(w));
    p = side(&p, |q| q[1] >= 0.0, at_y(0.0));
    side(&p, |q| q[1] <= h, at_y(h))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ellipse(cx: f64, cy: f64, rx: f64, ry: f64, rotation: f64) -> Shape {
        Shape::Ellipse(Ellipse {
            cx,
            cy,
            rx,
            ry,
            rotation,
        })
    }

    /// Box and area of ellipse ∩ image by brute force on a fine grid of sample points.
    fn sampled(s: &Shape, w: u32, h: u32) -> ([f64; 4], f64) {
        let Shape::Ellipse(e) = s else { unreachable!() };
        let step = 0.01;
        let ([cx, cy], qa, qb, qc) = quadratic(e);
        let (mut x0, mut y0, mut x1, mut y1) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
        let mut n = 0u64;
        let (nx, ny) = ((f64::from(w) / step) as u64, (f64::from(h) / step) as u64);
        for i in 0..nx {
            for j in 0..ny {
                let (x, y) = ((i as f64 + 0.5) * step, (j as f64 + 0.5) * step);
                let (dx, dy) = (x - cx, y - cy);
                if qa * dx * dx + qb * dx * dy + qc * dy * dy <= 1.0 {
                    n += 1;
                    x0 = x0.min(x);
                    y0 = y0.min(y);
                    x1 = x1.max(x);
                    y1 = y1.max(y);
                }
            }
        }
        ([x0, y0, x1 - x0, y1 - y0], n as f64 * step * step)
    }

    #[test]
    fn an_ellipse_inside_is_unchanged() {
        let s = ellipse(50.0, 40.0, 10.0, 5.0, 30.0);
        assert_eq!(s.bbox_in_image(100, 100), s.bbox());
        assert_eq!(s.area_in_image(100, 100), s.area());
        assert!(!s.crosses_image_border(100, 100));
    }

    #[test]
    fn ellipses_crossing_each_border_match_brute_force() {
        for (cx, cy, rot) in [
            (2.0, 20.0, 30.0),
            (38.5, 20.0, -70.0),
            (20.0, 1.0, 100.0),
            (20.0, 39.0, 215.0),
            (1.0, 1.0, 45.0),
            (39.0, 38.0, 10.0),
        ] {
            let s = ellipse(cx, cy, 9.0, 4.0, rot);
            assert!(s.crosses_image_border(40, 40));
            let b = s.bbox_in_image(40, 40).unwrap();
            let a = s.area_in_image(40, 40);
            let (sb, sa) = sampled(&s, 40, 40);
            for k in 0..4 {
                assert!(
                    (b[k] - sb[k]).abs() < 0.03,
                    "{cx},{cy},{rot}: {b:?} vs {sb:?}"
                );
            }
            assert!((a - sa).abs() / sa < 2e-3, "{cx},{cy},{rot}: {a} vs {sa}");
            assert!(a < s.area());
        }
    }

    #[test]
    fn an_ellipse_covering_the_whole_image_is_the_image() {
        let s = ellipse(5.0, 5.0, 100.0, 80.0, 17.0);
        assert_eq!(s.bbox_in_image(10, 10), Some([0.0, 0.0, 10.0, 10.0]));
        assert!((s.area_in_image(10, 10) - 100.0).abs() < 1e-6);
    }

    #[test]
    fn an_ellipse_outside_has_no_box() {
        let s = ellipse(-50.0, 5.0, 10.0, 8.0, 0.0);
        assert_eq!(s.bbox_in_image(10, 10), None);
        assert_eq!(s.area_in_image(10, 10), 0.0);
    }

    #[test]
    fn a_polygon_is_clipped_exactly() {
        let s =
            Shape::Polygon(vec![vec![[-5.0, -5.0], [5.0, -5.0], [5.0, 5.0], [-5.0, 5.0]]].into());
        assert_eq!(s.bbox_in_image(10, 10), Some([0.0, 0.0, 5.0, 5.0]));
        assert!((s.area_in_image(10, 10) - 25.0).abs() < 1e-9);
    }
}
