//! Where the rules look for an image or mask file named in the data, and how they match
//! images across formats. Nothing here opens a file reached through a link that leads out
//! of its folder.

use crate::path_safety::unsafe_reason;
use std::path::{Path, PathBuf};

/// Where an image (or mask) named `name` is looked for under `dir`: the name as given, then
/// its last component. `None` for unsafe names. A file there that is (or sits under) a link
/// leading out of the folder is left out: it is never opened (a pull request could point
/// `images/a.tif` at a secret), and this rule reports it.
pub(crate) fn candidates(dir: &Path, name: &str) -> Option<Vec<PathBuf>> {
    let mut v = candidate_paths(dir, name)?;
    v.retain(|p| !leads_out(dir, p));
    Some(v)
}

/// [`candidates`] before links are checked.
pub(crate) fn candidate_paths(dir: &Path, name: &str) -> Option<Vec<PathBuf>> {
    if unsafe_reason(name).is_some() {
        return None;
    }
    let rel: PathBuf = name
        .split(['/', '\\'])
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    let mut v = vec![dir.join(&rel)];
    if let Some(base) = rel.file_name() {
        let b = dir.join(base);
        if b != v[0] {
            v.push(b);
        }
    }
    Some(v)
}

/// Whether `path` exists under `dir` but, links followed, lies outside it.
pub(crate) fn leads_out(dir: &Path, path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok() && !crate::path_safety::resolves_inside(dir, path)
}

/// File name without folders, how images are matched across formats.
pub(crate) fn image_key(name: &str) -> &str {
    name.rsplit(['/', '\\']).next().unwrap_or(name)
}

/// Width and height from the file's header, without decoding the pixels.
pub(crate) fn header_size(path: &std::path::Path) -> Result<(u32, u32), String> {
    image::ImageReader::open(path)
        .map_err(|e| e.to_string())?
        .with_guessed_format()
        .map_err(|e| e.to_string())?
        .into_dimensions()
        .map_err(|e| e.to_string())
}
