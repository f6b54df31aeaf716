//! `neutrostruct validate`, `diff`, `rules` and `explain`.

use super::Status;
use crate::convert::Format;
use crate::error::{Error, Result};
use crate::labelset::LabelSet;
use crate::model::Dataset;
use crate::validate::{self, report, ValidateRequest};
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
    #[arg(long, default_value = "text", value_parser = ["text", "json", "sarif", "github", "junit", "markdown", "html"])]
    format: String,
    /// With --format html: link each finding's file:line to this URL of the repository's
    /// files (e.g. https://github.com/OWNER/REPO/blob/COMMIT).
    #[arg(long, value_name = "URL")]
    link_base: Option<String>,
    /// With --format markdown: link the comment to the review page at this http(s) URL
    /// (e.g. the workflow run's artifact of `--format html`).
    #[arg(long, value_name = "URL")]
    review_url: Option<String>,
    /// Write the report to this file instead of standard output.
    #[arg(short = 'o', long = "output", visible_alias = "out")]
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
    /// With -o: check and report as usual, but do not write the report file.
    #[arg(long)]
    dry_run: bool,
}

impl ValidateArgs {
    /// The library request; the YOLO task and label set already checked.
    fn request(&self) -> Result<ValidateRequest> {
        use crate::training::yolo::Flavour;
        Ok(ValidateRequest {
            dir: self.dir.clone(),
            coco: self.coco.clone(),
            cvat: self.cvat.clone(),
            yolo: self.yolo.clone(),
            yolo_task: self.yolo_task.as_deref().map(|t| match t {
                "yolo-seg" => Flavour::Segment,
                "yolo-obb" => Flavour::Obb,
                _ => Flavour::Detect,
            }),
            masks: self.masks.clone(),
            images: self.images.clone(),
            labelset: self
                .labelset
                .as_deref()
                .map(LabelSet::resolve)
                .transpose()?,
            division_source: self.source_coco.clone().zip(self.scale.clone()),
            scale: self.scale.clone(),
            division_rules: self.rules.clone(),
        })
    }
}

pub(crate) fn run_validate(args: ValidateArgs) -> Result<Status> {
    if let Some(out) = &args.output {
        refuse_report_over_inputs(&args, out)?;
        report_extension(out, &args.format)?;
    }
    let format: report::Format = args.format.parse().map_err(Error::Usage)?;
    if let Some(url) = &args.review_url {
        check_review_url(url, format)?;
    }
    let req = args.request()?;
    if req.dir.is_none() && req.coco.is_empty() && req.cvat.is_empty() && req.yolo.is_empty() {
        return Err(Error::Usage(
            "nothing to validate: give DIR, --coco, --cvat or --yolo".into(),
        ));
    }
    let config = match &args.config {
        Some(p) => validate::Config::load(p)?,
        None => validate::Config::default(),
    };
    let baseline = args
        .baseline
        .as_deref()
        .map(validate::baseline::Baseline::load)
        .transpose()?;
    let (outcome, inputs) = validate::check_keeping_inputs(&req, &config, baseline.as_ref())?;
    for n in &outcome.notes {
        // The library says a task can be given; here, the flag gives it.
        let n = n.replace("; the task can be given)", "; --yolo-task to choose)");
        say!("note: {n}");
    }
    // The review page draws each finding on its shapes: it needs the inputs, not only the
    // findings.
    let render = |opts: &report::ReportOptions| match format {
        report::Format::Html => report::html::render(
            &outcome.findings,
            Some(&inputs),
            &report::html::HtmlOptions {
                link_base: args.link_base.clone(),
                ignored: opts.ignored,
                baselined: opts.baselined,
                ..report::html::HtmlOptions::default()
            },
        ),
        report::Format::Markdown => report::markdown::render_with_review(
            &outcome.findings,
            opts,
            args.review_url.as_deref(),
        ),
        _ => report::render(format, &outcome.findings, opts),
    };
    match &args.output {
        Some(out) => {
            let opts = report::ReportOptions {
                color: false,
                ..report::ReportOptions::for_stdout(&outcome)
            };
            let text = render(&opts);
            if args.dry_run {
                say!(
                    "dry run: nothing written (would write {}, {} bytes)",
                    out.display(),
                    text.len()
                );
            } else {
                crate::atomic::write(out, text.as_bytes())?;
            }
        }
        None => {
            use std::io::Write;
            let text = render(&report::ReportOptions::for_stdout(&outcome));
            let mut stdout = anstream::stdout();
            stdout
                .write_all(text.as_bytes())
                .map_err(|e| Error::io(Path::new("<stdout>"), e))?;
        }
    }
    Ok(if outcome.exit_code(args.strict) == 0 {
        Status::Success
    } else {
        Status::Findings
    })
}

/// `--review-url` goes into a link of the markdown comment: only an http(s) URL without
/// spaces or control characters, so the comment cannot link to `javascript:` or a file.
fn check_review_url(url: &str, format: report::Format) -> Result<()> {
    if format != report::Format::Markdown {
        return Err(Error::Usage(
            "--review-url is for --format markdown (the comment links to the review page)".into(),
        ));
    }
    let lower = url.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"));
    match rest {
        Some(r) if !r.is_empty() && !url.chars().any(|c| c.is_whitespace() || c.is_control()) => {
            Ok(())
        }
        _ => Err(Error::Usage(format!(
            "--review-url {url:?}: give an http:// or https:// URL without spaces"
        ))),
    }
}

