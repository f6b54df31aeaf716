//! The floor for reading a COCO file: read it and let serde_json walk every token into
//! `IgnoredAny` (no values kept, no model built). `benches/compare.sh` reports `validate`'s
//! time as a multiple of this.
//!
//! usage: bare_parse FILE.json

use serde::de::IgnoredAny;

fn main() {
    let Some(path) = std::env::args_os().nth(1) else {
        eprintln!("usage: bare_parse FILE.json");
        std::process::exit(2);
    };
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("bare_parse: {}: {e}", path.to_string_lossy());
            std::process::exit(2);
        }
    };
    match serde_json::from_slice::<IgnoredAny>(&bytes) {
        Ok(_) => println!("bare_parse: {} bytes parsed", bytes.len()),
        Err(e) => {
            eprintln!("bare_parse: {}: {e}", path.to_string_lossy());
            std::process::exit(2);
        }
    }
}
