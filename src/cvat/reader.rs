//! Streaming CVAT XML 1.1 reader.
//!
//! One pass of quick-xml events over the whole file held in memory (so that `<meta>` and
//! unknown elements can be kept as exact source bytes, and every shape gets its byte span).
//! The parser is a small recursive descent over a fixed grammar (`annotations` → `image` →
//! shape → `attribute`); everything it does not model is skipped iteratively, so nesting in
//! the input never turns into recursion here.
//!
//! Entities: quick-xml never expands DTD entities; we additionally refuse any `<!DOCTYPE>`
//! that declares one, and unescaping only knows the five predefined escapes and numeric
//! character references, so an unknown `&foo;` is a parse error with its position.

use super::ReadOptions;
use crate::error::{Error, LineIndex, Result};
use crate::lossiness::Lossiness;
use crate::model::{
    Annotation, AnnotationId, AttributeSpec, BoxShape, Category, CategoryId, CvatExtra,
    CvatMetaRaw, Dataset, Ellipse, Image, ImageId, JsonMap, MaskData, Point, Rgb, Shape, SourceLoc,
};
use indexmap::IndexMap;
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::path::Path;

/// Deepest element nesting accepted (CVAT files nest 7 deep at most; this is a guard).
pub const MAX_DEPTH: usize = 64;
pub use crate::model::limits::MAX_POINTS;
/// Largest coordinate magnitude accepted (as in the COCO reader; no image is 1e9 px wide).
pub(crate) const MAX_MAGNITUDE: f64 = 1e9;

/// Shape elements this reader turns into `Shape`s.
const SHAPES: &[&str] = &[
    "ellipse", "box", "polygon", "polyline", "points", "mask", "tag",
];

/// Reads a CVAT XML 1.1 file held in memory. `path` is only used in messages.
pub fn read_bytes(bytes: &[u8], path: &Path, opts: &ReadOptions) -> Result<(Dataset, Lossiness)> {
    let lines = LineIndex::new(bytes);
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let (l, c) = lines.locate(e.valid_up_to());
            return Err(Error::parse(
                path,
                l,
                c,
                "invalid UTF-8 (CVAT XML must be UTF-8)",
            ));
        }
    };
    // A UTF-8 byte order mark is allowed; offsets stay relative to the original bytes.
    let base = if text.starts_with('\u{feff}') { 3 } else { 0 };
    let src = &text[base..];
    // Images are parsed in parallel; should anything fail, the file is parsed again one
    // element after the other, so that the error reported is exactly the first one in
    // document order (and a parallel-only mistake could never pass as a result).
    if let Ok(done) = parse(src, base, path, &lines, opts, true) {
        return Ok(done);
    }
    parse(src, base, path, &lines, opts, false)
}

fn parse(
    src: &str,
    base: usize,
    path: &Path,
    lines: &LineIndex,
    opts: &ReadOptions,
    parallel: bool,
) -> Result<(Dataset, Lossiness)> {
    let mut p = Parser::new(Cursor::new(src, base, path, lines, 0), opts);
    p.parallel = parallel;
    // Room for every shape at once: growing by doubling held the old and the new buffer
    // together, a third of the peak for a million ellipses. Every element opens with one
    // `<` and, unless self-closing, closes with one `</`, so their difference counts the
    // elements: a bound on the shapes, over them by the images, labels and `<attribute>`s
    // (address space reserved and never touched). `try_reserve` refuses what cannot be had
    // instead of aborting.
    let opened = memchr::memchr_iter(b'<', src.as_bytes()).count();
    let closed = memchr::memmem::find_iter(src.as_bytes(), b"</").count();
    let elements = opened.saturating_sub(closed);
    let _ = p.ds.annotations.try_reserve_exact(elements);
    let _ = p.ann_image.try_reserve_exact(elements);
    p.parse_document()?;
    Ok(p.finish())
}

/// How many bytes of `<image>` elements are parsed in one parallel batch.
const PARALLEL_BATCH_BYTES: usize = 32 << 20;

/// An `<image>` element found by the scan of the root, parsed later with its neighbours.
struct PendingImage {
    /// Byte range of the element in `src`.
    start: usize,
    end: usize,
}

/// What parsing one `<image>` on its own gives, before it joins the dataset.
struct ParsedImage {
    image: Image,
    orig_id: u64,
    /// Its annotations, in order, with their label names (categories are resolved when the
    /// image joins, so that labels used without a declaration get ids in document order).
    annotations: Vec<(Annotation, String)>,
    verbatim: usize,
}

/// Parses the `<image>` element at `p` on its own: a cursor over just its bytes, placed at
/// its offset in the file (messages and source locations are those of a whole-file parse)
/// and one element deep (inside `<annotations>`).
fn parse_image_alone(
    src: &str,
    base: usize,
    path: &Path,
    lines: &LineIndex,
    opts: &ReadOptions,
    p: &PendingImage,
) -> Result<ParsedImage> {
    let at_start = |msg: &str| {
        let (l, c) = lines.locate(base + p.start);
        Error::parse(path, l, c, msg)
    };
    let slice = src.get(p.start..p.end).ok_or_else(|| {
        at_start("internal: an <image> element's range is not on a character boundary")
    })?;
    let mut sub = Parser::new(Cursor::new(slice, base + p.start, path, lines, 1), opts);
    sub.deferred_labels = Some(Vec::new());
    match sub.cur.next()? {
        (Event::Start(e), at) => sub.parse_image(&e, at, true)?,
        (Event::Empty(e), at) => sub.parse_image(&e, at, false)?,
        _ => return Err(at_start("internal: expected an <image> element here")),
    }
    let labels = sub.deferred_labels.take().unwrap_or_default();
    let (Some(image), Some(&orig_id)) = (sub.ds.images.pop(), sub.image_orig_ids.first()) else {
        return Err(at_start("internal: the <image> element gave no image"));
    };
    Ok(ParsedImage {
        image,
        orig_id,
        annotations: sub.ds.annotations.into_iter().zip(labels).collect(),
        verbatim: sub.verbatim,
    })
}

/// One attribute of an element, with the byte offset of its value (for messages).
struct Attr<'a> {
    key: Cow<'a, str>,
    value: Cow<'a, str>,
    offset: usize,
}

/// The event source with positions, depth accounting and error mapping.
struct Cursor<'a> {
    src: &'a str,
    base: usize,
    reader: Reader<&'a [u8]>,
    path: &'a Path,
    lines: &'a LineIndex,
    depth: usize,
}

impl<'a> Cursor<'a> {
    /// A cursor over `src`, which starts at byte `base` of the file, inside `depth` open
    /// elements.
    fn new(src: &'a str, base: usize, path: &'a Path, lines: &'a LineIndex, depth: usize) -> Self {
        let mut reader = Reader::from_str(src);
        // Mismatched end tags are errors (the default, stated here because we rely on it).
        reader.config_mut().check_end_names = true;
        Cursor {
            src,
            base,
            reader,
            path,
            lines,
            depth,
        }
    }

    /// Error at byte offset `off` of `src`.
    fn err(&self, off: usize, msg: impl Into<String>) -> Error {
        let (l, c) = self.lines.locate(off + self.base);
        Error::parse(self.path, l, c, msg)
    }

    fn loc(&self, start: usize, end: usize) -> SourceLoc {
        let (line, column) = self.lines.locate(start + self.base);
        SourceLoc {
            line,
            column,
            start: start + self.base,
            end: end + self.base,
        }
    }

    /// Current position in `src` (just past the last event).
    fn pos(&self) -> usize {
        self.reader.buffer_position() as usize
    }

    /// The next event and the offset of its first byte.
    fn next(&mut self) -> Result<(Event<'a>, usize)> {
        let start = self.pos();
        match self.reader.read_event() {
            Ok(ev) => {
                match &ev {
                    Event::Start(_) => {
                        self.depth += 1;
                        if self.depth > MAX_DEPTH {
                            return Err(self.err(
                                start,
                                format!("elements nest deeper than {MAX_DEPTH} levels"),
                            ));
                        }
                    }
                    Event::End(_) => self.depth = self.depth.saturating_sub(1),
                    Event::DocType(d) if d.windows(8).any(|w| w == b"<!ENTITY") => {
                        return Err(self.err(
                            start,
                            "DTD entity declarations are not supported (entities are never expanded)",
                        ));
                    }
                    _ => {}
                }
                Ok((ev, start))
            }
            Err(e) => Err(self.err(
                self.reader.error_position() as usize,
                format!("malformed XML: {e}"),
            )),
        }
    }

