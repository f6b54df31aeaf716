//! `neutrostruct validate`, `diff`, `rules` and `explain`.

use super::Outcome;
use crate::convert::Format;
use crate::error::{Error, Result};
use crate::labelset::LabelSet;
use crate::model::Dataset;
use crate::validate::{
    self, report, DatasetInput, Engine, ExpectedLabel, ExpectedLabels, Inputs, SourceFormat,
};
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// Dataset folder: annotation files are found by content; `images/` and `masks/` inside
    /// it are used when present.
    dir: Option<PathBuf>,
    /// COCO JSON file(s) to check.
    #[arg(long)]
    coco: Vec<PathBuf>,
    /// CVAT XML file(s) to check.
    #[arg(long)]
    cvat: Vec<PathBuf>,
    /// Ultralytics dataset(s) to check: the folder holding data.yaml, or the file. Label rows
    /// with problems are findings at file:line:column; the rows that read are checked like
    /// any other dataset.
    #[arg(long)]
    yolo: Vec<PathBuf>,
    /// Task of the YOLO label rows (default: 5 columns in the first row → yolo, otherwise
    /// yolo-seg; oriented boxes must be asked for, as 9 columns are also a 4-point polygon).
    #[arg(long, value_parser = ["yolo", "yolo-seg", "yolo-obb"])]
    yolo_task: Option<String>,
    /// Folder of colour masks named after the images.
    #[arg(long)]
    masks: Option<PathBuf>,
    /// Folder of the images.
    #[arg(long)]
    images: Option<PathBuf>,
    /// Expected label set: 4, 7 or a label-set JSON file.
    #[arg(long)]
    labelset: Option<String>,
    /// The 4-class COCO the 7-class files were divided from (division-mismatch; with --scale).
    #[arg(long, requires = "scale")]
    source_coco: Option<PathBuf>,
    /// Scale table for --source-coco; also checked against the images' own calibration
    /// (scale-mismatch, with --images or DIR/images).
    #[arg(long)]
    scale: Option<PathBuf>,
    /// Division rules for --source-coco (default: the published division).
    #[arg(long)]
    rules: Option<PathBuf>,
    /// Report format.
    #[arg(long, default_value = "text", value_parser = ["text", "json", "sarif", "github", "junit", "markdown"])]
    format: String,
    /// Write the report to this file instead of standard output.
    #[arg(short = 'o', long = "output")]
    output: Option<PathBuf>,
    /// Configuration (TOML): severities, thresholds, ignores with reasons, per-path overrides.
    #[arg(long)]
    config: Option<PathBuf>,
    /// A previous JSON report: only findings not in it count.
    #[arg(long)]
    baseline: Option<PathBuf>,
    /// Fail (exit 1) on warnings too.
    #[arg(long)]
    strict: bool,
}

/// Files bigger than this are not sniffed during discovery (they cannot be annotations we
/// would finish reading in reasonable time, and sniffing reads only the first bytes anyway).
const SNIFF_BYTES: usize = 4096;

/// What a file holds, judged from its first bytes.
fn sniff(path: &Path) -> Option<SourceFormat> {
    use std::io::Read;
    let mut head = vec![0u8; SNIFF_BYTES];
    let n = std::fs::File::open(path)
        .and_then(|mut f| f.read(&mut head))
        .ok()?;
    let text = String::from_utf8_lossy(&head[..n]);
    let t = text.trim_start_matches('\u{feff}').trim_start();
    if t.starts_with('{')
        && ["\"images\"", "\"annotations\"", "\"categories\""]
            .iter()
            .any(|k| t.contains(k))
    {
        return Some(SourceFormat::Coco);
    }
    if t.starts_with('<') && t.contains("<annotations") {
        return Some(SourceFormat::Cvat);
    }
    // An Ultralytics data.yaml: a top-level class list (`names:` or `nc:`) and a split.
    let top = |k: &str| {
        t.lines()
            .any(|l| l.strip_prefix(k).is_some_and(|r| r.starts_with(':')))
    };
    if (top("names") || top("nc")) && ["train", "val", "test"].iter().any(|k| top(k)) {
        return Some(SourceFormat::Yolo);
    }
    None
}

/// Annotation files under `dir`, by content; and the files reached through a link that
/// leads out of `dir`, which are not read (a pull request could link a secret in).
fn discover(dir: &Path) -> (Vec<(PathBuf, SourceFormat)>, Vec<PathBuf>) {
    let mut linked_out = Vec::new();
    let mut found: Vec<(PathBuf, SourceFormat)> = walkdir::WalkDir::new(dir)
        .follow_links(false)
        .max_depth(6)
        .into_iter()
        .flatten()
        .filter(|e| {
            let ext = e
                .path()
                .extension()
                .and_then(|x| x.to_str())
                .map(str::to_ascii_lowercase);
            matches!(ext.as_deref(), Some("json" | "xml" | "yaml" | "yml"))
        })
        .filter(|e| {
            if !e.path_is_symlink() {
                return e.file_type().is_file();
            }
            // A link is read only when it stays inside the folder.
            let inside = crate::path_safety::resolves_inside(dir, e.path());
            if !inside && std::fs::metadata(e.path()).is_ok_and(|m| m.is_file()) {
                linked_out.push(e.path().to_path_buf());
            }
            inside && e.path().is_file()
        })
        .filter_map(|e| sniff(e.path()).map(|f| (e.into_path(), f)))
        .collect();
    found.sort_by(|a, b| a.0.cmp(&b.0));
    linked_out.sort();
    (found, linked_out)
}

