//! Overlays of masks on their images, and a contact sheet of all of them, so that a reviewer
//! can see at a glance whether masks sit where the objects are.
//!
//! Colour, class-index and instance masks are read (the three kinds `masks` writes). Each
//! region is filled at `alpha` and outlined in its colour at full opacity, so that packed
//! granules stay apart on a 4096-px micrograph; region numbers and a legend are drawn on
//! request with the built-in font ([`super::font`]). Overlays are written scaled and as JPEG
//! by default: a published-size release (93 images of 4096×4224) takes tens of MB, not GB.

use super::font;
use crate::error::{Error, Result};
use crate::labelset::LabelSet;
use image::{DynamicImage, GrayImage, Rgb, RgbImage};
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Default `scale`: half size. 93 overlays of 4096×4224 images come to well under 100 MB as
/// JPEG at [`DEFAULT_JPEG_QUALITY`] (measured on `synth --layout published`), and granules
/// of ~40 px stay ~20 px across.
pub const DEFAULT_SCALE: f32 = 0.5;
/// Default JPEG quality (1–100).
pub const DEFAULT_JPEG_QUALITY: u8 = 80;
/// Largest accepted `scale` (magnifying small images so that ids can be read).
pub const MAX_SCALE: f32 = 8.0;
/// Default fill opacity. Outlines carry the shape; the fill only tints, so the granule
/// texture under it stays visible.
pub const DEFAULT_ALPHA: f32 = 0.3;

/// File format of overlays and contact sheet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OverlayFormat {
    /// Lossless PNG.
    Png,
    /// JPEG.
    Jpeg {
        /// JPEG quality, 1–100.
        quality: u8,
    },
}

impl OverlayFormat {
    /// The file extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            OverlayFormat::Png => "png",
            OverlayFormat::Jpeg { .. } => "jpg",
        }
    }
}

/// How overlays are drawn and written.
#[derive(Clone, Debug, PartialEq)]
pub struct OverlayOptions {
    /// Fill opacity, 0–1 (0: outlines only).
    pub alpha: f32,
    /// Outline every region in its colour.
    pub outlines: bool,
    /// Number the regions (instance masks: the instance number; colour and index masks:
    /// connected regions of one colour, numbered in reading order).
    pub ids: bool,
    /// Draw a legend (class colour, name, number of regions) on every overlay.
    pub legend: bool,
    /// Output size relative to the image, in (0, [`MAX_SCALE`]].
    pub scale: f32,
    /// PNG or JPEG.
    pub format: OverlayFormat,
    /// Names and colours of the classes. `None`: the `labelmap.txt` beside the masks, if any.
    pub labels: Option<LabelSet>,
    /// Never show a progress bar.
    pub quiet: bool,
}

impl Default for OverlayOptions {
    fn default() -> Self {
        OverlayOptions {
            alpha: DEFAULT_ALPHA,
            outlines: true,
            ids: false,
            legend: false,
            scale: DEFAULT_SCALE,
            format: OverlayFormat::Jpeg {
                quality: DEFAULT_JPEG_QUALITY,
            },
            labels: None,
            quiet: false,
        }
    }
}

fn mix(p: &mut Rgb<u8>, c: [u8; 3], a: f32) {
    for (o, &mv) in p.0.iter_mut().zip(c.iter()) {
        let v = (1.0 - a) * f32::from(*o) + a * f32::from(mv);
        *o = v.round().clamp(0.0, 255.0) as u8;
    }
}

/// A class as the legend shows it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct LegendEntry {
    /// Label-set order (index-mask value) where known, so legends list classes in set order.
    pub order: u32,
    /// Class name.
    pub name: String,
    /// Class colour.
    pub color: [u8; 3],
    /// Regions of this class (connected areas of one colour; instances for instance masks).
    pub regions: usize,
}

/// Draws `entries` as a legend box with its top-left corner at `(x, y)`: a swatch and a
/// name per line, font pixels `scale` px. Returns the box height.
pub fn draw_legend(
    img: &mut RgbImage,
    x: i64,
    y: i64,
    entries: &[(String, [u8; 3])],
    scale: u32,
) -> u32 {
    if entries.is_empty() {
        return 0;
    }
    let s = scale.max(1);
    let pad = 3 * s;
    let line = font::LINE * s + s;
    let sw = font::text_height(s);
    let text_w = entries
        .iter()
        .map(|(n, _)| font::text_width(n, s))
        .max()
        .unwrap_or(0);
    let bw = pad * 3 + sw + text_w;
    let bh = pad * 2 + line * entries.len() as u32 - s;
    fill_rect(img, x, y, bw, bh, |p| {
        // A dark translucent box: the image still shows through, the text stays legible.
        mix(p, [0, 0, 0], 0.7);
    });
    for (i, (name, c)) in entries.iter().enumerate() {
        let ly = y + i64::from(pad + line * i as u32);
        let lx = x + i64::from(pad);
        fill_rect(img, lx, ly, sw, sw, |p| *p = Rgb([255, 255, 255]));
        fill_rect(img, lx + 1, ly + 1, sw - 2, sw - 2, |p| *p = Rgb(*c));
        font::draw(
            img,
            lx + i64::from(sw + pad),
            ly,
            name,
            s,
            Rgb([255, 255, 255]),
        );
    }
    bh
}

