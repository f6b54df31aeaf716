//! Scale tables: pixels per micrometre for each image, as measured from its scale bar.
//!
//! The published metadata is an Excel sheet with the columns `image_name` and
//! `Pixles per microm` (sic). Researchers also keep CSV files and sometimes micrometres per
//! pixel instead, so columns are matched by meaning, not by spelling, and a µm-per-pixel
//! column is inverted (with a note saying so). Image names are matched exactly first, then
//! by file name without folders, then by file stem without case, because the table is often
//! typed by hand (`neutrophil_000.tif` in the table, `neutrophil_000.png` in the dataset).

use crate::error::{Error, Result};
use crate::model::{Dataset, ImageId};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// The scale used for an image the table lacks: the typical value of TEM-NeutroStruct.
pub const DEFAULT_PX_PER_UM: f64 = 375.0;

/// One row of a scale table.
#[derive(Clone, Debug, PartialEq)]
pub struct ScaleEntry {
    /// The image's file name as the table writes it.
    pub image_name: String,
    /// Pixels per µm.
    pub px_per_um: f64,
    /// 1-based row in the source file (header = row 1 for a file with a header on top).
    pub row: usize,
}

/// A scale table as read from CSV or XLSX.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ScaleTable {
    /// Where it came from (for messages); empty for tables built in code.
    pub source: PathBuf,
    /// The rows, in file order.
    pub entries: Vec<ScaleEntry>,
    /// What reading decided that a user should know (e.g. a µm-per-pixel column inverted).
    pub notes: Vec<String>,
}

/// A scale table applied to one dataset.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ResolvedScale {
    /// Pixels per µm of every image of the dataset.
    pub px_per_um: HashMap<ImageId, f64>,
    /// Images that got [`DEFAULT_PX_PER_UM`] because the table lacks them, sorted.
    pub defaulted: Vec<String>,
    /// Table rows naming images the dataset does not have, in table order.
    pub unused_rows: Vec<ScaleEntry>,
    /// Human-readable warnings (defaults, unused rows, stem matches, column notes).
    pub warnings: Vec<String>,
}

impl ResolvedScale {
    /// Pixels per µm of an image (the default for an image the dataset does not have).
    pub fn get(&self, image: ImageId) -> f64 {
        self.px_per_um
            .get(&image)
            .copied()
            .unwrap_or(DEFAULT_PX_PER_UM)
    }
}

/// Which way the numeric column runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Direction {
    PxPerUm,
    UmPerPx,
}

impl ScaleTable {
    /// A table from `(image name, px per µm)` pairs, for callers that have the values in code.
    pub fn from_pairs<S: Into<String>>(pairs: impl IntoIterator<Item = (S, f64)>) -> ScaleTable {
        ScaleTable {
            source: PathBuf::new(),
            entries: pairs
                .into_iter()
                .enumerate()
                .map(|(i, (n, v))| ScaleEntry {
                    image_name: n.into(),
                    px_per_um: v,
                    row: i + 2,
                })
                .collect(),
            notes: Vec::new(),
        }
    }

