//! The rules, one per file. Each file declares its rule with `declare_rule!` (code, name,
//! default severity, one-line summary and the `///` documentation that `explain` prints) and
//! implements [`Validation`](super::Validation). The registry lists them.

pub mod bbox_mismatch;
pub mod coco_cvat_mismatch;
pub mod conflicting_labels;
pub mod crowd_annotation;
pub mod dangling_reference;
pub mod degenerate_shape;
pub mod division_mismatch;
pub mod duplicate_id;
pub mod duplicate_shape;
pub mod ellipse_out_of_bounds;
pub mod excessive_overlap;
pub mod image_missing;
pub mod image_size_mismatch;
pub mod labelset_mismatch;
pub mod mask_common;
pub mod mask_disagreement;
pub mod mask_missing;
pub mod mask_size_mismatch;
pub mod mask_unknown_color;
pub mod non_finite;
pub mod scale_mismatch;
pub mod unknown_class;
pub mod unsafe_path;
pub mod yolo_class_out_of_range;
pub mod yolo_common;
pub mod yolo_degenerate_row;
pub mod yolo_duplicate_row;
pub mod yolo_malformed_row;
pub mod yolo_not_normalised;
pub mod yolo_obb_not_rectangle;

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
/// (as DESIGN §2 uses it), else [`visible_box`].
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

/// What every rule file imports.
pub(crate) mod prelude {
    pub(crate) use super::{class_names, class_of, compare_box, images_by_id, num, visible_box};
    pub(crate) use crate::model::*;
    pub(crate) use crate::validate::{
        declare_rule, Context, Finding, RuleMeta, Severity, Shared, Validation,
    };
    #[allow(unused_imports)]
    pub(crate) use std::collections::{HashMap, HashSet};
}
