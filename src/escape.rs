//! One escaping rule per output syntax. Every writer of a syntax calls the function here
//! instead of its own, so a fix to one rule reaches every output of that syntax.
//!
//! Nothing in a data file is trusted (annotation files arrive in pull requests): image names,
//! label names, subsets and attribute values may hold newlines, terminal escape sequences,
//! GitHub workflow commands, Markdown, HTML or spreadsheet formulas. Each function below makes
//! data inert in one syntax; none of them is a sanitiser for another syntax.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Characters a terminal, a CI log or a text viewer may act on rather than show: C0 and C1
/// controls, DEL, and the Unicode format characters that reorder or break lines (bidi
/// overrides and isolates, which can make a shown name differ from the real one; line and
/// paragraph separators).
pub(crate) fn is_invisible_control(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2028}' | '\u{2029}' | '\u{2066}'..='\u{2069}'
        )
}

/// How an invisible character is shown: `\n`, `\r`, `\t`, `\x1b` (ASCII), `\u{202e}` (other).
fn push_visible(c: char, out: &mut String) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c if (c as u32) < 0x80 => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        c => {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
    }
}

/// A piece of data inside a line that a person or a CI runner reads (the text report, `diff`'s
/// text, messages on standard error).
///
/// - Control characters are shown, not sent: ESC, BEL, OSC sequences would retitle or clear a
///   terminal, and a newline would start a line the data chooses.
/// - A piece that starts (after white space, which the GitHub runner trims) with `::` would be
///   a workflow command if it began a line; its first `:` is shown as `\x3a`.
/// - `##[` anywhere in a line is the runner's older command syntax; its second `#` is shown as
///   `\x23`.
pub fn text(s: &str) -> Cow<'_, str> {
    let trimmed = s.trim_start();
    let leading_command = trimmed.starts_with("::");
    if !leading_command && !s.contains("##[") && !s.chars().any(is_invisible_control) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    let command_at = leading_command.then(|| s.len() - trimmed.len());
    let mut rest = s;
    let mut at = 0;
    while let Some(c) = rest.chars().next() {
        if Some(at) == command_at {
            out.push_str("\\x3a");
        } else if rest.starts_with("##[") {
            out.push_str("#\\x23");
            rest = &rest[2..];
            at += 2;
            continue;
        } else if is_invisible_control(c) {
            push_visible(c, &mut out);
        } else {
            out.push(c);
        }
        rest = &rest[c.len_utf8()..];
        at += c.len_utf8();
    }
    Cow::Owned(out)
}

/// A whole block of lines for a person or a CI log, where the line breaks are ours but the
/// text may hold data that was not escaped piece by piece (an error message naming a file):
/// each line goes through [`text`], so no line starts a workflow command and no control
/// character reaches the terminal.
pub fn text_block(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for (i, line) in s.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&text(line));
    }
    out
}

/// The message (data) of a GitHub workflow command, escaped as the runner unescapes it:
/// `%` → `%25`, `\r` → `%0D`, `\n` → `%0A`. Other control characters are shown as in [`text`]
/// (the runner would pass them to the log viewer).
pub(crate) fn github_data(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '%' => out.push_str("%25"),
            '\r' => out.push_str("%0D"),
            '\n' => out.push_str("%0A"),
            c if is_invisible_control(c) => push_visible(c, &mut out),
            c => out.push(c),
        }
    }
    out
}

