//! Ellipses from second moments: the inverse of rasterising.
//!
//! A filled ellipse with semi-axes `a`, `b` has, along its own axes, variances `a²/4` and
//! `b²/4`; so the ellipse of a region is centred on its centroid, oriented along the
//! eigenvectors of its covariance and has semi-axes `2·sqrt(eigenvalue)`.
//!
//! For a raster each pixel is counted at its centre, which adds the pixel's own variance
//! (1/12 in every direction, isotropic) to the region's; `Moments` built from pixels remember
//! that and `ellipse_from_moments` subtracts it. Polygons are integrated exactly (Green's
//! theorem), no correction.
//!
//! Angles follow the model: the `rx` axis points along `(cos θ, sin θ)` with y down.

use crate::model::{Ellipse, Point};

/// Variance of a uniform unit pixel along any direction.
const PIXEL_VARIANCE: f64 = 1.0 / 12.0;

/// Zeroth, first and second moments of a region, accumulated relative to a reference point
/// (the first thing added) so that large image coordinates do not cancel out.
#[derive(Clone, Debug, Default)]
pub struct Moments {
    reference: Option<(f64, f64)>,
    n: f64,
    sx: f64,
    sy: f64,
    sxx: f64,
    syy: f64,
    sxy: f64,
    /// Built from pixels counted at points: their own variance is to be removed.
    discrete: bool,
}

/// Centroid and covariance of a region.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Covariance {
    pub area: f64,
    pub cx: f64,
    pub cy: f64,
    pub xx: f64,
    pub yy: f64,
    pub xy: f64,
}

impl Moments {
    /// An empty accumulator for pixels (see the module doc on the 1/12 correction).
    pub fn pixels() -> Self {
        Moments {
            discrete: true,
            ..Default::default()
        }
    }

    fn rel(&mut self, x: f64, y: f64) -> (f64, f64) {
        let (rx, ry) = *self.reference.get_or_insert((x, y));
        (x - rx, y - ry)
    }

    /// Adds one pixel with index `(x, y)`.
    pub fn add_pixel(&mut self, x: f64, y: f64) {
        let (dx, dy) = self.rel(x, y);
        self.n += 1.0;
        self.sx += dx;
        self.sy += dy;
        self.sxx += dx * dx;
        self.syy += dy * dy;
        self.sxy += dx * dy;
    }

    /// Adds the `len` pixels `(x, y0), (x, y0+1), …` of one column, in O(1).
    pub(crate) fn add_column_run(&mut self, x: f64, y0: f64, len: u32) {
        if len == 0 {
            return;
        }
        let (dx, d) = self.rel(x, y0);
        let (s1, s2) = run_sums(d, f64::from(len));
        let n = f64::from(len);
        self.n += n;
        self.sx += n * dx;
        self.sy += s1;
        self.sxx += n * dx * dx;
        self.syy += s2;
        self.sxy += dx * s1;
    }

    /// Adds the `len` pixels `(x0, y), (x0+1, y), …` of one row, in O(1).
    pub fn add_row_run(&mut self, x0: f64, y: f64, len: u32) {
        if len == 0 {
            return;
        }
        let (d, dy) = self.rel(x0, y);
        let (s1, s2) = run_sums(d, f64::from(len));
        let n = f64::from(len);
        self.n += n;
        self.sx += s1;
        self.sy += n * dy;
        self.sxx += s2;
        self.syy += n * dy * dy;
        self.sxy += dy * s1;
    }

    /// Moments of the foreground of a COCO RLE (column-major). The counts must have been
    /// checked against the size (`crate::geometry::rle::check_counts`).
    pub fn from_coco_rle(counts: &[u32], height: u32) -> Self {
        let mut m = Moments::pixels();
        crate::geometry::rle::for_each_column_run(counts, height, |x, y, len| {
            m.add_column_run(f64::from(x), f64::from(y), len);
        });
        m
    }

