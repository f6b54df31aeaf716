//! The pixel area of a COCO polygon segmentation as pycocotools computes it: `annToRLE`
//! rasterises each ring with `frPyObjects` (C `rleFrPoly`), merges the rings' masks (union)
//! and `area` counts the pixels. That is what every reader that decodes the polygon gets, so
//! it is the `area` we write for a generated polygon.
//!
//! The rule, as pycocotools' `maskApi.c` defines it (written here from its description, not
//! copied): vertices are scaled by 5 and rounded (`(int)(5·v + 0.5)`, truncating toward
//! zero); each edge is walked one step per unit of its longer side on that ×5 grid, the other
//! coordinate rounded the same way. Wherever the walk moves from one column to the next and
//! the crossing lies on a pixel centre column `x` (an integer after `(u + 0.5)/5 − 0.5`,
//! inside `0..w`), the lower of the two row values, mapped back the same way, clamped to
//! `0..=h` and rounded up, is a toggle at column-major position `x·h + y`. Sorted, the toggles
//! alternate background and foreground runs over the whole image. Every operation below is
//! the same IEEE double operation in the same order, so the pixel counts agree exactly
//! (checked against pycocotools by `benches/polygon_area_pycocotools.py`).

use crate::model::Point;

/// The upsampling factor of pycocotools' polygon rasteriser.
const SCALE: f64 = 5.0;

/// Most steps of the ×5 boundary walk of one call (about a second of work). A ring reaching
/// far outside any image (coordinates up to 1e9 are accepted) would walk billions of steps:
/// past this the area is not computed (`None`) and the caller says so.
pub(crate) const MAX_WALK_STEPS: u64 = 200_000_000;

/// Pixels of the union of `rings` rasterised as pycocotools does on an `h`×`w` image, or
/// `None` when the rings' boundary is longer than `MAX_WALK_STEPS` allows.
pub fn pycocotools_polygon_area(rings: &[Vec<Point>], h: u32, w: u32) -> Option<u64> {
    let pixels = u64::from(h) * u64::from(w);
    let mut budget = MAX_WALK_STEPS;
    let mut runs: Vec<(u64, u64)> = Vec::new();
    for r in rings {
        runs.extend(foreground_runs(
            &ring_toggles(r, h, w, &mut budget)?,
            pixels,
        ));
    }
    if rings.len() == 1 {
        // One ring's runs never overlap.
        return Some(runs.iter().map(|(a, b)| b - a).sum());
    }
    runs.sort_unstable();
    let mut area = 0;
    let mut current: Option<(u64, u64)> = None;
    for (a, b) in runs {
        current = match current {
            Some((ca, cb)) if a <= cb => Some((ca, cb.max(b))),
            Some((ca, cb)) => {
                area += cb - ca;
                Some((a, b))
            }
            None => Some((a, b)),
        };
    }
    Some(area + current.map_or(0, |(a, b)| b - a))
}

/// `(int)(x)` in C for a double: truncation toward zero (saturating where C is undefined).
fn c_int(v: f64) -> i64 {
    v as i32 as i64
}

/// Sorted column-major toggle positions of one ring; `None` past the step budget.
fn ring_toggles(ring: &[Point], h: u32, w: u32, budget: &mut u64) -> Option<Vec<u64>> {
    if ring.is_empty() || h == 0 || w == 0 {
        return Some(Vec::new());
    }
    let grid: Vec<(i64, i64)> = ring
        .iter()
        .chain(std::iter::once(&ring[0]))
        .map(|p| (c_int(SCALE * p[0] + 0.5), c_int(SCALE * p[1] + 0.5)))
        .collect();
    let steps: u64 = grid
        .windows(2)
        .map(|e| ((e[1].0 - e[0].0).abs().max((e[1].1 - e[0].1).abs()) + 1) as u64)
        .sum();
    *budget = budget.checked_sub(steps)?;
    let (hf, last_col) = (f64::from(h), f64::from(w) - 1.0);
    let mut toggles: Vec<u64> = Vec::new();
    // Each step of the walk is compared with the one before it, across edges too.
    let mut prev: Option<(i64, i64)> = None;
    let mut step = |(u1, v1): (i64, i64)| {
        if let Some((u0, v0)) = prev.replace((u1, v1)) {
            if u1 == u0 {
                return;
            }
            let xd = ((if u1 < u0 { u1 } else { u1 - 1 }) as f64 + 0.5) / SCALE - 0.5;
            if xd.floor() != xd || xd < 0.0 || xd > last_col {
                return;
            }
            let mut yd = (v1.min(v0) as f64 + 0.5) / SCALE - 0.5;
            if yd < 0.0 {
                yd = 0.0;
            } else if yd > hf {
                yd = hf;
            }
            toggles.push(xd as u64 * u64::from(h) + yd.ceil() as u64);
        }
    };
    for e in grid.windows(2) {
        let ((mut xs, mut ys), (mut xe, mut ye)) = (e[0], e[1]);
        let (dx, dy) = ((xe - xs).abs(), (ys - ye).abs());
        let flip = (dx >= dy && xs > xe) || (dx < dy && ys > ye);
        if flip {
            std::mem::swap(&mut xs, &mut xe);
            std::mem::swap(&mut ys, &mut ye);
        }
        if dx >= dy {
            // dx = 0 only for a repeated vertex; its one step repeats the vertex's column and
            // is never a crossing, whatever its row.
            let s = if dx == 0 {
                0.0
            } else {
                (ye - ys) as f64 / dx as f64
            };
            for d in 0..=dx {
                let t = if flip { dx - d } else { d };
                step((t + xs, c_int(ys as f64 + s * t as f64 + 0.5)));
            }
        } else {
            let s = (xe - xs) as f64 / dy as f64;
            for d in 0..=dy {
                let t = if flip { dy - d } else { d };
                step((c_int(xs as f64 + s * t as f64 + 0.5), t + ys));
            }
        }
    }
    toggles.sort_unstable();
    Some(toggles)
}

