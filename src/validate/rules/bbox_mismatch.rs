//! `bbox-mismatch` (NS006).

use super::prelude::*;

declare_rule! {
    /// ## What it does
    /// Compares a COCO annotation's `bbox` and `area` with its shape. Each edge of the box
    /// may differ from the shape's tight box by `thresholds.bbox_tolerance_px` (2.5 px). For
    /// an ellipse the area must lie between the areas of the ellipse with both semi-axes
    /// shrunk and grown by that tolerance; for other shapes it may differ by a band of that
    /// width around the box's outline.
    ///
    /// The tolerance accepts CVAT's own COCO export, which rasterises each ellipse with its
    /// centre and axes rounded to whole pixels and takes `bbox` and `area` from those pixels:
    /// rounding moves an edge by up to 1 px and OpenCV's filled ellipse reaches about one more
    /// pixel out (measured: up to 2 px on `synth` data).
    ///
    /// ## Why it matters
    /// The 4→7 division computes every diameter from the COCO `bbox`; a box that no longer
    /// matches the ellipse (edited in one place but not the other) moves annotations across
    /// the median and changes their 7-class label.
    ///
    /// ## Example
    /// ```json
    /// {"id": 3, "bbox": [100, 100, 40, 40], "area": 1257,
    ///  "attributes": {"rotation": 0}, ...}   // ellipse cx=120 cy=120 rx=5 ry=5
    /// ```
    /// Reported: `COCO bbox [100, 100, 40, 40] differs from the ellipse's box [115, 115, 10, 10] by up to 30 px`.
    pub struct BboxMismatch {
        code: "NS006",
        name: "bbox-mismatch",
        severity: Error,
        summary: "A COCO bbox or area disagrees with the shape beyond whole-pixel rounding.",
    }
}

impl Validation for BboxMismatch {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, ctx: &Context<'_>) -> Vec<Finding> {
        let tol = ctx.thresholds.bbox_tolerance_px;
        let mut out = Vec::new();
        for (d, input) in ctx.inputs.datasets.iter().enumerate() {
            let file = ctx.inputs.file_label(d);
            let images = images_by_id(&input.dataset);
            for a in &input.dataset.annotations {
                let Some(c) = &a.coco else { continue };
                if !a.shape.is_finite() {
                    continue;
                }
                let Some(sb) = a.shape.bbox() else { continue };
                let kind = a.shape.kind();
                let mut msgs = Vec::new();
                if let Some(b) = c.bbox.filter(|b| b.iter().all(|v| v.is_finite())) {
                    let diff = [
                        (b[0] - sb[0]).abs(),
                        (b[1] - sb[1]).abs(),
                        (b[0] + b[2] - sb[0] - sb[2]).abs(),
                        (b[1] + b[3] - sb[1] - sb[3]).abs(),
                    ]
                    .into_iter()
                    .fold(0.0, f64::max);
                    if diff > tol {
                        msgs.push(format!(
                            "COCO bbox [{}] differs from the {kind}'s box [{}] by up to {} px",
                            fmt_box(&b),
                            fmt_box(&sb),
                            num(diff)
                        ));
                    }
                }
                if let Some(area) = c.area.filter(|v| v.is_finite()) {
                    let (lo, hi) = match &a.shape {
                        Shape::Ellipse(e) => {
                            let pi = std::f64::consts::PI;
                            (
                                pi * (e.rx - tol).max(0.0) * (e.ry - tol).max(0.0),
                                pi * (e.rx + tol) * (e.ry + tol),
                            )
                        }
                        s => {
                            let band = 2.0 * tol * (sb[2] + sb[3]);
                            (s.area() - band, s.area() + band)
                        }
                    };
                    if area < lo || area > hi {
                        msgs.push(format!(
                            "COCO area {} is outside {}..{} allowed for the {kind} (area {})",
                            num(area),
                            num(lo.max(0.0)),
                            num(hi),
                            num(a.shape.area())
                        ));
                    }
                }
                for m in msgs {
                    let mut f = Finding::new(&Self::META, &file, m).annotation(a);
                    if let Some(im) = images.get(&a.image_id) {
                        f = f.image(&im.file_name);
                    }
                    out.push(f);
                }
            }
        }
        out
    }
}

fn fmt_box(b: &[f64; 4]) -> String {
    b.iter().map(|v| num(*v)).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::testutil::*;

    #[test]
    fn triggers() {
        let mut a = coco_ann(3, 1, 1, ellipse(120.0, 120.0, 5.0, 5.0, 0.0), 10);
        if let Some(c) = a.coco.as_mut() {
            c.bbox = Some([100.0, 100.0, 40.0, 40.0]);
            c.area = Some(1257.0);
        }
        let mut inputs = one_image(vec![a]);
        inputs.datasets[0].dataset.images[0].width = 400;
        let f = run(&BboxMismatch, &inputs);
        assert_eq!(f.len(), 2);
        snap!("bbox_mismatch__trigger", f);
    }

    #[test]
    fn clean_accepts_cvat_whole_pixel_export() {
        // CVAT exports cx=20.4, rx=6.4 as the rasterised ellipse cx=20, rx=6: bbox [14, ..].
        let mut a = coco_ann(1, 1, 1, ellipse(20.4, 30.6, 6.4, 3.45, 0.0), 10);
        if let Some(c) = a.coco.as_mut() {
            c.bbox = Some([14.0, 28.0, 13.0, 7.0]);
            c.area = Some(61.0);
        }
        let f = run(&BboxMismatch, &one_image(vec![a]));
        snap!("bbox_mismatch__clean", f);
    }
}