    /// Exact moments of the union of polygon rings (each ring counted positively whatever
    /// its orientation; COCO rings are parts, not holes), by Green's theorem.
    pub(crate) fn from_polygon(rings: &[Vec<Point>]) -> Self {
        let mut m = Moments::default();
        for ring in rings {
            if ring.len() < 3 {
                continue;
            }
            let (mut a, mut sx, mut sy, mut sxx, mut syy, mut sxy) = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
            let rel: Vec<(f64, f64)> = ring.iter().map(|p| m.rel(p[0], p[1])).collect();
            for i in 0..rel.len() {
                let (x0, y0) = rel[i];
                let (x1, y1) = rel[(i + 1) % rel.len()];
                let cross = x0 * y1 - x1 * y0;
                a += cross;
                sx += (x0 + x1) * cross;
                sy += (y0 + y1) * cross;
                sxx += (x0 * x0 + x0 * x1 + x1 * x1) * cross;
                syy += (y0 * y0 + y0 * y1 + y1 * y1) * cross;
                sxy += (x0 * y1 + 2.0 * x0 * y0 + 2.0 * x1 * y1 + x1 * y0) * cross;
            }
            // Signed integrals; flip clockwise rings so every ring adds area.
            let sign = if a < 0.0 { -1.0 } else { 1.0 };
            m.n += sign * a / 2.0;
            m.sx += sign * sx / 6.0;
            m.sy += sign * sy / 6.0;
            m.sxx += sign * sxx / 12.0;
            m.syy += sign * syy / 12.0;
            m.sxy += sign * sxy / 24.0;
        }
        m
    }

    /// Pixel count (or area).
    pub fn area(&self) -> f64 {
        self.n
    }

    /// Centroid and covariance (with the pixel variance removed for pixel moments), or
    /// `None` for an empty region.
    pub(crate) fn covariance(&self, pixel_offset: f64) -> Option<Covariance> {
        if self.n <= 0.0 {
            return None;
        }
        let (rx, ry) = self.reference.unwrap_or((0.0, 0.0));
        let mx = self.sx / self.n;
        let my = self.sy / self.n;
        let corr = if self.discrete { PIXEL_VARIANCE } else { 0.0 };
        Some(Covariance {
            area: self.n,
            cx: rx + mx + pixel_offset,
            cy: ry + my + pixel_offset,
            xx: self.sxx / self.n - mx * mx - corr,
            yy: self.syy / self.n - my * my - corr,
            xy: self.sxy / self.n - mx * my,
        })
    }
}

/// Σ (d+k) and Σ (d+k)² for k in 0..n.
fn run_sums(d: f64, n: f64) -> (f64, f64) {
    let k1 = n * (n - 1.0) / 2.0;
    let k2 = (n - 1.0) * n * (2.0 * n - 1.0) / 6.0;
    (n * d + k1, n * d * d + 2.0 * d * k1 + k2)
}

fn semi_axis(variance: f64) -> f64 {
    // A one-pixel-wide region can come out slightly negative after the correction.
    2.0 * variance.max(0.0).sqrt()
}

/// The ellipse with the region's second moments: `rx ≥ ry`, rotation in `(-90, 90]` degrees.
/// `pixel_offset` is where a pixel's centre is relative to its index: 0.5 for this project's
/// rasters (docs/design.md §3), 0.0 for OpenCV's (CVAT's COCO export).
pub fn ellipse_from_moments(m: &Moments, pixel_offset: f64) -> Option<Ellipse> {
    let c = m.covariance(pixel_offset)?;
    let half_tr = (c.xx + c.yy) / 2.0;
    let disc = (((c.xx - c.yy) / 2.0).powi(2) + c.xy * c.xy).sqrt();
    let (l1, l2) = (half_tr + disc, half_tr - disc);
    let mut theta = 0.5 * (2.0 * c.xy).atan2(c.xx - c.yy);
    if theta <= -std::f64::consts::FRAC_PI_2 {
        theta += std::f64::consts::PI;
    }
    let e = Ellipse {
        cx: c.cx,
        cy: c.cy,
        rx: semi_axis(l1),
        ry: semi_axis(l2),
        rotation: theta.to_degrees(),
    };
    [e.cx, e.cy, e.rx, e.ry, e.rotation]
        .iter()
        .all(|v| v.is_finite())
        .then_some(e)
}

