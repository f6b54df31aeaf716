//! Polygon approximation of an ellipse, for formats that have no ellipse (COCO polygons,
//! YOLO segments).
//!
//! The vertices lie on the ellipse at equal steps of the parametric angle
//! `t_k = 2πk/N`, starting on the `rx` axis and turning like the rotation (clockwise on
//! screen). **Bound**: the ellipse is the image of the unit circle under
//! `A = R(θ)·diag(rx, ry)`; a chord of the unit circle spanning `2π/N` stays within
//! `1 − cos(π/N)` of its arc, and `A` stretches distances by at most `max(rx, ry)`, so
//! every point of the polygon is within `max(rx, ry)·(1 − cos(π/N))` of the ellipse and
//! vice versa. `N` is the smallest count meeting `max_error_px`, clamped to `8..=720`; the
//! bound is therefore met for semi-axes up to about 10,000 px at 0.1 px (beyond that the
//! 720-vertex cap wins and the error grows as `r·(1 − cos(π/720))`). The polygon is
//! inscribed: its area is slightly below `π·rx·ry`.

use crate::model::{Ellipse, Point};

/// Fewest vertices written for any ellipse.
pub(crate) const MIN_VERTICES: usize = 8;
/// Most vertices written for any ellipse.
pub(crate) const MAX_VERTICES: usize = 720;

/// Number of vertices so that the polygon is within `max_error_px` of the ellipse.
pub(crate) fn vertex_count(e: &Ellipse, max_error_px: f64) -> usize {
    let r = e.rx.abs().max(e.ry.abs());
    if !(r.is_finite() && max_error_px.is_finite()) || max_error_px <= 0.0 {
        return MAX_VERTICES;
    }
    if max_error_px >= r {
        return MIN_VERTICES;
    }
    // r (1 − cos(π/N)) ≤ ε  ⇔  N ≥ π / acos(1 − ε/r)
    let n = (std::f64::consts::PI / (1.0 - max_error_px / r).acos()).ceil();
    if n.is_finite() {
        (n as usize).clamp(MIN_VERTICES, MAX_VERTICES)
    } else {
        MAX_VERTICES
    }
}

/// The vertices of the approximating polygon (not closed: the first vertex is not repeated).
pub fn ellipse_polygon(e: &Ellipse, max_error_px: f64) -> Vec<Point> {
    let n = vertex_count(e, max_error_px);
    let (s, c) = e.rotation.to_radians().sin_cos();
    (0..n)
        .map(|k| {
            let t = 2.0 * std::f64::consts::PI * k as f64 / n as f64;
            let (u, v) = (e.rx * t.cos(), e.ry * t.sin());
            [e.cx + u * c - v * s, e.cy + u * s + v * c]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bound_holds() {
        for (rx, ry, rot, eps) in [
            (10.0, 4.0, 30.0, 0.1),
            (300.0, 299.0, -12.0, 0.05),
            (2.0, 1.0, 0.0, 0.5),
        ] {
            let e = Ellipse {
                cx: 100.0,
                cy: 80.0,
                rx,
                ry,
                rotation: rot,
            };
            let poly = ellipse_polygon(&e, eps);
            assert!(poly.len() >= MIN_VERTICES && poly.len() <= MAX_VERTICES);
            // Sample the ellipse finely; each sample must be near some polygon edge.
            let (s, c) = f64::to_radians(rot).sin_cos();
            for i in 0..2000 {
                let t = 2.0 * std::f64::consts::PI * f64::from(i) / 2000.0;
                let (u, v) = (rx * t.cos(), ry * t.sin());
                let p = [e.cx + u * c - v * s, e.cy + u * s + v * c];
                let d = (0..poly.len())
                    .map(|k| seg_dist(p, poly[k], poly[(k + 1) % poly.len()]))
                    .fold(f64::INFINITY, f64::min);
                assert!(d <= eps + 1e-9, "rx {rx} eps {eps}: {d}");
            }
        }
    }

    fn seg_dist(p: Point, a: Point, b: Point) -> f64 {
        let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
        let l2 = dx * dx + dy * dy;
        let t = if l2 > 0.0 {
            (((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / l2).clamp(0.0, 1.0)
        } else {
            0.0
        };
        ((p[0] - a[0] - t * dx).powi(2) + (p[1] - a[1] - t * dy).powi(2)).sqrt()
    }

    #[test]
    fn clamps() {
        let tiny = Ellipse {
            cx: 0.0,
            cy: 0.0,
            rx: 0.1,
            ry: 0.1,
            rotation: 0.0,
        };
        assert_eq!(vertex_count(&tiny, 0.5), MIN_VERTICES);
        let huge = Ellipse {
            cx: 0.0,
            cy: 0.0,
            rx: 1e7,
            ry: 1.0,
            rotation: 0.0,
        };
        assert_eq!(vertex_count(&huge, 0.1), MAX_VERTICES);
    }
}
