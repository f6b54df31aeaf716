//! Reads an Ultralytics dataset folder (as `convert --to yolo*` writes it, and as Ultralytics
//! and Roboflow lay it out) into the model: `data.yaml` for the classes and splits (folders,
//! or text files listing image paths), `labels/<split>/**/<stem>.txt` for the rows, and the
//! image headers for the sizes that turn normalised coordinates back into pixels.
//!
//! - `yolo` rows become axis-aligned boxes, `yolo-seg` rows polygons, `yolo-obb` rows rotated
//!   boxes (a quadrilateral that is not a rectangle stays a 4-point polygon).
//! - Nothing in `data.yaml` can make the reader leave the dataset folder: `path:` is
//!   ignored (the folder holding `data.yaml` is the root) and split entries that are absolute
//!   or climb out with `..` are skipped as `unsafe-path`.
//! - YOLO has no ids: images, categories and annotations are numbered from 1 in reading order
//!   (splits as `data.yaml` lists them, files sorted by path).

use super::yolo::Flavour;
use super::yolo_labels::{check_label_text, label_text, parse_label_text, Row, RowIssue};
use super::yolo_yaml::{parse_data_yaml, DataYaml};
use crate::error::{Error, Result};
use crate::lossiness::Lossiness;
use crate::model::{
    Annotation, AnnotationId, BoxShape, Category, CategoryId, Dataset, Image, ImageId, Point, Shape,
};
use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

/// Image files whose size the reader takes from the header: PNG, JPEG and TIFF through the
/// `image` crate's decoders (already needed for masks), BMP, WebP, HEIC and MPO (a JPEG whose
/// first image is the primary one) through `imagesize`, PFM by hand (a short text header).
const SIZED_EXTENSIONS: [&str; 10] = [
    "png", "jpg", "jpeg", "tif", "tiff", "bmp", "webp", "heic", "mpo", "pfm",
];
/// The rest of Ultralytics' `IMG_FORMATS`. A DNG's first TIFF directory is usually a small
/// preview, not the raw image, so a header-only size would be wrong: reported, not guessed.
const OTHER_IMAGE_EXTENSIONS: [&str; 1] = ["dng"];

/// Counts of a dataset read, for the user.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct YoloReadSummary {
    /// Label files read.
    pub label_files: usize,
    /// Label rows read.
    pub rows: usize,
    /// Images found.
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

/// Width and height of a PFM (portable float map: `PF` or `Pf`, white space, width,
/// height, scale, then binary floats) from its first bytes.
fn pfm_size(p: &Path) -> Result<(u32, u32)> {
    use std::io::Read;
    let mut head = Vec::with_capacity(256);
    std::fs::File::open(p)
        .and_then(|f| f.take(256).read_to_end(&mut head))
        .map_err(|e| Error::io(p, e))?;
    let text = String::from_utf8_lossy(&head);
    let mut t = text.split_ascii_whitespace();
    let bad = || Error::invalid(p, "cannot read the image size: not a PFM header");
    if !matches!(t.next(), Some("PF" | "Pf")) {
        return Err(bad());
    }
    let mut side = || t.next().and_then(|v| v.parse::<u32>().ok());
    let (w, h) = (side().ok_or_else(bad)?, side().ok_or_else(bad)?);
    // The scale must follow: otherwise the height may have been cut at the 256th byte.
    t.next().ok_or_else(bad)?;
    Ok((w, h))
}

/// Whether the file starts with BMP's magic `BM`.
fn is_bmp(p: &Path) -> bool {
    use std::io::Read;
    let mut magic = [0u8; 2];
    std::fs::File::open(p)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok()
        && &magic == b"BM"
}

