//! The top two levels of a COCO file, read through a window of a few megabytes: each element
//! of the `images`, `annotations` and `categories` arrays, and each other top-level value,
//! is handed over as its own bytes with its position, so that the whole file is never in
//! memory (a million polygons are ~400 MB of text, which the model read from it does not
//! need once each annotation is built).
//!
//! Only the structure between elements is checked here (keys, colons, commas, brackets,
//! whitespace as JSON defines it); every element is then parsed by serde_json on its own.
//! Anything this splitter is not sure reads exactly as the whole-file parse would (a
//! duplicate or escaped top-level key, a trailing comma, nesting near serde_json's depth
//! limit, text after the object, a read error) makes it give up, and the caller reads the
//! file the old way, which reports errors with their exact positions. Errors are rare, and
//! a second read of a broken file costs nothing that matters.

use crate::model::SourceLoc;
use std::io::Read;

/// Bytes read at a time. A value larger than this (a huge RLE string) grows the window to
/// its size.
const WINDOW: usize = 4 << 20;

/// Deepest nesting accepted inside one element: serde_json refuses input nested deeper than
/// 128 levels counting from the top of the file, and an element sits two levels down.
/// Deeper elements are left to the whole-file parse, which says where the limit was hit.
const MAX_ELEMENT_DEPTH: usize = 120;

/// Which top-level array an element belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Part {
    Images,
    Annotations,
    Categories,
}

/// Receives the pieces of the file in document order. Each method returns false to stop
/// (the splitter then gives up).
pub(crate) trait Visit {
    /// The array of `part` starts.
    fn begin(&mut self, part: Part) -> bool;
    /// One element of that array: its bytes and where they are.
    fn element(&mut self, part: Part, bytes: &[u8], loc: SourceLoc) -> bool;
    /// The value of another top-level key.
    fn other(&mut self, key: &str, bytes: &[u8]) -> bool;
}

/// A resumable scan for the end of one JSON value: strings skipped with their escapes,
/// brackets counted. It does not check the value (serde_json does, on the whole value).
#[derive(Default)]
struct ValueScan {
    depth: usize,
    max_depth: usize,
    in_str: bool,
    esc: bool,
}

impl ValueScan {
    /// Continues over `b`; returns how many bytes of `b` complete the value, or `None` when
    /// it goes on past `b`. A scalar ends before the first byte that cannot be part of it.
    fn feed(&mut self, b: &[u8]) -> Option<usize> {
        let mut i = 0;
        while i < b.len() {
            if self.in_str {
                if self.esc {
                    self.esc = false;
                    i += 1;
                    continue;
                }
                match memchr::memchr2(b'"', b'\\', &b[i..]) {
                    None => return None,
                    Some(k) => {
                        i += k;
                        if b[i] == b'\\' {
                            self.esc = true;
                        } else {
                            self.in_str = false;
                            if self.depth == 0 {
                                return Some(i + 1);
                            }
                        }
                        i += 1;
                        continue;
                    }
                }
            }
            if self.depth > 0 {
                // Inside a value only quotes and brackets matter: the numbers between them
                // (most of a polygon's bytes) are passed eight at a time.
                i += plain_prefix(&b[i..]);
                if i == b.len() {
                    return None;
                }
            }
            match b[i] {
                b'"' => self.in_str = true,
                b'{' | b'[' => {
                    self.depth += 1;
                    self.max_depth = self.max_depth.max(self.depth);
                }
                b'}' | b']' => {
                    if self.depth == 0 {
                        return Some(i);
                    }
                    self.depth -= 1;
                    if self.depth == 0 {
                        return Some(i + 1);
                    }
                }
                b',' | b' ' | b'\n' | b'\r' | b'\t' if self.depth == 0 => return Some(i),
                _ => {}
            }
            i += 1;
        }
        None
    }
}

