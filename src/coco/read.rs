//! From raw COCO records to the typed model: strict checks at the boundary, shapes chosen
//! by `EllipseRecovery`, positions of every image and annotation.

use super::de::{
    AnnotationSink, RawAnnotation, RawAttributes, RawImage, RawSegmentation, RawTop, MAX_SIDE,
};
use super::locate::locate;
use super::stream::Part;
use super::{EllipseRecovery, ReadOptions};
use crate::error::{Error, LineIndex, Result};
use crate::geometry::fit::{
    ellipse_from_cvat_export_mask, ellipse_from_moments, ellipse_from_moments_with_angle,
    ellipse_from_polygon, Moments,
};
use crate::geometry::raster_cvat_export::{invert_cvat_export_mask, Inverted, Recovery};
use crate::lossiness::Lossiness;
use crate::model::{
    coco_rle_bbox, rle_area, Annotation, AnnotationId, BoxShape, CategoryId, CocoExtra, CocoRare,
    CvatExtra, Dataset, DatasetMeta, Ellipse, Image, ImageId, MaskData, MaskExtent, Point, RawJson,
    Rings, Shape, SourceLoc, Sparse,
};
use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

/// Largest coordinate magnitude accepted without `allow_non_finite` (no image is a billion
/// pixels wide; such numbers are corruption).
const MAX_MAGNITUDE: f64 = 1e9;

/// Converts a serde_json error into `path:line:col: message`.
fn json_error(path: &Path, e: &serde_json::Error) -> Error {
    let full = e.to_string();
    // serde_json appends " at line L column C"; the position goes in front instead.
    let msg = match full.rfind(" at line ") {
        Some(i) => full[..i].to_string(),
        None => full,
    };
    Error::parse(path, e.line().max(1) as u32, e.column().max(1) as u32, msg)
}

/// Reads COCO from memory. Annotations are built while the file is parsed, chunk by chunk
/// on a thread of their own (when `images` comes before `annotations`, as every exporter
/// writes it), so the raw records of all annotations never exist at once and the model is
/// built on the second core while the first parses.
pub fn read_bytes(bytes: &[u8], path: &Path, opts: &ReadOptions) -> Result<(Dataset, Lossiness)> {
    let failed = AtomicBool::new(false);
    let (parsed, builder) = std::thread::scope(|s| {
        // Two chunks queued at most: the parser never runs far ahead of the builder.
        let (tx, rx) = std::sync::mpsc::sync_channel(2);
        let mut builder = Builder::new(path, opts);
        let failed = &failed;
        let worker = s.spawn(move || {
            builder.run(bytes, rx, failed);
            builder
        });
        let mut feeder = Feeder {
            tx,
            failed,
            sizes_sent: false,
        };
        let parsed = parse(bytes, path, Some(&mut feeder));
        drop(feeder);
        let builder = worker
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (parsed, builder)
    });
    if builder.failed {
        // An annotation failed before the file's positions were known: the two-phase read
        // finds the same first error (or an earlier JSON error) and says where it is.
        return read_two_phase(bytes, path, opts);
    }
    let parsed = parsed?;
    let prebuilt = parsed
        .raw
        .streamed
        .then_some((builder.annotations, builder.loss));
    build(parsed, prebuilt, path, opts)
}

/// Every raw record first, then the model: the reference the streamed read is tested
/// against, and the read that positions a streamed read's error.
pub(crate) fn read_two_phase(
    bytes: &[u8],
    path: &Path,
    opts: &ReadOptions,
) -> Result<(Dataset, Lossiness)> {
    build(parse(bytes, path, None)?, None, path, opts)
}

/// Reads a file's bytes, released when the model is built.
pub(crate) fn read_owned(
    bytes: Vec<u8>,
    path: &Path,
    opts: &ReadOptions,
) -> Result<(Dataset, Lossiness)> {
    read_bytes(&bytes, path, opts)
}

/// The typed parse, with each element's byte span and a line index of the text.
struct Parsed<'a> {
    raw: RawTop<'a>,
    spans: super::locate::Spans,
    lines: LineIndex,
}

fn parse<'a>(
    bytes: &'a [u8],
    path: &Path,
    sink: Option<&mut Feeder<'_, 'a>>,
) -> Result<Parsed<'a>> {
    // The position scan reads the same bytes as the parser; on a second core it is free.
    let (raw, (spans, lines)) = rayon::join(
        || -> Result<RawTop<'a>> {
            let mut de = serde_json::Deserializer::from_slice(bytes);
            let sink = sink.map(|f| f as &mut dyn AnnotationSink<'a>);
            let raw = RawTop::deserialize_with(&mut de, sink).map_err(|e| json_error(path, &e))?;
            de.end().map_err(|e| json_error(path, &e))?;
            Ok(raw)
        },
        || (locate(bytes), LineIndex::new(bytes)),
    );
    Ok(Parsed {
        raw: raw?,
        spans,
        lines,
    })
}

/// Reads a COCO file. The file is read through a window and each annotation is built from
/// its own bytes as it arrives (`stream.rs`), so neither the file's text nor the raw records
/// of its annotations are ever all in memory; when the streamed read gives up (an error, or
/// input it is not sure it reads exactly as the whole-file parse does), the file is read
/// whole the old way, which finds the same model or reports the error with its position.
pub(crate) fn read_file(path: &Path, opts: &ReadOptions) -> Result<(Dataset, Lossiness)> {
    if let Some(read) = read_streamed(path, opts) {
        return Ok(read);
    }
    read_owned(crate::error::read_input(path)?, path, opts)
}

/// Most numbers a thread's polygon buffer keeps between annotations (1 MB).
const FLAT_RINGS_KEPT: usize = 1 << 17;

thread_local! {
    /// The numbers of the polygon being read and where its rings end, kept from one
    /// annotation to the next (see [`super::de::read_flat_rings`]).
    static FLAT_RINGS: std::cell::RefCell<(Vec<f64>, Vec<usize>)> = const {
        std::cell::RefCell::new((Vec::new(), Vec::new()))
    };
}

/// Elements of the `annotations` array on their way to [`build_streamed`]: their bytes one
/// after the other, and each one's range and position.
#[derive(Default)]
struct ElemChunk {
    bytes: Vec<u8>,
    elems: Vec<(usize, usize, SourceLoc)>,
    /// With the first chunk: the image sizes, and room to reserve for the annotations.
    sizes: Option<HashMap<u64, (u32, u32)>>,
    reserve: usize,
}

/// Annotations per chunk, and the most bytes a chunk gathers before it is sent anyway.
const STREAM_CHUNK: usize = 4096;
const STREAM_CHUNK_BYTES: usize = 8 << 20;

/// What the splitter hands over, kept (images, categories, other keys) or sent on to the
/// builder (annotations).
struct Collect<'f> {
    /// The second pass over a file whose annotations came before its images: only the
    /// annotations are taken.
    second_pass: bool,
    images: Vec<(RawImage, SourceLoc)>,
    categories: Vec<crate::model::Category>,
    top: crate::model::JsonMap,
    had_images: bool,
    /// Annotations came before images: they are built in a second pass, once every image
    /// size is known.
    deferred: bool,
    tx: std::sync::mpsc::SyncSender<ElemChunk>,
    /// Chunks the builder is done with, to be filled again: a fresh buffer per chunk made
    /// the allocator fault in (and the kernel zero) new pages for every chunk, a quarter of
    /// the read's time.
    recycled: std::sync::mpsc::Receiver<ElemChunk>,
    chunk: ElemChunk,
    sent_any: bool,
    file_len: u64,
    failed: &'f AtomicBool,
}

impl Collect<'_> {
    fn send(&mut self) -> bool {
        if self.chunk.elems.is_empty() {
            return true;
        }
        if self.failed.load(Ordering::Relaxed) {
            return false;
        }
        let fresh = self.recycled.try_recv().unwrap_or_default();
        let mut chunk = std::mem::replace(&mut self.chunk, fresh);
        if !self.sent_any {
            self.sent_any = true;
            chunk.sizes = Some(image_sizes(self.images.iter().map(|(r, _)| &r.image)));
            // Room for the annotations still to come, estimated from the first chunk's
            // bytes per annotation (growing by doubling held the old and the new buffer
            // together, a fifth of the peak at a million annotations); a little extra is
            // address space that is never touched.
            let per = (chunk.bytes.len() / chunk.elems.len()).max(1) as u64;
            let read = chunk.elems.last().map_or(0, |e| e.2.end as u64);
            let rest = self.file_len.saturating_sub(read) / per;
            chunk.reserve = chunk.elems.len() + usize::try_from(rest + rest / 16).unwrap_or(0);
        }
        // A closed channel means the builder stopped on an error.
        self.tx.send(chunk).is_ok()
    }
}

