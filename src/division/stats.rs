//! Per-image diameter statistics (docs/design.md §2), the thresholds of the division.
//!
//! Every value is computed from diameters sorted ascending and summed in that order, so the
//! statistics (and hence every label) are bit-for-bit the same whatever order the annotations
//! and images come in.

use super::rules::{Rules, Statistic, Threshold, ThresholdKind};
use super::scale::ResolvedScale;
use crate::error::{Error, Result};
use crate::model::{ellipse_bbox, Annotation, CategoryId, Dataset, ImageId, Shape};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// Exact header of the statistics CSV (docs/design.md §2).
pub const STATS_CSV_HEADER: [&str; 8] = [
    "image_name",
    "px_per_um",
    "granules",
    "mean_diameter_um",
    "median_diameter_um",
    "mean_primary_um",
    "mean_secondary_um",
    "average_diameter_sg_pg",
];

/// The box the diameter is measured on: the COCO `bbox` as given (what the published scripts
/// used), else the tight box of the ellipse (a CVAT-only input), else the shape's own box.
pub fn measure_box(a: &Annotation) -> Option<[f64; 4]> {
    let b = match (a.coco.as_ref().and_then(|c| c.bbox), &a.shape) {
        (Some(b), _) => b,
        (None, Shape::Ellipse(e)) => ellipse_bbox(e),
        (None, s) => s.bbox()?,
    };
    b.iter().all(|v| v.is_finite()).then_some(b)
}

/// `d = (bbox_w + bbox_h) / (2 · px_per_um)` in µm — the one formula used for statistics and
/// for the rules, so the median annotation always lands "at or below".
pub fn diameter_um(a: &Annotation, px_per_um: f64) -> Option<f64> {
    measure_box(a).map(|b| (b[2] + b[3]) / (2.0 * px_per_um))
}

/// The statistics of one image (or the pooled fallback values for an image without granules).
#[derive(Clone, Debug, PartialEq)]
pub struct ImageStats {
    /// The image's id.
    pub image_id: ImageId,
    /// The image's file name.
    pub image_name: String,
    /// The scale used for it.
    pub px_per_um: f64,
    /// Number of granules in this image (0 when the values are pooled).
    pub granules: usize,
    /// Mean granule diameter, µm.
    pub mean: Option<f64>,
    /// Median granule diameter, µm.
    pub median: Option<f64>,
    /// Mean primary-granule diameter, µm.
    pub mean_primary: Option<f64>,
    /// Mean secondary-granule diameter, µm.
    pub mean_secondary: Option<f64>,
    /// `(mean_primary + mean_secondary) / 2`, or the one present, µm.
    pub average_diameter_sg_pg: Option<f64>,
    /// The image has no granules: the values are those pooled over the whole input.
    pub pooled: bool,
    /// The scale table lacked this image; the default scale was used.
    pub scale_defaulted: bool,
}

/// Sorted diameters of one population.
#[derive(Clone, Debug, Default, PartialEq)]
struct Sorted(Vec<f64>);

impl Sorted {
    fn new(mut v: Vec<f64>) -> Sorted {
        v.sort_by(f64::total_cmp);
        Sorted(v)
    }
    fn mean(&self) -> Option<f64> {
        (!self.0.is_empty()).then(|| self.0.iter().sum::<f64>() / self.0.len() as f64)
    }
    fn median(&self) -> Option<f64> {
        let n = self.0.len();
        match n {
            0 => None,
            _ if n % 2 == 1 => Some(self.0[n / 2]),
            _ => Some((self.0[n / 2 - 1] + self.0[n / 2]) / 2.0),
        }
    }
    /// Linear interpolation between order statistics at rank `p/100 · (n−1)`.
    fn percentile(&self, p: f64) -> Option<f64> {
        let n = self.0.len();
        if n == 0 {
            return None;
        }
        let rank = p / 100.0 * (n - 1) as f64;
        let lo = rank.floor() as usize;
        let hi = rank.ceil() as usize;
        let f = rank - lo as f64;
        Some(self.0[lo] + (self.0[hi.min(n - 1)] - self.0[lo]) * f)
    }
}

/// Statistics of a dataset: per image, pooled, and the diameters behind them.
#[derive(Clone, Debug, PartialEq)]
pub struct Statistics {
    /// One row per image, in the dataset's image order.
    pub images: Vec<ImageStats>,
    /// The granule statistics pooled over the whole input (the fallback).
    pub pooled: ImageStats,
    /// Source class name of each category id of the input.
    pub class_of: HashMap<CategoryId, String>,
    /// The scale table used.
    pub scale: ResolvedScale,
    /// Warnings for the user (missing scales, pooled images, …).
    pub warnings: Vec<String>,
    /// Per image, per source class: diameters (µm), sorted.
    per_class: HashMap<ImageId, BTreeMap<String, Sorted>>,
    /// Per source class over the whole input, sorted.
    pooled_class: BTreeMap<String, Sorted>,
    granule_classes: Vec<String>,
    primary: String,
    secondary: String,
}

