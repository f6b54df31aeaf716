//! What to validate, as a library request: a dataset folder found by content, and files
//! named one by one. [`ValidateRequest::inputs`] reads them into the [`Inputs`] the engine
//! checks; [`check`] does both and runs the rules.
//!
//! ```no_run
//! use neutrostruct::validate::{self, Config, ValidateRequest};
//! let outcome = validate::check(&ValidateRequest::dir("release/"), &Config::default(), None)?;
//! println!("{} errors", outcome.summary().errors);
//! # Ok::<(), neutrostruct::Error>(())
//! ```

use super::{
    baseline::Baseline, best_builtin, release, Config, DatasetInput, Engine, ExpectedLabel,
    ExpectedLabels, Inputs, Outcome, SourceFormat, YoloSource,
};
use crate::error::{Error, Result};
use crate::labelset::LabelSet;
use crate::model::Dataset;
use crate::training::yolo::Flavour;
use std::path::{Path, PathBuf};

/// The files and folders of one validation run. Empty fields are simply not checked.
#[derive(Clone, Debug, Default)]
pub struct ValidateRequest {
    /// A dataset folder: annotation files are found by content; `images/` and `masks/`
    /// inside it are used when present, and a 4-class COCO beside a scale table is the
    /// source of the 7-class files (the division is checked).
    pub dir: Option<PathBuf>,
    /// COCO JSON files.
    pub coco: Vec<PathBuf>,
    /// CVAT XML files (or CVAT zip exports).
    pub cvat: Vec<PathBuf>,
    /// Ultralytics datasets: the folder holding `data.yaml`, or the file.
    pub yolo: Vec<PathBuf>,
    /// Task of the YOLO label rows; `None` guesses from the first row (boxes or polygons).
    pub yolo_task: Option<Flavour>,
    /// Folder of colour masks named after the images.
    pub masks: Option<PathBuf>,
    /// Folder of the images.
    pub images: Option<PathBuf>,
    /// The expected label set.
    pub labelset: Option<LabelSet>,
    /// The 4-class COCO that the 7-class files were divided from, and its scale table.
    pub division_source: Option<(PathBuf, PathBuf)>,
    /// Division rules file (default: the published division).
    pub division_rules: Option<PathBuf>,
    /// A scale table to check against the images' own calibration and scale bars
    /// (`scale-mismatch`). Given without a division source, no release division is planned.
    pub scale: Option<PathBuf>,
}

impl ValidateRequest {
    /// A request for one dataset folder.
    pub fn dir(dir: impl Into<PathBuf>) -> Self {
        ValidateRequest {
            dir: Some(dir.into()),
            ..Default::default()
        }
    }