/// Width and height from the image header, without decoding pixels; for a JPEG whose EXIF
/// orientation turns it a quarter (6 or 8), as displayed, which is the size its labels are
/// normalised by (Ultralytics' `exif_size`; its loader reads such an image turned).
fn image_size(p: &Path) -> Result<(u32, u32)> {
    use image::ImageDecoder as _;
    let (w, h) = match ext_lower(p).as_str() {
        "png" | "jpg" | "jpeg" | "tif" | "tiff" => {
            let reader = image::ImageReader::open(p)
                .map_err(|e| Error::io(p, e))?
                .with_guessed_format()
                .map_err(|e| Error::io(p, e))?;
            let jpeg = reader.format() == Some(image::ImageFormat::Jpeg);
            let cannot = |e: image::ImageError| {
                Error::invalid(p, format!("cannot read the image size: {e}"))
            };
            let mut decoder = reader.into_decoder().map_err(cannot)?;
            let (w, h) = decoder.dimensions();
            // Only JPEG, and only the two quarter turns, as Ultralytics; an unreadable EXIF
            // block leaves the size as stored, as there.
            let turned = jpeg
                && matches!(
                    decoder.orientation(),
                    Ok(image::metadata::Orientation::Rotate90
                        | image::metadata::Orientation::Rotate270)
                );
            if turned {
                (h, w)
            } else {
                (w, h)
            }
        }
        "pfm" => pfm_size(p)?,
        _ => {
            // `imagesize` reads the header through a buffered reader and seeks past the rest;
            // the format comes from the content, as PIL (Ultralytics' reader) takes it.
            let s = imagesize::size(p).map_err(|e| match e {
                imagesize::ImageError::IoError(e)
                    if e.kind() != std::io::ErrorKind::UnexpectedEof =>
                {
                    Error::io(p, e)
                }
                imagesize::ImageError::IoError(_) => {
                    Error::invalid(p, "cannot read the image size: the header is cut short")
                }
                other => Error::invalid(p, format!("cannot read the image size: {other}")),
            })?;
            let side = |v: usize| u32::try_from(v).unwrap_or(u32::MAX);
            let (w, h) = (side(s.width), side(s.height));
            // A top-down BMP stores its height negative; `imagesize` reads it unsigned.
            match i32::from_le_bytes(h.to_le_bytes()) {
                neg if neg < 0 && is_bmp(p) => (w, neg.unsigned_abs()),
                _ => (w, h),
            }
        }
    };
    let side = 1..=crate::model::limits::MAX_SIDE;
    if !side.contains(&u64::from(w)) || !side.contains(&u64::from(h)) {
        return Err(Error::invalid(
            p,
            format!(
                "image size {w}×{h} is out of range 1..={} a side",
                crate::model::limits::MAX_SIDE
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
                    Shape::Polygon(vec![corners.to_vec()].into())
                }
            }
        }
        _ => Shape::Polygon(vec![pts()].into()),
    }
}

/// Most lines a split list file (`train: train.txt`) may hold. The largest public detection
/// datasets list under two million training images (Open Images: 1.7 M); every line becomes
/// a file lookup, so the bound is also a bound on the work a hostile list can ask for.
pub const MAX_LIST_LINES: usize = 2_000_000;

/// Longest line of a split list file, in bytes: Linux's `PATH_MAX`, so no path that could be
/// opened is refused, and a line of a gigabyte is not kept.
pub const MAX_LIST_LINE_BYTES: usize = 4096;

/// What one split entry of `data.yaml` names: a folder of images, or (Ultralytics'
/// `train: train.txt`) a text file listing image paths, one per line. As in Ultralytics, what
/// decides is whether the entry is a file, not its extension.
#[derive(Clone, Debug, PartialEq)]
enum Source {
    Folder(PathBuf),
    List(PathBuf),
}