    fn eof_err(&self, what: &str, opened_at: usize) -> Error {
        let (l, c) = self.lines.locate(opened_at + self.base);
        self.err(
            self.src.len(),
            format!("unexpected end of file: <{what}> opened at {l}:{c} is not closed"),
        )
    }

    /// Byte offset of `s` inside `src`, when `s` borrows from it.
    fn offset_of(&self, s: &[u8]) -> Option<usize> {
        let p = s.as_ptr() as usize;
        let b = self.src.as_ptr() as usize;
        (p >= b && p + s.len() <= b + self.src.len()).then(|| p - b)
    }

    /// Skips the rest of an element whose `Start` was just read; returns the offset just
    /// past its end tag. Iterative, so arbitrarily deep content costs no stack.
    fn skip(&mut self, name: &str, start: usize) -> Result<usize> {
        let target = self.depth.saturating_sub(1);
        loop {
            match self.next()? {
                (Event::End(_), _) if self.depth == target => return Ok(self.pos()),
                (Event::Eof, _) => return Err(self.eof_err(name, start)),
                _ => {}
            }
        }
    }

    /// The text content of an element whose `Start` was just read (nested elements skipped).
    fn text(&mut self, name: &str, start: usize) -> Result<String> {
        let mut out = String::new();
        loop {
            match self.next()? {
                (Event::Text(t), at) => {
                    let raw = self.str_of(&t);
                    match quick_xml::escape::unescape(&raw) {
                        Ok(s) => out.push_str(&s),
                        Err(e) => return Err(self.err(at, format!("bad escape in text: {e}"))),
                    }
                }
                (Event::CData(t), _) => out.push_str(&String::from_utf8_lossy(&t)),
                (Event::Start(e), at) => {
                    let n = name_of(&e);
                    self.skip(&n, at)?;
                }
                (Event::End(_), _) => return Ok(out),
                (Event::Eof, _) => return Err(self.eof_err(name, start)),
                _ => {}
            }
        }
    }

    /// `bytes` (already known to be UTF-8) as text, borrowing from `src` when possible.
    fn str_of(&self, bytes: &[u8]) -> Cow<'a, str> {
        match self
            .offset_of(bytes)
            .and_then(|o| self.src.get(o..o + bytes.len()))
        {
            Some(s) => Cow::Borrowed(s),
            None => Cow::Owned(String::from_utf8_lossy(bytes).into_owned()),
        }
    }

    /// The attributes of `e` in order, unescaped, each with the offset of its value.
    fn attrs(&self, e: &BytesStart<'a>, start: usize) -> Result<Vec<Attr<'a>>> {
        let mut out: Vec<Attr<'a>> = Vec::with_capacity(12);
        // quick-xml's own duplicate check costs more than the one below on the decoded keys
        // (a CVAT shape has about ten attributes, so comparing with each earlier one is cheap
        // when the comparison itself is). Past `LINEAR_DUPLICATE_CHECK` attributes a hash set
        // takes over: comparing each with all earlier ones is quadratic, and a hostile element
        // with a million attributes would never finish.
        let mut seen: Option<std::collections::HashSet<String>> = None;
        for a in e.attributes().with_checks(false) {
            let a = a.map_err(|err| self.err(start, format!("malformed attribute: {err}")))?;
            let key = self.str_of(a.key.as_ref());
            let offset = self.offset_of(&a.value).unwrap_or(start);
            let raw = self.str_of(&a.value);
            let value = match raw {
                // Almost no value has an entity; skip the unescaper's setup for those.
                Cow::Borrowed(s) if !s.as_bytes().contains(&b'&') => Ok(Cow::Borrowed(s)),
                Cow::Borrowed(s) => quick_xml::escape::unescape(s),
                Cow::Owned(ref s) => {
                    quick_xml::escape::unescape(s).map(|c| Cow::Owned(c.into_owned()))
                }
            }
            .map_err(|err| self.err(offset, format!("bad escape in attribute `{key}`: {err}")))?;
            // XML forbids an attribute twice on one element (well-formedness).
            let twice = if out.len() < LINEAR_DUPLICATE_CHECK {
                out.iter().any(|prev| same_short_str(&prev.key, &key))
            } else {
                let set =
                    seen.get_or_insert_with(|| out.iter().map(|a| a.key.to_string()).collect());
                !set.insert(key.to_string())
            };
            if twice {
                return Err(self.err(offset, format!("attribute `{key}` appears twice")));
            }
            out.push(Attr { key, value, offset });
        }
        Ok(out)
    }
}

/// Up to this many attributes on one element the duplicate check compares with each earlier
/// one; beyond, it hashes.
const LINEAR_DUPLICATE_CHECK: usize = 16;

/// String equality without a `memcmp` call, for the short keys of attributes.
fn same_short_str(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).all(|(x, y)| x == y)
}

fn name_of(e: &BytesStart<'_>) -> String {
    String::from_utf8_lossy(e.name().as_ref()).into_owned()
}

/// Attributes of one element with lookups that produce positioned errors.
struct Attrs<'a, 'c> {
    list: Vec<Attr<'a>>,
    used: Vec<bool>,
    elem: &'c str,
    start: usize,
}

impl<'a> Attrs<'a, '_> {
    fn take(&mut self, key: &str) -> Option<(Cow<'a, str>, usize)> {
        let i = self.list.iter().position(|a| a.key == key)?;
        self.used[i] = true;
        Some((self.list[i].value.clone(), self.list[i].offset))
    }

    /// The attributes nobody took, in document order.
    fn rest(self) -> Vec<(String, String)> {
        // Pushed into a new vector rather than collected: `collect` over the list's own
        // iterator reuses its allocation in place, so every shape kept the buffer of all
        // its attributes (about 600 bytes) for an empty list, a third of the memory of a
        // million ellipses.
        let mut rest = Vec::new();
        for (a, used) in self.list.into_iter().zip(self.used) {
            if !used {
                rest.push((a.key.into_owned(), a.value.into_owned()));
            }
        }
        rest
    }
}

struct Parser<'a, 'o> {
    cur: Cursor<'a>,
    opts: &'o ReadOptions,
    ds: Dataset,
    /// Label name → index into `ds.categories`.
    labels: HashMap<String, usize>,
    /// Per annotation, the index of its image (ids are fixed up at the end).
    ann_image: Vec<usize>,
    /// Per image, the `id` attribute as written.
    image_orig_ids: Vec<u64>,
    verbatim: usize,
    seen_meta: bool,
    /// Collect `<image>` elements and parse runs of them in parallel.
    parallel: bool,
    pending: Vec<PendingImage>,
    pending_bytes: usize,
    /// Parsing one image on its own: labels are noted here, not resolved.
    deferred_labels: Option<Vec<String>>,
}

impl<'a, 'o> Parser<'a, 'o> {
    fn new(cur: Cursor<'a>, opts: &'o ReadOptions) -> Self {
        Parser {
            cur,
            opts,
            ds: Dataset::default(),
            labels: HashMap::new(),
            ann_image: Vec::new(),
            image_orig_ids: Vec::new(),
            verbatim: 0,
            seen_meta: false,
            parallel: false,
            pending: Vec::new(),
            pending_bytes: 0,
            deferred_labels: None,
        }
    }

    /// Parses the pending `<image>` elements, each on its own and all in parallel, and adds
    /// them to the dataset in document order. Any error stops the parse (the caller then
    /// parses the file sequentially for the exact first error).
    fn flush_images(&mut self) -> Result<()> {
        use rayon::prelude::*;
        if self.pending.is_empty() {
            return Ok(());
        }
        let pending = std::mem::take(&mut self.pending);
        self.pending_bytes = 0;
        let (src, base, path, lines, opts) = (
            self.cur.src,
            self.cur.base,
            self.cur.path,
            self.cur.lines,
            self.opts,
        );
        let parsed: Vec<Result<ParsedImage>> = pending
            .par_iter()
            .map(|p| parse_image_alone(src, base, path, lines, opts, p))
            .collect();
        for one in parsed {
            let one = one?;
            let index = self.ds.images.len();
            self.ds.images.push(one.image);
            self.image_orig_ids.push(one.orig_id);
            self.verbatim += one.verbatim;
            for (mut a, label) in one.annotations {
                a.id = AnnotationId(self.ds.annotations.len() as u64 + 1);
                a.category_id = self.category_for(&label);
                self.ds.annotations.push(a);
                self.ann_image.push(index);
            }
        }
        Ok(())
    }

