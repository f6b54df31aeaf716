//! The published workflow's steps 2–3 as library calls: per-image statistics of a 4-class
//! COCO, and its division into the 7 classes (COCO, and CVAT updated by matching), with every
//! output the command line writes.

use super::{plots::PlotFormat, Division, Options, Rules, ScaleTable, Statistics};
use crate::convert::Format;
use crate::error::Result;
use crate::lossiness::Lossiness;
use std::path::{Path, PathBuf};

/// Statistics of one 4-class COCO.
#[derive(Clone, Debug)]
pub struct StatsRequest {
    /// The 4-class COCO JSON.
    pub coco: PathBuf,
    /// Scale table (CSV or XLSX).
    pub scale: PathBuf,
    /// Division rules file; `None` is the published division.
    pub rules: Option<PathBuf>,
    /// Images missing from the scale table are an error, not a warning.
    pub strict: bool,
}

/// The division of one 4-class COCO (and its CVAT) into the 7 classes.
#[derive(Clone, Debug)]
pub struct ReclassifyRequest {
    /// The 4-class COCO JSON.
    pub coco: PathBuf,
    /// Scale table (CSV or XLSX).
    pub scale: PathBuf,
    /// The 4-class CVAT XML of the same images, updated by matching.
    pub cvat: Option<PathBuf>,
    /// Division rules file; `None` is the published division.
    pub rules: Option<PathBuf>,
    /// Images missing from the scale table are an error, not a warning.
    pub strict: bool,
}

/// Reads the rules file, or gives the published division.
pub fn load_rules(path: Option<&Path>) -> Result<Rules> {
    match path {
        Some(p) => Rules::load(p),
        None => Ok(Rules::default_rules()),
    }
}

/// Reads a 4-class COCO; `keep_segmentation` when it will be written back as COCO.
fn read_coco(path: &Path, keep_segmentation: bool) -> Result<crate::model::Dataset> {
    let opts = crate::coco::ReadOptions {
        drop_segmentation_text: !keep_segmentation,
        ..Default::default()
    };
    Ok(crate::convert::read(Format::Coco, path, &opts)?.0)
}

/// Per-image statistics (step 2 of the workflow). Its `warnings` say which images took the
/// default scale.
pub fn statistics(req: &StatsRequest) -> Result<Statistics> {
    let rules = load_rules(req.rules.as_deref())?;
    let scale = ScaleTable::load(&req.scale)?;
    let ds = read_coco(&req.coco, false)?;
    let opts = Options {
        strict: req.strict,
        input: req.coco.clone(),
    };
    super::compute_statistics(&ds, &scale, &rules, &opts)
}

/// What a division produced, before anything is written.
#[derive(Clone, Debug)]
pub struct Reclassified {
    /// The 7-class dataset, statistics, audit rows and warnings.
    pub division: Division,
    /// The CVAT file with its labels changed, shapes byte for byte; `None` without a CVAT
    /// input.
    pub cvat: Option<Vec<u8>>,
    /// Why the CVAT shapes could not be matched one-to-one (then `cvat` is `None` and
    /// nothing should be written).
    pub cvat_errors: Vec<String>,
    /// Annotations per target class.
    pub per_class: std::collections::BTreeMap<String, usize>,
}

impl Reclassified {
    /// True when the CVAT update (if any) matched every shape.
    pub fn is_ok(&self) -> bool {
        self.cvat_errors.is_empty()
    }

    /// Writes the 7-class COCO; returns what the writing lost.
    pub fn write_coco(&self, out: &Path) -> Result<Lossiness> {
        crate::convert::write(
            self.division.dataset.clone(),
            Format::Coco,
            Format::Coco,
            out,
            &Default::default(),
        )
    }

    /// Writes the updated CVAT XML, when there is one.
    pub fn write_cvat(&self, out: &Path) -> Result<bool> {
        match &self.cvat {
            Some(bytes) => crate::atomic::write(out, bytes).map(|()| true),
            None => Ok(false),
        }
    }

    /// Writes the diameter histograms into `dir`; returns the files and any warnings.
    pub fn write_plots(&self, dir: &Path, format: PlotFormat) -> Result<super::plots::PlotReport> {
        super::plots::write_plots(&self.division.statistics, dir, format)
    }
}

/// Divides the 4-class COCO into the 7 classes (step 3), and updates the CVAT by matching
/// when one is given. The CVAT update is checked before anything is written: a failed match
/// is reported in `cvat_errors`.
pub fn reclassify(req: &ReclassifyRequest) -> Result<Reclassified> {
    let rules = load_rules(req.rules.as_deref())?;
    let scale = ScaleTable::load(&req.scale)?;
    let ds = read_coco(&req.coco, true)?;
    let opts = Options {
        strict: req.strict,
        input: req.coco.clone(),
    };
    let division = super::reclassify_with(&ds, &scale, &rules, &opts)?;
    let (cvat, cvat_errors) = match &req.cvat {
        Some(path) => {
            let bytes = crate::error::read_input(path)?;
            let (cvat_ds, _) = crate::cvat::read_bytes(&bytes, path, &Default::default())?;
            let (out, report) = super::update_cvat(&bytes, &cvat_ds, &division)?;
            if report.is_ok() {
                (Some(out), Vec::new())
            } else {
                let errors = report
                    .errors()
                    .into_iter()
                    .map(|e| format!("{}:{e}", path.display()))
                    .collect();
                (None, errors)
            }
        }
        None => (None, Vec::new()),
    };
    let mut per_class = std::collections::BTreeMap::new();
    for r in &division.audit {
        *per_class.entry(r.target_class.clone()).or_insert(0) += 1;
    }
    Ok(Reclassified {
        division,
        cvat,
        cvat_errors,
        per_class,
    })
}
