//! Hostile inputs that cost memory in the test process itself (issue 14's bounded costs).
//!
//! They live apart from `tests/hostile.rs` on purpose: Linux carries a process's peak RSS
//! into the `ru_maxrss` of every child it forks and execs afterwards, so a test building a
//! million-attribute document in the same process made the binary-level tests there report
//! the *test process's* 316 MiB as the child's peak and fail their RSS bound.

mod hostile_util;

use hostile_util::{cvat_err, zip_of};
use std::path::Path;

/// Regression (issue 14): the duplicate-attribute check compared each attribute with every
/// earlier one; 160k attributes on one element took 52 s and 1M never finished. Now hashed
/// past a few attributes: 1M attributes (12 MB) read in about a second.
#[test]
fn cvat_million_attributes_on_one_element_is_linear() {
    let mut xml = String::from(
        "<annotations><version>1.1</version><image id=\"0\" name=\"a.tif\" width=\"10\" height=\"10\"",
    );
    for i in 0..1_000_000 {
        xml.push_str(&format!(" a{i}=\"\""));
    }
    xml.push_str("></image></annotations>");
    let started = std::time::Instant::now();
    let read =
        neutrostruct::cvat::read_bytes(xml.as_bytes(), Path::new("in.xml"), &Default::default());
    let took = started.elapsed();
    assert!(took < std::time::Duration::from_secs(15), "took {took:?}");
    // The duplicate check still fires past the hashed threshold.
    xml.truncate(xml.len() - "></image></annotations>".len());
    xml.push_str(" a999999=\"\"></image></annotations>");
    let e = cvat_err(&xml);
    assert!(e.contains("`a999999` appears twice"), "{e}");
    drop(read);
}

/// Regression (issue 14): a 1.9 MB zip whose `annotations.xml` inflated to 2 GB took 3.5 GB.
/// Inflation now stops at `MAX_ZIP_RATIO` × the compressed size: 64 MB of one repeated byte
/// (about 1000:1) is refused, having inflated at most 200× its compressed size.
#[test]
fn limit_zip_compression_ratio() {
    let bomb = vec![b' '; 64 << 20];
    let zip = zip_of(&[("annotations.xml", &bomb)]);
    assert!(zip.len() < 1 << 20, "the bomb is small: {}", zip.len());
    let e = neutrostruct::cvat::annotations_from_zip(&zip, Path::new("bomb.zip"))
        .expect_err("refused")
        .to_string();
    assert!(e.starts_with("bomb.zip: ") && e.contains("zip bomb"), "{e}");
    // An honest archive of the same kind reads.
    let xml =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/hostile/cvat_valid.xml"))
            .expect("fixture");
    let ok = zip_of(&[("annotations.xml", &xml)]);
    neutrostruct::cvat::annotations_from_zip(&ok, Path::new("ok.zip")).expect("reads");
}