/// How many leading bytes of `b`, in whole blocks of eight, hold no quote and no bracket.
/// Per block: `b | 0x20` turns `[` `]` into `{` `}`, and a byte equal to a needle is a zero
/// byte of the XOR, which the carry trick finds (it never misses one; a block it flags is
/// just scanned byte by byte).
fn plain_prefix(b: &[u8]) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let has_zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGH != 0;
    let mut n = 0;
    for block in b.chunks_exact(8) {
        let mut w = [0u8; 8];
        w.copy_from_slice(block);
        let w = u64::from_le_bytes(w);
        let folded = w | (0x20 * ONES);
        if has_zero(w ^ (b'"' as u64 * ONES))
            || has_zero(folded ^ (b'{' as u64 * ONES))
            || has_zero(folded ^ (b'}' as u64 * ONES))
        {
            break;
        }
        n += 8;
    }
    n
}

/// The file seen through a window: bytes from `base` to `base + hi` are in `buf`.
struct Window<R> {
    r: R,
    buf: Vec<u8>,
    hi: usize,
    base: u64,
    eof: bool,
    /// Newlines before `counted`, and the offset just past the last of them.
    lines: u64,
    counted: u64,
    line_start: u64,
    /// Bytes read so far, against the input limit.
    total: u64,
    limit: u64,
    /// A read failed or the input passed the limit: the end seen is not the file's end.
    failed: bool,
}

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\n' | b'\r' | b'\t')
}

impl<R: Read> Window<R> {
    /// Reads more, keeping the bytes from `keep` on. False at the end of the input (or on
    /// a read error, or past the limit: the whole-file read reports those).
    fn fill(&mut self, keep: u64) -> bool {
        if self.eof {
            return false;
        }
        self.count_to(keep);
        let k = (keep - self.base) as usize;
        if k > 0 {
            self.buf.copy_within(k..self.hi, 0);
            self.hi -= k;
            self.base = keep;
        }
        if self.hi == self.buf.len() {
            let n = self.buf.len().max(WINDOW);
            self.buf.resize(self.buf.len() + n, 0);
        }
        loop {
            match self.r.read(&mut self.buf[self.hi..]) {
                Ok(0) => {
                    self.eof = true;
                    return false;
                }
                Ok(n) => {
                    self.hi += n;
                    self.total += n as u64;
                    if self.total > self.limit {
                        self.eof = true;
                        self.failed = true;
                        return false;
                    }
                    return true;
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    self.eof = true;
                    self.failed = true;
                    return false;
                }
            }
        }
    }

    /// Counts the newlines up to `to` (which must still be in the window).
    fn count_to(&mut self, to: u64) {
        if to <= self.counted {
            return;
        }
        let a = (self.counted - self.base) as usize;
        let b = (to - self.base) as usize;
        for i in memchr::memchr_iter(b'\n', &self.buf[a..b]) {
            self.lines += 1;
            self.line_start = self.counted + i as u64 + 1;
        }
        self.counted = to;
    }

    /// The byte at `pos`, reading on as needed; `None` at the end.
    fn byte(&mut self, pos: u64) -> Option<u8> {
        while pos >= self.base + self.hi as u64 {
            if !self.fill(pos) {
                return None;
            }
        }
        Some(self.buf[(pos - self.base) as usize])
    }

    /// Skips whitespace from `pos`; the next byte (not consumed).
    fn skip_ws(&mut self, pos: &mut u64) -> Option<u8> {
        loop {
            let b = self.byte(*pos)?;
            if !is_ws(b) {
                return Some(b);
            }
            *pos += 1;
        }
    }

    /// The value starting at `pos` (its first byte not whitespace): `(start, end, depth)`,
    /// `pos` moved past it. `None` when it is empty or does not end.
    fn value(&mut self, pos: &mut u64) -> Option<(u64, u64, usize)> {
        let start = *pos;
        self.byte(start)?;
        let mut scan = ValueScan::default();
        let mut off = start;
        loop {
            let avail = &self.buf[(off - self.base) as usize..self.hi];
            if let Some(n) = scan.feed(avail) {
                let end = off + n as u64;
                if end == start {
                    return None;
                }
                *pos = end;
                return Some((start, end, scan.max_depth));
            }
            off = self.base + self.hi as u64;
            if !self.fill(start) {
                return None;
            }
        }
    }

    fn slice(&self, start: u64, end: u64) -> &[u8] {
        &self.buf[(start - self.base) as usize..(end - self.base) as usize]
    }

