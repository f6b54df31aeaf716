//! `degenerate-shape` (NS004).

use super::prelude::*;

declare_rule! {
    /// ## What it does
    /// Reports a shape with no usable extent: an ellipse with a semi-axis below
    /// `thresholds.min_axis_px` (0.5 px), a box narrower than that, a polygon ring of fewer
    /// than three points or zero area, an empty mask, a polyline of fewer than two points, or
    /// points without any point.
    ///
    /// ## Why it matters
    /// Such shapes paint no pixel in a mask, have a zero or undefined diameter in the 4→7
    /// division, and are usually a stray click in the annotation tool.
    ///
    /// ## Example
    /// ```xml
    /// <ellipse label="Empty vesicles" cx="812.00" cy="90.50" rx="0.00" ry="6.00" .../>
    /// ```
    /// Reported: `ellipse semi-axes 0 × 6 px: below 0.5 px`.
    pub(crate) struct DegenerateShape {
        code: "NS004",
        name: "degenerate-shape",
        severity: Error,
        summary: "A shape has no usable extent (zero axis, empty mask, too few points).",
    }
}

impl Validation for DegenerateShape {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, ctx: &Context<'_>) -> Vec<Finding> {
        let min = ctx.thresholds.min_axis_px;
        let mut out = Vec::new();
        for (d, input) in ctx.inputs.datasets.iter().enumerate() {
            let file = ctx.inputs.file_label(d);
            let images = images_by_id(&input.dataset);
            for a in &input.dataset.annotations {
                if !a.shape.is_finite() {
                    continue; // non-finite reports it
                }
                let problem = match &a.shape {
                    Shape::Ellipse(e) if e.rx < min || e.ry < min => Some(format!(
                        "ellipse semi-axes {} × {} px: below {} px",
                        num(e.rx),
                        num(e.ry),
                        num(min)
                    )),
                    Shape::Box(b) if b.xbr - b.xtl < min || b.ybr - b.ytl < min => Some(format!(
                        "box {} × {} px: below {} px",
                        num(b.xbr - b.xtl),
                        num(b.ybr - b.ytl),
                        num(min)
                    )),
                    Shape::Polygon(rings) if rings.is_empty() => {
                        Some("polygon without any ring".into())
                    }
                    Shape::Polygon(rings) => rings.iter().enumerate().find_map(|(i, r)| {
                        if r.len() < 3 {
                            Some(format!(
                                "polygon ring {i} has {} points (3 needed)",
                                r.len()
                            ))
                        } else if ring_area_of(r.points()) <= 0.0 {
                            Some(format!("polygon ring {i} has zero area"))
                        } else {
                            None
                        }
                    }),
                    Shape::Polyline(p) if p.len() < 2 => {
                        Some(format!("polyline has {} points (2 needed)", p.len()))
                    }
                    Shape::Points(p) if p.is_empty() => {
                        Some("points shape without any point".into())
                    }
                    Shape::Mask(m) if m.area() == 0 => Some("mask paints no pixel".into()),
                    _ => None,
                };
                if let Some(msg) = problem {
                    let mut f = Finding::new(&Self::META, &file, msg).annotation(a);
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
        let f = run(
            &DegenerateShape,
            &one_image(vec![
                ann(1, 1, 1, ellipse(10.0, 10.0, 0.0, 6.0, 0.0), 10),
                ann(
                    2,
                    1,
                    1,
                    Shape::Polygon(vec![vec![[0.0, 0.0], [1.0, 1.0]]].into()),
                    11,
                ),
                ann(
                    3,
                    1,
                    1,
                    Shape::Polygon(vec![vec![[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]]].into()),
                    12,
                ),
                ann(
                    4,
                    1,
                    1,
                    Shape::Mask(MaskData::Cvat {
                        left: 0,
                        top: 0,
                        width: 2,
                        height: 2,
                        counts: vec![4],
                    }),
                    13,
                ),
            ]),
        );
        assert_eq!(f.len(), 4);
        snap!("degenerate_shape__trigger", f);
    }

    #[test]
    fn clean() {
        let f = run(
            &DegenerateShape,
            &one_image(vec![ann(1, 1, 1, ellipse(10.0, 10.0, 0.5, 6.0, 0.0), 10)]),
        );
        snap!("degenerate_shape__clean", f);
    }
}
