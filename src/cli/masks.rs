//! `neutrostruct masks`: one PNG mask per image (colour, class index or instance number).

use super::Status;
use crate::convert::Format;
use crate::error::{Error, Result};
use crate::labelset::LabelSet;
use crate::masks::{self, MaskKind, RenderOptions};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct MasksArgs {
    /// COCO JSON or CVAT XML.
    input: PathBuf,
    /// Output folder.
    #[arg(short = 'o', long, visible_alias = "output")]
    out: PathBuf,
    /// `color`: RGB in label-set colours (the published kind); `index`: 8-bit class id,
    /// 0 = background; `instance`: 16-bit instance number in paint order.
    #[arg(long, value_enum, default_value = "color")]
    kind: KindArg,
    /// Label set: 4, 7 or a label-set JSON file (default: the built-in set that has every
    /// class of the input).
    #[arg(long)]
    labelset: Option<String>,
    /// Smallest PNGs (slower to encode) instead of the fastest.
    #[arg(long)]
    compact: bool,
    #[arg(long, help = super::FORCE_HELP)]
    force: bool,
    #[arg(long, help = super::DRY_RUN_HELP)]
    dry_run: bool,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum KindArg {
    Color,
    Index,
    Instance,
}

pub fn run(args: MasksArgs) -> Result<Status> {
    crate::io_guard::prepare_outputs(&[("input", &args.input)], &[("--out", &args.out)])?;
    let dry = super::DryRun::new(args.dry_run)?;
    let folder = dry.folder("--out", &args.out, args.force)?;
    let out = dry.place(&args.out);
    let from = Format::detect(&args.input)?;
    if !matches!(from, Format::Coco | Format::Cvat) {
        return Err(Error::Usage(
            "masks: INPUT must be a COCO JSON or CVAT XML file".into(),
        ));
    }
    let kind = match args.kind {
        KindArg::Color => MaskKind::Color,
        KindArg::Index => MaskKind::Index,
        KindArg::Instance => MaskKind::Instance,
    };
    let started = std::time::Instant::now();
    // Masks are painted from the shapes; the segmentation text is never needed.
    let opts = crate::coco::ReadOptions {
        drop_segmentation_text: true,
        ..Default::default()
    };
    let (ds, _) = crate::convert::read(from, &args.input, &opts)?;
    let labels = LabelSet::for_dataset(&ds.categories, args.labelset.as_deref())?;
    crate::progress::phase("masks: painting");
    let opts = RenderOptions {
        write_labelmap: true,
        quiet: false,
        compact: args.compact,
    };
    let s = masks::render_dataset(&ds, &labels, kind, &out, &opts)?;
    folder.finish()?;
    say!(
        "masks: {} images, {} shapes painted in {:.2} s (label set: {})",
        s.images_written,
        s.shapes_painted,
        started.elapsed().as_secs_f64(),
        labels.name
    );
    for (k, n) in &s.not_paintable {
        say!("  {n} {k} shapes paint no pixels");
    }
    if s.no_class > 0 {
        say!(
            "  {} shapes have a class the label set lacks; not painted",
            s.no_class
        );
    }
    if s.orphan_annotations > 0 {
        say!(
            "  {} annotations refer to images the file does not list",
            s.orphan_annotations
        );
    }
    for (name, why) in &s.skipped {
        say!("  skipped {name}: {why}");
    }
    dry.finish();
    if !dry.on() {
        outln!("{}", args.out.display());
    }
    Ok(if s.skipped.is_empty() {
        Status::Success
    } else {
        Status::Findings
    })
}
