//! Conversion between formats through the typed model, with the lossiness of each step.
//!
//! Reading and writing live in the format modules; this module decides what each format
//! pair can carry and records, with a code, everything it cannot. CVAT-only information
//! (the `<meta>` block, extra `<image>` attributes) rides along in COCO under a
//! `neutrostruct` key that COCO tools ignore, so CVAT → COCO → CVAT gives the CVAT back.

use crate::error::{Error, Result};
use crate::lossiness::Lossiness;
use crate::model::{Dataset, JsonMap};
use serde_json::Value;
use std::path::Path;

mod pipeline;
pub use pipeline::{convert, read, write, write_with_labels, ConvertRequest, Converted};

/// Formats the model can be read from and written to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum Format {
    /// COCO JSON (`instances.json`).
    Coco,
    /// CVAT for images 1.1 XML, or CVAT's zip export holding it.
    Cvat,
    /// Colour-coded PNG masks with `labelmap.txt`.
    Masks,
    /// Ultralytics boxes.
    Yolo,
    /// Ultralytics polygons.
    #[cfg_attr(feature = "cli", value(name = "yolo-seg"))]
    YoloSeg,
    /// Ultralytics oriented boxes.
    #[cfg_attr(feature = "cli", value(name = "yolo-obb"))]
    YoloObb,
    /// Pascal VOC XML boxes.
    Voc,
}

impl Format {
    /// The name the command line and the reports use (`yolo-seg`, …).
    pub fn name(self) -> &'static str {
        match self {
            Format::Coco => "coco",
            Format::Cvat => "cvat",
            Format::Masks => "masks",
            Format::Yolo => "yolo",
            Format::YoloSeg => "yolo-seg",
            Format::YoloObb => "yolo-obb",
            Format::Voc => "voc",
        }
    }

    /// Guesses the format of `path` from its content: a folder holds masks (unless it has a
    /// `data.yaml`: then its task must be given; or an `Annotations/` folder without
    /// `SegmentationClass/`: then it is Pascal VOC), a file starting
    /// with `{` is COCO JSON, one starting with `<` is CVAT XML and a zip archive is a CVAT
    /// export (its `annotations.xml`). Anything else is an error at the first significant
    /// byte, so that an empty file or a JSON array gets a line and column too.
    pub fn detect(path: &Path) -> Result<Format> {
        if path.is_dir() {
            // A YOLO folder does not say which task its rows are for (a 9-column row is an
            // oriented box or a 4-point polygon): the user says it.
            if path.join("data.yaml").is_file() || path.join("data.yml").is_file() {
                return Err(Error::Usage(format!(
                    "{}: an Ultralytics dataset (data.yaml); its task must be given: yolo, yolo-seg or yolo-obb",
                    path.display()
                )));
            }
            if crate::training::voc_read::looks_like_voc(path) {
                return Ok(Format::Voc);
            }
            return Ok(Format::Masks);
        }
        use std::io::Read;
        let mut head = [0u8; 512];
        let n = std::fs::File::open(path)
            .and_then(|mut f| f.read(&mut head))
            .map_err(|e| Error::io(path, e))?;
        let head = &head[..n];
        if head.starts_with(crate::cvat::ZIP_MAGIC) {
            return Ok(Format::Cvat);
        }
        let bom = if head.starts_with(b"\xEF\xBB\xBF") {
            3
        } else {
            0
        };
        let first = head[bom..]
            .iter()
            .position(|b| !b.is_ascii_whitespace())
            .map(|i| i + bom);
        match first.map(|i| (i, head[i])) {
            Some((_, b'{')) => Ok(Format::Coco),
            Some((_, b'<')) => Ok(Format::Cvat),
            Some((i, b)) => {
                let (line, col) = crate::error::line_col(head, i);
                let what = if b == b'[' {
                    "a JSON array, not a COCO object"
                } else {
                    "neither COCO JSON nor CVAT XML"
                };
                Err(Error::parse(
                    path,
                    line,
                    col,
                    format!(
                        "cannot tell the format from the content ({what}); give the input format"
                    ),
                ))
            }
            None if n == 0 => Err(Error::parse(path, 1, 1, "empty file")),
            None => Err(Error::parse(
                path,
                1,
                1,
                "cannot tell the format: only white space at the start; give the input format",
            )),
        }
    }
}