/// Reads a YOLO dataset leniently: rows with problems become findings, not an exit 2.
fn read_yolo(path: &Path, task: Option<&str>) -> Result<crate::training::yolo_read::YoloRead> {
    use crate::training::yolo::Flavour;
    let flavour = task.map(|t| match t {
        "yolo-seg" => Flavour::Segment,
        "yolo-obb" => Flavour::Obb,
        _ => Flavour::Detect,
    });
    let r = crate::training::yolo_read::read_detailed(path, flavour, true)?;
    if task.is_none() {
        say!(
            "note: {}: label rows read as {} (from the first row's columns; --yolo-task to choose)",
            r.yaml.display(),
            r.flavour.name()
        );
    }
    Ok(r)
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
    let (ds, _) = super::convert::read(Format::Coco, source, &opts)?;
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
        source_labelset: validate::best_builtin(&names).map(|l| l.name),
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

pub fn run_validate(args: ValidateArgs) -> Result<Outcome> {
    if let Some(out) = &args.output {
        refuse_report_over_inputs(&args, out)?;
    }
    let format: report::Format = args.format.parse().map_err(Error::Usage)?;
    let mut files: Vec<(PathBuf, SourceFormat)> = Vec::new();
    let mut linked_out: Vec<PathBuf> = Vec::new();
    let (mut images_dir, mut masks_dir) = (args.images.clone(), args.masks.clone());
    if let Some(dir) = &args.dir {
        if !dir.is_dir() {
            return Err(Error::Usage(format!("{}: not a folder", dir.display())));
        }
        let (found, out_links) = discover(dir);
        files.extend(found);
        linked_out = out_links;
        if images_dir.is_none() && dir.join("images").is_dir() {
            images_dir = Some(dir.join("images"));
        }
        if masks_dir.is_none() && dir.join("masks").is_dir() {
            masks_dir = Some(dir.join("masks"));
        }
    }
    files.extend(args.coco.iter().map(|p| (p.clone(), SourceFormat::Coco)));
    files.extend(args.cvat.iter().map(|p| (p.clone(), SourceFormat::Cvat)));
    files.extend(args.yolo.iter().map(|p| (p.clone(), SourceFormat::Yolo)));
    // A file both found under DIR and named by a flag (`validate data --yolo data`) is read
    // once: twice would report every finding twice.
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
            "nothing to validate: give DIR, --coco, --cvat or --yolo".into(),
        ));
    }
    let mut datasets = Vec::new();
    let mut yolo = Vec::new();
    let only_yolo = files.iter().all(|(_, f)| *f == SourceFormat::Yolo);
    let mut yolo_root: Option<PathBuf> = None;
    for (path, format) in files {
        if format == SourceFormat::Yolo {
            let r = read_yolo(&path, args.yolo_task.as_deref())?;
            yolo_root.get_or_insert_with(|| r.root.clone());
            yolo.push(validate::YoloSource {
                dataset: datasets.len(),
                labels: r.labels,
                issues: r.issues,
                skipped: r.skipped,
                obb: r.flavour == crate::training::yolo::Flavour::Obb,
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
    // The dataset folder, against which the data's file names are resolved: DIR, else (for
    // YOLO datasets alone) the folder holding the first data.yaml, else the working
    // directory. Findings name files relative to the working directory (`display_root`).
    let root = args
        .dir
        .clone()
        .or(yolo_root.filter(|_| only_yolo))
        .or_else(|| std::env::current_dir().ok());
    let mut notes: Vec<String> = Vec::new();
    let expected = match (&args.source_coco, &args.scale, &args.dir) {
        (Some(src), Some(scale), _) => Some(expected_labels(src, scale, args.rules.as_deref())?),
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
                    (d.path.clone(), d.format, validate::best_builtin(&names))
                })
                .collect();
            let plan = validate::release::plan_release(dir, &found);
            notes.extend(plan.notes);
            match (plan.division_source, plan.scale) {
                (Some(src), Some(scale)) => {
                    notes.push(format!(
                        "division checked: {} divided with {} gives the 7-class labels",
                        src.display(),
                        scale.display()
                    ));
                    Some(expected_labels(&src, &scale, args.rules.as_deref())?)
                }
                _ => None,
            }
        }
        _ => None,
    };
    let scale_table = args
        .scale
        .as_deref()
        .map(crate::division::ScaleTable::load)
        .transpose()?;
    let inputs = Inputs {
        root,
        display_root: std::env::current_dir().ok(),
        datasets,
        images_dir,
        masks_dir,
        labelset: args
            .labelset
            .as_deref()
            .map(LabelSet::resolve)
            .transpose()?,
        expected_labels: expected,
        expected_index_mask: Some(Box::new(index_mask)),
        yolo,
        linked_out,
        scale_table,
    };
    let config = match &args.config {
        Some(p) => validate::Config::load(p)?,
        None => validate::Config::default(),
    };
    let engine = Engine::new(config);
    let outcome = match &args.baseline {
        Some(p) => engine.run_with_baseline(&inputs, &validate::baseline::Baseline::load(p)?),
        None => engine.run(&inputs),
    };
    for n in notes.iter().chain(&outcome.notes) {
        say!("note: {n}");
    }
    match &args.output {
        Some(out) => {
            let opts = report::ReportOptions {
                color: false,
                ..report::ReportOptions::for_stdout(&outcome)
            };
            crate::atomic::write(
                out,
                report::render(format, &outcome.findings, &opts).as_bytes(),
            )?;
        }
        None => {
            use std::io::Write;
            let text = report::render(
                format,
                &outcome.findings,
                &report::ReportOptions::for_stdout(&outcome),
            );
            let mut stdout = anstream::stdout();
            stdout
                .write_all(text.as_bytes())
                .map_err(|e| Error::io(Path::new("<stdout>"), e))?;
        }
    }
    Ok(
        if validate::exit_code(&outcome.findings, args.strict) == 0 {
            Outcome::Success
        } else {
            Outcome::Findings
        },
    )
}