    /// Reads a CSV, TSV or spreadsheet (XLSX, XLS, ODS) file, chosen by extension.
    pub fn load(path: &Path) -> Result<ScaleTable> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("")
            .to_ascii_lowercase();
        let bytes = crate::error::read_input(path)?;
        match ext.as_str() {
            "xlsx" | "xlsm" | "xlsb" | "xls" | "ods" => Self::from_spreadsheet_bytes(&bytes, path),
            _ => Self::from_csv_bytes(&bytes, path),
        }
    }

    /// Parses CSV text; a tab- or semicolon-separated file is recognised by its header line.
    pub fn from_csv_bytes(bytes: &[u8], path: &Path) -> Result<ScaleTable> {
        let text = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
        let first_line = text.split(|&b| b == b'\n').next().unwrap_or(&[]);
        let count = |c: u8| first_line.iter().filter(|&&b| b == c).count();
        let delimiter = [b',', b'\t', b';']
            .into_iter()
            .max_by_key(|&c| (count(c), c == b','))
            .unwrap_or(b',');
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .has_headers(false)
            .flexible(true)
            .trim(csv::Trim::All)
            .from_reader(text);
        let mut rows = Vec::new();
        for rec in reader.records() {
            let rec = rec.map_err(|e| {
                let (line, _) = e.position().map_or((0, 0), |p| (p.line(), p.byte()));
                Error::parse(path, line as u32, 1, format!("CSV: {e}"))
            })?;
            let line = rec.position().map_or(rows.len() + 1, |p| p.line() as usize);
            rows.push((line, rec.iter().map(str::to_string).collect::<Vec<_>>()));
        }
        Self::from_rows(rows, path)
    }

    /// Parses the first worksheet of a spreadsheet (XLSX as published, also XLS/ODS).
    pub fn from_spreadsheet_bytes(bytes: &[u8], path: &Path) -> Result<ScaleTable> {
        use calamine::Reader;
        let mut book = calamine::open_workbook_auto_from_rs(std::io::Cursor::new(bytes))
            .map_err(|e| Error::invalid(path, format!("not a readable spreadsheet: {e}")))?;
        let range = book
            .worksheet_range_at(0)
            .ok_or_else(|| Error::invalid(path, "the workbook has no worksheet"))?
            .map_err(|e| Error::invalid(path, format!("first worksheet: {e}")))?;
        let (row0, col0) = range.start().unwrap_or((0, 0));
        let mut rows = Vec::new();
        for (i, r) in range.rows().enumerate() {
            // Keep columns aligned with the sheet: pad on the left when the used range does
            // not start at column A, so messages name the column a user sees.
            let mut cells = vec![String::new(); col0 as usize];
            cells.extend(r.iter().map(cell_text));
            rows.push((row0 as usize + i + 1, cells));
        }
        Self::from_rows(rows, path)
    }

    /// Builds the table from rows of cells `(1-based row number, cells)`; the first non-empty
    /// row is the header.
    pub(crate) fn from_rows(rows: Vec<(usize, Vec<String>)>, path: &Path) -> Result<ScaleTable> {
        let mut it = rows
            .into_iter()
            .filter(|(_, cells)| cells.iter().any(|c| !c.trim().is_empty()));
        let (header_row, header) = it
            .next()
            .ok_or_else(|| Error::invalid(path, "the scale table is empty (no header row)"))?;
        let (name_col, value_col, dir) = match_columns(&header).ok_or_else(|| {
            Error::parse(
                path,
                header_row as u32,
                1,
                format!(
                    "cannot tell the columns apart: need one naming the image (image/file/name) and one \
                     with the scale (pixels per micrometre, e.g. `px_per_um`, or micrometres per pixel, \
                     e.g. `um_per_px`); found {header:?}"
                ),
            )
        })?;
        let mut table = ScaleTable {
            source: path.to_path_buf(),
            entries: Vec::new(),
            notes: Vec::new(),
        };
        if dir == Direction::UmPerPx {
            table.notes.push(format!(
                "{}: column {:?} holds micrometres per pixel; inverted to pixels per micrometre",
                path.display(),
                header[value_col]
            ));
        }
        let mut seen: HashMap<String, usize> = HashMap::new();
        let mut no_value: Vec<String> = Vec::new();
        for (row, cells) in it {
            let cell = |c: usize| cells.get(c).map_or("", |s| s.trim());
            let name = cell(name_col);
            let raw = cell(value_col);
            if name.is_empty() && raw.is_empty() {
                continue;
            }
            if raw.is_empty() {
                // A row naming an image with no value: the image is known to have no scale
                // (`neutrostruct scale` writes such rows). It gets what a missing image gets.
                no_value.push(name.to_string());
                continue;
            }
            if name.is_empty() {
                return Err(Error::parse(
                    path,
                    row as u32,
                    name_col as u32 + 1,
                    "empty image name",
                ));
            }
            let v: f64 = raw.replace(',', ".").parse().map_err(|_| {
                Error::parse(
                    path,
                    row as u32,
                    value_col as u32 + 1,
                    format!("column {:?}: {raw:?} is not a number", header[value_col]),
                )
            })?;
            if !(v.is_finite() && v > 0.0) {
                return Err(Error::parse(
                    path,
                    row as u32,
                    value_col as u32 + 1,
                    format!(
                        "column {:?}: scale must be a positive number, got {raw}",
                        header[value_col]
                    ),
                ));
            }
            let px_per_um = if dir == Direction::UmPerPx {
                1.0 / v
            } else {
                v
            };
            if let Some(&prev) = seen.get(name) {
                let pv = table.entries[prev].px_per_um;
                if pv != px_per_um {
                    return Err(Error::parse(
                        path,
                        row as u32,
                        name_col as u32 + 1,
                        format!(
                            "image {name:?} appears again with another scale ({px_per_um} vs {pv} on row {})",
                            table.entries[prev].row
                        ),
                    ));
                }
                continue;
            }
            seen.insert(name.to_string(), table.entries.len());
            table.entries.push(ScaleEntry {
                image_name: name.to_string(),
                px_per_um,
                row,
            });
        }
        if !no_value.is_empty() {
            table.notes.push(format!(
                "{}: {} row(s) name an image with no scale value: {}",
                path.display(),
                no_value.len(),
                no_value.join(", ")
            ));
        }
        Ok(table)
    }

    /// Assigns a scale to every image of `ds`. Missing images get [`DEFAULT_PX_PER_UM`] with a
    /// warning naming them, or an error when `strict`; rows for images the dataset lacks are
    /// reported in `unused_rows` and a warning.
    pub fn resolve(&self, ds: &Dataset, strict: bool) -> Result<ResolvedScale> {
        let mut exact: HashMap<&str, usize> = HashMap::new();
        let mut base: HashMap<String, Vec<usize>> = HashMap::new();
        let mut stem: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, e) in self.entries.iter().enumerate() {
            exact.insert(e.image_name.as_str(), i);
            base.entry(basename(&e.image_name).to_string())
                .or_default()
                .push(i);
            stem.entry(stem_key(&e.image_name)).or_default().push(i);
        }
        let mut out = ResolvedScale::default();
        out.warnings.extend(self.notes.iter().cloned());
        let mut used = vec![false; self.entries.len()];
        let mut loose_matches = Vec::new();
        for im in &ds.images {
            let found = exact.get(im.file_name.as_str()).copied().or_else(|| {
                let one = |v: Option<&Vec<usize>>| match v {
                    Some(v) if v.len() == 1 => Some(v[0]),
                    _ => None,
                };
                let hit = one(base.get(basename(&im.file_name)))
                    .or_else(|| one(stem.get(&stem_key(&im.file_name))));
                if let Some(i) = hit {
                    loose_matches
                        .push(format!("{} ↔ {}", im.file_name, self.entries[i].image_name));
                }
                hit
            });
            match found {
                Some(i) => {
                    used[i] = true;
                    out.px_per_um.insert(im.id, self.entries[i].px_per_um);
                }
                None => {
                    out.defaulted.push(im.file_name.clone());
                    out.px_per_um.insert(im.id, DEFAULT_PX_PER_UM);
                }
            }
        }
        out.defaulted.sort();
        out.defaulted.dedup();
        let src = if self.source.as_os_str().is_empty() {
            "scale table".to_string()
        } else {
            self.source.display().to_string()
        };
        if !out.defaulted.is_empty() {
            let missing = format!(
                "no scale for {} image(s): {}",
                out.defaulted.len(),
                out.defaulted.join(", ")
            );
            if strict {
                // The error names the table once (`Error::invalid` puts it in front) and says
                // what happens instead of what a lenient run would have done.
                return Err(Error::invalid(
                    &self.source,
                    format!(
                        "{missing}; strict mode: stopped, nothing divided or written (add their \
                         rows to the table, or run without strict mode to divide them at the \
                         default {DEFAULT_PX_PER_UM} px/µm with a warning)"
                    ),
                ));
            }
            out.warnings.push(format!(
                "{src}: {missing}; dividing them at the default {DEFAULT_PX_PER_UM} px/µm"
            ));
        }
        if !loose_matches.is_empty() {
            out.warnings.push(format!(
                "{src}: matched by file name without folder/extension: {}",
                loose_matches.join(", ")
            ));
        }
        out.unused_rows = self
            .entries
            .iter()
            .zip(&used)
            .filter(|(_, &u)| !u)
            .map(|(e, _)| e.clone())
            .collect();
        if !out.unused_rows.is_empty() {
            let names: Vec<String> = out
                .unused_rows
                .iter()
                .map(|e| format!("{} (row {})", e.image_name, e.row))
                .collect();
            out.warnings.push(format!(
                "{src}: {} row(s) name images the dataset does not have: {}",
                names.len(),
                names.join(", ")
            ));
        }
        Ok(out)
    }

    /// Rows as a sorted map (for comparing tables read from different formats).
    pub fn as_map(&self) -> BTreeMap<&str, f64> {
        self.entries
            .iter()
            .map(|e| (e.image_name.as_str(), e.px_per_um))
            .collect()
    }
}

