//! GitHub Actions workflow commands, one per finding, so findings show as annotations on the
//! pull request's diff: `::error file=PATH,line=N,title=CODE rule::message`.
//!
//! Escaping follows GitHub's runner (`crate::escape`): in the message `%`, `\r`, `\n` become `%25`, `%0D`,
//! `%0A`; in properties also `:` and `,` become `%3A`, `%2C`. Infos are `notice`s.

use crate::escape::{github_data as escape_data, github_property as escape_property};
use crate::validate::{Finding, Severity, Summary};

/// GitHub Actions workflow commands (`::error file=…::`), one per finding.
pub fn render(findings: &[Finding]) -> String {
    let mut out = String::new();
    for f in findings {
        let cmd = match f.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "notice",
        };
        let mut props = vec![format!("file={}", escape_property(&f.file))];
        if let Some(l) = f.line {
            props.push(format!("line={l}"));
            if let Some(c) = f.column {
                props.push(format!("col={c}"));
            }
        }
        props.push(format!(
            "title={}",
            escape_property(&format!("{} {}", f.code, f.rule))
        ));
        let mut context = Vec::new();
        if let Some(im) = &f.image {
            context.push(format!("image {im}"));
        }
        if let Some(a) = f.annotation_id {
            context.push(format!("annotation {a}"));
        }
        let ctx = if context.is_empty() {
            String::new()
        } else {
            format!(" ({})", context.join(", "))
        };
        out.push_str(&format!(
            "::{cmd} {}::{}\n",
            props.join(","),
            escape_data(&format!("{}{ctx}", f.message))
        ));
    }
    let s = Summary::of(findings);
    out.push_str(&format!(
        "neutrostruct validate: {} errors, {} warnings, {} infos\n",
        s.errors, s.warnings, s.infos
    ));
    out
}
