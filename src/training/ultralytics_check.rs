//! The checks Ultralytics' dataset loader applies to a label file (`verify_image_label`),
//! applied to what we write before we finish: a file it would reject is our bug.
//!
//! Ultralytics requires, per row: detection 5 columns; oriented boxes 9; segments an odd
//! count of at least 7 (class and 3+ points); every coordinate within [0, 1]; no negative
//! value; class < nc. It drops duplicate rows with a warning, so we refuse those too.

use super::yolo::Flavour;

/// `Ok` when Ultralytics would load `text` without rejecting or altering it.
pub fn check_label_text(text: &str, flavour: Flavour, nc: usize) -> Result<(), String> {
    let mut seen = std::collections::HashSet::new();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let cols: Vec<&str> = line.split_whitespace().collect();
        if cols.is_empty() {
            continue;
        }
        let ok_len = match flavour {
            Flavour::Detect => cols.len() == 5,
            Flavour::Obb => cols.len() == 9,
            Flavour::Segment => cols.len() >= 7 && cols.len() % 2 == 1,
        };
        if !ok_len {
            return Err(format!(
                "line {n}: {} columns is not a {} row",
                cols.len(),
                flavour.name()
            ));
        }
        let class: usize = cols[0]
            .parse()
            .map_err(|_| format!("line {n}: class {:?} is not an integer", cols[0]))?;
        if class >= nc {
            return Err(format!("line {n}: class {class} ≥ nc {nc}"));
        }
        for c in &cols[1..] {
            let v: f64 = c
                .parse()
                .map_err(|_| format!("line {n}: {c:?} is not a number"))?;
            if !(0.0..=1.0).contains(&v) {
                return Err(format!("line {n}: coordinate {v} outside [0, 1]"));
            }
        }
        if flavour == Flavour::Detect {
            let w: f64 = cols[3].parse().unwrap_or(0.0);
            let h: f64 = cols[4].parse().unwrap_or(0.0);
            if w <= 0.0 || h <= 0.0 {
                return Err(format!("line {n}: empty box"));
            }
        }
        if !seen.insert(cols.join(" ")) {
            return Err(format!("line {n}: duplicate row"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_good_rows_and_rejects_what_ultralytics_rejects() {
        assert!(check_label_text("0 0.5 0.5 0.1 0.1\n", Flavour::Detect, 1).is_ok());
        assert!(
            check_label_text("1 0.5 0.5 0.1 0.1\n", Flavour::Detect, 1).is_err(),
            "class ≥ nc"
        );
        assert!(
            check_label_text("0 0.5 0.5 1.1 0.1\n", Flavour::Detect, 1).is_err(),
            "out of range"
        );
        assert!(
            check_label_text("0 0.5 0.5 0.1\n", Flavour::Detect, 1).is_err(),
            "columns"
        );
        assert!(
            check_label_text("0 0.5 0.5 0.1 0.1\n0 0.5 0.5 0.1 0.1\n", Flavour::Detect, 1).is_err(),
            "duplicate"
        );
        assert!(check_label_text("0 0.1 0.1 0.2 0.1 0.2 0.2\n", Flavour::Segment, 1).is_ok());
        assert!(
            check_label_text("0 0.1 0.1 0.2 0.1\n", Flavour::Segment, 1).is_err(),
            "two points"
        );
        assert!(check_label_text("0 0.1 0.1 0.2 0.1 0.2 0.2 0.1 0.2\n", Flavour::Obb, 1).is_ok());
        assert!(check_label_text("0 -0.1 0.1 0.2 0.1 0.2 0.2 0.1 0.2\n", Flavour::Obb, 1).is_err());
    }
}
