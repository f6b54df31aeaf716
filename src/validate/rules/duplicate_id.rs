//! `duplicate-id` (NS001).

use super::prelude::*;

declare_rule! {
    /// ## What it does
    /// Reports an id that a file uses twice: image ids, annotation ids, category ids, and
    /// also two images with the same file name in one subset (a CVAT project export lists a
    /// file once per subset) or two categories with the same name.
    ///
    /// ## Why it matters
    /// Annotations point at images and categories by id. With two images of one id, the
    /// annotations of both end up on whichever a tool finds first; COCO evaluation and the
    /// 4→7 division then silently mix two images' statistics.
    ///
    /// ## Example
    /// ```json
    /// "annotations": [
    ///   {"id": 7, "image_id": 1, "category_id": 2, ...},
    ///   {"id": 7, "image_id": 1, "category_id": 1, ...}
    /// ]
    /// ```
    /// The second annotation is reported: `annotation id 7 is used twice`.
    pub(crate) struct DuplicateId {
        code: "NS001",
        name: "duplicate-id",
        severity: Error,
        summary: "An image, annotation or category id (or image file name) is used twice.",
    }
}

impl Validation for DuplicateId {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, ctx: &Context<'_>) -> Vec<Finding> {
        let mut out = Vec::new();
        for (d, input) in ctx.inputs.datasets.iter().enumerate() {
            let file = ctx.inputs.file_label(d);
            let ds = &input.dataset;
            let mut seen = HashSet::new();
            let mut names = HashSet::new();
            for im in &ds.images {
                if !seen.insert(im.id) {
                    out.push(
                        Finding::new(
                            &Self::META,
                            &file,
                            format!("image id {} is used twice", im.id),
                        )
                        .at_image(im),
                    );
                }
                // A CVAT project export lists the same file once per subset (each subset is
                // its own task): a name repeats only within one subset.
                if !names.insert((im.subset.as_deref(), im.file_name.as_str())) {
                    let within = im
                        .subset
                        .as_ref()
                        .map_or_else(String::new, |s| format!(" in subset {s:?}"));
                    out.push(
                        Finding::new(
                            &Self::META,
                            &file,
                            format!("image file name {:?} is listed twice{within}", im.file_name),
                        )
                        .at_image(im),
                    );
                }
            }
            // Exporters number annotations in file order: ids that only increase cannot
            // repeat, and the set of a million ids (18 MB, and 27 while it grew) is not
            // needed. Any other order takes the set, sized once.
            let increasing = ds.annotations.windows(2).all(|w| w[0].id.0 < w[1].id.0);
            let mut seen =
                HashSet::with_capacity(if increasing { 0 } else { ds.annotations.len() });
            for a in ds.annotations.iter().filter(|_| !increasing) {
                if !seen.insert(a.id) {
                    out.push(
                        Finding::new(
                            &Self::META,
                            &file,
                            format!("annotation id {} is used twice", a.id),
                        )
                        .annotation(a),
                    );
                }
            }
            let (mut ids, mut cnames) = (HashSet::new(), HashSet::new());
            for c in &ds.categories {
                if !ids.insert(c.id) {
                    out.push(Finding::new(
                        &Self::META,
                        &file,
                        format!("category id {} is used twice", c.id),
                    ));
                }
                if !cnames.insert(c.name.as_str()) {
                    out.push(Finding::new(
                        &Self::META,
                        &file,
                        format!("category name {:?} is declared twice", c.name),
                    ));
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
        let mut cats = four();
        cats.push(cats[0].clone());
        let ds = dataset(
            cats,
            vec![
                image(1, "a.tif", 100, 100, 3),
                image(1, "a.tif", 100, 100, 4),
            ],
            vec![
                ann(7, 1, 1, ellipse(10.0, 10.0, 3.0, 2.0, 0.0), 10),
                ann(7, 1, 2, ellipse(50.0, 50.0, 3.0, 2.0, 0.0), 11),
            ],
        );
        let f = run(&DuplicateId, &coco_inputs(ds));
        assert_eq!(f.len(), 5);
        snap!("duplicate_id__trigger", f);
    }

    #[test]
    fn clean() {
        let f = run(
            &DuplicateId,
            &one_image(vec![ann(1, 1, 1, ellipse(10.0, 10.0, 3.0, 2.0, 0.0), 10)]),
        );
        snap!("duplicate_id__clean", f);
    }
}
