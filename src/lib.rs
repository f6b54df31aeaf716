//! neutrostruct: convert and validate ellipse annotation datasets shaped like TEM-NeutroStruct.
//!
//! The library is organised by format (`coco`, `cvat`, masks, training formats) around one
//! typed model (`model`); `cli` turns command lines into validated requests for it.
#![forbid(unsafe_code)]

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
pub mod io_guard;
pub mod labelset;
pub mod lossiness;
pub mod masks;
pub mod model;
pub mod output_dir;
pub mod path_safety;
mod progress;
pub mod scale_from_images;
pub mod synth;
#[cfg(test)]
mod test_mutations;
pub mod training;
pub mod validate;

pub use error::{Error, Result};
