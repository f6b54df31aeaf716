//! A deterministic generator of datasets shaped like TEM-NeutroStruct.
//!
//! It writes what the published dataset's pipeline starts from: the CVAT XML of 4-class
//! ellipses, the COCO JSON exactly as CVAT exports it (each ellipse drawn by CVAT's export
//! rasteriser, `raster_cvat_export`, pixel-identical to `cv2.ellipse` of the rounded
//! ellipse, into an uncompressed RLE, `iscrowd: 1`, `bbox` and `area` from that mask,
//! `attributes: {occluded, rotation}`), a scale table, and grayscale TEM-like images (light
//! cytoplasm, darker nucleus lobes, dark granules, pale vesicles). By default it draws what
//! real annotations have: shapes cut by every border, overlaps, shapes hidden under later
//! ones, exact ties and angles outside [0, 360). With `published_layout` it writes the whole
//! release (7-class files by the division, 7-class masks, the XLSX scale sheet).
//!
//! The same seed gives the same bytes on every machine: the random stream is ChaCha8, whose
//! output is fixed by its specification, and images are rendered in a fixed order per image.

use crate::error::{Error, Result};
use crate::geometry::raster_cvat_export::{cvat_export_coco, cvat_export_ellipse_spans};
use crate::labelset::LabelSet;
use crate::model::{Annotation, AnnotationId, CategoryId, Dataset, Ellipse, Image, ImageId, Shape};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use rayon::prelude::*;
use serde_json::json;
use std::path::{Path, PathBuf};

/// What to generate.
#[derive(Clone, Debug)]
pub struct SynthConfig {
    /// Number of images.
    pub images: usize,
    /// Random seed: the same seed gives the same bytes.
    pub seed: u64,
    /// Override every image's size; by default sizes are as published (4096×4224, and six of
    /// 93 images 2048×2115).
    pub size: Option<(u32, u32)>,
    /// Mean number of ellipses per image (each image varies by up to ±10 %).
    pub per_image: usize,
    /// Write the TEM-like images (TIFF) too.
    pub write_images: bool,
    /// Draw what real annotations have (shapes cut by the border, overlaps, hidden shapes,
    /// ties, angles outside [0, 360)); off only for a tidy dataset.
    pub real_shapes: bool,
    /// Write the whole published release layout (7-class files by the division, 7-class
    /// masks, the scale sheet as XLSX) besides the 4-class files.
    pub published_layout: bool,
    /// Burn a scale bar with its label into each image (bottom right), as microscopes do.
    pub scale_bar: bool,
    /// Write the images as TIFF with ImageJ calibration tags (file names `*.tif`), not PNG.
    pub tiff_images: bool,
}

impl Default for SynthConfig {
    fn default() -> Self {
        SynthConfig {
            images: 93,
            seed: 1,
            size: None,
            per_image: 261,
            write_images: true,
            real_shapes: true,
            published_layout: false,
            scale_bar: true,
            tiff_images: false,
        }
    }
}

/// A generated dataset: the true ellipses and each image's scale.
#[derive(Clone, Debug)]
pub struct Synthetic {
    /// The annotations.
    pub dataset: Dataset,
    /// `(file_name, px_per_um)` per image.
    pub scale: Vec<(String, f64)>,
}

/// What `write` produced.
#[derive(Clone, Debug)]
pub struct SynthOutput {
    /// The COCO JSON file written.
    pub coco: PathBuf,
    /// The CVAT XML file written.
    pub cvat: PathBuf,
    /// The scale table written.
    pub scale: PathBuf,
    /// The images folder, when images were written.
    pub images_dir: Option<PathBuf>,
    /// With the published layout: the 7-class COCO and CVAT files and the masks folder.
    pub published: Vec<PathBuf>,
    /// Images generated.
    pub images: usize,
    /// Annotations generated.
    pub annotations: usize,
    /// The length printed on the burned-in scale bars, µm (when images have bars).
    pub bar_um: Option<f64>,
}

/// Mean diameter (µm) and spread of each 4-class class, in label-set order, and its share.
const CLASSES: [(f64, f64, f64); 4] = [
    (0.33, 0.07, 0.36),
    (0.23, 0.05, 0.38),
    (0.30, 0.12, 0.16),
    (0.36, 0.08, 0.10),
];

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

