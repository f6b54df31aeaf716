//! COCO reader: never panics; whatever it accepts it writes, and what it writes reads back
//! to the same model.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let path = Path::new("fuzz.json");
    let opts = neutrostruct::coco::ReadOptions::default();
    if let Ok((ds, _)) = neutrostruct::coco::read_bytes(data, path, &opts) {
        let (text, _) = neutrostruct::coco::to_string(&ds, &Default::default());
        let (again, _) = neutrostruct::coco::read_bytes(text.as_bytes(), path, &opts)
            .expect("what the writer wrote must read back");
        let (text2, _) = neutrostruct::coco::to_string(&again, &Default::default());
        assert_eq!(text, text2, "write → read → write is stable");
    }
});