fn fill_rect(img: &mut RgbImage, x: i64, y: i64, w: u32, h: u32, f: impl Fn(&mut Rgb<u8>)) {
    let (iw, ih) = (i64::from(img.width()), i64::from(img.height()));
    for yy in y.max(0)..(y + i64::from(h)).min(ih) {
        for xx in x.max(0)..(x + i64::from(w)).min(iw) {
            f(img.get_pixel_mut(xx as u32, yy as u32));
        }
    }
}

/// Small thumbnails in a grid of `columns` columns, each cell `thumb_width` wide and as tall
/// as the tallest thumbnail of its row, on a dark grey background, each captioned with its
/// name below; `legend` (name, colour) is drawn above the grid. The order is the order given.
pub fn contact_sheet_with(
    thumbs: &[(String, RgbImage)],
    thumb_width: u32,
    columns: u32,
    legend: &[(String, [u8; 3])],
) -> RgbImage {
    let columns = columns.max(1) as usize;
    let tw = thumb_width.max(1);
    let gap = 4u32;
    // Captions at 2 font pixels when a name of ~20 characters fits the cell, else 1.
    let cap_scale = if tw >= 2 * 20 * font::ADVANCE { 2 } else { 1 };
    let cap_h = font::text_height(cap_scale) + 2 * gap;
    let scaled: Vec<RgbImage> = thumbs
        .iter()
        .map(|(_, t)| {
            if t.width() == 0 || t.height() == 0 {
                return RgbImage::new(tw, 1);
            }
            let th = ((u64::from(t.height()) * u64::from(tw)) / u64::from(t.width()))
                .clamp(1, 4 * u64::from(tw)) as u32;
            image::imageops::thumbnail(t, tw, th)
        })
        .collect();
    let rows: Vec<&[RgbImage]> = scaled.chunks(columns).collect();
    let row_h: Vec<u32> = rows
        .iter()
        .map(|r| r.iter().map(|t| t.height()).max().unwrap_or(0) + cap_h)
        .collect();
    let cols = columns.min(scaled.len()).max(1) as u32;
    let width = cols * tw + (cols + 1) * gap;
    let legend_scale = 2;
    let legend_h = if legend.is_empty() {
        0
    } else {
        // Laid out like draw_legend: padding, one line per entry.
        let s = legend_scale;
        6 * s + (font::LINE * s + s) * legend.len() as u32 - s + gap
    };
    let height = legend_h + row_h.iter().sum::<u32>() + (rows.len() as u32 + 1) * gap;
    let mut sheet = RgbImage::from_pixel(width, height.max(1), Rgb([32, 32, 32]));
    if !legend.is_empty() {
        draw_legend(
            &mut sheet,
            i64::from(gap),
            i64::from(gap),
            legend,
            legend_scale,
        );
    }
    let mut y = gap + legend_h;
    let mut k = 0;
    for (r, row) in rows.iter().enumerate() {
        for (c, t) in row.iter().enumerate() {
            let x = gap + c as u32 * (tw + gap);
            image::imageops::replace(&mut sheet, t, i64::from(x), i64::from(y));
            let name = thumbs.get(k).map_or("", |(n, _)| n.as_str());
            let caption = font::fit(name, tw, cap_scale);
            font::draw(
                &mut sheet,
                i64::from(x),
                i64::from(y + t.height() + gap),
                &caption,
                cap_scale,
                Rgb([235, 235, 235]),
            );
            k += 1;
        }
        y += row_h[r] + gap;
    }
    sheet
}

/// [`contact_sheet_with`] without a legend.
pub fn contact_sheet(thumbs: &[(String, RgbImage)], thumb_width: u32, columns: u32) -> RgbImage {
    contact_sheet_with(thumbs, thumb_width, columns, &[])
}

/// What [`overlay_dir_with`] did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OverlaySummary {
    /// Overlays written (`<stem>.<ext>`), sorted by stem.
    pub written: Vec<PathBuf>,
    /// Images with no mask of the same stem (skipped).
    pub images_without_mask: Vec<PathBuf>,
    /// Masks with no image of the same stem (skipped).
    pub masks_without_image: Vec<PathBuf>,
    /// Pairs that could not be overlaid (unreadable, different sizes), with the reason.
    pub failed: Vec<(PathBuf, String)>,
    /// The contact sheet, when at least one overlay was written.
    pub contact_sheet: Option<PathBuf>,
    /// Bytes written: overlays and contact sheet.
    pub bytes: u64,
    /// Where class names came from, and what the legend cannot name.
    pub notes: Vec<String>,
}

