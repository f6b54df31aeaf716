//! `excessive-overlap` (NS009).

use super::prelude::*;
use crate::validate::shared::overlaps::overlap_findings;

declare_rule! {
    /// ## What it does
    /// Warns about two shapes on one image whose IoU reaches `thresholds.overlap_iou` (0.5)
    /// without being a duplicate or a conflict (those rules report higher IoU). One finding per
    /// shape, on the later of each pair, naming the partner it overlaps most and, past one, how
    /// many it overlaps; an image where the per-shape candidate cap (64) applied gets one
    /// finding saying so.
    ///
    /// ## Why it matters
    /// Granules and vesicles do not overlap much in a section; heavy overlap usually means a
    /// shape drawn over the wrong object or resized by accident. It may be right (touching
    /// objects at low magnification), hence a warning that an `[[ignore]]` with a reason can
    /// silence.
    ///
    /// ## Example
    /// ```xml
    /// <ellipse label="Primary granules" cx="50.00" cy="50.00" rx="10.00" ry="10.00" .../>
    /// <ellipse label="Primary granules" cx="55.00" cy="50.00" rx="10.00" ry="10.00" .../>
    /// ```
    /// Reported: `overlaps annotation 1 heavily ("Primary granules", IoU 0.52)`.
    pub(crate) struct ExcessiveOverlap {
        code: "NS009",
        name: "excessive-overlap",
        severity: Warning,
        summary: "Two shapes on one image overlap heavily (IoU ≥ 0.5).",
    }
}

impl Validation for ExcessiveOverlap {
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
        let t = ctx.thresholds;
        overlap_findings(
            ctx,
            &Self::META,
            |same, iou| {
                iou >= t.overlap_iou
                    && iou
                        < if same {
                            t.duplicate_iou
                        } else {
                            t.conflict_iou
                        }
            },
            |a, names, iou| format!("overlaps annotation {a} heavily ({names}, IoU {iou})"),
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
            &ExcessiveOverlap,
            &one_image(vec![
                ann(1, 1, 1, ellipse(50.0, 50.0, 10.0, 10.0, 0.0), 10),
                ann(2, 1, 1, ellipse(55.0, 50.0, 10.0, 10.0, 0.0), 11),
                // A near-duplicate is duplicate-shape's, not this rule's.
                ann(3, 1, 3, ellipse(20.0, 20.0, 5.0, 5.0, 0.0), 12),
                ann(4, 1, 3, ellipse(20.1, 20.0, 5.0, 5.0, 0.0), 13),
            ]),
        );
        assert_eq!(f.len(), 1);
        snap!("excessive_overlap__trigger", f);
    }

    #[test]
    fn clean() {
        let f = run(
            &ExcessiveOverlap,
            &one_image(vec![
                ann(1, 1, 1, ellipse(50.0, 50.0, 10.0, 10.0, 0.0), 10),
                ann(2, 1, 1, ellipse(62.0, 50.0, 10.0, 10.0, 0.0), 11),
            ]),
        );
        snap!("excessive_overlap__clean", f);
    }
}