/// A property value of a GitHub workflow command (`file=`, `title=`): as [`github_data`], and
/// `:` → `%3A`, `,` → `%2C`, which would otherwise end the properties or the value.
pub(crate) fn github_property(s: &str) -> String {
    github_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// Data as a Markdown code span (CommonMark): inside one, Markdown, HTML, autolinks and
/// `@mentions` are shown as typed. Control characters and newlines are shown as in [`text`],
/// so the span can never end a heading, a list item or a paragraph. The fence is one backtick
/// longer than the longest run of backticks in the data.
pub(crate) fn markdown_code(s: &str) -> String {
    if s.is_empty() {
        return "` `".to_string();
    }
    let visible = text(s);
    let mut longest = 0;
    let mut run = 0;
    for c in visible.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    let fence = "`".repeat(longest + 1);
    // CommonMark strips one space from each end of a span that starts and ends with one, and
    // a backtick at an edge would join the fence: pad both cases.
    let pad = visible.starts_with('`')
        || visible.ends_with('`')
        || (visible.starts_with(' ') && visible.ends_with(' '));
    let sp = if pad { " " } else { "" };
    format!("{fence}{sp}{visible}{sp}{fence}")
}

/// Data as a code span inside a GitHub-flavoured Markdown table cell: as [`markdown_code`], with
/// `|` escaped, because the table splits cells on `|` before code spans are read (even inside
/// one, `\|` is shown as `|`).
pub(crate) fn markdown_cell_code(s: &str) -> String {
    markdown_code(s).replace('|', "\\|")
}

/// A character XML 1.0 can hold (its `Char` production): tab, LF, CR, and everything from
/// U+0020 except the surrogates (absent from Rust strings) and U+FFFE/U+FFFF. Not even a
/// character reference may name the others (`&#1;` is not well-formed XML 1.0).
pub(crate) fn xml_char_allowed(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{fffe}' && c != '\u{ffff}')
}

/// The first character of `s` that XML 1.0 cannot hold, for a writer that refuses such data.
pub fn xml_forbidden_char(s: &str) -> Option<char> {
    s.chars().find(|&c| !xml_char_allowed(c))
}

/// Text content or a double-quoted attribute value for XML 1.0, escaping markup and the white
/// space that attribute normalisation would turn into spaces (`'` needs no escape: our
/// writers always quote attributes with `"`). Characters XML 1.0 cannot hold are shown
/// as in [`text`] (`\x01`): for reports (JUnit, SVG labels), where a readable report beats a
/// refused one. Writers of data files (CVAT, VOC) refuse such names instead, with
/// [`xml_forbidden_char`].
pub fn xml(s: &str) -> Cow<'_, str> {
    if !s
        .chars()
        .any(|c| matches!(c, '&' | '<' | '>' | '"' | '\n' | '\r' | '\t') || !xml_char_allowed(c))
    {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            c if !xml_char_allowed(c) => push_visible(c, &mut out),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// A YAML double-quoted scalar: the only YAML style in which every string, with newlines,
/// `#`, `: ` or a leading `-`, stays one scalar and cannot add keys. Escapes as YAML 1.2
/// defines them (`\"`, `\\`, `\n`, `\uNNNN`, the forms our own `data.yaml` reader knows); non-printable characters are escaped
/// because YAML forbids them raw.
pub(crate) fn yaml_quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\0' => out.push_str("\\0"),
            c if is_invisible_control(c)
                || c == '\u{feff}'
                || c == '\u{fffe}'
                || c == '\u{ffff}' =>
            {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Why a label name cannot be a line of a CVAT/VOC `labelmap.txt` (`name:r,g,b:parts:actions`,
/// one label a line, no quoting): a `:` would shift the colour field, a line break would add a
/// label.
pub(crate) fn labelmap_name_problem(name: &str) -> Option<&'static str> {
    if name.contains(':') {
        Some("holds ':', the labelmap.txt field separator")
    } else if name.contains(['\n', '\r']) {
        Some("holds a line break")
    } else if name.chars().any(is_invisible_control) {
        Some("holds a control character")
    } else if name.trim_start().starts_with('#') {
        Some("starts with '#', which makes the line a comment")
    } else if name.trim() != name {
        Some("starts or ends with spaces, which a reader trims away")
    } else if name == "background" {
        Some("is `background`, the name labelmap.txt reserves for the background colour")
    } else {
        None
    }
}

/// A CSV cell that a spreadsheet would run as a formula gets a leading `'`: cells starting
/// with `=`, `+`, `-`, `@`, tab or CR (OWASP's list). A cell that reads as a number (`-3.5`,
/// `+1e3`) is left alone: our own tables and the tools reading them need negative numbers,
/// and a number is never a formula.
pub(crate) fn csv_cell(s: &str) -> Cow<'_, str> {
    let risky = s.starts_with(['=', '+', '-', '@', '\t', '\r']);
    if !risky || s.parse::<f64>().is_ok_and(f64::is_finite) {
        return Cow::Borrowed(s);
    }
    Cow::Owned(format!("'{s}"))
}

/// Text content or a double-quoted attribute value in HTML: markup characters become
/// character references, so data can neither open a tag nor end an attribute. `'` is escaped
/// too, so the value is also safe in a single-quoted attribute. Control characters are
/// shown as in [`text`] (HTML forbids most of them raw, and a reader should see them).
pub fn html(s: &str) -> Cow<'_, str> {
    if !s
        .chars()
        .any(|c| matches!(c, '&' | '<' | '>' | '"' | '\'') || is_invisible_control(c))
    {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if is_invisible_control(c) => push_visible(c, &mut out),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// JSON text that sits inside an HTML `<script type="application/json">` element: `<`, `>`
/// and `&` are written as `\u003c`, `\u003e`, `\u0026`, so no `</script>` or `<!--` in the data
/// can end or change the element. Only valid for JSON, where these characters can occur
/// only inside strings (where the escapes mean the same characters).
pub(crate) fn json_in_html_script(json: &str) -> String {
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            c => out.push(c),
        }
    }
    out
}

/// A relative file path as the path of a URL: every byte but the unreserved characters
/// (RFC 3986) and `/` is percent-encoded, so a file name can add neither a query, a
/// fragment, a scheme nor `..` tricks through encoded separators.
pub(crate) fn url_path(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_makes_markup_inert() {
        assert_eq!(
            html("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
        assert_eq!(html("a\nb\u{202e}"), "a\\nb\\u{202e}");
        assert!(matches!(html("plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn json_in_script_cannot_end_the_element() {
        let j = serde_json::to_string("</script><!-- & -->").unwrap();
        let e = json_in_html_script(&j);
        assert!(!e.contains('<') && !e.contains('>') && !e.contains('&'));
        let back: String = serde_json::from_str(&e).unwrap();
        assert_eq!(back, "</script><!-- & -->");
    }

    #[test]
    fn url_path_encodes_all_but_unreserved_and_slash() {
        assert_eq!(url_path("data/a b.json"), "data/a%20b.json");
        assert_eq!(url_path("x\"><?#%:"), "x%22%3E%3C%3F%23%25%3A");
        assert_eq!(url_path("é"), "%C3%A9");
    }

    #[test]
    fn text_shows_controls_and_breaks_commands() {
        assert_eq!(text("a.tif"), "a.tif");
        assert_eq!(text("x\n::warning::y"), "x\\n::warning::y");
        assert_eq!(text("::error::y"), "\\x3a:error::y");
        assert_eq!(text("  ::error::y"), "  \\x3a:error::y");
        assert_eq!(text("\u{1b}]0;t\u{7}"), "\\x1b]0;t\\x07");
        assert_eq!(text("a ##[error]b"), "a #\\x23[error]b");
        assert_eq!(text("\u{202e}gpj.exe"), "\\u{202e}gpj.exe");
        assert_eq!(text("\0"), "\\x00");
    }

    #[test]
    fn text_block_keeps_our_lines_and_guards_each() {
        assert_eq!(text_block("a\n::warning::b\nc"), "a\n\\x3a:warning::b\nc");
    }

    #[test]
    fn github_escapes_as_the_runner_unescapes() {
        assert_eq!(github_data("50%\r\n::x"), "50%25%0D%0A::x");
        assert_eq!(github_property("a:b,c%"), "a%3Ab%2Cc%25");
        assert_eq!(github_data("\u{1b}"), "\\x1b");
    }

    #[test]
    fn markdown_code_spans_hold_any_backticks() {
        assert_eq!(markdown_code("a"), "`a`");
        assert_eq!(markdown_code("a`b"), "``a`b``");
        assert_eq!(markdown_code("`a"), "`` `a ``");
        assert_eq!(markdown_code(""), "` `");
        assert_eq!(markdown_code("x\n## LGTM"), "`x\\n## LGTM`");
        assert_eq!(markdown_cell_code("a|b"), "`a\\|b`");
    }

    #[test]
    fn xml_encodes_markup_and_shows_forbidden_chars() {
        assert_eq!(xml("a<b>&\"'"), "a&lt;b&gt;&amp;&quot;'");
        assert_eq!(xml("a\u{1}\0b\n"), "a\\x01\\x00b&#10;");
        assert_eq!(xml_forbidden_char("ok\u{1}"), Some('\u{1}'));
        assert_eq!(xml_forbidden_char("tab\tok"), None);
    }

    #[test]
    fn yaml_quoted_is_one_scalar() {
        assert_eq!(yaml_quoted("a\nval: x"), "\"a\\nval: x\"");
        assert_eq!(yaml_quoted("q\"\\"), "\"q\\\"\\\\\"");
        assert_eq!(yaml_quoted("\u{1}"), "\"\\u0001\"");
    }

    #[test]
    fn labelmap_names_refuse_separators() {
        assert!(labelmap_name_problem("Primary granules").is_none());
        assert!(labelmap_name_problem("a:b").is_some());
        assert!(labelmap_name_problem("a\nb:0,0,0::").is_some());
        assert!(labelmap_name_problem("# x").is_some());
    }

    #[test]
    fn csv_guards_formulas_not_numbers() {
        assert_eq!(csv_cell("=cmd|' /C calc'!A0"), "'=cmd|' /C calc'!A0");
        assert_eq!(csv_cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_cell("-2+3"), "'-2+3");
        assert_eq!(csv_cell("-3.5"), "-3.5");
        assert_eq!(csv_cell("+1e3"), "+1e3");
        assert_eq!(csv_cell("-inf"), "'-inf");
        assert_eq!(csv_cell("name"), "name");
    }
}
