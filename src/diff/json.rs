//! JSON diff: `{"summary": {"added", "removed", "relabeled", "moved", "unchanged",
//! "images_added", "images_removed"}, "matched_by": "id"|"iou", "images": [...]}`.

use super::DiffReport;

/// The diff as JSON (the `diff --format json` output).
pub fn render(r: &DiffReport) -> String {
    let mut s = serde_json::to_string_pretty(r).unwrap_or_default();
    s.push('\n');
    s
}

/// `diff --summary --format json`: `{"summary": {...}, "matched_by": ..., "images"?: [...]}`,
/// the same keys as the full report without the changes.
pub fn render_summary(v: &super::SummaryView) -> String {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_default();
    s.push('\n');
    s
}
