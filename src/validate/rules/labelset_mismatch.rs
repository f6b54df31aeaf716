//! `labelset-mismatch` (NS011).

use super::prelude::*;
use crate::labelset::{loose, LabelSet};

declare_rule! {
    /// ## What it does
    /// Reports a file whose classes do not fit one label set:
    /// - classes that only the 4-class set has next to classes that only the 7-class set has
    ///   (a file half converted by the 4→7 division);
    /// - a file whose classes match another built-in set better than the expected one (the
    ///   `--labelset` given, or the set most files of the run use: a 4-class COCO next to a
    ///   7-class CVAT of the same split);
    /// - (warning) a class whose id or colour differs from the label set's, which changes the
    ///   index and colour masks.
    ///
    /// ## Why it matters
    /// Running the division twice, or publishing a COCO and a CVAT file of different versions,
    /// gives a dataset whose files disagree about what every class means.
    ///
    /// ## Example
    /// A COCO file declaring both "Primary granules" (4-class) and "Specific granules"
    /// (7-class) is reported: `mixes the 4-class and 7-class label sets`.
    pub(crate) struct LabelsetMismatch {
        code: "NS011",
        name: "labelset-mismatch",
        severity: Error,
        summary: "A file mixes label sets, uses another set than expected, or renumbers/recolours classes.",
    }
}

impl Validation for LabelsetMismatch {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, ctx: &Context<'_>) -> Vec<Finding> {
        let four = LabelSet::four_class();
        let seven = LabelSet::seven_class();
        let mut out = Vec::new();
        for (d, input) in ctx.inputs.datasets.iter().enumerate() {
            let expected = ctx.labelset_of(d);
            let file = ctx.inputs.file_label(d);
            let ds = &input.dataset;
            let names: Vec<&str> = ds.categories.iter().map(|c| c.name.as_str()).collect();
            let only4 = names
                .iter()
                .any(|n| four.by_name(n).is_some() && seven.by_name(n).is_none());
            let only7 = names
                .iter()
                .any(|n| seven.by_name(n).is_some() && four.by_name(n).is_none());
            let before = out.len();
            if only4 && only7 {
                out.push(Finding::new(
                    &Self::META,
                    &file,
                    format!("mixes the {} and {} label sets", four.name, seven.name),
                ));
            } else if let Some(exp) = expected {
                let mine = exp.matches(&names);
                for other in [&four, &seven] {
                    if other.name != exp.name && other.matches(&names) > mine {
                        out.push(Finding::new(
                            &Self::META,
                            &file,
                            format!(
                                "classes are those of label set {}, expected {}",
                                other.name, exp.name
                            ),
                        ));
                    }
                }
            }
            // Ids and colours only matter once the file is in the right set.
            let Some(exp) = expected.filter(|_| out.len() == before) else {
                continue;
            };
            for c in &ds.categories {
                let Some(lc) = exp
                    .by_name(&c.name)
                    .or_else(|| exp.by_loose_name(&loose(&c.name)))
                else {
                    continue;
                };
                if lc.id != c.id {
                    out.push(
                        Finding::new(
                            &Self::META,
                            &file,
                            format!(
                                "class {:?} has id {}, label set {} gives it {}",
                                c.name, c.id, exp.name, lc.id
                            ),
                        )
                        .severity(Severity::Warning),
                    );
                }
                if let Some(col) = c.color.filter(|col| *col != lc.color) {
                    out.push(
                        Finding::new(
                            &Self::META,
                            &file,
                            format!(
                                "class {:?} has colour {}, label set {} gives it {}",
                                c.name,
                                col.to_hex(),
                                exp.name,
                                lc.color.to_hex()
                            ),
                        )
                        .severity(Severity::Warning),
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
    use crate::validate::{Inputs, SourceFormat};

    #[test]
    fn triggers() {
        let mut mixed = four();
        mixed.push(seven()[0].clone());
        let mut renumbered = seven();
        renumbered[0].id = CategoryId(11);
        renumbered[1].color = Some(Rgb([1, 2, 3]));
        let inputs = Inputs {
            datasets: vec![
                input(
                    "mixed.json",
                    SourceFormat::Coco,
                    dataset(mixed, vec![], vec![]),
                ),
                input(
                    "seven.xml",
                    SourceFormat::Cvat,
                    dataset(renumbered, vec![], vec![]),
                ),
            ],
            labelset: Some(LabelSet::four_class()),
            ..Inputs::default()
        };
        let f = run(&LabelsetMismatch, &inputs);
        assert_eq!(f.len(), 2, "{f:#?}");
        let inputs = Inputs {
            labelset: Some(LabelSet::seven_class()),
            ..inputs
        };
        let g = run(&LabelsetMismatch, &inputs);
        snap!("labelset_mismatch__trigger", (f, g));
    }

    #[test]
    fn clean() {
        let f = run(&LabelsetMismatch, &one_image(vec![]));
        snap!("labelset_mismatch__clean", f);
    }
}