    fn required(&self, at: &mut Attrs<'a, '_>, key: &str) -> Result<(Cow<'a, str>, usize)> {
        match at.take(key) {
            Some(v) => Ok(v),
            None => Err(self.cur.err(
                at.start,
                format!("<{}> lacks the required attribute `{key}`", at.elem),
            )),
        }
    }

    fn parse_num<T: std::str::FromStr>(
        &self,
        at: &Attrs<'a, '_>,
        key: &str,
        v: &str,
        off: usize,
    ) -> Result<T> {
        v.trim().parse::<T>().map_err(|_| {
            self.cur.err(
                off,
                format!(
                    "attribute `{key}` of <{}> is not a valid number: {v:?}",
                    at.elem
                ),
            )
        })
    }

    fn float(&self, at: &Attrs<'a, '_>, key: &str, v: &str, off: usize) -> Result<f64> {
        let x: f64 = self.parse_num(at, key, v, off)?;
        if !x.is_finite() && !self.opts.allow_non_finite {
            return Err(self.cur.err(
                off,
                format!("attribute `{key}` of <{}> is not finite: {v:?}", at.elem),
            ));
        }
        // The COCO reader's bound on magnitudes: 1e300 is corruption, and a CVAT file that
        // converts must give a COCO file that reads back.
        if x.abs() > MAX_MAGNITUDE && !self.opts.allow_non_finite {
            return Err(self.cur.err(
                off,
                format!(
                    "attribute `{key}` of <{}> is out of range (|v| > {MAX_MAGNITUDE}): {v:?}",
                    at.elem
                ),
            ));
        }
        Ok(x)
    }

    fn req_f64(&self, at: &mut Attrs<'a, '_>, key: &str) -> Result<f64> {
        let (v, off) = self.required(at, key)?;
        self.float(at, key, &v, off)
    }

    fn opt_f64(&self, at: &mut Attrs<'a, '_>, key: &str) -> Result<Option<f64>> {
        match at.take(key) {
            Some((v, off)) => self.float(at, key, &v, off).map(Some),
            None => Ok(None),
        }
    }

    fn req_u32(&self, at: &mut Attrs<'a, '_>, key: &str) -> Result<u32> {
        let (v, off) = self.required(at, key)?;
        self.parse_num(at, key, &v, off)
    }

    /// An `<image>` side: the COCO reader's range, so that whatever CVAT accepts converts to
    /// a COCO that reads back, and no later step sizes a buffer from a corrupt number.
    fn image_side(&self, at: &mut Attrs<'a, '_>, key: &str) -> Result<u32> {
        let (v, off) = self.required(at, key)?;
        let n: u32 = self.parse_num(at, key, &v, off)?;
        if n == 0 || u64::from(n) > crate::model::limits::MAX_SIDE {
            return Err(self.cur.err(
                off,
                format!(
                    "attribute `{key}` of <image> is {n}, out of range 1..={}",
                    crate::model::limits::MAX_SIDE
                ),
            ));
        }
        Ok(n)
    }

    /// `x,y;x,y;…` with the value's offset for messages.
    fn points(&self, at: &Attrs<'a, '_>, key: &str, v: &str, off: usize) -> Result<Vec<Point>> {
        let mut pts = Vec::new();
        if v.trim().is_empty() {
            return Ok(pts);
        }
        let mut seg_off = 0;
        for seg in v.split(';') {
            if pts.len() >= MAX_POINTS {
                return Err(self.cur.err(
                    off,
                    format!("<{}> has more than {MAX_POINTS} points", at.elem),
                ));
            }
            let here = off + seg_off;
            seg_off += seg.len() + 1;
            let mut xy = seg.split(',');
            let (Some(x), Some(y), None) = (xy.next(), xy.next(), xy.next()) else {
                return Err(self.cur.err(
                    here,
                    format!(
                        "attribute `{key}` of <{}>: expected `x,y`, found {seg:?}",
                        at.elem
                    ),
                ));
            };
            pts.push([self.float(at, key, x, here)?, self.float(at, key, y, here)?]);
        }
        Ok(pts)
    }

    fn category_for(&mut self, name: &str) -> CategoryId {
        if let Some(noted) = self.deferred_labels.as_mut() {
            noted.push(name.to_string());
            return CategoryId(0);
        }
        if let Some(&i) = self.labels.get(name) {
            return self.ds.categories[i].id;
        }
        // A label used but never declared: read it anyway as a new class (not a loss).
        let id = CategoryId(self.ds.categories.len() as u64 + 1);
        self.ds.categories.push(bare_category(id, name.to_string()));
        self.labels
            .insert(name.to_string(), self.ds.categories.len() - 1);
        id
    }

    fn parse_document(&mut self) -> Result<()> {
        let mut root_done = false;
        loop {
            match self.cur.next()? {
                (Event::Start(e), at) => {
                    let n = name_of(&e);
                    if root_done || n != "annotations" {
                        return Err(self.cur.err(
                            at,
                            format!("expected one <annotations> root element, found <{n}>"),
                        ));
                    }
                    self.parse_root(at)?;
                    root_done = true;
                }
                (Event::Empty(e), at) => {
                    let n = name_of(&e);
                    if root_done || n != "annotations" {
                        return Err(self.cur.err(
                            at,
                            format!("expected one <annotations> root element, found <{n}/>"),
                        ));
                    }
                    root_done = true;
                }
                (Event::Eof, _) => {
                    if !root_done {
                        return Err(self.cur.err(
                            self.cur.src.len(),
                            "no <annotations> root element: not a CVAT XML file",
                        ));
                    }
                    return Ok(());
                }
                _ => {}
            }
        }
    }

    fn parse_root(&mut self, root_at: usize) -> Result<()> {
        loop {
            let (ev, at) = self.cur.next()?;
            let is_image =
                matches!(&ev, Event::Start(e) | Event::Empty(e) if e.name().as_ref() == b"image");
            if self.parallel {
                if is_image {
                    let end = match ev {
                        Event::Start(_) => self.cur.skip("image", at)?,
                        _ => self.cur.pos(),
                    };
                    self.pending.push(PendingImage { start: at, end });
                    // Bounded batches: what a batch parses is held twice for a moment (parsed,
                    // then moved into the dataset).
                    self.pending_bytes += end - at;
                    if self.pending_bytes >= PARALLEL_BATCH_BYTES {
                        self.flush_images()?;
                    }
                    continue;
                }
                // Another element, or the end, may depend on the images before it (labels
                // used without a declaration become categories in document order). Text and
                // comments between images do not.
                if matches!(
                    ev,
                    Event::Start(_) | Event::Empty(_) | Event::End(_) | Event::Eof
                ) {
                    self.flush_images()?;
                }
            }
            match (ev, at) {
                (Event::Start(e), at) => match name_of(&e).as_str() {
                    "version" => {
                        self.ds.meta.cvat_version =
                            Some(self.cur.text("version", at)?.trim().to_string())
                    }
                    "meta" => self.parse_meta(at)?,
                    "image" => self.parse_image(&e, at, true)?,
                    n => {
                        let end = self.cur.skip(n, at)?;
                        self.keep_top(at, end);
                    }
                },
                (Event::Empty(e), at) => match name_of(&e).as_str() {
                    "image" => self.parse_image(&e, at, false)?,
                    _ => {
                        let end = self.cur.pos();
                        self.keep_top(at, end);
                    }
                },
                (Event::End(_), _) => return Ok(()),
                (Event::Eof, _) => return Err(self.cur.eof_err("annotations", root_at)),
                _ => {}
            }
        }
    }

