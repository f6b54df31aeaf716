//! COCO writer: streams the model through `Serialize` impls (no intermediate `Value` per
//! annotation), compact like CVAT by default or indented.
//!
//! What is written for each shape, and why:
//! - an annotation read from COCO with its `segmentation` kept writes segmentation, area,
//!   bbox and iscrowd back exactly (COCO → COCO is faithful);
//! - otherwise the geometry is generated: ellipses and boxes as polygons (trainers read
//!   them), masks as compressed RLE, lines and points with an empty segmentation;
//! - every shape COCO cannot hold natively (ellipse, box, polyline, points, CVAT box mask)
//!   also gets a `neutrostruct` object with its exact parameters at full precision, which
//!   pycocotools, detectron2 and mmdet ignore and our reader prefers;
//! - CVAT tags (no geometry) go to their image's `neutrostruct_tags`.

use super::{SegmentationMode, WriteOptions};
use crate::geometry::ellipse_polygon::ellipse_polygon;
use crate::lossiness::Lossiness;
use crate::model::{
    ellipse_bbox, Annotation, Category, Dataset, Image, ImageId, JsonMap, MaskData, Point, Rings,
    Shape,
};
use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::{self, Write};

/// Largest distance between an ellipse and the polygon written for it, in pixels.
pub const POLYGON_MAX_ERROR_PX: f64 = 0.1;

/// Writes `ds` as COCO JSON.
pub fn write_to(ds: &Dataset, w: &mut dyn Write, opts: &WriteOptions) -> io::Result<Lossiness> {
    let mut loss = lossiness(ds);
    let rle = opts.segmentation == SegmentationMode::Rle;
    if rle {
        let regenerated = ds
            .annotations
            .iter()
            .filter(|a| !has_segmentation(a) && crate::geometry::raster::is_fillable(&a.shape))
            .count();
        loss.add(
            "rasterised-to-rle",
            regenerated,
            "segmentation written as the COCO RLE of the shape rasterised at pixel centres (docs/design.md §3); the exact shape stays in the neutrostruct object",
        );
    }
    let top = TopOut::new(ds, rle, !opts.pretty);
    if opts.pretty {
        serde_json::to_writer_pretty(&mut *w, &top)?;
    } else {
        serde_json::to_writer(&mut *w, &top)?;
    }
    Ok(loss)
}

/// What the write cannot carry, computed before writing.
fn lossiness(ds: &Dataset) -> Lossiness {
    let mut loss = Lossiness::default();
    let images: HashMap<ImageId, &Image> = ds.images.iter().map(|i| (i.id, i)).collect();
    for (k, v) in ds.shape_counts() {
        loss.input.insert(k.to_string(), v);
    }
    for a in &ds.annotations {
        let image = images.get(&a.image_id);
        let mut out = true;
        match &a.shape {
            Shape::Tag if image.is_none() => {
                out = false;
                loss.add(
                    "tag-dropped",
                    1,
                    "a tag of an image that is not in the dataset has nowhere to go in COCO",
                );
            }
            Shape::Mask(MaskData::Cvat {
                left,
                top,
                width,
                height,
                ..
            }) if !has_segmentation(a) => {
                let fits =
                    image.is_some_and(|im| left + width <= im.width && top + height <= im.height);
                if !fits {
                    loss.add(
                        "mask-not-rasterised",
                        1,
                        "a CVAT mask outside its image (or of an unknown image) is written with an empty \
                         segmentation; it stays exact in the neutrostruct object",
                    );
                }
            }
            _ => {}
        }
        if !a.shape.is_finite() {
            loss.add(
                "non-finite-written-as-null",
                1,
                "a non-finite coordinate cannot be written in JSON; it became null",
            );
        }
        let carried = a
            .coco
            .as_ref()
            .is_some_and(|c| c.rare.extra.contains_key(crate::model::CARRY_ATTRS_KEY));
        if !a.cvat.attrs.is_empty() && !carried {
            loss.add(
                "cvat-attributes-dropped",
                1,
                "extra XML attributes of a CVAT shape have no place in COCO",
            );
        }
        if out {
            *loss.output.entry(a.shape.kind().to_string()).or_insert(0) += 1;
        }
    }
    for im in ds
        .images
        .iter()
        .filter(|im| !im.coco_extra.contains_key(crate::model::CARRY_KEY))
    {
        if im.subset.is_some() {
            loss.add(
                "image-subset-dropped",
                1,
                "COCO has no per-image subset; write one file per subset to keep it",
            );
        }
        if !im.cvat_attrs.is_empty() || !im.cvat_unknown.is_empty() {
            loss.add(
                "cvat-image-extras-dropped",
                1,
                "extra XML attributes or unknown children of a CVAT <image> were dropped",
            );
        }
    }
    let label_meta = ds
        .categories
        .iter()
        .filter(|c| c.kind.is_some() || !c.attributes.is_empty())
        .filter(|c| !c.coco_extra.contains_key(crate::model::CARRY_KEY))
        .count();
    loss.add(
        "cvat-label-meta-dropped",
        label_meta,
        "CVAT label type and attribute declarations have no place in COCO categories",
    );
    loss.add(
        "cvat-unknown-dropped",
        if ds.meta.coco_top.contains_key(crate::model::CARRY_KEY) {
            0
        } else {
            ds.meta.cvat_unknown.len()
        },
        "top-level CVAT elements this crate does not model (e.g. <track>) were dropped",
    );
    loss
}

