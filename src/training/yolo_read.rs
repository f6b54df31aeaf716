//! Reads an Ultralytics dataset folder (as `convert --to yolo*` writes it, and as Ultralytics
//! and Roboflow lay it out) into the model: `data.yaml` for the classes and split folders,
//! `labels/<split>/**/<stem>.txt` for the rows, and the image headers under
//! `images/<split>/` for the sizes that turn normalised coordinates back into pixels.
//!
//! - `yolo` rows become axis-aligned boxes, `yolo-seg` rows polygons, `yolo-obb` rows rotated
//!   boxes (a quadrilateral that is not a rectangle stays a 4-point polygon).
//! - Nothing in `data.yaml` can make the reader leave the dataset folder: `path:` is
//!   ignored (the folder holding `data.yaml` is the root) and split entries that are absolute
//!   or climb out with `..` are skipped as `unsafe-path`.
//! - YOLO has no ids: images, categories and annotations are numbered from 1 in reading order
//!   (splits as `data.yaml` lists them, files sorted by path).

use super::yolo::Flavour;
use super::yolo_labels::{label_text, parse_label_text, Row};
use super::yolo_yaml::{parse_data_yaml, DataYaml};
use crate::error::{Error, Result};
use crate::lossiness::Lossiness;
use crate::model::{
    Annotation, AnnotationId, BoxShape, Category, CategoryId, Dataset, Image, ImageId, Point, Shape,
};
use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

/// Image files whose size the reader can take from the header (the `image` crate's enabled
/// decoders). Ultralytics also knows bmp, webp, …: those images are reported, not guessed.
const SIZED_EXTENSIONS: [&str; 5] = ["png", "jpg", "jpeg", "tif", "tiff"];
/// Other extensions Ultralytics treats as images.
const OTHER_IMAGE_EXTENSIONS: [&str; 6] = ["bmp", "dng", "mpo", "webp", "pfm", "heic"];

/// Counts of a dataset read, for the user.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct YoloReadSummary {
    pub label_files: usize,
    pub rows: usize,
    pub images: usize,
    /// Images without a label file (Ultralytics' background images).
    pub images_without_labels: usize,
}

/// `data.yaml` of a dataset given as its folder or as the file itself.
fn locate_yaml(input: &Path) -> Result<(PathBuf, PathBuf)> {
    if input.is_dir() {
        for name in ["data.yaml", "data.yml"] {
            let p = input.join(name);
            if p.is_file() {
                return Ok((input.to_path_buf(), p));
            }
        }
        return Err(Error::invalid(
            input,
            "no data.yaml in this folder (an Ultralytics dataset has one)",
        ));
    }
    let root = input
        .parent()
        .map(|p| {
            if p.as_os_str().is_empty() {
                Path::new(".")
            } else {
                p
            }
        })
        .unwrap_or(Path::new("."));
    Ok((root.to_path_buf(), input.to_path_buf()))
}

/// A split entry as a relative folder under the root, or `None` when it is absolute or
/// climbs out. Ultralytics itself retries `../x` as `x` when `../x` does not exist (the
/// Roboflow layout writes `train: ../train/images`); the reader only ever takes the second.
fn contained(entry: &str) -> Option<PathBuf> {
    let plain = |p: &Path| {
        !p.as_os_str().is_empty()
            && p.components()
                .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
    };
    let p = Path::new(entry);
    if plain(p) {
        return Some(p.to_path_buf());
    }
    let rest = Path::new(entry.strip_prefix("../")?);
    plain(rest).then(|| rest.to_path_buf())
}

/// Ultralytics' label folder for an image folder: the last `images` component becomes
/// `labels`; without one, labels sit beside the images.
fn label_dir(images: &Path) -> PathBuf {
    let comps: Vec<Component> = images.components().collect();
    match comps.iter().rposition(|c| c.as_os_str() == "images") {
        Some(i) => {
            let mut p = PathBuf::new();
            for (j, c) in comps.iter().enumerate() {
                p.push(if j == i {
                    std::ffi::OsStr::new("labels")
                } else {
                    c.as_os_str()
                });
            }
            p
        }
        None => images.to_path_buf(),
    }
}

fn ext_lower(p: &Path) -> String {
    p.extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase()
}

/// Files under `dir` with one of `exts`, keyed by their path relative to `dir` without the
/// extension, sorted. Symbolic links to files are followed (our writer links images), links
/// to folders are not (no cycles, no leaving the tree).
fn files_by_stem(dir: &Path, exts: &[&str]) -> BTreeMap<String, PathBuf> {
    let mut out = BTreeMap::new();
    if !dir.is_dir() {
        return out;
    }
    for e in walkdir::WalkDir::new(dir)
        .follow_links(false)
        .sort_by_file_name()
        .into_iter()
        .flatten()
    {
        let p = e.path();
        if !p.is_file() || !exts.contains(&ext_lower(p).as_str()) {
            continue;
        }
        let Ok(rel) = p.strip_prefix(dir) else {
            continue;
        };
        let key = rel.with_extension("").to_string_lossy().replace('\\', "/");
        // Two images of one stem (a.png and a.jpg): the first in name order is the image,
        // as only one of them can own `a.txt`.
        out.entry(key).or_insert_with(|| p.to_path_buf());
    }
    out
}

