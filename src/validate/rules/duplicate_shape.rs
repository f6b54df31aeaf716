//! `duplicate-shape` (NS007).

use super::prelude::*;
use crate::validate::shared::overlaps::overlap_findings;

declare_rule! {
    /// ## What it does
    /// Reports two shapes of the same class on one image whose IoU reaches
    /// `thresholds.duplicate_iou` (0.8). IoU is exact for the rotated shapes (sampled finely
    /// over the pair's union box), and candidate pairs come from an R-tree of shape boxes, so
    /// a dataset of a million annotations is checked without comparing all pairs; a pair is
    /// only measured when a bound from its boxes and areas can reach the lowest threshold of
    /// the enabled overlap rules (all three share one pass).
    ///
    /// The finding is on the later shape of a pair. A shape with several earlier duplicates
    /// gets one finding naming the closest (highest IoU) and how many it has, so a pile of n
    /// pasted copies gives n − 1 findings, not n(n − 1)/2. In a crowd, at most 64 candidate
    /// partners are measured per shape (the closest by box); an image where that cut applies
    /// gets one finding saying how many pairs were left unmeasured.
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
    /// A third copy on the same spot would read `near-duplicate of annotation 2 (same class
    /// "Primary granules", IoU 0.96); 2 such partners on this image, the closest named`.
    pub(crate) struct DuplicateShape {
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

    /// `n` ellipses piled on one spot, each moved by under a pixel, two classes alternating.
    fn pile(n: u64) -> crate::validate::Inputs {
        one_image(
            (1..=n)
                .map(|k| {
                    let jitter = (k % 7) as f64 * 0.05;
                    ann(
                        k,
                        1,
                        1 + k % 2,
                        ellipse(50.0 + jitter, 50.0 - jitter, 10.0, 6.0, 0.0),
                        10 + k as u32,
                    )
                })
                .collect(),
        )
    }

    #[test]
    fn a_pile_gives_findings_linear_in_its_size() {
        use crate::validate::rules::conflicting_labels::ConflictingLabels;
        for n in [50u64, 100, 200] {
            let inputs = pile(n);
            let dup = run(&DuplicateShape, &inputs);
            let conflict = run(&ConflictingLabels, &inputs);
            // Every shape but the first of each class has an earlier same-class twin; every
            // shape but the first has an earlier one of the other class.
            let cut = usize::from(n as usize > crate::validate::geom::MAX_MEASURED_PER_SHAPE);
            assert_eq!(dup.len(), n as usize - 2 + cut, "n = {n}");
            assert_eq!(conflict.len(), n as usize - 1 + cut, "n = {n}");
            // At most one finding per shape, plus the one saying the work bound cut.
            let per_shape = |f: &[Finding]| {
                let mut ids: Vec<_> = f.iter().filter_map(|f| f.annotation_id).collect();
                ids.sort_unstable();
                ids.windows(2).all(|w| w[0] != w[1])
            };
            assert!(per_shape(&dup) && per_shape(&conflict));
            assert_eq!(
                dup.iter().filter(|f| f.annotation_id.is_none()).count(),
                cut
            );
        }
        let small = run(&DuplicateShape, &pile(6));
        snap!("duplicate_shape__pile", small);
    }

    #[test]
    fn a_baseline_of_a_pile_still_matches_its_findings() {
        use crate::validate::{baseline::Baseline, config::Config, Engine};
        let engine = Engine::with_rules(Config::default(), vec![&DuplicateShape]);
        let inputs = pile(120);
        let first = engine.run(&inputs).findings;
        // Through the JSON report, as `--baseline report.json` reads it.
        let report = serde_json::json!({ "findings": first });
        let baseline =
            Baseline::parse(&report.to_string(), std::path::Path::new("report.json")).unwrap();
        let again = engine.run_with_baseline(&inputs, &baseline);
        assert!(again.findings.is_empty(), "{:?}", again.findings);
        assert_eq!(again.baselined, first.len());
        assert!(first.len() > 100);
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
