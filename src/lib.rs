//! neutrostruct: convert and validate ellipse annotation datasets shaped like TEM-NeutroStruct.
//!
//! The entry points are request structs with the command line's defaults, re-exported here:
//!
//! - [`convert()`] with a [`ConvertRequest`]: any input format to any output format, with the
//!   [`Lossiness`] of the step;
//! - [`validate()`] with a [`ValidateRequest`]: every rule over a release folder or files, an
//!   [`Outcome`] of [`Finding`]s;
//! - [`division::statistics_of_file`] and [`division::reclassify_files`]: the published 4→7
//!   workflow;
//! - [`coco::read_path`], [`cvat::read_path`] and their writers, over the typed model
//!   ([`Dataset`]), and [`masks::render`] for a mask without a PNG.
//!
//! `docs/design.md` in the repository describes the architecture; `cli` (feature `cli`, on by
//! default) turns command lines into these requests.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod atomic;
#[cfg(feature = "cli")]
pub mod cli;
pub mod coco;
pub mod convert;
pub mod cvat;
pub mod diff;
pub mod division;
pub mod error;
pub mod escape;
pub mod geometry;
pub(crate) mod io_guard;
pub mod labelset;
pub mod lossiness;
pub mod masks;
pub mod model;
pub(crate) mod output_dir;
pub(crate) mod path_safety;
mod progress;
pub mod scale_from_images;
pub mod synth;
#[cfg(test)]
mod test_mutations;
pub mod training;
pub mod validate;

/// The Rust example of `docs/python.md`, compiled by `cargo test` as a doctest so that the
/// documented library calls cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../docs/python.md")]
pub struct LibraryDocExample;

/// The Rust example of the README, compiled as a doctest for the same reason.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeExample;

pub use convert::{convert, ConvertRequest, Converted, Format};
pub use error::{Error, Result};
pub use lossiness::Lossiness;
pub use model::Dataset;
pub use validate::{check as validate, Finding, Outcome, ValidateRequest};
