//! `neutrostruct overlay`: masks drawn over their images (outlined, tinted), and a contact
//! sheet with file names and a legend.

use super::Status;
use crate::error::{Error, Result};
use crate::masks::overlay::{self, OverlayFormat, OverlayOptions};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct OverlayArgs {
    /// Folder of images (PNG, TIFF, JPEG), matched to masks by file stem.
    #[arg(long)]
    images: PathBuf,
    /// Folder of masks: colour (RGB), class index (8-bit gray, needs labelmap.txt beside the
    /// masks or --labelset) or instance (16-bit gray, one colour per instance).
    #[arg(long)]
    masks: PathBuf,
    /// Output folder: `<stem>.jpg` (or .png) overlays and `contact_sheet.jpg`.
    #[arg(short = 'o', long, visible_alias = "output")]
    out: PathBuf,
    /// Opacity of the fill, 0–1 (0: outlines only).
    #[arg(long, default_value_t = overlay::DEFAULT_ALPHA)]
    alpha: f32,
    /// Size of the overlays relative to the images (0.5: half width and height; 1: full
    /// size; up to 8 to magnify small images).
    #[arg(long, default_value_t = overlay::DEFAULT_SCALE)]
    scale: f32,
    /// File format of the overlays and the contact sheet.
    #[arg(long, value_enum, default_value = "jpg")]
    image_format: FormatArg,
    /// JPEG quality, 1–100.
    #[arg(long, default_value_t = overlay::DEFAULT_JPEG_QUALITY, value_parser = clap::value_parser!(u8).range(1..=100))]
    quality: u8,
    /// Fill only: no outlines.
    #[arg(long)]
    no_outlines: bool,
    /// Number the regions: instance numbers for instance masks, else connected regions of
    /// one colour in reading order.
    #[arg(long)]
    ids: bool,
    /// Draw a legend (class colour, name, number of regions) on every overlay. The contact
    /// sheet always has one.
    #[arg(long)]
    legend: bool,
    /// Class names and colours: 4, 7 or a label-set JSON file (default: labelmap.txt beside
    /// the masks; without either, colour masks are drawn as they are and the legend names
    /// are guessed from the built-in sets' colours, RGB values where none fits).
    #[arg(long)]
    labelset: Option<String>,
    #[arg(long, help = super::FORCE_HELP)]
    force: bool,
    #[arg(long, help = super::DRY_RUN_HELP)]
    dry_run: bool,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum FormatArg {
    #[value(alias = "jpeg")]
    Jpg,
    Png,
}

pub fn run(args: OverlayArgs) -> Result<Status> {
    if !(0.0..=1.0).contains(&args.alpha) {
        return Err(Error::Usage("--alpha must be between 0 and 1".into()));
    }
    if !(args.scale > 0.0 && args.scale <= overlay::MAX_SCALE) {
        return Err(Error::Usage(format!(
            "--scale must be above 0 and at most {}",
            overlay::MAX_SCALE
        )));
    }
    let labels = args
        .labelset
        .as_deref()
        .map(crate::labelset::LabelSet::resolve)
        .transpose()?;
    crate::io_guard::prepare_outputs(
        &[("--images", &args.images), ("--masks", &args.masks)],
        &[("--out", &args.out)],
    )?;
    let dry = super::DryRun::new(args.dry_run)?;
    let folder = dry.folder("--out", &args.out, args.force)?;
    let opts = OverlayOptions {
        alpha: args.alpha,
        outlines: !args.no_outlines,
        ids: args.ids,
        legend: args.legend,
        scale: args.scale,
        format: match args.image_format {
            FormatArg::Jpg => OverlayFormat::Jpeg {
                quality: args.quality,
            },
            FormatArg::Png => OverlayFormat::Png,
        },
        labels,
        quiet: false,
    };
    let s = overlay::overlay_dir_with(&args.images, &args.masks, &dry.place(&args.out), &opts)?;
    if s.written.is_empty() && s.failed.is_empty() {
        // Nothing paired: almost always the wrong folder, not a partial dataset.
        return Err(Error::Usage(format!(
            "overlay: no image of {} has a mask of the same name in {} ({} images, {} masks)",
            args.images.display(),
            args.masks.display(),
            s.images_without_mask.len(),
            s.masks_without_image.len()
        )));
    }
    folder.finish()?;
    for n in &s.notes {
        say!("note: {n}");
    }
    for p in &s.images_without_mask {
        say!("warning: image without mask, skipped: {}", p.display());
    }
    for p in &s.masks_without_image {
        say!("warning: mask without image, skipped: {}", p.display());
    }
    for (p, why) in &s.failed {
        say!("error: failed {}: {why}", p.display());
    }
    say!(
        "overlay: {} written ({:.1} MB with the contact sheet); skipped: {} images without mask, {} masks without image; {} failed",
        s.written.len(),
        s.bytes as f64 / 1e6,
        s.images_without_mask.len(),
        s.masks_without_image.len(),
        s.failed.len()
    );
    if let Some(sheet) = &s.contact_sheet {
        outln!("{}", sheet.display());
    }
    outln!("{}", args.out.display());
    // Unpaired files are expected (masks of a subset, a folder with extra images): they are
    // listed and skipped. A pair that could not be drawn is a finding.
    Ok(if s.failed.is_empty() {
        Status::Success
    } else {
        Status::Findings
    })
}
