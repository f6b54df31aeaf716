//! Atomic file writes: a temporary file beside the target, flushed and synced, then renamed,
//! so an interrupted run leaves either the old file or the new one, never half of one.

use crate::error::{Error, Result};
use std::io::Write;
use std::path::Path;

/// Writes `bytes` to `path` atomically, creating parent folders as needed.
pub fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    write_with(path, |w| w.write_all(bytes))
}

/// Writes through `fill` into a temporary file beside `path`, then renames it over `path`.
pub(crate) fn write_with(
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .suffix(TEMP_SUFFIX)
        .tempfile_in(dir)
        .map_err(|e| Error::io(dir, e))?;
    let _live = Live::register(tmp.path());
    {
        let mut buf = std::io::BufWriter::with_capacity(1 << 20, tmp.as_file_mut());
        fill(&mut buf).map_err(|e| Error::io(path, e))?;
        buf.flush().map_err(|e| Error::io(path, e))?;
    }
    // tempfile creates 0600 files; give the result the permissions the target had, or the
    // usual 0644 for a new file, so outputs stay readable by the user's other tools.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let perms = std::fs::metadata(path)
            .map(|m| m.permissions())
            .unwrap_or_else(|_| std::fs::Permissions::from_mode(0o644));
        tmp.as_file()
            .set_permissions(perms)
            .map_err(|e| Error::io(path, e))?;
    }
    tmp.as_file().sync_all().map_err(|e| Error::io(path, e))?;
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    notify_written(path);
    Ok(())
}

/// Makes `path` through `make`, which fills a temporary file beside it (given its path; the
/// file exists and is empty), then renames the result over `path`. For outputs made by a
/// system call rather than written (a copy, a symbolic link).
pub(crate) fn replace_with(
    path: &Path,
    make: impl FnOnce(&Path) -> std::io::Result<()>,
) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let tmp = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .suffix(TEMP_SUFFIX)
        .tempfile_in(dir)
        .map_err(|e| Error::io(dir, e))?
        .into_temp_path();
    let _live = Live::register(&tmp);
    make(&tmp).map_err(|e| Error::io(path, e))?;
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    notify_written(path);
    Ok(())
}

/// Who is told of each file put in place. `output_dir` installs itself here when a run opens
/// an output folder, so that its manifest lists what the run wrote; the hook points upwards
/// so that this module, the lowest writer, depends on nothing above it.
static WRITTEN_OBSERVER: std::sync::OnceLock<fn(&Path)> = std::sync::OnceLock::new();

/// Installs the function told of every file this module puts in place (the first one
/// installed stays: there is one manifest keeper per process).
pub(crate) fn observe_written(observer: fn(&Path)) {
    let _ = WRITTEN_OBSERVER.set(observer);
}

/// Tells the observer, if any, that `path` is now in place.
fn notify_written(path: &Path) {
    if let Some(observer) = WRITTEN_OBSERVER.get() {
        observer(path);
    }
}

/// Temporary files being written now, so that a SIGINT or SIGTERM can remove them
/// ([`install_signal_cleanup`]); a SIGKILL cannot be caught, and its leftovers are removed by
/// the next run into that folder ([`remove_stale_temps`]).
static LIVE_TEMPS: std::sync::Mutex<Vec<std::path::PathBuf>> = std::sync::Mutex::new(Vec::new());

/// A temporary file's entry in [`LIVE_TEMPS`], removed when it is dropped (after the rename,
/// or after the temporary file itself is gone).
struct Live(std::path::PathBuf);

impl Live {
    fn register(path: &Path) -> Live {
        let mut live = LIVE_TEMPS.lock().unwrap_or_else(|e| e.into_inner());
        live.push(path.to_path_buf());
        Live(path.to_path_buf())
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        let mut live = LIVE_TEMPS.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(i) = live.iter().position(|p| *p == self.0) {
            live.swap_remove(i);
        }
    }
}

/// On SIGINT, SIGTERM or SIGHUP (`ctrlc` with its `termination` feature): remove every
/// temporary file being written, then exit with 130, so an interrupted run leaves no
/// `.neutrostruct-*.tmp` (up to tens of MB each) behind. The binary installs it once; a
/// library user (the Python package) keeps its own signal handling.
#[cfg(feature = "cli")]
pub fn install_signal_cleanup() {
    let _ = ctrlc::set_handler(|| {
        let live = LIVE_TEMPS.lock().unwrap_or_else(|e| e.into_inner());
        for p in live.iter() {
            let _ = std::fs::remove_file(p);
        }
        std::process::exit(130);
    });
}

/// How temporary files are named (`.neutrostruct-XXXXXX.tmp`), so that a later run can tell
/// them from anything else in an output folder.
pub(crate) const TEMP_PREFIX: &str = ".neutrostruct-";
pub(crate) const TEMP_SUFFIX: &str = ".tmp";

/// Removes the temporary files a killed run left in `dir` (in its subfolders too when
/// `recursive`, never following links). Called once by each command before it writes into an output folder; only files
/// named like ours are touched.
pub(crate) fn remove_stale_temps(dir: &Path, recursive: bool) -> usize {
    let mut removed = 0;
    for e in walkdir::WalkDir::new(dir)
        .max_depth(if recursive { usize::MAX } else { 1 })
        .follow_links(false)
        .into_iter()
        .flatten()
    {
        let name = e.file_name().to_string_lossy();
        if e.file_type().is_file()
            && name.starts_with(TEMP_PREFIX)
            && name.ends_with(TEMP_SUFFIX)
            && std::fs::remove_file(e.path()).is_ok()
        {
            removed += 1;
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    #[test]
    fn writes_and_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/out.txt");
        super::write(&p, b"one").unwrap();
        super::write(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        let leftovers = std::fs::read_dir(p.parent().unwrap()).unwrap().count();
        assert_eq!(leftovers, 1, "no temporary file is left behind");
    }

    #[test]
    fn stale_temps_are_removed_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("labels/train");
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::write(sub.join(".neutrostruct-abc123.tmp"), b"half").unwrap();
        std::fs::write(sub.join("a.txt"), b"keep").unwrap();
        assert_eq!(super::remove_stale_temps(dir.path(), false), 0);
        assert_eq!(super::remove_stale_temps(dir.path(), true), 1);
        assert!(sub.join("a.txt").exists());
    }

    #[test]
    fn replace_with_renames_over_the_target() {
        let dir = tempfile::tempdir().unwrap();
        let dst = dir.path().join("img/a.png");
        super::write(&dst, b"old").unwrap();
        super::replace_with(&dst, |tmp| std::fs::write(tmp, b"new")).unwrap();
        assert_eq!(std::fs::read(&dst).unwrap(), b"new");
        assert_eq!(std::fs::read_dir(dst.parent().unwrap()).unwrap().count(), 1);
    }
}