/// Split sources with their split names, in `data.yaml` order, without repeats.
fn split_sources(
    y: &DataYaml,
    root: &Path,
    (yaml, yaml_bytes): (&Path, &[u8]),
    loss: &mut Lossiness,
    skipped: &mut Vec<Skipped>,
) -> Vec<(String, Source)> {
    let mut out: Vec<(String, Source)> = Vec::new();
    for (key, entries) in &y.splits {
        for entry in entries {
            if entry.contains("://") {
                loss.add(
                    "split-list-unsupported",
                    1,
                    format!(
                        "{}: split {key} given as a URL ({entry:?}); nothing is downloaded",
                        yaml.display()
                    ),
                );
                continue;
            }
            let Some(rel) = contained(entry) else {
                skipped.push(Skipped {
                    code: "unsafe-path",
                    file: yaml.to_path_buf(),
                    line: Some(key_position(yaml_bytes, key).0),
                    message: format!(
                        "split {key} ({:?}) is absolute or leaves the dataset folder; not read",
                        entry.chars().take(64).collect::<String>()
                    ),
                });
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
            let src = if root.join(&rel).is_file() {
                Source::List(rel)
            } else {
                Source::Folder(rel)
            };
            match out.iter_mut().find(|(_, s)| *s == src) {
                // One folder under several keys (our writer's `val: images/train` when there
                // is no val split): the key named like the folder wins, else the first.
                Some(seen) => {
                    let dir = match &src {
                        Source::Folder(d) | Source::List(d) => d,
                    };
                    if dir.file_name().and_then(|n| n.to_str()) == Some(key.as_str()) {
                        seen.0 = key.clone();
                    }
                }
                None => out.push((key.clone(), src)),
            }
        }
    }
    out
}

/// The lines of a split list file that name something, with their 1-based line numbers.
/// Blank lines are skipped and each line is trimmed (Ultralytics strips the whole text; a
/// stray space or `\r` at a line's end would otherwise hide an image).
fn read_list(path: &Path) -> Result<Vec<(u32, String)>> {
    let bytes = crate::error::read_input(path)?;
    let text = label_text(&bytes, path)?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let n = u32::try_from(i + 1).unwrap_or(u32::MAX);
        if i >= MAX_LIST_LINES {
            return Err(Error::parse(
                path,
                n,
                1,
                format!("more than {MAX_LIST_LINES} lines in a split list file"),
            ));
        }
        if line.len() > MAX_LIST_LINE_BYTES {
            return Err(Error::parse(
                path,
                n,
                1,
                format!("line longer than {MAX_LIST_LINE_BYTES} bytes (no image path is)"),
            ));
        }
        let t = line.trim();
        if !t.is_empty() {
            out.push((n, t.to_string()));
        }
    }
    Ok(out)
}

/// An image path from a split list, as a path under the dataset root, or `None` when it is
/// absolute or climbs out (`..` anywhere): such entries are never opened. Ultralytics reads
/// `./x` relative to the list file's folder and anything else as given (relative to its
/// working directory, which for a dataset is the root: this reader uses the root).
fn list_entry(entry: &str, list_dir: &Path) -> Option<PathBuf> {
    if crate::path_safety::unsafe_reason(entry).is_some() {
        return None;
    }
    let plain = |p: &Path| {
        !p.as_os_str().is_empty()
            && p.components()
                .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
    };
    let p = match entry.strip_prefix("./") {
        Some(rest) => list_dir.join(rest),
        None => PathBuf::from(entry),
    };
    plain(&p).then_some(p)
}

/// Ultralytics' `img2label_paths` on a path under the root: the last `images` folder on the
/// way becomes `labels` and the extension `.txt` (`images/train/a.jpg` →
/// `labels/train/a.txt`); without an `images` folder the label sits beside the image.
/// Ultralytics applies the rule to the whole absolute path; here only folders inside the
/// dataset are looked at, so a root that itself lies under an `images` folder changes nothing.
fn label_for_image(image: &Path) -> PathBuf {
    let dir = image.parent().unwrap_or(Path::new(""));
    let name = image.file_name().unwrap_or_default();
    label_dir(dir).join(name).with_extension("txt")
}

