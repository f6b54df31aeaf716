//! CVAT reader: never panics; whatever it accepts it writes, and what it writes reads back
//! to the same output.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let path = Path::new("fuzz.xml");
    let opts = neutrostruct::cvat::ReadOptions::default();
    if let Ok((ds, _)) = neutrostruct::cvat::read_bytes(data, path, &opts) {
        let (text, _) = neutrostruct::cvat::to_string(&ds, &Default::default());
        let (again, _) = neutrostruct::cvat::read_bytes(text.as_bytes(), path, &opts)
            .expect("what the writer wrote must read back");
        let (text2, _) = neutrostruct::cvat::to_string(&again, &Default::default());
        assert_eq!(text, text2, "write → read → write is stable");
    }
});
