//! `yolo-malformed-row` (NS022).

use super::prelude::*;
use crate::training::yolo_labels::RowProblem;
use crate::validate::shared::yolo_rows::row_findings;

declare_rule! {
    /// ## What it does
    /// Reports a YOLO label row that cannot be read as a row of the dataset's task: the wrong
    /// number of columns (5 for boxes, 9 for oriented boxes, an odd number ≥ 7 for segments),
    /// a token that is not a number, a value that is NaN or infinite, or a class that is not a
    /// plain non-negative integer (`1.0`, `-1`). Pinned to the label file, line and column.
    ///
    /// ## Why it matters
    /// Ultralytics' loader rejects the whole label file for one such row (the image then
    /// trains as background, with a warning that is easy to miss), and other loaders read
    /// shifted columns as coordinates.
    ///
    /// ## Example
    /// ```text
    /// 0 0.5 0.5 0.1
    /// ```
    /// Reported at 1:1: `4 columns; a yolo row has 5 columns (class cx cy w h)`.
    pub(crate) struct YoloMalformedRow {
        code: "NS022",
        name: "yolo-malformed-row",
        severity: Error,
        summary: "A YOLO label row has the wrong column count, a token that is not a number, or a class that is not an integer.",
    }
}

impl Validation for YoloMalformedRow {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, ctx: &Context<'_>) -> Vec<Finding> {
        row_findings(ctx, &Self::META, RowProblem::Malformed)
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
        let f = run(&YoloMalformedRow, &yolo_inputs("0 0.5 0.5 0.25 0.25\n0 0.5 0.5 0.1\n1 0.5 x 0.1 0.1\n1.0 0.5 0.5 0.1 0.1\n0 0.5 0.5 NaN 0.1\n", Flavour::Detect));
        assert_eq!(f.len(), 4);
        snap!("yolo_malformed_row__trigger", f);
    }

    #[test]
    fn clean() {
        let f = run(
            &YoloMalformedRow,
            &yolo_inputs(
                "0 0.5 0.5 0.25 0.25\n\n1 0.1 0.2 0.3 0.4\n",
                Flavour::Detect,
            ),
        );
        snap!("yolo_malformed_row__clean", f);
    }
}