const IMAGE_EXTS: &[&str] = &["png", "tif", "tiff", "jpg", "jpeg"];
const SHEET: &str = "contact_sheet";
/// Width of a contact-sheet cell, px.
const THUMB: u32 = 320;
const COLUMNS: u32 = 6;

/// Files of `dir` (not recursive) with one of `exts`, by stem. A second file with the same
/// stem (e.g. `a.tif` and `a.png`) is returned in the second list.
fn by_stem(dir: &Path, exts: &[&str]) -> Result<(BTreeMap<String, PathBuf>, Vec<PathBuf>)> {
    let mut map = BTreeMap::new();
    let mut dups = Vec::new();
    let rd = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    let mut paths: Vec<PathBuf> = Vec::new();
    for entry in rd {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        paths.push(entry.path());
    }
    paths.sort();
    for p in paths {
        let ext = p
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        if !p.is_file() || !ext.is_some_and(|e| exts.contains(&e.as_str())) {
            continue;
        }
        let Some(stem) = p.file_stem().and_then(|s| s.to_str()).map(str::to_owned) else {
            continue;
        };
        match map.entry(stem) {
            std::collections::btree_map::Entry::Occupied(_) => dups.push(p),
            std::collections::btree_map::Entry::Vacant(v) => {
                v.insert(p);
            }
        }
    }
    Ok((map, dups))
}

/// The `labelmap.txt` that describes the masks of `dir`: beside them, or at the top of a CVAT
/// "Segmentation mask" export when `dir` is its `SegmentationClass/`.
pub fn find_labelmap(dir: &Path) -> Option<PathBuf> {
    let beside = dir.join("labelmap.txt");
    if beside.is_file() {
        return Some(beside);
    }
    if dir.file_name().and_then(|n| n.to_str()) == Some("SegmentationClass") {
        let top = dir.parent()?.join("labelmap.txt");
        if top.is_file() {
            return Some(top);
        }
    }
    None
}

/// The kinds of mask an overlay can colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// RGB (or RGBA, alpha ignored): colours as painted.
    Color,
    /// 8-bit gray: class index, coloured by the label set.
    Index,
    /// 16-bit gray: instance number, one colour per instance.
    Instance,
}

/// The kind of a mask from its header alone, or why it cannot be coloured.
fn mask_kind(path: &Path) -> Result<Kind> {
    let reader = image::ImageReader::open(path)
        .map_err(|e| Error::io(path, e))?
        .with_guessed_format()
        .map_err(|e| Error::io(path, e))?;
    let decoder = reader
        .into_decoder()
        .map_err(|e| Error::invalid(path, e.to_string()))?;
    let (w, h) = image::ImageDecoder::dimensions(&decoder);
    let probe = crate::model::Image::new(crate::model::ImageId(0), "", w, h);
    super::check_size(&probe).map_err(|e| Error::invalid(path, e.to_string()))?;
    use image::ColorType as C;
    match image::ImageDecoder::color_type(&decoder) {
        C::Rgb8 | C::Rgba8 => Ok(Kind::Color),
        C::L8 => Ok(Kind::Index),
        C::L16 => Ok(Kind::Instance),
        other => Err(Error::invalid(
            path,
            format!(
                "cannot colour a mask of {other:?} pixels: overlays are drawn from 8-bit RGB \
                 colour masks, 8-bit grayscale class-index masks and 16-bit grayscale \
                 instance masks"
            ),
        )),
    }
}

/// Everything a worker needs to colour any mask of the folder.
struct Palette {
    /// Known names and colours (given, or from labelmap.txt); `None`: guessed per legend.
    labels: Option<LabelSet>,
    background: [u8; 3],
}

/// Order and name of the class of `color` in `labels`.
fn class_of(labels: &LabelSet, color: [u8; 3]) -> Option<(u32, String)> {
    labels
        .classes
        .iter()
        .enumerate()
        .find(|(_, c)| c.color.0 == color)
        .map(|(i, c)| (i as u32 + 1, c.name.clone()))
}

/// The built-in label set that colours like `colours`, when no label set is known: the
/// 7-class set when a colour only it has appears, else the 4-class set when it has every
/// colour (the 4-class colours are also 7-class colours, so this is a guess, said so).
pub fn guess_labelset(colours: &[[u8; 3]]) -> Option<LabelSet> {
    let (four, seven) = (LabelSet::four_class(), LabelSet::seven_class());
    let has = |l: &LabelSet, c: &[u8; 3]| l.classes.iter().any(|k| k.color.0 == *c);
    if colours.iter().all(|c| has(&seven, c)) && colours.iter().any(|c| !has(&four, c)) {
        Some(seven)
    } else if !colours.is_empty() && colours.iter().all(|c| has(&four, c)) {
        Some(four)
    } else {
        None
    }
}