fn has_segmentation(a: &Annotation) -> bool {
    a.coco
        .as_ref()
        .is_some_and(|c| c.rare.segmentation.is_some())
}

/// A generated RLE segmentation with the area and box of its mask.
struct RleOut {
    height: u32,
    width: u32,
    counts: String,
    area: u64,
    bbox: [f64; 4],
}

/// The RLE of an annotation that needs one in `--segmentation rle` mode; `None` where the
/// annotation keeps its own segmentation or has no area.
fn rle_of(a: &Annotation, image: Option<&Image>) -> Option<RleOut> {
    let im = image?;
    if has_segmentation(a) || !crate::geometry::raster::is_fillable(&a.shape) {
        return None;
    }
    let (counts, stats) =
        crate::geometry::raster::shape_to_coco_rle_with_stats(&a.shape, im.width, im.height);
    // COCO's `area` and `bbox` of an RLE annotation describe the mask itself.
    let bbox = stats.bbox.map_or([0.0; 4], |b| b.map(f64::from));
    Some(RleOut {
        height: im.height,
        width: im.width,
        counts: crate::geometry::rle::encode_counts_string(&counts),
        area: stats.area,
        bbox,
    })
}

/// Annotations per parallel batch: each batch's costly part (rasterising RLE and, for
/// compact output, the JSON text itself) runs on every core, then the batch is written in
/// order. Bounded so that memory does not grow with the file: a batch of rendered text is a
/// few megabytes.
const BATCH: usize = 4096;

struct TopOut<'a> {
    ds: &'a Dataset,
    /// Generate RLE segmentations (`--segmentation rle`).
    rle: bool,
    /// Compact output: annotations are rendered to JSON text in parallel. Indented output
    /// is written by the serializer, which alone knows the nesting depth.
    compact: bool,
    images: HashMap<ImageId, &'a Image>,
    tags: HashMap<ImageId, Vec<&'a Annotation>>,
}

impl<'a> TopOut<'a> {
    fn new(ds: &'a Dataset, rle: bool, compact: bool) -> Self {
        let images: HashMap<ImageId, &Image> = ds.images.iter().map(|i| (i.id, i)).collect();
        let mut tags: HashMap<ImageId, Vec<&Annotation>> = HashMap::new();
        for a in ds
            .annotations
            .iter()
            .filter(|a| matches!(a.shape, Shape::Tag))
        {
            tags.entry(a.image_id).or_default().push(a);
        }
        TopOut {
            ds,
            rle,
            compact,
            images,
            tags,
        }
    }
}

/// The `annotations` array, written batch by batch (see [`BATCH`]).
struct AnnotationsOut<'t, 'a>(&'t TopOut<'a>);

/// One annotation after the parallel step of its batch.
enum Prepared<'a> {
    /// Compact mode: the annotation's finished JSON text.
    Text(Box<serde_json::value::RawValue>),
    /// Indented mode: what the serializer needs to write it.
    Parts(AnnOut<'a>, Option<RleOut>),
}

