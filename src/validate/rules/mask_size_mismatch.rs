//! `mask-size-mismatch` (NS018).

use super::prelude::*;

declare_rule! {
    /// ## What it does
    /// Reports a mask whose width or height (read from its header) differs from its image's
    /// declared size. Such a mask is not compared pixel by pixel.
    ///
    /// ## Why it matters
    /// Segmentation trainers pair mask and image pixel for pixel; a mask of the wrong size is
    /// either rejected or, worse, resized and shifted.
    ///
    /// ## Example
    /// `masks/cell_02.png` is 2048 × 2112 while `cell_02.tif` is declared 4096 × 4224.
    /// Reported: `mask is 2048 × 2112 but the image is declared 4096 × 4224`.
    pub(crate) struct MaskSizeMismatch {
        code: "NS018",
        name: "mask-size-mismatch",
        severity: Error,
        summary: "A mask's size differs from its image's declared size.",
    }
}

impl Validation for MaskSizeMismatch {
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
        let mut out = Vec::new();
        for m in ctx.mask_analyses() {
            let im = &ctx.inputs.datasets[m.dataset].dataset.images[m.image];
            if let (Some(p), Some((w, h))) = (&m.path, m.size) {
                if (w, h) != (im.width, im.height) {
                    out.push(
                        Finding::new(
                            &Self::META,
                            ctx.inputs.display_path(p),
                            format!(
                                "mask is {w} × {h} but the image is declared {} × {}",
                                im.width, im.height
                            ),
                        )
                        .image(&im.file_name),
                    );
                }
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

    #[test]
    fn triggers() {
        let dir = tempfile::tempdir().unwrap();
        fixture::write(dir.path(), "a.png", &image::RgbImage::new(10, 5));
        let f = run(&MaskSizeMismatch, &fixture::inputs(dir.path()));
        assert_eq!(f.len(), 1);
        snap!("mask_size_mismatch__trigger", f);
    }

    #[test]
    fn clean() {
        let dir = tempfile::tempdir().unwrap();
        fixture::write(dir.path(), "a.png", &fixture::good_mask());
        snap!(
            "mask_size_mismatch__clean",
            run(&MaskSizeMismatch, &fixture::inputs(dir.path()))
        );
    }
}
