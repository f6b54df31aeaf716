//! The streamed COCO read (`coco::read_path`, which splits the file through a window and
//! falls back to the whole-file read on anything unusual) agrees with the whole-file read
//! (`coco::read_bytes`) on every input: the same model when both accept, an error from both
//! otherwise, and never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::io::Write;

fuzz_target!(|data: &[u8]| {
    let Ok(mut file) = tempfile::NamedTempFile::new() else {
        return;
    };
    if file.write_all(data).and_then(|()| file.flush()).is_err() {
        return;
    }
    let opts = neutrostruct::coco::ReadOptions {
        drop_segmentation_text: true,
        fast_cvat_ellipses: true,
        allow_non_finite: true,
        ..Default::default()
    };
    let streamed = neutrostruct::coco::read_path(file.path(), &opts);
    let whole = neutrostruct::coco::read_bytes(data, file.path(), &opts);
    match (streamed, whole) {
        (Ok((a, _)), Ok((b, _))) => assert_eq!(
            format!("{:?}", a.annotations),
            format!("{:?}", b.annotations),
            "the two reads disagree"
        ),
        (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "different errors"),
        (a, b) => panic!("one read accepts, the other refuses: {:?} / {:?}", a.is_ok(), b.is_ok()),
    }
});
