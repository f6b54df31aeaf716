//! Diameter histograms per image with the thresholds drawn, and an overview across images.
//!
//! SVG: the viewer draws the text, so SVG plots never need a font on this machine (titles and
//! legends are written as `<text>` directly). PNG: plotters rasterises text with ab_glyph
//! from a TrueType font found at run time (`FONT_PATHS` or `NEUTROSTRUCT_FONT`); with no
//! font the PNG is drawn without text and a warning says so. No system libraries
//! (freetype, fontconfig) are involved.

use super::stats::{ImageStats, Statistics};
use crate::error::{Error, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Where a sans-serif TrueType font is looked for, in order (after `NEUTROSTRUCT_FONT`).
pub(crate) const FONT_PATHS: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/liberation-sans/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/freefont/FreeSans.ttf",
    "/System/Library/Fonts/Supplemental/Arial.ttf",
    "/Library/Fonts/Arial.ttf",
    "C:\\Windows\\Fonts\\arial.ttf",
];

const FAMILY: &str = "sans-serif";
const SIZE: (u32, u32) = (900, 520);
const MEDIAN_COLOUR: RGBColor = RGBColor(0, 90, 200);
const THRESHOLD_COLOUR: RGBColor = RGBColor(220, 30, 60);
const BAR_COLOUR: RGBColor = RGBColor(150, 150, 150);

/// Output format of the plots.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlotFormat {
    /// Scalable vector graphics (needs no font to write).
    Svg,
    /// PNG (needs a TrueType font for its text).
    Png,
}

impl PlotFormat {
    /// The file extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            PlotFormat::Svg => "svg",
            PlotFormat::Png => "png",
        }
    }
}

/// The format plots get when none is asked for: PNG when a TrueType font is found (text
/// needs it there), else SVG, whose text the viewer draws, with a note saying why.
pub fn default_format() -> (PlotFormat, Option<String>) {
    match system_font() {
        Some(_) => (PlotFormat::Png, None),
        None => (
            PlotFormat::Svg,
            Some(format!(
                "plots are SVG: no TrueType font was found for PNG text (looked at $NEUTROSTRUCT_FONT and {}, …); install fonts-dejavu-core or point NEUTROSTRUCT_FONT at a .ttf for PNG",
                FONT_PATHS[0]
            )),
        ),
    }
}

/// What [`write_plots`] wrote, and what the user should know.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PlotReport {
    /// The plot files written.
    pub files: Vec<PathBuf>,
    /// What the user should know (e.g. SVG written because no font was found).
    pub warnings: Vec<String>,
}

/// Registers a system TrueType font with plotters once per process; `Some(path)` when found.
/// The font bytes are leaked on purpose: plotters keeps `'static` references.
pub(crate) fn system_font() -> Option<&'static Path> {
    static FONT: OnceLock<Option<PathBuf>> = OnceLock::new();
    FONT.get_or_init(|| {
        let env = std::env::var_os("NEUTROSTRUCT_FONT").map(PathBuf::from);
        for p in env.into_iter().chain(FONT_PATHS.iter().map(PathBuf::from)) {
            if let Ok(bytes) = std::fs::read(&p) {
                let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
                if plotters::style::register_font(FAMILY, FontStyle::Normal, bytes).is_ok() {
                    return Some(p);
                }
            }
        }
        None
    })
    .as_deref()
}

type DrawErr<DB> = DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>;

/// One line of text at a pixel position; for SVG this needs no font (the viewer draws it).
/// Image names reach it: plotters escapes `<`, `&` and quotes in SVG but passes control
/// characters, which XML 1.0 cannot hold, so they are shown (`\x01`) by `escape::text`.
fn label<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    text: &str,
    pos: (i32, i32),
    size: f64,
    colour: RGBColor,
) -> Result<(), DrawErr<DB>> {
    root.draw_text(
        &crate::escape::text(text),
        &TextStyle::from((FAMILY, size).into_font()).color(&colour),
        pos,
    )
}

