//! The geometry wing: how shapes become pixels and pixels become shapes. One algorithm per
//! file: this crate's rasteriser (`raster`, pixel centres inside the shape), CVAT's export
//! rasteriser and its inversion (`raster_cvat_export`, OpenCV's `cv2.ellipse` exactly),
//! ellipse fitting from moments (`fit`), ellipses as polygons (`ellipse_polygon`) and COCO
//! run-length encoding (`rle`). Formats, masks and validation use these and nothing else to
//! turn shapes into pixels.

pub mod ellipse_polygon;
pub mod fit;
pub mod raster;
pub mod raster_cvat_export;
pub mod rle;
