//! The conversion pipeline as a library call: read any input format, write any output
//! format, and account for every annotation on the way.
//!
//! The command line (`neutrostruct convert`) and the Python package are thin faces over
//! [`convert`]; a Rust program gets the same result, with the same defaults, in a few lines:
//!
//! ```no_run
//! use neutrostruct::convert::{convert, ConvertRequest, Format};
//! let req = ConvertRequest::new("annotations.xml", "instances.json", Format::Coco);
//! let done = convert(&req)?;
//! println!("{}", done.loss);
//! # Ok::<(), neutrostruct::Error>(())
//! ```

use super::Format;
use crate::coco::{CrowdMode, EllipseRecovery, SegmentationMode};
use crate::error::{Error, Result};
use crate::labelset::LabelSet;
use crate::lossiness::Lossiness;
use crate::model::Dataset;
use crate::training::SplitPlan;
use std::path::{Path, PathBuf};

/// What to convert, where to, and how. [`ConvertRequest::new`] gives the command line's
/// defaults; set the fields to change them.
#[derive(Clone, Debug)]
pub struct ConvertRequest {
    /// Input file (COCO JSON, CVAT XML or its zip), folder (masks) or Ultralytics dataset.
    pub input: PathBuf,
    /// Output file (COCO, CVAT) or folder (masks, training formats).
    pub output: PathBuf,
    /// Input format; `None` detects it from the content.
    pub from: Option<Format>,
    /// Output format.
    pub to: Format,
    /// Folder of the images: training formats link or copy them, masks are sized by them.
    pub images: Option<PathBuf>,
    /// Label set for masks and training formats (and CVAT colours where the input has none).
    pub labelset: Option<LabelSet>,
    /// COCO input: when annotations become ellipses.
    pub ellipses: EllipseRecovery,
    /// COCO output: how generated segmentations are written.
    pub segmentation: SegmentationMode,
    /// COCO output: keep `iscrowd` as read, or clear it (reported as a note, not a loss:
    /// nothing of the shape changes).
    pub crowd: CrowdMode,
    /// Training formats: how images are split.
    pub split: SplitPlan,
    /// Training formats: copy images instead of linking them.
    pub copy_images: bool,
    /// Write into an output folder this library did not write before (one that is not
    /// missing, empty, or holding our `.neutrostruct-manifest.json`); without it such a
    /// folder is refused.
    pub force: bool,
    /// Write nothing: the conversion runs in full into a scratch folder that is removed
    /// afterwards, so the counts and losses are those a real run would report.
    pub dry_run: bool,
    /// Write nothing when anything is lost or approximated ([`Lossiness::is_lossless`]):
    /// the output is made in a scratch place first and put in place only when lossless.
    pub lossless_only: bool,
}

impl ConvertRequest {
    /// A request with the defaults of `neutrostruct convert`.
    pub fn new(input: impl Into<PathBuf>, output: impl Into<PathBuf>, to: Format) -> Self {
        ConvertRequest {
            input: input.into(),
            output: output.into(),
            from: None,
            to,
            images: None,
            labelset: None,
            ellipses: EllipseRecovery::Auto,
            segmentation: SegmentationMode::Polygon,
            crowd: CrowdMode::Keep,
            split: SplitPlan::FromInput,
            copy_images: false,
            force: false,
            dry_run: false,
            lossless_only: false,
        }
    }
}

/// What a conversion did.
#[derive(Clone, Debug)]
pub struct Converted {
    /// The input format (as given or as detected).
    pub from: Format,
    /// The output format.
    pub to: Format,
    /// Counts in and out, and every loss with its code.
    pub loss: Lossiness,
    /// One line per step worth telling a person (files read, label files written, images
    /// missing), in the order they happened.
    pub notes: Vec<String>,
    /// Whether the output was written: false for a dry run, and for a lossy conversion
    /// under [`ConvertRequest::lossless_only`].
    pub written: bool,
}

/// Formats the pipeline can read.
const READABLE: [Format; 7] = [
    Format::Coco,
    Format::Cvat,
    Format::Masks,
    Format::Yolo,
    Format::YoloSeg,
    Format::YoloObb,
    Format::Voc,
];

