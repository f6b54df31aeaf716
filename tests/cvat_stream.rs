//! The streamed CVAT reader (`cvat::read_stream`, used for `annotations.xml` inside an export
//! archive) reads every file exactly as the in-memory reader does: the same dataset, or an
//! error at the same file, line and column. Checked on every CVAT file of the repository
//! (conformance, fixtures, hostile corpus) and on cut and mutated copies of them.

use std::path::{Path, PathBuf};

fn xml_files() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut dirs = vec![
        root.join("tests/hostile"),
        root.join("tests/hostile/injection"),
        root.join("tests/fixtures"),
    ];
    let shared = root.join("../shared/conformance");
    if shared.is_dir() {
        dirs.push(shared);
    }
    let mut out = Vec::new();
    for d in dirs {
        for e in walkdir::WalkDir::new(d).into_iter().flatten() {
            if e.path().extension().is_some_and(|x| x == "xml") && e.file_type().is_file() {
                out.push(e.path().to_path_buf());
            }
        }
    }
    out.sort();
    out
}

fn both(bytes: &[u8], what: &str) -> (bool, String) {
    let path = Path::new("x.zip/annotations.xml");
    let opts = neutrostruct::cvat::ReadOptions::default();
    let whole = neutrostruct::cvat::read_bytes(bytes, path, &opts);
    let stop = neutrostruct::cvat::StreamLimit::default();
    let streamed = neutrostruct::cvat::read_stream(bytes, path, &opts, &stop);
    let show = |r: &neutrostruct::error::Result<(neutrostruct::model::Dataset, _)>| match r {
        Ok((ds, loss)) => format!(
            "ok {}\n{:?}",
            neutrostruct::cvat::to_string(ds, &Default::default()).0,
            loss
        ),
        Err(e) => format!("error {e}"),
    };
    let (a, b) = (show(&whole), show(&streamed));
    assert_eq!(a, b, "{what}: streamed and whole-file reads differ");
    (whole.is_ok(), a)
}

#[test]
fn streamed_reads_equal_whole_file_reads_on_every_cvat_file() {
    let files = xml_files();
    assert!(files.len() >= 10, "{files:?}");
    let mut ok = 0;
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        if both(&bytes, &f.display().to_string()).0 {
            ok += 1;
        }
        // Cut short at a few places, and mutated: the errors must agree too.
        for frac in [3, 2] {
            let cut = bytes.len() * (frac - 1) / frac;
            both(&bytes[..cut], &format!("{} cut at {cut}", f.display()));
        }
        let mut seed = bytes.len() as u64 | 1;
        let mut next = |n: usize| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((seed >> 33) as usize) % n.max(1)
        };
        for m in 0..40 {
            let mut b = bytes.clone();
            if b.is_empty() {
                break;
            }
            let i = next(b.len());
            match m % 4 {
                0 => b[i] = b"<>/\"&'= \n\xff\xc3x"[next(12)],
                1 => {
                    let j = (i + next(64)).min(b.len());
                    b.drain(i..j);
                }
                2 => {
                    let j = (i + next(64)).min(b.len());
                    let piece = b[i..j].to_vec();
                    b.splice(i..i, piece);
                }
                _ => b.truncate(i),
            }
            both(&b, &format!("{} mutant {m}", f.display()));
        }
    }
    assert!(ok >= 5, "only {ok} files read");
}

#[test]
fn streamed_errors_name_the_entry_line_and_column() {
    let xml = b"<?xml version=\"1.0\"?>\n<annotations>\n  <version>1.1</version>\n  <image id=\"0\" name=\"a.png\" width=\"10\" height=\"10\">\n    <box label=\"x\" xtl=\"1\" ytl=\"1\" xbr=\"oops\" ybr=\"2\"/>\n  </image>\n</annotations>\n";
    let (ok, msg) = both(xml, "bad number");
    assert!(!ok);
    assert!(msg.starts_with("error x.zip/annotations.xml:5:"), "{msg}");
    let bom: Vec<u8> = b"\xEF\xBB\xBF".iter().chain(xml.iter()).copied().collect();
    both(&bom, "with a byte order mark");
    let mut bad_utf8 = xml.to_vec();
    bad_utf8[60] = 0xFF;
    both(&bad_utf8, "invalid UTF-8");
}

/// The size and ratio limits hold while streaming: a zip bomb stops at the cap with the
/// limit's own message, naming the archive; an honest archive reads as its XML does.
#[test]
fn streamed_zip_keeps_the_inflation_limits() {
    use std::io::Write;
    let zip_of = |name: &str, bytes: &[u8]| {
        let mut buf = std::io::Cursor::new(Vec::new());
        let mut z = zip::ZipWriter::new(&mut buf);
        z.start_file(name, zip::write::SimpleFileOptions::default())
            .unwrap();
        z.write_all(bytes).unwrap();
        z.finish().unwrap();
        buf.into_inner()
    };
    let mut bomb = b"<annotations>".to_vec();
    bomb.resize(8 << 20, b' ');
    let zip = zip_of("annotations.xml", &bomb);
    let e = neutrostruct::cvat::read_zip(&zip, Path::new("bomb.zip"), &Default::default())
        .expect_err("refused")
        .to_string();
    assert!(
        e.starts_with("bomb.zip/annotations.xml: ") && e.contains("zip bomb"),
        "{e}"
    );
    let xml =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/hostile/cvat_valid.xml"))
            .unwrap();
    let ok = zip_of("annotations.xml", &xml);
    let (a, _) =
        neutrostruct::cvat::read_zip(&ok, Path::new("ok.zip"), &Default::default()).unwrap();
    let (b, _) =
        neutrostruct::cvat::read_bytes(&xml, Path::new("ok.xml"), &Default::default()).unwrap();
    assert_eq!(a, b);
    // A parse error inside the archive names the entry, line and column.
    let bad = zip_of(
        "annotations.xml",
        b"<annotations>\n  <image id=\"x\" name=\"a\" width=\"1\" height=\"1\"/>\n</annotations>\n",
    );
    let e = neutrostruct::cvat::read_zip(&bad, Path::new("x.zip"), &Default::default())
        .expect_err("bad id")
        .to_string();
    assert!(e.starts_with("x.zip/annotations.xml:2:"), "{e}");
}