impl super::stream::Visit for Collect<'_> {
    fn begin(&mut self, part: Part) -> bool {
        if !self.second_pass {
            match part {
                Part::Images => self.had_images = true,
                Part::Annotations => self.deferred = !self.had_images,
                Part::Categories => {}
            }
        }
        true
    }

    fn element(&mut self, part: Part, bytes: &[u8], loc: SourceLoc) -> bool {
        match (part, self.second_pass) {
            (Part::Annotations, second) if second == self.deferred => {
                let a = self.chunk.bytes.len();
                self.chunk.bytes.extend_from_slice(bytes);
                self.chunk.elems.push((a, self.chunk.bytes.len(), loc));
                if self.chunk.elems.len() >= STREAM_CHUNK
                    || self.chunk.bytes.len() >= STREAM_CHUNK_BYTES
                {
                    return self.send();
                }
                true
            }
            (_, true) | (Part::Annotations, false) => true,
            (Part::Images, false) => match serde_json::from_slice::<RawImage>(bytes) {
                Ok(im) => {
                    self.images.push((im, loc));
                    true
                }
                Err(_) => false,
            },
            (Part::Categories, false) => {
                match serde_json::from_slice::<super::de::RawCategory>(bytes) {
                    Ok(c) => {
                        self.categories.push(c.0);
                        true
                    }
                    Err(_) => false,
                }
            }
        }
    }

    fn other(&mut self, key: &str, bytes: &[u8]) -> bool {
        if self.second_pass {
            return true;
        }
        match serde_json::from_slice::<Value>(bytes) {
            Ok(v) => {
                self.top.insert(key.to_owned(), v);
                true
            }
            Err(_) => false,
        }
    }
}

/// The streamed read; `None` when it gave up (see [`read_file`]).
fn read_streamed(path: &Path, opts: &ReadOptions) -> Option<(Dataset, Lossiness)> {
    let limit = crate::error::MAX_INPUT_BYTES;
    let file = std::fs::File::open(path).ok()?;
    let meta = file.metadata().ok()?;
    // A pipe or device cannot be read a second time (for the fallback, or for annotations
    // that come before the images): those are read whole, as before.
    if !meta.is_file() || meta.len() > limit {
        return None;
    }
    let file_len = meta.len();
    let failed = AtomicBool::new(false);
    let (collected, built) = std::thread::scope(|s| {
        // Two chunks queued at most: the splitter never runs far ahead of the builder.
        let (tx, rx) = std::sync::mpsc::sync_channel(2);
        let (back, recycled) = std::sync::mpsc::channel();
        let failed = &failed;
        let worker = s.spawn(move || build_streamed(rx, back, path, opts, failed));
        let mut c = Collect {
            second_pass: false,
            images: Vec::new(),
            categories: Vec::new(),
            top: Default::default(),
            had_images: false,
            deferred: false,
            tx,
            recycled,
            chunk: ElemChunk::default(),
            sent_any: false,
            file_len,
            failed,
        };
        let mut ok = super::stream::split(file, limit, &mut c).is_some() && c.had_images;
        if ok && c.deferred {
            c.second_pass = true;
            ok = std::fs::File::open(path)
                .ok()
                .and_then(|f| super::stream::split(f, limit, &mut c))
                .is_some();
        }
        ok = ok && c.send();
        if !ok {
            failed.store(true, Ordering::Relaxed);
        }
        drop(c.tx);
        let built = worker
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (ok.then_some((c.images, c.categories, c.top)), built)
    });
    let (raw_images, categories, top) = collected?;
    let (mut annotations, mut loss) = built?;
    let cx = Ctx {
        path,
        opts,
        loss: &mut loss,
    };
    let mut images = Vec::with_capacity(raw_images.len());
    let mut image_tags = Vec::new();
    for (RawImage { mut image, tags }, loc) in raw_images {
        image.loc = Some(loc);
        if let Some(t) = tags {
            image_tags.push((image.id, image.loc, t));
        }
        images.push(image);
    }
    for (image_id, loc, tags) in image_tags {
        cx.tags(image_id, loc, &tags, &categories, &mut annotations)
            .ok()?;
    }
    let ds = Dataset {
        categories,
        images,
        annotations,
        meta: DatasetMeta {
            coco_top: top,
            ..Default::default()
        },
    };
    for (k, v) in ds.shape_counts() {
        loss.input.insert(k.to_string(), v);
        loss.output.insert(k.to_string(), v);
    }
    Some((ds, loss))
}

/// Parses and builds the annotations of each chunk (in parallel within a chunk), in file
/// order; `None` on the first that fails (the whole-file read then reports it).
fn build_streamed(
    rx: std::sync::mpsc::Receiver<ElemChunk>,
    back: std::sync::mpsc::Sender<ElemChunk>,
    path: &Path,
    opts: &ReadOptions,
    failed: &AtomicBool,
) -> Option<(Vec<Annotation>, Lossiness)> {
    use rayon::prelude::*;
    let mut annotations = Vec::new();
    let mut loss = Lossiness::default();
    let mut sizes = HashMap::new();
    for mut chunk in rx {
        if let Some(s) = chunk.sizes.take() {
            sizes = s;
        }
        let _ = annotations.try_reserve_exact(chunk.reserve);
        let bytes = &chunk.bytes;
        let sizes = &sizes;
        let built: Vec<Option<(Annotation, Lossiness)>> = chunk
            .elems
            .par_iter()
            .map(|&(a, b, loc)| {
                let bytes = bytes.get(a..b)?;
                let ra: RawAnnotation = if opts.drop_segmentation_text && polygon_likely(bytes) {
                    FLAT_RINGS.with_borrow_mut(|(coords, ends)| {
                        super::de::parse_annotation_with_polygon(bytes, coords, ends)
                    })
                } else {
                    serde_json::from_slice(bytes)
                }
                .ok()?;
                let mut l = Lossiness::default();
                let mut cx = Ctx {
                    path,
                    opts,
                    loss: &mut l,
                };
                let ann = cx.annotation(ra, Some(loc), sizes).ok()?;
                Some((ann, l))
            })
            .collect();
        for r in built {
            match r {
                Some((a, l)) => {
                    loss.merge(l);
                    annotations.push(a);
                }
                None => {
                    failed.store(true, Ordering::Relaxed);
                    // Dropping the receiver stops the splitter at its next chunk.
                    return None;
                }
            }
        }
        chunk.bytes.clear();
        chunk.elems.clear();
        chunk.reserve = 0;
        // The splitter may have finished already; then the chunk is just dropped.
        let _ = back.send(chunk);
    }
    (!failed.load(Ordering::Relaxed)).then_some((annotations, loss))
}

/// Whether an annotation's text looks like it has a polygon `segmentation` (the key, a
/// colon, then `[`), so that the list is read during the parse. A wrong guess costs only
/// time: the key found was another (in a nested object), and the parse, expecting a list,
/// fails; the streamed read then gives up and the file is read the usual way. Texts long
/// enough to exceed the point limit are left to the usual way, which refuses them before
/// reading their numbers.
fn polygon_likely(bytes: &[u8]) -> bool {
    if bytes.len() > 2 * super::MAX_POINTS {
        return false;
    }
    let key = b"\"segmentation\"";
    let Some(at) = memchr::memmem::find(bytes, key) else {
        return false;
    };
    let mut rest = bytes[at + key.len()..]
        .iter()
        .copied()
        .filter(|b| !matches!(b, b' ' | b'\n' | b'\r' | b'\t'));
    rest.next() == Some(b':') && rest.next() == Some(b'[')
}

/// The image sizes by id; the first image of each id wins (duplicates are for `validate`).
fn image_sizes<'i>(images: impl Iterator<Item = &'i Image>) -> HashMap<u64, (u32, u32)> {
    let mut sizes = HashMap::new();
    for im in images {
        sizes.entry(im.id.0).or_insert((im.width, im.height));
    }
    sizes
}

/// A chunk of raw annotations on its way to the [`Builder`]; the first carries the image
/// sizes.
struct Chunk<'a> {
    sizes: Option<HashMap<u64, (u32, u32)>>,
    records: Vec<RawAnnotation<'a>>,
}

