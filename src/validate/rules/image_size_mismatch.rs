//! `image-size-mismatch` (NS015).

use super::prelude::*;
use crate::validate::shared::files::candidates;
use crate::validate::shared::files::header_size;

declare_rule! {
    /// ## What it does
    /// With `--images DIR`, reads the header of each image file (not its pixels) and reports
    /// an image whose width or height differs from what the annotation file declares. In a
    /// YOLO dataset, where the sizes come from the images, an image whose size cannot be read
    /// from its header (DNG) is reported as a warning: its rows could not be checked.
    ///
    /// ## Why it matters
    /// Every coordinate is in the declared pixel grid: against an image of another size
    /// (a resized export, the 2048 × 2115 version of a 4096 × 4224 image) every shape lands in
    /// the wrong place, and masks come out of the wrong size.
    ///
    /// ## Example
    /// The CVAT file declares `<image name="cell_03.tif" width="4096" height="4224">` and the
    /// file is 2048 × 2112. Reported: `image file is 2048 × 2112 but the annotations declare 4096 × 4224`.
    pub(crate) struct ImageSizeMismatch {
        code: "NS015",
        name: "image-size-mismatch",
        severity: Error,
        summary: "An image file's size differs from the size the annotations declare.",
    }
}

impl Validation for ImageSizeMismatch {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, ctx: &Context<'_>) -> Vec<Finding> {
        // A YOLO image whose size cannot be read from its header (DNG) cannot be checked
        // and its rows were left out: said, as a warning (the data may be fine).
        let mut out: Vec<Finding> = crate::validate::shared::yolo_rows::skipped_findings(
            ctx,
            &Self::META,
            &["image-size-unknown"],
        )
        .into_iter()
        .map(|f| f.severity(Severity::Warning))
        .collect();
        let Some(dir) = &ctx.inputs.images_dir else {
            return out;
        };
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
                let Some(path) = c.into_iter().find(|p| p.is_file()) else {
                    continue;
                };
                let msg = match header_size(&path) {
                    Ok((w, h)) if (w, h) == (im.width, im.height) => continue,
                    Ok((w, h)) => {
                        format!(
                            "image file is {w} × {h} but the annotations declare {} × {}",
                            im.width, im.height
                        )
                    }
                    Err(e) => format!("image file cannot be read: {e}"),
                };
                out.push(Finding::new(&Self::META, &file, msg).at_image(im));
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
    fn triggers_and_clean() {
        let dir = tempfile::tempdir().unwrap();
        image::GrayImage::new(8, 6)
            .save(dir.path().join("a.png"))
            .unwrap();
        std::fs::write(dir.path().join("broken.png"), b"not an image").unwrap();
        let ds = dataset(
            four(),
            vec![
                image(1, "a.png", 8, 6, 3),
                image(2, "a.png", 16, 6, 4),
                image(3, "broken.png", 8, 6, 5),
            ],
            vec![],
        );
        let mut inputs = coco_inputs(ds);
        inputs.images_dir = Some(dir.path().to_path_buf());
        let f = run(&ImageSizeMismatch, &inputs);
        assert_eq!(f.len(), 2);
        assert!(f[1].message.starts_with("image file cannot be read"));
        snap!(
            "image_size_mismatch__trigger",
            f.into_iter().take(1).collect::<Vec<_>>()
        );
        inputs.datasets[0].dataset.images.truncate(1);
        snap!(
            "image_size_mismatch__clean",
            run(&ImageSizeMismatch, &inputs)
        );
    }

    #[test]
    fn yolo_image_of_unknown_size_is_a_warning() {
        use crate::training::yolo::Flavour;
        use crate::training::yolo_read::Skipped;
        use crate::validate::shared::yolo_rows::testutil::yolo_inputs;
        let mut inputs = yolo_inputs("0 0.5 0.5 0.1 0.1\n", Flavour::Detect);
        inputs.yolo[0].skipped.push(Skipped {
            code: "image-size-unknown",
            file: "labels/train/b.txt".into(),
            line: None,
            message: "the size of image b.dng is not read from its header (DNG)".into(),
        });
        let f = run(&ImageSizeMismatch, &inputs);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].severity, Severity::Warning);
        snap!("image_size_mismatch__yolo_size_unknown", f);
    }
}
