//! The strict typed model every reader produces and every writer consumes.
//!
//! One `Dataset` holds what COCO JSON and CVAT XML 1.1 can say about a set of images. Fields
//! that only one format knows are kept in that format's side car (`CocoExtra`, `CvatExtra`)
//! so that a pass through the model and back to the same format loses nothing.

mod clip;
mod geometry;
mod ids;
pub mod limits;
mod rings;
mod sparse;

pub use geometry::*;
pub use ids::*;
pub use rings::{Points, Ring, Rings, RingsIter};
pub use sparse::{EmptyValue, Sparse};

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

/// Key under which CVAT-only information rides in COCO (written by the COCO writer, read
/// back by the conversion), which COCO tools ignore.
pub const CARRY_KEY: &str = "neutrostruct";
/// Annotation field holding a CVAT shape's extra XML attributes in COCO.
pub const CARRY_ATTRS_KEY: &str = "neutrostruct_cvat_attrs";

/// JSON object with key order preserved (unknown COCO fields are carried in these).
pub type JsonMap = serde_json::Map<String, serde_json::Value>;

/// An sRGB colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Rgb(pub [u8; 3]);

impl Rgb {
    /// `#rrggbb`, as CVAT writes label colours.
    pub(crate) fn to_hex(self) -> String {
        format!("#{:02x}{:02x}{:02x}", self.0[0], self.0[1], self.0[2])
    }

    /// Parses `#rrggbb` (case-insensitive, `#` optional).
    pub(crate) fn from_hex(s: &str) -> Option<Rgb> {
        let h = s.trim().trim_start_matches('#');
        if h.len() != 6 || !h.is_ascii() {
            return None;
        }
        let p = |i: usize| u8::from_str_radix(&h[i..i + 2], 16).ok();
        Some(Rgb([p(0)?, p(2)?, p(4)?]))
    }
}

/// Where an object sits in its source file (1-based line and column, byte span).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceLoc {
    /// 1-based line.
    pub line: u32,
    /// 1-based column, in characters.
    pub column: u32,
    /// Byte offset of the object's first byte.
    pub start: usize,
    /// Byte offset just past the object's last byte.
    pub end: usize,
}

/// A CVAT attribute declaration on a label (`<meta>…<attribute>`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AttributeSpec {
    /// Attribute name.
    pub name: String,
    /// CVAT `<mutable>` (`True`/`False`), as written.
    pub mutable: Option<String>,
    /// CVAT `<input_type>` (`checkbox`, `select`, `text`, …).
    pub input_type: Option<String>,
    /// CVAT `<default_value>`.
    pub default_value: Option<String>,
    /// As CVAT writes it: values separated by newlines (or spaces in older exports).
    pub values: Option<String>,
}

/// A class: COCO category or CVAT label.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Category {
    /// Category id (COCO `id`; for CVAT, the label's position from 1).
    pub id: CategoryId,
    /// Class name (`Nucleus`, `Granule`, …).
    pub name: String,
    /// COCO `supercategory` (empty when absent).
    pub supercategory: String,
    /// Display colour (CVAT `<color>`), when declared.
    pub color: Option<Rgb>,
    /// CVAT label type (`ellipse`, `any`, `rectangle`, …), when declared.
    pub kind: Option<String>,
    /// CVAT attribute declarations of the label.
    pub attributes: Vec<AttributeSpec>,
    /// Unknown COCO category fields.
    pub coco_extra: JsonMap,
}

/// An annotated image.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Image {
    /// Image id (COCO `id`; CVAT `<image id>`).
    pub id: ImageId,
    /// File name as written in the annotation file (may include folders).
    pub file_name: String,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Split name (CVAT `subset`, or the COCO file's split).
    pub subset: Option<String>,
    /// Unknown COCO image fields (`license`, `coco_url`, …).
    pub coco_extra: JsonMap,
    /// Other XML attributes on CVAT `<image>` (`task_id`, …), in order.
    pub cvat_attrs: Vec<(String, String)>,
    /// Child elements of `<image>` this crate does not model (e.g. `<skeleton>`), verbatim.
    pub cvat_unknown: Vec<String>,
    /// Where the image was declared in its source file (readers fill it; writers ignore it).
    pub loc: Option<SourceLoc>,
}

