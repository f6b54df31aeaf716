//! What a mask can be expected to show of each shape, whatever drew it.
//!
//! Two facts of real masks shape this file:
//! - **Masks are painted in order**: a later shape hides what it covers of earlier ones, so
//!   a shape's agreement with a mask is measured only over the pixels it still shows after
//!   painting. A shape hidden entirely cannot be checked against the mask at all.
//! - **Rasterising rules differ on boundary pixels**: the published masks are drawn with
//!   OpenCV (`cv2.ellipse`, pixel centres on whole coordinates, centre and axes rounded to
//!   whole pixels, every pixel the outline touches filled), ours with the pixel-centre rule
//!   (docs/design.md §3). Each of those moves a boundary by up to half a pixel, so pixels within
//!   [`BOUNDARY_MARGIN_PX`] of a shape's outline are "don't care": neither rule is wrong
//!   there. Agreement is measured on each shape's *core* (the shape shrunk by the margin)
//!   minus what any later shape, grown by the margin, may hide.
//!
//! Shapes other than ellipses and unrotated boxes are rasterised as they are (no margin):
//! polygon and mask outlines come with no second rule to disagree with.

use crate::geometry::raster::{paint_order, shape_spans};
use crate::model::{Annotation, BoxShape, Ellipse, Shape};

/// How far two rasterisations of one shape may put its boundary apart: half a pixel for
/// the pixel-centre convention (OpenCV's centres on integers, ours at +0.5), half a pixel for
/// CVAT's rounding of centre and axes to whole pixels, half a pixel for OpenCV filling every
/// pixel its outline touches.
pub(crate) const BOUNDARY_MARGIN_PX: f64 = 1.5;

/// The shape with its outline moved outward by `d` px (inward for `d < 0`); `None` when it
/// has nothing left. Shapes without a closed form are returned as they are.
pub(crate) fn offset(shape: &Shape, d: f64) -> Option<Shape> {
    match shape {
        Shape::Ellipse(e) => {
            let (rx, ry) = (e.rx + d, e.ry + d);
            (rx > 0.0 && ry > 0.0).then_some(Shape::Ellipse(Ellipse { rx, ry, ..*e }))
        }
        Shape::Box(b) => {
            let g = BoxShape {
                xtl: b.xtl - d,
                ytl: b.ytl - d,
                xbr: b.xbr + d,
                ybr: b.ybr + d,
                rotation: b.rotation,
            };
            (g.xbr > g.xtl && g.ybr > g.ytl).then_some(Shape::Box(g))
        }
        other => Some(other.clone()),
    }
}

/// For one image: which shape each pixel may show after painting, with the margin.
pub(crate) struct Visibility {
    width: usize,
    /// Per pixel: the last shape in paint order whose grown outline covers it (index into the
    /// annotations given to [`Visibility::new`]), or `u32::MAX`.
    owner: Vec<u32>,
    /// Per pixel: within the margin of some shape's outline.
    band: Vec<bool>,
}

impl Visibility {
    pub(crate) fn new(anns: &[&Annotation], width: u32, height: u32) -> Visibility {
        let n = width as usize * height as usize;
        let mut v = Visibility {
            width: width as usize,
            owner: vec![u32::MAX; n],
            band: vec![false; n],
        };
        let w = v.width;
        for k in paint_order(anns) {
            let shape = &anns[k].shape;
            let Some(grown) = offset(shape, BOUNDARY_MARGIN_PX) else {
                continue;
            };
            let tag = u32::try_from(k).unwrap_or(u32::MAX - 1);
            shape_spans(&grown, width, height, |y, x0, x1| {
                let row = y as usize * w;
                v.owner[row + x0 as usize..row + x1 as usize].fill(tag);
            });
        }
        v.mark_band(anns, width, height);
        v
    }

    /// Marks the band: a pixel is band when it lies in some shape's grown outline but not
    /// in that shape's core.
    fn mark_band(&mut self, anns: &[&Annotation], width: u32, height: u32) {
        let w = self.width;
        let mut core_rows: Vec<(u32, u32, u32)> = Vec::new();
        for a in anns {
            let Some(grown) = offset(&a.shape, BOUNDARY_MARGIN_PX) else {
                continue;
            };
            core_rows.clear();
            if let Some(core) = offset(&a.shape, -BOUNDARY_MARGIN_PX) {
                shape_spans(&core, width, height, |y, x0, x1| {
                    core_rows.push((y, x0, x1))
                });
            }
            // Core spans come in ascending rows; walk them beside the grown spans.
            let mut k = 0;
            let band = &mut self.band;
            shape_spans(&grown, width, height, |y, x0, x1| {
                let row = y as usize * w;
                let mut from = x0;
                while k < core_rows.len() && core_rows[k].0 < y {
                    k += 1;
                }
                while k < core_rows.len() && core_rows[k].0 == y {
                    let (_, c0, c1) = core_rows[k];
                    if c0 > from {
                        band[row + from as usize..row + c0.min(x1) as usize].fill(true);
                    }
                    from = from.max(c1);
                    k += 1;
                }
                if x1 > from {
                    band[row + from as usize..row + x1 as usize].fill(true);
                }
            });
        }
    }

    /// Whether pixel `i` (row-major) lies within the margin of some shape's outline, where
    /// rasterising rules may disagree.
    pub(crate) fn in_band(&self, i: usize) -> bool {
        self.band.get(i).copied().unwrap_or(true)
    }

    /// The pixels of shape `k`'s core that it still shows after painting: `f(row_start,
    /// x0, x1)` per run, row-major offsets.
    pub(crate) fn shown_core(
        &self,
        anns: &[&Annotation],
        k: usize,
        width: u32,
        height: u32,
        mut f: impl FnMut(usize),
    ) {
        let Some(core) = offset(&anns[k].shape, -BOUNDARY_MARGIN_PX) else {
            return;
        };
        let tag = u32::try_from(k).unwrap_or(u32::MAX - 1);
        let w = self.width;
        shape_spans(&core, width, height, |y, x0, x1| {
            let row = y as usize * w;
            for i in row + x0 as usize..row + x1 as usize {
                if self.owner[i] == tag {
                    f(i);
                }
            }
        });
    }
}
