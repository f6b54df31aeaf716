//! The 4→7 class division ("reclassification") of docs/design.md §2, made exact and data-driven.
//!
//! Inputs are a 4-class [`Dataset`], a [`ScaleTable`] and [`Rules`]; outputs are the 7-class
//! dataset, the per-image statistics and one audit row per annotation, all as values or bytes
//! so the command line stays a thin layer (read files → call → write bytes atomically).
//! The label of an annotation is a function of the annotation and its image's statistics
//! only, so the result does not depend on annotation or image order.

pub(crate) mod cvat_update;
mod pipeline;
pub mod plots;
pub mod rules;
pub mod scale;
pub mod stats;

pub use cvat_update::{update_cvat, update_cvat_from_pair, MatchReport, ShapeIssue};
pub use pipeline::{
    load_rules, reclassify as reclassify_files, statistics as statistics_of_file, Reclassified,
    ReclassifyRequest, StatsRequest,
};
pub use rules::{
    CmpOp, Condition, Rule, Rules, Statistic, Threshold, ThresholdKind, DEFAULT_RULES_TOML,
};
pub use scale::{ResolvedScale, ScaleEntry, ScaleTable, DEFAULT_PX_PER_UM};
pub use stats::{diameter_um, measure_box, ImageStats, Statistics, STATS_CSV_HEADER};

use crate::error::{Error, Result};
use crate::model::{AnnotationId, CategoryId, Dataset, ImageId};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Exact header of the audit CSV (docs/design.md §2).
pub(crate) const AUDIT_CSV_HEADER: [&str; 7] = [
    "annotation_id",
    "image_name",
    "source_class",
    "diameter_um",
    "threshold_um",
    "threshold_kind",
    "target_class",
];

/// How to run the division.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Images missing from the scale table are an error instead of a warning.
    pub strict: bool,
    /// The input's file name, for messages (`input` when empty).
    pub input: PathBuf,
}

/// Why one annotation got its target class.
#[derive(Clone, Debug, PartialEq)]
pub struct AuditRow {
    /// The annotation.
    pub annotation_id: AnnotationId,
    /// Its image's id.
    pub image_id: ImageId,
    /// Its image's file name.
    pub image_name: String,
    /// Its 4-class name.
    pub source_class: String,
    /// `None` for an annotation without a measurable box (only possible under `always`).
    pub diameter_um: Option<f64>,
    /// `None` under `always`.
    pub threshold_um: Option<f64>,
    /// `median`, `average_diameter_sg_pg`, `percentile_60`, `fixed_um`, `always`; with
    /// ` (pooled)` when the image had none of the population and the input's pooled value was
    /// used.
    pub threshold_kind: String,
    /// Its 7-class name.
    pub target_class: String,
    /// Its 7-class category id.
    pub target_id: CategoryId,
}

/// The result of a division.
#[derive(Clone, Debug)]
pub struct Division {
    /// The divided dataset: target categories, each annotation's `category_id` replaced,
    /// everything else as it was.
    pub dataset: Dataset,
    /// The per-image statistics the thresholds came from.
    pub statistics: Statistics,
    /// One row per annotation, in the input's annotation order.
    pub audit: Vec<AuditRow>,
    /// Everything a user should be told (defaulted scales, pooled images, …).
    pub warnings: Vec<String>,
    /// The class names of the source label set (to recognise source labels elsewhere,
    /// e.g. in the CVAT file being updated).
    pub source_classes: Vec<String>,
}

/// Per-image statistics only (the `stats` command): resolves the scale table against the
/// dataset (375 px/µm for missing images, an error when `opts.strict`).
pub(crate) fn compute_statistics(
    ds: &Dataset,
    scale: &ScaleTable,
    rules: &Rules,
    opts: &Options,
) -> Result<Statistics> {
    let resolved = scale.resolve(ds, opts.strict)?;
    Statistics::compute(ds, &resolved, rules, input_name(opts))
}

/// Divides a 4-class dataset with default options (warnings, not errors, for missing scales).
pub fn reclassify(ds: &Dataset, scale: &ScaleTable, rules: &Rules) -> Result<Division> {
    reclassify_with(ds, scale, rules, &Options::default())
}

