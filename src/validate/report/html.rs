//! A review page: one self-contained HTML file (inline CSS and JS, no network request) with a
//! summary by rule and severity and one card per finding, each with a picture of the shape
//! it is about.
//!
//! The findings travel as one JSON array inside `<script type="application/json">`; the
//! page's script builds the cards from it in batches as the reader scrolls, so a page of
//! 20,000 findings opens as fast as one of 20. Every piece of data reaches the page either
//! escaped for HTML ([`escape::html`]) or as JSON that the script puts into text nodes, never
//! as markup. The only markup in the JSON is the SVG pictures, built here from numbers,
//! colours and base64 alone.

use super::super::{Finding, Inputs, Severity};
use crate::escape;
use crate::labelset::{palette_color, LabelSet};
use crate::model::{Annotation, Dataset, Image, Rgb, Shape};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::PathBuf;

/// How many findings get a crop of their image embedded by default: each crop is up to
/// 256 × 256 px of PNG, so 500 keep a page in tens of MB at most.
pub(crate) const DEFAULT_MAX_CROPS: usize = 500;
/// Largest side of a picture on the page, in CSS pixels (and of an embedded crop).
const PICTURE_PX: f64 = 256.0;
/// Partners drawn per finding at most (a message rarely names more than two).
const MAX_PARTNERS: usize = 4;

/// Choices of the review page that are not in the findings.
#[derive(Clone, Debug)]
pub struct HtmlOptions {
    /// Base URL of the repository's files: a finding at `a/b.json` line 7 links to
    /// `{link_base}/a/b.json#L7`. No links when `None`.
    pub link_base: Option<String>,
    /// Findings whose picture embeds a crop of the image (the rest are drawn on a neutral
    /// canvas); the page says how many were left out.
    pub max_crops: usize,
    /// Findings silenced by the config and the baseline, for the header.
    pub ignored: usize,
    pub baselined: usize,
}

impl Default for HtmlOptions {
    fn default() -> Self {
        HtmlOptions {
            link_base: None,
            max_crops: DEFAULT_MAX_CROPS,
            ignored: 0,
            baselined: 0,
        }
    }
}

#[derive(Serialize)]
struct Card<'a> {
    code: &'a str,
    rule: &'a str,
    severity: &'static str,
    message: &'a str,
    file: &'a str,
    line: Option<u32>,
    column: Option<u32>,
    image: Option<&'a str>,
    annotation: Option<u64>,
    link: Option<String>,
    svg: Option<String>,
}

/// A dataset's images and annotations by name and id, and its class colours.
struct DatasetIndex<'a> {
    images: HashMap<&'a str, &'a Image>,
    annotations: HashMap<u64, &'a Annotation>,
    colours: HashMap<u64, Rgb>,
}

impl<'a> DatasetIndex<'a> {
    fn new(ds: &'a Dataset, given: Option<&LabelSet>) -> Self {
        let own;
        let set = match given {
            Some(s) => Some(s),
            None => {
                own = LabelSet::for_dataset(&ds.categories, None).ok();
                own.as_ref()
            }
        };
        let colours = ds
            .categories
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let rgb = set
                    .and_then(|s| s.by_name(&c.name))
                    .map(|k| k.color)
                    .or(c.color)
                    .unwrap_or_else(|| palette_color(i));
                (c.id.0, rgb)
            })
            .collect();
        DatasetIndex {
            images: ds
                .images
                .iter()
                .map(|im| (im.file_name.as_str(), im))
                .collect(),
            annotations: ds.annotations.iter().map(|a| (a.id.0, a)).collect(),
            colours,
        }
    }
}

/// What a card's picture shows: the crop rectangle in image coordinates, the image's size,
/// and the outlines (SVG elements) over it.
struct Figure {
    crop: [f64; 4],
    size: (u32, u32),
    outlines: String,
    /// The image file, when an image folder was given and it is there.
    image_path: Option<PathBuf>,
    raster: Option<String>,
}

/// The page with no inputs to draw from: the cards have no pictures.
pub(crate) fn render_findings(findings: &[Finding], opts: &HtmlOptions) -> String {
    render(findings, None, opts)
}

