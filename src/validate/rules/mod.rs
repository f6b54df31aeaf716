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
pub mod mask_disagreement;
pub mod mask_missing;
pub mod mask_size_mismatch;
pub mod mask_unknown_color;
pub mod non_finite;
pub mod scale_mismatch;
pub mod unknown_class;
pub mod unsafe_path;
pub mod yolo_class_out_of_range;
pub mod yolo_degenerate_row;
pub mod yolo_duplicate_row;
pub mod yolo_malformed_row;
pub mod yolo_not_normalised;
pub mod yolo_obb_not_rectangle;

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
