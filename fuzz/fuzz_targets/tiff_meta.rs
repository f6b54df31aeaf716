//! TIFF calibration reader (ImageJ, OME-XML, resolution, FEI tags): any bytes give a result
//! or an error, never a panic, a hang or an allocation past the text-tag limit.
#![no_main]
use libfuzzer_sys::fuzz_target;
use neutrostruct::scale_from_images::tiff_meta;

fuzz_target!(|data: &[u8]| {
    let _ = tiff_meta::read(std::io::Cursor::new(data), data.len() as u64);
});
