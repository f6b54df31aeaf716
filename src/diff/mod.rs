//! What changed between two versions of an annotation file (`neutrostruct diff OLD NEW`).
//!
//! Images are matched by file name (folders ignored). Shapes are matched by annotation id
//! when ids are stable — both files carry COCO ids and at least half of the old annotations
//! keep their id on the same image — else one-to-one by tight-box IoU ≥ 0.5, greedily best
//! first (tags, which have no box, pair by class). Each matched pair is **relabeled** when its
//! class name differs and **moved** when its geometry moved by more than 0.01 px (largest
//! displacement of the ellipse's axis end points, of box corners or polygon vertices); a pair
//! that is both counts in both. **unchanged** counts pairs that are neither. Unmatched old
//! shapes are **removed**, unmatched new shapes **added**.
//!
//! A tolerance (`diff_with_tolerance`) raises that threshold: a pair whose largest
//! displacement is below it is unchanged, so re-exports that round every coordinate (CVAT →
//! COCO moves shapes by 0.3–2 px) compare as equal. The default, 0, keeps the 0.01 px rule.
//!
//! In IoU mode a shape moved so far that its box no longer overlaps its old box by half is
//! reported as removed and added: without ids nothing else can tell it is the same shape.

pub mod html;
pub mod json;
pub mod markdown;
pub mod text;

use crate::model::{Annotation, Dataset, Point, Shape};
use crate::validate::geom::match_boxes;
use serde::Serialize;
use std::collections::HashMap;

/// Geometry within this distance (px) is unchanged.
pub(crate) const MOVE_EPSILON_PX: f64 = 0.01;
/// Minimum tight-box IoU to pair shapes when ids are not stable.
pub(crate) const MATCH_IOU: f64 = 0.5;

/// How shapes were paired.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MatchedBy {
    /// By annotation id (ids are stable between the files).
    Id,
    /// By box IoU of same-image shapes (ids were renumbered).
    Iou,
}

/// One kind of change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    /// Only in the new file.
    Added,
    /// Only in the old file.
    Removed,
    /// Another class.
    Relabeled,
    /// Another position or size.
    Moved,
}

/// Totals over all images.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DiffSummary {
    /// Shapes only in the new file.
    pub added: usize,
    /// Shapes only in the old file.
    pub removed: usize,
    /// Shapes with another class.
    pub relabeled: usize,
    /// Shapes moved or resized.
    pub moved: usize,
    /// Shapes the same in both.
    pub unchanged: usize,
    /// Images only in the new file / only in the old file.
    pub images_added: usize,
    /// Images only in the old file.
    pub images_removed: usize,
}

/// One shape that changed.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Change {
    /// `added`, `removed`, or one or both of `relabeled` and `moved`.
    pub kinds: Vec<ChangeKind>,
    /// The annotation id in the old file.
    pub old_id: Option<u64>,
    /// The annotation id in the new file.
    pub new_id: Option<u64>,
    /// The class in the old file.
    pub old_class: Option<String>,
    /// The class in the new file.
    pub new_class: Option<String>,
    /// Shape kind (`ellipse`, …) on the new side, else the old.
    pub shape: &'static str,
    /// Largest displacement in px, for moved shapes (`null` when not measurable, e.g. a shape
    /// that changed kind).
    pub moved_px: Option<f64>,
    /// 1-based line in the old file.
    pub old_line: Option<u32>,
    /// 1-based line in the new file.
    pub new_line: Option<u32>,
}

/// The changes on one image.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ImageDiff {
    /// The image's file name.
    pub image: String,
    /// `added`, `removed`, `changed` or `unchanged`.
    pub status: &'static str,
    /// Shapes only in the new file.
    pub added: usize,
    /// Shapes only in the old file.
    pub removed: usize,
    /// Shapes with another class.
    pub relabeled: usize,
    /// Shapes moved or resized.
    pub moved: usize,
    /// Shapes the same in both.
    pub unchanged: usize,
    /// Changed shapes in new-document order, then removed ones in old-document order.
    pub changes: Vec<Change>,
}

/// The whole diff.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DiffReport {
    /// Totals over all images.
    pub summary: DiffSummary,
    /// How shapes were paired.
    pub matched_by: MatchedBy,
    /// New images in the new file's order, then images only the old file has.
    pub images: Vec<ImageDiff>,
}