impl Statistics {
    /// Computes the statistics of a 4-class dataset. Categories are identified by name
    /// through the rules' source label set (loose spelling accepted), never by id.
    pub(crate) fn compute(
        ds: &Dataset,
        scale: &ResolvedScale,
        rules: &Rules,
        input: &Path,
    ) -> Result<Statistics> {
        let class_of = source_classes(ds, rules, input)?;
        let mut warnings = scale.warnings.clone();
        let image_ids: HashMap<ImageId, usize> = ds
            .images
            .iter()
            .enumerate()
            .map(|(i, im)| (im.id, i))
            .collect();
        let mut raw: HashMap<ImageId, BTreeMap<String, Vec<f64>>> = HashMap::new();
        let mut unmeasurable = 0usize;
        for a in &ds.annotations {
            if !image_ids.contains_key(&a.image_id) {
                return Err(Error::invalid(
                    input,
                    format!(
                        "annotation {} refers to image {}, which the dataset lacks",
                        a.id, a.image_id
                    ),
                ));
            }
            let Some(class) = class_of.get(&a.category_id) else {
                return Err(Error::invalid(
                    input,
                    format!(
                        "annotation {} has category {}, which the dataset does not declare",
                        a.id, a.category_id
                    ),
                ));
            };
            match diameter_um(a, scale.get(a.image_id)) {
                Some(d) => raw
                    .entry(a.image_id)
                    .or_default()
                    .entry(class.clone())
                    .or_default()
                    .push(d),
                None => unmeasurable += 1,
            }
        }
        if unmeasurable > 0 {
            warnings.push(format!("{unmeasurable} annotation(s) have no measurable box (no bbox, no geometry) and are left out of the statistics"));
        }
        let per_class: HashMap<ImageId, BTreeMap<String, Sorted>> = raw
            .into_iter()
            .map(|(k, m)| (k, m.into_iter().map(|(c, v)| (c, Sorted::new(v))).collect()))
            .collect();
        let mut pooled_raw: BTreeMap<String, Vec<f64>> = BTreeMap::new();
        for m in per_class.values() {
            for (c, v) in m {
                pooled_raw
                    .entry(c.clone())
                    .or_default()
                    .extend_from_slice(&v.0);
            }
        }
        let pooled_class: BTreeMap<String, Sorted> = pooled_raw
            .into_iter()
            .map(|(c, v)| (c, Sorted::new(v)))
            .collect();
        let mut st = Statistics {
            images: Vec::new(),
            pooled: ImageStats {
                image_id: ImageId(0),
                image_name: "(pooled)".into(),
                px_per_um: f64::NAN,
                granules: 0,
                mean: None,
                median: None,
                mean_primary: None,
                mean_secondary: None,
                average_diameter_sg_pg: None,
                pooled: true,
                scale_defaulted: false,
            },
            class_of,
            scale: scale.clone(),
            warnings,
            per_class,
            pooled_class,
            granule_classes: rules.granules.clone(),
            primary: rules.primary.clone(),
            secondary: rules.secondary.clone(),
        };
        st.pooled = st.row(None, "(pooled)", f64::NAN);
        st.pooled.pooled = true;
        let mut no_granules = Vec::new();
        for im in &ds.images {
            let ppu = scale.get(im.id);
            let mut row = st.row(Some(im.id), &im.file_name, ppu);
            row.scale_defaulted = scale.defaulted.binary_search(&im.file_name).is_ok();
            if row.granules == 0 {
                no_granules.push(im.file_name.clone());
                row = ImageStats {
                    image_id: im.id,
                    image_name: im.file_name.clone(),
                    px_per_um: ppu,
                    granules: 0,
                    pooled: true,
                    scale_defaulted: row.scale_defaulted,
                    ..st.pooled.clone()
                };
            }
            st.images.push(row);
        }
        if !no_granules.is_empty() {
            st.warnings.push(format!(
                "{} image(s) have no granules and use the statistics pooled over all {} granules of the input: {}",
                no_granules.len(),
                st.pooled.granules,
                no_granules.join(", ")
            ));
        }
        Ok(st)
    }

    fn classes(&self, image: Option<ImageId>) -> Option<&BTreeMap<String, Sorted>> {
        match image {
            Some(id) => self.per_class.get(&id),
            None => Some(&self.pooled_class),
        }
    }

    fn population(&self, image: Option<ImageId>, classes: &[String]) -> Sorted {
        let mut v = Vec::new();
        if let Some(m) = self.classes(image) {
            for c in classes {
                if let Some(s) = m.get(c) {
                    v.extend_from_slice(&s.0);
                }
            }
        }
        Sorted::new(v)
    }

