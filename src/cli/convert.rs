//! `neutrostruct convert`: read one format, write another, say what was lost.

use super::Status;
use crate::convert::{self, ConvertRequest, Format};
use crate::error::{Error, Result};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct ConvertArgs {
    /// Input format; detected from the content when omitted (a folder with Annotations/ is
    /// VOC). Only formats that can be read are offered.
    #[arg(long, value_enum)]
    from: Option<FromArg>,
    /// Output format.
    #[arg(long, value_enum)]
    to: Format,
    /// Input file (COCO JSON, CVAT XML), folder (masks, VOC) or YOLO dataset (its folder or
    /// its data.yaml).
    input: PathBuf,
    /// Output file or folder.
    #[arg(short = 'o', long = "output", visible_alias = "out")]
    output: PathBuf,
    /// Folder of the images (training formats link or copy them).
    #[arg(long)]
    images: Option<PathBuf>,
    /// How generated COCO segmentations are written.
    #[arg(long, value_enum, default_value = "polygon")]
    segmentation: SegmentationArg,
    /// Label set: 4, 7 or a label-set JSON file (masks and training formats; CVAT label
    /// colours where the input declares none; `--from masks` reads `labelmap.txt` without it).
    #[arg(long)]
    labelset: Option<String>,
    /// COCO output: keep `iscrowd` as read, or clear it to 0. CVAT's COCO export marks every
    /// annotation `iscrowd: 1`, which detectron2 and mmdet skip in training and COCOeval
    /// ignores; `clear` is reported as an info line of the lossiness report.
    #[arg(long, value_enum, default_value = "keep")]
    crowd: CrowdArg,
    /// COCO input: when to turn annotations into ellipses.
    #[arg(long, value_enum, default_value = "auto")]
    ellipses: EllipsesArg,
    /// Print the lossiness report as text (default) or JSON.
    #[arg(long, value_enum, default_value = "text")]
    report: ReportArg,
    /// Exit 1 when anything was lost or approximated, and then write nothing.
    #[arg(long)]
    deny_lossy: bool,
    /// Run the whole conversion and report it, but write nothing (no file, no folder).
    #[arg(long)]
    dry_run: bool,
    /// Training formats: split images randomly by ratios, e.g. `train=0.8,val=0.2`
    /// (default: the input's own splits, else everything in `train`).
    #[arg(long)]
    split: Option<String>,
    /// Seed for `--split`.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Training formats: copy images instead of linking them.
    #[arg(long)]
    copy_images: bool,
    #[arg(long, help = super::FORCE_HELP)]
    force: bool,
}

/// The formats `convert` can read: its own value list, so `--help` offers nothing that is
/// then refused.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum FromArg {
    /// COCO JSON (`instances.json`).
    Coco,
    /// CVAT for images 1.1 XML, or CVAT's zip export holding it.
    Cvat,
    /// Colour-coded PNG masks with `labelmap.txt`.
    Masks,
    /// Ultralytics boxes.
    Yolo,
    /// Ultralytics polygons.
    #[value(name = "yolo-seg")]
    YoloSeg,
    /// Ultralytics oriented boxes.
    #[value(name = "yolo-obb")]
    YoloObb,
    /// Pascal VOC XML boxes (the folder holding Annotations/); every shape reads as a box.
    Voc,
}