impl<'a> AnnotationsOut<'_, 'a> {
    /// The parallel step of one batch: RLE and, in compact mode, the finished text.
    fn prepare(&self, batch: &'a [Annotation]) -> Vec<Option<Result<Prepared<'a>, String>>> {
        use rayon::prelude::*;
        let top = self.0;
        batch
            .par_iter()
            .map(|a| {
                if matches!(a.shape, Shape::Tag) {
                    return None;
                }
                let image = top.images.get(&a.image_id).copied();
                let rle = if top.rle { rle_of(a, image) } else { None };
                Some(if top.compact {
                    let out = AnnOut {
                        a,
                        image,
                        rle: rle.as_ref(),
                    };
                    serde_json::value::to_raw_value(&out)
                        .map(Prepared::Text)
                        .map_err(|e| e.to_string())
                } else {
                    let out = AnnOut {
                        a,
                        image,
                        rle: None,
                    };
                    Ok(Prepared::Parts(out, rle))
                })
            })
            .collect()
    }
}

impl Serialize for AnnotationsOut<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(None)?;
        let mut batches = self.0.ds.annotations.chunks(BATCH);
        let mut current = batches.next().map(|b| self.prepare(b));
        while let Some(prepared) = current.take() {
            // The next batch is prepared on the other cores while this one is written here,
            // so that writing is not a pause in the parallel work.
            let following = batches.next();
            let mut next = None;
            let written = rayon::in_place_scope(|scope| {
                if let Some(b) = following {
                    scope.spawn(|_| next = Some(self.prepare(b)));
                }
                for p in prepared.into_iter().flatten() {
                    match p.map_err(serde::ser::Error::custom)? {
                        Prepared::Text(raw) => seq.serialize_element(&raw)?,
                        Prepared::Parts(mut out, rle) => {
                            out.rle = rle.as_ref();
                            seq.serialize_element(&out)?;
                        }
                    }
                }
                Ok(())
            });
            written?;
            current = next;
        }
        seq.end()
    }
}

impl Serialize for TopOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let top = &self.ds.meta.coco_top;
        let mut m = s.serialize_map(None)?;
        // CVAT writes these two first; a dataset from elsewhere gets them so the file looks
        // like its export. A COCO input's top level is written as it was.
        if top.is_empty() {
            m.serialize_entry("licenses", &json!([{"name": "", "id": 0, "url": ""}]))?;
            m.serialize_entry(
                "info",
                &json!({"contributor": "", "date_created": "", "description": "", "url": "", "version": "", "year": ""}),
            )?;
        }
        for (k, v) in top {
            if !matches!(k.as_str(), "images" | "annotations" | "categories") {
                m.serialize_entry(k, v)?;
            }
        }
        m.serialize_entry(
            "categories",
            &Seq(self.ds.categories.iter().map(CategoryOut)),
        )?;
        m.serialize_entry(
            "images",
            &Seq(self.ds.images.iter().map(|im| ImageOut {
                im,
                tags: self.tags.get(&im.id).map_or(&[][..], Vec::as_slice),
                cats: &self.ds.categories,
            })),
        )?;
        m.serialize_entry("annotations", &AnnotationsOut(self))?;
        m.end()
    }
}

/// Serialises an iterator as a sequence (the iterator is cloned, so it is cheap to rebuild).
struct Seq<I>(I);

impl<I, T> Serialize for Seq<I>
where
    I: Iterator<Item = T> + Clone,
    T: Serialize,
{
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(None)?;
        for x in self.0.clone() {
            seq.serialize_element(&x)?;
        }
        seq.end()
    }
}

struct CategoryOut<'a>(&'a Category);

impl Serialize for CategoryOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let c = self.0;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("id", &c.id.0)?;
        m.serialize_entry("name", &c.name)?;
        m.serialize_entry("supercategory", &c.supercategory)?;
        for (k, v) in &c.coco_extra {
            match (k.as_str(), c.color) {
                // The model's colour is authoritative (it may have been changed since reading).
                ("color", Some(rgb)) => m.serialize_entry(k, &rgb.to_hex())?,
                _ => m.serialize_entry(k, v)?,
            }
        }
        if let (true, Some(rgb)) = (c.coco_extra.is_empty(), c.color) {
            m.serialize_entry("color", &rgb.to_hex())?;
        }
        m.end()
    }
}

struct ImageOut<'a> {
    im: &'a Image,
    tags: &'a [&'a Annotation],
    cats: &'a [Category],
}