    fn class_mean(&self, image: Option<ImageId>, class: &str) -> Option<f64> {
        self.classes(image)?.get(class)?.mean()
    }

    fn row(&self, image: Option<ImageId>, name: &str, ppu: f64) -> ImageStats {
        let g = self.population(image, &self.granule_classes);
        let mp = self.class_mean(image, &self.primary);
        let ms = self.class_mean(image, &self.secondary);
        ImageStats {
            image_id: image.unwrap_or(ImageId(0)),
            image_name: name.to_string(),
            px_per_um: ppu,
            granules: g.0.len(),
            mean: g.mean(),
            median: g.median(),
            mean_primary: mp,
            mean_secondary: ms,
            average_diameter_sg_pg: match (mp, ms) {
                (Some(a), Some(b)) => Some((a + b) / 2.0),
                (a, b) => a.or(b),
            },
            pooled: false,
            scale_defaulted: false,
        }
    }

    /// Sorted granule diameters of an image (for histograms).
    pub fn granule_diameters(&self, image: ImageId) -> Vec<f64> {
        self.population(Some(image), &self.granule_classes).0
    }

    /// The value of `t` for `image`, and whether it had to be pooled over the whole input
    /// because the image has none of the population (or the statistic is undefined there).
    pub fn threshold(&self, image: ImageId, t: &Threshold) -> Option<(f64, bool)> {
        let eval = |im: Option<ImageId>| -> Option<f64> {
            let pop = || self.population(im, t.over.as_deref().unwrap_or(&self.granule_classes));
            match &t.kind {
                ThresholdKind::FixedUm(x) => Some(*x),
                ThresholdKind::Percentile(p) => pop().percentile(*p),
                ThresholdKind::Statistic(Statistic::Median) => pop().median(),
                ThresholdKind::Statistic(Statistic::Mean) => pop().mean(),
                ThresholdKind::Statistic(Statistic::MeanPrimary) => {
                    self.class_mean(im, &self.primary)
                }
                ThresholdKind::Statistic(Statistic::MeanSecondary) => {
                    self.class_mean(im, &self.secondary)
                }
                ThresholdKind::Statistic(Statistic::AverageDiameterSgPg) => {
                    let mp = self.class_mean(im, &self.primary);
                    let ms = self.class_mean(im, &self.secondary);
                    match (mp, ms) {
                        (Some(a), Some(b)) => Some((a + b) / 2.0),
                        (a, b) => a.or(b),
                    }
                }
            }
        };
        // The published rule: an image with no granules takes pooled statistics. For the
        // default thresholds that is exactly "population empty"; a class-specific mean that is
        // undefined in an image (no primaries, say) is pooled the same way.
        match eval(Some(image)) {
            Some(v) => Some((v, false)),
            None => eval(None).map(|v| (v, true)),
        }
    }

    /// The statistics table as CSV with exactly [`STATS_CSV_HEADER`].
    pub fn to_csv(&self) -> Result<Vec<u8>> {
        let mut w = csv::Writer::from_writer(Vec::new());
        let csv_err = |e: csv::Error| Error::Usage(format!("writing statistics CSV: {e}"));
        w.write_record(STATS_CSV_HEADER).map_err(csv_err)?;
        for r in &self.images {
            // Text cells through the formula guard; numbers are ours and never guarded.
            w.write_record([
                crate::escape::csv_cell(&r.image_name).into_owned(),
                num(Some(r.px_per_um)),
                r.granules.to_string(),
                num(r.mean),
                num(r.median),
                num(r.mean_primary),
                num(r.mean_secondary),
                num(r.average_diameter_sg_pg),
            ])
            .map_err(csv_err)?;
        }
        w.into_inner()
            .map_err(|e| Error::Usage(format!("writing statistics CSV: {e}")))
    }

    /// The statistics as a JSON array of objects with the CSV's keys plus `pooled`.
    pub fn to_json(&self) -> Result<Vec<u8>> {
        let rows: Vec<serde_json::Value> = self
            .images
            .iter()
            .map(|r| {
                serde_json::json!({
                    "image_name": r.image_name,
                    "px_per_um": r.px_per_um,
                    "granules": r.granules,
                    "mean_diameter_um": r.mean,
                    "median_diameter_um": r.median,
                    "mean_primary_um": r.mean_primary,
                    "mean_secondary_um": r.mean_secondary,
                    "average_diameter_sg_pg": r.average_diameter_sg_pg,
                    "pooled": r.pooled,
                })
            })
            .collect();
        let mut out = serde_json::to_vec_pretty(&rows)
            .map_err(|e| Error::Usage(format!("writing statistics JSON: {e}")))?;
        out.push(b'\n');
        Ok(out)
    }