/// Legend names of colour-mask colours: from the label set, else guessed, else RGB values.
fn colour_names(palette: &Palette, colours: &[[u8; 3]]) -> Vec<(u32, String)> {
    let guessed;
    let labels = match &palette.labels {
        Some(l) => Some(l),
        None => {
            guessed = guess_labelset(colours);
            guessed.as_ref()
        }
    };
    colours
        .iter()
        .map(|&c| {
            labels
                .and_then(|l| class_of(l, c))
                .unwrap_or_else(|| (u32::MAX, format!("{},{},{}", c[0], c[1], c[2])))
        })
        .collect()
}

/// Overlays every mask of `masks_dir` on the image of the same stem in `images_dir`, writing
/// `<stem>.png` (full size, PNG) and `contact_sheet.png` into `out_dir`, fill opacity
/// `alpha` with outlines. See [`overlay_dir_with`] for scaled JPEG overlays.
pub fn overlay_dir(
    images_dir: &Path,
    masks_dir: &Path,
    out_dir: &Path,
    alpha: f32,
) -> Result<OverlaySummary> {
    let opts = OverlayOptions {
        alpha,
        scale: 1.0,
        format: OverlayFormat::Png,
        quiet: true,
        ..OverlayOptions::default()
    };
    overlay_dir_with(images_dir, masks_dir, out_dir, &opts)
}

/// Overlays every mask of `masks_dir` on the image of the same stem in `images_dir`, writing
/// `<stem>.<ext>` and `contact_sheet.<ext>` into `out_dir`. Pairs run in parallel, one image
/// per worker at a time. Unmatched files on either side are skipped and listed in the
/// summary; a mask this cannot colour (an index mask without a label set, a pixel type that
/// is no mask kind, an index beyond the label set) is an error before or while writing.
pub fn overlay_dir_with(
    images_dir: &Path,
    masks_dir: &Path,
    out_dir: &Path,
    opts: &OverlayOptions,
) -> Result<OverlaySummary> {
    let (images, image_dups) = by_stem(images_dir, IMAGE_EXTS)?;
    let (masks, mask_dups) = by_stem(masks_dir, &["png"])?;
    let mut summary = OverlaySummary::default();
    for p in image_dups {
        summary
            .failed
            .push((p, "another image has the same stem".into()));
    }
    for p in mask_dups {
        summary
            .failed
            .push((p, "another mask has the same stem".into()));
    }
    let mut pairs = Vec::new();
    for (stem, img) in &images {
        match masks.get(stem) {
            Some(m) if stem == SHEET => summary
                .failed
                .push((m.clone(), format!("the name {SHEET} is reserved"))),
            Some(m) => pairs.push((stem.clone(), img.clone(), m.clone())),
            None => summary.images_without_mask.push(img.clone()),
        }
    }
    summary.masks_without_image = masks
        .iter()
        .filter(|(s, _)| !images.contains_key(*s))
        .map(|(_, p)| p.clone())
        .collect();
    // Every mask's kind from its header, before anything is written: a folder this cannot
    // colour is refused whole rather than half drawn.
    let mut jobs = Vec::with_capacity(pairs.len());
    for (stem, img, mask) in pairs {
        let kind = mask_kind(&mask)?;
        jobs.push((stem, img, mask, kind));
    }
    let labels = match &opts.labels {
        Some(l) => Some(l.clone()),
        None => match find_labelmap(masks_dir) {
            Some(path) => {
                let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
                let set = super::parse_labelmap(&text, &path)?;
                summary
                    .notes
                    .push(format!("class names and colours from {}", path.display()));
                Some(set)
            }
            None => None,
        },
    };
    if labels.is_none() {
        if let Some((_, _, mask, _)) = jobs.iter().find(|j| j.3 == Kind::Index) {
            return Err(Error::invalid(
                mask,
                format!(
                    "an 8-bit class-index mask, and no labelmap.txt is beside it (looked for {}) \
                     and no label set was given: its values have no colours",
                    masks_dir.join("labelmap.txt").display()
                ),
            ));
        }
        if jobs.iter().any(|j| j.3 == Kind::Color) {
            summary.notes.push(format!(
                "no labelmap.txt beside the masks (looked for {}) and no label set given: legend names are guessed from the colours of the built-in 4- and 7-class sets (RGB values where none fits)",
                masks_dir.join("labelmap.txt").display()
            ));
        }
    }
    let palette = Palette {
        background: labels.as_ref().map_or([0, 0, 0], |l| l.background.0),
        labels,
    };
    std::fs::create_dir_all(out_dir).map_err(|e| Error::io(out_dir, e))?;
    let bar = crate::progress::Progress::bar(jobs.len() as u64, opts.quiet, "overlays");
    let results: Vec<Result<PairResult>> = jobs
        .par_iter()
        .map(|(stem, img_path, mask_path, kind)| {
            let r = overlay_one(stem, img_path, mask_path, *kind, out_dir, opts, &palette);
            bar.inc(1);
            r
        })
        .collect();
    bar.finish();
    let mut thumbs = Vec::new();
    let mut legend: BTreeMap<(u32, String, [u8; 3]), ()> = BTreeMap::new();
    let mut instances = 0usize;
    for (r, job) in results.into_iter().zip(&jobs) {
        match r? {
            Ok(done) => {
                summary.bytes += done.bytes;
                summary.written.push(done.path);
                let name = job
                    .1
                    .file_name()
                    .map_or_else(|| job.0.clone(), |n| n.to_string_lossy().into_owned());
                thumbs.push((name, done.thumb));
                for e in done.legend {
                    if job.3 == Kind::Instance {
                        instances += e.regions;
                    } else {
                        legend.insert((e.order, e.name, e.color), ());
                    }
                }
            }
            Err(fail) => summary.failed.push(fail),
        }
    }
    if !thumbs.is_empty() {
        // One line per colour, named from the colours of the whole folder (a guess made per
        // image may differ between images).
        let mut colours: Vec<[u8; 3]> = legend.into_keys().map(|(_, _, c)| c).collect();
        colours.sort_unstable();
        colours.dedup();
        let mut named: Vec<((u32, String), [u8; 3])> = if jobs.iter().any(|j| j.3 == Kind::Index) {
            let l = palette.labels.as_ref();
            colours
                .iter()
                .map(|&c| {
                    let n = l
                        .and_then(|l| class_of(l, c))
                        .unwrap_or((u32::MAX, format!("{},{},{}", c[0], c[1], c[2])));
                    (n, c)
                })
                .collect()
        } else {
            colour_names(&palette, &colours)
                .into_iter()
                .zip(colours.iter().copied())
                .collect()
        };
        named.sort();
        let mut entries: Vec<(String, [u8; 3])> =
            named.into_iter().map(|((_, n), c)| (n, c)).collect();
        if instances > 0 {
            entries.push((
                format!("{instances} instances, one colour each"),
                instance_colour(1),
            ));
        }
        let sheet = contact_sheet_with(&thumbs, THUMB, COLUMNS, &entries);
        let path = out_dir.join(format!("{SHEET}.{}", opts.format.extension()));
        summary.bytes += write_rgb(&sheet, &path, opts.format)?;
        summary.contact_sheet = Some(path);
    }
    Ok(summary)
}

