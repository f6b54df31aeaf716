//! The subset of YAML that an Ultralytics `data.yaml` uses: top-level `key: value` lines,
//! `names` as a block or flow list (a flow one may span lines) or as an index map, split entries as a path or a list of
//! paths, `nc`, comments. No YAML library is needed for that, and a hand-written reader of a
//! small grammar cannot be driven into anchors, aliases or tags (billion-laughs style
//! expansion) by a hostile file. Anything outside the subset in the keys we read is an error
//! with its line and column; other keys (`download:`, scripts, …) are skipped unread.

use crate::error::{Error, Result};
use std::fmt::Write as _;
use std::path::Path;

/// Most classes a `data.yaml` may declare: bounds the categories made from `nc` alone (real
/// datasets have at most a few thousand classes).
pub(crate) const MAX_CLASSES: usize = 65_536;

/// What a `data.yaml` says that the reader uses.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DataYaml {
    /// Class names, index = class.
    pub names: Vec<String>,
    /// `train`, `val`, `test` in that order when present, each with its path(s).
    pub splits: Vec<(String, Vec<String>)>,
    /// The `path:` entry (informational: the reader uses the folder holding the file).
    pub path: Option<String>,
}

/// The split keys Ultralytics knows, in the order they are read.
pub(crate) const SPLIT_KEYS: [&str; 3] = ["train", "val", "test"];

/// A scalar, list or map value with the position of its first character.
#[derive(Debug)]
enum Value {
    Scalar(String, Pos),
    List(Vec<(String, Pos)>),
    Map(Vec<(String, String, Pos)>),
}

#[derive(Clone, Copy, Debug)]
struct Pos {
    line: u32,
    col: u32,
}

struct Ctx<'a> {
    path: &'a Path,
}

impl Ctx<'_> {
    fn err(&self, pos: Pos, msg: impl Into<String>) -> Error {
        Error::parse(self.path, pos.line, pos.col, msg)
    }
}

