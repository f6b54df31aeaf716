//! Division rules as data: which 4-class source becomes which target class, depending on how
//! the annotation's diameter compares with a threshold.
//!
//! The published division (docs/design.md §2) is `schemas/rules/default.toml`, compiled in; a
//! researcher can pass another file to try alternative divisions (a fixed µm threshold, a
//! percentile, another statistic, other targets). Rules are validated when loaded, so a
//! misspelt class or an incomplete division fails before any data is touched, with the line
//! and column of the offending TOML value.

use crate::error::{line_col, Error, Result};
use crate::labelset::LabelSet;
use serde::Deserialize;
use std::fmt;
use std::path::{Path, PathBuf};

/// The shipped default rules (the published division).
pub const DEFAULT_RULES_TOML: &str = include_str!("../../schemas/rules/default.toml");

/// A per-image statistic of a population's diameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Statistic {
    /// The median.
    Median,
    /// The arithmetic mean.
    Mean,
    /// The mean of the primary granules' diameters.
    MeanPrimary,
    /// The mean of the secondary granules' diameters.
    MeanSecondary,
    /// `(mean_primary + mean_secondary) / 2`, or the mean of the one class present.
    AverageDiameterSgPg,
}

impl Statistic {
    /// The name used in rules files (`median`, `mean_primary`, …).
    pub fn name(self) -> &'static str {
        match self {
            Statistic::Median => "median",
            Statistic::Mean => "mean",
            Statistic::MeanPrimary => "mean_primary",
            Statistic::MeanSecondary => "mean_secondary",
            Statistic::AverageDiameterSgPg => "average_diameter_sg_pg",
        }
    }

    fn parse(s: &str) -> Option<Statistic> {
        Some(match s {
            "median" => Statistic::Median,
            "mean" => Statistic::Mean,
            "mean_primary" => Statistic::MeanPrimary,
            "mean_secondary" => Statistic::MeanSecondary,
            "average_diameter_sg_pg" => Statistic::AverageDiameterSgPg,
            _ => return None,
        })
    }
}

/// What a threshold is.
#[derive(Clone, Debug, PartialEq)]
pub enum ThresholdKind {
    /// A per-image statistic.
    Statistic(Statistic),
    /// The P-th percentile (0..=100) of the population's diameters in the image, linear
    /// interpolation between order statistics (rank `P/100 · (n−1)`; P = 50 is the median).
    Percentile(f64),
    /// A fixed diameter in µm, the same for every image.
    FixedUm(f64),
}

/// A threshold and the population it is computed over (`None` = the granules).
#[derive(Clone, Debug, PartialEq)]
pub struct Threshold {
    /// What the threshold is computed as.
    pub kind: ThresholdKind,
    /// Source class names whose diameters form the population; `None` = `[statistics]
    /// granules`. Not used by `fixed_um` and the class-specific means.
    pub over: Option<Vec<String>>,
}

impl fmt::Display for Threshold {
    /// The `threshold_kind` column of the audit: `median`, `percentile_60`, `fixed_um`, with
    /// `[over=…]` when the population is not the granules.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ThresholdKind::Statistic(s) => write!(f, "{}", s.name())?,
            ThresholdKind::Percentile(p) => write!(f, "percentile_{p}")?,
            ThresholdKind::FixedUm(_) => write!(f, "fixed_um")?,
        }
        if let Some(o) = &self.over {
            write!(f, "[over={}]", o.join("+"))?;
        }
        Ok(())
    }
}

/// A comparison of the diameter with the threshold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    /// Diameter ≤ threshold (`<=`).
    Le,
    /// Diameter < threshold (`<`).
    Lt,
    /// Diameter > threshold (`>`).
    Gt,
    /// Diameter ≥ threshold (`>=`).
    Ge,
}

impl CmpOp {
    /// Whether diameter `d` compares with threshold `t` this way.
    pub fn holds(self, d: f64, t: f64) -> bool {
        match self {
            CmpOp::Le => d <= t,
            CmpOp::Lt => d < t,
            CmpOp::Gt => d > t,
            CmpOp::Ge => d >= t,
        }
    }

    fn complement(self) -> CmpOp {
        match self {
            CmpOp::Le => CmpOp::Gt,
            CmpOp::Gt => CmpOp::Le,
            CmpOp::Lt => CmpOp::Ge,
            CmpOp::Ge => CmpOp::Lt,
        }
    }