struct Done {
    path: PathBuf,
    thumb: RgbImage,
    legend: Vec<LegendEntry>,
    bytes: u64,
}

/// `Ok(Err(..))` for a per-pair problem that is reported, `Err` for a write failure or a mask
/// that cannot be coloured.
type PairResult = std::result::Result<Done, (PathBuf, String)>;

/// Output size of a `w`×`h` image at `scale`, at least 1 px a side.
pub fn scaled_size(w: u32, h: u32, scale: f32) -> (u32, u32) {
    let s = f64::from(scale.clamp(f32::MIN_POSITIVE, MAX_SCALE));
    let f = |v: u32| ((f64::from(v) * s).round() as u32).max(1);
    (f(w), f(h))
}

/// Outline width at an output size: ~1 px per 1000 px of the longer side, so that a line
/// stays visible when the overlay is viewed to fit a screen.
fn outline_width(w: u32, h: u32) -> u32 {
    (w.max(h) + 500) / 1000
}

/// A distinct, saturated colour for instance `k` (hue stepped by the golden angle, so that
/// consecutive instances, which are often neighbours, differ most).
pub fn instance_colour(k: u32) -> [u8; 3] {
    let hue = (f64::from(k) * 0.618_033_988_75).fract() * 6.0;
    let (s, v) = (0.85, 1.0);
    let i = hue.floor();
    let f = hue - i;
    let (p, q, t) = (v * (1.0 - s), v * (1.0 - s * f), v * (1.0 - s * (1.0 - f)));
    let (r, g, b) = match i as u32 {
        0 => (v, t, p),
        1 => (q, v, p),
        2 => (p, v, t),
        3 => (p, q, v),
        4 => (t, p, v),
        _ => (v, p, q),
    };
    let c = |x: f64| (x * 255.0).round().clamp(0.0, 255.0) as u8;
    [c(r), c(g), c(b)]
}

