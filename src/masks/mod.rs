//! Segmentation masks of annotated images (docs/design.md §3): colour, class index and instance PNGs.
//!
//! Every mask is painted with the one rasteriser of [`crate::geometry::raster`], shapes in
//! [`raster::paint_order`] (ascending `z_order`, ties in document order, later on top).
//! Classes are matched to the label set **by name** (exactly, then ignoring case, spacing and
//! punctuation), because a dataset's category ids need not be the label set's.

pub mod dataset;
pub mod font;
pub mod overlay;
pub mod regions;

use crate::error::{Error, Result};
use crate::geometry::raster;
use crate::labelset::LabelSet;
use crate::model::{Annotation, AnnotationId, Category, CategoryId, Dataset, Image, Rgb};
use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::{GrayImage, ImageBuffer, ImageEncoder, Luma, RgbImage};
use indexmap::IndexMap;
use rayon::prelude::*;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Largest accepted mask side, in pixels (docs/design.md §6: sizes are limited, never trusted).
pub const MAX_SIDE: u32 = 100_000;
/// Largest accepted mask, in pixels (1 Gpx).
pub const MAX_PIXELS: u64 = 1_000_000_000;

/// Which mask to render.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MaskKind {
    /// RGB, label-set colours on the label set's background colour (the published kind).
    Color,
    /// 8-bit class index: the class id in the label set, 0 = background.
    Index,
    /// 16-bit instance number: 1..=n in paint order, 0 = background.
    Instance,
}

/// A 16-bit grayscale image (instance masks).
pub(crate) type Gray16Image = ImageBuffer<Luma<u16>, Vec<u16>>;

/// A rendered mask buffer.
#[derive(Clone, Debug, PartialEq)]
pub enum MaskBuffer {
    /// A colour mask: each class in its label-set colour.
    Color(RgbImage),
    /// A class-index mask: 0 background, else the class id.
    Index(GrayImage),
    /// An instance mask: 0 background, else the instance number (see `RenderedMask::instances`).
    Instance(Gray16Image),
}

impl MaskBuffer {
    /// `(width, height)`.
    pub fn dimensions(&self) -> (u32, u32) {
        match self {
            MaskBuffer::Color(m) => m.dimensions(),
            MaskBuffer::Index(m) => m.dimensions(),
            MaskBuffer::Instance(m) => m.dimensions(),
        }
    }
}

/// A rendered mask with what happened to each annotation.
#[derive(Clone, Debug, PartialEq)]
pub struct RenderedMask {
    /// The pixels.
    pub buffer: MaskBuffer,
    /// Shapes painted (for `Instance`, each got a number).
    pub painted: usize,
    /// Shapes that cannot paint pixels (polylines, points, tags), per shape kind.
    pub not_paintable: IndexMap<&'static str, usize>,
    /// Shapes whose class has no colour/index in the label set (not painted; `Color` and
    /// `Index` only — an instance mask needs no class).
    pub no_class: usize,
    /// For `Instance`: the annotation of instance `k` is `instances[k - 1]`.
    pub instances: Vec<AnnotationId>,
}

/// What a dataset category becomes in a mask.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClassStyle {
    /// The class id in the label set (the index-mask value).
    pub index: u8,
    /// The class colour in colour masks.
    pub color: Rgb,
}

/// Dataset category id → label-set class, prebuilt once per dataset.
#[derive(Clone, Debug, PartialEq)]
pub struct ClassLookup {
    /// Colour of unannotated pixels.
    pub background: Rgb,
    map: HashMap<CategoryId, ClassStyle>,
}

impl Default for ClassLookup {
    /// No classes, black background.
    fn default() -> Self {
        ClassLookup {
            background: Rgb([0, 0, 0]),
            map: HashMap::new(),
        }
    }
}

impl ClassLookup {
    /// Matches each dataset category to the label-set class of the same name (exact first,
    /// then loose: case, spaces and punctuation ignored). Unmatched categories are absent.
    pub fn new(categories: &[Category], labels: &LabelSet) -> ClassLookup {
        let mut map = HashMap::new();
        for c in categories {
            let class = labels
                .by_name(&c.name)
                .or_else(|| labels.by_loose_name(&c.name));
            if let Some(class) = class {
                // LabelSet::parse guarantees ids 1..=255.
                if let Ok(index) = u8::try_from(class.id.0) {
                    map.insert(
                        c.id,
                        ClassStyle {
                            index,
                            color: class.color,
                        },
                    );
                }
            }
        }
        ClassLookup {
            background: labels.background,
            map,
        }
    }

