//! `yolo-not-normalised` (NS024).

use super::prelude::*;
use crate::training::yolo_labels::RowProblem;
use crate::validate::shared::yolo_rows::row_findings;

declare_rule! {
    /// ## What it does
    /// Reports a YOLO label row with a coordinate outside [0, 1]. YOLO coordinates are
    /// fractions of the image width and height, so every value of a row lies in [0, 1].
    ///
    /// ## Why it matters
    /// Ultralytics rejects the label file (`non-normalized or out of bounds coordinates`);
    /// a value past 1 usually means pixel coordinates were written where fractions belong.
    ///
    /// ## Example
    /// ```text
    /// 0 0.5 1.2 0.1 0.1
    /// ```
    /// Reported at 1:7: `"1.2" is outside [0, 1] (coordinates are normalised by the image size)`.
    pub(crate) struct YoloNotNormalised {
        code: "NS024",
        name: "yolo-not-normalised",
        severity: Error,
        summary: "A YOLO label coordinate is outside [0, 1].",
    }
}

impl Validation for YoloNotNormalised {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, ctx: &Context<'_>) -> Vec<Finding> {
        row_findings(ctx, &Self::META, RowProblem::CoordinateOutOfRange)
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
            &YoloNotNormalised,
            &yolo_inputs(
                "0 0.5 1.2 0.1 0.1\n0 -0.1 0.5 0.1 0.1\n0 0.5 0.5 0.1 0.1\n",
                Flavour::Detect,
            ),
        );
        assert_eq!(f.len(), 2);
        snap!("yolo_not_normalised__trigger", f);
    }

    #[test]
    fn clean() {
        let f = run(
            &YoloNotNormalised,
            &yolo_inputs("0 0 1 0.1 0.1\n0 1 0 1 1\n", Flavour::Detect),
        );
        snap!("yolo_not_normalised__clean", f);
    }
}
