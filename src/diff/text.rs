//! Plain-text diff: one block per image that changed, one line per changed shape.

use super::{Change, ChangeKind, DiffReport};
use crate::escape::text;
use std::fmt::Write;

/// `annotation 12 "Primary granules" ellipse`, with the line on the side that has it.
pub(crate) fn describe(c: &Change) -> String {
    let id = c
        .new_id
        .or(c.old_id)
        .map_or_else(String::new, |i| format!("annotation {i} "));
    let line = c
        .new_line
        .or(c.old_line)
        .map_or_else(String::new, |l| format!(" (line {l})"));
    let what = if c.kinds.contains(&ChangeKind::Added) || c.kinds.contains(&ChangeKind::Removed) {
        format!(
            "{:?} {}",
            c.new_class
                .as_ref()
                .or(c.old_class.as_ref())
                .cloned()
                .unwrap_or_default(),
            c.shape
        )
    } else {
        let mut parts = Vec::new();
        if c.kinds.contains(&ChangeKind::Relabeled) {
            parts.push(format!(
                "{:?} → {:?}",
                c.old_class.clone().unwrap_or_default(),
                c.new_class.clone().unwrap_or_default()
            ));
        }
        if c.kinds.contains(&ChangeKind::Moved) {
            parts.push(c.moved_px.map_or_else(
                || format!("{} reshaped", c.shape),
                |d| format!("{} moved {d} px", c.shape),
            ));
        }
        parts.join(", ")
    };
    format!("{id}{what}{line}")
}

pub(crate) fn sign(c: &Change) -> &'static str {
    match c.kinds.first() {
        Some(ChangeKind::Added) => "+",
        Some(ChangeKind::Removed) => "-",
        _ => "~",
    }
}

/// The diff for people (the `diff` default output).
pub fn render(r: &DiffReport) -> String {
    let mut out = String::new();
    for im in r
        .images
        .iter()
        .filter(|i| !i.changes.is_empty() || i.status != "unchanged")
    {
        let _ = writeln!(
            out,
            "{} [{}]: {} added, {} removed, {} relabeled, {} moved, {} unchanged",
            text(&im.image),
            im.status,
            im.added,
            im.removed,
            im.relabeled,
            im.moved,
            im.unchanged
        );
        for c in &im.changes {
            let _ = writeln!(out, "  {} {}", sign(c), text(&describe(c)));
        }
    }
    let s = &r.summary;
    let _ = writeln!(
        out,
        "{} added, {} removed, {} relabeled, {} moved, {} unchanged; images: {} added, {} removed (shapes matched by {})",
        s.added,
        s.removed,
        s.relabeled,
        s.moved,
        s.unchanged,
        s.images_added,
        s.images_removed,
        matched_by(r.matched_by)
    );
    out
}

/// `diff --summary`: one line per change kind with its count (aligned, so a person reads the
/// column and `grep '^moved'` finds a count), then per image when asked for.
pub fn render_summary(v: &super::SummaryView) -> String {
    let s = &v.summary;
    let mut out = String::new();
    if let Some(images) = &v.images {
        for im in images {
            let _ = writeln!(
                out,
                "{} [{}]: {} added, {} removed, {} relabeled, {} moved, {} unchanged",
                text(&im.image),
                im.status,
                im.added,
                im.removed,
                im.relabeled,
                im.moved,
                im.unchanged
            );
        }
    }
    let rows = [
        ("added", s.added),
        ("removed", s.removed),
        ("relabeled", s.relabeled),
        ("moved", s.moved),
        ("unchanged", s.unchanged),
        ("images added", s.images_added),
        ("images removed", s.images_removed),
    ];
    let width = rows
        .iter()
        .map(|(_, n)| n.to_string().len())
        .max()
        .unwrap_or(1);
    for (kind, n) in rows {
        let _ = writeln!(out, "{kind:<15}{n:>width$}");
    }
    let _ = writeln!(out, "matched by     {}", matched_by(v.matched_by));
    out
}

fn matched_by(m: super::MatchedBy) -> &'static str {
    match m {
        super::MatchedBy::Id => "id",
        super::MatchedBy::Iou => "box IoU",
    }
}
