//! Writes the scale table: the columns `stats`, `reclassify` and `validate --scale` read
//! (`image_name`, `px_per_um`), then where each value came from.
//!
//! An image without a scale gets a row with an empty `px_per_um`: the reader takes that as
//! "no scale known" (the image then gets the default with a warning), so nothing is invented
//! and the row still says why.

use super::ImageScale;
use crate::error::{Error, Result};
use std::path::Path;

/// The header, in order.
pub(crate) const COLUMNS: [&str; 6] = [
    "image_name",
    "px_per_um",
    "source",
    "confidence",
    "bar_length_px",
    "note",
];

fn cells(r: &ImageScale) -> [String; 6] {
    [
        r.image_name.clone(),
        r.px_per_um.map_or_else(String::new, |v| format!("{v}")),
        r.source.as_str().to_string(),
        r.confidence.map_or_else(String::new, |c| format!("{c:.3}")),
        r.bar
            .as_ref()
            .map_or_else(String::new, |b| format!("{:.3}", b.length_px)),
        r.note.clone(),
    ]
}

/// CSV text of the table.
pub fn to_csv(rows: &[ImageScale]) -> Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let err = |e: csv::Error| Error::Usage(format!("writing the scale table: {e}"));
    w.write_record(COLUMNS).map_err(err)?;
    for r in rows {
        // A cell starting with = + - @ would be a formula in a spreadsheet: names and notes
        // come from files, so they are written as text.
        let c = cells(r).map(|s| crate::escape::csv_cell(&s).into_owned());
        w.write_record(&c).map_err(err)?;
    }
    w.into_inner()
        .map_err(|e| Error::Usage(format!("writing the scale table: {e}")))
}

/// XLSX bytes of the table (numbers as numbers).
pub fn to_xlsx(rows: &[ImageScale]) -> Result<Vec<u8>> {
    let x = |e: rust_xlsxwriter::XlsxError| Error::Usage(format!("writing the scale XLSX: {e}"));
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    for (c, h) in COLUMNS.iter().enumerate() {
        sheet.write_string(0, c as u16, *h).map_err(x)?;
    }
    for (i, r) in rows.iter().enumerate() {
        let row = u32::try_from(i + 1).map_err(|_| Error::Usage("too many images".into()))?;
        sheet.write_string(row, 0, &r.image_name).map_err(x)?;
        if let Some(v) = r.px_per_um {
            sheet.write_number(row, 1, v).map_err(x)?;
        }
        sheet.write_string(row, 2, r.source.as_str()).map_err(x)?;
        if let Some(c) = r.confidence {
            sheet.write_number(row, 3, c).map_err(x)?;
        }
        if let Some(b) = &r.bar {
            sheet.write_number(row, 4, b.length_px).map_err(x)?;
        }
        sheet.write_string(row, 5, &r.note).map_err(x)?;
    }
    book.save_to_buffer().map_err(x)
}

/// Writes the table atomically, as XLSX when the name ends in `.xlsx`, else CSV.
pub fn write(path: &Path, rows: &[ImageScale]) -> Result<()> {
    let xlsx = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("xlsx"));
    let bytes = if xlsx { to_xlsx(rows)? } else { to_csv(rows)? };
    crate::atomic::write(path, &bytes)
}
