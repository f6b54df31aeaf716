//! YOLO labels in Ultralytics' layout: detection boxes, segmentation polygons and oriented
//! boxes, one `labels/<split>/<stem>.txt` per image and a `data.yaml`.
//!
//! - `yolo`: `class cx cy w h`, the ellipse's tight box clipped to the image.
//! - `yolo-seg`: `class x1 y1 …`, the ellipse as a polygon whose distance from the true curve
//!   is at most [`SEG_MAX_ERROR_PX`], clipped to the image.
//! - `yolo-obb`: `class x1 y1 x2 y2 x3 y3 x4 y4`, the ellipse's own rotated rectangle
//!   (`2rx × 2ry` turned by the ellipse's rotation): the natural oriented box of an ellipse.
//!
//! All coordinates are normalised to [0, 1] by the image size; class indices are 0-based in
//! label-set order.

use super::{safe_stem, ClassMap, SplitPlan};
use crate::error::{Error, Result};
use crate::lossiness::Lossiness;
use crate::model::{ellipse_bbox, rotated_rect_corners, Annotation, Dataset, Image, Point, Shape};
use geo::BooleanOps;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Largest distance (px) between a `yolo-seg` polygon and its ellipse.
pub const SEG_MAX_ERROR_PX: f64 = 0.5;

/// Which YOLO task to write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavour {
    /// Axis-aligned boxes (`class cx cy w h`).
    Detect,
    /// Polygons (`class x1 y1 x2 y2 …`).
    Segment,
    /// Oriented boxes (`class x1 y1 … x4 y4`, four corners).
    Obb,
}

impl Flavour {
    /// The `--to` name (`yolo`, `yolo-seg`, `yolo-obb`).
    pub fn name(self) -> &'static str {
        match self {
            Flavour::Detect => "yolo",
            Flavour::Segment => "yolo-seg",
            Flavour::Obb => "yolo-obb",
        }
    }
}

/// What to write and where.
pub struct YoloRequest<'a> {
    /// Which YOLO task.
    pub flavour: Flavour,
    /// The dataset folder to write.
    pub out: &'a Path,
    /// Class names to YOLO class indices.
    pub classes: &'a ClassMap,
    /// Which images go to which split.
    pub split: &'a SplitPlan,
    /// Folder of the source images, linked (or copied) into `images/<split>/`.
    pub images: Option<&'a Path>,
    /// Copy images instead of linking them.
    pub copy_images: bool,
}

/// What was written.
#[derive(Debug)]
pub struct YoloOutput {
    /// Path of the written `data.yaml`.
    pub data_yaml: PathBuf,
    /// Label files written.
    pub label_files: usize,
    /// Label rows written (one per shape).
    pub rows: usize,
    /// Images per split.
    pub splits: BTreeMap<String, usize>,
    /// Images linked or copied into `images/<split>/`.
    pub images_linked: usize,
    /// Images not found in the images folder (their labels are still written).
    pub images_missing: Vec<String>,
    /// What the export lost.
    pub loss: Lossiness,
}

fn clamp01(v: f64) -> f64 {
    v.clamp(0.0, 1.0)
}

fn push_num(line: &mut String, v: f64) {
    // Six decimals is sub-pixel for images up to 10^6 px; trailing zeros kept for alignment.
    let _ = write!(line, " {:.6}", clamp01(v));
}

/// The detection row of a shape: its tight box clipped to the image, or `None` when nothing
/// of it is inside.
pub fn detect_box(shape: &Shape, w: f64, h: f64) -> Option<([f64; 4], bool)> {
    let b = match shape {
        Shape::Ellipse(e) => ellipse_bbox(e),
        other => other.bbox()?,
    };
    let (x0, y0, x1, y1) = (
        b[0].max(0.0),
        b[1].max(0.0),
        (b[0] + b[2]).min(w),
        (b[1] + b[3]).min(h),
    );
    if x1 <= x0 || y1 <= y0 {
        return None;
    }
    let clipped = x0 > b[0] || y0 > b[1] || x1 < b[0] + b[2] || y1 < b[1] + b[3];
    Some((
        [
            (x0 + x1) / 2.0 / w,
            (y0 + y1) / 2.0 / h,
            (x1 - x0) / w,
            (y1 - y0) / h,
        ],
        clipped,
    ))
}

