//! Finding the annotation files of a dataset folder by their content, not their names: a
//! release holds `instances_default.json`, `annotations.xml`, `data.yaml` and others under
//! whatever names its maintainers chose.

use super::SourceFormat;
use std::path::{Path, PathBuf};

/// Only the first bytes of a file are read to tell what it holds.
const SNIFF_BYTES: usize = 4096;

/// What a file holds, judged from its first bytes.
pub(crate) fn sniff(path: &Path) -> Option<SourceFormat> {
    use std::io::Read;
    let mut head = vec![0u8; SNIFF_BYTES];
    let n = std::fs::File::open(path)
        .and_then(|mut f| f.read(&mut head))
        .ok()?;
    let text = String::from_utf8_lossy(&head[..n]);
    let t = text.trim_start_matches('\u{feff}').trim_start();
    if t.starts_with('{')
        && ["\"images\"", "\"annotations\"", "\"categories\""]
            .iter()
            .any(|k| t.contains(k))
    {
        return Some(SourceFormat::Coco);
    }
    if t.starts_with('<') && t.contains("<annotations") {
        return Some(SourceFormat::Cvat);
    }
    // An Ultralytics data.yaml: a top-level class list (`names:` or `nc:`) and a split.
    let top = |k: &str| {
        t.lines()
            .any(|l| l.strip_prefix(k).is_some_and(|r| r.starts_with(':')))
    };
    if (top("names") || top("nc")) && ["train", "val", "test"].iter().any(|k| top(k)) {
        return Some(SourceFormat::Yolo);
    }
    None
}

/// Annotation files under `dir`, by content; and the files reached through a link that
/// leads out of `dir`, which are not read (a pull request could link a secret in).
pub(crate) fn discover(dir: &Path) -> (Vec<(PathBuf, SourceFormat)>, Vec<PathBuf>) {
    let mut linked_out = Vec::new();
    let mut found: Vec<(PathBuf, SourceFormat)> = walkdir::WalkDir::new(dir)
        .follow_links(false)
        .max_depth(6)
        .into_iter()
        .flatten()
        .filter(|e| {
            let ext = e
                .path()
                .extension()
                .and_then(|x| x.to_str())
                .map(str::to_ascii_lowercase);
            matches!(ext.as_deref(), Some("json" | "xml" | "yaml" | "yml"))
        })
        .filter(|e| {
            if !e.path_is_symlink() {
                return e.file_type().is_file();
            }
            // A link is read only when it stays inside the folder.
            let inside = crate::path_safety::resolves_inside(dir, e.path());
            if !inside && std::fs::metadata(e.path()).is_ok_and(|m| m.is_file()) {
                linked_out.push(e.path().to_path_buf());
            }
            inside && e.path().is_file()
        })
        .filter_map(|e| sniff(e.path()).map(|f| (e.into_path(), f)))
        .collect();
    found.sort_by(|a, b| a.0.cmp(&b.0));
    linked_out.sort();
    (found, linked_out)
}
