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
//!   `Annotation::cvat` (`CvatExtra::attrs`, beside `source` and `group_id`); `loc` is the
//!   byte span of the whole element.
//! - Unknown elements in `<image>` and at the top level are kept as source text
//!   (lossiness code `kept-verbatim`).

mod mask_rle;
mod reader;
mod writer;

pub use mask_rle::{coco_to_cvat, cvat_to_coco, BoxRle};
pub use reader::{read_bytes, read_stream, StreamLimit, MAX_DEPTH, MAX_POINTS};
pub use writer::labels_block;

use crate::error::{Error, Result};
use crate::lossiness::Lossiness;
use crate::model::Dataset;
use std::path::{Path, PathBuf};

/// How a CVAT file is read.
#[derive(Clone, Debug, Default)]
pub struct ReadOptions {
    /// Keep shapes with non-finite numbers instead of failing (for `validate`).
    pub allow_non_finite: bool,
}

/// Options of the CVAT writer (the output layout itself is CVAT's own).
#[derive(Clone, Debug, Default)]
pub struct WriteOptions {
    /// How `<image id>` is numbered.
    pub image_ids: ImageIds,
    /// Colours for labels whose category declares none (matched by name; the built-in
    /// 4- and 7-class sets are tried after it).
    pub labelset: Option<crate::labelset::LabelSet>,
}

/// How the writer numbers `<image id>`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ImageIds {
    /// The model's image ids: a CVAT file's own frame numbers, also when they rode through
    /// COCO.
    #[default]
    AsRead,
    /// Frame numbers 0, 1, … in image order, as CVAT numbers a task's frames. For a dataset
    /// that never was CVAT's: COCO image ids (CVAT's COCO export starts them at 1) are not
    /// frame numbers.
    Frames,
}

/// Reads a CVAT XML 1.1 file, or a CVAT export archive (`.zip`, recognised by its magic
/// bytes) holding `annotations.xml`.
pub fn read_path(path: &Path, opts: &ReadOptions) -> Result<(Dataset, Lossiness)> {
    let bytes = crate::error::read_input(path)?;
    if bytes.starts_with(ZIP_MAGIC) {
        return read_zip(&bytes, path, opts);
    }
    read_bytes(&bytes, path, opts)
}

/// Reads the `annotations.xml` of a CVAT export archive held in memory (chosen as
/// [`annotations_from_zip`] chooses it) by streaming it out of the archive into the reader
/// (`reader::read_stream`): only one top-level element is held inflated at a time, and the
/// size and inflation-ratio limits are enforced on the bytes as they are inflated.
pub fn read_zip(bytes: &[u8], path: &Path, opts: &ReadOptions) -> Result<(Dataset, Lossiness)> {
    with_annotations_entry(bytes, path, |entry, inner, cap, over| {
        let stop = reader::StreamLimit::default();
        let capped = Capped {
            inner: entry,
            left: cap,
            over: Some(over),
            stop: stop.clone(),
        };
        read_stream(capped, &inner, opts, &stop)
    })
}

/// Opens the archive's `annotations.xml` (chosen by [`annotations_index`]) and hands `use_entry`
/// the entry, its path for messages (`x.zip/annotations.xml`), the most bytes it may inflate
/// to and the message for one that goes past them.
fn with_annotations_entry<T>(
    bytes: &[u8],
    path: &Path,
    use_entry: impl FnOnce(
        zip::read::ZipFile<'_, std::io::Cursor<&[u8]>>,
        PathBuf,
        u64,
        String,
    ) -> Result<T>,
) -> Result<T> {
    let bad = |m: String| Error::invalid(path, m);
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes))
        .map_err(|e| bad(format!("not a readable zip archive: {e}")))?;
    let index = annotations_index(&mut zip, path)?;
    let entry = zip
        .by_index(index)
        .map_err(|e| bad(format!("{ZIP_ANNOTATIONS}: {e}")))?;
    let inner = path.join(
        entry
            .enclosed_name()
            .unwrap_or_else(|| ZIP_ANNOTATIONS.into()),
    );
    let (cap, over) = inflation_cap(entry.size(), entry.compressed_size()).map_err(bad)?;
    use_entry(entry, inner, cap, over)
}

