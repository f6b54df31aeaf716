//! `unsafe-path` (NS016).

use super::prelude::*;

declare_rule! {
    /// ## What it does
    /// Reports an image file name that is absolute (`/etc/passwd`, `C:\x`, `\\server\x`),
    /// climbs out of the dataset root with `..` (`../../secret.png`), or holds a NUL byte.
    /// Such names are never opened: the image and mask rules skip them. For a YOLO dataset:
    /// a split entry, a line of a split list, or a linked folder, list or label file that is
    /// absolute or leads out of the dataset folder (the read skipped it). And an image or mask
    /// file that is (or sits under) a link leading out of the images or masks folder: it is
    /// never opened, so the image and mask rules see it as missing. And an annotation file that
    /// `validate DIR` found through a link leading out of DIR (not read).
    ///
    /// ## Why it matters
    /// Annotation files come from pull requests. A name that escapes the dataset folder makes
    /// every tool that opens images (converters, mask renderers, this validator) read or
    /// overwrite files outside it.
    ///
    /// ## Example
    /// ```json
    /// "images": [{"id": 1, "file_name": "../../home/user/.ssh/id_rsa", ...}]
    /// ```
    /// Reported: `image file name "../../home/user/.ssh/id_rsa" escapes the dataset root`.
    pub(crate) struct UnsafePath {
        code: "NS016",
        name: "unsafe-path",
        severity: Error,
        summary: "An image file name is absolute or escapes the dataset root.",
    }
}

use crate::path_safety::unsafe_reason;
use crate::validate::shared::files::{candidate_paths, leads_out};

impl Validation for UnsafePath {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, ctx: &Context<'_>) -> Vec<Finding> {
        let mut out = Vec::new();
        for (d, input) in ctx.inputs.datasets.iter().enumerate() {
            let file = ctx.inputs.file_label(d);
            for im in &input.dataset.images {
                if let Some(why) = unsafe_reason(&im.file_name) {
                    out.push(
                        Finding::new(
                            &Self::META,
                            &file,
                            format!("image file name {:?} {why}", im.file_name),
                        )
                        .at_image(im),
                    );
                }
            }
        }
        // Image and mask files reached through a link out of their folder (never opened).
        let folders = [
            (ctx.inputs.images_dir.as_deref(), "images"),
            (ctx.inputs.masks_dir.as_deref(), "masks"),
        ];
        for (d, input) in ctx.inputs.datasets.iter().enumerate() {
            if ctx.inputs.is_yolo(d) {
                continue;
            }
            let file = ctx.inputs.file_label(d);
            for im in &input.dataset.images {
                for (dir, what) in folders {
                    let Some(dir) = dir else { continue };
                    let paths = match what {
                        "masks" => {
                            crate::validate::shared::mask_analysis::mask_paths(dir, &im.file_name)
                        }
                        _ => candidate_paths(dir, &im.file_name).unwrap_or_default(),
                    };
                    let target = paths.into_iter().find(|p| leads_out(dir, p));
                    if let Some(p) = target {
                        out.push(
                            Finding::new(
                                &Self::META,
                                &file,
                                format!(
                                    "{} is a link that leads out of the {what} folder: not read",
                                    ctx.inputs.display_path(&p)
                                ),
                            )
                            .at_image(im),
                        );
                    }
                }
            }
        }
        // Annotation files that folder discovery found through a link out of the folder.
        for p in &ctx.inputs.linked_out {
            out.push(Finding::new(
                &Self::META,
                ctx.inputs.display_path(p),
                "a link that leads out of the dataset folder: not read".to_string(),
            ));
        }
        // A YOLO read never opens what leaves the dataset folder: split entries, list lines
        // and linked files it skipped are reported here.
        out.extend(crate::validate::shared::yolo_rows::skipped_findings(
            ctx,
            &Self::META,
            &["unsafe-path"],
        ));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::testutil::*;

    #[test]
    fn triggers() {
        let ds = dataset(
            four(),
            vec![
                image(1, "../../home/user/.ssh/id_rsa", 10, 10, 3),
                image(2, "/etc/passwd", 10, 10, 4),
                image(3, "C:\\x.tif", 10, 10, 5),
                image(4, "a/../../b.tif", 10, 10, 6),
            ],
            vec![],
        );
        let f = run(&UnsafePath, &coco_inputs(ds));
        assert_eq!(f.len(), 4);
        snap!("unsafe_path__trigger", f);
    }

    #[test]
    fn clean() {
        let ds = dataset(
            four(),
            vec![
                image(1, "train/a.tif", 10, 10, 3),
                image(2, "x/../b.tif", 10, 10, 4),
            ],
            vec![],
        );
        let f = run(&UnsafePath, &coco_inputs(ds));
        snap!("unsafe_path__clean", f);
    }
}
