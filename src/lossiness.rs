//! What a conversion could not carry. Every writer and every recovering reader reports here;
//! counts in equal counts out or a line says why.

use indexmap::IndexMap;
use serde::Serialize;
use std::fmt;

/// One kind of loss or approximation, with a stable code and how often it happened.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Loss {
    /// Stable kebab-case code, e.g. `ellipse-from-mask`.
    pub code: &'static str,
    /// How many annotations (or other items) it happened to.
    pub count: usize,
    /// What happened, for people.
    pub message: String,
}

/// The lossiness report of one conversion step (a read, a write, or both).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Lossiness {
    /// Annotations in, per shape kind.
    pub input: IndexMap<String, usize>,
    /// Annotations out, per shape kind (or per output row kind).
    pub output: IndexMap<String, usize>,
    /// Everything lost or approximated, one entry per code.
    pub losses: Vec<Loss>,
    /// What a conversion did that loses nothing but is worth knowing (e.g. how many ellipses
    /// were recovered exactly); never makes the step lossy. Absent from JSON when empty.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<Loss>,
}

impl Lossiness {
    /// Records `count` more occurrences of `code`; the message of the first one is kept.
    pub fn add(&mut self, code: &'static str, count: usize, message: impl Into<String>) {
        if count == 0 {
            return;
        }
        if let Some(l) = self.losses.iter_mut().find(|l| l.code == code) {
            l.count += count;
        } else {
            self.losses.push(Loss {
                code,
                count,
                message: message.into(),
            });
        }
    }

    /// Records `count` more occurrences of the note `code` (see [`Lossiness::notes`]).
    pub fn note(&mut self, code: &'static str, count: usize, message: impl Into<String>) {
        if count == 0 {
            return;
        }
        if let Some(l) = self.notes.iter_mut().find(|l| l.code == code) {
            l.count += count;
        } else {
            self.notes.push(Loss {
                code,
                count,
                message: message.into(),
            });
        }
    }

    /// How many occurrences of the note `code` were recorded (0 when none).
    pub fn note_count(&self, code: &str) -> usize {
        self.notes
            .iter()
            .find(|l| l.code == code)
            .map_or(0, |l| l.count)
    }

    /// Adds another step's counts, losses and notes to this one.
    pub(crate) fn merge(&mut self, other: Lossiness) {
        for l in other.losses {
            self.add(l.code, l.count, l.message);
        }
        for l in other.notes {
            self.note(l.code, l.count, l.message);
        }
        for (k, v) in other.input {
            *self.input.entry(k).or_insert(0) += v;
        }
        for (k, v) in other.output {
            *self.output.entry(k).or_insert(0) += v;
        }
    }

    /// How many occurrences of `code` were recorded (0 when none).
    pub fn count(&self, code: &str) -> usize {
        self.losses
            .iter()
            .find(|l| l.code == code)
            .map_or(0, |l| l.count)
    }

    /// Nothing was lost or approximated.
    pub fn is_lossless(&self) -> bool {
        self.losses.is_empty()
    }

    /// All annotations in.
    pub fn total_in(&self) -> usize {
        self.input.values().sum()
    }

    /// All annotations out.
    pub fn total_out(&self) -> usize {
        self.output.values().sum()
    }
}

impl fmt::Display for Lossiness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |m: &IndexMap<String, usize>| {
            m.iter()
                .map(|(k, v)| format!("{v} {k}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        writeln!(
            f,
            "in:  {} annotations ({})",
            self.total_in(),
            list(&self.input)
        )?;
        writeln!(
            f,
            "out: {} annotations ({})",
            self.total_out(),
            list(&self.output)
        )?;
        if self.losses.is_empty() {
            writeln!(f, "lossless: nothing was dropped or approximated")?;
        }
        for l in &self.losses {
            writeln!(f, "lossy [{}] ×{}: {}", l.code, l.count, l.message)?;
        }
        for l in &self.notes {
            writeln!(f, "info [{}] ×{}: {}", l.code, l.count, l.message)?;
        }
        Ok(())
    }
}