/// One image's counts, without its list of changes (`diff --summary --per-image`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ImageCounts {
    /// The image's file name.
    pub image: String,
    /// `added`, `removed`, `changed` or `unchanged`.
    pub status: &'static str,
    /// Shapes only in the new file.
    pub added: usize,
    /// Shapes only in the old file.
    pub removed: usize,
    /// Shapes with another class.
    pub relabeled: usize,
    /// Shapes moved or resized.
    pub moved: usize,
    /// Shapes the same in both.
    pub unchanged: usize,
}

/// The counts of a diff without the changes themselves (`diff --summary`): totals, and the
/// images that changed when asked for.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SummaryView {
    /// Totals over all images.
    pub summary: DiffSummary,
    /// How shapes were paired.
    pub matched_by: MatchedBy,
    /// Images that changed (added, removed or with a changed shape), in the report's order;
    /// absent unless asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub images: Option<Vec<ImageCounts>>,
}

impl DiffReport {
    /// The counts only; `per_image` adds one entry per image that changed.
    pub fn summary_view(&self, per_image: bool) -> SummaryView {
        SummaryView {
            summary: self.summary,
            matched_by: self.matched_by,
            images: per_image.then(|| {
                self.images
                    .iter()
                    .filter(|i| i.status != "unchanged")
                    .map(|i| ImageCounts {
                        image: i.image.clone(),
                        status: i.status,
                        added: i.added,
                        removed: i.removed,
                        relabeled: i.relabeled,
                        moved: i.moved,
                        unchanged: i.unchanged,
                    })
                    .collect()
            }),
        }
    }

    /// Whether anything changed.
    pub fn is_empty(&self) -> bool {
        let s = &self.summary;
        s.added + s.removed + s.relabeled + s.moved + s.images_added + s.images_removed == 0
    }
}

fn key(name: &str) -> &str {
    name.rsplit(['/', '\\']).next().unwrap_or(name)
}

fn class_names(ds: &Dataset) -> HashMap<crate::model::CategoryId, String> {
    ds.categories
        .iter()
        .map(|c| (c.id, c.name.clone()))
        .collect()
}

/// Stable ids: both sides have COCO ids and most old annotations keep id and image.
fn ids_stable(old: &Dataset, new: &Dataset) -> bool {
    if old.annotations.is_empty() || new.annotations.is_empty() {
        return false;
    }
    if !old
        .annotations
        .iter()
        .chain(&new.annotations)
        .all(|a| a.coco.is_some())
    {
        return false;
    }
    let name_of = |ds: &Dataset| -> HashMap<crate::model::ImageId, String> {
        ds.images
            .iter()
            .map(|im| (im.id, key(&im.file_name).to_string()))
            .collect()
    };
    let (on, nn) = (name_of(old), name_of(new));
    let new_by_id: HashMap<u64, &Annotation> =
        new.annotations.iter().map(|a| (a.id.0, a)).collect();
    let same = old
        .annotations
        .iter()
        .filter(|a| {
            new_by_id
                .get(&a.id.0)
                .is_some_and(|b| on.get(&a.image_id) == nn.get(&b.image_id))
        })
        .count();
    2 * same >= old.annotations.len()
}

/// Compares two datasets. Counts are exact: every old shape is matched, removed or both
/// sides' shapes are accounted for once.
pub fn diff(old: &Dataset, new: &Dataset) -> DiffReport {
    diff_with_tolerance(old, new, 0.0)
}

/// [`diff`], with matched shapes whose largest displacement is below `tolerance_px` counted
/// as unchanged rather than moved (0 or less: the plain 0.01 px rule).
pub(crate) fn diff_with_tolerance(old: &Dataset, new: &Dataset, tolerance_px: f64) -> DiffReport {
    let by_id = ids_stable(old, new);
    let (old_groups, new_groups) = (old.annotations_by_image(), new.annotations_by_image());
    let old_by_key: HashMap<&str, &Vec<&Annotation>> = old_groups
        .iter()
        .map(|(im, a)| (key(&im.file_name), a))
        .collect();
    let new_keys: std::collections::HashSet<&str> = new_groups
        .iter()
        .map(|(im, _)| key(&im.file_name))
        .collect();
    let (on, nn) = (class_names(old), class_names(new));
    let empty = Vec::new();
    let mut images = Vec::new();
    let mut summary = DiffSummary::default();
    for (im, new_anns) in &new_groups {
        let old_anns = old_by_key.get(key(&im.file_name)).copied();
        if old_anns.is_none() {
            summary.images_added += 1;
        }
        let d = diff_image(
            im,
            old_anns.unwrap_or(&empty),
            new_anns,
            &on,
            &nn,
            by_id,
            old_anns.is_some(),
            tolerance_px,
        );
        images.push(d);
    }
    for (im, old_anns) in &old_groups {
        if !new_keys.contains(key(&im.file_name)) {
            summary.images_removed += 1;
            images.push(diff_image(
                im,
                old_anns,
                &empty,
                &on,
                &nn,
                by_id,
                false,
                tolerance_px,
            ));
            if let Some(last) = images.last_mut() {
                last.status = "removed";
            }
        }
    }
    for d in &images {
        summary.added += d.added;
        summary.removed += d.removed;
        summary.relabeled += d.relabeled;
        summary.moved += d.moved;
        summary.unchanged += d.unchanged;
    }
    DiffReport {
        summary,
        matched_by: if by_id { MatchedBy::Id } else { MatchedBy::Iou },
        images,
    }
}