/// The file name a listed image gets in the model: its path after the last `images` folder
/// (`images/train2017/a.jpg` → `train2017/a.jpg`), else its path under the root, `/`-separated.
fn listed_name(image: &Path) -> String {
    let comps: Vec<Component> = image.components().collect();
    let dirs = comps.len().saturating_sub(1);
    let from = comps[..dirs]
        .iter()
        .rposition(|c| c.as_os_str() == "images")
        .map_or(0, |i| i + 1);
    comps[from..]
        .iter()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// One image, or one label file without an image, to read.
struct Item {
    split: String,
    /// The image file (`None`: a label file whose image is not there).
    image: Option<PathBuf>,
    /// The image's file name as the model keeps it.
    name: String,
    label: Option<PathBuf>,
    /// A split list named this image but no such file exists.
    listed_missing: bool,
    /// The split list file and line that named the image, if one did.
    listed_at: Option<(PathBuf, u32)>,
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
    let r = read_detailed(input, Some(flavour), false)?;
    Ok((r.dataset, r.loss, r.summary))
}

/// A label file's problem rows, with the image they belong to (for `validate`).
#[derive(Clone, Debug, PartialEq)]
pub struct FileIssues {
    /// The label file.
    pub label: PathBuf,
    /// The image's file name in the dataset (`None`: the label file has no image).
    pub image: Option<String>,
    /// Its problem rows.
    pub issues: Vec<RowIssue>,
}

/// One image or label file the read could not take, and why (a loss line's code), where it
/// is, for `validate` to pin a finding on.
#[derive(Clone, Debug, PartialEq)]
pub struct Skipped {
    /// The loss code (`yolo-…`).
    pub code: &'static str,
    /// The file.
    pub file: PathBuf,
    /// 1-based line, when the problem is in a row.
    pub line: Option<u32>,
    /// The message for the user.
    pub message: String,
}

/// Everything a read found out: the dataset, its lossiness, and where each part came from.
#[derive(Clone, Debug)]
pub(crate) struct YoloRead {
    pub dataset: Dataset,
    pub loss: Lossiness,
    pub summary: YoloReadSummary,
    /// The task the rows were read as (given, or taken from the first row).
    pub flavour: Flavour,
    pub root: PathBuf,
    pub yaml: PathBuf,
    /// Label file of each image, by image file name.
    pub labels: BTreeMap<String, PathBuf>,
    /// Rows left out of a lenient read, per label file.
    pub issues: Vec<FileIssues>,
    pub skipped: Vec<Skipped>,
}

/// The task a label file's first row has the columns of: 5 → boxes, otherwise segments
/// (a 9-column row is also a 4-point segment; oriented boxes must be asked for).
fn guess_flavour(text: &str) -> Option<Flavour> {
    let first = text.lines().find(|l| !l.trim().is_empty())?;
    Some(match first.split_ascii_whitespace().take(6).count() {
        5 => Flavour::Detect,
        _ => Flavour::Segment,
    })
}

/// Reads the dataset at `input`. `flavour: None` takes the task from the first label row
/// (see `guess_flavour`). `lenient` (for `validate`): rows with problems are left out and
/// listed in [`YoloRead::issues`] instead of failing the read, and each annotation keeps its
/// row's line in `loc`; limits and unreadable files are still errors.
pub(crate) fn read_detailed(
    input: &Path,
    flavour: Option<Flavour>,
    lenient: bool,
) -> Result<YoloRead> {
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
    let mut skipped: Vec<Skipped> = Vec::new();
    let sources = split_sources(&y, &root, (&yaml, &bytes), &mut loss, &mut skipped);
    if sources.is_empty() && loss.losses.is_empty() {
        return Err(Error::parse(
            &yaml,
            1,
            1,
            "no train, val or test folder is named: nothing to read",
        ));
    }
    let mut all_exts: Vec<&str> = SIZED_EXTENSIONS.to_vec();
    all_exts.extend(OTHER_IMAGE_EXTENSIONS);
    // A folder, list or label file may be a symbolic link (git keeps them): one leading out of
    // the dataset folder is not read, so a pull request cannot make CI print another file's
    // content in an error. Image files may lead anywhere (our writer links them to the
    // source images); only their header is read and nothing of it is printed.
    let canon_root = std::fs::canonicalize(&root).map_err(|e| Error::io(&root, e))?;
    let inside = |p: &Path| std::fs::canonicalize(p).is_ok_and(|c| c.starts_with(&canon_root));
    let outside_note =
        "a split folder, list or label file is a symbolic link leading out of the dataset folder; not read";
    // Images already taken (a list naming an image twice, or two splits naming one image):
    // an image is read once, under the first split that names it.
    let mut seen: std::collections::HashSet<PathBuf> = std::collections::HashSet::new();
    let mut items: Vec<Item> = Vec::new();
    for (split, src) in sources {
        match src {
            Source::Folder(rel) => {
                let img_dir = root.join(&rel);
                let lbl_dir = root.join(label_dir(&rel));
                let mut usable = |dir: &Path| {
                    if !dir.is_dir() {
                        return false;
                    }
                    let ok = inside(dir);
                    if !ok {
                        loss.add("unsafe-path", 1, outside_note);
                        skipped.push(Skipped {
                            code: "unsafe-path",
                            file: dir.to_path_buf(),
                            line: None,
                            message: outside_note.to_string(),
                        });
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
                            "split {split}: {} is neither a folder nor a list file, and {} is not a folder",
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
                    let image = images.get(key).cloned();
                    if let Some(ip) = &image {
                        if !seen.insert(ip.clone()) {
                            continue;
                        }
                    }
                    let name = image.as_deref().map_or_else(String::new, |ip| {
                        ip.strip_prefix(&img_dir)
                            .unwrap_or(ip)
                            .to_string_lossy()
                            .replace('\\', "/")
                    });
                    items.push(Item {
                        split: split.clone(),
                        image,
                        name,
                        label: labels.get(key).cloned(),
                        listed_missing: false,
                        listed_at: None,
                    });
                }
            }
            Source::List(rel) => {
                let list = root.join(&rel);
                if !inside(&list) {
                    loss.add("unsafe-path", 1, outside_note);
                    skipped.push(Skipped {
                        code: "unsafe-path",
                        file: list.clone(),
                        line: None,
                        message: outside_note.to_string(),
                    });
                    continue;
                }
                let list_dir = rel.parent().unwrap_or(Path::new("")).to_path_buf();
                for (line, entry) in read_list(&list)? {
                    let Some(img_rel) = list_entry(&entry, &list_dir) else {
                        skipped.push(Skipped {
                            code: "unsafe-path",
                            file: list.clone(),
                            line: Some(line),
                            message: format!(
                                "listed image {:?} is absolute or leaves the dataset folder; not read",
                                entry.chars().take(64).collect::<String>()
                            ),
                        });
                        loss.add(
                            "unsafe-path",
                            1,
                            format!(
                                "{}:{line}: listed image {:?} is absolute or leaves the dataset folder; not read",
                                list.display(),
                                entry.chars().take(64).collect::<String>()
                            ),
                        );
                        continue;
                    };
                    // Ultralytics keeps only lines whose extension is an image format.
                    if !all_exts.contains(&ext_lower(&img_rel).as_str()) {
                        loss.add(
                            "list-entry-not-an-image",
                            1,
                            format!(
                                "{}:{line}: a listed path without an image extension; skipped, as Ultralytics skips it",
                                list.display()
                            ),
                        );
                        continue;
                    }
                    let ip = root.join(&img_rel);
                    if !seen.insert(ip.clone()) {
                        continue;
                    }
                    let lp = root.join(label_for_image(&img_rel));
                    let exists = ip.is_file();
                    items.push(Item {
                        split: split.clone(),
                        name: listed_name(&img_rel),
                        image: exists.then_some(ip),
                        label: lp.is_file().then_some(lp),
                        listed_missing: !exists,
                        listed_at: Some((list.clone(), line)),
                    });
                }
            }
        }
    }
    let mut rows_in = 0usize;
    let mut flavour = flavour;
    let mut labels_of = BTreeMap::new();
    let mut issues = Vec::new();
    for item in items {
        let rows: Option<Vec<(Row, u32)>> = match &item.label {
            Some(lp) if !inside(lp) => {
                loss.add("unsafe-path", 1, outside_note);
                skipped.push(Skipped {
                    code: "unsafe-path",
                    file: lp.clone(),
                    line: None,
                    message: outside_note.to_string(),
                });
                None
            }
            Some(lp) => {
                let bytes = crate::error::read_input(lp)?;
                let text = label_text(&bytes, lp)?;
                let task = *flavour.get_or_insert_with(|| {
                    guess_flavour(text.strip_prefix('\u{feff}').unwrap_or(text))
                        .unwrap_or(Flavour::Detect)
                });
                let rows = if lenient {
                    let (rows, found) = check_label_text(text, task, nc, lp)?;
                    rows_in += rows.len() + found.len();
                    if !found.is_empty() {
                        issues.push(FileIssues {
                            label: lp.clone(),
                            image: item.image.as_ref().map(|_| item.name.clone()),
                            issues: found,
                        });
                    }
                    rows
                } else {
                    let rows = parse_label_text(text, task, nc, lp)?;
                    rows_in += rows.len();
                    // Lines are only kept for `validate`; converting needs none.
                    rows.into_iter().map(|r| (r, 0)).collect()
                };
                sum.label_files += 1;
                Some(rows)
            }
            None => None,
        };
        let flavour_now = flavour.unwrap_or(Flavour::Detect);
        let Some(ip) = &item.image else {
            let n = rows.map_or(0, |r| r.len());
            let (code, message) = if item.listed_missing {
                loss.add(
                    "listed-image-missing",
                    n.max(1),
                    "an image a split list names does not exist (no size to scale its rows by); image and rows dropped",
                );
                (
                    "listed-image-missing",
                    format!("listed image {} does not exist", item.name),
                )
            } else {
                loss.add(
                    "label-without-image",
                    n,
                    "rows of a label file with no image of the same stem (no size to scale them by); dropped",
                );
                (
                    "label-without-image",
                    "label file without an image of the same stem".to_string(),
                )
            };
            let at = match (&item.listed_at, &item.label) {
                (Some((list, line)), _) => Some((list.clone(), Some(*line))),
                (None, Some(lp)) => Some((lp.clone(), None)),
                (None, None) => None,
            };
            if let Some((file, line)) = at {
                skipped.push(Skipped {
                    code,
                    file,
                    line,
                    message,
                });
            }
            continue;
        };
        if !SIZED_EXTENSIONS.contains(&ext_lower(ip).as_str()) {
            loss.add(
                "image-size-unknown",
                rows.as_ref().map_or(0, Vec::len).max(1),
                "image in a format whose size is not read from its header (DNG: its first directory is usually a preview); image and rows dropped",
            );
            skipped.push(Skipped {
                code: "image-size-unknown",
                file: item.label.clone().unwrap_or_else(|| ip.clone()),
                line: None,
                message: format!(
                    "the size of image {} is not read from its header (DNG)",
                    item.name
                ),
            });
            continue;
        }
        let (w, h) = image_size(ip)?;
        let id = ImageId(ds.images.len() as u64 + 1);
        if let Some(lp) = &item.label {
            labels_of.insert(item.name.clone(), lp.clone());
        }
        let mut im = Image::new(id, item.name, w, h);
        im.subset = Some(item.split);
        ds.images.push(im);
        sum.images += 1;
        let Some(rows) = rows else {
            sum.images_without_labels += 1;
            continue;
        };
        for (row, line) in &rows {
            let shape = shape_of(row, flavour_now, f64::from(w), f64::from(h), &mut loss);
            let aid = AnnotationId(ds.annotations.len() as u64 + 1);
            let mut a = Annotation::new(aid, id, CategoryId(row.class as u64 + 1), shape);
            if lenient {
                a.loc = Some(crate::model::SourceLoc {
                    line: *line,
                    column: 1,
                    start: 0,
                    end: 0,
                });
            }
            ds.annotations.push(a);
        }
    }
    let flavour = flavour.unwrap_or(Flavour::Detect);
    sum.rows = rows_in;
    let skipped_rows: usize = issues.iter().map(|f: &FileIssues| f.issues.len()).sum();
    loss.add(
        "row-invalid",
        skipped_rows,
        "label rows with a problem (see the findings) left out",
    );
    loss.input.insert(flavour.name().to_string(), rows_in);
    for (k, v) in ds.shape_counts() {
        loss.output.insert(k.to_string(), v);
    }
    Ok(YoloRead {
        dataset: ds,
        loss,
        summary: sum,
        flavour,
        root,
        yaml,
        labels: labels_of,
        issues,
        skipped,
    })
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