    pub(crate) fn symbol(self) -> &'static str {
        match self {
            CmpOp::Le => "<=",
            CmpOp::Lt => "<",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }
}

/// When a rule applies.
#[derive(Clone, Debug, PartialEq)]
pub enum Condition {
    /// The rule applies to every shape of its source class.
    Always,
    /// The rule applies when the shape's diameter compares with the threshold by `op`.
    Compare {
        /// How the diameter is compared.
        op: CmpOp,
        /// What it is compared with.
        threshold: Threshold,
    },
}

/// One row of the division table.
#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    /// Source class name (4-class side).
    pub source: String,
    /// When it applies.
    pub condition: Condition,
    /// Target class name (7-class side).
    pub target: String,
    /// 1-based line of the rule's `source` in the rules file (0 for rules built in code).
    pub line: u32,
}

/// A validated set of rules.
#[derive(Clone, Debug, PartialEq)]
pub struct Rules {
    /// Where the rules came from (`schemas/rules/default.toml` for the built-in ones).
    pub path: PathBuf,
    /// The source label set (4 classes).
    pub source: LabelSet,
    /// The target label set (7 classes).
    pub target: LabelSet,
    /// Source classes forming the default population ("granules").
    pub granules: Vec<String>,
    /// Class name of the primary granules (for `mean_primary`).
    pub primary: String,
    /// Class name of the secondary granules (for `mean_secondary`).
    pub secondary: String,
    /// The rules, in file order; the first that applies to a shape decides its class.
    pub rules: Vec<Rule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(rename = "$schema", default)]
    _schema: Option<String>,
    version: toml::Spanned<i64>,
    #[serde(default)]
    source_labelset: Option<toml::Spanned<String>>,
    #[serde(default)]
    target_labelset: Option<toml::Spanned<String>>,
    #[serde(default)]
    statistics: Option<RawStats>,
    #[serde(default)]
    rule: Vec<RawRule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStats {
    #[serde(default)]
    granules: Option<Vec<toml::Spanned<String>>>,
    #[serde(default)]
    primary: Option<toml::Spanned<String>>,
    #[serde(default)]
    secondary: Option<toml::Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    source: toml::Spanned<String>,
    when: toml::Spanned<String>,
    #[serde(default)]
    threshold: Option<toml::Spanned<toml::Value>>,
    target: toml::Spanned<String>,
}

impl Rules {
    /// The published division (docs/design.md §2).
    pub fn default_rules() -> Rules {
        Self::parse(DEFAULT_RULES_TOML, Path::new("schemas/rules/default.toml"))
            // Compiled in and covered by tests: failing here is a build defect, not bad input.
            .unwrap_or_else(|e| panic!("built-in division rules are invalid: {e}"))
    }

