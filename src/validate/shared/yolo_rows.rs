//! What the `yolo-*` rules share: the row problems a lenient YOLO read left out, as findings
//! pinned to the label file, line and column of the offending token.

use crate::training::yolo_labels::RowProblem;
use crate::validate::rules::prelude::*;

/// One finding of `meta`'s rule per row of every YOLO dataset whose problem is `problem`.
pub(crate) fn row_findings(
    ctx: &Context<'_>,
    meta: &RuleMeta,
    problem: RowProblem,
) -> Vec<Finding> {
    let mut out = Vec::new();
    for y in &ctx.inputs.yolo {
        for file in &y.issues {
            let shown = ctx.inputs.display_path(&file.label);
            for issue in file.issues.iter().filter(|i| i.problem == problem) {
                let mut f = Finding::new(meta, &shown, issue.message.clone())
                    .line(Some(issue.line))
                    .column(Some(issue.column));
                if let Some(im) = &file.image {
                    f = f.image(im);
                }
                out.push(f);
            }
        }
    }
    out
}

/// One finding of `meta`'s rule for every file or entry a YOLO read skipped with loss code
/// `code` (e.g. `unsafe-path`).
pub(crate) fn skipped_findings(ctx: &Context<'_>, meta: &RuleMeta, codes: &[&str]) -> Vec<Finding> {
    ctx.inputs
        .yolo
        .iter()
        .flat_map(|y| &y.skipped)
        .filter(|s| codes.contains(&s.code))
        .map(|s| {
            Finding::new(meta, ctx.inputs.display_path(&s.file), s.message.clone()).line(s.line)
        })
        .collect()
}

#[cfg(test)]
pub(crate) mod testutil {
    use crate::training::yolo::Flavour;
    use crate::training::yolo_labels::check_label_text;
    use crate::training::yolo_read::FileIssues;
    use crate::validate::{DatasetInput, Inputs, SourceFormat, YoloSource};
    use std::path::Path;

    /// Inputs holding one YOLO dataset (`data.yaml`, 2 classes) whose label file
    /// `labels/train/a.txt` (image `a.png`) has `text`, checked as `flavour`.
    pub(crate) fn yolo_inputs(text: &str, flavour: Flavour) -> Inputs {
        let label = Path::new("labels/train/a.txt");
        let (_, issues) = check_label_text(text, flavour, 2, label).expect("within the limits");
        Inputs {
            datasets: vec![DatasetInput {
                path: "data.yaml".into(),
                format: SourceFormat::Yolo,
                dataset: Default::default(),
            }],
            yolo: vec![YoloSource {
                dataset: 0,
                issues: vec![FileIssues {
                    label: label.to_path_buf(),
                    image: Some("a.png".into()),
                    issues,
                }],
                ..Default::default()
            }],
            ..Inputs::default()
        }
    }
}
