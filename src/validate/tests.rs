//! Engine, configuration, baseline and report tests on one small fixture.

use super::report::{self, sample, Format, ReportOptions};
use super::testutil::*;
use super::*;
use crate::model::*;

const SNAP: &str = "../../snapshots";

fn snap_text(name: &str, text: &str) {
    insta::with_settings!({snapshot_path => SNAP, prepend_module_to_snapshot => false, omit_expression => true}, {
        insta::assert_snapshot!(name, text);
    });
}

/// Two overlapping granules, an out-of-bounds one, a crowd annotation.
fn fixture() -> Inputs {
    let mut crowd = coco_ann(4, 1, 2, ellipse(80.0, 80.0, 4.0, 3.0, 0.0), 13);
    if let Some(c) = crowd.coco.as_mut() {
        c.iscrowd = Some(1);
    }
    let mut i = one_image(vec![
        coco_ann(1, 1, 1, ellipse(50.0, 50.0, 10.0, 10.0, 0.0), 10),
        coco_ann(2, 1, 1, ellipse(55.0, 50.0, 10.0, 10.0, 0.0), 11),
        coco_ann(3, 1, 3, ellipse(104.0, 20.0, 5.0, 5.0, 0.0), 12),
        crowd,
    ]);
    i.datasets[0].path = "data/train.json".into();
    i.root = Some("data".into());
    i
}

#[test]
fn engine_runs_all_rules_in_a_stable_order() {
    let out = Engine::default().run(&fixture());
    let codes: Vec<(&str, Option<u32>)> = out
        .findings
        .iter()
        .map(|f| (f.code.as_str(), f.line))
        .collect();
    assert_eq!(
        codes,
        vec![
            ("NS009", Some(11)),
            ("NS005", Some(12)),
            ("NS021", Some(13))
        ]
    );
    assert!(out.findings.iter().all(|f| f.file == "train.json"));
    assert_eq!(exit_code(&out.findings, false), 1);
    let first = Engine::default().first_error(&fixture()).unwrap();
    assert_eq!(first.code, "NS005");
    assert!(!Engine::default().is_valid(&fixture()));
    assert_eq!(validate(&fixture()), out.findings);
}

#[test]
fn config_sets_severities_ignores_and_overrides() {
    let cfg = Config::parse(
        r#"
[rules]
ellipse-out-of-bounds = "warning"
NS006 = "off"

[[ignore]]
rule = "excessive-overlap"
image = "a.*"
reason = "touching granules"

[[override]]
path = "train.json"
rules = { crowd-annotation = "info" }
"#,
        std::path::Path::new("c.toml"),
    )
    .unwrap();
    let out = Engine::new(cfg).run(&fixture());
    let got: Vec<(&str, Severity)> = out
        .findings
        .iter()
        .map(|f| (f.rule.as_str(), f.severity))
        .collect();
    assert_eq!(
        got,
        vec![
            ("ellipse-out-of-bounds", Severity::Warning),
            ("crowd-annotation", Severity::Info)
        ]
    );
    assert_eq!(out.ignored, 1);
    assert_eq!(exit_code(&out.findings, false), 0);
    assert_eq!(exit_code(&out.findings, true), 1);
}

#[test]
fn baseline_silences_exactly_the_known_findings() {
    let before = Engine::default().run(&fixture());
    let json = report::json::render(&before.findings, &ReportOptions::default());
    let baseline = baseline::Baseline::parse(&json, std::path::Path::new("report.json")).unwrap();
    // The pull request inserts lines above (every line shifts) and adds a duplicate shape.
    let mut pr = fixture();
    for a in &mut pr.datasets[0].dataset.annotations {
        if let Some(l) = a.loc.as_mut() {
            l.line += 5;
        }
    }
    pr.datasets[0].dataset.annotations.push(coco_ann(
        5,
        1,
        3,
        ellipse(20.0, 80.0, 6.0, 4.0, 0.0),
        30,
    ));
    pr.datasets[0].dataset.annotations.push(coco_ann(
        6,
        1,
        3,
        ellipse(20.0, 80.1, 6.0, 4.0, 0.0),
        31,
    ));
    let after = Engine::default().run_with_baseline(&pr, &baseline);
    assert_eq!(after.baselined, before.findings.len());
    assert_eq!(after.findings.len(), 1, "{:#?}", after.findings);
    assert_eq!(after.findings[0].rule, "duplicate-shape");
    assert_eq!(after.findings[0].line, Some(31));
    // Counting: a second identical finding is not covered by one baseline entry.
    let twice = vec![before.findings[0].clone(), before.findings[0].clone()];
    let (kept, known) = baseline::Baseline::from_findings(&before.findings[..1]).filter(twice);
    assert_eq!((kept.len(), known), (1, 1));
}

