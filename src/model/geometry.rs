//! Shapes and their exact geometry.
//!
//! Coordinates are continuous image coordinates: x right, y down, the top-left corner of the
//! top-left pixel at (0, 0), so pixel `(i, j)` covers `[i, i+1) × [j, j+1)` and its centre is
//! `(i + 0.5, j + 0.5)`. Angles are degrees; the `rx` axis of an ellipse points along
//! `(cos θ, sin θ)`, so a positive angle turns clockwise on screen (OpenCV's and CVAT's
//! convention).

use serde::{Deserialize, Serialize};

use super::Rings;

/// A point in image coordinates.
pub type Point = [f64; 2];

/// A rotated ellipse as CVAT stores it.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Ellipse {
    /// Centre x.
    pub cx: f64,
    /// Centre y.
    pub cy: f64,
    /// Semi-axis along the rotated x direction.
    pub rx: f64,
    /// Semi-axis along the rotated y direction.
    pub ry: f64,
    /// Degrees, clockwise on screen.
    pub rotation: f64,
}

/// An axis-aligned box, optionally rotated about its centre (CVAT `<box rotation>`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct BoxShape {
    /// Left edge x (before rotation).
    pub xtl: f64,
    /// Top edge y (before rotation).
    pub ytl: f64,
    /// Right edge x (before rotation).
    pub xbr: f64,
    /// Bottom edge y (before rotation).
    pub ybr: f64,
    /// Degrees, clockwise on screen, about the box's centre.
    pub rotation: f64,
}

/// A binary mask.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum MaskData {
    /// CVAT `<mask rle left top width height>`: run lengths over the box `width × height`,
    /// row-major, starting with a background run.
    Cvat {
        /// Box left, in image pixels.
        left: u32,
        /// Box top, in image pixels.
        top: u32,
        /// Box width.
        width: u32,
        /// Box height.
        height: u32,
        /// Run lengths, alternating background and foreground.
        counts: Vec<u32>,
    },
    /// COCO RLE: run lengths over the whole image, column-major, starting with background.
    Coco {
        /// Image height (rows).
        height: u32,
        /// Image width (columns).
        width: u32,
        /// Run lengths, alternating background and foreground.
        counts: Vec<u32>,
    },
}

/// Every kind of shape CVAT XML 1.1 and COCO can hold. Nothing is dropped on reading.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Shape {
    /// A rotated ellipse (CVAT `<ellipse>`).
    Ellipse(Ellipse),
    /// A box, possibly rotated (CVAT `<box>`, COCO `bbox` alone).
    Box(BoxShape),
    /// One or more rings (COCO allows several per annotation; CVAT one per `<polygon>`).
    /// Stored compactly and exactly (see [`Rings`]).
    Polygon(Rings),
    /// An open line (CVAT `<polyline>`).
    Polyline(Vec<Point>),
    /// A set of points (CVAT `<points>`).
    Points(Vec<Point>),
    /// A binary mask (CVAT `<mask>`, COCO RLE).
    Mask(MaskData),
    /// An image-level label with no geometry (CVAT `<tag>`).
    Tag,
}

/// The tight axis-aligned box `[x, y, w, h]` of a rotated ellipse.
pub fn ellipse_bbox(e: &Ellipse) -> [f64; 4] {
    let (s, c) = e.rotation.to_radians().sin_cos();
    let hw = ((e.rx * c).powi(2) + (e.ry * s).powi(2)).sqrt();
    let hh = ((e.rx * s).powi(2) + (e.ry * c).powi(2)).sqrt();
    [e.cx - hw, e.cy - hh, 2.0 * hw, 2.0 * hh]
}

/// The four corners of a rotated rectangle centred at `(cx, cy)` with half sizes `(hx, hy)`,
/// clockwise on screen starting at the corner `(+hx, -hy)` in the shape's own axes.
pub fn rotated_rect_corners(cx: f64, cy: f64, hx: f64, hy: f64, rotation_deg: f64) -> [Point; 4] {
    let (s, c) = rotation_deg.to_radians().sin_cos();
    let map = |u: f64, v: f64| [cx + u * c - v * s, cy + u * s + v * c];
    [map(-hx, -hy), map(hx, -hy), map(hx, hy), map(-hx, hy)]
}