/// Generates the dataset in memory (no files).
pub fn generate(cfg: &SynthConfig) -> Synthetic {
    let labels = LabelSet::four_class();
    let mut ds = Dataset {
        categories: labels.categories(),
        ..Default::default()
    };
    for c in &mut ds.categories {
        c.supercategory = String::new();
    }
    let n_test = (cfg.images * 10 + 46) / 93;
    let mut scale = Vec::with_capacity(cfg.images);
    let mut next_ann = 1u64;
    for i in 0..cfg.images {
        let mut rng =
            ChaCha8Rng::seed_from_u64(cfg.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ i as u64);
        // Six of the 93 published images are half size; spread them through the set.
        let small = cfg.images >= 16 && i % 15 == 7;
        let (w, h) = cfg
            .size
            .unwrap_or(if small { (2048, 2115) } else { (4096, 4224) });
        let base = Normal::new(375.0, 18.0)
            .map(|n| n.sample(&mut rng))
            .unwrap_or(375.0);
        // Scale bars are measured per image; a half-size image covers the same field.
        let px_per_um = round2(
            if small { base / 2.0 } else { base }
                * (w as f64 / if small { 2048.0 } else { 4096.0 }),
        );
        let file_name = format!(
            "neutrophil_{i:03}.{}",
            if cfg.tiff_images { "tif" } else { "png" }
        );
        scale.push((file_name.clone(), px_per_um));
        let mut image = Image::new(ImageId(i as u64), file_name, w, h);
        image.subset = Some(
            if i + n_test >= cfg.images {
                "test"
            } else {
                "train"
            }
            .into(),
        );
        ds.images.push(image);
        let count = (cfg.per_image as f64 * rng.random_range(0.9..=1.1)).round() as usize;
        let cell = cell_of(w, h, cfg.seed, i as u64);
        let mut placed: Vec<(usize, Ellipse)> = Vec::with_capacity(count + count / 8);
        let mut attempts = 0;
        while placed.len() < count && attempts < count * 60 {
            attempts += 1;
            let (class, rx, ry) = sample_size(&mut rng, px_per_um);
            // A point in the cell, outside the nucleus lobes.
            let (u, v): (f64, f64) = (rng.random_range(-1.0..1.0), rng.random_range(-1.0..1.0));
            if u * u + v * v > 0.85 {
                continue;
            }
            let (cx, cy) = cell.at(u, v);
            let e = Ellipse {
                cx: round2(cx),
                cy: round2(cy),
                rx: round2(rx),
                ry: round2(ry),
                rotation: sample_rotation(&mut rng),
            };
            if cell.in_nucleus(e.cx, e.cy) || placed.iter().any(|(_, p)| too_close(p, &e)) {
                continue;
            }
            if e.cx - e.rx < 1.0
                || e.cy - e.rx < 1.0
                || e.cx + e.rx > w as f64 - 1.0
                || e.cy + e.rx > h as f64 - 1.0
            {
                continue;
            }
            placed.push((class, e));
        }
        if cfg.real_shapes {
            add_real_shapes(&mut rng, &mut placed, w, h, px_per_um, count);
        }
        for (class, e) in placed {
            let mut a = Annotation::new(
                AnnotationId(next_ann),
                ImageId(i as u64),
                CategoryId(class as u64 + 1),
                Shape::Ellipse(e),
            );
            a.cvat.source = Some("manual".into());
            ds.annotations.push(a);
            next_ann += 1;
        }
    }
    Synthetic { dataset: ds, scale }
}

/// A class (index into [`CLASSES`]) and semi-axes in px, drawn from the class's sizes.
fn sample_size(rng: &mut ChaCha8Rng, px_per_um: f64) -> (usize, f64, f64) {
    let r: f64 = rng.random();
    let mut acc = 0.0;
    let mut class = 3;
    for (k, c) in CLASSES.iter().enumerate() {
        acc += c.2;
        if r < acc {
            class = k;
            break;
        }
    }
    let (mean, sd, _) = CLASSES[class];
    let d = Normal::new(mean, sd)
        .map(|n| n.sample(rng))
        .unwrap_or(mean)
        .max(0.08);
    let rx = d * px_per_um / 2.0 * rng.random_range(1.0..1.25);
    let ry = rx * rng.random_range(0.65..1.0);
    (class, rx, ry)
}