    /// Reads and validates a rules file; label-set paths in it are relative to its folder.
    pub fn load(path: &Path) -> Result<Rules> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::parse(&text, path)
    }

    /// Parses and validates rules text. `path` names the file in errors and anchors relative
    /// label-set paths.
    pub fn parse(text: &str, path: &Path) -> Result<Rules> {
        let at = |span: std::ops::Range<usize>, msg: String| {
            let (l, c) = line_col(text.as_bytes(), span.start);
            Error::parse(path, l, c, msg)
        };
        let raw: RawFile = toml::from_str(text).map_err(|e| {
            let (l, c) = e
                .span()
                .map_or((1, 1), |s| line_col(text.as_bytes(), s.start));
            Error::parse(path, l, c, e.message().to_string())
        })?;
        if *raw.version.get_ref() != 1 {
            return Err(at(
                raw.version.span(),
                format!(
                    "unsupported rules version {}; this build reads 1",
                    raw.version.get_ref()
                ),
            ));
        }
        let dir = path.parent().unwrap_or(Path::new(""));
        let labelset = |spec: &Option<toml::Spanned<String>>, default: &str| -> Result<LabelSet> {
            match spec {
                None => LabelSet::resolve(default),
                Some(s) => match s.get_ref().as_str() {
                    "4" | "7" => LabelSet::resolve(s.get_ref()),
                    p => LabelSet::load(&dir.join(p))
                        .map_err(|e| at(s.span(), format!("label set: {e}"))),
                },
            }
        };
        let source = labelset(&raw.source_labelset, "4")?;
        let target = labelset(&raw.target_labelset, "7")?;
        let source_class = |s: &toml::Spanned<String>, what: &str| -> Result<String> {
            if source.by_name(s.get_ref()).is_some() {
                Ok(s.get_ref().clone())
            } else {
                Err(at(
                    s.span(),
                    format!(
                        "{what}: unknown source class {:?}; the source label set {:?} has {}",
                        s.get_ref(),
                        source.name,
                        names(&source)
                    ),
                ))
            }
        };
        let stats = raw.statistics.unwrap_or(RawStats {
            granules: None,
            primary: None,
            secondary: None,
        });
        let first = source
            .classes
            .first()
            .map(|c| c.name.clone())
            .unwrap_or_default();
        let second = source
            .classes
            .get(1)
            .map(|c| c.name.clone())
            .unwrap_or_else(|| first.clone());
        let primary = match &stats.primary {
            Some(s) => source_class(s, "statistics.primary")?,
            None => first,
        };
        let secondary = match &stats.secondary {
            Some(s) => source_class(s, "statistics.secondary")?,
            None => second,
        };
        let granules = match &stats.granules {
            Some(v) => v
                .iter()
                .map(|s| source_class(s, "statistics.granules"))
                .collect::<Result<Vec<_>>>()?,
            None => vec![primary.clone(), secondary.clone()],
        };
        let mut rules = Vec::new();
        let mut spans = Vec::new();
        for r in &raw.rule {
            let src = source_class(&r.source, "rule.source")?;
            if target.by_name(r.target.get_ref()).is_none() {
                return Err(at(
                    r.target.span(),
                    format!(
                        "unknown target class {:?}; the target label set {:?} has {}",
                        r.target.get_ref(),
                        target.name,
                        names(&target)
                    ),
                ));
            }
            let op = match r.when.get_ref().as_str() {
                "always" => None,
                "<=" => Some(CmpOp::Le),
                "<" => Some(CmpOp::Lt),
                ">" => Some(CmpOp::Gt),
                ">=" => Some(CmpOp::Ge),
                other => {
                    return Err(at(r.when.span(), format!("`when` must be one of \"<=\", \">\", \"<\", \">=\", \"always\"; got {other:?}")))
                }
            };
            let condition = match (op, &r.threshold) {
                (None, None) => Condition::Always,
                (None, Some(t)) => {
                    return Err(at(
                        t.span(),
                        "`when = \"always\"` takes no threshold".into(),
                    ))
                }
                (Some(_), None) => {
                    return Err(at(r.when.span(), "a comparison needs a `threshold`".into()))
                }
                (Some(op), Some(t)) => Condition::Compare {
                    op,
                    threshold: parse_threshold(t, &source, &at)?,
                },
            };
            let (line, _) = line_col(text.as_bytes(), r.source.span().start);
            rules.push(Rule {
                source: src,
                condition,
                target: r.target.get_ref().clone(),
                line,
            });
            spans.push(r.source.span());
        }
        // Coverage: every source class is divided by exactly one `always`, or by a pair of
        // complementary comparisons with the same threshold, so every annotation gets exactly
        // one target whatever the data.
        for class in &source.classes {
            let idx: Vec<usize> = (0..rules.len())
                .filter(|&i| rules[i].source == class.name)
                .collect();
            let overlap = |i: usize, msg: String| at(spans[i].clone(), msg);
            match idx.as_slice() {
                [] => {
                    return Err(Error::invalid(
                        path,
                        format!("source class {:?} has no rule: every class of the source label set must be covered", class.name),
                    ))
                }
                [i] => match &rules[*i].condition {
                    Condition::Always => {}
                    Condition::Compare { op, .. } => {
                        return Err(overlap(
                            *i,
                            format!(
                                "class {:?} is not covered for d {} threshold: add the complementary rule or use `when = \"always\"`",
                                class.name,
                                op.complement().symbol()
                            ),
                        ))
                    }
                },
                [i, j] => match (&rules[*i].condition, &rules[*j].condition) {
                    (Condition::Compare { op: a, threshold: ta }, Condition::Compare { op: b, threshold: tb })
                        if a.complement() == *b && ta == tb => {}
                    (Condition::Compare { threshold: ta, .. }, Condition::Compare { threshold: tb, .. }) if ta != tb => {
                        return Err(overlap(
                            *j,
                            format!("the two rules of class {:?} use different thresholds, so their conditions overlap or leave a gap; split at one threshold", class.name),
                        ))
                    }
                    _ => {
                        return Err(overlap(
                            *j,
                            format!("the conditions of class {:?} overlap (two rules can apply to one annotation); use `<=`/`>` (or `<`/`>=`) once each, or one `always`", class.name),
                        ))
                    }
                },
                [_, _, k, ..] => {
                    return Err(overlap(
                        *k,
                        format!("class {:?} has more than two rules, so their conditions overlap; one threshold splits a class in two", class.name),
                    ))
                }
            }
        }
        Ok(Rules {
            path: path.to_path_buf(),
            source,
            target,
            granules,
            primary,
            secondary,
            rules,
        })
    }

    /// The rules of one source class (validation guarantees one `always`, or two
    /// complementary comparisons sharing one threshold).
    pub(crate) fn rules_for<'a>(&'a self, source: &'a str) -> impl Iterator<Item = &'a Rule> + 'a {
        self.rules.iter().filter(move |r| r.source == source)
    }
}