impl BoxShape {
    /// The four corners, rotated about the centre, clockwise on screen.
    pub fn corners(&self) -> [Point; 4] {
        let cx = (self.xtl + self.xbr) / 2.0;
        let cy = (self.ytl + self.ybr) / 2.0;
        rotated_rect_corners(
            cx,
            cy,
            (self.xbr - self.xtl) / 2.0,
            (self.ybr - self.ytl) / 2.0,
            self.rotation,
        )
    }
}

/// The tight axis-aligned box `[x, y, w, h]` of some points, `None` without any.
pub(crate) fn points_bbox(pts: impl Iterator<Item = Point>) -> Option<[f64; 4]> {
    let mut it = pts.peekable();
    it.peek()?;
    let (mut x0, mut y0, mut x1, mut y1) = (
        f64::INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NEG_INFINITY,
    );
    for p in it {
        x0 = x0.min(p[0]);
        y0 = y0.min(p[1]);
        x1 = x1.max(p[0]);
        y1 = y1.max(p[1]);
    }
    Some([x0, y0, x1 - x0, y1 - y0])
}

impl MaskData {
    /// Tight box of the foreground pixels, in pixel units (`[x, y, w, h]`).
    pub fn bbox(&self) -> Option<[f64; 4]> {
        let (mut x0, mut y0, mut x1, mut y1) = (u64::MAX, u64::MAX, 0u64, 0u64);
        let mut any = false;
        let mut visit = |x: u64, y: u64| {
            any = true;
            x0 = x0.min(x);
            y0 = y0.min(y);
            x1 = x1.max(x + 1);
            y1 = y1.max(y + 1);
        };
        match self {
            MaskData::Cvat {
                left,
                top,
                width,
                counts,
                ..
            } => {
                let w = u64::from(*width).max(1);
                let mut pos = 0u64;
                for (i, &n) in counts.iter().enumerate() {
                    let n = u64::from(n);
                    if i % 2 == 1 && n > 0 {
                        let (first, last) = (pos, pos + n - 1);
                        let (ya, yb) = (first / w, last / w);
                        if ya == yb {
                            visit(first % w + u64::from(*left), ya + u64::from(*top));
                            visit(last % w + u64::from(*left), yb + u64::from(*top));
                        } else {
                            visit(u64::from(*left), ya + u64::from(*top));
                            visit(w - 1 + u64::from(*left), yb + u64::from(*top));
                        }
                    }
                    pos += n;
                }
            }
            MaskData::Coco { height, counts, .. } => return coco_rle_bbox(counts, *height),
        }
        any.then(|| [x0 as f64, y0 as f64, (x1 - x0) as f64, (y1 - y0) as f64])
    }

    /// Number of foreground pixels.
    pub fn area(&self) -> u64 {
        match self {
            MaskData::Cvat { counts, .. } | MaskData::Coco { counts, .. } => rle_area(counts),
        }
    }
}

/// Tight box `[x, y, w, h]` of the foreground of COCO RLE counts (column-major over an image
/// `height` pixels tall), as pycocotools' `toBbox` computes it.
pub(crate) fn coco_rle_bbox(counts: &[u32], height: u32) -> Option<[f64; 4]> {
    let (mut x0, mut y0, mut x1, mut y1) = (u64::MAX, u64::MAX, 0u64, 0u64);
    let mut any = false;
    let h = u64::from(height).max(1);
    let mut pos = 0u64;
    for (i, &n) in counts.iter().enumerate() {
        let n = u64::from(n);
        if i % 2 == 1 && n > 0 {
            let (first, last) = (pos, pos + n - 1);
            let (xa, xb) = (first / h, last / h);
            let (ya, yb) = if xa == xb {
                (first % h, last % h)
            } else {
                (0, h - 1)
            };
            any = true;
            x0 = x0.min(xa);
            x1 = x1.max(xb + 1);
            y0 = y0.min(ya);
            y1 = y1.max(yb + 1);
        }
        pos += n;
    }
    any.then(|| [x0 as f64, y0 as f64, (x1 - x0) as f64, (y1 - y0) as f64])
}

/// Foreground pixel count of RLE counts (COCO's `area` of a mask).
pub(crate) fn rle_area(counts: &[u32]) -> u64 {
    counts
        .iter()
        .skip(1)
        .step_by(2)
        .map(|&n| u64::from(n))
        .sum()
}

/// The box and pixel count of the mask an annotation's shape was recovered from (CVAT's
/// COCO export): what its `bbox` and `area` were computed from.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct MaskExtent {
    /// The mask's box `[x, y, w, h]`.
    pub bbox: [f64; 4],
    /// The mask's pixel count.
    pub area: u64,
}