impl Image {
    /// An image with no format-specific extras.
    pub fn new(id: ImageId, file_name: impl Into<String>, width: u32, height: u32) -> Self {
        Image {
            id,
            file_name: file_name.into(),
            width,
            height,
            subset: None,
            coco_extra: JsonMap::new(),
            cvat_attrs: Vec::new(),
            cvat_unknown: Vec::new(),
            loc: None,
        }
    }
}

/// A value of a per-annotation attribute. CVAT stores text; COCO any JSON value.
pub(crate) type AttrValue = serde_json::Value;

/// A JSON value kept as its source text: a million COCO segmentations cost their bytes, not
/// a tree of boxed numbers (a `serde_json::Value` number is ~4× its text).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RawJson(pub Box<serde_json::value::RawValue>);

impl RawJson {
    /// The JSON source text.
    pub fn get(&self) -> &str {
        self.0.get()
    }

    /// Parses the text into a value tree (for the few annotations that need it).
    pub fn to_value(&self) -> serde_json::Result<serde_json::Value> {
        serde_json::from_str(self.0.get())
    }

    /// Serialises a value tree to text; `None` if it cannot be serialised.
    pub fn from_value(v: &serde_json::Value) -> Option<RawJson> {
        serde_json::value::to_raw_value(v).ok().map(RawJson)
    }
}

impl PartialEq for RawJson {
    fn eq(&self, other: &Self) -> bool {
        self.get() == other.get()
    }
}

/// COCO fields kept so that COCO → COCO writes them back as they were.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CocoExtra {
    /// COCO `iscrowd` as read (CVAT's COCO export writes 1 for its RLE masks).
    pub iscrowd: Option<u8>,
    /// COCO `bbox` `[x, y, width, height]` as read.
    pub bbox: Option<[f64; 4]>,
    /// COCO `area` as read.
    pub area: Option<f64>,
    /// Whether the annotation had an `attributes` object.
    pub had_attributes: bool,
    /// Whether that object had an `occluded` key (written back only then, or when true:
    /// COCO → COCO must not invent the key, or a second pass would differ from the first).
    #[serde(default)]
    pub had_occluded: bool,
    /// The fields few annotations of a large read have (kept segmentation text, unknown
    /// fields, a mask's extent). Out of line (one pointer while empty): inline they made this
    /// box 96 bytes, and without them it is 72 (mimalloc's 80 size class), 16 MB less for a
    /// million COCO annotations read by `validate`, which drops the segmentation text.
    #[serde(default)]
    pub rare: Sparse<CocoRare>,
}

/// The [`CocoExtra`] fields that most annotations of a large read leave empty.
///
/// A COCO → COCO conversion keeps every `segmentation` text, so there each annotation pays
/// for this box too (32 bytes); the reads that must be small (`validate`, conversion to
/// other formats) drop that text and allocate it only for RLE masks and unknown fields.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CocoRare {
    /// The `segmentation` exactly as read (written back when the shape is unchanged).
    pub segmentation: Option<RawJson>,
    /// Unknown annotation fields. Out of line: most files have none, and an empty map
    /// inline was 72 of the 160 bytes every COCO annotation carried here.
    pub extra: Sparse<JsonMap>,
    /// When the shape was recovered from an RLE mask (CVAT's export): that mask's box and
    /// pixel count, which `bbox` and `area` describe (not the recovered ellipse).
    /// Boxed: only RLE annotations have one, and inline it would make this box 72 bytes
    /// instead of 32 for every annotation with a kept segmentation.
    #[serde(default)]
    pub mask_extent: Option<Box<MaskExtent>>,
}

impl EmptyValue for CocoRare {
    fn empty() -> &'static Self {
        static EMPTY: std::sync::OnceLock<CocoRare> = std::sync::OnceLock::new();
        EMPTY.get_or_init(CocoRare::default)
    }
    fn is_empty_value(&self) -> bool {
        self.segmentation.is_none() && self.extra.is_empty() && self.mask_extent.is_none()
    }
}

/// CVAT shape metadata that COCO has no field for (the COCO writer carries it under
/// [`CARRY_KEY`] and [`CARRY_ATTRS_KEY`]).
///
/// Out of line in [`Annotation::cvat`] (one pointer while empty): inline these were 48 of
/// every annotation's 176 bytes, and a million COCO annotations, which seldom have them,
/// now cost 40 MB less.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CvatExtra {
    /// CVAT `group_id`, when set.
    pub group_id: Option<u64>,
    /// CVAT `source` (`manual`, `auto`, `semi-auto`, `file`, `consensus`).
    pub source: Option<String>,
    /// Other XML attributes on the CVAT shape element, in order. Out of line as well: a CVAT
    /// read sets `source` on every shape, so each pays for this box, and an empty list inline
    /// made it 64 bytes instead of 48 (16 MB at a million shapes).
    pub attrs: Sparse<Vec<(String, String)>>,
}

