//! Geometry for the rules and the diff: box IoU, exact shape IoU by sampling, an R-tree of
//! shape boxes for candidate pairs, and greedy one-to-one matching.
//!
//! Shape IoU samples both shapes on one grid over their union box (at least 128 samples
//! along the longer side, so small granules are measured below pixel size), with the pixel
//! rule of docs/design.md §3 for masks. Pairs come from an R-tree: never all pairs.

use super::{Inputs, Thresholds};
use crate::model::{Annotation, Ellipse, MaskData, Point, Shape};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{RTree, AABB};
use std::sync::OnceLock;

/// Intersection over union of two `[x, y, w, h]` boxes.
pub(crate) fn box_iou(a: &[f64; 4], b: &[f64; 4]) -> f64 {
    let iw = (a[0] + a[2]).min(b[0] + b[2]) - a[0].max(b[0]);
    let ih = (a[1] + a[3]).min(b[1] + b[3]) - a[1].max(b[1]);
    if iw <= 0.0 || ih <= 0.0 {
        return 0.0;
    }
    let inter = iw * ih;
    let union = a[2] * a[3] + b[2] * b[3] - inter;
    if union > 0.0 {
        inter / union
    } else {
        0.0
    }
}

fn finite_box(b: &[f64; 4]) -> bool {
    b.iter().all(|v| v.is_finite()) && b[2] >= 0.0 && b[3] >= 0.0
}

/// A shape prepared for point-in-shape tests and row scans. Built once per shape of an
/// image (not once per pair: a shape is measured against each of its candidates).
enum Prepared {
    Ellipse {
        cx: f64,
        cy: f64,
        c: f64,
        s: f64,
        rx: f64,
        ry: f64,
    },
    Polygon(PolygonEdges),
    Mask {
        x0: i64,
        y0: i64,
        w: i64,
        h: i64,
        bits: Vec<bool>,
    },
    Empty,
}

/// The edges of a polygon's rings, each `(a, b)` as the even-odd walk meets it (`a` a
/// vertex, `b` the one before it, so the crossing formula rounds as it always has), sorted
/// by their lower end: a row scan then keeps only the edges the current row crosses (two
/// for a convex ring) instead of testing every edge on every row.
struct PolygonEdges {
    edges: Vec<Edge>,
    /// Every coordinate is finite. Only then is "the row crosses the edge", `(a.y > y) !=
    /// (b.y > y)`, the same as `lo <= y < hi` (NaN compares false either way); otherwise
    /// each row tests every edge, as before.
    finite: bool,
}

struct Edge {
    a: Point,
    b: Point,
    lo: f64,
    hi: f64,
}

impl PolygonEdges {
    fn new<'r>(rings: impl IntoIterator<Item = &'r [Point]>) -> PolygonEdges {
        let mut edges = Vec::new();
        let mut finite = true;
        for r in rings {
            let n = r.len();
            let mut j = n.wrapping_sub(1);
            for i in 0..n {
                let (a, b) = (r[i], r[j]);
                finite &= a[0].is_finite() && a[1].is_finite();
                edges.push(Edge {
                    a,
                    b,
                    lo: a[1].min(b[1]),
                    hi: a[1].max(b[1]),
                });
                j = i;
            }
        }
        edges.sort_by(|e, f| e.lo.total_cmp(&f.lo));
        PolygonEdges { edges, finite }
    }

    /// Whether row `y` crosses edge `e`: the test `contains` has always made.
    fn crosses(e: &Edge, y: f64) -> bool {
        (e.a[1] > y) != (e.b[1] > y)
    }

    /// Where row `y` crosses edge `e` (only for edges it crosses).
    fn crossing(e: &Edge, y: f64) -> f64 {
        let (a, b) = (e.a, e.b);
        (b[0] - a[0]) * (y - a[1]) / (b[1] - a[1]) + a[0]
    }
}

/// Where a row scan of one shape has got to: the edges still ahead (sorted by their lower
/// end) start at `next`; `active` are those the rows have reached and not yet passed.
/// Rows must come in increasing `y`.
#[derive(Default)]
struct RowCursor {
    next: usize,
    active: Vec<usize>,
}

impl Prepared {
    fn new(shape: &Shape) -> Prepared {
        match shape {
            Shape::Ellipse(Ellipse {
                cx,
                cy,
                rx,
                ry,
                rotation,
            }) => {
                let (s, c) = rotation.to_radians().sin_cos();
                Prepared::Ellipse {
                    cx: *cx,
                    cy: *cy,
                    c,
                    s,
                    rx: *rx,
                    ry: *ry,
                }
            }
            Shape::Box(b) => Prepared::Polygon(PolygonEdges::new([&b.corners()[..]])),
            // Decoded here, per shape of the image being checked, never for the whole
            // dataset at once: the model keeps polygons compact (`Rings`).
            Shape::Polygon(rings) => {
                let rings = rings.to_vec();
                Prepared::Polygon(PolygonEdges::new(rings.iter().map(Vec::as_slice)))
            }
            Shape::Mask(m) => prepare_mask(m),
            Shape::Polyline(_) | Shape::Points(_) | Shape::Tag => Prepared::Empty,
        }
    }

    /// The point-in-shape rule the IoU samples with. The row scan below gives the same answer
    /// for every sample of a row; the reference IoU in the tests calls this per sample.
    fn contains(&self, x: f64, y: f64) -> bool {
        match self {
            Prepared::Ellipse {
                cx,
                cy,
                c,
                s,
                rx,
                ry,
            } => {
                if *rx <= 0.0 || *ry <= 0.0 {
                    return false;
                }
                let (dx, dy) = (x - cx, y - cy);
                let u = dx * c + dy * s;
                let v = -dx * s + dy * c;
                (u / rx).powi(2) + (v / ry).powi(2) <= 1.0
            }
            // Even-odd: the parity of the crossings right of the sample does not depend on
            // the order the edges are visited in.
            Prepared::Polygon(p) => {
                p.edges
                    .iter()
                    .filter(|e| PolygonEdges::crosses(e, y) && x < PolygonEdges::crossing(e, y))
                    .count()
                    % 2
                    == 1
            }
            Prepared::Mask { x0, y0, w, h, bits } => {
                let (px, py) = (x.floor() as i64 - x0, y.floor() as i64 - y0);
                px >= 0 && py >= 0 && px < *w && py < *h && bits[(py * w + px) as usize]
            }
            Prepared::Empty => false,
        }
    }

