//! Carrying the division into a CVAT XML file by matching shapes to COCO annotations.
//!
//! The published TEM-NeutroStruct CVAT and COCO files have no shared ids, so each CVAT shape is
//! paired with the COCO annotation of the same image and the same 4-class label whose box
//! overlaps it most (box IoU ≥ 0.5), one to one. Pairs are found through a uniform grid of
//! the COCO boxes (≈260 per image), not by comparing all pairs. A shape with no partner, or
//! a shape whose equally good partners would give it different labels, is reported — never
//! guessed — and the caller fails. Pairs are assigned one to one, best IoU first, with at
//! most 64 pairs per shape held at a time (a pasted pile has the square of its size in pairs).
//! The output is the input byte for byte except each shape's `label` value and the
//! `<labels>` declarations in `<meta>`.

use super::stats::measure_box;
use super::Division;
use crate::error::{Error, Result};
use crate::labelset::loose;
use crate::model::{AnnotationId, Category, Dataset, ImageId, Shape};
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::Path;

/// The smallest box IoU that counts as the same object.
pub(crate) const MIN_IOU: f64 = 0.5;

/// Grid cell size in pixels: granules are 10–60 px across, so a shape touches few cells.
const CELL: f64 = 64.0;

/// A CVAT shape that could not be given a 7-class label.
#[derive(Clone, Debug, PartialEq)]
pub struct ShapeIssue {
    /// The image's file name.
    pub image: String,
    /// The shape's number in the CVAT dataset (document order).
    pub shape: AnnotationId,
    /// Element name (`ellipse`, `box`, …).
    pub kind: &'static str,
    /// The shape's 4-class label.
    pub label: String,
    /// 1-based line of the shape in the CVAT file (0 when unknown).
    pub line: u32,
    /// For a conflict: an equally good COCO partner with another 7-class label.
    pub partner: Option<AnnotationId>,
    /// Best box IoU with a same-label COCO annotation of the image (0 when none overlaps).
    pub best_iou: f64,
}

impl fmt::Display for ShapeIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}: image {:?}, {} #{} ({:?}): ",
            self.line, self.image, self.kind, self.shape, self.label
        )?;
        match self.partner {
            Some(p) => write!(
                f,
                "matches COCO annotations of different 7-class labels equally well (IoU {:.3}, one of them {p}): \
                 which one it is cannot be told",
                self.best_iou
            ),
            None if self.best_iou >= MIN_IOU => write!(
                f,
                "every COCO annotation it matches (best IoU {:.3}) went to a shape that matches it better: a duplicate?",
                self.best_iou
            ),
            None if self.best_iou > 0.0 => write!(
                f,
                "no COCO annotation of this label overlaps it with IoU ≥ {MIN_IOU} (best {:.3})",
                self.best_iou
            ),
            None => write!(f, "no COCO annotation of this image and label overlaps it"),
        }
    }
}

/// The outcome of matching.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MatchReport {
    /// Shapes given a 7-class label.
    pub matched: usize,
    /// Shapes without a partner.
    pub unmatched: Vec<ShapeIssue>,
    /// Shapes whose equally good partners carry different 7-class labels.
    pub conflicts: Vec<ShapeIssue>,
    /// COCO annotations no shape took, `(image, annotation id)` (informational).
    pub unmatched_coco: Vec<(String, AnnotationId)>,
    /// CVAT images with no COCO image of the same name.
    pub missing_images: Vec<String>,
}

impl MatchReport {
    /// No shape was left without a 7-class label.
    pub fn is_ok(&self) -> bool {
        self.unmatched.is_empty() && self.conflicts.is_empty()
    }

    /// One line per problem shape, in document order, for the command line to print.
    pub fn errors(&self) -> Vec<String> {
        let mut all: Vec<&ShapeIssue> = self.unmatched.iter().chain(&self.conflicts).collect();
        all.sort_by_key(|i| (i.line, i.shape));
        all.into_iter().map(|i| i.to_string()).collect()
    }
}

fn iou(a: &[f64; 4], b: &[f64; 4]) -> f64 {
    let ix = (a[0] + a[2]).min(b[0] + b[2]) - a[0].max(b[0]);
    let iy = (a[1] + a[3]).min(b[1] + b[3]) - a[1].max(b[1]);
    if ix <= 0.0 || iy <= 0.0 {
        return 0.0;
    }
    let inter = ix * iy;
    let union = a[2] * a[3] + b[2] * b[3] - inter;
    if union > 0.0 {
        inter / union
    } else {
        0.0
    }
}

fn basename(n: &str) -> &str {
    n.rsplit(['/', '\\']).next().unwrap_or(n)
}