/// The most bytes an entry of these declared sizes may inflate to, and the message for one
/// that goes past it. An error when the declared size is already over the input limit.
fn inflation_cap(size: u64, compressed: u64) -> std::result::Result<(u64, String), String> {
    let limit = crate::error::MAX_INPUT_BYTES;
    if size > limit {
        return Err(format!(
            "{ZIP_ANNOTATIONS} is larger than the {limit}-byte input limit"
        ));
    }
    // The inflated size is bounded by what the compressed bytes can honestly hold: a zip
    // bomb (1.9 MB inflating to 2 GB) stops at `MAX_ZIP_RATIO` times its compressed size
    // while it is being inflated, whatever the header claims.
    let by_ratio = compressed
        .saturating_mul(MAX_ZIP_RATIO)
        .max(MIN_ZIP_INFLATE);
    let cap = limit.min(by_ratio);
    let msg = if cap == limit {
        format!("{ZIP_ANNOTATIONS} is larger than the {limit}-byte input limit")
    } else {
        format!(
            "{ZIP_ANNOTATIONS} inflates to more than {MAX_ZIP_RATIO} times its compressed size; refused as a zip bomb"
        )
    };
    Ok((cap, msg))
}

/// A reader that fails once more than `left` bytes came through it, leaving its message in
/// `stop` for the XML reader to report instead of an I/O error.
struct Capped<R> {
    inner: R,
    left: u64,
    over: Option<String>,
    stop: reader::StreamLimit,
}

impl<R: std::io::Read> std::io::Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        // One byte past the cap is asked for, so that an entry of exactly the cap passes.
        let want = buf
            .len()
            .min(usize::try_from(self.left.saturating_add(1)).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        if n as u64 > self.left {
            self.stop.set(self.over.take());
            return Err(std::io::Error::other("inflation limit"));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// First bytes of a zip archive (a local file header).
pub(crate) const ZIP_MAGIC: &[u8] = b"PK\x03\x04";

/// Largest inflation of `annotations.xml` in an export archive, uncompressed : compressed.
/// CVAT XML inflates 5–20×; DEFLATE's own maximum is about 1030×, which only a crafted entry
/// reaches.
pub const MAX_ZIP_RATIO: u64 = 200;

/// An entry may always inflate to this many bytes, whatever its ratio (a tiny file of
/// repeated text compresses beyond any ratio and costs nothing).
pub(crate) const MIN_ZIP_INFLATE: u64 = 1 << 20;

/// Name of the annotations file in a CVAT "for images 1.1" export archive.
const ZIP_ANNOTATIONS: &str = "annotations.xml";

/// The bytes of `annotations.xml` inside a CVAT export archive held in memory, with the path
/// to name it by in messages (`export.zip/annotations.xml`).
///
/// Nothing is extracted to disk, so no entry name (`../evil`, `/etc/passwd`) can place a file
/// anywhere; the other entries (images) are never read. Only the entry at the root is taken;
/// failing that, the single entry named `annotations.xml` in a subfolder whose name is a
/// plain relative path. The decompressed size is bounded by the input limit whatever the
/// archive claims (a zip bomb stops at the limit).
pub fn annotations_from_zip(bytes: &[u8], path: &Path) -> Result<(std::path::PathBuf, Vec<u8>)> {
    use std::io::Read;
    let bad = |m: String| Error::invalid(path, m);
    with_annotations_entry(bytes, path, |entry, inner, cap, over| {
        // Reserved once from the declared size (bounded by `cap`), so a lying header cannot make
        // the buffer double past the cap either.
        let mut xml = Vec::with_capacity(usize::try_from(entry.size().min(cap)).unwrap_or(0));
        entry
            .take(cap + 1)
            .read_to_end(&mut xml)
            .map_err(|e| bad(format!("{ZIP_ANNOTATIONS}: {e}")))?;
        if xml.len() as u64 > cap {
            return Err(bad(over));
        }
        Ok((inner, xml))
    })
}

/// Which entry of the archive is its `annotations.xml` (see [`annotations_from_zip`]).
fn annotations_index(
    zip: &mut zip::ZipArchive<std::io::Cursor<&[u8]>>,
    path: &Path,
) -> Result<usize> {
    let bad = |m: String| Error::invalid(path, m);
    let mut root = None;
    let mut nested = Vec::new();
    for i in 0..zip.len() {
        let Ok(entry) = zip.by_index_raw(i) else {
            continue;
        };
        // `enclosed_name` is None for absolute names and names with `..`: never used.
        let Some(name) = entry.enclosed_name() else {
            continue;
        };
        if !entry.is_file() || name.file_name().and_then(|n| n.to_str()) != Some(ZIP_ANNOTATIONS) {
            continue;
        }
        if name.as_os_str() == ZIP_ANNOTATIONS {
            root = Some(i);
        } else {
            nested.push(i);
        }
    }
    match (root, nested.as_slice()) {
        (Some(i), _) | (None, &[i]) => Ok(i),
        (None, []) => Err(bad(format!(
            "no {ZIP_ANNOTATIONS} in this archive (a CVAT for images 1.1 export has one)"
        ))),
        (None, _) => Err(bad(format!(
            "several {ZIP_ANNOTATIONS} in subfolders and none at the root; unpack and pick one"
        ))),
    }
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
