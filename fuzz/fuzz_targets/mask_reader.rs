//! Mask reader: arbitrary bytes as an image file never panic the region scan. Dimensions are
//! checked from the header first (as `mask_dataset::read_dir` does), so a tiny file declaring
//! a huge image is refused before any pixel buffer is allocated.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::io::Cursor;

/// Fuzzing budget: far below `masks::MAX_SIDE`, so each input stays fast.
const FUZZ_MAX_PIXELS: u64 = 1 << 20;

fuzz_target!(|data: &[u8]| {
    let Ok(reader) = image::ImageReader::new(Cursor::new(data)).with_guessed_format() else {
        return;
    };
    let Ok((w, h)) = reader.into_dimensions() else {
        return;
    };
    if w == 0 || h == 0 || u64::from(w) * u64::from(h) > FUZZ_MAX_PIXELS {
        return;
    }
    let mut reader = image::ImageReader::new(Cursor::new(data))
        .with_guessed_format()
        .expect("guessed once already");
    reader.limits(image::Limits::default());
    let Ok(img) = reader.decode() else {
        return;
    };
    let opts = neutrostruct::masks::regions::RegionOptions::default();
    for labels in [
        neutrostruct::labelset::LabelSet::four_class(),
        neutrostruct::labelset::LabelSet::seven_class(),
    ] {
        let _ = neutrostruct::masks::regions::regions_from_mask(&img, &labels, &opts);
    }
});
