//! `bbox-mismatch` (NS006).

use super::prelude::*;

declare_rule! {
    /// ## What it does
    /// Compares a COCO annotation's `bbox` and `area` with the part of its shape inside the
    /// image (CVAT's COCO export clips a shape that crosses the image border; CVAT keeps it
    /// as drawn); for such a shape, agreeing with the whole shape is accepted too (writers
    /// that do not clip). A shape recovered from the annotation's own mask is compared with
    /// that mask's box and pixel count instead, which CVAT computed them from. Each edge of the box may differ from that part's tight box by
    /// `thresholds.bbox_tolerance_px` (2.5 px). For an ellipse the area must lie between the
    /// visible areas of the ellipse with both semi-axes shrunk and grown by that tolerance;
    /// for other shapes it may differ by a band of that width around the box's outline.
    ///
    /// The tolerance accepts CVAT's own COCO export, which rasterises each ellipse with its
    /// centre and axes rounded to whole pixels and takes `bbox` and `area` from those pixels:
    /// rounding moves an edge by up to 1 px and OpenCV's filled ellipse reaches about one more
    /// pixel out (measured: up to 2 px on `synth` data).
    ///
    /// ## Why it matters
    /// The 4→7 division computes every diameter from the COCO `bbox`; a box that no longer
    /// matches the ellipse (edited in one place but not the other) moves annotations across
    /// the median and changes their 7-class label.
    ///
    /// ## Example
    /// ```json
    /// {"id": 3, "bbox": [100, 100, 40, 40], "area": 1257,
    ///  "attributes": {"rotation": 0}, ...}   // ellipse cx=120 cy=120 rx=5 ry=5
    /// ```
    /// Reported: `COCO bbox [100, 100, 40, 40] differs from the ellipse's box [115, 115, 10, 10] by up to 30 px`.
    pub(crate) struct BboxMismatch {
        code: "NS006",
        name: "bbox-mismatch",
        severity: Error,
        summary: "A COCO bbox or area disagrees with the shape beyond whole-pixel rounding.",
    }
}

impl Validation for BboxMismatch {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, ctx: &Context<'_>) -> Vec<Finding> {
        use rayon::prelude::*;
        let tol = ctx.thresholds.bbox_tolerance_px;
        let mut out = Vec::new();
        for (d, input) in ctx.inputs.datasets.iter().enumerate() {
            let file = &ctx.inputs.file_label(d);
            let images = images_by_id(&input.dataset);
            // Every annotation is measured (a third of a second at a million, one by one):
            // in parallel, the findings kept in file order.
            out.par_extend(input.dataset.annotations.par_iter().flat_map_iter(|a| {
                let im = images.get(&a.image_id).copied();
                annotation_messages(a, im, tol).into_iter().map(move |m| {
                    let f = Finding::new(&Self::META, file, m).annotation(a);
                    match im {
                        Some(im) => f.image(&im.file_name),
                        None => f,
                    }
                })
            }));
        }
        out
    }
}

/// The bbox and the area message (each `None` when it agrees) for the shape seen in `im`
/// (clipped to it), or whole when `im` is `None`; `None` when nothing of it is in view.
/// The messages of one annotation: none unless it is a finite COCO shape.
fn annotation_messages(a: &Annotation, im: Option<&Image>, tol: f64) -> Vec<String> {
    let Some(c) = &a.coco else {
        return Vec::new();
    };
    if !a.shape.is_finite() {
        return Vec::new();
    }
    // A shape recovered from the annotation's own mask (CVAT's export): the bbox and area
    // describe that mask, exactly; compare with it, not with the fit.
    if let Some(m) = &c.rare.mask_extent {
        return mask_extent_findings(c, m, tol);
    }
    // The part inside the image (what an export that clips keeps), else the whole shape
    // (what a writer that does not clip writes): either one may be right.
    let crosses = im.is_some_and(|im| a.shape.crosses_image_border(im.width, im.height));
    // A shape inside its image is its own visible part: measured once, not once clipped
    // and again whole. Not so an ellipse, whose area band grows it past the border.
    let view = match &a.shape {
        Shape::Ellipse(_) => im,
        _ => im.filter(|_| crosses),
    };
    let Some(visible) = view_messages(a, c, view, tol) else {
        return Vec::new(); // nothing of it inside the image: ellipse-out-of-bounds
    };
    let whole = im
        .filter(|_| crosses)
        .and_then(|_| view_messages(a, c, None, tol));
    match whole {
        None => visible.into_iter().flatten().collect(),
        Some(whole) => visible
            .into_iter()
            .zip(whole)
            .filter_map(|(v, w)| v.filter(|_| w.is_some()))
            .collect(),
    }
}

