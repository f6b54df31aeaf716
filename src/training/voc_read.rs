//! Reads a Pascal VOC detection dataset (as [`super::voc`] writes it, and as CVAT and the VOC
//! devkit lay it out) back into the model: `Annotations/*.xml` for the images and their
//! boxes, `labelmap.txt` for the classes and their colours when present, and
//! `ImageSets/Main/<split>.txt` for the splits.
//!
//! - Every `<object>` becomes an axis-aligned box. VOC holds nothing else, so shapes that were
//!   ellipses or polygons before a VOC export come back as their boxes; the read reports how
//!   many boxes it read (`voc-boxes-read`) so the report says which shapes are boxes.
//! - VOC boxes are 1-based and inclusive; the model's are 0-based with an exclusive end:
//!   `xtl = xmin − 1`, `xbr = xmax` (the inverse of the writer).
//! - Categories: `labelmap.txt` in its order (so labels without a box are kept), then any
//!   `<name>` it does not list, in reading order. Image sizes come from `<size>`, which must
//!   be there: boxes cannot be checked against an image of unknown size.
//! - Hostile files: XML is parsed with quick-xml, which never expands DTD entities, and a
//!   DTD declaring any is refused; numbers must be finite and within range; nesting is
//!   limited; a `<filename>` that is absolute or climbs out with `..` is not kept (the image
//!   is named after its annotation file, reported as `unsafe-path`). Nothing read here is
//!   ever opened as a path.
//! - VOC has no ids: images, categories and annotations are numbered from 1 in reading order
//!   (annotation files sorted by name).

use crate::error::{line_col, Error, Result};
use crate::lossiness::Lossiness;
use crate::model::{
    Annotation, AnnotationId, BoxShape, Category, CategoryId, Dataset, Image, ImageId, Rgb, Shape,
};
use quick_xml::events::Event;
use quick_xml::Reader;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// Deeper nesting than this is not a VOC file (the devkit's deepest is 4 levels).
const MAX_DEPTH: usize = 64;
/// Coordinates beyond this are not pixel positions of any real image (as in the COCO and
/// CVAT readers).
const MAX_MAGNITUDE: f64 = 1e9;
/// Annotation files read at most: a folder of millions of files is not a dataset of ours.
const MAX_FILES: usize = 1_000_000;

/// Counts of a dataset read, for the user.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VocReadSummary {
    /// Annotation files read.
    pub annotation_files: usize,
    /// Boxes read (every VOC object is a box).
    pub boxes: usize,
    /// Whether the classes (and their colours) came from `labelmap.txt`.
    pub labelmap: bool,
    /// Split lists read from `ImageSets/Main/`.
    pub splits: Vec<String>,
}

/// Whether `dir` looks like a VOC dataset: an `Annotations` folder and no
/// `SegmentationClass` (a segmentation export, read as masks).
pub fn looks_like_voc(dir: &Path) -> bool {
    dir.join("Annotations").is_dir() && !dir.join("SegmentationClass").is_dir()
}

/// The dataset root and its `Annotations` folder, given either.
fn locate(input: &Path) -> Result<(PathBuf, PathBuf)> {
    if input.join("Annotations").is_dir() {
        return Ok((input.to_path_buf(), input.join("Annotations")));
    }
    if input.is_dir() && input.file_name().is_some_and(|n| n == "Annotations") {
        let root = input.parent().unwrap_or(Path::new(".")).to_path_buf();
        return Ok((root, input.to_path_buf()));
    }
    Err(Error::invalid(
        input,
        "not a Pascal VOC dataset: no Annotations/ folder (give the folder holding Annotations/)",
    ))
}

/// One `<object>` as read, before it becomes an annotation.
#[derive(Default)]
struct Object {
    at: usize,
    name: Option<String>,
    bbox: [Option<(f64, usize)>; 4],
    occluded: bool,
    difficult: bool,
    parts: usize,
}

/// One annotation file as read.
struct VocFile {
    filename: Option<(String, usize)>,
    width: Option<u32>,
    height: Option<u32>,
    objects: Vec<Object>,
}

