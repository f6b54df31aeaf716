//! The rules, one per file. Each file declares its rule with `declare_rule!` (code, name,
//! default severity, one-line summary and the `///` documentation that `explain` prints) and
//! implements [`Validation`](super::Validation). The registry lists them.

pub(crate) mod bbox_mismatch;
pub(crate) mod coco_cvat_mismatch;
pub(crate) mod conflicting_labels;
pub(crate) mod crowd_annotation;
pub(crate) mod dangling_reference;
pub(crate) mod degenerate_shape;
pub(crate) mod division_mismatch;
pub(crate) mod duplicate_id;
pub(crate) mod duplicate_shape;
pub(crate) mod ellipse_out_of_bounds;
pub(crate) mod excessive_overlap;
pub(crate) mod image_missing;
pub(crate) mod image_size_mismatch;
pub(crate) mod labelset_mismatch;
pub(crate) mod mask_disagreement;
pub(crate) mod mask_missing;
pub(crate) mod mask_size_mismatch;
pub(crate) mod mask_unknown_color;
pub(crate) mod non_finite;
pub(crate) mod scale_mismatch;
pub(crate) mod unknown_class;
pub(crate) mod unsafe_path;
pub(crate) mod yolo_class_out_of_range;
pub(crate) mod yolo_degenerate_row;
pub(crate) mod yolo_duplicate_row;
pub(crate) mod yolo_malformed_row;
pub(crate) mod yolo_not_normalised;
pub(crate) mod yolo_obb_not_rectangle;

/// What every rule file imports.
pub(crate) mod prelude {
    pub(crate) use crate::model::*;
    pub(crate) use crate::validate::shared::{
        class_names, class_of, compare_box, images_by_id, num, visible_box,
    };
    pub(crate) use crate::validate::{
        declare_rule, Context, Finding, RuleMeta, Severity, Shared, Validation,
    };
    #[allow(unused_imports)]
    pub(crate) use std::collections::{HashMap, HashSet};
}