fn names(set: &LabelSet) -> String {
    set.classes
        .iter()
        .map(|c| format!("{:?}", c.name))
        .collect::<Vec<_>>()
        .join(", ")
}

fn parse_threshold(
    t: &toml::Spanned<toml::Value>,
    source: &LabelSet,
    at: &dyn Fn(std::ops::Range<usize>, String) -> Error,
) -> Result<Threshold> {
    let err = |m: String| at(t.span(), m);
    let stat = |s: &str| {
        Statistic::parse(s).ok_or_else(|| {
            err(format!(
                "unknown statistic {s:?}; use median, mean, mean_primary, mean_secondary or average_diameter_sg_pg"
            ))
        })
    };
    match t.get_ref() {
        toml::Value::String(s) => Ok(Threshold { kind: ThresholdKind::Statistic(stat(s)?), over: None }),
        toml::Value::Table(tab) => {
            let mut kind = None;
            let mut over = None;
            for (k, v) in tab {
                let set = |kind: &mut Option<ThresholdKind>, k2: ThresholdKind| {
                    if kind.is_some() {
                        Err(err("give exactly one of `statistic`, `percentile`, `fixed_um`".into()))
                    } else {
                        *kind = Some(k2);
                        Ok(())
                    }
                };
                match (k.as_str(), v) {
                    ("statistic", toml::Value::String(s)) => set(&mut kind, ThresholdKind::Statistic(stat(s)?))?,
                    ("percentile", v) => {
                        let p = as_num(v).filter(|p| (0.0..=100.0).contains(p)).ok_or_else(|| err("`percentile` must be a number in 0..=100".into()))?;
                        set(&mut kind, ThresholdKind::Percentile(p))?
                    }
                    ("fixed_um", v) => {
                        let x = as_num(v).filter(|x| x.is_finite() && *x >= 0.0).ok_or_else(|| err("`fixed_um` must be a non-negative number".into()))?;
                        set(&mut kind, ThresholdKind::FixedUm(x))?
                    }
                    ("over", toml::Value::Array(a)) => {
                        let mut v = Vec::new();
                        for x in a {
                            match x.as_str() {
                                Some(n) if source.by_name(n).is_some() => v.push(n.to_string()),
                                _ => return Err(err(format!("`over`: {x} is not a source class name"))),
                            }
                        }
                        if v.is_empty() {
                            return Err(err("`over` needs at least one class".into()));
                        }
                        over = Some(v);
                    }
                    (k, _) => return Err(err(format!("unexpected threshold key `{k}` (or wrong value type)"))),
                }
            }
            let kind = kind.ok_or_else(|| err("give one of `statistic`, `percentile`, `fixed_um`".into()))?;
            let class_specific = matches!(
                kind,
                ThresholdKind::FixedUm(_)
                    | ThresholdKind::Statistic(Statistic::MeanPrimary | Statistic::MeanSecondary | Statistic::AverageDiameterSgPg)
            );
            if class_specific && over.is_some() {
                return Err(err("`over` applies to median, mean and percentile only".into()));
            }
            Ok(Threshold { kind, over })
        }
        _ => Err(err("`threshold` is a statistic name or a table like { percentile = 60 } or { fixed_um = 0.3 }".into())),
    }
}

