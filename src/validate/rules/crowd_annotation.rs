//! `crowd-annotation` (NS021).

use super::prelude::*;

declare_rule! {
    /// ## What it does
    /// Warns about COCO annotations marked `iscrowd: 1`. One finding per image, on the line of
    /// the first such annotation, with the count, so that a file where every annotation is a
    /// crowd (CVAT's own COCO export marks every ellipse so) gives one line per image rather
    /// than one per shape.
    ///
    /// ## Why it matters
    /// COCO evaluation (pycocotools) treats crowd annotations as regions to ignore, not as
    /// objects: a detector is neither rewarded for finding them nor penalised for missing
    /// them, so a dataset of crowds evaluates to nothing. Re-export with `iscrowd: 0` (e.g.
    /// `neutrostruct convert --to coco`), or turn the rule off in the config if intended.
    ///
    /// ## Example
    /// ```json
    /// {"id": 1, "image_id": 1, "iscrowd": 1, "segmentation": {"counts": [...], "size": [4224, 4096]}, ...}
    /// ```
    /// Reported: `261 annotation(s) on this image are iscrowd: 1 (first: annotation 1)`. (The
    /// message names no total, so adding unrelated shapes does not change it; see baselines.)
    pub(crate) struct CrowdAnnotation {
        code: "NS021",
        name: "crowd-annotation",
        severity: Warning,
        summary: "COCO annotations are marked iscrowd: 1 (ignored by COCO evaluation).",
    }
}

impl Validation for CrowdAnnotation {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, ctx: &Context<'_>) -> Vec<Finding> {
        let mut out = Vec::new();
        for (d, input) in ctx.inputs.datasets.iter().enumerate() {
            let file = ctx.inputs.file_label(d);
            for (im, anns) in input.dataset.annotations_by_image() {
                let crowd: Vec<&&Annotation> = anns
                    .iter()
                    .filter(|a| a.coco.as_ref().and_then(|c| c.iscrowd).unwrap_or(0) != 0)
                    .collect();
                let Some(first) = crowd.first() else { continue };
                out.push(
                    Finding::new(
                        &Self::META,
                        &file,
                        format!(
                            "{} annotation(s) on this image are iscrowd: 1 (first: annotation {})",
                            crowd.len(),
                            first.id
                        ),
                    )
                    .annotation(first)
                    .image(&im.file_name),
                );
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::testutil::*;

    #[test]
    fn triggers() {
        let mut a = coco_ann(2, 1, 1, ellipse(10.0, 10.0, 3.0, 2.0, 0.0), 11);
        if let Some(c) = a.coco.as_mut() {
            c.iscrowd = Some(1);
        }
        let f = run(
            &CrowdAnnotation,
            &one_image(vec![
                coco_ann(1, 1, 1, ellipse(40.0, 10.0, 3.0, 2.0, 0.0), 10),
                a,
            ]),
        );
        assert_eq!(f.len(), 1);
        snap!("crowd_annotation__trigger", f);
    }

    #[test]
    fn clean() {
        let f = run(
            &CrowdAnnotation,
            &one_image(vec![coco_ann(
                1,
                1,
                1,
                ellipse(40.0, 10.0, 3.0, 2.0, 0.0),
                10,
            )]),
        );
        snap!("crowd_annotation__clean", f);
    }
}
