//! The COCO read two ways in one binary, for a fair comparison on a busy machine: the
//! windowed read `validate` uses (`coco::read_path`) and the whole-file read it falls back
//! to (`coco::read_bytes` on the file's bytes). Prints the wall time of the read; run under
//! `/usr/bin/time -v` for the peak memory of each.
//!
//! usage: read_ab windowed|whole FILE.json

use neutrostruct::coco::{read_bytes, read_path, ReadOptions};
use std::path::Path;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(mode), Some(file)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: read_ab windowed|whole FILE.json");
        std::process::exit(2);
    };
    // The options `validate` reads with.
    let opts = ReadOptions {
        allow_non_finite: true,
        drop_segmentation_text: true,
        fast_cvat_ellipses: true,
        ..Default::default()
    };
    let path = Path::new(file);
    let t = std::time::Instant::now();
    let read = match mode.as_str() {
        "windowed" => read_path(path, &opts),
        "whole" => match std::fs::read(path) {
            Ok(bytes) => read_bytes(&bytes, path, &opts),
            Err(e) => {
                eprintln!("read_ab: {file}: {e}");
                std::process::exit(2);
            }
        },
        _ => {
            eprintln!("usage: read_ab windowed|whole FILE.json");
            std::process::exit(2);
        }
    };
    match read {
        Ok((ds, _)) => println!(
            "read_ab {mode}: {} annotations in {:.3} s",
            ds.annotations.len(),
            t.elapsed().as_secs_f64()
        ),
        Err(e) => {
            eprintln!("read_ab: {e}");
            std::process::exit(2);
        }
    }
}