/// The parser's side: hands each chunk to the builder's thread.
struct Feeder<'f, 'a> {
    tx: std::sync::mpsc::SyncSender<Chunk<'a>>,
    failed: &'f AtomicBool,
    sizes_sent: bool,
}

impl<'de> AnnotationSink<'de> for Feeder<'_, 'de> {
    fn take(&mut self, images: &[RawImage], chunk: &mut Vec<RawAnnotation<'de>>) -> bool {
        if self.failed.load(Ordering::Relaxed) {
            return false;
        }
        let sizes = (!self.sizes_sent).then(|| image_sizes(images.iter().map(|r| &r.image)));
        self.sizes_sent = true;
        let records = std::mem::replace(chunk, Vec::with_capacity(chunk.len()));
        // A closed channel means the builder stopped on an error.
        self.tx.send(Chunk { sizes, records }).is_ok()
    }
}

/// Builds the annotations the parser hands over, in order. Positions are not known yet
/// (the scan runs beside the parse), so they are filled in afterwards; an error stops the
/// parse and the two-phase read reports it with its position.
struct Builder<'a> {
    path: &'a Path,
    opts: &'a ReadOptions,
    annotations: Vec<Annotation>,
    loss: Lossiness,
    failed: bool,
}

impl<'a> Builder<'a> {
    fn new(path: &'a Path, opts: &'a ReadOptions) -> Self {
        Builder {
            path,
            opts,
            annotations: Vec::new(),
            loss: Lossiness::default(),
            failed: false,
        }
    }

    fn run(
        &mut self,
        bytes: &[u8],
        chunks: std::sync::mpsc::Receiver<Chunk<'_>>,
        failed: &AtomicBool,
    ) {
        // Room for every annotation at once, counted while the parser reads the images:
        // growing by doubling held the old and the new buffer together, a fifth of the
        // peak of a million annotations. Every annotation has one `"image_id"` key, so the
        // count is exact for the files exporters write; a key spelt with escapes only
        // makes the vector grow as usual, and extra occurrences (in strings, unknown
        // fields) reserve address space that is never touched. `try_reserve` refuses what
        // cannot be had instead of aborting.
        let keys = memchr::memmem::find_iter(bytes, b"\"image_id\"").count();
        let _ = self.annotations.try_reserve_exact(keys);
        let mut sizes = HashMap::new();
        for chunk in chunks {
            if let Some(s) = chunk.sizes {
                sizes = s;
            }
            // Annotations of a chunk are built in parallel (inverting CVAT's export of an
            // ellipse costs a few renderings each); each keeps its own lossiness, merged in
            // file order so that the first message of a code and the first error stay those
            // of the sequential read.
            use rayon::prelude::*;
            let (path, opts) = (self.path, self.opts);
            let built: Vec<(Result<Annotation>, Lossiness)> = chunk
                .records
                .into_par_iter()
                .map(|ra| {
                    let mut loss = Lossiness::default();
                    let mut cx = Ctx {
                        path,
                        opts,
                        loss: &mut loss,
                    };
                    (cx.annotation(ra, None, &sizes), loss)
                })
                .collect();
            for (result, loss) in built {
                self.loss.merge(loss);
                match result {
                    Ok(a) => self.annotations.push(a),
                    Err(_) => {
                        self.failed = true;
                        failed.store(true, Ordering::Relaxed);
                        // Dropping the receiver stops the parser at its next chunk.
                        return;
                    }
                }
            }
        }
    }
}

/// The model from the parse; `prebuilt` holds the annotations a [`Builder`] made during
/// it, with their lossiness.
fn build(
    parsed: Parsed<'_>,
    prebuilt: Option<(Vec<Annotation>, Lossiness)>,
    path: &Path,
    opts: &ReadOptions,
) -> Result<(Dataset, Lossiness)> {
    let Parsed { raw, spans, lines } = parsed;
    let loc_of = |list: &[(usize, usize)], n: usize, i: usize| -> Option<SourceLoc> {
        // Spans are trusted only when the scan saw exactly the parsed elements.
        if list.len() != n {
            return None;
        }
        let (start, end) = *list.get(i)?;
        let (line, column) = lines.locate(start);
        Some(SourceLoc {
            line,
            column,
            start,
            end,
        })
    };

    let RawTop {
        categories,
        images: raw_images,
        annotations: raw_anns,
        top,
        ..
    } = raw;
    let (mut annotations, mut loss) = prebuilt.unwrap_or_default();
    let mut cx = Ctx {
        path,
        opts,
        loss: &mut loss,
    };

    let n_images = raw_images.len();
    let mut images = Vec::with_capacity(n_images);
    let mut image_tags = Vec::new();
    for (i, RawImage { mut image, tags }) in raw_images.into_iter().enumerate() {
        image.loc = loc_of(&spans.images, n_images, i);
        if let Some(t) = tags {
            image_tags.push((image.id, image.loc, t));
        }
        images.push(image);
    }

    if raw_anns.is_empty() {
        // Built while parsing: only their positions are missing.
        let n_anns = annotations.len();
        for (i, ann) in annotations.iter_mut().enumerate() {
            ann.loc = loc_of(&spans.annotations, n_anns, i);
        }
    } else {
        let sizes = image_sizes(images.iter());
        let n_anns = raw_anns.len();
        annotations.reserve_exact(n_anns);
        for (i, ra) in raw_anns.into_iter().enumerate() {
            let loc = loc_of(&spans.annotations, n_anns, i);
            annotations.push(cx.annotation(ra, loc, &sizes)?);
        }
    }
    for (image_id, loc, tags) in image_tags {
        cx.tags(image_id, loc, &tags, &categories, &mut annotations)?;
    }

    let ds = Dataset {
        categories,
        images,
        annotations,
        meta: DatasetMeta {
            coco_top: top,
            ..Default::default()
        },
    };
    for (k, v) in ds.shape_counts() {
        loss.input.insert(k.to_string(), v);
        loss.output.insert(k.to_string(), v);
    }
    Ok((ds, loss))
}

struct Ctx<'a> {
    path: &'a Path,
    opts: &'a ReadOptions,
    loss: &'a mut Lossiness,
}

/// The `segmentation` as geometry.
enum Seg {
    Empty,
    Polygon(Rings),
    Rle {
        height: u32,
        width: u32,
        counts: Vec<u32>,
    },
}

