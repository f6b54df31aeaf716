//! The findings of the three overlap rules (`duplicate-shape`, `conflicting-labels`,
//! `excessive-overlap`) from the one pass of overlap pairs that `Context::overlaps` measures.

use crate::validate::rules::prelude::*;

/// Findings of an overlap rule: for each shape, the overlap pairs with an earlier shape that
/// `keep(same_class, iou)` selects make one finding on the later shape, naming its closest
/// partner (highest IoU, then first in the document) and, past one, how many it has. A pile
/// of n coinciding shapes so gives n − 1 findings, not n(n − 1)/2; a shape with one partner
/// reads as it always did. Each image where the overlap work bound cut the candidates adds
/// one finding saying so. Shared by the three overlap rules.
pub(crate) fn overlap_findings(
    ctx: &Context<'_>,
    meta: &RuleMeta,
    keep: impl Fn(bool, f64) -> bool,
    message: impl Fn(AnnotationId, String, String) -> String,
) -> Vec<Finding> {
    let overlaps = ctx.overlaps();
    // (dataset, later shape) → its partners, closest first.
    let mut kept: Vec<&crate::validate::geom::OverlapPair> = overlaps
        .pairs
        .iter()
        .filter(|p| {
            let ds = &ctx.inputs.datasets[p.dataset].dataset;
            keep(
                ds.annotations[p.a].category_id == ds.annotations[p.b].category_id,
                p.iou,
            )
        })
        .collect();
    kept.sort_by(|x, y| {
        (x.dataset, x.b)
            .cmp(&(y.dataset, y.b))
            .then(y.iou.total_cmp(&x.iou))
            .then(x.a.cmp(&y.a))
    });
    let names_of: Vec<_> = ctx
        .inputs
        .datasets
        .iter()
        .map(|d| class_names(&d.dataset))
        .collect();
    let mut out = Vec::new();
    for group in kept.chunk_by(|x, y| (x.dataset, x.b) == (y.dataset, y.b)) {
        let p = group[0];
        let input = &ctx.inputs.datasets[p.dataset];
        let ds = &input.dataset;
        let names = &names_of[p.dataset];
        let (a, b) = (&ds.annotations[p.a], &ds.annotations[p.b]);
        let label = if a.category_id == b.category_id {
            format!("{:?}", class_of(names, a))
        } else {
            format!("{:?} vs {:?}", class_of(names, a), class_of(names, b))
        };
        let mut text = message(a.id, label, format!("{:.2}", p.iou));
        if group.len() > 1 {
            text.push_str(&format!(
                "; {} such partners on this image, the closest named",
                group.len()
            ));
        }
        let im = &ds.images[p.image];
        out.push(
            Finding::new(meta, ctx.inputs.file_label(p.dataset), text)
                .annotation(b)
                .image(&im.file_name),
        );
    }
    for c in &overlaps.capped {
        let im = &ctx.inputs.datasets[c.dataset].dataset.images[c.image];
        out.push(
            Finding::new(
                meta,
                ctx.inputs.file_label(c.dataset),
                format!(
                    "overlap check cut short: {} shapes have more than {} candidate partners \
                     each; only the {} closest by box were measured, {} pairs were not, so \
                     this rule's findings on this image may be incomplete",
                    c.shapes,
                    crate::validate::geom::MAX_MEASURED_PER_SHAPE,
                    crate::validate::geom::MAX_MEASURED_PER_SHAPE,
                    c.skipped
                ),
            )
            .image(&im.file_name),
        );
    }
    out
}
