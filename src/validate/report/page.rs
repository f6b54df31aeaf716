//! The machinery shared by the review pages (`validate --format html`, `diff --format
//! html`): one self-contained HTML file with inline CSS and JS and no network request, a
//! header the caller writes, filters, and one card per item built lazily by the script.
//!
//! The items travel as one JSON array inside `<script type="application/json">`, and the
//! page's settings (which filters, what the items are called) as a second one. The script
//! builds the cards from them in batches as the reader scrolls, so a page of 20,000 items
//! opens as fast as one of 20. Data reaches the page either escaped for HTML
//! ([`escape::html`]) or as JSON that the script puts into text nodes, never as markup. The
//! only markup in the JSON is the SVG pictures, built here from numbers, colours and base64
//! alone.
//!
//! Filters can be set from the URL fragment (`review.html#severity=error&rule=NS008&q=word`),
//! so a link can open a filtered view; the page keeps the fragment in step with the filters.

use crate::escape;
use crate::model::{Rgb, Shape};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Largest side of a picture on the page, in CSS pixels (and of an embedded crop).
pub(crate) const PICTURE_PX: f64 = 256.0;

/// How a shape is drawn; the legend names each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stroke {
    /// The shape the card is about (validate) or the new shape (diff): solid, class colour.
    Main,
    /// Another shape of the same file the message names (the other shape of an overlap):
    /// dashed, class colour.
    Partner,
    /// The matching shape in the other file of a COCO/CVAT pair: dotted, class colour.
    Counterpart,
    /// The old shape of a diff: dashed grey.
    Old,
}

impl Stroke {
    fn class(self) -> &'static str {
        match self {
            Stroke::Main => "",
            Stroke::Partner => " class=\"partner\"",
            Stroke::Counterpart => " class=\"counterpart\"",
            Stroke::Old => " class=\"old\"",
        }
    }
}

/// What a card's pictures show: the crop rectangle in image coordinates, the image's size
/// as the annotations give it, and the outlines (SVG elements) over it.
#[derive(Debug)]
pub(crate) struct Figure {
    pub crop: [f64; 4],
    pub size: (u32, u32),
    pub outlines: String,
    /// The image file, when an image folder was given and it is there.
    pub image_path: Option<PathBuf>,
    /// The mask file, for findings of the mask rules with a mask folder.
    pub mask_path: Option<PathBuf>,
    pub raster: Option<String>,
    pub mask_raster: Option<String>,
}

impl Figure {
    pub(crate) fn new(crop: [f64; 4], size: (u32, u32)) -> Self {
        Figure {
            crop,
            size,
            outlines: String::new(),
            image_path: None,
            mask_path: None,
            raster: None,
            mask_raster: None,
        }
    }

    /// The scale from image pixels to CSS pixels of the picture.
    pub(crate) fn scale(&self) -> f64 {
        PICTURE_PX / self.crop[2].max(self.crop[3])
    }

    /// Draws `shape` over the picture.
    pub(crate) fn draw(&mut self, shape: &Shape, colour: Rgb, stroke: Stroke) {
        if shape.is_finite() {
            let scale = self.scale();
            outline(&mut self.outlines, shape, colour, stroke, scale);
        }
    }

    /// The picture of the image (or a neutral canvas), with the mask region over it when
    /// there is a mask crop.
    pub(crate) fn svg(&self) -> String {
        let mut s = self.open_svg("image");
        if let Some(r) = &self.raster {
            s.push_str(r);
        }
        if let Some(m) = &self.mask_raster {
            // The mask's background is black: screen blending leaves only its colours.
            let _ = write!(s, "<g class=\"maskover\">{m}</g>");
        }
        let _ = write!(s, "<g class=\"shapes\">{}</g></svg>", self.outlines);
        s
    }

