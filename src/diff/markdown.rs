//! Pull-request comment: a summary line, then a table per image that changed.

use super::text::{describe, sign};
use super::DiffReport;
use crate::escape::{markdown_cell_code, markdown_code};
use std::fmt::Write;

/// The diff as a Markdown comment (the `diff --format markdown` output).
pub fn render(r: &DiffReport) -> String {
    let s = &r.summary;
    let mut out = String::from("### neutrostruct diff\n\n");
    if r.is_empty() {
        let _ = writeln!(
            out,
            "No annotation changed ({} shapes unchanged).",
            s.unchanged
        );
        return out;
    }
    let _ = writeln!(
        out,
        "**{} added**, **{} removed**, **{} relabeled**, **{} moved**, {} unchanged.",
        s.added, s.removed, s.relabeled, s.moved, s.unchanged
    );
    if s.images_added + s.images_removed > 0 {
        let _ = writeln!(
            out,
            "Images: {} added, {} removed.",
            s.images_added, s.images_removed
        );
    }
    let quiet = r.images.iter().filter(|i| i.status == "unchanged").count();
    for im in r.images.iter().filter(|i| i.status != "unchanged") {
        let _ = writeln!(
            out,
            "\n#### {} ({}: +{} −{} ~{} relabeled, {} moved)\n",
            markdown_code(&im.image),
            im.status,
            im.added,
            im.removed,
            im.relabeled,
            im.moved
        );
        out.push_str("| | Change |\n|---|---|\n");
        for c in &im.changes {
            let _ = writeln!(
                out,
                "| {} | {} |",
                sign(c),
                markdown_cell_code(&describe(c))
            );
        }
    }
    if quiet > 0 {
        let _ = writeln!(out, "\n{quiet} image(s) unchanged.");
    }
    out
}

/// `diff --summary --format markdown`: a table of counts per change kind, then one row per
/// image that changed when asked for.
pub fn render_summary(v: &super::SummaryView) -> String {
    let s = &v.summary;
    let mut out =
        String::from("### neutrostruct diff summary\n\n| Change | Shapes |\n|---|---:|\n");
    for (kind, n) in [
        ("added", s.added),
        ("removed", s.removed),
        ("relabeled", s.relabeled),
        ("moved", s.moved),
        ("unchanged", s.unchanged),
        ("images added", s.images_added),
        ("images removed", s.images_removed),
    ] {
        let _ = writeln!(out, "| {kind} | {n} |");
    }
    let _ = writeln!(
        out,
        "\nShapes matched by {}.",
        match v.matched_by {
            super::MatchedBy::Id => "id",
            super::MatchedBy::Iou => "box IoU",
        }
    );
    if let Some(images) = &v.images {
        if images.is_empty() {
            out.push_str("\nNo image changed.\n");
        } else {
            out.push_str(
                "\n| Image | Status | Added | Removed | Relabeled | Moved | Unchanged |\n|---|---|---:|---:|---:|---:|---:|\n",
            );
            for im in images {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} | {} | {} | {} |",
                    markdown_cell_code(&im.image),
                    im.status,
                    im.added,
                    im.removed,
                    im.relabeled,
                    im.moved,
                    im.unchanged
                );
            }
        }
    }
    out
}
