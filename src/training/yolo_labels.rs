//! The text of one YOLO label file, read and written row by row: `class v1 v2 …` with
//! coordinates normalised to [0, 1], as Ultralytics' loader accepts it.
//!
//! [`parse_label_text`] is strict where Ultralytics is (column count per task, class < nc,
//! every value within [0, 1]) and stricter where a loose reading would hide a broken file
//! (non-finite numbers, a class that is not a plain integer). Errors carry the 1-based line
//! and column of the offending token. [`write_label_text`] writes each number in Rust's
//! shortest round-trip form, so parse → write → parse gives the same rows bit for bit.

use super::yolo::Flavour;
use crate::error::{Error, Result};
use std::fmt::Write as _;
use std::path::Path;

/// Most rows one label file may hold (a TEM image has a few hundred objects; a million rows
/// is far beyond any real label file and bounds the work per file).
pub(crate) const MAX_ROWS: usize = 1_000_000;

/// Most points one segment row may hold (same bound as a COCO or CVAT polygon).
pub use crate::model::limits::MAX_POINTS;

/// One label row: a class index and its normalised coordinates (4 for a box `cx cy w h`,
/// 8 for an oriented box's corners, 2·n for a polygon).
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// Class index (0-based, the `names` order of `data.yaml`).
    pub class: usize,
    /// Coordinates, normalised to 0..1 by the image size.
    pub coords: Vec<f64>,
}

/// Whether a row of `cols` columns (class included) is a row of `flavour`.
fn columns_fit(flavour: Flavour, cols: usize) -> bool {
    match flavour {
        Flavour::Detect => cols == 5,
        Flavour::Obb => cols == 9,
        Flavour::Segment => cols >= 7 && cols % 2 == 1,
    }
}

fn expected_columns(flavour: Flavour) -> &'static str {
    match flavour {
        Flavour::Detect => "5 columns (class cx cy w h)",
        Flavour::Obb => "9 columns (class x1 y1 … x4 y4)",
        Flavour::Segment => "an odd number of at least 7 columns (class and 3 or more points)",
    }
}

/// A token as shown in an error: quoted, and cut after 32 characters (a line of a million
/// characters is not echoed whole).
fn shown(tok: &str) -> String {
    match tok.char_indices().nth(32) {
        Some((i, _)) => format!("{:?}…", &tok[..i]),
        None => format!("{tok:?}"),
    }
}

/// Column (1-based, in characters) of byte offset `at` of `line`.
fn column(line: &str, at: usize) -> u32 {
    let at = at.min(line.len());
    let chars = line
        .char_indices()
        .take_while(|(i, _)| *i < at)
        .count()
        .saturating_add(1);
    u32::try_from(chars).unwrap_or(u32::MAX)
}

/// The label file's bytes as text; invalid UTF-8 is an error at its position.
pub fn label_text<'a>(bytes: &'a [u8], path: &Path) -> Result<&'a str> {
    std::str::from_utf8(bytes).map_err(|e| {
        let (line, col) = crate::error::line_col(bytes, e.valid_up_to());
        Error::parse(path, line, col, "not UTF-8 text")
    })
}

/// What is wrong with one label row, as `validate` reports it (Ultralytics'
/// `verify_image_label` checks, and the reader's own).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RowProblem {
    /// Wrong column count for the task, a token that is not a number, a value that is not
    /// finite, a class that is not a plain non-negative integer.
    Malformed,
    /// A class not below the number of classes `data.yaml` declares.
    ClassOutOfRange,
    /// A coordinate outside [0, 1].
    CoordinateOutOfRange,
    /// The same row again in the same file (Ultralytics drops it with a warning).
    Duplicate,
    /// A box of zero width or height, or a segment of fewer than 3 points.
    Degenerate,
}

/// One problem of one row: where it is (1-based line and column in characters) and what.
#[derive(Clone, Debug, PartialEq)]
pub struct RowIssue {
    /// What is wrong.
    pub problem: RowProblem,
    /// 1-based line.
    pub line: u32,
    /// 1-based column, in characters.
    pub column: u32,
    /// The message for the user.
    pub message: String,
}

/// The rows of a checked label file, each with its 1-based line, and the problems of the
/// rows left out.
pub type Checked = (Vec<(Row, u32)>, Vec<RowIssue>);

