//! Inputs are never written: every command checks its output paths against its input paths
//! before it reads anything. An output that is an input, lies inside an input folder, or holds
//! an input (an output folder is replaced, which would delete the input) is refused, whatever
//! the spelling: paths are compared after resolving links (`canonicalize`), and existing files
//! also by (device, inode), which catches hard links.

use crate::error::{Error, Result};
use std::path::{Component, Path, PathBuf};

/// The path as the file system will resolve it: an existing path canonicalised (links
/// followed), a path to be created resolved through its nearest existing ancestor.
fn resolve(p: &Path) -> Option<PathBuf> {
    let abs = if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir().ok()?.join(p)
    };
    let mut existing = abs.as_path();
    let mut rest: Vec<Component<'_>> = Vec::new();
    loop {
        if existing.symlink_metadata().is_ok() {
            break;
        }
        rest.push(existing.components().next_back()?);
        existing = existing.parent()?;
    }
    let mut out = std::fs::canonicalize(existing).ok()?;
    for c in rest.into_iter().rev() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    Some(out)
}

#[cfg(unix)]
fn file_id(p: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(p).ok()?;
    Some((m.dev(), m.ino()))
}

#[cfg(not(unix))]
fn file_id(_: &Path) -> Option<(u64, u64)> {
    None
}

/// Refuses the run when an output (`(flag, path)`) and an input overlap (see the module
/// documentation), then removes the temporary files a killed run left in the output folders
/// (`atomic::remove_stale_temps`; beside an output file, only that folder's own). Inputs that
/// do not exist are skipped: reading them fails later, with its own message.
pub(crate) fn prepare_outputs(inputs: &[(&str, &Path)], outputs: &[(&str, &Path)]) -> Result<()> {
    for &(out_flag, out) in outputs {
        let Some(out_real) = resolve(out) else {
            continue;
        };
        let out_id = file_id(out);
        for &(in_flag, input) in inputs {
            if input.symlink_metadata().is_err() {
                continue;
            }
            let Some(in_real) = resolve(input) else {
                continue;
            };
            let why = if out_real == in_real || (out_id.is_some() && out_id == file_id(input)) {
                "is the input"
            } else if out_real.starts_with(&in_real) {
                "lies inside the input folder"
            } else if in_real.starts_with(&out_real) {
                "holds the input"
            } else {
                continue;
            };
            return Err(Error::Usage(format!(
                "{out_flag} {} {why} {in_flag} {}: inputs are never written; choose another output",
                out.display(),
                input.display()
            )));
        }
    }
    for &(_, out) in outputs {
        if out.is_dir() {
            crate::atomic::remove_stale_temps(out, true);
        } else if let Some(dir) = out.parent().filter(|d| d.is_dir()) {
            crate::atomic::remove_stale_temps(dir, false);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlaps_are_refused_through_links() {
        let t = tempfile::tempdir().unwrap();
        let data = t.path().join("data");
        std::fs::create_dir(&data).unwrap();
        let input = data.join("in.json");
        std::fs::write(&input, "{}").unwrap();
        let same = [("--coco", input.as_path())];
        assert!(prepare_outputs(&same, &[("-o", &input)]).is_err());
        assert!(prepare_outputs(&same, &[("-o", &data.join("./../data/in.json"))]).is_err());
        assert!(
            prepare_outputs(&same, &[("-o", &data)]).is_err(),
            "holds the input"
        );
        let dir_in = [("--images", data.as_path())];
        assert!(prepare_outputs(&dir_in, &[("--out", &data.join("new/sub"))]).is_err());
        let hard = t.path().join("hard.json");
        std::fs::hard_link(&input, &hard).unwrap();
        assert!(
            prepare_outputs(&same, &[("-o", &hard)]).is_err(),
            "hard link"
        );
        #[cfg(unix)]
        {
            let link = t.path().join("link");
            std::os::unix::fs::symlink(&data, &link).unwrap();
            assert!(prepare_outputs(&dir_in, &[("--out", &link.join("x"))]).is_err());
        }
        let elsewhere = t.path().join("out");
        assert!(prepare_outputs(&same, &[("-o", &elsewhere)]).is_ok());
        assert!(prepare_outputs(&dir_in, &[("-o", &elsewhere.join("r.txt"))]).is_ok());
    }
}
