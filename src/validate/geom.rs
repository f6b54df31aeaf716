//! Geometry for the rules and the diff: box IoU, exact shape IoU by sampling, an R-tree of
//! shape boxes for candidate pairs, and greedy one-to-one matching.
//!
//! Shape IoU samples both shapes on one grid over their union box (at least 128 samples
//! along the longer side, so small granules are measured below pixel size), with the pixel
//! rule of DESIGN §3 for masks. Pairs come from an R-tree: never all pairs.

use super::{Inputs, Thresholds};
use crate::model::{Annotation, Ellipse, MaskData, Point, Shape};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{RTree, AABB};

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

/// A shape prepared for point-in-shape tests.
enum Prepared {
    Ellipse {
        cx: f64,
        cy: f64,
        c: f64,
        s: f64,
        rx: f64,
        ry: f64,
    },
    Polygon(Vec<Vec<Point>>),
    Mask {
        x0: i64,
        y0: i64,
        w: i64,
        h: i64,
        bits: Vec<bool>,
    },
    Empty,
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
            Shape::Box(b) => Prepared::Polygon(vec![b.corners().to_vec()]),
            Shape::Polygon(rings) => Prepared::Polygon(rings.clone()),
            Shape::Mask(m) => prepare_mask(m),
            Shape::Polyline(_) | Shape::Points(_) | Shape::Tag => Prepared::Empty,
        }
    }

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
            Prepared::Polygon(rings) => {
                let mut inside = false;
                for r in rings {
                    let n = r.len();
                    let mut j = n.wrapping_sub(1);
                    for i in 0..n {
                        let (a, b) = (r[i], r[j]);
                        if (a[1] > y) != (b[1] > y)
                            && x < (b[0] - a[0]) * (y - a[1]) / (b[1] - a[1]) + a[0]
                        {
                            inside = !inside;
                        }
                        j = i;
                    }
                }
                inside
            }
            Prepared::Mask { x0, y0, w, h, bits } => {
                let (px, py) = (x.floor() as i64 - x0, y.floor() as i64 - y0);
                px >= 0 && py >= 0 && px < *w && py < *h && bits[(py * w + px) as usize]
            }
            Prepared::Empty => false,
        }
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

/// IoU of two shapes, sampled on one grid over their union box. 0 for shapes without area.
pub(crate) fn shape_iou(a: &Shape, b: &Shape) -> f64 {
    let (Some(ba), Some(bb)) = (a.bbox(), b.bbox()) else {
        return 0.0;
    };
    if !finite_box(&ba) || !finite_box(&bb) || box_iou(&ba, &bb) <= 0.0 && !boxes_touch(&ba, &bb) {
        return 0.0;
    }
    let x0 = ba[0].min(bb[0]);
    let y0 = ba[1].min(bb[1]);
    let x1 = (ba[0] + ba[2]).max(bb[0] + bb[2]);
    let y1 = (ba[1] + ba[3]).max(bb[1] + bb[3]);
    let step = (x1 - x0).max(y1 - y0) / SAMPLES;
    if step <= 0.0 || !step.is_finite() {
        return 0.0;
    }
    let (pa, pb) = (Prepared::new(a), Prepared::new(b));
    let nx = ((x1 - x0) / step).ceil() as usize;
    let ny = ((y1 - y0) / step).ceil() as usize;
    let (mut na, mut nb, mut both) = (0u64, 0u64, 0u64);
    for j in 0..ny {
        let y = y0 + (j as f64 + 0.5) * step;
        for i in 0..nx {
            let x = x0 + (i as f64 + 0.5) * step;
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

pub(crate) fn match_boxes(
    a: &[Option<[f64; 4]>],
    b: &[Option<[f64; 4]>],
    min_iou: f64,
) -> Matching {
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

/// Every pair of area shapes whose IoU reaches the lowest overlap threshold, per image,
/// candidates from an R-tree and pruned by an IoU upper bound before sampling.
pub(crate) fn find_overlaps(inputs: &Inputs, t: &Thresholds) -> Vec<OverlapPair> {
    use rayon::prelude::*;
    let min_iou = t
        .overlap_iou
        .min(t.duplicate_iou)
        .min(t.conflict_iou)
        .max(1e-9);
    let mut jobs: Vec<(usize, usize, Vec<usize>)> = Vec::new();
    for (d, input) in inputs.datasets.iter().enumerate() {
        let ds = &input.dataset;
        let index: std::collections::HashMap<_, _> = ds
            .images
            .iter()
            .enumerate()
            .map(|(i, im)| (im.id, i))
            .collect();
        let mut per: Vec<Vec<usize>> = vec![Vec::new(); ds.images.len()];
        for (k, a) in ds.annotations.iter().enumerate() {
            if let Some(&i) = index.get(&a.image_id) {
                per[i].push(k);
            }
        }
        jobs.extend(per.into_iter().enumerate().map(|(i, anns)| (d, i, anns)));
    }
    let mut out: Vec<OverlapPair> = jobs
        .par_iter()
        .flat_map_iter(|(d, img, anns)| {
            let ds = &inputs.datasets[*d].dataset;
            let shapes: Vec<&Annotation> = anns.iter().map(|&k| &ds.annotations[k]).collect();
            let boxes: Vec<Option<[f64; 4]>> = shapes
                .iter()
                .map(|a| {
                    if has_area(&a.shape) && a.shape.is_finite() {
                        a.shape.bbox()
                    } else {
                        None
                    }
                })
                .collect();
            let areas: Vec<f64> = shapes.iter().map(|a| a.shape.area()).collect();
            let tree = box_tree(&boxes);
            let mut found = Vec::new();
            for (i, bi) in boxes.iter().enumerate() {
                let Some(bi) = bi else { continue };
                for j in intersecting(&tree, bi) {
                    if j <= i {
                        continue;
                    }
                    let Some(bj) = boxes[j] else { continue };
                    // IoU ≤ min(areas, box intersection) / max(areas): skip what cannot reach.
                    let (ai, aj) = (areas[i], areas[j]);
                    let iw = (bi[0] + bi[2]).min(bj[0] + bj[2]) - bi[0].max(bj[0]);
                    let ih = (bi[1] + bi[3]).min(bj[1] + bj[3]) - bi[1].max(bj[1]);
                    let bound = ai.min(aj).min(iw.max(0.0) * ih.max(0.0)) / ai.max(aj);
                    if ai.max(aj) > 0.0 && bound * 1.05 + 0.02 < min_iou {
                        continue;
                    }
                    let iou = shape_iou(&shapes[i].shape, &shapes[j].shape);
                    if iou >= min_iou {
                        found.push(OverlapPair {
                            dataset: *d,
                            image: *img,
                            a: anns[i],
                            b: anns[j],
                            iou,
                        });
                    }
                }
            }
            found
        })
        .collect();
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