impl Ctx<'_> {
    fn err(&self, loc: Option<SourceLoc>, msg: impl Into<String>) -> Error {
        match loc {
            Some(l) => Error::parse(self.path, l.line, l.column, msg),
            None => Error::invalid(self.path, msg),
        }
    }

    fn check_num(&self, v: f64, what: &str, id: u64, loc: Option<SourceLoc>) -> Result<()> {
        if !self.opts.allow_non_finite && (v.is_nan() || v.abs() > MAX_MAGNITUDE) {
            return Err(self.err(
                loc,
                format!("annotation {id}: {what} {v} is out of range (|v| > {MAX_MAGNITUDE})"),
            ));
        }
        Ok(())
    }

    fn annotation(
        &mut self,
        ra: RawAnnotation,
        loc: Option<SourceLoc>,
        sizes: &HashMap<u64, (u32, u32)>,
    ) -> Result<Annotation> {
        let id = ra.id;
        if let Some(b) = ra.bbox {
            for v in b {
                self.check_num(v, "bbox value", id, loc)?;
            }
        }
        if let Some(a) = ra.area {
            self.check_num(a, "area", id, loc)?;
        }
        let image_size = sizes.get(&ra.image_id).copied();
        let had_attributes = ra.attributes.is_some();
        let RawAttributes {
            occluded,
            rotation,
            rest,
        } = ra.attributes.unwrap_or_default();
        if let Some(r) = rotation {
            self.check_num(r, "attributes.rotation", id, loc)?;
        }
        let mut ann = Annotation::new(
            AnnotationId(id),
            ImageId(ra.image_id),
            CategoryId(ra.category_id),
            Shape::Polygon(Rings::new()),
        );
        ann.occluded = occluded.unwrap_or(false);
        ann.attributes = rest.into();
        ann.loc = loc;

        let exact = match &ra.neutrostruct {
            Some(ns) => self.neutrostruct(ns, &mut ann, id, loc, image_size)?,
            None => None,
        };
        // The kept text is parsed only when the shape has to come from it: an annotation
        // with exact parameters never pays for its (possibly huge) segmentation.
        let seg = match (&ra.segmentation, &exact) {
            (Some(RawSegmentation::InBuffers), None) => {
                match FLAT_RINGS
                    .with_borrow_mut(|(coords, ends)| self.polygon_from(coords, ends, id, loc))?
                {
                    Some(rings) => Seg::Polygon(rings),
                    // `[]`: what its text would have given.
                    None => self.segmentation(&Value::Array(Vec::new()), id, loc, image_size)?,
                }
            }
            (Some(RawSegmentation::Text(raw)), None) => match fast_rle(raw.get()) {
                // The common large case (CVAT's export: an RLE per annotation) without a
                // value tree of its counts.
                Some((height, width, counts)) => {
                    self.rle(height, width, counts, id, loc, image_size)?
                }
                None => {
                    // A polygon with more numbers than the point limit allows (per shape, all
                    // rings together) is refused before its value tree is built: the tree of
                    // 2 million numbers peaked above 300 MB (tests/hostile.rs).
                    // Counted only in a text long enough to hold that many commas: the
                    // count was a fifth scan of every ordinary polygon.
                    let text = raw.get();
                    if text.len() > 2 * super::MAX_POINTS
                        && text.trim_start().starts_with('[')
                        && memchr::memchr_iter(b',', text.as_bytes()).count()
                            > 2 * super::MAX_POINTS
                    {
                        return Err(self.err(
                            loc,
                            format!(
                                "annotation {id}: polygon with more than {} points",
                                super::MAX_POINTS
                            ),
                        ));
                    }
                    // The usual polygon list read straight into numbers (a value tree of a
                    // million-point polygon peaked above 300 MB), into this thread's buffers.
                    let polygon = FLAT_RINGS.with_borrow_mut(|(coords, ends)| {
                        if super::de::read_flat_rings(text, coords, ends).is_err() {
                            return Ok(None);
                        }
                        self.polygon_from(coords, ends, id, loc)
                    })?;
                    match polygon {
                        Some(rings) => Seg::Polygon(rings),
                        None => {
                            let v = serde_json::from_str::<Value>(text).map_err(|e| {
                                self.err(loc, format!("annotation {id}: segmentation: {e}"))
                            })?;
                            self.segmentation(&v, id, loc, image_size)?
                        }
                    }
                }
            },
            _ => Seg::Empty,
        };
        // The mask's own box and area, kept when a shape is recovered from it: they are what
        // the file's `bbox` and `area` describe (`bbox-mismatch`).
        let mask_extent = match (&exact, &seg) {
            (None, Seg::Rle { height, counts, .. }) => {
                coco_rle_bbox(counts, *height).map(|bbox| MaskExtent {
                    bbox,
                    area: rle_area(counts),
                })
            }
            _ => None,
        };
        let rotation_used;
        (ann.shape, rotation_used) = match exact {
            // The exact shape carries its own rotation; CVAT-style `attributes.rotation`
            // beside it is the same number.
            Some(s) => {
                let used = matches!(s, Shape::Ellipse(_) | Shape::Box(_));
                (s, used)
            }
            None => self.shape(seg, ra.bbox, rotation, image_size),
        };
        if let (Some(r), false) = (rotation, rotation_used) {
            // Not consumed by the shape: keep it where it was, first among the attributes.
            ann.attributes
                .shift_insert(0, "rotation".to_string(), Value::from(r));
        }
        ann.coco = Some(Box::new(CocoExtra {
            iscrowd: ra.iscrowd,
            bbox: ra.bbox,
            area: ra.area,
            had_attributes,
            had_occluded: occluded.is_some(),
            // `into`: allocated only when one of the three is there.
            rare: CocoRare {
                segmentation: if self.opts.drop_segmentation_text {
                    None
                } else {
                    // Only a read that drops the text reads polygons during the parse.
                    ra.segmentation.and_then(|s| match s {
                        RawSegmentation::Text(r) => Some(RawJson(r.to_owned())),
                        RawSegmentation::InBuffers => None,
                    })
                },
                extra: ra.extra.into(),
                mask_extent: mask_extent
                    .filter(|_| !matches!(ann.shape, Shape::Mask(_)))
                    .map(Box::new),
            }
            .into(),
        }));
        Ok(ann)
    }

    /// The polygon whose rings' numbers are in `coords`, ring `i` ending at `ends[i]`;
    /// `None` when there is no ring.
    fn polygon_from(
        &self,
        coords: &mut Vec<f64>,
        ends: &[usize],
        id: u64,
        loc: Option<SourceLoc>,
    ) -> Result<Option<Rings>> {
        if ends.is_empty() {
            return Ok(None);
        }
        let mut start = 0;
        let rings: Vec<&[f64]> = ends
            .iter()
            .map(|&end| {
                let r = coords.get(start..end).unwrap_or_default();
                start = end;
                r
            })
            .collect();
        // Checked as `ring_of` does, then stored straight from the numbers: no vector of
        // points on the way.
        for r in &rings {
            self.check_flat_ring(r, id, loc)?;
        }
        let stored = Rings::from_flat_rings(&rings);
        // A huge polygon's buffer is not kept for the small ones after it.
        if coords.capacity() > FLAT_RINGS_KEPT {
            *coords = Vec::new();
        }
        Ok(Some(stored))
    }

    /// Reports one inversion of CVAT's export (`--ellipses auto` on a mask with a rotation).
    fn record_cvat_inversion(&mut self, inv: &Inverted) {
        self.loss.add(
            "ellipse-from-mask",
            1,
            "ellipse recovered from the RLE mask. For CVAT's export (mask + attributes.rotation) \
             the search finds the whole-pixel centre and axes whose rendering as CVAT exports \
             it (OpenCV's cv2.ellipse) is this mask; CVAT had rounded the originals to those \
             whole pixels, so each value is within 0.5 px of the original ellipse",
        );
        match inv.recovery {
            Recovery::Exact => self.loss.note(
                "ellipse-exact",
                1,
                "ellipses recovered exactly: their rendering as CVAT exports it reproduces the \
                 mask pixel for pixel",
            ),
            Recovery::Ambiguous { .. } => self.loss.note(
                "ellipse-ambiguous",
                1,
                "ellipses whose mask two or more whole-pixel ellipses reproduce exactly \
                 (usually one mostly outside the image); the one closest to the moment fit \
                 was kept",
            ),
            Recovery::Approximate { .. } => self.loss.add(
                "ellipse-approximate",
                1,
                "masks that no whole-pixel ellipse near the fit reproduces exactly (not CVAT's \
                 rendering, or edited): the closest rendering was kept",
            ),
        }
    }

    /// Chooses the shape of an annotation without exact parameters. Returns whether
    /// `attributes.rotation` was used as the shape's rotation.
    fn shape(
        &mut self,
        seg: Seg,
        bbox: Option<[f64; 4]>,
        rotation: Option<f64>,
        image_size: Option<(u32, u32)>,
    ) -> (Shape, bool) {
        let mode = self.opts.ellipses;
        match seg {
            Seg::Rle {
                height,
                width,
                counts,
            } => {
                let recover = match mode {
                    EllipseRecovery::Auto => rotation.is_some(),
                    EllipseRecovery::Always => true,
                    EllipseRecovery::Never => false,
                };
                let mask = MaskData::Coco {
                    height,
                    width,
                    counts,
                };
                if recover {
                    if let (MaskData::Coco { counts, .. }, Some(r), false) =
                        (&mask, rotation, self.opts.fast_cvat_ellipses)
                    {
                        // A mask with `rotation` is CVAT's export: invert its rasteriser.
                        if let Some(inv) = invert_cvat_export_mask(counts, width, height, r) {
                            self.record_cvat_inversion(&inv);
                            return (Shape::Ellipse(inv.ellipse), true);
                        }
                    }
                    if let MaskData::Coco { counts, .. } = &mask {
                        let m = Moments::from_coco_rle(counts, height);
                        // A mask with `rotation` is CVAT's export, drawn by OpenCV (see
                        // `ellipse_from_cvat_export_mask`); others follow docs/design.md §3.
                        let fitted = match rotation {
                            Some(r) => ellipse_from_cvat_export_mask(&m, r),
                            None => ellipse_from_moments(&m, 0.5),
                        };
                        if let Some(e) = fitted {
                            self.loss.add(
                                "ellipse-from-mask",
                                1,
                                "ellipse recovered from the RLE mask by second moments (rotation from \
                                 attributes.rotation). For CVAT's export (mask + rotation) the centre and \
                                 axes are snapped to the whole pixels CVAT rounded them to before \
                                 drawing, so each value is within 0.5 px of the original ellipse",
                            );
                            let (w, h) = image_size.unwrap_or((width, height));
                            if let Some(b) = mask.bbox() {
                                if b[0] <= 0.0
                                    || b[1] <= 0.0
                                    || b[0] + b[2] >= f64::from(w)
                                    || b[1] + b[3] >= f64::from(h)
                                {
                                    self.loss.add(
                                        "ellipse-from-clipped-mask",
                                        1,
                                        "the mask touches the image border: the part outside was cut off, so \
                                         the recovered ellipse is smaller and shifted inwards",
                                    );
                                }
                            }
                            return (Shape::Ellipse(e), rotation.is_some());
                        }
                    }
                    self.loss.add(
                        "ellipse-recovery-failed",
                        1,
                        "an empty or degenerate mask has no ellipse; kept as a mask",
                    );
                }
                (Shape::Mask(mask), false)
            }
            Seg::Polygon(rings) => {
                if mode == EllipseRecovery::Always {
                    let plain = rings.to_vec();
                    let m = Moments::from_polygon(&plain);
                    let fitted = match rotation {
                        Some(r) => ellipse_from_moments_with_angle(&m, 0.0, r),
                        None => ellipse_from_polygon(&plain),
                    };
                    if let Some(e) = fitted {
                        self.loss.add(
                            "ellipse-from-polygon",
                            1,
                            "ellipse recovered from the polygon's exact second moments; exact for a \
                             polygon of an ellipse up to the polygon's own approximation",
                        );
                        return (Shape::Ellipse(e), rotation.is_some());
                    }
                    self.loss.add(
                        "ellipse-recovery-failed",
                        1,
                        "a degenerate polygon has no ellipse; kept as a polygon",
                    );
                }
                (Shape::Polygon(rings), false)
            }
            Seg::Empty => match bbox {
                Some([x, y, w, h]) if mode == EllipseRecovery::Always => {
                    self.loss.add(
                        "ellipse-from-bbox",
                        1,
                        "only a bbox was given: the inscribed axis-aligned ellipse is a guess (rotation unknown)",
                    );
                    (
                        Shape::Ellipse(Ellipse {
                            cx: x + w / 2.0,
                            cy: y + h / 2.0,
                            rx: w / 2.0,
                            ry: h / 2.0,
                            rotation: 0.0,
                        }),
                        false,
                    )
                }
                Some([x, y, w, h]) => (
                    Shape::Box(BoxShape {
                        xtl: x,
                        ytl: y,
                        xbr: x + w,
                        ybr: y + h,
                        rotation: 0.0,
                    }),
                    false,
                ),
                None => (Shape::Polygon(Rings::new()), false),
            },
        }
    }

    fn segmentation(
        &self,
        v: &Value,
        id: u64,
        loc: Option<SourceLoc>,
        image_size: Option<(u32, u32)>,
    ) -> Result<Seg> {
        let bad = |msg: &str| self.err(loc, format!("annotation {id}: segmentation: {msg}"));
        match v {
            Value::Null => Ok(Seg::Empty),
            Value::Array(items) if items.is_empty() => Ok(Seg::Empty),
            Value::Array(items) if items.iter().all(Value::is_number) => {
                Ok(Seg::Polygon(Rings::from_rings(&[
                    self.ring(items, id, loc)?
                ])))
            }
            Value::Array(items) => {
                let mut rings = Vec::with_capacity(items.len());
                for r in items {
                    match r {
                        Value::Array(nums) => rings.push(self.ring(nums, id, loc)?),
                        _ => {
                            return Err(bad(
                                "expected a list of polygons [[x, y, …], …] or an RLE object",
                            ))
                        }
                    }
                }
                Ok(Seg::Polygon(Rings::from_rings(&rings)))
            }
            Value::Object(o) => {
                let size = o
                    .get("size")
                    .and_then(Value::as_array)
                    .ok_or_else(|| bad("RLE without `size`"))?;
                let side = |i: usize| -> Result<u32> {
                    let s = size
                        .get(i)
                        .and_then(Value::as_u64)
                        .ok_or_else(|| bad("RLE `size` must be [height, width]"))?;
                    if s > MAX_SIDE {
                        return Err(bad(&format!("RLE size {s} is larger than {MAX_SIDE}")));
                    }
                    Ok(s as u32)
                };
                if size.len() != 2 {
                    return Err(bad("RLE `size` must be [height, width]"));
                }
                let (height, width) = (side(0)?, side(1)?);
                let counts = match o.get("counts") {
                    Some(Value::String(s)) => crate::geometry::rle::decode_counts_string(s)
                        .map_err(|e| bad(&e.to_string()))?,
                    Some(Value::Array(a)) => a
                        .iter()
                        .map(|c| c.as_u64().and_then(|c| u32::try_from(c).ok()))
                        .collect::<Option<Vec<u32>>>()
                        .ok_or_else(|| bad("RLE counts must be non-negative integers"))?,
                    _ => return Err(bad("RLE without `counts`")),
                };
                self.rle(
                    u64::from(height),
                    u64::from(width),
                    counts,
                    id,
                    loc,
                    image_size,
                )
            }
            _ => Err(bad("expected a list of polygons or an RLE object")),
        }
    }

    /// Checks an RLE against its image and its own size.
    fn rle(
        &self,
        height: u64,
        width: u64,
        counts: Vec<u32>,
        id: u64,
        loc: Option<SourceLoc>,
        image_size: Option<(u32, u32)>,
    ) -> Result<Seg> {
        let bad = |msg: &str| self.err(loc, format!("annotation {id}: segmentation: {msg}"));
        for s in [height, width] {
            if s > MAX_SIDE {
                return Err(bad(&format!("RLE size {s} is larger than {MAX_SIDE}")));
            }
        }
        let (height, width) = (height as u32, width as u32);
        if let Some((w, h)) = image_size {
            if (w, h) != (width, height) {
                return Err(bad(&format!(
                    "RLE size [{height}, {width}] differs from the image's [height, width] = [{h}, {w}]"
                )));
            }
        }
        crate::geometry::rle::check_counts(&counts, width, height)
            .map_err(|e| bad(&e.to_string()))?;
        Ok(Seg::Rle {
            height,
            width,
            counts,
        })
    }

    fn ring(&self, nums: &[Value], id: u64, loc: Option<SourceLoc>) -> Result<Vec<Point>> {
        self.ring_of(nums.len(), nums.iter().map(Value::as_f64), id, loc)
    }

    /// A ring from its `len` coordinates, `None` for one that is not a number.
    /// The length checks of a ring of `len` coordinates: at most the point limit (the same
    /// bound as CVAT's: a real outline has thousands of vertices, not millions, and every
    /// later step is linear in them), and whole points.
    fn check_ring_len(&self, len: usize, id: u64, loc: Option<SourceLoc>) -> Result<()> {
        if len / 2 > super::MAX_POINTS {
            return Err(self.err(
                loc,
                format!(
                    "annotation {id}: polygon with more than {} points",
                    super::MAX_POINTS
                ),
            ));
        }
        if !len.is_multiple_of(2) {
            return Err(self.err(
                loc,
                format!("annotation {id}: polygon with an odd number of coordinates"),
            ));
        }
        Ok(())
    }

    /// The checks of [`Ctx::ring_of`], in the same order with the same messages, on a ring
    /// already read as numbers.
    fn check_flat_ring(&self, r: &[f64], id: u64, loc: Option<SourceLoc>) -> Result<()> {
        self.check_ring_len(r.len(), id, loc)?;
        for xy in r.chunks_exact(2) {
            self.check_num(xy[0], "polygon coordinate", id, loc)?;
            self.check_num(xy[1], "polygon coordinate", id, loc)?;
        }
        Ok(())
    }

    fn ring_of(
        &self,
        len: usize,
        mut coords: impl Iterator<Item = Option<f64>>,
        id: u64,
        loc: Option<SourceLoc>,
    ) -> Result<Vec<Point>> {
        self.check_ring_len(len, id, loc)?;
        let mut pts = Vec::with_capacity(len / 2);
        while let (Some(x), Some(y)) = (coords.next(), coords.next()) {
            let (Some(x), Some(y)) = (x, y) else {
                return Err(self.err(
                    loc,
                    format!("annotation {id}: polygon coordinates must be numbers"),
                ));
            };
            self.check_num(x, "polygon coordinate", id, loc)?;
            self.check_num(y, "polygon coordinate", id, loc)?;
            pts.push([x, y]);
        }
        Ok(pts)
    }

    /// Our lossless `neutrostruct` object: metadata into `ann`, the exact shape if typed.
    fn neutrostruct(
        &self,
        ns: &Value,
        ann: &mut Annotation,
        id: u64,
        loc: Option<SourceLoc>,
        image_size: Option<(u32, u32)>,
    ) -> Result<Option<Shape>> {
        let bad = |msg: String| self.err(loc, format!("annotation {id}: neutrostruct: {msg}"));
        let o = ns
            .as_object()
            .ok_or_else(|| bad("must be an object".into()))?;
        if let Some(z) = o.get("z_order") {
            ann.z_order = z
                .as_i64()
                .and_then(|z| i32::try_from(z).ok())
                .ok_or_else(|| bad("z_order must be a 32-bit integer".into()))?;
        }
        // Written through `DerefMut` only when present: that allocates the side car.
        if let Some(s) = o.get("source") {
            ann.cvat.source = Some(
                s.as_str()
                    .ok_or_else(|| bad("source must be a string".into()))?
                    .to_string(),
            );
        }
        if let Some(g) = o.get("group_id") {
            ann.cvat.group_id = Some(
                g.as_u64()
                    .ok_or_else(|| bad("group_id must be a non-negative integer".into()))?,
            );
        }
        let num = |k: &str| -> Result<f64> {
            let v = o
                .get(k)
                .and_then(Value::as_f64)
                .ok_or_else(|| bad(format!("`{k}` must be a number")))?;
            self.check_num(v, k, id, loc)?;
            Ok(v)
        };
        let num_or0 = |k: &str| -> Result<f64> {
            if o.contains_key(k) {
                num(k)
            } else {
                Ok(0.0)
            }
        };
        let points = || -> Result<Vec<Point>> {
            let arr = o
                .get("points")
                .and_then(Value::as_array)
                .ok_or_else(|| bad("`points` must be [[x, y], …]".into()))?;
            let mut pts = Vec::with_capacity(arr.len());
            for p in arr {
                let xy = p
                    .as_array()
                    .filter(|a| a.len() == 2)
                    .ok_or_else(|| bad("a point must be [x, y]".into()))?;
                let (Some(x), Some(y)) = (xy[0].as_f64(), xy[1].as_f64()) else {
                    return Err(bad("point coordinates must be numbers".into()));
                };
                self.check_num(x, "point", id, loc)?;
                self.check_num(y, "point", id, loc)?;
                pts.push([x, y]);
            }
            Ok(pts)
        };
        let Some(kind) = o.get("type") else {
            return Ok(None);
        };
        Ok(Some(match kind.as_str() {
            Some("ellipse") => Shape::Ellipse(Ellipse {
                cx: num("cx")?,
                cy: num("cy")?,
                rx: num("rx")?,
                ry: num("ry")?,
                rotation: num_or0("rotation")?,
            }),
            Some("box") => Shape::Box(BoxShape {
                xtl: num("xtl")?,
                ytl: num("ytl")?,
                xbr: num("xbr")?,
                ybr: num("ybr")?,
                rotation: num_or0("rotation")?,
            }),
            Some("polyline") => Shape::Polyline(points()?),
            Some("points") => Shape::Points(points()?),
            Some("mask") => {
                let int = |k: &str| -> Result<u32> {
                    o.get(k)
                        .and_then(Value::as_u64)
                        .filter(|&v| v <= MAX_SIDE)
                        .map(|v| v as u32)
                        .ok_or_else(|| bad(format!("`{k}` must be an integer in 0..={MAX_SIDE}")))
                };
                let (left, top, width, height) =
                    (int("left")?, int("top")?, int("width")?, int("height")?);
                if let Some((w, h)) = image_size {
                    if left + width > w || top + height > h {
                        return Err(bad(format!("mask box leaves the {w}×{h} image")));
                    }
                }
                let counts = o
                    .get("counts")
                    .and_then(Value::as_array)
                    .and_then(|a| {
                        a.iter()
                            .map(|c| c.as_u64().and_then(|c| u32::try_from(c).ok()))
                            .collect::<Option<Vec<u32>>>()
                    })
                    .ok_or_else(
                        || bad("`counts` must be a list of non-negative integers".into()),
                    )?;
                crate::geometry::rle::check_counts(&counts, width, height)
                    .map_err(|e| bad(e.to_string()))?;
                Shape::Mask(MaskData::Cvat {
                    left,
                    top,
                    width,
                    height,
                    counts,
                })
            }
            _ => return Err(bad(format!("unknown type {kind}"))),
        }))
    }

    /// CVAT tags carried in an image's `neutrostruct_tags`.
    fn tags(
        &self,
        image_id: ImageId,
        loc: Option<SourceLoc>,
        tags: &Value,
        categories: &[crate::model::Category],
        out: &mut Vec<Annotation>,
    ) -> Result<()> {
        let bad = |msg: &str| self.err(loc, format!("image {image_id}: neutrostruct_tags: {msg}"));
        let arr = tags.as_array().ok_or_else(|| bad("must be a list"))?;
        for t in arr {
            let o = t
                .as_object()
                .ok_or_else(|| bad("each tag must be an object"))?;
            let id = o
                .get("id")
                .and_then(Value::as_u64)
                .ok_or_else(|| bad("tag without a non-negative integer `id`"))?;
            let category = match o.get("category_id").and_then(Value::as_u64) {
                Some(c) => CategoryId(c),
                None => {
                    let label = o
                        .get("label")
                        .and_then(Value::as_str)
                        .ok_or_else(|| bad("tag without `category_id` or `label`"))?;
                    categories
                        .iter()
                        .find(|c| c.name == label)
                        .map(|c| c.id)
                        .ok_or_else(|| bad("tag of an unknown label"))?
                }
            };
            let mut a = Annotation::new(AnnotationId(id), image_id, category, Shape::Tag);
            a.occluded = o.get("occluded").and_then(Value::as_bool).unwrap_or(false);
            a.z_order = o
                .get("z_order")
                .and_then(Value::as_i64)
                .and_then(|z| i32::try_from(z).ok())
                .unwrap_or(0);
            a.cvat = CvatExtra {
                group_id: o.get("group_id").and_then(Value::as_u64),
                source: o.get("source").and_then(Value::as_str).map(str::to_string),
                attrs: Sparse::new(),
            }
            .into();
            if let Some(Value::Object(attrs)) = o.get("attributes") {
                a.attributes = attrs.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            }
            a.loc = loc;
            out.push(a);
        }
        Ok(())
    }
}

