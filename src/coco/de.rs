//! Typed deserialisation of a COCO file into raw records, in one pass and without a
//! `serde_json::Value` tree for the whole file.
//!
//! Hand-written map visitors instead of `#[serde(flatten)]` (which buffers every object
//! into an intermediate map and is several times slower) so that unknown fields can be
//! captured while known ones are read straight into their types. Only values we must keep
//! verbatim (unknown fields, attribute values, our `neutrostruct` object) become `Value`s,
//! one small tree per annotation; `segmentation` is borrowed from the input as raw text.
//! Errors raised here carry serde_json's line and column.

use crate::model::{AttrValue, Category, CategoryId, Image, ImageId, JsonMap, Rgb};
use indexmap::IndexMap;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;
use std::fmt;

pub use crate::model::limits::MAX_SIDE;

/// A field name: one of the known ones (by index) or another one (kept by name).
enum Key {
    Known(usize),
    Other(String),
}

struct KeySeed(&'static [&'static str]);

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Key;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Key, D::Error> {
        d.deserialize_identifier(self)
    }
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = Key;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Key, E> {
        Ok(match self.0.iter().position(|k| *k == v) {
            Some(i) => Key::Known(i),
            None => Key::Other(v.to_owned()),
        })
    }
}

/// Stores a field once; a second occurrence is an error (as serde's derive does).
fn set_once<T, E: de::Error>(slot: &mut Option<T>, v: T, name: &'static str) -> Result<(), E> {
    if slot.is_some() {
        return Err(E::duplicate_field(name));
    }
    *slot = Some(v);
    Ok(())
}

/// The whole file.
#[derive(Default)]
pub(crate) struct RawTop<'a> {
    pub categories: Vec<Category>,
    pub images: Vec<RawImage>,
    /// The annotations not handed to an [`AnnotationSink`] (all of them when there is none,
    /// or when `annotations` came before `images`).
    pub annotations: Vec<RawAnnotation<'a>>,
    /// Whether the annotations went to the sink instead.
    pub streamed: bool,
    pub top: JsonMap,
    pub had_images: bool,
}

/// Annotations handed over in document order, a chunk at a time, while the rest of the file
/// is still being parsed, so that the raw records of a million annotations never exist at
/// once (they were a third of the peak memory of `validate`).
pub(crate) trait AnnotationSink<'de> {
    /// Takes the chunk's records (leaving it empty). `images` are all the file's images:
    /// streaming starts only when the `images` array came first. Returns false to stop the
    /// parse; the sink keeps the reason.
    fn take(&mut self, images: &[RawImage], chunk: &mut Vec<RawAnnotation<'de>>) -> bool;
}

/// Records per chunk handed to the sink: large enough to amortise the call, small enough
/// that the chunk's raw records are a rounding error in memory.
const SINK_CHUNK: usize = 4096;

/// The message of the error that stops a parse when the sink refuses a chunk; the caller
/// asks its sink why.
pub(crate) const SINK_STOPPED: &str = "annotation sink stopped the parse";

pub(crate) struct RawImage {
    pub image: Image,
    /// Our `neutrostruct_tags` array (CVAT tags carried through COCO).
    pub tags: Option<Value>,
}

pub(crate) struct RawAnnotation<'a> {
    pub id: u64,
    pub image_id: u64,
    pub category_id: u64,
    /// Borrowed from the input: copied only if the model keeps it.
    pub segmentation: Option<RawSegmentation<'a>>,
    pub bbox: Option<[f64; 4]>,
    pub area: Option<f64>,
    pub iscrowd: Option<u8>,
    pub attributes: Option<RawAttributes>,
    pub neutrostruct: Option<Value>,
    pub extra: JsonMap,
}

/// An annotation's `segmentation` as the parse left it.
pub(crate) enum RawSegmentation<'a> {
    /// The text, to be read by the annotation's builder.
    Text(&'a RawValue),
    /// A polygon list, already read into this thread's polygon buffers (see
    /// [`parse_annotation_with_polygon`]).
    InBuffers,
}

#[derive(Default)]
pub(crate) struct RawAttributes {
    pub occluded: Option<bool>,
    pub rotation: Option<f64>,
    pub rest: IndexMap<String, AttrValue>,
}

impl<'de> RawTop<'de> {
    /// Parses the file, handing the annotations to `sink` when the images came first.
    pub(crate) fn deserialize_with<D: Deserializer<'de>>(
        d: D,
        sink: Option<&mut dyn AnnotationSink<'de>>,
    ) -> Result<Self, D::Error> {
        d.deserialize_map(TopVisitor { sink })
    }
}

struct TopVisitor<'s, 'de> {
    sink: Option<&'s mut dyn AnnotationSink<'de>>,
}

