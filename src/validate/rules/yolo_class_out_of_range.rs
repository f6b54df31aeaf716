//! `yolo-class-out-of-range` (NS023).

use super::prelude::*;
use crate::training::yolo_labels::RowProblem;
use crate::validate::shared::yolo_rows::row_findings;

declare_rule! {
    /// ## What it does
    /// Reports a YOLO label row whose class index is not below the number of classes
    /// `data.yaml` declares (`nc`, or the length of `names`).
    ///
    /// ## Why it matters
    /// Ultralytics rejects the label file (`Label class 4 exceeds dataset class count 4`);
    /// other trainers index past the class table or silently train a class nobody named.
    ///
    /// ## Example
    /// With `names: [a, b]`:
    /// ```text
    /// 2 0.5 0.5 0.1 0.1
    /// ```
    /// Reported at 1:1: `class 2 is not below the number of classes (2)`.
    pub(crate) struct YoloClassOutOfRange {
        code: "NS023",
        name: "yolo-class-out-of-range",
        severity: Error,
        summary: "A YOLO label row names a class not below the number of classes in data.yaml.",
    }
}

impl Validation for YoloClassOutOfRange {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, ctx: &Context<'_>) -> Vec<Finding> {
        row_findings(ctx, &Self::META, RowProblem::ClassOutOfRange)
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
            &YoloClassOutOfRange,
            &yolo_inputs(
                "2 0.5 0.5 0.1 0.1\n1 0.5 0.5 0.1 0.1\n7 0.5 0.5 0.1 0.1\n",
                Flavour::Detect,
            ),
        );
        assert_eq!(f.len(), 2);
        snap!("yolo_class_out_of_range__trigger", f);
    }

    #[test]
    fn clean() {
        let f = run(
            &YoloClassOutOfRange,
            &yolo_inputs("1 0.5 0.5 0.1 0.1\n0 0.5 0.5 0.1 0.1\n", Flavour::Detect),
        );
        snap!("yolo_class_out_of_range__clean", f);
    }
}
