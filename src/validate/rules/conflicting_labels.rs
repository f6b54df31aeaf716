//! `conflicting-labels` (NS008).

use super::prelude::*;
use crate::validate::shared::overlaps::overlap_findings;

declare_rule! {
    /// ## What it does
    /// Reports two shapes of different classes on one image whose IoU reaches
    /// `thresholds.conflict_iou` (0.8): the same object labelled twice, differently. Found in
    /// the same pass as `duplicate-shape`, and reported the same way: one finding on the later
    /// shape, naming its closest partner and, past one, how many it has; an image where the
    /// per-shape candidate cap (64) applied gets one finding saying so.
    ///
    /// ## Why it matters
    /// One of the two labels is wrong, and which one decides whether the granule is counted as
    /// primary or secondary, and which side of the median it lands on in the 4→7 division.
    ///
    /// ## Example
    /// ```xml
    /// <ellipse label="Primary granules" cx="50.00" cy="50.00" rx="10.00" ry="6.00" .../>
    /// <ellipse label="Secondary granules" cx="50.00" cy="50.20" rx="10.00" ry="6.00" .../>
    /// ```
    /// Reported: `same object as annotation 1 with another class ("Primary granules" vs "Secondary granules", IoU 0.97)`.
    pub(crate) struct ConflictingLabels {
        code: "NS008",
        name: "conflicting-labels",
        severity: Error,
        summary: "Two shapes of different classes on one image nearly coincide.",
    }
}

impl Validation for ConflictingLabels {
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
        let t = ctx.thresholds.conflict_iou;
        overlap_findings(
            ctx,
            &Self::META,
            |same, iou| !same && iou >= t,
            |a, names, iou| {
                format!("same object as annotation {a} with another class ({names}, IoU {iou})")
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::testutil::*;

    #[test]
    fn triggers() {
        let f = run(
            &ConflictingLabels,
            &one_image(vec![
                ann(1, 1, 1, ellipse(50.0, 50.0, 10.0, 6.0, 0.0), 10),
                ann(2, 1, 2, ellipse(50.0, 50.2, 10.0, 6.0, 0.0), 11),
            ]),
        );
        assert_eq!(f.len(), 1);
        snap!("conflicting_labels__trigger", f);
    }

    #[test]
    fn clean() {
        let f = run(
            &ConflictingLabels,
            &one_image(vec![
                ann(1, 1, 1, ellipse(50.0, 50.0, 10.0, 6.0, 0.0), 10),
                ann(2, 1, 1, ellipse(50.0, 50.2, 10.0, 6.0, 0.0), 11),
                ann(3, 1, 2, ellipse(70.0, 50.0, 10.0, 6.0, 0.0), 12),
            ]),
        );
        snap!("conflicting_labels__clean", f);
    }
}