const TOP_FIELDS: &[&str] = &["images", "annotations", "categories"];

impl<'de> Visitor<'de> for TopVisitor<'_, 'de> {
    type Value = RawTop<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a COCO object with `images`, `annotations` and `categories`")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawTop<'de>, A::Error> {
        let mut sink = self.sink;
        let mut t = RawTop::default();
        let (mut seen_ann, mut seen_cat) = (false, false);
        while let Some(k) = map.next_key_seed(KeySeed(TOP_FIELDS))? {
            match k {
                Key::Known(0) => {
                    if t.had_images {
                        return Err(de::Error::duplicate_field("images"));
                    }
                    t.had_images = true;
                    t.images = map.next_value()?;
                }
                Key::Known(1) => {
                    if seen_ann {
                        return Err(de::Error::duplicate_field("annotations"));
                    }
                    seen_ann = true;
                    match sink.as_deref_mut() {
                        Some(sink) if t.had_images => {
                            map.next_value_seed(StreamSeed {
                                images: &t.images,
                                sink,
                            })?;
                            t.streamed = true;
                        }
                        _ => t.annotations = map.next_value()?,
                    }
                }
                Key::Known(_) => {
                    if seen_cat {
                        return Err(de::Error::duplicate_field("categories"));
                    }
                    seen_cat = true;
                    let v: Vec<RawCategory> = map.next_value()?;
                    t.categories = v.into_iter().map(|c| c.0).collect();
                }
                Key::Other(name) => {
                    let v: Value = map.next_value()?;
                    t.top.insert(name, v);
                }
            }
        }
        if !t.had_images {
            return Err(de::Error::custom(
                "not a COCO instances file: no `images` array",
            ));
        }
        Ok(t)
    }
}

/// The `annotations` array, handed to a sink chunk by chunk.
struct StreamSeed<'s, 'de> {
    images: &'s [RawImage],
    sink: &'s mut dyn AnnotationSink<'de>,
}

impl<'de> DeserializeSeed<'de> for StreamSeed<'_, 'de> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for StreamSeed<'_, 'de> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of annotations")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut chunk = Vec::with_capacity(SINK_CHUNK);
        while let Some(ra) = seq.next_element::<RawAnnotation<'de>>()? {
            chunk.push(ra);
            if chunk.len() == SINK_CHUNK && !self.sink.take(self.images, &mut chunk) {
                return Err(de::Error::custom(SINK_STOPPED));
            }
        }
        if !chunk.is_empty() && !self.sink.take(self.images, &mut chunk) {
            return Err(de::Error::custom(SINK_STOPPED));
        }
        Ok(())
    }
}

const IMAGE_FIELDS: &[&str] = &["id", "file_name", "width", "height", "neutrostruct_tags"];

impl<'de> Deserialize<'de> for RawImage {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(ImageVisitor)
    }
}

struct ImageVisitor;

impl<'de> Visitor<'de> for ImageVisitor {
    type Value = RawImage;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an image object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawImage, A::Error> {
        let (mut id, mut file_name, mut width, mut height, mut tags) =
            (None, None, None, None, None);
        let mut extra = JsonMap::new();
        while let Some(k) = map.next_key_seed(KeySeed(IMAGE_FIELDS))? {
            match k {
                Key::Known(0) => set_once(&mut id, map.next_value::<u64>()?, "id")?,
                Key::Known(1) => {
                    set_once(&mut file_name, map.next_value::<String>()?, "file_name")?
                }
                Key::Known(2) => set_once(&mut width, map.next_value::<u64>()?, "width")?,
                Key::Known(3) => set_once(&mut height, map.next_value::<u64>()?, "height")?,
                Key::Known(_) => {
                    set_once(&mut tags, map.next_value::<Value>()?, "neutrostruct_tags")?
                }
                Key::Other(name) => {
                    let v: Value = map.next_value()?;
                    extra.insert(name, v);
                }
            }
        }
        let id = id.ok_or_else(|| de::Error::missing_field("id"))?;
        let file_name = file_name.ok_or_else(|| de::Error::missing_field("file_name"))?;
        let side = |v: Option<u64>, name: &'static str| -> Result<u32, A::Error> {
            let v = v.ok_or_else(|| de::Error::missing_field(name))?;
            if v == 0 || v > MAX_SIDE {
                return Err(de::Error::custom(format!(
                    "image {id}: {name} {v} is out of range 1..={MAX_SIDE}"
                )));
            }
            Ok(v as u32)
        };
        let width = side(width, "width")?;
        let height = side(height, "height")?;
        Ok(RawImage {
            image: Image {
                id: ImageId(id),
                file_name,
                width,
                height,
                subset: None,
                coco_extra: extra,
                cvat_attrs: Vec::new(),
                cvat_unknown: Vec::new(),
                loc: None,
            },
            tags,
        })
    }
}

