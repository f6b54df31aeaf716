//! `diff --format html`: the review page (`validate::report::page`) for what changed
//! between two versions of an annotation file. Each added, removed, moved or relabelled
//! shape is a card with a crop (of the image given `--images`, else a neutral canvas): the
//! old shape dashed grey, the new one solid in its class colour.

use super::text::describe;
use super::{ChangeKind, DiffReport};
use crate::escape;
use crate::labelset::{palette_color, LabelSet};
use crate::model::{Annotation, Dataset, Image, Rgb};
use crate::validate::report::page::{self, CardView, Facet, Figure, Stroke};
use serde::Serialize;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::PathBuf;

/// Choices of the diff page.
#[derive(Clone, Debug)]
pub struct DiffHtmlOptions {
    /// Where the images are: crops of them are embedded (at most `max_crops`).
    pub images_dir: Option<PathBuf>,
    /// Crops embedded at most; the rest are drawn on a neutral canvas.
    pub max_crops: usize,
    /// The two files as the header names them.
    pub old_label: String,
    /// The new file as the header names it.
    pub new_label: String,
}

impl Default for DiffHtmlOptions {
    fn default() -> Self {
        DiffHtmlOptions {
            images_dir: None,
            max_crops: crate::validate::report::html::DEFAULT_MAX_CROPS,
            old_label: "old".into(),
            new_label: "new".into(),
        }
    }
}

#[derive(Serialize)]
struct Item {
    kind: Vec<&'static str>,
    image: String,
    old_id: Option<u64>,
    new_id: Option<u64>,
    #[serde(flatten)]
    view: CardView,
}

const FACETS: &[Facet] = &[
    Facet {
        key: "kind",
        param: "kind",
        label: "Change",
        order: &["added", "removed", "moved", "relabeled"],
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

fn kind_name(k: ChangeKind) -> &'static str {
    match k {
        ChangeKind::Added => "added",
        ChangeKind::Removed => "removed",
        ChangeKind::Relabeled => "relabeled",
        ChangeKind::Moved => "moved",
    }
}

/// One side's images by file name (folders ignored, as the diff matches them), its
/// annotations by image and id, and its class colours.
struct Side<'a> {
    images: HashMap<&'a str, &'a Image>,
    anns: HashMap<(crate::model::ImageId, u64), &'a Annotation>,
    colours: HashMap<u64, Rgb>,
}

impl<'a> Side<'a> {
    fn new(ds: &'a Dataset) -> Self {
        let set = LabelSet::for_dataset(&ds.categories, None).ok();
        Side {
            images: ds
                .images
                .iter()
                .map(|im| (super::key(&im.file_name), im))
                .collect(),
            anns: ds
                .annotations
                .iter()
                .map(|a| ((a.image_id, a.id.0), a))
                .collect(),
            colours: ds
                .categories
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let rgb = set
                        .as_ref()
                        .and_then(|s| s.by_name(&c.name))
                        .map(|k| k.color)
                        .or(c.color)
                        .unwrap_or_else(|| palette_color(i));
                    (c.id.0, rgb)
                })
                .collect(),
        }
    }

    fn find(&self, image: &str, id: Option<u64>) -> (Option<&'a Image>, Option<&'a Annotation>) {
        let im = self.images.get(super::key(image)).copied();
        let a = im
            .zip(id)
            .and_then(|(im, id)| self.anns.get(&(im.id, id)).copied());
        (im, a)
    }
}