/// One COCO annotation a CVAT shape may be paired with.
struct Partner {
    image: usize,
    id: AnnotationId,
    /// Loose key of its source (4-class) label.
    key: String,
    bbox: [f64; 4],
    target: String,
}

/// The COCO side of the matching: images, candidate partners, the target label declarations.
struct CocoSide<'a> {
    image_names: Vec<&'a str>,
    partners: Vec<Partner>,
    source_keys: HashSet<String>,
    target_categories: &'a [Category],
}

/// Rewrites a CVAT XML file with the 7-class labels of `division`.
///
/// `cvat_ds` is `cvat_bytes` as read by the CVAT reader: every shape carries its byte span
/// (`loc`). Returns the new bytes and the matching report; when the report is not
/// [`MatchReport::is_ok`], the problem shapes keep their old label and the caller must not
/// publish the bytes.
pub fn update_cvat(
    cvat_bytes: &[u8],
    cvat_ds: &Dataset,
    division: &Division,
) -> Result<(Vec<u8>, MatchReport)> {
    apply(cvat_bytes, cvat_ds, &side_of_division(division), resolve)
}

/// The partners a fresh division offers.
fn side_of_division(division: &Division) -> CocoSide<'_> {
    let coco = &division.dataset;
    let index: HashMap<ImageId, usize> = coco
        .images
        .iter()
        .enumerate()
        .map(|(i, im)| (im.id, i))
        .collect();
    let partners = coco
        .annotations
        .iter()
        .zip(&division.audit)
        .filter_map(|(a, row)| {
            Some(Partner {
                image: *index.get(&a.image_id)?,
                id: a.id,
                key: loose(&row.source_class),
                bbox: measure_box(a)?,
                target: row.target_class.clone(),
            })
        })
        .collect();
    CocoSide {
        image_names: coco.images.iter().map(|im| im.file_name.as_str()).collect(),
        partners,
        source_keys: division.source_classes.iter().map(|c| loose(c)).collect(),
        target_categories: &coco.categories,
    }
}

/// Like [`update_cvat`], from a published pair of COCO files instead of a fresh division:
/// `coco4` gives each annotation's image, box and source label, `coco7` (same annotation
/// ids) its target label. Annotations missing from `coco7` cannot be partners.
pub fn update_cvat_from_pair(
    cvat_bytes: &[u8],
    cvat_ds: &Dataset,
    coco4: &Dataset,
    coco7: &Dataset,
) -> Result<(Vec<u8>, MatchReport)> {
    apply(cvat_bytes, cvat_ds, &side_of_pair(coco4, coco7), resolve)
}

/// The partners a published pair of COCO files offers (see [`update_cvat_from_pair`]).
fn side_of_pair<'a>(coco4: &'a Dataset, coco7: &'a Dataset) -> CocoSide<'a> {
    let index: HashMap<ImageId, usize> = coco4
        .images
        .iter()
        .enumerate()
        .map(|(i, im)| (im.id, i))
        .collect();
    let target_of: HashMap<AnnotationId, &str> = coco7
        .annotations
        .iter()
        .filter_map(|a| Some((a.id, coco7.category(a.category_id)?.name.as_str())))
        .collect();
    let partners = coco4
        .annotations
        .iter()
        .filter_map(|a| {
            Some(Partner {
                image: *index.get(&a.image_id)?,
                id: a.id,
                key: loose(&coco4.category(a.category_id)?.name),
                bbox: measure_box(a)?,
                target: target_of.get(&a.id)?.to_string(),
            })
        })
        .collect();
    CocoSide {
        image_names: coco4
            .images
            .iter()
            .map(|im| im.file_name.as_str())
            .collect(),
        partners,
        source_keys: coco4.categories.iter().map(|c| loose(&c.name)).collect(),
        target_categories: &coco7.categories,
    }
}

/// Candidates of one image: a grid of cells, plus boxes too large for it (checked always).
#[derive(Default)]
struct ImageGrid {
    cells: HashMap<(i64, i64), Vec<usize>>,
    large: Vec<usize>,
    all: Vec<usize>,
}

/// Most cells a box may cover before it is kept in `large` instead (keeps absurd boxes,
/// e.g. 1e300 px wide, from exploding the grid).
const MAX_CELLS: i64 = 1024;

fn cell_range(b: &[f64; 4]) -> Option<(i64, i64, i64, i64)> {
    let c = |v: f64| (v / CELL).floor();
    let (x0, y0, x1, y1) = (c(b[0]), c(b[1]), c(b[0] + b[2]), c(b[1] + b[3]));
    let ok = [x0, y0, x1, y1]
        .iter()
        .all(|v| v.is_finite() && v.abs() < 1e9)
        && (x1 - x0 + 1.0) * (y1 - y0 + 1.0) <= MAX_CELLS as f64;
    ok.then_some((x0 as i64, y0 as i64, x1 as i64, y1 as i64))
}