/// Reads one annotation file. Every problem is an error naming the file, line and column.
fn parse_file(path: &Path, bytes: &[u8]) -> Result<VocFile> {
    let err = |at: usize, msg: String| {
        let (l, c) = line_col(bytes, at);
        Error::parse(path, l, c, msg)
    };
    let mut reader = Reader::from_reader(bytes);
    reader.config_mut().trim_text(true);
    let mut stack: Vec<Vec<u8>> = Vec::new();
    let mut file = VocFile {
        filename: None,
        width: None,
        height: None,
        objects: Vec::new(),
    };
    let mut current: Option<Object> = None;
    let mut saw_root = false;
    let mut buf = Vec::new();
    loop {
        // The event starts after any white space the reader trims: point at its `<`.
        let pos = reader.buffer_position() as usize;
        let at = pos
            + bytes.get(pos..).map_or(0, |b| {
                b.iter().take_while(|c| c.is_ascii_whitespace()).count()
            });
        let ev = match reader.read_event_into(&mut buf) {
            Ok(ev) => ev,
            Err(e) => {
                return Err(err(
                    reader.error_position() as usize,
                    format!("malformed XML: {e}"),
                ))
            }
        };
        match ev {
            Event::Eof => break,
            Event::DocType(d) if d.windows(8).any(|w| w == b"<!ENTITY") => {
                return Err(err(
                    at,
                    "DTD entity declarations are not supported (entities are never expanded)"
                        .into(),
                ));
            }
            Event::Start(e) => {
                let name = e.local_name().as_ref().to_vec();
                if stack.is_empty() {
                    if name != b"annotation" {
                        return Err(err(
                            at,
                            format!(
                                "not a VOC annotation: the root element is <{}>, not <annotation>",
                                String::from_utf8_lossy(&name)
                            ),
                        ));
                    }
                    saw_root = true;
                }
                if stack.len() == 1 && name == b"object" {
                    current = Some(Object {
                        at,
                        ..Object::default()
                    });
                }
                if stack.len() == 2 && stack[1] == b"object" {
                    if let Some(o) = current.as_mut() {
                        match name.as_slice() {
                            b"part" => o.parts += 1,
                            // A CVAT label may be named "": `<name></name>` is a name.
                            b"name" => {
                                o.name.get_or_insert_with(String::new);
                            }
                            _ => {}
                        }
                    }
                }
                stack.push(name);
                if stack.len() > MAX_DEPTH {
                    return Err(err(
                        at,
                        format!("elements nest deeper than {MAX_DEPTH} levels"),
                    ));
                }
            }
            Event::Empty(e) => {
                if stack.is_empty() {
                    return Err(err(
                        at,
                        "not a VOC annotation: the root element is empty".into(),
                    ));
                }
                // `<object/>` is an object without a name: refused like any nameless one.
                if stack.len() == 1 && e.local_name().as_ref() == b"object" {
                    return Err(err(at, "<object> has no <name>".into()));
                }
                if stack.len() == 2 && stack[1] == b"object" && e.local_name().as_ref() == b"name" {
                    if let Some(o) = current.as_mut() {
                        o.name.get_or_insert_with(String::new);
                    }
                }
            }
            Event::End(_) => {
                if stack.len() == 2 && stack[1] == b"object" {
                    if let Some(o) = current.take() {
                        file.objects.push(o);
                    }
                }
                stack.pop();
            }
            Event::Text(t) => {
                let text = t
                    .unescape()
                    .map_err(|e| err(at, format!("bad character or entity reference: {e}")))?;
                leaf(&stack, &text, at, &mut file, current.as_mut(), &err)?;
            }
            Event::CData(t) => {
                let text = String::from_utf8_lossy(&t).into_owned();
                leaf(&stack, text.trim(), at, &mut file, current.as_mut(), &err)?;
            }
            _ => {}
        }
        buf.clear();
    }
    if let Some(open) = stack.last() {
        return Err(err(
            bytes.len(),
            format!(
                "unexpected end of file: <{}> is not closed",
                String::from_utf8_lossy(open)
            ),
        ));
    }
    if !saw_root {
        return Err(err(
            bytes.len(),
            "not a VOC annotation: no <annotation> element".into(),
        ));
    }
    Ok(file)
}

