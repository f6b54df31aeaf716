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
