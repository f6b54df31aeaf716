//! The review page of `validate --format html`: one self-contained HTML file (the shared
//! machinery of `page`) with a summary by rule and severity, a legend, filters, and
//! one card per finding, each with a picture of the shape it is about.
//!
//! Pictures: the finding's shape solid in its class colour; the other shapes its message
//! names (the other shape of an overlap) dashed; for `coco-cvat-mismatch`, the shapes of the
//! other file of the pair on the same image dotted; for the mask rules, the mask region over
//! the image and the mask crop beside it.

use super::super::{Finding, Inputs, Severity};
use super::page::{self, CardView, Facet, Figure, Stroke};
use crate::escape;
use crate::labelset::{palette_color, LabelSet};
use crate::model::{Annotation, Dataset, Image, Rgb};
use crate::validate::SourceFormat;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

/// How many findings get a crop of their image embedded by default: each crop is up to
/// 256 × 256 px of PNG, so 500 keep a page in tens of MB at most.
pub(crate) const DEFAULT_MAX_CROPS: usize = 500;
/// Partners drawn per finding at most (a message rarely names more than two).
const MAX_PARTNERS: usize = 4;
/// Shapes of the other file, or of a class a mask finding names, drawn at most.
const MAX_NEARBY: usize = 24;

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
    /// Findings silenced by the baseline, for the header.
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

/// One card: the finding's own fields (for readers of the JSON and for the filters) and
/// what the script draws.
#[derive(Serialize)]
struct Card<'a> {
    code: &'a str,
    rule: &'a str,
    severity: &'static str,
    file: &'a str,
    line: Option<u32>,
    column: Option<u32>,
    image: Option<&'a str>,
    annotation: Option<u64>,
    #[serde(flatten)]
    view: CardView,
}

const FACETS: &[Facet] = &[
    Facet {
        key: "severity",
        param: "severity",
        label: "Severity",
        order: &["error", "warning", "info"],
        text: None,
    },
    Facet {
        key: "code",
        param: "rule",
        label: "Rule",
        order: &[],
        text: Some("head"),
    },
    Facet {
        key: "file",
        param: "file",
        label: "File",
        order: &[],
        text: None,
    },
    Facet {
        key: "image",
        param: "image",
        label: "Image",
        order: &[],
        text: None,
    },
];

/// A dataset's images and annotations by name and id, and its class colours.
struct DatasetIndex<'a> {
    images: HashMap<&'a str, &'a Image>,
    annotations: HashMap<u64, &'a Annotation>,
    by_image: HashMap<crate::model::ImageId, Vec<&'a Annotation>>,
    colours: HashMap<u64, Rgb>,
    class_names: HashMap<u64, &'a str>,
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
            .map(|(i, c)| (c.id.0, class_colour(set, &c.name, c.color, i)))
            .collect();
        let mut by_image: HashMap<crate::model::ImageId, Vec<&'a Annotation>> = HashMap::new();
        for a in &ds.annotations {
            by_image.entry(a.image_id).or_default().push(a);
        }
        DatasetIndex {
            images: ds
                .images
                .iter()
                .map(|im| (image_key(&im.file_name), im))
                .collect(),
            annotations: ds.annotations.iter().map(|a| (a.id.0, a)).collect(),
            by_image,
            colours,
            class_names: ds
                .categories
                .iter()
                .map(|c| (c.id.0, c.name.as_str()))
                .collect(),
        }
    }

    fn image(&self, name: &str) -> Option<&'a Image> {
        self.images.get(image_key(name)).copied()
    }

    fn colour(&self, a: &Annotation) -> Rgb {
        self.colours
            .get(&a.category_id.0)
            .copied()
            .unwrap_or(Rgb([255, 255, 255]))
    }
}

fn image_key(name: &str) -> &str {
    crate::validate::shared::files::image_key(name)
}