    /// The samples of row `y` of `grid` inside the shape, as sorted disjoint index ranges
    /// `[lo, hi)` appended to `out`: the same samples `contains` accepts, found without
    /// testing each one (the cost of a row is its edges, not its samples).
    fn row_ranges(
        &self,
        grid: &Grid,
        y: f64,
        cursor: &mut RowCursor,
        crossings: &mut Vec<usize>,
        out: &mut Vec<(usize, usize)>,
    ) {
        match self {
            Prepared::Ellipse {
                cx,
                cy,
                c,
                s,
                rx,
                ry,
            } => {
                if *rx <= 0.0 || *ry <= 0.0 {
                    return;
                }
                // The chord of the ellipse on this row, solved as a quadratic in dx; its
                // ends are then settled with `contains` itself, so rounding in the solution
                // cannot change which samples count. An ellipse is convex: the samples inside
                // on a row are one run.
                let dy = y - cy;
                let (irx2, iry2) = (1.0 / (rx * rx), 1.0 / (ry * ry));
                let qa = c * c * irx2 + s * s * iry2;
                let qb = 2.0 * dy * c * s * (irx2 - iry2);
                let qc = dy * dy * (s * s * irx2 + c * c * iry2) - 1.0;
                let disc = (qb * qb - 4.0 * qa * qc).max(0.0).sqrt();
                let (left, right) = (
                    cx + (-qb - disc) / (2.0 * qa),
                    cx + (-qb + disc) / (2.0 * qa),
                );
                if !left.is_finite() || !right.is_finite() || grid.nx == 0 {
                    return;
                }
                let last = grid.nx - 1;
                let lo_guess = grid.count_below(left).saturating_sub(2);
                let hi_guess = (grid.count_below(right) + 2).min(last);
                let mut lo = lo_guess;
                while lo <= hi_guess && !self.contains(grid.x(lo), y) {
                    lo += 1;
                }
                if lo > hi_guess {
                    return;
                }
                let mut hi = hi_guess;
                while hi > lo && !self.contains(grid.x(hi), y) {
                    hi -= 1;
                }
                // Grow past the guess if the chord reaches further (it should not).
                while lo > 0 && self.contains(grid.x(lo - 1), y) {
                    lo -= 1;
                }
                while hi < last && self.contains(grid.x(hi + 1), y) {
                    hi += 1;
                }
                out.push((lo, hi + 1));
            }
            Prepared::Polygon(p) => {
                // Even-odd over all rings, as `contains`: a sample is inside when an odd
                // number of edge crossings lie to its right (`x < crossing`).
                crossings.clear();
                let mut cross = |e: &Edge| {
                    if PolygonEdges::crosses(e, y) {
                        crossings.push(grid.count_below(PolygonEdges::crossing(e, y)));
                    }
                };
                if p.finite {
                    let edges = &p.edges;
                    while cursor.next < edges.len() && edges[cursor.next].lo <= y {
                        cursor.active.push(cursor.next);
                        cursor.next += 1;
                    }
                    // Rows only go down: an edge the row has passed is done.
                    cursor.active.retain(|&k| y < edges[k].hi);
                    cursor.active.iter().for_each(|&k| cross(&edges[k]));
                } else {
                    p.edges.iter().for_each(cross);
                }
                // Two crossings (a convex ring) are most rows: ordered without a sort call.
                match crossings.as_mut_slice() {
                    [a, b] if *a > *b => std::mem::swap(a, b),
                    [_, _] => {}
                    c => c.sort_unstable(),
                }
                // Samples in [k_t, k_t+1) have m - t crossings to their right.
                let m = crossings.len();
                let mut start = 0;
                let ends = crossings.iter().copied().chain(std::iter::once(grid.nx));
                for (t, end) in ends.enumerate() {
                    if (m - t) % 2 == 1 && end > start {
                        push_range(out, start, end);
                    }
                    start = start.max(end);
                }
            }
            Prepared::Mask { .. } => {
                let mut run: Option<usize> = None;
                for i in 0..grid.nx {
                    match (self.contains(grid.x(i), y), run) {
                        (true, None) => run = Some(i),
                        (false, Some(lo)) => {
                            out.push((lo, i));
                            run = None;
                        }
                        _ => {}
                    }
                }
                if let Some(lo) = run {
                    out.push((lo, grid.nx));
                }
            }
            Prepared::Empty => {}
        }
    }
}

/// Appends `[lo, hi)`, merged with the last range when they touch.
fn push_range(out: &mut Vec<(usize, usize)>, lo: usize, hi: usize) {
    match out.last_mut() {
        Some(last) if last.1 >= lo => last.1 = last.1.max(hi),
        _ => out.push((lo, hi)),
    }
}

/// Limit on the pixels a mask shape may expand to for sampling (a 16k × 16k box).
const MAX_MASK_PIXELS: u64 = 1 << 28;

