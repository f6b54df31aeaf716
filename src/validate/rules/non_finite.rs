//! `non-finite` (NS003).

use super::prelude::*;

declare_rule! {
    /// ## What it does
    /// Reports a shape with a coordinate that is not a finite number (NaN or infinite), and a
    /// COCO `bbox` or `area` that is not finite.
    ///
    /// ## Why it matters
    /// NaN passes every comparison as false: bounds checks, overlap tests and the median of
    /// the 4→7 division all give arbitrary answers. Readers keep such values so that this rule
    /// can point at them instead of failing the whole file.
    ///
    /// ## Example
    /// ```xml
    /// <ellipse label="Primary granules" cx="NaN" cy="10.00" rx="4.00" ry="3.00" .../>
    /// ```
    /// Reported: `ellipse has a non-finite coordinate`.
    pub(crate) struct NonFinite {
        code: "NS003",
        name: "non-finite",
        severity: Error,
        summary: "A coordinate, bbox or area is NaN or infinite.",
    }
}

impl Validation for NonFinite {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, ctx: &Context<'_>) -> Vec<Finding> {
        let mut out = Vec::new();
        for (d, input) in ctx.inputs.datasets.iter().enumerate() {
            let file = ctx.inputs.file_label(d);
            let images = images_by_id(&input.dataset);
            for a in &input.dataset.annotations {
                let mut what = Vec::new();
                if !a.shape.is_finite() {
                    what.push(format!("{} has a non-finite coordinate", a.shape.kind()));
                }
                if let Some(c) = &a.coco {
                    if c.bbox.is_some_and(|b| b.iter().any(|v| !v.is_finite())) {
                        what.push("COCO bbox is not finite".into());
                    }
                    if c.area.is_some_and(|v| !v.is_finite()) {
                        what.push("COCO area is not finite".into());
                    }
                }
                for w in what {
                    let mut f = Finding::new(&Self::META, &file, w).annotation(a);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::testutil::*;

    #[test]
    fn triggers() {
        let mut b = coco_ann(2, 1, 1, ellipse(10.0, 10.0, 3.0, 2.0, 0.0), 11);
        if let Some(c) = b.coco.as_mut() {
            c.bbox = Some([f64::INFINITY, 0.0, 1.0, 1.0]);
            c.area = Some(f64::NAN);
        }
        let f = run(
            &NonFinite,
            &one_image(vec![
                ann(1, 1, 1, ellipse(f64::NAN, 10.0, 3.0, 2.0, 0.0), 10),
                b,
            ]),
        );
        assert_eq!(f.len(), 3);
        snap!("non_finite__trigger", f);
    }

    #[test]
    fn clean() {
        let f = run(
            &NonFinite,
            &one_image(vec![coco_ann(
                1,
                1,
                1,
                ellipse(10.0, 10.0, 3.0, 2.0, 0.0),
                10,
            )]),
        );
        snap!("non_finite__clean", f);
    }
}
