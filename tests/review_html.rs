//! `validate --format html`, the review page (issue 17): the binary writes it for real data,
//! and a real browser, when there is one, builds one card per finding from it.

use assert_cmd::Command;
use std::path::{Path, PathBuf};

fn bin() -> Command {
    let mut c = Command::cargo_bin("neutrostruct").expect("binary is built");
    c.env("NO_COLOR", "1");
    c
}

fn published_layout() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/conformance/published-layout")
}

/// The JSON array the page embeds.
fn embedded(page: &str) -> serde_json::Value {
    let tag = "<script type=\"application/json\" id=\"findings\">";
    let start = page.find(tag).expect("findings element") + tag.len();
    let end = start + page[start..].find("</script>").expect("end of findings");
    serde_json::from_str(&page[start..end]).expect("findings JSON")
}

/// No request may leave the page: no `http(s)://` in a `src` or `href` (the page has no
/// links without a link base).
fn assert_offline(page: &str) {
    for attr in [
        "src=\"http",
        "href=\"http",
        "src='http",
        "href='http",
        "url(http",
        "@import",
    ] {
        assert!(!page.contains(attr), "page loads something: {attr}");
    }
}

#[test]
fn published_layout_page_has_no_error_cards() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.html");
    let run = bin()
        .arg("validate")
        .arg(published_layout())
        .args(["--format", "html", "-o"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(
        run.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let page = std::fs::read_to_string(&out).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>"));
    let cards = embedded(&page);
    let cards = cards.as_array().expect("an array");
    assert_eq!(
        cards.iter().filter(|c| c["severity"] == "error").count(),
        0,
        "{cards:?}"
    );
    assert!(page.contains("<td>"), "summary table");
    assert_offline(&page);
}

/// A dataset with known findings: two heavily overlapping ellipses and a duplicate id.
fn fixture(dir: &Path) -> PathBuf {
    let coco = serde_json::json!({
        "images": [{"id": 1, "file_name": "cell_<b>1</b>.tif", "width": 200, "height": 150}],
        "categories": [
            {"id": 1, "name": "Primary granules", "supercategory": "granule/vesicle"},
            {"id": 2, "name": "Secondary granules", "supercategory": "granule/vesicle"}
        ],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "iscrowd": 0, "area": 600.0,
             "bbox": [40, 40, 40, 30],
             "segmentation": [[40, 40, 80, 40, 80, 70, 40, 70]]},
            {"id": 2, "image_id": 1, "category_id": 2, "iscrowd": 0, "area": 600.0,
             "bbox": [41, 41, 40, 30],
             "segmentation": [[41, 41, 81, 41, 81, 71, 41, 71]]},
            {"id": 2, "image_id": 1, "category_id": 1, "iscrowd": 0, "area": 100.0,
             "bbox": [150, 100, 10, 10],
             "segmentation": [[150, 100, 160, 100, 160, 110, 150, 110]]}
        ]
    });
    let p = dir.join("train.json");
    std::fs::write(&p, serde_json::to_vec_pretty(&coco).unwrap()).unwrap();
    p
}

#[test]
fn fixture_page_holds_every_finding_with_pictures() {
    let dir = tempfile::tempdir().unwrap();
    let coco = fixture(dir.path());
    let json = bin()
        .args(["validate", "--format", "json", "--coco"])
        .arg(&coco)
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let n = report["findings"].as_array().unwrap().len();
    assert!(n >= 2, "{report}");
    let out = dir.path().join("review.html");
    bin()
        .args([
            "validate",
            "--format",
            "html",
            "--link-base",
            "https://example.org/r/blob/main",
            "--coco",
        ])
        .arg(&coco)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    let page = std::fs::read_to_string(&out).unwrap();
    let cards = embedded(&page);
    let cards = cards.as_array().unwrap();
    assert_eq!(cards.len(), n);
    assert!(
        cards.iter().any(|c| c["svg"]
            .as_str()
            .is_some_and(|s| s.contains("class=\"partner\""))),
        "{cards:?}"
    );
    assert!(cards.iter().all(|c| c["link"]
        .as_str()
        .is_some_and(|l| l.starts_with("https://example.org/r/blob/main/"))));
    // The hostile image name never reaches the page as markup.
    assert!(!page.contains("<b>1</b>"));
}

