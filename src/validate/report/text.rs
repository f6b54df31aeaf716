//! Human-readable report: grouped by file, then image; colour only when asked (the CLI asks
//! when stdout is a terminal, see `ReportOptions::for_stdout`).

use super::{group, ReportOptions};
use crate::escape::text;
use crate::validate::{Finding, Severity, Summary};
use anstyle::{AnsiColor, Style};
use std::borrow::Cow;
use std::fmt::Write;

fn paint(on: bool, style: Style, text: &str) -> String {
    if on {
        format!("{}{text}{}", style.render(), style.render_reset())
    } else {
        text.to_string()
    }
}

fn severity_style(s: Severity) -> Style {
    match s {
        Severity::Error => AnsiColor::Red.on_default().bold(),
        Severity::Warning => AnsiColor::Yellow.on_default().bold(),
        Severity::Info => AnsiColor::Cyan.on_default(),
    }
}

/// The text report, as `validate` prints it.
pub fn render(findings: &[Finding], opts: &ReportOptions) -> String {
    let c = opts.color;
    let bold = Style::new().bold();
    let dim = Style::new().dimmed();
    let mut out = String::new();
    for (file, images) in group(findings) {
        let _ = writeln!(out, "{}", paint(c, bold, &text(file)));
        for (image, list) in images {
            let _ = writeln!(out, "  {}", image.map_or(Cow::Borrowed("(file)"), text));
            for f in list {
                let line = match (f.line, f.column) {
                    (Some(l), Some(c)) => format!("{l}:{c}"),
                    (Some(l), None) => l.to_string(),
                    (None, _) => "-".to_string(),
                };
                let ann = f
                    .annotation_id
                    .map_or_else(String::new, |a| format!(" [annotation {a}]"));
                let _ = writeln!(
                    out,
                    "    {} {}{} {}{}",
                    paint(c, dim, &format!("{line:>6}:")),
                    paint(c, severity_style(f.severity), f.severity.as_str()),
                    paint(c, dim, &format!("[{} {}]", f.code, f.rule)),
                    text(&f.message),
                    paint(c, dim, &ann),
                );
            }
        }
        out.push('\n');
    }
    let s = Summary::of(findings);
    let plural = |n: usize, w: &str| format!("{n} {w}{}", if n == 1 { "" } else { "s" });
    let mut line = format!(
        "{}, {}, {}",
        plural(s.errors, "error"),
        plural(s.warnings, "warning"),
        plural(s.infos, "info")
    );
    if opts.ignored > 0 {
        let _ = write!(line, "; {} ignored by config", opts.ignored);
    }
    if opts.baselined > 0 {
        let _ = write!(line, "; {} known from the baseline", opts.baselined);
    }
    let style = if s.errors > 0 {
        severity_style(Severity::Error)
    } else if s.warnings > 0 {
        severity_style(Severity::Warning)
    } else {
        AnsiColor::Green.on_default().bold()
    };
    if findings.is_empty() {
        line = format!(
            "no findings{}",
            line.split_once(';')
                .map_or(String::new(), |(_, r)| format!(";{r}"))
        );
    }
    let _ = writeln!(out, "{}", paint(c, style, &line));
    out
}