    fn keep_top(&mut self, start: usize, end: usize) {
        self.ds
            .meta
            .cvat_unknown
            .push(self.cur.src[start..end].to_string());
        self.verbatim += 1;
    }

    /// `<meta>`: kept verbatim, split around the first `<labels>` of its `<task>` or
    /// `<project>`, whose labels become the categories.
    fn parse_meta(&mut self, meta_at: usize) -> Result<()> {
        if self.seen_meta {
            return Err(self.cur.err(meta_at, "a second <meta> element"));
        }
        self.seen_meta = true;
        let mut stack: Vec<String> = Vec::new();
        let mut labels_span: Option<(usize, usize)> = None;
        let mut declared = Vec::new();
        loop {
            match self.cur.next()? {
                (Event::Start(e), at) => {
                    let n = name_of(&e);
                    let owner_ok =
                        stack.len() == 1 && (stack[0] == "task" || stack[0] == "project");
                    if n == "labels" && owner_ok && labels_span.is_none() {
                        declared = self.parse_labels(at)?;
                        labels_span = Some((at, self.cur.pos()));
                    } else {
                        stack.push(n);
                    }
                }
                (Event::Empty(e), at) => {
                    let owner_ok =
                        stack.len() == 1 && (stack[0] == "task" || stack[0] == "project");
                    if e.name().as_ref() == b"labels" && owner_ok && labels_span.is_none() {
                        labels_span = Some((at, self.cur.pos()));
                    }
                }
                // The guard pops the element being closed; an empty stack means `</meta>`.
                (Event::End(_), _) if stack.pop().is_none() => break,
                (Event::Eof, _) => return Err(self.cur.eof_err("meta", meta_at)),
                _ => {}
            }
        }
        let meta_end = self.cur.pos();
        let src = self.cur.src;
        let raw = match labels_span {
            Some((ls, le)) => {
                let line_start = src[..ls].rfind('\n').map_or(0, |p| p + 1);
                let indent = &src[line_start..ls];
                CvatMetaRaw {
                    before_labels: src[meta_at..ls].to_string(),
                    labels: src[ls..le].to_string(),
                    after_labels: src[le..meta_end].to_string(),
                    declared: Vec::new(),
                    indent: if indent.chars().all(|c| c == ' ' || c == '\t') {
                        indent.to_string()
                    } else {
                        String::new()
                    },
                }
            }
            None => CvatMetaRaw {
                before_labels: src[meta_at..meta_end].to_string(),
                ..Default::default()
            },
        };
        for c in declared {
            if let Some(&i) = self.labels.get(&c.name) {
                // Declared after a shape already used it (meta after images): fill it in.
                let id = self.ds.categories[i].id;
                self.ds.categories[i] = Category { id, ..c };
            } else {
                let id = CategoryId(self.ds.categories.len() as u64 + 1);
                self.labels.insert(c.name.clone(), self.ds.categories.len());
                self.ds.categories.push(Category { id, ..c });
            }
        }
        self.ds.meta.cvat_meta = Some(raw);
        Ok(())
    }

    fn parse_labels(&mut self, at0: usize) -> Result<Vec<Category>> {
        let mut out = Vec::new();
        loop {
            match self.cur.next()? {
                (Event::Start(e), at) if e.name().as_ref() == b"label" => {
                    out.push(self.parse_label(at)?)
                }
                (Event::Start(e), at) => {
                    let n = name_of(&e);
                    self.cur.skip(&n, at)?;
                }
                (Event::End(_), _) => return Ok(out),
                (Event::Eof, _) => return Err(self.cur.eof_err("labels", at0)),
                _ => {}
            }
        }
    }

    fn parse_label(&mut self, at0: usize) -> Result<Category> {
        let mut c = bare_category(CategoryId(0), String::new());
        let mut has_name = false;
        loop {
            match self.cur.next()? {
                (Event::Start(e), at) => match name_of(&e).as_str() {
                    "name" => {
                        c.name = self.cur.text("name", at)?;
                        has_name = true;
                    }
                    "color" => c.color = Rgb::from_hex(&self.cur.text("color", at)?),
                    "type" => c.kind = Some(self.cur.text("type", at)?),
                    "attributes" => c.attributes = self.parse_attribute_specs(at)?,
                    n => {
                        let n = n.to_string();
                        self.cur.skip(&n, at)?;
                    }
                },
                (Event::Empty(e), _) if e.name().as_ref() == b"name" => has_name = true,
                (Event::End(_), _) => break,
                (Event::Eof, _) => return Err(self.cur.eof_err("label", at0)),
                _ => {}
            }
        }
        if !has_name {
            return Err(self.cur.err(at0, "<label> without <name>"));
        }
        Ok(c)
    }

    fn parse_attribute_specs(&mut self, at0: usize) -> Result<Vec<AttributeSpec>> {
        let mut out = Vec::new();
        loop {
            match self.cur.next()? {
                (Event::Start(e), at) if e.name().as_ref() == b"attribute" => {
                    let mut s = AttributeSpec::default();
                    loop {
                        match self.cur.next()? {
                            (Event::Start(f), fa) => {
                                let n = name_of(&f);
                                let t = self.cur.text(&n, fa)?;
                                match n.as_str() {
                                    "name" => s.name = t,
                                    "mutable" => s.mutable = Some(t),
                                    "input_type" => s.input_type = Some(t),
                                    "default_value" => s.default_value = Some(t),
                                    "values" => s.values = Some(t),
                                    _ => {}
                                }
                            }
                            (Event::Empty(f), _) => match f.name().as_ref() {
                                b"mutable" => s.mutable = Some(String::new()),
                                b"input_type" => s.input_type = Some(String::new()),
                                b"default_value" => s.default_value = Some(String::new()),
                                b"values" => s.values = Some(String::new()),
                                _ => {}
                            },
                            (Event::End(_), _) => break,
                            (Event::Eof, _) => return Err(self.cur.eof_err("attribute", at)),
                            _ => {}
                        }
                    }
                    out.push(s);
                }
                (Event::Start(e), at) => {
                    let n = name_of(&e);
                    self.cur.skip(&n, at)?;
                }
                (Event::End(_), _) => return Ok(out),
                (Event::Eof, _) => return Err(self.cur.eof_err("attributes", at0)),
                _ => {}
            }
        }
    }

    fn parse_image(&mut self, e: &BytesStart<'a>, at0: usize, has_children: bool) -> Result<()> {
        let mut at = Attrs {
            list: self.cur.attrs(e, at0)?,
            used: Vec::new(),
            elem: "image",
            start: at0,
        };
        at.used = vec![false; at.list.len()];
        let (id_s, id_off) = self.required(&mut at, "id")?;
        let orig_id: u64 = self.parse_num(&at, "id", &id_s, id_off)?;
        let file_name = self.required(&mut at, "name")?.0.into_owned();
        let width = self.image_side(&mut at, "width")?;
        let height = self.image_side(&mut at, "height")?;
        let subset = at.take("subset").map(|(v, _)| v.into_owned());
        let cvat_attrs = at.rest();
        let index = self.ds.images.len();
        let mut image = Image {
            id: ImageId(orig_id),
            file_name,
            width,
            height,
            subset,
            coco_extra: JsonMap::new(),
            cvat_attrs,
            cvat_unknown: Vec::new(),
            loc: None,
        };
        if has_children {
            loop {
                match self.cur.next()? {
                    (Event::Start(s), sa) => {
                        let n = name_of(&s);
                        if SHAPES.contains(&n.as_str()) {
                            self.parse_shape(&n, &s, sa, true, index)?;
                        } else {
                            let end = self.cur.skip(&n, sa)?;
                            image.cvat_unknown.push(self.cur.src[sa..end].to_string());
                            self.verbatim += 1;
                        }
                    }
                    (Event::Empty(s), sa) => {
                        let n = name_of(&s);
                        if SHAPES.contains(&n.as_str()) {
                            self.parse_shape(&n, &s, sa, false, index)?;
                        } else {
                            image
                                .cvat_unknown
                                .push(self.cur.src[sa..self.cur.pos()].to_string());
                            self.verbatim += 1;
                        }
                    }
                    (Event::End(_), _) => break,
                    (Event::Eof, _) => return Err(self.cur.eof_err("image", at0)),
                    _ => {}
                }
            }
        }
        image.loc = Some(self.cur.loc(at0, self.cur.pos()));
        self.ds.images.push(image);
        self.image_orig_ids.push(orig_id);
        Ok(())
    }