fn prepare_mask(m: &MaskData) -> Prepared {
    let Some(b) = m.bbox() else {
        return Prepared::Empty;
    };
    let (x0, y0, w, h) = (b[0] as i64, b[1] as i64, b[2] as i64, b[3] as i64);
    if w <= 0 || h <= 0 || (w as u64) * (h as u64) > MAX_MASK_PIXELS {
        return Prepared::Empty;
    }
    let mut bits = vec![false; (w * h) as usize];
    let mut set = |x: i64, y: i64| {
        let (px, py) = (x - x0, y - y0);
        if px >= 0 && py >= 0 && px < w && py < h {
            bits[(py * w + px) as usize] = true;
        }
    };
    let (counts, major, origin): (&Vec<u32>, i64, (i64, i64)) = match m {
        MaskData::Cvat {
            left,
            top,
            width,
            counts,
            ..
        } => (
            counts,
            i64::from(*width),
            (i64::from(*left), i64::from(*top)),
        ),
        MaskData::Coco { height, counts, .. } => (counts, i64::from(*height), (0, 0)),
    };
    let column_major = matches!(m, MaskData::Coco { .. });
    let major = major.max(1);
    let mut pos: i64 = 0;
    for (i, &n) in counts.iter().enumerate() {
        let n = i64::from(n);
        if i % 2 == 1 {
            for p in pos..pos + n {
                let (a, b) = (p / major, p % major);
                if column_major {
                    set(a, b);
                } else {
                    set(b + origin.0, a + origin.1);
                }
            }
        }
        pos += n;
    }
    Prepared::Mask { x0, y0, w, h, bits }
}

/// Samples along the longer side of the union box.
const SAMPLES: f64 = 128.0;

/// The sample grid of a pair: `nx × ny` sample centres over the union box.
struct Grid {
    x0: f64,
    y0: f64,
    step: f64,
    /// `1 / step`, for the first guess of [`Grid::count_below`] (a product, not a quotient).
    per_step: f64,
    nx: usize,
    ny: usize,
}

impl Grid {
    /// The grid over the union box of `a` and `b`; `None` when the pair cannot overlap.
    fn of_pair(ba: &[f64; 4], bb: &[f64; 4]) -> Option<Grid> {
        if !finite_box(ba) || !finite_box(bb) || box_iou(ba, bb) <= 0.0 && !boxes_touch(ba, bb) {
            return None;
        }
        let x0 = ba[0].min(bb[0]);
        let y0 = ba[1].min(bb[1]);
        let x1 = (ba[0] + ba[2]).max(bb[0] + bb[2]);
        let y1 = (ba[1] + ba[3]).max(bb[1] + bb[3]);
        let step = (x1 - x0).max(y1 - y0) / SAMPLES;
        if step <= 0.0 || !step.is_finite() {
            return None;
        }
        Some(Grid {
            x0,
            y0,
            step,
            per_step: 1.0 / step,
            nx: ((x1 - x0) / step).ceil() as usize,
            ny: ((y1 - y0) / step).ceil() as usize,
        })
    }

    fn x(&self, i: usize) -> f64 {
        self.x0 + (i as f64 + 0.5) * self.step
    }

    fn y(&self, j: usize) -> f64 {
        self.y0 + (j as f64 + 0.5) * self.step
    }

    /// How many sample columns lie strictly left of `x` (sample x grows with its index, so
    /// this is a partition point; 0 for NaN, which no comparison accepts). Guessed from the
    /// grid's arithmetic, then settled by the comparison itself, so rounding in the guess
    /// cannot change the answer.
    fn count_below(&self, x: f64) -> usize {
        // Within one of the answer (rounding, not `ceil`, which is a library call here);
        // `as` saturates: NaN and anything left of the grid give 0, far right gives nx.
        let mut k = (((x - self.x0) * self.per_step + 0.5) as usize).min(self.nx);
        // Not `<` (NaN included): that column is not left of `x`.
        while k > 0 && self.x(k - 1).partial_cmp(&x) != Some(std::cmp::Ordering::Less) {
            k -= 1;
        }
        while k < self.nx && self.x(k) < x {
            k += 1;
        }
        k
    }
}

/// IoU of two shapes, sampled on one grid over their union box. 0 for shapes without area.
#[cfg(test)]
pub(crate) fn shape_iou(a: &Shape, b: &Shape) -> f64 {
    let (Some(ba), Some(bb)) = (a.bbox(), b.bbox()) else {
        return 0.0;
    };
    let Some(grid) = Grid::of_pair(&ba, &bb) else {
        return 0.0;
    };
    prepared_iou(&Prepared::new(a), &Prepared::new(b), &grid)
}

/// [`shape_iou`] of two prepared shapes on the grid of their pair.
fn prepared_iou(pa: &Prepared, pb: &Prepared, grid: &Grid) -> f64 {
    let (mut na, mut nb, mut both) = (0u64, 0u64, 0u64);
    let (mut crossings, mut ra, mut rb) = (Vec::new(), Vec::new(), Vec::new());
    let (mut ca, mut cb) = (RowCursor::default(), RowCursor::default());
    for j in 0..grid.ny {
        let y = grid.y(j);
        ra.clear();
        rb.clear();
        pa.row_ranges(grid, y, &mut ca, &mut crossings, &mut ra);
        pb.row_ranges(grid, y, &mut cb, &mut crossings, &mut rb);
        na += ra.iter().map(|r| (r.1 - r.0) as u64).sum::<u64>();
        nb += rb.iter().map(|r| (r.1 - r.0) as u64).sum::<u64>();
        both += overlap_of_ranges(&ra, &rb);
    }
    let union = na + nb - both;
    if union == 0 {
        0.0
    } else {
        both as f64 / union as f64
    }
}

/// Samples in both of two sorted lists of disjoint ranges.
fn overlap_of_ranges(a: &[(usize, usize)], b: &[(usize, usize)]) -> u64 {
    let (mut i, mut j, mut n) = (0, 0, 0u64);
    while i < a.len() && j < b.len() {
        let lo = a[i].0.max(b[j].0);
        let hi = a[i].1.min(b[j].1);
        if hi > lo {
            n += (hi - lo) as u64;
        }
        if a[i].1 < b[j].1 {
            i += 1;
        } else {
            j += 1;
        }
    }
    n
}

