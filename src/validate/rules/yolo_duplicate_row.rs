//! `yolo-duplicate-row` (NS025).

use super::prelude::*;
use crate::training::yolo_labels::RowProblem;
use crate::validate::shared::yolo_rows::row_findings;

declare_rule! {
    /// ## What it does
    /// Reports a YOLO label row that repeats an earlier row of the same file exactly (same
    /// class, same values). The repeat is left out of the checked dataset.
    ///
    /// ## Why it matters
    /// Ultralytics drops duplicate rows with a warning (`duplicate labels removed`); a
    /// duplicate is a copy-paste slip that doubles one object's weight in other trainers.
    ///
    /// ## Example
    /// ```text
    /// 0 0.5 0.5 0.1 0.1
    /// 0 0.5 0.5 0.1 0.1
    /// ```
    /// Reported at 2:1: `the same row as line 1`.
    pub(crate) struct YoloDuplicateRow {
        code: "NS025",
        name: "yolo-duplicate-row",
        severity: Warning,
        summary: "A YOLO label file repeats a row exactly.",
    }
}

impl Validation for YoloDuplicateRow {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, ctx: &Context<'_>) -> Vec<Finding> {
        row_findings(ctx, &Self::META, RowProblem::Duplicate)
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
            &YoloDuplicateRow,
            &yolo_inputs(
                "0 0.5 0.5 0.1 0.1\n0 0.5 0.5 0.1 0.1\n1 0.5 0.5 0.1 0.1\n0 0.5 0.50 0.1 0.1\n",
                Flavour::Detect,
            ),
        );
        assert_eq!(f.len(), 2);
        snap!("yolo_duplicate_row__trigger", f);
    }

    #[test]
    fn clean() {
        let f = run(
            &YoloDuplicateRow,
            &yolo_inputs(
                "0 0.5 0.5 0.1 0.1\n1 0.5 0.5 0.1 0.1\n0 0.5 0.5 0.1 0.2\n",
                Flavour::Detect,
            ),
        );
        snap!("yolo_duplicate_row__clean", f);
    }
}
