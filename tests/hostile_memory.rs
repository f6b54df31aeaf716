//! The largest inputs the readers accept, through the binary, in bounded memory: limits
//! that only refuse what is over them would still let the largest accepted input exhaust
//! memory.
//!
//! A test binary of its own, with few tests, so that the peak RSS `wait4` reports (which
//! includes this process's peak at spawn time) is close to the child's.

mod hostile_util;

use hostile_util::*;
use std::ffi::OsStr;
use std::fmt::Write as _;

/// What the largest accepted polygon may cost: it is 15 MB of JSON and 16 MB of points.
/// Read through a `serde_json::Value` tree it peaked at 316 MB.
const POLYGON_RSS_LIMIT_KIB: i64 = 160 * 1024;

#[test]
fn the_largest_accepted_coco_polygon_validates_and_converts_in_bounded_memory() {
    let n = neutrostruct::coco::MAX_POINTS;
    let mut coords = String::with_capacity(n * 16);
    for i in 0..n {
        let sep = if i == 0 { "" } else { "," };
        let _ = write!(coords, "{sep}{}.5,{}.25", i % 1000, i / 1000);
    }
    let json = format!(
        r#"{{"images": [{{"id": 1, "file_name": "a.png", "width": 2000, "height": 2000}}],
"annotations": [{{"id": 1, "image_id": 1, "category_id": 1, "iscrowd": 0, "area": 1, "bbox": [0, 0, 1000, 1000], "segmentation": [[{coords}]]}}],
"categories": [{{"id": 1, "name": "c"}}]}}"#
    );
    drop(coords);
    let dirs = work_dirs();
    let input = dirs.inp.join("poly.json");
    std::fs::write(&input, json).expect("write");
    let out = dirs.out.join("poly.xml");
    for (what, args) in [
        (
            "validate",
            vec![
                OsStr::new("validate"),
                OsStr::new("--coco"),
                input.as_os_str(),
            ],
        ),
        (
            "convert",
            vec![
                OsStr::new("convert"),
                OsStr::new("--from"),
                OsStr::new("coco"),
                OsStr::new("--to"),
                OsStr::new("cvat"),
                input.as_os_str(),
                OsStr::new("-o"),
                out.as_os_str(),
            ],
        ),
    ] {
        let r = run_bin(&args, &dirs.cwd, &dirs.logs);
        // Accepted: a limit that refused this input would make the memory check vacuous.
        assert!(
            matches!(r.code, Some(0 | 1)),
            "{what}: {:?} {}",
            r.code,
            r.stderr
        );
        assert!(
            r.rss_kib < POLYGON_RSS_LIMIT_KIB,
            "{what}: peak RSS {} MiB over {} MiB",
            r.rss_kib / 1024,
            POLYGON_RSS_LIMIT_KIB / 1024
        );
        eprintln!("{what}: peak RSS {} MiB", r.rss_kib / 1024);
    }
    let xml = std::fs::read_to_string(&out).expect("converted");
    assert_eq!(xml.matches("<polygon ").count(), 1);
}

/// Regression (issue 14): a 493 KB PNG declaring 13000 × 13000 took 1.3 GB in
/// `convert --from masks` (and that again per thread). Masks now draw on one budget shared
/// by all threads (`mask_dataset::MASK_DECODE_BUDGET`) and the decoder may allocate only
/// what the header declares: this one is refused before it is decoded.
#[test]
fn a_small_png_declaring_13000_squared_is_refused_before_decoding() {
    let dirs = work_dirs();
    let masks = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/hostile/mask_13000");
    let out = dirs.out.join("m.json");
    let args = [
        OsStr::new("convert"),
        masks.as_os_str(),
        OsStr::new("--from"),
        OsStr::new("masks"),
        OsStr::new("--labelset"),
        OsStr::new("4"),
        OsStr::new("--to"),
        OsStr::new("coco"),
        OsStr::new("-o"),
        out.as_os_str(),
    ];
    let run = run_bin(&args, &dirs.cwd, &dirs.logs);
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(run.stderr.contains("limit for masks"), "{}", run.stderr);
    assert!(run.rss_kib < RSS_LIMIT_KIB, "peak {} KiB", run.rss_kib);
}
