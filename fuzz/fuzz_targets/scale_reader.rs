//! Scale table reader: CSV and spreadsheet (XLSX/XLS/ODS) bytes never panic; errors only.
#![no_main]
use libfuzzer_sys::fuzz_target;
use neutrostruct::division::ScaleTable;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let _ = ScaleTable::from_csv_bytes(data, Path::new("fuzz.csv"));
    let _ = ScaleTable::from_spreadsheet_bytes(data, Path::new("fuzz.xlsx"));
});
