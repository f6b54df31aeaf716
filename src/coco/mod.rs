//! COCO JSON (instances) reader and writer.
//!
//! Reads bbox-only, polygon, compressed and uncompressed RLE annotations, `iscrowd`,
//! `attributes`, `info`/`licenses`; unknown fields survive COCO → COCO. Ellipses are written
//! losslessly in an extra `neutrostruct` object per annotation that pycocotools, detectron2
//! and mmdet ignore; a file without it (CVAT's own export) still reads, the ellipse being
//! recovered from the mask or polygon by second moments, and the lossiness report says so.

mod de;
pub(crate) mod locate;
pub mod polygon_area;
mod read;
mod stream;
mod write;

use crate::error::Result;
use crate::lossiness::Lossiness;
use crate::model::Dataset;
use std::path::Path;

pub use crate::model::limits::MAX_POINTS;
pub use de::MAX_SIDE;
pub use read::read_bytes;
pub use write::{write_to, POLYGON_MAX_ERROR_PX};

/// How annotations without exact ellipse parameters are turned into shapes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum EllipseRecovery {
    /// Exact parameters when present; otherwise an ellipse is recovered only where the file
    /// marks one the way CVAT's export does (a mask with `attributes.rotation`).
    #[default]
    Auto,
    /// Every annotation becomes an ellipse (from its mask, polygon or, failing that, bbox).
    Always,
    /// Keep native COCO geometry (polygon, mask, box) unless exact parameters are present.
    Never,
}

/// How a COCO file is read.
#[derive(Clone, Debug, Default)]
pub struct ReadOptions {
    /// When to recover ellipses from polygon or RLE segmentations.
    pub ellipses: EllipseRecovery,
    /// Keep annotations with non-finite numbers instead of failing (for `validate`).
    pub allow_non_finite: bool,
    /// Do not keep each annotation's `segmentation` text for writing it back (validation
    /// never writes COCO; a million segmentations are hundreds of MB).
    pub drop_segmentation_text: bool,
    /// Recover CVAT-export ellipses by the moment fit alone, without searching for the exact
    /// whole-pixel ellipse (`raster_cvat_export::invert_cvat_export_mask`): for readers that
    /// only measure shapes (validation compares a recovered annotation's bbox and area with
    /// its own mask, not with the ellipse), the search costs most of the read.
    pub fast_cvat_ellipses: bool,
}

/// How an annotation's `segmentation` is written when it has to be generated.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SegmentationMode {
    /// Polygon approximation for ellipses and boxes; RLE for masks.
    #[default]
    Polygon,
    /// Compressed COCO RLE of the rasterised shape (docs/design.md §3), `iscrowd: 0`.
    Rle,
}

/// What a COCO output does with `iscrowd: 1`. CVAT's own COCO export marks every mask
/// annotation as a crowd; detectron2 and mmdet then skip them in training and COCOeval
/// ignores them, so a user who trains on the output may want the flag cleared.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CrowdMode {
    /// Write `iscrowd` as read (COCO → COCO stays faithful).
    #[default]
    Keep,
    /// Write `iscrowd: 0` everywhere.
    Clear,
}

/// Sets `iscrowd: 1` to 0 on every annotation of `ds` (the [`CrowdMode::Clear`] step of a
/// COCO write) and returns how many were cleared.
pub(crate) fn clear_crowd(ds: &mut Dataset) -> usize {
    let mut cleared = 0;
    for a in &mut ds.annotations {
        if let Some(c) = a.coco.as_mut() {
            if c.iscrowd == Some(1) {
                c.iscrowd = Some(0);
                cleared += 1;
            }
        }
    }
    cleared
}

/// How a COCO file is written.
#[derive(Clone, Debug, Default)]
pub struct WriteOptions {
    /// How shapes become `segmentation`s.
    pub segmentation: SegmentationMode,
    /// Indent the JSON (larger; for reading by people).
    pub pretty: bool,
}

/// Reads a COCO instances file. Errors name the file and, for JSON and content errors, the
/// line and column.
pub fn read_path(path: &Path, opts: &ReadOptions) -> Result<(Dataset, Lossiness)> {
    read::read_file(path, opts)
}

/// The COCO JSON of `ds` as a string.
pub fn to_string(ds: &Dataset, opts: &WriteOptions) -> (String, Lossiness) {
    let mut buf = Vec::new();
    // Writing into a Vec cannot fail, and serde_json writes only valid UTF-8.
    let loss = write_to(ds, &mut buf, opts).unwrap_or_default();
    (String::from_utf8_lossy(&buf).into_owned(), loss)
}

/// Writes `ds` to `path` atomically (temporary file beside it, then rename).
pub fn write_path(ds: &Dataset, path: &Path, opts: &WriteOptions) -> Result<Lossiness> {
    let mut loss = Lossiness::default();
    crate::atomic::write_with(path, |w| {
        loss = write_to(ds, w, opts)?;
        Ok(())
    })?;
    Ok(loss)
}
