//! Compact, lossless storage of a polygon's rings.
//!
//! Why: a million COCO polygons were most of `validate`'s peak memory. As
//! `Vec<Vec<[f64; 2]>>` a 16-point ring cost its 256-byte point buffer plus a 32-byte ring
//! list, twice the ~180 bytes of text it was read from. Real files write coordinates with a
//! few decimals (`3112.27`), and every such number is exactly `m / 10^k` for a small integer
//! `m`, so a ring is kept as `i32` mantissas with one decimal exponent per polygon (128
//! bytes for those 16 points, and no ring list for a single ring). The decoding is exact by
//! construction: a polygon is stored this way only when dividing each mantissa by `10^k`
//! gives back every coordinate bit for bit, and is kept as `f64` otherwise. What comes out
//! is therefore always the number that went in, whatever it was.

use serde::{Deserialize, Serialize};

use super::Point;

/// Powers of ten that are exact in `f64`, one per decimal exponent tried.
const POW10: [f64; 10] = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9];

/// The offset form of these mantissas (x, y interleaved), when every offset fits 16 bits:
/// the x and y bases (the smallest mantissas) and each mantissa's offset from its base.
fn offsets(m: &[i32]) -> Option<([i32; 2], Box<[u16]>)> {
    if m.is_empty() {
        return None;
    }
    let base = |axis: usize| m.iter().skip(axis).step_by(2).copied().min().unwrap_or(0);
    let bases = [base(0), base(1)];
    let mut out = Vec::with_capacity(m.len());
    for (i, &v) in m.iter().enumerate() {
        out.push(u16::try_from(i64::from(v) - i64::from(bases[i % 2])).ok()?);
    }
    Some((bases, out.into_boxed_slice()))
}

/// The mantissa at `offset` from `base` (the offset was `m - base`, so this is `m` again).
#[inline]
fn from_offset(base: i32, offset: u16) -> i32 {
    base.wrapping_add(i32::from(offset))
}

/// The mantissa of `x` at decimal exponent `scale`, when `m / 10^scale` is `x` bit for bit.
/// The bit comparison (not `==`) keeps `-0.0` apart from `0.0` and refuses NaN.
fn mantissa(x: f64, scale: usize) -> Option<i32> {
    let p = POW10[scale];
    let m = (x * p).round();
    // The range test is false for NaN too.
    if !(m >= f64::from(i32::MIN) && m <= f64::from(i32::MAX)) {
        return None;
    }
    let m = m as i32;
    (decode(m, scale as u8).to_bits() == x.to_bits()).then_some(m)
}

/// The one decoding rule: the same division the encoder checked against. The offset form
/// below restores the same integer `m` first, so it decodes through this rule too.
#[inline]
fn decode(m: i32, scale: u8) -> f64 {
    f64::from(m) / POW10[scale as usize]
}

/// Coordinates of every ring, back to back.
#[derive(Clone)]
enum Coords {
    /// `x = m / 10^scale`, exact for every coordinate (x, y interleaved).
    Fixed { scale: u8, values: Box<[i32]> },
    /// As `Fixed`, each mantissa stored as its offset from the polygon's smallest one (per
    /// axis). Why: an outline spans a small part of its image, so the offsets fit 16 bits
    /// where the mantissas need 32 (a 16-point ring: 72 bytes instead of 128). The first
    /// The bases are kept here, not in front of the offsets: a 16-point ring's 64 bytes of
    /// offsets then fill the allocator's 64-byte class, where 72 bytes took an 80-byte one.
    Offset {
        scale: u8,
        base: [i32; 2],
        values: Box<[u16]>,
    },
    /// Coordinates that have no such form (many digits, huge, `-0.0`).
    Float(Box<[Point]>),
}

/// The rings of one polygon (COCO allows several per annotation; CVAT one per `<polygon>`).
///
/// Reads like a list of rings of points: [`Rings::iter`] yields each [`Ring`],
/// [`Rings::points`] every point in order, [`Rings::to_vec`] the plain nested vectors. Build
/// one from `Vec<Vec<Point>>` with `From`/`into()` or by collecting rings. Storage is
/// compact (see the module source) and never changes a coordinate: what is put in is
/// what comes out, bit for bit.
#[derive(Clone)]
pub struct Rings {
    /// The end (in points) of every ring, except that a polygon of exactly one non-empty
    /// ring leaves it empty: that is almost every polygon, and it then costs no allocation.
    /// Empty with no coordinates means no rings at all.
    ends: Box<[usize]>,
    coords: Coords,
}