/// The colour of a class: the label set's, else the file's own, else the palette's.
fn class_colour(set: Option<&LabelSet>, name: &str, own: Option<Rgb>, i: usize) -> Rgb {
    set.and_then(|s| s.by_name(name))
        .map(|k| k.color)
        .or(own)
        .unwrap_or_else(|| palette_color(i))
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
    // Errors first: when the cap bites, the crops go to what matters most.
    let mut order: Vec<usize> = (0..findings.len()).collect();
    order.sort_by_key(|&i| (severity_rank(findings[i].severity), i));
    let counts = page::embed_crops(&mut figures, &order, opts.max_crops);
    let cards: Vec<Card<'_>> = findings
        .iter()
        .zip(figures)
        .map(|(f, fig)| card(f, fig, opts))
        .collect();
    let mut header = String::new();
    summary(&mut header, findings, opts, inputs, counts);
    if let Some(inputs) = inputs {
        header.push_str(&page::legend(&classes(inputs), &strokes()));
    }
    page::render(
        "neutrostruct validate: review",
        &header,
        "findings",
        FACETS,
        &cards,
    )
}

fn card<'a>(f: &'a Finding, fig: Option<Figure>, opts: &HtmlOptions) -> Card<'a> {
    let mut loc = f.file.clone();
    if let Some(l) = f.line {
        let _ = write!(loc, ":{l}");
        if let Some(c) = f.column {
            let _ = write!(loc, ":{c}");
        }
    }
    let what = match (f.image.as_deref(), f.annotation_id) {
        (None, None) => None,
        (Some(i), None) => Some(format!("image {i}")),
        (None, Some(a)) => Some(format!("annotation {a}")),
        (Some(i), Some(a)) => Some(format!("image {i}, annotation {a}")),
    };
    Card {
        code: &f.code,
        rule: &f.rule,
        severity: f.severity.as_str(),
        file: &f.file,
        line: f.line,
        column: f.column,
        image: f.image.as_deref(),
        annotation: f.annotation_id,
        view: CardView {
            badge: f.severity.as_str().to_string(),
            badge_class: format!("sev-{}", f.severity.as_str()),
            head: format!("{} {}", f.code, f.rule),
            message: f.message.clone(),
            loc,
            link: opts.link_base.as_deref().map(|base| link(base, f)),
            what,
            svg: fig.as_ref().map(Figure::svg),
            mask: fig.as_ref().and_then(Figure::mask_svg),
        },
    }
}

/// The classes of every dataset, by name, with the colour the pictures use.
fn classes(inputs: &Inputs) -> Vec<(String, Rgb)> {
    let mut out: Vec<(String, Rgb)> = Vec::new();
    for d in &inputs.datasets {
        let own;
        let set = match inputs.labelset.as_ref() {
            Some(s) => Some(s),
            None => {
                own = LabelSet::for_dataset(&d.dataset.categories, None).ok();
                own.as_ref()
            }
        };
        for (i, c) in d.dataset.categories.iter().enumerate() {
            if !out.iter().any(|(n, _)| *n == c.name) {
                out.push((c.name.clone(), class_colour(set, &c.name, c.color, i)));
            }
        }
    }
    out
}

