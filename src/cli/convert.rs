//! `neutrostruct convert`: read one format, write another, say what was lost.

use super::Outcome;
use crate::convert::{self, Format};
use crate::error::{Error, Result};
use crate::lossiness::Lossiness;
use crate::model::Dataset;
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Args)]
pub struct ConvertArgs {
    /// Input format; detected from the content when omitted.
    #[arg(long, value_enum)]
    from: Option<Format>,
    /// Output format.
    #[arg(long, value_enum)]
    to: Format,
    /// Input file (COCO JSON, CVAT XML), folder (masks) or YOLO dataset (its folder or its
    /// data.yaml).
    input: PathBuf,
    /// Output file or folder.
    #[arg(short = 'o', long = "output")]
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
    /// COCO input: when to turn annotations into ellipses.
    #[arg(long, value_enum, default_value = "auto")]
    ellipses: EllipsesArg,
    /// Print the lossiness report as text (default) or JSON.
    #[arg(long, value_enum, default_value = "text")]
    report: ReportArg,
    /// Exit 1 when anything was lost or approximated.
    #[arg(long)]
    deny_lossy: bool,
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

/// The validated request.
struct Config {
    from: Format,
    to: Format,
    input: PathBuf,
    output: PathBuf,
    coco_read: crate::coco::ReadOptions,
    coco_write: crate::coco::WriteOptions,
    report: ReportArg,
    deny_lossy: bool,
    images: Option<PathBuf>,
    labelset: Option<crate::labelset::LabelSet>,
    split: crate::training::SplitPlan,
    copy_images: bool,
    force: bool,
}

impl ConvertArgs {
    fn into_config(self) -> Result<Config> {
        let from = match self.from {
            Some(f) => f,
            None => Format::detect(&self.input)?,
        };
        if !matches!(
            from,
            Format::Coco
                | Format::Cvat
                | Format::Masks
                | Format::Yolo
                | Format::YoloSeg
                | Format::YoloObb
        ) {
            return Err(Error::Usage(format!(
                "--from {}: inputs are coco, cvat, masks, yolo, yolo-seg or yolo-obb",
                from.name()
            )));
        }
        let labelset = self
            .labelset
            .as_deref()
            .map(crate::labelset::LabelSet::resolve)
            .transpose()?;
        let split = match &self.split {
            Some(spec) => crate::training::SplitPlan::parse_ratios(spec, self.seed)?,
            None => crate::training::SplitPlan::FromInput,
        };
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
        crate::io_guard::prepare_outputs(&inputs, &[("-o", &self.output)])?;
        let ellipses = match self.ellipses {
            EllipsesArg::Auto => crate::coco::EllipseRecovery::Auto,
            EllipsesArg::Always => crate::coco::EllipseRecovery::Always,
            EllipsesArg::Never => crate::coco::EllipseRecovery::Never,
        };
        let segmentation = match self.segmentation {
            SegmentationArg::Polygon => crate::coco::SegmentationMode::Polygon,
            SegmentationArg::Rle => crate::coco::SegmentationMode::Rle,
        };
        Ok(Config {
            from,
            to: self.to,
            input: self.input,
            output: self.output,
            coco_read: crate::coco::ReadOptions {
                ellipses,
                // Only the COCO writer puts a segmentation back as it was read; for any
                // other output the text of a million RLEs is hundreds of MB held for nothing.
                drop_segmentation_text: self.to != Format::Coco,
                ..Default::default()
            },
            coco_write: crate::coco::WriteOptions {
                segmentation,
                ..Default::default()
            },
            report: self.report,
            deny_lossy: self.deny_lossy,
            images: self.images,
            labelset,
            split,
            copy_images: self.copy_images,
            force: self.force,
        })
    }
}

pub fn run(args: ConvertArgs) -> Result<Outcome> {
    let cfg = args.into_config()?;
    // COCO and CVAT are one file; every other output is a folder, opened before the input
    // is read so that a refused folder costs nothing.
    let folder = match cfg.to {
        Format::Coco | Format::Cvat => None,
        _ => Some(super::output_folder("-o", &cfg.output, cfg.force)?),
    };
    let started = std::time::Instant::now();
    let (ds, mut loss) = match cfg.from {
        Format::Masks => read_masks(&cfg)?,
        Format::Yolo | Format::YoloSeg | Format::YoloObb => read_yolo(cfg.from, &cfg.input)?,
        from => read(from, &cfg.input, &cfg.coco_read)?,
    };
    let written = match cfg.to {
        Format::Coco | Format::Cvat => write_with_labels(
            ds,
            cfg.from,
            cfg.to,
            &cfg.output,
            &cfg.coco_write,
            cfg.labelset.as_ref(),
        )?,
        _ => write_training(&ds, &cfg)?,
    };
    if let Some(folder) = folder {
        folder.finish()?;
    }
    // The input side counts what was read; the writer's side what it wrote.
    loss.output = written.output.clone();
    for l in written.losses {
        loss.add(l.code, l.count, l.message);
    }
    match cfg.report {
        ReportArg::Text => {
            say!(
                "converted {} ({}) -> {} ({}) in {:.3} s",
                cfg.input.display(),
                cfg.from.name(),
                cfg.output.display(),
                cfg.to.name(),
                started.elapsed().as_secs_f64()
            );
            eprint!("{}", crate::escape::text_block(&loss.to_string()));
        }
        ReportArg::Json => {
            let json =
                serde_json::to_string_pretty(&loss).map_err(|e| Error::Usage(e.to_string()))?;
            outln!("{json}");
        }
    }
    Ok(if cfg.deny_lossy && !loss.is_lossless() {
        Outcome::Findings
    } else {
        Outcome::Success
    })
}

/// Reads a COCO or CVAT file into the model.
pub fn read(
    from: Format,
    input: &Path,
    coco: &crate::coco::ReadOptions,
) -> Result<(Dataset, Lossiness)> {
    match from {
        Format::Coco => {
            let (mut ds, loss) = crate::coco::read_path(input, coco)?;
            convert::restore_cvat_from_coco(&mut ds);
            Ok((ds, loss))
        }
        Format::Cvat => crate::cvat::read_path(input, &crate::cvat::ReadOptions::default()),
        other => Err(Error::Usage(format!(
            "reading {} is not supported here",
            other.name()
        ))),
    }
}

/// Writes the model as COCO or CVAT, adding what the format pair loses.
pub fn write(
    ds: Dataset,
    from: Format,
    to: Format,
    output: &Path,
    coco: &crate::coco::WriteOptions,
) -> Result<Lossiness> {
    write_with_labels(ds, from, to, output, coco, None)
}

/// [`write`], with the label set that colours CVAT labels declaring no colour.
pub fn write_with_labels(
    mut ds: Dataset,
    from: Format,
    to: Format,
    output: &Path,
    coco: &crate::coco::WriteOptions,
    labelset: Option<&crate::labelset::LabelSet>,
) -> Result<Lossiness> {
    match to {
        Format::Coco => {
            convert::carry_cvat_into_coco(&mut ds);
            crate::coco::write_path(&ds, output, coco)
        }
        Format::Cvat => {
            let mut loss = Lossiness::default();
            if from == Format::Coco {
                convert::note_coco_to_cvat_losses(&ds, &mut loss);
            }
            // A COCO file that never was CVAT's (no <meta> or version riding along) has COCO
            // image ids, not frame numbers: CVAT counts its frames from 0.
            let never_cvat = ds.meta.cvat_meta.is_none() && ds.meta.cvat_version.is_none();
            let opts = crate::cvat::WriteOptions {
                image_ids: if from == Format::Coco && never_cvat {
                    crate::cvat::ImageIds::Frames
                } else {
                    crate::cvat::ImageIds::AsRead
                },
                labelset: labelset.cloned(),
            };
            let written = crate::cvat::write_path(&ds, output, &opts)?;
            loss.merge(written);
            Ok(loss)
        }
        other => Err(Error::Usage(format!(
            "writing {} is not supported here",
            other.name()
        ))),
    }
}

/// Writes a training format (YOLO flavours, VOC) into the output folder.
fn write_training(ds: &Dataset, cfg: &Config) -> Result<Lossiness> {
    use crate::training::{yolo, ClassMap};
    if cfg.to == Format::Masks {
        let labels = match &cfg.labelset {
            Some(l) => l.clone(),
            None => crate::labelset::LabelSet::for_dataset(&ds.categories, None)?,
        };
        return crate::training::segmentation::write(ds, &labels, &cfg.output, &cfg.split);
    }
    // A class missing from the label set is a fact about the input: name the file.
    let classes = ClassMap::new(ds, cfg.labelset.as_ref())
        .map_err(|e| Error::invalid(&cfg.input, e.to_string()))?;
    let flavour = match cfg.to {
        Format::Yolo => yolo::Flavour::Detect,
        Format::YoloSeg => yolo::Flavour::Segment,
        Format::YoloObb => yolo::Flavour::Obb,
        Format::Voc => return crate::training::voc::write(ds, &cfg.output, &classes, &cfg.split),

        other => {
            return Err(Error::Usage(format!(
                "--to {} is not a training format",
                other.name()
            )))
        }
    };
    let req = yolo::YoloRequest {
        flavour,
        out: &cfg.output,
        classes: &classes,
        split: &cfg.split,
        images: cfg.images.as_deref(),
        copy_images: cfg.copy_images,
    };
    let out = yolo::write(ds, &req)?;
    let splits: Vec<String> = out
        .splits
        .iter()
        .map(|(k, v)| format!("{k}: {v} images"))
        .collect();
    say!(
        "{}: {} label files, {} rows ({}); {}",
        flavour.name(),
        out.label_files,
        out.rows,
        splits.join(", "),
        out.data_yaml.display()
    );
    if cfg.images.is_some() {
        say!(
            "images linked: {}, missing: {}",
            out.images_linked,
            out.images_missing.len()
        );
        for m in out.images_missing.iter().take(10) {
            say!("  missing image: {m}");
        }
    }
    Ok(out.loss)
}

/// Reads an Ultralytics dataset folder (boxes, polygons or oriented boxes).
fn read_yolo(from: Format, input: &Path) -> Result<(Dataset, Lossiness)> {
    use crate::training::yolo::Flavour;
    let flavour = match from {
        Format::YoloSeg => Flavour::Segment,
        Format::YoloObb => Flavour::Obb,
        _ => Flavour::Detect,
    };
    let (ds, loss, s) = crate::training::yolo_read::read_dir(input, flavour)?;
    say!(
        "{}: {} label files, {} rows, {} images ({} without labels); ids numbered in reading order",
        flavour.name(),
        s.label_files,
        s.rows,
        s.images,
        s.images_without_labels
    );
    Ok((ds, loss))
}

/// Reads a folder of masks as ellipses, printing what could not be recovered exactly.
/// The colours come from `--labelset`, else from the `labelmap.txt` beside the masks.
fn read_masks(cfg: &Config) -> Result<(Dataset, Lossiness)> {
    let (masks_dir, labelmap) = locate_masks(&cfg.input);
    let labels = match (&cfg.labelset, &labelmap) {
        (Some(l), _) => l.clone(),
        (None, Some(path)) => {
            let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
            let set = crate::masks::parse_labelmap(&text, path)?;
            say!(
                "masks: colours from {} ({} labels)",
                path.display(),
                set.classes.len()
            );
            set
        }
        (None, None) => {
            return Err(Error::Usage(format!(
                "--from masks: no labelmap.txt beside the masks in {}; pass --labelset (4, 7 or a file) to say what the colours mean",
                cfg.input.display()
            )))
        }
    };
    let (ds, loss, s) = crate::mask_dataset::read_dir(&masks_dir, &labels, cfg.images.as_deref())?;
    say!(
        "masks: {} files, {} regions ({} touch the border, {} touch another region, {} inexact, {} of unknown colours)",
        s.masks, s.regions, s.touching_border, s.touching_other, s.inexact, s.unknown_regions
    );
    Ok((ds, loss))
}

/// The folder whose PNGs are the masks, and the `labelmap.txt` that describes them. A CVAT
/// "Segmentation mask 1.1" export (and `convert --to masks`) keeps the colour masks in
/// `SegmentationClass/` with `labelmap.txt` at the top: DIR may be that top or the
/// `SegmentationClass` folder itself. `masks --out DIR` writes both into DIR.
fn locate_masks(input: &Path) -> (PathBuf, Option<PathBuf>) {
    let class_dir = input.join("SegmentationClass");
    let has_png = |d: &Path| {
        std::fs::read_dir(d).is_ok_and(|mut it| {
            it.any(|e| {
                e.is_ok_and(|e| {
                    e.path()
                        .extension()
                        .is_some_and(|x| x.eq_ignore_ascii_case("png"))
                })
            })
        })
    };
    let masks_dir = if !has_png(input) && class_dir.is_dir() {
        class_dir
    } else {
        input.to_path_buf()
    };
    let beside = [
        Some(masks_dir.join("labelmap.txt")),
        input.join("labelmap.txt").into(),
        (masks_dir.file_name().and_then(|n| n.to_str()) == Some("SegmentationClass"))
            .then(|| masks_dir.parent().map(|p| p.join("labelmap.txt")))
            .flatten(),
    ];
    let labelmap = beside.into_iter().flatten().find(|p| p.is_file());
    (masks_dir, labelmap)
}
