//! Timings on data of the published shape (ignored by default; run in release):
//! `cargo test --release --test raster_bench -- --ignored --nocapture`

use neutrostruct::geometry::raster;
use neutrostruct::labelset::LabelSet;
use neutrostruct::masks::{self, render, ClassLookup, MaskBuffer, MaskKind, RenderOptions};
use neutrostruct::model::{
    Annotation, AnnotationId, CategoryId, Dataset, Ellipse, Image, ImageId, Shape,
};
use std::time::Instant;

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// 93 images of 4096×4224 with 261 ellipses each (semi-axes 6–20 px, ~400 px² on average
/// … to ~1200 px²), 4 classes.
fn dataset(images: u64, per_image: u64) -> Dataset {
    let labels = LabelSet::four_class();
    let mut rng = Rng(0x5EED_1234_ABCD_0001);
    let mut ds = Dataset {
        categories: labels.categories(),
        ..Dataset::default()
    };
    let mut id = 1;
    for i in 0..images {
        ds.images.push(Image {
            id: ImageId(i + 1),
            file_name: format!("neutrophil_{i:03}.tif"),
            width: 4096,
            height: 4224,
            subset: None,
            coco_extra: Default::default(),
            cvat_attrs: Vec::new(),
            cvat_unknown: Vec::new(),
            loc: None,
        });
        for _ in 0..per_image {
            let e = Ellipse {
                cx: 100.0 + rng.next() * 3896.0,
                cy: 100.0 + rng.next() * 4024.0,
                rx: 6.0 + rng.next() * 14.0,
                ry: 6.0 + rng.next() * 14.0,
                rotation: rng.next() * 180.0,
            };
            let class = 1 + (rng.next() * 4.0) as u64 % 4;
            ds.annotations.push(Annotation::new(
                AnnotationId(id),
                ImageId(i + 1),
                CategoryId(class),
                Shape::Ellipse(e),
            ));
            id += 1;
        }
    }
    ds
}

#[test]
#[ignore]
fn render_93_colour_masks() {
    let ds = dataset(93, 261);
    let labels = LabelSet::four_class();
    let dir = tempfile::tempdir().unwrap();
    let t = Instant::now();
    let s = masks::render_dataset(
        &ds,
        &labels,
        MaskKind::Color,
        dir.path(),
        &RenderOptions {
            quiet: true,
            ..Default::default()
        },
    )
    .unwrap();
    let total = t.elapsed();
    assert_eq!(s.images_written, 93);
    let bytes: u64 = s
        .written
        .iter()
        .map(|p| std::fs::metadata(p).unwrap().len())
        .sum();
    println!(
        "render_dataset: 93 colour masks 4096x4224, {} ellipses: {:.2?} ({} threads), {:.1} MB written",
        s.shapes_painted,
        total,
        rayon::current_num_threads(),
        bytes as f64 / 1e6
    );
    // Render only (no PNG), one thread.
    let lookup = ClassLookup::new(&ds.categories, &labels);
    let groups = ds.annotations_by_image();
    let t = Instant::now();
    for (img, anns) in &groups {
        std::hint::black_box(render(img, anns, &lookup, MaskKind::Color).unwrap());
    }
    println!("render only, sequential: {:.2?}", t.elapsed());
}

#[test]
#[ignore]
fn coco_rle_of_24k_ellipses() {
    let ds = dataset(93, 261);
    let t = Instant::now();
    let mut runs = 0usize;
    let mut area = 0u64;
    for a in &ds.annotations {
        let c = raster::shape_to_coco_rle(&a.shape, 4096, 4224);
        runs += c.len();
        area += raster::shape_stats(&a.shape, 4096, 4224).area;
    }
    println!(
        "shape_to_coco_rle + shape_stats for {} ellipses: {:.2?} (mean area {:.0} px², {} runs)",
        ds.annotations.len(),
        t.elapsed(),
        area as f64 / ds.annotations.len() as f64,
        runs
    );
}

#[test]
#[ignore]
fn png_settings() {
    use image::codecs::png::{CompressionType as C, FilterType as F};
    let ds = dataset(1, 261);
    let labels = LabelSet::four_class();
    let lookup = ClassLookup::new(&ds.categories, &labels);
    let groups = ds.annotations_by_image();
    let r = render(groups[0].0, &groups[0].1, &lookup, MaskKind::Color).unwrap();
    let idx = render(groups[0].0, &groups[0].1, &lookup, MaskKind::Index).unwrap();
    for (name, buf) in [("color", &r.buffer), ("index", &idx.buffer)] {
        for (cn, c) in [
            ("Fast", C::Fast),
            ("Default", C::Default),
            ("Best", C::Best),
            ("Level(1)", C::Level(1)),
        ] {
            for (fname, f) in [
                ("NoFilter", F::NoFilter),
                ("Sub", F::Sub),
                ("Up", F::Up),
                ("Adaptive", F::Adaptive),
            ] {
                let mut out = Vec::new();
                let t = Instant::now();
                masks::encode_png(buf, &mut out, c, f).unwrap();
                println!(
                    "{name} {cn:9} {fname:9} {:>8.1} ms {:>9} bytes",
                    t.elapsed().as_secs_f64() * 1e3,
                    out.len()
                );
            }
        }
    }
    let _ = MaskBuffer::Index(image::GrayImage::new(1, 1));
}