impl EmptyValue for CvatExtra {
    fn empty() -> &'static Self {
        static EMPTY: CvatExtra = CvatExtra {
            group_id: None,
            source: None,
            attrs: Sparse::new(),
        };
        &EMPTY
    }
    fn is_empty_value(&self) -> bool {
        self.group_id.is_none() && self.source.is_none() && self.attrs.is_empty()
    }
}

/// One annotation: a shape with its class and the metadata CVAT and COCO attach to it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Annotation {
    /// Annotation id (COCO `id`; CVAT shapes are numbered in file order from 1).
    pub id: AnnotationId,
    /// The image this annotation is on.
    pub image_id: ImageId,
    /// Its class.
    pub category_id: CategoryId,
    /// The geometry.
    pub shape: Shape,
    /// CVAT `occluded` (COCO `attributes.occluded`).
    pub occluded: bool,
    /// CVAT `z_order`: higher is drawn later, on top (0 when absent).
    pub z_order: i32,
    /// User attributes (CVAT `<attribute name>` children, COCO `attributes` minus `occluded`
    /// and `rotation`), in order. Out of line (one pointer while empty): most annotations
    /// have none, and the empty map inline was 72 of every annotation's 256 bytes.
    pub attributes: Sparse<IndexMap<String, AttrValue>>,
    /// Boxed: only COCO input has it, and inline it was over a third of every annotation
    /// (a million ellipses read from CVAT carried 144 MB of empty COCO fields).
    pub coco: Option<Box<CocoExtra>>,
    /// CVAT `group_id`, `source` and other XML attributes of the shape element. Out of line
    /// (one pointer while empty): a COCO read seldom has them, and inline they made every
    /// annotation 176 bytes instead of 136. (A CVAT read always sets `source`, so there each
    /// annotation pays for the 48-byte `CvatExtra` box as well.)
    pub cvat: Sparse<CvatExtra>,
    /// Where the annotation was declared in its source file (readers fill it; writers ignore it).
    pub loc: Option<SourceLoc>,
}

impl Annotation {
    /// A new annotation with default metadata.
    pub fn new(id: AnnotationId, image_id: ImageId, category_id: CategoryId, shape: Shape) -> Self {
        Annotation {
            id,
            image_id,
            category_id,
            shape,
            occluded: false,
            z_order: 0,
            attributes: Sparse::new(),
            coco: None,
            cvat: Sparse::new(),
            loc: None,
        }
    }
}

/// Dataset-level extras of each format.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DatasetMeta {
    /// COCO top-level fields other than images/annotations/categories (`info`, `licenses`, …),
    /// in order.
    pub coco_top: JsonMap,
    /// CVAT `<version>`.
    pub cvat_version: Option<String>,
    /// The `<meta>` element verbatim, split around its `<labels>` block so labels can be
    /// regenerated while everything else (task, project, segments, dumped) is kept.
    pub cvat_meta: Option<CvatMetaRaw>,
    /// Top-level CVAT elements this crate does not model (e.g. `<track>`), verbatim.
    pub cvat_unknown: Vec<String>,
}

/// A verbatim `<meta>` element: `before` + generated `<labels>` + `after`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CvatMetaRaw {
    /// Text of `<meta>` up to its `<labels>` element.
    pub before_labels: String,
    /// The `<labels>` element as read.
    pub labels: String,
    /// Text of `<meta>` after its `<labels>` element.
    pub after_labels: String,
    /// The labels exactly as declared, to detect whether the categories changed since reading.
    pub declared: Vec<Category>,
    /// Indentation in front of `<labels>`.
    pub indent: String,
}

/// A whole annotation file: classes, images and their annotations.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Dataset {
    /// Classes, in declaration order.
    pub categories: Vec<Category>,
    /// Images, in file order.
    pub images: Vec<Image>,
    /// Annotations, in file order.
    pub annotations: Vec<Annotation>,
    /// Format-specific dataset extras.
    pub meta: DatasetMeta,
}

impl Dataset {
    /// The category with this id, if any.
    pub fn category(&self, id: CategoryId) -> Option<&Category> {
        self.categories.iter().find(|c| c.id == id)
    }

