//! `image-missing` (NS014).

use super::prelude::*;
use crate::validate::shared::files::candidates;

declare_rule! {
    /// ## What it does
    /// With `--images DIR` (or a dataset folder holding the images), reports an image that the
    /// annotation file lists but that is not in the folder, looked up by its file name and
    /// then by its last path component. Unsafe names are skipped (see `unsafe-path`). For a
    /// YOLO dataset: a label file without an image of its stem, and a split list line naming
    /// an image that does not exist.
    ///
    /// ## Why it matters
    /// Annotations without their image cannot be reviewed, trained on or overlaid, and a
    /// renamed image silently orphans all its annotations.
    ///
    /// ## Example
    /// The COCO file lists `"file_name": "cell_17.tif"` and the images folder has
    /// `cell_17.tiff`. Reported on the image's line: `image file cell_17.tif is not in images/`.
    pub(crate) struct ImageMissing {
        code: "NS014",
        name: "image-missing",
        severity: Error,
        summary: "An image the annotations list is not in the images folder.",
    }
}

impl Validation for ImageMissing {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, ctx: &Context<'_>) -> Vec<Finding> {
        // A YOLO label file whose image is not there, or a split list line naming an image
        // that does not exist: its rows could not be read (no size to scale them by).
        let yolo = crate::validate::shared::yolo_rows::skipped_findings(
            ctx,
            &Self::META,
            &["label-without-image", "listed-image-missing"],
        );
        let Some(dir) = &ctx.inputs.images_dir else {
            return yolo;
        };
        let shown = ctx.inputs.display_path(dir);
        let mut out = Vec::new();
        for (d, input) in ctx.inputs.datasets.iter().enumerate() {
            // A YOLO dataset's images were found and sized while reading it, under its own
            // split folders, not under `--images`.
            if ctx.inputs.is_yolo(d) {
                continue;
            }
            let file = ctx.inputs.file_label(d);
            for im in &input.dataset.images {
                let Some(c) = candidates(dir, &im.file_name) else {
                    continue;
                };
                if !c.iter().any(|p| p.is_file()) {
                    out.push(
                        Finding::new(
                            &Self::META,
                            &file,
                            format!("image file {} is not in {shown}/", im.file_name),
                        )
                        .at_image(im),
                    );
                }
            }
        }
        out.extend(yolo);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::testutil::*;

    #[test]
    fn triggers_and_clean() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("present.tif"), b"x").unwrap();
        let ds = dataset(
            four(),
            vec![
                image(1, "present.tif", 10, 10, 3),
                image(2, "sub/present.tif", 10, 10, 4),
                image(3, "cell_17.tif", 10, 10, 5),
            ],
            vec![],
        );
        let mut inputs = coco_inputs(ds);
        inputs.root = Some(dir.path().to_path_buf());
        inputs.images_dir = Some(dir.path().join("images"));
        std::fs::create_dir(dir.path().join("images")).unwrap();
        std::fs::rename(
            dir.path().join("present.tif"),
            dir.path().join("images/present.tif"),
        )
        .unwrap();
        let f = run(&ImageMissing, &inputs);
        assert_eq!(f.len(), 1);
        snap!("image_missing__trigger", f);
        inputs.datasets[0].dataset.images.pop();
        snap!("image_missing__clean", run(&ImageMissing, &inputs));
    }
}
