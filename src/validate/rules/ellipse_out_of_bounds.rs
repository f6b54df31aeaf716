//! `ellipse-out-of-bounds` (NS005).

use super::prelude::*;

declare_rule! {
    /// ## What it does
    /// Compares each shape with its image's declared size. An error when the centre of the
    /// shape (of an ellipse, its centre; of another shape, the centre of its box) lies outside
    /// the image; an info when the centre is inside but the shape's tight box reaches past an
    /// edge by more than `thresholds.bounds_tolerance_px` (0.5 px).
    ///
    /// ## Why it matters
    /// A centre outside the image is a shape on the wrong image or with swapped coordinates;
    /// masks crop it away and YOLO rejects it. A shape cut by the edge is often legitimate (a
    /// granule at the border of the field of view: about 5 % of the published shapes), hence
    /// only an info, so that `--strict` passes a clean release; its COCO export keeps only the
    /// part inside the image, and every comparison with COCO measures that part.
    ///
    /// ## Example
    /// ```xml
    /// <image id="0" name="cell_01.tif" width="4096" height="4224">
    ///   <ellipse label="Primary granules" cx="4100.00" cy="20.00" rx="9.00" ry="7.00" .../>
    /// ```
    /// Reported as an error: `ellipse centre (4100, 20) is outside the 4096 × 4224 image`.
    pub(crate) struct EllipseOutOfBounds {
        code: "NS005",
        name: "ellipse-out-of-bounds",
        severity: Error,
        summary: "A shape's centre is outside its image (error) or the shape reaches past an edge (info).",
    }
}

impl Validation for EllipseOutOfBounds {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, ctx: &Context<'_>) -> Vec<Finding> {
        let tol = ctx.thresholds.bounds_tolerance_px;
        let mut out = Vec::new();
        for (d, input) in ctx.inputs.datasets.iter().enumerate() {
            let file = ctx.inputs.file_label(d);
            let images = images_by_id(&input.dataset);
            for a in &input.dataset.annotations {
                let Some(im) = images.get(&a.image_id) else {
                    continue;
                };
                if !a.shape.is_finite() || im.width == 0 || im.height == 0 {
                    continue;
                }
                let Some(b) = a.shape.bbox() else { continue };
                let (w, h) = (f64::from(im.width), f64::from(im.height));
                let (cx, cy) = match &a.shape {
                    Shape::Ellipse(e) => (e.cx, e.cy),
                    _ => (b[0] + b[2] / 2.0, b[1] + b[3] / 2.0),
                };
                let kind = a.shape.kind();
                let finding = if cx < 0.0 || cy < 0.0 || cx > w || cy > h {
                    Some(Finding::new(
                        &Self::META,
                        &file,
                        format!(
                            "{kind} centre ({}, {}) is outside the {} × {} image",
                            num(cx),
                            num(cy),
                            im.width,
                            im.height
                        ),
                    ))
                } else {
                    let past = [-b[0], -b[1], b[0] + b[2] - w, b[1] + b[3] - h];
                    let worst = past.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                    (worst > tol).then(|| {
                        Finding::new(
                            &Self::META,
                            &file,
                            format!(
                                "{kind} reaches {} px past the edge of the {} × {} image",
                                num(worst),
                                im.width,
                                im.height
                            ),
                        )
                        .severity(Severity::Info)
                    })
                };
                if let Some(f) = finding {
                    out.push(f.annotation(a).image(&im.file_name));
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

    #[test]
    fn triggers() {
        let f = run(
            &EllipseOutOfBounds,
            &one_image(vec![
                ann(1, 1, 1, ellipse(104.0, 20.0, 9.0, 7.0, 0.0), 10),
                ann(2, 1, 1, ellipse(96.0, 20.0, 9.0, 7.0, 0.0), 11),
            ]),
        );
        assert_eq!(
            f.iter().map(|f| f.severity).collect::<Vec<_>>(),
            vec![Severity::Error, Severity::Info]
        );
        snap!("ellipse_out_of_bounds__trigger", f);
    }

    #[test]
    fn clean() {
        // Touching the edge within the tolerance, and rotated so that the box just fits.
        let f = run(
            &EllipseOutOfBounds,
            &one_image(vec![
                ann(1, 1, 1, ellipse(9.2, 50.0, 9.0, 2.0, 0.0), 10),
                ann(2, 1, 1, ellipse(50.0, 3.0, 9.0, 2.0, 0.0), 11),
            ]),
        );
        snap!("ellipse_out_of_bounds__clean", f);
    }
}