pub use crate::model::{CARRY_ATTRS_KEY, CARRY_KEY};

/// Before writing COCO from a dataset read from CVAT: keep what COCO has no field for.
pub fn carry_cvat_into_coco(ds: &mut Dataset) {
    let mut carried = JsonMap::new();
    if let Some(v) = &ds.meta.cvat_version {
        carried.insert("cvat_version".into(), Value::String(v.clone()));
    }
    if let Some(meta) = &ds.meta.cvat_meta {
        if let Ok(v) = serde_json::to_value(meta) {
            carried.insert("cvat_meta".into(), v);
        }
    }
    if !ds.meta.cvat_unknown.is_empty() {
        carried.insert(
            "cvat_unknown".into(),
            Value::from(ds.meta.cvat_unknown.clone()),
        );
    }
    if !carried.is_empty() && !ds.meta.coco_top.contains_key(CARRY_KEY) {
        ds.meta
            .coco_top
            .insert(CARRY_KEY.into(), Value::Object(carried));
    }
    for c in &mut ds.categories {
        if let Some(col) = c.color {
            c.coco_extra
                .entry("color")
                .or_insert_with(|| Value::String(col.to_hex()));
        }
        let mut extra = JsonMap::new();
        if let Some(kind) = &c.kind {
            extra.insert("type".into(), Value::String(kind.clone()));
        }
        if !c.attributes.is_empty() {
            if let Ok(v) = serde_json::to_value(&c.attributes) {
                extra.insert("attributes".into(), v);
            }
        }
        if !extra.is_empty() {
            c.coco_extra
                .entry(CARRY_KEY)
                .or_insert(Value::Object(extra));
        }
    }
    for a in &mut ds.annotations {
        if a.cvat.attrs.is_empty() {
            continue;
        }
        let attrs: Vec<Value> = a
            .cvat
            .attrs
            .iter()
            .map(|(k, v)| Value::from(vec![Value::String(k.clone()), Value::String(v.clone())]))
            .collect();
        a.coco
            .get_or_insert_with(Default::default)
            .rare
            .extra
            .insert(CARRY_ATTRS_KEY.into(), Value::Array(attrs));
    }
    for im in &mut ds.images {
        let mut extra = JsonMap::new();
        if let Some(s) = &im.subset {
            extra.insert("subset".into(), Value::String(s.clone()));
        }
        if !im.cvat_attrs.is_empty() {
            let attrs: Vec<Value> = im
                .cvat_attrs
                .iter()
                .map(|(k, v)| Value::from(vec![Value::String(k.clone()), Value::String(v.clone())]))
                .collect();
            extra.insert("cvat_attrs".into(), Value::Array(attrs));
        }
        if !im.cvat_unknown.is_empty() {
            extra.insert("cvat_unknown".into(), Value::from(im.cvat_unknown.clone()));
        }
        if !extra.is_empty() {
            im.coco_extra
                .entry(CARRY_KEY)
                .or_insert(Value::Object(extra));
        }
    }
}

