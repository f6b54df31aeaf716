//! JUnit XML for CI test-report viewers: one `<testsuite>` per rule (every rule, so a clean
//! run shows each rule as a passing test), one `<testcase>` per finding; errors are
//! `<failure>`s, warnings and infos pass with the finding in `<system-out>`. Data is escaped
//! with `crate::escape::xml`, which also shows characters XML 1.0 cannot hold (`\x01`).

use crate::escape::xml as escape;
use crate::validate::registry::metas;
use crate::validate::{Finding, Severity};
use std::fmt::Write;

fn case_name(f: &Finding) -> String {
    let mut s = f.file.clone();
    if let Some(l) = f.line {
        let _ = write!(s, ":{l}");
    }
    if let Some(im) = &f.image {
        let _ = write!(s, " {im}");
    }
    if let Some(a) = f.annotation_id {
        let _ = write!(s, " annotation {a}");
    }
    s
}

/// A JUnit XML report: one test case per rule, a failure per finding.
pub fn render(findings: &[Finding]) -> String {
    let failures_total = findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .count();
    let mut suites = String::new();
    let mut tests_total = 0;
    for m in metas() {
        let mine: Vec<&Finding> = findings.iter().filter(|f| f.code == m.code).collect();
        let failures = mine
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .count();
        let tests = mine.len().max(1);
        tests_total += tests;
        let _ = writeln!(
            suites,
            "  <testsuite name=\"{} {}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"0\">",
            m.code, m.name
        );
        let class = format!("neutrostruct.{}", m.name);
        if mine.is_empty() {
            let _ = writeln!(
                suites,
                "    <testcase classname=\"{class}\" name=\"no findings\"/>"
            );
        }
        for f in mine {
            let _ = writeln!(
                suites,
                "    <testcase classname=\"{class}\" name=\"{}\">",
                escape(case_name(f).as_str())
            );
            let body = escape(format!("{}: {}: {}", case_name(f), f.severity, f.message).as_str())
                .into_owned();
            match f.severity {
                Severity::Error => {
                    let _ = writeln!(
                        suites,
                        "      <failure type=\"{}\" message=\"{}\">{body}</failure>",
                        m.name,
                        escape(f.message.as_str())
                    );
                }
                _ => {
                    let _ = writeln!(suites, "      <system-out>{body}</system-out>");
                }
            }
            let _ = writeln!(suites, "    </testcase>");
        }
        let _ = writeln!(suites, "  </testsuite>");
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"neutrostruct validate\" tests=\"{tests_total}\" failures=\"{failures_total}\" errors=\"0\">\n{suites}</testsuites>\n"
    )
}