/// How shapes are paired: [`resolve`], or in the tests the reference it is held to.
type Resolver = fn(&[Option<Query>], &mut Finder) -> Resolved;

fn apply(
    cvat_bytes: &[u8],
    cvat_ds: &Dataset,
    coco: &CocoSide,
    resolver: Resolver,
) -> Result<(Vec<u8>, MatchReport)> {
    let cvat_path = Path::new("CVAT XML");
    let target_only: Vec<String> = coco
        .target_categories
        .iter()
        .map(|c| loose(&c.name))
        .filter(|n| !coco.source_keys.contains(n))
        .collect();
    let cvat_label = |id| cvat_ds.category(id).map_or("", |c| c.name.as_str());
    if let Some(a) = cvat_ds
        .annotations
        .iter()
        .find(|a| target_only.contains(&loose(cvat_label(a.category_id))))
    {
        return Err(Error::invalid(
            cvat_path,
            format!(
                "the CVAT file already uses target classes (shape {} is {:?}); refusing to divide it again",
                a.id,
                cvat_label(a.category_id)
            ),
        ));
    }

    let mut by_name: HashMap<&str, usize> = HashMap::new();
    let mut by_base: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, n) in coco.image_names.iter().enumerate() {
        by_name.insert(n, i);
        by_base.entry(basename(n)).or_default().push(i);
    }
    let cands = &coco.partners;
    let mut grids: Vec<ImageGrid> = (0..coco.image_names.len())
        .map(|_| ImageGrid::default())
        .collect();
    for (ci, c) in cands.iter().enumerate() {
        let g = &mut grids[c.image];
        g.all.push(ci);
        match cell_range(&c.bbox) {
            Some((x0, y0, x1, y1)) => {
                for x in x0..=x1 {
                    for y in y0..=y1 {
                        g.cells.entry((x, y)).or_default().push(ci);
                    }
                }
            }
            None => g.large.push(ci),
        }
    }

    // CVAT side: what each shape is matched by (its image, box and label key).
    let cvat_img: HashMap<_, _> = cvat_ds.images.iter().map(|im| (im.id, im)).collect();
    let mut report = MatchReport::default();
    let mut missing_images = std::collections::BTreeSet::new();
    let queries: Vec<Option<Query>> = cvat_ds
        .annotations
        .iter()
        .map(|s| {
            let cvat_image = cvat_img.get(&s.image_id).copied();
            let name = cvat_image.map_or("", |im| im.file_name.as_str());
            let img = by_name
                .get(name)
                .copied()
                .or_else(|| match by_base.get(basename(name)) {
                    Some(v) if v.len() == 1 => Some(v[0]),
                    _ => None,
                });
            // The part inside the image: the COCO side is CVAT's export, which clips a shape
            // crossing the border (`model/clip.rs`).
            let box_ = match (&s.shape, cvat_image) {
                (Shape::Tag, _) => None,
                (sh, Some(im)) => sh.bbox_in_image(im.width, im.height),
                (sh, None) => sh.bbox(),
            };
            if img.is_none() {
                missing_images.insert(name.to_string());
            }
            Some(Query {
                image: img?,
                bbox: box_?,
                key: loose(cvat_label(s.category_id)),
            })
        })
        .collect();
    report.missing_images = missing_images.into_iter().collect();
    let mut finder = Finder {
        grids: &grids,
        cands,
        stamp: vec![usize::MAX; cands.len()],
        scratch: Vec::new(),
    };
    let Resolved {
        partner,
        best,
        taken,
        ambiguous,
    } = resolver(&queries, &mut finder);
    let wants: Vec<(usize, Option<usize>, f64)> = (0..cvat_ds.annotations.len())
        .map(|si| match partner[si] {
            Some((ci, v)) => (si, Some(ci), v),
            None => (si, None, best[si]),
        })
        .collect();
    let mut edits: Vec<(usize, usize, String)> = Vec::new();
    for (si, p, v) in wants {
        let s = &cvat_ds.annotations[si];
        let issue = |partner| ShapeIssue {
            image: cvat_img
                .get(&s.image_id)
                .map_or_else(String::new, |im| im.file_name.clone()),
            shape: s.id,
            kind: s.shape.kind(),
            label: cvat_label(s.category_id).to_string(),
            line: s.loc.map_or(0, |l| l.line),
            partner,
            best_iou: v,
        };
        match p {
            None => report.unmatched.push(issue(None)),
            Some(_) if ambiguous.contains_key(&si) => {
                report.conflicts.push(issue(ambiguous.get(&si).copied()))
            }
            Some(ci) => {
                report.matched += 1;
                let loc = s.loc.ok_or_else(|| {
                    Error::invalid(
                        cvat_path,
                        format!(
                            "shape {} has no source position; read the CVAT file with positions",
                            s.id
                        ),
                    )
                })?;
                let (vs, ve) =
                    label_value_span(cvat_bytes, loc.start, loc.end).ok_or_else(|| {
                        Error::parse(
                            cvat_path,
                            loc.line,
                            loc.column,
                            format!("shape {}: no label=\"…\" attribute in its start tag", s.id),
                        )
                    })?;
                let quote = cvat_bytes[vs - 1];
                edits.push((vs, ve, escape_attr(&cands[ci].target, quote)));
            }
        }
    }
    for (ci, c) in cands.iter().enumerate() {
        if !taken[ci] {
            report
                .unmatched_coco
                .push((coco.image_names[c.image].to_string(), c.id));
        }
    }
    edits.extend(labels_edits(cvat_bytes, coco.target_categories)?);
    edits.sort_by_key(|e| e.0);
    let mut out = Vec::with_capacity(cvat_bytes.len() + 4096);
    let mut pos = 0;
    for (s, e, text) in edits {
        if s < pos {
            return Err(Error::invalid(
                cvat_path,
                format!("overlapping edits at byte {s}: shape spans overlap the <meta> block"),
            ));
        }
        out.extend_from_slice(&cvat_bytes[pos..s]);
        out.extend_from_slice(text.as_bytes());
        pos = e;
    }
    out.extend_from_slice(&cvat_bytes[pos..]);
    Ok((out, report))
}

