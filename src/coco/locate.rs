//! Byte spans of the elements of the top-level `images`, `annotations` and `categories`
//! arrays, found by one linear pass over the bytes.
//!
//! serde gives positions only for errors; findings of `validate` need the line of every
//! image and annotation. A second, structural-only scan (strings skipped with their escapes,
//! depth counted on brackets) costs a fraction of the typed parse and keeps the parse itself
//! free of position bookkeeping. The scan is run after a successful parse, so the input is
//! known to be valid JSON; on anything unexpected it just returns fewer spans.

/// `(start, end)` byte offsets (end exclusive) of each element, in order.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Spans {
    pub images: Vec<(usize, usize)>,
    pub annotations: Vec<(usize, usize)>,
    pub categories: Vec<(usize, usize)>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Target {
    None,
    Images,
    Annotations,
    Categories,
}

/// Skips a string starting at `i` (the opening quote); returns the index after the closing
/// quote, or `bytes.len()` if unterminated.
fn skip_string(bytes: &[u8], mut i: usize) -> usize {
    i += 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    bytes.len()
}

/// Finds the spans of the elements of the three top-level arrays.
pub(crate) fn locate(bytes: &[u8]) -> Spans {
    let mut spans = Spans::default();
    let mut depth = 0usize;
    let mut i = 0usize;
    // The last string seen at depth 1 (a key candidate) and the array we are inside.
    let mut last_key: (usize, usize) = (0, 0);
    let mut target = Target::None;
    let mut elem_start: Option<usize> = None;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b'"' => {
                let end = skip_string(bytes, i);
                if depth == 1 {
                    last_key = (i + 1, end.saturating_sub(1));
                }
                if depth == 2 && target != Target::None {
                    push(&mut spans, target, (i, end)); // a string element
                }
                i = end;
                continue;
            }
            b'{' | b'[' => {
                if depth == 1 && b == b'[' {
                    target = match &bytes[last_key.0..last_key.1] {
                        b"images" => Target::Images,
                        b"annotations" => Target::Annotations,
                        b"categories" => Target::Categories,
                        _ => Target::None,
                    };
                }
                if depth == 2 && target != Target::None {
                    elem_start = Some(i);
                }
                depth += 1;
            }
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                if depth == 2 && target != Target::None {
                    if let Some(s) = elem_start.take() {
                        push(&mut spans, target, (s, i + 1));
                    }
                }
                if depth == 1 {
                    target = Target::None;
                }
            }
            b',' | b':' | b' ' | b'\n' | b'\r' | b'\t' => {}
            _ => {
                // A scalar (number, true, false, null) element of a target array.
                if depth == 2 && target != Target::None {
                    let s = i;
                    while i < bytes.len()
                        && !matches!(bytes[i], b',' | b']' | b' ' | b'\n' | b'\r' | b'\t')
                    {
                        i += 1;
                    }
                    push(&mut spans, target, (s, i));
                    continue;
                }
            }
        }
        i += 1;
    }
    spans
}

fn push(spans: &mut Spans, target: Target, span: (usize, usize)) {
    match target {
        Target::Images => spans.images.push(span),
        Target::Annotations => spans.annotations.push(span),
        Target::Categories => spans.categories.push(span),
        Target::None => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_elements_and_skips_strings() {
        let text = br#"{"info": {"images": [1]}, "x\"images": [{"a": 1}],
 "images": [{"id": 1, "s": "}]\\\"{"}, {"id": 2}],
 "annotations": [ {"id": 3, "segmentation": [[1,2]]} ], "categories": []}"#;
        let s = locate(text);
        assert_eq!(s.images.len(), 2);
        assert_eq!(s.annotations.len(), 1);
        assert!(s.categories.is_empty());
        let (a, b) = s.images[0];
        assert_eq!(&text[a..b], br#"{"id": 1, "s": "}]\\\"{"}"#);
        let (a, b) = s.annotations[0];
        assert_eq!(&text[a..b], br#"{"id": 3, "segmentation": [[1,2]]}"#);
    }
}