/// The text of a leaf element, stored where VOC puts it.
fn leaf(
    stack: &[Vec<u8>],
    text: &str,
    at: usize,
    file: &mut VocFile,
    obj: Option<&mut Object>,
    err: &dyn Fn(usize, String) -> Error,
) -> Result<()> {
    let path: Vec<&[u8]> = stack.iter().map(Vec::as_slice).collect();
    let side = |what: &str| -> Result<u32> {
        // Some tools write sizes as "500.0": an integral number is accepted in either form.
        let v: f64 = text
            .parse()
            .map_err(|_| err(at, format!("<{what}> {text:?} is not a number")))?;
        if !(v.is_finite() && v.fract() == 0.0 && v >= 1.0) {
            return Err(err(
                at,
                format!("<{what}> {text:?} is not a whole number of pixels ≥ 1"),
            ));
        }
        if v > crate::model::limits::MAX_SIDE as f64 {
            return Err(err(
                at,
                format!(
                    "<{what}> {text} is larger than the {} px limit",
                    crate::model::limits::MAX_SIDE
                ),
            ));
        }
        Ok(v as u32)
    };
    let flag = |what: &str| -> Result<bool> {
        match text {
            "0" | "false" | "" => Ok(false),
            "1" | "true" => Ok(true),
            _ => Err(err(at, format!("<{what}> {text:?} is not 0 or 1"))),
        }
    };
    match path.as_slice() {
        [b"annotation", b"filename"] => file.filename = Some((text.to_string(), at)),
        [b"annotation", b"size", b"width"] => file.width = Some(side("width")?),
        [b"annotation", b"size", b"height"] => file.height = Some(side("height")?),
        [b"annotation", b"object", rest @ ..] => {
            let Some(o) = obj else { return Ok(()) };
            match rest {
                [b"name"] => o.name = Some(text.to_string()),
                [b"occluded"] => o.occluded = flag("occluded")?,
                [b"difficult"] => o.difficult = flag("difficult")?,
                [b"bndbox", k] => {
                    let i = match *k {
                        b"xmin" => 0,
                        b"ymin" => 1,
                        b"xmax" => 2,
                        b"ymax" => 3,
                        _ => return Ok(()),
                    };
                    let key = String::from_utf8_lossy(k);
                    let v: f64 = text
                        .parse()
                        .map_err(|_| err(at, format!("<{key}> {text:?} is not a number")))?;
                    if !v.is_finite() || v.abs() > MAX_MAGNITUDE {
                        return Err(err(
                            at,
                            format!("<{key}> {text} is out of range (|v| > {MAX_MAGNITUDE})"),
                        ));
                    }
                    o.bbox[i] = Some((v, at));
                }
                _ => {}
            }
        }
        _ => {}
    }
    Ok(())
}

/// `ImageSets/Main/<split>.txt`: image stem → split. Per-class lists (`cat_train.txt`, whose
/// lines are `stem 1`) are not splits and are skipped, and so is `trainval` when `train` or
/// `val` is there (it is their union).
fn read_splits(root: &Path) -> Result<(HashMap<String, String>, Vec<String>)> {
    let dir = root.join("ImageSets").join("Main");
    let mut lists: BTreeMap<String, PathBuf> = BTreeMap::new();
    if let Ok(rd) = std::fs::read_dir(&dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "txt") && p.is_file() {
                if let Some(stem) = p.file_stem().and_then(|s| s.to_str()) {
                    lists.insert(stem.to_string(), p);
                }
            }
        }
    }
    if lists.contains_key("train") || lists.contains_key("val") {
        lists.remove("trainval");
    }
    let mut of: HashMap<String, String> = HashMap::new();
    let mut names = Vec::new();
    for (split, p) in lists {
        // A split name becomes a CVAT subset and a folder name on the next export.
        if crate::path_safety::component_problem(&split).is_some() {
            continue;
        }
        let bytes = crate::error::read_input(&p)?;
        let text = String::from_utf8_lossy(&bytes);
        let mut rows = text.lines().map(str::trim).filter(|l| !l.is_empty());
        if rows.clone().any(|l| l.split_whitespace().count() != 1) {
            continue;
        }
        for stem in rows.by_ref() {
            of.entry(stem.to_string()).or_insert_with(|| split.clone());
        }
        names.push(split);
    }
    Ok((of, names))
}

/// The classes of a `labelmap.txt` (`name:r,g,b:parts:actions`), in order, without
/// `background`. Lenient where the masks reader is strict: here the file only names classes
/// (boxes carry their own `<name>`), so an empty name — a CVAT label may have one — is kept
/// and a colour that does not parse is no colour.
fn labelmap_classes(text: &str) -> Vec<(&str, Option<Rgb>)> {
    text.lines()
        .map(|l| l.trim_end_matches('\r'))
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .filter_map(|l| {
            // The writer refuses names holding `:`, so the first `:` ends the name.
            let (name, rest) = l.split_once(':')?;
            let color = rest.split(':').next().and_then(|c| {
                let v: Vec<u8> = c
                    .split(',')
                    .map(|p| p.trim().parse::<u8>())
                    .collect::<std::result::Result<_, _>>()
                    .ok()?;
                <[u8; 3]>::try_from(v).ok().map(Rgb)
            });
            (name != "background").then_some((name, color))
        })
        .collect()
}

