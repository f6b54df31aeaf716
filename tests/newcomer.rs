//! What a new user meets first: completions, man pages, consistent flags, outputs that do not
//! surprise (issue 18).

use assert_cmd::Command;

fn bin() -> Command {
    let mut c = Command::cargo_bin("neutrostruct").expect("binary is built");
    c.env("NO_COLOR", "1");
    c
}

const SUBCOMMANDS: [&str; 15] = [
    "demo",
    "synth",
    "scale",
    "convert",
    "masks",
    "overlay",
    "stats",
    "reclassify",
    "validate",
    "diff",
    "rules",
    "explain",
    "completions",
    "manpage",
    "config",
];

#[test]
fn bash_completion_names_every_subcommand() {
    let out = bin().args(["completions", "bash"]).output().expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let script = String::from_utf8_lossy(&out.stdout);
    assert!(
        script.contains("complete -F"),
        "not a bash completion script"
    );
    for sub in SUBCOMMANDS {
        assert!(script.contains(sub), "bash completion misses {sub}");
    }
    // A flag of a subcommand is completed too.
    assert!(script.contains("--deny-lossy"));
}

#[test]
fn completions_for_every_shell() {
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let out = bin().args(["completions", shell]).output().expect("runs");
        assert!(out.status.success(), "{shell}");
        let script = String::from_utf8_lossy(&out.stdout);
        assert!(
            script.contains("convert"),
            "{shell} script names no convert"
        );
    }
    let out = bin().args(["completions", "tcsh"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
}

/// The roff requests a page must have: a title (`.TH`), sections (`.SH`), and nothing but
/// requests, text and escapes on its lines.
fn assert_roff(page: &str, title: &str) {
    let th = page
        .lines()
        .find(|l| l.starts_with(".TH "))
        .unwrap_or_else(|| panic!("no .TH in {title}"));
    assert!(th.contains(title), "{th}");
    for sec in ["NAME", "SYNOPSIS", "DESCRIPTION"] {
        assert!(
            page.lines()
                .any(|l| l.starts_with(".SH") && l.contains(sec)),
            "{title}: no {sec} section"
        );
    }
    for line in page.lines() {
        assert!(!line.contains('\0') && !line.starts_with("'"), "{line}");
        if let Some(req) = line.strip_prefix('.') {
            let name: String = req
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect();
            assert!(
                [
                    "TH", "SH", "SS", "TP", "IP", "PP", "P", "LP", "B", "I", "RS", "RE", "br",
                    "sp", "ie", "el", "nf", "fi", "in", "ti", "BR", "IR", "RB", "RI", "BI", "IB",
                    "ds"
                ]
                .contains(&name.as_str())
                    || name.is_empty(),
                "unexpected roff request .{name} in {title}"
            );
        }
    }
}

#[test]
fn manpage_to_stdout_is_roff() {
    let out = bin().arg("manpage").output().expect("runs");
    assert!(out.status.success());
    let page = String::from_utf8(out.stdout).expect("utf-8");
    assert_roff(&page, "neutrostruct");
    assert!(page.contains("convert"));
    // Where groff is installed, it must read the page without a single warning (-ww); `-k`
    // because the help texts hold UTF-8 (µ, →). Machines without groff rely on the checks
    // above.
    if let Ok(mut child) = std::process::Command::new("groff")
        .args(["-k", "-man", "-Tutf8", "-ww", "-z"])
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
    {
        use std::io::Write;
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(page.as_bytes())
            .expect("feed groff");
        let out = child.wait_with_output().expect("groff runs");
        assert!(out.status.success());
        assert!(
            out.stderr.is_empty(),
            "groff: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn manpage_folder_has_one_page_per_command() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = bin()
        .arg("manpage")
        .arg("-o")
        .arg(dir.path())
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_roff(
        &std::fs::read_to_string(dir.path().join("neutrostruct.1")).expect("main page"),
        "neutrostruct",
    );
    for sub in SUBCOMMANDS {
        let name = format!("neutrostruct-{sub}");
        let page = std::fs::read_to_string(dir.path().join(format!("{name}.1")))
            .unwrap_or_else(|e| panic!("{name}.1: {e}"));
        assert_roff(&page, &name);
    }
    let convert = std::fs::read_to_string(dir.path().join("neutrostruct-convert.1")).expect("page");
    assert!(
        convert.contains("deny\\-lossy"),
        "convert page lacks its flags"
    );
}

/// The `toml` block of the README's "Configuration" section.
fn readme_config_block() -> String {
    let readme = include_str!("../docs/validation.md");
    let section = readme
        .split("## Configuration (`--config neutrostruct.toml`)")
        .nth(1)
        .expect("README has the Configuration section");
    let block = section
        .split("```toml\n")
        .nth(1)
        .and_then(|b| b.split("\n```").next())
        .expect("the section has a ```toml block");
    block.to_string()
}

#[test]
fn readme_config_block_shows_the_real_defaults() {
    use neutrostruct::validate::{Config, Thresholds};
    let block = readme_config_block();
    // The block is a working config as written.
    let parsed = Config::parse(&block, std::path::Path::new("README.md")).expect("block parses");
    assert_eq!(
        parsed.thresholds,
        Thresholds::default(),
        "README's [thresholds] differ from Thresholds::default()"
    );
    // Every threshold is shown, not only the ones that happen to match: the field names are
    // taken from the Debug form of the defaults, so a new field fails here until documented.
    let table: toml::Table = toml::from_str(&block).expect("toml");
    let shown = table["thresholds"].as_table().expect("[thresholds] table");
    let debug = format!("{:?}", Thresholds::default());
    let fields: Vec<&str> = debug
        .trim_start_matches("Thresholds {")
        .trim_end_matches('}')
        .split(',')
        .filter_map(|kv| kv.split(':').next())
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .collect();
    assert!(fields.len() >= 12, "{fields:?}");
    for f in &fields {
        assert!(
            shown.contains_key(*f),
            "README's [thresholds] does not show {f}"
        );
    }
    assert_eq!(
        shown.len(),
        fields.len(),
        "README shows a threshold the code lacks"
    );
}

const CONF: &str = "../shared/conformance/cvat-ellipse";

fn conformance(file: &str) -> std::path::PathBuf {
    // /work/main sits beside shared/; a worktree under /work/wt/ one level deeper.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let p = [root.join(CONF), root.join("..").join(CONF)]
        .into_iter()
        .map(|d| d.join(file))
        .find(|p| p.exists())
        .unwrap_or_else(|| root.join(CONF).join(file));
    assert!(p.exists(), "{} missing", p.display());
    p
}

/// Every command that writes one output takes `-o`, `--output` and `--out`; the help shows
/// the documented primary spelling with the other as an alias.
#[test]
fn every_writer_takes_both_output_spellings() {
    for (cmd, primary, alias) in [
        ("convert", "--output", "--out"),
        ("stats", "--output", "--out"),
        ("scale", "--output", "--out"),
        ("validate", "--output", "--out"),
        ("manpage", "--output", "--out"),
        ("synth", "--out", "--output"),
        ("masks", "--out", "--output"),
        ("overlay", "--out", "--output"),
        ("demo", "--out", "--output"),
    ] {
        let out = bin().args([cmd, "-h"]).output().expect("runs");
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(
            help.lines()
                .any(|l| l.trim_start().starts_with(&format!("-o, {primary} "))),
            "{cmd}: no `-o, {primary}` in\n{help}"
        );
        // Wrapping may break `[alias: --out]` over two lines.
        let flat = help.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            flat.contains(&format!("[alias: {alias}]")),
            "{cmd}: alias {alias} not shown in\n{help}"
        );
    }
}

#[test]
fn masks_and_convert_run_with_either_spelling() {
    let xml = conformance("annotations_4classes.xml");
    let dir = tempfile::tempdir().expect("tempdir");
    for (i, flag) in ["-o", "--out", "--output"].iter().enumerate() {
        let masks = dir.path().join(format!("masks{i}"));
        let out = bin()
            .arg("masks")
            .arg(&xml)
            .arg(flag)
            .arg(&masks)
            .output()
            .expect("runs");
        assert!(
            out.status.success(),
            "masks {flag}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(std::fs::read_dir(&masks).expect("masks folder").count() > 0);
        let coco = dir.path().join(format!("c{i}.json"));
        let out = bin()
            .args(["convert", "--to", "coco"])
            .arg(&xml)
            .arg(flag)
            .arg(&coco)
            .output()
            .expect("runs");
        assert!(
            out.status.success(),
            "convert {flag}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(coco.is_file());
    }
}

/// The `[possible values: …]` of one flag in a help text.
fn possible_values(help: &str, flag: &str) -> String {
    let start = help
        .find(&format!("      {flag} <"))
        .unwrap_or_else(|| panic!("no {flag} in\n{help}"));
    let rest = &help[start..];
    let pv = rest.find("[possible values:").expect("possible values");
    let end = rest[pv..].find(']').expect("closing ]");
    rest[pv..pv + end].replace('\n', " ")
}

#[test]
fn convert_from_offers_only_readable_formats() {
    // The short help (`-h`) lists values as `[possible values: …]`.
    let out = bin().args(["convert", "-h"]).output().expect("runs");
    let help = String::from_utf8_lossy(&out.stdout);
    let from = possible_values(&help, "--from");
    // Every format offered is read (VOC too, since issue 18): none is offered and refused.
    for f in [
        "coco", "cvat", "masks", "yolo", "yolo-seg", "yolo-obb", "voc",
    ] {
        assert!(from.contains(f), "--from lacks {f}: {from}");
    }
    // --to still writes VOC.
    assert!(possible_values(&help, "--to").contains("voc"));
    let dir = tempfile::tempdir().expect("tempdir");
    let out = bin()
        .args(["convert", "--from", "voc", "--to", "coco"])
        .arg(conformance("annotations_4classes.xml"))
        .arg("-o")
        .arg(dir.path().join("x.json"))
        .output()
        .expect("runs");
    // A CVAT file is not a VOC folder: a clear error, not "cannot be read".
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not a Pascal VOC dataset"), "{err}");
}

#[test]
fn stats_refuses_an_unknown_table_extension() {
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("stats.txt");
    let out = bin()
        .arg("stats")
        .arg("--coco")
        .arg(conformance("annotations_4classes.json"))
        .arg("--scale")
        .arg(conformance("scale.csv"))
        .arg("-o")
        .arg(&target)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("-o ") && err.contains("stats.txt"), "{err}");
    assert!(err.contains(".csv, .xlsx or .json"), "{err}");
    assert!(!target.exists(), "a refused table was written");
    // The accepted extensions, in any case, still work.
    for name in ["s.csv", "s.JSON", "s.xlsx"] {
        let out = bin()
            .arg("stats")
            .arg("--coco")
            .arg(conformance("annotations_4classes.json"))
            .arg("--scale")
            .arg(conformance("scale.csv"))
            .arg("-o")
            .arg(dir.path().join(name))
            .output()
            .expect("runs");
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

fn convert_crowd(crowd: Option<&str>) -> (serde_json::Value, serde_json::Value) {
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("out.json");
    let mut c = bin();
    c.args(["convert", "--to", "coco", "--report", "json"])
        .arg(conformance("annotations_4classes.json"))
        .arg("-o")
        .arg(&target);
    if let Some(m) = crowd {
        c.args(["--crowd", m]);
    }
    let out = c.output().expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json report");
    let coco: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&target).expect("written")).expect("coco");
    (report, coco)
}

fn crowd_flags(coco: &serde_json::Value) -> Vec<i64> {
    coco["annotations"]
        .as_array()
        .expect("annotations")
        .iter()
        .map(|a| a["iscrowd"].as_i64().expect("iscrowd"))
        .collect()
}

#[test]
fn crowd_keep_is_the_default_and_clear_is_a_note() {
    let (keep_report, keep) = convert_crowd(None);
    let flags = crowd_flags(&keep);
    assert_eq!(flags.len(), 40);
    assert!(
        flags.iter().all(|&f| f == 1),
        "CVAT's export is all crowd: {flags:?}"
    );
    assert_eq!(convert_crowd(Some("keep")).1, keep);

    let (clear_report, clear) = convert_crowd(Some("clear"));
    assert!(crowd_flags(&clear).iter().all(|&f| f == 0));
    // Not a loss: the losses are those of `keep`, and the note counts every annotation.
    assert_eq!(clear_report["losses"], keep_report["losses"]);
    let note = clear_report["notes"]
        .as_array()
        .expect("notes")
        .iter()
        .find(|n| n["code"] == "iscrowd-cleared")
        .expect("iscrowd-cleared note");
    assert_eq!(note["count"], 40);
    // Everything but the flag is as `keep` wrote it.
    let strip = |mut v: serde_json::Value| {
        for a in v["annotations"].as_array_mut().expect("annotations") {
            a.as_object_mut().expect("object").remove("iscrowd");
        }
        v
    };
    assert_eq!(strip(clear), strip(keep));
}

#[test]
fn crowd_clear_needs_a_coco_output() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = bin()
        .args(["convert", "--to", "cvat", "--crowd", "clear"])
        .arg(conformance("annotations_4classes.json"))
        .arg("-o")
        .arg(dir.path().join("x.xml"))
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--crowd clear"));
}

fn diff(extra: &[&str]) -> (i32, String) {
    let out = bin()
        .arg("diff")
        .arg(conformance("annotations_4classes.xml"))
        .arg(conformance("annotations_4classes.json"))
        .args(["--format", "json"])
        .args(extra)
        .output()
        .expect("runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).expect("utf-8"),
    )
}

#[test]
fn diff_tolerance_hides_small_moves_only() {
    let (code0, plain) = diff(&[]);
    // 0 is today's output, byte for byte.
    assert_eq!(diff(&["--tolerance", "0"]), (code0, plain.clone()));
    let moved = |text: &str| -> (u64, u64) {
        let v: serde_json::Value = serde_json::from_str(text).expect("json");
        (
            v["summary"]["moved"].as_u64().expect("moved"),
            v["summary"]["unchanged"].as_u64().expect("unchanged"),
        )
    };
    let (m0, u0) = moved(&plain);
    assert!(m0 > 0, "the COCO export moves shapes: {plain}");
    let (m_big, u_big) = moved(&diff(&["--tolerance", "100"]).1);
    assert_eq!(m_big, 0, "nothing moved 100 px");
    assert_eq!(u_big, u0 + m0, "moved shapes became unchanged, none lost");
    // In between, fewer moves than without a tolerance, and each listed one is at least PX.
    let (_, mid) = diff(&["--tolerance", "1"]);
    let v: serde_json::Value = serde_json::from_str(&mid).expect("json");
    let m1 = v["summary"]["moved"].as_u64().expect("moved");
    assert!(m1 <= m0);
    for im in v["images"].as_array().expect("images") {
        for c in im["changes"].as_array().expect("changes") {
            if let Some(px) = c["moved_px"].as_f64() {
                assert!(px >= 0.99, "listed as moved by {px} px under --tolerance 1");
            }
        }
    }
    let out = bin()
        .arg("diff")
        .arg(conformance("annotations_4classes.xml"))
        .arg(conformance("annotations_4classes.json"))
        .args(["--tolerance", "-1"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
}

/// A small synth dataset in a fresh folder: (the folder's guard, the CVAT XML, the COCO).
fn small_synth() -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf) {
    let t = tempfile::tempdir().expect("tmp");
    let s = t.path().join("s");
    let out = bin()
        .args(["synth", "--images", "3", "--per-image", "20", "-o"])
        .arg(&s)
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let xml = s.join("annotations_4classes.xml");
    let coco = s.join("annotations_4classes.json");
    assert!(xml.is_file() && coco.is_file());
    (t, xml, coco)
}

/// Everything under `dir`, as relative paths, sorted.
fn tree(dir: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(|e| e.ok())
        .map(|e| {
            e.path()
                .strip_prefix(dir)
                .unwrap_or(e.path())
                .display()
                .to_string()
        })
        .collect();
    v.sort();
    v
}

#[test]
fn deny_lossy_writes_nothing_when_it_fails() {
    let (t, _, coco) = small_synth();
    let before = tree(t.path());
    let target = t.path().join("c.xml");
    // COCO (RLE) → CVAT recovers ellipses from masks: lossy.
    let out = bin()
        .args(["convert", "--to", "cvat", "--deny-lossy", "-o"])
        .arg(&target)
        .arg(&coco)
        .output()
        .expect("runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("nothing written"), "{err}");
    assert_eq!(
        tree(t.path()),
        before,
        "a lossy --deny-lossy run wrote something"
    );
    // A lossless conversion under --deny-lossy is written.
    let (_, xml, _) = (0, t.path().join("s/annotations_4classes.xml"), 0);
    let ok = t.path().join("ok.json");
    let out = bin()
        .args(["convert", "--to", "coco", "--deny-lossy", "-o"])
        .arg(&ok)
        .arg(&xml)
        .output()
        .expect("runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(ok.is_file());
}

#[test]
fn dry_run_reports_and_writes_nothing() {
    let (t, xml, coco) = small_synth();
    let before = tree(t.path());
    let p = |n: &str| t.path().join(n).display().to_string();
    let s = t.path().join("s");
    let runs: Vec<Vec<String>> = vec![
        vec![
            "convert".into(),
            "--to".into(),
            "yolo-seg".into(),
            "-o".into(),
            p("y"),
            xml.display().to_string(),
        ],
        vec![
            "convert".into(),
            "--to".into(),
            "coco".into(),
            "-o".into(),
            p("c.json"),
            xml.display().to_string(),
        ],
        vec![
            "masks".into(),
            "-o".into(),
            p("m"),
            xml.display().to_string(),
        ],
        vec![
            "synth".into(),
            "--images".into(),
            "2".into(),
            "--per-image".into(),
            "5".into(),
            "-o".into(),
            p("s2"),
        ],
        vec![
            "stats".into(),
            "--coco".into(),
            coco.display().to_string(),
            "--scale".into(),
            s.join("scale.csv").display().to_string(),
            "-o".into(),
            p("st.csv"),
            "--plots".into(),
            p("plots"),
        ],
        vec![
            "scale".into(),
            s.join("images").display().to_string(),
            "-o".into(),
            p("sc.csv"),
        ],
        vec![
            "validate".into(),
            "--cvat".into(),
            xml.display().to_string(),
            "-o".into(),
            p("report.txt"),
        ],
    ];
    for args in runs {
        let out = bin().args(&args).arg("--dry-run").output().expect("runs");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.code().is_some_and(|c| c < 2), "{args:?}: {err}");
        assert!(err.contains("dry run: nothing written"), "{args:?}: {err}");
        assert_eq!(tree(t.path()), before, "{args:?} wrote something");
    }
}

#[test]
fn unknown_output_extensions_are_errors() {
    let (t, xml, _) = small_synth();
    let p = |n: &str| t.path().join(n).display().to_string();
    let x = xml.display().to_string();
    for args in [
        vec!["convert", "--to", "coco", "-o", &p("a.txt"), &x],
        vec!["convert", "--to", "cvat", "-o", &p("a.json"), &x],
        vec!["validate", "--cvat", &x, "-o", &p("r.sarif")],
        vec![
            "validate",
            "--cvat",
            &x,
            "--format",
            "json",
            "-o",
            &p("r.xyz"),
        ],
    ] {
        let out = bin().args(&args).output().expect("runs");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("unknown extension"), "{args:?}: {err}");
    }
}

#[test]
fn yolo_export_without_images_warns_and_reading_it_back_fails() {
    let (t, xml, _) = small_synth();
    let y = t.path().join("y");
    let out = bin()
        .args(["convert", "--to", "yolo-seg", "-o"])
        .arg(&y)
        .arg(&xml)
        .output()
        .expect("runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("warning: no images were written") && err.contains("--images"),
        "{err}"
    );
    let yaml = std::fs::read_to_string(y.join("data.yaml")).expect("yaml");
    assert!(!yaml.lines().any(|l| l.starts_with("path:")), "{yaml}");
    let out = bin()
        .args(["convert", "--from", "yolo-seg", "--to", "coco", "-o"])
        .arg(t.path().join("back.json"))
        .arg(&y)
        .output()
        .expect("runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("no images beside them"), "{err}");
}

#[test]
fn config_defaults_parse_back_and_match_the_readme() {
    use neutrostruct::validate::{Config, Thresholds};
    let out = bin().args(["config", "--defaults"]).output().expect("runs");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let parsed = Config::parse(&text, std::path::Path::new("defaults.toml")).expect("parses");
    assert_eq!(parsed, Config::default(), "{text}");
    // The README's [thresholds] lines are the printed ones, character for character.
    let block = readme_config_block();
    let readme_table: String = block
        .split_inclusive('\n')
        .skip_while(|l| !l.starts_with("[thresholds]"))
        .take_while(|l| !l.trim().is_empty())
        .collect();
    assert_eq!(readme_table, Thresholds::default().to_toml());
    assert!(text.contains(&Thresholds::default().to_toml()));
}

#[test]
fn strict_says_what_happens_and_names_the_table_once() {
    let (t, _, coco) = small_synth();
    let scale = t.path().join("scale.csv");
    std::fs::write(&scale, "image,px_per_um\nnone.png,300\n").expect("scale");
    let out = bin()
        .args(["stats", "--strict", "--coco"])
        .arg(&coco)
        .arg("--scale")
        .arg(&scale)
        .arg("-o")
        .arg(t.path().join("st.csv"))
        .output()
        .expect("runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.matches("scale.csv").count(), 1, "{err}");
    assert!(
        err.contains("--strict: stopped, nothing divided or written"),
        "{err}"
    );
    assert!(!err.contains("using the default"), "{err}");
    assert!(!t.path().join("st.csv").exists());
}

#[test]
fn diff_summary_has_one_line_per_change_kind() {
    let (code, full) = diff(&[]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&full).expect("json");
    let out = bin()
        .arg("diff")
        .arg(conformance("annotations_4classes.xml"))
        .arg(conformance("annotations_4classes.json"))
        .arg("--summary")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).expect("utf-8");
    // The same counts as the full report, one line each, and no shape listed.
    for kind in ["added", "removed", "relabeled", "moved", "unchanged"] {
        let n = v["summary"][kind].as_u64().expect("count");
        let line = text
            .lines()
            .find(|l| l.split_whitespace().next() == Some(kind))
            .unwrap_or_else(|| panic!("no {kind} line in\n{text}"));
        assert_eq!(line.split_whitespace().last(), Some(n.to_string().as_str()));
    }
    assert!(!text.contains("annotation "), "{text}");
    // JSON: the summary object of the full report, without the images unless asked.
    let (_, s) = diff(&["--summary"]);
    let sv: serde_json::Value = serde_json::from_str(&s).expect("json");
    assert_eq!(sv["summary"], v["summary"]);
    assert!(sv.get("images").is_none());
    let (_, s) = diff(&["--summary", "--per-image"]);
    let sv: serde_json::Value = serde_json::from_str(&s).expect("json");
    let changed = v["images"]
        .as_array()
        .expect("images")
        .iter()
        .filter(|i| i["status"] != "unchanged")
        .count();
    assert_eq!(sv["images"].as_array().map(Vec::len), Some(changed));
    // --per-image without --summary is a usage error.
    let out = bin()
        .arg("diff")
        .arg(conformance("annotations_4classes.xml"))
        .arg(conformance("annotations_4classes.json"))
        .arg("--per-image")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
}

/// A small synth dataset with images (256×256, fast to draw and paint) in `dir/s`.
fn tiny_synth(dir: &std::path::Path) -> std::path::PathBuf {
    let s = dir.join("s");
    let out = bin()
        .args(["synth", "--images", "4", "--per-image", "30"])
        .args(["--width", "256", "--height", "256", "-o"])
        .arg(&s)
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_no_bar("synth", &out.stderr);
    s
}

/// No progress drawing in what a pipe or log received: no carriage return, no escape.
fn assert_no_bar(what: &str, stderr: &[u8]) {
    assert!(
        !stderr.contains(&b'\r') && !stderr.contains(&0x1b),
        "{what}: progress bytes on a stderr that is not a terminal:\n{}",
        String::from_utf8_lossy(stderr)
    );
}

#[test]
fn no_progress_bytes_when_stderr_is_not_a_terminal() {
    let t = tempfile::tempdir().expect("tmp");
    let s = tiny_synth(t.path());
    let xml = s.join("annotations_4classes.xml");
    let runs: Vec<(&str, Vec<std::ffi::OsString>)> = vec![
        (
            "convert --to masks",
            vec![
                "convert".into(),
                "--to".into(),
                "masks".into(),
                xml.clone().into(),
                "-o".into(),
                t.path().join("m").into(),
            ],
        ),
        (
            "masks",
            vec![
                "masks".into(),
                xml.clone().into(),
                "-o".into(),
                t.path().join("mm").into(),
            ],
        ),
        ("validate", vec!["validate".into(), s.clone().into()]),
        (
            "overlay",
            vec![
                "overlay".into(),
                "--images".into(),
                s.join("images").into(),
                "--masks".into(),
                t.path().join("mm").into(),
                "-o".into(),
                t.path().join("ov").into(),
            ],
        ),
    ];
    for (what, args) in runs {
        let out = bin().args(&args).output().expect("runs");
        assert!(
            out.status.code().is_some_and(|c| c < 2),
            "{what}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_no_bar(what, &out.stderr);
    }
}

/// On a terminal (util-linux `script` gives the command one), `convert --to masks` draws its
/// bars and names its phases, the instance pass included (where it used to go quiet).
#[test]
fn a_terminal_gets_bars_and_phases() {
    let script_ok = std::process::Command::new("script")
        .args(["-qc", "true", "/dev/null"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !script_ok {
        eprintln!("skipped: no util-linux script to give the command a terminal");
        return;
    }
    let t = tempfile::tempdir().expect("tmp");
    let s = tiny_synth(t.path());
    let bin = assert_cmd::cargo::cargo_bin("neutrostruct");
    let quote = |p: &std::path::Path| format!("'{}'", p.display());
    let cmd = format!(
        "{} convert --to masks {} -o {}",
        quote(&bin),
        quote(&s.join("annotations_4classes.xml")),
        quote(&t.path().join("m"))
    );
    let out = std::process::Command::new("script")
        .args(["-qc", &cmd, "/dev/null"])
        .env("NO_COLOR", "1")
        .output()
        .expect("script runs");
    let seen = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{seen}");
    assert!(
        seen.contains('\r') || seen.contains('\u{1b}'),
        "no bar:\n{seen}"
    );
    assert!(seen.contains("convert: writing masks"), "{seen}");
    assert!(seen.contains("instances"), "no instance phase:\n{seen}");
    assert!(
        seen.contains("converted "),
        "the report still follows:\n{seen}"
    );
}