    fn parse_shape(
        &mut self,
        kind: &str,
        e: &BytesStart<'a>,
        at0: usize,
        has_children: bool,
        image: usize,
    ) -> Result<()> {
        let list = self.cur.attrs(e, at0)?;
        let mut at = Attrs {
            used: vec![false; list.len()],
            list,
            elem: kind,
            start: at0,
        };
        let label = self.required(&mut at, "label")?.0.into_owned();
        // CVAT's own importer reads a missing `source` as "manual", and its exporter always
        // writes one; doing the same keeps CVAT → model → CVAT the identity.
        let source = Some(
            at.take("source")
                .map_or_else(|| "manual".to_string(), |(v, _)| v.into_owned()),
        );
        let occluded = match at.take("occluded") {
            None => false,
            Some((v, off)) => match v.trim() {
                "0" | "false" | "False" => false,
                "1" | "true" | "True" => true,
                _ => {
                    return Err(self.cur.err(
                        off,
                        format!("attribute `occluded` of <{kind}> must be 0 or 1, found {v:?}"),
                    ))
                }
            },
        };
        let z_order = match at.take("z_order") {
            Some((v, off)) => self.parse_num(&at, "z_order", &v, off)?,
            None => 0,
        };
        let group_id = match at.take("group_id") {
            Some((v, off)) => Some(self.parse_num(&at, "group_id", &v, off)?),
            None => None,
        };
        let shape = match kind {
            "ellipse" => Shape::Ellipse(Ellipse {
                cx: self.req_f64(&mut at, "cx")?,
                cy: self.req_f64(&mut at, "cy")?,
                rx: self.req_f64(&mut at, "rx")?,
                ry: self.req_f64(&mut at, "ry")?,
                rotation: self.opt_f64(&mut at, "rotation")?.unwrap_or(0.0),
            }),
            "box" => Shape::Box(BoxShape {
                xtl: self.req_f64(&mut at, "xtl")?,
                ytl: self.req_f64(&mut at, "ytl")?,
                xbr: self.req_f64(&mut at, "xbr")?,
                ybr: self.req_f64(&mut at, "ybr")?,
                rotation: self.opt_f64(&mut at, "rotation")?.unwrap_or(0.0),
            }),
            "polygon" | "polyline" | "points" => {
                let (v, off) = self.required(&mut at, "points")?;
                let pts = self.points(&at, "points", &v, off)?;
                match kind {
                    "polygon" => Shape::Polygon(vec![pts].into()),
                    "polyline" => Shape::Polyline(pts),
                    _ => Shape::Points(pts),
                }
            }
            "mask" => self.mask(&mut at)?,
            _ => Shape::Tag,
        };
        let cvat_attrs = at.rest();
        let mut attributes = IndexMap::new();
        if has_children {
            loop {
                match self.cur.next()? {
                    (Event::Start(c), ca) if c.name().as_ref() == b"attribute" => {
                        let name = self.attribute_name(&c, ca)?;
                        let value = self.cur.text("attribute", ca)?;
                        attributes.insert(name, serde_json::Value::String(value));
                    }
                    (Event::Empty(c), ca) if c.name().as_ref() == b"attribute" => {
                        let name = self.attribute_name(&c, ca)?;
                        attributes.insert(name, serde_json::Value::String(String::new()));
                    }
                    (Event::Start(c), ca) | (Event::Empty(c), ca) => {
                        return Err(self
                            .cur
                            .err(ca, format!("unexpected <{}> inside <{kind}>", name_of(&c))));
                    }
                    (Event::End(_), _) => break,
                    (Event::Eof, _) => return Err(self.cur.eof_err(kind, at0)),
                    _ => {}
                }
            }
        }
        let category_id = self.category_for(&label);
        let id = AnnotationId(self.ds.annotations.len() as u64 + 1);
        let mut a = Annotation::new(id, ImageId(0), category_id, shape);
        a.occluded = occluded;
        a.z_order = z_order;
        a.attributes = attributes.into();
        // `into`, not field writes: the side car is allocated only when one is set.
        a.cvat = CvatExtra {
            group_id,
            source,
            attrs: cvat_attrs.into(),
        }
        .into();
        a.loc = Some(self.cur.loc(at0, self.cur.pos()));
        self.ds.annotations.push(a);
        self.ann_image.push(image);
        Ok(())
    }

    fn attribute_name(&self, c: &BytesStart<'a>, ca: usize) -> Result<String> {
        let list = self.cur.attrs(c, ca)?;
        let mut at = Attrs {
            used: vec![false; list.len()],
            list,
            elem: "attribute",
            start: ca,
        };
        Ok(self.required(&mut at, "name")?.0.into_owned())
    }

    fn mask(&self, at: &mut Attrs<'a, '_>) -> Result<Shape> {
        let (rle, off) = self.required(at, "rle")?;
        let left = self.req_u32(at, "left")?;
        let top = self.req_u32(at, "top")?;
        let width = self.req_u32(at, "width")?;
        let height = self.req_u32(at, "height")?;
        let mut counts = Vec::new();
        let mut total: u64 = 0;
        if !rle.trim().is_empty() {
            for s in rle.split(',') {
                if counts.len() >= MAX_POINTS {
                    return Err(self
                        .cur
                        .err(off, format!("<mask> has more than {MAX_POINTS} runs")));
                }
                let n: u32 = self.parse_num(at, "rle", s, off)?;
                total += u64::from(n);
                counts.push(n);
            }
        }
        if total > u64::from(width) * u64::from(height) {
            return Err(self.cur.err(
                off,
                format!("<mask> runs cover {total} pixels, more than its {width}×{height} box"),
            ));
        }
        Ok(Shape::Mask(MaskData::Cvat {
            left,
            top,
            width,
            height,
            counts,
        }))
    }

    fn finish(mut self) -> (Dataset, Lossiness) {
        // Image ids must be unique in the model. A project export repeats ids across subsets;
        // later repeats get fresh ids past the largest one, and remember the id as written in
        // `cvat_attrs` (first, as ("id", …)) so the writer puts it back.
        let mut seen = HashSet::new();
        let mut next = self
            .image_orig_ids
            .iter()
            .copied()
            .max()
            .map_or(0, |m| m.saturating_add(1));
        for (img, &orig) in self.ds.images.iter_mut().zip(&self.image_orig_ids) {
            if !seen.insert(orig) {
                img.id = ImageId(next);
                next = next.saturating_add(1);
                img.cvat_attrs
                    .insert(0, ("id".to_string(), orig.to_string()));
            }
        }
        for (a, &i) in self.ds.annotations.iter_mut().zip(&self.ann_image) {
            a.image_id = self.ds.images[i].id;
        }
        // The categories as read (including labels used without a declaration) are what the
        // writer compares against to decide whether the verbatim labels block still holds.
        if let Some(m) = self.ds.meta.cvat_meta.as_mut() {
            m.declared = self.ds.categories.clone();
        }
        let mut loss = Lossiness::default();
        for (k, v) in self.ds.shape_counts() {
            loss.input.insert(k.to_string(), v);
            loss.output.insert(k.to_string(), v);
        }
        loss.add(
            "kept-verbatim",
            self.verbatim,
            "elements this reader does not model (e.g. <track>, <skeleton>) were kept verbatim, not interpreted",
        );
        (self.ds, loss)
    }
}

fn bare_category(id: CategoryId, name: String) -> Category {
    Category {
        id,
        name,
        supercategory: String::new(),
        color: None,
        kind: None,
        attributes: Vec::new(),
        coco_extra: JsonMap::new(),
    }
}

/// Why a streamed read stopped before the XML did: set by the reader that enforces the
/// caller's size limits, so the error names the limit rather than an I/O failure.
pub type StreamLimit = std::rc::Rc<std::cell::Cell<Option<String>>>;

/// Appends everything read through it to a shared window (the bytes of the element being
/// scanned), so that a whole top-level element can be parsed from memory once its end is
/// found, while the rest of the file is never held.
struct Tee<R> {
    inner: R,
    window: std::rc::Rc<std::cell::RefCell<Window>>,
    /// Set once the source has no more bytes.
    ended: std::rc::Rc<std::cell::Cell<bool>>,
}