/// Reads the VOC dataset at `input` (its root, or its `Annotations` folder).
pub fn read_dir(input: &Path) -> Result<(Dataset, Lossiness, VocReadSummary)> {
    let (root, ann_dir) = locate(input)?;
    let mut files: Vec<PathBuf> = Vec::new();
    for e in walkdir::WalkDir::new(&ann_dir)
        .follow_links(false)
        .sort_by_file_name()
    {
        let e = e.map_err(|e| {
            let p = e.path().unwrap_or(&ann_dir).to_path_buf();
            Error::io(&p, std::io::Error::other(e.to_string()))
        })?;
        if e.file_type().is_file()
            && e.path()
                .extension()
                .is_some_and(|x| x.eq_ignore_ascii_case("xml"))
        {
            files.push(e.into_path());
            if files.len() > MAX_FILES {
                return Err(Error::invalid(
                    &ann_dir,
                    format!("more than {MAX_FILES} annotation files"),
                ));
            }
        }
    }
    if files.is_empty() {
        return Err(Error::invalid(
            &ann_dir,
            "no annotation files (*.xml) in this folder: nothing to read",
        ));
    }
    let mut ds = Dataset::default();
    let mut loss = Lossiness::default();
    let mut sum = VocReadSummary {
        annotation_files: files.len(),
        ..Default::default()
    };
    // Classes: the labelmap's first, so that labels without any box and their colours are
    // kept.
    let labelmap = root.join("labelmap.txt");
    let mut class_of: HashMap<String, CategoryId> = HashMap::new();
    let mut add_class = |ds: &mut Dataset, name: &str, color: Option<Rgb>| -> CategoryId {
        if let Some(&id) = class_of.get(name) {
            return id;
        }
        let id = CategoryId(ds.categories.len() as u64 + 1);
        ds.categories.push(Category {
            id,
            name: name.to_string(),
            supercategory: String::new(),
            color,
            kind: None,
            attributes: Vec::new(),
            coco_extra: Default::default(),
        });
        class_of.insert(name.to_string(), id);
        id
    };
    if labelmap.is_file() {
        let bytes = crate::error::read_input(&labelmap)?;
        let text = crate::training::yolo_labels::label_text(&bytes, &labelmap)?;
        for (name, color) in labelmap_classes(text) {
            add_class(&mut ds, name, color);
        }
        sum.labelmap = true;
    }
    let (split_of, split_names) = read_splits(&root)?;
    // The writer lists every image under `train` when the input had no splits: one `train`
    // list alone says nothing, and is not made a subset of every image.
    let use_splits = !(split_names.len() == 1 && split_names[0] == "train");
    sum.splits = split_names;
    for (n, path) in files.iter().enumerate() {
        let bytes = crate::error::read_input(path)?;
        let f = parse_file(path, &bytes)?;
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let (Some(width), Some(height)) = (f.width, f.height) else {
            return Err(Error::parse(
                path,
                1,
                1,
                "no <size> with <width> and <height>: boxes cannot be placed on an image of unknown size",
            ));
        };
        let file_name = match &f.filename {
            Some((name, _)) if !name.is_empty() => {
                if let Some(why) = crate::path_safety::unsafe_reason(name) {
                    loss.add(
                        "unsafe-path",
                        1,
                        format!(
                            "<filename> {name:?} {why}; the image is named after its annotation file"
                        ),
                    );
                    stem.clone()
                } else {
                    name.clone()
                }
            }
            // No <filename>: the annotation file's stem is the image's name (the devkit's
            // convention: Annotations/<stem>.xml describes JPEGImages/<stem>.jpg).
            _ => stem.clone(),
        };
        let image_id = ImageId(n as u64 + 1);
        let mut im = Image::new(image_id, file_name, width, height);
        if use_splits {
            im.subset = split_of.get(&stem).cloned();
        }
        ds.images.push(im);
        for o in f.objects {
            let Some(name) = o.name.as_deref() else {
                let (l, c) = line_col(&bytes, o.at);
                return Err(Error::parse(path, l, c, "<object> has no <name>"));
            };
            let mut v = [0.0; 4];
            for (i, key) in ["xmin", "ymin", "xmax", "ymax"].iter().enumerate() {
                let Some((x, _)) = o.bbox[i] else {
                    let (l, c) = line_col(&bytes, o.at);
                    return Err(Error::parse(
                        path,
                        l,
                        c,
                        format!("<object> {name:?} has no <bndbox> <{key}>"),
                    ));
                };
                v[i] = x;
            }
            // 1-based inclusive: a box of one pixel has xmin == xmax.
            for (lo, hi, axis) in [(0, 2, "x"), (1, 3, "y")] {
                if v[hi] < v[lo] - 1.0 {
                    let at = o.bbox[hi].map_or(o.at, |b| b.1);
                    let (l, c) = line_col(&bytes, at);
                    return Err(Error::parse(
                        path,
                        l,
                        c,
                        format!(
                            "<object> {name:?}: {axis}max {} is left of {axis}min {}",
                            v[hi], v[lo]
                        ),
                    ));
                }
            }
            let category_id = add_class(&mut ds, name, None);
            let shape = Shape::Box(BoxShape {
                xtl: v[0] - 1.0,
                ytl: v[1] - 1.0,
                xbr: v[2],
                ybr: v[3],
                rotation: 0.0,
            });
            let id = AnnotationId(ds.annotations.len() as u64 + 1);
            let mut a = Annotation::new(id, image_id, category_id, shape);
            a.occluded = o.occluded;
            let (l, c) = line_col(&bytes, o.at);
            a.loc = Some(crate::model::SourceLoc {
                line: l,
                column: c,
                start: o.at,
                end: o.at,
            });
            if o.difficult {
                a.attributes
                    .insert("difficult".into(), serde_json::Value::Bool(true));
            }
            if o.parts > 0 {
                loss.add(
                    "parts-dropped",
                    o.parts,
                    "<part> boxes inside an object (person layout) have no place in the model",
                );
            }
            ds.annotations.push(a);
        }
    }
    sum.boxes = ds.annotations.len();
    loss.input.insert("voc-box".into(), sum.boxes);
    for (k, v) in ds.shape_counts() {
        loss.output.insert(k.to_string(), v);
    }
    loss.note(
        "voc-boxes-read",
        sum.boxes,
        "read as boxes: VOC holds only boxes, so shapes that were ellipses or polygons before \
         the VOC export are boxes now",
    );
    Ok((ds, loss, sum))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<VocFile> {
        parse_file(Path::new("a.xml"), s.as_bytes())
    }

    #[test]
    fn reads_one_object_with_its_flags() {
        let f = parse(
            "<annotation><filename>a.png</filename><size><width>10</width><height>8</height></size>\
             <object><name>A &amp; B</name><occluded>1</occluded><difficult>1</difficult>\
             <bndbox><xmin>1</xmin><ymin>2</ymin><xmax>5</xmax><ymax>6.5</ymax></bndbox></object></annotation>",
        )
        .expect("reads");
        assert_eq!(f.filename.map(|f| f.0).as_deref(), Some("a.png"));
        assert_eq!((f.width, f.height), (Some(10), Some(8)));
        let o = &f.objects[0];
        assert_eq!(o.name.as_deref(), Some("A & B"));
        assert!(o.occluded && o.difficult);
        assert_eq!(
            o.bbox.map(|b| b.map(|b| b.0)),
            [Some(1.0), Some(2.0), Some(5.0), Some(6.5)]
        );
    }

    #[test]
    fn errors_carry_line_and_column() {
        let e = parse("<annotation>\n  <size><width>1e400</width></size></annotation>")
            .err()
            .expect("refused");
        let Error::Parse { line, column, .. } = e else {
            panic!("not a parse error: {e}")
        };
        assert_eq!((line, column), (2, 16));
        assert!(parse("<voc/>").is_err());
        assert!(parse("<annotation><object>").is_err());
        assert!(parse("<annotation></object>").is_err());
    }

    /// Every single-byte change and every truncation of a valid file reads or is refused
    /// with an error; none panics (the fuzz targets' property, cheaply, in every test run).
    #[test]
    fn mutated_files_never_panic() {
        let good = "<?xml version=\"1.0\"?>\n<annotation><filename>a.png</filename>\
            <size><width>10</width><height>8</height></size>\
            <object><name>A</name><occluded>0</occluded><part><name>p</name></part>\
            <bndbox><xmin>1</xmin><ymin>2</ymin><xmax>5</xmax><ymax>6</ymax></bndbox></object>\
            </annotation>";
        let bytes = good.as_bytes();
        let mut refused = 0;
        for i in 0..bytes.len() {
            for b in [b'<', b'>', b'&', b'/', b'9', b'-', 0u8, 0xFF] {
                let mut m = bytes.to_vec();
                m[i] = b;
                refused += usize::from(parse_file(Path::new("m.xml"), &m).is_err());
            }
            refused += usize::from(parse_file(Path::new("m.xml"), &bytes[..i]).is_err());
        }
        assert!(parse_file(Path::new("good.xml"), bytes).is_ok());
        assert!(refused > bytes.len(), "most mutants are refused: {refused}");
    }
}
