//! Data that tries to steer what reads our outputs: a CI runner (`::warning::` lines), a
//! terminal (ESC/OSC/BEL), a pull-request comment (headings, HTML, links, @mentions), an XML
//! parser (U+0001, NUL), a spreadsheet (`=cmd|…`), a training run (`download:` keys in
//! `data.yaml`) and the file system (`..\..\x`, `C:\…`, newlines in folder names). Every
//! payload lives in `tests/hostile/injection/`; every output format and writer is run on it
//! through the binary, and its output is read back with a real parser or line by line.

use assert_cmd::Command;
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/hostile/injection")
        .join(name)
}

fn bin() -> Command {
    Command::cargo_bin("neutrostruct").expect("binary")
}

/// Runs the binary; returns (exit code, stdout, stderr).
fn run(args: &[&std::ffi::OsStr]) -> (i32, String, String) {
    let out = bin().args(args).output().expect("run");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).expect("stdout is UTF-8"),
        String::from_utf8(out.stderr).expect("stderr is UTF-8"),
    )
}

fn os<S: AsRef<std::ffi::OsStr> + ?Sized>(s: &S) -> &std::ffi::OsStr {
    s.as_ref()
}

/// What no line read by a person or a CI runner may hold: a control character other than the
/// line break, a line that is a GitHub workflow command (the runner trims leading white space
/// first), the runner's older `##[` command syntax.
fn assert_inert_text(what: &str, text: &str) {
    for (n, line) in text.lines().enumerate() {
        assert!(
            !line.chars().any(|c| c.is_control() || c == '\u{202e}'),
            "{what}: line {} holds a control character: {line:?}",
            n + 1
        );
        assert!(
            !line.trim_start().starts_with("::"),
            "{what}: line {} is a workflow command: {line:?}",
            n + 1
        );
        assert!(
            !line.contains("##["),
            "{what}: line {} holds ##[: {line:?}",
            n + 1
        );
    }
}

/// A Markdown line with its code spans removed (CommonMark: a run of n backticks opens a span
/// that the next run of exactly n backticks closes).
fn outside_code_spans(line: &str) -> String {
    let b = line.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'`' {
            let run = b[i..].iter().take_while(|&&c| c == b'`').count();
            let mut j = i + run;
            let mut closed = None;
            while j < b.len() {
                if b[j] == b'`' {
                    let r = b[j..].iter().take_while(|&&c| c == b'`').count();
                    if r == run {
                        closed = Some(j + r);
                        break;
                    }
                    j += r;
                } else {
                    j += 1;
                }
            }
            match closed {
                Some(end) => {
                    out.push_str("CODE");
                    i = end;
                }
                None => {
                    out.push_str(&line[i..]);
                    break;
                }
            }
        } else {
            let next = line[i..].find('`').map_or(line.len(), |k| i + k);
            out.push_str(&line[i..next]);
            i = next;
        }
    }
    out
}

/// Markdown for a PR comment: inert as text, every heading one of ours, and outside code
/// spans no HTML, no link, no @mention.
fn assert_inert_markdown(what: &str, md: &str) {
    assert_inert_text(what, md);
    for line in md.lines() {
        let bare = outside_code_spans(line);
        for bad in ["<", "@maintainer", "http", "LGTM"] {
            assert!(
                !bare.contains(bad),
                "{what}: {bad:?} outside a code span: {line:?}"
            );
        }
        if line.starts_with('#') {
            assert!(
                line.starts_with("### neutrostruct ") || line.starts_with("#### `"),
                "{what}: a heading the data made: {line:?}"
            );
        }
    }
}

