//! Masks back to annotations (docs/design.md §3, the round trip): connected regions per class, each
//! fitted with the ellipse of equal second moments.
//!
//! **Connectivity.** 8-connectivity by default: a thin rotated ellipse (minor axis under a
//! pixel) rasterises to a diagonal staircase that is only 8-connected, and should stay one
//! region. 4-connectivity is available ([`Connectivity::Four`]) for masks where diagonally
//! touching objects must stay apart.
//!
//! **Labelling** is a scanline union-find over horizontal runs (iterative, memory ∝ runs, never
//! recursive), so a region of any size or shape cannot overflow a stack.
//!
//! **Fit.** Moments use pixel centres `(x + 0.5, y + 0.5)`. A solid ellipse with semi-axes
//! `a, b` has covariance eigenvalues `a²/4, b²/4`, so `semi-axis = 2·√λ`. No `±1/12`
//! pixel-size correction: the pixels kept are those whose *centres* fall inside, so the
//! centres are a midpoint-rule sample of the ellipse itself, not squares added around it.
//! Measured (test `fit_needs_no_pixel_correction` in `tests/raster_fit.rs`, 2000 random
//! ellipses, semi-axes 3–33 px): mean relative axis bias −0.00178 for `λ − 1/12`, −0.00013
//! for `λ`, +0.00151 for `λ + 1/12`; mean |error| 0.00372 / 0.00322 / 0.00362.
//!
//! What cannot be recovered exactly is flagged, not hidden: regions touching the image border
//! (cut), regions touching foreground of another class or colour (occluded), and regions whose
//! pixels differ from the rasterised fitted ellipse by more than a few boundary pixels
//! (merged instances of one class, or shapes that are not ellipses).

use crate::geometry::raster;
use crate::labelset::LabelSet;
use crate::model::{Annotation, AnnotationId, CategoryId, Ellipse, ImageId, Shape};
use image::DynamicImage;
use std::collections::{BTreeMap, HashMap};

/// Which pixels are neighbours.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Connectivity {
    /// Edge neighbours only.
    Four,
    /// Edge and corner neighbours.
    #[default]
    Eight,
}

/// Options of [`regions_from_mask`].
#[derive(Clone, Copy, Debug, Default)]
pub struct RegionOptions {
    /// Which neighbours join pixels into one region.
    pub connectivity: Connectivity,
}

/// What is known about how well a region can stand for its annotation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RegionFlags {
    /// Pixels in the region.
    pub pixels: u64,
    /// The region reaches the first or last row or column: the shape was probably cut.
    pub touches_border: bool,
    /// A neighbouring pixel is foreground of another class (or an unknown colour).
    pub touches_other: bool,
    /// Pixels in the region or in the rasterised fitted ellipse but not both.
    pub mismatch_pixels: u64,
    /// `mismatch_pixels` is above what rasterising an isolated ellipse explains (more than
    /// `2 + 4%` of the pixels): merged instances, occlusion, or not an ellipse.
    pub inexact: bool,
}

/// Counts of one mask scan.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MaskScanSummary {
    /// Regions of known classes (one ellipse each).
    pub regions: usize,
    /// Regions reaching the image border.
    pub touching_border: usize,
    /// Regions touching another class.
    pub touching_other: usize,
    /// Regions the fitted ellipse does not reproduce exactly.
    pub inexact: usize,
    /// Regions of colours (or index values) the label set does not know; not converted.
    pub unknown_regions: usize,
    /// Pixels per unknown colour (`"R,G,B"`) or index value (`"index V"`).
    pub unknown_values: BTreeMap<String, u64>,
    /// Whether the mask was read as an index mask (8-bit gray) rather than a colour mask.
    pub index_mask: bool,
}

/// One horizontal run of equal non-background key.
#[derive(Clone, Copy)]
struct Run {
    y: u32,
    x0: u32,
    x1: u32,
    key: u16,
    touches_other: bool,
}

/// Union-find with path halving; iterative.
struct Dsu(Vec<u32>);

impl Dsu {
    fn add(&mut self) -> u32 {
        let i = self.0.len() as u32;
        self.0.push(i);
        i
    }
    fn find(&mut self, mut i: u32) -> u32 {
        while self.0[i as usize] != i {
            let p = self.0[i as usize];
            self.0[i as usize] = self.0[p as usize];
            i = p;
        }
        i
    }
    fn union(&mut self, a: u32, b: u32) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            // Keep the smaller index as root: regions are then ordered by first run.
            let (lo, hi) = if ra < rb { (ra, rb) } else { (rb, ra) };
            self.0[hi as usize] = lo;
        }
    }
}

