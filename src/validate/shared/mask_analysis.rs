//! Shared work of the `mask-*` rules: each mask is found, its header read and its pixels
//! decoded once per run (on first use, in parallel over images), and the four rules format
//! the results.
//!
//! A mask belongs to an image by name: under the masks folder, the image's file name (with
//! folders, then without) with the extension replaced by `.png`, or its stem + `_mask.png`.
//! Each image is checked once, against the first dataset that lists it.

use crate::model::{Annotation, Rgb};
use crate::validate::geom::has_area;
use crate::validate::shared::files::header_size;
use crate::validate::shared::files::image_key;
use crate::validate::shared::files::{candidate_paths, leads_out};
use crate::validate::visible::Visibility;
use crate::validate::Context;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

/// What was found about the mask of one image.
#[derive(Clone, Debug, Default)]
pub(crate) struct MaskAnalysis {
    pub dataset: usize,
    /// Index into the dataset's `images`.
    pub image: usize,
    /// The mask file; `None` when there is none.
    pub path: Option<PathBuf>,
    /// Where it was looked for (for the `mask-missing` message).
    pub looked_for: Vec<String>,
    /// The mask's size from its header.
    pub size: Option<(u32, u32)>,
    /// The mask could not be read or decoded.
    pub error: Option<String>,
    /// Colours outside the label set, most frequent first (at most 5), and the total count of
    /// such pixels.
    pub unknown: Vec<(Rgb, u64)>,
    pub unknown_total: u64,
    /// Classes whose pixel IoU is below the threshold: (name, IoU).
    pub low_class_iou: Vec<(String, f64)>,
    /// Annotations (indices into the dataset's `annotations`) that the mask covers too little.
    pub low_coverage: Vec<(usize, f64)>,
}

/// Mask file names tried for an image, in order; a mask reached through a link out of the
/// masks folder is left out (never opened; `unsafe-path` reports it).
pub(crate) fn mask_candidates(dir: &Path, image_name: &str) -> Vec<PathBuf> {
    let mut v = mask_paths(dir, image_name);
    v.retain(|p| !leads_out(dir, p));
    v
}

/// [`mask_candidates`] before links are checked.
pub(crate) fn mask_paths(dir: &Path, image_name: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for c in candidate_paths(dir, image_name).unwrap_or_default() {
        let png = c.with_extension("png");
        let stem = c
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let suffixed = c.with_file_name(format!("{stem}_mask.png"));
        for p in [png, suffixed] {
            if !out.contains(&p) {
                out.push(p);
            }
        }
    }
    out
}

pub(crate) fn analyse(ctx: &Context<'_>) -> Vec<MaskAnalysis> {
    use rayon::prelude::*;
    let Some(dir) = &ctx.inputs.masks_dir else {
        return Vec::new();
    };
    let mut seen = HashSet::new();
    let mut jobs = Vec::new();
    // An image is compared once, with the first file that has it; CVAT files go first
    // because they hold the exact ellipses, while a COCO export's ellipses may be recovered
    // from whole-pixel masks and be half a pixel off.
    // Only the datasets of the label set the masks are drawn in (a release folder holds 4-
    // and 7-class files side by side, and one set of masks).
    let mut order: Vec<usize> = ctx.mask_group().datasets.clone();
    order.sort_by_key(|&d| {
        !matches!(
            ctx.inputs.datasets[d].format,
            crate::validate::SourceFormat::Cvat
        )
    });
    for d in order {
        // YOLO images keep their split folder in no file name a mask could be matched by
        // (`masks` and `convert` never write masks from a YOLO dataset's names either).
        if ctx.inputs.is_yolo(d) {
            continue;
        }
        let input = &ctx.inputs.datasets[d];
        for (i, im) in input.dataset.images.iter().enumerate() {
            if crate::path_safety::unsafe_reason(&im.file_name).is_none()
                && seen.insert(image_key(&im.file_name).to_string())
            {
                jobs.push((d, i));
            }
        }
    }
    jobs.par_iter()
        .map(|&(d, i)| analyse_one(ctx, dir, d, i))
        .collect()
}