impl FromArg {
    fn format(self) -> Format {
        match self {
            FromArg::Coco => Format::Coco,
            FromArg::Cvat => Format::Cvat,
            FromArg::Masks => Format::Masks,
            FromArg::Yolo => Format::Yolo,
            FromArg::YoloSeg => Format::YoloSeg,
            FromArg::YoloObb => Format::YoloObb,
            FromArg::Voc => Format::Voc,
        }
    }
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum CrowdArg {
    Keep,
    Clear,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum SegmentationArg {
    Polygon,
    Rle,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum EllipsesArg {
    /// Exact parameters when present; else only where CVAT's export marks an ellipse.
    Auto,
    /// Every annotation becomes an ellipse.
    Always,
    /// Keep native COCO geometry.
    Never,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum ReportArg {
    Text,
    Json,
}

impl ConvertArgs {
    /// The validated request, with the command line's own words in its errors.
    fn into_request(self) -> Result<(ConvertRequest, ReportArg, bool)> {
        let labelset = self
            .labelset
            .as_deref()
            .map(crate::labelset::LabelSet::resolve)
            .transpose()?;
        let split = match &self.split {
            Some(spec) => crate::training::SplitPlan::parse_ratios(spec, self.seed)
                .map_err(|e| Error::Usage(format!("--{e}")))?,
            None => crate::training::SplitPlan::FromInput,
        };
        if matches!(self.crowd, CrowdArg::Clear) && self.to != Format::Coco {
            return Err(Error::Usage(format!(
                "--crowd clear: only a COCO output has iscrowd (this is --to {})",
                self.to.name()
            )));
        }
        if let Some(dir) = &self.images {
            if !dir.is_dir() {
                return Err(Error::Usage(format!(
                    "--images {}: not a folder",
                    dir.display()
                )));
            }
        }
        let mut inputs = vec![("input", self.input.as_path())];
        if let Some(im) = &self.images {
            inputs.push(("--images", im.as_path()));
        }
        match self.to {
            Format::Coco => super::known_extension("-o", &self.output, &["json"], "COCO")?,
            Format::Cvat => super::known_extension("-o", &self.output, &["xml"], "CVAT")?,
            // Folders: their names are the user's.
            _ => {}
        }
        crate::io_guard::prepare_outputs(&inputs, &[("-o", &self.output)])?;
        if !matches!(self.to, Format::Coco | Format::Cvat) {
            super::refuse_foreign_folder("-o", &self.output, self.force)?;
        }
        let mut req = ConvertRequest::new(self.input, self.output, self.to);
        req.from = self.from.map(FromArg::format);
        req.images = self.images;
        req.labelset = labelset;
        req.split = split;
        req.copy_images = self.copy_images;
        req.force = self.force;
        req.dry_run = self.dry_run;
        req.lossless_only = self.deny_lossy;
        req.ellipses = match self.ellipses {
            EllipsesArg::Auto => crate::coco::EllipseRecovery::Auto,
            EllipsesArg::Always => crate::coco::EllipseRecovery::Always,
            EllipsesArg::Never => crate::coco::EllipseRecovery::Never,
        };
        req.crowd = match self.crowd {
            CrowdArg::Keep => crate::coco::CrowdMode::Keep,
            CrowdArg::Clear => crate::coco::CrowdMode::Clear,
        };
        req.segmentation = match self.segmentation {
            SegmentationArg::Polygon => crate::coco::SegmentationMode::Polygon,
            SegmentationArg::Rle => crate::coco::SegmentationMode::Rle,
        };
        Ok((req, self.report, self.deny_lossy))
    }
}

pub fn run(args: ConvertArgs) -> Result<Status> {
    let (req, report, deny_lossy) = args.into_request()?;
    let started = std::time::Instant::now();
    let done = convert::convert(&req).map_err(name_flags)?;
    for note in &done.notes {
        if note.starts_with("warning: no images were written") {
            say!("{note} (--images FOLDER, and --copy-images to copy instead of link)");
        } else {
            say!("{note}");
        }
    }
    let lossy = !done.loss.is_lossless();
    match report {
        ReportArg::Text => {
            say!(
                "converted {} ({}) -> {} ({}) in {:.3} s",
                req.input.display(),
                done.from.name(),
                req.output.display(),
                done.to.name(),
                started.elapsed().as_secs_f64()
            );
            crate::progress::suspend(|| {
                eprint!("{}", crate::escape::text_block(&done.loss.to_string()))
            });
        }
        ReportArg::Json => {
            let json = serde_json::to_string_pretty(&done.loss)
                .map_err(|e| Error::Usage(e.to_string()))?;
            outln!("{json}");
        }
    }
    if req.dry_run {
        say!(
            "dry run: nothing written ({} not created or changed)",
            req.output.display()
        );
    } else if deny_lossy && lossy {
        say!(
            "--deny-lossy: the conversion loses or approximates data (above); nothing written ({} not created or changed)",
            req.output.display()
        );
    }
    Ok(if deny_lossy && lossy {
        Status::Findings
    } else {
        Status::Success
    })
}

/// The library says what is missing in its own words; on the command line, the flag that
/// gives it is the useful hint.
fn name_flags(e: Error) -> Error {
    match e {
        Error::Usage(m) if m.contains("no labelmap.txt beside them") => {
            Error::Usage(format!("{m}; pass --labelset (4, 7 or a file)"))
        }
        Error::Usage(m) if m.contains("its task must be given") => {
            Error::Usage(format!("{m}; pass --from yolo, yolo-seg or yolo-obb"))
        }
        Error::Invalid { path, message }
            if message.contains("export the dataset again with its images folder") =>
        {
            Error::Invalid {
                path,
                message: message.replace(
                    "with its images folder",
                    "with its images folder (convert --images FOLDER)",
                ),
            }
        }
        Error::Parse {
            path,
            line,
            column,
            message,
        } if message.ends_with("give the input format") => Error::Parse {
            path,
            line,
            column,
            message: format!("{message} (--from)"),
        },
        other => other,
    }
}
