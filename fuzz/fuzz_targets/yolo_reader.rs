//! YOLO reader: label text (every task) and `data.yaml` never panic; whatever is accepted
//! writes, reads back to the same rows or classes, and writes again to the same text.
#![no_main]
use libfuzzer_sys::fuzz_target;
use neutrostruct::training::yolo::Flavour;
use neutrostruct::training::yolo_labels::{
    check_label_text, label_text, parse_label_text, write_label_text, RowProblem,
};
use neutrostruct::training::yolo_yaml::{parse_data_yaml, write_data_yaml};
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let path = Path::new("fuzz.txt");
    let Ok(text) = label_text(data, path) else {
        return;
    };
    for flavour in [Flavour::Detect, Flavour::Segment, Flavour::Obb] {
        if let Ok(rows) = parse_label_text(text, flavour, 4, path) {
            let written = write_label_text(&rows);
            let again = parse_label_text(&written, flavour, 4, path)
                .expect("what the label writer wrote must read back");
            assert_eq!(rows, again, "parse → write → parse gives the same rows");
            assert_eq!(written, write_label_text(&again), "write is stable");
        }
        // `validate`'s lenient reading never panics and fails the file only where the strict
        // reading does for a limit; otherwise its problems (but duplicates) are the strict
        // reading's errors.
        match check_label_text(text, flavour, 4, path) {
            Ok((_, issues)) => {
                let hard = issues.iter().any(|i| i.problem != RowProblem::Duplicate);
                assert_eq!(
                    hard,
                    parse_label_text(text, flavour, 4, path).is_err(),
                    "lenient and strict readings agree"
                );
            }
            Err(_) => assert!(parse_label_text(text, flavour, 4, path).is_err()),
        }
    }
    let yaml = Path::new("data.yaml");
    if let Ok(y) = parse_data_yaml(text, yaml) {
        let written = write_data_yaml(&y);
        let again = parse_data_yaml(&written, yaml)
            .expect("what the data.yaml writer wrote must read back");
        assert_eq!(y, again, "parse → write → parse gives the same data.yaml");
        assert_eq!(written, write_data_yaml(&again), "write is stable");
    }
});