/// A rotation as CVAT files hold them: a third unrotated (the attribute omitted), the rest
/// anywhere, some outside [0, 360) (CVAT keeps the angle the user dragged to), some on a
/// half degree (OpenCV rounds the angle half to even).
fn sample_rotation(rng: &mut ChaCha8Rng) -> f64 {
    if rng.random_bool(0.35) {
        return 0.0;
    }
    let base = if rng.random_bool(0.05) {
        f64::from(rng.random_range(0..360u16)) + 0.5
    } else {
        round2(rng.random_range(0.0..360.0))
    };
    match rng.random_range(0..40u8) {
        0 => round2(base - 360.0),
        1 => round2(base + 360.0),
        _ => base,
    }
}

/// What real annotations have and a tidy sampler never draws (issue 13): granules cut by
/// every edge and corner of the image (about 5 %), touching and overlapping neighbours,
/// small shapes fully hidden under a later vesicle, granules of exactly equal size (ties at
/// the median), and values on a half (ties for Python's `round()`, half to even).
fn add_real_shapes(
    rng: &mut ChaCha8Rng,
    placed: &mut Vec<(usize, Ellipse)>,
    w: u32,
    h: u32,
    px_per_um: f64,
    count: usize,
) {
    let (wf, hf) = (f64::from(w), f64::from(h));
    let free = |placed: &[(usize, Ellipse)], e: &Ellipse, except: Option<usize>| {
        placed
            .iter()
            .enumerate()
            .all(|(k, (_, p))| Some(k) == except || !too_close(p, e))
    };
    // Cut by the border: the centre inside, the ellipse reaching past one edge or a corner.
    let border = (count * 5 / 100).max(8);
    let mut tries = 0;
    let mut added = 0;
    while added < border && tries < border * 30 {
        tries += 1;
        let (class, rx, ry) = sample_size(rng, px_per_um);
        let r = rx.max(ry);
        let inset = |rng: &mut ChaCha8Rng| r * rng.random_range(0.15..0.95);
        let along = |rng: &mut ChaCha8Rng, len: f64| rng.random_range(r..(len - r).max(r + 1.0));
        let (cx, cy) = match added % 5 {
            0 => (inset(rng), along(rng, hf)),
            1 => (along(rng, wf), inset(rng)),
            2 => (wf - inset(rng), along(rng, hf)),
            3 => (along(rng, wf), hf - inset(rng)),
            _ => {
                let (x, y) = (inset(rng), inset(rng));
                match rng.random_range(0..4u8) {
                    0 => (x, y),
                    1 => (wf - x, y),
                    2 => (x, hf - y),
                    _ => (wf - x, hf - y),
                }
            }
        };
        let e = Ellipse {
            cx: round2(cx),
            cy: round2(cy),
            rx: round2(rx),
            ry: round2(ry),
            rotation: sample_rotation(rng),
        };
        if free(placed, &e, None) {
            placed.push((class, e));
            added += 1;
        }
    }
    let n = placed.len();
    if n == 0 {
        return;
    }
    // Overlapping neighbours: a new shape leaning on an existing one (IoU well below the
    // overlap rules' thresholds, as packed granules touch).
    for _ in 0..(count * 3 / 100).max(2) {
        let k = rng.random_range(0..n);
        let p = placed[k].1;
        let (class, rx, ry) = sample_size(rng, px_per_um);
        let t = rng.random_range(0.0..std::f64::consts::TAU);
        let dist = (p.rx.max(p.ry) + rx.max(ry)) * rng.random_range(0.78..0.92);
        let e = Ellipse {
            cx: round2(p.cx + dist * t.cos()),
            cy: round2(p.cy + dist * t.sin()),
            rx: round2(rx),
            ry: round2(ry),
            rotation: sample_rotation(rng),
        };
        let inside = e.cx - e.rx > 1.0
            && e.cy - e.rx > 1.0
            && e.cx + e.rx < wf - 1.0
            && e.cy + e.rx < hf - 1.0;
        if inside && free(placed, &e, Some(k)) {
            placed.push((class, e));
        }
    }
    // Fully hidden: a small granule with a later, larger vesicle drawn over it.
    for _ in 0..(count / 100).max(1) {
        let k = rng.random_range(0..n);
        let p = placed[k].1;
        let r = 2.3 * p.rx.max(p.ry);
        let e = Ellipse {
            cx: round2(p.cx + rng.random_range(-0.2..0.2) * p.rx),
            cy: round2(p.cy + rng.random_range(-0.2..0.2) * p.rx),
            rx: round2(r),
            ry: round2(r * rng.random_range(0.85..1.0)),
            rotation: sample_rotation(rng),
        };
        let inside = e.cx - e.rx > 1.0
            && e.cy - e.rx > 1.0
            && e.cx + e.rx < wf - 1.0
            && e.cy + e.rx < hf - 1.0;
        // Clear of every other shape's centre region, so only `p` is under it.
        let clear = placed.iter().enumerate().all(|(j, (_, q))| {
            j == k || {
                let (dx, dy) = (q.cx - e.cx, q.cy - e.cy);
                (dx * dx + dy * dy).sqrt() > e.rx + q.rx.max(q.ry) * 1.2
            }
        });
        if inside && clear {
            placed.push((2, e));
        }
    }
    // Exact ties: copies of a granule's size and rotation elsewhere, their centre moved by
    // whole pixels so that CVAT's rounding and the exported box are the same.
    for _ in 0..(count / 100).max(2) {
        let k = rng.random_range(0..n);
        let (class, p) = placed[k];
        if class > 1 {
            continue;
        }
        let (dx, dy) = (
            f64::from(rng.random_range(-400..400i32)),
            f64::from(rng.random_range(-400..400i32)),
        );
        let e = Ellipse {
            cx: p.cx + dx,
            cy: p.cy + dy,
            ..p
        };
        let inside = e.cx - e.rx > 1.0
            && e.cy - e.rx > 1.0
            && e.cx + e.rx < wf - 1.0
            && e.cy + e.rx < hf - 1.0;
        if inside && free(placed, &e, None) {
            placed.push((class, e));
        }
    }
    // Half values: ties for round-half-to-even in CVAT's export.
    for (_, e) in placed.iter_mut() {
        if rng.random_bool(0.03) {
            e.cx = e.cx.floor() + 0.5;
            e.rx = e.rx.floor() + 0.5;
        }
        if rng.random_bool(0.03) {
            e.cy = e.cy.floor() + 0.5;
            e.ry = e.ry.floor().max(1.0) + 0.5;
        }
    }
}