fn analyse_one(ctx: &Context<'_>, dir: &Path, d: usize, i: usize) -> MaskAnalysis {
    let ds = &ctx.inputs.datasets[d].dataset;
    let im = &ds.images[i];
    let tried = mask_candidates(dir, &im.file_name);
    let mut r = MaskAnalysis {
        dataset: d,
        image: i,
        looked_for: tried.iter().map(|p| ctx.inputs.display_path(p)).collect(),
        ..MaskAnalysis::default()
    };
    let Some(path) = tried.into_iter().find(|p| p.is_file()) else {
        return r;
    };
    r.path = Some(path.clone());
    match header_size(&path) {
        Ok(s) => r.size = Some(s),
        Err(e) => {
            r.error = Some(e);
            return r;
        }
    }
    if r.size != Some((im.width, im.height)) {
        return r; // mask-size-mismatch; pixels cannot be compared
    }
    // Decoding applies the image crate's default memory limits.
    let rgb = match image::ImageReader::open(&path)
        .and_then(|x| x.with_guessed_format())
        .map_err(|e| e.to_string())
        .and_then(|x| x.decode().map_err(|e| e.to_string()))
    {
        // Moved, not copied, when the mask is RGB already (the usual case).
        Ok(img) => img.into_rgb8(),
        Err(e) => {
            r.error = Some(e);
            return r;
        }
    };
    // Colour → category id, from the file's own colours else the label set's.
    let ls = ctx.mask_group().labelset.as_ref();
    let background = ls.map_or(Rgb([0, 0, 0]), |l| l.background);
    let mut colours: HashMap<[u8; 3], u8> = HashMap::new();
    for c in &ds.categories {
        let col = c
            .color
            .or_else(|| ls.and_then(|l| l.by_name(&c.name)).map(|lc| lc.color));
        if let (Some(col), Ok(id)) = (col, u8::try_from(c.id.0)) {
            colours.entry(col.0).or_insert(id);
        }
    }
    let (w, h) = (im.width as usize, im.height as usize);
    let mut index = vec![0u8; w * h];
    let mut unknown: HashMap<[u8; 3], u64> = HashMap::new();
    // Pixels come in runs of one colour: the last colour's id answers most lookups without
    // hashing (hashing every pixel of 93 masks of 17 megapixels was most of `validate`'s
    // time on the published dataset).
    let mut last: ([u8; 3], Option<u8>) = (background.0, None);
    for (k, px) in rgb.pixels().enumerate() {
        if px.0 == background.0 {
            continue;
        }
        if px.0 != last.0 {
            last = (px.0, colours.get(&px.0).copied());
        }
        match last.1 {
            Some(id) => index[k] = id,
            None => *unknown.entry(px.0).or_insert(0) += 1,
        }
    }
    r.unknown_total = unknown.values().sum();
    let mut u: Vec<(Rgb, u64)> = unknown.into_iter().map(|(c, n)| (Rgb(c), n)).collect();
    u.sort_by(|a, b| b.1.cmp(&a.1).then(a.0 .0.cmp(&b.0 .0)));
    u.truncate(5);
    r.unknown = u;

    let anns: Vec<(usize, &Annotation)> = ds
        .annotations
        .iter()
        .enumerate()
        .filter(|(_, a)| a.image_id == im.id)
        .collect();
    let refs: Vec<&Annotation> = anns.iter().map(|(_, a)| *a).collect();
    // Painted order and the boundary margin (`validate/visible.rs`): a shape is compared on
    // what it still shows, and pixels where two rasterising rules may disagree do not count.
    let visibility = Visibility::new(&refs, im.width, im.height);
    if let Some(expected) = ctx
        .inputs
        .expected_index_mask
        .as_ref()
        .and_then(|f| f(im, &refs))
    {
        if expected.len() == index.len() {
            // Counts per class index, in arrays: class ids are bytes.
            let (mut inter, mut uni) = ([0u64; 256], [0u64; 256]);
            for (i, (&e, &m)) in expected.iter().zip(&index).enumerate() {
                if e == m {
                    if e != 0 {
                        inter[usize::from(e)] += 1;
                        uni[usize::from(e)] += 1;
                    }
                } else if !visibility.in_band(i) {
                    uni[usize::from(e)] += 1;
                    uni[usize::from(m)] += 1;
                }
            }
            // Index 0 is the background, not a class.
            for id in (1..=u8::MAX).filter(|&id| uni[usize::from(id)] > 0) {
                let iou = inter[usize::from(id)] as f64 / uni[usize::from(id)] as f64;
                if iou < ctx.thresholds.mask_class_iou {
                    let name = ds
                        .categories
                        .iter()
                        .find(|c| c.id.0 == u64::from(id))
                        .map_or_else(|| format!("[category {id}]"), |c| c.name.clone());
                    r.low_class_iou.push((name, iou));
                }
            }
        }
    }
    for (pos, (k, a)) in anns.iter().enumerate() {
        if !has_area(&a.shape) || !a.shape.is_finite() {
            continue;
        }
        let Ok(cat) = u8::try_from(a.category_id.0) else {
            continue;
        };
        let (mut shown, mut hit) = (0u64, 0u64);
        visibility.shown_core(&refs, pos, im.width, im.height, |i| {
            shown += 1;
            hit += u64::from(index.get(i) == Some(&cat));
        });
        // Nothing left to compare: hidden by later shapes, or thinner than the margin.
        if shown == 0 {
            continue;
        }
        let cov = hit as f64 / shown as f64;
        if cov < ctx.thresholds.mask_coverage {
            r.low_coverage.push((*k, cov));
        }
    }
    r
}