    /// The mask crop with the same outlines, to stand beside [`Figure::svg`].
    pub(crate) fn mask_svg(&self) -> Option<String> {
        let m = self.mask_raster.as_ref()?;
        let mut s = self.open_svg("mask");
        s.push_str(m);
        let _ = write!(s, "<g class=\"shapes\">{}</g></svg>", self.outlines);
        Some(s)
    }

    fn open_svg(&self, what: &str) -> String {
        let [x, y, w, h] = self.crop;
        let scale = self.scale();
        let mut s = format!(
            "<svg viewBox=\"{} {} {} {}\" width=\"{}\" height=\"{}\" role=\"img\" aria-label=\"{what}\">",
            num(x),
            num(y),
            num(w),
            num(h),
            (w * scale).round() as u32,
            (h * scale).round() as u32
        );
        let _ = write!(
            s,
            "<rect class=\"canvas\" x=\"0\" y=\"0\" width=\"{}\" height=\"{}\"/>",
            self.size.0, self.size.1
        );
        s
    }
}

/// The crop around the union of `boxes` (x, y, w, h) with a margin that shows their
/// neighbourhood; the whole image when there is no box. `None` when nothing can be drawn.
pub(crate) fn crop_around(boxes: &[[f64; 4]], (w, h): (u32, u32)) -> Option<[f64; 4]> {
    let mut u: Option<[f64; 4]> = None;
    for b in boxes.iter().filter(|b| b.iter().all(|v| v.is_finite())) {
        u = Some(match u {
            None => [b[0], b[1], b[0] + b[2], b[1] + b[3]],
            Some(u) => [
                u[0].min(b[0]),
                u[1].min(b[1]),
                u[2].max(b[0] + b[2]),
                u[3].max(b[1] + b[3]),
            ],
        });
    }
    let (w, h) = (f64::from(w), f64::from(h));
    let crop = match u {
        Some([x0, y0, x1, y1]) => {
            let pad = ((x1 - x0).max(y1 - y0) * 0.3).max(16.0);
            [
                x0 - pad,
                y0 - pad,
                (x1 - x0) + 2.0 * pad,
                (y1 - y0) + 2.0 * pad,
            ]
        }
        None if w > 0.0 && h > 0.0 => [0.0, 0.0, w, h],
        None => return None,
    };
    (crop.iter().all(|v| v.is_finite()) && crop[2] > 0.0 && crop[3] > 0.0).then_some(crop)
}

/// The file of image `name` in `dir`, when it is there (names resolved as the image rules do).
pub(crate) fn image_file(dir: &Path, name: &str) -> Option<PathBuf> {
    crate::validate::shared::files::candidates(dir, name)?
        .into_iter()
        .find(|p| p.is_file())
}

/// Whether two (x, y, w, h) boxes overlap.
pub(crate) fn intersects(a: [f64; 4], b: [f64; 4]) -> bool {
    a[0] < b[0] + b[2] && b[0] < a[0] + a[2] && a[1] < b[1] + b[3] && b[1] < a[1] + a[3]
}