/// The IoU as first written: `contains` at every sample. The tests hold `shape_iou` to it.
#[cfg(test)]
pub(crate) fn shape_iou_reference(a: &Shape, b: &Shape) -> f64 {
    let (Some(ba), Some(bb)) = (a.bbox(), b.bbox()) else {
        return 0.0;
    };
    let Some(grid) = Grid::of_pair(&ba, &bb) else {
        return 0.0;
    };
    let (pa, pb) = (Prepared::new(a), Prepared::new(b));
    let (mut na, mut nb, mut both) = (0u64, 0u64, 0u64);
    for j in 0..grid.ny {
        let y = grid.y(j);
        for i in 0..grid.nx {
            let x = grid.x(i);
            let (ia, ib) = (pa.contains(x, y), pb.contains(x, y));
            na += u64::from(ia);
            nb += u64::from(ib);
            both += u64::from(ia && ib);
        }
    }
    let union = na + nb - both;
    if union == 0 {
        0.0
    } else {
        both as f64 / union as f64
    }
}

fn boxes_touch(a: &[f64; 4], b: &[f64; 4]) -> bool {
    a[0] <= b[0] + b[2] && b[0] <= a[0] + a[2] && a[1] <= b[1] + b[3] && b[1] <= a[1] + a[3]
}

type Entry = GeomWithData<Rectangle<[f64; 2]>, usize>;

/// R-tree of the finite boxes in `boxes`, each tagged with its index.
pub(crate) fn box_tree(boxes: &[Option<[f64; 4]>]) -> RTree<Entry> {
    let entries = boxes
        .iter()
        .enumerate()
        .filter_map(|(i, b)| {
            let b = b.filter(finite_box)?;
            Some(GeomWithData::new(
                Rectangle::from_corners([b[0], b[1]], [b[0] + b[2], b[1] + b[3]]),
                i,
            ))
        })
        .collect();
    RTree::bulk_load(entries)
}

/// Indices in `tree` whose boxes intersect `b` (touching counts).
pub(crate) fn intersecting(tree: &RTree<Entry>, b: &[f64; 4]) -> Vec<usize> {
    let env = AABB::from_corners([b[0], b[1]], [b[0] + b[2], b[1] + b[3]]);
    tree.locate_in_envelope_intersecting(&env)
        .map(|e| e.data)
        .collect()
}

/// One-to-one matching of two lists of boxes: candidate pairs from an R-tree, IoU ≥
/// `min_iou`, taken greedily best first (ties by index, so the result is deterministic).
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Matching {
    /// `(index in a, index in b, box IoU)`.
    pub pairs: Vec<(usize, usize, f64)>,
    pub unmatched_a: Vec<usize>,
    pub unmatched_b: Vec<usize>,
}

/// Candidate partners kept in memory per shape of `a` while matching; a shape whose kept
/// ones are all taken looks its candidates up again. Memory stays linear in a crowd (n
/// shapes on one spot have n² candidate pairs), and the result is the same as sorting them all.
const MATCH_CANDIDATES_KEPT: usize = 64;

/// A candidate pair in matching order: higher IoU first, then lower index in `a`, in `b`.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Candidate {
    iou: f64,
    a: usize,
    b: usize,
}

impl Eq for Candidate {}

impl Ord for Candidate {
    /// "Greater" is earlier in matching order (a max-heap pops the next pair to try).
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.iou
            .total_cmp(&other.iou)
            .then(other.a.cmp(&self.a))
            .then(other.b.cmp(&self.b))
    }
}

