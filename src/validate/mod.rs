//! Validation: rules that check a dataset (COCO, CVAT, images, masks) and report findings.
//!
//! The pieces, so that the command line stays thin:
//! - [`Inputs`]: the already-read datasets with their file paths, optional image and mask
//!   folders, the label set, and two plug-in points for work done elsewhere (the expected
//!   7-class labels of the 4→7 division, a rasteriser for the expected class-index mask);
//! - [`rules`]: one rule per file, each a [`Validation`] with a [`RuleMeta`] (stable code,
//!   kebab-case name, default severity, documentation); `registry` lists them all;
//! - [`Engine`]: runs the rules, applies the [`config::Config`] (severities, ignores with a
//!   reason, per-path overrides) and returns the findings in a stable order;
//! - [`baseline`]: silence the findings a previous JSON report already had;
//! - [`report`]: one renderer per output format; [`exit_code`] turns findings into 0 or 1.
//!
//! Findings are data ([`Finding`]); they carry the file and 1-based line of the offending
//! shape whenever the reader recorded one, so CI can pin them on the pull request's diff.

pub mod baseline;
pub mod config;
mod discover;
pub(crate) mod geom;
pub(crate) mod registry;
pub mod release;
pub mod report;
mod request;
pub mod rules;
mod shared;
pub(crate) mod visible;

use crate::labelset::LabelSet;
use crate::model::{Annotation, Dataset, Image, SourceLoc};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

pub use config::{Config, Level, Thresholds};
pub use registry::{explain, rule_by_code_or_name, RULES};
pub use request::{check, check_keeping_inputs, ValidateRequest};

/// How serious a finding is. Ordered from most to least serious.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Fails the check (exit code 1).
    Error,
    /// Reported; fails only under `strict`.
    Warning,
    /// Reported for information; never fails.
    Info,
}

impl Severity {
    /// `error`, `warning` or `info`, as the reports write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One problem found by one rule, pinned to a file and, when known, a line, an image and an
/// annotation.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Finding {
    /// Stable code (`NS001`), never reused for another rule.
    pub code: String,
    /// Kebab-case rule name (`duplicate-id`).
    pub rule: String,
    /// How serious it is.
    pub severity: Severity,
    /// What is wrong, without line numbers (they shift in pull requests; see `baseline`).
    pub message: String,
    /// Path of the offending file, with `/`: relative to the working directory from the CLI
    /// (see `Inputs::display_root`), else to the dataset root when there is one.
    pub file: String,
    /// 1-based line of the offending object in `file`.
    #[serde(default)]
    pub line: Option<u32>,
    /// 1-based column (in characters) of the offending token, when the reader knows it
    /// (YOLO label rows). Left out of the JSON when unknown, so reports without it keep
    /// their shape.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<u32>,
    /// File name of the image the finding is about.
    #[serde(default)]
    pub image: Option<String>,
    /// Annotation id (COCO id; for CVAT the reader's document-order number).
    #[serde(default)]
    pub annotation_id: Option<u64>,
}

impl Finding {
    /// A finding of `meta`'s rule at its default severity.
    pub fn new(meta: &RuleMeta, file: impl Into<String>, message: impl Into<String>) -> Self {
        Finding {
            code: meta.code.to_string(),
            rule: meta.name.to_string(),
            severity: meta.severity,
            message: message.into(),
            file: file.into(),
            line: None,
            column: None,
            image: None,
            annotation_id: None,
        }
    }

    /// Sets the severity.
    pub fn severity(mut self, s: Severity) -> Self {
        self.severity = s;
        self
    }

    /// Sets the 1-based line (0 and `None` mean unknown).
    pub fn line(mut self, line: Option<u32>) -> Self {
        self.line = line.filter(|&l| l > 0);
        self
    }

    /// Sets the 1-based column (0 and `None` mean unknown).
    pub fn column(mut self, column: Option<u32>) -> Self {
        self.column = column.filter(|&c| c > 0);
        self
    }

    /// Names the image the finding is about.
    pub fn image(mut self, image: &str) -> Self {
        self.image = Some(image.to_string());
        self
    }

    /// Pins the finding to a place in its file.
    pub fn at(self, loc: Option<SourceLoc>) -> Self {
        // The column matters most in compact JSON, where every object is on line 1.
        self.line(loc.map(|l| l.line)).column(loc.map(|l| l.column))
    }

