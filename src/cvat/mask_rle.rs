//! Conversions between COCO's whole-image, column-major RLE and CVAT's box RLE.
//!
//! COCO (pycocotools): runs over the whole `height × width` image in column-major order,
//! starting with a background run. CVAT `<mask>`: runs over the `width × height` box at
//! `(left, top)` in row-major order, also starting with a background run. Both are decoded
//! into a bitmap of the tight foreground box and re-encoded; the box is bounded by the image,
//! so memory stays at one byte per box pixel.

/// A CVAT box mask: `left, top, width, height` and row-major runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BoxRle {
    /// Box left, in image pixels.
    pub left: u32,
    /// Box top.
    pub top: u32,
    /// Box width.
    pub width: u32,
    /// Box height.
    pub height: u32,
    /// Run lengths over the box, row-major, starting with background.
    pub counts: Vec<u32>,
}

/// Run-length encodes `bits` (0/1), starting with a background run.
fn encode(bits: impl Iterator<Item = bool>) -> Vec<u32> {
    let mut counts = Vec::new();
    let mut current = false;
    let mut run = 0u32;
    for b in bits {
        if b != current {
            counts.push(run);
            run = 0;
            current = b;
        }
        run += 1;
    }
    counts.push(run);
    counts
}

/// Foreground runs of an RLE as `(start, len)` over `total` pixels, clamped to `total` (a
/// malformed RLE that runs past the image is cut rather than trusted).
fn fg_runs(counts: &[u32], total: u64) -> impl Iterator<Item = (u64, u64)> + '_ {
    let mut pos = 0u64;
    counts.iter().enumerate().filter_map(move |(i, &n)| {
        let start = pos.min(total);
        pos = pos.saturating_add(u64::from(n));
        let end = pos.min(total);
        (i % 2 == 1 && end > start).then_some((start, end - start))
    })
}

/// Converts a COCO RLE into CVAT's tight box RLE. `None` when the mask has no foreground.
pub fn coco_to_cvat(height: u32, width: u32, counts: &[u32]) -> Option<BoxRle> {
    let h = u64::from(height);
    let total = h * u64::from(width);
    if h == 0 {
        return None;
    }
    // Pass 1: the tight box.
    let (mut x0, mut y0, mut x1, mut y1) = (u64::MAX, u64::MAX, 0u64, 0u64);
    for (start, len) in fg_runs(counts, total) {
        let last = start + len - 1;
        let (xa, xb) = (start / h, last / h);
        x0 = x0.min(xa);
        x1 = x1.max(xb);
        if xa == xb {
            y0 = y0.min(start % h);
            y1 = y1.max(last % h);
        } else {
            y0 = 0;
            y1 = h - 1;
        }
    }
    if x0 == u64::MAX {
        return None;
    }
    let (bw, bh) = (x1 - x0 + 1, y1 - y0 + 1);
    // Pass 2: paint the box bitmap (row-major), column runs one pixel at a time.
    let mut bitmap = vec![false; usize::try_from(bw * bh).ok()?];
    for (start, len) in fg_runs(counts, total) {
        for p in start..start + len {
            let (x, y) = (p / h, p % h);
            let i = (y - y0) * bw + (x - x0);
            if let Some(b) = bitmap.get_mut(i as usize) {
                *b = true;
            }
        }
    }
    Some(BoxRle {
        left: x0 as u32,
        top: y0 as u32,
        width: bw as u32,
        height: bh as u32,
        counts: encode(bitmap.into_iter()),
    })
}

/// Converts a CVAT box RLE into a COCO RLE over an `image_height × image_width` image;
/// pixels of the box outside the image are dropped.
pub fn cvat_to_coco(m: &BoxRle, image_height: u32, image_width: u32) -> Vec<u32> {
    let (ih, iw) = (u64::from(image_height), u64::from(image_width));
    let bw = u64::from(m.width);
    let mut set = vec![false; usize::try_from(ih * iw).unwrap_or(0)];
    for (start, len) in fg_runs(&m.counts, bw * u64::from(m.height)) {
        for p in start..start + len {
            let (x, y) = (p % bw + u64::from(m.left), p / bw + u64::from(m.top));
            if x < iw && y < ih {
                if let Some(b) = set.get_mut((x * ih + y) as usize) {
                    *b = true;
                }
            }
        }
    }
    encode(set.into_iter())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Row-major 0/1 image from strings, to COCO column-major counts.
    fn coco_of(rows: &[&str]) -> (u32, u32, Vec<u32>) {
        let h = rows.len();
        let w = rows[0].len();
        let bits = (0..w).flat_map(|x| rows.iter().map(move |r| r.as_bytes()[x] == b'1'));
        (h as u32, w as u32, encode(bits))
    }

    #[test]
    fn crops_to_tight_box_row_major() {
        let (h, w, counts) = coco_of(&["0000", "0110", "0100", "0000"]);
        let b = coco_to_cvat(h, w, &counts).unwrap();
        assert_eq!((b.left, b.top, b.width, b.height), (1, 1, 2, 2));
        // box rows: "11", "10" → row-major bits 1,1,1,0 → runs 0,3,1
        assert_eq!(b.counts, vec![0, 3, 1]);
        assert_eq!(cvat_to_coco(&b, h, w), counts);
    }

    #[test]
    fn run_spanning_columns() {
        // column 0 rows 2..3 and column 1 rows 0..1 are one COCO run
        let (h, w, counts) = coco_of(&["01", "01", "10", "10"]);
        assert_eq!(counts, vec![2, 4, 2]);
        let b = coco_to_cvat(h, w, &counts).unwrap();
        assert_eq!((b.left, b.top, b.width, b.height), (0, 0, 2, 4));
        assert_eq!(b.counts, vec![1, 1, 1, 2, 1, 1, 1]);
        assert_eq!(cvat_to_coco(&b, h, w), counts);
    }

    #[test]
    fn empty_and_overlong_masks() {
        assert_eq!(coco_to_cvat(3, 3, &[9]), None);
        assert_eq!(coco_to_cvat(0, 3, &[]), None);
        // runs past the image are clamped, not trusted
        let b = coco_to_cvat(2, 2, &[3, 100]).unwrap();
        assert_eq!((b.left, b.top, b.width, b.height), (1, 1, 1, 1));
        assert_eq!(b.counts, vec![0, 1]);
    }
}