/// Histogram of one image's granule diameters with the median and the vacuole threshold.
/// `mesh_text`: tick labels and axis titles (need font metrics); `text`: any text at all.
fn draw_histogram<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    s: &ImageStats,
    diameters: &[f64],
    text: bool,
    mesh_text: bool,
) -> Result<(), DrawErr<DB>> {
    root.fill(&WHITE)?;
    let max_d = diameters.iter().copied().fold(0.0f64, f64::max);
    let lines = [s.median, s.average_diameter_sg_pg];
    let x_max = lines
        .iter()
        .flatten()
        .copied()
        .fold(max_d, f64::max)
        .max(1e-3)
        * 1.08;
    let bins = 30usize;
    let width = x_max / bins as f64;
    let mut counts = vec![0u32; bins];
    for &d in diameters {
        counts[((d / width) as usize).min(bins - 1)] += 1;
    }
    let y_max = counts.iter().copied().max().unwrap_or(0).max(1) + 1;
    let mut builder = ChartBuilder::on(&root);
    builder.margin(20).margin_top(if text { 50 } else { 20 });
    if mesh_text {
        builder.x_label_area_size(45).y_label_area_size(55);
    }
    let mut chart = builder.build_cartesian_2d(0.0..x_max, 0u32..y_max)?;
    let mut mesh = chart.configure_mesh();
    mesh.disable_x_mesh().light_line_style(WHITE);
    if mesh_text {
        mesh.x_desc("diameter d (µm)")
            .y_desc("granules")
            .label_style((FAMILY, 14))
            .axis_desc_style((FAMILY, 15));
    } else {
        // No font metrics: keep the ticks, make their labels invisible (never rasterised).
        mesh.label_style(TextStyle::from((FAMILY, 12).into_font()).color(&TRANSPARENT));
    }
    mesh.draw()?;
    chart.draw_series(
        counts
            .iter()
            .enumerate()
            .filter(|(_, &c)| c > 0)
            .map(|(i, &c)| {
                let x0 = i as f64 * width;
                Rectangle::new([(x0, 0), (x0 + width, c)], BAR_COLOUR.filled())
            }),
    )?;
    for (v, colour) in [
        (s.median, MEDIAN_COLOUR),
        (s.average_diameter_sg_pg, THRESHOLD_COLOUR),
    ] {
        if let Some(v) = v {
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(v, 0), (v, y_max)],
                colour.stroke_width(3),
            )))?;
        }
    }
    if text {
        let pooled = if s.pooled {
            " — no granules: pooled statistics"
        } else {
            ""
        };
        label(
            &root,
            &format!(
                "{} — {} granules, {} px/µm{pooled}",
                s.image_name, s.granules, s.px_per_um
            ),
            (20, 6),
            18.0,
            BLACK,
        )?;
        let f = |v: Option<f64>| v.map_or("–".to_string(), |v| format!("{v:.4} µm"));
        label(
            &root,
            &format!("▌median {}", f(s.median)),
            (80, 30),
            15.0,
            MEDIAN_COLOUR,
        )?;
        label(
            &root,
            &format!(
                "▌vacuole threshold (average_diameter_sg_pg) {}",
                f(s.average_diameter_sg_pg)
            ),
            (300, 30),
            15.0,
            THRESHOLD_COLOUR,
        )?;
    }
    root.present()
}

/// Most characters of an image name on the overview's x axis; longer names keep their
/// start and end (where numbering usually is) around `…`.
const AXIS_NAME_CHARS: usize = 22;

/// An image name as the overview's x axis shows it: the file stem, abbreviated.
pub fn axis_name(image_name: &str) -> String {
    let stem = Path::new(image_name)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or(image_name);
    let chars: Vec<char> = stem.chars().collect();
    if chars.len() <= AXIS_NAME_CHARS {
        return stem.to_owned();
    }
    let half = (AXIS_NAME_CHARS - 1) / 2;
    let head: String = chars[..half].iter().collect();
    let tail: String = chars[chars.len() - half..].iter().collect();
    format!("{head}…{tail}")
}

/// Pixels per image on the overview's x axis: room for one rotated name each.
const OVERVIEW_PX_PER_IMAGE: u32 = 14;
/// Height reserved below the overview's axis for the rotated names (~7 px a character).
const OVERVIEW_NAME_AREA: u32 = 7 * AXIS_NAME_CHARS as u32 + 10;