/// An RLE segmentation parsed straight into its numbers (`{"counts": [...] | "...", "size":
/// [h, w]}`), or `None` when the text is anything else (then the general path reports it).
fn fast_rle(text: &str) -> Option<(u64, u64, Vec<u32>)> {
    /// `counts` as a list or a compressed string, read without buffering (an untagged enum
    /// would first copy every number into serde's intermediate form).
    enum Counts {
        List(Vec<u32>),
        Text(String),
    }
    impl<'de> serde::Deserialize<'de> for Counts {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
            struct V;
            impl<'de> serde::de::Visitor<'de> for V {
                type Value = Counts;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("RLE counts (a list of integers or a string)")
                }
                fn visit_str<E: serde::de::Error>(self, v: &str) -> std::result::Result<Counts, E> {
                    Ok(Counts::Text(v.to_string()))
                }
                fn visit_seq<A: serde::de::SeqAccess<'de>>(
                    self,
                    mut seq: A,
                ) -> std::result::Result<Counts, A::Error> {
                    let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 16));
                    while let Some(c) = seq.next_element::<u32>()? {
                        out.push(c);
                    }
                    Ok(Counts::List(out))
                }
            }
            d.deserialize_any(V)
        }
    }
    #[derive(serde::Deserialize)]
    struct Rle {
        size: [u64; 2],
        counts: Counts,
    }
    if !text.trim_start().starts_with('{') {
        return None;
    }
    let rle: Rle = serde_json::from_str(text).ok()?;
    let counts = match rle.counts {
        Counts::List(c) => c,
        Counts::Text(s) => crate::geometry::rle::decode_counts_string(&s).ok()?,
    };
    Some((rle.size[0], rle.size[1], counts))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::{cvat_style_coco, generate, SynthConfig};

    type Read = Result<(Dataset, Lossiness)>;

    fn both_ways(bytes: &[u8]) -> (Read, Read) {
        let path = Path::new("t.json");
        let opts = ReadOptions::default();
        (
            read_bytes(bytes, path, &opts),
            read_two_phase(bytes, path, &opts),
        )
    }

    /// About 500 ellipses on each of `images` images (1024 × 1056): several chunks of the
    /// streamed read from a dozen images up.
    fn synth_dataset(images: usize) -> Dataset {
        generate(&SynthConfig {
            images,
            per_image: 900,
            size: Some((1024, 1056)),
            write_images: false,
            ..Default::default()
        })
        .dataset
    }

    /// A COCO file of `n` polygon annotations (16-point rings, every seventh with a second
    /// ring), as most tools write it: no exact ellipse, the shape is the polygon.
    fn polygon_coco(n: usize) -> String {
        let mut anns = Vec::with_capacity(n);
        for i in 0..n {
            let (cx, cy) = (
                50.0 + (i % 40) as f64 * 24.0,
                50.0 + (i / 40 % 40) as f64 * 24.0,
            );
            let ring = |r: f64| -> Vec<f64> {
                (0..16)
                    .flat_map(|k| {
                        let t = k as f64 * std::f64::consts::TAU / 16.0;
                        [cx + r * t.cos(), cy + 0.6 * r * t.sin()]
                    })
                    .collect()
            };
            let mut seg = vec![ring(10.0)];
            if i % 7 == 0 {
                seg.push(ring(4.0));
            }
            anns.push(serde_json::json!({
                "id": i + 1, "image_id": 1 + i % 3, "category_id": 1 + i % 2,
                "segmentation": seg, "area": 180.0, "bbox": [cx - 10.0, cy - 6.0, 20.0, 12.0],
                "iscrowd": 0,
            }));
        }
        serde_json::json!({
            "images": (1..=3).map(|i| serde_json::json!({
                "id": i, "file_name": format!("{i}.png"), "width": 1024, "height": 1024,
            })).collect::<Vec<_>>(),
            "categories": [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}],
            "annotations": anns,
        })
        .to_string()
    }

    #[test]
    fn the_validation_read_is_the_full_read_less_the_segmentation_text() {
        // `validate` reads without the segmentation text; every rule reads the model, so
        // the same model is the same findings. Polygons (several chunks), masks with
        // rotations (CVAT's export: mask extents) and the conformance files.
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/conformance");
        let mut inputs: Vec<(String, Vec<u8>)> = vec![
            ("polygons".into(), polygon_coco(10_000).into_bytes()),
            (
                "cvat-export".into(),
                cvat_style_coco(&synth_dataset(2)).into_bytes(),
            ),
        ];
        for f in [
            "coco-extras/unknown_fields.json",
            "cvat-ellipse/annotations_4classes.json",
            "datumaro-coco/instances_train.json",
            "datumaro-coco/instances_val.json",
            "published-layout/annotations_4classes.json",
            "published-layout/annotations_7classes.json",
        ] {
            inputs.push((f.into(), std::fs::read(root.join(f)).expect("fixture")));
        }
        for (name, bytes) in inputs {
            let path = Path::new("t.json");
            let full_opts = ReadOptions {
                allow_non_finite: true,
                ..Default::default()
            };
            let lean_opts = ReadOptions {
                drop_segmentation_text: true,
                ..full_opts.clone()
            };
            let (mut full, _) = read_bytes(&bytes, path, &full_opts).expect("reads");
            let (lean, _) = read_bytes(&bytes, path, &lean_opts).expect("reads");
            assert!(!lean.annotations.is_empty(), "{name}");
            for a in &mut full.annotations {
                if let Some(rare) = a.coco.as_mut().and_then(|c| c.rare.get_mut()) {
                    rare.segmentation = None;
                }
            }
            assert_eq!(full, lean, "{name}");
            // The windowed read (which reads polygons during the parse when the text is
            // dropped) gives the same model.
            let (windowed, two_phase) = windowed_and_two_phase(&bytes, &lean_opts);
            let (windowed, two_phase) = (windowed.expect("reads"), two_phase.expect("reads"));
            assert_eq!(windowed.0.annotations, two_phase.0.annotations, "{name}");
            assert_eq!(windowed.0.annotations, lean.annotations, "{name}");
            // Polygons hold their points and nothing more: no spare capacity, no ring list
            // for a single ring, and at most the 16 bytes of an f64 point per point.
            for a in &lean.annotations {
                if let Shape::Polygon(rings) = &a.shape {
                    let list = if rings.len() == 1 { 0 } else { 8 * rings.len() };
                    assert!(
                        rings.heap_bytes() <= 16 * rings.point_count() + list,
                        "{name}: annotation {}",
                        a.id
                    );
                }
            }
        }
    }

    /// The windowed read of `bytes` (from a file) and the two-phase read of the same bytes.
    fn windowed_and_two_phase(bytes: &[u8], opts: &ReadOptions) -> (Read, Read) {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("t.json");
        std::fs::write(&p, bytes).expect("write");
        let windowed = read_file(&p, opts);
        let two_phase = read_two_phase(bytes, &p, opts);
        (windowed, two_phase)
    }

    #[test]
    fn the_windowed_read_gives_the_two_phase_model_and_errors() {
        let ds = synth_dataset(12);
        let ours = crate::coco::to_string(&ds, &Default::default()).0;
        let pretty = crate::coco::to_string(
            &ds,
            &crate::coco::WriteOptions {
                pretty: true,
                ..Default::default()
            },
        )
        .0;
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/conformance");
        let mut inputs: Vec<Vec<u8>> = vec![
            polygon_coco(9_000).into_bytes(),
            cvat_style_coco(&ds).into_bytes(),
            ours.clone().into_bytes(),
            pretty.clone().into_bytes(),
        ];
        for f in [
            "cvat-ellipse/annotations_4classes.json",
            "datumaro-coco/instances_train.json",
            "datumaro-coco/instances_val.json",
            "coco-extras/unknown_fields.json",
        ] {
            inputs.push(std::fs::read(dir.join(f)).expect("fixture"));
        }
        // Annotations before images (a second pass), and before everything else.
        let v: Value = serde_json::from_str(&ours).expect("json");
        let mut reordered = serde_json::Map::new();
        for k in ["annotations", "categories", "images"] {
            reordered.insert(k.to_string(), v[k].clone());
        }
        inputs.push(Value::Object(reordered).to_string().into_bytes());
        // Errors: a bad number deep in the annotations, a JSON error, a trailing comma, a
        // duplicate key, text after the object.
        let bad_area = pretty.replacen("\"area\": ", "\"area\": 1e300", 1);
        inputs.push(bad_area.into_bytes());
        inputs.push(ours.replacen("\"bbox\":[", "\"bbox\":[,", 3).into_bytes());
        inputs.push(ours.replacen("]}", "],}", 1).into_bytes());
        inputs.push(
            format!(
                "{}, \"images\": []}}",
                ours.trim_end().trim_end_matches('}')
            )
            .into_bytes(),
        );
        inputs.push(format!("{ours} x").into_bytes());
        for (i, bytes) in inputs.iter().enumerate() {
            for opts in [
                ReadOptions::default(),
                ReadOptions {
                    allow_non_finite: true,
                    drop_segmentation_text: true,
                    fast_cvat_ellipses: true,
                    ..Default::default()
                },
            ] {
                match windowed_and_two_phase(bytes, &opts) {
                    (Ok(a), Ok(b)) => assert_eq!(a, b, "input {i}"),
                    (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "input {i}"),
                    (a, b) => panic!(
                        "input {i}: the reads disagree: {:?} vs {:?}",
                        a.err(),
                        b.err()
                    ),
                }
            }
        }
    }

    #[test]
    fn whatever_the_windowed_read_accepts_the_two_phase_read_reads_the_same() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/conformance");
        let original =
            std::fs::read(dir.join("cvat-ellipse/annotations_4classes.json")).expect("fixture");
        let alphabet = b"{}[]:,\" 0123456789.-eE\\\n";
        let (mut accepted, mut refused) = (0, 0);
        for m in crate::test_mutations::mutants(&original, 12, 300, 1..3, alphabet) {
            match windowed_and_two_phase(&m, &ReadOptions::default()) {
                (Ok(s), Ok(t)) => {
                    accepted += 1;
                    assert_eq!(s, t);
                }
                (Err(s), Err(t)) => {
                    refused += 1;
                    assert_eq!(s.to_string(), t.to_string());
                }
                (s, t) => panic!("the reads disagree: {:?} vs {:?}", s.err(), t.err()),
            }
        }
        assert!(
            accepted > 15 && refused > 30,
            "{accepted} accepted, {refused} refused"
        );
    }

    #[test]
    fn polygons_read_during_the_parse_read_as_their_text_would() {
        // The windowed read of `validate` reads a `segmentation` that looks like a polygon
        // list during the parse. Every way the guess can be wrong, or the list not be one,
        // must end as the usual read does: the same model or the same error.
        let opts = ReadOptions {
            drop_segmentation_text: true,
            allow_non_finite: true,
            ..Default::default()
        };
        let head = r#"{"images":[{"id":1,"file_name":"a.png","width":100,"height":100}],"categories":[{"id":1,"name":"x"}],"annotations":["#;
        let ann = |rest: &str| format!(r#"{{"id":1,"image_id":1,"category_id":1,{rest}}}"#);
        let cases = [
            ann(r#""segmentation":[[1,2,30,2.5,30,40]],"area":1,"bbox":[1,2,29,38]"#),
            ann(r#""segmentation":[[1,2,30,2,30,40],[5,5,6,5,6,6.25]]"#),
            ann(r#""segmentation":[]"#),
            ann(r#""segmentation":[[]]"#),
            ann("\"segmentation\" :\n [ [1, 2,30,2,30,40] ]"),
            // A decoy key in a nested object before an RLE, and after a polygon.
            ann(
                r#""attributes":{"segmentation":[1]},"segmentation":{"size":[100,100],"counts":[5,10,9985]},"iscrowd":1"#,
            ),
            ann(r#""segmentation":[[1,2,30,2,30,40]],"attributes":{"segmentation":{"a":1}}"#),
            ann(r#""segmentation":[[1,2,30,2,30,40]],"segmentation":[[1,2,3,4,5,6]]"#),
            ann(r#""segmentation":[[1,2,"x",2,30,40]]"#),
            ann(r#""segmentation":[[1,2,30]]"#),
            ann(r#""segmentation":[[[1,2,30,2,30,40]]]"#),
            ann(r#""segmentation":[[1,2,30,2,30,1e999]]"#),
            ann(r#""segmentation":[[1,2,30,2,30,40]]"#),
            ann(r#""segmentation":null"#),
            ann(r#""neutrostruct":{},"segmentation":[[1,2,30,2,30,40]]"#),
        ];
        let (mut accepted, mut refused) = (0, 0);
        for c in &cases {
            let text = format!("{head}{c}]}}");
            match windowed_and_two_phase(text.as_bytes(), &opts) {
                (Ok(s), Ok(t)) => {
                    accepted += 1;
                    assert_eq!(s, t, "{c}");
                }
                (Err(s), Err(t)) => {
                    refused += 1;
                    assert_eq!(s.to_string(), t.to_string(), "{c}");
                }
                (s, t) => panic!("{c}: the reads disagree: {:?} vs {:?}", s.err(), t.err()),
            }
        }
        assert!(
            accepted >= 6 && refused >= 4,
            "{accepted} accepted, {refused} refused"
        );
        // And small random damage to a polygon file.
        let original = polygon_coco(40).into_bytes();
        let alphabet = b"{}[]:,\" 0123456789.-eE\\\n";
        for m in crate::test_mutations::mutants(&original, 7, 300, 1..3, alphabet) {
            match windowed_and_two_phase(&m, &opts) {
                (Ok(s), Ok(t)) => assert_eq!(s, t),
                (Err(s), Err(t)) => assert_eq!(s.to_string(), t.to_string()),
                (s, t) => panic!("the reads disagree: {:?} vs {:?}", s.err(), t.err()),
            }
        }
    }

    #[test]
    fn the_streamed_read_gives_the_two_phase_model() {
        let ds = synth_dataset(24);
        // CVAT's export (an RLE and `attributes.rotation` per annotation) and ours (a
        // polygon and the exact `neutrostruct` ellipse).
        let ours = crate::coco::to_string(&ds, &Default::default()).0;
        for text in [cvat_style_coco(&ds), ours] {
            let (streamed, two_phase) = both_ways(text.as_bytes());
            let (read, loss) = streamed.expect("reads");
            // More than two chunks, or the chunk boundaries are not exercised.
            assert!(
                read.annotations.len() > 2 * 4096,
                "{}",
                read.annotations.len()
            );
            assert!(read.annotations.iter().all(|a| a.loc.is_some()));
            assert_eq!((read, loss), two_phase.expect("reads"));
        }
    }

    #[test]
    fn the_streamed_read_gives_the_two_phase_model_on_the_conformance_files() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/conformance");
        for f in [
            "cvat-ellipse/annotations_4classes.json",
            "datumaro-coco/instances_train.json",
            "datumaro-coco/instances_val.json",
            "coco-extras/unknown_fields.json",
        ] {
            let bytes = std::fs::read(dir.join(f)).expect("fixture");
            let (streamed, two_phase) = both_ways(&bytes);
            assert_eq!(streamed.expect(f), two_phase.expect(f), "{f}");
        }
    }

    #[test]
    fn annotations_before_images_are_built_after_the_parse() {
        let text = r#"{"annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4]}],
            "images": [{"id": 1, "file_name": "a.png", "width": 9, "height": 9}],
            "categories": [{"id": 1, "name": "c"}]}"#;
        let (streamed, two_phase) = both_ways(text.as_bytes());
        let (ds, loss) = streamed.expect("reads");
        assert_eq!(ds.annotations.len(), 1);
        assert_eq!(ds.annotations[0].loc.map(|l| l.line), Some(1));
        assert_eq!((ds, loss), two_phase.expect("reads"));
    }

    #[test]
    fn an_annotation_error_in_a_later_chunk_is_reported_where_it_is() {
        // Annotation 5000 (second chunk) has an out-of-range area, which only the model
        // building refuses; the file is pretty-printed, so its line is known.
        let mut ds = synth_dataset(12);
        ds.annotations.truncate(5200);
        let text = crate::coco::to_string(
            &ds,
            &crate::coco::WriteOptions {
                pretty: true,
                ..Default::default()
            },
        )
        .0;
        let needle = format!("\"id\": {},", ds.annotations[4999].id.0);
        let at = text.find(&needle).expect("annotation 5000 is in the text");
        let area = at + text[at..].find("\"area\": ").expect("an area") + "\"area\": ".len();
        let end = area + text[area..].find([',', '\n']).expect("a number");
        let bad = format!("{}1e300{}", &text[..area], &text[end..]);
        let line = bad[..at].matches('\n').count() + 1;
        let (streamed, two_phase) = both_ways(bad.as_bytes());
        let msg = streamed.expect_err("refused").to_string();
        assert_eq!(msg, two_phase.expect_err("refused").to_string());
        assert!(msg.contains("area"), "{msg}");
        // The object starts a line or so before its `id`.
        let pos: Vec<usize> = msg
            .split(':')
            .skip(1)
            .take(1)
            .filter_map(|p| p.parse().ok())
            .collect();
        assert!(
            matches!(pos.first(), Some(&l) if l + 3 >= line && l <= line),
            "{msg} (annotation at line {line})"
        );
    }

    #[test]
    fn a_json_error_after_a_refused_annotation_is_reported_first_as_before() {
        // The streamed read meets the bad annotation first; the file's JSON error comes
        // first in the two-phase order, which is the order users have always seen.
        let text = r#"{"images": [{"id": 1, "file_name": "a.png", "width": 9, "height": 9}],
            "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "area": 1e300}],
            "categories": [{"id": 1, "name": "c"},]}"#;
        let (streamed, two_phase) = both_ways(text.as_bytes());
        let msg = streamed.expect_err("refused").to_string();
        assert_eq!(msg, two_phase.expect_err("refused").to_string());
        assert!(msg.starts_with("t.json:3:"), "{msg}");
    }

    #[test]
    fn whatever_the_streamed_read_accepts_the_two_phase_read_reads_the_same() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/conformance");
        let original =
            std::fs::read(dir.join("cvat-ellipse/annotations_4classes.json")).expect("fixture");
        let alphabet = b"{}[]:,\" 0123456789.-eE";
        let (mut accepted, mut refused) = (0, 0);
        for m in crate::test_mutations::mutants(&original, 11, 300, 1..3, alphabet) {
            match both_ways(&m) {
                (Ok(s), Ok(t)) => {
                    accepted += 1;
                    assert_eq!(s, t);
                }
                (Err(s), Err(t)) => {
                    refused += 1;
                    assert_eq!(s.to_string(), t.to_string());
                }
                (s, t) => panic!("the reads disagree: {:?} vs {:?}", s.err(), t.err()),
            }
        }
        assert!(
            accepted > 30 && refused > 30,
            "{accepted} accepted, {refused} refused"
        );
    }
}