/// Second-moment accumulator over pixel centres, relative to a reference point so that sums
/// stay small and variances do not cancel catastrophically on large images.
#[derive(Clone, Copy, Debug, Default)]
struct RegionMoments {
    n: f64,
    sx: f64,
    sy: f64,
    sxx: f64,
    syy: f64,
    sxy: f64,
}

impl RegionMoments {
    /// Adds the centres of pixels `x0..x1` of row `y`, all relative to `(rx, ry)`.
    fn add_run(&mut self, y: u32, x0: u32, x1: u32, rx: f64, ry: f64) {
        let n = f64::from(x1 - x0);
        let a = f64::from(x0) + 0.5 - rx; // first centre
        let dy = f64::from(y) + 0.5 - ry;
        // Σ_{i<n} (a+i) and Σ_{i<n} (a+i)², closed form.
        let s1 = n * a + n * (n - 1.0) / 2.0;
        let s2 = n * a * a + a * n * (n - 1.0) + (n - 1.0) * n * (2.0 * n - 1.0) / 6.0;
        self.n += n;
        self.sx += s1;
        self.sxx += s2;
        self.sy += n * dy;
        self.syy += n * dy * dy;
        self.sxy += dy * s1;
    }

    /// The ellipse of equal second moments (see the module doc: no pixel correction), with
    /// `rx ≥ ry`, rotation in `(−90, 90]` degrees (0 for a circle).
    fn ellipse(&self, rx0: f64, ry0: f64) -> Option<Ellipse> {
        if self.n <= 0.0 {
            return None;
        }
        let (mx, my) = (self.sx / self.n, self.sy / self.n);
        let cxx = self.sxx / self.n - mx * mx;
        let cyy = self.syy / self.n - my * my;
        let cxy = self.sxy / self.n - mx * my;
        let half_diff = (cxx - cyy) / 2.0;
        let r = (half_diff * half_diff + cxy * cxy).sqrt();
        let mean = (cxx + cyy) / 2.0;
        let (l1, l2) = (mean + r, mean - r);
        let theta = if r > 1e-12 * mean.abs().max(1.0) {
            0.5 * (2.0 * cxy).atan2(cxx - cyy)
        } else {
            0.0
        };
        let mut deg = theta.to_degrees();
        if deg <= -90.0 {
            deg += 180.0;
        }
        // Floor at half a pixel: a one-pixel-wide region (λ = 0 across it) still gets an
        // ellipse that covers its own row or column of centres instead of a degenerate one.
        let axis = |l: f64| (2.0 * l.max(0.0).sqrt()).max(0.5);
        Some(Ellipse {
            cx: rx0 + mx,
            cy: ry0 + my,
            rx: axis(l1),
            ry: axis(l2),
            rotation: deg,
        })
    }
}

/// Key of each pixel: 0 background, 1..=255 a known class (its label-set id), 256.. unknown.
struct Keyed {
    width: u32,
    height: u32,
    keys: Vec<u16>,
    /// key → label-set class (None: unknown value); index 0 unused.
    classes: Vec<Option<CategoryId>>,
    /// key → printable value, for unknown keys.
    names: Vec<String>,
}

fn key_image(img: &DynamicImage, labels: &LabelSet) -> (Keyed, bool) {
    let (w, h) = (img.width(), img.height());
    let mut classes: Vec<Option<CategoryId>> = vec![None; 256];
    let mut names: Vec<String> = vec![String::new(); 256];
    let mut keys = vec![0u16; w as usize * h as usize];
    let is_index = matches!(
        img,
        DynamicImage::ImageLuma8(_) | DynamicImage::ImageLumaA8(_)
    );
    if is_index {
        for c in &labels.classes {
            if let Ok(v) = usize::try_from(c.id.0) {
                if v < 256 {
                    classes[v] = Some(c.id);
                }
            }
        }
        for (v, name) in names.iter_mut().enumerate() {
            *name = format!("index {v}");
        }
        let gray = img.to_luma8();
        for (k, p) in keys.iter_mut().zip(gray.as_raw()) {
            *k = u16::from(*p);
        }
    } else {
        let rgb = img.to_rgb8();
        let mut by_color: HashMap<[u8; 3], u16> = HashMap::new();
        by_color.insert(labels.background.0, 0);
        for (i, c) in labels.classes.iter().enumerate() {
            let key = (i + 1) as u16;
            by_color.entry(c.color.0).or_insert(key);
            classes[i + 1] = Some(c.id);
        }
        let mut next: u32 = 256;
        let mut last: Option<([u8; 3], u16)> = None;
        for (k, px) in keys.iter_mut().zip(rgb.as_raw().chunks_exact(3)) {
            let c = [px[0], px[1], px[2]];
            // Masks are long runs of one colour: remember the last lookup.
            if let Some((lc, lk)) = last {
                if lc == c {
                    *k = lk;
                    continue;
                }
            }
            let key = *by_color.entry(c).or_insert_with(|| {
                // Past 65535 distinct unknown colours, the rest share the last key.
                let key = next.min(u32::from(u16::MAX)) as u16;
                if next <= u32::from(u16::MAX) {
                    next += 1;
                    classes.push(None);
                    names.push(format!("{},{},{}", c[0], c[1], c[2]));
                }
                key
            });
            last = Some((c, key));
            *k = key;
        }
    }
    (
        Keyed {
            width: w,
            height: h,
            keys,
            classes,
            names,
        },
        is_index,
    )
}

