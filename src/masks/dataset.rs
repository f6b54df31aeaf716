//! A folder of colour (or index) masks read back as a dataset of ellipses: connected regions
//! per class, each fitted with the ellipse of equal second moments (`mask_regions`).

use crate::error::{Error, Result};
use crate::labelset::LabelSet;
use crate::lossiness::Lossiness;
use crate::masks::regions::{self, RegionOptions};
use crate::model::{Dataset, Image, ImageId};
use rayon::prelude::*;
use std::path::{Path, PathBuf};

/// Memory that masks being decoded and scanned may hold at once, over all threads (1 GiB):
/// a mask waits until its share is free, and a mask that alone needs more is refused. The
/// figure is the same on 2 cores and on 64, so a folder of hostile headers cannot multiply
/// it by the thread count.
pub const MASK_DECODE_BUDGET: u64 = 1 << 30;

/// Bytes one mask costs while it is read: the decoded pixels, then a 16-bit key per pixel
/// and an RGB copy that the region scan makes (`regions::regions_from_mask`).
fn mask_cost(decoded: u64, w: u32, h: u32) -> u64 {
    decoded.saturating_add(u64::from(w) * u64::from(h) * 5)
}

/// A process-wide byte budget (`MASK_DECODE_BUDGET`) shared by the decoding threads.
struct DecodeBudget {
    free: std::sync::Mutex<u64>,
    returned: std::sync::Condvar,
}

static DECODE_BUDGET: DecodeBudget = DecodeBudget {
    free: std::sync::Mutex::new(MASK_DECODE_BUDGET),
    returned: std::sync::Condvar::new(),
};

/// A share of the budget, given back when dropped.
struct Held(u64);

impl DecodeBudget {
    fn acquire(&'static self, bytes: u64, path: &Path) -> Result<Held> {
        if bytes > MASK_DECODE_BUDGET {
            return Err(Error::invalid(
                path,
                format!(
                    "this mask would take {bytes} bytes to read, more than the {MASK_DECODE_BUDGET}-byte limit for masks"
                ),
            ));
        }
        // A poisoned lock only means another thread panicked; the count is still right.
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        while *free < bytes {
            free = self.returned.wait(free).unwrap_or_else(|e| e.into_inner());
        }
        *free -= bytes;
        Ok(Held(bytes))
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let mut free = DECODE_BUDGET.free.lock().unwrap_or_else(|e| e.into_inner());
        *free += self.0;
        DECODE_BUDGET.returned.notify_all();
    }
}

/// Counts of a folder scan, for the user.
#[derive(Clone, Debug, Default)]
pub struct MaskDirSummary {
    /// Mask files read.
    pub masks: usize,
    /// Regions of known classes found (one ellipse each).
    pub regions: usize,
    /// Regions reaching the image border (probably cut shapes).
    pub touching_border: usize,
    /// Regions touching another class (possibly occluded).
    pub touching_other: usize,
    /// Regions the fitted ellipse does not reproduce exactly.
    pub inexact: usize,
    /// Regions of colours the label set does not know (not converted).
    pub unknown_regions: usize,
}

/// Reads every `*.png` of `dir` (sorted by name). Image file names are taken from `images`
/// when an image of the same stem is there, else `<stem>.png`.
pub fn read_dir(
    dir: &Path,
    labels: &LabelSet,
    images: Option<&Path>,
) -> Result<(Dataset, Lossiness, MaskDirSummary)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.is_file()
                && p.extension()
                    .and_then(|e| e.to_str())
                    .is_some_and(|e| e.eq_ignore_ascii_case("png"))
        })
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(Error::invalid(dir, "no PNG masks in this folder"));
    }
    let scanned: Vec<Result<_>> = files
        .par_iter()
        .map(|p| {
            let open = || {
                image::ImageReader::open(p)
                    .map_err(|e| Error::io(p, e))?
                    .with_guessed_format()
                    .map_err(|e| Error::io(p, e))
            };
            let mut decoder = open()?
                .into_decoder()
                .map_err(|e| Error::invalid(p, e.to_string()))?;
            let (w, h) = image::ImageDecoder::dimensions(&decoder);
            let probe = Image::new(ImageId(0), "", w, h);
            // Never decode a mask larger than the limits masks are written with.
            crate::masks::check_size(&probe).map_err(|e| Error::invalid(p, e.to_string()))?;
            let decoded = image::ImageDecoder::total_bytes(&decoder);
            let _held = DECODE_BUDGET.acquire(mask_cost(decoded, w, h), p)?;
            // The decoder may allocate what the header declares and no more.
            let mut limits = image::Limits::default();
            limits.max_image_width = Some(w);
            limits.max_image_height = Some(h);
            limits.max_alloc = Some(decoded.saturating_add(1 << 20));
            image::ImageDecoder::set_limits(&mut decoder, limits)
                .map_err(|e| Error::invalid(p, e.to_string()))?;
            let img = image::DynamicImage::from_decoder(decoder)
                .map_err(|e| Error::invalid(p, e.to_string()))?;
            if matches!(img, image::DynamicImage::ImageLuma16(_)) {
                // Instance numbers say which shape, not which class: read as colours they
                // would come out as thousands of regions of "unknown colour".
                return Err(Error::invalid(
                    p,
                    "a 16-bit instance mask carries no classes; masks are read as colour or \
                     class-index masks, which carry them",
                ));
            }
            Ok((
                w,
                h,
                regions::regions_from_mask(&img, labels, &RegionOptions::default()),
            ))
        })
        .collect();
    let mut ds = Dataset {
        categories: labels.categories(),
        ..Default::default()
    };
    let mut loss = Lossiness::default();
    let mut sum = MaskDirSummary::default();
    let mut next = 1u64;
    for (i, (path, r)) in files.iter().zip(scanned).enumerate() {
        let (w, h, (regions, scan)) = r?;
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_string();
        let file_name = images
            .and_then(|d| crate::path_safety::find_image(d, &format!("{stem}.png")))
            .and_then(|p| p.file_name().and_then(|n| n.to_str()).map(str::to_string))
            .unwrap_or_else(|| format!("{stem}.png"));
        let id = ImageId(i as u64);
        ds.images.push(Image::new(id, file_name, w, h));
        let anns = regions::annotations_from_regions(id, next, &regions);
        next += anns.len() as u64;
        ds.annotations.extend(anns);
        sum.masks += 1;
        sum.regions += scan.regions;
        sum.touching_border += scan.touching_border;
        sum.touching_other += scan.touching_other;
        sum.inexact += scan.inexact;
        sum.unknown_regions += scan.unknown_regions;
    }
    loss.input
        .insert("mask region".into(), sum.regions + sum.unknown_regions);
    loss.add(
        "ellipse-from-region",
        sum.regions,
        "ellipse fitted to each connected region by second moments (exact for isolated ellipses)",
    );
    loss.add(
        "region-touches-border",
        sum.touching_border,
        "region reaches the image border: the ellipse was cut and cannot be recovered exactly",
    );
    loss.add(
        "region-touches-other",
        sum.touching_other,
        "region touches another class: overlap hid part of a shape, not recoverable exactly",
    );
    loss.add(
        "region-inexact",
        sum.inexact,
        "region differs from its fitted ellipse (merged instances or not an ellipse)",
    );
    loss.add(
        "unknown-color",
        sum.unknown_regions,
        "region of a colour the label set does not know; not converted",
    );
    Ok((ds, loss, sum))
}
