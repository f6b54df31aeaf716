//! `dangling-reference` (NS002).

use super::prelude::*;

declare_rule! {
    /// ## What it does
    /// Reports an annotation whose `image_id` names no image of the file, or whose
    /// `category_id` names no declared category.
    ///
    /// ## Why it matters
    /// Such an annotation belongs nowhere: converters drop it, masks never show it, and the
    /// statistics of the 4→7 division do not count it, so work is silently lost.
    ///
    /// ## Example
    /// ```json
    /// "images": [{"id": 1, ...}],
    /// "annotations": [{"id": 5, "image_id": 9, "category_id": 1, ...}]
    /// ```
    /// Reported: `annotation 5 refers to image id 9, which the file does not list`.
    pub(crate) struct DanglingReference {
        code: "NS002",
        name: "dangling-reference",
        severity: Error,
        summary: "An annotation refers to an image or category the file does not declare.",
    }
}

impl Validation for DanglingReference {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, ctx: &Context<'_>) -> Vec<Finding> {
        let mut out = Vec::new();
        for (d, input) in ctx.inputs.datasets.iter().enumerate() {
            let file = ctx.inputs.file_label(d);
            let ds = &input.dataset;
            let images = images_by_id(ds);
            let cats = class_names(ds);
            for a in &ds.annotations {
                let im = images.get(&a.image_id);
                if im.is_none() {
                    out.push(
                        Finding::new(
                            &Self::META,
                            &file,
                            format!(
                                "annotation {} refers to image id {}, which the file does not list",
                                a.id, a.image_id
                            ),
                        )
                        .annotation(a),
                    );
                }
                if !cats.contains_key(&a.category_id) {
                    let mut f = Finding::new(
                        &Self::META,
                        &file,
                        format!("annotation {} refers to category id {}, which the file does not declare", a.id, a.category_id),
                    )
                    .annotation(a);
                    if let Some(im) = im {
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
            &DanglingReference,
            &one_image(vec![
                ann(1, 9, 1, ellipse(10.0, 10.0, 3.0, 2.0, 0.0), 10),
                ann(2, 1, 42, ellipse(20.0, 10.0, 3.0, 2.0, 0.0), 11),
            ]),
        );
        assert_eq!(f.len(), 2);
        snap!("dangling_reference__trigger", f);
    }

    #[test]
    fn clean() {
        let f = run(
            &DanglingReference,
            &one_image(vec![ann(1, 1, 4, ellipse(10.0, 10.0, 3.0, 2.0, 0.0), 10)]),
        );
        snap!("dangling_reference__clean", f);
    }
}
