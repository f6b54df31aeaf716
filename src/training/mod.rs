//! Training formats: YOLO (detect, segment, oriented boxes) and Pascal VOC, each with a
//! lossiness report, and a check of the written labels as Ultralytics' loader would do it;
//! YOLO datasets also read back into the model (`yolo_read`).

pub mod segmentation;
pub mod voc;
pub mod voc_read;
pub mod yolo;
pub mod yolo_labels;
pub mod yolo_read;
pub mod yolo_yaml;

use crate::error::{Error, Result};
use crate::labelset::LabelSet;
use crate::model::{CategoryId, Dataset, Image, ImageId};
use std::collections::{BTreeMap, HashMap};

/// Class index (0-based, in label-set order) for every category of a dataset, by name.
pub struct ClassMap {
    /// Class names in index order (YOLO's `names`).
    pub names: Vec<String>,
    index: HashMap<CategoryId, usize>,
}

impl ClassMap {
    /// Uses `labels` when given (classes matched by name), else the dataset's own categories
    /// in their order.
    pub fn new(ds: &Dataset, labels: Option<&LabelSet>) -> Result<ClassMap> {
        let names: Vec<String> = match labels {
            Some(l) => l.classes.iter().map(|c| c.name.clone()).collect(),
            None => ds.categories.iter().map(|c| c.name.clone()).collect(),
        };
        let mut index = HashMap::new();
        for c in &ds.categories {
            match names.iter().position(|n| *n == c.name) {
                Some(i) => {
                    index.insert(c.id, i);
                }
                None => {
                    return Err(Error::Usage(format!(
                        "category {:?} is not in the label set {:?}; pass a label set that has it",
                        c.name,
                        labels.map(|l| l.name.as_str()).unwrap_or("")
                    )))
                }
            }
        }
        Ok(ClassMap { names, index })
    }

    /// The class index of a dataset category, if it has one.
    pub fn get(&self, id: CategoryId) -> Option<usize> {
        self.index.get(&id).copied()
    }
}

/// How images are assigned to splits.
#[derive(Clone, Debug, Default)]
pub enum SplitPlan {
    /// From the input: the image's subset (CVAT `subset`), else `train`.
    #[default]
    FromInput,
    /// Random by ratios (`train=0.8,val=0.2`), seeded.
    Ratios {
        /// Split names and their shares of the images.
        parts: Vec<(String, f64)>,
        /// Random seed: the same seed gives the same split.
        seed: u64,
    },
}

impl SplitPlan {
    /// Parses `train=0.8,val=0.1,test=0.1`.
    pub fn parse_ratios(spec: &str, seed: u64) -> Result<SplitPlan> {
        let mut parts = Vec::new();
        for item in spec.split(',').filter(|s| !s.trim().is_empty()) {
            let (name, ratio) = item
                .split_once('=')
                .ok_or_else(|| Error::Usage(format!("split: expected name=ratio, got {item:?}")))?;
            let ratio: f64 = ratio
                .trim()
                .parse()
                .map_err(|_| Error::Usage(format!("split: {ratio:?} is not a number")))?;
            if !(ratio.is_finite() && ratio >= 0.0) {
                return Err(Error::Usage(format!("split: ratio of {name} must be ≥ 0")));
            }
            let name = name.trim().to_string();
            if !safe_component(&name) {
                return Err(Error::Usage(format!(
                    "split: {name:?} is not a plain folder name"
                )));
            }
            parts.push((name, ratio));
        }
        let total: f64 = parts.iter().map(|p| p.1).sum();
        if parts.is_empty() || total <= 0.0 {
            return Err(Error::Usage(
                "a split needs at least one positive ratio".into(),
            ));
        }
        Ok(SplitPlan::Ratios { parts, seed })
    }

    /// The subsets (`SplitPlan::FromInput`) that cannot be folder names, with how many
    /// images hold each and why: [`SplitPlan::assign`] puts those images into `train`, and
    /// writers report them as `unsafe-path`.
    pub(crate) fn refused_subsets(
        &self,
        images: &[Image],
    ) -> BTreeMap<String, (usize, &'static str)> {
        let mut out = BTreeMap::new();
        if matches!(self, SplitPlan::FromInput) {
            for s in images.iter().filter_map(|im| im.subset.as_deref()) {
                let s = s.to_lowercase();
                if let Some(why) = crate::path_safety::component_problem(&s) {
                    out.entry(s).or_insert((0, why)).0 += 1;
                }
            }
        }
        out
    }

    /// Adds one `unsafe-path` lossiness entry per refused subset.
    pub(crate) fn report_refused(&self, images: &[Image], loss: &mut crate::lossiness::Lossiness) {
        for (subset, (n, why)) in self.refused_subsets(images) {
            loss.add(
                "unsafe-path",
                n,
                format!("subset {subset:?} cannot be a folder name (it {why}); its images went to train"),
            );
        }
    }

    /// Split name per image id, deterministic.
    pub fn assign(&self, images: &[Image]) -> HashMap<ImageId, String> {
        match self {
            SplitPlan::FromInput => images
                .iter()
                .map(|im| {
                    let s = im
                        .subset
                        .as_deref()
                        .map(str::to_lowercase)
                        .filter(|s| safe_component(s));
                    (im.id, s.unwrap_or_else(|| "train".into()))
                })
                .collect(),
            SplitPlan::Ratios { parts, seed } => {
                use rand::seq::SliceRandom;
                use rand::SeedableRng;
                let mut order: Vec<&Image> = images.iter().collect();
                order.sort_by(|a, b| a.file_name.cmp(&b.file_name));
                let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(*seed);
                order.shuffle(&mut rng);
                let total: f64 = parts.iter().map(|p| p.1).sum();
                let n = order.len();
                let mut out = HashMap::new();
                let mut start = 0usize;
                let mut acc = 0.0;
                for (k, (name, r)) in parts.iter().enumerate() {
                    acc += r;
                    let end = if k + 1 == parts.len() {
                        n
                    } else {
                        ((acc / total) * n as f64).round() as usize
                    };
                    for im in &order[start.min(n)..end.min(n)] {
                        out.insert(im.id, name.clone());
                    }
                    start = end;
                }
                out
            }
        }
    }
}

/// A single plain path component we may create (`crate::path_safety::component_problem`: no
/// separators of either system, not `.`/`..`, no drive prefix, no control characters).
pub(crate) fn safe_component(s: &str) -> bool {
    crate::path_safety::component_problem(s).is_none()
}

/// The file stem of an image's file name, refusing names that escape the output folder
/// (`crate::path_safety::output_stem`).
pub(crate) fn safe_stem(file_name: &str) -> Option<String> {
    crate::path_safety::output_stem(file_name).map(str::to_string)
}
