//! Carrying the division into a CVAT XML file by matching shapes to COCO annotations.
//!
//! The published TEM-NeutroStruct CVAT and COCO files have no shared ids, so each CVAT shape is
//! paired with the COCO annotation of the same image and the same 4-class label whose box
//! overlaps it most (box IoU ≥ 0.5), one to one. Pairs are found through a uniform grid of
//! the COCO boxes (≈260 per image), not by comparing all pairs. A shape with no partner, or
//! a shape whose equally good partners would give it different labels, is reported — never
//! guessed — and the caller fails. Pairs are assigned one to one, best IoU first.
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
pub const MIN_IOU: f64 = 0.5;

/// Grid cell size in pixels: granules are 10–60 px across, so a shape touches few cells.
const CELL: f64 = 64.0;

/// A CVAT shape that could not be given a 7-class label.
#[derive(Clone, Debug, PartialEq)]
pub struct ShapeIssue {
    pub image: String,
    /// The shape's number in the CVAT dataset (document order).
    pub shape: AnnotationId,
    /// Element name (`ellipse`, `box`, …).
    pub kind: &'static str,
    pub label: String,
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
    let side = CocoSide {
        image_names: coco.images.iter().map(|im| im.file_name.as_str()).collect(),
        partners,
        source_keys: division.source_classes.iter().map(|c| loose(c)).collect(),
        target_categories: &coco.categories,
    };
    apply(cvat_bytes, cvat_ds, &side)
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
    let side = CocoSide {
        image_names: coco4
            .images
            .iter()
            .map(|im| im.file_name.as_str())
            .collect(),
        partners,
        source_keys: coco4.categories.iter().map(|c| loose(&c.name)).collect(),
        target_categories: &coco7.categories,
    };
    apply(cvat_bytes, cvat_ds, &side)
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

fn apply(cvat_bytes: &[u8], cvat_ds: &Dataset, coco: &CocoSide) -> Result<(Vec<u8>, MatchReport)> {
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

    // CVAT side: best partner of each shape.
    let cvat_img: HashMap<_, _> = cvat_ds.images.iter().map(|im| (im.id, im)).collect();
    let mut report = MatchReport::default();
    let mut wants: Vec<(usize, Option<usize>, f64)> = Vec::with_capacity(cvat_ds.annotations.len());
    let mut stamp = vec![usize::MAX; cands.len()];
    let mut missing_images = std::collections::BTreeSet::new();
    let mut scratch: Vec<usize> = Vec::new();
    // Every (shape, COCO annotation, IoU) with IoU ≥ MIN_IOU.
    let mut pairs: Vec<(usize, usize, f64)> = Vec::new();
    for (si, s) in cvat_ds.annotations.iter().enumerate() {
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
        let (Some(img), Some(b)) = (img, box_) else {
            if img.is_none() {
                missing_images.insert(name.to_string());
            }
            wants.push((si, None, 0.0));
            continue;
        };
        let g = &grids[img];
        scratch.clear();
        match cell_range(&b) {
            Some((x0, y0, x1, y1)) => {
                for x in x0..=x1 {
                    for y in y0..=y1 {
                        scratch.extend(g.cells.get(&(x, y)).into_iter().flatten());
                    }
                }
                scratch.extend(&g.large);
            }
            None => scratch.extend(&g.all),
        }
        let key = loose(cvat_label(s.category_id));
        let mut best = 0.0f64;
        for &ci in &scratch {
            if stamp[ci] == si || cands[ci].key != key {
                continue;
            }
            stamp[ci] = si;
            let v = iou(&b, &cands[ci].bbox);
            best = best.max(v);
            if v >= MIN_IOU {
                pairs.push((si, ci, v));
            }
        }
        wants.push((si, None, best));
    }
    report.missing_images = missing_images.into_iter().collect();

    // One to one, best IoU first (ties in document order, then COCO id), as the validator's
    // matching does: two identical shapes over two identical annotations (a duplicate drawn
    // twice) pair up instead of both wanting the first. A shape is a conflict only where the
    // choice matters: an equally good partner it was not given has another 7-class label.
    pairs.sort_by(|a, b| {
        b.2.total_cmp(&a.2)
            .then(a.0.cmp(&b.0))
            .then(cands[a.1].id.cmp(&cands[b.1].id))
    });
    let mut taken = vec![false; cands.len()];
    let mut given = vec![false; cvat_ds.annotations.len()];
    let slot: HashMap<usize, usize> = wants.iter().enumerate().map(|(k, w)| (w.0, k)).collect();
    for &(si, ci, v) in &pairs {
        if given[si] || taken[ci] {
            continue;
        }
        given[si] = true;
        taken[ci] = true;
        if let Some(&k) = slot.get(&si) {
            wants[k].1 = Some(ci);
            wants[k].2 = v;
        }
    }
    let mut ambiguous: HashMap<usize, AnnotationId> = HashMap::new();
    for &(si, ci, v) in &pairs {
        let Some(&k) = slot.get(&si) else { continue };
        let (Some(mine), best_v) = (wants[k].1, wants[k].2) else {
            continue;
        };
        if ci != mine && v == best_v && loose(&cands[ci].target) != loose(&cands[mine].target) {
            ambiguous.entry(si).or_insert(cands[ci].id);
        }
    }
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

    #[test]
    fn iou_of_boxes() {
        assert_eq!(iou(&[0.0, 0.0, 2.0, 2.0], &[1.0, 0.0, 2.0, 2.0]), 2.0 / 6.0);
        assert_eq!(iou(&[0.0, 0.0, 1.0, 1.0], &[5.0, 5.0, 1.0, 1.0]), 0.0);
    }
}