fn col_of(line: &str, byte: usize) -> u32 {
    let n = line
        .char_indices()
        .take_while(|(i, _)| *i < byte)
        .count()
        .saturating_add(1);
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Each character of `s` with its byte offset and whether it is outside quotes (the quote
/// characters themselves count as inside). A backslash escape inside double quotes is part
/// of the string, so `"a\" #b"` is one string and its `#` no comment.
fn chars_outside_quotes(s: &str) -> Vec<(usize, char, bool)> {
    let mut out = Vec::with_capacity(s.len());
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match quote {
            Some('"') if escaped => escaped = false,
            Some('"') if c == '\\' => escaped = true,
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '"' || c == '\'' => quote = Some(c),
            None => {
                out.push((i, c, true));
                continue;
            }
        }
        out.push((i, c, false));
    }
    out
}

/// The line without its comment (`#` at the start or after white space, outside quotes).
fn strip_comment(line: &str) -> &str {
    let mut prev_space = true;
    for (i, c, outside) in chars_outside_quotes(line) {
        if outside && c == '#' && prev_space {
            return &line[..i];
        }
        prev_space = outside && (c == ' ' || c == '\t');
    }
    line
}

/// Parses one scalar (quoted or plain) that makes up all of `s`; `pos` is where `s` starts.
fn scalar(ctx: &Ctx, s: &str, pos: Pos) -> Result<String> {
    let s = s.trim();
    if let Some(inner) = s.strip_prefix('"') {
        let Some(body) = inner.strip_suffix('"') else {
            return Err(ctx.err(pos, "unterminated double-quoted string"));
        };
        let mut out = String::new();
        let mut chars = body.chars();
        while let Some(c) = chars.next() {
            if c == '"' {
                return Err(ctx.err(pos, "unescaped \" inside a double-quoted string"));
            }
            if c != '\\' {
                out.push(c);
                continue;
            }
            match chars.next() {
                Some('"') => out.push('"'),
                Some('\\') => out.push('\\'),
                Some('/') => out.push('/'),
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('r') => out.push('\r'),
                Some('0') => out.push('\0'),
                Some('u') => {
                    let hex: String = chars.by_ref().take(4).collect();
                    let ch = u32::from_str_radix(&hex, 16)
                        .ok()
                        .filter(|_| hex.len() == 4)
                        .and_then(char::from_u32)
                        .ok_or_else(|| ctx.err(pos, format!("bad escape \\u{hex}")))?;
                    out.push(ch);
                }
                other => {
                    return Err(ctx.err(
                        pos,
                        format!("unsupported escape \\{}", other.unwrap_or(' ')),
                    ))
                }
            }
        }
        return Ok(out);
    }
    if let Some(inner) = s.strip_prefix('\'') {
        let Some(body) = inner.strip_suffix('\'') else {
            return Err(ctx.err(pos, "unterminated single-quoted string"));
        };
        if body.replace("''", "").contains('\'') {
            return Err(ctx.err(pos, "unescaped ' inside a single-quoted string"));
        }
        return Ok(body.replace("''", "'"));
    }
    if let Some(c) = s.chars().next() {
        // Anchors, aliases, tags and block scalars are outside the subset.
        if matches!(
            c,
            '&' | '*' | '!' | '|' | '>' | '[' | ']' | '{' | '}' | '@' | '`'
        ) {
            return Err(ctx.err(
                pos,
                format!("{c:?} starts a YAML construct data.yaml does not need"),
            ));
        }
    }
    Ok(s.to_string())
}

/// Splits a flow collection's inside at commas outside quotes, with each part's byte offset.
fn split_flow(s: &str) -> Vec<(usize, &str)> {
    let mut parts = Vec::new();
    let mut start = 0;
    for (i, c, outside) in chars_outside_quotes(s) {
        if outside && c == ',' {
            parts.push((start, &s[start..i]));
            start = i + 1;
        }
    }
    parts.push((start, &s[start..]));
    // A trailing comma (`[a, b,]`) leaves an empty last part.
    if parts.len() > 1 && parts.last().is_some_and(|(_, p)| p.trim().is_empty()) {
        parts.pop();
    }
    parts
}

/// Splits `key: value` at the first `:` outside quotes that is followed by a space or the end.
fn split_key(s: &str) -> Option<(&str, &str)> {
    for (i, c, outside) in chars_outside_quotes(s) {
        if outside && c == ':' {
            let rest = &s[i + 1..];
            if rest.is_empty() || rest.starts_with([' ', '\t']) {
                return Some((&s[..i], rest));
            }
        }
    }
    None
}

/// Reads an inline value: a flow list, a flow map or a scalar. `pos_of` gives the position
/// of a byte offset of `s` (the value may be a flow collection joined from several lines).
fn inline_value(ctx: &Ctx, s: &str, pos_of: &dyn Fn(usize) -> Pos) -> Result<Value> {
    let t = s.trim();
    let lead = s.len() - s.trim_start().len();
    let pos = pos_of(lead);
    let part_pos = |off: usize, part: &str| {
        let skip = part.len() - part.trim_start().len();
        pos_of(lead + 1 + off + skip)
    };
    // `[a, b]]` would otherwise read `b]` as a name: brackets outside quotes must balance.
    if (t.starts_with('[') || t.starts_with('{')) && flow_depth(t) != 0 {
        return Err(ctx.err(pos, "brackets of this flow collection do not balance"));
    }
    if let Some(inner) = t.strip_prefix('[') {
        let inner = inner
            .strip_suffix(']')
            .ok_or_else(|| ctx.err(pos, "flow list without its closing ]"))?;
        let mut items = Vec::new();
        if !inner.trim().is_empty() {
            for (off, part) in split_flow(inner) {
                let p = part_pos(off, part);
                items.push((scalar(ctx, part, p)?, p));
            }
        }
        return Ok(Value::List(items));
    }
    if let Some(inner) = t.strip_prefix('{') {
        let inner = inner
            .strip_suffix('}')
            .ok_or_else(|| ctx.err(pos, "flow map without its closing }"))?;
        let mut items = Vec::new();
        if !inner.trim().is_empty() {
            for (off, part) in split_flow(inner) {
                let p = part_pos(off, part);
                let (k, v) = split_key(part)
                    .ok_or_else(|| ctx.err(p, "expected `key: value` in a flow map"))?;
                items.push((scalar(ctx, k, p)?, scalar(ctx, v, p)?, p));
            }
        }
        return Ok(Value::Map(items));
    }
    Ok(Value::Scalar(scalar(ctx, t, pos)?, pos))
}

/// How much deeper in `[`/`{` brackets (outside quotes) the text leaves the reader.
fn flow_depth(s: &str) -> i64 {
    chars_outside_quotes(s)
        .into_iter()
        .filter(|(_, _, outside)| *outside)
        .map(|(_, c, _)| match c {
            '[' | '{' => 1,
            ']' | '}' => -1,
            _ => 0,
        })
        .sum()
}

/// A flow collection spread over several lines (`names: [a,\n  b]`): the lines joined by
/// spaces, and where each joined piece came from (offset in `text`, line number, the line,
/// offset of the piece in it), so errors still point at the right line and column.
struct Flow {
    key: String,
    key_pos: Pos,
    text: String,
    pieces: Vec<(usize, u32, String, usize)>,
    depth: i64,
    /// `false` for a key that is skipped unread.
    keep: bool,
}

impl Flow {
    fn pos_of(&self, offset: usize) -> Pos {
        let at = self
            .pieces
            .iter()
            .rposition(|(start, ..)| *start <= offset)
            .unwrap_or(0);
        match self.pieces.get(at) {
            Some((start, line, text, from)) => Pos {
                line: *line,
                col: col_of(text, from + (offset - start)),
            },
            None => self.key_pos,
        }
    }
}

/// A block being read: its key and position, its `- item` lines, its `key: value` lines.
type Block = (String, Pos, Vec<(String, Pos)>, Vec<(String, String, Pos)>);

/// Parses the text of a `data.yaml`.
pub fn parse_data_yaml(text: &str, path: &Path) -> Result<DataYaml> {
    let ctx = Ctx { path };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    // Top-level entries we read, with their values; later duplicates are an error.
    let mut entries: Vec<(String, Value, Pos)> = Vec::new();
    // The open block (`names:` with nothing after the colon) collects indented lines.
    let mut open: Option<Block> = None;
    let wanted = |k: &str| k == "names" || k == "nc" || k == "path" || SPLIT_KEYS.contains(&k);
    let close = |open: &mut Option<Block>, entries: &mut Vec<(String, Value, Pos)>| -> Result<()> {
        if let Some((k, pos, list, map)) = open.take() {
            let v = match (list.is_empty(), map.is_empty()) {
                (false, false) => {
                    return Err(ctx.err(pos, format!("{k}: mixes `- item` and `key: value` lines")))
                }
                (false, true) => Value::List(list),
                (true, false) => Value::Map(map),
                (true, true) => Value::Scalar(String::new(), pos),
            };
            entries.push((k, v, pos));
        }
        Ok(())
    };
    let mut skipping = false;
    let mut flow: Option<Flow> = None;
    for (i, raw) in text.lines().enumerate() {
        let n = u32::try_from(i + 1).unwrap_or(u32::MAX);
        let line = strip_comment(raw);
        if let Some(f) = flow.as_mut() {
            // Inside a multi-line flow collection lines join with a space (YAML folds the
            // line break) whatever their indentation.
            f.text.push(' ');
            f.pieces.push((f.text.len(), n, line.to_string(), 0));
            f.text.push_str(line);
            f.depth += flow_depth(line);
            if f.depth > 0 {
                continue;
            }
            if let Some(f) = flow.take() {
                if f.keep {
                    let value = inline_value(&ctx, &f.text, &|o| f.pos_of(o))?;
                    entries.push((f.key, value, f.key_pos));
                }
            }
            continue;
        }
        if line.trim().is_empty() || line.trim() == "---" {
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        if line[..indent].contains('\t') {
            return Err(ctx.err(
                Pos { line: n, col: 1 },
                "tabs are not allowed as indentation in YAML",
            ));
        }
        let body = &line[indent..];
        let pos = Pos {
            line: n,
            col: col_of(line, indent),
        };
        if indent > 0 {
            if skipping {
                continue;
            }
            let Some(block) = open.as_mut() else {
                return Err(ctx.err(pos, "indented line outside a block"));
            };
            if let Some(item) = body
                .strip_prefix('-')
                .filter(|r| r.is_empty() || r.starts_with([' ', '\t']))
            {
                let at = indent + 1 + (item.len() - item.trim_start().len());
                let p = Pos {
                    line: n,
                    col: col_of(line, at),
                };
                block.2.push((scalar(&ctx, item, p)?, p));
            } else if let Some((k, v)) = split_key(body) {
                let vp = Pos {
                    line: n,
                    col: col_of(line, indent + k.len() + 1),
                };
                block
                    .3
                    .push((scalar(&ctx, k, pos)?, scalar(&ctx, v, vp)?, pos));
            } else {
                return Err(ctx.err(pos, "expected `- item` or `key: value`"));
            }
            continue;
        }
        close(&mut open, &mut entries)?;
        skipping = false;
        let Some((k, v)) = split_key(body) else {
            return Err(ctx.err(pos, "expected `key: value`"));
        };
        let key = scalar(&ctx, k, pos)?;
        if !wanted(&key) {
            // Other keys (download scripts, …) may hold any YAML: skip them and their block
            // (a flow collection over several lines included).
            skipping = true;
            if flow_depth(v) > 0 {
                flow = Some(Flow {
                    key,
                    key_pos: pos,
                    text: String::new(),
                    pieces: Vec::new(),
                    depth: flow_depth(v),
                    keep: false,
                });
            }
            continue;
        }
        if entries.iter().any(|(e, _, _)| *e == key) {
            return Err(ctx.err(pos, format!("{key} appears twice")));
        }
        if v.trim().is_empty() {
            open = Some((key, pos, Vec::new(), Vec::new()));
            continue;
        }
        let at = indent + k.len() + 1;
        if flow_depth(v) > 0 {
            // `names: [a,` continues on the next lines until its brackets close.
            flow = Some(Flow {
                key,
                key_pos: pos,
                text: v.to_string(),
                pieces: vec![(0, n, line.to_string(), at)],
                depth: flow_depth(v),
                keep: true,
            });
            continue;
        }
        let value = inline_value(&ctx, v, &|o| Pos {
            line: n,
            col: col_of(line, at + o),
        })?;
        entries.push((key, value, pos));
    }
    if let Some(f) = flow {
        let open_at = f.pieces.first().map_or(f.key_pos, |(_, l, text, at)| Pos {
            line: *l,
            col: col_of(
                text,
                *at + (text[*at..].len() - text[*at..].trim_start().len()),
            ),
        });
        return Err(ctx.err(
            open_at,
            format!("{}: flow collection without its closing bracket", f.key),
        ));
    }
    close(&mut open, &mut entries)?;
    build(&ctx, entries)
}

fn build(ctx: &Ctx, entries: Vec<(String, Value, Pos)>) -> Result<DataYaml> {
    let mut out = DataYaml::default();
    let mut nc: Option<(usize, Pos)> = None;
    let mut names: Option<(Vec<String>, Pos)> = None;
    for (key, value, pos) in entries {
        match key.as_str() {
            "nc" => {
                let Value::Scalar(s, p) = value else {
                    return Err(ctx.err(pos, "nc: expected a number"));
                };
                let n: usize = s
                    .parse()
                    .ok()
                    .filter(|n| *n <= MAX_CLASSES)
                    .ok_or_else(|| {
                        ctx.err(
                            p,
                            format!("nc: {s:?} is not a class count in 0..={MAX_CLASSES}"),
                        )
                    })?;
                nc = Some((n, p));
            }
            "path" => {
                if let Value::Scalar(s, _) = value {
                    out.path = Some(s);
                }
            }
            "names" => {
                let list: Vec<String> = match value {
                    Value::List(items) => items.into_iter().map(|(s, _)| s).collect(),
                    Value::Map(items) => {
                        if items.len() > MAX_CLASSES {
                            return Err(ctx.err(pos, format!("more than {MAX_CLASSES} names")));
                        }
                        let n = items.len();
                        let mut slots: Vec<Option<String>> = vec![None; n];
                        for (k, v, p) in items {
                            let slot = k
                                .parse::<usize>()
                                .ok()
                                .and_then(|i| slots.get_mut(i))
                                .ok_or_else(|| {
                                    ctx.err(
                                        p,
                                        format!("names: key {k:?} is not a class index below {n}"),
                                    )
                                })?;
                            if slot.is_some() {
                                return Err(ctx.err(p, format!("names: class {k} appears twice")));
                            }
                            *slot = Some(v);
                        }
                        slots.into_iter().map(Option::unwrap_or_default).collect()
                    }
                    Value::Scalar(s, p) if s.is_empty() => {
                        return Err(ctx.err(p, "names: no names given"))
                    }
                    Value::Scalar(_, p) => {
                        return Err(ctx.err(p, "names: expected a list or an index map"))
                    }
                };
                if list.len() > MAX_CLASSES {
                    return Err(ctx.err(pos, format!("more than {MAX_CLASSES} names")));
                }
                names = Some((list, pos));
            }
            split => {
                let paths = match value {
                    Value::Scalar(s, p) if s.is_empty() => {
                        return Err(ctx.err(p, format!("{split}: no path given")))
                    }
                    Value::Scalar(s, _) => vec![s],
                    Value::List(items) => items.into_iter().map(|(s, _)| s).collect(),
                    Value::Map(_) => {
                        return Err(
                            ctx.err(pos, format!("{split}: expected a path or a list of paths"))
                        )
                    }
                };
                out.splits.push((split.to_string(), paths));
            }
        }
    }
    out.splits
        .sort_by_key(|(k, _)| SPLIT_KEYS.iter().position(|s| s == k));
    out.names = match (names, nc) {
        (Some((list, pos)), Some((n, _))) if list.len() != n => {
            return Err(ctx.err(
                pos,
                format!("names lists {} classes but nc says {n}", list.len()),
            ))
        }
        (Some((list, _)), _) => list,
        // Ultralytics names classes `class_<i>` when only `nc` is given.
        (None, Some((n, _))) => (0..n).map(|i| format!("class_{i}")).collect(),
        (None, None) => {
            return Err(ctx.err(
                Pos { line: 1, col: 1 },
                "no names and no nc: the classes are unknown",
            ))
        }
    };
    Ok(out)
}

/// Writes a `DataYaml` back (the fuzz target's invariant: parse → write → parse is stable).
pub fn write_data_yaml(y: &DataYaml) -> String {
    let q = super::yolo::yaml_str;
    let mut s = String::new();
    if let Some(p) = &y.path {
        let _ = writeln!(s, "path: {}", q(p));
    }
    for (k, paths) in &y.splits {
        let list: Vec<String> = paths.iter().map(|p| q(p)).collect();
        let _ = writeln!(s, "{k}: [{}]", list.join(", "));
    }
    let _ = writeln!(s, "nc: {}", y.names.len());
    if y.names.is_empty() {
        s.push_str("names: []\n");
    } else {
        s.push_str("names:\n");
        for (i, n) in y.names.iter().enumerate() {
            let _ = writeln!(s, "  {i}: {}", q(n));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(t: &str) -> Result<DataYaml> {
        parse_data_yaml(t, Path::new("data.yaml"))
    }

    #[test]
    fn reads_what_our_writer_writes() {
        let mut splits = std::collections::BTreeMap::new();
        splits.insert("train".to_string(), 2);
        splits.insert("test".to_string(), 1);
        let names = vec!["Secondary granules".to_string(), "a \"q\" b".to_string()];
        let text = super::super::yolo::data_yaml(&splits, &names);
        let y = parse(&text).expect("reads");
        assert_eq!(y.names, names);
        // No `path:`: Ultralytics roots the dataset at the folder of the file.
        assert_eq!(y.path, None);
        assert!(text.contains("validates on \"test\""), "{text}");
        assert_eq!(
            y.splits,
            [
                ("train".to_string(), vec!["images/train".to_string()]),
                ("val".to_string(), vec!["images/test".to_string()]),
                ("test".to_string(), vec!["images/test".to_string()]),
            ]
        );
    }

    #[test]
    fn reads_the_other_common_forms() {
        let y = parse("# c\ntrain: images/train  # comment\nval: [a, 'b c']\nnames: ['x', \"y\"]\ndownload: |\n  import os\n  os.system('x')\n").expect("reads");
        assert_eq!(y.names, ["x", "y"]);
        assert_eq!(y.splits[1].1, ["a", "b c"]);
        let y = parse("names:\n  - a\n  - b # two\nnc: 2\n").expect("reads");
        assert_eq!(y.names, ["a", "b"]);
        let y = parse("names: {1: b, 0: a}\n").expect("reads");
        assert_eq!(y.names, ["a", "b"]);
        let y = parse("nc: 3\n").expect("reads");
        assert_eq!(y.names, ["class_0", "class_1", "class_2"]);
    }

    #[test]
    fn errors_have_positions() {
        let e = parse("names: [a, b]\nnc: 3\n")
            .expect_err("mismatch")
            .to_string();
        assert!(
            e.starts_with("data.yaml:1:1: ") && e.contains("nc says 3"),
            "{e}"
        );
        let e = parse("nc: 99999999999\n")
            .expect_err("too many")
            .to_string();
        assert!(e.starts_with("data.yaml:1:5: "), "{e}");
        let e = parse("names:\n  0: a\n  5: b\n")
            .expect_err("gap")
            .to_string();
        assert!(e.starts_with("data.yaml:3:3: "), "{e}");
        let e = parse("names: *anchor\n").expect_err("alias").to_string();
        assert!(e.starts_with("data.yaml:1:8: "), "{e}");
        let e = parse("names: [a, \"b]\n").expect_err("quote").to_string();
        assert!(e.starts_with("data.yaml:1:"), "{e}");
        let e = parse("names:\n  0: a\nnames: [b]\n")
            .expect_err("twice")
            .to_string();
        assert!(e.starts_with("data.yaml:3:1: "), "{e}");
        assert!(parse("train: x\n").is_err(), "no classes");
    }

    /// Flow collections over several lines, as Ultralytics' own `coco.yaml`-style files and
    /// hand-edited ones write them; errors inside still point at their line and column.
    #[test]
    fn multi_line_flow_collections() {
        let y =
            parse("names: [a,\n  'b c',  # a comment\n\n  d]\ntrain: [images/t1,\nimages/t2\n]\n")
                .expect("reads");
        assert_eq!(y.names, ["a", "b c", "d"]);
        assert_eq!(y.splits[0].1, ["images/t1", "images/t2"]);
        let y = parse("names: {\n  0: x,\n  1: y,\n}\ntrain: t\n").expect("reads");
        assert_eq!(y.names, ["x", "y"]);
        // A skipped key's multi-line flow value is skipped whole, closing bracket included.
        let y = parse("train: t\nextra: [1,\n2\n]\nnames: [a]\n").expect("reads");
        assert_eq!(y.names, ["a"]);
        // A bracket inside quotes does not count.
        let y = parse("names: ['a]',\n  b]\ntrain: t\n").expect("reads");
        assert_eq!(y.names, ["a]", "b"]);
        let e = parse("names: [a,\n  b,\n  *c]\ntrain: t\n")
            .expect_err("alias on line 3")
            .to_string();
        assert!(e.starts_with("data.yaml:3:3: "), "{e}");
        let e = parse("train: t\nnames: [a,\n  b\n")
            .expect_err("never closed")
            .to_string();
        assert!(
            e.starts_with("data.yaml:2:8: ") && e.contains("closing bracket"),
            "{e}"
        );
        let e = parse("names: [a, b]]\ntrain: t\n")
            .expect_err("one too many")
            .to_string();
        assert!(e.starts_with("data.yaml:1:"), "{e}");
    }

    #[test]
    fn write_then_parse_is_stable() {
        let y = parse("path: ../p\ntrain: [a, b]\nval: v\nnames: ['it''s', \"\\u00e9\\n\"]\n")
            .expect("reads");
        let text = write_data_yaml(&y);
        let again = parse(&text).expect("reads back");
        assert_eq!(y, again);
        let y = parse("names: [\"a\\\" #b\", 'c'' #d']\n").expect("quotes with # inside");
        assert_eq!(y.names, ["a\" #b", "c' #d"]);
        let text = write_data_yaml(&y);
        let again = parse(&text).expect("reads back");
        assert_eq!(y, again);
        assert_eq!(text, write_data_yaml(&again));
    }
}
