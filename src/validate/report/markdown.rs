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

pub fn render(findings: &[Finding], opts: &ReportOptions) -> String {
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