/// Width and height from the image header, without decoding pixels.
fn image_size(p: &Path) -> Result<(u32, u32)> {
    let (w, h) = image::ImageReader::open(p)
        .map_err(|e| Error::io(p, e))?
        .with_guessed_format()
        .map_err(|e| Error::io(p, e))?
        .into_dimensions()
        .map_err(|e| Error::invalid(p, format!("cannot read the image size: {e}")))?;
    let side = 1..=crate::coco::MAX_SIDE;
    if !side.contains(&u64::from(w)) || !side.contains(&u64::from(h)) {
        return Err(Error::invalid(
            p,
            format!(
                "image size {w}×{h} is out of range 1..={} a side",
                crate::coco::MAX_SIDE
            ),
        ));
    }
    Ok((w, h))
}

/// Tolerance (normalised units) for an oriented box to count as a rectangle: written with 6
/// decimals, each coordinate is off by up to 5e-7, so sums of four are off by up to 2e-6.
const RECT_TOLERANCE: f64 = 4e-6;

/// The rotated box whose corners are `c` (any start, either direction), or `None` when the
/// quadrilateral is not a rectangle.
fn rect_from_corners(c: &[Point; 4], w: f64, h: f64) -> Option<BoxShape> {
    let tol = RECT_TOLERANCE * w.max(h);
    let d = |a: Point, b: Point| ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt();
    // A parallelogram (diagonals bisect each other) with equal diagonals is a rectangle.
    let mid_gap = d(
        [(c[0][0] + c[2][0]) / 2.0, (c[0][1] + c[2][1]) / 2.0],
        [(c[1][0] + c[3][0]) / 2.0, (c[1][1] + c[3][1]) / 2.0],
    );
    if mid_gap > tol || (d(c[0], c[2]) - d(c[1], c[3])).abs() > 2.0 * tol {
        return None;
    }
    let (cx, cy) = (
        (c[0][0] + c[1][0] + c[2][0] + c[3][0]) / 4.0,
        (c[0][1] + c[1][1] + c[2][1] + c[3][1]) / 4.0,
    );
    // Opposite sides averaged: each corner carries its own rounding, and one side alone
    // would put all of it into the angle.
    let hx = (d(c[0], c[1]) + d(c[3], c[2])) / 4.0;
    let hy = (d(c[0], c[3]) + d(c[1], c[2])) / 4.0;
    if hx <= 0.0 || hy <= 0.0 {
        return None;
    }
    let (dx, dy) = (
        c[1][0] - c[0][0] + c[2][0] - c[3][0],
        c[1][1] - c[0][1] + c[2][1] - c[3][1],
    );
    // CVAT keeps box rotations in [0, 360).
    let rotation = dy.atan2(dx).to_degrees().rem_euclid(360.0);
    let rotation = if rotation >= 360.0 { 0.0 } else { rotation };
    Some(BoxShape {
        xtl: cx - hx,
        ytl: cy - hy,
        xbr: cx + hx,
        ybr: cy + hy,
        rotation,
    })
}

/// The shape of one row on an image of `w × h` px.
fn shape_of(row: &Row, flavour: Flavour, w: f64, h: f64, loss: &mut Lossiness) -> Shape {
    let pts = || -> Vec<Point> {
        row.coords
            .chunks_exact(2)
            .map(|p| [p[0] * w, p[1] * h])
            .collect()
    };
    match (flavour, row.coords.as_slice()) {
        (Flavour::Detect, [cx, cy, bw, bh]) => Shape::Box(BoxShape {
            xtl: (cx - bw / 2.0) * w,
            ytl: (cy - bh / 2.0) * h,
            xbr: (cx + bw / 2.0) * w,
            ybr: (cy + bh / 2.0) * h,
            rotation: 0.0,
        }),
        (Flavour::Obb, [x0, y0, x1, y1, x2, y2, x3, y3]) => {
            let corners = [
                [x0 * w, y0 * h],
                [x1 * w, y1 * h],
                [x2 * w, y2 * h],
                [x3 * w, y3 * h],
            ];
            match rect_from_corners(&corners, w, h) {
                Some(b) => Shape::Box(b),
                None => {
                    loss.add(
                        "obb-not-rectangle",
                        1,
                        "oriented box whose corners are not a rectangle (e.g. clamped at the border) kept as a 4-point polygon",
                    );
                    Shape::Polygon(vec![corners.to_vec()])
                }
            }
        }
        _ => Shape::Polygon(vec![pts()]),
    }
}