impl Shape {
    /// Short lower-case name, as CVAT names the element.
    pub fn kind(&self) -> &'static str {
        match self {
            Shape::Ellipse(_) => "ellipse",
            Shape::Box(_) => "box",
            Shape::Polygon(_) => "polygon",
            Shape::Polyline(_) => "polyline",
            Shape::Points(_) => "points",
            Shape::Mask(_) => "mask",
            Shape::Tag => "tag",
        }
    }

    /// The tight axis-aligned box `[x, y, w, h]`, or `None` for a tag or an empty shape.
    pub fn bbox(&self) -> Option<[f64; 4]> {
        match self {
            Shape::Ellipse(e) => Some(ellipse_bbox(e)),
            Shape::Box(b) if b.rotation == 0.0 => {
                Some([b.xtl, b.ytl, b.xbr - b.xtl, b.ybr - b.ytl])
            }
            Shape::Box(b) => points_bbox(b.corners().into_iter()),
            Shape::Polygon(rings) => rings.bbox(),
            Shape::Polyline(p) | Shape::Points(p) => points_bbox(p.iter().copied()),
            Shape::Mask(m) => m.bbox(),
            Shape::Tag => None,
        }
    }

    /// Geometric area (pixel count for masks, 0 for lines, points and tags).
    pub fn area(&self) -> f64 {
        match self {
            Shape::Ellipse(e) => std::f64::consts::PI * e.rx * e.ry,
            Shape::Box(b) => (b.xbr - b.xtl) * (b.ybr - b.ytl),
            Shape::Polygon(rings) => rings.iter().map(|r| ring_area_of(r.points())).sum(),
            Shape::Mask(m) => m.area() as f64,
            Shape::Polyline(_) | Shape::Points(_) | Shape::Tag => 0.0,
        }
    }

    /// Every coordinate of the shape is a finite number.
    pub fn is_finite(&self) -> bool {
        let pts_ok = |p: &[Point]| p.iter().all(|q| q[0].is_finite() && q[1].is_finite());
        match self {
            Shape::Ellipse(e) => [e.cx, e.cy, e.rx, e.ry, e.rotation]
                .iter()
                .all(|v| v.is_finite()),
            Shape::Box(b) => [b.xtl, b.ytl, b.xbr, b.ybr, b.rotation]
                .iter()
                .all(|v| v.is_finite()),
            Shape::Polygon(rings) => rings.is_finite(),
            Shape::Polyline(p) | Shape::Points(p) => pts_ok(p),
            Shape::Mask(_) | Shape::Tag => true,
        }
    }
}

/// Shoelace area of one ring (absolute value).
pub(crate) fn ring_area(ring: &[Point]) -> f64 {
    ring_area_of(ring.iter().copied())
}

/// [`ring_area`] of a ring read point by point (a stored polygon decodes as it goes). The
/// terms are added in the same order, edge `i → i+1` then the closing edge, so the result
/// is the same to the bit.
pub(crate) fn ring_area_of(ring: impl ExactSizeIterator<Item = Point>) -> f64 {
    if ring.len() < 3 {
        return 0.0;
    }
    let mut it = ring;
    let Some(first) = it.next() else {
        return 0.0;
    };
    let mut s = 0.0;
    let mut a = first;
    for b in it {
        s += a[0] * b[1] - b[0] * a[1];
        a = b;
    }
    s += a[0] * first[1] - first[0] * a[1];
    (s / 2.0).abs()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bbox_of_rotated_ellipse_swaps_axes_at_90_degrees() {
        let e = Ellipse {
            cx: 10.0,
            cy: 20.0,
            rx: 5.0,
            ry: 2.0,
            rotation: 90.0,
        };
        let b = ellipse_bbox(&e);
        assert!(
            (b[2] - 4.0).abs() < 1e-9 && (b[3] - 10.0).abs() < 1e-9,
            "{b:?}"
        );
    }

    #[test]
    fn coco_mask_bbox_and_area() {
        // 3 rows × 2 columns, column-major: column 0 = [0,1,1], column 1 = [0,0,1]
        let m = MaskData::Coco {
            height: 3,
            width: 2,
            counts: vec![1, 2, 2, 1],
        };
        assert_eq!(m.area(), 3);
        assert_eq!(m.bbox(), Some([0.0, 1.0, 2.0, 2.0]));
    }
}