fn cell_text(d: &calamine::Data) -> String {
    use calamine::Data;
    match d {
        Data::Empty => String::new(),
        Data::String(s) => s.clone(),
        Data::Float(f) => format!("{f}"),
        Data::Int(i) => i.to_string(),
        other => other.to_string(),
    }
}

/// Lower-case words: `"Pixles per microm"` → `"pixles per microm"`, `"px/µm"` → `"px µm"`.
fn normalise(h: &str) -> String {
    let s: String = h
        .chars()
        .flat_map(char::to_lowercase)
        .map(|c| {
            if c.is_alphanumeric() || c == 'µ' {
                c
            } else {
                ' '
            }
        })
        .collect();
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Position of the first "pixel" word and of the first "micrometre" word in a header.
fn unit_positions(h: &str) -> (Option<usize>, Option<usize>) {
    let mut pix = None;
    let mut micro = None;
    for (pos, w) in h.split(' ').enumerate() {
        let is_pix = w.starts_with("pix") || w == "px" || w.starts_with("px");
        let is_micro =
            w.starts_with("micro") || w.starts_with("µ") || w == "um" || w.starts_with("um");
        if is_pix && pix.is_none() {
            pix = Some(pos);
        }
        if is_micro && micro.is_none() {
            micro = Some(pos);
        }
    }
    (pix, micro)
}

/// `(image column, value column, direction)` found by meaning.
fn match_columns(header: &[String]) -> Option<(usize, usize, Direction)> {
    let norm: Vec<String> = header.iter().map(|h| normalise(h)).collect();
    let mut value = None;
    for (i, h) in norm.iter().enumerate() {
        // Header words like "px_per_um" normalise to "px per um"; a compact "pxperum" is split
        // by looking for the unit words as substrings too.
        let (p, m) = unit_positions(h);
        let (p, m) = match (p, m) {
            (Some(p), Some(m)) => (p, m),
            _ => {
                let pp = h.find("pix").or_else(|| h.find("px"));
                let mm = h
                    .find("micro")
                    .or_else(|| h.find('µ'))
                    .or_else(|| h.find("um"));
                match (pp, mm) {
                    (Some(p), Some(m)) => (p, m),
                    _ => continue,
                }
            }
        };
        value = Some((
            i,
            if p < m {
                Direction::PxPerUm
            } else {
                Direction::UmPerPx
            },
        ));
        break;
    }
    let (vcol, dir) = value?;
    let score = |h: &str| {
        if h.contains("image") {
            3
        } else if h.contains("file") {
            2
        } else if h.contains("name") {
            1
        } else {
            0
        }
    };
    let name_col = norm
        .iter()
        .enumerate()
        .filter(|(i, h)| *i != vcol && score(h) > 0)
        .max_by_key(|(i, h)| (score(h), std::cmp::Reverse(*i)))
        .map(|(i, _)| i)?;
    Some((name_col, vcol, dir))
}

fn basename(name: &str) -> &str {
    name.rsplit(['/', '\\']).next().unwrap_or(name)
}

fn stem_key(name: &str) -> String {
    let b = basename(name);
    let stem = match b.rfind('.') {
        Some(i) if i > 0 => &b[..i],
        _ => b,
    };
    stem.to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Image;

    fn ds(names: &[&str]) -> Dataset {
        Dataset {
            images: names
                .iter()
                .enumerate()
                .map(|(i, n)| Image {
                    id: ImageId(i as u64 + 1),
                    file_name: n.to_string(),
                    width: 10,
                    height: 10,
                    subset: None,
                    coco_extra: Default::default(),
                    cvat_attrs: vec![],
                    cvat_unknown: vec![],
                    loc: None,
                })
                .collect(),
            ..Dataset::default()
        }
    }

    #[test]
    fn columns_by_meaning() {
        let h = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            match_columns(&h(&["image_name", "Pixles per microm"])),
            Some((0, 1, Direction::PxPerUm))
        );
        assert_eq!(
            match_columns(&h(&["px_per_um", "file"])),
            Some((1, 0, Direction::PxPerUm))
        );
        assert_eq!(
            match_columns(&h(&["Image", "um_per_px"])),
            Some((0, 1, Direction::UmPerPx))
        );
        assert_eq!(
            match_columns(&h(&["name", "micrometer per pixel"])),
            Some((0, 1, Direction::UmPerPx))
        );
        assert_eq!(
            match_columns(&h(&["File name", "scale (px/µm)"])),
            Some((0, 1, Direction::PxPerUm))
        );
        assert_eq!(match_columns(&h(&["a", "b"])), None);
    }

    #[test]
    fn csv_with_inverted_column_and_loose_names() {
        let t = ScaleTable::from_csv_bytes(
            b"Image,um_per_px\nA.tif,0.0025\nb.TIF,0.002\nextra.tif,0.01\n",
            Path::new("s.csv"),
        )
        .unwrap();
        assert!((t.entries[0].px_per_um - 400.0).abs() < 1e-9);
        assert_eq!(t.notes.len(), 1);
        let d = ds(&["A.tif", "sub/B.png", "C.png"]);
        let r = t.resolve(&d, false).unwrap();
        assert!((r.get(ImageId(2)) - 500.0).abs() < 1e-9);
        assert_eq!(r.get(ImageId(3)), DEFAULT_PX_PER_UM);
        assert_eq!(r.defaulted, vec!["C.png".to_string()]);
        assert_eq!(r.unused_rows.len(), 1);
        assert!(
            r.warnings
                .iter()
                .any(|w| w.contains("C.png") && w.contains("375")),
            "{:?}",
            r.warnings
        );
        let err = t.resolve(&d, true).unwrap_err().to_string();
        assert!(err.contains("C.png") && err.contains("strict"), "{err}");
        // Said once, and no claim of a default that is not used.
        assert!(!err.contains("using the default"), "{err}");
    }

    #[test]
    fn errors_name_row_and_column() {
        let err = ScaleTable::from_csv_bytes(
            b"image_name,px_per_um\na.tif,400\nb.tif,abc\n",
            Path::new("s.csv"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("s.csv:3:2:"), "{err}");
        let err = ScaleTable::from_csv_bytes(b"foo,bar\na,1\n", Path::new("s.csv"))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("s.csv:1:1:"), "{err}");
        let err = ScaleTable::from_csv_bytes(b"image,px_per_um\na,1\na,2\n", Path::new("s.csv"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("row 2"), "{err}");
    }
}
