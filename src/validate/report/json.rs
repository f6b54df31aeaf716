//! Machine-readable report, described by `schemas/report.schema.json`:
//! `{"version": 1, "tool": {...}, "summary": {"errors", "warnings", "infos", "ignored",
//! "baselined"}, "findings": [...]}`. A JSON report is also what `--baseline` reads.

use super::ReportOptions;
use crate::validate::{Finding, Summary};
use serde_json::json;

/// The JSON report as a value tree.
pub fn value(findings: &[Finding], opts: &ReportOptions) -> serde_json::Value {
    let s = Summary::of(findings);
    json!({
        "version": 1,
        "tool": {"name": "neutrostruct", "version": env!("CARGO_PKG_VERSION")},
        "summary": {
            "errors": s.errors,
            "warnings": s.warnings,
            "infos": s.infos,
            "ignored": opts.ignored,
            "baselined": opts.baselined,
        },
        "findings": findings,
    })
}

/// The JSON report (`--format json`), pretty-printed.
pub fn render(findings: &[Finding], opts: &ReportOptions) -> String {
    let mut s = serde_json::to_string_pretty(&value(findings, opts)).unwrap_or_default();
    s.push('\n');
    s
}
