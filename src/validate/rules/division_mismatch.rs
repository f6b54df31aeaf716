//! `division-mismatch` (NS013).

use super::prelude::*;
use crate::labelset::loose;
use crate::validate::geom::match_boxes;
use crate::validate::shared::files::image_key;
use crate::validate::ExpectedLabel;

declare_rule! {
    /// ## What it does
    /// With `--source-coco F --scale SCALE`, derives the 7-class label of every source shape
    /// by the 4→7 division (docs/design.md §2) and compares each 7-class file with it. Images are
    /// matched by file name, shapes one-to-one by box IoU ≥ `thresholds.match_iou` (0.5),
    /// greedily best first. Reported: a shape whose class is not the derived one, a shape with
    /// no source shape, and a source shape with no counterpart (on the image's line).
    /// Images the source does not list are skipped.
    ///
    /// ## Why it matters
    /// The 7-class labels are a function of the 4-class labels, the sizes and the scale; a
    /// hand edit, a re-run with another scale table, or a relabel in CVAT after the division
    /// silently breaks that function, and the published statistics stop describing the data.
    ///
    /// ## Example
    /// A primary granule of 0.31 µm on an image whose granule median is 0.28 µm must become
    /// "Non-specific primary granules". If the 7-class file calls it "Specific granules":
    /// `class "Specific granules" but the division of source annotation 88 in annotations_4classes.json gives "Non-specific primary granules"`.
    pub(crate) struct DivisionMismatch {
        code: "NS013",
        name: "division-mismatch",
        severity: Error,
        summary: "A 7-class label differs from what the 4→7 division derives from the 4-class source.",
    }
}

impl Validation for DivisionMismatch {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, ctx: &Context<'_>) -> Vec<Finding> {
        let Some(exp) = &ctx.inputs.expected_labels else {
            return Vec::new();
        };
        let mut by_image: HashMap<&str, Vec<&ExpectedLabel>> = HashMap::new();
        for e in &exp.labels {
            by_image.entry(image_key(&e.image)).or_default().push(e);
        }
        let src = &exp.source_file;
        let mut out = Vec::new();
        for (d, input) in ctx.inputs.datasets.iter().enumerate() {
            // A file in the source's own label set is a source, not a division result.
            if exp.source_labelset.is_some()
                && ctx.labelset_of(d).map(|l| &l.name) == exp.source_labelset.as_ref()
            {
                continue;
            }
            let file = ctx.inputs.file_label(d);
            let names = class_names(&input.dataset);
            for (im, anns) in input.dataset.annotations_by_image() {
                let Some(expected) = by_image.get(image_key(&im.file_name)) else {
                    continue;
                };
                let boxes: Vec<Option<[f64; 4]>> =
                    anns.iter().map(|a| compare_box(a, Some(im))).collect();
                let eboxes: Vec<Option<[f64; 4]>> = expected.iter().map(|e| Some(e.bbox)).collect();
                let m = match_boxes(&boxes, &eboxes, ctx.thresholds.match_iou);
                let source =
                    |e: &ExpectedLabel| e.source_id.map_or_else(String::new, |id| format!(" {id}"));
                for (i, j, _) in m.pairs {
                    let (a, e) = (anns[i], expected[j]);
                    let have = class_of(&names, a);
                    if loose(&have) != loose(&e.class) {
                        out.push(
                            Finding::new(
                                &Self::META,
                                &file,
                                format!(
                                    "class {have:?} but the division of source annotation{} in {src} gives {:?}",
                                    source(e),
                                    e.class
                                ),
                            )
                            .annotation(a)
                            .image(&im.file_name),
                        );
                    }
                }
                for i in m.unmatched_a.into_iter().filter(|&i| boxes[i].is_some()) {
                    let a = anns[i];
                    out.push(
                        Finding::new(
                            &Self::META,
                            &file,
                            format!(
                                "{} ({:?}) has no source shape in {src}",
                                a.shape.kind(),
                                class_of(&names, a)
                            ),
                        )
                        .annotation(a)
                        .image(&im.file_name),
                    );
                }
                for j in m.unmatched_b {
                    let e = expected[j];
                    out.push(
                        Finding::new(
                            &Self::META,
                            &file,
                            format!(
                                "source annotation{} in {src} ({:?}) has no shape here",
                                source(e),
                                e.class
                            ),
                        )
                        .at_image(im),
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
    use crate::validate::testutil::*;
    use crate::validate::{ExpectedLabels, Inputs, SourceFormat};

    fn fixture(second_class: u64) -> Inputs {
        let ds = dataset(
            seven(),
            vec![
                image(1, "a.tif", 100, 100, 3),
                image(2, "not_in_source.tif", 100, 100, 4),
            ],
            vec![
                ann(1, 1, 1, ellipse(20.0, 20.0, 4.0, 4.0, 0.0), 10),
                ann(2, 1, second_class, ellipse(60.0, 60.0, 6.0, 6.0, 0.0), 11),
                ann(3, 2, 7, ellipse(60.0, 60.0, 6.0, 6.0, 0.0), 12),
            ],
        );
        let e = |id, x: f64, r: f64, class: &str| ExpectedLabel {
            image: "a.tif".into(),
            bbox: [x - r, x - r, 2.0 * r, 2.0 * r],
            class: class.into(),
            source_id: Some(id),
        };
        Inputs {
            datasets: vec![input("annotations_7classes.json", SourceFormat::Coco, ds)],
            expected_labels: Some(ExpectedLabels {
                source_labelset: None,
                source_file: "annotations_4classes.json".into(),
                labels: vec![
                    e(101, 20.0, 4.0, "Specific granules"),
                    e(102, 60.0, 6.0, "Non-specific primary granules"),
                ],
            }),
            ..Inputs::default()
        }
    }

    #[test]
    fn triggers() {
        let mut inputs = fixture(1);
        if let Some(e) = inputs.expected_labels.as_mut() {
            e.labels.push(ExpectedLabel {
                image: "a.tif".into(),
                bbox: [85.0, 5.0, 6.0, 6.0],
                class: "Vacuoles".into(),
                source_id: Some(103),
            });
        }
        let f = run(&DivisionMismatch, &inputs);
        assert_eq!(f.len(), 2, "{f:#?}");
        snap!("division_mismatch__trigger", f);
    }

    #[test]
    fn clean() {
        let f = run(&DivisionMismatch, &fixture(2));
        snap!("division_mismatch__clean", f);
    }
}