/// Clips a convex or simple ring to the image rectangle with geo's boolean operations.
/// Returns the largest resulting ring (without the closing vertex) and whether anything was cut.
pub fn clip_ring(ring: &[Point], w: f64, h: f64) -> Option<(Vec<Point>, bool)> {
    let inside = ring
        .iter()
        .all(|p| p[0] >= 0.0 && p[1] >= 0.0 && p[0] <= w && p[1] <= h);
    if inside {
        return (ring.len() >= 3).then(|| (ring.to_vec(), false));
    }
    let poly = geo::Polygon::new(
        geo::LineString::from(ring.iter().map(|p| (p[0], p[1])).collect::<Vec<_>>()),
        vec![],
    );
    let frame = geo::Rect::new((0.0, 0.0), (w, h)).to_polygon();
    let clipped = poly.intersection(&frame);
    let best = clipped.0.iter().max_by(|a, b| {
        use geo::Area;
        a.unsigned_area().total_cmp(&b.unsigned_area())
    })?;
    let mut pts: Vec<Point> = best.exterior().0.iter().map(|c| [c.x, c.y]).collect();
    if pts.len() > 1 && pts.first() == pts.last() {
        pts.pop();
    }
    (pts.len() >= 3).then_some((pts, true))
}

/// One label row for `a`, or the loss code explaining why there is none.
fn row(
    flavour: Flavour,
    a: &Annotation,
    class: usize,
    im: &Image,
    loss: &mut Lossiness,
) -> Option<String> {
    let (w, h) = (f64::from(im.width), f64::from(im.height));
    let mut line = class.to_string();
    match flavour {
        Flavour::Detect => {
            let Some((b, clipped)) = detect_box(&a.shape, w, h) else {
                loss.add(
                    "outside-image",
                    1,
                    "shape lies wholly outside its image; no row written",
                );
                return None;
            };
            if clipped {
                loss.add("clipped-at-border", 1, "box clipped to the image border");
            }
            match &a.shape {
                Shape::Ellipse(_) => loss.add(
                    "ellipse-to-box",
                    1,
                    "ellipse written as its tight axis-aligned box",
                ),
                Shape::Box(bx) if bx.rotation != 0.0 => loss.add(
                    "rotated-box-to-box",
                    1,
                    "rotated box written as its axis-aligned bounding box",
                ),
                Shape::Box(_) => {}
                other => loss.add(
                    "shape-to-box",
                    1,
                    format!("{} written as its bounding box", other.kind()),
                ),
            }
            for v in b {
                push_num(&mut line, v);
            }
        }
        Flavour::Segment => {
            let ring: Vec<Point> = match &a.shape {
                Shape::Ellipse(e) => {
                    let ring =
                        crate::geometry::ellipse_polygon::ellipse_polygon(e, SEG_MAX_ERROR_PX);
                    loss.add(
                        "ellipse-to-polygon",
                        1,
                        format!("ellipse written as a polygon within {SEG_MAX_ERROR_PX} px of the curve"),
                    );
                    ring
                }
                Shape::Box(b) => b.corners().to_vec(),
                Shape::Polygon(rings) => {
                    if rings.len() > 1 {
                        loss.add(
                            "polygon-parts-dropped",
                            rings.len() - 1,
                            "YOLO keeps one ring per row; extra rings dropped",
                        );
                    }
                    rings.first().map(|r| r.to_vec()).unwrap_or_default()
                }
                other => {
                    loss.add(
                        "not-a-region",
                        1,
                        format!("{} has no area to segment; skipped", other.kind()),
                    );
                    return None;
                }
            };
            let Some((ring, clipped)) = clip_ring(&ring, w, h) else {
                loss.add(
                    "outside-image",
                    1,
                    "shape lies wholly outside its image; no row written",
                );
                return None;
            };
            if clipped {
                loss.add(
                    "clipped-at-border",
                    1,
                    "polygon clipped to the image border",
                );
            }
            for p in ring {
                push_num(&mut line, p[0] / w);
                push_num(&mut line, p[1] / h);
            }
        }
        Flavour::Obb => {
            let corners = match &a.shape {
                Shape::Ellipse(e) => rotated_rect_corners(e.cx, e.cy, e.rx, e.ry, e.rotation),
                Shape::Box(b) => b.corners(),
                other => {
                    let Some(b) = other.bbox() else {
                        loss.add(
                            "not-a-region",
                            1,
                            format!("{} has no extent; skipped", other.kind()),
                        );
                        return None;
                    };
                    loss.add(
                        "shape-to-box",
                        1,
                        format!("{} written as its axis-aligned bounding box", other.kind()),
                    );
                    [
                        [b[0], b[1]],
                        [b[0] + b[2], b[1]],
                        [b[0] + b[2], b[1] + b[3]],
                        [b[0], b[1] + b[3]],
                    ]
                }
            };
            if detect_box(&a.shape, w, h).is_none() {
                loss.add(
                    "outside-image",
                    1,
                    "shape lies wholly outside its image; no row written",
                );
                return None;
            }
            if corners
                .iter()
                .any(|p| p[0] < 0.0 || p[1] < 0.0 || p[0] > w || p[1] > h)
            {
                loss.add(
                    "obb-clamped",
                    1,
                    "oriented box corners outside the image clamped to the border (Ultralytics rejects coordinates outside [0, 1])",
                );
            }
            if matches!(a.shape, Shape::Ellipse(_)) {
                loss.add(
                    "ellipse-to-obb",
                    1,
                    "ellipse written as its rotated bounding rectangle",
                );
            }
            for p in corners {
                push_num(&mut line, p[0] / w);
                push_num(&mut line, p[1] / h);
            }
        }
    }
    Some(line)
}