fn strokes() -> Vec<(Stroke, &'static str)> {
    vec![
        (Stroke::Main, "the finding's shape"),
        (Stroke::Partner, "other shapes its message names"),
        (
            Stroke::Counterpart,
            "shapes of the other file of a COCO/CVAT pair",
        ),
    ]
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
        "<p class=\"totals\"><a class=\"sev-error\" href=\"#severity=error\">{} errors</a>, <a class=\"sev-warning\" href=\"#severity=warning\">{} warnings</a>, <a class=\"sev-info\" href=\"#severity=info\">{} infos</a> in {} files.",
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
            // Each row opens the view of its rule (the fragment is the page's own filter).
            let _ = writeln!(
                out,
                "<tr data-rule=\"{c}\"><td><a href=\"#rule={u}\">{c}</a></td><td>{r}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                n[0],
                n[1],
                n[2],
                c = escape::html(code),
                u = escape::url_path(code),
                r = escape::html(rule)
            );
        }
        out.push_str("</tbody>\n</table>\n");
    }
    let pictures = match inputs {
        None => "Findings are shown without pictures.".to_string(),
        Some(i) if i.images_dir.is_none() && i.masks_dir.is_none() => {
            "No image folder was given: shapes are drawn on a neutral canvas of the image's size."
                .to_string()
        }
        Some(_) => {
            let mut p = format!("{embedded} pictures embed a crop of their image or mask.");
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
    let _ = writeln!(out, "<p class=\"pictures\">{}</p>", escape::html(&pictures));
}

/// The picture of each finding, when its file (or, for findings filed under a mask or a
/// label file, its image) and annotation are found in `inputs`.
fn figures(findings: &[Finding], inputs: &Inputs) -> Vec<Option<Figure>> {
    let labels: Vec<String> = (0..inputs.datasets.len())
        .map(|i| inputs.file_label(i))
        .collect();
    let by_file: HashMap<&str, usize> = labels
        .iter()
        .enumerate()
        .map(|(i, l)| (l.as_str(), i))
        .collect();
    let indexes: Vec<DatasetIndex<'_>> = inputs
        .datasets
        .iter()
        .map(|d| DatasetIndex::new(&d.dataset, inputs.labelset.as_ref()))
        .collect();
    findings
        .iter()
        .map(|f| {
            let d = by_file.get(f.file.as_str()).copied().or_else(|| {
                let name = f.image.as_deref()?;
                indexes.iter().position(|ix| ix.image(name).is_some())
            })?;
            figure(f, d, &indexes, &labels, inputs)
        })
        .collect()
}

fn figure(
    f: &Finding,
    d: usize,
    indexes: &[DatasetIndex<'_>],
    labels: &[String],
    inputs: &Inputs,
) -> Option<Figure> {
    let idx = &indexes[d];
    let main = f
        .annotation_id
        .and_then(|id| idx.annotations.get(&id).copied());
    let image: &Image = match (f.image.as_deref(), main) {
        (Some(name), _) => idx.image(name)?,
        (None, Some(a)) => idx
            .images
            .values()
            .find(|im| im.id == a.image_id)
            .copied()?,
        (None, None) => return None,
    };
    let main = main.filter(|a| a.image_id == image.id);
    let is_mask_rule = f.rule.starts_with("mask-");
    // Shapes of this file drawn dashed, and of the other file of a COCO/CVAT pair dotted.
    let mut partners: Vec<&Annotation> = Vec::new();
    let mut counterparts: Vec<(&Annotation, Rgb)> = Vec::new();
    let mut others: Vec<usize> = Vec::new();
    if f.rule == "coco-cvat-mismatch" {
        others = (0..labels.len())
            .filter(|&o| o != d && f.message.contains(labels[o].as_str()))
            .collect();
        let own_is_coco = inputs.datasets[d].format == SourceFormat::Coco;
        for &o in &others {
            let ox = &indexes[o];
            let Some(oim) = ox.image(&image.file_name) else {
                continue;
            };
            // "the matching COCO annotation N in FILE": N is an id of the other file.
            if !own_is_coco {
                for id in ids_after(&f.message, "COCO annotation ") {
                    if let Some(a) = ox.annotations.get(&id).filter(|a| a.image_id == oim.id) {
                        counterparts.push((a, ox.colour(a)));
                    }
                }
            }
        }
    } else if is_mask_rule && main.is_none() {
        // "class "X": pixel IoU …": the shapes of that class on the image.
        if let Some(name) = quoted_class(&f.message) {
            partners.extend(
                idx.by_image
                    .get(&image.id)
                    .into_iter()
                    .flatten()
                    .filter(|a| idx.class_names.get(&a.category_id.0) == Some(&name.as_str()))
                    .take(MAX_NEARBY),
            );
        }
    } else {
        partners.extend(
            named_annotations(&f.message)
                .into_iter()
                .filter(|&id| Some(id) != f.annotation_id)
                .filter_map(|id| idx.annotations.get(&id).copied())
                .filter(|a| a.image_id == image.id)
                .take(MAX_PARTNERS),
        );
    }
    let boxes: Vec<[f64; 4]> = main
        .iter()
        .chain(partners.iter().filter(|_| main.is_some() || !is_mask_rule))
        .copied()
        .chain(counterparts.iter().map(|(a, _)| *a))
        .filter(|a| a.shape.is_finite())
        .filter_map(|a| a.shape.bbox())
        .collect();
    let crop = page::crop_around(&boxes, (image.width, image.height))?;
    // A shape with no partner named in the message: the other file's shapes around it, so
    // that a missing match can be seen (e.g. a shape one file has and the other moved).
    if counterparts.is_empty() && main.is_some() {
        for &o in &others {
            let ox = &indexes[o];
            let Some(oim) = ox.image(&image.file_name) else {
                continue;
            };
            counterparts.extend(
                ox.by_image
                    .get(&oim.id)
                    .into_iter()
                    .flatten()
                    .filter(|a| a.shape.is_finite())
                    .filter(|a| a.shape.bbox().is_some_and(|b| page::intersects(b, crop)))
                    .take(MAX_NEARBY)
                    .map(|a| (*a, ox.colour(a))),
            );
        }
    }
    let mut fig = Figure::new(crop, (image.width, image.height));
    for a in &partners {
        fig.draw(&a.shape, idx.colour(a), Stroke::Partner);
    }
    for (a, c) in &counterparts {
        fig.draw(&a.shape, *c, Stroke::Counterpart);
    }
    if let Some(a) = main {
        fig.draw(&a.shape, idx.colour(a), Stroke::Main);
    }
    fig.image_path = inputs.images_dir.as_deref().and_then(|dir| {
        crate::validate::shared::files::candidates(dir, &image.file_name)?
            .into_iter()
            .find(|p| p.is_file())
    });
    if is_mask_rule {
        fig.mask_path = inputs.masks_dir.as_deref().and_then(|dir| {
            crate::validate::shared::mask_analysis::mask_candidates(dir, &image.file_name)
                .into_iter()
                .find(|p| p.is_file())
        });
    }
    Some(fig)
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
        if let Some(id) = leading_number(after) {
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
    }
    ids
}

/// The ids right after each `prefix` in a message.
fn ids_after(message: &str, prefix: &str) -> Vec<u64> {
    message
        .match_indices(prefix)
        .filter_map(|(at, _)| leading_number(&message[at + prefix.len()..]))
        .collect()
}

fn leading_number(s: &str) -> Option<u64> {
    s[..s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len())]
        .parse()
        .ok()
}

/// The class a mask finding's message starts with: `class "Primary granules": …`.
fn quoted_class(message: &str) -> Option<String> {
    let rest = message.strip_prefix("class ")?;
    // The rules write the name as a Rust string literal (`{:?}`): its JSON reading is the
    // same for every name without escapes, and a name with escapes is simply not drawn.
    let end = rest.find("\":")?;
    serde_json::from_str(&rest[..=end]).ok()
}

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
                    crate::model::Shape::Polygon(
                        vec![vec![[10.0, 10.0], [40.0, 12.0], [25.0, 30.0]]].into(),
                    ),
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
        assert_eq!(page.matches("<script").count(), 3, "{page}");
        assert_eq!(page.matches("</script>").count(), 3);
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
        assert!(page.contains("1 pictures embed a crop of their image or mask. 1 more were left out (at most 1 are embedded)"), "{page}");
    }

    #[test]
    fn named_annotations_finds_ids() {
        assert_eq!(
            named_annotations("overlaps annotation 6 heavily; annotations 8, and annotation 6"),
            vec![6, 8]
        );
        assert_eq!(named_annotations("annotation x"), Vec::<u64>::new());
    }

    /// 20,000 findings on one image, with the image folder: the page holds every finding,
    /// embeds only the capped number of crops, says how many it left out, and stays bounded
    /// in size (no card markup is written; the script draws cards in batches).
    #[test]
    fn twenty_thousand_findings_stay_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let img = image::RgbImage::from_fn(200, 150, |x, y| image::Rgb([x as u8, y as u8, 90]));
        img.save(dir.path().join("cell_01.tif")).unwrap();
        let mut inputs = sample_inputs();
        inputs.images_dir = Some(dir.path().to_path_buf());
        let one = &sample::findings()[2];
        let findings: Vec<Finding> = (0..20_000).map(|_| one.clone()).collect();
        let page = render(&findings, Some(&inputs), &HtmlOptions::default());
        assert_eq!(cards(&page).as_array().unwrap().len(), 20_000);
        assert_eq!(
            page.matches("data:image/png;base64,").count(),
            DEFAULT_MAX_CROPS
        );
        assert!(page.contains("19500 more were left out (at most 500 are embedded)"));
        assert_eq!(page.matches("<article").count(), 0);
        // About 1 KB of JSON and SVG per finding plus the capped crops: far under 100 MB.
        assert!(page.len() < 60_000_000, "{} bytes", page.len());
    }

    #[test]
    fn mask_rule_gets_the_mask_crop_beside_the_image() {
        let dir = tempfile::tempdir().unwrap();
        let masks = dir.path().join("masks");
        std::fs::create_dir(&masks).unwrap();
        image::RgbImage::from_pixel(200, 150, image::Rgb([255, 0, 0]))
            .save(masks.join("cell_01.png"))
            .unwrap();
        let mut inputs = sample_inputs();
        inputs.masks_dir = Some(masks);
        let f = Finding {
            annotation_id: Some(7),
            ..Finding::new(
                &crate::validate::rules::mask_disagreement::MaskDisagreement::META,
                "annotations/train.json",
                "mask masks/cell_01.png paints 10% of this ellipse in its class colour (below 50%)",
            )
            .image("cell_01.tif")
        };
        let page = render(&[f], Some(&inputs), &HtmlOptions::default());
        let v = cards(&page);
        let svg = v[0]["svg"].as_str().unwrap();
        assert!(svg.contains("class=\"maskover\""), "{svg}");
        let mask = v[0]["mask"].as_str().unwrap();
        assert!(mask.contains("data:image/png;base64,") && mask.contains("<ellipse cx=\"70\""));
    }

    #[test]
    fn cvat_shape_draws_its_coco_partner_dotted() {
        let mut inputs = sample_inputs();
        let mut cvat = inputs.datasets[0].dataset.clone();
        // The CVAT reader numbers shapes in document order: 1 is COCO's 7 here.
        cvat.annotations.retain(|a| a.id.0 == 7);
        cvat.annotations[0].id = crate::model::AnnotationId(1);
        inputs
            .datasets
            .push(input("annotations/train.xml", SourceFormat::Cvat, cvat));
        let f = Finding {
            annotation_id: Some(1),
            ..Finding::new(
                &crate::validate::rules::coco_cvat_mismatch::CocoCvatMismatch::META,
                "annotations/train.xml",
                "CVAT shape is \"A\" but the matching COCO annotation 6 in annotations/train.json is \"B\"",
            )
            .image("cell_01.tif")
        };
        let page = render(&[f], Some(&inputs), &HtmlOptions::default());
        let svg = cards(&page)[0]["svg"].as_str().unwrap().to_string();
        assert!(svg.contains(r#"<ellipse cx="60" cy="50" rx="20" ry="12" transform="rotate(30 60 50)" class="counterpart""#), "{svg}");
        assert!(
            svg.contains(r#"<ellipse cx="70" cy="55" rx="18" ry="10" stroke="#),
            "{svg}"
        );
    }
}
