//! Overlays of colour masks on their images, and a contact sheet of all of them, so that a
//! reviewer can see at a glance whether masks sit where the objects are.

use crate::error::{Error, Result};
use image::{DynamicImage, RgbImage};
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Blends `mask` over `image`: `out = (1 − α)·image + α·mask` where the mask is not
/// background (black), the image unchanged elsewhere. Any image type (8/16-bit gray, RGBA,
/// TIFF) is converted to RGB8 first. Where sizes differ, only the common part is blended.
pub(crate) fn blend(image: &DynamicImage, mask: &RgbImage, alpha: f32) -> RgbImage {
    let mut out = image.to_rgb8();
    let a = alpha.clamp(0.0, 1.0);
    let (w, h) = (
        out.width().min(mask.width()),
        out.height().min(mask.height()),
    );
    for y in 0..h {
        for x in 0..w {
            let m = mask.get_pixel(x, y).0;
            if m == [0, 0, 0] {
                continue;
            }
            let p = out.get_pixel_mut(x, y);
            for (o, &mv) in p.0.iter_mut().zip(m.iter()) {
                let v = (1.0 - a) * f32::from(*o) + a * f32::from(mv);
                *o = v.round().clamp(0.0, 255.0) as u8;
            }
        }
    }
    out
}

/// Small thumbnails in a grid of `columns` columns, each cell `thumb_width` wide and as tall
/// as the tallest thumbnail of its row, on a dark grey background. Names are not drawn (no
/// font is shipped); the order is the order given.
pub fn contact_sheet(thumbs: &[(String, RgbImage)], thumb_width: u32, columns: u32) -> RgbImage {
    let columns = columns.max(1) as usize;
    let tw = thumb_width.max(1);
    let gap = 4u32;
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
        .map(|r| r.iter().map(|t| t.height()).max().unwrap_or(0))
        .collect();
    let cols = columns.min(scaled.len()).max(1) as u32;
    let width = cols * tw + (cols + 1) * gap;
    let height = row_h.iter().sum::<u32>() + (rows.len() as u32 + 1) * gap;
    let mut sheet = RgbImage::from_pixel(width, height.max(1), image::Rgb([32, 32, 32]));
    let mut y = gap;
    for (r, row) in rows.iter().enumerate() {
        for (c, t) in row.iter().enumerate() {
            let x = gap + c as u32 * (tw + gap);
            image::imageops::replace(&mut sheet, t, i64::from(x), i64::from(y));
        }
        y += row_h[r] + gap;
    }
    sheet
}

/// What [`overlay_dir`] did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OverlaySummary {
    /// Overlays written (`<stem>.png`), sorted by stem.
    pub written: Vec<PathBuf>,
    /// Images with no mask of the same stem.
    pub images_without_mask: Vec<PathBuf>,
    /// Masks with no image of the same stem.
    pub masks_without_image: Vec<PathBuf>,
    /// Pairs that could not be overlaid (unreadable, different sizes), with the reason.
    pub failed: Vec<(PathBuf, String)>,
    /// The contact sheet, when at least one overlay was written.
    pub contact_sheet: Option<PathBuf>,
}

const IMAGE_EXTS: &[&str] = &["png", "tif", "tiff", "jpg", "jpeg"];
const SHEET: &str = "contact_sheet";

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