    /// Adds or replaces one mapping (for callers with their own matching rules).
    pub fn insert(&mut self, id: CategoryId, style: ClassStyle) {
        self.map.insert(id, style);
    }

    /// The style of a dataset category, if it has one.
    pub fn get(&self, id: CategoryId) -> Option<ClassStyle> {
        self.map.get(&id).copied()
    }
}

/// Refuses mask sizes that are zero, above [`MAX_SIDE`] a side or above [`MAX_PIXELS`].
pub(crate) fn check_size(image: &Image) -> Result<()> {
    let (w, h) = (image.width, image.height);
    if w == 0 || h == 0 || w > MAX_SIDE || h > MAX_SIDE || u64::from(w) * u64::from(h) > MAX_PIXELS
    {
        return Err(Error::invalid(
            Path::new(&image.file_name),
            format!(
                "declared size {w}×{h} is not a mask size this tool renders \
                 (1..={MAX_SIDE} px a side, at most {MAX_PIXELS} px)"
            ),
        ));
    }
    Ok(())
}

/// Renders the mask of one image from its annotations (dimensions from the declared size).
pub fn render(
    image: &Image,
    anns: &[&Annotation],
    classes: &ClassLookup,
    kind: MaskKind,
) -> Result<RenderedMask> {
    check_size(image)?;
    let (w, h) = (image.width, image.height);
    let mut out = RenderedMask {
        buffer: match kind {
            MaskKind::Color => {
                let bg = classes.background.0;
                // A zeroed buffer comes from the allocator for free; fill only when needed.
                let mut m = RgbImage::new(w, h);
                if bg != [0, 0, 0] {
                    let raw: &mut [u8] = &mut m;
                    raw.chunks_exact_mut(3).for_each(|p| p.copy_from_slice(&bg));
                }
                MaskBuffer::Color(m)
            }
            MaskKind::Index => MaskBuffer::Index(GrayImage::new(w, h)),
            MaskKind::Instance => MaskBuffer::Instance(Gray16Image::new(w, h)),
        },
        painted: 0,
        not_paintable: IndexMap::new(),
        no_class: 0,
        instances: Vec::new(),
    };
    for i in raster::paint_order(anns) {
        let a = anns[i];
        if !raster::is_fillable(&a.shape) {
            *out.not_paintable.entry(a.shape.kind()).or_insert(0) += 1;
            continue;
        }
        let wz = w as usize;
        match &mut out.buffer {
            MaskBuffer::Color(buf) => {
                let Some(style) = classes.get(a.category_id) else {
                    out.no_class += 1;
                    continue;
                };
                let raw: &mut [u8] = buf;
                let c = style.color.0;
                raster::shape_spans(&a.shape, w, h, |y, x0, x1| {
                    let row = y as usize * wz;
                    for px in
                        raw[(row + x0 as usize) * 3..(row + x1 as usize) * 3].chunks_exact_mut(3)
                    {
                        px.copy_from_slice(&c);
                    }
                });
            }
            MaskBuffer::Index(buf) => {
                let Some(style) = classes.get(a.category_id) else {
                    out.no_class += 1;
                    continue;
                };
                let raw: &mut [u8] = buf;
                raster::shape_spans(&a.shape, w, h, |y, x0, x1| {
                    let row = y as usize * wz;
                    raw[row + x0 as usize..row + x1 as usize].fill(style.index);
                });
            }
            MaskBuffer::Instance(buf) => {
                let n = out.instances.len() + 1;
                let Ok(value) = u16::try_from(n) else {
                    return Err(Error::invalid(
                        Path::new(&image.file_name),
                        "more than 65535 instances do not fit a 16-bit instance mask",
                    ));
                };
                out.instances.push(a.id);
                let raw: &mut [u16] = buf;
                raster::shape_spans(&a.shape, w, h, |y, x0, x1| {
                    let row = y as usize * wz;
                    raw[row + x0 as usize..row + x1 as usize].fill(value);
                });
            }
        }
        out.painted += 1;
    }
    Ok(out)
}

