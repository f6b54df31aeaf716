//! `duplicate-shape` (NS007).

use super::prelude::*;

declare_rule! {
    /// ## What it does
    /// Reports two shapes of the same class on one image whose IoU reaches
    /// `thresholds.duplicate_iou` (0.8). IoU is exact for the rotated shapes (sampled finely
    /// over the pair's union box), and candidate pairs come from an R-tree of shape boxes, so
    /// a dataset of a million annotations is checked without comparing all pairs.
    ///
    /// ## Why it matters
    /// A granule annotated twice counts twice in the statistics of the 4→7 division and trains
    /// a detector to predict duplicates.
    ///
    /// ## Example
    /// ```xml
    /// <ellipse label="Primary granules" cx="50.00" cy="50.00" rx="10.00" ry="6.00" .../>
    /// <ellipse label="Primary granules" cx="50.50" cy="50.00" rx="10.00" ry="6.00" .../>
    /// ```
    /// The second is reported: `near-duplicate of annotation 1 (same class "Primary granules", IoU 0.94)`.
    pub struct DuplicateShape {
        code: "NS007",
        name: "duplicate-shape",
        severity: Error,
        summary: "Two shapes of the same class on one image nearly coincide.",
    }
}

impl Validation for DuplicateShape {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn uses(&self) -> Shared {
        Shared {
            overlaps: true,
            ..Shared::default()
        }
    }

    fn check(&self, ctx: &Context<'_>) -> Vec<Finding> {
        let t = ctx.thresholds.duplicate_iou;
        overlap_findings(
            ctx,
            &Self::META,
            |same, iou| same && iou >= t,
            |a, name, iou| {
                format!("near-duplicate of annotation {a} (same class {name}, IoU {iou})")
            },
        )
    }
}

/// Findings for every overlap pair that `keep(same_class, iou)` selects, reported on the
/// later shape of the pair. Shared by the three overlap rules.
pub(crate) fn overlap_findings(
    ctx: &Context<'_>,
    meta: &RuleMeta,
    keep: impl Fn(bool, f64) -> bool,
    message: impl Fn(AnnotationId, String, String) -> String,
) -> Vec<Finding> {
    let mut out = Vec::new();
    for p in ctx.overlaps() {
        let input = &ctx.inputs.datasets[p.dataset];
        let ds = &input.dataset;
        let (a, b) = (&ds.annotations[p.a], &ds.annotations[p.b]);
        let same = a.category_id == b.category_id;
        if !keep(same, p.iou) {
            continue;
        }
        let names = class_names(ds);
        let label = if same {
            format!("{:?}", class_of(&names, a))
        } else {
            format!("{:?} vs {:?}", class_of(&names, a), class_of(&names, b))
        };
        let im = &ds.images[p.image];
        out.push(
            Finding::new(
                meta,
                ctx.inputs.file_label(p.dataset),
                message(a.id, label, format!("{:.2}", p.iou)),
            )
            .annotation(b)
            .image(&im.file_name),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::testutil::*;

    #[test]
    fn triggers() {
        let f = run(
            &DuplicateShape,
            &one_image(vec![
                ann(1, 1, 1, ellipse(50.0, 50.0, 10.0, 6.0, 0.0), 10),
                ann(2, 1, 1, ellipse(50.5, 50.0, 10.0, 6.0, 0.0), 11),
            ]),
        );
        assert_eq!(f.len(), 1);
        snap!("duplicate_shape__trigger", f);
    }

    #[test]
    fn clean() {
        // Same box, different orientation: the boxes coincide but the ellipses do not.
        let f = run(
            &DuplicateShape,
            &one_image(vec![
                ann(1, 1, 1, ellipse(50.0, 50.0, 10.0, 3.0, 45.0), 10),
                ann(2, 1, 1, ellipse(50.0, 50.0, 10.0, 3.0, -45.0), 11),
                ann(3, 1, 2, ellipse(50.0, 50.0, 10.0, 3.0, 45.0), 12),
            ]),
        );
        assert!(f.iter().all(|f| f.annotation_id != Some(2)));
        // 3 duplicates 1 in shape but not in class: conflicting-labels, not this rule.
        snap!("duplicate_shape__clean", f);
    }
}