fn as_num(v: &toml::Value) -> Option<f64> {
    match v {
        toml::Value::Integer(i) => Some(*i as f64),
        toml::Value::Float(f) => Some(*f),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_rules_are_the_design_table() {
        let r = Rules::default_rules();
        assert_eq!(r.rules.len(), 7);
        assert_eq!(r.granules, vec!["Primary granules", "Secondary granules"]);
        let vac = &r.rules[5];
        assert_eq!(vac.target, "Vacuoles");
        assert_eq!(
            vac.condition,
            Condition::Compare {
                op: CmpOp::Gt,
                threshold: Threshold {
                    kind: ThresholdKind::Statistic(Statistic::AverageDiameterSgPg),
                    over: None
                }
            }
        );
    }

    fn swap(old: &str, new: &str) -> String {
        assert!(DEFAULT_RULES_TOML.contains(old));
        DEFAULT_RULES_TOML.replacen(old, new, 1)
    }

    fn err_of(text: &str) -> String {
        Rules::parse(text, Path::new("r.toml"))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn validation_errors_carry_line_and_column() {
        let e = err_of(&swap("target = \"Vacuoles\"", "target = \"Vacuole\""));
        assert!(
            e.starts_with("r.toml:52:10:") && e.contains("Vacuole"),
            "{e}"
        );
        let e = err_of(&swap(
            "source = \"Emptying vesicles\"",
            "source = \"Emptying vesicle\"",
        ));
        assert!(e.starts_with("r.toml:55:10:"), "{e}");
        // Overlap: the `>` rule of Primary granules turned into a second `<=`.
        let text = DEFAULT_RULES_TOML.replacen("when = \">\"", "when = \"<=\"", 1);
        let e = err_of(&text);
        assert!(e.contains("overlap") && e.starts_with("r.toml:25:"), "{e}");
        // Not covered: drop the Emptying vesicles rule.
        let cut = DEFAULT_RULES_TOML.rfind("[[rule]]").unwrap();
        let e = err_of(&DEFAULT_RULES_TOML[..cut]);
        assert!(
            e.contains("Emptying vesicles") && e.contains("no rule"),
            "{e}"
        );
        let e = err_of(&swap(
            "threshold = \"average_diameter_sg_pg\"\ntarget = \"Vacuoles\"",
            "threshold = { fixed_um = 0.4 }\ntarget = \"Vacuoles\"",
        ));
        assert!(e.contains("different thresholds"), "{e}");
        let e = err_of(&swap("when = \"always\"", "when = \"sometimes\""));
        assert!(e.contains("sometimes"), "{e}");
        let e = err_of("version = 1\n[[rule]]\nsource = 3\n");
        assert!(e.starts_with("r.toml:3:"), "{e}");
    }

    #[test]
    fn schema_matches_the_parser() {
        let schema: serde_json::Value =
            serde_json::from_str(include_str!("../../schemas/rules.schema.json")).unwrap();
        let stats = schema["$defs"]["statistic"]["enum"].as_array().unwrap();
        assert_eq!(stats.len(), 5);
        for s in stats {
            let s = s.as_str().unwrap();
            assert_eq!(Statistic::parse(s).map(Statistic::name), Some(s));
        }
        let top = schema["properties"].as_object().unwrap();
        let default: toml::Table = toml::from_str(DEFAULT_RULES_TOML).unwrap();
        for k in default.keys() {
            assert!(top.contains_key(k), "{k}");
        }
        let rule_keys = schema["$defs"]["rule"]["properties"].as_object().unwrap();
        for r in default["rule"].as_array().unwrap() {
            assert!(r
                .as_table()
                .unwrap()
                .keys()
                .all(|k| rule_keys.contains_key(k)));
        }
    }

    #[test]
    fn alternative_thresholds_parse() {
        let text = DEFAULT_RULES_TOML
            .replace(
                "threshold = \"median\"",
                "threshold = { percentile = 60, over = [\"Primary granules\"] }",
            )
            .replace(
                "threshold = \"average_diameter_sg_pg\"",
                "threshold = { fixed_um = 0.3 }",
            );
        let r = Rules::parse(&text, Path::new("r.toml")).unwrap();
        let Condition::Compare { threshold, .. } = &r.rules[0].condition else {
            panic!()
        };
        assert_eq!(
            threshold.to_string(),
            "percentile_60[over=Primary granules]"
        );
        let Condition::Compare { threshold, .. } = &r.rules[4].condition else {
            panic!()
        };
        assert_eq!(threshold.kind, ThresholdKind::FixedUm(0.3));
    }
}