fn too_close(a: &Ellipse, b: &Ellipse) -> bool {
    let (dx, dy) = (a.cx - b.cx, a.cy - b.cy);
    let r = a.rx.max(a.ry) + b.rx.max(b.ry);
    dx * dx + dy * dy < r * r
}

/// The cell outline and its nucleus lobes, in image coordinates.
struct Cell {
    cx: f64,
    cy: f64,
    rx: f64,
    ry: f64,
    lobes: Vec<Ellipse>,
}

/// The cell of image `index`: its own random stream, so generation and rendering agree.
fn cell_of(w: u32, h: u32, seed: u64, index: u64) -> Cell {
    let rng = &mut ChaCha8Rng::seed_from_u64(seed ^ 0xC311_C311 ^ index.wrapping_mul(0x9E37_79B9));
    let (w, h) = (w as f64, h as f64);
    let mut cell = Cell {
        cx: w * rng.random_range(0.47..0.53),
        cy: h * rng.random_range(0.47..0.53),
        rx: w * rng.random_range(0.40..0.46),
        ry: h * rng.random_range(0.38..0.45),
        lobes: Vec::new(),
    };
    for _ in 0..rng.random_range(2..=4) {
        let (u, v) = (rng.random_range(-0.5..0.5), rng.random_range(-0.5..0.5));
        let (cx, cy) = cell.at(u, v);
        let r = w.min(h) * rng.random_range(0.07..0.12);
        cell.lobes.push(Ellipse {
            cx,
            cy,
            rx: r * rng.random_range(1.0..1.6),
            ry: r,
            rotation: rng.random_range(0.0..180.0),
        });
    }
    cell
}

impl Cell {
    fn at(&self, u: f64, v: f64) -> (f64, f64) {
        (self.cx + u * self.rx, self.cy + v * self.ry)
    }

    fn in_nucleus(&self, x: f64, y: f64) -> bool {
        self.lobes.iter().any(|l| inside(l, x, y, 1.15))
    }
}

fn inside(e: &Ellipse, x: f64, y: f64, grow: f64) -> bool {
    let (s, c) = e.rotation.to_radians().sin_cos();
    let (dx, dy) = (x - e.cx, y - e.cy);
    let (u, v) = (dx * c + dy * s, -dx * s + dy * c);
    (u / (e.rx * grow)).powi(2) + (v / (e.ry * grow)).powi(2) <= 1.0
}