    /// Every path the run reads, each with what it is, for refusing outputs over them.
    pub fn input_paths(&self) -> Vec<(&'static str, &Path)> {
        let mut inputs: Vec<(&'static str, &Path)> = Vec::new();
        inputs.extend(self.dir.as_deref().map(|p| ("dataset folder", p)));
        inputs.extend(self.coco.iter().map(|p| ("COCO file", p.as_path())));
        inputs.extend(self.cvat.iter().map(|p| ("CVAT file", p.as_path())));
        inputs.extend(self.yolo.iter().map(|p| ("YOLO dataset", p.as_path())));
        inputs.extend(self.masks.as_deref().map(|p| ("masks folder", p)));
        inputs.extend(self.images.as_deref().map(|p| ("images folder", p)));
        if let Some((coco, scale)) = &self.division_source {
            inputs.push(("division source", coco.as_path()));
            inputs.push(("scale table", scale.as_path()));
        }
        inputs.extend(
            self.division_rules
                .as_deref()
                .map(|p| ("division rules", p)),
        );
        inputs
    }

    /// Reads everything the request names into the engine's inputs, with the notes a
    /// person should see (how YOLO rows were read, which division was checked).
    pub fn inputs(&self) -> Result<(Inputs, Vec<String>)> {
        let mut notes: Vec<String> = Vec::new();
        let mut files: Vec<(PathBuf, SourceFormat)> = Vec::new();
        let mut linked_out: Vec<PathBuf> = Vec::new();
        let (mut images_dir, mut masks_dir) = (self.images.clone(), self.masks.clone());
        if let Some(dir) = &self.dir {
            if !dir.is_dir() {
                return Err(Error::Usage(format!("{}: not a folder", dir.display())));
            }
            let (found, out_links) = super::discover::discover(dir);
            files.extend(found);
            linked_out = out_links;
            if images_dir.is_none() && dir.join("images").is_dir() {
                images_dir = Some(dir.join("images"));
            }
            if masks_dir.is_none() && dir.join("masks").is_dir() {
                masks_dir = Some(dir.join("masks"));
            }
        }
        files.extend(self.coco.iter().map(|p| (p.clone(), SourceFormat::Coco)));
        files.extend(self.cvat.iter().map(|p| (p.clone(), SourceFormat::Cvat)));
        files.extend(self.yolo.iter().map(|p| (p.clone(), SourceFormat::Yolo)));
        // A file both found under the folder and named on its own is read once: twice would
        // report every finding twice.
        let mut seen = std::collections::HashSet::new();
        files.retain(|(path, format)| {
            let file = if *format == SourceFormat::Yolo && path.is_dir() {
                path.join("data.yaml")
            } else {
                path.clone()
            };
            seen.insert((std::fs::canonicalize(&file).unwrap_or(file), *format))
        });
        if files.is_empty() {
            return Err(Error::Usage(
                "nothing to validate: no COCO, CVAT or YOLO annotations found or given".into(),
            ));
        }
        let mut datasets = Vec::new();
        let mut yolo = Vec::new();
        let only_yolo = files.iter().all(|(_, f)| *f == SourceFormat::Yolo);
        let mut yolo_root: Option<PathBuf> = None;
        for (path, format) in files {
            if format == SourceFormat::Yolo {
                let r = crate::training::yolo_read::read_detailed(&path, self.yolo_task, true)?;
                if self.yolo_task.is_none() {
                    notes.push(format!(
                        "{}: label rows read as {} (from the first row's columns; the task can be given)",
                        r.yaml.display(),
                        r.flavour.name()
                    ));
                }
                yolo_root.get_or_insert_with(|| r.root.clone());
                yolo.push(YoloSource {
                    dataset: datasets.len(),
                    labels: r.labels,
                    issues: r.issues,
                    skipped: r.skipped,
                    obb: r.flavour == Flavour::Obb,
                });
                datasets.push(DatasetInput {
                    path: r.yaml,
                    format,
                    dataset: r.dataset,
                });
                continue;
            }
            let dataset = read_for_validation(&path, format)?;
            datasets.push(DatasetInput {
                path,
                format,
                dataset,
            });
        }
        // The dataset folder, against which the data's file names are resolved: the folder,
        // else (for YOLO datasets alone) the folder holding the first data.yaml, else the
        // working directory. Findings name files relative to the working directory.
        let root = self
            .dir
            .clone()
            .or(yolo_root.filter(|_| only_yolo))
            .or_else(|| std::env::current_dir().ok());
        let rules = self.division_rules.as_deref();
        let expected = match (&self.division_source, &self.scale, &self.dir) {
            (Some((src, scale)), _, _) => Some(expected_labels(src, scale, rules)?),
            // A release folder: the 4-class COCO is the source of the 7-class files beside it.
            (None, None, Some(dir)) => {
                let found: Vec<_> = datasets
                    .iter()
                    .filter(|d| d.format != SourceFormat::Yolo)
                    .map(|d| {
                        let names: Vec<&str> = d
                            .dataset
                            .categories
                            .iter()
                            .map(|c| c.name.as_str())
                            .collect();
                        (d.path.clone(), d.format, best_builtin(&names))
                    })
                    .collect();
                let plan = release::plan_release(dir, &found);
                notes.extend(plan.notes);
                match (plan.division_source, plan.scale) {
                    (Some(src), Some(scale)) => {
                        notes.push(format!(
                            "division checked: {} divided with {} gives the 7-class labels",
                            src.display(),
                            scale.display()
                        ));
                        Some(expected_labels(&src, &scale, rules)?)
                    }
                    _ => None,
                }
            }
            _ => None,
        };
        let inputs = Inputs {
            root,
            display_root: std::env::current_dir().ok(),
            datasets,
            images_dir,
            masks_dir,
            labelset: self.labelset.clone(),
            expected_labels: expected,
            expected_index_mask: Some(Box::new(index_mask)),
            yolo,
            linked_out,
            scale_table: self
                .scale
                .as_deref()
                .map(crate::division::ScaleTable::load)
                .transpose()?,
        };
        Ok((inputs, notes))
    }
}

impl Inputs {
    /// The inputs of a dataset folder, found by content (see [`ValidateRequest::dir`]).
    pub fn from_dir(dir: impl Into<PathBuf>) -> Result<(Inputs, Vec<String>)> {
        ValidateRequest::dir(dir).inputs()
    }
}

/// Reads the request's inputs and runs every rule; the reading notes come first in the
/// outcome's notes.
pub fn check(
    req: &ValidateRequest,
    config: &Config,
    baseline: Option<&Baseline>,
) -> Result<Outcome> {
    Ok(check_keeping_inputs(req, config, baseline)?.0)
}

/// [`check`], and the inputs it read: a report that draws the findings on their shapes
/// (`report::html`) looks the annotations up in them.
pub fn check_keeping_inputs(
    req: &ValidateRequest,
    config: &Config,
    baseline: Option<&Baseline>,
) -> Result<(Outcome, Inputs)> {
    let (inputs, mut notes) = req.inputs()?;
    let engine = Engine::new(config.clone());
    let mut outcome = match baseline {
        Some(b) => engine.run_with_baseline(&inputs, b),
        None => engine.run(&inputs),
    };
    notes.append(&mut outcome.notes);
    outcome.notes = notes;
    Ok((outcome, inputs))
}

fn read_for_validation(path: &Path, format: SourceFormat) -> Result<Dataset> {
    match format {
        SourceFormat::Coco => {
            let opts = crate::coco::ReadOptions {
                allow_non_finite: true,
                // No rule reads the segmentation text (the shape parsed from it is kept), and
                // validation never writes COCO: a million RLEs would be hundreds of MB.
                drop_segmentation_text: true,
                fast_cvat_ellipses: true,
                ..Default::default()
            };
            let (mut ds, _) = crate::coco::read_path(path, &opts)?;
            crate::convert::restore_cvat_from_coco(&mut ds);
            Ok(ds)
        }
        _ => Ok(crate::cvat::read_path(
            path,
            &crate::cvat::ReadOptions {
                allow_non_finite: true,
            },
        )?
        .0),
    }
}

/// The 7-class labels the division of `source` with `scale` gives, by image and box.
fn expected_labels(source: &Path, scale: &Path, rules: Option<&Path>) -> Result<ExpectedLabels> {
    let rules = match rules {
        Some(p) => crate::division::Rules::load(p)?,
        None => crate::division::Rules::default_rules(),
    };
    let table = crate::division::ScaleTable::load(scale)?;
    // The division reads only each annotation's class and bbox.
    let opts = crate::coco::ReadOptions {
        drop_segmentation_text: true,
        fast_cvat_ellipses: true,
        ..Default::default()
    };
    let (ds, _) = crate::convert::read(crate::convert::Format::Coco, source, &opts)?;
    let div = crate::division::reclassify(&ds, &table, &rules)?;
    let boxes: std::collections::HashMap<_, _> = ds
        .annotations
        .iter()
        .map(|a| {
            let b = a
                .coco
                .as_ref()
                .and_then(|c| c.bbox)
                .or_else(|| a.shape.bbox())
                .unwrap_or([0.0; 4]);
            (a.id, b)
        })
        .collect();
    let names: Vec<&str> = ds.categories.iter().map(|c| c.name.as_str()).collect();
    Ok(ExpectedLabels {
        source_file: source.display().to_string(),
        source_labelset: best_builtin(&names).map(|l| l.name),
        labels: div
            .audit
            .iter()
            .map(|r| ExpectedLabel {
                image: r.image_name.clone(),
                bbox: boxes.get(&r.annotation_id).copied().unwrap_or([0.0; 4]),
                class: r.target_class.clone(),
                source_id: Some(r.annotation_id.0),
            })
            .collect(),
    })
}

/// The class-index mask the annotations should produce (value = category id), rendered by
/// the one rasteriser.
fn index_mask(image: &crate::model::Image, anns: &[&crate::model::Annotation]) -> Option<Vec<u8>> {
    let mut lookup = crate::masks::ClassLookup::default();
    for a in anns {
        if let Ok(index) = u8::try_from(a.category_id.0) {
            lookup.insert(
                a.category_id,
                crate::masks::ClassStyle {
                    index,
                    color: crate::model::Rgb([index, 0, 0]),
                },
            );
        }
    }
    match crate::masks::render(image, anns, &lookup, crate::masks::MaskKind::Index)
        .ok()?
        .buffer
    {
        crate::masks::MaskBuffer::Index(m) => Some(m.into_raw()),
        _ => None,
    }
}