/// Folders of images, each with its split name, in `data.yaml` order, without repeats.
fn split_folders(y: &DataYaml, yaml: &Path, loss: &mut Lossiness) -> Vec<(String, PathBuf)> {
    let mut out: Vec<(String, PathBuf)> = Vec::new();
    for (key, entries) in &y.splits {
        for entry in entries {
            if entry.ends_with(".txt") || entry.contains("://") {
                loss.add(
                    "split-list-unsupported",
                    1,
                    format!(
                        "{}: split {key} given as a list file or URL ({entry:?}); only folders are read",
                        yaml.display()
                    ),
                );
                continue;
            }
            let Some(dir) = contained(entry) else {
                loss.add(
                    "unsafe-path",
                    1,
                    format!(
                        "{}: split {key} ({entry:?}) is absolute or leaves the dataset folder; not read",
                        yaml.display()
                    ),
                );
                continue;
            };
            match out.iter_mut().find(|(_, d)| *d == dir) {
                // One folder under several keys (our writer's `val: images/train` when there
                // is no val split): the key named like the folder wins, else the first.
                Some(seen) => {
                    if dir.file_name().and_then(|n| n.to_str()) == Some(key.as_str()) {
                        seen.0 = key.clone();
                    }
                }
                None => out.push((key.clone(), dir)),
            }
        }
    }
    out
}

/// Line and column of the top-level `key:` in the `data.yaml` text (1:1 if not found), for
/// errors about what the key names.
fn key_position(yaml: &[u8], key: &str) -> (u32, u32) {
    let text = String::from_utf8_lossy(yaml);
    let at = text
        .lines()
        .position(|l| l.strip_prefix(key).is_some_and(|r| r.starts_with(':')));
    (
        at.map_or(1, |i| u32::try_from(i + 1).unwrap_or(u32::MAX)),
        1,
    )
}

