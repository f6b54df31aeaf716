//! Command-line interface: clap definitions, each command's arguments turned into a validated
//! configuration before the library sees them, and the dispatch.

mod convert;
mod demo;
mod masks;
mod overlay;
mod synth;

use crate::error::Result;
use clap::{Parser, Subcommand};

/// Convert and validate ellipse annotation datasets (TEM-NeutroStruct): COCO JSON, CVAT XML,
/// masks and training formats, without losing a shape.
#[derive(Debug, Parser)]
#[command(name = "neutrostruct", version, about, long_about = None, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the whole workflow on a small built-in sample and print where each output is.
    Demo(demo::DemoArgs),
    /// Generate a deterministic dataset shaped like TEM-NeutroStruct.
    Synth(synth::SynthArgs),
    /// Convert between annotation formats, reporting exactly what the conversion loses.
    Convert(convert::ConvertArgs),
    /// Render PNG masks (colour, class index or instance) from COCO or CVAT.
    Masks(masks::MasksArgs),
    /// Blend masks over their images for visual review, with a contact sheet.
    Overlay(overlay::OverlayArgs),
}

/// What a successful run found: clean, or findings at error level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Exit 0.
    Success,
    /// Exit 1: findings (or losses under `--deny-lossy`).
    Findings,
}

impl Outcome {
    pub fn exit_code(self) -> u8 {
        match self {
            Outcome::Success => 0,
            Outcome::Findings => 1,
        }
    }
}

/// Runs one command.
pub fn run(cli: Cli) -> Result<Outcome> {
    match cli.command {
        Command::Demo(a) => demo::run(a),
        Command::Synth(a) => synth::run(a),
        Command::Convert(a) => convert::run(a),
        Command::Masks(a) => masks::run(a),
        Command::Overlay(a) => overlay::run(a),
    }
}