/// Runs one conversion: refuses outputs that overlap an input, reads, writes, and returns the
/// lossiness with both sides' counts.
pub fn convert(req: &ConvertRequest) -> Result<Converted> {
    let from = match req.from {
        Some(f) => f,
        None => Format::detect(&req.input)?,
    };
    if !READABLE.contains(&from) {
        return Err(Error::Usage(format!(
            "{} cannot be read: inputs are coco, cvat, masks, yolo, yolo-seg, yolo-obb or voc",
            from.name()
        )));
    }
    if let Some(dir) = &req.images {
        if !dir.is_dir() {
            return Err(Error::Usage(format!(
                "images folder {}: not a folder",
                dir.display()
            )));
        }
    }
    let mut inputs = vec![("input", req.input.as_path())];
    if let Some(im) = &req.images {
        inputs.push(("images folder", im.as_path()));
    }
    crate::io_guard::prepare_outputs(&inputs, &[("output", &req.output)])?;
    let one_file = matches!(req.to, Format::Coco | Format::Cvat);
    if !req.dry_run && !req.lossless_only {
        return convert_into(req, from, &req.output, true);
    }
    // A folder the real run would refuse is refused here too, before anything is read.
    if !one_file {
        if let crate::output_dir::State::Foreign(why) = crate::output_dir::inspect(&req.output)? {
            if !req.force {
                return Err(Error::invalid(
                    &req.output,
                    format!("{why}; refusing to write into it (choose a new or empty folder)"),
                ));
            }
        }
    }
    // The scratch place: beside the output for a one-file output that may be kept (then
    // putting it in place is a rename on the same file system), else the system's
    // temporary folder. Removed when dropped, whatever happens.
    let beside = match req.output.parent() {
        Some(d) if !d.as_os_str().is_empty() && d.is_dir() => d.to_path_buf(),
        Some(d) if d.as_os_str().is_empty() => PathBuf::from("."),
        _ => std::env::temp_dir(),
    };
    let scratch = if one_file && !req.dry_run {
        tempfile::Builder::new()
            .prefix(".neutrostruct-stage-")
            .tempdir_in(&beside)
    } else {
        tempfile::Builder::new()
            .prefix("neutrostruct-dry-run-")
            .tempdir()
    }
    .map_err(|e| Error::io(&beside, e))?;
    let name = req
        .output
        .file_name()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("output"));
    let staged = scratch.path().join(name);
    let mut done = convert_into(req, from, &staged, false)?;
    // Notes name the scratch place; the person asked about the output.
    for n in &mut done.notes {
        *n = n.replace(
            &staged.display().to_string(),
            &req.output.display().to_string(),
        );
    }
    done.written = false;
    if req.dry_run || !done.loss.is_lossless() {
        return Ok(done);
    }
    if one_file {
        // A rename when the scratch place is beside the output; a copy when it could not be
        // (the output's folder does not exist yet).
        if std::fs::rename(&staged, &req.output).is_err() {
            crate::atomic::replace_with(&req.output, |tmp| {
                std::fs::copy(&staged, tmp).map(|_| ())
            })?;
        } else {
            crate::output_dir::note_written(&req.output);
        }
        done.written = true;
        return Ok(done);
    }
    // A lossless folder output: written again, for real, into the output folder (its
    // manifest and the links of its images are made for where they stay). Reading is not
    // repeated only for one-file outputs; a folder output reads its input twice.
    drop(scratch);
    convert_into(req, from, &req.output, true)
}