/// The COCO JSON exactly as CVAT exports an ellipse dataset (docs/design.md §1), as a string.
pub fn cvat_style_coco(ds: &Dataset) -> String {
    let mut buf = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = write_cvat_style_coco(ds, &mut buf);
    String::from_utf8_lossy(&buf).into_owned()
}

/// Streams the CVAT-export-shaped COCO JSON: one annotation at a time, so a million-annotation
/// file costs one annotation's memory, not a tree of the whole file.
pub(crate) fn write_cvat_style_coco(
    ds: &Dataset,
    w: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    let head = json!({
        "licenses": [{"name": "", "id": 0, "url": ""}],
        "info": {"contributor": "", "date_created": "", "description": "", "url": "", "version": "", "year": ""},
        "categories": ds.categories.iter().map(|c| json!({"id": c.id.0, "name": c.name, "supercategory": ""})).collect::<Vec<_>>(),
        "images": ds.images.iter().map(|im| json!({
            "id": im.id.0 + 1, "width": im.width, "height": im.height, "file_name": im.file_name,
            "license": 0, "flickr_url": "", "coco_url": "", "date_captured": 0
        })).collect::<Vec<_>>(),
    });
    let head = serde_json::to_string(&head).map_err(std::io::Error::other)?;
    // `head` is an object; reopen it to append the annotations array.
    w.write_all(&head.as_bytes()[..head.len() - 1])?;
    w.write_all(b",\"annotations\":[")?;
    let mut first = true;
    for (im, anns) in ds.annotations_by_image() {
        for a in anns {
            let Shape::Ellipse(e) = &a.shape else {
                continue;
            };
            // Exactly what CVAT writes: `cv2.ellipse` of the rounded ellipse on a mask the
            // size of the image (`raster_cvat_export`, pixel-identical to OpenCV).
            let Ok(mask) = cvat_export_coco(e, im.width, im.height) else {
                continue;
            };
            let (bbox, area, counts) = (mask.bbox, mask.area, mask.counts);
            if !first {
                w.write_all(b",")?;
            }
            first = false;
            let ann = json!({
                "id": a.id.0,
                "image_id": im.id.0 + 1,
                "category_id": a.category_id.0,
                "segmentation": {"counts": counts, "size": [im.height, im.width]},
                "area": area as f64,
                "bbox": bbox,
                "iscrowd": 1,
                "attributes": {"occluded": a.occluded, "rotation": e.rotation},
            });
            serde_json::to_writer(&mut *w, &ann).map_err(std::io::Error::other)?;
        }
    }
    w.write_all(b"]}")
}

/// Renders one grayscale TEM-like image.
pub(crate) fn render_image(im: &Image, anns: &[&Annotation], seed: u64) -> image::GrayImage {
    let (w, h) = (im.width, im.height);
    let cell = cell_of(w, h, seed, im.id.0);
    let mut buf = image::GrayImage::from_pixel(w, h, image::Luma([212]));
    let fill = |e: &Ellipse, value: u8, buf: &mut image::GrayImage| {
        crate::geometry::raster::ellipse_spans(e, w, h, |y, x0, x1| {
            for x in x0..x1 {
                buf.put_pixel(x, y, image::Luma([value]));
            }
        });
    };
    let body = Ellipse {
        cx: cell.cx,
        cy: cell.cy,
        rx: cell.rx,
        ry: cell.ry,
        rotation: 0.0,
    };
    fill(&body, 168, &mut buf);
    for l in &cell.lobes {
        fill(l, 112, &mut buf);
    }
    for a in anns {
        let Shape::Ellipse(e) = &a.shape else {
            continue;
        };
        match a.category_id.0 {
            1 => fill(e, 52, &mut buf),
            2 => fill(e, 88, &mut buf),
            3 => {
                fill(e, 70, &mut buf);
                fill(
                    &Ellipse {
                        rx: e.rx * 0.8,
                        ry: e.ry * 0.8,
                        ..*e
                    },
                    196,
                    &mut buf,
                );
            }
            _ => {
                fill(e, 80, &mut buf);
                fill(
                    &Ellipse {
                        rx: e.rx * 0.75,
                        ry: e.ry * 0.75,
                        ..*e
                    },
                    140,
                    &mut buf,
                );
            }
        }
    }
    // Film grain: a cheap hash per pixel, so the picture reads as a micrograph.
    let mut state = seed ^ im.id.0.wrapping_mul(0x2545_F491_4F6C_DD1D);
    for p in buf.pixels_mut() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let noise = (state % 25) as i32 - 12;
        p.0[0] = (i32::from(p.0[0]) + noise).clamp(0, 255) as u8;
    }
    buf
}

