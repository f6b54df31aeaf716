//! `neutrostruct stats` and `neutrostruct reclassify`: the 4→7 class division (docs/design.md §2).

use super::Status;
use crate::division::{self, plots::PlotFormat};
use crate::error::Result;
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Args)]
pub struct StatsArgs {
    /// 4-class COCO JSON.
    #[arg(long)]
    coco: PathBuf,
    /// Scale table: CSV or XLSX with an image-name column and a pixels-per-µm column.
    #[arg(long)]
    scale: PathBuf,
    /// Output table; the extension picks the format: .csv, .xlsx or .json.
    #[arg(short = 'o', long = "output", visible_alias = "out")]
    output: PathBuf,
    /// Also write one diameter histogram per image and an overview into this folder.
    #[arg(long)]
    plots: Option<PathBuf>,
    /// Plot format (default: png when a TrueType font is found, else svg, with a note).
    #[arg(long, value_enum)]
    plot_format: Option<PlotArg>,
    /// Division rules (TOML); default: the published division (schemas/rules/default.toml).
    #[arg(long)]
    rules: Option<PathBuf>,
    /// Images missing from the scale table are an error, not a warning.
    #[arg(long)]
    strict: bool,
    #[arg(long, help = super::FORCE_HELP)]
    force: bool,
    #[arg(long, help = super::DRY_RUN_HELP)]
    dry_run: bool,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum PlotArg {
    Svg,
    Png,
}

impl From<PlotArg> for PlotFormat {
    fn from(p: PlotArg) -> PlotFormat {
        match p {
            PlotArg::Svg => PlotFormat::Svg,
            PlotArg::Png => PlotFormat::Png,
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct ReclassifyArgs {
    /// 4-class COCO JSON.
    #[arg(long)]
    coco: PathBuf,
    /// Scale table (CSV or XLSX).
    #[arg(long)]
    scale: PathBuf,
    /// The 4-class CVAT XML of the same images, to update by matching.
    #[arg(long)]
    cvat: Option<PathBuf>,
    /// Division rules (TOML); default: the published division.
    #[arg(long)]
    rules: Option<PathBuf>,
    /// 7-class COCO JSON to write.
    #[arg(long)]
    out_coco: PathBuf,
    /// 7-class CVAT XML to write (needs --cvat): shapes byte-for-byte, labels changed.
    #[arg(long, requires = "cvat")]
    out_cvat: Option<PathBuf>,
    /// Audit CSV: one row per annotation saying why it got its class.
    #[arg(long)]
    audit: Option<PathBuf>,
    /// Statistics table (.csv, .xlsx or .json) from the same run.
    #[arg(long)]
    stats: Option<PathBuf>,
    /// Diameter histograms into this folder.
    #[arg(long)]
    plots: Option<PathBuf>,
    /// Plot format (default: png when a TrueType font is found, else svg, with a note).
    #[arg(long, value_enum)]
    plot_format: Option<PlotArg>,
    /// Images missing from the scale table are an error, not a warning.
    #[arg(long)]
    strict: bool,
    #[arg(long, help = super::FORCE_HELP)]
    force: bool,
    #[arg(long, help = super::DRY_RUN_HELP)]
    dry_run: bool,
}

/// The library says "strict mode"; on the command line, the flag is the useful word.
fn name_strict(e: crate::error::Error) -> crate::error::Error {
    match e {
        crate::error::Error::Invalid { path, message } if message.contains("strict mode") => {
            crate::error::Error::Invalid {
                path,
                message: message
                    .replace("run without strict mode", "run without --strict")
                    .replace("; strict mode: stopped", "; --strict: stopped"),
            }
        }
        other => other,
    }
}

fn warn_all(warnings: &[String]) {
    for w in warnings {
        say!("warning: {w}");
    }
}

/// The `--plots` folder, checked before anything is read (`super::output_folder`).
fn plots_folder(
    dry: &super::DryRun,
    dir: Option<&Path>,
    force: bool,
) -> Result<Option<crate::output_dir::OutputDir>> {
    dir.map(|d| dry.folder("--plots", d, force)).transpose()
}

fn plots(
    dry: &super::DryRun,
    stats: &division::Statistics,
    dir: Option<&Path>,
    folder: Option<crate::output_dir::OutputDir>,
    format: Option<PlotArg>,
) -> Result<()> {
    if let Some(dir) = dir {
        let format = match format {
            Some(f) => f.into(),
            None => {
                let (f, note) = division::plots::default_format();
                if let Some(n) = note {
                    say!("note: {n}");
                }
                f
            }
        };
        let r = division::plots::write_plots(stats, &dry.place(dir), format)?;
        warn_all(&r.warnings);
        say!("plots: {} files in {}", r.files.len(), dir.display());
    }
    if let Some(f) = folder {
        f.finish()?;
    }
    Ok(())
}

/// Refuses a table name whose extension picks no format, before anything is read.
fn table_path(flag: &str, path: &Path) -> Result<()> {
    if division::stats::is_table_path(path) {
        return Ok(());
    }
    Err(crate::error::Error::Usage(format!(
        "{flag} {}: unknown extension; the table is written as .csv, .xlsx or .json, chosen \
         by the extension",
        path.display()
    )))
}

pub(crate) fn run_stats(args: StatsArgs) -> Result<Status> {
    table_path("-o", &args.output)?;
    let inputs: Vec<(&str, &Path)> = [
        Some(("--coco", args.coco.as_path())),
        Some(("--scale", args.scale.as_path())),
        args.rules.as_deref().map(|p| ("--rules", p)),
    ]
    .into_iter()
    .flatten()
    .collect();
    let outputs: Vec<(&str, &Path)> = [
        Some(("-o", args.output.as_path())),
        args.plots.as_deref().map(|p| ("--plots", p)),
    ]
    .into_iter()
    .flatten()
    .collect();
    crate::io_guard::prepare_outputs(&inputs, &outputs)?;
    let dry = super::DryRun::new(args.dry_run)?;
    let folder = plots_folder(&dry, args.plots.as_deref(), args.force)?;
    let stats = division::statistics_of_file(&division::StatsRequest {
        coco: args.coco.clone(),
        scale: args.scale.clone(),
        rules: args.rules.clone(),
        strict: args.strict,
    })
    .map_err(name_strict)?;
    warn_all(&stats.warnings);
    crate::progress::phase("stats: writing tables and plots");
    stats.write(&dry.place(&args.output))?;
    plots(
        &dry,
        &stats,
        args.plots.as_deref(),
        folder,
        args.plot_format,
    )?;
    if dry.on() {
        dry.finish();
    } else {
        outln!("{}", args.output.display());
    }
    Ok(Status::Success)
}

pub(crate) fn run_reclassify(args: ReclassifyArgs) -> Result<Status> {
    if let Some(s) = &args.stats {
        table_path("--stats", s)?;
    }
    super::known_extension("--out-coco", &args.out_coco, &["json"], "COCO")?;
    if let Some(p) = &args.out_cvat {
        super::known_extension("--out-cvat", p, &["xml"], "CVAT")?;
    }
    if let Some(p) = &args.audit {
        super::known_extension("--audit", p, &["csv"], "the audit")?;
    }
    let inputs: Vec<(&str, &Path)> = [
        Some(("--coco", args.coco.as_path())),
        Some(("--scale", args.scale.as_path())),
        args.cvat.as_deref().map(|p| ("--cvat", p)),
        args.rules.as_deref().map(|p| ("--rules", p)),
    ]
    .into_iter()
    .flatten()
    .collect();
    let outputs: Vec<(&str, &Path)> = [
        Some(("--out-coco", args.out_coco.as_path())),
        args.out_cvat.as_deref().map(|p| ("--out-cvat", p)),
        args.audit.as_deref().map(|p| ("--audit", p)),
        args.stats.as_deref().map(|p| ("--stats", p)),
        args.plots.as_deref().map(|p| ("--plots", p)),
    ]
    .into_iter()
    .flatten()
    .collect();
    crate::io_guard::prepare_outputs(&inputs, &outputs)?;
    let dry = super::DryRun::new(args.dry_run)?;
    let folder = plots_folder(&dry, args.plots.as_deref(), args.force)?;
    let started = std::time::Instant::now();
    let done = division::reclassify_files(&division::ReclassifyRequest {
        coco: args.coco.clone(),
        scale: args.scale.clone(),
        cvat: args.cvat.clone(),
        rules: args.rules.clone(),
        strict: args.strict,
    })
    .map_err(name_strict)?;
    let div = &done.division;
    warn_all(&div.warnings);
    if let (false, Some(path)) = (done.is_ok(), &args.cvat) {
        say!(
            "error: {}: CVAT shapes could not be matched one-to-one with COCO annotations:",
            path.display()
        );
        for e in &done.cvat_errors {
            say!("  {e}");
        }
        say!("nothing was written");
        return Ok(Status::Findings);
    }
    // Each written path on stdout, as the user gave it; none in a dry run.
    let written = |p: &Path| {
        if !dry.on() {
            outln!("{}", p.display());
        }
    };
    crate::progress::phase("reclassify: writing");
    let loss = done.write_coco(&dry.place(&args.out_coco))?;
    written(&args.out_coco);
    if let Some(out) = &args.out_cvat {
        if done.write_cvat(&dry.place(out))? {
            written(out);
        }
    }
    if let Some(a) = &args.audit {
        div.write_audit(&dry.place(a))?;
        written(a);
    }
    if let Some(s) = &args.stats {
        div.statistics.write(&dry.place(s))?;
        written(s);
    }
    plots(
        &dry,
        &div.statistics,
        args.plots.as_deref(),
        folder,
        args.plot_format,
    )?;
    let mut per_class: std::collections::BTreeMap<&str, usize> = Default::default();
    for r in &div.audit {
        *per_class.entry(r.target_class.as_str()).or_insert(0) += 1;
    }
    say!(
        "reclassify: {} annotations on {} images in {:.3} s",
        div.audit.len(),
        div.dataset.images.len(),
        started.elapsed().as_secs_f64()
    );
    for (class, n) in &done.per_class {
        say!("  {n:>7}  {class}");
    }
    if !loss.is_lossless() {
        crate::progress::suspend(|| eprint!("{}", crate::escape::text_block(&loss.to_string())));
    }
    dry.finish();
    Ok(Status::Success)
}
