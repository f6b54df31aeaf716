//! The validation config file (`--config F`, TOML): severities, thresholds, ignores with a
//! required reason, and per-path overrides.
//!
//! ```toml
//! [rules]                       # by name or code; "error" | "warning" | "info" | "off"
//! duplicate-shape = "warning"
//! NS021 = "off"
//!
//! [thresholds]
//! duplicate_iou = 0.8
//!
//! [[ignore]]                    # silence matching findings; `reason` is required
//! rule = "excessive-overlap"
//! path = "data/annotations/train/**" # glob (`*`, `**`, `?`) or plain prefix of the finding's file
//! image = "cell_017.tif"        # optional, exact or glob
//! annotation = 412              # optional
//! reason = "touching granules, reviewed in #41"
//!
//! [[override]]                  # severities for files matching `path`; later entries win
//! path = "data/legacy/**"
//! rules = { bbox-mismatch = "off" }
//! ```
//!
//! Setting a rule's level sets every finding of that rule to that level (rules such as
//! `ellipse-out-of-bounds` that emit two levels collapse to the one configured).

use super::{registry, Finding, Severity};
use crate::error::{line_col, Error, Result};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

/// A configured level: a severity, or off.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Report at `error`.
    Error,
    /// Report at `warning`.
    Warning,
    /// Report at `info`.
    Info,
    /// Do not run the rule.
    Off,
}

impl Level {
    fn severity(self) -> Option<Severity> {
        match self {
            Level::Error => Some(Severity::Error),
            Level::Warning => Some(Severity::Warning),
            Level::Info => Some(Severity::Info),
            Level::Off => None,
        }
    }
}

/// Numbers the rules compare with. Every field has a default; a config file sets any subset.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Thresholds {
    /// `duplicate-shape`: same class, shape IoU at or above this.
    pub duplicate_iou: f64,
    /// `conflicting-labels`: different classes, shape IoU at or above this.
    pub conflict_iou: f64,
    /// `excessive-overlap`: shape IoU at or above this (and below the two above).
    pub overlap_iou: f64,
    /// `bbox-mismatch`: allowed distance per box edge, px; the area may differ by what the
    /// axes grown or shrunk by this much give. 2.5 px accepts CVAT's own COCO export (measured
    /// up to 2 px off), which rasterises with centre and axes rounded to whole pixels.
    pub bbox_tolerance_px: f64,
    /// `ellipse-out-of-bounds`: how far a shape may reach past the image edge before warning.
    pub bounds_tolerance_px: f64,
    /// `degenerate-shape`: ellipse semi-axes and box sides below this are degenerate.
    pub min_axis_px: f64,
    /// `coco-cvat-mismatch`, `division-mismatch`: minimum tight-box IoU to pair two shapes.
    pub match_iou: f64,
    /// `mask-disagreement`: minimum per-class pixel IoU between mask and annotations.
    pub mask_class_iou: f64,
    /// `mask-disagreement`: minimum fraction of an annotation's pixels the mask paints in its
    /// class colour.
    pub mask_coverage: f64,
    /// `scale-mismatch`: largest relative difference between the scale table and an image's
    /// own calibration (or measured bar) before it is reported.
    pub scale_tolerance: f64,
    /// `scale-mismatch`: largest ratio between the scales of two images of one series.
    pub scale_series_ratio: f64,
    /// `scale-mismatch`: the length printed on the images' scale bars, µm; 0 (the default)
    /// checks calibration tags only, without decoding any image.
    pub scale_bar_um: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            duplicate_iou: 0.8,
            conflict_iou: 0.8,
            overlap_iou: 0.5,
            bbox_tolerance_px: 2.5,
            bounds_tolerance_px: 0.5,
            min_axis_px: 0.5,
            match_iou: 0.5,
            mask_class_iou: 0.9,
            mask_coverage: 0.5,
            scale_tolerance: 0.02,
            scale_series_ratio: 1.5,
            scale_bar_um: 0.0,
        }
    }
}