/// Finds connected regions per class in a colour (RGB/RGBA) or index (8-bit gray) mask and
/// fits each with the ellipse of equal second moments.
///
/// The class of a region is the label-set class of its colour (colour masks) or of its value
/// (index masks: value = class id). Background is the label set's background colour, or 0.
/// Regions of unknown colours are counted in the summary, never silently dropped. Other pixel
/// types (16-bit) are read as colour masks after conversion to RGB8.
/// Regions come in raster order of their first pixel.
pub fn regions_from_mask(
    img: &DynamicImage,
    labels: &LabelSet,
    opts: &RegionOptions,
) -> (Vec<(CategoryId, Ellipse, RegionFlags)>, MaskScanSummary) {
    let (k, is_index) = key_image(img, labels);
    let mut summary = MaskScanSummary {
        index_mask: is_index,
        ..MaskScanSummary::default()
    };
    let (w, h) = (k.width, k.height);
    let reach = u32::from(opts.connectivity == Connectivity::Eight);
    let mut runs: Vec<Run> = Vec::new();
    let mut dsu = Dsu(Vec::new());
    let mut prev = 0..0usize;
    for y in 0..h {
        let row = &k.keys[y as usize * w as usize..(y as usize + 1) * w as usize];
        let start = runs.len();
        let mut x = 0usize;
        while x < row.len() {
            let key = row[x];
            let mut e = x + 1;
            while e < row.len() && row[e] == key {
                e += 1;
            }
            if key != 0 {
                let touches_other = x > 0 && row[x - 1] != 0 || e < row.len() && row[e] != 0;
                runs.push(Run {
                    y,
                    x0: x as u32,
                    x1: e as u32,
                    key,
                    touches_other,
                });
                dsu.add();
            }
            x = e;
        }
        let cur = start..runs.len();
        // Join with the previous row: runs overlap (4) or overlap or touch at a corner (8).
        let mut j = prev.start;
        for i in cur.clone() {
            let r = runs[i];
            while j < prev.end && runs[j].x1 + reach <= r.x0 {
                j += 1;
            }
            let mut q = j;
            while q < prev.end && runs[q].x0 < r.x1 + reach {
                if runs[q].key == r.key {
                    dsu.union(q as u32, i as u32);
                } else {
                    runs[q].touches_other = true;
                    runs[i].touches_other = true;
                }
                q += 1;
            }
        }
        prev = cur;
    }
    // Gather runs per root, in order of first run.
    let mut root_slot: HashMap<u32, usize> = HashMap::new();
    let mut members: Vec<Vec<u32>> = Vec::new();
    for i in 0..runs.len() as u32 {
        let r = dsu.find(i);
        let slot = *root_slot.entry(r).or_insert_with(|| {
            members.push(Vec::new());
            members.len() - 1
        });
        members[slot].push(i);
    }
    let mut out = Vec::new();
    for m in &members {
        let first = runs[m[0] as usize];
        let class = k.classes.get(usize::from(first.key)).copied().flatten();
        let mut flags = RegionFlags::default();
        let (rx0, ry0) = (f64::from(first.x0), f64::from(first.y));
        let mut mom = RegionMoments::default();
        for &i in m {
            let r = runs[i as usize];
            mom.add_run(r.y, r.x0, r.x1, rx0, ry0);
            flags.pixels += u64::from(r.x1 - r.x0);
            flags.touches_other |= r.touches_other;
            flags.touches_border |= r.x0 == 0 || r.x1 == w || r.y == 0 || r.y + 1 == h;
        }
        let Some(class) = class else {
            summary.unknown_regions += 1;
            let name = k
                .names
                .get(usize::from(first.key))
                .cloned()
                .unwrap_or_default();
            *summary.unknown_values.entry(name).or_insert(0) += flags.pixels;
            continue;
        };
        let Some(ellipse) = mom.ellipse(rx0, ry0) else {
            continue;
        };
        flags.mismatch_pixels = mismatch(&ellipse, m, &runs, w, h);
        flags.inexact = flags.mismatch_pixels as f64 > 2.0 + 0.04 * flags.pixels as f64;
        summary.regions += 1;
        summary.touching_border += usize::from(flags.touches_border);
        summary.touching_other += usize::from(flags.touches_other);
        summary.inexact += usize::from(flags.inexact);
        out.push((class, ellipse, flags));
    }
    (out, summary)
}

