//! Pascal VOC detection annotations: one `Annotations/<stem>.xml` per image, image lists in
//! `ImageSets/Main/<split>.txt`, and a `labelmap.txt`.
//!
//! VOC boxes are whole pixels, 1-based and inclusive: a box covering pixels `x0..x1`
//! (0-based, exclusive end) is written `xmin = x0 + 1`, `xmax = x1`. Ellipses become their
//! tight box rounded outward to whole pixels and clipped to the image (`truncated` = 1 when
//! clipped).

use super::{safe_stem, ClassMap, SplitPlan};
use crate::error::Result;
use crate::lossiness::Lossiness;
use crate::model::{Dataset, Shape};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

fn esc(s: &str) -> String {
    crate::escape::xml(s).into_owned()
}

/// Writes the VOC dataset under `out`; returns the lossiness report.
pub fn write(ds: &Dataset, out: &Path, classes: &ClassMap, split: &SplitPlan) -> Result<Lossiness> {
    // Refused before anything is written, so a bad name leaves no half-written dataset.
    for n in &classes.names {
        if let Some(why) = crate::escape::labelmap_name_problem(n) {
            return Err(crate::error::Error::invalid(
                &out.join("labelmap.txt"),
                format!("label name {n:?} cannot be a labelmap.txt line: it {why}"),
            ));
        }
    }
    let mut loss = Lossiness::default();
    for (k, v) in ds.shape_counts() {
        loss.input.insert(k.to_string(), v);
    }
    let splits_of = split.assign(&ds.images);
    split.report_refused(&ds.images, &mut loss);
    let mut lists: BTreeMap<String, Vec<String>> = BTreeMap::new();
    // Stems already written (lower-cased: a case-insensitive file system would merge `A` and
    // `a` too). Images of one name in several subsets (a CVAT project export) would otherwise
    // overwrite each other's `Annotations/<stem>.xml`.
    let mut taken: std::collections::HashSet<String> = std::collections::HashSet::new();
    for (im, anns) in ds.annotations_by_image() {
        let split = splits_of
            .get(&im.id)
            .cloned()
            .unwrap_or_else(|| "train".into());
        let Some(stem) = safe_stem(&im.file_name).map(|stem| {
            if taken.insert(stem.to_lowercase()) {
                return stem;
            }
            let renamed = std::iter::once(format!("{split}_{stem}"))
                .chain((2..).map(|n| format!("{stem}_{n}")))
                .find(|s| !taken.contains(&s.to_lowercase()))
                .unwrap_or_default();
            taken.insert(renamed.to_lowercase());
            loss.note(
                "file-renamed",
                1,
                "another image has the same file stem: its annotation file is named with its split \
                 (or a number); <filename> keeps the image's name",
            );
            renamed
        }) else {
            loss.add(
                "unsafe-path",
                anns.len().max(1),
                format!(
                    "image name {:?} escapes the output folder; skipped",
                    im.file_name
                ),
            );
            continue;
        };
        let mut x = String::new();
        x.push_str("<annotation>\n  <folder>JPEGImages</folder>\n");
        let _ = writeln!(x, "  <filename>{}</filename>", esc(&im.file_name));
        x.push_str("  <source><database>neutrostruct</database></source>\n");
        let _ = writeln!(
            x,
            "  <size>\n    <width>{}</width>\n    <height>{}</height>\n    <depth>3</depth>\n  </size>\n  <segmented>0</segmented>",
            im.width, im.height
        );
        let (w, h) = (f64::from(im.width), f64::from(im.height));
        for a in anns {
            let Some(class) = classes.get(a.category_id) else {
                loss.add(
                    "unknown-class",
                    1,
                    "annotation's class is not in the label set; skipped",
                );
                continue;
            };
            let Some(b) = a.shape.bbox() else {
                loss.add(
                    "not-a-region",
                    1,
                    format!("{} has no extent; skipped", a.shape.kind()),
                );
                continue;
            };
            let (x0, y0) = (b[0].floor().max(0.0), b[1].floor().max(0.0));
            let (x1, y1) = ((b[0] + b[2]).ceil().min(w), (b[1] + b[3]).ceil().min(h));
            if x1 <= x0 || y1 <= y0 {
                loss.add(
                    "outside-image",
                    1,
                    "shape lies wholly outside its image; skipped",
                );
                continue;
            }
            let truncated = b[0] < 0.0 || b[1] < 0.0 || b[0] + b[2] > w || b[1] + b[3] > h;
            if truncated {
                loss.add(
                    "clipped-at-border",
                    1,
                    "box clipped to the image border (truncated = 1)",
                );
            }
            match &a.shape {
                Shape::Ellipse(_) => loss.add(
                    "ellipse-to-box",
                    1,
                    "ellipse written as its tight box, rounded outward to whole pixels",
                ),
                Shape::Box(bx) if bx.rotation == 0.0 => {
                    if [bx.xtl, bx.ytl, bx.xbr, bx.ybr]
                        .iter()
                        .any(|v| v.fract() != 0.0)
                    {
                        loss.add("box-rounded", 1, "box rounded outward to whole pixels");
                    }
                }
                other => loss.add(
                    "shape-to-box",
                    1,
                    format!("{} written as its bounding box", other.kind()),
                ),
            }
            if !a.attributes.is_empty() {
                loss.add(
                    "attributes-dropped",
                    1,
                    "annotation attributes have no place in VOC",
                );
            }
            let _ = writeln!(
                x,
                "  <object>\n    <name>{}</name>\n    <pose>Unspecified</pose>\n    <truncated>{}</truncated>\n    <occluded>{}</occluded>\n    <difficult>0</difficult>\n    <bndbox>\n      <xmin>{}</xmin>\n      <ymin>{}</ymin>\n      <xmax>{}</xmax>\n      <ymax>{}</ymax>\n    </bndbox>\n  </object>",
                esc(&classes.names[class]),
                u8::from(truncated),
                u8::from(a.occluded),
                x0 as u64 + 1,
                y0 as u64 + 1,
                x1 as u64,
                y1 as u64
            );
            *loss.output.entry("voc-box".into()).or_insert(0) += 1;
        }
        x.push_str("</annotation>\n");
        crate::atomic::write(
            &out.join("Annotations").join(format!("{stem}.xml")),
            x.as_bytes(),
        )?;
        lists.entry(split).or_default().push(stem);
    }
    for (split, stems) in &lists {
        let mut text = stems.join("\n");
        text.push('\n');
        crate::atomic::write(
            &out.join("ImageSets")
                .join("Main")
                .join(format!("{split}.txt")),
            text.as_bytes(),
        )?;
    }
    let mut labelmap = String::from("# label:color_rgb:parts:actions\nbackground:0,0,0::\n");
    for (i, n) in classes.names.iter().enumerate() {
        let c = ds
            .category_by_name(n)
            .and_then(|c| c.color)
            .map(|c| c.0)
            .unwrap_or(crate::labelset::palette_color(i).0);
        let _ = writeln!(labelmap, "{n}:{},{},{}::", c[0], c[1], c[2]);
    }
    crate::atomic::write(&out.join("labelmap.txt"), labelmap.as_bytes())?;
    Ok(loss)
}