    /// Pins the finding to an annotation: its id and its line and column.
    pub fn annotation(mut self, a: &Annotation) -> Self {
        self.annotation_id = Some(a.id.0);
        if a.loc.is_some() {
            self = self.at(a.loc);
        }
        self
    }

    /// Pins the finding to an image: its file name and its line and column.
    pub(crate) fn at_image(mut self, im: &Image) -> Self {
        self.image = Some(im.file_name.clone());
        if self.line.is_none() {
            self = self.at(im.loc);
        }
        self
    }

    fn sort_key(&self) -> (&str, u32, u32, &str, &str, u64, &str) {
        (
            &self.file,
            self.line.unwrap_or(0),
            self.column.unwrap_or(0),
            &self.code,
            self.image.as_deref().unwrap_or(""),
            self.annotation_id.unwrap_or(0),
            &self.message,
        )
    }
}

/// Counts of findings per severity.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Findings at `error`.
    pub errors: usize,
    /// Findings at `warning`.
    pub warnings: usize,
    /// Findings at `info`.
    pub infos: usize,
}

impl Summary {
    /// Counts the findings.
    pub fn of(findings: &[Finding]) -> Summary {
        let mut s = Summary::default();
        for f in findings {
            match f.severity {
                Severity::Error => s.errors += 1,
                Severity::Warning => s.warnings += 1,
                Severity::Info => s.infos += 1,
            }
        }
        s
    }
}

/// Process exit code for a validation run (docs/design.md §4): 1 when any finding is an error, or
/// under `strict` when any is a warning; otherwise 0. Infos never fail a run.
pub fn exit_code(findings: &[Finding], strict: bool) -> u8 {
    let fails = findings.iter().any(|f| match f.severity {
        Severity::Error => true,
        Severity::Warning => strict,
        Severity::Info => false,
    });
    u8::from(fails)
}

/// What a rule is: its stable identity and its documentation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RuleMeta {
    /// Stable code, `NS` + three digits. SARIF uses it as the rule id.
    pub code: &'static str,
    /// Kebab-case name; config files and `explain` accept it as well as the code.
    pub name: &'static str,
    /// Severity before any configuration.
    pub severity: Severity,
    /// One line for catalogs and SARIF's `shortDescription`.
    pub summary: &'static str,
    /// The rule's doc comment (`## What it does`, `## Why it matters`, `## Example`).
    pub doc: &'static str,
}

impl RuleMeta {
    /// The doc comment with the one leading space of each `///` line removed.
    pub(crate) fn doc_text(&self) -> String {
        let mut out = String::new();
        for line in self.doc.lines() {
            out.push_str(line.strip_prefix(' ').unwrap_or(line));
            out.push('\n');
        }
        out.trim_end().to_string()
    }
}

/// A validation rule (in the spirit of `geo`'s `Validation` trait: one check, all findings).
pub trait Validation: Send + Sync {
    /// The rule's code, name, default severity and documentation.
    fn meta(&self) -> &'static RuleMeta;
    /// Every finding of this rule on the inputs, at the rule's own severities.
    fn check(&self, ctx: &Context<'_>) -> Vec<Finding>;
    /// The results shared between rules that this one reads.
    fn uses(&self) -> Shared {
        Shared::default()
    }
}

/// Results computed once for several rules (see [`Context`]). The engine computes the ones
/// the enabled rules use before running the rules: computed lazily inside the rules, the
/// first rule to ask held the result's lock on one worker thread while the other rules
/// asking waited on the other, so the mask comparison, parallel per image, ran on one core.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Shared {
    /// Pairs of overlapping shapes (`Context::overlaps`).
    pub overlaps: bool,
    /// Each image's mask read and compared (`Context::mask_analyses`).
    pub masks: bool,
}