/// The mask resampled to the output size (nearest neighbour, so no colour is invented), as
/// one key per pixel: 0 background, else a kind-specific value [`key_colour`] colours.
fn keys_of(
    mask: &DynamicImage,
    kind: Kind,
    (ow, oh): (u32, u32),
    palette: &Palette,
    path: &Path,
) -> Result<Vec<u32>> {
    let (w, h) = (mask.width(), mask.height());
    let src_x: Vec<u32> = (0..ow)
        .map(|x| {
            ((u64::from(2 * x + 1) * u64::from(w)) / u64::from(2 * ow)).min(u64::from(w - 1)) as u32
        })
        .collect();
    let mut keys = vec![0u32; ow as usize * oh as usize];
    let classes = palette.labels.as_ref().map_or(0, |l| l.classes.len());
    match (kind, mask) {
        (Kind::Instance, DynamicImage::ImageLuma16(m)) => {
            for oy in 0..oh {
                let sy = src_y(oy, h, oh);
                for (ox, &sx) in src_x.iter().enumerate() {
                    keys[oy as usize * ow as usize + ox] = u32::from(m.get_pixel(sx, sy).0[0]);
                }
            }
        }
        (Kind::Index, DynamicImage::ImageLuma8(m)) => {
            check_indices(m, classes, path)?;
            for oy in 0..oh {
                let sy = src_y(oy, h, oh);
                for (ox, &sx) in src_x.iter().enumerate() {
                    keys[oy as usize * ow as usize + ox] = u32::from(m.get_pixel(sx, sy).0[0]);
                }
            }
        }
        (Kind::Color, m) => {
            let rgb = m.to_rgb8();
            let bg = palette.background;
            for oy in 0..oh {
                let sy = src_y(oy, h, oh);
                for (ox, &sx) in src_x.iter().enumerate() {
                    let c = rgb.get_pixel(sx, sy).0;
                    if c != bg {
                        keys[oy as usize * ow as usize + ox] =
                            (u32::from(c[0]) << 16 | u32::from(c[1]) << 8 | u32::from(c[2])) + 1;
                    }
                }
            }
        }
        (_, other) => {
            return Err(Error::invalid(
                path,
                format!(
                    "decoded as {:?} pixels, not the kind its header declared",
                    other.color()
                ),
            ))
        }
    }
    Ok(keys)
}

fn src_y(oy: u32, h: u32, oh: u32) -> u32 {
    ((u64::from(2 * oy + 1) * u64::from(h)) / u64::from(2 * oh)).min(u64::from(h - 1)) as u32
}

/// Every value of an index mask is background or a class of the label set; the first that is
/// not is an error naming the pixel (it would otherwise be drawn in no colour).
fn check_indices(m: &GrayImage, classes: usize, path: &Path) -> Result<()> {
    for (x, y, p) in m.enumerate_pixels() {
        let v = usize::from(p.0[0]);
        if v > classes {
            return Err(Error::invalid(
                path,
                format!(
                    "pixel ({x}, {y}) has class index {v}, but the label set has classes 1..={classes}: \
                     this mask cannot be coloured"
                ),
            ));
        }
    }
    Ok(())
}

fn key_colour(key: u32, kind: Kind, palette: &Palette) -> [u8; 3] {
    match kind {
        Kind::Color => {
            let v = key - 1;
            [(v >> 16) as u8, (v >> 8) as u8, v as u8]
        }
        Kind::Index => palette
            .labels
            .as_ref()
            .and_then(|l| l.classes.get(key as usize - 1))
            .map_or([255, 255, 255], |c| c.color.0),
        Kind::Instance => instance_colour(key),
    }
}

/// Connected regions of equal nonzero key (4-connected): per region its key, pixel count and
/// centroid, in reading order of their first pixel.
fn regions(keys: &[u32], w: u32, h: u32) -> Vec<(u32, u64, f64, f64)> {
    let (w, h) = (w as usize, h as usize);
    let mut seen = vec![false; keys.len()];
    let mut out = Vec::new();
    let mut stack = Vec::new();
    for start in 0..keys.len() {
        let k = keys[start];
        if k == 0 || seen[start] {
            continue;
        }
        seen[start] = true;
        stack.push(start);
        let (mut n, mut sx, mut sy) = (0u64, 0f64, 0f64);
        while let Some(i) = stack.pop() {
            let (x, y) = (i % w, i / w);
            n += 1;
            sx += x as f64;
            sy += y as f64;
            let mut visit = |j: usize| {
                if !seen[j] && keys[j] == k {
                    seen[j] = true;
                    stack.push(j);
                }
            };
            if x > 0 {
                visit(i - 1);
            }
            if x + 1 < w {
                visit(i + 1);
            }
            if y > 0 {
                visit(i - w);
            }
            if y + 1 < h {
                visit(i + w);
            }
        }
        out.push((k, n, sx / n as f64, sy / n as f64));
    }
    out
}