/// PNG settings, chosen by measurement on one 4096×4224 mask with 261 random ellipses
/// (semi-axes 6–20 px, 4 classes), one core, release build:
/// `cargo test --release --test raster_bench -- --ignored --nocapture png_settings`
///
/// | compression / filter | colour mask | index mask |
/// |---|---|---|
/// | Fast / NoFilter     | 13.8 ms, 814 kB | 8.3 ms, 178 kB |
/// | Fast / Sub          | 16.4 ms, 339 kB | 2.5 ms, 125 kB |
/// | **Fast / Up**       | **10.2 ms, 330 kB** | **2.9 ms, 115 kB** |
/// | Fast / Adaptive     | 22.9 ms, 313 kB | 8.6 ms, 114 kB |
/// | Level(1) / NoFilter | 14.6 ms, 300 kB | 7.5 ms, 134 kB |
/// | Default / NoFilter  | 89.8 ms, 76 kB  | 50.2 ms, 37 kB |
/// | Default / Adaptive  | 106.7 ms, 93 kB | 40.1 ms, 53 kB |
/// | Best / NoFilter     | 101.0 ms, 77 kB | 46.5 ms, 38 kB |
/// | Best / Adaptive     | 128.8 ms, 94 kB | 60.0 ms, 54 kB |
///
/// `Fast`/`Up` is the fastest (docs/design.md §6: all masks of the dataset in seconds) at 4× the size
/// of `Default`/`NoFilter`, the smallest; a caller that publishes masks and prefers size can
/// pass `PNG_COMPACT` to `write_png_with`.
pub const PNG_COMPRESSION: CompressionType = CompressionType::Fast;
/// See [`PNG_COMPRESSION`].
pub const PNG_FILTER: FilterType = FilterType::Up;
/// The smallest files measured (9× slower): `Default` deflate, no filter.
pub(crate) const PNG_COMPACT: (CompressionType, FilterType) =
    (CompressionType::Default, FilterType::NoFilter);

/// Encodes a mask as PNG into `w` with the chosen settings.
pub fn encode_png(
    mask: &MaskBuffer,
    w: &mut dyn std::io::Write,
    compression: CompressionType,
    filter: FilterType,
) -> image::ImageResult<()> {
    let enc = PngEncoder::new_with_quality(w, compression, filter);
    match mask {
        MaskBuffer::Color(m) => enc.write_image(
            m.as_raw(),
            m.width(),
            m.height(),
            image::ExtendedColorType::Rgb8,
        ),
        MaskBuffer::Index(m) => enc.write_image(
            m.as_raw(),
            m.width(),
            m.height(),
            image::ExtendedColorType::L8,
        ),
        MaskBuffer::Instance(m) => {
            // `PngEncoder` takes 16-bit samples in native byte order and itself swaps them to
            // the big-endian order PNG requires; handing it big-endian bytes swapped them
            // twice, so instance 1 read back as 256 in every other PNG reader.
            let bytes: Vec<u8> = m.as_raw().iter().flat_map(|v| v.to_ne_bytes()).collect();
            enc.write_image(&bytes, m.width(), m.height(), image::ExtendedColorType::L16)
        }
    }
}

/// Writes a mask PNG atomically (temporary file beside `path`, then rename), with the fast
/// settings [`PNG_COMPRESSION`] / [`PNG_FILTER`].
pub(crate) fn write_png(mask: &MaskBuffer, path: &Path) -> Result<()> {
    write_png_with(mask, path, (PNG_COMPRESSION, PNG_FILTER))
}

/// [`write_png`] with explicit PNG settings (e.g. [`PNG_COMPACT`]).
pub(crate) fn write_png_with(
    mask: &MaskBuffer,
    path: &Path,
    settings: (CompressionType, FilterType),
) -> Result<()> {
    crate::atomic::write_with(path, |w| {
        encode_png(mask, w, settings.0, settings.1).map_err(std::io::Error::other)
    })
}

