//! CVAT reader: never panics; whatever it accepts it writes, and what it writes reads back
//! to the same output. The streamed reader (an `annotations.xml` inflated out of an export
//! archive) gives the same dataset or the same error as the whole-file reader.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let path = Path::new("fuzz.xml");
    let opts = neutrostruct::cvat::ReadOptions::default();
    let whole = neutrostruct::cvat::read_bytes(data, path, &opts);
    let stop = neutrostruct::cvat::StreamLimit::default();
    let streamed = neutrostruct::cvat::read_stream(data, path, &opts, &stop);
    match (&whole, &streamed) {
        (Ok((a, _)), Ok((b, _))) => assert_eq!(a, b, "streamed read differs"),
        (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "streamed error differs"),
        _ => panic!(
            "one reader accepts, the other refuses: {:?} / {:?}",
            whole.as_ref().err().map(|e| e.to_string()),
            streamed.as_ref().err().map(|e| e.to_string())
        ),
    }
    if let Ok((ds, _)) = whole {
        let (text, _) = neutrostruct::cvat::to_string(&ds, &Default::default());
        let (again, _) = neutrostruct::cvat::read_bytes(text.as_bytes(), path, &opts)
            .expect("what the writer wrote must read back");
        let (text2, _) = neutrostruct::cvat::to_string(&again, &Default::default());
        assert_eq!(text, text2, "write → read → write is stable");
    }
});
