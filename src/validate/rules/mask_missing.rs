//! `mask-missing` (NS017).

use super::prelude::*;

declare_rule! {
    /// ## What it does
    /// With `--masks DIR`, reports an image that has no mask file in the folder, or whose mask
    /// file cannot be read. A mask is looked for under the image's name with `.png`, with and
    /// without the image's folders, and as `<stem>_mask.png`.
    ///
    /// ## Why it matters
    /// The dataset ships colour masks for segmentation models; an image without one is
    /// silently left out of their training set.
    ///
    /// ## Example
    /// `cell_05.tif` is annotated and `masks/` has no `cell_05.png`. Reported on the image's
    /// line: `no mask for this image (looked for masks/cell_05.png, masks/cell_05_mask.png)`.
    pub(crate) struct MaskMissing {
        code: "NS017",
        name: "mask-missing",
        severity: Error,
        summary: "An image has no mask file, or its mask cannot be read.",
    }
}

impl Validation for MaskMissing {
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
            let f = match (&m.path, &m.error) {
                (None, _) => Finding::new(
                    &Self::META,
                    ctx.inputs.file_label(m.dataset),
                    format!(
                        "no mask for this image (looked for {})",
                        m.looked_for.join(", ")
                    ),
                )
                .at_image(im),
                (Some(p), Some(e)) => Finding::new(
                    &Self::META,
                    ctx.inputs.display_path(p),
                    format!("mask cannot be read: {e}"),
                )
                .image(&im.file_name),
                _ => continue,
            };
            out.push(f);
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
        let mut inputs = fixture::inputs(dir.path());
        std::fs::create_dir_all(dir.path().join("masks")).unwrap();
        std::fs::write(dir.path().join("masks/b.png"), b"garbage").unwrap();
        inputs.datasets[0]
            .dataset
            .images
            .push(image(2, "b.tif", 20, 10, 4));
        let f = run(&MaskMissing, &inputs);
        assert_eq!(f.len(), 2);
        let mut f = f;
        for x in &mut f {
            if x.message.starts_with("mask cannot be read") {
                x.message = "mask cannot be read: <decoder error>".into();
            }
        }
        snap!("mask_missing__trigger", f);
    }

    #[test]
    fn clean() {
        let dir = tempfile::tempdir().unwrap();
        fixture::write(dir.path(), "a_mask.png", &fixture::good_mask());
        snap!(
            "mask_missing__clean",
            run(&MaskMissing, &fixture::inputs(dir.path()))
        );
    }
}