impl<R: std::io::Read> std::io::Read for Tee<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && !buf.is_empty() {
            self.ended.set(true);
        }
        self.window.borrow_mut().buf.extend_from_slice(&buf[..n]);
        Ok(n)
    }
}

/// The bytes read and not yet done with. Done bytes are forgotten by moving a start index;
/// the buffer is compacted only once they are most of it, so that forgetting the few bytes
/// of each comment or `<image>` costs nothing per element (draining the front each time
/// moved the whole read-ahead once per element).
#[derive(Default)]
struct Window {
    buf: Vec<u8>,
    skip: usize,
}

impl Window {
    fn live(&self) -> &[u8] {
        &self.buf[self.skip.min(self.buf.len())..]
    }

    /// Forgets the first `n` live bytes.
    fn consume(&mut self, n: usize) {
        self.skip = (self.skip + n).min(self.buf.len());
        if self.skip >= 1 << 20 && self.skip * 2 >= self.buf.len() {
            self.buf.drain(..self.skip);
            self.skip = 0;
        }
    }
}

/// The in-memory reader checks the whole file for UTF-8 before parsing it, so an invalid
/// byte is reported before any parse error. A stream has read only the window so far: on an
/// error, the window's bytes are checked first, so that whatever the in-memory reader would
/// have seen as invalid UTF-8 among them is reported as such. A character cut at the end of
/// the window is invalid only once the source has ended.
fn utf8_error_in(pos: &WindowPos, w: &[u8], ended: bool, path: &Path) -> Option<Error> {
    let e = std::str::from_utf8(w).err()?;
    if e.error_len().is_none() && !ended {
        return None;
    }
    let (l, c) = pos.index(w).locate(pos.base + e.valid_up_to());
    Some(Error::parse(
        path,
        l,
        c,
        "invalid UTF-8 (CVAT XML must be UTF-8)",
    ))
}

/// Where the stream's window stands: the window's first byte is byte `base` of the file,
/// on line `line`, which starts at byte `line_start`.
struct WindowPos {
    base: usize,
    line: u32,
    line_start: usize,
}

impl WindowPos {
    /// Forgets the first `n` bytes of the window (`bytes`), after checking that they are
    /// UTF-8 (they end before a `<`, so never inside a character).
    fn advance(&mut self, bytes: &[u8], path: &Path) -> Result<()> {
        if let Err(e) = std::str::from_utf8(bytes) {
            let (l, c) = self.index(bytes).locate(self.base + e.valid_up_to());
            return Err(Error::parse(
                path,
                l,
                c,
                "invalid UTF-8 (CVAT XML must be UTF-8)",
            ));
        }
        for nl in memchr::memchr_iter(b'\n', bytes) {
            self.line = self.line.saturating_add(1);
            self.line_start = self.base + nl + 1;
        }
        self.base += bytes.len();
        Ok(())
    }

    fn index(&self, bytes: &[u8]) -> LineIndex {
        LineIndex::window(bytes, self.base, self.line, self.line_start)
    }
}

/// Reads CVAT XML 1.1 from a stream (an `annotations.xml` being inflated out of an export
/// archive) holding only one top-level element of `<annotations>` (a `<meta>`, an `<image>`)
/// in memory at a time, never the whole file. The elements are scanned with quick-xml's
/// streaming reader and each one, once complete, is parsed as [`read_bytes`] parses it
/// (sequentially, so the first error is the first in document order); messages and source
/// locations are those of the file. `limit` is set by `src` when it stops at a size limit.
pub fn read_stream(
    src: impl std::io::Read,
    path: &Path,
    opts: &ReadOptions,
    limit: &StreamLimit,
) -> Result<(Dataset, Lossiness)> {
    use std::io::BufRead;
    let stopped = |e: Error| match limit.take() {
        Some(m) => Error::invalid(path, m),
        None => e,
    };
    let io_err = |e: std::io::Error| stopped(Error::io(path, e));
    // A UTF-8 byte order mark is allowed; offsets stay those of the original bytes.
    let mut head = std::io::BufReader::with_capacity(1 << 16, src);
    let bom = head
        .fill_buf()
        .map_err(io_err)?
        .starts_with(b"\xEF\xBB\xBF");
    if bom {
        head.consume(3);
    }
    let window = std::rc::Rc::new(std::cell::RefCell::new(Window::default()));
    let ended = std::rc::Rc::new(std::cell::Cell::new(false));
    let tee = Tee {
        inner: head,
        window: window.clone(),
        ended: ended.clone(),
    };
    let mut reader = Reader::from_reader(std::io::BufReader::with_capacity(1 << 16, tee));
    reader.config_mut().check_end_names = true;
    let mut pos = WindowPos {
        base: if bom { 3 } else { 0 },
        line: 1,
        line_start: 0,
    };
    let mut state = Carried::default();
    let err_at = |pos: &WindowPos, off: usize, msg: String| {
        let w = window.borrow();
        let w = w.live();
        if let Some(e) = utf8_error_in(pos, w, ended.get(), path) {
            return e;
        }
        let upto = off.saturating_sub(pos.base).min(w.len());
        let (l, c) = pos.index(&w[..upto]).locate(off);
        Error::parse(path, l, c, msg)
    };
    let start_base = pos.base;
    let mut buf = Vec::new();
    // Open elements (name, offset), for the depth limit and the message at a cut-off end.
    let mut open: Vec<(String, usize)> = Vec::new();
    let mut root_done = false;
    // Where the root was opened (line, column): its bytes leave the window early.
    let mut root_lc = (1u32, 1u32);
    // Offset of the top-level child being scanned.
    let mut child_at: Option<usize> = None;
    let outcome: Result<(Dataset, Lossiness)> = loop {
        buf.clear();
        let at = start_base + reader.buffer_position() as usize;
        let ev = match reader.read_event_into(&mut buf) {
            Ok(ev) => ev,
            Err(e) => {
                if let Some(m) = limit.take() {
                    return Err(Error::invalid(path, m));
                }
                let off = start_base + reader.error_position() as usize;
                break Err(err_at(&pos, off, format!("malformed XML: {e}")));
            }
        };
        let end = start_base + reader.buffer_position() as usize;
        match &ev {
            Event::DocType(d) if d.windows(8).any(|w| w == b"<!ENTITY") => {
                break Err(err_at(
                    &pos,
                    at,
                    "DTD entity declarations are not supported (entities are never expanded)"
                        .into(),
                ));
            }
            Event::Start(e) | Event::Empty(e) => {
                let is_start = matches!(ev, Event::Start(_));
                let n = name_of(e);
                match open.len() {
                    0 => {
                        if root_done || n != "annotations" {
                            let close = if is_start { "" } else { "/" };
                            break Err(err_at(
                                &pos,
                                at,
                                format!(
                                    "expected one <annotations> root element, found <{n}{close}>"
                                ),
                            ));
                        }
                        root_lc = {
                            let w = window.borrow();
                            let w = w.live();
                            let upto = at.saturating_sub(pos.base).min(w.len());
                            pos.index(&w[..upto]).locate(at)
                        };
                        if !is_start {
                            root_done = true;
                        }
                    }
                    1 => {
                        // A top-level child begins: what came before it is not needed again.
                        consume_to(&window, &mut pos, at, path)?;
                        child_at = Some(at);
                    }
                    _ => {}
                }
                if is_start {
                    if open.len() >= MAX_DEPTH {
                        break Err(err_at(
                            &pos,
                            at,
                            format!("elements nest deeper than {MAX_DEPTH} levels"),
                        ));
                    }
                    open.push((n, at));
                } else if open.len() == 1 {
                    child_at = None;
                    let carried = std::mem::take(&mut state);
                    match parse_child(carried, &window, &mut pos, at, end, path, opts) {
                        Ok(c) => state = c,
                        Err(e) => break Err(e),
                    }
                }
            }
            Event::End(_) => {
                open.pop();
                match open.len() {
                    0 => root_done = true,
                    1 => {
                        let at = child_at.take().unwrap_or(pos.base);
                        let carried = std::mem::take(&mut state);
                        match parse_child(carried, &window, &mut pos, at, end, path, opts) {
                            Ok(c) => state = c,
                            Err(e) => break Err(e),
                        }
                    }
                    _ => {}
                }
            }
            Event::Eof => {
                let rest: Vec<u8> = window.borrow().live().to_vec();
                let eof = pos.base + rest.len();
                if let Some(e) = utf8_error_in(&pos, &rest, true, path) {
                    return Err(e);
                }
                if let Some((name, opened)) = open.last() {
                    let (l, c) = if open.len() == 1 {
                        root_lc
                    } else {
                        pos.index(&rest).locate(*opened)
                    };
                    let (el, ec) = pos.index(&rest).locate(eof);
                    break Err(Error::parse(
                        path,
                        el,
                        ec,
                        format!("unexpected end of file: <{name}> opened at {l}:{c} is not closed"),
                    ));
                }
                pos.advance(&rest, path)?;
                if !root_done {
                    let (l, c) = pos.index(b"").locate(eof);
                    return Err(Error::parse(
                        path,
                        l,
                        c,
                        "no <annotations> root element: not a CVAT XML file",
                    ));
                }
                let none = LineIndex::new(b"");
                let mut p = Parser::new(Cursor::new("", 0, path, &none, 0), opts);
                p.carry_in(std::mem::take(&mut state));
                break Ok(p.finish());
            }
            // Text, comments and the like outside any top-level element are not needed
            // again: a file padded with them is never held.
            _ if child_at.is_none() && open.len() <= 1 => {
                consume_to(&window, &mut pos, end, path)?;
            }
            _ => {}
        }
    };
    let outcome = match (outcome, child_at) {
        // The whole-file parser reads a top-level element as it goes, so within an element
        // that a later tokenizer error (or the end of the file) cuts short, it reports the
        // first error it meets there; parse what was read of it for that error.
        (Err(e), Some(at)) if !is_utf8_error(&e) => {
            let w = window.borrow();
            let w = w.live();
            let lines = pos.index(w);
            match std::str::from_utf8(w) {
                Ok(text) => {
                    let mut sub = Parser::new(Cursor::new(text, at, path, &lines, 1), opts);
                    sub.carry_in(std::mem::take(&mut state));
                    Err(sub.top_level_child().err().unwrap_or(e))
                }
                Err(_) => Err(e),
            }
        }
        (outcome, _) => outcome,
    };
    // The whole-file reader sees a size limit, then invalid UTF-8 anywhere in the file, before
    // any parse error: on an error, the rest of the stream is read (never held: checked and
    // forgotten as it comes) for either.
    outcome.map_err(|e| {
        let tee = reader.into_inner().into_inner();
        check_rest(tee, &window, &mut pos, path, limit).unwrap_or(e)
    })
}