/// The foreground runs `[start, end)` of sorted toggles: they alternate from background, and
/// an odd count leaves the rest of the image foreground, as the RLE built from them does.
fn foreground_runs(toggles: &[u64], pixels: u64) -> Vec<(u64, u64)> {
    toggles
        .chunks(2)
        .map(|c| (c[0], c.get(1).copied().unwrap_or(pixels)))
        .filter(|(a, b)| b > a)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_aligned_square_covers_the_pixel_centres_inside() {
        // The square (1,1)-(4,4) holds the centres of columns and rows 1..=3 as pycocotools
        // places them (pixel centres at integers): 3 × 3 … plus its closing edge's row.
        let sq = vec![vec![[1.0, 1.0], [4.0, 1.0], [4.0, 4.0], [1.0, 4.0]]];
        let a = pycocotools_polygon_area(&sq, 10, 10).unwrap();
        assert!((9..=16).contains(&a), "{a}");
        // Translating by whole pixels keeps the count; cutting by the image border lowers it.
        let moved = vec![sq[0].iter().map(|p| [p[0] + 3.0, p[1] + 2.0]).collect()];
        assert_eq!(pycocotools_polygon_area(&moved, 10, 10), Some(a));
        assert!(pycocotools_polygon_area(&sq, 3, 3).unwrap() < a);
    }

    #[test]
    fn union_of_rings_counts_shared_pixels_once() {
        let a = vec![[1.0, 1.0], [6.0, 1.0], [6.0, 6.0], [1.0, 6.0]];
        let b: Vec<Point> = a.iter().map(|p| [p[0] + 2.0, p[1]]).collect();
        let area = |rings: &[Vec<Point>]| pycocotools_polygon_area(rings, 20, 20).unwrap();
        let one = area(std::slice::from_ref(&a));
        let both = area(&[a.clone(), b]);
        let twice = area(&[a.clone(), a]);
        assert_eq!(twice, one);
        assert!(both > one && both < 2 * one, "{one} {both}");
    }

    #[test]
    fn degenerate_rings_paint_nothing_and_never_panic() {
        assert_eq!(pycocotools_polygon_area(&[vec![]], 5, 5), Some(0));
        assert_eq!(pycocotools_polygon_area(&[vec![[2.0, 2.0]]], 5, 5), Some(0));
        assert_eq!(
            pycocotools_polygon_area(&[vec![[2.0, 2.0], [2.0, 2.0], [2.0, 2.0]]], 5, 5),
            Some(0)
        );
        // Far outside any image: refused by the step budget, not walked for minutes.
        let huge = vec![vec![[-1e9, 0.0], [1e9, 0.0], [0.0, 1e9]]];
        assert_eq!(pycocotools_polygon_area(&huge, 5, 5), None);
        let nan = vec![vec![[0.0, 0.0], [3.0, 0.0], [0.0, f64::NAN]]];
        assert!(pycocotools_polygon_area(&nan, 5, 5).is_some());
        assert_eq!(pycocotools_polygon_area(&[vec![[0.0, 0.0]]], 0, 0), Some(0));
    }
}