/// Reads the dataset at `input` (its folder or its `data.yaml`) as rows of `flavour`.
pub fn read_dir(input: &Path, flavour: Flavour) -> Result<(Dataset, Lossiness, YoloReadSummary)> {
    let (root, yaml) = locate_yaml(input)?;
    let bytes = crate::error::read_input(&yaml)?;
    let y = parse_data_yaml(label_text(&bytes, &yaml)?, &yaml)?;
    let nc = y.names.len();
    let mut ds = Dataset {
        categories: y
            .names
            .iter()
            .enumerate()
            .map(|(i, name)| Category {
                id: CategoryId(i as u64 + 1),
                name: name.clone(),
                supercategory: String::new(),
                color: None,
                kind: None,
                attributes: Vec::new(),
                coco_extra: Default::default(),
            })
            .collect(),
        ..Default::default()
    };
    let mut loss = Lossiness::default();
    let mut sum = YoloReadSummary::default();
    let folders = split_folders(&y, &yaml, &mut loss);
    if folders.is_empty() && loss.losses.is_empty() {
        return Err(Error::parse(
            &yaml,
            1,
            1,
            "no train, val or test folder is named: nothing to read",
        ));
    }
    let mut rows_in = 0usize;
    let mut all_exts: Vec<&str> = SIZED_EXTENSIONS.to_vec();
    all_exts.extend(OTHER_IMAGE_EXTENSIONS);
    // A folder or label file may be a symbolic link (git keeps them): one leading out of the
    // dataset folder is not read, so a pull request cannot make CI print another file's
    // content in an error. Image files may lead anywhere (our writer links them to the
    // source images); only their header is read and nothing of it is printed.
    let canon_root = std::fs::canonicalize(&root).map_err(|e| Error::io(&root, e))?;
    let inside = |p: &Path| std::fs::canonicalize(p).is_ok_and(|c| c.starts_with(&canon_root));
    let outside_note =
        "a split folder or label file is a symbolic link leading out of the dataset folder; not read";
    for (split, rel) in folders {
        let img_dir = root.join(&rel);
        let lbl_dir = root.join(label_dir(&rel));
        let mut usable = |dir: &Path| {
            if !dir.is_dir() {
                return false;
            }
            let ok = inside(dir);
            if !ok {
                loss.add("unsafe-path", 1, outside_note);
            }
            ok
        };
        let (img_ok, lbl_ok) = (usable(&img_dir), usable(&lbl_dir));
        if !img_dir.is_dir() && !lbl_dir.is_dir() {
            let (line, col) = key_position(&bytes, &split);
            return Err(Error::parse(
                &yaml,
                line,
                col,
                format!(
                    "split {split}: neither {} nor {} is a folder",
                    img_dir.display(),
                    lbl_dir.display()
                ),
            ));
        }
        let images = if img_ok {
            files_by_stem(&img_dir, &all_exts)
        } else {
            BTreeMap::new()
        };
        let labels = if lbl_ok {
            files_by_stem(&lbl_dir, &["txt"])
        } else {
            BTreeMap::new()
        };
        let mut keys: Vec<&String> = images.keys().chain(labels.keys()).collect();
        keys.sort();
        keys.dedup();
        for key in keys {
            let rows = match labels.get(key) {
                Some(lp) if !inside(lp) => {
                    loss.add("unsafe-path", 1, outside_note);
                    None
                }
                Some(lp) => {
                    let bytes = crate::error::read_input(lp)?;
                    let rows = parse_label_text(label_text(&bytes, lp)?, flavour, nc, lp)?;
                    sum.label_files += 1;
                    rows_in += rows.len();
                    Some(rows)
                }
                None => None,
            };
            let Some(ip) = images.get(key) else {
                let n = rows.map_or(0, |r| r.len());
                loss.add(
                    "label-without-image",
                    n,
                    "rows of a label file with no image of the same stem (no size to scale them by); dropped",
                );
                continue;
            };
            if !SIZED_EXTENSIONS.contains(&ext_lower(ip).as_str()) {
                loss.add(
                    "image-size-unknown",
                    rows.as_ref().map_or(0, Vec::len).max(1),
                    "image in a format whose size this build cannot read (PNG, JPEG, TIFF are read); image and rows dropped",
                );
                continue;
            }
            let (w, h) = image_size(ip)?;
            let file_name = ip
                .strip_prefix(&img_dir)
                .unwrap_or(ip)
                .to_string_lossy()
                .replace('\\', "/");
            let id = ImageId(ds.images.len() as u64 + 1);
            let mut im = Image::new(id, file_name, w, h);
            im.subset = Some(split.clone());
            ds.images.push(im);
            sum.images += 1;
            let Some(rows) = rows else {
                sum.images_without_labels += 1;
                continue;
            };
            for row in &rows {
                let shape = shape_of(row, flavour, f64::from(w), f64::from(h), &mut loss);
                let aid = AnnotationId(ds.annotations.len() as u64 + 1);
                ds.annotations.push(Annotation::new(
                    aid,
                    id,
                    CategoryId(row.class as u64 + 1),
                    shape,
                ));
            }
        }
    }
    sum.rows = rows_in;
    loss.input.insert(flavour.name().to_string(), rows_in);
    for (k, v) in ds.shape_counts() {
        loss.output.insert(k.to_string(), v);
    }
    Ok((ds, loss, sum))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_entries_never_leave_the_root() {
        assert_eq!(
            contained("images/train"),
            Some(PathBuf::from("images/train"))
        );
        assert_eq!(
            contained("../train/images"),
            Some(PathBuf::from("train/images"))
        );
        assert_eq!(contained("../../etc"), None);
        assert_eq!(contained("/etc"), None);
        assert_eq!(contained("a/../../b"), None);
        assert_eq!(contained(""), None);
        assert_eq!(contained(".."), None);
    }

    #[test]
    fn label_folder_replaces_the_last_images_component() {
        assert_eq!(
            label_dir(Path::new("images/train")),
            PathBuf::from("labels/train")
        );
        assert_eq!(
            label_dir(Path::new("train/images")),
            PathBuf::from("train/labels")
        );
        assert_eq!(label_dir(Path::new("imgs")), PathBuf::from("imgs"));
    }

    #[test]
    fn rectangles_in_any_corner_order_and_non_rectangles() {
        let corners = crate::model::rotated_rect_corners(50.0, 40.0, 20.0, 10.0, 30.0);
        let b = rect_from_corners(&corners, 100.0, 100.0).expect("a rectangle");
        let again = b.corners();
        for (p, q) in corners.iter().zip(again.iter()) {
            assert!((p[0] - q[0]).abs() < 1e-9 && (p[1] - q[1]).abs() < 1e-9);
        }
        let reversed = [corners[0], corners[3], corners[2], corners[1]];
        let r = rect_from_corners(&reversed, 100.0, 100.0).expect("still a rectangle");
        let mut a: Vec<[i64; 2]> = r
            .corners()
            .iter()
            .map(|p| [(p[0] * 1e6).round() as i64, (p[1] * 1e6).round() as i64])
            .collect();
        let mut e: Vec<[i64; 2]> = corners
            .iter()
            .map(|p| [(p[0] * 1e6).round() as i64, (p[1] * 1e6).round() as i64])
            .collect();
        a.sort();
        e.sort();
        assert_eq!(a, e, "same rectangle");
        let skewed = [[0.0, 0.0], [10.0, 0.0], [12.0, 5.0], [0.0, 5.0]];
        assert!(rect_from_corners(&skewed, 100.0, 100.0).is_none());
    }
}