/// What a CVAT shape is matched by.
struct Query {
    /// Index of its COCO image.
    image: usize,
    bbox: [f64; 4],
    /// Loose key of its (4-class) label.
    key: String,
}

/// Looks up a shape's candidate partners in the grid of its image.
struct Finder<'g> {
    grids: &'g [ImageGrid],
    cands: &'g [Partner],
    /// The last shape each candidate was seen for (a box spanning several cells is listed in
    /// each).
    stamp: Vec<usize>,
    scratch: Vec<usize>,
}

impl Finder<'_> {
    /// Calls `f(candidate, box IoU)` for each candidate of the shape's image and label key
    /// that its box touches, each once, always in the same order.
    fn each_candidate(&mut self, si: usize, q: &Query, mut f: impl FnMut(usize, f64)) {
        let g = &self.grids[q.image];
        self.scratch.clear();
        match cell_range(&q.bbox) {
            Some((x0, y0, x1, y1)) => {
                for x in x0..=x1 {
                    for y in y0..=y1 {
                        self.scratch
                            .extend(g.cells.get(&(x, y)).into_iter().flatten());
                    }
                }
                self.scratch.extend(&g.large);
            }
            None => self.scratch.extend(&g.all),
        }
        for &ci in &self.scratch {
            if self.stamp[ci] == si || self.cands[ci].key != q.key {
                continue;
            }
            self.stamp[ci] = si;
            f(ci, iou(&q.bbox, &self.cands[ci].bbox));
        }
        // The next scan of the same shape must see every candidate again.
        for &ci in &self.scratch {
            if self.stamp[ci] == si {
                self.stamp[ci] = usize::MAX;
            }
        }
    }

    /// Like [`Finder::each_candidate`], only the pairs that count (IoU ≥ [`MIN_IOU`]).
    fn each_pair(&mut self, si: usize, q: &Query, mut f: impl FnMut(usize, f64)) {
        self.each_candidate(si, q, |ci, v| {
            if v >= MIN_IOU {
                f(ci, v)
            }
        });
    }
}

/// Candidate pairs kept in memory per shape while matching; a shape whose kept ones are all
/// taken looks its candidates up again. A pile of n shapes over n annotations has n² pairs
/// (4 million for 2,000, sorted, was most of the division's time and memory); this keeps
/// memory linear in the pile and the result the same as sorting them all. The work left is
/// one box IoU per shape and candidate its box touches: n² multiplications in a pile, a few
/// milliseconds for 2,000.
const PAIRS_KEPT_PER_SHAPE: usize = 64;

/// A (shape, candidate) pair in matching order: higher IoU first, then the shape earlier in
/// the document, then the lower COCO id, then the candidate met first in the shape's scan.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Pair {
    iou: f64,
    shape: usize,
    id: AnnotationId,
    /// Position in the shape's scan (the order of [`Finder::each_candidate`]).
    seen: usize,
    cand: usize,
}