/// YAML double-quoted scalar (`crate::escape::yaml_quoted`).
pub(crate) fn yaml_str(s: &str) -> String {
    crate::escape::yaml_quoted(s)
}

/// Ultralytics' `data.yaml`: split folders, class names and count.
///
/// No `path:` key, on purpose. Ultralytics (`check_det_dataset`, 8.x) takes the dataset root
/// from `path:` when present, else from the folder holding the YAML file; a relative root
/// that does not exist from the working folder is then put under its `datasets_dir` setting.
/// So an absolute `path:` breaks as soon as the folder is moved or copied to another machine,
/// and `path: .` means the folder training is *run from*, not this one; without the key the
/// root is always the folder of this file, wherever it is and wherever training starts.
/// Splits are relative to it and name only folders that were written; `val` is required by
/// Ultralytics, so a dataset without a `val` split says, in a comment, which split stands in.
pub(crate) fn data_yaml(splits: &BTreeMap<String, usize>, names: &[String]) -> String {
    let mut y = String::from(
        "# Written by neutrostruct. Ultralytics dataset description.\n\
         # No `path:`: Ultralytics then takes the folder holding this file as the dataset\n\
         # root, so the folder can be moved, copied or trained on from anywhere.\n",
    );
    let has = |s: &str| splits.contains_key(s);
    let train = if has("train") {
        "train"
    } else {
        splits.keys().next().map(String::as_str).unwrap_or("train")
    };
    // Ultralytics requires `val`; a dataset without one validates on test (or train), and
    // says so rather than pretending the split exists.
    let val = if has("val") {
        "val"
    } else if has("test") {
        "test"
    } else {
        train
    };
    if val != "val" {
        let _ = writeln!(
            y,
            "# No val split was written; Ultralytics needs `val:`, so it validates on {}.",
            yaml_str(val)
        );
    }
    // Split names come from the data (CVAT subsets): quoted like every other scalar, so a
    // name cannot add keys (`download:` is a command Ultralytics runs).
    let _ = writeln!(y, "train: {}", yaml_str(&format!("images/{train}")));
    let _ = writeln!(y, "val: {}", yaml_str(&format!("images/{val}")));
    if has("test") {
        let _ = writeln!(y, "test: {}", yaml_str("images/test"));
    }
    let _ = writeln!(y, "nc: {}", names.len());
    y.push_str("names:\n");
    for (i, n) in names.iter().enumerate() {
        let _ = writeln!(y, "  {i}: {}", yaml_str(n));
    }
    y
}

