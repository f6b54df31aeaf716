//! Pull-request comment: a summary line, then a table per image that changed.

use super::text::{describe, sign};
use super::DiffReport;
use crate::escape::{markdown_cell_code, markdown_code};
use std::fmt::Write;

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
