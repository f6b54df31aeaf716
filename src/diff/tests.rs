//! Diff counts on a constructed old/new pair with each kind of change, in both match modes.

use super::*;
use crate::validate::testutil::*;

/// Old: a.tif with 6 shapes, b.tif with 1. New: a.tif with shape 1 unchanged, 2 relabeled,
/// 3 moved 2 px, 4 relabeled and moved, 5 removed, 6 turned by 180° (same ellipse), 7 added;
/// b.tif gone; c.tif new with 2 shapes.
fn pair(with_ids: bool) -> (Dataset, Dataset) {
    let mk = |id, img, cat, e: Shape, line| {
        if with_ids {
            coco_ann(id, img, cat, e, line)
        } else {
            ann(id, img, cat, e, line)
        }
    };
    let old = dataset(
        four(),
        vec![
            image(1, "a.tif", 200, 200, 3),
            image(2, "b.tif", 200, 200, 4),
        ],
        vec![
            mk(1, 1, 1, ellipse(20.0, 20.0, 10.0, 6.0, 0.0), 10),
            mk(2, 1, 1, ellipse(60.0, 20.0, 10.0, 6.0, 0.0), 11),
            mk(3, 1, 2, ellipse(100.0, 20.0, 10.0, 6.0, 0.0), 12),
            mk(4, 1, 2, ellipse(140.0, 20.0, 10.0, 6.0, 0.0), 13),
            mk(5, 1, 3, ellipse(20.0, 80.0, 10.0, 6.0, 0.0), 14),
            mk(6, 1, 4, ellipse(60.0, 80.0, 10.0, 6.0, 30.0), 15),
            mk(8, 2, 1, ellipse(60.0, 80.0, 10.0, 6.0, 30.0), 16),
        ],
    );
    // Without stable ids the new file numbers its shapes afresh (as CVAT readers do).
    let id = |n: u64| if with_ids { n } else { n + 100 };
    let new = dataset(
        four(),
        vec![
            image(5, "images/a.tif", 200, 200, 3),
            image(6, "c.tif", 200, 200, 4),
        ],
        vec![
            mk(id(1), 5, 1, ellipse(20.0, 20.0, 10.0, 6.0, 0.0), 20),
            mk(id(2), 5, 2, ellipse(60.0, 20.0, 10.0, 6.0, 0.0), 21),
            mk(id(3), 5, 2, ellipse(102.0, 20.0, 10.0, 6.0, 0.0), 22),
            mk(id(4), 5, 1, ellipse(140.0, 21.0, 10.0, 6.0, 0.0), 23),
            mk(id(6), 5, 4, ellipse(60.0, 80.0, 10.0, 6.0, 210.0), 24),
            mk(id(7), 5, 3, ellipse(150.0, 150.0, 5.0, 5.0, 0.0), 25),
            mk(id(9), 6, 1, ellipse(50.0, 50.0, 5.0, 5.0, 0.0), 26),
            mk(id(10), 6, 1, ellipse(90.0, 50.0, 5.0, 5.0, 0.0), 27),
        ],
    );
    (old, new)
}

fn expected() -> DiffSummary {
    DiffSummary {
        added: 3,
        removed: 2,
        relabeled: 2,
        moved: 2,
        unchanged: 2,
        images_added: 1,
        images_removed: 1,
    }
}

#[test]
fn counts_exactly_by_id() {
    let (old, new) = pair(true);
    let r = diff(&old, &new);
    assert_eq!(r.matched_by, MatchedBy::Id);
    assert_eq!(r.summary, expected());
    let a = &r.images[0];
    assert_eq!((a.image.as_str(), a.status), ("images/a.tif", "changed"));
    assert_eq!(
        (a.added, a.removed, a.relabeled, a.moved, a.unchanged),
        (1, 1, 2, 2, 2)
    );
    let both = a.changes.iter().find(|c| c.new_id == Some(4)).unwrap();
    assert_eq!(both.kinds, vec![ChangeKind::Relabeled, ChangeKind::Moved]);
    assert_eq!(both.moved_px, Some(1.0));
    assert_eq!(
        r.images.iter().map(|i| i.status).collect::<Vec<_>>(),
        vec!["changed", "added", "removed"]
    );
    insta::with_settings!({snapshot_path => "../../snapshots", prepend_module_to_snapshot => false, omit_expression => true}, {
        insta::assert_snapshot!("diff_text", text::render(&r));
        insta::assert_snapshot!("diff_json", json::render(&r));
        insta::assert_snapshot!("diff_markdown", markdown::render(&r));
    });
}

#[test]
fn summary_has_the_counts_and_no_changes() {
    let (old, new) = pair(true);
    let r = diff(&old, &new);
    let totals = r.summary_view(false);
    assert_eq!(totals.summary, expected());
    assert!(totals.images.is_none());
    let per_image = r.summary_view(true);
    let images = per_image.images.as_ref().expect("asked for");
    // The unchanged images are left out; the three that changed stay, in the report's order.
    assert_eq!(
        images.iter().map(|i| i.image.as_str()).collect::<Vec<_>>(),
        vec!["images/a.tif", "c.tif", "b.tif"]
    );
    let t = text::render_summary(&totals);
    assert!(t.lines().any(|l| l == "moved          2"), "{t}");
    assert!(!t.contains("annotation 3"), "a summary lists no shape: {t}");
    insta::with_settings!({snapshot_path => "../../snapshots", prepend_module_to_snapshot => false, omit_expression => true}, {
        insta::assert_snapshot!("diff_summary_text", t);
        insta::assert_snapshot!("diff_summary_text_per_image", text::render_summary(&per_image));
        insta::assert_snapshot!("diff_summary_json_per_image", json::render_summary(&per_image));
        insta::assert_snapshot!("diff_summary_markdown_per_image", markdown::render_summary(&per_image));
    });
}

#[test]
fn counts_exactly_by_iou() {
    let (old, new) = pair(false);
    let r = diff(&old, &new);
    assert_eq!(r.matched_by, MatchedBy::Iou);
    assert_eq!(r.summary, expected());
}

#[test]
fn identical_files_have_no_changes() {
    let (old, _) = pair(true);
    let r = diff(&old, &old);
    assert!(r.is_empty());
    assert_eq!(r.summary.unchanged, 7);
    assert!(markdown::render(&r).contains("No annotation changed"));
}

#[test]
fn displacement_ignores_equivalent_ellipse_parametrisations() {
    let e = |rx, ry, rot| ellipse(50.0, 50.0, rx, ry, rot);
    assert!(displacement(&e(10.0, 6.0, 0.0), &e(6.0, 10.0, 90.0)).unwrap() < 1e-9);
    assert!(displacement(&e(10.0, 6.0, 10.0), &e(10.0, 6.0, 190.0)).unwrap() < 1e-9);
    assert!(displacement(&e(5.0, 5.0, 0.0), &e(5.0, 5.0, 33.0)).unwrap() < 1e-9);
    assert!(displacement(&e(10.0, 6.0, 0.0), &e(10.0, 6.0, 1.0)).unwrap() > 0.1);
    assert!(displacement(&e(10.0, 6.0, 0.0), &e(10.005, 6.0, 0.0)).unwrap() <= MOVE_EPSILON_PX);
}