    pub(crate) fn category_by_name(&self, name: &str) -> Option<&Category> {
        self.categories.iter().find(|c| c.name == name)
    }

    /// Annotations grouped per image, in image order; annotations of unknown images are
    /// omitted (see `dangling-reference`).
    pub fn annotations_by_image(&self) -> Vec<(&Image, Vec<&Annotation>)> {
        let groups = self.annotation_indices_by_image();
        self.images
            .iter()
            .zip(groups)
            .map(|(im, g)| (im, g.into_iter().map(|k| &self.annotations[k]).collect()))
            .collect()
    }

    /// [`Dataset::annotations_by_image`] as indices into `annotations`, per image in order
    /// (when two images share an id, the later one gets the annotations).
    pub(crate) fn annotation_indices_by_image(&self) -> Vec<Vec<usize>> {
        let index: std::collections::HashMap<ImageId, usize> = self
            .images
            .iter()
            .enumerate()
            .map(|(i, im)| (im.id, i))
            .collect();
        let mut groups: Vec<Vec<usize>> = vec![Vec::new(); self.images.len()];
        // Files list an image's annotations together: the id is looked up once per run,
        // not once per annotation (a million hash lookups were most of this walk).
        let mut run: Option<(ImageId, Option<usize>)> = None;
        for (k, a) in self.annotations.iter().enumerate() {
            let slot = match run {
                Some((id, slot)) if id == a.image_id => slot,
                _ => {
                    let slot = index.get(&a.image_id).copied();
                    run = Some((a.image_id, slot));
                    slot
                }
            };
            if let Some(i) = slot {
                groups[i].push(k);
            }
        }
        groups
    }

    /// Counts of annotations per shape kind, for lossiness reports.
    pub(crate) fn shape_counts(&self) -> IndexMap<&'static str, usize> {
        let mut m = IndexMap::new();
        for a in &self.annotations {
            *m.entry(a.shape.kind()).or_insert(0) += 1;
        }
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A million annotations are a million of each of these: growing one by a field is
    /// tens of MB of every large read (issue 15 measured 740 bytes an annotation before
    /// `Rings` and `Sparse`; the file it came from has ~360).
    #[test]
    fn the_per_annotation_model_stays_small() {
        use std::mem::size_of;
        // 176 before the CVAT-only fields went out of line into `CvatExtra`.
        assert!(
            size_of::<Annotation>() <= 136,
            "{}",
            size_of::<Annotation>()
        );
        // 80 is an allocator size class (mimalloc's: 64, 80, 96); 81 bytes would cost 96,
        // as the 96-byte `CocoExtra` did before its rare fields went into `CocoRare`.
        assert!(size_of::<CocoExtra>() <= 80, "{}", size_of::<CocoExtra>());
        assert!(size_of::<CocoRare>() <= 32, "{}", size_of::<CocoRare>());
        assert!(size_of::<CvatExtra>() <= 48, "{}", size_of::<CvatExtra>());
        assert!(size_of::<Shape>() <= 48, "{}", size_of::<Shape>());
        // The COCO read of a typical polygon: its rings cost their 16-bit offsets only.
        let ring: Vec<Point> = (0..16)
            .map(|i| [3000.25 + f64::from(i), 1100.5 - f64::from(i)])
            .collect();
        let mut a = Annotation::new(
            AnnotationId(1),
            ImageId(1),
            CategoryId(1),
            Shape::Polygon(vec![ring].into()),
        );
        let Shape::Polygon(rings) = &a.shape else {
            panic!("a polygon")
        };
        assert_eq!(rings.heap_bytes(), 2 * 32);
        // Reading an unset out-of-line field allocates nothing; writing one does.
        assert!(a.attributes.is_empty() && a.cvat.attrs.is_empty());
        assert!(a.cvat.source.is_none() && !a.cvat.is_set());
        assert!(a.attributes.get_mut().is_none());
        a.attributes.insert("k".into(), AttrValue::from(true));
        assert!(a.attributes.get_mut().is_some());
        // An empty side car is not kept.
        a.cvat = CvatExtra::default().into();
        assert!(!a.cvat.is_set());
        a.cvat = CvatExtra {
            group_id: Some(3),
            ..CvatExtra::default()
        }
        .into();
        assert!(a.cvat.is_set());
        let c = CocoExtra {
            rare: CocoRare::default().into(),
            ..CocoExtra::default()
        };
        assert!(!c.rare.is_set());
    }
}