impl Serialize for ImageOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let im = self.im;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("id", &im.id.0)?;
        m.serialize_entry("width", &im.width)?;
        m.serialize_entry("height", &im.height)?;
        m.serialize_entry("file_name", &im.file_name)?;
        if im.coco_extra.is_empty() {
            // As CVAT's COCO export writes them.
            m.serialize_entry("license", &0)?;
            m.serialize_entry("flickr_url", "")?;
            m.serialize_entry("coco_url", "")?;
            m.serialize_entry("date_captured", &0)?;
        }
        for (k, v) in &im.coco_extra {
            if k != "neutrostruct_tags" {
                m.serialize_entry(k, v)?;
            }
        }
        if !self.tags.is_empty() {
            let tags: Vec<Value> = self.tags.iter().map(|a| tag_json(a, self.cats)).collect();
            m.serialize_entry("neutrostruct_tags", &tags)?;
        }
        m.end()
    }
}

fn tag_json(a: &Annotation, cats: &[Category]) -> Value {
    let mut o = JsonMap::new();
    o.insert("id".into(), a.id.0.into());
    o.insert("category_id".into(), a.category_id.0.into());
    if let Some(c) = cats.iter().find(|c| c.id == a.category_id) {
        o.insert("label".into(), c.name.clone().into());
    }
    if !a.attributes.is_empty() {
        o.insert(
            "attributes".into(),
            Value::Object(
                a.attributes
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            ),
        );
    }
    if a.occluded {
        o.insert("occluded".into(), true.into());
    }
    meta_into(a, &mut o);
    Value::Object(o)
}

/// `z_order`, `source`, `group_id` when not their defaults.
fn meta_into(a: &Annotation, o: &mut JsonMap) {
    if a.z_order != 0 {
        o.insert("z_order".into(), a.z_order.into());
    }
    if let Some(s) = &a.cvat.source {
        o.insert("source".into(), s.clone().into());
    }
    if let Some(g) = a.cvat.group_id {
        o.insert("group_id".into(), g.into());
    }
}

struct AnnOut<'a> {
    a: &'a Annotation,
    image: Option<&'a Image>,
    /// The generated RLE segmentation, in `--segmentation rle` mode.
    rle: Option<&'a RleOut>,
}

/// A ring as COCO's flat `[x0, y0, x1, y1, …]`.
struct FlatRing<'a>(&'a [Point]);

impl Serialize for FlatRing<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len() * 2))?;
        for p in self.0 {
            seq.serialize_element(&p[0])?;
            seq.serialize_element(&p[1])?;
        }
        seq.end()
    }
}

/// A generated segmentation.
enum SegOut<'a> {
    Rings(Vec<Vec<Point>>),
    Rle {
        height: u32,
        width: u32,
        counts: std::borrow::Cow<'a, str>,
    },
    Empty,
}

impl Serialize for SegOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            SegOut::Rings(rings) => {
                let mut seq = s.serialize_seq(Some(rings.len()))?;
                for r in rings {
                    seq.serialize_element(&FlatRing(r))?;
                }
                seq.end()
            }
            SegOut::Rle {
                height,
                width,
                counts,
            } => {
                let mut m = s.serialize_map(Some(2))?;
                m.serialize_entry("size", &[height, width])?;
                m.serialize_entry("counts", counts)?;
                m.end()
            }
            SegOut::Empty => s.serialize_seq(Some(0))?.end(),
        }
    }
}

impl AnnOut<'_> {
    /// The `area` of a generated segmentation. For polygons: the pixels pycocotools
    /// rasterises from the rings written (what `annToMask` gives every reader), not the
    /// shape's exact area (π·rx·ry lies above the inscribed polygon, and pycocotools counts
    /// only pixels inside the image). Without the image's size, or for a ring too long to
    /// rasterise, the polygon's own (shoelace) area.
    fn generated_area(&self, seg: &SegOut<'_>) -> f64 {
        match seg {
            SegOut::Rings(rings) => self
                .image
                .and_then(|im| {
                    super::polygon_area::pycocotools_polygon_area(rings, im.height, im.width)
                })
                .map_or_else(
                    || Shape::Polygon(Rings::from_rings(rings)).area(),
                    |pixels| pixels as f64,
                ),
            _ => self.a.shape.area(),
        }
    }

    fn generated(&self) -> SegOut<'static> {
        match &self.a.shape {
            Shape::Ellipse(e) => SegOut::Rings(vec![ellipse_polygon(e, POLYGON_MAX_ERROR_PX)]),
            Shape::Box(b) => SegOut::Rings(vec![b.corners().to_vec()]),
            Shape::Polygon(rings) if rings.is_empty() => SegOut::Empty,
            Shape::Polygon(rings) => SegOut::Rings(rings.to_vec()),
            Shape::Polyline(_) | Shape::Points(_) | Shape::Tag => SegOut::Empty,
            Shape::Mask(MaskData::Coco {
                height,
                width,
                counts,
            }) => SegOut::Rle {
                height: *height,
                width: *width,
                counts: crate::geometry::rle::encode_counts_string(counts).into(),
            },
            Shape::Mask(MaskData::Cvat {
                left,
                top,
                width,
                height,
                counts,
            }) => match self.image {
                Some(im) => match crate::geometry::rle::cvat_box_to_coco(
                    *left, *top, *width, *height, counts, im.width, im.height,
                ) {
                    Ok(c) => SegOut::Rle {
                        height: im.height,
                        width: im.width,
                        counts: crate::geometry::rle::encode_counts_string(&c).into(),
                    },
                    Err(_) => SegOut::Empty,
                },
                None => SegOut::Empty,
            },
        }
    }
}