impl PartialOrd for Candidate {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

pub(crate) fn match_boxes(
    a: &[Option<[f64; 4]>],
    b: &[Option<[f64; 4]>],
    min_iou: f64,
) -> Matching {
    let tree = box_tree(b);
    let (mut used_a, mut used_b) = (vec![false; a.len()], vec![false; b.len()]);
    // The next free candidates of shape i of `a`, best last (popped from the end), and
    // whether more were left out.
    let next_candidates = |i: usize, used_b: &[bool]| -> (Vec<Candidate>, bool) {
        let Some(ba) = a[i].filter(finite_box) else {
            return (Vec::new(), false);
        };
        let mut c: Vec<Candidate> = intersecting(&tree, &ba)
            .into_iter()
            .filter(|&j| !used_b[j])
            .filter_map(|j| {
                let iou = box_iou(&ba, &b[j]?);
                (iou >= min_iou && iou > 0.0).then_some(Candidate { iou, a: i, b: j })
            })
            .collect();
        let more = c.len() > MATCH_CANDIDATES_KEPT;
        if more {
            c.select_nth_unstable_by(MATCH_CANDIDATES_KEPT, |x, y| y.cmp(x));
            c.truncate(MATCH_CANDIDATES_KEPT);
        }
        c.sort_unstable();
        (c, more)
    };
    let mut lists: Vec<(Vec<Candidate>, bool)> =
        (0..a.len()).map(|i| next_candidates(i, &used_b)).collect();
    // Greedy best first: the next pair is the best one whose shapes are both free. Each free
    // shape of `a` has its best kept candidate in the heap; one whose partner was taken
    // meanwhile moves on to its next.
    let mut heap: std::collections::BinaryHeap<Candidate> =
        lists.iter().filter_map(|l| l.0.last().copied()).collect();
    let mut m = Matching::default();
    while let Some(c) = heap.pop() {
        if !used_b[c.b] {
            used_a[c.a] = true;
            used_b[c.b] = true;
            m.pairs.push((c.a, c.b, c.iou));
            continue;
        }
        let list = &mut lists[c.a];
        list.0.pop();
        while list.0.last().is_some_and(|n| used_b[n.b]) {
            list.0.pop();
        }
        if list.0.is_empty() && list.1 {
            *list = next_candidates(c.a, &used_b);
        }
        if let Some(&n) = list.0.last() {
            heap.push(n);
        }
    }
    m.pairs.sort_by_key(|p| (p.0, p.1));
    m.unmatched_a = (0..a.len()).filter(|&i| !used_a[i]).collect();
    m.unmatched_b = (0..b.len()).filter(|&j| !used_b[j]).collect();
    m
}

/// Matching as first written: every candidate pair sorted. The tests hold `match_boxes` to it.
#[cfg(test)]
fn match_boxes_reference(a: &[Option<[f64; 4]>], b: &[Option<[f64; 4]>], min_iou: f64) -> Matching {
    let tree = box_tree(b);
    let mut cands: Vec<(f64, usize, usize)> = Vec::new();
    for (i, ba) in a.iter().enumerate() {
        let Some(ba) = ba.filter(finite_box) else {
            continue;
        };
        for j in intersecting(&tree, &ba) {
            if let Some(bb) = b[j] {
                let iou = box_iou(&ba, &bb);
                if iou >= min_iou && iou > 0.0 {
                    cands.push((iou, i, j));
                }
            }
        }
    }
    cands.sort_by(|x, y| y.0.total_cmp(&x.0).then(x.1.cmp(&y.1)).then(x.2.cmp(&y.2)));
    let (mut used_a, mut used_b) = (vec![false; a.len()], vec![false; b.len()]);
    let mut m = Matching::default();
    for (iou, i, j) in cands {
        if !used_a[i] && !used_b[j] {
            used_a[i] = true;
            used_b[j] = true;
            m.pairs.push((i, j, iou));
        }
    }
    m.pairs.sort_by_key(|p| (p.0, p.1));
    m.unmatched_a = (0..a.len()).filter(|&i| !used_a[i]).collect();
    m.unmatched_b = (0..b.len()).filter(|&j| !used_b[j]).collect();
    m
}

/// Two shapes on one image of one dataset that overlap.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct OverlapPair {
    pub dataset: usize,
    /// Index of the image in the dataset's `images`.
    pub image: usize,
    /// Indices into the dataset's `annotations`, `a < b` in document order.
    pub a: usize,
    pub b: usize,
    pub iou: f64,
}

/// The most candidate partners measured exactly for one shape: its later neighbours whose
/// IoU bound reaches the floor, closest by bound first. Past it (a pile of pasted shapes,
/// thousands on one spot) the rest are not measured and the image is reported as capped, so
/// a crowd costs at most this many exact IoUs per shape instead of the square of the crowd.
pub(crate) const MAX_MEASURED_PER_SHAPE: usize = 64;

/// An image whose overlap check hit [`MAX_MEASURED_PER_SHAPE`].
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct CappedImage {
    pub dataset: usize,
    pub image: usize,
    /// Shapes with more candidates than the cap.
    pub shapes: usize,
    /// Candidate pairs left unmeasured on the image.
    pub skipped: usize,
}

/// What the overlap rules read: the pairs that reach the floor, and where the work bound cut.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Overlaps {
    /// Sorted by dataset, image, `a`, `b`.
    pub pairs: Vec<OverlapPair>,
    pub capped: Vec<CappedImage>,
}

/// The lowest IoU any of the enabled overlap rules reports (`enabled(rule name)`): the one
/// floor all of them share, so their pairs come from one pass.
pub(crate) fn overlap_floor(t: &Thresholds, enabled: impl Fn(&str) -> bool) -> f64 {
    [
        ("duplicate-shape", t.duplicate_iou),
        ("conflicting-labels", t.conflict_iou),
        ("excessive-overlap", t.overlap_iou),
    ]
    .iter()
    .filter(|(name, _)| enabled(name))
    .map(|(_, v)| *v)
    .fold(f64::INFINITY, f64::min)
}

/// The shapes of each image of each dataset: `(dataset, image, annotation indices)`.
fn shapes_per_image(inputs: &Inputs) -> Vec<(usize, usize, Vec<usize>)> {
    let mut jobs = Vec::new();
    for (d, input) in inputs.datasets.iter().enumerate() {
        let per = input.dataset.annotation_indices_by_image();
        jobs.extend(per.into_iter().enumerate().map(|(i, anns)| (d, i, anns)));
    }
    jobs
}

/// Boxes of the shapes the overlap rules compare (finite area shapes; `None` otherwise).
fn overlap_boxes(shapes: &[&Annotation]) -> Vec<Option<[f64; 4]>> {
    shapes
        .iter()
        .map(|a| {
            if has_area(&a.shape) && a.shape.is_finite() {
                a.shape.bbox()
            } else {
                None
            }
        })
        .collect()
}

/// An upper bound on the IoU of two shapes from their boxes and areas: the intersection `I`
/// is at most the smaller shape and at most the boxes' intersection, and `I / (A + B - I)`
/// grows with `I`, so that bound on `I` bounds the IoU (a third of the pairs of a
/// million-polygon file are pruned by this that the weaker `I / max(A, B)` kept). `None`
/// when the areas say nothing (both zero).
fn iou_bound(bi: &[f64; 4], bj: &[f64; 4], ai: f64, aj: f64) -> Option<f64> {
    let iw = (bi[0] + bi[2]).min(bj[0] + bj[2]) - bi[0].max(bj[0]);
    let ih = (bi[1] + bi[3]).min(bj[1] + bj[3]) - bi[1].max(bj[1]);
    let larger = ai.max(aj);
    let inter = ai.min(aj).min(iw.max(0.0) * ih.max(0.0));
    (larger > 0.0).then(|| inter / (ai + aj - inter))
}

