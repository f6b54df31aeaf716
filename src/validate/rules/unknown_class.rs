//! `unknown-class` (NS010).

use super::prelude::*;

declare_rule! {
    /// ## What it does
    /// Compares each declared class with the label set (`--labelset 4|7|FILE`, else the
    /// built-in set naming most of the classes). A class whose name the set lacks is reported;
    /// when the name matches a class of the set except for case, spacing or punctuation, the
    /// message names the right spelling. The finding points at the first annotation using the
    /// class, and says how many do.
    ///
    /// ## Why it matters
    /// Converters, masks (colours come from the label set) and the 4→7 division look classes
    /// up by name: "primary granules" is not "Primary granules", and its shapes would get no
    /// colour and no 7-class label.
    ///
    /// ## Example
    /// ```xml
    /// <label><name>primary  granules</name>...</label>
    /// ```
    /// Reported: `class "primary  granules" is not named as in label set 4-class: did you mean "Primary granules"? (12 annotations)`.
    pub(crate) struct UnknownClass {
        code: "NS010",
        name: "unknown-class",
        severity: Error,
        summary: "A class is not in the label set (or is misspelled).",
    }
}

impl Validation for UnknownClass {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, ctx: &Context<'_>) -> Vec<Finding> {
        let mut out = Vec::new();
        for (d, input) in ctx.inputs.datasets.iter().enumerate() {
            let Some(ls) = ctx.labelset_of(d) else {
                continue;
            };
            let file = ctx.inputs.file_label(d);
            let ds = &input.dataset;
            let images = images_by_id(ds);
            for c in &ds.categories {
                if ls.by_name(&c.name).is_some() {
                    continue;
                }
                let users: Vec<&Annotation> = ds
                    .annotations
                    .iter()
                    .filter(|a| a.category_id == c.id)
                    .collect();
                let msg = match ls.by_loose_name(&c.name) {
                    Some(right) => format!(
                        "class {:?} is not named as in label set {}: did you mean {:?}? ({} annotation(s))",
                        c.name,
                        ls.name,
                        right.name,
                        users.len()
                    ),
                    None => format!("class {:?} is not in label set {} ({} annotation(s))", c.name, ls.name, users.len()),
                };
                let mut f = Finding::new(&Self::META, &file, msg);
                if let Some(first) = users.first() {
                    f = f.at(first.loc);
                    if let Some(im) = images.get(&first.image_id) {
                        f = f.image(&im.file_name);
                    }
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

    #[test]
    fn triggers() {
        let mut cats = four();
        cats[0].name = "primary  granules".into();
        cats.push(Category {
            id: CategoryId(9),
            name: "Mitochondria".into(),
            ..cats[1].clone()
        });
        let ds = dataset(
            cats,
            vec![image(1, "a.tif", 100, 100, 3)],
            vec![
                ann(1, 1, 1, ellipse(10.0, 10.0, 3.0, 2.0, 0.0), 10),
                ann(2, 1, 2, ellipse(30.0, 10.0, 3.0, 2.0, 0.0), 11),
            ],
        );
        let f = run(&UnknownClass, &coco_inputs(ds));
        assert_eq!(f.len(), 2);
        snap!("unknown_class__trigger", f);
    }

    #[test]
    fn clean() {
        let f = run(
            &UnknownClass,
            &one_image(vec![ann(1, 1, 1, ellipse(10.0, 10.0, 3.0, 2.0, 0.0), 10)]),
        );
        snap!("unknown_class__clean", f);
    }
}