impl Default for Rings {
    fn default() -> Self {
        Rings {
            ends: Box::new([]),
            coords: Coords::Fixed {
                scale: 0,
                values: Box::new([]),
            },
        }
    }
}

impl Rings {
    /// No rings.
    pub fn new() -> Self {
        Rings::default()
    }

    /// Stores these rings, as compactly as is exact.
    pub fn from_rings<R: AsRef<[Point]>>(rings: &[R]) -> Self {
        Rings::encode(rings.iter().map(|r| r.as_ref().len()), || {
            rings
                .iter()
                .flat_map(|r| r.as_ref().iter().flatten().copied())
        })
    }

    /// Stores rings given as flat coordinate lists `x0, y0, x1, y1, …` (COCO's polygon
    /// form), without building the points first. A trailing odd coordinate is ignored
    /// (readers refuse such rings before they get here).
    pub fn from_flat_rings<R: AsRef<[f64]>>(rings: &[R]) -> Self {
        Rings::encode(rings.iter().map(|r| r.as_ref().len() / 2), || {
            rings.iter().flat_map(|r| {
                let r = r.as_ref();
                r[..r.len() - r.len() % 2].iter().copied()
            })
        })
    }

    /// The one encoder: ring lengths (in points) and every coordinate in order (x, y
    /// interleaved), as a function so that it can be read twice without a copy.
    fn encode<I: Iterator<Item = f64>>(
        lens: impl Iterator<Item = usize> + Clone,
        all: impl Fn() -> I,
    ) -> Self {
        let n_rings = lens.clone().count();
        let total: usize = lens.clone().sum();
        let ends: Box<[usize]> = if n_rings == 1 && total > 0 {
            Box::new([])
        } else {
            lens.scan(0, |end, n| {
                *end += n;
                Some(*end)
            })
            .collect()
        };
        // The smallest exponent at which every coordinate so far is exact. A coordinate
        // exact at `k` is (within the `i32` range) exact at every larger `k` as well, but
        // the encoding pass below checks each one again rather than rely on it.
        let mut scale = 0;
        let mut fixed = true;
        'coords: for x in all() {
            while mantissa(x, scale).is_none() {
                scale += 1;
                if scale == POW10.len() {
                    fixed = false;
                    break 'coords;
                }
            }
        }
        let values: Option<Vec<i32>> = if fixed {
            // Sized once: collecting through `Option` would grow the vector by doubling.
            let mut v = Vec::with_capacity(2 * total);
            for x in all() {
                match mantissa(x, scale) {
                    Some(m) => v.push(m),
                    None => break,
                }
            }
            (v.len() == 2 * total).then_some(v)
        } else {
            None
        };
        let coords = match values {
            Some(values) => match offsets(&values) {
                Some((base, offsets)) => Coords::Offset {
                    scale: scale as u8,
                    base,
                    values: offsets,
                },
                None => Coords::Fixed {
                    scale: scale as u8,
                    values: values.into_boxed_slice(),
                },
            },
            None => {
                let mut pts = Vec::with_capacity(total);
                let mut it = all();
                while let (Some(x), Some(y)) = (it.next(), it.next()) {
                    pts.push([x, y]);
                }
                Coords::Float(pts.into_boxed_slice())
            }
        };
        Rings { ends, coords }
    }

    /// The tight axis-aligned box `[x, y, w, h]` of all points, `None` without points. The
    /// same numbers as taking `f64` minima and maxima of the decoded points: decoding is
    /// monotonic and one-to-one, so the extreme mantissas decode to the extreme
    /// coordinates, and only those four are decoded (the offset form stores the minima).
    pub fn bbox(&self) -> Option<[f64; 4]> {
        let box_of = |x0: f64, y0: f64, x1: f64, y1: f64| Some([x0, y0, x1 - x0, y1 - y0]);
        match &self.coords {
            Coords::Offset {
                scale,
                base: [bx, by],
                values,
            } => {
                let (bx, by) = (*bx, *by);
                // One pass over the interleaved offsets (two strided passes were most of
                // the time of a box, asked for by several rules per polygon).
                if values.len() < 2 {
                    return None;
                }
                let (mut mx, mut my) = (0, 0);
                for xy in values.chunks_exact(2) {
                    mx = mx.max(xy[0]);
                    my = my.max(xy[1]);
                }
                box_of(
                    decode(bx, *scale),
                    decode(by, *scale),
                    decode(from_offset(bx, mx), *scale),
                    decode(from_offset(by, my), *scale),
                )
            }
            Coords::Fixed { scale, values } => {
                let axis = |a: usize| values.iter().skip(a).step_by(2).copied();
                let (x0, x1) = (axis(0).min()?, axis(0).max()?);
                let (y0, y1) = (axis(1).min()?, axis(1).max()?);
                let d = |m| decode(m, *scale);
                box_of(d(x0), d(y0), d(x1), d(y1))
            }
            Coords::Float(p) => super::geometry::points_bbox(p.iter().copied()),
        }
    }

    /// Number of rings.
    pub fn len(&self) -> usize {
        if self.ends.is_empty() {
            usize::from(self.point_count() > 0)
        } else {
            self.ends.len()
        }
    }

    /// Whether there are no rings.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of points of all rings together.
    pub fn point_count(&self) -> usize {
        match &self.coords {
            Coords::Fixed { values, .. } => values.len() / 2,
            Coords::Offset { values, .. } => values.len() / 2,
            Coords::Float(p) => p.len(),
        }
    }

    /// The points from `start` to `end` (in points) as one ring.
    fn slice(&self, start: usize, end: usize) -> Ring<'_> {
        Ring(match &self.coords {
            Coords::Fixed { scale, values } => RingCoords::Fixed {
                scale: *scale,
                values: values.get(2 * start..2 * end).unwrap_or(&[]),
            },
            Coords::Offset {
                scale,
                base,
                values,
            } => RingCoords::Offset {
                scale: *scale,
                base: *base,
                values: values.get(2 * start..2 * end).unwrap_or(&[]),
            },
            Coords::Float(p) => RingCoords::Float(p.get(start..end).unwrap_or(&[])),
        })
    }

    /// Ring `i`, if there is one.
    pub fn get(&self, i: usize) -> Option<Ring<'_>> {
        if self.ends.is_empty() {
            return (i == 0 && self.point_count() > 0).then(|| self.slice(0, self.point_count()));
        }
        let end = *self.ends.get(i)?;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        Some(self.slice(start, end))
    }

    /// The rings, in order.
    pub fn iter(&self) -> RingsIter<'_> {
        RingsIter {
            rings: self,
            next: 0,
            len: self.len(),
        }
    }

    /// The first ring, if any.
    pub fn first(&self) -> Option<Ring<'_>> {
        self.get(0)
    }

    /// Whether every coordinate is finite. The decimal forms always are (an `i32` over a
    /// power of ten up to 10⁹): only `Float` coordinates are looked at, so the rules that
    /// ask first (every rule that measures a shape) do not decode a million polygons for it.
    pub fn is_finite(&self) -> bool {
        match &self.coords {
            Coords::Fixed { .. } | Coords::Offset { .. } => true,
            Coords::Float(p) => p.iter().all(|q| q[0].is_finite() && q[1].is_finite()),
        }
    }

    /// Every point of every ring, in order.
    pub fn points(&self) -> Points<'_> {
        self.slice(0, self.point_count()).points()
    }

    /// The rings as plain vectors.
    pub fn to_vec(&self) -> Vec<Vec<Point>> {
        self.iter().map(|r| r.to_vec()).collect()
    }

    /// Bytes the rings hold on the heap (they have no spare capacity).
    #[cfg(test)]
    pub(crate) fn heap_bytes(&self) -> usize {
        let coords = match &self.coords {
            Coords::Fixed { values, .. } => std::mem::size_of_val(&**values),
            Coords::Offset { values, .. } => std::mem::size_of_val(&**values),
            Coords::Float(p) => std::mem::size_of_val(&**p),
        };
        coords + std::mem::size_of_val(&*self.ends)
    }

    /// Whether the coordinates are held as decimal mantissas (the compact form).
    #[cfg(test)]
    fn is_fixed_point(&self) -> bool {
        matches!(self.coords, Coords::Fixed { .. } | Coords::Offset { .. })
    }

    /// Whether the mantissas are held as 16-bit offsets (the most compact form).
    #[cfg(test)]
    fn is_offset(&self) -> bool {
        matches!(self.coords, Coords::Offset { .. })
    }
}