/// One shape as SVG, twice: a dark halo under the colour, so that the outline reads on light
/// and dark images alike.
fn outline(out: &mut String, shape: &Shape, c: Rgb, stroke: Stroke, scale: f64) {
    let element = match shape {
        Shape::Ellipse(e) => {
            let mut s = format!(
                "<ellipse cx=\"{}\" cy=\"{}\" rx=\"{}\" ry=\"{}\"",
                num(e.cx),
                num(e.cy),
                num(e.rx),
                num(e.ry)
            );
            if e.rotation != 0.0 {
                let _ = write!(
                    s,
                    " transform=\"rotate({} {} {})\"",
                    num(e.rotation),
                    num(e.cx),
                    num(e.cy)
                );
            }
            s
        }
        Shape::Box(b) => format!("<polygon points=\"{}\"", points(&b.corners())),
        Shape::Polygon(rings) => {
            let mut d = String::new();
            for r in rings.iter().filter(|r| !r.is_empty()) {
                for (i, p) in r.iter().enumerate() {
                    let _ = write!(
                        d,
                        "{}{} {} ",
                        if i == 0 { "M" } else { "L" },
                        num(p[0]),
                        num(p[1])
                    );
                }
                d.push_str("Z ");
            }
            format!("<path fill-rule=\"evenodd\" d=\"{}\"", d.trim_end())
        }
        Shape::Polyline(p) => format!("<polyline points=\"{}\"", points(p)),
        Shape::Points(p) => {
            // Small circles of a constant on-screen size.
            let r = num(3.0 / scale);
            let mut s = String::from("<path d=\"");
            for q in p {
                let _ = write!(
                    s,
                    "M{} {} m-{r} 0 a{r} {r} 0 1 0 {d} 0 a{r} {r} 0 1 0 -{d} 0 ",
                    num(q[0]),
                    num(q[1]),
                    d = num(6.0 / scale)
                );
            }
            s.push('"');
            s
        }
        // The box of the mask's pixels: the pixels themselves are in the mask file.
        Shape::Mask(m) => match m.bbox() {
            Some(b) => format!(
                "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"",
                num(b[0]),
                num(b[1]),
                num(b[2]),
                num(b[3])
            ),
            None => return,
        },
        Shape::Tag => return,
    };
    let _ = write!(
        out,
        "{element} class=\"halo\"/>{element}{} stroke=\"{}\"/>",
        stroke.class(),
        hex(c)
    );
}

pub(crate) fn hex(c: Rgb) -> String {
    format!("#{:02x}{:02x}{:02x}", c.0[0], c.0[1], c.0[2])
}