#[derive(Debug, clap::Args)]
pub struct DiffArgs {
    /// The old annotation file (COCO JSON or CVAT XML).
    old: PathBuf,
    /// The new annotation file.
    new: PathBuf,
    /// Report format.
    #[arg(long, default_value = "text", value_parser = ["text", "json", "markdown"])]
    format: String,
}

pub fn run_diff(args: DiffArgs) -> Result<Outcome> {
    // The diff compares shapes and labels, never segmentation text: not keeping it halves
    // the memory of a pair of million-annotation files.
    let opts = crate::coco::ReadOptions {
        drop_segmentation_text: true,
        ..Default::default()
    };
    let read = |p: &Path| -> Result<Dataset> {
        let f = Format::detect(p)?;
        Ok(super::convert::read(f, p, &opts)?.0)
    };
    // One after the other: each read already uses both cores, and together they would hold
    // both files' bytes at once.
    let (old, new) = (read(&args.old)?, read(&args.new)?);
    let r = crate::diff::diff(&old, &new);
    let text = match args.format.as_str() {
        "json" => crate::diff::json::render(&r),
        "markdown" => crate::diff::markdown::render(&r),
        _ => crate::diff::text::render(&r),
    };
    out!("{text}");
    if !text.ends_with('\n') {
        outln!();
    }
    Ok(Outcome::Success)
}

#[derive(Debug, clap::Args)]
pub struct ExplainArgs {
    /// A rule code (NS012) or name (coco-cvat-mismatch).
    code: String,
}

pub fn run_rules() -> Result<Outcome> {
    out!("{}", validate::registry::catalog());
    Ok(Outcome::Success)
}

pub fn run_explain(args: ExplainArgs) -> Result<Outcome> {
    match validate::explain(&args.code) {
        Some(doc) => {
            out!("{doc}");
            Ok(Outcome::Success)
        }
        None => Err(Error::Usage(format!(
            "no rule {:?}; `neutrostruct rules` lists them",
            args.code
        ))),
    }
}

/// `-o` must not be any input of the run (`io_guard`): the dataset folder, a file given by a
/// flag, or the config and baseline it reads.
fn refuse_report_over_inputs(args: &ValidateArgs, out: &Path) -> Result<()> {
    let mut inputs: Vec<(&str, &Path)> = Vec::new();
    inputs.extend(args.dir.as_deref().map(|p| ("DIR", p)));
    inputs.extend(args.coco.iter().map(|p| ("--coco", p.as_path())));
    inputs.extend(args.cvat.iter().map(|p| ("--cvat", p.as_path())));
    inputs.extend(args.yolo.iter().map(|p| ("--yolo", p.as_path())));
    for (flag, p) in [
        ("--masks", &args.masks),
        ("--images", &args.images),
        ("--source-coco", &args.source_coco),
        ("--scale", &args.scale),
        ("--rules", &args.rules),
        ("--config", &args.config),
        ("--baseline", &args.baseline),
    ] {
        inputs.extend(p.as_deref().map(|p| (flag, p)));
    }
    crate::io_guard::prepare_outputs(&inputs, &[("-o", out)])
}
