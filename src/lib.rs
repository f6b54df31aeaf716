//! neutrostruct: convert and validate ellipse annotation datasets shaped like TEM-NeutroStruct.
//!
//! The library is organised by format (`coco`, `cvat`) around one typed model (`model`).
#![forbid(unsafe_code)]

pub mod atomic;
pub mod coco;
pub mod cvat;
pub mod error;
pub mod labelset;
pub mod lossiness;
pub mod mask_regions;
pub mod masks;
pub mod model;
pub mod overlay;
pub mod raster;

pub use error::{Error, Result};