// One image's comparison needs both sides, both class tables and the three settings; a
// struct for a single private call site would only move the list.
#[allow(clippy::too_many_arguments)]
fn diff_image(
    im: &crate::model::Image,
    old: &[&Annotation],
    new: &[&Annotation],
    on: &HashMap<crate::model::CategoryId, String>,
    nn: &HashMap<crate::model::CategoryId, String>,
    by_id: bool,
    in_old: bool,
    tolerance_px: f64,
) -> ImageDiff {
    let pairs = if by_id {
        pair_by_id(old, new)
    } else {
        pair_by_iou(old, new, on, nn, (im.width, im.height))
    };
    let mut old_used = vec![false; old.len()];
    let mut new_pair: Vec<Option<usize>> = vec![None; new.len()];
    for &(i, j) in &pairs {
        old_used[i] = true;
        new_pair[j] = Some(i);
    }
    let class = |m: &HashMap<crate::model::CategoryId, String>, a: &Annotation| {
        m.get(&a.category_id)
            .cloned()
            .unwrap_or_else(|| format!("[category {}]", a.category_id))
    };
    let mut d = ImageDiff {
        image: im.file_name.clone(),
        status: "unchanged",
        added: 0,
        removed: 0,
        relabeled: 0,
        moved: 0,
        unchanged: 0,
        changes: Vec::new(),
    };
    for (j, b) in new.iter().enumerate() {
        let base = Change {
            kinds: Vec::new(),
            old_id: None,
            new_id: Some(b.id.0),
            old_class: None,
            new_class: Some(class(nn, b)),
            shape: b.shape.kind(),
            moved_px: None,
            old_line: None,
            new_line: b.loc.map(|l| l.line),
        };
        match new_pair[j] {
            None => {
                d.added += 1;
                d.changes.push(Change {
                    kinds: vec![ChangeKind::Added],
                    ..base
                });
            }
            Some(i) => {
                let a = old[i];
                let mut c = Change {
                    old_id: Some(a.id.0),
                    old_class: Some(class(on, a)),
                    old_line: a.loc.map(|l| l.line),
                    ..base
                };
                if c.old_class != c.new_class {
                    c.kinds.push(ChangeKind::Relabeled);
                    d.relabeled += 1;
                }
                let delta = displacement(&a.shape, &b.shape);
                if delta.is_none_or(|v| v > MOVE_EPSILON_PX && v >= tolerance_px) {
                    c.kinds.push(ChangeKind::Moved);
                    c.moved_px = delta.map(|v| (v * 100.0).round() / 100.0);
                    d.moved += 1;
                }
                if c.kinds.is_empty() {
                    d.unchanged += 1;
                } else {
                    d.changes.push(c);
                }
            }
        }
    }
    for (_, a) in old.iter().enumerate().filter(|(i, _)| !old_used[*i]) {
        d.removed += 1;
        d.changes.push(Change {
            kinds: vec![ChangeKind::Removed],
            old_id: Some(a.id.0),
            new_id: None,
            old_class: Some(class(on, a)),
            new_class: None,
            shape: a.shape.kind(),
            moved_px: None,
            old_line: a.loc.map(|l| l.line),
            new_line: None,
        });
    }
    d.status = if !in_old {
        "added"
    } else if d.changes.is_empty() {
        "unchanged"
    } else {
        "changed"
    };
    d
}

fn pair_by_id(old: &[&Annotation], new: &[&Annotation]) -> Vec<(usize, usize)> {
    let mut idx: HashMap<u64, usize> = HashMap::new();
    for (i, a) in old.iter().enumerate() {
        idx.entry(a.id.0).or_insert(i);
    }
    let mut used = vec![false; old.len()];
    let mut out = Vec::new();
    for (j, b) in new.iter().enumerate() {
        if let Some(&i) = idx.get(&b.id.0) {
            if !used[i] {
                used[i] = true;
                out.push((i, j));
            }
        }
    }
    out
}