#[test]
fn report_snapshots() {
    let f = sample::findings();
    let opts = ReportOptions {
        color: false,
        ignored: 2,
        baselined: 1,
    };
    for format in Format::ALL {
        let text = report::render(format, &f, &opts);
        snap_text(
            &format!("report_{}", format.name()),
            &text.replace(env!("CARGO_PKG_VERSION"), "<version>"),
        );
    }
    snap_text(
        "report_text_clean",
        &report::render(Format::Text, &[], &ReportOptions::default()),
    );
    snap_text(
        "report_markdown_clean",
        &report::render(Format::Markdown, &[], &ReportOptions::default()),
    );
    let coloured = report::render(
        Format::Text,
        &f,
        &ReportOptions {
            color: true,
            ..opts
        },
    );
    assert!(coloured.contains("\u{1b}["), "colour when asked");
    assert!(
        !report::render(Format::Text, &f, &opts).contains('\u{1b}'),
        "no colour otherwise"
    );
}

#[test]
fn github_commands_escape_properties_and_data() {
    let f = sample::findings();
    let out = report::github::render(&f);
    let line = out.lines().find(|l| l.contains("NS005")).unwrap();
    assert_eq!(
        line,
        "::warning file=annotations/train.xml,line=12,title=NS005 ellipse-out-of-bounds::ellipse reaches 3.5 px past the edge of the 4096 × 4224 image: 100%25, a,b|c%0Anext (image cell_02.tif)"
    );
    let mut odd = f[0].clone();
    odd.file = "a,b:c.json".into();
    assert!(report::github::render(&[odd])
        .starts_with("::error file=a%2Cb%3Ac.json,title=NS001 duplicate-id::"));
    assert!(out.lines().any(|l| l.starts_with("::notice ")));
}

#[test]
fn sarif_has_the_required_2_1_0_structure() {
    let f = sample::findings();
    let v = report::sarif::value(&f);
    assert_eq!(v["version"], "2.1.0");
    assert!(v["$schema"].as_str().unwrap().contains("sarif"));
    let run = &v["runs"][0];
    let driver = &run["tool"]["driver"];
    assert_eq!(driver["name"], "neutrostruct");
    assert!(driver["version"].is_string() && driver["informationUri"].is_string());
    let rules = driver["rules"].as_array().unwrap();
    assert_eq!(rules.len(), RULES.len());
    for r in rules {
        for k in [
            "id",
            "name",
            "shortDescription",
            "fullDescription",
            "help",
            "defaultConfiguration",
        ] {
            assert!(!r[k].is_null(), "rule lacks {k}: {r}");
        }
        assert!(
            r["shortDescription"]["text"].is_string() && r["fullDescription"]["text"].is_string()
        );
        assert!(["error", "warning", "note"]
            .contains(&r["defaultConfiguration"]["level"].as_str().unwrap()));
    }
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), f.len());
    for (r, f) in results.iter().zip(&f) {
        assert_eq!(r["ruleId"], f.code.as_str());
        let idx = r["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[idx]["id"], f.code.as_str());
        assert!(r["message"]["text"].is_string());
        let loc = &r["locations"][0]["physicalLocation"];
        let uri = loc["artifactLocation"]["uri"].as_str().unwrap();
        assert!(!uri.starts_with('/') && !uri.contains('\\'));
        match f.line {
            Some(l) => assert_eq!(loc["region"]["startLine"], l),
            None => assert!(loc["region"].is_null()),
        }
    }
    assert_eq!(results[3]["level"], "warning");
    assert_eq!(results[4]["level"], "note");
}