/// Overlays every mask of `masks_dir` on the image of the same stem in `images_dir`, writing
/// `<stem>.png` and `contact_sheet.png` into `out_dir`. Pairs run in parallel, one image per
/// worker at a time. Unmatched files on either side are listed in the summary.
pub fn overlay_dir(
    images_dir: &Path,
    masks_dir: &Path,
    out_dir: &Path,
    alpha: f32,
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
    std::fs::create_dir_all(out_dir).map_err(|e| Error::io(out_dir, e))?;
    let bar = crate::progress::Progress::new(pairs.len() as u64, false);
    type Done = std::result::Result<(PathBuf, (String, RgbImage)), (PathBuf, String)>;
    let results: Vec<Result<Done>> = pairs
        .par_iter()
        .map(|(stem, img_path, mask_path)| {
            let r = overlay_one(stem, img_path, mask_path, out_dir, alpha);
            bar.inc(1);
            r
        })
        .collect();
    bar.finish();
    let mut thumbs = Vec::new();
    for r in results {
        match r? {
            Ok((path, thumb)) => {
                summary.written.push(path);
                thumbs.push(thumb);
            }
            Err(fail) => summary.failed.push(fail),
        }
    }
    if !thumbs.is_empty() {
        let sheet = contact_sheet(&thumbs, 256, 6);
        let path = out_dir.join(format!("{SHEET}.png"));
        write_rgb_png(&sheet, &path)?;
        summary.contact_sheet = Some(path);
    }
    Ok(summary)
}

/// One pair: `Ok(Err(..))` for a per-pair problem that is reported, `Err` for a write failure.
#[allow(clippy::type_complexity)]
fn overlay_one(
    stem: &str,
    img_path: &Path,
    mask_path: &Path,
    out_dir: &Path,
    alpha: f32,
) -> Result<std::result::Result<(PathBuf, (String, RgbImage)), (PathBuf, String)>> {
    let image = match image::open(img_path) {
        Ok(i) => i,
        Err(e) => return Ok(Err((img_path.to_path_buf(), e.to_string()))),
    };
    let mask = match image::open(mask_path) {
        Ok(m) => m.to_rgb8(),
        Err(e) => return Ok(Err((mask_path.to_path_buf(), e.to_string()))),
    };
    if (image.width(), image.height()) != mask.dimensions() {
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
    let out = blend(&image, &mask, alpha);
    let path = out_dir.join(format!("{stem}.png"));
    write_rgb_png(&out, &path)?;
    let tw = 256u32;
    let th =
        ((u64::from(out.height()) * u64::from(tw)) / u64::from(out.width().max(1))).max(1) as u32;
    let thumb = image::imageops::thumbnail(&out, tw, th);
    Ok(Ok((path, (stem.to_owned(), thumb))))
}

fn write_rgb_png(img: &RgbImage, path: &Path) -> Result<()> {
    use image::ImageEncoder;
    crate::atomic::write_with(path, |w| {
        image::codecs::png::PngEncoder::new_with_quality(
            w,
            crate::masks::PNG_COMPRESSION,
            crate::masks::PNG_FILTER,
        )
        .write_image(
            img.as_raw(),
            img.width(),
            img.height(),
            image::ExtendedColorType::Rgb8,
        )
        .map_err(std::io::Error::other)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{GrayImage, Luma, Rgb};

    #[test]
    fn background_leaves_the_image_unchanged() {
        let img = DynamicImage::ImageLuma8(GrayImage::from_pixel(3, 1, Luma([100])));
        let mut mask = RgbImage::new(3, 1);
        mask.put_pixel(1, 0, Rgb([200, 0, 0]));
        let out = blend(&img, &mask, 0.5);
        assert_eq!(out.get_pixel(0, 0).0, [100, 100, 100]);
        assert_eq!(out.get_pixel(1, 0).0, [150, 50, 50]);
    }

    #[test]
    fn sheet_has_a_cell_per_thumb() {
        let t = |c| {
            (
                String::from("x"),
                RgbImage::from_pixel(20, 10, Rgb([c, c, c])),
            )
        };
        let s = contact_sheet(&[t(10), t(20), t(30)], 10, 2);
        assert_eq!(s.dimensions(), (2 * 10 + 3 * 4, 2 * 5 + 3 * 4));
        assert_eq!(s.get_pixel(4, 4).0, [10, 10, 10]);
        assert_eq!(s.get_pixel(4, 4 + 5 + 4).0, [30, 30, 30]);
    }
}