impl<'a> IntoIterator for &'a Rings {
    type Item = Ring<'a>;
    type IntoIter = RingsIter<'a>;
    fn into_iter(self) -> RingsIter<'a> {
        self.iter()
    }
}

impl From<Vec<Vec<Point>>> for Rings {
    fn from(rings: Vec<Vec<Point>>) -> Self {
        Rings::from_rings(&rings)
    }
}

impl From<&[Vec<Point>]> for Rings {
    fn from(rings: &[Vec<Point>]) -> Self {
        Rings::from_rings(rings)
    }
}

impl FromIterator<Vec<Point>> for Rings {
    fn from_iter<I: IntoIterator<Item = Vec<Point>>>(iter: I) -> Self {
        let rings: Vec<Vec<Point>> = iter.into_iter().collect();
        Rings::from_rings(&rings)
    }
}

/// Equal when the rings are, point by point with `f64` equality, as the nested vectors
/// were compared before.
impl PartialEq for Rings {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().zip(other.iter()).all(|(a, b)| a == b)
    }
}

/// Printed as the nested list of points it holds (the same text as `Vec<Vec<Point>>`).
impl std::fmt::Debug for Rings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// Serialised as the list of rings of `[x, y]` points.
impl Serialize for Rings {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for Rings {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Vec::<Vec<Point>>::deserialize(d).map(Rings::from)
    }
}