/// The `neutrostruct` object of an annotation: the exact parameters of a shape COCO cannot
/// hold natively, and CVAT's `z_order`, `source`, `group_id` when not their defaults.
/// Written straight to the serializer: building a map per annotation first cost more than
/// the rest of the annotation.
struct NeutroOut<'a>(&'a Annotation);

impl NeutroOut<'_> {
    /// A box read from a plain COCO bbox is native: nothing to add for it. Without a
    /// segmentation the bbox is the box (`x + w` need not give back `xbr - xtl` exactly: fuzz
    /// crash `coco_fuzz_bbox_without_segmentation`), and what is written is its corners and
    /// its recomputed bbox, which read back native too.
    fn box_is_native(&self, b: &crate::model::BoxShape) -> bool {
        b.rotation == 0.0
            && self.0.coco.as_ref().is_some_and(|c| {
                c.bbox.is_some()
                    && (c.rare.segmentation.is_none()
                        || c.bbox == Some([b.xtl, b.ytl, b.xbr - b.xtl, b.ybr - b.ytl]))
            })
    }

    /// Whether there is anything to write (no empty object is written).
    fn is_empty(&self) -> bool {
        let a = self.0;
        let shape_part = match &a.shape {
            Shape::Ellipse(_)
            | Shape::Polyline(_)
            | Shape::Points(_)
            | Shape::Mask(MaskData::Cvat { .. }) => true,
            Shape::Box(b) => !self.box_is_native(b),
            Shape::Polygon(_) | Shape::Mask(MaskData::Coco { .. }) | Shape::Tag => false,
        };
        !shape_part && a.z_order == 0 && a.cvat.source.is_none() && a.cvat.group_id.is_none()
    }
}

impl Serialize for NeutroOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let a = self.0;
        let mut m = s.serialize_map(None)?;
        match &a.shape {
            Shape::Ellipse(e) => {
                m.serialize_entry("type", "ellipse")?;
                m.serialize_entry("cx", &e.cx)?;
                m.serialize_entry("cy", &e.cy)?;
                m.serialize_entry("rx", &e.rx)?;
                m.serialize_entry("ry", &e.ry)?;
                m.serialize_entry("rotation", &e.rotation)?;
            }
            Shape::Box(b) if !self.box_is_native(b) => {
                m.serialize_entry("type", "box")?;
                m.serialize_entry("xtl", &b.xtl)?;
                m.serialize_entry("ytl", &b.ytl)?;
                m.serialize_entry("xbr", &b.xbr)?;
                m.serialize_entry("ybr", &b.ybr)?;
                m.serialize_entry("rotation", &b.rotation)?;
            }
            Shape::Polyline(p) | Shape::Points(p) => {
                m.serialize_entry("type", a.shape.kind())?;
                m.serialize_entry("points", p)?;
            }
            Shape::Mask(MaskData::Cvat {
                left,
                top,
                width,
                height,
                counts,
            }) => {
                m.serialize_entry("type", "mask")?;
                m.serialize_entry("left", left)?;
                m.serialize_entry("top", top)?;
                m.serialize_entry("width", width)?;
                m.serialize_entry("height", height)?;
                m.serialize_entry("counts", counts)?;
            }
            Shape::Box(_) | Shape::Polygon(_) | Shape::Mask(MaskData::Coco { .. }) | Shape::Tag => {
            }
        }
        if a.z_order != 0 {
            m.serialize_entry("z_order", &a.z_order)?;
        }
        if let Some(src) = &a.cvat.source {
            m.serialize_entry("source", src)?;
        }
        if let Some(g) = a.cvat.group_id {
            m.serialize_entry("group_id", &g)?;
        }
        m.end()
    }
}