/// With Debian's chromium installed, the page's script builds one card per finding.
#[test]
fn chromium_renders_one_card_per_finding() {
    let chromium = Path::new("/usr/bin/chromium");
    if !chromium.exists() {
        eprintln!("skipped: /usr/bin/chromium is absent (apt-get install -y chromium)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let coco = fixture(dir.path());
    let out = dir.path().join("review.html");
    let status = bin()
        .args(["validate", "--format", "html", "--coco"])
        .arg(&coco)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(status.status.code(), Some(1), "the fixture has errors");
    let page = std::fs::read_to_string(&out).unwrap();
    let n = embedded(&page).as_array().unwrap().len();
    // The static page has no cards: only the script makes them.
    assert_eq!(page.matches("data-code=").count(), 0);
    let profile = dir.path().join("profile");
    let dom = std::process::Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--no-first-run",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", out.display()))
        .output()
        .unwrap();
    assert!(
        dom.status.success(),
        "{}",
        String::from_utf8_lossy(&dom.stderr)
    );
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert_eq!(dom.matches("data-code=").count(), n, "{dom}");
    assert_eq!(
        dom.matches("data-severity=\"error\"").count(),
        embedded(&page)
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["severity"] == "error")
            .count()
    );
}

/// The DOM chromium builds from `url` (a `file://` URL, with a fragment for the filters), or
/// `None` when Debian's chromium is not installed.
fn dump_dom(url: &str, profile: &Path) -> Option<String> {
    let chromium = Path::new("/usr/bin/chromium");
    if !chromium.exists() {
        eprintln!("skipped: /usr/bin/chromium is absent (apt-get install -y chromium)");
        return None;
    }
    let dom = std::process::Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--no-first-run",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(url)
        .output()
        .expect("chromium runs");
    assert!(
        dom.status.success(),
        "{}",
        String::from_utf8_lossy(&dom.stderr)
    );
    Some(String::from_utf8_lossy(&dom.stdout).into_owned())
}

/// Every `src` and `href` value of `dom` that is an http(s) URL.
fn remote_refs(dom: &str) -> Vec<String> {
    let mut out = Vec::new();
    for attr in [" src=", " href="] {
        for (at, _) in dom.match_indices(attr) {
            let rest = &dom[at + attr.len()..];
            let Some(q) = rest.chars().next().filter(|c| *c == '"' || *c == '\'') else {
                continue;
            };
            let value = &rest[1..rest[1..].find(q).map_or(rest.len() - 1, |e| e + 1)];
            if value.trim_start().to_ascii_lowercase().starts_with("http") {
                out.push(value.to_string());
            }
        }
    }
    out
}

fn cards_in(dom: &str) -> usize {
    dom.matches("<article class=\"card\"").count()
}

/// The fixture's page in chromium: one card per finding, a severity filter from the URL
/// fragment hides exactly the other cards, and the only remote links are the --link-base ones.
#[test]
fn chromium_filters_the_validate_page_from_the_fragment() {
    let dir = tempfile::tempdir().unwrap();
    let coco = fixture(dir.path());
    let out = dir.path().join("review.html");
    let base = "https://example.org/r/blob/main";
    bin()
        .args([
            "validate",
            "--format",
            "html",
            "--link-base",
            base,
            "--coco",
        ])
        .arg(&coco)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    let page = std::fs::read_to_string(&out).unwrap();
    let cards = embedded(&page);
    let cards = cards.as_array().unwrap().clone();
    let url = format!("file://{}", out.display());
    let Some(dom) = dump_dom(&url, &dir.path().join("p1")) else {
        return;
    };
    assert_eq!(cards_in(&dom), cards.len(), "{dom}");
    let remote = remote_refs(&dom);
    assert!(!remote.is_empty(), "the --link-base links are there");
    assert!(remote.iter().all(|r| r.starts_with(base)), "{remote:?}");
    for sev in ["error", "warning", "info"] {
        let want = cards.iter().filter(|c| c["severity"] == sev).count();
        let dom = dump_dom(&format!("{url}#severity={sev}"), &dir.path().join("p2")).unwrap();
        assert_eq!(cards_in(&dom), want, "{sev}: {dom}");
        assert_eq!(dom.matches("data-severity=\"").count(), want, "{sev}");
        assert_eq!(
            dom.matches(&format!("data-severity=\"{sev}\"")).count(),
            want
        );
    }
    // A rule by its code, and a search word: the same cards as the JSON says.
    let code = cards[0]["code"].as_str().unwrap();
    let dom = dump_dom(&format!("{url}#rule={code}"), &dir.path().join("p3")).unwrap();
    assert_eq!(
        cards_in(&dom),
        cards.iter().filter(|c| c["code"] == code).count()
    );
    let dom = dump_dom(&format!("{url}#q=zz-no-such-word"), &dir.path().join("p4")).unwrap();
    assert_eq!(cards_in(&dom), 0);
    assert!(dom.contains(&format!("0 of {} findings", cards.len())));
}

