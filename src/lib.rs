//! neutrostruct: convert and validate ellipse annotation datasets shaped like TEM-NeutroStruct.
//!
//! The library is organised by format (`coco`, `cvat`) around one typed model (`model`).
#![forbid(unsafe_code)]

pub mod atomic;
pub mod coco;
pub mod cvat;
pub mod diff;
pub mod error;
pub mod labelset;
pub mod lossiness;
pub mod model;
pub mod validate;

pub use error::{Error, Result};
