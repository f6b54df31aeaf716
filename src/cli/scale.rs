//! `neutrostruct scale`: step 1 of the workflow, the scale table from the images.

use super::Status;
use crate::error::{Error, Result};
use crate::scale_from_images::{self as sfi, ScaleRequest};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct ScaleArgs {
    /// Image files (TIFF, PNG, JPEG), or folders of them.
    #[arg(required = true)]
    images: Vec<PathBuf>,
    /// Output table: CSV, or XLSX when the name ends in .xlsx.
    #[arg(short = 'o', long = "output", visible_alias = "out")]
    output: PathBuf,
    /// The length printed on the scale bars, in µm: turns a measured bar into px/µm.
    #[arg(long)]
    bar_um: Option<f64>,
    #[arg(long, help = super::DRY_RUN_HELP)]
    dry_run: bool,
}

pub fn run(args: ScaleArgs) -> Result<Status> {
    super::known_extension("-o", &args.output, &["csv", "xlsx"], "the scale table")?;
    let mut images = Vec::new();
    for p in args.images {
        if p.is_dir() {
            images.extend(sfi::images_in(&p)?);
        } else {
            images.push(p);
        }
    }
    if images.is_empty() {
        return Err(Error::Usage("no image files given".into()));
    }
    let rows = sfi::measure_all(&ScaleRequest {
        images,
        bar_um: args.bar_um,
        bar: Default::default(),
    })?;
    if !args.dry_run {
        sfi::table::write(&args.output, &rows)?;
    }
    let mut missing = 0usize;
    for r in &rows {
        match r.px_per_um {
            Some(v) => say!(
                "{}: {v:.4} px/µm from {}",
                r.path.display(),
                r.source.as_str()
            ),
            None => {
                missing += 1;
                let hint = if r.bar.is_some() && args.bar_um.is_none() {
                    " (give --bar-um)"
                } else {
                    ""
                };
                say!("{}: no scale: {}{hint}", r.path.display(), r.note);
            }
        }
    }
    say!(
        "scale: {} of {} image(s) have a scale",
        rows.len() - missing,
        rows.len()
    );
    if args.dry_run {
        say!(
            "dry run: nothing written (would write {})",
            args.output.display()
        );
    } else {
        outln!("{}", args.output.display());
    }
    Ok(if missing == 0 {
        Status::Success
    } else {
        Status::Findings
    })
}