impl Thresholds {
    /// Every threshold as (TOML key, value, what it is for), in the order a config shows
    /// them. The pattern below names every field, so a new threshold does not compile until
    /// it is listed here, and with it in `neutrostruct config --defaults` and the docs.
    pub fn documented(&self) -> [(&'static str, f64, &'static str); 12] {
        let Thresholds {
            duplicate_iou,
            conflict_iou,
            overlap_iou,
            bbox_tolerance_px,
            bounds_tolerance_px,
            min_axis_px,
            match_iou,
            mask_class_iou,
            mask_coverage,
            scale_tolerance,
            scale_series_ratio,
            scale_bar_um,
        } = *self;
        [
            ("duplicate_iou", duplicate_iou, "duplicate-shape"),
            ("conflict_iou", conflict_iou, "conflicting-labels"),
            ("overlap_iou", overlap_iou, "excessive-overlap"),
            (
                "bbox_tolerance_px",
                bbox_tolerance_px,
                "bbox-mismatch, per box edge",
            ),
            (
                "bounds_tolerance_px",
                bounds_tolerance_px,
                "ellipse-out-of-bounds, before the info",
            ),
            ("min_axis_px", min_axis_px, "degenerate-shape"),
            (
                "match_iou",
                match_iou,
                "coco-cvat-mismatch, division-mismatch",
            ),
            (
                "mask_class_iou",
                mask_class_iou,
                "mask-disagreement, per class",
            ),
            (
                "mask_coverage",
                mask_coverage,
                "mask-disagreement, per annotation",
            ),
            (
                "scale_tolerance",
                scale_tolerance,
                "scale-mismatch: table vs the image's calibration or bar",
            ),
            (
                "scale_series_ratio",
                scale_series_ratio,
                "scale-mismatch: a row vs its series' median",
            ),
            (
                "scale_bar_um",
                scale_bar_um,
                "scale-mismatch: printed bar length; 0 = tags only",
            ),
        ]
    }

    /// The `[thresholds]` table with every value and its comment, as TOML lines.
    pub fn to_toml(&self) -> String {
        let mut out = String::from("[thresholds]\n");
        for (key, value, what) in self.documented() {
            // `{:?}` keeps the decimal point (0.0, not 0): TOML reads it back as a float.
            let line = format!("{key} = {value:?}");
            out.push_str(&format!("{line:<32}# {what}\n"));
        }
        out
    }
}

/// A complete config with every setting at its default, commented: what
/// `neutrostruct config --defaults` prints. Rule levels are shown commented out, at their
/// default severities: setting a level collapses a rule's two levels into one, so a config
/// that listed them all would not behave as no config does. It parses back to
/// [`Config::default()`] (tested).
pub fn defaults_toml() -> String {
    let mut out = String::from(
        "# neutrostruct validation config (validate --config FILE), every setting at its\n\
         # default. Printed by `neutrostruct config --defaults`; edit what you need.\n\n\
         # Level per rule, by name or code: \"error\" | \"warning\" | \"info\" | \"off\".\n\
         # A level applies to every finding of the rule (NS005's two levels become one).\n\
         # The defaults, commented out:\n\
         [rules]\n",
    );
    for m in registry::metas() {
        let line = format!("# {} = \"{}\"", m.name, m.severity.as_str());
        out.push_str(&format!("{line:<40}# {}: {}\n", m.code, m.summary));
    }
    out.push_str(
        "\n# Thresholds (defaults shown; tests/newcomer.rs checks them against the code).\n",
    );
    out.push_str(&Thresholds::default().to_toml());
    out.push_str(
        "\n# Silence findings. `reason` is required: a config without one is rejected (exit 2,\n\
         # with the line and column of the entry). For example:\n\
         # [[ignore]]\n\
         # rule = \"excessive-overlap\"      # name, code, or \"*\" (then path/image/annotation is required)\n\
         # path = \"data/annotations/train/**\"   # glob (*, **, ?) or plain prefix of the finding's file\n\
         # image = \"cell_017.tif\"          # optional, exact or glob\n\
         # annotation = 412                # optional\n\
         # reason = \"touching granules at the nucleus, reviewed in #41\"\n\n\
         # Levels for files matching a path; later entries win over earlier ones and over [rules].\n\
         # [[override]]\n\
         # path = \"data/legacy/**\"\n\
         # rules = { bbox-mismatch = \"off\", excessive-overlap = \"info\" }\n",
    );
    out
}

