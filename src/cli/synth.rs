//! `neutrostruct synth`: write a deterministic TEM-NeutroStruct-shaped dataset.

use super::Status;
use crate::error::{Error, Result};
use crate::synth::{self, SynthConfig};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct SynthArgs {
    /// Output folder.
    #[arg(short = 'o', long, visible_alias = "output")]
    out: PathBuf,
    /// Number of images.
    #[arg(long, default_value_t = 93)]
    images: usize,
    /// Random seed; the same seed writes the same files.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Image width for every image (with --height); default: the published sizes.
    #[arg(long, requires = "height")]
    width: Option<u32>,
    /// Image height for every image (with --width).
    #[arg(long, requires = "width")]
    height: Option<u32>,
    /// Mean number of ellipses per image.
    #[arg(long, default_value_t = 261)]
    per_image: usize,
    /// Skip writing the PNG images.
    #[arg(long)]
    no_images: bool,
    /// What to write: `minimal` (the 4-class COCO and CVAT, scale.csv, images) or
    /// `published` (the release as TEM-NeutroStruct publishes it: 4- and 7-class COCO and
    /// CVAT side by side, the 7-class files by the 4→7 division, 7-class colour masks drawn
    /// as OpenCV draws them, the scale sheet as XLSX).
    #[arg(long, default_value = "minimal", value_parser = ["minimal", "published"])]
    layout: String,
    /// A tidy dataset: no shape crosses the border or overlaps another, no ties, no angle
    /// outside [0, 360). Real data has all of those, and so does the default.
    #[arg(long)]
    tidy: bool,
    /// Image files: `png`, or `tif` (8-bit TIFF with ImageJ calibration tags: unit=micron,
    /// XResolution = px per µm).
    #[arg(long, default_value = "png", value_parser = ["png", "tif"])]
    image_format: String,
    /// Do not burn a scale bar with its label into the images.
    #[arg(long)]
    no_scale_bar: bool,
    #[arg(long, help = super::FORCE_HELP)]
    force: bool,
    #[arg(long, help = super::DRY_RUN_HELP)]
    dry_run: bool,
}

impl SynthArgs {
    fn into_config(self) -> Result<(PathBuf, bool, bool, SynthConfig)> {
        let size = match (self.width, self.height) {
            (Some(w), Some(h)) => Some((w, h)),
            _ => None,
        };
        if let Some((w, h)) = size {
            if !(64..=65_536).contains(&w) || !(64..=65_536).contains(&h) {
                return Err(Error::Usage(
                    "--width and --height must be between 64 and 65536".into(),
                ));
            }
        }
        if self.images == 0 || self.images > 100_000 {
            return Err(Error::Usage("--images must be between 1 and 100000".into()));
        }
        if self.per_image > 1_000_000 {
            return Err(Error::Usage("--per-image must be at most 1000000".into()));
        }
        Ok((
            self.out,
            self.force,
            self.dry_run,
            SynthConfig {
                images: self.images,
                seed: self.seed,
                size,
                per_image: self.per_image,
                write_images: !self.no_images,
                real_shapes: !self.tidy,
                published_layout: self.layout == "published",
                scale_bar: !self.no_scale_bar,
                tiff_images: self.image_format == "tif",
            },
        ))
    }
}

pub fn run(args: SynthArgs) -> Result<Status> {
    let (out, force, dry_run, cfg) = args.into_config()?;
    crate::io_guard::prepare_outputs(&[], &[("--out", &out)])?;
    let dry = super::DryRun::new(dry_run)?;
    let folder = dry.folder("--out", &out, force)?;
    let started = std::time::Instant::now();
    let o = synth::write(&dry.place(&out), &cfg)?;
    folder.finish()?;
    say!(
        "synth: {} images, {} ellipses in {:.2} s",
        o.images,
        o.annotations,
        started.elapsed().as_secs_f64()
    );
    if let Some(um) = o.bar_um {
        say!("synth: each image has a {um} µm scale bar (neutrostruct scale --bar-um {um})");
    }
    if dry.on() {
        dry.finish();
        return Ok(Status::Success);
    }
    outln!("{}", o.cvat.display());
    outln!("{}", o.coco.display());
    outln!("{}", o.scale.display());
    for p in &o.published {
        outln!("{}", p.display());
    }
    if let Some(d) = &o.images_dir {
        outln!("{}", d.display());
    }
    Ok(Status::Success)
}