/// Like `ellipse_from_moments` but with a known rotation (CVAT's export carries it in
/// `attributes.rotation`): the semi-axes come from the variances along `(cos θ, sin θ)` and
/// `(-sin θ, cos θ)`. Robust for near-circles, where the eigenvectors are ill-defined; the
/// rotation is kept verbatim and `rx` may be shorter than `ry`.
pub fn ellipse_from_moments_with_angle(
    m: &Moments,
    pixel_offset: f64,
    rotation_deg: f64,
) -> Option<Ellipse> {
    let c = m.covariance(pixel_offset)?;
    let (s, co) = rotation_deg.to_radians().sin_cos();
    let vu = c.xx * co * co + 2.0 * c.xy * co * s + c.yy * s * s;
    let vv = c.xx * s * s - 2.0 * c.xy * co * s + c.yy * co * co;
    let e = Ellipse {
        cx: c.cx,
        cy: c.cy,
        rx: semi_axis(vu),
        ry: semi_axis(vv),
        rotation: rotation_deg,
    };
    [e.cx, e.cy, e.rx, e.ry, e.rotation]
        .iter()
        .all(|v| v.is_finite())
        .then_some(e)
}

/// The ellipse CVAT drew into a mask of its COCO export, given the rotation the export
/// carries in `attributes.rotation`.
///
/// CVAT rounds the centre and the semi-axes to whole pixels and fills the ellipse with
/// OpenCV's `cv2.ellipse(…, thickness=-1)`, whose pixel centres sit on integer coordinates
/// and which includes every pixel the outline touches: the mask is the ellipse grown by about
/// half a pixel (its area is close to `π(a+½)(b+½)`). So: moments with offset 0, semi-axes
/// minus ½, then everything snapped back to the whole pixels CVAT drew with. The fit's own
/// noise is well under ½ px for unclipped masks, so the snap recovers CVAT's integers and
/// the error against the original ellipse is only CVAT's rounding (≤ ½ px per value).
pub(crate) fn ellipse_from_cvat_export_mask(m: &Moments, rotation_deg: f64) -> Option<Ellipse> {
    let e = ellipse_from_moments_with_angle(m, 0.0, rotation_deg)?;
    let axis = |r: f64| (r - 0.5).round().max(0.0);
    Some(Ellipse {
        cx: e.cx.round(),
        cy: e.cy.round(),
        rx: axis(e.rx),
        ry: axis(e.ry),
        rotation: rotation_deg,
    })
}