/// Declares a rule struct whose `///` doc comment is also kept as `META.doc`, so `explain`
/// and SARIF print exactly what rustdoc shows.
macro_rules! declare_rule {
    (
        $(#[doc = $doc:literal])*
        $vis:vis struct $name:ident {
            code: $code:literal,
            name: $rname:literal,
            severity: $sev:ident,
            summary: $summary:literal $(,)?
        }
    ) => {
        $(#[doc = $doc])*
        #[derive(Clone, Copy, Debug, Default)]
        $vis struct $name;

        impl $name {
            pub(crate) const META: $crate::validate::RuleMeta = $crate::validate::RuleMeta {
                code: $code,
                name: $rname,
                severity: $crate::validate::Severity::$sev,
                summary: $summary,
                doc: concat!($($doc, "\n"),*),
            };
        }
    };
}
pub(crate) use declare_rule;

/// The format a dataset file was read from; some rules compare one format with the other.
/// The one format enum of the crate: an Ultralytics dataset is `Yolo` whatever its task
/// (where each part came from is in [`Inputs::yolo`]).
pub use crate::convert::Format as SourceFormat;

/// One dataset file, already read.
#[derive(Clone, Debug)]
pub struct DatasetInput {
    /// Where it was read from (findings name it relative to `Inputs::root`).
    pub path: PathBuf,
    /// Its format (COCO or CVAT).
    pub format: SourceFormat,
    /// What it holds.
    pub dataset: Dataset,
}

/// Where the parts of a YOLO dataset came from, and what its read left out (the `yolo-*`
/// rules, `unsafe-path`, `image-missing`).
#[derive(Clone, Debug, Default)]
pub struct YoloSource {
    /// Index of the dataset in [`Inputs::datasets`].
    pub dataset: usize,
    /// Label file of each image, by image file name.
    pub labels: std::collections::BTreeMap<String, PathBuf>,
    /// Rows left out, per label file.
    pub issues: Vec<crate::training::yolo_read::FileIssues>,
    /// Files and entries not read.
    pub skipped: Vec<crate::training::yolo_read::Skipped>,
    /// Whether the rows were read as oriented boxes (`yolo-obb`).
    pub obb: bool,
}

/// The 7-class label the 4→7 division derives for one source shape (see `division-mismatch`).
#[derive(Clone, Debug, PartialEq)]
pub struct ExpectedLabel {
    /// Image file name, as the datasets write it.
    pub image: String,
    /// The source shape's box `[x, y, w, h]` (COCO `bbox`, or the tight box of the shape).
    pub bbox: [f64; 4],
    /// The class name the division gives it.
    pub class: String,
    /// The source annotation id, for messages.
    pub source_id: Option<u64>,
}

/// What the division of the 4-class source says every 7-class shape should be.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ExpectedLabels {
    /// The 4-class source file, for messages.
    pub source_file: String,
    /// The label set of the source's classes: files in that set are sources, not division
    /// results, and are not compared (a release folder holds both side by side).
    pub source_labelset: Option<String>,
    /// The expected label of every source shape.
    pub labels: Vec<ExpectedLabel>,
}

/// Renders the expected class-index mask (row-major, `width × height`, 0 = background,
/// otherwise the category id) of an image from its annotations, as `crate::geometry::raster` does.
/// `None` when it cannot (unsupported shapes); the pixel-IoU part of `mask-disagreement` is
/// then skipped for that image.
pub(crate) type ExpectedMaskFn = dyn Fn(&Image, &[&Annotation]) -> Option<Vec<u8>> + Send + Sync;

/// Everything a validation run looks at. The CLI fills it from the command line and the
/// readers; tests build it in code.
#[derive(Default)]
pub struct Inputs {
    /// The dataset root: file names in the data are resolved against it (and must not escape
    /// it), and finding paths are written relative to it unless `display_root` is set.
    pub root: Option<PathBuf>,
    /// The folder finding paths are written relative to, when not `root`. The CLI sets the
    /// working directory: CI systems (GitHub annotations, SARIF upload) resolve a finding's
    /// file from the repository root, where the command runs, so `validate data/` must name
    /// `data/annotations.xml`, not `annotations.xml`.
    pub display_root: Option<PathBuf>,
    /// The annotation files, read.
    pub datasets: Vec<DatasetInput>,
    /// Folder holding the image files (`image-missing`, `image-size-mismatch`).
    pub images_dir: Option<PathBuf>,
    /// Folder holding colour masks named after the images (`mask-*` rules).
    pub masks_dir: Option<PathBuf>,
    /// The expected label set; when `None` the rules compare with the built-in set that
    /// matches the data best.
    pub labelset: Option<LabelSet>,
    /// Expected 7-class labels from the 4→7 division of `--source-coco` (`division-mismatch`).
    pub expected_labels: Option<ExpectedLabels>,
    /// Rasteriser for `mask-disagreement`'s per-class pixel IoU.
    pub expected_index_mask: Option<Box<ExpectedMaskFn>>,
    /// YOLO datasets among `datasets`, with their label files and row problems.
    pub yolo: Vec<YoloSource>,
    /// Files that folder discovery found through a link leading out of the dataset folder and
    /// did not read (`unsafe-path`).
    pub linked_out: Vec<PathBuf>,
    /// The scale table given to `validate` (`scale-mismatch` compares it with the images).
    pub scale_table: Option<crate::division::ScaleTable>,
}

impl Inputs {
    /// The path of dataset `i` as findings name it.
    pub(crate) fn file_label(&self, i: usize) -> String {
        self.datasets
            .get(i)
            .map(|d| self.display_path(&d.path))
            .unwrap_or_default()
    }

    /// A finding about an image or annotation of a YOLO dataset names the label file the
    /// rows came from (the dataset's own path is its `data.yaml`; annotation lines are lines
    /// of the label file).
    pub(crate) fn locate(&self, mut f: Finding) -> Finding {
        if let Some(y) = self
            .yolo
            .iter()
            .find(|y| f.file == self.file_label(y.dataset))
        {
            if let Some(label) = f.image.as_ref().and_then(|im| y.labels.get(im)) {
                f.file = self.display_path(label);
            }
        }
        f
    }

    /// Whether dataset `i` was read from YOLO (its images were found and sized while reading:
    /// the image-folder and mask rules do not apply).
    pub(crate) fn is_yolo(&self, i: usize) -> bool {
        self.datasets
            .get(i)
            .is_some_and(|d| d.format == SourceFormat::Yolo)
    }

    /// `path` relative to the display root (else the root) when it is inside it, with `/`
    /// separators; a relative path is already relative to the working directory.
    pub(crate) fn display_path(&self, path: &Path) -> String {
        let rel = self
            .display_root
            .as_deref()
            .or(self.root.as_deref())
            .and_then(|r| path.strip_prefix(r).ok())
            .unwrap_or(path);
        let s = rel.to_string_lossy().replace('\\', "/");
        s.strip_prefix("./").map(str::to_string).unwrap_or(s)
    }
}

/// What rules see: the inputs, the thresholds, and results shared between rules that are
/// computed once, on first use.
pub struct Context<'a> {
    /// What is validated.
    pub inputs: &'a Inputs,
    /// The configured thresholds.
    pub thresholds: &'a Thresholds,
    overlaps: OnceLock<geom::Overlaps>,
    /// The lowest IoU the enabled overlap rules report (all three when not set).
    overlap_floor: f64,
    labelset: OnceLock<Option<LabelSet>>,
    labelsets: OnceLock<Vec<Option<LabelSet>>>,
    mask_group: OnceLock<release::MaskGroup>,
    masks: OnceLock<Vec<shared::mask_analysis::MaskAnalysis>>,
}