    /// Line and column (1-based, columns in bytes, as `LineIndex` gives them) of `start`.
    fn loc(&mut self, start: u64, end: u64) -> SourceLoc {
        self.count_to(start);
        SourceLoc {
            line: (self.lines + 1) as u32,
            column: (start - self.line_start + 1) as u32,
            start: start as usize,
            end: end as usize,
        }
    }
}

/// Splits the COCO object read from `r` (at most `limit` bytes) into its pieces for `v`.
/// `None` when the splitter gave up or `v` stopped it.
pub(crate) fn split(r: impl Read, limit: u64, v: &mut dyn Visit) -> Option<()> {
    let mut w = Window {
        r,
        buf: Vec::new(),
        hi: 0,
        base: 0,
        eof: false,
        lines: 0,
        counted: 0,
        line_start: 0,
        total: 0,
        limit,
        failed: false,
    };
    let mut pos = 0u64;
    if w.skip_ws(&mut pos)? != b'{' {
        return None;
    }
    pos += 1;
    let mut seen: Vec<String> = Vec::new();
    if w.skip_ws(&mut pos)? == b'}' {
        pos += 1;
    } else {
        loop {
            // A key: a plain string (no escapes or control characters, so its text is its
            // value), seen once.
            if w.skip_ws(&mut pos)? != b'"' {
                return None;
            }
            let (ks, ke, _) = w.value(&mut pos)?;
            let raw = w.slice(ks, ke);
            if raw.len() < 2 || raw[raw.len() - 1] != b'"' {
                return None;
            }
            let inner = &raw[1..raw.len() - 1];
            if inner.iter().any(|&b| b == b'\\' || b < 0x20) {
                return None;
            }
            let key = std::str::from_utf8(inner).ok()?.to_owned();
            if seen.contains(&key) {
                return None;
            }
            if w.skip_ws(&mut pos)? != b':' {
                return None;
            }
            pos += 1;
            w.skip_ws(&mut pos)?;
            let part = match key.as_str() {
                "images" => Some(Part::Images),
                "annotations" => Some(Part::Annotations),
                "categories" => Some(Part::Categories),
                _ => None,
            };
            match part {
                Some(part) => array(&mut w, &mut pos, part, v)?,
                None => {
                    let (s, e, depth) = w.value(&mut pos)?;
                    if depth > MAX_ELEMENT_DEPTH || !v.other(&key, w.slice(s, e)) {
                        return None;
                    }
                }
            }
            seen.push(key);
            match w.skip_ws(&mut pos)? {
                b',' => pos += 1,
                b'}' => {
                    pos += 1;
                    break;
                }
                _ => return None,
            }
        }
    }
    // Only whitespace may follow.
    match w.skip_ws(&mut pos) {
        None if !w.failed => Some(()),
        _ => None,
    }
}