/// Two versions of a file: one shape moved, one relabelled, one removed, one added.
fn diff_pair(dir: &Path) -> (PathBuf, PathBuf) {
    let doc = |anns: serde_json::Value| {
        serde_json::json!({
            "images": [{"id": 1, "file_name": "cell_01.png", "width": 200, "height": 150}],
            "categories": [
                {"id": 1, "name": "Primary granules", "supercategory": "granule/vesicle"},
                {"id": 2, "name": "Secondary granules", "supercategory": "granule/vesicle"}
            ],
            "annotations": anns
        })
    };
    let box_ann = |id: u64, cat: u64, x: f64, y: f64| {
        serde_json::json!({"id": id, "image_id": 1, "category_id": cat, "iscrowd": 0,
            "area": 400.0, "bbox": [x, y, 20, 20],
            "segmentation": [[x, y, x + 20.0, y, x + 20.0, y + 20.0, x, y + 20.0]]})
    };
    let old = doc(serde_json::json!([
        box_ann(1, 1, 10.0, 10.0),
        box_ann(2, 1, 60.0, 10.0),
        box_ann(3, 2, 110.0, 10.0)
    ]));
    let new = doc(serde_json::json!([
        box_ann(1, 1, 14.0, 12.0),
        box_ann(2, 2, 60.0, 10.0),
        box_ann(4, 2, 150.0, 100.0)
    ]));
    let (o, n) = (dir.join("old.json"), dir.join("new.json"));
    std::fs::write(&o, serde_json::to_vec(&old).unwrap()).unwrap();
    std::fs::write(&n, serde_json::to_vec(&new).unwrap()).unwrap();
    (o, n)
}

#[test]
fn diff_html_page_has_a_card_per_change_and_filters_by_kind() {
    let dir = tempfile::tempdir().unwrap();
    let (old, new) = diff_pair(dir.path());
    let images = dir.path().join("images");
    std::fs::create_dir(&images).unwrap();
    image::RgbImage::from_pixel(200, 150, image::Rgb([90, 90, 90]))
        .save(images.join("cell_01.png"))
        .unwrap();
    let out = dir.path().join("diff.html");
    let run = bin()
        .args(["diff", "--format", "html", "--images"])
        .arg(&images)
        .arg(&old)
        .arg(&new)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(
        run.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let page = std::fs::read_to_string(&out).unwrap();
    assert_offline(&page);
    let items = embedded(&page);
    let items = items.as_array().unwrap().clone();
    let kinds = |k: &str| {
        items
            .iter()
            .filter(|c| c["kind"].as_array().unwrap().iter().any(|x| x == k))
            .count()
    };
    assert_eq!(items.len(), 4, "{items:?}");
    assert_eq!(
        [
            kinds("added"),
            kinds("removed"),
            kinds("moved"),
            kinds("relabeled")
        ],
        [1, 1, 1, 1]
    );
    assert_eq!(page.matches("data:image/png;base64,").count(), 4);
    // A wrong -o extension is refused before anything is written.
    let bad = bin()
        .args(["diff", "--format", "html"])
        .arg(&old)
        .arg(&new)
        .arg("-o")
        .arg(dir.path().join("diff.json"))
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    let url = format!("file://{}", out.display());
    let Some(dom) = dump_dom(&url, &dir.path().join("p1")) else {
        return;
    };
    assert_eq!(cards_in(&dom), 4, "{dom}");
    assert!(remote_refs(&dom).is_empty(), "{:?}", remote_refs(&dom));
    for k in ["added", "removed", "moved", "relabeled"] {
        let dom = dump_dom(&format!("{url}#kind={k}"), &dir.path().join("p2")).unwrap();
        assert_eq!(cards_in(&dom), kinds(k), "{k}");
        assert_eq!(dom.matches("data-kind=\"").count(), kinds(k), "{k}");
    }
}

#[test]
fn markdown_review_url_links_the_page_and_refuses_other_schemes() {
    let dir = tempfile::tempdir().unwrap();
    let coco = fixture(dir.path());
    let ok = bin()
        .args([
            "validate",
            "--format",
            "markdown",
            "--review-url",
            "https://github.com/o/r/actions/runs/1#artifacts",
            "--coco",
        ])
        .arg(&coco)
        .output()
        .unwrap();
    assert_eq!(ok.status.code(), Some(1), "the fixture has errors");
    let md = String::from_utf8_lossy(&ok.stdout);
    assert!(
        md.contains("[Open the review page](https://github.com/o/r/actions/runs/1#artifacts)"),
        "{md}"
    );
    for bad in [
        "javascript:alert(1)",
        "file:///etc/passwd",
        "https://a b",
        "https://",
    ] {
        let run = bin()
            .args([
                "validate",
                "--format",
                "markdown",
                "--review-url",
                bad,
                "--coco",
            ])
            .arg(&coco)
            .output()
            .unwrap();
        assert_eq!(run.status.code(), Some(2), "{bad}");
        assert!(
            String::from_utf8_lossy(&run.stderr).contains("--review-url"),
            "{bad}"
        );
    }
    let run = bin()
        .args([
            "validate",
            "--format",
            "text",
            "--review-url",
            "https://x.org",
            "--coco",
        ])
        .arg(&coco)
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(2));
}