/// Size of the overview: wide enough that every image gets its name on the x axis.
fn overview_size(n: usize) -> (u32, u32) {
    let w = (160 + OVERVIEW_PX_PER_IMAGE * n as u32).max(SIZE.0);
    (w, SIZE.1 + OVERVIEW_NAME_AREA)
}

/// Median and vacuole threshold of every image, in table order, each named on the x axis.
fn draw_overview<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    images: &[ImageStats],
    text: bool,
    mesh_text: bool,
) -> Result<(), DrawErr<DB>> {
    root.fill(&WHITE)?;
    let y_max = images
        .iter()
        .flat_map(|s| [s.median, s.average_diameter_sg_pg])
        .flatten()
        .fold(0.0f64, f64::max)
        .max(1e-3)
        * 1.15;
    let n = images.len().max(1) as f64;
    let mut builder = ChartBuilder::on(&root);
    // The names are drawn below the axis by hand (rotated, one per image), in a margin rather
    // than plotters' label area, whose numeric ticks they replace.
    builder
        .margin(20)
        .margin_top(if text { 50 } else { 20 })
        .margin_bottom(20 + OVERVIEW_NAME_AREA);
    if mesh_text {
        builder.y_label_area_size(60);
    }
    let mut chart = builder.build_cartesian_2d(-0.5..n - 0.5, 0.0..y_max)?;
    let mut mesh = chart.configure_mesh();
    mesh.disable_x_mesh().light_line_style(WHITE);
    if mesh_text {
        mesh.y_desc("diameter (µm)")
            .label_style((FAMILY, 14))
            .axis_desc_style((FAMILY, 15));
    } else {
        // No font metrics: keep the ticks, make their labels invisible (never rasterised).
        mesh.label_style(TextStyle::from((FAMILY, 12).into_font()).color(&TRANSPARENT));
    }
    mesh.draw()?;
    for (pick, colour) in [(0usize, MEDIAN_COLOUR), (1, THRESHOLD_COLOUR)] {
        let pts: Vec<(f64, f64)> = images
            .iter()
            .enumerate()
            .filter_map(|(i, s)| [s.median, s.average_diameter_sg_pg][pick].map(|v| (i as f64, v)))
            .collect();
        chart.draw_series(LineSeries::new(pts.iter().copied(), colour.stroke_width(2)))?;
        chart.draw_series(pts.iter().map(|&p| Circle::new(p, 4, colour.filled())))?;
    }
    // Pooled images (no granules) are marked with an open square.
    chart.draw_series(
        images
            .iter()
            .enumerate()
            .filter(|(_, s)| s.pooled)
            .filter_map(|(i, s)| {
                s.median.map(|v| {
                    Rectangle::new(
                        [(i as f64 - 0.3, v * 0.97), (i as f64 + 0.3, v * 1.03)],
                        BLACK.stroke_width(1),
                    )
                })
            }),
    )?;
    if text {
        // SVG text needs no metrics (the viewer lays it out); PNG text needs the font, which
        // `text` implies there.
        let style = TextStyle::from((FAMILY, 11).into_font())
            .color(&BLACK)
            .transform(FontTransform::Rotate270)
            .pos(plotters::style::text_anchor::Pos::new(
                plotters::style::text_anchor::HPos::Right,
                plotters::style::text_anchor::VPos::Center,
            ));
        for (i, s) in images.iter().enumerate() {
            let (x, y) = chart.backend_coord(&(i as f64, 0.0));
            root.draw_text(
                &crate::escape::text(&axis_name(&s.image_name)),
                &style,
                (x, y + 6),
            )?;
        }
        label(
            &root,
            &format!("Granule diameters per image ({} images)", images.len()),
            (20, 6),
            18.0,
            BLACK,
        )?;
        label(&root, "● median", (80, 30), 15.0, MEDIAN_COLOUR)?;
        label(
            &root,
            "● vacuole threshold (average_diameter_sg_pg)",
            (200, 30),
            15.0,
            THRESHOLD_COLOUR,
        )?;
        if images.iter().any(|s| s.pooled) {
            label(
                &root,
                "□ no granules: pooled values",
                (560, 30),
                15.0,
                BLACK,
            )?;
        }
    }
    root.present()
}

