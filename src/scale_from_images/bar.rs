//! Finding and measuring the scale bar burned into an image.
//!
//! A scale bar is a long, thin, uniform, high-contrast horizontal rectangle. The search:
//!
//! 1. Noise level `σ` from the median absolute difference of horizontal neighbours; a pixel
//!    "belongs" to a level when within `tol = max(4σ, 6)` of it (single outliers allowed).
//! 2. Seeds: in every row, maximal runs of near-constant pixels at least `min_len` long whose
//!    row above (or the one above that, for a blurred edge) differs from the run by at least
//!    the contrast `C` on 90 % of the run. Flat areas fail at once (the row above is alike).
//! 3. Each seed grows down while 90 % of the row stays at the run's level, up to `max_thick`
//!    rows; the row below must contrast with the same sign as the row above (a bar is darker,
//!    or lighter, than both sides — a step between two areas is not a bar).
//! 4. The ends are found on the profile of column means over the bar's rows, and checked: the
//!    pixels beyond each end contrast like the sides; the bar does not continue up or down at
//!    its ends (that is the edge of a box, not a bar); a ring two pixels out contrasts on 90 %.
//! 5. Each end is measured to sub-pixel precision by the area under the profile across the
//!    edge: with background `s` and bar level `m` taken a few pixels outside and inside, the
//!    covered length of a window is `Σ (P(x) − s) / (m − s)`, exact for an edge drawn with
//!    coverage antialiasing and unchanged by any symmetric blur smaller than the window.
//!
//! One candidate is a bar; none, or more than one, is refused: nothing is guessed.

/// A grayscale image, values 0..=255 (16-bit images scaled down).
#[derive(Clone, Debug)]
pub struct Gray {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// Grey values, row-major.
    pub data: Vec<f32>,
}

impl Gray {
    /// An 8-bit grey image as values 0..=255.
    pub fn from_luma8(width: usize, height: usize, px: &[u8]) -> Gray {
        Gray {
            width,
            height,
            data: px.iter().map(|&v| f32::from(v)).collect(),
        }
    }

    #[inline]
    fn at(&self, x: usize, y: usize) -> f32 {
        self.data[y * self.width + x]
    }
}

/// Search settings.
#[derive(Clone, Debug)]
pub struct BarOptions {
    /// Shortest bar searched for, px; 0: `max(20, longer side / 80)`.
    pub min_len_px: usize,
    /// Least difference between the bar and what surrounds it, in levels of 255.
    pub min_contrast: f32,
    /// Below this confidence a single candidate is refused.
    pub min_confidence: f64,
}

impl Default for BarOptions {
    fn default() -> Self {
        BarOptions {
            min_len_px: 0,
            min_contrast: 40.0,
            min_confidence: 0.5,
        }
    }
}

/// Where the label text is, relative to the bar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LabelSide {
    /// The label text is above the bar.
    Above,
    /// The label text is below the bar.
    Below,
}

/// A measured bar.
#[derive(Clone, Debug, PartialEq)]
pub struct Bar {
    /// Sub-pixel x of the left and right edges (pixel `i` spans `[i, i + 1)`).
    pub left: f64,
    /// Sub-pixel x of the right edge.
    pub right: f64,
    /// First and last row.
    pub top: usize,
    /// Last row of the bar.
    pub bottom: usize,
    /// Length in pixels: `right - left`.
    pub length_px: f64,
    /// Darker than its surroundings (else lighter).
    pub dark: bool,
    /// Mean grey level of the bar.
    pub level: f32,
    /// Mean grey level around it.
    pub background: f32,
    /// 0..1: how clean the candidate is (contrast, uniformity, the ring around it, a label,
    /// a corner position).
    pub confidence: f64,
    /// Where a label was found next to the bar, if any.
    pub label: Option<LabelSide>,
}

/// The outcome of a search.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Detection {
    Found(Bar),
    /// No bar, with the reason.
    NotFound(String),
    /// Several candidates (listed): refused.
    Ambiguous(Vec<Bar>),
}