/// Pixels in exactly one of (region, rasterised ellipse). The region's runs are in row order.
fn mismatch(e: &Ellipse, members: &[u32], runs: &[Run], w: u32, h: u32) -> u64 {
    let mut espans: Vec<(u32, u32, u32)> = Vec::new();
    raster::ellipse_spans(e, w, h, |y, a, b| espans.push((y, a, b)));
    let area_e: u64 = espans.iter().map(|s| u64::from(s.2 - s.1)).sum();
    let area_r: u64 = members
        .iter()
        .map(|&i| u64::from(runs[i as usize].x1 - runs[i as usize].x0))
        .sum();
    // Intersection: both lists sorted by (y, x); sweep.
    let (mut i, mut j, mut inter) = (0usize, 0usize, 0u64);
    while i < espans.len() && j < members.len() {
        let (ey, ea, eb) = espans[i];
        let r = runs[members[j] as usize];
        if (ey, ea) < (r.y, r.x0) && (ey < r.y || eb <= r.x0) {
            i += 1;
            continue;
        }
        if r.y < ey || (r.y == ey && r.x1 <= ea) {
            j += 1;
            continue;
        }
        // Same row and overlapping.
        inter += u64::from(eb.min(r.x1).saturating_sub(ea.max(r.x0)));
        if eb < r.x1 {
            i += 1;
        } else {
            j += 1;
        }
    }
    area_e + area_r - 2 * inter
}

/// Turns fitted regions into ellipse annotations of `image_id`, numbered from `first_id`.
pub(crate) fn annotations_from_regions(
    image_id: ImageId,
    first_id: u64,
    regions: &[(CategoryId, Ellipse, RegionFlags)],
) -> Vec<Annotation> {
    regions
        .iter()
        .enumerate()
        .map(|(i, (c, e, _))| {
            Annotation::new(
                AnnotationId(first_id + i as u64),
                image_id,
                *c,
                Shape::Ellipse(*e),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{GrayImage, Luma, Rgb, RgbImage};

    #[test]
    fn moments_of_a_run_match_brute_force() {
        let mut m = RegionMoments::default();
        m.add_run(3, 2, 7, 1.0, 1.0);
        let xs: Vec<f64> = (2..7).map(|x| x as f64 + 0.5 - 1.0).collect();
        assert_eq!(m.n, 5.0);
        assert!((m.sx - xs.iter().sum::<f64>()).abs() < 1e-12);
        assert!((m.sxx - xs.iter().map(|x| x * x).sum::<f64>()).abs() < 1e-12);
        assert!((m.sxy - xs.iter().map(|x| x * 2.5).sum::<f64>()).abs() < 1e-12);
    }

    #[test]
    fn u_shape_is_one_region_and_diagonals_depend_on_connectivity() {
        // A U: two columns joined at the bottom (a recursive-free union-find must merge them).
        let mut g = GrayImage::new(8, 8);
        for y in 1..6 {
            g.put_pixel(1, y, Luma([1]));
            g.put_pixel(5, y, Luma([1]));
        }
        for x in 1..6 {
            g.put_pixel(x, 6, Luma([1]));
        }
        let ls = LabelSet::four_class();
        let (r, s) =
            regions_from_mask(&DynamicImage::ImageLuma8(g), &ls, &RegionOptions::default());
        assert_eq!(r.len(), 1);
        assert!(s.index_mask);
        assert!(r[0].2.inexact, "a U is not an ellipse");
        let mut g = GrayImage::new(4, 4);
        g.put_pixel(1, 1, Luma([2]));
        g.put_pixel(2, 2, Luma([2]));
        let img = DynamicImage::ImageLuma8(g);
        assert_eq!(
            regions_from_mask(&img, &ls, &RegionOptions::default())
                .0
                .len(),
            1
        );
        let four = RegionOptions {
            connectivity: Connectivity::Four,
        };
        assert_eq!(regions_from_mask(&img, &ls, &four).0.len(), 2);
    }

    #[test]
    fn unknown_colours_and_neighbours_are_reported() {
        let ls = LabelSet::four_class();
        let mut m = RgbImage::new(6, 3);
        m.put_pixel(2, 1, Rgb([230, 25, 75]));
        m.put_pixel(3, 1, Rgb([1, 2, 3]));
        let (r, s) = regions_from_mask(&DynamicImage::ImageRgb8(m), &ls, &RegionOptions::default());
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].0, CategoryId(1));
        assert!(r[0].2.touches_other && !r[0].2.touches_border);
        assert_eq!(s.unknown_regions, 1);
        assert_eq!(s.unknown_values.get("1,2,3"), Some(&1));
    }
}
