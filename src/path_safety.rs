//! Whether a name taken from a data file may become a path. Annotation files arrive in pull
//! requests: an image name, label or subset that holds a separator, `..`, a drive prefix or a
//! control character would make a reader open, or a writer create, a file outside the folder
//! it was given (or a folder name that breaks every script listing it). Readers and writers
//! call these predicates directly; the `unsafe-path` rule reports what they refuse.

/// Why a relative file name from a data file (`images/a.tif`, `sub\b.png`) must not be
/// opened under a dataset folder, if it must not: a NUL byte, an absolute path (`/x`, `\x`,
/// `C:x`, `\\server\x`), or `..` climbing above the folder. Both separators count: a Windows
/// path written into a dataset file is still a path.
pub(crate) fn unsafe_reason(name: &str) -> Option<&'static str> {
    if name.contains('\0') {
        return Some("holds a NUL byte");
    }
    if name.starts_with(['/', '\\']) || has_drive_prefix(name) {
        return Some("is absolute");
    }
    let mut depth: i64 = 0;
    for part in name.split(['/', '\\']) {
        match part {
            "" | "." => {}
            ".." => {
                depth -= 1;
                if depth < 0 {
                    return Some("escapes the dataset root");
                }
            }
            _ => depth += 1,
        }
    }
    None
}

/// `C:` at the start: a Windows drive, absolute or drive-relative, either way not ours.
fn has_drive_prefix(name: &str) -> bool {
    let b = name.as_bytes();
    b.len() >= 2 && b[1] == b':' && b[0].is_ascii_alphabetic()
}

/// Why `s` cannot be one file or folder name that we create (a split folder, a label-file
/// stem), if it cannot: empty, `.`/`..`, a separator of either system, a drive prefix, or a
/// control character (a newline in a folder name breaks every list of files and every
/// `data.yaml` that names it).
pub(crate) fn component_problem(s: &str) -> Option<&'static str> {
    if s.is_empty() {
        Some("is empty")
    } else if s == "." || s == ".." {
        Some("is . or ..")
    } else if s.chars().any(crate::escape::is_invisible_control) {
        Some("holds a control character")
    } else if s.contains(['/', '\\']) {
        Some("holds a path separator")
    } else if has_drive_prefix(s) {
        Some("starts with a drive prefix")
    } else {
        None
    }
}

/// The file stem to write an image's outputs under (`labels/<split>/<stem>.txt`,
/// `Annotations/<stem>.xml`): the stem of the last component of `file_name`, split at both
/// separators. `None` when the name is unsafe ([`unsafe_reason`]), holds `..` at all (a
/// writer has no business resolving it), or the stem is not a safe component.
pub(crate) fn output_stem(file_name: &str) -> Option<&str> {
    if unsafe_reason(file_name).is_some() || file_name.split(['/', '\\']).any(|p| p == "..") {
        return None;
    }
    let last = file_name.rsplit(['/', '\\']).next()?;
    let stem = match last.rfind('.') {
        Some(0) | None => last,
        Some(dot) => &last[..dot],
    };
    component_problem(stem).is_none().then_some(stem)
}

/// Whether `path`, with every link followed, lies inside `root` (with its links followed).
/// A file reached through a link out of a dataset folder is neither read nor copied.
pub(crate) fn resolves_inside(root: &std::path::Path, path: &std::path::Path) -> bool {
    match (std::fs::canonicalize(root), std::fs::canonicalize(path)) {
        (Ok(r), Ok(p)) => p.starts_with(r),
        _ => false,
    }
}

/// Finds the image file for `file_name` (a name from the data) under `dir`: the name as
/// given, else by file stem with any extension. A name that could leave `dir` finds nothing.
pub(crate) fn find_image(dir: &std::path::Path, file_name: &str) -> Option<std::path::PathBuf> {
    let p = std::path::Path::new(file_name);
    if unsafe_reason(file_name).is_some()
        || p.is_absolute()
        || p.components()
            .any(|c| matches!(c, std::path::Component::ParentDir))
    {
        return None;
    }
    let direct = dir.join(p);
    if direct.is_file() {
        return Some(direct);
    }
    let name_only = dir.join(p.file_name()?);
    if name_only.is_file() {
        return Some(name_only);
    }
    let stem = p.file_stem()?.to_str()?;
    std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .find(|q| q.is_file() && q.file_stem().and_then(|s| s.to_str()) == Some(stem))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsafe_names() {
        for n in [
            "/etc/passwd",
            "\\x",
            "C:\\win",
            "c:x",
            "../a",
            "a/../../b",
            "a\0b",
        ] {
            assert!(unsafe_reason(n).is_some(), "{n:?}");
        }
        for n in ["a.tif", "sub/a.tif", "x/../b.tif", "sub\\a.tif"] {
            assert!(unsafe_reason(n).is_none(), "{n:?}");
        }
    }

    #[test]
    fn components() {
        for n in [
            "",
            ".",
            "..",
            "a/b",
            "..\\..\\x",
            "C:\\x",
            "C:",
            "val\ndownload: x",
            "\u{1b}",
        ] {
            assert!(component_problem(n).is_some(), "{n:?}");
        }
        for n in ["train", "val 2", "a.b", "ünïcode"] {
            assert!(component_problem(n).is_none(), "{n:?}");
        }
    }

    #[test]
    fn stems() {
        assert_eq!(output_stem("a.tif"), Some("a"));
        assert_eq!(output_stem("sub/a.b.tif"), Some("a.b"));
        assert_eq!(output_stem("sub\\a.tif"), Some("a"));
        assert_eq!(output_stem(".hidden"), Some(".hidden"));
        assert_eq!(output_stem("..\\..\\x.png"), None);
        assert_eq!(output_stem("C:\\x.png"), None);
        assert_eq!(output_stem("a/../b.png"), None);
        assert_eq!(output_stem("x\n::warning::y.png"), None);
        assert_eq!(output_stem("dir/"), None);
    }
}