/// One `[[ignore]]` entry.
#[derive(Clone, Debug, PartialEq)]
pub struct Ignore {
    /// Rule name (codes are accepted and normalised to names), or `*` for every rule.
    pub rule: String,
    /// Only findings in files matching this glob.
    pub path: Option<String>,
    /// Only findings on this image.
    pub image: Option<String>,
    /// Only findings on this annotation id.
    pub annotation: Option<u64>,
    /// Why these findings are silenced (required).
    pub reason: String,
}

/// One `[[override]]` entry.
#[derive(Clone, Debug, PartialEq)]
pub struct Override {
    /// Glob over finding paths.
    pub path: String,
    /// Level per rule name for those files.
    pub rules: BTreeMap<String, Level>,
}

/// A parsed config. `Config::default()` is "every rule at its default severity".
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Config {
    /// Level per rule name.
    pub rules: BTreeMap<String, Level>,
    /// Rule thresholds (`[thresholds]`).
    pub thresholds: Thresholds,
    /// `[[ignore]]` entries.
    pub ignores: Vec<Ignore>,
    /// `[[override]]` entries, in file order.
    pub overrides: Vec<Override>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    rules: BTreeMap<toml::Spanned<String>, Level>,
    #[serde(default)]
    thresholds: Thresholds,
    #[serde(default)]
    ignore: Vec<toml::Spanned<RawIgnore>>,
    #[serde(default, rename = "override")]
    overrides: Vec<RawOverride>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIgnore {
    rule: toml::Spanned<String>,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    image: Option<String>,
    #[serde(default)]
    annotation: Option<u64>,
    reason: toml::Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOverride {
    path: String,
    #[serde(default)]
    rules: BTreeMap<toml::Spanned<String>, Level>,
}

/// What the config does with one finding.
pub(crate) enum Applied {
    Keep(Finding),
    Off,
    Ignored,
}

impl Config {
    /// Reads and validates a config file (errors carry line and column).
    pub fn load(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Config::parse(&text, path)
    }

    /// Parses a config; errors carry the 1-based line and column of the offending entry.
    pub fn parse(text: &str, path: &Path) -> Result<Config> {
        let at = |span: std::ops::Range<usize>, msg: String| {
            let (line, column) = line_col(text.as_bytes(), span.start);
            Error::parse(path, line, column, msg)
        };
        let raw: RawConfig = toml::from_str(text).map_err(|e| {
            let span = e.span().unwrap_or(0..0);
            at(span, e.message().trim().to_string())
        })?;
        let rule_name = |s: &toml::Spanned<String>| -> Result<String> {
            registry::rule_by_code_or_name(s.get_ref())
                .map(|r| r.meta().name.to_string())
                .ok_or_else(|| {
                    at(
                        s.span(),
                        format!("unknown rule {:?} (see `neutrostruct rules`)", s.get_ref()),
                    )
                })
        };
        let levels =
            |m: BTreeMap<toml::Spanned<String>, Level>| -> Result<BTreeMap<String, Level>> {
                m.into_iter()
                    .map(|(k, v)| Ok((rule_name(&k)?, v)))
                    .collect()
            };
        let mut cfg = Config {
            rules: levels(raw.rules)?,
            thresholds: raw.thresholds,
            ..Config::default()
        };
        check_thresholds(&cfg.thresholds).map_err(|m| Error::invalid(path, m))?;
        for entry in raw.ignore {
            let span = entry.span();
            let ig = entry.into_inner();
            let reason = ig.reason.get_ref().trim().to_string();
            if reason.is_empty() {
                return Err(at(
                    ig.reason.span(),
                    "an ignore needs a non-empty `reason`".into(),
                ));
            }
            let rule = if ig.rule.get_ref() == "*" {
                "*".to_string()
            } else {
                rule_name(&ig.rule)?
            };
            if ig.path.is_none() && ig.image.is_none() && ig.annotation.is_none() && rule == "*" {
                return Err(at(
                    span,
                    "an ignore of every rule needs a `path`, `image` or `annotation`".into(),
                ));
            }
            cfg.ignores.push(Ignore {
                rule,
                path: ig.path,
                image: ig.image,
                annotation: ig.annotation,
                reason,
            });
        }
        for o in raw.overrides {
            cfg.overrides.push(Override {
                path: o.path,
                rules: levels(o.rules)?,
            });
        }
        Ok(cfg)
    }

    /// The level of `rule` for findings in `file`: override entries (later wins), then
    /// `[rules]`, else `None` (the rule's own severity).
    fn level(&self, rule: &str, file: &str) -> Option<Level> {
        self.overrides
            .iter()
            .rev()
            .filter(|o| path_matches(&o.path, file))
            .find_map(|o| o.rules.get(rule).copied())
            .or_else(|| self.rules.get(rule).copied())
    }

    /// Whether the rule can report anything at all (off everywhere → not run).
    pub(crate) fn may_report(&self, rule: &str) -> bool {
        self.rules.get(rule) != Some(&Level::Off)
            || self
                .overrides
                .iter()
                .any(|o| o.rules.get(rule).is_some_and(|l| *l != Level::Off))
    }

    pub(crate) fn apply(&self, mut f: Finding) -> Applied {
        match self.level(&f.rule, &f.file) {
            Some(Level::Off) => return Applied::Off,
            Some(l) => f.severity = l.severity().unwrap_or(f.severity),
            None => {}
        }
        if self.ignores.iter().any(|ig| ig.matches(&f)) {
            return Applied::Ignored;
        }
        Applied::Keep(f)
    }
}

impl Ignore {
    fn matches(&self, f: &Finding) -> bool {
        (self.rule == "*" || self.rule == f.rule)
            && self
                .path
                .as_deref()
                .is_none_or(|p| path_matches(p, &f.file))
            && self.image.as_deref().is_none_or(|p| {
                f.image
                    .as_deref()
                    .is_some_and(|im| im == p || glob_match(p, im))
            })
            && self.annotation.is_none_or(|a| f.annotation_id == Some(a))
    }
}

fn check_thresholds(t: &Thresholds) -> std::result::Result<(), String> {
    let unit = [
        ("duplicate_iou", t.duplicate_iou),
        ("conflict_iou", t.conflict_iou),
        ("overlap_iou", t.overlap_iou),
        ("match_iou", t.match_iou),
        ("mask_class_iou", t.mask_class_iou),
        ("mask_coverage", t.mask_coverage),
    ];
    for (k, v) in unit {
        if !(0.0..=1.0).contains(&v) {
            return Err(format!("thresholds.{k} must be between 0 and 1, not {v}"));
        }
    }
    for (k, v) in [
        ("bbox_tolerance_px", t.bbox_tolerance_px),
        ("bounds_tolerance_px", t.bounds_tolerance_px),
        ("min_axis_px", t.min_axis_px),
        ("scale_tolerance", t.scale_tolerance),
        ("scale_bar_um", t.scale_bar_um),
    ] {
        if !(v.is_finite() && v >= 0.0) {
            return Err(format!(
                "thresholds.{k} must be a finite number ≥ 0, not {v}"
            ));
        }
    }
    if !(t.scale_series_ratio.is_finite() && t.scale_series_ratio >= 1.0) {
        return Err(format!(
            "thresholds.scale_series_ratio must be a finite number ≥ 1, not {}",
            t.scale_series_ratio
        ));
    }
    Ok(())
}

/// A path pattern: a glob when it has `*`, `?` or `[`, else a prefix (a folder or the file).
pub(crate) fn path_matches(pattern: &str, path: &str) -> bool {
    let pattern = pattern.trim_start_matches("./");
    if pattern.contains(['*', '?', '[']) {
        glob_match(pattern, path)
    } else {
        let p = pattern.trim_end_matches('/');
        path == p || path.starts_with(&format!("{p}/")) || p.is_empty()
    }
}

/// Glob matching on `/`-separated paths: `*` and `?` stay within one segment, `**` spans any
/// number of segments, `[abc]` is a character class.
pub(crate) fn glob_match(pattern: &str, text: &str) -> bool {
    fn go(p: &[char], t: &[char]) -> bool {
        match p.first() {
            None => t.is_empty(),
            Some('*') if p.get(1) == Some(&'*') => {
                let mut rest = &p[2..];
                if rest.first() == Some(&'/') {
                    // `**/` also matches no folder at all.
                    if go(&rest[1..], t) {
                        return true;
                    }
                    rest = &p[2..];
                }
                (0..=t.len()).any(|i| go(rest, &t[i..]))
            }
            Some('*') => {
                let rest = &p[1..];
                for i in 0..=t.len() {
                    if go(rest, &t[i..]) {
                        return true;
                    }
                    if t.get(i) == Some(&'/') {
                        break;
                    }
                }
                false
            }
            Some('?') => t.first().is_some_and(|&c| c != '/') && go(&p[1..], &t[1..]),
            Some('[') => {
                let Some(end) = p.iter().position(|&c| c == ']') else {
                    return t.first() == Some(&'[') && go(&p[1..], &t[1..]);
                };
                let set = &p[1..end];
                t.first().is_some_and(|c| set.contains(c)) && go(&p[end + 1..], &t[1..])
            }
            Some(&c) => t.first() == Some(&c) && go(&p[1..], &t[1..]),
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    go(&p, &t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_printed_defaults_parse_back_to_the_defaults() {
        let text = defaults_toml();
        let parsed = Config::parse(&text, Path::new("defaults.toml")).expect("parses");
        assert_eq!(parsed, Config::default(), "{text}");
        // Every rule is named, so the page is complete.
        for m in registry::metas() {
            assert!(text.contains(&format!("# {} = ", m.name)), "{}", m.name);
        }
    }

    #[test]
    fn globs_and_prefixes() {
        assert!(glob_match(
            "annotations/**/*.xml",
            "annotations/train/a.xml"
        ));
        assert!(glob_match("annotations/**/*.xml", "annotations/a.xml"));
        assert!(!glob_match("annotations/*.xml", "annotations/train/a.xml"));
        assert!(glob_match("img_0?.tif", "img_07.tif"));
        assert!(path_matches("legacy", "legacy/a.json"));
        assert!(!path_matches("legacy", "legacyx/a.json"));
        assert!(path_matches("legacy/**", "legacy/x/a.json"));
    }

    #[test]
    fn parses_a_full_config() {
        let text = r#"
[rules]
duplicate-shape = "warning"
NS021 = "off"

[thresholds]
duplicate_iou = 0.9

[[ignore]]
rule = "excessive-overlap"
path = "train/**"
image = "a.tif"
reason = "touching granules"

[[override]]
path = "legacy"
rules = { bbox-mismatch = "off" }
"#;
        let c = Config::parse(text, Path::new("c.toml")).unwrap();
        assert_eq!(c.rules.get("duplicate-shape"), Some(&Level::Warning));
        assert_eq!(c.rules.get("crowd-annotation"), Some(&Level::Off));
        assert_eq!(c.thresholds.duplicate_iou, 0.9);
        assert_eq!(c.thresholds.overlap_iou, 0.5);
        assert_eq!(c.ignores.len(), 1);
        assert_eq!(c.overrides[0].rules.get("bbox-mismatch"), Some(&Level::Off));
        assert!(!c.may_report("crowd-annotation"));
    }

    #[test]
    fn missing_reason_is_an_error_with_position() {
        let text = "[rules]\n\n[[ignore]]\nrule = \"duplicate-id\"\npath = \"a\"\n";
        let e = Config::parse(text, Path::new("c.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("c.toml:3:"), "{e}");
        assert!(e.contains("reason"), "{e}");
        let empty = "[[ignore]]\nrule = \"duplicate-id\"\nreason = \"  \"\n";
        let e = Config::parse(empty, Path::new("c.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("c.toml:3:10"), "{e}");
    }

    #[test]
    fn unknown_rule_and_bad_level_are_errors_with_position() {
        let e = Config::parse("[rules]\nno-such = \"off\"\n", Path::new("c.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("c.toml:2:1"), "{e}");
        let e = Config::parse("[rules]\nduplicate-id = \"loud\"\n", Path::new("c.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("c.toml:2:"), "{e}");
        let e = Config::parse("[thresholds]\nduplicate_iou = 2.0\n", Path::new("c.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("duplicate_iou"), "{e}");
    }
}