/// Draws one overlay in memory: `base` (already at output size) tinted and outlined by
/// `keys`, with ids and a legend as asked. Returns the legend entries of this image.
fn draw_overlay(
    base: &mut RgbImage,
    keys: &[u32],
    kind: Kind,
    opts: &OverlayOptions,
    palette: &Palette,
) -> Vec<LegendEntry> {
    let (w, h) = base.dimensions();
    let (wz, hz) = (w as usize, h as usize);
    let a = opts.alpha.clamp(0.0, 1.0);
    let mut colours: BTreeMap<u32, [u8; 3]> = BTreeMap::new();
    let mut colour = |k: u32| {
        *colours
            .entry(k)
            .or_insert_with(|| key_colour(k, kind, palette))
    };
    if a > 0.0 {
        for (i, &k) in keys.iter().enumerate() {
            if k != 0 {
                let c = colour(k);
                mix(base.get_pixel_mut((i % wz) as u32, (i / wz) as u32), c, a);
            }
        }
    }
    if opts.outlines {
        // Edge pixels: a region pixel with a 4-neighbour of another key (or the image border
        // is not an edge: a shape cut by the border stays open there, as it is in the mask).
        let mut edge = vec![false; keys.len()];
        for y in 0..hz {
            for x in 0..wz {
                let i = y * wz + x;
                let k = keys[i];
                if k == 0 {
                    continue;
                }
                let differs = (x > 0 && keys[i - 1] != k)
                    || (x + 1 < wz && keys[i + 1] != k)
                    || (y > 0 && keys[i - wz] != k)
                    || (y + 1 < hz && keys[i + wz] != k);
                edge[i] = differs;
            }
        }
        // Thicken inwards only, so that a line never covers the neighbouring region.
        for _ in 1..outline_width(w, h) {
            let prev = edge.clone();
            for y in 0..hz {
                for x in 0..wz {
                    let i = y * wz + x;
                    let k = keys[i];
                    if k == 0 || prev[i] {
                        continue;
                    }
                    let near = |j: usize| prev[j] && keys[j] == k;
                    edge[i] = (x > 0 && near(i - 1))
                        || (x + 1 < wz && near(i + 1))
                        || (y > 0 && near(i - wz))
                        || (y + 1 < hz && near(i + wz));
                }
            }
        }
        for (i, &e) in edge.iter().enumerate() {
            if e {
                let c = colour(keys[i]);
                base.put_pixel((i % wz) as u32, (i / wz) as u32, Rgb(c));
            }
        }
    }
    let found = regions(keys, w, h);
    let mut by_key: BTreeMap<u32, usize> = BTreeMap::new();
    for r in &found {
        *by_key.entry(r.0).or_insert(0) += 1;
    }
    let entries: Vec<LegendEntry> = match kind {
        Kind::Instance => vec![LegendEntry {
            order: 0,
            name: "instances, one colour each".into(),
            color: instance_colour(1),
            regions: by_key.len(),
        }],
        _ => {
            let cs: Vec<[u8; 3]> = by_key.keys().map(|&k| colour(k)).collect();
            let names = colour_names(palette, &cs);
            let mut v: Vec<LegendEntry> = by_key
                .iter()
                .zip(names)
                .map(|((&k, &n), by_colour)| {
                    let c = colour(k);
                    let (order, name) = match kind {
                        Kind::Index => (
                            k,
                            palette
                                .labels
                                .as_ref()
                                .and_then(|l| l.classes.get(k as usize - 1))
                                .map_or_else(|| format!("class {k}"), |c| c.name.clone()),
                        ),
                        _ => by_colour,
                    };
                    LegendEntry {
                        order,
                        name,
                        color: c,
                        regions: n,
                    }
                })
                .collect();
            v.sort();
            v
        }
    };
    // Ids ~1 font px per 1000 px; the legend larger (~1 per 600 px) so it reads when the
    // overlay is viewed whole, yet never covers a small image.
    let text_scale = ((w.max(h) + 500) / 1000).max(1);
    if opts.ids {
        // Instance masks: the instance number. Others: regions in reading order. Regions too
        // small to hold their number (slivers of an occluded shape) are numbered, not drawn.
        let min_area = u64::from(font::text_height(text_scale)).pow(2) / 2;
        for (n, (k, area, cx, cy)) in found.iter().enumerate() {
            if *area < min_area {
                continue;
            }
            let id = if kind == Kind::Instance {
                *k
            } else {
                n as u32 + 1
            };
            let text = id.to_string();
            let tw = font::text_width(&text, text_scale);
            let th = font::text_height(text_scale);
            font::draw_with_halo(
                base,
                cx.round() as i64 - i64::from(tw / 2),
                cy.round() as i64 - i64::from(th / 2),
                &text,
                text_scale,
                Rgb([255, 255, 255]),
            );
        }
    }
    if opts.legend {
        let lines: Vec<(String, [u8; 3])> = entries
            .iter()
            .map(|e| (format!("{} ({})", e.name, e.regions), e.color))
            .collect();
        let s = ((w.max(h) + 300) / 600).max(1);
        draw_legend(base, i64::from(4 * s), i64::from(4 * s), &lines, s);
    }
    entries
}