/// Reads an instance mask written by `write_png` (or by any tool that writes a 16-bit
/// grayscale PNG): instance numbers as stored, 0 = background. The size is checked against
/// the limits masks are written with before anything is decoded.
pub fn read_instance_png(path: &Path) -> Result<Gray16Image> {
    let reader = image::ImageReader::open(path)
        .map_err(|e| Error::io(path, e))?
        .with_guessed_format()
        .map_err(|e| Error::io(path, e))?;
    let (w, h) = reader
        .into_dimensions()
        .map_err(|e| Error::invalid(path, e.to_string()))?;
    let probe = Image::new(crate::model::ImageId(0), path.display().to_string(), w, h);
    check_size(&probe)?;
    let decoded = image::open(path).map_err(|e| Error::invalid(path, e.to_string()))?;
    match decoded {
        // The decoder hands 16-bit samples over in native order, whatever PNG stores.
        image::DynamicImage::ImageLuma16(m) => Ok(m),
        other => Err(Error::invalid(
            path,
            format!(
                "not an instance mask: {:?} pixels, an instance mask is 16-bit grayscale",
                other.color()
            ),
        )),
    }
}

/// CVAT's "Segmentation mask" `labelmap.txt`: a header, the background, one line per class.
/// The format has no quoting: a name that would break its line is an error
/// (`escape::labelmap_name_problem`).
pub fn labelmap_txt(labels: &LabelSet) -> Result<String> {
    let rgb = |c: Rgb| format!("{},{},{}", c.0[0], c.0[1], c.0[2]);
    let mut s = String::from("# label:color_rgb:parts:actions\n");
    s.push_str(&format!("background:{}::\n", rgb(labels.background)));
    for c in &labels.classes {
        if let Some(why) = crate::escape::labelmap_name_problem(&c.name) {
            return Err(Error::Usage(format!(
                "label name {:?} cannot be a labelmap.txt line: it {why}",
                c.name
            )));
        }
        s.push_str(&format!("{}:{}::\n", c.name, rgb(c.color)));
    }
    Ok(s)
}

/// Reads a `labelmap.txt` as CVAT's "Segmentation mask 1.1" export and [`labelmap_txt`]
/// write it: `#` comment lines (the `# label:color_rgb:parts:actions` header), then
/// `name:r,g,b:parts:actions` per label. The label named `background` gives the background
/// colour; the others are classes 1, 2, … in file order (the index-mask values). When names
/// and colours are exactly a built-in set's, that set is returned (its supercategories).
/// A malformed line is an error naming the file, line and column.
pub(crate) fn parse_labelmap(text: &str, path: &Path) -> Result<LabelSet> {
    let mut background = None;
    let mut classes: Vec<crate::labelset::LabelClass> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line_no = i as u32 + 1;
        let line = raw.trim_end_matches('\r');
        let at = |col: usize, msg: String| Error::parse(path, line_no, col as u32 + 1, msg);
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let mut fields = line.split(':');
        let name = fields.next().unwrap_or_default().trim();
        let Some(color_field) = fields.next() else {
            return Err(at(
                line.len(),
                format!("expected name:r,g,b:parts:actions, found {line:?}"),
            ));
        };
        if name.is_empty() {
            return Err(at(0, "the label name is empty".into()));
        }
        let color_col = line.find(':').map_or(0, |c| c + 1);
        let parts: Vec<&str> = color_field.split(',').map(str::trim).collect();
        let values: Vec<u8> = parts.iter().filter_map(|p| p.parse::<u8>().ok()).collect();
        let [r, g, b] = values[..] else {
            return Err(at(
                color_col,
                format!("label {name:?}: colour {color_field:?} is not r,g,b with each 0..=255"),
            ));
        };
        if parts.len() != 3 {
            return Err(at(
                color_col,
                format!("label {name:?}: colour {color_field:?} is not r,g,b with each 0..=255"),
            ));
        }
        let color = Rgb([r, g, b]);
        if name == "background" {
            if background.replace(color).is_some() {
                return Err(at(0, "a second background line".into()));
            }
            continue;
        }
        if classes.iter().any(|c| c.name == name) {
            return Err(at(0, format!("label {name:?} appears twice")));
        }
        if let Some(other) = classes.iter().find(|c| c.color == color) {
            return Err(at(
                color_col,
                format!(
                    "label {name:?} has the colour of {:?}: mask pixels could not tell them apart",
                    other.name
                ),
            ));
        }
        if classes.len() == 255 {
            return Err(at(
                0,
                "more than 255 labels do not fit class indices 1..=255".into(),
            ));
        }
        classes.push(crate::labelset::LabelClass {
            id: CategoryId(classes.len() as u64 + 1),
            name: name.to_string(),
            supercategory: String::new(),
            color,
        });
    }
    let background = background.unwrap_or(Rgb([0, 0, 0]));
    if classes.is_empty() {
        return Err(Error::invalid(
            path,
            "the labelmap declares no label besides background",
        ));
    }
    if classes.iter().any(|c| c.color == background) {
        return Err(Error::invalid(
            path,
            "a label has the background colour: its pixels would read as background",
        ));
    }
    for set in [LabelSet::four_class(), LabelSet::seven_class()] {
        let same = set.background == background
            && set.classes.len() == classes.len()
            && set
                .classes
                .iter()
                .zip(&classes)
                .all(|(a, b)| a.name == b.name && a.color == b.color);
        if same {
            return Ok(set);
        }
    }
    Ok(LabelSet {
        name: path.display().to_string(),
        background,
        classes,
    })
}