/// Generates and writes the dataset into `out`.
pub fn write(out: &Path, cfg: &SynthConfig) -> Result<SynthOutput> {
    crate::progress::phase("synth: generating shapes");
    let synth = generate(cfg);
    let ds = &synth.dataset;
    crate::progress::phase("synth: writing annotation files");
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let coco_path = out.join("annotations_4classes.json");
    crate::atomic::write_with(&coco_path, |w| write_cvat_style_coco(ds, w))?;
    let cvat_path = out.join("annotations_4classes.xml");
    crate::cvat::write_path(ds, &cvat_path, &crate::cvat::WriteOptions::default())?;
    let scale_path = if cfg.published_layout {
        // As published: the Excel sheet alone, its column named `Pixles per microm` (sic).
        let path = out.join("scale.xlsx");
        crate::atomic::write(&path, &scale_xlsx(&synth.scale)?)?;
        path
    } else {
        let path = out.join("scale.csv");
        let mut csv = String::from("image_name,px_per_um\n");
        for (name, s) in &synth.scale {
            csv.push_str(&format!("{name},{s}\n"));
        }
        crate::atomic::write(&path, csv.as_bytes())?;
        path
    };
    let published = if cfg.published_layout {
        crate::progress::phase("synth: 7-class files and masks");
        write_seven_class_release(out, &synth, &coco_path)?
    } else {
        Vec::new()
    };
    let bar_um = (cfg.write_images && cfg.scale_bar).then(|| bar_length_um(&synth));
    let images_dir = if cfg.write_images {
        let dir = out.join("images");
        let groups = ds.annotations_by_image();
        let scale: std::collections::HashMap<&str, f64> =
            synth.scale.iter().map(|(n, v)| (n.as_str(), *v)).collect();
        crate::progress::phase("synth: drawing images");
        let bar = crate::progress::Progress::bar(groups.len() as u64, false, "images");
        groups.par_iter().try_for_each(|(im, anns)| -> Result<()> {
            let mut img = render_image(im, anns, cfg.seed);
            let px_per_um = scale
                .get(im.file_name.as_str())
                .copied()
                .unwrap_or(crate::division::DEFAULT_PX_PER_UM);
            if let Some(um) = bar_um {
                burn_scale_bar(&mut img, px_per_um, um);
            }
            let path = dir.join(&im.file_name);
            if cfg.tiff_images {
                write_imagej_tiff(&path, &img, px_per_um)
            } else {
                write_png_fast(&path, &img)
            }
            .inspect(|()| bar.inc(1))
        })?;
        Some(dir)
    } else {
        None
    };
    Ok(SynthOutput {
        coco: coco_path,
        cvat: cvat_path,
        scale: scale_path,
        images_dir,
        published,
        images: ds.images.len(),
        annotations: ds.annotations.len(),
        bar_um,
    })
}

/// One bar length for the whole dataset (the `scale` command takes one printed length): the
/// longest round length that fits in a quarter of the narrowest image at the smallest scale.
fn bar_length_um(synth: &Synthetic) -> f64 {
    let min_w = synth
        .dataset
        .images
        .iter()
        .map(|im| f64::from(im.width))
        .fold(f64::INFINITY, f64::min);
    let min_s = synth
        .scale
        .iter()
        .map(|(_, v)| *v)
        .fold(f64::INFINITY, f64::min);
    [20.0, 10.0, 5.0, 2.0, 1.0, 0.5, 0.2, 0.1]
        .into_iter()
        .find(|um| um * min_s <= 0.25 * min_w)
        .unwrap_or(0.1)
}

/// Where [`burn_scale_bar`] puts the bar: `(left x, length, top row, thickness)`, px.
pub(crate) fn scale_bar_geometry(
    width: u32,
    height: u32,
    px_per_um: f64,
    bar_um: f64,
) -> (f64, f64, usize, usize) {
    let len = bar_um * px_per_um;
    let thick = (height as usize / 150).max(4);
    let margin = f64::from(width) * 0.04;
    let x = f64::from(width) - margin - len;
    let top = height as usize - (height as usize / 25).max(12) - thick;
    (x, len, top, thick)
}