/// The rings of a [`Rings`], in order.
#[derive(Clone)]
pub struct RingsIter<'a> {
    rings: &'a Rings,
    next: usize,
    len: usize,
}

impl<'a> Iterator for RingsIter<'a> {
    type Item = Ring<'a>;

    fn next(&mut self) -> Option<Ring<'a>> {
        if self.next >= self.len {
            return None;
        }
        self.next += 1;
        self.rings.get(self.next - 1)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.len - self.next;
        (n, Some(n))
    }
}

impl ExactSizeIterator for RingsIter<'_> {}

#[derive(Clone, Copy)]
enum RingCoords<'a> {
    Fixed {
        scale: u8,
        values: &'a [i32],
    },
    Offset {
        scale: u8,
        base: [i32; 2],
        values: &'a [u16],
    },
    Float(&'a [Point]),
}

/// One ring of a [`Rings`]: its points, decoded as they are read.
#[derive(Clone, Copy)]
pub struct Ring<'a>(RingCoords<'a>);

impl<'a> Ring<'a> {
    /// Number of points.
    pub fn len(&self) -> usize {
        match self.0 {
            RingCoords::Fixed { values, .. } => values.len() / 2,
            RingCoords::Offset { values, .. } => values.len() / 2,
            RingCoords::Float(p) => p.len(),
        }
    }

    /// Whether the ring has no points.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Point `i`, if there is one.
    pub fn get(&self, i: usize) -> Option<Point> {
        match self.0 {
            RingCoords::Fixed { scale, values } => {
                let xy = values.get(2 * i..2 * i + 2)?;
                Some([decode(xy[0], scale), decode(xy[1], scale)])
            }
            RingCoords::Offset {
                scale,
                base,
                values,
            } => {
                let xy = values.get(2 * i..2 * i + 2)?;
                Some([
                    decode(from_offset(base[0], xy[0]), scale),
                    decode(from_offset(base[1], xy[1]), scale),
                ])
            }
            RingCoords::Float(p) => p.get(i).copied(),
        }
    }

    /// The points, in order.
    pub fn points(&self) -> Points<'a> {
        Points(match self.0 {
            RingCoords::Fixed { scale, values } => PointsInner::Fixed {
                scale,
                values: values.chunks_exact(2),
            },
            RingCoords::Offset {
                scale,
                base,
                values,
            } => PointsInner::Offset {
                scale,
                base,
                values: values.chunks_exact(2),
            },
            RingCoords::Float(p) => PointsInner::Float(p.iter()),
        })
    }

    /// The points, in order (the same as [`Ring::points`]).
    pub fn iter(&self) -> Points<'a> {
        self.points()
    }

    /// The points as a vector.
    pub fn to_vec(&self) -> Vec<Point> {
        self.points().collect()
    }
}

impl PartialEq for Ring<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.points().eq(other.points())
    }
}

impl std::fmt::Debug for Ring<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.points()).finish()
    }
}

impl Serialize for Ring<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.points())
    }
}

impl<'a> IntoIterator for Ring<'a> {
    type Item = Point;
    type IntoIter = Points<'a>;
    fn into_iter(self) -> Points<'a> {
        self.points()
    }
}