/// Well-formed XML 1.0, read to the end by quick-xml with every text and attribute unescaped;
/// returns all text and attribute values.
fn parse_xml(what: &str, xml: &str) -> Vec<String> {
    use quick_xml::events::Event;
    let mut r = quick_xml::Reader::from_str(xml);
    let mut values = Vec::new();
    loop {
        match r.read_event() {
            Ok(Event::Eof) => break,
            Ok(Event::Start(e)) | Ok(Event::Empty(e)) => {
                for a in e.attributes() {
                    let a = a.unwrap_or_else(|e| panic!("{what}: bad attribute: {e}"));
                    let v = a
                        .decode_and_unescape_value(r.decoder())
                        .unwrap_or_else(|e| panic!("{what}: bad attribute value: {e}"));
                    values.push(v.into_owned());
                }
            }
            Ok(Event::Text(t)) => {
                let v = t
                    .unescape()
                    .unwrap_or_else(|e| panic!("{what}: bad text: {e}"));
                values.push(v.into_owned());
            }
            Ok(_) => {}
            Err(e) => panic!("{what}: not well-formed XML: {e}"),
        }
    }
    for v in &values {
        assert!(
            v.chars()
                .all(|c| matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{fffe}')),
            "{what}: a character XML 1.0 cannot hold in {v:?}"
        );
    }
    values
}

#[test]
fn validate_reports_are_inert_in_every_format() {
    let coco = fixture("coco_payload.json");
    let images = tempfile::tempdir().expect("tmp");
    for format in ["text", "github", "markdown", "junit", "json", "sarif"] {
        let (code, out, err) = run(&[
            os("validate"),
            os("--coco"),
            coco.as_os_str(),
            os("--images"),
            images.path().as_os_str(),
            os("--format"),
            os(format),
        ]);
        assert_eq!(code, 1, "{format}: findings exit 1; stderr {err}");
        assert_inert_text(&format!("{format} stderr"), &err);
        match format {
            "text" => assert_inert_text("text report", &out),
            "github" => {
                // Every line is one of our commands or the summary: the data made none.
                for line in out.lines() {
                    assert!(
                        ["::error file=", "::warning file=", "::notice file="]
                            .iter()
                            .any(|p| line.starts_with(p))
                            || line.starts_with("neutrostruct validate: "),
                        "github: a line the data made: {line:?}"
                    );
                    assert!(!line.chars().any(char::is_control), "{line:?}");
                    // Properties end at the first `::`; none of it is data that escaped.
                    let props = &line[2..line[2..].find("::").map_or(line.len(), |k| k + 2)];
                    assert!(!props.contains("owned"), "data in the properties: {props}");
                }
                assert!(
                    out.contains("%0A::warning::pwned"),
                    "newline escaped as %0A"
                );
            }
            "markdown" => assert_inert_markdown("markdown report", &out),
            "junit" => {
                let values = parse_xml("junit", &out);
                assert!(values.iter().any(|v| v.contains("::warning::pwned")));
            }
            _ => {
                // JSON keeps the data exactly; JSON strings escape control characters.
                let v: serde_json::Value = serde_json::from_str(&out).expect("valid JSON");
                assert!(v.to_string().contains("owned"));
                assert!(!out.chars().any(|c| c.is_control() && c != '\n'));
            }
        }
    }
}

#[test]
fn text_report_is_inert_with_forced_colour() {
    let coco = fixture("coco_payload.json");
    let out = bin()
        .env("CLICOLOR_FORCE", "1")
        .args([os("validate"), os("--coco"), coco.as_os_str()])
        .output()
        .expect("run");
    let text = String::from_utf8(out.stdout).expect("UTF-8");
    // Our colours are the only escape sequences: strip `ESC [ … m`, then nothing is left.
    let mut plain = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            for d in chars.by_ref() {
                if d == 'm' {
                    break;
                }
            }
        } else {
            plain.push(c);
        }
    }
    assert_inert_text("coloured text report", &plain);
}

