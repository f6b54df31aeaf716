//! Criterion benchmarks of the hot kernels: COCO parse, CVAT parse, rasterise, RLE encode,
//! PNG encode and an overlap index over ellipse boxes.
//!
//! `cargo bench --bench kernels` (a couple of minutes); `cargo bench --bench kernels -- rle`
//! runs one group. Inputs are generated in memory with `synth` (seeded, so every run measures
//! the same data); nothing is read from or written to disk.

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use neutrostruct::geometry::{raster, rle};
use neutrostruct::labelset::LabelSet;
use neutrostruct::masks::{self, ClassLookup, MaskKind};
use neutrostruct::model::{ellipse_bbox, Annotation, Dataset, Shape};
use neutrostruct::synth::{self, SynthConfig};
use neutrostruct::{coco, cvat};
use rstar::{RTree, RTreeObject, AABB};
use std::path::Path;
use std::time::Duration;

/// Ten images of the published size and density (4096×4224, ~261 ellipses each).
fn small_dataset() -> Dataset {
    synth::generate(&SynthConfig {
        images: 10,
        seed: 7,
        size: Some((4096, 4224)),
        write_images: false,
        ..SynthConfig::default()
    })
    .dataset
}

/// The ellipses of the first image, with its size.
fn first_image(ds: &Dataset) -> (u32, u32, Vec<&Annotation>) {
    let im = &ds.images[0];
    let anns: Vec<&Annotation> = ds
        .annotations
        .iter()
        .filter(|a| a.image_id == im.id)
        .collect();
    (im.width, im.height, anns)
}

/// Short runs: `cargo bench` over every group takes a couple of minutes.
fn configure() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
}

fn parse(c: &mut Criterion) {
    let ds = small_dataset();
    let n = ds.annotations.len() as u64;
    let coco_ours = coco::to_string(&ds, &coco::WriteOptions::default()).0;
    let coco_cvat_export = synth::cvat_style_coco(&ds);
    let cvat_xml = cvat::to_string(&ds, &cvat::WriteOptions::default()).0;

    let mut g = c.benchmark_group("parse");
    g.throughput(Throughput::Elements(n));
    for (name, text) in [
        ("coco_polygon", &coco_ours),
        ("coco_cvat_export_rle", &coco_cvat_export),
    ] {
        g.bench_with_input(BenchmarkId::new(name, text.len()), text, |b, t| {
            b.iter(|| {
                let (d, _) =
                    coco::read_bytes(t.as_bytes(), Path::new("bench.json"), &Default::default())
                        .expect("synth COCO parses");
                black_box(d.annotations.len())
            })
        });
    }
    g.bench_with_input(
        BenchmarkId::new("cvat_xml", cvat_xml.len()),
        &cvat_xml,
        |b, t| {
            b.iter(|| {
                let (d, _) =
                    cvat::read_bytes(t.as_bytes(), Path::new("bench.xml"), &Default::default())
                        .expect("synth CVAT parses");
                black_box(d.annotations.len())
            })
        },
    );
    g.finish();
}

fn rasterise(c: &mut Criterion) {
    let ds = small_dataset();
    let (w, h, anns) = first_image(&ds);
    let mut g = c.benchmark_group("raster");
    g.throughput(Throughput::Elements(anns.len() as u64));
    g.bench_function("ellipse_spans_one_image", |b| {
        b.iter(|| {
            let mut px = 0u64;
            for a in &anns {
                if let Shape::Ellipse(e) = &a.shape {
                    raster::ellipse_spans(e, w, h, |_, x0, x1| px += u64::from(x1 - x0));
                }
            }
            black_box(px)
        })
    });
    g.bench_function("rle_encode_one_image", |b| {
        b.iter(|| {
            let mut bytes = 0usize;
            for a in &anns {
                let counts = raster::shape_to_coco_rle(&a.shape, w, h);
                bytes += rle::encode_counts_string(&counts).len();
            }
            black_box(bytes)
        })
    });
    g.finish();
}

fn png(c: &mut Criterion) {
    let ds = small_dataset();
    let (_, _, anns) = first_image(&ds);
    let labels = LabelSet::four_class();
    let classes = ClassLookup::new(&ds.categories, &labels);
    let image = &ds.images[0];
    let mut g = c.benchmark_group("mask");
    g.throughput(Throughput::Elements(
        u64::from(image.width) * u64::from(image.height),
    ));
    g.bench_function("render_color_4096x4224", |b| {
        b.iter(|| {
            let m = masks::render(image, &anns, &classes, MaskKind::Color).expect("renders");
            black_box(m.painted)
        })
    });
    for kind in [MaskKind::Color, MaskKind::Index] {
        let mask = masks::render(image, &anns, &classes, kind)
            .expect("renders")
            .buffer;
        let mut buf = Vec::with_capacity(1 << 20);
        g.bench_function(format!("png_encode_{kind:?}_4096x4224"), |b| {
            b.iter(|| {
                buf.clear();
                masks::encode_png(&mask, &mut buf, masks::PNG_COMPRESSION, masks::PNG_FILTER)
                    .expect("encodes");
                black_box(buf.len())
            })
        });
    }
    g.finish();
}

/// An ellipse's tight box in the R-tree, with its index into the annotation list.
struct Boxed {
    idx: usize,
    aabb: AABB<[f64; 2]>,
}

impl RTreeObject for Boxed {
    type Envelope = AABB<[f64; 2]>;
    fn envelope(&self) -> Self::Envelope {
        self.aabb
    }
}

/// Overlapping-box candidate pairs per image, the first step of the validate overlap rules
/// (same-class near-duplicates, different-class conflicts): bulk-load an R-tree of the tight
/// boxes, then query each box.
fn overlap_pairs(ds: &Dataset) -> usize {
    let mut pairs = 0;
    for (_, anns) in ds.annotations_by_image() {
        let items: Vec<Boxed> = anns
            .iter()
            .enumerate()
            .filter_map(|(idx, a)| match &a.shape {
                Shape::Ellipse(e) => {
                    let [x, y, w, h] = ellipse_bbox(e);
                    Some(Boxed {
                        idx,
                        aabb: AABB::from_corners([x, y], [x + w, y + h]),
                    })
                }
                _ => None,
            })
            .collect();
        let envelopes: Vec<(usize, AABB<[f64; 2]>)> =
            items.iter().map(|b| (b.idx, b.aabb)).collect();
        let tree = RTree::bulk_load(items);
        for (idx, env) in &envelopes {
            pairs += tree
                .locate_in_envelope_intersecting(env)
                .filter(|o| o.idx > *idx)
                .count();
        }
    }
    pairs
}

fn overlap(c: &mut Criterion) {
    let ds = small_dataset();
    let mut g = c.benchmark_group("overlap");
    g.throughput(Throughput::Elements(ds.annotations.len() as u64));
    g.bench_function("rtree_box_pairs_10_images", |b| {
        b.iter(|| black_box(overlap_pairs(&ds)))
    });
    g.finish();
}

criterion_group! {
    name = kernels;
    config = configure();
    targets = parse, rasterise, png, overlap
}
criterion_main!(kernels);