/// The PNG file name for an image: its file stem plus `.png`. `None` for names that are
/// absolute, contain `..`, or have no stem — a data file must never make us write outside
/// the output folder (docs/design.md §6).
pub(crate) fn mask_file_name(image_file_name: &str) -> Option<String> {
    // Both separators count, and control characters are refused too
    // (`crate::path_safety::output_stem`, shared by every writer).
    crate::path_safety::output_stem(image_file_name).map(|stem| format!("{stem}.png"))
}

/// Options of [`render_dataset`].
#[derive(Clone, Debug, Default)]
pub struct RenderOptions {
    /// Also write CVAT's `labelmap.txt` into the output folder.
    pub write_labelmap: bool,
    /// Never show a progress bar (it shows only when stderr is a terminal anyway).
    pub quiet: bool,
    /// Write the smallest PNGs (`PNG_COMPACT`, ~9× slower to encode) instead of the fastest.
    pub compact: bool,
}

/// What [`render_dataset`] did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RenderSummary {
    /// Mask files written.
    pub images_written: usize,
    /// Shapes painted over all images.
    pub shapes_painted: usize,
    /// Shapes that cannot paint pixels, per shape kind.
    pub not_paintable: IndexMap<&'static str, usize>,
    /// Shapes whose class has no colour/index in the label set.
    pub no_class: usize,
    /// Annotations whose image is not in the dataset (not rendered anywhere).
    pub orphan_annotations: usize,
    /// Images not rendered, with the reason (unsafe name, duplicate stem, bad size).
    pub skipped: Vec<(String, String)>,
    /// The files written, in image order.
    pub written: Vec<PathBuf>,
}

