//! `yolo-obb-not-rectangle` (NS027).

use super::prelude::*;

declare_rule! {
    /// ## What it does
    /// In a YOLO dataset read as oriented boxes (`--yolo-task yolo-obb`), reports a row whose
    /// four corners, scaled to the image, are not a rectangle. The row is kept as a 4-point
    /// polygon.
    ///
    /// ## Why it matters
    /// An oriented box is a rotated rectangle, and trainers fit one to the four points
    /// (Ultralytics takes their minimum-area rectangle): a quadrilateral that is not one is
    /// trained as a different box than the one annotated. It usually comes from a writer that
    /// clamped each corner to the image instead of the box, or from a hand edit.
    ///
    /// ## Example
    /// ```text
    /// 0 0.9 0.4 1.0 0.4 1.0 0.6 0.9 0.6   # a rectangle
    /// 0 0.9 0.4 1.0 0.3 1.0 0.6 0.9 0.6   # corner 2 moved: not one
    /// ```
    /// Reported at 2:1: `oriented box whose corners are not a rectangle: read as a 4-point polygon`.
    pub(crate) struct YoloObbNotRectangle {
        code: "NS027",
        name: "yolo-obb-not-rectangle",
        severity: Warning,
        summary: "A YOLO oriented box's four corners are not a rectangle.",
    }
}

impl Validation for YoloObbNotRectangle {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, ctx: &Context<'_>) -> Vec<Finding> {
        let mut out = Vec::new();
        for y in ctx.inputs.yolo.iter().filter(|y| y.obb) {
            let Some(input) = ctx.inputs.datasets.get(y.dataset) else {
                continue;
            };
            let names = images_by_id(&input.dataset);
            let file = ctx.inputs.file_label(y.dataset);
            // The reader turns a rectangle into a rotated box and keeps anything else as
            // the polygon of its four corners.
            for a in &input.dataset.annotations {
                let Shape::Polygon(rings) = &a.shape else {
                    continue;
                };
                if rings.len() != 1 || rings.first().map(|r| r.len()) != Some(4) {
                    continue;
                }
                let mut f = Finding::new(
                    &Self::META,
                    &file,
                    "oriented box whose corners are not a rectangle: read as a 4-point polygon",
                )
                .annotation(a);
                if let Some(im) = names.get(&a.image_id) {
                    f = f.image(&im.file_name);
                }
                out.push(f);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::testutil::*;
    use crate::validate::{DatasetInput, Inputs, SourceFormat, YoloSource};

    /// A YOLO dataset of one 100 × 100 image holding a rotated box (line 1) and a
    /// quadrilateral that is not a rectangle (line 2), read as oriented boxes or not.
    fn obb_inputs(obb: bool) -> Inputs {
        let mut ds = Dataset::default();
        ds.images.push(Image::new(ImageId(1), "a.png", 100, 100));
        let mut boxed = Annotation::new(
            AnnotationId(1),
            ImageId(1),
            CategoryId(1),
            Shape::Box(BoxShape {
                xtl: 90.0,
                ytl: 40.0,
                xbr: 100.0,
                ybr: 60.0,
                rotation: 0.0,
            }),
        );
        boxed.loc = Some(SourceLoc {
            line: 1,
            column: 1,
            start: 0,
            end: 0,
        });
        let mut quad = Annotation::new(
            AnnotationId(2),
            ImageId(1),
            CategoryId(1),
            Shape::Polygon(
                vec![vec![
                    [90.0, 40.0],
                    [100.0, 30.0],
                    [100.0, 60.0],
                    [90.0, 60.0],
                ]]
                .into(),
            ),
        );
        quad.loc = Some(SourceLoc {
            line: 2,
            column: 1,
            start: 0,
            end: 0,
        });
        ds.annotations = vec![boxed, quad];
        Inputs {
            datasets: vec![DatasetInput {
                path: "data.yaml".into(),
                format: SourceFormat::Yolo,
                dataset: ds,
            }],
            yolo: vec![YoloSource {
                dataset: 0,
                labels: [("a.png".to_string(), "labels/train/a.txt".into())]
                    .into_iter()
                    .collect(),
                obb,
                ..Default::default()
            }],
            ..Inputs::default()
        }
    }

    #[test]
    fn triggers() {
        let inputs = obb_inputs(true);
        let f = run(&YoloObbNotRectangle, &inputs);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].line, Some(2));
        // Through the engine the finding names the label file the row is in.
        assert_eq!(inputs.locate(f[0].clone()).file, "labels/train/a.txt");
        snap!("yolo_obb_not_rectangle__trigger", f);
    }

    #[test]
    fn clean() {
        // Read as segments, a 4-point polygon is just a polygon.
        let f = run(&YoloObbNotRectangle, &obb_inputs(false));
        snap!("yolo_obb_not_rectangle__clean", f);
    }
}