/// The ellipse of equal moments of a polygon (several rings are a union).
pub(crate) fn ellipse_from_polygon(rings: &[Vec<Point>]) -> Option<Ellipse> {
    ellipse_from_moments(&Moments::from_polygon(rings), 0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rasterises with docs/design.md §3's rule (pixel centre at +0.5).
    fn raster(e: &Ellipse, w: u32, h: u32) -> Moments {
        let (s, c) = e.rotation.to_radians().sin_cos();
        let mut m = Moments::pixels();
        for y in 0..h {
            for x in 0..w {
                let (dx, dy) = (f64::from(x) + 0.5 - e.cx, f64::from(y) + 0.5 - e.cy);
                let (u, v) = (dx * c + dy * s, -dx * s + dy * c);
                if (u / e.rx).powi(2) + (v / e.ry).powi(2) <= 1.0 {
                    m.add_pixel(f64::from(x), f64::from(y));
                }
            }
        }
        m
    }

    #[test]
    fn recovers_a_rasterised_ellipse() {
        let e = Ellipse {
            cx: 50.3,
            cy: 40.7,
            rx: 20.0,
            ry: 9.0,
            rotation: 30.0,
        };
        let f = ellipse_from_moments(&raster(&e, 100, 100), 0.5).unwrap();
        assert!(
            (f.cx - e.cx).abs() < 0.05 && (f.cy - e.cy).abs() < 0.05,
            "{f:?}"
        );
        assert!(
            (f.rx - e.rx).abs() < 0.1 && (f.ry - e.ry).abs() < 0.1,
            "{f:?}"
        );
        assert!((f.rotation - e.rotation).abs() < 0.5, "{f:?}");
        let g = ellipse_from_moments_with_angle(&raster(&e, 100, 100), 0.5, 30.0).unwrap();
        assert!(
            (g.rx - e.rx).abs() < 0.1 && (g.ry - e.ry).abs() < 0.1,
            "{g:?}"
        );
    }

    #[test]
    fn negative_rotation_is_clockwise_convention() {
        let e = Ellipse {
            cx: 50.0,
            cy: 50.0,
            rx: 25.0,
            ry: 8.0,
            rotation: -60.0,
        };
        let f = ellipse_from_moments(&raster(&e, 100, 100), 0.5).unwrap();
        assert!((f.rotation + 60.0).abs() < 0.5, "{f:?}");
    }

    #[test]
    fn runs_equal_pixels() {
        let mut a = Moments::pixels();
        let mut b = Moments::pixels();
        let mut c = Moments::pixels();
        for y in 3..10 {
            a.add_pixel(7.0, f64::from(y));
        }
        b.add_column_run(7.0, 3.0, 7);
        for x in 2..6 {
            c.add_row_run(f64::from(x), 4.0, 1);
        }
        let (ca, cb) = (a.covariance(0.0).unwrap(), b.covariance(0.0).unwrap());
        assert!((ca.cy - cb.cy).abs() < 1e-12 && (ca.yy - cb.yy).abs() < 1e-12);
        let mut d = Moments::pixels();
        d.add_row_run(2.0, 4.0, 4);
        let (cc, cd) = (c.covariance(0.0).unwrap(), d.covariance(0.0).unwrap());
        assert!((cc.cx - cd.cx).abs() < 1e-12 && (cc.xx - cd.xx).abs() < 1e-12);
    }

    #[test]
    fn polygon_moments_are_exact() {
        // Rectangle 4×2 at (10, 20): variance w²/12 = 4/3 along x; the inscribed-ellipse
        // formula gives 2·sqrt(4/3).
        let ring = vec![[10.0, 20.0], [14.0, 20.0], [14.0, 22.0], [10.0, 22.0]];
        let c = Moments::from_polygon(std::slice::from_ref(&ring))
            .covariance(0.0)
            .unwrap();
        assert!(
            (c.area - 8.0).abs() < 1e-12
                && (c.cx - 12.0).abs() < 1e-12
                && (c.cy - 21.0).abs() < 1e-12
        );
        assert!(
            (c.xx - 16.0 / 12.0).abs() < 1e-12
                && (c.yy - 4.0 / 12.0).abs() < 1e-12
                && c.xy.abs() < 1e-12
        );
        let mut rev = ring;
        rev.reverse();
        let d = Moments::from_polygon(&[rev]).covariance(0.0).unwrap();
        assert!((d.xx - c.xx).abs() < 1e-12);
        // A fine polygon of an ellipse gives the ellipse back.
        let e = Ellipse {
            cx: 300.0,
            cy: 200.0,
            rx: 12.0,
            ry: 5.0,
            rotation: 20.0,
        };
        let poly = crate::geometry::ellipse_polygon::ellipse_polygon(&e, 0.001);
        let f = ellipse_from_polygon(&[poly]).unwrap();
        assert!(
            (f.rx - 12.0).abs() < 0.01
                && (f.ry - 5.0).abs() < 0.01
                && (f.rotation - 20.0).abs() < 0.01,
            "{f:?}"
        );
    }

    #[test]
    fn empty_is_none() {
        assert!(ellipse_from_moments(&Moments::pixels(), 0.0).is_none());
    }
}