/// Parses the rows of a label file of `flavour` with `nc` classes. Blank lines are skipped;
/// every other line must be a valid row (duplicates are kept: converting, each row is an
/// object).
pub fn parse_label_text(text: &str, flavour: Flavour, nc: usize, path: &Path) -> Result<Vec<Row>> {
    let (rows, _) = parse_rows(text, flavour, nc, path, true)?;
    Ok(rows.into_iter().map(|(r, _)| r).collect())
}

/// Parses a label file for `validate`: rows that are wrong are reported and left out instead
/// of failing the file, so every problem of every file is found in one run; duplicates are
/// reported and left out as Ultralytics leaves them out. Each good row comes with its line.
/// The limits (`MAX_ROWS`, [`MAX_POINTS`]) are still errors: past them nothing is read.
pub fn check_label_text(text: &str, flavour: Flavour, nc: usize, path: &Path) -> Result<Checked> {
    parse_rows(text, flavour, nc, path, false)
}

/// The check a writer applies to the label text it is about to write: the first row that
/// Ultralytics' loader would reject, drop or alter (wrong column count, class ≥ nc, a
/// coordinate outside [0, 1], an empty box, a duplicate), as its message. The same row
/// parser as reading, so what we write and what we accept cannot drift apart.
pub(crate) fn first_rejected_row(
    text: &str,
    flavour: Flavour,
    nc: usize,
    path: &Path,
) -> Result<Option<String>> {
    let (_, issues) = parse_rows(text, flavour, nc, path, false)?;
    Ok(issues
        .into_iter()
        .next()
        .map(|i| format!("line {}: {}", i.line, i.message)))
}

/// The one row parser: `strict` turns the first problem (but a duplicate) into the error.
fn parse_rows(
    text: &str,
    flavour: Flavour,
    nc: usize,
    path: &Path,
    strict: bool,
) -> Result<Checked> {
    let mut rows: Vec<(Row, u32)> = Vec::new();
    let mut issues = Vec::new();
    // Rows seen so far, by their exact values (bit patterns: -0 and 0 differ in text too).
    let mut seen: std::collections::HashMap<(usize, Vec<u64>), u32> =
        std::collections::HashMap::new();
    // A leading byte-order mark is not part of the first row.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    for (i, line) in text.lines().enumerate() {
        let n = u32::try_from(i + 1).unwrap_or(u32::MAX);
        let err = |at: usize, msg: String| Error::parse(path, n, column(line, at), msg);
        // A problem of this row: the error when strict, else one more issue (the caller then
        // skips the row).
        macro_rules! report {
            ($problem:expr, $at:expr, $message:expr $(,)?) => {{
                let (at, message): (usize, String) = ($at, $message);
                if strict {
                    return Err(err(at, message));
                }
                issues.push(RowIssue {
                    problem: $problem,
                    line: n,
                    column: column(line, at),
                    message,
                });
            }};
        }
        // Tokens with their byte offsets in the line, counted lazily so a huge line stops at
        // the point limit instead of being split whole first.
        let mut tokens = line
            .split_ascii_whitespace()
            .map(|t| (t.as_ptr() as usize - line.as_ptr() as usize, t));
        let Some((class_at, class_tok)) = tokens.next() else {
            continue;
        };
        if rows.len() + issues.len() >= MAX_ROWS {
            return Err(err(
                0,
                format!("more than {MAX_ROWS} rows in one label file"),
            ));
        }
        // Ultralytics reads the class as a float and casts it; a fraction or a sign is a
        // broken file, not a class.
        let class = match class_tok.parse::<usize>() {
            Ok(c) if class_tok.bytes().all(|b| b.is_ascii_digit()) => c,
            _ => {
                report!(
                    RowProblem::Malformed,
                    class_at,
                    format!("class {} is not a non-negative integer", shown(class_tok)),
                );
                continue;
            }
        };
        if class >= nc {
            report!(
                RowProblem::ClassOutOfRange,
                class_at,
                format!("class {class} is not below the number of classes ({nc})"),
            );
            continue;
        }
        let mut coords = Vec::new();
        let mut bad: Option<(RowProblem, usize, String)> = None;
        for (at, tok) in tokens {
            if coords.len() >= 2 * MAX_POINTS {
                return Err(err(at, format!("more than {MAX_POINTS} points in one row")));
            }
            let v: f64 = match tok.parse() {
                Ok(v) => v,
                Err(_) => {
                    bad = Some((
                        RowProblem::Malformed,
                        at,
                        format!("{} is not a number", shown(tok)),
                    ));
                    break;
                }
            };
            if !v.is_finite() {
                bad = Some((
                    RowProblem::Malformed,
                    at,
                    format!("{} is not finite", shown(tok)),
                ));
                break;
            }
            if !(0.0..=1.0).contains(&v) {
                bad = Some((
                    RowProblem::CoordinateOutOfRange,
                    at,
                    format!(
                        "{} is outside [0, 1] (coordinates are normalised by the image size)",
                        shown(tok)
                    ),
                ));
                break;
            }
            coords.push(v);
        }
        if let Some((problem, at, message)) = bad {
            report!(problem, at, message);
            continue;
        }
        let cols = coords.len() + 1;
        if !columns_fit(flavour, cols) {
            // A segment of 1 or 2 points has the shape of a row but not of a region.
            let problem = if flavour == Flavour::Segment && (cols == 3 || cols == 5) {
                RowProblem::Degenerate
            } else {
                RowProblem::Malformed
            };
            report!(
                problem,
                0,
                format!(
                    "{cols} columns; a {} row has {}",
                    flavour.name(),
                    expected_columns(flavour)
                ),
            );
            continue;
        }
        if let (Flavour::Detect, [_, _, w, h]) = (flavour, coords.as_slice()) {
            if *w <= 0.0 || *h <= 0.0 {
                report!(
                    RowProblem::Degenerate,
                    0,
                    "box of zero width or height".to_string(),
                );
                continue;
            }
        }
        if !strict {
            let key = (class, coords.iter().map(|v| v.to_bits()).collect());
            if let Some(first) = seen.get(&key) {
                let first = *first;
                report!(
                    RowProblem::Duplicate,
                    0,
                    format!("the same row as line {first}"),
                );
                continue;
            }
            seen.insert(key, n);
        }
        rows.push((Row { class, coords }, n));
    }
    Ok((rows, issues))
}