/// Burns a dark scale bar of `bar_um` µm with its label above it into the bottom-right
/// corner, on a cleared patch of background (as many microscopes draw it), after the grain.
pub(crate) fn burn_scale_bar(img: &mut image::GrayImage, px_per_um: f64, bar_um: f64) {
    use crate::scale_from_images::bar::{draw_bar, draw_label, label_width};
    let (w, h) = (img.width(), img.height());
    let (x, len, top, thick) = scale_bar_geometry(w, h, px_per_um, bar_um);
    if x < 16.0 || top < 16 {
        return;
    }
    let text = format!("{bar_um} µm");
    let cell = (thick / 2).max(2);
    let lw = label_width(&text, cell);
    let lh = 7 * cell;
    let label_y = top.saturating_sub(4 + lh);
    let pad = thick.max(12);
    let x0 = (x as usize).saturating_sub(pad);
    let x1 = ((x + len) as usize + pad).min(w as usize);
    let y0 = label_y.saturating_sub(pad);
    let y1 = (top + thick + pad).min(h as usize);
    let width = w as usize;
    let buf: &mut [u8] = img.as_mut();
    for y in y0..y1 {
        for px in x0..x1 {
            buf[y * width + px] = 212;
        }
    }
    draw_bar(buf, width, x, len, top, thick, 16);
    let lx = (x + len / 2.0) as usize;
    draw_label(
        buf,
        width,
        lx.saturating_sub(lw / 2).max(x0),
        label_y,
        cell,
        &text,
        16,
    );
}

/// Writes an 8-bit TIFF with ImageJ's calibration: `unit=micron` in the description and
/// `XResolution`/`YResolution` in pixels per micron (`ResolutionUnit` none, as ImageJ writes).
fn write_imagej_tiff(path: &Path, img: &image::GrayImage, px_per_um: f64) -> Result<()> {
    use tiff::encoder::{colortype, Rational, TiffEncoder};
    use tiff::tags::{ResolutionUnit, Tag};
    let err = |e: tiff::TiffError| Error::invalid(path, format!("writing TIFF: {e}"));
    let mut bytes = std::io::Cursor::new(Vec::new());
    {
        let mut enc = TiffEncoder::new(&mut bytes).map_err(err)?;
        let mut im = enc
            .new_image::<colortype::Gray8>(img.width(), img.height())
            .map_err(err)?;
        im.encoder()
            .write_tag(
                Tag::ImageDescription,
                "ImageJ=1.54f\nimages=1\nunit=micron\nloop=false\n",
            )
            .map_err(err)?;
        // Scales are given to 0.01 px/µm; a denominator of 10⁴ keeps them exact.
        let r = Rational {
            n: (px_per_um * 1e4).round().clamp(1.0, f64::from(u32::MAX)) as u32,
            d: 10_000,
        };
        im.resolution(ResolutionUnit::None, r);
        im.write_data(img.as_raw()).map_err(err)?;
    }
    crate::atomic::write(path, bytes.get_ref())
}

/// Writes an image as PNG with fast compression (synthetic images compress well anyway).
fn write_png_fast<P>(path: &Path, img: &image::ImageBuffer<P, Vec<u8>>) -> Result<()>
where
    P: image::Pixel<Subpixel = u8> + image::PixelWithColorType,
{
    crate::atomic::write_with(path, |w| {
        let enc = image::codecs::png::PngEncoder::new_with_quality(
            w,
            image::codecs::png::CompressionType::Fast,
            image::codecs::png::FilterType::Sub,
        );
        img.write_with_encoder(enc).map_err(std::io::Error::other)
    })
}

/// The scale sheet as the published metadata has it: `image_name`, `Pixles per microm`.
fn scale_xlsx(scale: &[(String, f64)]) -> Result<Vec<u8>> {
    let x = |e: rust_xlsxwriter::XlsxError| Error::Usage(format!("writing scale XLSX: {e}"));
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet.write_string(0, 0, "image_name").map_err(x)?;
    sheet.write_string(0, 1, "Pixles per microm").map_err(x)?;
    for (i, (name, px)) in scale.iter().enumerate() {
        let row = u32::try_from(i + 1).map_err(|_| Error::Usage("too many images".into()))?;
        sheet.write_string(row, 0, name).map_err(x)?;
        sheet.write_number(row, 1, *px).map_err(x)?;
    }
    book.save_to_buffer().map_err(x)
}