/// Reads the input and writes the output at `output` (the request's, or a scratch place).
fn convert_into(
    req: &ConvertRequest,
    from: Format,
    output: &Path,
    written: bool,
) -> Result<Converted> {
    // COCO and CVAT are one file; every other output is a folder, opened before the input
    // is read so that a refused folder costs nothing.
    let folder = match req.to {
        Format::Coco | Format::Cvat => None,
        _ => Some(crate::output_dir::OutputDir::begin(output, req.force)?),
    };
    let mut notes = Vec::new();
    let coco_read = crate::coco::ReadOptions {
        ellipses: req.ellipses,
        // Only the COCO writer puts a segmentation back as it was read; for any other output
        // the text of a million RLEs is hundreds of MB held for nothing.
        drop_segmentation_text: req.to != Format::Coco,
        ..Default::default()
    };
    crate::progress::phase(&format!(
        "convert: reading {} ({})",
        req.input.display(),
        from.name()
    ));
    let (mut ds, mut loss) = match from {
        Format::Masks => read_masks(req, &mut notes)?,
        Format::Yolo | Format::YoloSeg | Format::YoloObb => {
            read_yolo(from, &req.input, &mut notes)?
        }
        Format::Voc => read_voc(&req.input, &mut notes)?,
        from => read(from, &req.input, &coco_read)?,
    };
    if req.to == Format::Coco && req.crowd == CrowdMode::Clear {
        let cleared = crate::coco::clear_crowd(&mut ds);
        loss.note(
            "iscrowd-cleared",
            cleared,
            "iscrowd: 1 written as iscrowd: 0, so that training and COCOeval use these \
             annotations (CVAT's COCO export marks every mask as a crowd)",
        );
    }
    crate::progress::phase(&format!("convert: writing {}", req.to.name()));
    let written_loss = match req.to {
        Format::Coco | Format::Cvat => {
            let coco_write = crate::coco::WriteOptions {
                segmentation: req.segmentation,
                ..Default::default()
            };
            write_with_labels(ds, from, req.to, output, &coco_write, req.labelset.as_ref())?
        }
        _ => write_training(&ds, req, output, &mut notes)?,
    };
    if let Some(folder) = folder {
        folder.finish()?;
    }
    // The input side counts what was read; the writer's side what it wrote.
    loss.output = written_loss.output.clone();
    for l in written_loss.losses {
        loss.add(l.code, l.count, l.message);
    }
    Ok(Converted {
        from,
        to: req.to,
        loss,
        notes,
        written,
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
            super::restore_cvat_from_coco(&mut ds);
            Ok((ds, loss))
        }
        Format::Cvat => crate::cvat::read_path(input, &crate::cvat::ReadOptions::default()),
        other => Err(Error::Usage(format!(
            "reading {} into one dataset is done by the conversion pipeline",
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

/// [`write()`], with the label set that colours CVAT labels declaring no colour.
pub fn write_with_labels(
    mut ds: Dataset,
    from: Format,
    to: Format,
    output: &Path,
    coco: &crate::coco::WriteOptions,
    labelset: Option<&LabelSet>,
) -> Result<Lossiness> {
    match to {
        Format::Coco => {
            super::carry_cvat_into_coco(&mut ds);
            crate::coco::write_path(&ds, output, coco)
        }
        Format::Cvat => {
            let mut loss = Lossiness::default();
            if from == Format::Coco {
                super::note_coco_to_cvat_losses(&ds, &mut loss);
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
            "writing {} as one file is not supported; it is a folder format",
            other.name()
        ))),
    }
}

/// Writes a training format (YOLO flavours, VOC, segmentation masks) into the output folder.
fn write_training(
    ds: &Dataset,
    req: &ConvertRequest,
    output: &Path,
    notes: &mut Vec<String>,
) -> Result<Lossiness> {
    use crate::training::{yolo, ClassMap};
    if req.to == Format::Masks {
        let labels = match &req.labelset {
            Some(l) => l.clone(),
            None => LabelSet::for_dataset(&ds.categories, None)?,
        };
        return crate::training::segmentation::write(ds, &labels, output, &req.split);
    }
    // A class missing from the label set is a fact about the input: name the file.
    let classes = ClassMap::new(ds, req.labelset.as_ref())
        .map_err(|e| Error::invalid(&req.input, e.to_string()))?;
    let flavour = match req.to {
        Format::Yolo => yolo::Flavour::Detect,
        Format::YoloSeg => yolo::Flavour::Segment,
        Format::YoloObb => yolo::Flavour::Obb,
        Format::Voc => return crate::training::voc::write(ds, output, &classes, &req.split),
        other => {
            return Err(Error::Usage(format!(
                "{} is not a training format",
                other.name()
            )))
        }
    };
    let yolo_req = yolo::YoloRequest {
        flavour,
        out: output,
        classes: &classes,
        split: &req.split,
        images: req.images.as_deref(),
        copy_images: req.copy_images,
    };
    let out = yolo::write(ds, &yolo_req)?;
    let splits: Vec<String> = out
        .splits
        .iter()
        .map(|(k, v)| format!("{k}: {v} images"))
        .collect();
    notes.push(format!(
        "{}: {} label files, {} rows ({}); {}",
        flavour.name(),
        out.label_files,
        out.rows,
        splits.join(", "),
        out.data_yaml.display()
    ));
    if req.images.is_none() {
        notes.push(format!(
            "warning: no images were written, only labels: Ultralytics trains on images in \
             {}/images/<split>/ beside labels/<split>/; give the images folder to link or \
             copy them there",
            req.output.display()
        ));
    } else {
        notes.push(format!(
            "images linked: {}, missing: {}",
            out.images_linked,
            out.images_missing.len()
        ));
        for m in out.images_missing.iter().take(10) {
            notes.push(format!("  missing image: {m}"));
        }
    }
    Ok(out.loss)
}

/// Reads a Pascal VOC dataset folder: every object a box.
fn read_voc(input: &Path, notes: &mut Vec<String>) -> Result<(Dataset, Lossiness)> {
    let (ds, loss, s) = crate::training::voc_read::read_dir(input)?;
    notes.push(format!(
        "voc: {} annotation files, {} boxes read (VOC holds only boxes: every shape is a box), \
         {} classes{}{}",
        s.annotation_files,
        s.boxes,
        ds.categories.len(),
        if s.labelmap {
            " (from labelmap.txt)"
        } else {
            " (from the <name>s)"
        },
        if s.splits.is_empty() {
            String::new()
        } else {
            format!("; splits: {}", s.splits.join(", "))
        }
    ));
    Ok((ds, loss))
}

/// Reads an Ultralytics dataset folder (boxes, polygons or oriented boxes).
fn read_yolo(from: Format, input: &Path, notes: &mut Vec<String>) -> Result<(Dataset, Lossiness)> {
    use crate::training::yolo::Flavour;
    let flavour = match from {
        Format::YoloSeg => Flavour::Segment,
        Format::YoloObb => Flavour::Obb,
        _ => Flavour::Detect,
    };
    let (ds, loss, s) = crate::training::yolo_read::read_dir(input, flavour)?;
    // Rows without one image to size them read back as nothing at all: an error, not an
    // "out: 0 annotations" that looks like success (the usual cause is an export written
    // without its images).
    if s.rows > 0 && s.images == 0 {
        return Err(Error::invalid(
            input,
            format!(
                "{} label rows in {} files, but no images beside them (images/<split>/): YOLO \
                 coordinates are fractions of the image size, so nothing can be read without \
                 the images; export the dataset again with its images folder, or put the \
                 images in images/<split>/",
                s.rows, s.label_files
            ),
        ));
    }
    notes.push(format!(
        "{}: {} label files, {} rows, {} images ({} without labels); ids numbered in reading order",
        flavour.name(),
        s.label_files,
        s.rows,
        s.images,
        s.images_without_labels
    ));
    Ok((ds, loss))
}

/// Reads a folder of masks as ellipses. The colours come from the request's label set, else
/// from the `labelmap.txt` beside the masks.
fn read_masks(req: &ConvertRequest, notes: &mut Vec<String>) -> Result<(Dataset, Lossiness)> {
    let (masks_dir, labelmap) = locate_masks(&req.input);
    let labels = match (&req.labelset, &labelmap) {
        (Some(l), _) => l.clone(),
        (None, Some(path)) => {
            let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
            let set = crate::masks::parse_labelmap(&text, path)?;
            notes.push(format!(
                "masks: colours from {} ({} labels)",
                path.display(),
                set.classes.len()
            ));
            set
        }
        (None, None) => {
            return Err(Error::Usage(format!(
                "masks in {}: no labelmap.txt beside them, and no label set (4, 7 or a file) was given to say what the colours mean",
                req.input.display()
            )))
        }
    };
    let (ds, loss, s) =
        crate::masks::dataset::read_dir(&masks_dir, &labels, req.images.as_deref())?;
    notes.push(format!(
        "masks: {} files, {} regions ({} touch the border, {} touch another region, {} inexact, {} of unknown colours)",
        s.masks, s.regions, s.touching_border, s.touching_other, s.inexact, s.unknown_regions
    ));
    Ok((ds, loss))
}

/// The folder whose PNGs are the masks, and the `labelmap.txt` that describes them. A CVAT
/// "Segmentation mask 1.1" export (and a conversion to masks) keeps the colour masks in
/// `SegmentationClass/` with `labelmap.txt` at the top: `input` may be that top or the
/// `SegmentationClass` folder itself. Rendered masks have both in one folder.
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