/// Noise level: median |horizontal difference| over every 4th row, as a Gaussian σ.
fn noise_sigma(g: &Gray) -> f32 {
    let mut hist = [0u32; 256];
    let mut n = 0u64;
    for y in (0..g.height).step_by(4) {
        let row = &g.data[y * g.width..(y + 1) * g.width];
        for w in row.windows(2) {
            let d = (w[1] - w[0]).abs().min(255.0) as usize;
            hist[d] += 1;
            n += 1;
        }
    }
    if n == 0 {
        return 1.0;
    }
    let half = n.div_ceil(2);
    let mut acc = 0u64;
    let mut med = 0usize;
    for (i, &c) in hist.iter().enumerate() {
        acc += u64::from(c);
        if acc >= half {
            med = i;
            break;
        }
    }
    // Integer levels: a median of 0 on a clean image still means "about half a level".
    ((med as f32).max(0.5)) * 1.0483
}

fn median(v: &mut [f32]) -> f32 {
    if v.is_empty() {
        return f32::NAN;
    }
    v.sort_by(f32::total_cmp);
    v[v.len() / 2]
}

struct Search<'a> {
    g: &'a Gray,
    tol: f32,
    contrast: f32,
    min_len: usize,
    max_thick: usize,
}

impl Search<'_> {
    /// Sign of `v − level` when it contrasts by at least `contrast`, else 0.
    fn side(&self, v: f32, level: f32) -> i8 {
        let d = v - level;
        if d >= self.contrast {
            1
        } else if d <= -self.contrast {
            -1
        } else {
            0
        }
    }

    /// Whether row `y` over `[x0, x1)` contrasts with `level` with sign `sign` (0: either,
    /// decided by the majority) on at least `frac`; returns the sign.
    fn row_contrasts(&self, y: usize, x0: usize, x1: usize, level: f32, sign: i8, frac: f64) -> i8 {
        let n = x1 - x0;
        let allowed = ((1.0 - frac) * n as f64).floor() as usize;
        let mut pos = 0usize;
        let mut neg = 0usize;
        let mut fail = 0usize;
        for x in x0..x1 {
            match self.side(self.g.at(x, y), level) {
                1 if sign >= 0 => pos += 1,
                -1 if sign <= 0 => neg += 1,
                _ => {
                    fail += 1;
                    if fail > allowed {
                        return 0;
                    }
                }
            }
        }
        let need = n - allowed;
        if pos >= need {
            1
        } else if neg >= need {
            -1
        } else {
            0
        }
    }

    fn row_at_level(&self, y: usize, x0: usize, x1: usize, level: f32, frac: f64) -> bool {
        let n = x1 - x0;
        let allowed = ((1.0 - frac) * n as f64).floor() as usize;
        let mut fail = 0;
        for x in x0..x1 {
            if (self.g.at(x, y) - level).abs() > self.tol {
                fail += 1;
                if fail > allowed {
                    return false;
                }
            }
        }
        true
    }

    /// Mean of column `x` over rows `[y0, y1]`.
    fn col_mean(&self, x: usize, y0: usize, y1: usize) -> f32 {
        let mut s = 0.0;
        for y in y0..=y1 {
            s += self.g.at(x, y);
        }
        s / (y1 - y0 + 1) as f32
    }

    /// Grows a seed (a contrasting run starting at row `top`) into a checked bar.
    fn grow(&self, top: usize, x0: usize, x1: usize, level: f32, sign: i8) -> Option<Bar> {
        let (w, h) = (self.g.width, self.g.height);
        let mut bottom = top;
        while bottom + 1 < h && self.row_at_level(bottom + 1, x0, x1, level, 0.9) {
            bottom += 1;
            if bottom - top + 1 > self.max_thick {
                return None;
            }
        }
        let below_ok = (1..=2).any(|d| {
            bottom + d < h && self.row_contrasts(bottom + d, x0, x1, level, sign, 0.9) == sign
        });
        if !below_ok {
            return None;
        }
        let t = bottom - top + 1;
        // Profile rows: inside the edge rows when the bar is thick enough.
        let (py0, py1) = if t >= 3 {
            (top + 1, bottom - 1)
        } else {
            (top, bottom)
        };
        let ptol = self.tol;
        let at_level = |x: usize| (self.col_mean(x, py0, py1) - level).abs() <= ptol;
        // Integer extent: first and last column at the level (single outliers allowed).
        let mut xa = x0;
        while xa > 0 && (at_level(xa - 1) || (xa > 1 && at_level(xa - 2))) {
            xa -= if at_level(xa - 1) { 1 } else { 2 };
        }
        let mut xb = x1 - 1;
        while xb + 1 < w && (at_level(xb + 1) || (xb + 2 < w && at_level(xb + 2))) {
            xb += if at_level(xb + 1) { 1 } else { 2 };
        }
        let len = xb - xa + 1;
        if len < self.min_len || len < 4 * t {
            return None;
        }
        // Room for the edge windows on both sides.
        const K: usize = 3;
        const BG: usize = 6;
        if xa < K + BG || xb + K + BG >= w || top < 3 || bottom + 3 >= h {
            return None;
        }
        let prof = |a: usize, b: usize| -> Vec<f32> {
            (a..=b).map(|x| self.col_mean(x, py0, py1)).collect()
        };
        let s_l = median(&mut prof(xa - K - BG, xa - K - 1));
        let s_r = median(&mut prof(xb + K + 1, xb + K + BG));
        let inner = BG.min(len.saturating_sub(2 * K) / 2).max(1);
        let m_l = median(&mut prof(xa + K, (xa + K + inner - 1).min(xb)));
        let m_r = median(&mut prof((xb - K - inner + 1).max(xa), xb - K));
        // Beyond both ends: background of the same sign as the sides.
        if self.side(s_l, level) != sign || self.side(s_r, level) != sign {
            return None;
        }
        // The bar must not continue up or down at its ends (the side of a box would).
        let end_w = t.clamp(2, 8).min(len / 4);
        for (ea, eb) in [(xa, xa + end_w), (xb + 1 - end_w, xb + 1)] {
            let mut close = 0usize;
            let mut n = 0usize;
            for d in 1..=3 {
                for x in ea..eb {
                    for y in [top - d, bottom + d] {
                        n += 1;
                        if (self.g.at(x, y) - level).abs() <= self.tol {
                            close += 1;
                        }
                    }
                }
            }
            if close * 3 > n {
                return None;
            }
        }
        // The ring two pixels out contrasts (with the bar's sign) almost everywhere.
        let (rx0, rx1, ry0, ry1) = (xa - 2, xb + 2, top - 2, bottom + 2);
        let mut ring_n = 0usize;
        let mut ring_ok = 0usize;
        let mut ring_vals = Vec::new();
        let mut push = |x: usize, y: usize| {
            let v = self.g.at(x, y);
            ring_n += 1;
            if self.side(v, level) == sign {
                ring_ok += 1;
            }
            ring_vals.push(v);
        };
        for x in rx0..=rx1 {
            push(x, ry0);
            push(x, ry1);
        }
        for y in ry0 + 1..ry1 {
            push(rx0, y);
            push(rx1, y);
        }
        let ring_frac = ring_ok as f64 / ring_n.max(1) as f64;
        if ring_frac < 0.9 {
            return None;
        }
        let background = median(&mut ring_vals);
        // Uniformity inside.
        let mut inside_ok = 0usize;
        for y in top..=bottom {
            for x in xa..=xb {
                if (self.g.at(x, y) - level).abs() <= self.tol {
                    inside_ok += 1;
                }
            }
        }
        let uniform = inside_ok as f64 / (len * t) as f64;
        if uniform < 0.9 {
            return None;
        }
        // Sub-pixel ends by the area under the profile.
        let cover = |a: usize, b: usize, s: f32, m: f32| -> f64 {
            let d = f64::from(m - s);
            (a..=b)
                .map(|x| f64::from(self.col_mean(x, py0, py1) - s) / d)
                .sum()
        };
        let left = (xa + K) as f64 - cover(xa - K, xa + K - 1, s_l, m_l);
        let right = (xb + 1 - K) as f64 + cover(xb + 1 - K, xb + K, s_r, m_r);
        let length_px = right - left;
        if !(length_px.is_finite() && length_px > 0.0) {
            return None;
        }
        let contrast = (background - level).abs();
        let label = self.label_side(xa, xb, top, bottom, level);
        // Heuristic confidence: each factor is 1 for a clean, typical bar.
        let contrast_f = f64::from((contrast / (2.0 * self.contrast)).min(1.0)).sqrt();
        let corner = {
            let cy = (top + bottom) as f64 / 2.0 / h as f64;
            if !(0.25..=0.75).contains(&cy) {
                1.0
            } else {
                0.85
            }
        };
        let label_f = if label.is_some() { 1.0 } else { 0.9 };
        let confidence = (ring_frac * uniform * contrast_f * corner * label_f).clamp(0.0, 1.0);
        Some(Bar {
            left,
            right,
            top,
            bottom,
            length_px,
            dark: sign > 0,
            level,
            background,
            confidence,
            label,
        })
    }

    /// A label: pixels at the bar's level in a band above or below it, near its x-range.
    fn label_side(
        &self,
        xa: usize,
        xb: usize,
        top: usize,
        bottom: usize,
        level: f32,
    ) -> Option<LabelSide> {
        let (w, h) = (self.g.width, self.g.height);
        let len = xb - xa + 1;
        let band = (4 * (bottom - top + 1)).max(12).min(len);
        let x0 = xa.saturating_sub(len / 4);
        let x1 = (xb + len / 4).min(w - 1);
        let count = |y0: usize, y1: usize| {
            let mut c = 0usize;
            for y in y0..y1.min(h) {
                for x in x0..=x1 {
                    if (self.g.at(x, y) - level).abs() <= self.tol {
                        c += 1;
                    }
                }
            }
            c
        };
        let above = if top > 3 {
            count(top.saturating_sub(3 + band), top - 3)
        } else {
            0
        };
        let below = count(bottom + 4, bottom + 4 + band);
        let need = (band * (x1 - x0 + 1) / 100).max(12);
        match (above >= need, below >= need) {
            (true, false) => Some(LabelSide::Above),
            (false, true) => Some(LabelSide::Below),
            (true, true) => Some(if above >= below {
                LabelSide::Above
            } else {
                LabelSide::Below
            }),
            _ => None,
        }
    }
}