/// The page of `r`, the diff of `old` against `new`.
pub fn render(r: &DiffReport, old: &Dataset, new: &Dataset, opts: &DiffHtmlOptions) -> String {
    let (os, ns) = (Side::new(old), Side::new(new));
    let mut items = Vec::new();
    let mut figures = Vec::new();
    for im in &r.images {
        for c in &im.changes {
            let (oim, oa) = os.find(&im.image, c.old_id);
            let (nim, na) = ns.find(&im.image, c.new_id);
            let figure = nim.or(oim).and_then(|image| {
                let boxes: Vec<[f64; 4]> = oa
                    .iter()
                    .chain(na.iter())
                    .filter(|a| a.shape.is_finite())
                    .filter_map(|a| a.shape.bbox())
                    .collect();
                if boxes.is_empty() {
                    return None;
                }
                let crop = page::crop_around(&boxes, (image.width, image.height))?;
                let mut fig = Figure::new(crop, (image.width, image.height));
                if let Some(a) = oa {
                    fig.draw(&a.shape, Rgb([176, 176, 176]), Stroke::Old);
                }
                if let Some(a) = na {
                    let c = ns.colours.get(&a.category_id.0).copied();
                    fig.draw(&a.shape, c.unwrap_or(Rgb([255, 255, 255])), Stroke::Main);
                }
                fig.image_path = opts
                    .images_dir
                    .as_deref()
                    .and_then(|dir| page::image_file(dir, &image.file_name));
                Some(fig)
            });
            figures.push(figure);
            let kinds: Vec<&'static str> = c.kinds.iter().map(|&k| kind_name(k)).collect();
            let line = match (c.old_line, c.new_line) {
                (Some(o), Some(n)) => format!("{}:{o} → {}:{n}", opts.old_label, opts.new_label),
                (Some(o), None) => format!("{}:{o}", opts.old_label),
                (None, Some(n)) => format!("{}:{n}", opts.new_label),
                (None, None) => String::new(),
            };
            items.push(Item {
                kind: kinds.clone(),
                image: im.image.clone(),
                old_id: c.old_id,
                new_id: c.new_id,
                view: CardView {
                    badge: kinds.join(", "),
                    badge_class: format!("kind-{}", kinds.first().copied().unwrap_or("moved")),
                    head: c.shape.to_string(),
                    message: describe(c),
                    loc: line,
                    link: None,
                    what: Some(format!("image {}", im.image)),
                    svg: None,
                    mask: None,
                },
            });
        }
    }
    let order: Vec<usize> = (0..figures.len()).collect();
    let (embedded, left_out, unreadable) = page::embed_crops(&mut figures, &order, opts.max_crops);
    for (item, fig) in items.iter_mut().zip(&figures) {
        item.view.svg = fig.as_ref().map(Figure::svg);
    }
    let s = &r.summary;
    let mut header = String::new();
    let _ = writeln!(
        header,
        "<p class=\"files\">Old: <code>{}</code>, new: <code>{}</code> (shapes matched by {}).</p>",
        escape::html(&opts.old_label),
        escape::html(&opts.new_label),
        match r.matched_by {
            super::MatchedBy::Id => "id",
            super::MatchedBy::Iou => "box IoU",
        }
    );
    header.push_str("<table class=\"summary\">\n<thead><tr><th>Change</th><th>Shapes</th></tr></thead>\n<tbody>\n");
    for (k, n) in [
        ("added", s.added),
        ("removed", s.removed),
        ("moved", s.moved),
        ("relabeled", s.relabeled),
    ] {
        let _ = writeln!(
            header,
            "<tr><td><a class=\"kind-{k}\" href=\"#kind={k}\">{k}</a></td><td class=\"n\">{n}</td></tr>"
        );
    }
    let _ = writeln!(
        header,
        "<tr><td>unchanged</td><td class=\"n\">{}</td></tr>\n</tbody>\n</table>",
        s.unchanged
    );
    let _ = writeln!(
        header,
        "<p>Images: {} added, {} removed, {} with changes.</p>",
        s.images_added,
        s.images_removed,
        r.images.iter().filter(|i| i.status == "changed").count()
    );
    let mut pictures = if opts.images_dir.is_none() {
        "No image folder was given: shapes are drawn on a neutral canvas of the image's size."
            .to_string()
    } else {
        format!("{embedded} pictures embed a crop of their image.")
    };
    if left_out > 0 {
        let _ = write!(
            pictures,
            " {left_out} more were left out (at most {} are embedded) and are drawn on a neutral canvas.",
            opts.max_crops
        );
    }
    if unreadable > 0 {
        let _ = write!(
            pictures,
            " {unreadable} could not be read from their image file."
        );
    }
    let _ = writeln!(
        header,
        "<p class=\"pictures\">{}</p>",
        escape::html(&pictures)
    );
    let mut classes: Vec<(String, Rgb)> = Vec::new();
    for c in &new.categories {
        if let Some(&rgb) = ns.colours.get(&c.id.0) {
            if !classes.iter().any(|(n, _)| *n == c.name) {
                classes.push((c.name.clone(), rgb));
            }
        }
    }
    header.push_str(&page::legend(
        &classes,
        &[
            (Stroke::Main, "new shape, class colour"),
            (Stroke::Old, "old shape"),
        ],
    ));
    page::render(
        "neutrostruct diff: review",
        &header,
        "changes",
        FACETS,
        &items,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::testutil::*;

    fn pair() -> (Dataset, Dataset) {
        let old = dataset(
            four(),
            vec![image(1, "cell_01.tif", 200, 150, 3)],
            vec![
                ann(1, 1, 1, ellipse(60.0, 50.0, 20.0, 12.0, 30.0), 10),
                ann(2, 1, 2, ellipse(150.0, 100.0, 10.0, 8.0, 0.0), 20),
                ann(3, 1, 1, ellipse(30.0, 120.0, 9.0, 9.0, 0.0), 30),
            ],
        );
        let new = dataset(
            four(),
            vec![image(1, "cell_01.tif", 200, 150, 3)],
            vec![
                // 1 moved, 2 relabelled, 3 removed, 4 added.
                ann(1, 1, 1, ellipse(66.0, 52.0, 20.0, 12.0, 30.0), 10),
                ann(2, 1, 3, ellipse(150.0, 100.0, 10.0, 8.0, 0.0), 20),
                ann(4, 1, 2, ellipse(120.0, 30.0, 14.0, 7.0, 45.0), 40),
            ],
        );
        (old, new)
    }

    fn items(page: &str) -> serde_json::Value {
        let tag = "id=\"findings\">";
        let start = page.find(tag).unwrap() + tag.len();
        let end = start + page[start..].find("</script>").unwrap();
        serde_json::from_str(&page[start..end]).unwrap()
    }

    #[test]
    fn diff_page_draws_old_dashed_grey_and_new_solid() {
        let (old, new) = pair();
        let r = super::super::diff(&old, &new);
        let page = render(&r, &old, &new, &DiffHtmlOptions::default());
        let v = items(&page);
        let v = v.as_array().unwrap();
        let n = r.images.iter().map(|i| i.changes.len()).sum::<usize>();
        assert_eq!(v.len(), n);
        let moved = v.iter().find(|c| c["kind"][0] == "moved").unwrap();
        let svg = moved["svg"].as_str().unwrap();
        assert!(svg.contains("class=\"old\" stroke=\"#b0b0b0\""), "{svg}");
        assert!(svg.contains(r#"<ellipse cx="66" cy="52""#), "{svg}");
        let removed = v.iter().find(|c| c["kind"][0] == "removed").unwrap();
        assert!(!removed["svg"]
            .as_str()
            .unwrap()
            .contains("<ellipse cx=\"30\" cy=\"120\" rx=\"9\" ry=\"9\" stroke"));
        assert!(page.contains("href=\"#kind=added\""));
        insta::with_settings!({snapshot_path => "../../snapshots", prepend_module_to_snapshot => false, omit_expression => true}, {
            insta::assert_snapshot!("diff_html_page", page);
        });
    }

    #[test]
    fn diff_page_embeds_crops_from_the_image_folder() {
        let dir = tempfile::tempdir().unwrap();
        image::RgbImage::from_pixel(200, 150, image::Rgb([40, 40, 40]))
            .save(dir.path().join("cell_01.png"))
            .unwrap();
        let (mut old, mut new) = pair();
        for ds in [&mut old, &mut new] {
            ds.images[0].file_name = "cell_01.png".into();
        }
        let r = super::super::diff(&old, &new);
        let page = render(
            &r,
            &old,
            &new,
            &DiffHtmlOptions {
                images_dir: Some(dir.path().to_path_buf()),
                max_crops: 2,
                ..DiffHtmlOptions::default()
            },
        );
        assert_eq!(page.matches("data:image/png;base64,").count(), 2);
        assert!(
            page.contains("2 pictures embed a crop of their image. 2 more were left out"),
            "{page}"
        );
    }
}