impl Eq for Pair {}

impl Ord for Pair {
    /// "Greater" is earlier in matching order (a max-heap pops the next pair to try).
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.iou
            .total_cmp(&other.iou)
            .then(other.shape.cmp(&self.shape))
            .then(other.id.cmp(&self.id))
            .then(other.seen.cmp(&self.seen))
    }
}

impl PartialOrd for Pair {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// The outcome of matching, per shape and per candidate.
#[derive(Debug, PartialEq)]
struct Resolved {
    /// The candidate each shape was given, with the pair's IoU.
    partner: Vec<Option<(usize, f64)>>,
    /// Best IoU with any candidate of the shape's image and label (0 when none overlaps).
    best: Vec<f64>,
    taken: Vec<bool>,
    /// Shapes with an equally good partner of another 7-class label: the first one by COCO id.
    ambiguous: HashMap<usize, AnnotationId>,
}

/// One to one, best IoU first (ties in document order, then COCO id), as the validator's
/// matching does: two identical shapes over two identical annotations (a duplicate drawn
/// twice) pair up instead of both wanting the first. The same pairs as sorting every
/// candidate pair and taking them greedily (`resolve_by_sorting_every_pair`, the tests).
fn resolve(queries: &[Option<Query>], finder: &mut Finder) -> Resolved {
    let n_cands = finder.cands.len();
    let mut best = vec![0.0f64; queries.len()];
    let mut taken = vec![false; n_cands];
    // The next free pairs of a shape, best last (popped from the end), and whether more
    // were left out.
    let next_pairs = |si: usize, finder: &mut Finder, taken: &[bool], best: &mut f64| {
        let Some(q) = &queries[si] else {
            return (Vec::new(), false);
        };
        let cands = finder.cands;
        let mut pairs = Vec::new();
        let mut seen = 0;
        finder.each_candidate(si, q, |ci, v| {
            *best = best.max(v);
            if v >= MIN_IOU && !taken[ci] {
                pairs.push(Pair {
                    iou: v,
                    shape: si,
                    id: cands[ci].id,
                    seen,
                    cand: ci,
                });
            }
            seen += 1;
        });
        let more = pairs.len() > PAIRS_KEPT_PER_SHAPE;
        if more {
            pairs.select_nth_unstable_by(PAIRS_KEPT_PER_SHAPE, |x, y| y.cmp(x));
            pairs.truncate(PAIRS_KEPT_PER_SHAPE);
        }
        pairs.sort_unstable();
        (pairs, more)
    };
    let mut lists: Vec<(Vec<Pair>, bool)> = (0..queries.len())
        .map(|si| next_pairs(si, finder, &taken, &mut best[si]))
        .collect();
    // Each free shape has its best kept pair in the heap; one whose candidate was taken
    // meanwhile moves on to its next.
    let mut heap: std::collections::BinaryHeap<Pair> =
        lists.iter().filter_map(|l| l.0.last().copied()).collect();
    let mut partner: Vec<Option<(usize, f64)>> = vec![None; queries.len()];
    while let Some(p) = heap.pop() {
        if !taken[p.cand] {
            taken[p.cand] = true;
            partner[p.shape] = Some((p.cand, p.iou));
            continue;
        }
        let list = &mut lists[p.shape];
        list.0.pop();
        while list.0.last().is_some_and(|n| taken[n.cand]) {
            list.0.pop();
        }
        if list.0.is_empty() && list.1 {
            let mut ignored = 0.0;
            *list = next_pairs(p.shape, finder, &taken, &mut ignored);
        }
        if let Some(&n) = list.0.last() {
            heap.push(n);
        }
    }
    // A shape is a conflict only where the choice matters: an equally good partner it was
    // not given has another 7-class label (the first such by COCO id is named).
    let cands = finder.cands;
    let mut ambiguous: HashMap<usize, AnnotationId> = HashMap::new();
    for (si, q) in queries.iter().enumerate() {
        let (Some((mine, best_v)), Some(q)) = (partner[si], q) else {
            continue;
        };
        let mut named: Option<AnnotationId> = None;
        finder.each_pair(si, q, |ci, v| {
            if ci != mine
                && v == best_v
                && loose(&cands[ci].target) != loose(&cands[mine].target)
                && named.is_none_or(|n| cands[ci].id < n)
            {
                named = Some(cands[ci].id);
            }
        });
        if let Some(n) = named {
            ambiguous.insert(si, n);
        }
    }
    Resolved {
        partner,
        best,
        taken,
        ambiguous,
    }
}

/// The matching as first written: every pair of IoU ≥ [`MIN_IOU`] collected and sorted.
/// The tests hold [`resolve`] to it.
#[cfg(test)]
fn resolve_by_sorting_every_pair(queries: &[Option<Query>], finder: &mut Finder) -> Resolved {
    let cands = finder.cands;
    let mut best = vec![0.0f64; queries.len()];
    let mut pairs: Vec<(usize, usize, f64)> = Vec::new();
    for (si, q) in queries.iter().enumerate() {
        let Some(q) = q else { continue };
        let b = &mut best[si];
        finder.each_candidate(si, q, |ci, v| {
            *b = b.max(v);
            if v >= MIN_IOU {
                pairs.push((si, ci, v));
            }
        });
    }
    pairs.sort_by(|a, b| {
        b.2.total_cmp(&a.2)
            .then(a.0.cmp(&b.0))
            .then(cands[a.1].id.cmp(&cands[b.1].id))
    });
    let mut taken = vec![false; cands.len()];
    let mut partner: Vec<Option<(usize, f64)>> = vec![None; queries.len()];
    for &(si, ci, v) in &pairs {
        if partner[si].is_some() || taken[ci] {
            continue;
        }
        taken[ci] = true;
        partner[si] = Some((ci, v));
    }
    let mut ambiguous: HashMap<usize, AnnotationId> = HashMap::new();
    for &(si, ci, v) in &pairs {
        let Some((mine, best_v)) = partner[si] else {
            continue;
        };
        if ci != mine && v == best_v && loose(&cands[ci].target) != loose(&cands[mine].target) {
            ambiguous.entry(si).or_insert(cands[ci].id);
        }
    }
    Resolved {
        partner,
        best,
        taken,
        ambiguous,
    }
}

/// Byte span of the value of the `label` attribute in the start tag at `start..end`.
fn label_value_span(b: &[u8], start: usize, end: usize) -> Option<(usize, usize)> {
    let end = end.min(b.len());
    let mut i = start;
    if b.get(i) != Some(&b'<') {
        return None;
    }
    i += 1;
    while i < end && !b[i].is_ascii_whitespace() && b[i] != b'>' && b[i] != b'/' {
        i += 1;
    }
    loop {
        while i < end && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= end || b[i] == b'>' || b[i] == b'/' {
            return None;
        }
        let ns = i;
        while i < end && b[i] != b'=' && !b[i].is_ascii_whitespace() && b[i] != b'>' {
            i += 1;
        }
        let name = &b[ns..i];
        while i < end && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if b.get(i) != Some(&b'=') {
            return None;
        }
        i += 1;
        while i < end && b[i].is_ascii_whitespace() {
            i += 1;
        }
        let q = *b.get(i)?;
        if q != b'"' && q != b'\'' {
            return None;
        }
        let vs = i + 1;
        let ve = vs + b.get(vs..end)?.iter().position(|&c| c == q)?;
        if name == b"label" {
            return Some((vs, ve));
        }
        i = ve + 1;
    }
}

fn escape_text(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn escape_attr(s: &str, quote: u8) -> String {
    let t = escape_text(s);
    if quote == b'"' {
        t.replace('"', "&quot;")
    } else {
        t.replace('\'', "&apos;")
    }
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    hay.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// Replacements of every `<labels>…</labels>` block inside `<meta>` by the target classes.
fn labels_edits(b: &[u8], categories: &[Category]) -> Result<Vec<(usize, usize, String)>> {
    let Some(ms) = find(b, b"<meta>", 0) else {
        return Ok(Vec::new());
    };
    let me = find(b, b"</meta>", ms).unwrap_or(b.len());
    let mut out = Vec::new();
    let mut from = ms;
    while let Some(ls) = find(b, b"<labels>", from).filter(|&p| p < me) {
        let le = find(b, b"</labels>", ls)
            .filter(|&p| p < me)
            .ok_or_else(|| {
                Error::invalid(
                    Path::new("CVAT XML"),
                    "<labels> without </labels> in <meta>",
                )
            })?
            + b"</labels>".len();
        let line_start = b[..ls]
            .iter()
            .rposition(|&c| c == b'\n')
            .map_or(0, |p| p + 1);
        let indent = String::from_utf8_lossy(&b[line_start..ls])
            .chars()
            .take_while(|c| c.is_whitespace())
            .collect::<String>();
        let mut s = String::from("<labels>\n");
        for c in categories {
            let i1 = format!("{indent}  ");
            let i2 = format!("{indent}    ");
            s.push_str(&format!("{i1}<label>\n"));
            s.push_str(&format!("{i2}<name>{}</name>\n", escape_text(&c.name)));
            if let Some(col) = c.color {
                s.push_str(&format!("{i2}<color>{}</color>\n", col.to_hex()));
            }
            s.push_str(&format!(
                "{i2}<type>{}</type>\n",
                escape_text(c.kind.as_deref().unwrap_or("ellipse"))
            ));
            s.push_str(&format!("{i2}<attributes>\n{i2}</attributes>\n"));
            s.push_str(&format!("{i1}</label>\n"));
        }
        s.push_str(&format!("{indent}</labels>"));
        out.push((ls, le, s));
        from = le;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_label_attribute_only() {
        let x = br#"<ellipse xlabel="a" label='Primary granules' cx="1">"#;
        let (s, e) = label_value_span(x, 0, x.len()).unwrap();
        assert_eq!(&x[s..e], b"Primary granules");
        assert_eq!(label_value_span(b"<ellipse cx=\"1\">", 0, 16), None);
    }

    /// A CVAT file of `shapes` ellipses `(label, cx, cy, r)` on one 4096×4224 image.
    fn cvat_of(shapes: &[(&str, f64, f64, f64)]) -> String {
        let mut x = String::from(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<annotations>\n<version>1.1</version>\n\
             <image id=\"0\" name=\"a.png\" width=\"4096\" height=\"4224\">\n",
        );
        for (label, cx, cy, r) in shapes {
            x.push_str(&format!(
                "<ellipse label=\"{label}\" source=\"manual\" occluded=\"0\" cx=\"{cx}\" cy=\"{cy}\" rx=\"{r}\" ry=\"{r}\" z_order=\"0\"></ellipse>\n"
            ));
        }
        x.push_str("</image>\n</annotations>\n");
        x
    }

    /// Partners `(source key, target, x, y, side)` on image 0, ids from 1.
    fn partners_of(boxes: &[(&str, &str, f64, f64, f64)]) -> Vec<Partner> {
        boxes
            .iter()
            .enumerate()
            .map(|(i, (key, target, x, y, w))| Partner {
                image: 0,
                id: AnnotationId(i as u64 + 1),
                key: loose(key),
                bbox: [*x, *y, *w, *w],
                target: target.to_string(),
            })
            .collect()
    }

    /// Runs `apply` with the bounded matching and with the reference on the same input.
    fn both_ways(cvat: &str, partners: Vec<Partner>) -> [(Vec<u8>, MatchReport); 2] {
        let ds = crate::cvat::read_bytes(
            cvat.as_bytes(),
            Path::new("t.xml"),
            &crate::cvat::ReadOptions::default(),
        )
        .unwrap()
        .0;
        let cats: Vec<Category> = Vec::new();
        let side = CocoSide {
            image_names: vec!["a.png"],
            partners,
            source_keys: ["primary granules", "secondary granules"]
                .iter()
                .map(|k| loose(k))
                .collect(),
            target_categories: &cats,
        };
        [
            apply(cvat.as_bytes(), &ds, &side, resolve).unwrap(),
            apply(cvat.as_bytes(), &ds, &side, resolve_by_sorting_every_pair).unwrap(),
        ]
    }

    /// A deterministic stream of numbers in [0, 1) (no dependency on a seeded RNG's API).
    fn unit_stream(seed: u64) -> impl FnMut() -> f64 {
        let mut state = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        move || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    #[test]
    fn a_pile_of_2000_shapes_is_matched_one_to_one_quickly() {
        // 2,000 identical ellipses over 2,000 identical COCO boxes, two labels and two
        // targets: 4 million pairs at IoU 1 that the old matching collected and sorted.
        let n = 2000;
        let labels = ["Primary granules", "Secondary granules"];
        let shapes: Vec<_> = (0..n)
            .map(|i| (labels[i % 2], 500.0, 500.0, 20.0))
            .collect();
        let boxes: Vec<_> = (0..n)
            .map(|i| (labels[i % 2], ["A", "B", "C"][i % 3], 480.0, 480.0, 40.0))
            .collect();
        let cvat = cvat_of(&shapes);
        let ds = crate::cvat::read_bytes(
            cvat.as_bytes(),
            Path::new("t.xml"),
            &crate::cvat::ReadOptions::default(),
        )
        .unwrap()
        .0;
        let cats: Vec<Category> = Vec::new();
        let side = CocoSide {
            image_names: vec!["a.png"],
            partners: partners_of(&boxes),
            source_keys: labels.iter().map(|k| loose(k)).collect(),
            target_categories: &cats,
        };
        let started = std::time::Instant::now();
        let (_, report) = apply(cvat.as_bytes(), &ds, &side, resolve).unwrap();
        let took = started.elapsed();
        // Every shape is paired (same label, IoU 1) and, its equally good partners having
        // other targets, reported as a conflict rather than guessed.
        assert_eq!(report.matched + report.conflicts.len(), n);
        assert!(report.unmatched.is_empty() && report.unmatched_coco.is_empty());
        assert_eq!(report.conflicts.len(), n);
        // A generous bound for a debug build on a loaded 2-core machine; release takes
        // milliseconds. The quadratic sort it replaces held 4 million pairs.
        assert!(took.as_secs_f64() < 20.0, "took {took:?}");
    }

    #[test]
    fn bounded_matching_is_the_full_sort_on_piles_ties_and_scatters() {
        let labels = ["Primary granules", "Secondary granules"];
        for seed in 0..12u64 {
            let mut next = unit_stream(seed);
            // Piles (all on one spot, some a pixel off), a scatter, and sizes around the
            // 64 kept pairs per shape, so that shapes run out of kept pairs and look again.
            let n_shapes = [5, 63, 64, 65, 130, 300][seed as usize % 6];
            let n_boxes = n_shapes + (seed as usize % 3) * 7 - 7 * usize::from(seed % 3 == 2);
            let spread = if seed % 4 == 3 { 400.0 } else { 2.0 };
            let jitter = |next: &mut dyn FnMut() -> f64| (next() * spread).round();
            let shapes: Vec<_> = (0..n_shapes)
                .map(|_| {
                    let l = labels[(next() * 2.0) as usize % 2];
                    (
                        l,
                        500.0 + jitter(&mut next),
                        500.0 + jitter(&mut next),
                        20.0,
                    )
                })
                .collect();
            let boxes: Vec<_> = (0..n_boxes)
                .map(|_| {
                    let l = labels[(next() * 2.0) as usize % 2];
                    let t = ["A", "B"][(next() * 2.0) as usize % 2];
                    (
                        l,
                        t,
                        480.0 + jitter(&mut next),
                        480.0 + jitter(&mut next),
                        40.0,
                    )
                })
                .collect();
            let [fast, reference] = both_ways(&cvat_of(&shapes), partners_of(&boxes));
            assert_eq!(fast, reference, "seed {seed}");
            // Paired shapes are matched or, with an equal partner of another target, conflicts.
            let paired = fast.1.matched + fast.1.conflicts.len();
            assert!(paired > 0, "seed {seed}: the case pairs shapes");
        }
    }

    #[test]
    fn bounded_matching_is_the_full_sort_on_the_conformance_pairs() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/conformance");
        let read_cvat = |p: &Path| {
            let bytes = std::fs::read(p).unwrap();
            let ds = crate::cvat::read_path(p, &crate::cvat::ReadOptions::default())
                .unwrap()
                .0;
            (bytes, ds)
        };
        let read_coco = |p: &Path| {
            crate::coco::read_path(p, &crate::coco::ReadOptions::default())
                .unwrap()
                .0
        };
        // The published pair: 4-class COCO and CVAT, 7-class COCO.
        let d = root.join("published-layout");
        let (bytes, cvat) = read_cvat(&d.join("annotations_4classes.xml"));
        let (c4, c7) = (
            read_coco(&d.join("annotations_4classes.json")),
            read_coco(&d.join("annotations_7classes.json")),
        );
        let side = side_of_pair(&c4, &c7);
        let fast = apply(&bytes, &cvat, &side, resolve).unwrap();
        assert_eq!(
            fast,
            apply(&bytes, &cvat, &side, resolve_by_sorting_every_pair).unwrap()
        );
        assert!(fast.1.is_ok() && fast.1.matched > 0);
        // A fresh division of the CVAT-ellipse folder.
        let d = root.join("cvat-ellipse");
        let (bytes, cvat) = read_cvat(&d.join("annotations_4classes.xml"));
        let coco = read_coco(&d.join("annotations_4classes.json"));
        let table = super::super::ScaleTable::load(&d.join("scale.csv")).unwrap();
        let div =
            super::super::reclassify(&coco, &table, &super::super::Rules::default_rules()).unwrap();
        let side = side_of_division(&div);
        let fast = apply(&bytes, &cvat, &side, resolve).unwrap();
        assert_eq!(
            fast,
            apply(&bytes, &cvat, &side, resolve_by_sorting_every_pair).unwrap()
        );
        assert!(fast.1.matched > 0);
    }

    #[test]
    fn iou_of_boxes() {
        assert_eq!(iou(&[0.0, 0.0, 2.0, 2.0], &[1.0, 0.0, 2.0, 2.0]), 2.0 / 6.0);
        assert_eq!(iou(&[0.0, 0.0, 1.0, 1.0], &[5.0, 5.0, 1.0, 1.0]), 0.0);
    }
}