/// Finds the scale bar of `g`.
pub(crate) fn find_bar(g: &Gray, opts: &BarOptions) -> Detection {
    let (w, h) = (g.width, g.height);
    if w < 32 || h < 16 || g.data.len() != w * h {
        return Detection::NotFound("the image is too small to hold a scale bar".into());
    }
    let sigma = noise_sigma(g);
    let tol = (4.0 * sigma).max(6.0);
    let s = Search {
        g,
        tol,
        contrast: opts.min_contrast.max(1.5 * tol),
        min_len: if opts.min_len_px > 0 {
            opts.min_len_px
        } else {
            (w.max(h) / 80).max(20)
        },
        max_thick: (h.min(w) / 30).max(6),
    };
    let mut found: Vec<Bar> = Vec::new();
    for y in 2..h - 2 {
        let row = &g.data[y * w..(y + 1) * w];
        let mut x = 0usize;
        while x < w {
            let start = x;
            let mut sum = row[x];
            let mut n = 1usize;
            x += 1;
            while x < w {
                let m = sum / n as f32;
                if (row[x] - m).abs() <= tol {
                    sum += row[x];
                    n += 1;
                    x += 1;
                } else if x + 1 < w && (row[x + 1] - m).abs() <= tol {
                    x += 1;
                } else {
                    break;
                }
            }
            let end = x;
            if end - start < s.min_len {
                continue;
            }
            let level = sum / n as f32;
            if found.iter().any(|b| {
                y + 2 >= b.top
                    && y <= b.bottom + 2
                    && (start as f64) < b.right
                    && (end as f64) > b.left
            }) {
                continue;
            }
            let mut sign = 0;
            for d in 1..=2 {
                sign = s.row_contrasts(y - d, start, end, level, 0, 0.9);
                if sign != 0 {
                    break;
                }
            }
            if sign == 0 {
                continue;
            }
            if let Some(b) = s.grow(y, start, end, level, sign) {
                found.push(b);
            }
        }
    }
    match found.len() {
        0 => Detection::NotFound(
            "no scale bar found (no long, thin, uniform horizontal rectangle contrasting with its surroundings)"
                .into(),
        ),
        1 => {
            let b = found.remove(0);
            if b.confidence < opts.min_confidence {
                Detection::NotFound(format!(
                    "one candidate bar at x {:.1}..{:.1}, rows {}..{}, but its confidence {:.2} is below {}",
                    b.left, b.right, b.top, b.bottom, b.confidence, opts.min_confidence
                ))
            } else {
                Detection::Found(b)
            }
        }
        _ => Detection::Ambiguous(found),
    }
}