#[derive(Clone)]
enum PointsInner<'a> {
    Fixed {
        scale: u8,
        values: std::slice::ChunksExact<'a, i32>,
    },
    Offset {
        scale: u8,
        base: [i32; 2],
        values: std::slice::ChunksExact<'a, u16>,
    },
    Float(std::slice::Iter<'a, Point>),
}

/// The points of a ring (or of all rings), decoded one by one.
#[derive(Clone)]
pub struct Points<'a>(PointsInner<'a>);

impl Iterator for Points<'_> {
    type Item = Point;

    #[inline]
    fn next(&mut self) -> Option<Point> {
        match &mut self.0 {
            PointsInner::Fixed { scale, values } => {
                let xy = values.next()?;
                Some([decode(xy[0], *scale), decode(xy[1], *scale)])
            }
            PointsInner::Offset {
                scale,
                base,
                values,
            } => {
                let xy = values.next()?;
                Some([
                    decode(from_offset(base[0], xy[0]), *scale),
                    decode(from_offset(base[1], xy[1]), *scale),
                ])
            }
            PointsInner::Float(p) => p.next().copied(),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = match &self.0 {
            PointsInner::Fixed { values, .. } => values.len(),
            PointsInner::Offset { values, .. } => values.len(),
            PointsInner::Float(p) => p.len(),
        };
        (n, Some(n))
    }
}

