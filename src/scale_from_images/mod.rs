//! Step 1 of the published workflow: the scale (pixels per micrometre) of each image, from
//! the image itself.
//!
//! Sources, tried in this order per image:
//! 1. calibration stored in a TIFF ([`tiff_meta`]): ImageJ, OME-XML, `XResolution` per
//!    centimetre, FEI/Thermo Fisher `[Scan] PixelWidth`;
//! 2. the scale bar burned into the pixels ([`bar`]), with the bar's printed length in µm
//!    given by the caller (no OCR: without it the bar's length in pixels is reported);
//! 3. nothing: the image has no scale, and gets no invented value.
//!
//! [`table`] writes the result as the scale table `stats`, `reclassify` and `validate` read.

pub mod bar;
pub mod table;
pub mod tiff_meta;

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// Largest image decoded to look for a bar (pixels): 16384², far above a 17-megapixel TEM
/// frame; the decoded grey values take 4 bytes a pixel.
pub(crate) const MAX_BAR_PIXELS: u64 = 1 << 28;

/// Where a scale value came from (the table's `source` column).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Source {
    /// ImageJ's `Info`/`unit` and resolution tags (`imagej-tiff`).
    ImageJ,
    /// OME-XML `PhysicalSizeX` (`ome-tiff`).
    Ome,
    /// TIFF `XResolution` with a centimetre unit (`tiff-resolution`).
    TiffResolution,
    /// FEI/Thermo Fisher `[Scan] PixelWidth` (`fei-tiff`).
    Fei,
    /// A burned-in scale bar measured in the pixels (`scale-bar`).
    ScaleBar,
    /// No value found (`none`).
    None,
}

impl Source {
    /// The name written in the table's `source` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::ImageJ => "imagej-tiff",
            Source::Ome => "ome-tiff",
            Source::TiffResolution => "tiff-resolution",
            Source::Fei => "fei-tiff",
            Source::ScaleBar => "scale-bar",
            Source::None => "none",
        }
    }
}

/// What to measure.
#[derive(Clone, Debug, Default)]
pub(crate) struct ScaleRequest {
    pub images: Vec<PathBuf>,
    /// The length printed on the scale bars, µm (the same for every image).
    pub bar_um: Option<f64>,
    pub bar: bar::BarOptions,
}

/// The scale of one image.
#[derive(Clone, Debug, PartialEq)]
pub struct ImageScale {
    /// The image file.
    pub path: PathBuf,
    /// The name written in the table: the file name without folders.
    pub image_name: String,
    /// Pixels per µm, when found.
    pub px_per_um: Option<f64>,
    /// Where the value came from.
    pub source: Source,
    /// 1 for a calibration in the file; the detection's confidence for a bar.
    pub confidence: Option<f64>,
    /// The measured scale bar, when the value came from one.
    pub bar: Option<bar::Bar>,
    /// What was read, or why there is no value.
    pub note: String,
}

impl ImageScale {
    /// Whether the image got a value.
    pub(crate) fn has_scale(&self) -> bool {
        self.px_per_um.is_some()
    }
}

/// The image's own calibration (tags only; no pixels decoded). `Ok(None)` for a non-TIFF.
pub(crate) fn calibration_of(path: &Path) -> Result<Option<tiff_meta::TiffMeta>> {
    use std::io::Read;
    let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let len = f.metadata().map_err(|e| Error::io(path, e))?.len();
    let mut head = [0u8; 4];
    let n = f.read(&mut head).map_err(|e| Error::io(path, e))?;
    if !tiff_meta::looks_like_tiff(&head[..n]) {
        return Ok(None);
    }
    let f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    tiff_meta::read(std::io::BufReader::new(f), len)
        .map(Some)
        .map_err(|m| Error::invalid(path, m))
}