#[cfg(test)]
pub(crate) mod fixture {
    //! A 20 × 10 image with two granules, its colour mask, written to a folder.
    use crate::validate::testutil::*;
    use crate::validate::Inputs;

    /// Paints pixel centres inside the circle, like the rasteriser does.
    pub(crate) fn disc(img: &mut image::RgbImage, cx: f64, cy: f64, r: f64, col: [u8; 3]) {
        for y in 0..img.height() {
            for x in 0..img.width() {
                let (dx, dy) = (f64::from(x) + 0.5 - cx, f64::from(y) + 0.5 - cy);
                if dx * dx + dy * dy <= r * r {
                    img.put_pixel(x, y, image::Rgb(col));
                }
            }
        }
    }

    pub(crate) fn good_mask() -> image::RgbImage {
        let mut m = image::RgbImage::new(20, 10);
        disc(&mut m, 5.0, 5.0, 3.0, [230, 25, 75]);
        disc(&mut m, 14.0, 5.0, 3.0, [0, 130, 200]);
        m
    }

    /// Inputs for `a.tif` with the mask `masks/a.png` (written by the caller).
    pub(crate) fn inputs(dir: &std::path::Path) -> Inputs {
        let ds = dataset(
            four(),
            vec![image(1, "a.tif", 20, 10, 3)],
            vec![
                ann(1, 1, 1, ellipse(5.0, 5.0, 3.0, 3.0, 0.0), 10),
                ann(2, 1, 2, ellipse(14.0, 5.0, 3.0, 3.0, 0.0), 11),
            ],
        );
        let mut i = coco_inputs(ds);
        i.root = Some(dir.to_path_buf());
        i.datasets[0].path = dir.join("train.json");
        i.masks_dir = Some(dir.join("masks"));
        i
    }

    pub(crate) fn write(dir: &std::path::Path, name: &str, m: &image::RgbImage) {
        std::fs::create_dir_all(dir.join("masks")).unwrap();
        m.save(dir.join("masks").join(name)).unwrap();
    }
}