/// The 7-class half of a published release, as the published workflow makes it: the 4→7
/// division of the 4-class COCO export just written (diameters from its `bbox`, as
/// `reclassify` computes them), carried to the same ellipses; the 7-class COCO as CVAT
/// exports it and the 7-class CVAT; colour masks of the 7 classes drawn as a Python script
/// with `cv2.ellipse` draws them (CVAT's export rasteriser), in document order, later shapes
/// on top.
/// Returns what it wrote: the 7-class COCO, the 7-class CVAT and the masks folder.
fn write_seven_class_release(
    out: &Path,
    synth: &Synthetic,
    coco_path: &Path,
) -> Result<Vec<PathBuf>> {
    let seven = LabelSet::seven_class();
    // The division reads only classes and boxes.
    let read = crate::coco::ReadOptions {
        drop_segmentation_text: true,
        fast_cvat_ellipses: true,
        ..Default::default()
    };
    let (exported, _) = crate::coco::read_path(coco_path, &read)?;
    let table = crate::division::ScaleTable::from_pairs(synth.scale.iter().cloned());
    let div =
        crate::division::reclassify(&exported, &table, &crate::division::Rules::default_rules())?;
    let target: std::collections::HashMap<AnnotationId, &str> = div
        .audit
        .iter()
        .map(|r| (r.annotation_id, r.target_class.as_str()))
        .collect();
    let mut ds7 = synth.dataset.clone();
    ds7.categories = seven.categories();
    for a in &mut ds7.annotations {
        let class = target.get(&a.id).and_then(|name| seven.by_name(name));
        let Some(class) = class else {
            return Err(Error::Usage(format!(
                "synth: annotation {} got no 7-class label from the division",
                a.id
            )));
        };
        a.category_id = class.id;
    }
    let coco7 = out.join("annotations_7classes.json");
    crate::atomic::write_with(&coco7, |w| write_cvat_style_coco(&ds7, w))?;
    let cvat7 = out.join("annotations_7classes.xml");
    crate::cvat::write_path(&ds7, &cvat7, &crate::cvat::WriteOptions::default())?;
    let masks = out.join("masks");
    let colours: std::collections::HashMap<CategoryId, [u8; 3]> =
        seven.classes.iter().map(|c| (c.id, c.color.0)).collect();
    ds7.annotations_by_image()
        .par_iter()
        .try_for_each(|(im, anns)| -> Result<()> {
            let mut img = image::RgbImage::new(im.width, im.height);
            for k in crate::geometry::raster::paint_order(anns) {
                let a = anns[k];
                let (Shape::Ellipse(e), Some(c)) = (&a.shape, colours.get(&a.category_id)) else {
                    continue;
                };
                // A shape OpenCV cannot draw is left out of the mask, as cv2 would refuse it.
                let _ = cvat_export_ellipse_spans(e, im.width, im.height, |y, x0, x1| {
                    for x in x0..x1 {
                        img.put_pixel(x, y, image::Rgb(*c));
                    }
                });
            }
            let Some(name) = crate::masks::mask_file_name(&im.file_name) else {
                return Ok(());
            };
            let path = masks.join(name);
            write_png_fast(&path, &img)
        })?;
    Ok(vec![coco7, cvat7, masks])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_dataset_and_published_shape() {
        let cfg = SynthConfig {
            write_images: false,
            ..Default::default()
        };
        let a = generate(&cfg);
        let b = generate(&cfg);
        assert_eq!(a.dataset, b.dataset);
        assert_eq!(a.dataset.images.len(), 93);
        let small = a
            .dataset
            .images
            .iter()
            .filter(|i| i.width == 2048 && i.height == 2115)
            .count();
        assert_eq!(small, 6);
        let n = a.dataset.annotations.len();
        assert!((22_000..=26_500).contains(&n), "{n} annotations");
        let test = a
            .dataset
            .images
            .iter()
            .filter(|i| i.subset.as_deref() == Some("test"))
            .count();
        assert_eq!(test, 10);
        let other = generate(&SynthConfig { seed: 2, ..cfg });
        assert_ne!(a.dataset.annotations, other.dataset.annotations);
    }
}