/// Whether a pair with this bound may reach `floor` once sampled: the margin covers the
/// sampling error (a sampled IoU may exceed the true one by a few boundary samples).
fn may_reach(bound: Option<f64>, floor: f64) -> bool {
    // Pruned only when surely below, so that a NaN bound is measured, never pruned.
    bound.is_none_or(|b| (b * 1.05 + 0.02).partial_cmp(&floor) != Some(std::cmp::Ordering::Less))
}

/// Every pair of area shapes whose IoU reaches `floor`, per image: candidates from an R-tree
/// of boxes, pruned by [`iou_bound`], at most [`MAX_MEASURED_PER_SHAPE`] measured per shape,
/// then the sampled IoU.
pub(crate) fn find_overlaps(inputs: &Inputs, floor: f64) -> Overlaps {
    use rayon::prelude::*;
    let floor = floor.max(1e-9);
    if !floor.is_finite() {
        return Overlaps::default();
    }
    let jobs = shapes_per_image(inputs);
    let per_image: Vec<(Vec<OverlapPair>, Option<CappedImage>)> = jobs
        .par_iter()
        .map(|(d, img, anns)| {
            let ds = &inputs.datasets[*d].dataset;
            let shapes: Vec<&Annotation> = anns.iter().map(|&k| &ds.annotations[k]).collect();
            let boxes = overlap_boxes(&shapes);
            let tree = box_tree(&boxes);
            // Areas only of shapes whose box meets another's (most shapes of a file have
            // no candidate at all), each measured once.
            let area_cells: Vec<OnceLock<f64>> = shapes.iter().map(|_| OnceLock::new()).collect();
            let area = |k: usize| *area_cells[k].get_or_init(|| shapes[k].shape.area());
            // Each shape is prepared (polygons decoded, edges sorted) the first time one of
            // its pairs is measured, then reused for its other pairs.
            let cells: Vec<OnceLock<Prepared>> = shapes.iter().map(|_| OnceLock::new()).collect();
            let prepared = |k: usize| cells[k].get_or_init(|| Prepared::new(&shapes[k].shape));
            // The pairs of shape `i` with the later shapes, and how many candidates the work
            // bound left unmeasured.
            let pairs_of = |i: usize| -> (Vec<OverlapPair>, usize) {
                let mut found = Vec::new();
                let Some(bi) = &boxes[i] else {
                    return (found, 0);
                };
                let mut candidates: Vec<(f64, usize)> = Vec::new();
                for j in intersecting(&tree, bi) {
                    if j <= i {
                        continue;
                    }
                    let Some(bj) = boxes[j] else { continue };
                    let bound = iou_bound(bi, &bj, area(i), area(j));
                    if may_reach(bound, floor) {
                        // Unknown bounds sort first: they are measured before any other.
                        candidates.push((bound.unwrap_or(f64::INFINITY), j));
                    }
                }
                let skipped = candidates.len().saturating_sub(MAX_MEASURED_PER_SHAPE);
                if skipped > 0 {
                    candidates.select_nth_unstable_by(MAX_MEASURED_PER_SHAPE, |x, y| {
                        y.0.total_cmp(&x.0).then(x.1.cmp(&y.1))
                    });
                    candidates.truncate(MAX_MEASURED_PER_SHAPE);
                }
                candidates.sort_unstable_by_key(|c| c.1);
                for &(_, j) in &candidates {
                    let Some(bj) = boxes[j] else { continue };
                    let iou = Grid::of_pair(bi, &bj)
                        .map_or(0.0, |grid| prepared_iou(prepared(i), prepared(j), &grid));
                    if iou >= floor {
                        found.push(OverlapPair {
                            dataset: *d,
                            image: *img,
                            a: anns[i],
                            b: anns[j],
                            iou,
                        });
                    }
                }
                (found, skipped)
            };
            // A crowded image (a pasted pile) is one job of thousands of shapes: its shapes
            // are spread over the cores too, or the whole check waits on one of them.
            let per_shape: Vec<(Vec<OverlapPair>, usize)> = if shapes.len() >= CROWDED_IMAGE {
                (0..shapes.len()).into_par_iter().map(pairs_of).collect()
            } else {
                (0..shapes.len()).map(pairs_of).collect()
            };
            let capped_shapes = per_shape.iter().filter(|r| r.1 > 0).count();
            let capped = (capped_shapes > 0).then(|| CappedImage {
                dataset: *d,
                image: *img,
                shapes: capped_shapes,
                skipped: per_shape.iter().map(|r| r.1).sum(),
            });
            (per_shape.into_iter().flat_map(|r| r.0).collect(), capped)
        })
        .collect();
    let mut out = Overlaps::default();
    for (pairs, capped) in per_image {
        out.pairs.extend(pairs);
        out.capped.extend(capped);
    }
    out.pairs.sort_by_key(|p| (p.dataset, p.image, p.a, p.b));
    out
}

/// Shapes on one image from which its overlap search runs on several cores.
const CROWDED_IMAGE: usize = 1024;