/// Renders through `draw` into SVG or PNG bytes. `font` says whether a font is registered.
fn render(
    format: PlotFormat,
    font: bool,
    size: (u32, u32),
    draw_svg: impl FnOnce(
        DrawingArea<SVGBackend<'_>, Shift>,
        bool,
        bool,
    ) -> Result<(), DrawErr<SVGBackend<'_>>>,
    draw_png: impl FnOnce(
        DrawingArea<BitMapBackend<'_>, Shift>,
        bool,
        bool,
    ) -> Result<(), DrawErr<BitMapBackend<'_>>>,
) -> Result<Vec<u8>> {
    let fail = |e: String| Error::Usage(format!("drawing a plot: {e}"));
    match format {
        PlotFormat::Svg => {
            let mut s = String::new();
            {
                let root = SVGBackend::with_string(&mut s, size).into_drawing_area();
                // Axis tick labels need text metrics; without a font they are left out but
                // titles and legends are still written as SVG text.
                draw_svg(root, true, font).map_err(|e| fail(e.to_string()))?;
            }
            Ok(s.into_bytes())
        }
        PlotFormat::Png => {
            let (w, h) = size;
            let mut buf = vec![255u8; (w * h * 3) as usize];
            {
                let root = BitMapBackend::with_buffer(&mut buf, size).into_drawing_area();
                draw_png(root, font, font).map_err(|e| fail(e.to_string()))?;
            }
            let img =
                image::RgbImage::from_raw(w, h, buf).ok_or_else(|| fail("bitmap size".into()))?;
            let mut out = std::io::Cursor::new(Vec::new());
            img.write_to(&mut out, image::ImageFormat::Png)
                .map_err(|e| fail(e.to_string()))?;
            Ok(out.into_inner())
        }
    }
}

/// The histogram of one image as SVG or PNG bytes. `font`: whether a font is registered
/// (see `system_font`).
pub fn histogram_bytes(
    s: &ImageStats,
    diameters: &[f64],
    format: PlotFormat,
    font: bool,
) -> Result<Vec<u8>> {
    render(
        format,
        font,
        SIZE,
        |root, t, m| draw_histogram(root, s, diameters, t, m),
        |root, t, m| draw_histogram(root, s, diameters, t, m),
    )
}

/// The overview plot (median and threshold per image) as SVG or PNG bytes.
pub fn overview_bytes(images: &[ImageStats], format: PlotFormat, font: bool) -> Result<Vec<u8>> {
    render(
        format,
        font,
        overview_size(images.len()),
        |root, t, m| draw_overview(root, images, t, m),
        |root, t, m| draw_overview(root, images, t, m),
    )
}

/// Writes one histogram per image (`<image stem>.<ext>`) and `overview.<ext>` into `dir`.
pub fn write_plots(stats: &Statistics, dir: &Path, format: PlotFormat) -> Result<PlotReport> {
    let mut report = PlotReport::default();
    let font = system_font().is_some();
    if !font {
        report.warnings.push(match format {
            PlotFormat::Png => format!(
                "no TrueType font found (looked at $NEUTROSTRUCT_FONT and {}); PNG plots are drawn without text — install fonts-dejavu-core or use SVG",
                FONT_PATHS[0]
            ),
            PlotFormat::Svg => "no TrueType font found; SVG plots are written without axis tick labels".to_string(),
        });
    }
    let ext = format.extension();
    let mut used = std::collections::HashSet::new();
    for s in &stats.images {
        let base = Path::new(&s.image_name)
            .file_stem()
            .and_then(|x| x.to_str())
            .unwrap_or("image");
        let clean: String = base
            .chars()
            .map(|c| {
                if c.is_alphanumeric() || "-_.".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let mut name = format!("{clean}.{ext}");
        if clean == "overview" || !used.insert(name.clone()) {
            name = format!("{clean}_{}.{ext}", s.image_id);
            used.insert(name.clone());
        }
        let path = dir.join(name);
        let bytes = histogram_bytes(s, &stats.granule_diameters(s.image_id), format, font)?;
        crate::atomic::write(&path, &bytes)?;
        report.files.push(path);
    }
    let path = dir.join(format!("overview.{ext}"));
    crate::atomic::write(&path, &overview_bytes(&stats.images, format, font)?)?;
    report.files.push(path);
    Ok(report)
}