#[test]
fn junit_is_well_formed_xml() {
    use quick_xml::events::Event;
    let f = sample::findings();
    let xml = report::junit::render(&f);
    let mut reader = quick_xml::Reader::from_str(&xml);
    let (mut suites, mut cases, mut failures, mut depth) = (0, 0, 0, 0i32);
    loop {
        match reader.read_event().expect("well-formed") {
            Event::Start(e) => {
                depth += 1;
                match e.name().as_ref() {
                    b"testsuite" => suites += 1,
                    b"testcase" => cases += 1,
                    b"failure" => failures += 1,
                    _ => {}
                }
            }
            Event::Empty(e) if e.name().as_ref() == b"testcase" => cases += 1,
            Event::End(_) => depth -= 1,
            Event::Eof => break,
            _ => {}
        }
    }
    assert_eq!(depth, 0);
    assert_eq!(suites, RULES.len());
    assert_eq!(
        cases,
        f.len() + RULES.len() - 4,
        "one case per finding plus one per clean rule"
    );
    assert_eq!(failures, 2);
}

/// Checks a value against the parts of `schemas/report.schema.json` this report uses:
/// required keys, types and enums (no JSON Schema crate in the tree).
#[test]
fn json_report_matches_its_schema() {
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("../../schemas/report.schema.json")).unwrap();
    let v = report::json::value(&sample::findings(), &ReportOptions::default());
    let required = |s: &serde_json::Value| -> Vec<String> {
        s["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k.as_str().unwrap().to_string())
            .collect()
    };
    for k in required(&schema) {
        assert!(v.get(&k).is_some(), "report lacks {k}");
    }
    assert_eq!(v["version"], schema["properties"]["version"]["const"]);
    for k in required(&schema["properties"]["summary"]) {
        assert!(v["summary"][&k].is_u64(), "summary.{k}");
    }
    let fdef = &schema["$defs"]["finding"];
    let allowed: Vec<&String> = fdef["properties"].as_object().unwrap().keys().collect();
    let sev: Vec<&str> = fdef["properties"]["severity"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    for f in v["findings"].as_array().unwrap() {
        for k in required(fdef) {
            assert!(f[&k].is_string(), "finding.{k}");
        }
        for k in f.as_object().unwrap().keys() {
            assert!(allowed.contains(&k), "finding.{k} is not in the schema");
        }
        assert!(sev.contains(&f["severity"].as_str().unwrap()));
        let code = f["code"].as_str().unwrap();
        assert!(
            code.len() == 5
                && code.starts_with("NS")
                && code[2..].chars().all(|c| c.is_ascii_digit())
        );
        assert!(f["line"].is_null() || f["line"].as_u64().unwrap() >= 1);
    }
    // And it reads back as a baseline.
    let text = report::json::render(&sample::findings(), &ReportOptions::default());
    let b = baseline::Baseline::parse(&text, std::path::Path::new("r.json")).unwrap();
    assert_eq!(b.filter(sample::findings()).0.len(), 0);
}

#[test]
fn overlap_search_uses_the_index_on_a_large_image() {
    // 40 000 granules on a grid: all-pairs would be 8e8 IoU tests; the R-tree makes it quick.
    let mut anns = Vec::new();
    for k in 0..40_000u64 {
        let (x, y) = (
            (k % 200) as f64 * 20.0 + 10.0,
            (k / 200) as f64 * 20.0 + 10.0,
        );
        anns.push(ann(
            k + 1,
            1,
            1,
            ellipse(x, y, 6.0, 4.0, (k % 180) as f64),
            10 + k as u32,
        ));
    }
    anns.push(ann(99_999, 1, 1, ellipse(10.2, 10.0, 6.0, 4.0, 0.0), 5));
    let mut i = one_image(anns);
    i.datasets[0].dataset.images[0].width = 4000;
    i.datasets[0].dataset.images[0].height = 4000;
    let t = std::time::Instant::now();
    let f = run(&rules::duplicate_shape::DuplicateShape, &i);
    assert_eq!(f.len(), 1);
    assert!(t.elapsed().as_secs() < 20);
    let _ = AnnotationId(0);
}

#[test]
fn exit_code_follows_severity_and_strict() {
    let meta = &rules::crowd_annotation::CrowdAnnotation::META;
    let warn = Finding::new(meta, "a.json", "w").severity(Severity::Warning);
    let info = Finding::new(meta, "a.json", "i").severity(Severity::Info);
    let err = Finding::new(meta, "a.json", "e").severity(Severity::Error);
    assert_eq!(exit_code(&[], false), 0);
    assert_eq!(exit_code(std::slice::from_ref(&info), true), 0);
    assert_eq!(exit_code(std::slice::from_ref(&warn), false), 0);
    assert_eq!(exit_code(&[warn], true), 1);
    assert_eq!(exit_code(&[err], false), 1);
}