impl<'a> Context<'a> {
    /// A context with nothing computed yet.
    pub fn new(inputs: &'a Inputs, thresholds: &'a Thresholds) -> Self {
        Context {
            inputs,
            thresholds,
            overlaps: OnceLock::new(),
            overlap_floor: geom::overlap_floor(thresholds, |_| true),
            labelset: OnceLock::new(),
            labelsets: OnceLock::new(),
            mask_group: OnceLock::new(),
            masks: OnceLock::new(),
        }
    }

    /// Only the overlap rules `enabled` (by name) set the floor of [`Context::overlaps`].
    pub(crate) fn with_overlap_rules(mut self, enabled: impl Fn(&str) -> bool) -> Self {
        self.overlap_floor = geom::overlap_floor(self.thresholds, enabled);
        self
    }

    /// Pairs of shapes on one image of one dataset whose IoU reaches the lowest threshold of
    /// the enabled overlap rules, computed once for all of them: an R-tree of shape boxes, an
    /// IoU bound from boxes and areas, then the sampled IoU; and the images where the work
    /// bound cut the candidates.
    pub(crate) fn overlaps(&self) -> &geom::Overlaps {
        self.overlaps
            .get_or_init(|| geom::find_overlaps(self.inputs, self.overlap_floor))
    }

