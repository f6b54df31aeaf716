//! Command-line interface: clap definitions, each command's arguments turned into a validated
//! configuration before the library sees them, and the dispatch.

/// `print!` that ends the process quietly when the reader of stdout has gone away
/// (`neutrostruct diff a b | head`), as command-line tools are expected to, instead of
/// panicking on the broken pipe.
macro_rules! out {
    ($($t:tt)*) => { $crate::cli::write_stdout(&format!($($t)*)) };
}

/// `println!` with [`out!`]'s broken-pipe handling.
macro_rules! outln {
    () => { $crate::cli::write_stdout("\n") };
    ($($t:tt)*) => { $crate::cli::write_stdout(&format!("{}\n", format_args!($($t)*))) };
}

/// `eprintln!` for every message on standard error: the text goes through
/// `escape::text_block`, so data in a message (an image name in "skipped …") can neither start
/// a GitHub workflow command line nor send control characters to the terminal.
macro_rules! say {
    ($($t:tt)*) => {
        // Above the progress lines, not through them.
        $crate::progress::suspend(|| eprintln!("{}", $crate::escape::text_block(&format!($($t)*))))
    };
}

mod convert;
mod demo;
mod division;
mod docs;
mod masks;
mod overlay;
mod scale;
mod synth;
mod validate;

use crate::error::{Error, Result};
use crate::output_dir::{OutputDir, State};
use clap::{Parser, Subcommand};
use std::path::Path;

/// Help text of every `--force` (one wording for all commands).
const FORCE_HELP: &str = "Write into an output folder this tool did not write before (not empty, \
    no manifest of ours). Files of a folder are removed only when a manifest of ours lists them; \
    --force never removes anything else.";

/// Help text of every `--dry-run` (one wording for all commands).
const DRY_RUN_HELP: &str = "Run the command and report what it would write (counts, losses, \
    findings), but write nothing: no file, no folder, no manifest.";

/// `--dry-run` for the commands whose library calls write their outputs themselves: the
/// command runs in full with each output moved into a scratch folder in the system's
/// temporary folder, removed when the command ends, so that what it reports is what a real
/// run would report, and nothing appears where the user pointed. Without `--dry-run` every
/// path is its own place.
pub(crate) struct DryRun {
    dir: Option<tempfile::TempDir>,
    /// (scratch place, real path), to show paths as the user gave them.
    places: std::cell::RefCell<Vec<(std::path::PathBuf, std::path::PathBuf)>>,
}

impl DryRun {
    pub(crate) fn new(on: bool) -> Result<DryRun> {
        let dir = if on {
            let d = tempfile::Builder::new()
                .prefix("neutrostruct-dry-run-")
                .tempdir()
                .map_err(|e| Error::io(&std::env::temp_dir(), e))?;
            Some(d)
        } else {
            None
        };
        Ok(DryRun {
            dir,
            places: Default::default(),
        })
    }

    pub(crate) fn on(&self) -> bool {
        self.dir.is_some()
    }

    /// Where the command writes what the user asked to have at `real` (the same place each
    /// time it is asked).
    pub(crate) fn place(&self, real: &Path) -> std::path::PathBuf {
        let Some(dir) = &self.dir else {
            return real.to_path_buf();
        };
        let mut places = self.places.borrow_mut();
        if let Some((place, _)) = places.iter().find(|(_, r)| r == real) {
            return place.clone();
        }
        // One sub-folder per output: two outputs of the same name never meet.
        let name = real
            .file_name()
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| "output".into());
        let place = dir.path().join(places.len().to_string()).join(name);
        places.push((place.clone(), real.to_path_buf()));
        place
    }

    /// `p` as the user would see it: a path in the scratch folder is shown at its real place.
    pub(crate) fn show(&self, p: &Path) -> std::path::PathBuf {
        for (place, real) in self.places.borrow().iter() {
            if let Ok(rest) = p.strip_prefix(place) {
                return if rest.as_os_str().is_empty() {
                    real.clone()
                } else {
                    real.join(rest)
                };
            }
        }
        p.to_path_buf()
    }

    /// Opens the output folder `real` as [`output_folder`] does (a foreign folder still
    /// needs `--force`), at its place.
    pub(crate) fn folder(&self, flag: &str, real: &Path, force: bool) -> Result<OutputDir> {
        if self.on() {
            refuse_foreign_folder(flag, real, force)?;
            let place = self.place(real);
            return OutputDir::begin(&place, force);
        }
        output_folder(flag, real, force)
    }

    /// The closing line of a dry run.
    pub(crate) fn finish(&self) {
        if !self.on() {
            return;
        }
        let real: Vec<String> = self
            .places
            .borrow()
            .iter()
            .map(|(_, r)| r.display().to_string())
            .collect();
        say!(
            "dry run: nothing written (would write {})",
            if real.is_empty() {
                "nothing".to_string()
            } else {
                real.join(", ")
            }
        );
    }
}

/// Refuses an output file whose extension this tool does not write: `report.txt` for a
/// table would otherwise be written as CSV without a word. A name without an extension is
/// taken as it is; `known` are lower-case extensions without the dot.
fn known_extension(flag: &str, path: &Path, known: &[&str], what: &str) -> Result<()> {
    let Some(ext) = path.extension() else {
        return Ok(());
    };
    let ext = ext.to_string_lossy().to_ascii_lowercase();
    if known.contains(&ext.as_str()) {
        return Ok(());
    }
    let list: Vec<String> = known.iter().map(|k| format!(".{k}")).collect();
    Err(Error::Usage(format!(
        "{flag} {}: unknown extension .{ext}; {what} is written as {}",
        path.display(),
        list.join(", ")
    )))
}