#[test]
fn diff_is_inert_as_text_and_markdown() {
    let (old, new) = (
        fixture("coco_payload.json"),
        fixture("coco_payload_moved.json"),
    );
    for format in ["text", "markdown", "json"] {
        let (code, out, err) = run(&[
            os("diff"),
            old.as_os_str(),
            new.as_os_str(),
            os("--format"),
            os(format),
        ]);
        assert!(code == 0 || code == 1, "{format}: {err}");
        assert!(
            out.contains("pwned"),
            "{format}: the changed image is listed"
        );
        assert_inert_text(&format!("diff {format} stderr"), &err);
        match format {
            "text" => assert_inert_text("diff text", &out),
            "markdown" => assert_inert_markdown("diff markdown", &out),
            _ => {
                serde_json::from_str::<serde_json::Value>(&out).expect("valid JSON");
            }
        }
    }
}

#[test]
fn cvat_output_is_well_formed_xml_from_a_valid_coco() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("c.xml");
    let (code, _, err) = run(&[
        os("convert"),
        fixture("coco_payload.json").as_os_str(),
        os("--to"),
        os("cvat"),
        os("-o"),
        out.as_os_str(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert_inert_text("convert stderr", &err);
    let xml = std::fs::read_to_string(&out).expect("written");
    let values = parse_xml("cvat", &xml);
    assert!(
        values.iter().any(|v| v.contains("<img src=x")),
        "markup in names is kept as text, not as elements"
    );
}

#[test]
fn voc_output_is_well_formed_and_refuses_unsafe_stems() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("voc");
    let (code, _, err) = run(&[
        os("convert"),
        fixture("coco_payload_plain_labels.json").as_os_str(),
        os("--to"),
        os("voc"),
        os("-o"),
        out.as_os_str(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert_inert_text("convert stderr", &err);
    assert!(
        err.contains("unsafe-path"),
        "refused names are reported: {err}"
    );
    let mut written = Vec::new();
    for e in walkdir::WalkDir::new(&out) {
        let e = e.expect("walk");
        let name = e.file_name().to_string_lossy().into_owned();
        assert!(
            !name
                .chars()
                .any(|c| c.is_control() || c == '\\' || c == ':'),
            "a file name the data made: {name:?}"
        );
        if name.ends_with(".xml") {
            written.push(e.path().to_path_buf());
        }
    }
    assert!(!written.is_empty());
    for p in written {
        parse_xml("voc", &std::fs::read_to_string(&p).expect("read"));
    }
    let labelmap = std::fs::read_to_string(out.join("labelmap.txt")).expect("labelmap");
    for line in labelmap.lines().filter(|l| !l.starts_with('#')) {
        assert_eq!(
            line.matches(':').count(),
            3,
            "name:rgb:parts:actions, {line:?}"
        );
    }
}

#[test]
fn labelmap_refuses_separators_in_label_names() {
    let dir = tempfile::tempdir().expect("tmp");
    let coco = fixture("coco_payload.json");
    for to in ["voc", "masks"] {
        let out = dir.path().join(to);
        let args = vec![
            os("convert"),
            coco.as_os_str(),
            os("--to"),
            os(to),
            os("-o"),
            out.as_os_str(),
        ];
        let (code, _, err) = run(&args);
        assert_eq!(code, 2, "{to}: {err}");
        assert!(err.contains("labelmap.txt"), "{to}: {err}");
        assert_inert_text("stderr", &err);
        // Refused before anything was written.
        assert!(!out.join("labelmap.txt").exists());
        assert!(walkdir::WalkDir::new(&out)
            .into_iter()
            .filter_map(|e| e.ok())
            .all(|e| e.file_type().is_dir()));
    }
}

#[test]
fn yolo_data_yaml_gets_no_keys_from_subsets() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("yolo");
    let (code, _, err) = run(&[
        os("convert"),
        fixture("cvat_subset_payload.xml").as_os_str(),
        os("--to"),
        os("yolo"),
        os("-o"),
        out.as_os_str(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert_inert_text("convert stderr", &err);
    assert!(
        err.contains("unsafe-path"),
        "refused subsets are reported: {err}"
    );
    let yaml = std::fs::read_to_string(out.join("data.yaml")).expect("data.yaml");
    let mut keys = Vec::new();
    for line in yaml.lines().filter(|l| !l.starts_with('#')) {
        if let Some(rest) = line.strip_prefix("  ") {
            // `  0: "name"`: an index, then one double-quoted scalar.
            let (i, v) = rest.split_once(": ").expect("index: value");
            assert!(i.parse::<usize>().is_ok(), "{line:?}");
            assert!(v.starts_with('"') && v.ends_with('"'), "{line:?}");
        } else {
            let (k, v) = line.split_once(':').expect("key: value");
            keys.push(k.to_string());
            let v = v.trim();
            assert!(
                v.is_empty() || v.starts_with('"') || v.parse::<u64>().is_ok(),
                "unquoted value: {line:?}"
            );
        }
    }
    assert_eq!(keys, ["train", "val", "nc", "names"], "{yaml}");
    for e in walkdir::WalkDir::new(&out) {
        let name = e.expect("walk").file_name().to_string_lossy().into_owned();
        assert!(
            !name
                .chars()
                .any(|c| c.is_control() || c == '\\' || c == ':'),
            "a folder or file name the data made: {name:?}"
        );
    }
    assert!(out.join("labels/val").is_dir() && out.join("labels/train").is_dir());
}

#[test]
fn masks_stderr_is_inert() {
    let dir = tempfile::tempdir().expect("tmp");
    let (code, _, err) = run(&[
        os("masks"),
        fixture("coco_payload_plain_labels.json").as_os_str(),
        os("--out"),
        dir.path().join("m").as_os_str(),
    ]);
    assert!(code == 0 || code == 1, "{err}");
    assert!(
        err.contains("skipped"),
        "the unsafe names are skipped: {err}"
    );
    assert_inert_text("masks stderr", &err);
}

#[test]
fn inputs_are_never_written() {
    let dir = tempfile::tempdir().expect("tmp");
    let input = dir.path().join("in.json");
    std::fs::copy(fixture("coco_payload.json"), &input).expect("copy");
    let before = std::fs::read(&input).expect("read");
    let link = dir.path().join("link.json");
    std::os::unix::fs::symlink(&input, &link).expect("symlink");
    let hard = dir.path().join("hard.json");
    std::fs::hard_link(&input, &hard).expect("hard link");
    for out in [&input, &link, &hard] {
        let (code, _, err) = run(&[
            os("validate"),
            os("--coco"),
            input.as_os_str(),
            os("-o"),
            out.as_os_str(),
        ]);
        assert_eq!(code, 2, "{}: {err}", out.display());
        assert!(err.contains("inputs are never written"), "{err}");
    }
    let (code, _, err) = run(&[
        os("convert"),
        input.as_os_str(),
        os("--to"),
        os("yolo"),
        os("-o"),
        dir.path().as_os_str(),
    ]);
    assert_eq!(code, 2, "an output folder holding the input: {err}");
    let images = dir.path().join("images");
    std::fs::create_dir(&images).expect("mkdir");
    std::fs::write(images.join("a.png"), b"not really").expect("write");
    let (code, _, err) = run(&[
        os("overlay"),
        os("--images"),
        images.as_os_str(),
        os("--masks"),
        images.as_os_str(),
        os("--out"),
        images.as_os_str(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert_eq!(
        std::fs::read(images.join("a.png")).expect("kept"),
        b"not really"
    );
    assert_eq!(std::fs::read(&input).expect("kept"), before);
}

#[test]
fn copy_images_never_follows_a_link_out_of_the_images_folder() {
    let dir = tempfile::tempdir().expect("tmp");
    let images = dir.path().join("images");
    std::fs::create_dir(&images).expect("mkdir");
    let secret = dir.path().join("secret.key");
    std::fs::write(&secret, b"TOKEN").expect("write");
    // The CVAT fixture's images: a.tif links out, b.tif is a real file.
    std::os::unix::fs::symlink(&secret, images.join("a.tif")).expect("symlink");
    std::fs::write(images.join("d.tif"), b"pixels").expect("write");
    let out = dir.path().join("yolo");
    let (code, _, err) = run(&[
        os("convert"),
        fixture("cvat_subset_payload.xml").as_os_str(),
        os("--to"),
        os("yolo"),
        os("--images"),
        images.as_os_str(),
        os("--copy-images"),
        os("-o"),
        out.as_os_str(),
    ]);
    assert_eq!(code, 0, "{err}");
    // Reported under unsafe-path (with the refused subsets, which share the code).
    assert!(err.contains("[unsafe-path]"), "{err}");
    assert!(
        !out.join("images/train/a.tif").exists() && !out.join("images/train/a.tif").is_symlink()
    );
    for e in walkdir::WalkDir::new(&out) {
        let e = e.expect("walk");
        if e.file_type().is_file() {
            assert_ne!(
                std::fs::read(e.path()).expect("read"),
                b"TOKEN",
                "{:?}",
                e.path()
            );
        }
    }
    assert_eq!(
        std::fs::read(out.join("images/val/d.tif")).expect("the real image is copied"),
        b"pixels"
    );
}

#[test]
fn a_killed_runs_temporary_files_are_removed_by_the_next_run() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("m");
    std::fs::create_dir(&out).expect("mkdir");
    let stale = out.join(".neutrostruct-AbC123.tmp");
    std::fs::write(&stale, b"half a mask").expect("write");
    let (code, _, err) = run(&[
        os("masks"),
        fixture("coco_payload_plain_labels.json").as_os_str(),
        os("--out"),
        out.as_os_str(),
    ]);
    assert!(code == 0 || code == 1, "{err}");
    assert!(!stale.exists());
}

/// The audit CSV (`reclassify --audit`): text cells that a spreadsheet would run as formulas
/// get a leading `'`; numbers, negative ones too, are written as they are and read back.
#[test]
fn csv_text_cells_are_formula_guarded_and_numbers_are_not() {
    use neutrostruct::model::{AnnotationId, CategoryId, ImageId};
    let row = neutrostruct::division::AuditRow {
        annotation_id: AnnotationId(1),
        image_id: ImageId(1),
        image_name: "=cmd|' /C calc'!A0".into(),
        source_class: "@SUM(A1)".into(),
        diameter_um: Some(-0.5),
        threshold_um: Some(1.25),
        threshold_kind: "+1+1".into(),
        target_class: "-2+3".into(),
        target_id: CategoryId(2),
    };
    let bytes = neutrostruct::division::audit_csv(&[row]).expect("written");
    let mut r = csv::Reader::from_reader(bytes.as_slice());
    let rec = r.records().next().expect("one row").expect("valid CSV");
    let cells: Vec<&str> = rec.iter().collect();
    for c in &cells {
        assert!(
            !c.starts_with(['=', '+', '@', '\t', '\r'])
                && (!c.starts_with('-') || c.parse::<f64>().is_ok()),
            "a formula cell: {c:?}"
        );
    }
    assert!(cells.contains(&"'=cmd|' /C calc'!A0"), "{cells:?}");
    assert!(
        cells.iter().any(|c| c.parse::<f64>() == Ok(-0.5)),
        "negative number kept: {cells:?}"
    );
}

#[test]
fn validate_never_opens_an_image_or_mask_linked_out_of_its_folder() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path().join("data");
    let src =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/conformance/published-layout");
    std::fs::create_dir_all(d.join("images")).expect("mkdir");
    std::fs::create_dir_all(d.join("masks")).expect("mkdir");
    for f in ["annotations_7classes.json", "annotations_7classes.xml"] {
        std::fs::copy(src.join(f), d.join(f)).expect("copy");
    }
    // A "secret" outside the dataset, and links to it named as an image and as a mask.
    let secret = dir.path().join("secret.png");
    std::fs::copy(src.join("masks/neutrophil_000.png"), &secret).expect("copy");
    std::os::unix::fs::symlink(&secret, d.join("images/neutrophil_000.tif")).expect("symlink");
    std::os::unix::fs::symlink(&secret, d.join("masks/neutrophil_000.png")).expect("symlink");
    let (code, out, err) = run(&[os("validate"), d.as_os_str(), os("--format"), os("json")]);
    assert_eq!(code, 1, "{err}");
    let report: serde_json::Value = serde_json::from_str(&out).expect("json");
    let linked: Vec<&str> = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["rule"] == "unsafe-path")
        .filter_map(|f| f["message"].as_str())
        .collect();
    assert!(
        linked
            .iter()
            .any(|m| m.contains("images/neutrophil_000.tif")
                && m.contains("leads out of the images folder")),
        "{linked:?}"
    );
    assert!(
        linked.iter().any(|m| m.contains("masks/neutrophil_000.png")
            && m.contains("leads out of the masks folder")),
        "{linked:?}"
    );
    // Nothing was read through the links: the image counts as missing, the mask too.
    let rules: Vec<&str> = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["image"] == "neutrophil_000.tif")
        .filter_map(|f| f["rule"].as_str())
        .collect();
    assert!(
        rules.contains(&"image-missing") && rules.contains(&"mask-missing"),
        "{rules:?}"
    );
    assert!(
        !rules.contains(&"image-size-mismatch") && !rules.contains(&"mask-disagreement"),
        "{rules:?}"
    );
}

#[test]
fn validate_dir_does_not_read_an_annotation_file_linked_out_of_the_folder() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path().join("data");
    std::fs::create_dir_all(&d).expect("mkdir");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/conformance/cvat-ellipse");
    std::fs::copy(
        src.join("annotations_4classes.xml"),
        d.join("annotations_4classes.xml"),
    )
    .expect("copy");
    // Outside the folder: a file that would read as COCO, linked in under an innocent name.
    let secret = dir.path().join("secret.json");
    std::fs::copy(src.join("annotations_4classes.json"), &secret).expect("copy");
    std::os::unix::fs::symlink(&secret, d.join("annotations_4classes.json")).expect("symlink");
    // A link that stays inside the folder is no problem.
    std::fs::create_dir_all(d.join("sub")).expect("mkdir");
    std::os::unix::fs::symlink(d.join("annotations_4classes.xml"), d.join("sub/same.xml"))
        .expect("symlink");
    let (code, out, err) = run(&[os("validate"), d.as_os_str(), os("--format"), os("json")]);
    assert_eq!(code, 1, "{err}");
    let report: serde_json::Value = serde_json::from_str(&out).expect("json");
    let findings = report["findings"].as_array().expect("findings");
    assert!(
        findings.iter().any(|f| f["rule"] == "unsafe-path"
            && f["file"]
                .as_str()
                .is_some_and(|p| p.ends_with("annotations_4classes.json"))
            && f["message"]
                .as_str()
                .is_some_and(|m| m.contains("leads out of the dataset folder"))),
        "{findings:#?}"
    );
    // Nothing of the linked file was read: no finding names it but that one.
    let about_link = findings
        .iter()
        .filter(|f| {
            f["file"]
                .as_str()
                .is_some_and(|p| p.ends_with("annotations_4classes.json"))
        })
        .count();
    assert_eq!(about_link, 1, "{findings:#?}");
    // The link that stays inside is no finding (it is read once, as the file it names).
    assert!(
        !findings.iter().any(|f| f["file"]
            .as_str()
            .is_some_and(|p| p.ends_with("sub/same.xml"))),
        "{findings:#?}"
    );
    assert_eq!(report["summary"]["errors"], 1, "{findings:#?}");
}