/// Draws a bar for tests and `synth`: rows `[top, top + thick)`, from `x` to `x + len` with
/// coverage antialiasing at the ends (pixel `i` spans `[i, i + 1)`).
pub(crate) fn draw_bar(
    buf: &mut [u8],
    width: usize,
    x: f64,
    len: f64,
    top: usize,
    thick: usize,
    value: u8,
) {
    let height = buf.len() / width.max(1);
    let (a, b) = (x, x + len);
    let first = a.floor().max(0.0) as usize;
    let last = (b.ceil() as usize).min(width);
    for y in top..(top + thick).min(height) {
        for px in first..last {
            let cov = ((px as f64 + 1.0).min(b) - (px as f64).max(a)).clamp(0.0, 1.0);
            let i = y * width + px;
            let old = f64::from(buf[i]);
            buf[i] = (old + (f64::from(value) - old) * cov)
                .round()
                .clamp(0.0, 255.0) as u8;
        }
    }
}

/// Block glyphs (5 × 7 cells) for a label such as `1 µm`: digits, `.`, `µ`, `m`, `n`, space.
fn glyph(c: char) -> [u8; 7] {
    match c {
        '0' => [0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E],
        '1' => [0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E],
        '2' => [0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F],
        '3' => [0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E],
        '4' => [0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02],
        '5' => [0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E],
        '6' => [0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E],
        '7' => [0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
        '8' => [0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E],
        '9' => [0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C],
        '.' => [0, 0, 0, 0, 0, 0x0C, 0x0C],
        'µ' => [0, 0, 0x11, 0x11, 0x13, 0x1D, 0x10],
        'm' => [0, 0, 0x1A, 0x15, 0x15, 0x15, 0x15],
        'n' => [0, 0, 0x16, 0x19, 0x11, 0x11, 0x11],
        _ => [0; 7],
    }
}

/// Width in px of `text` drawn by [`draw_label`] with cells of `cell` px.
pub(crate) fn label_width(text: &str, cell: usize) -> usize {
    text.chars().count() * 6 * cell
}

/// Draws `text` with block glyphs, top-left at `(x, y)`, each glyph cell `cell` px square.
pub(crate) fn draw_label(
    buf: &mut [u8],
    width: usize,
    x: usize,
    y: usize,
    cell: usize,
    text: &str,
    value: u8,
) {
    let height = buf.len() / width.max(1);
    for (i, c) in text.chars().enumerate() {
        let g = glyph(c);
        for (r, bits) in g.iter().enumerate() {
            for col in 0..5 {
                if bits & (0x10 >> col) == 0 {
                    continue;
                }
                for dy in 0..cell {
                    for dx in 0..cell {
                        let px = x + (i * 6 + col) * cell + dx;
                        let py = y + r * cell + dy;
                        if px < width && py < height {
                            buf[py * width + px] = value;
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    struct Case {
        w: usize,
        h: usize,
        len: f64,
        x: f64,
        top: usize,
        thick: usize,
        bar: u8,
        bg: u8,
        label_above: bool,
        noise: i32,
        texture: bool,
    }

    fn render(c: &Case, seed: u64) -> Gray {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut buf = vec![c.bg; c.w * c.h];
        if c.texture {
            // Blobs of other grey levels away from the bar, like cells.
            for _ in 0..40 {
                let (cx, cy) = (rng.random_range(0..c.w), rng.random_range(0..c.h / 2));
                let r = rng.random_range(5..60) as i64;
                let v: u8 = rng.random_range(60..200);
                for y in cy.saturating_sub(r as usize)..(cy + r as usize).min(c.h) {
                    for x in cx.saturating_sub(r as usize)..(cx + r as usize).min(c.w) {
                        let (dx, dy) = (x as i64 - cx as i64, y as i64 - cy as i64);
                        if dx * dx + dy * dy <= r * r {
                            buf[y * c.w + x] = v;
                        }
                    }
                }
            }
        }
        draw_bar(&mut buf, c.w, c.x, c.len, c.top, c.thick, c.bar);
        let cell = (c.thick / 2).max(2);
        let text = "10 µm";
        let lw = label_width(text, cell);
        let lx = ((c.x + c.len / 2.0) as usize)
            .saturating_sub(lw / 2)
            .max(2)
            .min(c.w - lw - 2);
        let ly = if c.label_above {
            c.top - 4 - 7 * cell
        } else {
            c.top + c.thick + 4
        };
        draw_label(&mut buf, c.w, lx, ly, cell, text, c.bar);
        for p in &mut buf {
            let n = rng.random_range(-c.noise..=c.noise);
            *p = (i32::from(*p) + n).clamp(0, 255) as u8;
        }
        Gray::from_luma8(c.w, c.h, &buf)
    }

    fn base() -> Case {
        Case {
            w: 1024,
            h: 1056,
            len: 300.0,
            x: 650.3,
            top: 980,
            thick: 8,
            bar: 8,
            bg: 212,
            label_above: true,
            noise: 12,
            texture: true,
        }
    }

    fn check(c: &Case, seed: u64) -> Result<Bar, String> {
        match find_bar(&render(c, seed), &BarOptions::default()) {
            Detection::Found(b) => Ok(b),
            other => Err(format!("{other:?}")),
        }
    }

    #[test]
    fn lengths_positions_polarities_and_labels() {
        let mut worst_long = 0.0f64;
        let mut worst = 0.0f64;
        let mut seed = 0;
        for &len in &[40.0, 77.4, 150.0, 200.0, 333.7, 512.25, 800.0] {
            for &(dark, above, left_side, top_side) in &[
                (true, true, false, false),
                (true, false, true, false),
                (false, true, true, true),
                (false, false, false, true),
            ] {
                seed += 1;
                let mut c = base();
                c.len = len;
                c.label_above = above;
                if !dark {
                    c.bar = 250;
                    c.bg = 40;
                }
                c.x = if left_side {
                    30.6
                } else {
                    1024.0 - 30.0 - len - 0.35
                };
                c.top = if top_side { 60 } else { 990 };
                if top_side {
                    c.texture = false;
                }
                let b = check(&c, seed).unwrap_or_else(|e| panic!("len {len} dark {dark}: {e}"));
                let err = (b.length_px - len).abs();
                assert!(err <= 1.0, "len {len}: measured {}", b.length_px);
                if len >= 200.0 {
                    worst_long = worst_long.max(err / len);
                }
                worst = worst.max(err);
                assert_eq!(b.dark, dark);
                assert_eq!(
                    b.label,
                    Some(if above {
                        LabelSide::Above
                    } else {
                        LabelSide::Below
                    }),
                    "len {len}"
                );
                assert!(b.confidence >= 0.5, "{b:?}");
            }
        }
        assert!(worst_long <= 0.005, "worst relative error {worst_long}");
        eprintln!("worst abs error {worst:.3} px, worst relative (≥200 px) {worst_long:.5}");
    }

    #[test]
    fn two_bars_are_ambiguous_and_none_is_not_found() {
        let c = base();
        let mut g = render(&c, 7);
        let mut buf: Vec<u8> = g.data.iter().map(|&v| v as u8).collect();
        draw_bar(&mut buf, c.w, 40.0, 250.0, 1000, 8, 8);
        g = Gray::from_luma8(c.w, c.h, &buf);
        assert!(
            matches!(find_bar(&g, &BarOptions::default()), Detection::Ambiguous(v) if v.len() == 2)
        );
        let mut c = base();
        c.len = 0.0;
        c.bar = c.bg;
        let g = render(&c, 8);
        assert!(matches!(
            find_bar(&g, &BarOptions::default()),
            Detection::NotFound(_)
        ));
    }

    #[test]
    fn a_box_outline_is_not_a_bar() {
        let (w, h) = (600usize, 400usize);
        let mut buf = vec![200u8; w * h];
        for x in 100..400 {
            buf[100 * w + x] = 0;
            buf[101 * w + x] = 0;
            buf[300 * w + x] = 0;
            buf[301 * w + x] = 0;
        }
        for y in 100..302 {
            for x in [100, 101, 398, 399] {
                buf[y * w + x] = 0;
            }
        }
        let g = Gray::from_luma8(w, h, &buf);
        assert!(
            matches!(find_bar(&g, &BarOptions::default()), Detection::NotFound(_)),
            "{:?}",
            find_bar(&g, &BarOptions::default())
        );
    }
}