impl Serialize for AnnOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let a = self.a;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("id", &a.id.0)?;
        m.serialize_entry("image_id", &a.image_id.0)?;
        m.serialize_entry("category_id", &a.category_id.0)?;
        match a
            .coco
            .as_ref()
            .and_then(|c| c.rare.segmentation.as_ref().map(|seg| (c, seg)))
        {
            Some((c, seg)) => {
                m.serialize_entry("segmentation", seg)?;
                if let Some(area) = c.area {
                    m.serialize_entry("area", &area)?;
                }
                if let Some(bbox) = c.bbox {
                    m.serialize_entry("bbox", &bbox)?;
                }
                if let Some(ic) = c.iscrowd {
                    m.serialize_entry("iscrowd", &ic)?;
                }
            }
            None if self.rle.is_some() => {
                let Some(r) = self.rle else {
                    return Err(serde::ser::Error::custom("RLE missing"));
                };
                let seg = SegOut::Rle {
                    height: r.height,
                    width: r.width,
                    counts: std::borrow::Cow::Borrowed(&r.counts),
                };
                m.serialize_entry("segmentation", &seg)?;
                m.serialize_entry("area", &(r.area as f64))?;
                m.serialize_entry("bbox", &r.bbox)?;
                m.serialize_entry("iscrowd", &0)?;
            }
            None => {
                let seg = self.generated();
                m.serialize_entry("segmentation", &seg)?;
                m.serialize_entry("area", &self.generated_area(&seg))?;
                // The box of the part inside the image, as CVAT's export and pycocotools give
                // it (the area above is clipped the same way); the whole box when the image is
                // unknown or the shape lies wholly outside it.
                let whole = match &a.shape {
                    Shape::Ellipse(e) => ellipse_bbox(e),
                    other => other.bbox().unwrap_or([0.0; 4]),
                };
                let bbox = self
                    .image
                    .and_then(|im| a.shape.bbox_in_image(im.width, im.height))
                    .unwrap_or(whole);
                m.serialize_entry("bbox", &bbox)?;
                m.serialize_entry("iscrowd", &0)?;
            }
        }
        let attrs = AttributesOut(a);
        if attrs.wanted() {
            m.serialize_entry("attributes", &attrs)?;
        }
        if let Some(c) = &a.coco {
            for (k, v) in &c.rare.extra {
                if k != "neutrostruct" {
                    m.serialize_entry(k, v)?;
                }
            }
        }
        let ns = NeutroOut(a);
        if !ns.is_empty() {
            m.serialize_entry("neutrostruct", &ns)?;
        }
        m.end()
    }
}

/// The `attributes` object as CVAT's export writes it (`occluded`, `rotation`, then the user
/// attributes). For annotations read from COCO, only what the input had: an object only if it
/// had one, `occluded` only where CVAT would have written it.
struct AttributesOut<'a>(&'a Annotation);

impl AttributesOut<'_> {
    fn wanted(&self) -> bool {
        let a = self.0;
        a.coco.as_ref().is_none_or(|c| c.had_attributes) || a.occluded || !a.attributes.is_empty()
    }

    /// The ellipse's or box's rotation, written next to `occluded` as CVAT does.
    fn rotation(&self) -> Option<f64> {
        let a = self.0;
        match &a.shape {
            Shape::Ellipse(e) => Some(e.rotation),
            Shape::Box(b) if a.coco.is_none() || b.rotation != 0.0 => Some(b.rotation),
            _ => None,
        }
    }
}

impl Serialize for AttributesOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let a = self.0;
        // `occluded` as CVAT writes it for shapes that did not come from COCO; for COCO
        // input only where the source had the key. Deciding by shape kind instead (as this
        // once did) was unstable: a bbox-only annotation reads as a box and gained
        // `occluded: false`, but its written polygon read back as a polygon and lost it again
        // (fuzz crash, `coco_fuzz_attributes_without_occluded`).
        let keep_occluded = a.coco.as_ref().is_none_or(|c| c.had_occluded);
        let mut m = s.serialize_map(None)?;
        if keep_occluded || a.occluded {
            m.serialize_entry("occluded", &a.occluded)?;
        }
        let rotation = self.rotation();
        if let Some(r) = rotation {
            m.serialize_entry("rotation", &r)?;
        }
        // The model's attributes are a map, so their keys are already unique.
        for (k, v) in &a.attributes {
            if k == "occluded" || (k == "rotation" && rotation.is_some()) {
                continue;
            }
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}