const CATEGORY_FIELDS: &[&str] = &["id", "name", "supercategory"];

/// A category read into the model type directly; a `color` field stays among the unknown
/// fields (so COCO → COCO writes it where it was) and also fills `color`.
pub(crate) struct RawCategory(pub Category);

impl<'de> Deserialize<'de> for RawCategory {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(CategoryVisitor).map(RawCategory)
    }
}

struct CategoryVisitor;

impl<'de> Visitor<'de> for CategoryVisitor {
    type Value = Category;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a category object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Category, A::Error> {
        let (mut id, mut name, mut sup) = (None, None, None);
        let mut extra = JsonMap::new();
        while let Some(k) = map.next_key_seed(KeySeed(CATEGORY_FIELDS))? {
            match k {
                Key::Known(0) => set_once(&mut id, map.next_value::<u64>()?, "id")?,
                Key::Known(1) => set_once(&mut name, map.next_value::<String>()?, "name")?,
                Key::Known(_) => set_once(
                    &mut sup,
                    map.next_value::<Option<String>>()?,
                    "supercategory",
                )?,
                Key::Other(n) => {
                    let v: Value = map.next_value()?;
                    extra.insert(n, v);
                }
            }
        }
        let id = id.ok_or_else(|| de::Error::missing_field("id"))?;
        let name = name.ok_or_else(|| de::Error::missing_field("name"))?;
        let color = extra
            .get("color")
            .and_then(Value::as_str)
            .and_then(Rgb::from_hex);
        Ok(Category {
            id: CategoryId(id),
            name,
            supercategory: sup.flatten().unwrap_or_default(),
            color,
            kind: None,
            attributes: Vec::new(),
            coco_extra: extra,
        })
    }
}

const ANN_FIELDS: &[&str] = &[
    "id",
    "image_id",
    "category_id",
    "segmentation",
    "bbox",
    "area",
    "iscrowd",
    "attributes",
    "neutrostruct",
];

impl<'de> Deserialize<'de> for RawAnnotation<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(AnnVisitor { polygon: None })
    }
}

/// Parses one annotation object whose `segmentation` is expected to be a polygon list,
/// reading that list straight into `coords` and `ends` (as [`read_flat_rings`]) instead of
/// skipping it as raw text to read it again: the skip cost as much as the read. A
/// `segmentation` of any other form is an error here; the caller then reads the
/// annotation the usual way.
pub(crate) fn parse_annotation_with_polygon<'de>(
    bytes: &'de [u8],
    coords: &mut Vec<f64>,
    ends: &mut Vec<usize>,
) -> serde_json::Result<RawAnnotation<'de>> {
    coords.clear();
    ends.clear();
    let mut d = serde_json::Deserializer::from_slice(bytes);
    let ra = d.deserialize_map(AnnVisitor {
        polygon: Some(RingsSeed {
            coords,
            ends: Some(ends),
        }),
    })?;
    d.end()?;
    Ok(ra)
}

struct AnnVisitor<'b> {
    /// Where a polygon `segmentation` is read to, when it is read during the parse.
    polygon: Option<RingsSeed<'b>>,
}

impl<'de> Visitor<'de> for AnnVisitor<'_> {
    type Value = RawAnnotation<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an annotation object")
    }
    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<RawAnnotation<'de>, A::Error> {
        let (mut id, mut image_id, mut category_id) = (None, None, None);
        let (mut seg, mut bbox, mut area, mut iscrowd, mut attrs, mut ns) =
            (None, None, None, None, None, None);
        let mut extra = JsonMap::new();
        while let Some(k) = map.next_key_seed(KeySeed(ANN_FIELDS))? {
            match k {
                Key::Known(0) => set_once(&mut id, map.next_value::<u64>()?, "id")?,
                Key::Known(1) => set_once(&mut image_id, map.next_value::<u64>()?, "image_id")?,
                Key::Known(2) => {
                    set_once(&mut category_id, map.next_value::<u64>()?, "category_id")?
                }
                Key::Known(3) => {
                    let value = match (&mut seg, self.polygon.take()) {
                        // The first `segmentation` only: a second is refused below.
                        (None, Some(rings)) => {
                            map.next_value_seed(rings)?;
                            RawSegmentation::InBuffers
                        }
                        _ => RawSegmentation::Text(map.next_value::<&'de RawValue>()?),
                    };
                    set_once(&mut seg, value, "segmentation")?
                }
                Key::Known(4) => {
                    set_once(&mut bbox, map.next_value::<Option<[f64; 4]>>()?, "bbox")?
                }
                Key::Known(5) => set_once(&mut area, map.next_value::<Option<f64>>()?, "area")?,
                Key::Known(6) => set_once(&mut iscrowd, map.next_value::<IsCrowd>()?.0, "iscrowd")?,
                Key::Known(7) => set_once(
                    &mut attrs,
                    map.next_value::<Option<RawAttributes>>()?,
                    "attributes",
                )?,
                Key::Known(_) => set_once(&mut ns, map.next_value::<Value>()?, "neutrostruct")?,
                Key::Other(n) => {
                    let v: Value = map.next_value()?;
                    extra.insert(n, v);
                }
            }
        }
        Ok(RawAnnotation {
            id: id.ok_or_else(|| de::Error::missing_field("id"))?,
            image_id: image_id.ok_or_else(|| de::Error::missing_field("image_id"))?,
            category_id: category_id.ok_or_else(|| de::Error::missing_field("category_id"))?,
            segmentation: seg,
            bbox: bbox.flatten(),
            area: area.flatten(),
            iscrowd: iscrowd.flatten(),
            attributes: attrs.flatten(),
            neutrostruct: ns,
            extra,
        })
    }
}