/// Reads what is left of the stream after an error, holding none of it, and returns the
/// error the whole-file reader would have given first: the size limit, else the first invalid
/// UTF-8 from the window on.
fn check_rest(
    mut tee: impl std::io::Read,
    window: &std::cell::RefCell<Window>,
    pos: &mut WindowPos,
    path: &Path,
    limit: &StreamLimit,
) -> Option<Error> {
    let mut scratch = vec![0u8; 1 << 16];
    loop {
        {
            let mut w = window.borrow_mut();
            let live = w.live();
            let valid = match std::str::from_utf8(live) {
                Ok(_) => live.len(),
                Err(e) if e.error_len().is_some() => {
                    return utf8_error_in(pos, live, true, path);
                }
                Err(e) => e.valid_up_to(),
            };
            let _ = pos.advance(&live[..valid], path);
            w.consume(valid);
        }
        match tee.read(&mut scratch) {
            Ok(0) => {
                let w = window.borrow();
                return utf8_error_in(pos, w.live(), true, path);
            }
            Ok(_) => {}
            Err(_) => return limit.take().map(|m| Error::invalid(path, m)),
        }
    }
}

fn is_utf8_error(e: &Error) -> bool {
    matches!(e, Error::Parse { message, .. } if message.starts_with("invalid UTF-8"))
}

/// What the parse of one top-level element hands to the next: everything [`Parser`] keeps
/// besides its cursor.
#[derive(Default)]
struct Carried {
    ds: Dataset,
    labels: HashMap<String, usize>,
    ann_image: Vec<usize>,
    image_orig_ids: Vec<u64>,
    verbatim: usize,
    seen_meta: bool,
}

impl Parser<'_, '_> {
    fn carry_in(&mut self, c: Carried) {
        self.ds = c.ds;
        self.labels = c.labels;
        self.ann_image = c.ann_image;
        self.image_orig_ids = c.image_orig_ids;
        self.verbatim = c.verbatim;
        self.seen_meta = c.seen_meta;
    }

    fn carry_out(&mut self) -> Carried {
        Carried {
            ds: std::mem::take(&mut self.ds),
            labels: std::mem::take(&mut self.labels),
            ann_image: std::mem::take(&mut self.ann_image),
            image_orig_ids: std::mem::take(&mut self.image_orig_ids),
            verbatim: self.verbatim,
            seen_meta: self.seen_meta,
        }
    }

    /// One element inside `<annotations>`, as [`Parser::parse_root`] reads it when not
    /// batching images.
    fn top_level_child(&mut self) -> Result<()> {
        match self.cur.next()? {
            (Event::Start(e), at) => match name_of(&e).as_str() {
                "version" => {
                    self.ds.meta.cvat_version =
                        Some(self.cur.text("version", at)?.trim().to_string())
                }
                "meta" => self.parse_meta(at)?,
                "image" => self.parse_image(&e, at, true)?,
                n => {
                    let end = self.cur.skip(n, at)?;
                    self.keep_top(at, end);
                }
            },
            (Event::Empty(e), at) => match name_of(&e).as_str() {
                "image" => self.parse_image(&e, at, false)?,
                _ => {
                    let end = self.cur.pos();
                    self.keep_top(at, end);
                }
            },
            (_, at) => return Err(self.cur.err(at, "internal: expected an element here")),
        }
        Ok(())
    }
}

/// Parses the complete top-level element `[at, end)` (at the start of the window) with the
/// in-memory parser, carrying the dataset read so far in `state`, then drops it from the
/// window.
fn parse_child(
    state: Carried,
    window: &std::cell::RefCell<Window>,
    pos: &mut WindowPos,
    at: usize,
    end: usize,
    path: &Path,
    opts: &ReadOptions,
) -> Result<Carried> {
    let w = window.borrow();
    let live = w.live();
    let child = &live[..end.saturating_sub(pos.base).min(live.len())];
    let lines = pos.index(child);
    let text = match std::str::from_utf8(child) {
        Ok(t) => t,
        Err(e) => {
            let (l, c) = lines.locate(at + e.valid_up_to());
            return Err(Error::parse(
                path,
                l,
                c,
                "invalid UTF-8 (CVAT XML must be UTF-8)",
            ));
        }
    };
    let mut sub = Parser::new(Cursor::new(text, at, path, &lines, 1), opts);
    sub.carry_in(state);
    sub.top_level_child()?;
    let out = sub.carry_out();
    let n = child.len();
    pos.advance(child, path)?;
    drop(w);
    window.borrow_mut().consume(n);
    Ok(out)
}