impl ExactSizeIterator for Points<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    fn bits(rings: &[Vec<Point>]) -> Vec<Vec<[u64; 2]>> {
        rings
            .iter()
            .map(|r| r.iter().map(|p| [p[0].to_bits(), p[1].to_bits()]).collect())
            .collect()
    }

    fn round_trip(rings: Vec<Vec<Point>>) -> Rings {
        let stored = Rings::from(rings.clone());
        assert_eq!(bits(&stored.to_vec()), bits(&rings), "{rings:?}");
        assert_eq!(stored.len(), rings.len());
        assert_eq!(
            stored.point_count(),
            rings.iter().map(Vec::len).sum::<usize>()
        );
        for (i, r) in rings.iter().enumerate() {
            let got = stored.get(i).expect("ring");
            assert_eq!(got.len(), r.len());
            let pts: Vec<[u64; 2]> = (0..r.len())
                .map(|j| got.get(j).map(|p| [p[0].to_bits(), p[1].to_bits()]))
                .collect::<Option<_>>()
                .expect("every point");
            assert_eq!(pts, bits(std::slice::from_ref(r))[0]);
        }
        assert!(stored.get(rings.len()).is_none());
        let flat: Vec<Point> = rings.iter().flatten().copied().collect();
        assert_eq!(stored.points().collect::<Vec<_>>(), flat);
        // `is_finite` without decoding says what decoding would.
        assert_eq!(
            stored.is_finite(),
            flat.iter().all(|p| p[0].is_finite() && p[1].is_finite())
        );
        assert_eq!(format!("{stored:?}"), format!("{rings:?}"));
        // The box from the mantissas is the box of the decoded points, bit for bit.
        let by_points =
            super::super::geometry::points_bbox(stored.points()).map(|b| b.map(f64::to_bits));
        assert_eq!(stored.bbox().map(|b| b.map(f64::to_bits)), by_points);
        // The flat form stores the same rings the same way.
        let flat_rings: Vec<Vec<f64>> = rings
            .iter()
            .map(|r| r.iter().flatten().copied().collect())
            .collect();
        let from_flat = Rings::from_flat_rings(&flat_rings);
        assert_eq!(bits(&from_flat.to_vec()), bits(&rings));
        assert_eq!(from_flat.heap_bytes(), stored.heap_bytes());
        assert_eq!(
            serde_json::to_string(&stored).expect("serialises"),
            serde_json::to_string(&rings).expect("serialises")
        );
        stored
    }

    #[test]
    fn decimal_coordinates_are_stored_as_mantissas_and_come_back_bit_for_bit() {
        // Two decimals as COCO exporters write them, values that are not exact in binary
        // (0.1, 0.3), integers, negatives and the edge of the i32 range at scale 0.
        let r = round_trip(vec![vec![
            [3112.27, 1122.2],
            [0.1, 0.3],
            [-5.05, 7.0],
            [409_599.99, 0.01],
        ]]);
        assert!(r.is_fixed_point());
        // Spread over 4 × 10^7 hundredths: too far apart for 16-bit offsets.
        assert!(!r.is_offset());
        let wide = round_trip(vec![vec![[2147483647.0, -2147483648.0], [0.0, 0.0]]]);
        assert!(wide.is_fixed_point() && !wide.is_offset());
        // The extremes of the i32 range as bases, with the largest offset.
        let edge = round_trip(vec![vec![[2147483647.0, -2147483648.0]]]);
        assert!(edge.is_offset());
        assert!(round_trip(vec![vec![[-2147483648.0, 0.0], [-2147418113.0, 65535.0]]]).is_offset());
        assert!(
            !round_trip(vec![vec![[-2147483648.0, 0.0], [-2147418112.0, 65536.0]]]).is_offset()
        );
        // Nine decimals is the last exponent tried.
        assert!(round_trip(vec![vec![[0.123456789, 1.5]]]).is_fixed_point());
        // Parsed from text as a reader does (serde_json's float_roundtrip).
        let parsed: Vec<Vec<f64>> =
            serde_json::from_str("[[841.81,2079.49,841.11,2065.20,0.07,1e2,-3.14159]]")
                .expect("parses");
        let pts: Vec<Point> = parsed[0].chunks_exact(2).map(|c| [c[0], c[1]]).collect();
        assert!(round_trip(vec![pts]).is_fixed_point());
    }

    #[test]
    fn coordinates_without_a_short_decimal_form_are_kept_as_f64() {
        for tricky in [
            -0.0,                    // `0 / 10^k` is +0.0: the bits differ
            1.0 / 3.0,               // no finite decimal
            0.1 + 0.2,               // 0.30000000000000004: 17 digits
            1e-300,                  // below every exponent tried
            2147483648.0,            // one past the i32 range
            -2147483649.0,           // one below it
            1e15,                    // far outside it
            0.1234567891,            // ten decimals
            f64::MIN_POSITIVE / 4.0, // subnormal
        ] {
            let r = round_trip(vec![vec![[1.5, 2.25], [tricky, 4.0]]]);
            assert!(!r.is_fixed_point(), "{tricky:e}");
        }
        // Not finite (readers refuse these, but the model accepts any f64).
        for v in [f64::INFINITY, f64::NEG_INFINITY] {
            assert!(!round_trip(vec![vec![[v, 0.0]]]).is_fixed_point());
        }
        let nan = Rings::from(vec![vec![[f64::NAN, 1.0]]]);
        assert!(!nan.is_fixed_point() && !nan.is_finite());
        assert!(nan.points().next().is_some_and(|p| p[0].is_nan()));
    }

    #[test]
    fn ring_structure_is_kept_including_empty_rings() {
        assert!(round_trip(vec![]).is_empty());
        assert_eq!(round_trip(vec![vec![]]).len(), 1);
        assert_eq!(round_trip(vec![vec![], vec![]]).len(), 2);
        let r = round_trip(vec![vec![[1.0, 2.0]], vec![], vec![[3.5, 4.0], [5.0, 6.0]]]);
        assert_eq!(r.iter().map(|r| r.len()).collect::<Vec<_>>(), [1, 0, 2]);
        // Rings with nothing in common still compare as the vectors did.
        assert_ne!(Rings::new(), Rings::from(vec![vec![]]));
        assert_eq!(
            Rings::from(vec![vec![[0.0, 1.0]]]),
            Rings::from(vec![vec![[-0.0, 1.0]]]),
            "f64 equality, as before"
        );
        let back: Rings =
            serde_json::from_str("[[[1.25,2.0],[3.0,4.0]],[[5.0,6.0]]]").expect("deserialises");
        assert_eq!(
            back.to_vec(),
            vec![vec![[1.25, 2.0], [3.0, 4.0]], vec![[5.0, 6.0]]]
        );
    }

    #[test]
    fn a_typical_polygon_costs_its_mantissas_and_nothing_more() {
        let ring: Vec<Point> = (0..16)
            .map(|i| [3000.0 + f64::from(i) * 1.01, 1100.25 - f64::from(i)])
            .map(|[x, y]| [(x * 100.0).round() / 100.0, y])
            .collect();
        let r = Rings::from(vec![ring]);
        assert!(r.is_offset());
        assert!(r.ends.is_empty(), "one ring needs no ring list");
        assert_eq!(r.heap_bytes(), 2 * 32);
        // The bases inline make `Rings` 48 bytes; `Shape` stays 48 (its tag fits a niche).
        assert!(std::mem::size_of::<Rings>() <= 48);
    }
}
