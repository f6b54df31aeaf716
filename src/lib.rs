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
pub mod ellipse_polygon;
pub mod error;
pub mod escape;
pub mod fit;
pub mod io_guard;
pub mod labelset;
pub mod lossiness;
pub mod mask_dataset;
pub mod mask_regions;
pub mod masks;
pub mod model;
pub mod output_dir;
pub mod overlay;
pub mod path_safety;
mod progress;
pub mod raster;
pub mod raster_cvat_export;
pub mod rle;
pub mod scale_from_images;
pub mod synth;
#[cfg(test)]
mod test_mutations;
pub mod training;
pub mod validate;

pub use error::{Error, Result};