/// The array at `pos` (which must start with `[`), element by element.
fn array<R: Read>(w: &mut Window<R>, pos: &mut u64, part: Part, v: &mut dyn Visit) -> Option<()> {
    if w.byte(*pos)? != b'[' {
        return None;
    }
    *pos += 1;
    if !v.begin(part) {
        return None;
    }
    if w.skip_ws(pos)? == b']' {
        *pos += 1;
        return Some(());
    }
    loop {
        // `]` or `,` here would be an empty element (a trailing or doubled comma).
        if matches!(w.skip_ws(pos)?, b']' | b',') {
            return None;
        }
        let (s, e, depth) = w.value(pos)?;
        if depth > MAX_ELEMENT_DEPTH {
            return None;
        }
        let loc = w.loc(s, e);
        if !v.element(part, w.slice(s, e), loc) {
            return None;
        }
        match w.skip_ws(pos)? {
            b',' => *pos += 1,
            b']' => {
                *pos += 1;
                return Some(());
            }
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Line, column, start and end of an element.
    type Where = (u32, u32, usize, usize);

    #[derive(Default)]
    struct Collect {
        parts: Vec<(Part, String, Where)>,
        others: Vec<(String, String)>,
    }

    impl Visit for Collect {
        fn begin(&mut self, _: Part) -> bool {
            true
        }
        fn element(&mut self, part: Part, bytes: &[u8], l: SourceLoc) -> bool {
            self.parts.push((
                part,
                String::from_utf8_lossy(bytes).into_owned(),
                (l.line, l.column, l.start, l.end),
            ));
            true
        }
        fn other(&mut self, key: &str, bytes: &[u8]) -> bool {
            self.others
                .push((key.to_owned(), String::from_utf8_lossy(bytes).into_owned()));
            true
        }
    }

    /// A reader that hands out one byte at a time: every value straddles window refills.
    struct Trickle<'a>(&'a [u8]);
    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
            if self.0.is_empty() || out.is_empty() {
                return Ok(0);
            }
            out[0] = self.0[0];
            self.0 = &self.0[1..];
            Ok(1)
        }
    }

    fn run(text: &[u8]) -> Option<Collect> {
        let mut c = Collect::default();
        split(Trickle(text), u64::MAX, &mut c)?;
        let mut d = Collect::default();
        split(text, u64::MAX, &mut d)?;
        assert_eq!(c.parts, d.parts);
        assert_eq!(c.others, d.others);
        Some(c)
    }

    #[test]
    fn long_values_split_the_same_whole_or_a_byte_at_a_time() {
        // Quotes and brackets at every offset of an eight-byte block, in strings and out,
        // between runs of digits: the block skip must stop at each one. `run` compares the
        // whole-slice scan (which skips blocks) with the byte-at-a-time one (which cannot).
        let mut text = String::from("{\"images\": [], \"annotations\": [");
        for k in 0..48 {
            if k > 0 {
                text.push(',');
            }
            let pad = "1".repeat(k % 17 + 1);
            let word = "a".repeat(k % 9);
            text.push_str(&format!(
                r#"{{"s":[[{pad},2.5,{pad}3],[]],"t":"{word}]{{\"[x","u":[{{"v":[{pad}]}}]}}"#
            ));
        }
        text.push_str("], \"categories\": []}");
        let c = run(text.as_bytes()).expect("splits");
        assert_eq!(c.parts.len(), 48);
        for p in &c.parts {
            let v: serde_json::Value = serde_json::from_str(&p.1).expect("a whole element");
            assert!(v.get("u").is_some(), "{}", p.1);
        }
    }

    #[test]
    fn elements_come_with_the_positions_the_line_index_gives() {
        let text = b"{\"info\": {\"a\": [1, \"]\"]},\n \"images\": [{\"id\": 1, \"s\": \"}]\\\"{\"},\n  {\"id\": 2}],\r\n\"annotations\":[ 7 , {\"x\":[[1,2]]} ], \"categories\": [], \"n\": -1.5e3 }\n";
        let c = run(text).expect("splits");
        let idx = crate::error::LineIndex::new(text);
        let got: Vec<&str> = c.parts.iter().map(|p| p.1.as_str()).collect();
        assert_eq!(
            got,
            [
                r#"{"id": 1, "s": "}]\"{"}"#,
                r#"{"id": 2}"#,
                "7",
                r#"{"x":[[1,2]]}"#
            ]
        );
        for (_, s, (line, col, start, end)) in &c.parts {
            assert_eq!(&text[*start..*end], s.as_bytes());
            assert_eq!(idx.locate(*start), (*line, *col));
        }
        assert_eq!(c.parts[3].0, Part::Annotations);
        assert_eq!(
            c.others,
            [
                ("info".to_string(), r#"{"a": [1, "]"]}"#.to_string()),
                ("n".to_string(), "-1.5e3".to_string())
            ]
        );
    }

    #[test]
    fn it_gives_up_where_it_could_differ_from_the_whole_file_parse() {
        for bad in [
            &b"{\"images\": [], \"images\": []}"[..],
            b"{\"imag\\u0065s\": []}",
            b"{\"images\": [1,]}",
            b"{\"images\": [,1]}",
            b"{\"images\": null}",
            b"{\"a\": 1,}",
            b"{\"a\": 1} x",
            b"{\"a\" 1}",
            b"[1]",
            b"{\"a\": [1",
            b"{\"a\": \"b",
        ] {
            assert!(run(bad).is_none(), "{}", String::from_utf8_lossy(bad));
        }
        let deep = format!(
            "{{\"images\": [{}{}]}}",
            "[".repeat(MAX_ELEMENT_DEPTH + 1),
            "]".repeat(MAX_ELEMENT_DEPTH + 1)
        );
        assert!(run(deep.as_bytes()).is_none());
        assert!(run(b" {} ").is_some());
    }
}