/// Decodes an image to grey levels for the bar search, refusing sizes past
/// [`MAX_BAR_PIXELS`] before decoding.
pub(crate) fn load_gray(path: &Path) -> Result<bar::Gray> {
    let reader = image::ImageReader::open(path)
        .map_err(|e| Error::io(path, e))?
        .with_guessed_format()
        .map_err(|e| Error::io(path, e))?;
    let (w, h) = reader
        .into_dimensions()
        .map_err(|e| Error::invalid(path, format!("cannot read the image size: {e}")))?;
    let px = u64::from(w) * u64::from(h);
    if w == 0 || h == 0 || w > tiff_meta::MAX_SIDE || h > tiff_meta::MAX_SIDE || px > MAX_BAR_PIXELS
    {
        return Err(Error::invalid(
            path,
            format!(
                "image of {w} × {h} pixels is outside the limits for a scale-bar search (sides ≤ {}, ≤ {MAX_BAR_PIXELS} pixels)",
                tiff_meta::MAX_SIDE
            ),
        ));
    }
    let mut reader = image::ImageReader::open(path)
        .map_err(|e| Error::io(path, e))?
        .with_guessed_format()
        .map_err(|e| Error::io(path, e))?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(w);
    limits.max_image_height = Some(h);
    // Up to 8 bytes a pixel (16-bit RGBA) for the decoded image itself.
    limits.max_alloc = Some(px.saturating_mul(8).max(1 << 20));
    reader.limits(limits);
    let img = reader
        .decode()
        .map_err(|e| Error::invalid(path, format!("cannot decode the image: {e}")))?;
    let (w, h) = (img.width() as usize, img.height() as usize);
    let data: Vec<f32> = if img.color().bytes_per_pixel() / img.color().channel_count() > 1 {
        img.into_luma16()
            .into_raw()
            .into_iter()
            .map(|v| f32::from(v) / 257.0)
            .collect()
    } else {
        img.into_luma8()
            .into_raw()
            .into_iter()
            .map(f32::from)
            .collect()
    };
    Ok(bar::Gray {
        width: w,
        height: h,
        data,
    })
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// Measures one image: the file's calibration, else its scale bar, else nothing.
pub fn measure(path: &Path, bar_um: Option<f64>, opts: &bar::BarOptions) -> Result<ImageScale> {
    let mut out = ImageScale {
        path: path.to_path_buf(),
        image_name: file_name(path),
        px_per_um: None,
        source: Source::None,
        confidence: None,
        bar: None,
        note: String::new(),
    };
    let mut notes: Vec<String> = Vec::new();
    if let Some(meta) = calibration_of(path)? {
        notes.extend(meta.notes.iter().cloned());
        if let Some(c) = meta.calibration() {
            out.px_per_um = Some(c.px_per_um);
            out.source = c.source;
            out.confidence = Some(1.0);
            let mut n = vec![c.detail.clone()];
            for other in &meta.calibrations[1..] {
                let rel = (other.px_per_um - c.px_per_um).abs() / c.px_per_um;
                if rel > 1e-3 {
                    n.push(format!(
                        "{} says {} px/µm ({}), {:.1} % away; the first source wins",
                        other.source.as_str(),
                        other.px_per_um,
                        other.detail,
                        rel * 100.0
                    ));
                }
            }
            n.extend(notes);
            out.note = n.join("; ");
            return Ok(out);
        }
    }
    let g = load_gray(path)?;
    match bar::find_bar(&g, opts) {
        bar::Detection::Found(b) => {
            out.confidence = Some(b.confidence);
            let where_ = format!(
                "bar of {:.2} px at x {:.2}..{:.2}, rows {}..{} ({}{})",
                b.length_px,
                b.left,
                b.right,
                b.top,
                b.bottom,
                if b.dark { "dark" } else { "light" },
                match b.label {
                    Some(bar::LabelSide::Above) => ", label above",
                    Some(bar::LabelSide::Below) => ", label below",
                    None => "",
                }
            );
            match bar_um {
                Some(um) => {
                    out.px_per_um = Some(b.length_px / um);
                    out.source = Source::ScaleBar;
                    notes.insert(0, format!("{where_} = {um} µm"));
                }
                None => {
                    notes.insert(
                        0,
                        format!("{where_}; the length printed on the bar, in µm, is needed to give px/µm"),
                    );
                }
            }
            out.bar = Some(b);
        }
        bar::Detection::NotFound(why) => notes.insert(0, why),
        bar::Detection::Ambiguous(v) => {
            let list: Vec<String> = v
                .iter()
                .map(|b| {
                    format!(
                        "{:.1} px at x {:.1}, rows {}..{}",
                        b.length_px, b.left, b.top, b.bottom
                    )
                })
                .collect();
            notes.insert(
                0,
                format!(
                    "refused: {} candidate bars ({}); not guessing which is the scale bar",
                    v.len(),
                    list.join("; ")
                ),
            );
        }
    }
    out.note = notes.join("; ");
    Ok(out)
}

/// Image files in a folder (not recursive), sorted, by extension.
pub(crate) fn images_in(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let p = e.map_err(|e| Error::io(dir, e))?.path();
        let ext = p
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("")
            .to_ascii_lowercase();
        if p.is_file() && matches!(ext.as_str(), "tif" | "tiff" | "png" | "jpg" | "jpeg") {
            v.push(p);
        }
    }
    v.sort();
    Ok(v)
}

/// Measures every image of the request (in parallel), in the request's order. Two images
/// with one file name are refused: the table matches images by name.
pub(crate) fn measure_all(req: &ScaleRequest) -> Result<Vec<ImageScale>> {
    use rayon::prelude::*;
    let mut seen: std::collections::HashMap<String, &Path> = std::collections::HashMap::new();
    for p in &req.images {
        if let Some(prev) = seen.insert(file_name(p), p) {
            return Err(Error::invalid(
                p,
                format!(
                    "has the same file name as {}; the scale table names images by file name",
                    prev.display()
                ),
            ));
        }
    }
    if let Some(um) = req.bar_um {
        if !(um.is_finite() && um > 0.0) {
            return Err(Error::Usage(format!(
                "the bar length must be a positive number of µm, got {um}"
            )));
        }
    }
    req.images
        .par_iter()
        .map(|p| measure(p, req.bar_um, &req.bar))
        .collect()
}
