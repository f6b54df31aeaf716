//! A deterministic generator of datasets shaped like TEM-NeutroStruct.
//!
//! It writes what the published dataset's pipeline starts from: the CVAT XML of 4-class
//! ellipses, the COCO JSON exactly as CVAT exports it (each ellipse rasterised with centre and
//! axes rounded to whole pixels into an uncompressed RLE, `iscrowd: 1`, `bbox` and `area` from
//! that mask, `attributes: {occluded, rotation}`), a scale table, and grayscale TEM-like
//! images (light cytoplasm, darker nucleus lobes, dark granules, pale vesicles).
//!
//! The same seed gives the same bytes on every machine: the random stream is ChaCha8, whose
//! output is fixed by its specification, and images are rendered in a fixed order per image.

use crate::error::{Error, Result};
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
    pub images: usize,
    pub seed: u64,
    /// Override every image's size; by default sizes are as published (4096×4224, and six of
    /// 93 images 2048×2115).
    pub size: Option<(u32, u32)>,
    /// Mean number of ellipses per image (each image varies by up to ±10 %).
    pub per_image: usize,
    pub write_images: bool,
}

impl Default for SynthConfig {
    fn default() -> Self {
        SynthConfig {
            images: 93,
            seed: 1,
            size: None,
            per_image: 261,
            write_images: true,
        }
    }
}

/// A generated dataset: the true ellipses and each image's scale.
#[derive(Clone, Debug)]
pub struct Synthetic {
    pub dataset: Dataset,
    /// `(file_name, px_per_um)` per image.
    pub scale: Vec<(String, f64)>,
}

/// What `write` produced.
#[derive(Clone, Debug)]
pub struct SynthOutput {
    pub coco: PathBuf,
    pub cvat: PathBuf,
    pub scale: PathBuf,
    pub images_dir: Option<PathBuf>,
    pub images: usize,
    pub annotations: usize,
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
        let file_name = format!("neutrophil_{i:03}.png");
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
        let mut placed: Vec<Ellipse> = Vec::with_capacity(count);
        let mut attempts = 0;
        while placed.len() < count && attempts < count * 60 {
            attempts += 1;
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
                .map(|n| n.sample(&mut rng))
                .unwrap_or(mean)
                .max(0.08);
            let rx = d * px_per_um / 2.0 * rng.random_range(1.0..1.25);
            let ry = rx * rng.random_range(0.65..1.0);
            // A point in the cell, outside the nucleus lobes.
            let (u, v): (f64, f64) = (rng.random_range(-1.0..1.0), rng.random_range(-1.0..1.0));
            if u * u + v * v > 0.85 {
                continue;
            }
            let (cx, cy) = cell.at(u, v);
            let rotation = if rng.random_bool(0.35) {
                0.0
            } else {
                round2(rng.random_range(0.0..360.0))
            };
            let e = Ellipse {
                cx: round2(cx),
                cy: round2(cy),
                rx: round2(rx),
                ry: round2(ry),
                rotation,
            };
            if cell.in_nucleus(e.cx, e.cy) || placed.iter().any(|p| too_close(p, &e)) {
                continue;
            }
            if e.cx - e.rx < 1.0
                || e.cy - e.rx < 1.0
                || e.cx + e.rx > w as f64 - 1.0
                || e.cy + e.rx > h as f64 - 1.0
            {
                continue;
            }
            placed.push(e);
            let mut a = Annotation::new(
                AnnotationId(next_ann),
                ImageId(i as u64),
                CategoryId(class as u64 + 1),
                Shape::Ellipse(e),
            );
            a.source = Some("manual".into());
            ds.annotations.push(a);
            next_ann += 1;
        }
    }
    Synthetic { dataset: ds, scale }
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

/// The ellipse CVAT's COCO export rasterises: centre and axes rounded to whole pixels, drawn
/// with pixel centres on integer coordinates. In this crate's convention (pixel centre at
/// `i + 0.5`) that is the ellipse centred at `round(c) + 0.5`.
pub fn cvat_export_ellipse(e: &Ellipse) -> Ellipse {
    Ellipse {
        cx: e.cx.round_ties_even() + 0.5,
        cy: e.cy.round_ties_even() + 0.5,
        rx: e.rx.round_ties_even().max(0.0),
        ry: e.ry.round_ties_even().max(0.0),
        rotation: e.rotation,
    }
}

/// The COCO JSON exactly as CVAT exports an ellipse dataset (DESIGN §1), as a string.
pub fn cvat_style_coco(ds: &Dataset) -> String {
    let mut buf = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = write_cvat_style_coco(ds, &mut buf);
    String::from_utf8_lossy(&buf).into_owned()
}

/// Streams the CVAT-export-shaped COCO JSON: one annotation at a time, so a million-annotation
/// file costs one annotation's memory, not a tree of the whole file.
pub fn write_cvat_style_coco(ds: &Dataset, w: &mut dyn std::io::Write) -> std::io::Result<()> {
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
            let counts = crate::raster::shape_to_coco_rle(
                &Shape::Ellipse(cvat_export_ellipse(e)),
                im.width,
                im.height,
            );
            let mask = crate::model::MaskData::Coco {
                height: im.height,
                width: im.width,
                counts,
            };
            let bbox = mask.bbox().unwrap_or([0.0; 4]);
            let area = mask.area();
            let crate::model::MaskData::Coco { counts, .. } = mask else {
                continue;
            };
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
pub fn render_image(im: &Image, anns: &[&Annotation], seed: u64) -> image::GrayImage {
    let (w, h) = (im.width, im.height);
    let cell = cell_of(w, h, seed, im.id.0);
    let mut buf = image::GrayImage::from_pixel(w, h, image::Luma([212]));
    let fill = |e: &Ellipse, value: u8, buf: &mut image::GrayImage| {
        crate::raster::ellipse_spans(e, w, h, |y, x0, x1| {
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
    let synth = generate(cfg);
    let ds = &synth.dataset;
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let coco_path = out.join("annotations_4classes.json");
    crate::atomic::write_with(&coco_path, |w| write_cvat_style_coco(ds, w))?;
    let cvat_path = out.join("annotations_4classes.xml");
    crate::cvat::write_path(ds, &cvat_path, &crate::cvat::WriteOptions::default())?;
    let scale_path = out.join("scale.csv");
    let mut csv = String::from("image_name,px_per_um\n");
    for (name, s) in &synth.scale {
        csv.push_str(&format!("{name},{s}\n"));
    }
    crate::atomic::write(&scale_path, csv.as_bytes())?;
    let images_dir = if cfg.write_images {
        let dir = out.join("images");
        let groups = ds.annotations_by_image();
        groups.par_iter().try_for_each(|(im, anns)| -> Result<()> {
            let img = render_image(im, anns, cfg.seed);
            let path = dir.join(&im.file_name);
            crate::atomic::write_with(&path, |w| {
                let enc = image::codecs::png::PngEncoder::new_with_quality(
                    w,
                    image::codecs::png::CompressionType::Fast,
                    image::codecs::png::FilterType::Sub,
                );
                img.write_with_encoder(enc).map_err(std::io::Error::other)
            })
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
        images: ds.images.len(),
        annotations: ds.annotations.len(),
    })
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