/// `iscrowd`: 0/1 as COCO writes it; `true`/`false` and `null` also accepted.
struct IsCrowd(Option<u8>);

impl<'de> Deserialize<'de> for IsCrowd {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = IsCrowd;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("iscrowd as 0 or 1")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<IsCrowd, E> {
                u8::try_from(v)
                    .map(|v| IsCrowd(Some(v)))
                    .map_err(|_| E::custom("iscrowd must be 0 or 1"))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<IsCrowd, E> {
                Err(E::custom("iscrowd must be 0 or 1"))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<IsCrowd, E> {
                Ok(IsCrowd(Some(u8::from(v))))
            }
            fn visit_unit<E: de::Error>(self) -> Result<IsCrowd, E> {
                Ok(IsCrowd(None))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for RawAttributes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(AttrVisitor)
    }
}

struct AttrVisitor;

const ATTR_FIELDS: &[&str] = &["occluded", "rotation"];

impl<'de> Visitor<'de> for AttrVisitor {
    type Value = RawAttributes;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an attributes object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawAttributes, A::Error> {
        let mut a = RawAttributes::default();
        while let Some(k) = map.next_key_seed(KeySeed(ATTR_FIELDS))? {
            match k {
                Key::Known(0) => {
                    let v: Value = map.next_value()?;
                    let b = match &v {
                        Value::Bool(b) => *b,
                        Value::Number(n) if n.as_u64() == Some(0) => false,
                        Value::Number(n) if n.as_u64() == Some(1) => true,
                        Value::String(s) if s == "true" || s == "false" => s == "true",
                        _ => {
                            return Err(de::Error::custom(format!(
                                "attributes.occluded must be a boolean or 0/1, not {v}"
                            )))
                        }
                    };
                    set_once(&mut a.occluded, b, "occluded")?;
                }
                Key::Known(_) => set_once(&mut a.rotation, map.next_value::<f64>()?, "rotation")?,
                Key::Other(n) => {
                    let v: Value = map.next_value()?;
                    a.rest.insert(n, v);
                }
            }
        }
        Ok(a)
    }
}

/// Reads a polygon segmentation `[[x, y, …], …]` as `Vec<Vec<f64>>` would (the same numbers,
/// the same errors), into buffers the caller keeps from one polygon to the next: `coords`
/// gets every ring's numbers back to back and `ends` where each ring's numbers end. The
/// nested vectors cost five allocations per polygon (each ring growing by doubling), a
/// tenth of the read of a million polygons.
pub(crate) fn read_flat_rings(
    text: &str,
    coords: &mut Vec<f64>,
    ends: &mut Vec<usize>,
) -> serde_json::Result<()> {
    coords.clear();
    ends.clear();
    let mut d = serde_json::Deserializer::from_str(text);
    RingsSeed {
        coords,
        ends: Some(ends),
    }
    .deserialize(&mut d)?;
    d.end()
}

/// One level of a polygon list, read into flat buffers: the list of rings when `ends` is
/// given (each element a ring, whose end is recorded there), else one ring (each element a
/// number appended to `coords`).
struct RingsSeed<'b> {
    coords: &'b mut Vec<f64>,
    ends: Option<&'b mut Vec<usize>>,
}

impl<'de> DeserializeSeed<'de> for RingsSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for RingsSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a sequence")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let RingsSeed { coords, ends } = self;
        match ends {
            Some(ends) => {
                // Each element is one ring: its numbers, then where they end.
                while seq
                    .next_element_seed(RingsSeed {
                        coords: &mut *coords,
                        ends: None,
                    })?
                    .is_some()
                {
                    ends.push(coords.len());
                }
            }
            None => {
                while let Some(v) = seq.next_element::<f64>()? {
                    coords.push(v);
                }
            }
        }
        Ok(())
    }
}
