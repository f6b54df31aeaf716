//! Report renderers, one per file. Each turns a list of findings into the text the CLI
//! prints. `render` picks one by [`Format`].

pub mod github;
pub mod html;
pub mod json;
pub mod junit;
pub mod markdown;
pub(crate) mod page;
pub mod sarif;
pub mod text;

use super::{Finding, Outcome};
use std::collections::HashMap;

/// The `--format` values of `validate`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// For people, with colour on a terminal.
    Text,
    /// The JSON report (also the baseline format).
    Json,
    /// SARIF 2.1.0, for code-scanning uploads.
    Sarif,
    /// GitHub Actions annotations.
    Github,
    /// JUnit XML, for CI test tabs.
    Junit,
    /// A Markdown pull-request comment.
    Markdown,
    /// The review page: one self-contained HTML file.
    Html,
}

impl Format {
    pub(crate) const ALL: [Format; 7] = [
        Format::Text,
        Format::Json,
        Format::Sarif,
        Format::Github,
        Format::Junit,
        Format::Markdown,
        Format::Html,
    ];

    /// The `--format` name.
    pub fn name(self) -> &'static str {
        match self {
            Format::Text => "text",
            Format::Json => "json",
            Format::Sarif => "sarif",
            Format::Github => "github",
            Format::Junit => "junit",
            Format::Markdown => "markdown",
            Format::Html => "html",
        }
    }
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Format::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| {
                format!("unknown format {s:?} (one of text, json, sarif, github, junit, markdown, html)")
            })
    }
}

/// Rendering choices that are not in the findings.
#[derive(Clone, Debug, Default)]
pub struct ReportOptions {
    /// ANSI colour in the text report. See `ReportOptions::for_stdout`.
    pub color: bool,
    /// Findings silenced by `[[ignore]]` entries and by the baseline (text footer, JSON).
    pub ignored: usize,
    /// Findings silenced by the baseline.
    pub baselined: usize,
}

impl ReportOptions {
    /// Colour when stdout is a terminal and neither `NO_COLOR` nor `CLICOLOR=0` says
    /// otherwise (`CLICOLOR_FORCE` forces it), as anstream decides.
    pub(crate) fn for_stdout(outcome: &Outcome) -> Self {
        let choice = anstream::AutoStream::choice(&std::io::stdout());
        ReportOptions {
            color: !matches!(choice, anstream::ColorChoice::Never),
            ignored: outcome.ignored,
            baselined: outcome.baselined,
        }
    }
}

/// Renders `findings` in `format`.
pub fn render(format: Format, findings: &[Finding], opts: &ReportOptions) -> String {
    match format {
        Format::Text => text::render(findings, opts),
        Format::Json => json::render(findings, opts),
        Format::Sarif => sarif::render(findings),
        Format::Github => github::render(findings),
        Format::Junit => junit::render(findings),
        Format::Markdown => markdown::render(findings, opts),
        // Without the inputs the page has no pictures; `html::render` takes them.
        Format::Html => html::render_findings(
            findings,
            &html::HtmlOptions {
                ignored: opts.ignored,
                baselined: opts.baselined,
                ..html::HtmlOptions::default()
            },
        ),
    }
}

/// A file and its findings per image (`None`: findings about the file as a whole).
pub(crate) type FileGroup<'a> = (&'a str, Vec<(Option<&'a str>, Vec<&'a Finding>)>);

/// Findings grouped by file, then by image (file-level findings, without an image, first),
/// each in order of first appearance.
pub(crate) fn group(findings: &[Finding]) -> Vec<FileGroup<'_>> {
    let mut files: Vec<FileGroup<'_>> = Vec::new();
    let mut fidx: HashMap<&str, usize> = HashMap::new();
    for f in findings {
        let i = *fidx.entry(&f.file).or_insert_with(|| {
            files.push((&f.file, Vec::new()));
            files.len() - 1
        });
        let images = &mut files[i].1;
        let key = f.image.as_deref();
        match images.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => v.push(f),
            None => images.push((key, vec![f])),
        }
    }
    for (_, images) in &mut files {
        images.sort_by_key(|(k, _)| k.is_some());
    }
    files
}

/// 64-bit FNV-1a: a hash that stays the same across Rust versions (SARIF fingerprints).
pub(crate) fn fnv1a(parts: &[&str]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.bytes().chain(std::iter::once(0u8)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

#[cfg(test)]
pub(crate) mod sample {
    //! One small list of findings that every renderer's snapshot uses.
    use crate::validate::rules::*;
    use crate::validate::{Finding, Severity};

    pub(crate) fn findings() -> Vec<Finding> {
        vec![
            Finding::new(
                &duplicate_id::DuplicateId::META,
                "annotations/train.json",
                "category id 1 is used twice",
            ),
            Finding::new(
                &duplicate_id::DuplicateId::META,
                "annotations/train.json",
                "annotation id 7 is used twice",
            )
            .line(Some(42))
            .image("cell_01.tif")
            .severity(Severity::Error),
            Finding {
                annotation_id: Some(7),
                ..Finding::new(
                    &excessive_overlap::ExcessiveOverlap::META,
                    "annotations/train.json",
                    "overlaps annotation 6 heavily (\"Primary granules\", IoU 0.52)",
                )
                .line(Some(57))
                .image("cell_01.tif")
            },
            Finding::new(
                &ellipse_out_of_bounds::EllipseOutOfBounds::META,
                "annotations/train.xml",
                "ellipse reaches 3.5 px past the edge of the 4096 × 4224 image: 100%, a,b|c\nnext",
            )
            .severity(Severity::Warning)
            .line(Some(12))
            .image("cell_02.tif"),
            Finding::new(
                &crowd_annotation::CrowdAnnotation::META,
                "annotations/train.json",
                "1 annotation(s) on this image are iscrowd: 1 (first: annotation 9)",
            )
            .severity(Severity::Info)
            .line(Some(80))
            .image("cell_02.tif"),
        ]
    }
}