/// Done with the live bytes before file offset `to`: checked and counted (`WindowPos`), then
/// forgotten.
fn consume_to(
    window: &std::cell::RefCell<Window>,
    pos: &mut WindowPos,
    to: usize,
    path: &Path,
) -> Result<()> {
    let mut w = window.borrow_mut();
    let n = to.saturating_sub(pos.base).min(w.live().len());
    pos.advance(&w.live()[..n], path)?;
    w.consume(n);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(xml: &str) -> Result<(Dataset, Lossiness)> {
        read_bytes(xml.as_bytes(), Path::new("t.xml"), &ReadOptions::default())
    }

    #[test]
    fn bom_and_plain_doctype_are_accepted_and_offsets_count_the_bom() {
        let xml = "\u{feff}<!DOCTYPE annotations>\n<annotations><image id=\"0\" name=\"a\" width=\"2\" height=\"2\"><tag label=\"t\"/></image></annotations>";
        let (ds, _) = read(xml).unwrap();
        let loc = ds.annotations[0].loc.unwrap();
        assert_eq!(&xml[loc.start..loc.end], "<tag label=\"t\"/>");
        assert_eq!(loc.line, 2);
    }

    #[test]
    fn number_error_points_into_the_points_list() {
        let xml = "<annotations><image id=\"0\" name=\"a\" width=\"2\" height=\"2\"><points label=\"t\" points=\"1,2;x,4\"/></image></annotations>";
        let msg = read(xml).unwrap_err().to_string();
        // `x,4` starts at byte 87 (column 88)
        assert!(msg.starts_with("t.xml:1:88:"), "{msg}");
    }

    type Parsed = Result<(Dataset, Lossiness)>;

    /// Both ways of parsing, on the same bytes.
    fn both_ways(xml: &str) -> (Parsed, Parsed) {
        let lines = LineIndex::new(xml.as_bytes());
        let path = Path::new("t.xml");
        let opts = ReadOptions::default();
        (
            parse(xml, 0, path, &lines, &opts, true),
            parse(xml, 0, path, &lines, &opts, false),
        )
    }

    #[test]
    fn parallel_images_give_the_sequential_model() {
        // Undeclared labels first used in different images (categories are numbered in
        // document order), an element between images (a batch boundary), an empty image, an
        // unknown element inside an image, a shape with <attribute> children.
        let xml = "<annotations><version>1.1</version>\n\
            <image id=\"4\" name=\"a.png\" width=\"50\" height=\"40\">\n\
            <ellipse label=\"B\" cx=\"10\" cy=\"10\" rx=\"3\" ry=\"2\"><attribute name=\"k\">v</attribute></ellipse>\n\
            <skeleton label=\"s\"/></image>\n\
            <image id=\"4\" name=\"b.png\" width=\"50\" height=\"40\"/>\n\
            <track id=\"0\" label=\"T\"></track>\n\
            <image id=\"9\" name=\"c.png\" width=\"50\" height=\"40\">\n\
            <box label=\"A\" xtl=\"1\" ytl=\"1\" xbr=\"5\" ybr=\"5\"/><ellipse label=\"B\" cx=\"20\" cy=\"20\" rx=\"4\" ry=\"4\"/>\n\
            </image></annotations>";
        let (par, seq) = both_ways(xml);
        let (par, seq) = (par.expect("parallel"), seq.expect("sequential"));
        assert_eq!(par.0, seq.0);
        assert_eq!(format!("{:?}", par.1), format!("{:?}", seq.1));
        let names: Vec<&str> = par.0.categories.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["B", "A"]);
        assert_eq!(par.0.annotations.len(), 3);
        assert_eq!(par.0.annotations[2].loc.map(|l| l.line), Some(8));
    }

    #[test]
    fn parallel_images_match_on_the_conformance_files() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/conformance");
        for f in [
            "cvat-ellipse/annotations_4classes.xml",
            "datumaro-cvat/export_project_annotations.xml",
            "datumaro-cvat/export_task_train.xml",
        ] {
            let xml = std::fs::read_to_string(dir.join(f)).expect("fixture");
            let (par, seq) = both_ways(&xml);
            assert_eq!(par.expect(f).0, seq.expect(f).0, "{f}");
        }
    }

    #[test]
    fn whatever_the_parallel_parse_accepts_the_sequential_parse_reads_the_same() {
        // Seeded byte mutations of a real export: a parallel success that the sequential
        // parse would refuse or read differently would be a silent difference.
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/conformance");
        let original =
            std::fs::read(dir.join("cvat-ellipse/annotations_4classes.xml")).expect("fixture");
        let alphabet = b"<>/=\"' \nabcdeilmnprstxy0123456789.-&;";
        let mut accepted = 0;
        for m in crate::test_mutations::mutants(&original, 7, 300, 1..4, alphabet) {
            let Ok(text) = std::str::from_utf8(&m) else {
                continue;
            };
            let (par, seq) = both_ways(text);
            if let Ok((ds, _)) = par {
                accepted += 1;
                let (seq_ds, _) = seq.expect("the sequential parse accepts it too");
                assert_eq!(ds, seq_ds);
            }
        }
        // The mutations must leave some files readable, or this test tests nothing.
        assert!(accepted > 30, "only {accepted} mutants were accepted");
    }

    #[test]
    fn an_error_in_a_later_image_is_reported_as_the_sequential_parse_reports_it() {
        let xml = "<annotations>\n<image id=\"0\" name=\"a\" width=\"9\" height=\"9\"><ellipse label=\"t\" cx=\"1\" cy=\"1\" rx=\"1\" ry=\"1\"/></image>\n<image id=\"1\" name=\"b\" width=\"9\" height=\"9\"><ellipse label=\"t\" cx=\"1\" rx=\"1\" ry=\"1\"/></image>\n<image id=\"2\" name=\"c\" width=\"9\" height=\"9\"><ellipse></image></annotations>";
        let msg = read(xml).unwrap_err().to_string();
        // The missing `cy` (line 3) comes before the mismatched end tag (line 4).
        assert!(msg.starts_with("t.xml:3:"), "{msg}");
        assert!(msg.contains("`cy`"), "{msg}");
    }

    #[test]
    fn a_shape_with_only_known_attributes_keeps_no_attribute_buffer() {
        // A million ellipses each holding an empty list with room for all their attributes
        // was a third of the reader's peak memory.
        let xml = "<annotations><image id=\"0\" name=\"a\" width=\"9\" height=\"9\"><ellipse label=\"t\" source=\"manual\" occluded=\"0\" cx=\"1\" cy=\"2\" rx=\"1\" ry=\"1\" rotation=\"3\" z_order=\"0\"/><ellipse label=\"t\" cx=\"1\" cy=\"2\" rx=\"1\" ry=\"1\" extra=\"kept\"/></image></annotations>";
        let (ds, _) = read(xml).expect("reads");
        assert_eq!(ds.annotations[0].cvat.attrs.capacity(), 0);
        assert_eq!(ds.annotations[0].cvat.source.as_deref(), Some("manual"));
        assert_eq!(ds.annotations[0].cvat.group_id, None);
        assert_eq!(
            ds.annotations[1].cvat.attrs,
            vec![("extra".to_string(), "kept".to_string())]
        );
    }

    #[test]
    fn an_attribute_twice_is_an_error_at_the_second() {
        let xml = "<annotations>\n<image id=\"0\" name=\"a\" width=\"9\" height=\"9\">\n<ellipse label=\"t\" cx=\"1\" cy=\"2\" rx=\"1\" ry=\"1\" cx=\"5\"/></image></annotations>";
        let msg = read(xml).unwrap_err().to_string();
        assert!(msg.contains("attribute `cx` appears twice"), "{msg}");
        assert!(msg.contains(":3:"), "points at line 3: {msg}");
    }

    #[test]
    fn too_many_points_is_an_error() {
        let pts = vec!["1,1"; MAX_POINTS + 1].join(";");
        let xml = format!("<annotations><image id=\"0\" name=\"a\" width=\"2\" height=\"2\"><polyline label=\"t\" points=\"{pts}\"/></image></annotations>");
        assert!(read(&xml).unwrap_err().to_string().contains("more than"));
    }

    #[test]
    fn mask_runs_with_spaces_and_other_attributes_in_order() {
        let xml = "<annotations><image id=\"0\" name=\"a\" width=\"9\" height=\"9\"><mask label=\"m\" source=\"auto\" occluded=\"0\" rle=\"2, 3, 1\" left=\"1\" top=\"2\" width=\"3\" height=\"2\" z_order=\"0\" extra=\"y\" more=\"z\"></mask></image></annotations>";
        let (ds, _) = read(xml).unwrap();
        let a = &ds.annotations[0];
        assert_eq!(
            a.shape,
            Shape::Mask(MaskData::Cvat {
                left: 1,
                top: 2,
                width: 3,
                height: 2,
                counts: vec![2, 3, 1]
            })
        );
        assert_eq!(a.cvat.source.as_deref(), Some("auto"));
        let extra: Vec<_> = a
            .cvat
            .attrs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(extra, [("extra", "y"), ("more", "z")]);
    }
}