    /// The label set to compare with: the given one, else the built-in set that names most of
    /// the classes the datasets use (`None` when neither names any).
    pub fn labelset(&self) -> Option<&LabelSet> {
        self.labelset
            .get_or_init(|| {
                if let Some(ls) = &self.inputs.labelset {
                    return Some(ls.clone());
                }
                let names: Vec<&str> = self
                    .inputs
                    .datasets
                    .iter()
                    .flat_map(|d| d.dataset.categories.iter().map(|c| c.name.as_str()))
                    .collect();
                best_builtin(&names)
            })
            .as_ref()
    }

    /// The label set dataset `d` is checked against: the given one, else the built-in set
    /// that names most of *its own* classes. A release folder holds 4- and 7-class files side
    /// by side; each is right in its own set.
    pub(crate) fn labelset_of(&self, d: usize) -> Option<&LabelSet> {
        self.labelsets
            .get_or_init(|| {
                self.inputs
                    .datasets
                    .iter()
                    .map(|input| match &self.inputs.labelset {
                        Some(ls) => Some(ls.clone()),
                        None => {
                            let names: Vec<&str> = input
                                .dataset
                                .categories
                                .iter()
                                .map(|c| c.name.as_str())
                                .collect();
                            best_builtin(&names)
                        }
                    })
                    .collect()
            })
            .get(d)
            .and_then(Option::as_ref)
    }

    /// Whether datasets `a` and `b` are checked against the same label set (so that their
    /// shapes can be compared class for class).
    pub(crate) fn same_labelset(&self, a: usize, b: usize) -> bool {
        match (self.labelset_of(a), self.labelset_of(b)) {
            (Some(x), Some(y)) => x.name == y.name,
            (None, None) => true,
            _ => false,
        }
    }

    /// The datasets the masks are compared with, and the label set whose colours the masks
    /// use (see [`release::mask_group`]).
    pub(crate) fn mask_group(&self) -> &release::MaskGroup {
        self.mask_group.get_or_init(|| release::mask_group(self))
    }

    pub(crate) fn mask_analyses(&self) -> &[shared::mask_analysis::MaskAnalysis] {
        self.masks
            .get_or_init(|| shared::mask_analysis::analyse(self))
    }
}

/// The built-in label set naming most of `names` (ties go to the smaller set).
pub(crate) fn best_builtin(names: &[&str]) -> Option<LabelSet> {
    let four = LabelSet::four_class();
    let seven = LabelSet::seven_class();
    let (m4, m7) = (four.matches(names), seven.matches(names));
    if m4 == 0 && m7 == 0 {
        None
    } else if m7 > m4 {
        Some(seven)
    } else {
        Some(four)
    }
}

/// What a run found, after configuration and baseline.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Outcome {
    /// Findings that count, in a stable order (file, line, code, image, annotation).
    pub findings: Vec<Finding>,
    /// How many findings an `[[ignore]]` entry silenced.
    pub ignored: usize,
    /// How many findings the baseline silenced.
    pub baselined: usize,
    /// What the run decided that a user should know (how a release's files were paired).
    pub notes: Vec<String>,
}

impl Outcome {
    /// Counts of the findings per severity.
    pub fn summary(&self) -> Summary {
        Summary::of(&self.findings)
    }

    /// The process exit code of the run: 1 when a finding fails it (see [`exit_code`]).
    pub fn exit_code(&self, strict: bool) -> u8 {
        exit_code(&self.findings, strict)
    }
}

/// Runs the registered rules under a configuration.
pub struct Engine {
    /// The configuration: levels, thresholds, ignores and overrides.
    pub config: Config,
    rules: Vec<&'static dyn Validation>,
}

impl Default for Engine {
    fn default() -> Self {
        Engine::new(Config::default())
    }
}

impl Engine {
    /// An engine with every registered rule.
    pub fn new(config: Config) -> Self {
        Engine {
            config,
            rules: registry::RULES.to_vec(),
        }
    }

    /// An engine with only the given rules (tests, `explain`-driven tools).
    pub fn with_rules(config: Config, rules: Vec<&'static dyn Validation>) -> Self {
        Engine { config, rules }
    }