/// Opens the output folder given by `flag` (`crate::output_dir`): a folder that is not
/// missing, empty or ours needs `--force`.
fn output_folder(flag: &str, path: &Path, force: bool) -> Result<OutputDir> {
    let state = crate::output_dir::inspect(path)?;
    refuse_foreign(flag, path, &state, force)?;
    OutputDir::open(path, state, force)
}

/// The refusal of [`output_folder`] alone, for commands whose library call opens the folder.
fn refuse_foreign_folder(flag: &str, path: &Path, force: bool) -> Result<()> {
    refuse_foreign(flag, path, &crate::output_dir::inspect(path)?, force)
}

fn refuse_foreign(flag: &str, path: &Path, state: &State, force: bool) -> Result<()> {
    if let (State::Foreign(why), false) = (state, force) {
        return Err(Error::Usage(format!(
            "{flag} {}: {why}; choose a new or empty folder, or pass --force to write into it \
             (files a manifest of ours does not list are never removed)",
            path.display()
        )));
    }
    Ok(())
}

/// Convert and validate ellipse annotation datasets (TEM-NeutroStruct): COCO JSON, CVAT XML,
/// masks and training formats, without losing a shape.
#[derive(Debug, Parser)]
#[command(name = "neutrostruct", version, about, long_about = None, max_term_width = 100)]
pub struct Cli {
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the whole workflow on a small built-in sample and print where each output is.
    Demo(demo::DemoArgs),
    /// Generate a deterministic dataset shaped like TEM-NeutroStruct.
    Synth(synth::SynthArgs),
    /// Step 1: the scale table (px per µm) from the images' calibration tags or scale bars.
    Scale(scale::ScaleArgs),
    /// Convert between annotation formats, reporting exactly what the conversion loses.
    Convert(convert::ConvertArgs),
    /// Render PNG masks (colour, class index or instance) from COCO or CVAT.
    Masks(masks::MasksArgs),
    /// Blend masks over their images for visual review, with a contact sheet.
    Overlay(overlay::OverlayArgs),
    /// Per-image granule statistics of a 4-class COCO (docs/design.md §2), as CSV, XLSX or JSON.
    Stats(division::StatsArgs),
    /// Divide a 4-class COCO (and its CVAT) into the 7 classes, with an audit of every label.
    Reclassify(division::ReclassifyArgs),
    /// Check annotation files, masks and images; reports for people and CI systems.
    Validate(validate::ValidateArgs),
    /// What changed between two annotation files: added, removed, relabeled, moved.
    Diff(validate::DiffArgs),
    /// List the validation rules.
    Rules,
    /// Print the documentation of one validation rule.
    Explain(validate::ExplainArgs),
    /// Print the validation config with every default (`config --defaults`).
    Config(docs::ConfigArgs),
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish).
    Completions(docs::CompletionsArgs),
    /// Print the man page as roff, or write one page per command into a folder.
    Manpage(docs::ManpageArgs),
}

/// What a successful run found: clean, or findings at error level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Exit 0.
    Success,
    /// Exit 1: findings (or losses under `--deny-lossy`).
    Findings,
}

impl Status {
    /// The process exit code: 0 or 1 (input errors exit 2 elsewhere).
    pub fn exit_code(self) -> u8 {
        match self {
            Status::Success => 0,
            Status::Findings => 1,
        }
    }
}

/// Runs one command.
pub fn run(cli: Cli) -> Result<Status> {
    // Commands that can take over a second show a spinner on a terminal from the start (its
    // message follows the phases: `progress::phase`), with the bars of their loops beneath;
    // dropped, so cleared, when the command returns, before its result or error is printed.
    let long = match &cli.command {
        Command::Demo(_) => Some("demo: running every step"),
        Command::Synth(_) => Some("synth: generating"),
        Command::Scale(_) => Some("scale: measuring images"),
        Command::Convert(_) => Some("convert: reading"),
        Command::Masks(_) => Some("masks: reading"),
        Command::Overlay(_) => Some("overlay: drawing"),
        Command::Stats(_) => Some("stats: reading"),
        Command::Reclassify(_) => Some("reclassify: reading"),
        Command::Validate(_) => Some("validate: reading and checking"),
        Command::Diff(_) => Some("diff: reading"),
        _ => None,
    };
    let _spinner = long.map(crate::progress::Progress::spinner);
    match cli.command {
        Command::Demo(a) => demo::run(a),
        Command::Synth(a) => synth::run(a),
        Command::Scale(a) => scale::run(a),
        Command::Convert(a) => convert::run(a),
        Command::Masks(a) => masks::run(a),
        Command::Overlay(a) => overlay::run(a),
        Command::Stats(a) => division::run_stats(a),
        Command::Reclassify(a) => division::run_reclassify(a),
        Command::Validate(a) => validate::run_validate(a),
        Command::Diff(a) => validate::run_diff(a),
        Command::Rules => validate::run_rules(),
        Command::Explain(a) => validate::run_explain(a),
        Command::Config(a) => docs::run_config(a),
        Command::Completions(a) => docs::run_completions(a),
        Command::Manpage(a) => docs::run_manpage(a),
    }
}

/// Writes to stdout; a closed pipe ends the process with success (the reader chose to stop).
pub(crate) fn write_stdout(text: &str) {
    use std::io::Write;
    // A terminal's stdout and stderr are one screen: the progress lines are lifted first.
    let written = crate::progress::suspend(|| {
        let mut stdout = std::io::stdout().lock();
        stdout
            .write_all(text.as_bytes())
            .and_then(|()| stdout.flush())
    });
    if let Err(e) = written {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        say!("error: writing to stdout: {e}");
        std::process::exit(2);
    }
}