fn points(p: &[[f64; 2]]) -> String {
    p.iter()
        .map(|q| format!("{},{}", num(q[0]), num(q[1])))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A coordinate to 0.1 px: finer than a screen pixel of any crop, and deterministic.
pub(crate) fn num(v: f64) -> String {
    let r = (v * 10.0).round() / 10.0;
    if r == r.trunc() {
        format!("{}", r as i64)
    } else {
        format!("{r:.1}")
    }
}

/// Embeds image (and mask) crops into the figures listed in `order`, the first `max` of
/// them that have a file to crop from; each file is decoded once. Returns (embedded, left
/// out over the cap, unreadable).
pub(crate) fn embed_crops(
    figures: &mut [Option<Figure>],
    order: &[usize],
    max: usize,
) -> (usize, usize, usize) {
    let want: Vec<usize> = order
        .iter()
        .copied()
        .filter(|&i| {
            figures
                .get(i)
                .and_then(Option::as_ref)
                .is_some_and(|g| g.image_path.is_some() || g.mask_path.is_some())
        })
        .collect();
    let left_out = want.len().saturating_sub(max);
    // (path, is mask) → figures cut from it.
    let mut by_path: BTreeMap<(PathBuf, bool), Vec<usize>> = BTreeMap::new();
    for &i in want.iter().take(max) {
        if let Some(g) = figures[i].as_ref() {
            if let Some(p) = &g.image_path {
                by_path.entry((p.clone(), false)).or_default().push(i);
            }
            if let Some(p) = &g.mask_path {
                by_path.entry((p.clone(), true)).or_default().push(i);
            }
        }
    }
    let mut failed = vec![false; figures.len()];
    for ((path, is_mask), list) in by_path {
        let img = decode(&path);
        for i in list {
            let Some(g) = figures[i].as_mut() else {
                continue;
            };
            match img.as_ref().and_then(|img| crop_png(img, g.crop, g.size)) {
                Some(r) if is_mask => g.mask_raster = Some(r),
                Some(r) => g.raster = Some(r),
                None => failed[i] = true,
            }
        }
    }
    let unreadable = failed.iter().filter(|&&f| f).count();
    let embedded = want
        .iter()
        .take(max)
        .filter(|&&i| !failed[i])
        .filter(|&&i| {
            figures[i]
                .as_ref()
                .is_some_and(|g| g.raster.is_some() || g.mask_raster.is_some())
        })
        .count();
    (embedded, left_out, unreadable)
}

fn decode(path: &Path) -> Option<image::RgbImage> {
    let reader = image::ImageReader::open(path)
        .ok()?
        .with_guessed_format()
        .ok()?;
    Some(reader.decode().ok()?.to_rgb8())
}

/// The part of `img` under `crop` (in the coordinates of an image of `size`, which the file
/// may not have: a mask of another size is stretched over the image), downscaled so that its
/// longer side is at most [`PICTURE_PX`], as an SVG `<image>` with a base64 PNG.
fn crop_png(img: &image::RgbImage, crop: [f64; 4], size: (u32, u32)) -> Option<String> {
    let (iw, ih) = (f64::from(img.width()), f64::from(img.height()));
    let sx = if size.0 > 0 {
        iw / f64::from(size.0)
    } else {
        1.0
    };
    let sy = if size.1 > 0 {
        ih / f64::from(size.1)
    } else {
        1.0
    };
    let x0 = (crop[0] * sx).max(0.0).floor();
    let y0 = (crop[1] * sy).max(0.0).floor();
    let x1 = ((crop[0] + crop[2]) * sx).min(iw).ceil();
    let y1 = ((crop[1] + crop[3]) * sy).min(ih).ceil();
    if !(x1 > x0 && y1 > y0) {
        return None;
    }
    let (cw, ch) = ((x1 - x0) as u32, (y1 - y0) as u32);
    let part = image::imageops::crop_imm(img, x0 as u32, y0 as u32, cw, ch).to_image();
    let f = (PICTURE_PX / f64::from(cw.max(ch))).min(1.0);
    let part = if f < 1.0 {
        let (nw, nh) = (
            ((f64::from(cw) * f).round() as u32).max(1),
            ((f64::from(ch) * f).round() as u32).max(1),
        );
        image::imageops::resize(&part, nw, nh, image::imageops::FilterType::Triangle)
    } else {
        part
    };
    let mut png = Vec::new();
    image::DynamicImage::ImageRgb8(part)
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .ok()?;
    Some(format!(
        "<image x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" preserveAspectRatio=\"none\" href=\"data:image/png;base64,{}\"/>",
        num(x0 / sx),
        num(y0 / sy),
        num(f64::from(cw) / sx),
        num(f64::from(ch) / sy),
        base64(&png)
    ))
}

/// Standard base64 with padding (RFC 4648).
pub(crate) fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(A[((n >> (18 - 6 * k)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// One filter of the page: a select over the values of `key` in the items (a string, or an
/// array of strings for items with several), set from the URL fragment by `param`.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct Facet {
    /// The item field, also the card's `data-` attribute.
    pub key: &'static str,
    /// Its name in the URL fragment.
    pub param: &'static str,
    pub label: &'static str,
    /// Values in this order first (e.g. error, warning, info), whether present or not.
    pub order: &'static [&'static str],
    /// The item field whose text names an option (e.g. "NS008 conflicting-labels"), when
    /// not the value itself; a fragment value may give that text's last word too.
    pub text: Option<&'static str>,
}

/// One card as the script draws it. Pages add their own fields (facet keys and data for
/// readers of the JSON) by flattening this into their item.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct CardView {
    /// The word before the heading (severity, kind of change), styled by `badge_class`.
    pub badge: String,
    pub badge_class: String,
    pub head: String,
    pub message: String,
    /// file:line:col, a link when `link` is set.
    pub loc: String,
    pub link: Option<String>,
    /// Image and annotation the card is about.
    pub what: Option<String>,
    pub svg: Option<String>,
    pub mask: Option<String>,
}

/// Page settings that reach the script.
#[derive(Serialize)]
struct Config<'a> {
    noun: &'a str,
    facets: &'a [Facet],
}

/// A legend: the class colours and what each line style means.
pub(crate) fn legend(classes: &[(String, Rgb)], strokes: &[(Stroke, &str)]) -> String {
    let mut out = String::from("<div class=\"legend\">");
    if !classes.is_empty() {
        out.push_str("<span class=\"legend-h\">Classes</span>");
        for (name, c) in classes {
            let _ = write!(
                out,
                "<span class=\"swatch\"><svg width=\"14\" height=\"14\" aria-hidden=\"true\"><rect x=\"1\" y=\"1\" width=\"12\" height=\"12\" fill=\"{}\"/></svg> {}</span>",
                hex(*c),
                escape::html(name)
            );
        }
    }
    if !strokes.is_empty() {
        out.push_str("<span class=\"legend-h\">Lines</span>");
        for (s, meaning) in strokes {
            let colour = if *s == Stroke::Old {
                "#b0b0b0"
            } else {
                "#e0e0e0"
            };
            let _ = write!(
                out,
                "<span class=\"swatch fig\"><svg width=\"36\" height=\"14\" aria-hidden=\"true\"><g class=\"shapes\"><line x1=\"2\" y1=\"7\" x2=\"34\" y2=\"7\" class=\"halo\"/><line x1=\"2\" y1=\"7\" x2=\"34\" y2=\"7\"{} stroke=\"{colour}\"/></g></svg> {}</span>",
                s.class(),
                escape::html(meaning)
            );
        }
    }
    out.push_str("</div>\n");
    out
}

/// The whole page: `header` is HTML the caller escaped; `items` serialise to the array the
/// script draws, each with the [`CardView`] fields and the facets' keys.
pub(crate) fn render<T: Serialize>(
    title: &str,
    header: &str,
    noun: &str,
    facets: &[Facet],
    items: &[T],
) -> String {
    // Serialising plain strings and numbers cannot fail; an empty array keeps the page usable.
    let json = serde_json::to_string(items).unwrap_or_else(|_| "[]".into());
    let config = serde_json::to_string(&Config { noun, facets }).unwrap_or_else(|_| "{}".into());
    let title = escape::html(title);
    let mut out = String::with_capacity(json.len() + 24_576);
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    // No request may leave the page: nothing loads but what is inline.
    out.push_str("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'\">\n");
    let _ = write!(out, "<title>{title}</title>\n<style>\n");
    out.push_str(CSS);
    let _ = write!(
        out,
        "</style>\n</head>\n<body>\n<header>\n<h1>{title}</h1>\n"
    );
    out.push_str(header);
    out.push_str("</header>\n<nav id=\"controls\">\n");
    for f in facets {
        let _ = writeln!(
            out,
            "<label>{} <select id=\"f-{}\"><option value=\"\">all</option></select></label>",
            escape::html(f.label),
            escape::html(f.key)
        );
    }
    let _ = write!(
        out,
        "<label>Search <input id=\"f-search\" type=\"search\" placeholder=\"words in the message\"></label>\n<span id=\"count\"></span>\n<a id=\"reset\" href=\"#\">clear filters</a>\n</nav>\n"
    );
    out.push_str("<main id=\"cards\"></main>\n<p id=\"more-wrap\"><button id=\"more\" type=\"button\" hidden>Show more</button></p>\n");
    let _ = writeln!(
        out,
        "<noscript><p>The cards are drawn by the page's script; the {} are in the JSON below.</p></noscript>",
        escape::html(noun)
    );
    out.push_str("<script type=\"application/json\" id=\"page-config\">");
    out.push_str(&escape::json_in_html_script(&config));
    out.push_str("</script>\n<script type=\"application/json\" id=\"findings\">");
    out.push_str(&escape::json_in_html_script(&json));
    out.push_str("</script>\n<script>\n");
    out.push_str(JS);
    out.push_str("</script>\n</body>\n</html>\n");
    out
}

const CSS: &str = r#"
:root { color-scheme: light dark; --bg: #fafafa; --fg: #1b1b1b; --card: #fff; --line: #d0d0d0;
  --error: #c62828; --warning: #b26a00; --info: #1565c0; --added: #2e7d32; --removed: #c62828;
  --moved: #1565c0; --relabeled: #8e24aa; }
@media (prefers-color-scheme: dark) { :root { --bg: #161616; --fg: #e6e6e6; --card: #222;
  --line: #444; --error: #ef6c6c; --warning: #f0b050; --info: #6fa8f0; --added: #66bb6a;
  --removed: #ef6c6c; --moved: #6fa8f0; --relabeled: #ce93d8; } }
body { margin: 0; padding: 0 1rem 2rem; background: var(--bg); color: var(--fg);
  font: 14px/1.4 system-ui, sans-serif; }
h1 { font-size: 1.3rem; margin: 1rem 0 .5rem; }
a { color: inherit; }
table.summary { border-collapse: collapse; margin: .5rem 0; }
table.summary th, table.summary td { border: 1px solid var(--line); padding: .2rem .6rem; text-align: left; }
table.summary td.n { text-align: right; font-variant-numeric: tabular-nums; }
.sev-error { color: var(--error); } .sev-warning { color: var(--warning); } .sev-info { color: var(--info); }
.kind-added { color: var(--added); } .kind-removed { color: var(--removed); }
.kind-moved { color: var(--moved); } .kind-relabeled { color: var(--relabeled); }
.legend { display: flex; flex-wrap: wrap; gap: .3rem 1rem; align-items: center; margin: .4rem 0; }
.legend-h { font-weight: 600; }
.swatch { display: inline-flex; align-items: center; gap: .3rem; }
.swatch svg { background: #333; border-radius: 2px; }
#controls { position: sticky; top: 0; background: var(--bg); padding: .5rem 0; display: flex;
  flex-wrap: wrap; gap: .5rem; align-items: center; border-bottom: 1px solid var(--line); z-index: 1; }
#controls select, #controls input { font: inherit; max-width: 22rem; }
#cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(320px, 1fr)); gap: .8rem; margin-top: .8rem; }
.card { background: var(--card); border: 1px solid var(--line); border-left: 4px solid var(--line);
  border-radius: 4px; padding: .5rem .7rem; overflow-wrap: anywhere; }
.card[data-severity=error] { border-left-color: var(--error); }
.card[data-severity=warning] { border-left-color: var(--warning); }
.card[data-severity=info] { border-left-color: var(--info); }
.card[data-kind~=added] { border-left-color: var(--added); }
.card[data-kind~=removed] { border-left-color: var(--removed); }
.card[data-kind~=moved] { border-left-color: var(--moved); }
.card[data-kind~=relabeled] { border-left-color: var(--relabeled); }
.card h2 { font-size: .95rem; margin: 0 0 .3rem; }
.card .msg { margin: .3rem 0; white-space: pre-wrap; }
.card .loc, .card .img { font-family: ui-monospace, monospace; font-size: .85rem; margin: .2rem 0; }
.figs { display: flex; flex-wrap: wrap; gap: .4rem; margin-top: .4rem; }
.figs .fig { flex: 1 1 0; min-width: 0; }
.figs .cap { font-size: .75rem; opacity: .75; }
.fig svg { display: block; max-width: 100%; height: auto; background: #333; }
.fig .canvas { fill: #8c8c8c; }
.fig image { image-rendering: pixelated; }
.fig .maskover { mix-blend-mode: screen; opacity: .55; }
.fig .shapes * { fill: none; stroke-width: 2px; vector-effect: non-scaling-stroke; }
.fig .shapes .halo { stroke: #000; stroke-opacity: .6; stroke-width: 4px; }
.fig .shapes .partner { stroke-dasharray: 6 4; }
.fig .shapes .counterpart { stroke-dasharray: 0.5 4; stroke-linecap: round; stroke-width: 3px; }
.fig .shapes .old { stroke: #b0b0b0; stroke-dasharray: 5 3; }
#more-wrap { text-align: center; }
"#;

// The cards are built with textContent and dataset, never from strings of markup, except
// the SVG pictures, which the renderer builds from numbers and base64 only.
const JS: &str = r#"(function () {
  'use strict';
  var $ = function (id) { return document.getElementById(id); };
  var cfg = JSON.parse($('page-config').textContent);
  var data = JSON.parse($('findings').textContent);
  var BATCH = 200;
  var list = $('cards'), more = $('more');
  function values(f, key) {
    var v = f[key];
    if (v === null || v === undefined) return [];
    return Array.isArray(v) ? v : [String(v)];
  }
  cfg.facets.forEach(function (fc) {
    var seen = {}, opts = [];
    fc.order.forEach(function (v) { seen[v] = 1; opts.push([v, v, 0]); });
    data.forEach(function (f) {
      values(f, fc.key).forEach(function (v) {
        if (!Object.prototype.hasOwnProperty.call(seen, v)) {
          seen[v] = 1; opts.push([v, fc.text ? String(f[fc.text]) : v, 1]);
        }
      });
    });
    var fixed = opts.filter(function (o) { return !o[2]; });
    var rest = opts.filter(function (o) { return o[2]; })
      .sort(function (a, b) { return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0; });
    var sel = $('f-' + fc.key);
    fixed.concat(rest).forEach(function (o) {
      var e = document.createElement('option');
      e.value = o[0]; e.textContent = o[1]; sel.appendChild(e);
    });
  });
  var shown = [], done = 0;
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function figure(svg, caption) {
    var d = el('div', 'fig');
    d.innerHTML = svg;
    if (caption) d.appendChild(el('div', 'cap', caption));
    return d;
  }
  function card(f) {
    var c = el('article', 'card');
    cfg.facets.forEach(function (fc) { c.dataset[fc.key] = values(f, fc.key).join(' '); });
    var h = el('h2');
    h.appendChild(el('span', f.badge_class, f.badge));
    h.appendChild(document.createTextNode(' ' + f.head));
    c.appendChild(h);
    c.appendChild(el('p', 'msg', f.message));
    if (f.loc) {
      var p = el('p', 'loc');
      if (f.link) { var a = el('a', '', f.loc); a.setAttribute('href', f.link); p.appendChild(a); }
      else { p.textContent = f.loc; }
      c.appendChild(p);
    }
    if (f.what) c.appendChild(el('p', 'img', f.what));
    if (f.svg) {
      var figs = el('div', 'figs');
      figs.appendChild(figure(f.svg, f.mask ? 'image' : ''));
      if (f.mask) figs.appendChild(figure(f.mask, 'mask'));
      c.appendChild(figs);
    }
    return c;
  }
  function next() {
    var end = Math.min(shown.length, done + BATCH), frag = document.createDocumentFragment();
    for (var i = done; i < end; i++) frag.appendChild(card(shown[i]));
    list.appendChild(frag);
    done = end;
    more.hidden = done >= shown.length;
  }
  function state() {
    var s = [];
    cfg.facets.forEach(function (fc) {
      var v = $('f-' + fc.key).value;
      if (v) s.push(fc.param + '=' + encodeURIComponent(v));
    });
    var q = $('f-search').value;
    if (q) s.push('q=' + encodeURIComponent(q));
    return s.join('&');
  }
  function apply() {
    var want = cfg.facets.map(function (fc) { return [fc.key, $('f-' + fc.key).value]; });
    var q = $('f-search').value.toLowerCase();
    shown = data.filter(function (f) {
      for (var i = 0; i < want.length; i++) {
        if (want[i][1] && values(f, want[i][0]).indexOf(want[i][1]) < 0) return false;
      }
      return !q || String(f.message).toLowerCase().indexOf(q) >= 0;
    });
    while (list.firstChild) list.removeChild(list.firstChild);
    done = 0;
    next();
    $('count').textContent = shown.length + ' of ' + data.length + ' ' + cfg.noun;
  }
  // The filters from `#param=value&q=words`; a value no item has is kept as an option of
  // its own, so that the link shows no cards rather than all of them.
  function fromHash() {
    var h = location.hash.replace(/^#/, ''), got = {};
    h.split('&').forEach(function (kv) {
      var i = kv.indexOf('=');
      if (i <= 0) return;
      try { got[kv.slice(0, i)] = decodeURIComponent(kv.slice(i + 1).replace(/\+/g, ' ')); }
      catch (e) { /* a malformed escape: that filter is left unset */ }
    });
    cfg.facets.forEach(function (fc) {
      var sel = $('f-' + fc.key), v = got[fc.param] || '';
      if (v) {
        var hit = null;
        for (var i = 0; i < sel.options.length; i++) {
          var o = sel.options[i], words = o.textContent.split(' ');
          if (o.value === v || (fc.text && words[words.length - 1] === v)) { hit = o.value; break; }
        }
        if (hit === null) {
          var e = document.createElement('option');
          e.value = v; e.textContent = v + ' (none)'; sel.appendChild(e); hit = v;
        }
        v = hit;
      }
      sel.value = v;
    });
    $('f-search').value = got.q || '';
    apply();
  }
  function changed() {
    apply();
    var s = state();
    try { history.replaceState(null, '', s ? '#' + s : location.pathname + location.search); }
    catch (e) { /* some file:// pages refuse: the filters still apply */ }
  }
  cfg.facets.forEach(function (fc) { $('f-' + fc.key).addEventListener('change', changed); });
  $('f-search').addEventListener('input', changed);
  $('reset').addEventListener('click', function (ev) {
    ev.preventDefault();
    cfg.facets.forEach(function (fc) { $('f-' + fc.key).value = ''; });
    $('f-search').value = '';
    changed();
  });
  window.addEventListener('hashchange', fromHash);
  more.addEventListener('click', next);
  if ('IntersectionObserver' in window) {
    new IntersectionObserver(function (es) {
      if (es.some(function (e) { return e.isIntersecting; }) && done < shown.length) next();
    }).observe($('more-wrap'));
  }
  fromHash();
})();
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(i.as_bytes()), o);
        }
    }

    #[test]
    fn crop_of_a_stretched_mask_lands_in_image_coordinates() {
        // A 50 × 40 mask over a 100 × 80 image: the crop (20, 20, 40, 40) is (10, 10, 20, 20)
        // of the mask, placed back at (20, 20) with size 40.
        let m = image::RgbImage::from_pixel(50, 40, image::Rgb([255, 0, 0]));
        let r = crop_png(&m, [20.0, 20.0, 40.0, 40.0], (100, 80)).unwrap();
        assert!(
            r.starts_with("<image x=\"20\" y=\"20\" width=\"40\" height=\"40\""),
            "{r}"
        );
        assert!(crop_png(&m, [500.0, 500.0, 10.0, 10.0], (100, 80)).is_none());
    }

    #[test]
    fn crop_around_pads_and_falls_back_to_the_image() {
        assert_eq!(
            crop_around(&[[10.0, 10.0, 100.0, 50.0]], (200, 200)),
            Some([-20.0, -20.0, 160.0, 110.0])
        );
        assert_eq!(crop_around(&[], (30, 20)), Some([0.0, 0.0, 30.0, 20.0]));
        assert_eq!(crop_around(&[], (0, 0)), None);
    }

    #[test]
    fn page_escapes_title_and_facet_labels() {
        let page = render::<CardView>("a <b> title", "<p>h</p>", "things", &[], &[]);
        assert!(page.contains("<title>a &lt;b&gt; title</title>"));
        assert!(page.contains("id=\"page-config\">{\"noun\":\"things\",\"facets\":[]}"));
        assert_eq!(page.matches("<script").count(), 3);
    }
}