    /// Every finding of every enabled rule, configured (severities, overrides, ignores) and
    /// sorted. This is the "all errors" entry point.
    pub fn run(&self, inputs: &Inputs) -> Outcome {
        use rayon::prelude::*;
        let enabled: Vec<&dyn Validation> = self
            .rules
            .iter()
            .copied()
            .filter(|r| self.config.may_report(r.meta().name))
            .collect();
        let ctx = Context::new(inputs, &self.config.thresholds)
            .with_overlap_rules(|name| enabled.iter().any(|r| r.meta().name == name));
        let (masks, overlaps) = enabled.iter().fold((false, false), |(m, o), r| {
            let u = r.uses();
            (m || u.masks, o || u.overlaps)
        });
        // The rules that read no shared result run while the shared results are computed:
        // the overlap search and the rules that walk every annotation then share the cores
        // (a million polygons: the search alone, then the rules alone, left one core idle
        // at the end of each).
        let (dependent, independent): (Vec<&dyn Validation>, Vec<&dyn Validation>) =
            enabled.iter().partition(|r| r.uses() != Shared::default());
        let check_all = |rules: &[&dyn Validation]| -> Vec<Finding> {
            rules.par_iter().flat_map_iter(|r| r.check(&ctx)).collect()
        };
        let (_, mut raw) = rayon::join(
            || {
                rayon::join(
                    || masks.then(|| ctx.mask_analyses().len()),
                    || overlaps.then(|| ctx.overlaps().pairs.len()),
                )
            },
            || check_all(&independent),
        );
        raw.extend(check_all(&dependent));
        let mut out = Outcome::default();
        if masks {
            out.notes.extend(ctx.mask_group().note.clone());
        }
        for f in raw.into_iter().map(|f| inputs.locate(f)) {
            match self.config.apply(f) {
                config::Applied::Keep(f) => out.findings.push(f),
                config::Applied::Off => {}
                config::Applied::Ignored => out.ignored += 1,
            }
        }
        sort_findings(&mut out.findings);
        out
    }

    /// Same as [`Engine::run`], then drops what the baseline already knows.
    pub(crate) fn run_with_baseline(
        &self,
        inputs: &Inputs,
        baseline: &baseline::Baseline,
    ) -> Outcome {
        let mut out = self.run(inputs);
        let (kept, known) = baseline.filter(std::mem::take(&mut out.findings));
        out.findings = kept;
        out.baselined = known;
        out
    }

    /// All findings (alias of `run(..).findings`).
    pub fn all_errors(&self, inputs: &Inputs) -> Vec<Finding> {
        self.run(inputs).findings
    }

    /// The first error-level finding, running rules in registry order and stopping at the
    /// first rule that yields one. For callers that only need valid / not valid.
    pub fn first_error(&self, inputs: &Inputs) -> Option<Finding> {
        let ctx = Context::new(inputs, &self.config.thresholds).with_overlap_rules(|name| {
            self.config.may_report(name) && self.rules.iter().any(|r| r.meta().name == name)
        });
        for r in &self.rules {
            if !self.config.may_report(r.meta().name) {
                continue;
            }
            let mut found: Vec<Finding> = r
                .check(&ctx)
                .into_iter()
                .map(|f| inputs.locate(f))
                .filter_map(|f| match self.config.apply(f) {
                    config::Applied::Keep(f) if f.severity == Severity::Error => Some(f),
                    _ => None,
                })
                .collect();
            if !found.is_empty() {
                sort_findings(&mut found);
                return found.into_iter().next();
            }
        }
        None
    }

    /// No error-level finding.
    pub fn is_valid(&self, inputs: &Inputs) -> bool {
        self.first_error(inputs).is_none()
    }
}

/// Validates with the default configuration: every rule, default severities and thresholds.
pub fn validate(inputs: &Inputs) -> Vec<Finding> {
    Engine::default().run(inputs).findings
}

/// Sorts findings in report order: file, line, code, image, annotation, message.
pub(crate) fn sort_findings(findings: &mut [Finding]) {
    findings.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
}

#[cfg(test)]
pub(crate) mod testutil;

#[cfg(test)]
mod tests;