    /// The statistics as an XLSX workbook (one sheet, `statistics`, the CSV's columns).
    pub fn to_xlsx(&self) -> Result<Vec<u8>> {
        let x =
            |e: rust_xlsxwriter::XlsxError| Error::Usage(format!("writing statistics XLSX: {e}"));
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet();
        sheet.set_name("statistics").map_err(x)?;
        for (c, h) in STATS_CSV_HEADER.iter().enumerate() {
            sheet.write_string(0, c as u16, *h).map_err(x)?;
        }
        for (i, r) in self.images.iter().enumerate() {
            let row = i as u32 + 1;
            sheet.write_string(row, 0, &r.image_name).map_err(x)?;
            sheet.write_number(row, 1, r.px_per_um).map_err(x)?;
            sheet.write_number(row, 2, r.granules as f64).map_err(x)?;
            for (c, v) in [
                r.mean,
                r.median,
                r.mean_primary,
                r.mean_secondary,
                r.average_diameter_sg_pg,
            ]
            .into_iter()
            .enumerate()
            {
                if let Some(v) = v {
                    sheet.write_number(row, c as u16 + 3, v).map_err(x)?;
                }
            }
        }
        book.save_to_buffer().map_err(x)
    }

    /// Writes the table to `path` as CSV, XLSX or JSON by extension; any other extension is
    /// refused (see `is_table_path`) rather than silently written as CSV.
    pub fn write(&self, path: &Path) -> Result<()> {
        let bytes = match table_extension(path).as_deref() {
            Some("xlsx") => self.to_xlsx()?,
            Some("json") => self.to_json()?,
            Some(_) => self.to_csv()?,
            None => {
                return Err(Error::Usage(format!(
                    "{}: {}",
                    path.display(),
                    TABLE_EXTENSION_HINT
                )))
            }
        };
        crate::atomic::write(path, &bytes)
    }
}

/// What a statistics table's name must end in, for error messages.
pub(crate) const TABLE_EXTENSION_HINT: &str =
    "a statistics table is written as .csv, .xlsx or .json, chosen by the extension";

/// The lower-cased extension of `path` when it names a table format (csv, xlsx, json).
fn table_extension(path: &Path) -> Option<String> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    ["csv", "xlsx", "json"]
        .contains(&ext.as_str())
        .then_some(ext)
}

/// Whether [`Statistics::write`] knows the format of `path` from its extension: callers
/// check before the (long) computation, so a typo costs nothing.
pub(crate) fn is_table_path(path: &Path) -> bool {
    table_extension(path).is_some()
}

/// Shortest round-trip decimal, empty for a missing value.
pub(crate) fn num(v: Option<f64>) -> String {
    v.map(|v| format!("{v}")).unwrap_or_default()
}

/// Maps each category of `ds` to its source class name (exact, then loosely spelt), refusing a
/// dataset that already uses the target classes (no double conversion) or unknown classes.
pub(crate) fn source_classes(
    ds: &Dataset,
    rules: &Rules,
    input: &Path,
) -> Result<HashMap<CategoryId, String>> {
    let src = &rules.source;
    let tgt = &rules.target;
    let lookup = |n: &str| {
        src.by_name(n)
            .or_else(|| src.by_loose_name(n))
            .map(|c| c.name.clone())
    };
    let in_target_only = |n: &str| {
        lookup(n).is_none() && (tgt.by_name(n).is_some() || tgt.by_loose_name(n).is_some())
    };
    let target_only: Vec<&str> = ds
        .categories
        .iter()
        .map(|c| c.name.as_str())
        .filter(|n| in_target_only(n))
        .collect();
    let source_only = ds.categories.iter().any(|c| {
        lookup(&c.name).is_some()
            && tgt.by_name(&c.name).is_none()
            && tgt.by_loose_name(&c.name).is_none()
    });
    if !target_only.is_empty() && !source_only {
        return Err(Error::invalid(
            input,
            format!(
                "this dataset is already in the target label set {:?} (it has {}); refusing to divide it again",
                tgt.name,
                target_only.iter().map(|n| format!("{n:?}")).collect::<Vec<_>>().join(", ")
            ),
        ));
    }
    let used: std::collections::HashSet<CategoryId> =
        ds.annotations.iter().map(|a| a.category_id).collect();
    let mut out = HashMap::new();
    for c in &ds.categories {
        match lookup(&c.name) {
            Some(n) => {
                out.insert(c.id, n);
            }
            None if used.contains(&c.id) => {
                let hint = if in_target_only(&c.name) {
                    " (a target class: the label sets are mixed)"
                } else {
                    ""
                };
                return Err(Error::invalid(
                    input,
                    format!(
                        "category {} {:?} is not a class of the source label set {:?}{hint}",
                        c.id, c.name, src.name
                    ),
                ));
            }
            None => {}
        }
    }
    Ok(out)
}
