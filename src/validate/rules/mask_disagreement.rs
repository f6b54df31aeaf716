//! `mask-disagreement` (NS020).

use super::prelude::*;

declare_rule! {
    /// ## What it does
    /// Compares each readable mask of the right size with the annotations of its image:
    /// - per class, the pixel IoU between the mask and the class-index mask rendered from the
    ///   annotations (docs/design.md §3's pixel rule, z-order painting) must reach
    ///   `thresholds.mask_class_iou` (0.9); reported on the mask file;
    /// - per annotation, the fraction of its pixels that the mask paints in its class colour
    ///   must reach `thresholds.mask_coverage` (0.5); reported on the annotation's line.
    ///
    /// ## Why it matters
    /// Masks are derived data: after an annotation is moved, relabelled or deleted, a mask
    /// that was not regenerated teaches a segmentation model the old annotation.
    ///
    /// ## Example
    /// An ellipse of "Primary granules" was moved 30 px but `masks/cell_01.png` was not
    /// re-rendered. Reported on the ellipse's line: `mask paints 0% of this ellipse in its class colour (below 50%)`,
    /// and on the mask: `class "Primary granules": pixel IoU 0.41 between mask and annotations (below 0.9)`.
    pub(crate) struct MaskDisagreement {
        code: "NS020",
        name: "mask-disagreement",
        severity: Error,
        summary: "A mask disagrees with the annotations (per-class pixel IoU, per-annotation coverage).",
    }
}

impl Validation for MaskDisagreement {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn uses(&self) -> Shared {
        Shared {
            masks: true,
            ..Shared::default()
        }
    }

    fn check(&self, ctx: &Context<'_>) -> Vec<Finding> {
        let t = ctx.thresholds;
        let mut out = Vec::new();
        for m in ctx.mask_analyses() {
            let Some(p) = &m.path else { continue };
            let ds = &ctx.inputs.datasets[m.dataset].dataset;
            let im = &ds.images[m.image];
            for (name, iou) in &m.low_class_iou {
                out.push(
                    Finding::new(
                        &Self::META,
                        ctx.inputs.display_path(p),
                        format!(
                            "class {name:?}: pixel IoU {iou:.2} between mask and annotations (below {})",
                            num(t.mask_class_iou)
                        ),
                    )
                    .image(&im.file_name),
                );
            }
            for &(k, cov) in &m.low_coverage {
                let a = &ds.annotations[k];
                out.push(
                    Finding::new(
                        &Self::META,
                        ctx.inputs.file_label(m.dataset),
                        format!(
                            "mask {} paints {:.0}% of this {} in its class colour (below {:.0}%)",
                            ctx.inputs.display_path(p),
                            cov * 100.0,
                            a.shape.kind(),
                            t.mask_coverage * 100.0
                        ),
                    )
                    .annotation(a)
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
    use crate::validate::shared::mask_analysis::fixture;
    use crate::validate::testutil::*;

    /// A hand-made expected index mask: the same discs as `good_mask`, by class id.
    fn expected(im: &Image, _anns: &[&Annotation]) -> Option<Vec<u8>> {
        let m = fixture::good_mask();
        let mut v = vec![0u8; (im.width * im.height) as usize];
        for (k, px) in m.pixels().enumerate() {
            v[k] = match px.0 {
                [230, 25, 75] => 1,
                [0, 130, 200] => 2,
                _ => 0,
            };
        }
        Some(v)
    }

    #[test]
    fn triggers() {
        let dir = tempfile::tempdir().unwrap();
        // The secondary granule was moved in the annotations but the mask shows it at x=14:
        // here the mask lost it altogether and paints the primary one twice as large (past
        // the boundary margin within which rasterising rules may disagree).
        let mut m = image::RgbImage::new(20, 10);
        fixture::disc(&mut m, 5.0, 5.0, 6.0, [230, 25, 75]);
        fixture::write(dir.path(), "a.png", &m);
        let mut inputs = fixture::inputs(dir.path());
        inputs.expected_index_mask = Some(Box::new(expected));
        let f = run(&MaskDisagreement, &inputs);
        assert_eq!(f.len(), 3, "{f:#?}");
        snap!("mask_disagreement__trigger", f);
    }

    #[test]
    fn clean() {
        let dir = tempfile::tempdir().unwrap();
        fixture::write(dir.path(), "a.png", &fixture::good_mask());
        let mut inputs = fixture::inputs(dir.path());
        inputs.expected_index_mask = Some(Box::new(expected));
        snap!("mask_disagreement__clean", run(&MaskDisagreement, &inputs));
    }
}
