//! The one list of rules. A rule exists when it is listed here; codes are never reused.

use super::rules::*;
use super::{RuleMeta, Validation};

/// Every rule, in code order.
pub static RULES: &[&dyn Validation] = &[
    &duplicate_id::DuplicateId,
    &dangling_reference::DanglingReference,
    &non_finite::NonFinite,
    &degenerate_shape::DegenerateShape,
    &ellipse_out_of_bounds::EllipseOutOfBounds,
    &bbox_mismatch::BboxMismatch,
    &duplicate_shape::DuplicateShape,
    &conflicting_labels::ConflictingLabels,
    &excessive_overlap::ExcessiveOverlap,
    &unknown_class::UnknownClass,
    &labelset_mismatch::LabelsetMismatch,
    &coco_cvat_mismatch::CocoCvatMismatch,
    &division_mismatch::DivisionMismatch,
    &image_missing::ImageMissing,
    &image_size_mismatch::ImageSizeMismatch,
    &unsafe_path::UnsafePath,
    &mask_missing::MaskMissing,
    &mask_size_mismatch::MaskSizeMismatch,
    &mask_unknown_color::MaskUnknownColor,
    &mask_disagreement::MaskDisagreement,
    &crowd_annotation::CrowdAnnotation,
    &yolo_malformed_row::YoloMalformedRow,
    &yolo_class_out_of_range::YoloClassOutOfRange,
    &yolo_not_normalised::YoloNotNormalised,
    &yolo_duplicate_row::YoloDuplicateRow,
    &yolo_degenerate_row::YoloDegenerateRow,
    &yolo_obb_not_rectangle::YoloObbNotRectangle,
    &scale_mismatch::ScaleMismatch,
];

/// The rule with this code (`NS001`, any case) or name (`duplicate-id`).
pub fn rule_by_code_or_name(key: &str) -> Option<&'static dyn Validation> {
    let key = key.trim();
    RULES
        .iter()
        .copied()
        .find(|r| r.meta().code.eq_ignore_ascii_case(key) || r.meta().name == key)
}

/// All rule metadata, in code order.
pub(crate) fn metas() -> impl Iterator<Item = &'static RuleMeta> {
    RULES.iter().map(|r| r.meta())
}

/// What `neutrostruct explain CODE` prints: heading, summary and the rule's documentation.
pub fn explain(code_or_name: &str) -> Option<String> {
    let m = rule_by_code_or_name(code_or_name)?.meta();
    Some(format!(
        "{} {} (default: {})\n\n{}\n\n{}\n",
        m.code,
        m.name,
        m.severity,
        m.summary,
        m.doc_text()
    ))
}

/// What `neutrostruct rules` prints: one line per rule.
pub(crate) fn catalog() -> String {
    let mut out = String::new();
    for m in metas() {
        out.push_str(&format!(
            "{:<6} {:<24} {:<8} {}\n",
            m.code,
            m.name,
            m.severity.as_str(),
            m.summary
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn codes_and_names_are_unique_and_well_formed() {
        let mut codes = HashSet::new();
        let mut names = HashSet::new();
        for (i, m) in metas().enumerate() {
            assert!(codes.insert(m.code), "{} twice", m.code);
            assert!(names.insert(m.name), "{} twice", m.name);
            assert_eq!(
                m.code,
                format!("NS{:03}", i + 1),
                "codes follow registry order"
            );
            assert!(
                m.name.chars().all(|c| c.is_ascii_lowercase() || c == '-'),
                "{}",
                m.name
            );
            for h in ["## What it does", "## Why it matters", "## Example"] {
                assert!(m.doc.contains(h), "{} lacks {h}", m.name);
            }
        }
    }

    #[test]
    fn explain_by_code_or_name() {
        let a = explain("NS001").unwrap();
        assert_eq!(Some(a.clone()), explain("duplicate-id"));
        assert_eq!(Some(a.clone()), explain("ns001"));
        assert!(a.starts_with("NS001 duplicate-id (default: error)"), "{a}");
        assert!(a.contains("\n## What it does\n"), "{a}");
        assert!(explain("NS999").is_none());
    }

    #[test]
    fn catalog_snapshot() {
        insta::with_settings!({snapshot_path => "../../snapshots", prepend_module_to_snapshot => false}, {
            insta::assert_snapshot!("rules_catalog", catalog());
            insta::assert_snapshot!("explain_ns012", explain("NS012").unwrap_or_default());
        });
    }
}
