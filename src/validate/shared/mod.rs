//! Machinery the rules share: what several rules measure once (mask analyses, overlap
//! findings, YOLO row findings), where files named in the data are looked for, and small
//! helpers. Every file in `rules/` is one rule; what is shared lives here.

pub(crate) mod files;
pub(crate) mod mask_analysis;
pub(crate) mod overlaps;
pub(crate) mod yolo_rows;

use crate::model::{Annotation, CategoryId, Dataset, Image, ImageId};
use std::collections::HashMap;

/// Image of each id (the first, when ids repeat: `duplicate-id` reports the rest).
pub(crate) fn images_by_id(ds: &Dataset) -> HashMap<ImageId, &Image> {
    let mut m = HashMap::with_capacity(ds.images.len());
    for im in &ds.images {
        m.entry(im.id).or_insert(im);
    }
    m
}

/// Class name of each category id.
pub(crate) fn class_names(ds: &Dataset) -> HashMap<CategoryId, &str> {
    let mut m = HashMap::new();
    for c in &ds.categories {
        m.entry(c.id).or_insert(c.name.as_str());
    }
    m
}

/// The name of an annotation's class, or its id in brackets when undeclared.
pub(crate) fn class_of(names: &HashMap<CategoryId, &str>, a: &Annotation) -> String {
    names.get(&a.category_id).map_or_else(
        || format!("[category {}]", a.category_id),
        |n| n.to_string(),
    )
}

/// The box a rule compares with another file's shape: COCO's `bbox` when the file had one
/// (as docs/design.md §2 uses it), else [`visible_box`].
pub(crate) fn compare_box(a: &Annotation, im: Option<&Image>) -> Option<[f64; 4]> {
    a.coco
        .as_ref()
        .and_then(|c| c.bbox)
        .or_else(|| visible_box(a, im))
}

/// The tight box of the part of the shape its image shows (`model/clip.rs`): what a COCO
/// export of it keeps, since CVAT's export clips at the image border. The whole shape's box
/// when the image is unknown.
pub(crate) fn visible_box(a: &Annotation, im: Option<&Image>) -> Option<[f64; 4]> {
    match im {
        Some(im) => a.shape.bbox_in_image(im.width, im.height),
        None => a.shape.bbox(),
    }
}

/// Formats a number for messages: two decimals at most, no trailing zeros.
pub(crate) fn num(v: f64) -> String {
    let s = format!("{v:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.into()
    }
}
