//! Baselines: `--baseline report.json` takes a previous JSON report and silences the findings
//! it already lists, so that only new findings fail a run (adopting the validator on a dataset
//! with known issues, then ratcheting).
//!
//! A finding is "known" when the baseline has one with the same code, file, image, annotation
//! id and message. The line is deliberately not compared: lines shift as a pull request
//! edits the file above a shape. Matching counts: a baseline listing a finding once silences
//! it once, so a second, identical new finding still counts.

use super::Finding;
use crate::error::{Error, Result};
use serde::Deserialize;
use std::collections::HashMap;
use std::path::Path;

type Key = (String, String, Option<String>, Option<u64>, String);

fn key(f: &Finding) -> Key {
    (
        f.code.clone(),
        f.file.clone(),
        f.image.clone(),
        f.annotation_id,
        f.message.clone(),
    )
}

/// The known findings of a previous report.
#[derive(Clone, Debug, Default)]
pub struct Baseline {
    known: HashMap<Key, usize>,
}

#[derive(Deserialize)]
struct Report {
    findings: Vec<Finding>,
}

impl Baseline {
    pub(crate) fn from_findings(findings: &[Finding]) -> Baseline {
        let mut known = HashMap::new();
        for f in findings {
            *known.entry(key(f)).or_insert(0) += 1;
        }
        Baseline { known }
    }

    /// Reads a report written by `--format json`.
    pub fn load(path: &Path) -> Result<Baseline> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Baseline::parse(&text, path)
    }

    /// Parses a baseline (a JSON report); errors name `path` with line and column.
    pub fn parse(text: &str, path: &Path) -> Result<Baseline> {
        let r: Report = serde_json::from_str(text)
            .map_err(|e| Error::parse(path, e.line() as u32, e.column() as u32, e.to_string()))?;
        Ok(Baseline::from_findings(&r.findings))
    }

    /// Splits `findings` into new ones (kept, in order) and the number silenced.
    pub fn filter(&self, findings: Vec<Finding>) -> (Vec<Finding>, usize) {
        let mut left = self.known.clone();
        let mut silenced = 0;
        let kept = findings
            .into_iter()
            .filter(|f| match left.get_mut(&key(f)) {
                Some(n) if *n > 0 => {
                    *n -= 1;
                    silenced += 1;
                    false
                }
                _ => true,
            })
            .collect();
        (kept, silenced)
    }
}