/// The overlap pairs as first found: no work bound, `contains` at every sample. The tests
/// hold [`find_overlaps`] to it.
#[cfg(test)]
pub(crate) fn find_overlaps_reference(inputs: &Inputs, t: &Thresholds) -> Vec<OverlapPair> {
    let min_iou = t
        .overlap_iou
        .min(t.duplicate_iou)
        .min(t.conflict_iou)
        .max(1e-9);
    let mut out = Vec::new();
    for (d, img, anns) in shapes_per_image(inputs) {
        let ds = &inputs.datasets[d].dataset;
        let shapes: Vec<&Annotation> = anns.iter().map(|&k| &ds.annotations[k]).collect();
        let boxes = overlap_boxes(&shapes);
        let areas: Vec<f64> = shapes.iter().map(|a| a.shape.area()).collect();
        let tree = box_tree(&boxes);
        for (i, bi) in boxes.iter().enumerate() {
            let Some(bi) = bi else { continue };
            for j in intersecting(&tree, bi) {
                if j <= i {
                    continue;
                }
                let Some(bj) = boxes[j] else { continue };
                let (ai, aj) = (areas[i], areas[j]);
                let iw = (bi[0] + bi[2]).min(bj[0] + bj[2]) - bi[0].max(bj[0]);
                let ih = (bi[1] + bi[3]).min(bj[1] + bj[3]) - bi[1].max(bj[1]);
                let bound = ai.min(aj).min(iw.max(0.0) * ih.max(0.0)) / ai.max(aj);
                if ai.max(aj) > 0.0 && bound * 1.05 + 0.02 < min_iou {
                    continue;
                }
                let iou = shape_iou_reference(&shapes[i].shape, &shapes[j].shape);
                if iou >= min_iou {
                    out.push(OverlapPair {
                        dataset: d,
                        image: img,
                        a: anns[i],
                        b: anns[j],
                        iou,
                    });
                }
            }
        }
    }
    out.sort_by_key(|p| (p.dataset, p.image, p.a, p.b));
    out
}

