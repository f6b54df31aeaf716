//! An honest but large `annotations.xml` in an export archive is streamed into the reader
//! (issue 14): the binary's peak memory stays far below the entry's inflated size. Its own
//! test file, so that no other test's memory in this process can inflate the child's
//! `ru_maxrss` (Linux carries the parent's peak into it).

mod hostile_util;

use std::io::Write;

/// Inflated size of the entry: 256 MiB, about 21× its compressed size (below the 200× cap).
const INFLATED: usize = 256 << 20;

#[test]
fn a_large_legal_zip_entry_is_read_with_memory_far_below_its_inflated_size() {
    let t = tempfile::tempdir().unwrap();
    let zip_path = t.path().join("export.zip");
    // Written as a stream to disk: this process never holds the entry either.
    let file = std::fs::File::create(&zip_path).unwrap();
    let mut z = zip::ZipWriter::new(std::io::BufWriter::new(file));
    z.start_file("annotations.xml", zip::write::SimpleFileOptions::default())
        .unwrap();
    z.write_all(
        b"<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<annotations>\n  <version>1.1</version>\n",
    )
    .unwrap();
    let mut written = 0usize;
    let mut i = 0u64;
    let mut chunk = String::with_capacity(1 << 20);
    while written < INFLATED {
        chunk.clear();
        while chunk.len() < (1 << 20) - 256 {
            i += 1;
            if i.is_multiple_of(5000) {
                chunk.push_str(&format!(
                    "  <image id=\"{}\" name=\"img_{i:08}.tif\" width=\"2048\" height=\"2048\">\n    <ellipse label=\"granule\" source=\"manual\" occluded=\"0\" cx=\"{}.50\" cy=\"300.25\" rx=\"12.50\" ry=\"9.25\" rotation=\"0.40\" z_order=\"0\"/>\n  </image>\n",
                    i / 5000,
                    i % 1500
                ));
            } else {
                chunk.push_str(&format!(
                    "  <!-- padding row {i} of a large but honest file -->\n"
                ));
            }
        }
        z.write_all(chunk.as_bytes()).unwrap();
        written += chunk.len();
    }
    z.write_all(b"</annotations>\n").unwrap();
    z.finish().unwrap().flush().unwrap();
    let compressed = std::fs::metadata(&zip_path).unwrap().len();
    assert!(
        (written as u64) < compressed * neutrostruct::cvat::MAX_ZIP_RATIO,
        "the entry must be legal: {written} from {compressed}"
    );

    let out = t.path().join("out.json");
    let logs = t.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    let args = [
        std::ffi::OsStr::new("convert"),
        zip_path.as_os_str(),
        std::ffi::OsStr::new("--to"),
        std::ffi::OsStr::new("coco"),
        std::ffi::OsStr::new("-o"),
        out.as_os_str(),
    ];
    let r = hostile_util::run_bin(&args, t.path(), &logs);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let coco: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let images = coco["images"].as_array().unwrap().len();
    assert!(images > 500, "{images} images read");
    let inflated_kib = (written / 1024) as i64;
    eprintln!(
        "entry {} MiB inflated from {} MiB; peak RSS {} MiB",
        written >> 20,
        compressed >> 20,
        r.rss_kib / 1024
    );
    assert!(
        r.rss_kib < inflated_kib / 4,
        "peak {} KiB for an entry of {inflated_kib} KiB: the entry was held in memory",
        r.rss_kib
    );
}