/// The review page of `findings`. With `inputs`, each finding about an annotation gets a
/// picture of it (and of the annotations its message names) on its image, or on a neutral
/// canvas of the image's size when there is no image folder.
pub fn render(findings: &[Finding], inputs: Option<&Inputs>, opts: &HtmlOptions) -> String {
    let mut figures: Vec<Option<Figure>> = match inputs {
        Some(inputs) => figures(findings, inputs),
        None => findings.iter().map(|_| None).collect(),
    };
    let (embedded, left_out, unreadable) = embed_crops(findings, &mut figures, opts.max_crops);
    let cards: Vec<Card<'_>> = findings
        .iter()
        .zip(figures)
        .map(|(f, fig)| Card {
            code: &f.code,
            rule: &f.rule,
            severity: f.severity.as_str(),
            message: &f.message,
            file: &f.file,
            line: f.line,
            column: f.column,
            image: f.image.as_deref(),
            annotation: f.annotation_id,
            link: opts.link_base.as_deref().map(|base| link(base, f)),
            svg: fig.map(|g| svg(&g)),
        })
        .collect();
    // Serialising plain strings and numbers cannot fail; an empty array keeps the page usable.
    let json = serde_json::to_string(&cards).unwrap_or_else(|_| "[]".into());

    let mut out = String::with_capacity(json.len() + 16_384);
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    // No request may leave the page: nothing loads but what is inline.
    out.push_str("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'\">\n");
    out.push_str("<title>neutrostruct validate: review</title>\n<style>\n");
    out.push_str(CSS);
    out.push_str("</style>\n</head>\n<body>\n<header>\n<h1>neutrostruct validate: review</h1>\n");
    summary(
        &mut out,
        findings,
        opts,
        inputs,
        (embedded, left_out, unreadable),
    );
    out.push_str("</header>\n");
    out.push_str(CONTROLS);
    out.push_str("<main id=\"cards\"></main>\n<p id=\"more-wrap\"><button id=\"more\" type=\"button\" hidden>Show more</button></p>\n");
    out.push_str("<noscript><p>The cards are drawn by the page's script; the findings are in the JSON below.</p></noscript>\n");
    out.push_str("<script type=\"application/json\" id=\"findings\">");
    out.push_str(&escape::json_in_html_script(&json));
    out.push_str("</script>\n<script>\n");
    out.push_str(JS);
    out.push_str("</script>\n</body>\n</html>\n");
    out
}

/// `{base}/{file}#L{line}`, the file path percent-encoded.
fn link(base: &str, f: &Finding) -> String {
    let mut s = format!(
        "{}/{}",
        base.trim_end_matches('/'),
        escape::url_path(f.file.trim_start_matches('/'))
    );
    if let Some(l) = f.line {
        let _ = write!(s, "#L{l}");
    }
    s
}

fn severity_rank(s: Severity) -> u8 {
    match s {
        Severity::Error => 0,
        Severity::Warning => 1,
        Severity::Info => 2,
    }
}

fn summary(
    out: &mut String,
    findings: &[Finding],
    opts: &HtmlOptions,
    inputs: Option<&Inputs>,
    (embedded, left_out, unreadable): (usize, usize, usize),
) {
    let s = super::super::Summary::of(findings);
    let _ = writeln!(
        out,
        "<p class=\"totals\"><span class=\"sev-error\">{} errors</span>, <span class=\"sev-warning\">{} warnings</span>, <span class=\"sev-info\">{} infos</span> in {} files.",
        s.errors,
        s.warnings,
        s.infos,
        super::group(findings).len()
    );
    if opts.ignored > 0 || opts.baselined > 0 {
        let _ = write!(
            out,
            " {} ignored by the configuration, {} known from the baseline.",
            opts.ignored, opts.baselined
        );
    }
    out.push_str("</p>\n");
    let mut rules: BTreeMap<(&str, &str), [usize; 3]> = BTreeMap::new();
    for f in findings {
        rules.entry((f.code.as_str(), f.rule.as_str())).or_default()
            [severity_rank(f.severity) as usize] += 1;
    }
    if !rules.is_empty() {
        out.push_str("<table class=\"summary\">\n<thead><tr><th>Code</th><th>Rule</th><th>Errors</th><th>Warnings</th><th>Infos</th></tr></thead>\n<tbody>\n");
        for ((code, rule), n) in &rules {
            let _ = writeln!(
                out,
                "<tr data-rule=\"{c}\"><td>{c}</td><td>{r}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                n[0],
                n[1],
                n[2],
                c = escape::html(code),
                r = escape::html(rule)
            );
        }
        out.push_str("</tbody>\n</table>\n");
    }
    let pictures = match inputs {
        None => "Findings are shown without pictures.".to_string(),
        Some(i) if i.images_dir.is_none() => {
            "No image folder was given: shapes are drawn on a neutral canvas of the image's size."
                .to_string()
        }
        Some(_) => {
            let mut p = format!("{embedded} pictures embed a crop of their image.");
            if left_out > 0 {
                let _ = write!(
                    p,
                    " {left_out} more were left out (at most {} are embedded) and are drawn on a neutral canvas.",
                    opts.max_crops
                );
            }
            if unreadable > 0 {
                let _ = write!(
                    p,
                    " {unreadable} could not be read from their image file and are drawn on a neutral canvas."
                );
            }
            p
        }
    };
    let _ = writeln!(
        out,
        "<p class=\"pictures\">{} Solid outline: the finding's shape, in its class colour; dashed: the other shapes its message names.</p>",
        escape::html(&pictures)
    );
}