/// Writes rows as label text, one per line, numbers in shortest round-trip form (so that
/// [`parse_label_text`] reads back exactly these values).
pub fn write_label_text(rows: &[Row]) -> String {
    let mut out = String::new();
    for r in rows {
        let _ = write!(out, "{}", r.class);
        for v in &r.coords {
            let _ = write!(out, " {v}");
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_rejected_row_finds_what_ultralytics_rejects() {
        let p = Path::new("l.txt");
        let rejected = |text: &str, flavour: Flavour| {
            first_rejected_row(text, flavour, 1, p)
                .expect("within the limits")
                .is_some()
        };
        assert!(!rejected("0 0.5 0.5 0.1 0.1\n", Flavour::Detect));
        assert!(
            rejected("1 0.5 0.5 0.1 0.1\n", Flavour::Detect),
            "class ≥ nc"
        );
        assert!(
            rejected("0 0.5 0.5 1.1 0.1\n", Flavour::Detect),
            "out of range"
        );
        assert!(rejected("0 0.5 0.5 0.1\n", Flavour::Detect), "columns");
        assert!(
            rejected("0 0.5 0.5 0.0 0.1\n", Flavour::Detect),
            "empty box"
        );
        assert!(
            rejected("0 0.5 0.5 0.1 0.1\n0 0.5 0.5 0.1 0.1\n", Flavour::Detect),
            "duplicate"
        );
        assert!(!rejected("0 0.1 0.1 0.2 0.1 0.2 0.2\n", Flavour::Segment));
        assert!(
            rejected("0 0.1 0.1 0.2 0.1\n", Flavour::Segment),
            "two points"
        );
        assert!(!rejected(
            "0 0.1 0.1 0.2 0.1 0.2 0.2 0.1 0.2\n",
            Flavour::Obb
        ));
        assert!(
            rejected("0 -0.1 0.1 0.2 0.1 0.2 0.2 0.1 0.2\n", Flavour::Obb),
            "negative"
        );
    }

    fn parse(text: &str, flavour: Flavour) -> Result<Vec<Row>> {
        parse_label_text(text, flavour, 4, Path::new("l.txt"))
    }

    fn err(text: &str, flavour: Flavour) -> String {
        parse(text, flavour).expect_err("refused").to_string()
    }

    #[test]
    fn reads_each_flavour_and_skips_blank_lines() {
        let r = parse(
            "\n0 0.5 0.5 0.25 0.125\n\n  3 0 1 0.5 0.5  \n",
            Flavour::Detect,
        )
        .expect("reads");
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].class, 0);
        assert_eq!(r[0].coords, [0.5, 0.5, 0.25, 0.125]);
        assert_eq!(r[1].class, 3);
        let r = parse("1 0.1 0.1 0.2 0.1 0.2 0.2\n", Flavour::Segment).expect("reads");
        assert_eq!(r[0].coords.len(), 6);
        let r = parse("2 0.1 0.1 0.2 0.1 0.2 0.2 0.1 0.2\n", Flavour::Obb).expect("reads");
        assert_eq!(r[0].coords.len(), 8);
    }

    #[test]
    fn errors_name_line_and_column_of_the_bad_token() {
        // (text, task, position the message starts with, if it is pinned here, and what
        // the message says)
        let cases: [(&str, Flavour, Option<&str>, &str); 11] = [
            (
                "0 0.5 0.5 0.1 0.1\n0 0.5 NaN 0.1 0.1\n",
                Flavour::Detect,
                Some("2:7"),
                "not finite",
            ),
            (
                "0 0.5 0.5 0.1 1e400\n",
                Flavour::Detect,
                Some("1:15"),
                "not finite",
            ),
            (
                "0 0.5 -0.5 0.1 0.1\n",
                Flavour::Detect,
                Some("1:7"),
                "outside [0, 1]",
            ),
            (
                "4 0.5 0.5 0.1 0.1\n",
                Flavour::Detect,
                Some("1:1"),
                "number of classes",
            ),
            (
                "-1 0.5 0.5 0.1 0.1\n",
                Flavour::Detect,
                Some("1:1"),
                "non-negative integer",
            ),
            (
                "1.0 0.5 0.5 0.1 0.1\n",
                Flavour::Detect,
                None,
                "non-negative integer",
            ),
            ("0 0.5 0.5 0.1\n", Flavour::Detect, Some("1:1"), "4 columns"),
            (
                "0 0.5 0.5 0.1 0.1 0.2 0.2 0.3\n",
                Flavour::Segment,
                None,
                "8 columns",
            ),
            ("0 0.5 0.5 0.1 0.1\n", Flavour::Obb, None, "5 columns"),
            ("0 0.5 0.5 0 0.1\n", Flavour::Detect, None, "zero width"),
            (
                "0 0.5 x 0.1 0.1\n",
                Flavour::Detect,
                Some("1:7"),
                "not a number",
            ),
        ];
        for (text, flavour, at, says) in cases {
            let e = err(text, flavour);
            let placed = at.is_none_or(|at| e.starts_with(&format!("l.txt:{at}: ")));
            assert!(placed && e.contains(says), "{text:?}: {e}");
        }
        let long = format!("0 0.5 -0.{}1 0.1 0.1\n", "0".repeat(300));
        let e = err(&long, Flavour::Detect);
        assert!(e.contains("outside [0, 1]") && e.len() < 200, "{e}");
        let e = label_text(b"0 0.5\n0 \xff", Path::new("l.txt"))
            .expect_err("not UTF-8")
            .to_string();
        assert!(e.starts_with("l.txt:2:3: "), "{e}");
    }

    #[test]
    fn write_then_parse_gives_the_same_rows() {
        let text = "0 0.1 0.2 0.30000000000000004 1e-7\n3 1 0 0.5 0.5\n";
        let rows = parse(text, Flavour::Detect).expect("reads");
        let again = parse(&write_label_text(&rows), Flavour::Detect).expect("reads back");
        assert_eq!(rows, again);
        assert_eq!(write_label_text(&rows), write_label_text(&again));
    }

    #[test]
    fn too_many_points_in_a_row_is_an_error_before_the_row_is_read_whole() {
        let row = format!("0{}\n", " 0.5".repeat(2 * MAX_POINTS + 3));
        let e = err(&row, Flavour::Segment);
        assert!(e.contains("more than") && e.contains("points"), "{e}");
    }
}