fn view_messages(
    a: &Annotation,
    c: &CocoExtra,
    im: Option<&Image>,
    tol: f64,
) -> Option<[Option<String>; 2]> {
    let sb = visible_box(a, im)?;
    let kind = a.shape.kind();
    let in_view = |s: &Shape| match im {
        Some(im) => s.area_in_image(im.width, im.height),
        None => s.area(),
    };
    let bbox_msg = c
        .bbox
        .filter(|b| b.iter().all(|v| v.is_finite()))
        .and_then(|b| {
            let diff = edge_difference(&b, &sb);
            (diff > tol).then(|| {
                format!(
                    "COCO bbox [{}] differs from the {kind}'s box [{}] by up to {} px",
                    fmt_box(&b),
                    fmt_box(&sb),
                    num(diff)
                )
            })
        });
    let area_msg = c.area.filter(|v| v.is_finite()).and_then(|area| {
        let (lo, hi) = match &a.shape {
            Shape::Ellipse(e) => {
                let grown = |d: f64| {
                    Shape::Ellipse(Ellipse {
                        rx: (e.rx + d).max(0.0),
                        ry: (e.ry + d).max(0.0),
                        ..*e
                    })
                };
                (in_view(&grown(-tol)), in_view(&grown(tol)))
            }
            s => {
                let band = 2.0 * tol * (sb[2] + sb[3]);
                (in_view(s) - band, in_view(s) + band)
            }
        };
        (area < lo || area > hi).then(|| {
            format!(
                "COCO area {} is outside {}..{} allowed for the {kind} (area {})",
                num(area),
                num(lo.max(0.0)),
                num(hi),
                num(in_view(&a.shape))
            )
        })
    });
    Some([bbox_msg, area_msg])
}

/// The file's `bbox` and `area` against the mask they were computed from: the box edges
/// within the tolerance, the area within a band of that width around the box's outline.
fn mask_extent_findings(c: &CocoExtra, m: &MaskExtent, tol: f64) -> Vec<String> {
    let mut msgs = Vec::new();
    if let Some(b) = c.bbox.filter(|b| b.iter().all(|v| v.is_finite())) {
        let diff = edge_difference(&b, &m.bbox);
        if diff > tol {
            msgs.push(format!(
                "COCO bbox [{}] differs from the box of its own mask [{}] by up to {} px",
                fmt_box(&b),
                fmt_box(&m.bbox),
                num(diff)
            ));
        }
    }
    if let Some(area) = c.area.filter(|v| v.is_finite()) {
        let band = 2.0 * tol * (m.bbox[2] + m.bbox[3]);
        let px = m.area as f64;
        if (area - px).abs() > band {
            msgs.push(format!(
                "COCO area {} differs from its own mask's {} pixels by more than {}",
                num(area),
                m.area,
                num(band)
            ));
        }
    }
    msgs
}

/// Largest distance between corresponding edges of two `[x, y, w, h]` boxes.
fn edge_difference(a: &[f64; 4], b: &[f64; 4]) -> f64 {
    [
        (a[0] - b[0]).abs(),
        (a[1] - b[1]).abs(),
        (a[0] + a[2] - b[0] - b[2]).abs(),
        (a[1] + a[3] - b[1] - b[3]).abs(),
    ]
    .into_iter()
    .fold(0.0, f64::max)
}

fn fmt_box(b: &[f64; 4]) -> String {
    b.iter().map(|v| num(*v)).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::testutil::*;

    #[test]
    fn triggers() {
        let mut a = coco_ann(3, 1, 1, ellipse(120.0, 120.0, 5.0, 5.0, 0.0), 10);
        if let Some(c) = a.coco.as_mut() {
            c.bbox = Some([100.0, 100.0, 40.0, 40.0]);
            c.area = Some(1257.0);
        }
        let mut inputs = one_image(vec![a]);
        inputs.datasets[0].dataset.images[0].width = 400;
        inputs.datasets[0].dataset.images[0].height = 400;
        let f = run(&BboxMismatch, &inputs);
        assert_eq!(f.len(), 2);
        snap!("bbox_mismatch__trigger", f);
    }

    #[test]
    fn clean_accepts_cvat_whole_pixel_export() {
        // CVAT exports cx=20.4, rx=6.4 as the rasterised ellipse cx=20, rx=6: bbox [14, ..].
        let mut a = coco_ann(1, 1, 1, ellipse(20.4, 30.6, 6.4, 3.45, 0.0), 10);
        if let Some(c) = a.coco.as_mut() {
            c.bbox = Some([14.0, 28.0, 13.0, 7.0]);
            c.area = Some(61.0);
        }
        let f = run(&BboxMismatch, &one_image(vec![a]));
        snap!("bbox_mismatch__clean", f);
    }
}