/// Writes the YOLO dataset. Every written label file is checked as Ultralytics would check it
/// before the function returns; a file it would reject is an error.
pub fn write(ds: &Dataset, req: &YoloRequest) -> Result<YoloOutput> {
    let mut loss = Lossiness::default();
    for (k, v) in ds.shape_counts() {
        loss.input.insert(k.to_string(), v);
    }
    let splits_of = req.split.assign(&ds.images);
    req.split.report_refused(&ds.images, &mut loss);
    let mut splits: BTreeMap<String, usize> = BTreeMap::new();
    let mut rows = 0usize;
    let mut files = 0usize;
    let mut linked = 0usize;
    let mut missing = Vec::new();
    let mut seen_stems: BTreeMap<(String, String), usize> = BTreeMap::new();
    let mut crowd = 0usize;
    let mut attrs = 0usize;
    let groups = ds.annotations_by_image();
    let in_images: usize = groups.iter().map(|(_, a)| a.len()).sum();
    loss.add(
        "dangling-annotation",
        ds.annotations.len() - in_images,
        "annotation refers to an image the file does not list; not written",
    );
    for (im, anns) in &groups {
        let Some(stem) = safe_stem(&im.file_name) else {
            loss.add(
                "unsafe-path",
                anns.len().max(1),
                format!(
                    "image name {:?} escapes the output folder; image skipped",
                    im.file_name
                ),
            );
            continue;
        };
        let split = splits_of
            .get(&im.id)
            .cloned()
            .unwrap_or_else(|| "train".into());
        let dup = seen_stems.entry((split.clone(), stem.clone())).or_insert(0);
        *dup += 1;
        if *dup > 1 {
            return Err(Error::Usage(format!(
                "two images of split {split} share the file stem {stem:?}; YOLO pairs labels with images by stem"
            )));
        }
        *splits.entry(split.clone()).or_insert(0) += 1;
        let mut text = String::new();
        let mut seen_rows = std::collections::HashSet::new();
        for a in anns {
            let Some(class) = req.classes.get(a.category_id) else {
                loss.add(
                    "unknown-class",
                    1,
                    "annotation's class is not in the label set; skipped",
                );
                continue;
            };
            if a.coco.as_ref().and_then(|c| c.iscrowd) == Some(1) {
                crowd += 1;
            }
            if !a.attributes.is_empty() || a.occluded {
                attrs += 1;
            }
            if let Some(line) = row(req.flavour, a, class, im, &mut loss) {
                // Ultralytics drops duplicate rows with a warning; never write one.
                if seen_rows.insert(line.clone()) {
                    text.push_str(&line);
                    text.push('\n');
                    rows += 1;
                    *loss
                        .output
                        .entry(req.flavour.name().to_string())
                        .or_insert(0) += 1;
                } else {
                    loss.add(
                        "duplicate-row",
                        1,
                        "two annotations gave the same label row; written once",
                    );
                }
            }
        }
        let label_path = req
            .out
            .join("labels")
            .join(&split)
            .join(format!("{stem}.txt"));
        if let Some(m) = super::yolo_labels::first_rejected_row(
            &text,
            req.flavour,
            req.classes.names.len(),
            &label_path,
        )? {
            return Err(Error::invalid(
                &label_path,
                format!("would be rejected by Ultralytics: {m}"),
            ));
        }
        crate::atomic::write(&label_path, text.as_bytes())?;
        files += 1;
        if let Some(dir) = req.images {
            match crate::path_safety::find_image(dir, &im.file_name) {
                // A link in the images folder that leads out of it is neither linked nor
                // copied: a pull request could otherwise put any file of the CI machine
                // (a key, a token) into the exported dataset.
                Some(src) if !crate::path_safety::resolves_inside(dir, &src) => loss.add(
                    "unsafe-path",
                    1,
                    format!(
                        "image {:?} is a link leading out of the images folder; not copied or linked",
                        im.file_name
                    ),
                ),
                Some(src) => {
                    let name = src
                        .file_name()
                        .map(PathBuf::from)
                        .unwrap_or_else(|| PathBuf::from(&im.file_name));
                    let dst = req.out.join("images").join(&split).join(name);
                    link_or_copy(&src, &dst, req.copy_images)?;
                    linked += 1;
                }
                None => missing.push(im.file_name.clone()),
            }
        }
    }
    loss.add(
        "crowd-kept",
        crowd,
        "iscrowd annotations written as ordinary objects (CVAT marks every mask iscrowd)",
    );
    loss.add(
        "attributes-dropped",
        attrs,
        "occluded flag and attributes have no place in YOLO labels",
    );
    let yaml_path = req.out.join("data.yaml");
    crate::atomic::write(
        &yaml_path,
        data_yaml(&splits, &req.classes.names).as_bytes(),
    )?;
    Ok(YoloOutput {
        data_yaml: yaml_path,
        label_files: files,
        rows,
        splits,
        images_linked: linked,
        images_missing: missing,
        loss,
    })
}

/// Links (or copies) `src` to `dst` atomically: the link or copy is made under a temporary
/// name beside `dst` and renamed over it, so a killed run leaves the old image or the new
/// one, never a truncated one, and never a missing one.
fn link_or_copy(src: &Path, dst: &Path, copy: bool) -> Result<()> {
    #[cfg(unix)]
    if !copy {
        let abs = std::fs::canonicalize(src).map_err(|e| Error::io(src, e))?;
        let made = crate::atomic::replace_with(dst, |tmp| {
            std::fs::remove_file(tmp)?;
            std::os::unix::fs::symlink(&abs, tmp)
        });
        if made.is_ok() {
            return Ok(());
        }
    }
    let _ = copy;
    crate::atomic::replace_with(dst, |tmp| std::fs::copy(src, tmp).map(|_| ()))
}