fn pair_by_iou(
    old: &[&Annotation],
    new: &[&Annotation],
    on: &HashMap<crate::model::CategoryId, String>,
    nn: &HashMap<crate::model::CategoryId, String>,
    (width, height): (u32, u32),
) -> Vec<(usize, usize)> {
    // Boxes of the part inside the image (`model/clip.rs`), so that a CVAT ellipse crossing
    // the border pairs with its COCO export, which kept only that part; a shape wholly
    // outside keeps its own box.
    let visible = |a: &&Annotation| {
        a.shape
            .bbox_in_image(width, height)
            .or_else(|| a.shape.bbox())
    };
    let ob: Vec<Option<[f64; 4]>> = old.iter().map(visible).collect();
    let nb: Vec<Option<[f64; 4]>> = new.iter().map(visible).collect();
    let m = match_boxes(&ob, &nb, MATCH_IOU);
    let mut out: Vec<(usize, usize)> = m.pairs.iter().map(|p| (p.0, p.1)).collect();
    // Shapes without a box (tags): pair by class name, in document order.
    let mut free_new: Vec<usize> = m
        .unmatched_b
        .iter()
        .copied()
        .filter(|&j| nb[j].is_none())
        .collect();
    for i in m.unmatched_a.iter().copied().filter(|&i| ob[i].is_none()) {
        let name = on.get(&old[i].category_id);
        if let Some(pos) = free_new
            .iter()
            .position(|&j| nn.get(&new[j].category_id) == name)
        {
            out.push((i, free_new.remove(pos)));
        }
    }
    out
}

/// Largest displacement between two shapes' defining points, `None` when they cannot be
/// compared point for point (different kinds or point counts, masks that differ).
pub(crate) fn displacement(a: &Shape, b: &Shape) -> Option<f64> {
    match (a, b) {
        (Shape::Ellipse(x), Shape::Ellipse(y)) => {
            let round = |e: &crate::model::Ellipse| (e.rx - e.ry).abs() <= MOVE_EPSILON_PX;
            if round(x) && round(y) {
                // A circle's rotation is not geometry.
                return Some(
                    [x.cx - y.cx, x.cy - y.cy, x.rx - y.rx, x.ry - y.ry]
                        .iter()
                        .fold(0.0, |m, v| v.abs().max(m)),
                );
            }
            Some(hausdorff(&axis_ends(x), &axis_ends(y)))
        }
        (Shape::Box(x), Shape::Box(y)) => Some(hausdorff(&x.corners(), &y.corners())),
        (Shape::Polygon(x), Shape::Polygon(y)) => {
            (x.len() == y.len() && x.iter().zip(y).all(|(p, q)| p.len() == q.len())).then(|| {
                x.iter()
                    .zip(y)
                    .map(|(p, q)| pointwise(&p.to_vec(), &q.to_vec()))
                    .fold(0.0, f64::max)
            })
        }
        (Shape::Polyline(x), Shape::Polyline(y)) | (Shape::Points(x), Shape::Points(y)) => {
            (x.len() == y.len()).then(|| pointwise(x, y))
        }
        (Shape::Mask(x), Shape::Mask(y)) => (x == y).then_some(0.0),
        (Shape::Tag, Shape::Tag) => Some(0.0),
        _ => None,
    }
}

fn axis_ends(e: &crate::model::Ellipse) -> [Point; 4] {
    let (s, c) = e.rotation.to_radians().sin_cos();
    [
        [e.cx + e.rx * c, e.cy + e.rx * s],
        [e.cx - e.rx * c, e.cy - e.rx * s],
        [e.cx - e.ry * s, e.cy + e.ry * c],
        [e.cx + e.ry * s, e.cy - e.ry * c],
    ]
}

fn dist(p: &Point, q: &Point) -> f64 {
    ((p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2)).sqrt()
}

/// Symmetric Hausdorff distance of two point sets: equal sets in any order give 0, so an
/// ellipse turned by 180°, or with its axes swapped and turned by 90°, has not moved.
fn hausdorff(a: &[Point], b: &[Point]) -> f64 {
    let one = |a: &[Point], b: &[Point]| {
        a.iter()
            .map(|p| b.iter().map(|q| dist(p, q)).fold(f64::INFINITY, f64::min))
            .fold(0.0, f64::max)
    };
    one(a, b).max(one(b, a))
}

fn pointwise(a: &[Point], b: &[Point]) -> f64 {
    a.iter().zip(b).map(|(p, q)| dist(p, q)).fold(0.0, f64::max)
}

#[cfg(test)]
mod tests;
