//! A pull-request comment: a summary line, then per file a table per image.

use super::{group, ReportOptions};
use crate::escape::{markdown_cell_code, markdown_code};
use crate::validate::{Finding, Severity, Summary};
use std::fmt::Write;

fn badge(s: Severity) -> &'static str {
    match s {
        Severity::Error => "❌ error",
        Severity::Warning => "⚠️ warning",
        Severity::Info => "ℹ️ info",
    }
}

/// A Markdown pull-request comment (`--format markdown`).
pub fn render(findings: &[Finding], opts: &ReportOptions) -> String {
    render_with_review(findings, opts, None)
}

/// [`render`], with a link to the review page (`validate --format html`) under the summary
/// line. The URL was checked to be http(s) by the CLI; here it is percent-encoded where
/// markdown would read it otherwise (`<`, `>`, spaces, brackets).
pub fn render_with_review(
    findings: &[Finding],
    opts: &ReportOptions,
    review_url: Option<&str>,
) -> String {
    let s = Summary::of(findings);
    let mut out = String::from("### neutrostruct validate\n\n");
    let files = group(findings);
    if findings.is_empty() {
        out.push_str("✅ No findings.");
    } else {
        let _ = write!(
            out,
            "{} **{} errors**, {} warnings, {} infos in {} files.",
            if s.errors > 0 { "❌" } else { "⚠️" },
            s.errors,
            s.warnings,
            s.infos,
            files.len()
        );
    }
    if opts.ignored > 0 || opts.baselined > 0 {
        let _ = write!(
            out,
            " ({} ignored by config, {} known from the baseline.)",
            opts.ignored, opts.baselined
        );
    }
    out.push('\n');
    if let Some(url) = review_url {
        let _ = writeln!(
            out,
            "\n🔎 [Open the review page]({}): every finding drawn on its image, with filters.",
            markdown_url(url)
        );
    }
    for (file, images) in files {
        let _ = write!(out, "\n#### {}\n", markdown_code(file));
        for (image, list) in images {
            let _ = writeln!(
                out,
                "\n**{}**\n",
                image.map_or_else(|| "(file)".to_string(), markdown_code)
            );
            out.push_str("| Severity | Code | Rule | Line | Annotation | Message |\n|---|---|---|---:|---:|---|\n");
            for f in list {
                let _ = writeln!(
                    out,
                    "| {} | {} | `{}` | {} | {} | {} |",
                    badge(f.severity),
                    f.code,
                    f.rule,
                    f.line.map_or_else(String::new, |l| l.to_string()),
                    f.annotation_id.map_or_else(String::new, |a| a.to_string()),
                    markdown_cell_code(&f.message)
                );
            }
        }
    }
    out
}

/// A URL as the destination of a markdown link: every character that could end it or start
/// markup (`(`, `)`, `<`, `>`, `[`, `]`, `\\`, `` ` ``, `*`, quotes, spaces) is
/// percent-encoded, so the link stays one link whatever the URL holds.
fn markdown_url(url: &str) -> String {
    let mut out = String::with_capacity(url.len());
    for c in url.chars() {
        if c.is_ascii_alphanumeric() || "-._~:/?#&=%+,;@!$".contains(c) {
            out.push(c);
        } else {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::report::sample;

    #[test]
    fn review_link_is_one_link_whatever_the_url() {
        let md = render_with_review(
            &sample::findings(),
            &ReportOptions::default(),
            Some("https://example.org/run/1?a=(b)<c>[d] e*_`"),
        );
        assert!(
            md.contains("[Open the review page](https://example.org/run/1?a=%28b%29%3Cc%3E%5Bd%5D%20e%2A_%60)"),
            "{md}"
        );
        assert!(!render(&sample::findings(), &ReportOptions::default()).contains("review page"));
    }
}