fn overlay_one(
    stem: &str,
    img_path: &Path,
    mask_path: &Path,
    kind: Kind,
    out_dir: &Path,
    opts: &OverlayOptions,
    palette: &Palette,
) -> Result<PairResult> {
    let image = match image::open(img_path) {
        Ok(i) => i,
        Err(e) => return Ok(Err((img_path.to_path_buf(), e.to_string()))),
    };
    let mask = match image::open(mask_path) {
        Ok(m) => m,
        Err(e) => return Ok(Err((mask_path.to_path_buf(), e.to_string()))),
    };
    if (image.width(), image.height()) != (mask.width(), mask.height()) {
        return Ok(Err((
            mask_path.to_path_buf(),
            format!(
                "mask is {}×{}, image {}×{}",
                mask.width(),
                mask.height(),
                image.width(),
                image.height()
            ),
        )));
    }
    let (ow, oh) = scaled_size(image.width(), image.height(), opts.scale);
    let keys = keys_of(&mask, kind, (ow, oh), palette, mask_path)?;
    drop(mask);
    let rgb = image.to_rgb8();
    drop(image);
    let mut base = if (ow, oh) == rgb.dimensions() {
        rgb
    } else if ow < rgb.width() {
        // Area averaging: fast, and keeps the granule texture without aliasing.
        image::imageops::thumbnail(&rgb, ow, oh)
    } else {
        image::imageops::resize(&rgb, ow, oh, image::imageops::FilterType::Triangle)
    };
    let legend = draw_overlay(&mut base, &keys, kind, opts, palette);
    let path = out_dir.join(format!("{stem}.{}", opts.format.extension()));
    let bytes = write_rgb(&base, &path, opts.format)?;
    let th = ((u64::from(oh) * u64::from(THUMB)) / u64::from(ow.max(1))).max(1) as u32;
    let thumb = image::imageops::thumbnail(&base, THUMB, th);
    Ok(Ok(Done {
        path,
        thumb,
        legend,
        bytes,
    }))
}

/// Writes `img` atomically as PNG or JPEG; returns the bytes written.
fn write_rgb(img: &RgbImage, path: &Path, format: OverlayFormat) -> Result<u64> {
    use image::ImageEncoder;
    let mut buf = Vec::new();
    let r = match format {
        OverlayFormat::Png => image::codecs::png::PngEncoder::new_with_quality(
            &mut buf,
            crate::masks::PNG_COMPRESSION,
            crate::masks::PNG_FILTER,
        )
        .write_image(
            img.as_raw(),
            img.width(),
            img.height(),
            image::ExtendedColorType::Rgb8,
        ),
        OverlayFormat::Jpeg { quality } => {
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut buf, quality.clamp(1, 100))
                .write_image(
                    img.as_raw(),
                    img.width(),
                    img.height(),
                    image::ExtendedColorType::Rgb8,
                )
        }
    };
    r.map_err(|e| Error::invalid(path, format!("encoding the overlay: {e}")))?;
    crate::atomic::write(path, &buf)?;
    Ok(buf.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sheet_has_a_cell_per_thumb() {
        let t = |c| {
            (
                String::from("x"),
                RgbImage::from_pixel(20, 10, Rgb([c, c, c])),
            )
        };
        let s = contact_sheet(&[t(10), t(20), t(30)], 10, 2);
        let cap = font::text_height(1) + 8;
        assert_eq!(s.dimensions(), (2 * 10 + 3 * 4, 2 * (5 + cap) + 3 * 4));
        assert_eq!(s.get_pixel(4, 4).0, [10, 10, 10]);
        assert_eq!(s.get_pixel(4, 4 + 5 + cap + 4).0, [30, 30, 30]);
    }

    fn palette() -> Palette {
        Palette {
            labels: Some(LabelSet::four_class()),
            background: [0, 0, 0],
        }
    }

    #[test]
    fn outlines_stay_inside_their_region_and_fill_tints() {
        // A 20×20 square of class 1 in a 40×40 index mask.
        let keys: Vec<u32> = (0..40 * 40)
            .map(|i| u32::from((10..30).contains(&(i % 40)) && (10..30).contains(&(i / 40))))
            .collect();
        let mut base = RgbImage::from_pixel(40, 40, Rgb([100, 100, 100]));
        let opts = OverlayOptions {
            alpha: 0.5,
            ..OverlayOptions::default()
        };
        let legend = draw_overlay(&mut base, &keys, Kind::Index, &opts, &palette());
        let red = LabelSet::four_class().classes[0].color.0;
        assert_eq!(
            base.get_pixel(10, 20).0,
            red,
            "edge drawn in the class colour"
        );
        assert_eq!(
            base.get_pixel(9, 20).0,
            [100, 100, 100],
            "outside untouched"
        );
        assert_eq!(base.get_pixel(20, 20).0, [165, 63, 88], "inside tinted");
        assert_eq!(legend.len(), 1);
        assert_eq!(
            (legend[0].name.as_str(), legend[0].regions),
            ("Primary granules", 1)
        );
    }

    #[test]
    fn instances_get_distinct_colours() {
        let c: std::collections::HashSet<[u8; 3]> = (1..=50).map(instance_colour).collect();
        assert_eq!(c.len(), 50);
        assert_ne!(instance_colour(1), instance_colour(2));
    }

    #[test]
    fn regions_split_same_colour_by_connectivity() {
        // Two separate runs of key 7 and one of key 3 in a 5×1 row.
        let r = regions(&[7, 0, 7, 3, 3], 5, 1);
        assert_eq!(r.len(), 3);
        assert_eq!((r[0].0, r[0].1), (7, 1));
        assert_eq!((r[2].0, r[2].1), (3, 2));
    }

    #[test]
    fn scaled_size_never_reaches_zero() {
        assert_eq!(scaled_size(4096, 4224, 0.5), (2048, 2112));
        assert_eq!(scaled_size(3, 3, 0.01), (1, 1));
    }
}