/// The picture of each finding, when its file, image and annotation are found in `inputs`.
fn figures(findings: &[Finding], inputs: &Inputs) -> Vec<Option<Figure>> {
    let by_file: HashMap<String, usize> = (0..inputs.datasets.len())
        .map(|i| (inputs.file_label(i), i))
        .collect();
    let mut indexes: HashMap<usize, DatasetIndex<'_>> = HashMap::new();
    findings
        .iter()
        .map(|f| {
            let &d = by_file.get(&f.file)?;
            let idx = indexes.entry(d).or_insert_with(|| {
                DatasetIndex::new(&inputs.datasets[d].dataset, inputs.labelset.as_ref())
            });
            figure(f, idx, inputs)
        })
        .collect()
}

fn figure(f: &Finding, idx: &DatasetIndex<'_>, inputs: &Inputs) -> Option<Figure> {
    let main = f
        .annotation_id
        .and_then(|id| idx.annotations.get(&id).copied());
    let image: &Image = match (f.image.as_deref(), main) {
        (Some(name), _) => idx.images.get(name).copied()?,
        (None, Some(a)) => idx
            .images
            .values()
            .find(|im| im.id == a.image_id)
            .copied()?,
        (None, None) => return None,
    };
    let partners: Vec<&Annotation> = named_annotations(&f.message)
        .into_iter()
        .filter(|&id| Some(id) != f.annotation_id)
        .filter_map(|id| idx.annotations.get(&id).copied())
        .filter(|a| a.image_id == image.id)
        .take(MAX_PARTNERS)
        .collect();
    let (w, h) = (f64::from(image.width), f64::from(image.height));
    let mut bbox: Option<[f64; 4]> = None;
    for a in main.iter().chain(partners.iter()) {
        if !a.shape.is_finite() {
            continue;
        }
        if let Some(b) = a.shape.bbox() {
            bbox = Some(match bbox {
                None => [b[0], b[1], b[0] + b[2], b[1] + b[3]],
                Some(u) => [
                    u[0].min(b[0]),
                    u[1].min(b[1]),
                    u[2].max(b[0] + b[2]),
                    u[3].max(b[1] + b[3]),
                ],
            });
        }
    }
    // Around the shapes with a margin that shows their neighbourhood; the whole image when
    // the finding is about the image itself.
    let crop = match bbox {
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
    if !crop.iter().all(|v| v.is_finite()) || crop[2] <= 0.0 || crop[3] <= 0.0 {
        return None;
    }
    let scale = PICTURE_PX / crop[2].max(crop[3]);
    let mut outlines = String::new();
    for (a, dashed) in partners
        .iter()
        .map(|a| (*a, true))
        .chain(main.map(|a| (a, false)))
    {
        let colour = idx
            .colours
            .get(&a.category_id.0)
            .copied()
            .unwrap_or(Rgb([255, 255, 255]));
        if a.shape.is_finite() {
            outline(&mut outlines, &a.shape, colour, dashed, scale);
        }
    }
    let image_path = inputs.images_dir.as_deref().and_then(|dir| {
        crate::validate::shared::files::candidates(dir, &image.file_name)?
            .into_iter()
            .find(|p| p.is_file())
    });
    Some(Figure {
        crop,
        size: (image.width, image.height),
        outlines,
        image_path,
        raster: None,
    })
}

/// The ids after "annotation " (and "annotations ") in a message, in order, without repeats.
fn named_annotations(message: &str) -> Vec<u64> {
    let mut ids = Vec::new();
    let mut rest = message;
    while let Some(at) = rest.find("annotation") {
        rest = &rest[at + "annotation".len()..];
        let after = rest.strip_prefix('s').unwrap_or(rest);
        let Some(after) = after.strip_prefix(' ') else {
            continue;
        };
        let digits: &str = &after[..after
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(after.len())];
        if let Ok(id) = digits.parse::<u64>() {
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
    }
    ids
}

/// One shape as SVG, twice: a dark halo under the class colour, so that the outline reads on
/// light and dark images alike.
fn outline(out: &mut String, shape: &Shape, c: Rgb, dashed: bool, scale: f64) {
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
    let dash = if dashed { " class=\"partner\"" } else { "" };
    let _ = write!(
        out,
        "{element} class=\"halo\"/>{element}{dash} stroke=\"#{:02x}{:02x}{:02x}\"/>",
        c.0[0], c.0[1], c.0[2]
    );
}

fn points(p: &[[f64; 2]]) -> String {
    p.iter()
        .map(|q| format!("{},{}", num(q[0]), num(q[1])))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A coordinate to 0.1 px: finer than a screen pixel of any crop, and deterministic.
fn num(v: f64) -> String {
    let r = (v * 10.0).round() / 10.0;
    if r == r.trunc() {
        format!("{}", r as i64)
    } else {
        format!("{r:.1}")
    }
}

fn svg(g: &Figure) -> String {
    let [x, y, w, h] = g.crop;
    let scale = PICTURE_PX / w.max(h);
    let mut s = format!(
        "<svg viewBox=\"{} {} {} {}\" width=\"{}\" height=\"{}\" role=\"img\">",
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
        g.size.0, g.size.1
    );
    if let Some(r) = &g.raster {
        s.push_str(r);
    }
    let _ = write!(s, "<g class=\"shapes\">{}</g></svg>", g.outlines);
    s
}

/// Embeds image crops into the first `max` pictures whose image file was found, errors
/// first; each image file is decoded once. Returns (embedded, left out over the cap,
/// unreadable).
fn embed_crops(
    findings: &[Finding],
    figures: &mut [Option<Figure>],
    max: usize,
) -> (usize, usize, usize) {
    let mut want: Vec<usize> = (0..figures.len())
        .filter(|&i| figures[i].as_ref().is_some_and(|g| g.image_path.is_some()))
        .collect();
    want.sort_by_key(|&i| (severity_rank(findings[i].severity), i));
    let left_out = want.len().saturating_sub(max);
    want.truncate(max);
    let mut by_path: BTreeMap<PathBuf, Vec<usize>> = BTreeMap::new();
    for i in want {
        if let Some(p) = figures[i].as_ref().and_then(|g| g.image_path.clone()) {
            by_path.entry(p).or_default().push(i);
        }
    }
    let (mut embedded, mut unreadable) = (0, 0);
    for (path, list) in by_path {
        let Some(img) = decode(&path) else {
            unreadable += list.len();
            continue;
        };
        for i in list {
            let Some(g) = figures[i].as_mut() else {
                continue;
            };
            match crop_png(&img, g.crop) {
                Some(r) => {
                    g.raster = Some(r);
                    embedded += 1;
                }
                None => unreadable += 1,
            }
        }
    }
    (embedded, left_out, unreadable)
}

fn decode(path: &std::path::Path) -> Option<image::RgbImage> {
    let reader = image::ImageReader::open(path)
        .ok()?
        .with_guessed_format()
        .ok()?;
    Some(reader.decode().ok()?.to_rgb8())
}

/// The part of `img` under `crop`, downscaled so that its longer side is at most
/// [`PICTURE_PX`], as an SVG `<image>` with a base64 PNG, placed in image coordinates.
fn crop_png(img: &image::RgbImage, crop: [f64; 4]) -> Option<String> {
    let (iw, ih) = (f64::from(img.width()), f64::from(img.height()));
    let x0 = crop[0].max(0.0).floor();
    let y0 = crop[1].max(0.0).floor();
    let x1 = (crop[0] + crop[2]).min(iw).ceil();
    let y1 = (crop[1] + crop[3]).min(ih).ceil();
    if x1 <= x0 || y1 <= y0 {
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
        "<image x=\"{}\" y=\"{}\" width=\"{cw}\" height=\"{ch}\" preserveAspectRatio=\"none\" href=\"data:image/png;base64,{}\"/>",
        x0 as u32,
        y0 as u32,
        base64(&png)
    ))
}

/// Standard base64 with padding (RFC 4648).
fn base64(bytes: &[u8]) -> String {
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

const CSS: &str = r#"
:root { color-scheme: light dark; --bg: #fafafa; --fg: #1b1b1b; --card: #fff; --line: #d0d0d0;
  --error: #c62828; --warning: #b26a00; --info: #1565c0; }
@media (prefers-color-scheme: dark) { :root { --bg: #161616; --fg: #e6e6e6; --card: #222;
  --line: #444; --error: #ef6c6c; --warning: #f0b050; --info: #6fa8f0; } }
body { margin: 0; padding: 0 1rem 2rem; background: var(--bg); color: var(--fg);
  font: 14px/1.4 system-ui, sans-serif; }
h1 { font-size: 1.3rem; margin: 1rem 0 .5rem; }
table.summary { border-collapse: collapse; margin: .5rem 0; }
table.summary th, table.summary td { border: 1px solid var(--line); padding: .2rem .6rem; text-align: left; }
.sev-error { color: var(--error); } .sev-warning { color: var(--warning); } .sev-info { color: var(--info); }
#controls { position: sticky; top: 0; background: var(--bg); padding: .5rem 0; display: flex;
  flex-wrap: wrap; gap: .5rem; align-items: center; border-bottom: 1px solid var(--line); z-index: 1; }
#controls select, #controls input { font: inherit; max-width: 22rem; }
#cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(300px, 1fr)); gap: .8rem; margin-top: .8rem; }
.card { background: var(--card); border: 1px solid var(--line); border-left: 4px solid var(--line);
  border-radius: 4px; padding: .5rem .7rem; overflow-wrap: anywhere; }
.card[data-severity=error] { border-left-color: var(--error); }
.card[data-severity=warning] { border-left-color: var(--warning); }
.card[data-severity=info] { border-left-color: var(--info); }
.card h2 { font-size: .95rem; margin: 0 0 .3rem; }
.card .msg { margin: .3rem 0; white-space: pre-wrap; }
.card .loc, .card .img { font-family: ui-monospace, monospace; font-size: .85rem; }
.fig svg { display: block; max-width: 100%; height: auto; background: #333; margin-top: .4rem; }
.fig .canvas { fill: #8c8c8c; }
.fig image { image-rendering: pixelated; }
.fig .shapes * { fill: none; stroke-width: 2px; vector-effect: non-scaling-stroke; }
.fig .shapes .halo { stroke: #000; stroke-opacity: .6; stroke-width: 4px; }
.fig .shapes .partner { stroke-dasharray: 6 4; }
#more-wrap { text-align: center; }
"#;

const CONTROLS: &str = r#"<nav id="controls">
<label>Severity <select id="f-severity"><option value="">all</option><option>error</option><option>warning</option><option>info</option></select></label>
<label>Rule <select id="f-rule"><option value="">all</option></select></label>
<label>File <select id="f-file"><option value="">all</option></select></label>
<label>Image <select id="f-image"><option value="">all</option></select></label>
<label>Search <input id="f-search" type="search" placeholder="words in the message"></label>
<span id="count"></span>
</nav>
"#;

// The cards are built with textContent and dataset, never from strings of markup, except
// the SVG pictures, which the renderer builds from numbers and base64 only.
const JS: &str = r#"(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('findings').textContent);
  var BATCH = 200;
  var $ = function (id) { return document.getElementById(id); };
  var list = $('cards'), more = $('more');
  function fill(sel, values) {
    values.forEach(function (v) {
      var o = document.createElement('option');
      o.value = v[0]; o.textContent = v[1]; sel.appendChild(o);
    });
  }
  function uniq(key, label) {
    var seen = {}, out = [];
    data.forEach(function (f) {
      var k = key(f);
      if (k !== null && k !== undefined && !Object.prototype.hasOwnProperty.call(seen, k)) {
        seen[k] = 1; out.push([k, label(f)]);
      }
    });
    return out.sort(function (a, b) { return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0; });
  }
  fill($('f-rule'), uniq(function (f) { return f.code; }, function (f) { return f.code + ' ' + f.rule; }));
  fill($('f-file'), uniq(function (f) { return f.file; }, function (f) { return f.file; }));
  fill($('f-image'), uniq(function (f) { return f.image; }, function (f) { return f.image; }));
  var shown = [], done = 0;
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function card(f) {
    var c = el('article', 'card');
    c.dataset.code = f.code;
    c.dataset.severity = f.severity;
    var h = el('h2');
    h.appendChild(el('span', 'sev-' + f.severity, f.severity));
    h.appendChild(document.createTextNode(' ' + f.code + ' ' + f.rule));
    c.appendChild(h);
    c.appendChild(el('p', 'msg', f.message));
    var loc = f.file + (f.line ? ':' + f.line + (f.column ? ':' + f.column : '') : '');
    var p = el('p', 'loc');
    if (f.link) { var a = el('a', '', loc); a.setAttribute('href', f.link); p.appendChild(a); }
    else { p.textContent = loc; }
    c.appendChild(p);
    if (f.image !== null || f.annotation !== null) {
      var what = (f.image !== null ? 'image ' + f.image : '') +
        (f.annotation !== null ? (f.image !== null ? ', ' : '') + 'annotation ' + f.annotation : '');
      c.appendChild(el('p', 'img', what));
    }
    if (f.svg) { var fig = el('div', 'fig'); fig.innerHTML = f.svg; c.appendChild(fig); }
    return c;
  }
  function next() {
    var end = Math.min(shown.length, done + BATCH), frag = document.createDocumentFragment();
    for (var i = done; i < end; i++) frag.appendChild(card(shown[i]));
    list.appendChild(frag);
    done = end;
    more.hidden = done >= shown.length;
  }
  function apply() {
    var sev = $('f-severity').value, rule = $('f-rule').value, file = $('f-file').value,
      image = $('f-image').value, q = $('f-search').value.toLowerCase();
    shown = data.filter(function (f) {
      return (!sev || f.severity === sev) && (!rule || f.code === rule) &&
        (!file || f.file === file) && (!image || f.image === image) &&
        (!q || f.message.toLowerCase().indexOf(q) >= 0);
    });
    while (list.firstChild) list.removeChild(list.firstChild);
    done = 0;
    next();
    $('count').textContent = shown.length + ' of ' + data.length + ' findings';
  }
  ['f-severity', 'f-rule', 'f-file', 'f-image'].forEach(function (id) { $(id).addEventListener('change', apply); });
  $('f-search').addEventListener('input', apply);
  more.addEventListener('click', next);
  if ('IntersectionObserver' in window) {
    new IntersectionObserver(function (es) {
      if (es.some(function (e) { return e.isIntersecting; }) && done < shown.length) next();
    }).observe($('more-wrap'));
  }
  apply();
})();
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::report::sample;
    use crate::validate::testutil::*;
    use crate::validate::SourceFormat;

    fn sample_inputs() -> Inputs {
        let json = dataset(
            four(),
            vec![
                image(1, "cell_01.tif", 200, 150, 3),
                image(2, "cell_02.tif", 4096, 4224, 4),
            ],
            vec![
                ann(6, 1, 1, ellipse(60.0, 50.0, 20.0, 12.0, 30.0), 50),
                ann(7, 1, 2, ellipse(70.0, 55.0, 18.0, 10.0, 0.0), 57),
                ann(
                    9,
                    2,
                    3,
                    crate::model::Shape::Polygon(vec![vec![
                        [10.0, 10.0],
                        [40.0, 12.0],
                        [25.0, 30.0],
                    ]]),
                    80,
                ),
            ],
        );
        Inputs {
            datasets: vec![input("annotations/train.json", SourceFormat::Coco, json)],
            ..Inputs::default()
        }
    }

    #[test]
    fn page_snapshot() {
        let opts = HtmlOptions {
            link_base: Some("https://example.org/repo/blob/main/".into()),
            ..HtmlOptions::default()
        };
        let page = render(&sample::findings(), Some(&sample_inputs()), &opts);
        // With the other report snapshots, in the crate's `snapshots/`.
        insta::with_settings!({snapshot_path => "../../../snapshots", prepend_module_to_snapshot => false, omit_expression => true}, {
            insta::assert_snapshot!("report_html_page", page);
        });
    }

    /// The JSON array the page embeds.
    fn cards(page: &str) -> serde_json::Value {
        let tag = "id=\"findings\">";
        let start = page.find(tag).unwrap() + tag.len();
        let end = start + page[start..].find("</script>").unwrap();
        serde_json::from_str(&page[start..end]).unwrap()
    }

    #[test]
    fn overlap_partner_is_dashed_and_main_solid() {
        let page = render(
            &sample::findings(),
            Some(&sample_inputs()),
            &HtmlOptions::default(),
        );
        let v = cards(&page);
        let svg = v[2]["svg"].as_str().unwrap();
        // Annotation 6 is named in the message of the finding about 7: drawn as a partner.
        assert!(svg.contains(r#"<ellipse cx="60" cy="50" rx="20" ry="12" transform="rotate(30 60 50)" class="partner""#), "{svg}");
        assert!(
            svg.contains(r#"<ellipse cx="70" cy="55" rx="18" ry="10" stroke="#),
            "{svg}"
        );
        // Class colours of the 4-class set (annotation 7 is class 2, 6 is class 1): differ.
        assert_eq!(svg.matches("stroke=\"#").count(), 2);
        // No card markup in the static page: the script builds every card.
        assert_eq!(page.matches("data-code=").count(), 0);
        assert!(page.contains("No image folder was given"));
        // A finding about a file has no picture.
        assert!(v[0]["svg"].is_null());
    }

    #[test]
    fn hostile_message_is_inert() {
        let mut f = sample::findings();
        f[0].message = "</script><script>alert(1)</script><img src=x onerror=alert(2)>".into();
        f[0].file = "a\"><script>alert(3)</script>.json".into();
        f[0].rule = "<b>rule</b>".into();
        let page = render(
            &f,
            None,
            &HtmlOptions {
                link_base: Some("https://example.org".into()),
                ..HtmlOptions::default()
            },
        );
        assert_eq!(page.matches("<script").count(), 2, "{page}");
        assert_eq!(page.matches("</script>").count(), 2);
        assert!(!page.contains("<img"));
        assert!(!page.contains("<b>rule"));
        assert!(page.contains("\\u003c/script\\u003e\\u003cscript\\u003ealert(1)"));
        // The link's path is percent-encoded: no quote or angle bracket reaches the href.
        assert!(
            page.contains("https://example.org/a%22%3E%3Cscript%3Ealert%283%29%3C/script%3E.json")
        );
        // The JSON still parses to the original message.
        let v = cards(&page);
        assert_eq!(v[0]["message"], f[0].message.as_str());
    }

    #[test]
    fn crops_are_embedded_under_the_cap_and_counted() {
        let dir = tempfile::tempdir().unwrap();
        let img = image::RgbImage::from_fn(200, 150, |x, y| image::Rgb([x as u8, y as u8, 90]));
        img.save(dir.path().join("cell_01.tif")).unwrap();
        let mut inputs = sample_inputs();
        inputs.images_dir = Some(dir.path().to_path_buf());
        let findings = sample::findings();
        let page = render(
            &findings,
            Some(&inputs),
            &HtmlOptions {
                max_crops: 1,
                ..HtmlOptions::default()
            },
        );
        assert_eq!(page.matches("data:image/png;base64,").count(), 1);
        // Findings 2 and 3 are on cell_01.tif; one is over the cap.
        assert!(page.contains("1 pictures embed a crop of their image. 1 more were left out (at most 1 are embedded)"), "{page}");
    }

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
    fn named_annotations_finds_ids() {
        assert_eq!(
            named_annotations("overlaps annotation 6 heavily; annotations 8, and annotation 6"),
            vec![6, 8]
        );
        assert_eq!(named_annotations("annotation x"), Vec::<u64>::new());
    }
}