/// After reading COCO written by [`carry_cvat_into_coco`]: restore the CVAT-only parts.
pub fn restore_cvat_from_coco(ds: &mut Dataset) {
    if let Some(Value::Object(carried)) = ds.meta.coco_top.shift_remove(CARRY_KEY) {
        if let Some(Value::String(v)) = carried.get("cvat_version") {
            ds.meta.cvat_version = Some(v.clone());
        }
        if let Some(v) = carried.get("cvat_meta") {
            ds.meta.cvat_meta = serde_json::from_value(v.clone()).ok();
        }
        if let Some(v) = carried.get("cvat_unknown") {
            ds.meta.cvat_unknown = serde_json::from_value(v.clone()).unwrap_or_default();
        }
    }
    for c in &mut ds.categories {
        if let Some(Value::String(col)) = c.coco_extra.get("color") {
            if c.color.is_none() {
                c.color = crate::model::Rgb::from_hex(col);
            }
        }
        if let Some(Value::Object(extra)) = c.coco_extra.shift_remove(CARRY_KEY) {
            if let Some(Value::String(kind)) = extra.get("type") {
                c.kind = Some(kind.clone());
            }
            if let Some(v) = extra.get("attributes") {
                c.attributes = serde_json::from_value(v.clone()).unwrap_or_default();
            }
        }
        c.coco_extra.shift_remove("color");
    }
    for a in &mut ds.annotations {
        // `get_mut`: a plain `c.rare.extra.shift_remove` would allocate the (out-of-line)
        // side car and map of every annotation that has none, 80 MB at a million.
        if let Some(extra) = a
            .coco
            .as_mut()
            .and_then(|c| c.rare.get_mut())
            .and_then(|r| r.extra.get_mut())
        {
            if let Some(v) = extra.shift_remove(CARRY_ATTRS_KEY) {
                let attrs: Vec<(String, String)> = serde_json::from_value(v).unwrap_or_default();
                // Nothing to store is no reason to allocate the CVAT side car.
                if !attrs.is_empty() || a.cvat.is_set() {
                    a.cvat.attrs = attrs.into();
                }
            }
        }
    }
    for im in &mut ds.images {
        if let Some(Value::Object(extra)) = im.coco_extra.shift_remove(CARRY_KEY) {
            if let Some(Value::String(s)) = extra.get("subset") {
                im.subset = Some(s.clone());
            }
            if let Some(v) = extra.get("cvat_attrs") {
                im.cvat_attrs = serde_json::from_value(v.clone()).unwrap_or_default();
            }
            if let Some(v) = extra.get("cvat_unknown") {
                im.cvat_unknown = serde_json::from_value(v.clone()).unwrap_or_default();
            }
        }
    }
}

/// Notes what a COCO dataset carries that CVAT XML has no place for.
pub(crate) fn note_coco_to_cvat_losses(ds: &Dataset, loss: &mut Lossiness) {
    let top: Vec<&str> = ds
        .meta
        .coco_top
        .keys()
        .map(String::as_str)
        .filter(|k| !matches!(*k, "info" | "licenses"))
        .collect();
    let info_nonempty = ds.meta.coco_top.iter().any(|(k, v)| match (k.as_str(), v) {
        ("info", Value::Object(m)) => m
            .values()
            .any(|v| !matches!(v, Value::String(s) if s.is_empty())),
        ("licenses", Value::Array(a)) => a.iter().any(|l| {
            l.as_object().is_some_and(|m| {
                m.iter()
                    .any(|(k, v)| k != "id" && !matches!(v, Value::String(s) if s.is_empty()))
            })
        }),
        _ => false,
    });
    if info_nonempty || !top.is_empty() {
        loss.add(
            "coco-fields-dropped",
            1,
            "COCO top-level info/licenses/other fields have no place in CVAT XML",
        );
    }
    let renumbered = ds
        .categories
        .iter()
        .enumerate()
        .filter(|(i, c)| c.id.0 != *i as u64 + 1)
        .count();
    loss.add(
        "category-ids-renumbered",
        renumbered,
        "CVAT labels have no ids; categories are numbered 1.. in order on the way back",
    );
    let extra_fields = ds
        .annotations
        .iter()
        .filter(|a| a.coco.as_ref().is_some_and(|c| !c.rare.extra.is_empty()))
        .count();
    loss.add(
        "annotation-fields-dropped",
        extra_fields,
        "unknown COCO annotation fields have no place in CVAT XML",
    );
    let crowd = ds
        .annotations
        .iter()
        .filter(|a| {
            a.coco.as_ref().is_some_and(|c| c.iscrowd == Some(1))
                && !matches!(a.shape, crate::model::Shape::Ellipse(_))
        })
        .count();
    loss.add(
        "iscrowd-dropped",
        crowd,
        "the iscrowd flag of mask annotations has no place in CVAT XML",
    );
    let ids_renumbered = ds
        .annotations
        .iter()
        .enumerate()
        .filter(|(i, a)| a.id.0 != *i as u64 + 1)
        .count();
    loss.add(
        "annotation-ids-renumbered",
        ids_renumbered,
        "CVAT shapes have no ids; annotations are numbered 1.. in document order on the way back",
    );
}
