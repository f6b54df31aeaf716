//! `yolo-degenerate-row` (NS026).

use super::prelude::*;
use crate::training::yolo_labels::RowProblem;
use crate::validate::shared::yolo_rows::row_findings;

declare_rule! {
    /// ## What it does
    /// Reports a YOLO box row of zero width or height, and a segment row of 1 or 2 points
    /// (3 or 5 columns in a segmentation dataset).
    ///
    /// ## Why it matters
    /// Such a row covers no area: it cannot be matched by any prediction, so it counts as a
    /// missed object in every evaluation, and a zero-size box divides by zero in some losses.
    ///
    /// ## Example
    /// ```text
    /// 0 0.5 0.5 0 0.1
    /// ```
    /// Reported at 1:1: `box of zero width or height`.
    pub(crate) struct YoloDegenerateRow {
        code: "NS026",
        name: "yolo-degenerate-row",
        severity: Error,
        summary: "A YOLO box has zero width or height, or a segment has fewer than 3 points.",
    }
}

impl Validation for YoloDegenerateRow {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, ctx: &Context<'_>) -> Vec<Finding> {
        row_findings(ctx, &Self::META, RowProblem::Degenerate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::training::yolo::Flavour;
    use crate::validate::shared::yolo_rows::testutil::yolo_inputs;
    use crate::validate::testutil::*;

    #[test]
    fn triggers() {
        let f = run(
            &YoloDegenerateRow,
            &yolo_inputs(
                "0 0.5 0.5 0 0.1\n0 0.5 0.5 0.1 0.0\n0 0.5 0.5 0.1 0.1\n",
                Flavour::Detect,
            ),
        );
        assert_eq!(f.len(), 2);
        snap!("yolo_degenerate_row__trigger", f);
    }

    #[test]
    fn clean() {
        let f = run(
            &YoloDegenerateRow,
            &yolo_inputs("0 0.1 0.1 0.2 0.1 0.2 0.2\n", Flavour::Segment),
        );
        snap!("yolo_degenerate_row__clean", f);
    }
}
