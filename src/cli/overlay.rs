//! `neutrostruct overlay`: masks blended over their images, and a contact sheet.

use super::Status;
use crate::error::{Error, Result};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct OverlayArgs {
    /// Folder of images (any format the `image` crate reads), matched to masks by file stem.
    #[arg(long)]
    images: PathBuf,
    /// Folder of colour masks.
    #[arg(long)]
    masks: PathBuf,
    /// Output folder: `<stem>.png` overlays and `contact_sheet.png`.
    #[arg(short = 'o', long, visible_alias = "output")]
    out: PathBuf,
    /// Opacity of the mask colours, 0–1.
    #[arg(long, default_value_t = 0.45)]
    alpha: f32,
    #[arg(long, help = super::FORCE_HELP)]
    force: bool,
    #[arg(long, help = super::DRY_RUN_HELP)]
    dry_run: bool,
}

pub fn run(args: OverlayArgs) -> Result<Status> {
    if !(0.0..=1.0).contains(&args.alpha) {
        return Err(Error::Usage("--alpha must be between 0 and 1".into()));
    }
    crate::io_guard::prepare_outputs(
        &[("--images", &args.images), ("--masks", &args.masks)],
        &[("--out", &args.out)],
    )?;
    let dry = super::DryRun::new(args.dry_run)?;
    let folder = dry.folder("--out", &args.out, args.force)?;
    let s = crate::masks::overlay::overlay_dir(
        &args.images,
        &args.masks,
        &dry.place(&args.out),
        args.alpha,
    )?;
    folder.finish()?;
    say!("overlay: {} written", s.written.len());
    for p in &s.images_without_mask {
        say!("  image without mask: {}", p.display());
    }
    for p in &s.masks_without_image {
        say!("  mask without image: {}", p.display());
    }
    for (p, why) in &s.failed {
        say!("  failed {}: {why}", p.display());
    }
    if dry.on() {
        dry.finish();
    } else {
        if let Some(sheet) = &s.contact_sheet {
            outln!("{}", sheet.display());
        }
        outln!("{}", args.out.display());
    }
    let clean =
        s.failed.is_empty() && s.images_without_mask.is_empty() && s.masks_without_image.is_empty();
    Ok(if clean {
        Status::Success
    } else {
        Status::Findings
    })
}