/// Divides a 4-class dataset: statistics per image, then each annotation's class by the rules.
pub fn reclassify_with(
    ds: &Dataset,
    scale: &ScaleTable,
    rules: &Rules,
    opts: &Options,
) -> Result<Division> {
    let input = input_name(opts);
    let statistics = compute_statistics(ds, scale, rules, opts)?;
    let names: HashMap<ImageId, &str> = ds
        .images
        .iter()
        .map(|im| (im.id, im.file_name.as_str()))
        .collect();
    let target_ids: HashMap<&str, CategoryId> = rules
        .target
        .classes
        .iter()
        .map(|c| (c.name.as_str(), c.id))
        .collect();
    // One threshold value per (image, source class): rules of a class share their threshold.
    let mut cache: HashMap<(ImageId, &str), Option<(f64, bool)>> = HashMap::new();
    let mut out = ds.clone();
    out.categories = rules.target.categories();
    let mut audit = Vec::with_capacity(ds.annotations.len());
    for a in out.annotations.iter_mut() {
        let image_name = names.get(&a.image_id).copied().unwrap_or_default();
        let source = statistics.class_of.get(&a.category_id).ok_or_else(|| {
            Error::invalid(
                input,
                format!(
                    "annotation {} has category {}, which the dataset does not declare",
                    a.id, a.category_id
                ),
            )
        })?;
        let d = diameter_um(a, statistics.scale.get(a.image_id));
        let mut row = AuditRow {
            annotation_id: a.id,
            image_id: a.image_id,
            image_name: image_name.to_string(),
            source_class: source.clone(),
            diameter_um: d,
            threshold_um: None,
            threshold_kind: "always".into(),
            target_class: String::new(),
            target_id: CategoryId(0),
        };
        let mut chosen = None;
        for r in rules.rules_for(source) {
            match &r.condition {
                Condition::Always => {
                    chosen = Some(r);
                    break;
                }
                Condition::Compare { op, threshold } => {
                    let t = *cache
                        .entry((a.image_id, r.source.as_str()))
                        .or_insert_with(|| statistics.threshold(a.image_id, threshold));
                    let (t, pooled) = t.ok_or_else(|| {
                        Error::invalid(
                            input,
                            format!(
                                "annotation {} ({source}, image {image_name}): threshold {threshold} is undefined (the input has none of its population)",
                                a.id
                            ),
                        )
                    })?;
                    let d = d.ok_or_else(|| {
                        Error::invalid(input, format!("annotation {} ({source}, image {image_name}) has no measurable box, so no diameter", a.id))
                    })?;
                    row.threshold_um = Some(t);
                    row.threshold_kind = if pooled {
                        format!("{threshold} (pooled)")
                    } else {
                        threshold.to_string()
                    };
                    if op.holds(d, t) {
                        chosen = Some(r);
                        break;
                    }
                }
            }
        }
        // Validation guarantees coverage; a NaN diameter is the only way to fall through.
        let rule = chosen.ok_or_else(|| {
            Error::invalid(input, format!("annotation {} ({source}, image {image_name}): no rule applies (diameter {d:?})", a.id))
        })?;
        let id = target_ids
            .get(rule.target.as_str())
            .copied()
            .ok_or_else(|| {
                Error::invalid(
                    &rules.path,
                    format!(
                        "target class {:?} is not in the target label set",
                        rule.target
                    ),
                )
            })?;
        a.category_id = id;
        row.target_class = rule.target.clone();
        row.target_id = id;
        audit.push(row);
    }
    let warnings = statistics.warnings.clone();
    let source_classes = rules
        .source
        .classes
        .iter()
        .map(|c| c.name.clone())
        .collect();
    Ok(Division {
        dataset: out,
        statistics,
        audit,
        warnings,
        source_classes,
    })
}

fn input_name(opts: &Options) -> &Path {
    if opts.input.as_os_str().is_empty() {
        Path::new("input")
    } else {
        &opts.input
    }
}

/// The audit table as CSV with exactly `AUDIT_CSV_HEADER`.
pub fn audit_csv(rows: &[AuditRow]) -> Result<Vec<u8>> {
    let e = |e: csv::Error| Error::Usage(format!("writing audit CSV: {e}"));
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(AUDIT_CSV_HEADER).map_err(e)?;
    for r in rows {
        w.write_record([
            r.annotation_id.to_string(),
            // Text cells (names from the data) through the formula guard.
            crate::escape::csv_cell(&r.image_name).into_owned(),
            crate::escape::csv_cell(&r.source_class).into_owned(),
            stats::num(r.diameter_um),
            stats::num(r.threshold_um),
            crate::escape::csv_cell(&r.threshold_kind).into_owned(),
            crate::escape::csv_cell(&r.target_class).into_owned(),
        ])
        .map_err(e)?;
    }
    w.into_inner()
        .map_err(|e| Error::Usage(format!("writing audit CSV: {e}")))
}

impl Division {
    /// Writes the audit CSV atomically.
    pub fn write_audit(&self, path: &Path) -> Result<()> {
        crate::atomic::write(path, &audit_csv(&self.audit)?)
    }
}