#[derive(Debug, clap::Args)]
pub struct DiffArgs {
    /// The old annotation file (COCO JSON or CVAT XML).
    old: PathBuf,
    /// The new annotation file.
    new: PathBuf,
    /// Report format.
    #[arg(long, default_value = "text", value_parser = ["text", "json", "markdown", "html"])]
    format: String,
    /// Write the report to this file instead of standard output.
    #[arg(short = 'o', long = "output", visible_alias = "out")]
    output: Option<PathBuf>,
    /// With --format html: folder of the images, for crops of them under the changed shapes.
    #[arg(long)]
    images: Option<PathBuf>,
    /// Matched shapes whose largest displacement (ellipse axis ends, box corners, polygon
    /// vertices) is below PX are unchanged, not moved; e.g. 2 for a CVAT file against its own
    /// COCO export, which rounds coordinates. 0 (default): anything over 0.01 px is a move.
    #[arg(long, value_name = "PX", default_value_t = 0.0, value_parser = tolerance_px)]
    tolerance: f64,
    /// Print only the counts: one line per change kind (added, removed, relabeled, moved,
    /// unchanged, images added/removed), not each changed shape.
    #[arg(long)]
    summary: bool,
    /// With --summary: also one line of counts per image that changed.
    #[arg(long, requires = "summary")]
    per_image: bool,
}

/// A finite, non-negative pixel distance.
fn tolerance_px(s: &str) -> std::result::Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(format!("{s:?} is not a distance in px (a number ≥ 0)")),
    }
}

pub(crate) fn run_diff(args: DiffArgs) -> Result<Status> {
    // The diff compares shapes and labels, never segmentation text: not keeping it halves
    // the memory of a pair of million-annotation files.
    let opts = crate::coco::ReadOptions {
        drop_segmentation_text: true,
        ..Default::default()
    };
    let read = |p: &Path| -> Result<Dataset> {
        let f = Format::detect(p)?;
        Ok(crate::convert::read(f, p, &opts)?.0)
    };
    // One after the other: each read already uses both cores, and together they would hold
    // both files' bytes at once.
    let (old, new) = (read(&args.old)?, read(&args.new)?);
    crate::progress::phase("diff: comparing");
    let r = crate::diff::diff_with_tolerance(&old, &new, args.tolerance);
    if args.summary && args.format == "html" {
        return Err(Error::Usage(
            "--summary prints counts only; the html page shows every change (drop one of them)"
                .into(),
        ));
    }
    let text = if args.summary {
        let v = r.summary_view(args.per_image);
        match args.format.as_str() {
            "json" => crate::diff::json::render_summary(&v),
            "markdown" => crate::diff::markdown::render_summary(&v),
            _ => crate::diff::text::render_summary(&v),
        }
    } else {
        match args.format.as_str() {
            "json" => crate::diff::json::render(&r),
            "markdown" => crate::diff::markdown::render(&r),
            "html" => crate::diff::html::render(
                &r,
                &old,
                &new,
                &crate::diff::html::DiffHtmlOptions {
                    images_dir: args.images.clone(),
                    old_label: args.old.display().to_string(),
                    new_label: args.new.display().to_string(),
                    ..Default::default()
                },
            ),
            _ => crate::diff::text::render(&r),
        }
    };
    if let Some(out) = &args.output {
        let fits: &[&str] = match args.format.as_str() {
            "json" => &["json"],
            "markdown" => &["md", "markdown"],
            "html" => &["html", "htm"],
            _ => &["txt", "text", "log"],
        };
        super::known_extension("-o", out, fits, &format!("a --format {} diff", args.format))?;
        crate::io_guard::prepare_outputs(
            &[("OLD", args.old.as_path()), ("NEW", args.new.as_path())],
            &[("-o", out)],
        )?;
        crate::atomic::write(out, text.as_bytes())?;
        return Ok(Status::Success);
    }
    out!("{text}");
    if !text.ends_with('\n') {
        outln!();
    }
    Ok(Status::Success)
}

#[derive(Debug, clap::Args)]
pub struct ExplainArgs {
    /// A rule code (NS012) or name (coco-cvat-mismatch).
    code: String,
}

pub(crate) fn run_rules() -> Result<Status> {
    out!("{}", validate::registry::catalog());
    Ok(Status::Success)
}

pub(crate) fn run_explain(args: ExplainArgs) -> Result<Status> {
    match validate::explain(&args.code) {
        Some(doc) => {
            out!("{doc}");
            Ok(Status::Success)
        }
        None => Err(Error::Usage(format!(
            "no rule {:?}; `neutrostruct rules` lists them",
            args.code
        ))),
    }
}

/// `-o report.sarif --format text` would write a text report under a SARIF name: refused, and
/// so is an extension no report has. A name without an extension takes `--format` as it is.
fn report_extension(out: &Path, format: &str) -> Result<()> {
    let fits: &[&str] = match format {
        "json" => &["json"],
        "sarif" => &["sarif", "json"],
        "junit" => &["xml"],
        "markdown" => &["md", "markdown"],
        "html" => &["html", "htm"],
        // GitHub workflow commands are text.
        _ => &["txt", "text", "log"],
    };
    super::known_extension("-o", out, fits, &format!("a --format {format} report"))
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
