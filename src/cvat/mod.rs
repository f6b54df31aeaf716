//! CVAT XML 1.1 ("for images") reader and writer.
//!
//! Streams with quick-xml; never expands DTD entities. Every element is kept: ellipses,
//! boxes, polygons, polylines, points, masks and tags, `<meta>` label declarations, and
//! anything unknown verbatim. Numbers are written as CVAT writes them (2 decimals, `rotation`
//! omitted when 0).
//!
//! Mapping to the model:
//! - `<meta>` is kept verbatim in [`crate::model::CvatMetaRaw`], split around the `<labels>`
//!   block of its `<task>` or `<project>`; the labels become categories (id = 1-based
//!   position). A label a shape uses without a declaration becomes an extra category, and is
//!   included in `CvatMetaRaw::declared` so that the writer keeps the verbatim block as long
//!   as the categories are unchanged; when they change, only the labels block is regenerated.
//! - Image ids: a project export repeats `<image id>` across subsets. The model needs unique
//!   ids, so each repeat gets a fresh id past the largest one, and its id as written is kept
//!   as the first entry `("id", …)` of `Image::cvat_attrs`; the writer writes that back.
//! - Shapes: annotation ids are 1.. in document order; `<attribute>` children become
//!   `Value::String`s; XML attributes other than the standard ones stay in
//!   `Annotation::cvat_attrs`; `loc` is the byte span of the whole element.
//! - Unknown elements in `<image>` and at the top level are kept as source text
//!   (lossiness code `kept-verbatim`).

mod mask_rle;
mod reader;
mod writer;

pub use mask_rle::{coco_to_cvat, cvat_to_coco, BoxRle};
pub use reader::{read_bytes, MAX_DEPTH, MAX_POINTS};
pub use writer::labels_block;

use crate::error::{Error, Result};
use crate::lossiness::Lossiness;
use crate::model::Dataset;
use std::path::Path;

#[derive(Clone, Debug, Default)]
pub struct ReadOptions {
    /// Keep shapes with non-finite numbers instead of failing (for `validate`).
    pub allow_non_finite: bool,
}

/// Options of the CVAT writer (none yet; the output layout is CVAT's own).
#[derive(Clone, Debug, Default)]
pub struct WriteOptions {}

/// Reads a CVAT XML 1.1 file.
pub fn read_path(path: &Path, opts: &ReadOptions) -> Result<(Dataset, Lossiness)> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    read_bytes(&bytes, path, opts)
}

/// Writes `ds` as CVAT XML 1.1 into `w`; returns what could not be carried.
pub fn write_to(
    ds: &Dataset,
    w: &mut dyn std::io::Write,
    opts: &WriteOptions,
) -> std::io::Result<Lossiness> {
    let (s, loss) = writer::render(ds, opts);
    w.write_all(s.as_bytes())?;
    Ok(loss)
}

/// Renders `ds` as CVAT XML 1.1 text.
pub fn to_string(ds: &Dataset, opts: &WriteOptions) -> (String, Lossiness) {
    writer::render(ds, opts)
}

/// Writes `ds` to `path` atomically (temporary file beside it, then rename).
pub fn write_path(ds: &Dataset, path: &Path, opts: &WriteOptions) -> Result<Lossiness> {
    let (s, loss) = writer::render(ds, opts);
    crate::atomic::write_with(path, |w| w.write_all(s.as_bytes()))?;
    Ok(loss)
}