/// Renders and writes the mask of every image of `ds` into `out_dir` as `<stem>.png`.
///
/// Images are rendered in parallel (rayon); each worker renders and writes one image at a
/// time, so memory stays near one mask per thread. Write failures abort with an error;
/// images that cannot be rendered (unsafe file name, duplicate stem, refused size) are
/// listed in `skipped`, not silently dropped.
pub fn render_dataset(
    ds: &Dataset,
    labels: &LabelSet,
    kind: MaskKind,
    out_dir: &Path,
    opts: &RenderOptions,
) -> Result<RenderSummary> {
    // Made before any mask is written: a label name labelmap.txt cannot hold is refused
    // before the run leaves half an output.
    let labelmap = opts
        .write_labelmap
        .then(|| labelmap_txt(labels))
        .transpose()?;
    let classes = ClassLookup::new(&ds.categories, labels);
    let groups = ds.annotations_by_image();
    let grouped: usize = groups.iter().map(|(_, a)| a.len()).sum();
    let mut summary = RenderSummary {
        orphan_annotations: ds.annotations.len() - grouped,
        ..RenderSummary::default()
    };
    // Decide names up front, sequentially, so that duplicates are reported deterministically.
    let mut seen: HashMap<String, String> = HashMap::new();
    let mut jobs = Vec::new();
    for (image, anns) in groups {
        let Some(name) = mask_file_name(&image.file_name) else {
            summary
                .skipped
                .push((image.file_name.clone(), "unsafe or empty file name".into()));
            continue;
        };
        if let Some(first) = seen.get(&name) {
            summary.skipped.push((
                image.file_name.clone(),
                format!("same mask name {name} as {first}"),
            ));
            continue;
        }
        if let Err(e) = check_size(image) {
            summary
                .skipped
                .push((image.file_name.clone(), e.to_string()));
            continue;
        }
        seen.insert(name.clone(), image.file_name.clone());
        jobs.push((image, anns, out_dir.join(name)));
    }
    std::fs::create_dir_all(out_dir).map_err(|e| Error::io(out_dir, e))?;
    let bar = crate::progress::Progress::bar(jobs.len() as u64, opts.quiet, "masks");
    let done = AtomicUsize::new(0);
    let results: Vec<Result<RenderedMask>> = jobs
        .par_iter()
        .map(|(image, anns, path)| {
            let r = render(image, anns, &classes, kind)?;
            let settings = if opts.compact {
                PNG_COMPACT
            } else {
                (PNG_COMPRESSION, PNG_FILTER)
            };
            write_png_with(&r.buffer, path, settings)?;
            done.fetch_add(1, Ordering::Relaxed);
            bar.inc(1);
            // Drop the pixels now; only the counts travel back.
            Ok(RenderedMask {
                buffer: MaskBuffer::Index(GrayImage::new(0, 0)),
                ..r
            })
        })
        .collect();
    bar.finish();
    crate::progress::phase("masks: labelmap");
    for ((_, _, path), r) in jobs.iter().zip(results) {
        let r = r?;
        summary.images_written += 1;
        summary.shapes_painted += r.painted;
        summary.no_class += r.no_class;
        for (k, v) in r.not_paintable {
            *summary.not_paintable.entry(k).or_insert(0) += v;
        }
        summary.written.push(path.clone());
    }
    if let Some(text) = labelmap {
        crate::atomic::write(&out_dir.join("labelmap.txt"), text.as_bytes())?;
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Ellipse, ImageId, Shape};

    fn image(w: u32, h: u32) -> Image {
        Image {
            id: ImageId(1),
            file_name: "a.tif".into(),
            width: w,
            height: h,
            subset: None,
            coco_extra: Default::default(),
            cvat_attrs: Vec::new(),
            cvat_unknown: Vec::new(),
            loc: None,
        }
    }

    #[test]
    fn names_never_escape() {
        assert_eq!(
            mask_file_name("neutrophil_000.tif").as_deref(),
            Some("neutrophil_000.png")
        );
        assert_eq!(mask_file_name("train/x.y.tif").as_deref(), Some("x.y.png"));
        assert_eq!(mask_file_name("../x.tif"), None);
        assert_eq!(mask_file_name("/etc/passwd"), None);
        assert_eq!(mask_file_name("a/../../x.tif"), None);
        assert_eq!(mask_file_name("C:\\x.tif"), None);
        assert_eq!(mask_file_name("..\\x.tif"), None);
        assert_eq!(mask_file_name(""), None);
    }

    #[test]
    fn refuses_huge_and_empty_sizes() {
        let anns: Vec<&Annotation> = Vec::new();
        let c = ClassLookup::default();
        assert!(render(&image(100_001, 1), &anns, &c, MaskKind::Index).is_err());
        assert!(render(&image(50_000, 50_000), &anns, &c, MaskKind::Index).is_err());
        assert!(render(&image(0, 5), &anns, &c, MaskKind::Index).is_err());
    }

    /// A 16-bit instance mask with values that tell the byte orders apart.
    fn instance_sample() -> Gray16Image {
        let values = [0u16, 1, 2, 255, 256, 0x1234, 65535, 7];
        Gray16Image::from_fn(4, 2, |x, y| Luma([values[(y * 4 + x) as usize]]))
    }

    #[test]
    fn instance_png_stores_samples_big_endian() {
        // Decoded with the `png` crate and no transformations, the bytes are the samples as
        // the file stores them: PNG requires big-endian, so instance 1 is [0, 1].
        let mut bytes = Vec::new();
        encode_png(
            &MaskBuffer::Instance(instance_sample()),
            &mut bytes,
            PNG_COMPRESSION,
            PNG_FILTER,
        )
        .unwrap();
        let mut decoder = png::Decoder::new(std::io::Cursor::new(&bytes));
        decoder.set_transformations(png::Transformations::IDENTITY);
        let mut reader = decoder.read_info().unwrap();
        let mut raw = vec![0u8; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut raw).unwrap();
        assert_eq!(info.bit_depth, png::BitDepth::Sixteen);
        assert_eq!(info.color_type, png::ColorType::Grayscale);
        assert_eq!(
            &raw[..info.buffer_size()],
            &[
                0x00, 0x00, 0x00, 0x01, 0x00, 0x02, 0x00, 0xff, //
                0x01, 0x00, 0x12, 0x34, 0xff, 0xff, 0x00, 0x07,
            ]
        );
    }

    #[test]
    fn instance_png_round_trips_through_our_reader() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.png");
        let mask = instance_sample();
        write_png(&MaskBuffer::Instance(mask.clone()), &path).unwrap();
        assert_eq!(read_instance_png(&path).unwrap(), mask);
        // A colour mask is not an instance mask: said so, naming the file.
        write_png(&MaskBuffer::Color(RgbImage::new(2, 2)), &path).unwrap();
        let err = read_instance_png(&path).unwrap_err().to_string();
        assert!(err.contains("m.png") && err.contains("16-bit"), "{err}");
    }

    #[test]
    fn labelmap_round_trips_and_reads_cvat_exports() {
        for set in [LabelSet::four_class(), LabelSet::seven_class()] {
            let text = labelmap_txt(&set).unwrap();
            assert_eq!(
                parse_labelmap(&text, Path::new("labelmap.txt")).unwrap(),
                set
            );
        }
        // As CVAT exports it: parts and actions, CRLF, a label set of its own.
        let cvat = "# label:color_rgb:parts:actions\r\nbackground:0,0,0::\r\ncell:10,20,30:nucleus:\r\nother:1,2,3::\r\n";
        let set = parse_labelmap(cvat, Path::new("l.txt")).unwrap();
        let names: Vec<_> = set
            .classes
            .iter()
            .map(|c| (c.id.0, c.name.as_str(), c.color))
            .collect();
        assert_eq!(
            names,
            [(1, "cell", Rgb([10, 20, 30])), (2, "other", Rgb([1, 2, 3]))]
        );
    }

    #[test]
    fn names_that_would_not_read_back_are_not_written() {
        let mut set = LabelSet::four_class();
        assert!(labelmap_txt(&set).is_ok());
        for name in ["a:b", "x\ny", "# c", " lead", "trail ", "background"] {
            set.classes[1].name = name.into();
            assert!(labelmap_txt(&set).is_err(), "{name:?}");
        }
    }

    #[test]
    fn malformed_labelmap_names_file_line_and_column() {
        let cases = [
            ("background:0,0,0::\ncell\n", "l.txt:2:5:"),
            ("# h\ncell:1,2::\n", "l.txt:2:6:"),
            ("cell:1,2,300::\n", "l.txt:1:6:"),
            ("cell:1,2,3::\ncell:4,5,6::\n", "l.txt:2:1:"),
            ("a:1,2,3::\nb:1,2,3::\n", "l.txt:2:3:"),
            (":1,2,3::\n", "l.txt:1:1:"),
        ];
        for (text, want) in cases {
            let err = parse_labelmap(text, Path::new("l.txt"))
                .unwrap_err()
                .to_string();
            assert!(err.starts_with(want), "{text:?}: {err}");
        }
        let err = parse_labelmap("# only\nbackground:0,0,0::\n", Path::new("l.txt"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("no label"), "{err}");
    }

    #[test]
    fn instance_numbers_follow_paint_order() {
        let e = |cx| {
            Shape::Ellipse(Ellipse {
                cx,
                cy: 2.0,
                rx: 1.5,
                ry: 1.5,
                rotation: 0.0,
            })
        };
        let mut a = Annotation::new(AnnotationId(10), ImageId(1), CategoryId(1), e(2.0));
        a.z_order = 1;
        let b = Annotation::new(AnnotationId(20), ImageId(1), CategoryId(1), e(3.0));
        let t = Annotation::new(AnnotationId(30), ImageId(1), CategoryId(1), Shape::Tag);
        let r = render(
            &image(6, 4),
            &[&a, &b, &t],
            &ClassLookup::default(),
            MaskKind::Instance,
        )
        .unwrap();
        assert_eq!(r.instances, vec![AnnotationId(20), AnnotationId(10)]);
        assert_eq!(r.not_paintable.get("tag"), Some(&1));
        let MaskBuffer::Instance(m) = r.buffer else {
            panic!()
        };
        // `a` (z 1) is painted last, so the overlap is instance 2.
        assert_eq!(m.get_pixel(2, 1).0[0], 2);
        assert_eq!(m.get_pixel(3, 1).0[0], 1);
        assert_eq!(m.get_pixel(5, 1).0[0], 0);
    }
}