/// Shapes that cover area (overlap rules ignore lines, points and tags).
pub(crate) fn has_area(s: &Shape) -> bool {
    matches!(
        s,
        Shape::Ellipse(_) | Shape::Box(_) | Shape::Polygon(_) | Shape::Mask(_)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(cx: f64, cy: f64, rx: f64, ry: f64, rot: f64) -> Shape {
        Shape::Ellipse(Ellipse {
            cx,
            cy,
            rx,
            ry,
            rotation: rot,
        })
    }

    #[test]
    fn iou_of_identical_and_disjoint_and_half() {
        assert!(
            (shape_iou(
                &e(10.0, 10.0, 5.0, 3.0, 30.0),
                &e(10.0, 10.0, 5.0, 3.0, 30.0)
            ) - 1.0)
                .abs()
                < 1e-9
        );
        assert_eq!(
            shape_iou(&e(10.0, 10.0, 2.0, 2.0, 0.0), &e(30.0, 10.0, 2.0, 2.0, 0.0)),
            0.0
        );
        // Concentric circles r=10 and r=5: IoU = 25/100.
        let iou = shape_iou(
            &e(50.0, 50.0, 10.0, 10.0, 0.0),
            &e(50.0, 50.0, 5.0, 5.0, 0.0),
        );
        assert!((iou - 0.25).abs() < 0.01, "{iou}");
        // An ellipse and the same one turned 90°: a rotated ellipse is not its box.
        let iou = shape_iou(
            &e(50.0, 50.0, 10.0, 5.0, 0.0),
            &e(50.0, 50.0, 10.0, 5.0, 90.0),
        );
        assert!(iou > 0.3 && iou < 0.45, "{iou}");
    }

    /// A small deterministic generator (no dependency for a few hundred numbers).
    struct Lcg(u64);
    impl Lcg {
        fn unit(&mut self) -> f64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (self.0 >> 11) as f64 / (1u64 << 53) as f64
        }
        fn range(&mut self, lo: f64, hi: f64) -> f64 {
            lo + (hi - lo) * self.unit()
        }
    }

    fn random_shape(r: &mut Lcg, near: f64) -> Shape {
        let (cx, cy) = (near + r.range(-6.0, 6.0), near + r.range(-6.0, 6.0));
        let (rx, ry) = (r.range(0.5, 15.0), r.range(0.5, 15.0));
        let rot = r.range(-360.0, 360.0);
        match (r.unit() * 5.0) as u32 {
            0 | 1 => e(cx, cy, rx, ry, rot),
            2 => {
                // A star-ish ring with concave corners, and sometimes a hole (even-odd).
                let n = 3 + (r.unit() * 14.0) as usize;
                let ring = |scale: f64, r: &mut Lcg| -> Vec<Point> {
                    (0..n)
                        .map(|k| {
                            let t = std::f64::consts::TAU * k as f64 / n as f64;
                            let d = scale * r.range(0.4, 1.0);
                            [cx + rx * d * t.cos(), cy + ry * d * t.sin()]
                        })
                        .collect()
                };
                let mut rings = vec![ring(1.0, r)];
                if r.unit() < 0.3 {
                    rings.push(ring(0.3, r));
                }
                Shape::Polygon(rings.into())
            }
            3 => Shape::Box(crate::model::BoxShape {
                xtl: cx - rx,
                ytl: cy - ry,
                xbr: cx + rx,
                ybr: cy + ry,
                rotation: if r.unit() < 0.5 { 0.0 } else { rot },
            }),
            _ => {
                // A CVAT mask of random runs in its box.
                let (w, h) = (1 + (rx * 2.0) as u32, 1 + (ry * 2.0) as u32);
                let mut counts = Vec::new();
                let mut left = w * h;
                while left > 0 {
                    let run = (1 + (r.unit() * 9.0) as u32).min(left);
                    counts.push(run);
                    left -= run;
                }
                Shape::Mask(MaskData::Cvat {
                    left: cx as u32,
                    top: cy as u32,
                    width: w,
                    height: h,
                    counts,
                })
            }
        }
    }

    #[test]
    fn row_scan_iou_is_the_per_sample_iou_exactly() {
        let mut r = Lcg(7);
        let mut overlapping = 0;
        for _ in 0..3000 {
            let (a, b) = (random_shape(&mut r, 50.0), random_shape(&mut r, 50.0));
            let (fast, slow) = (shape_iou(&a, &b), shape_iou_reference(&a, &b));
            assert_eq!(fast.to_bits(), slow.to_bits(), "{a:?}\n{b:?}");
            overlapping += usize::from(slow > 0.0);
        }
        // The comparison is only worth something if most pairs overlap.
        assert!(overlapping > 1500, "{overlapping}");
    }

    fn read_conformance(rel: &str) -> crate::validate::DatasetInput {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/conformance")
            .join(rel);
        let (dataset, format) = if rel.ends_with(".json") {
            let opts = crate::coco::ReadOptions {
                allow_non_finite: true,
                ..Default::default()
            };
            (
                crate::coco::read_path(&path, &opts).unwrap().0,
                crate::validate::SourceFormat::Coco,
            )
        } else {
            let opts = crate::cvat::ReadOptions {
                allow_non_finite: true,
            };
            (
                crate::cvat::read_path(&path, &opts).unwrap().0,
                crate::validate::SourceFormat::Cvat,
            )
        };
        crate::validate::DatasetInput {
            path,
            format,
            dataset,
        }
    }

    /// The pairs of `find_overlaps` (all three rules on) next to the reference's.
    fn assert_same_overlaps(inputs: &Inputs) -> usize {
        let t = Thresholds::default();
        let new = find_overlaps(inputs, overlap_floor(&t, |_| true));
        assert!(new.capped.is_empty(), "{:?}", new.capped);
        assert_eq!(new.pairs, find_overlaps_reference(inputs, &t));
        new.pairs.len()
    }

    #[test]
    fn overlaps_are_unchanged_on_the_conformance_folders() {
        let files = [
            "cvat-ellipse/annotations_4classes.xml",
            "cvat-ellipse/annotations_4classes.json",
            "datumaro-coco/instances_train.json",
            "datumaro-coco/instances_val.json",
            "datumaro-cvat/export_project_annotations.xml",
            "datumaro-cvat/export_task_train.xml",
            "coco-extras/unknown_fields.json",
            "published-layout/annotations_4classes.xml",
            "published-layout/annotations_4classes.json",
        ];
        let inputs = Inputs {
            datasets: files.iter().map(|f| read_conformance(f)).collect(),
            ..Inputs::default()
        };
        assert_same_overlaps(&inputs);
    }

    /// Crowds the work bound never cuts (each shape has fewer than the cap of candidates):
    /// jittered piles of every shape kind, and a synthetic release at the published density.
    #[test]
    fn overlaps_are_unchanged_on_synthetic_crowds() {
        let mut r = Lcg(11);
        let mut anns = Vec::new();
        for pile in 0..8 {
            let at = 40.0 + 60.0 * pile as f64;
            for _ in 0..40 {
                let class = 1 + (r.unit() * 2.0) as u64;
                let shape = random_shape(&mut r, at);
                anns.push(crate::validate::testutil::ann(
                    anns.len() as u64 + 1,
                    1,
                    class,
                    shape,
                    1,
                ));
            }
        }
        let piles = crate::validate::testutil::coco_inputs(crate::validate::testutil::dataset(
            crate::validate::testutil::four(),
            vec![crate::validate::testutil::image(1, "a.tif", 600, 600, 1)],
            anns,
        ));
        assert!(assert_same_overlaps(&piles) > 100);
        // One image of more shapes than `CROWDED_IMAGE`, whose shapes are searched on
        // several cores: small piles of six along its diagonal.
        let n = CROWDED_IMAGE + 100;
        let anns = (0..n)
            .map(|k| {
                let shape = random_shape(&mut r, 40.0 + 30.0 * (k / 6) as f64);
                let class = 1 + (r.unit() * 2.0) as u64;
                crate::validate::testutil::ann(k as u64 + 1, 1, class, shape, 1)
            })
            .collect();
        let side = 80 + 5 * n as u32;
        let crowded = crate::validate::testutil::coco_inputs(crate::validate::testutil::dataset(
            crate::validate::testutil::four(),
            vec![crate::validate::testutil::image(1, "a.tif", side, side, 1)],
            anns,
        ));
        let found = assert_same_overlaps(&crowded);
        assert!(found > 50, "{found}");
        let release = crate::synth::generate(&crate::synth::SynthConfig {
            // The published size: 93 images, about 24k ellipses.
            write_images: false,
            ..Default::default()
        });
        let release = crate::validate::testutil::coco_inputs(release.dataset);
        assert_same_overlaps(&release);
    }

    #[test]
    fn matching_with_bounded_memory_is_the_full_sort_matching() {
        let mut r = Lcg(5);
        // Piles bigger than the kept candidates (some exactly equal boxes: ties), and sparse.
        for (n, spread) in [(300usize, 2.0), (300, 0.0), (200, 40.0), (50, 400.0)] {
            let boxes = |r: &mut Lcg| -> Vec<Option<[f64; 4]>> {
                (0..n)
                    .map(|k| {
                        if k % 41 == 40 {
                            return None;
                        }
                        let jitter = (r.unit() * 4.0).floor() * spread / 4.0;
                        Some([100.0 + jitter, 100.0 - jitter, 20.0 + jitter / 2.0, 20.0])
                    })
                    .collect()
            };
            let (a, b) = (boxes(&mut r), boxes(&mut r));
            let m = match_boxes(&a, &b, 0.5);
            assert_eq!(
                m,
                match_boxes_reference(&a, &b, 0.5),
                "n = {n}, spread {spread}"
            );
        }
    }

    #[test]
    fn greedy_matching_is_one_to_one_best_first() {
        let a = vec![Some([0.0, 0.0, 10.0, 10.0]), Some([1.0, 0.0, 10.0, 10.0])];
        let b = vec![Some([1.0, 0.0, 10.0, 10.0]), Some([100.0, 0.0, 1.0, 1.0])];
        let m = match_boxes(&a, &b, 0.5);
        assert_eq!(
            m.pairs.iter().map(|p| (p.0, p.1)).collect::<Vec<_>>(),
            vec![(1, 0)]
        );
        assert_eq!(m.unmatched_a, vec![0]);
        assert_eq!(m.unmatched_b, vec![1]);
    }
}
