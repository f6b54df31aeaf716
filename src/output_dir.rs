//! Output folders: created fresh, or folders this tool wrote before.
//!
//! A command that writes a folder (a YOLO or VOC export, masks, overlays, `synth`) would
//! otherwise mix old and new files when it is run again into the same folder: a second
//! `--split` leaves the first split's label files behind, and a training run reads both. So
//! every such folder gets a small manifest, [`MANIFEST_NAME`], listing the files this tool
//! wrote there. A run into a folder is accepted when the folder is missing, empty, or holds
//! our manifest; after a successful run the files the old manifest listed that were not
//! written again are removed. Any other folder is refused unless the caller allows it
//! explicitly, and even then nothing is removed that a valid manifest did not list.
//!
//! Which files a run wrote is learned from [`crate::atomic`]: every output file goes through
//! it, and once a folder is opened here it reports each finished file to [`note_written`]
//! (`atomic::observe_written`), so no writer needs to keep a list of its own.
//!
//! Removal never follows links: a listed path is removed only when every folder on its way
//! is a real folder inside the output folder, and the entry itself is a file or a link (the
//! link, never what it names, is removed). A manifest naming `..`, an absolute path or
//! anything else that is not a plain relative path is not ours: the folder is refused as
//! foreign.

use crate::error::{Error, Result};
use std::collections::HashSet;
use std::path::{Component, Path, PathBuf};
use std::sync::Mutex;

/// The manifest's file name, at the top of the output folder.
pub(crate) const MANIFEST_NAME: &str = ".neutrostruct-manifest.json";

/// The `tool` field of our manifests; a manifest with another is not ours.
const TOOL: &str = "neutrostruct";

/// Largest manifest read (512 MiB, some ten million paths: a YOLO export of a million
/// images lists two million files, about 70 MB); a bigger one is not ours.
pub(crate) const MAX_MANIFEST_BYTES: u64 = 512 * 1024 * 1024;

#[derive(serde::Serialize, serde::Deserialize)]
struct Manifest {
    tool: String,
    version: String,
    files: Vec<String>,
}

/// What an output folder is, before anything is written into it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum State {
    /// Missing, or empty (temporary files a killed run left do not count).
    Fresh,
    /// Holds our manifest; the files it lists (checked to be plain relative paths).
    Ours(Vec<String>),
    /// Anything else: why the folder is not ours.
    Foreign(String),
}

/// Looks at `root` without changing it. An error only when it cannot be looked at, or is
/// not a folder at all (a file there would make every write fail later, less clearly).
pub(crate) fn inspect(root: &Path) -> Result<State> {
    // A folder reached through a link writes wherever the link points: refused, so that an
    // output path can never be turned into a write outside what the user named.
    if std::fs::symlink_metadata(root).is_ok_and(|m| m.file_type().is_symlink()) {
        return Ok(State::Foreign(
            "is a link; output is written only into a real folder".into(),
        ));
    }
    let meta = match std::fs::metadata(root) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(State::Fresh),
        Err(e) => return Err(Error::io(root, e)),
    };
    if !meta.is_dir() {
        return Err(Error::invalid(
            root,
            "exists and is not a folder; an output folder is needed",
        ));
    }
    let manifest = root.join(MANIFEST_NAME);
    match std::fs::symlink_metadata(&manifest) {
        Ok(m) if m.is_file() => {
            return Ok(match read_manifest(&manifest) {
                State::Ours(files) => match linked_folder_inside(root) {
                    Some(link) => State::Foreign(format!(
                        "holds {link:?}, a link to a folder; writing through it would write outside"
                    )),
                    None => State::Ours(files),
                },
                other => other,
            })
        }
        Ok(_) => {
            return Ok(State::Foreign(format!(
                "its {MANIFEST_NAME} is not a plain file"
            )))
        }
        Err(_) => {}
    }
    let mut entries = std::fs::read_dir(root).map_err(|e| Error::io(root, e))?;
    let other = entries.find_map(|e| {
        let e = e.ok()?;
        let name = e.file_name();
        let name = name.to_string_lossy();
        let ours_temp = name.starts_with(crate::atomic::TEMP_PREFIX)
            && name.ends_with(crate::atomic::TEMP_SUFFIX);
        (!ours_temp).then(|| name.into_owned())
    });
    Ok(match other {
        None => State::Fresh,
        Some(name) => State::Foreign(format!(
            "is not empty (it holds {name:?}) and holds no {MANIFEST_NAME}: it was not written by this tool"
        )),
    })
}

/// The first link under `root` (not followed) that leads to a folder: this tool never makes
/// one (its image links name files), so one there was put by someone else.
fn linked_folder_inside(root: &Path) -> Option<String> {
    walkdir::WalkDir::new(root)
        .follow_links(false)
        .into_iter()
        .flatten()
        .find(|e| e.path_is_symlink() && e.path().is_dir())
        .map(|e| {
            e.path()
                .strip_prefix(root)
                .unwrap_or(e.path())
                .display()
                .to_string()
        })
}

fn read_manifest(path: &Path) -> State {
    use std::io::Read;
    let mut bytes = Vec::new();
    let read = std::fs::File::open(path)
        .and_then(|f| f.take(MAX_MANIFEST_BYTES + 1).read_to_end(&mut bytes));
    if read.is_err() || bytes.len() as u64 > MAX_MANIFEST_BYTES {
        return State::Foreign(format!("its {MANIFEST_NAME} cannot be read"));
    }
    let m: Manifest = match serde_json::from_slice(&bytes) {
        Ok(m) => m,
        Err(_) => return State::Foreign(format!("its {MANIFEST_NAME} is not one of ours")),
    };
    if m.tool != TOOL {
        return State::Foreign(format!("its {MANIFEST_NAME} is not one of ours"));
    }
    if let Some(bad) = m.files.iter().find(|f| !plain_relative(f)) {
        return State::Foreign(format!(
            "its {MANIFEST_NAME} lists {bad:?}, which is not a plain path inside the folder"
        ));
    }
    State::Ours(m.files)
}

/// A path we could have written: `/`-separated normal components only (no `..`, `.`, empty
/// part, absolute start, backslash, drive prefix or control character), not the manifest.
fn plain_relative(s: &str) -> bool {
    !s.is_empty()
        && s != MANIFEST_NAME
        && s.split('/')
            .all(|part| crate::path_safety::component_problem(part).is_none())
}

/// One run's output folder: opened before writing, finished after.
pub(crate) struct OutputDir {
    root: PathBuf,
    id: u64,
    /// What the previous manifest listed (empty for a fresh or foreign folder).
    previous: Vec<String>,
    finished: bool,
}

/// Runs writing now, and the files each wrote ([`note_written`]). A process-wide list rather
/// than something passed to every writer: writers run on several threads and in library code
/// that knows nothing of manifests.
static SESSIONS: Mutex<Vec<Session>> = Mutex::new(Vec::new());
static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

struct Session {
    id: u64,
    root: PathBuf,
    /// `root` with links resolved, for writers that name files through another spelling.
    real_root: Option<PathBuf>,
    written: HashSet<String>,
}

fn sessions() -> std::sync::MutexGuard<'static, Vec<Session>> {
    SESSIONS.lock().unwrap_or_else(|e| e.into_inner())
}

/// Called by [`crate::atomic`] for every file it has put in place (installed by
/// [`OutputDir::open`]).
pub(crate) fn note_written(path: &Path) {
    let mut all = sessions();
    if all.is_empty() {
        return;
    }
    for s in all.iter_mut() {
        let rel = match path.strip_prefix(&s.root) {
            Ok(rel) => Some(rel.to_path_buf()),
            Err(_) => s.real_root.as_ref().and_then(|real| {
                let parent = std::fs::canonicalize(path.parent()?).ok()?;
                let full = parent.join(path.file_name()?);
                full.strip_prefix(real).ok().map(Path::to_path_buf)
            }),
        };
        if let Some(rel) = rel.as_deref().and_then(rel_string) {
            if rel != MANIFEST_NAME {
                s.written.insert(rel);
            }
        }
    }
}

/// `a/b/c.txt` for a path of normal components; `None` otherwise (it is then never listed,
/// so never removed later).
fn rel_string(rel: &Path) -> Option<String> {
    let mut parts = Vec::new();
    for c in rel.components() {
        match c {
            Component::Normal(p) => parts.push(p.to_str()?),
            Component::CurDir => {}
            _ => return None,
        }
    }
    let s = parts.join("/");
    plain_relative(&s).then_some(s)
}

impl OutputDir {
    /// Starts a run into `root` (in the state [`inspect`] found). A foreign folder is written
    /// into only when `allow_foreign`; its files are never removed.
    pub fn open(root: &Path, state: State, allow_foreign: bool) -> Result<OutputDir> {
        let previous = match state {
            State::Fresh => Vec::new(),
            State::Ours(files) => files,
            State::Foreign(why) if allow_foreign => {
                let _ = why;
                Vec::new()
            }
            State::Foreign(why) => {
                return Err(Error::invalid(
                    root,
                    format!("{why}; refusing to write into it (choose a new or empty folder)"),
                ))
            }
        };
        crate::atomic::observe_written(note_written);
        let id = NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        sessions().push(Session {
            id,
            root: root.to_path_buf(),
            real_root: std::fs::canonicalize(root).ok(),
            written: HashSet::new(),
        });
        Ok(OutputDir {
            root: root.to_path_buf(),
            id,
            previous,
            finished: false,
        })
    }

    /// [`inspect`] then [`OutputDir::open`].
    pub(crate) fn begin(root: &Path, allow_foreign: bool) -> Result<OutputDir> {
        let state = inspect(root)?;
        Self::open(root, state, allow_foreign)
    }

    fn take_written(&self) -> HashSet<String> {
        let mut all = sessions();
        match all.iter().position(|s| s.id == self.id) {
            Some(i) => all.swap_remove(i).written,
            None => HashSet::new(),
        }
    }

    /// After a successful run: removes the files the previous manifest listed that this run
    /// did not write (and the folders that held them, when that leaves them empty), then
    /// writes the new manifest atomically. Returns how many files were removed.
    pub fn finish(mut self) -> Result<usize> {
        self.finished = true;
        let written = self.take_written();
        let mut removed = 0;
        for rel in &self.previous {
            if !written.contains(rel) && remove_listed(&self.root, rel) {
                removed += 1;
            }
        }
        write_manifest(&self.root, written)?;
        Ok(removed)
    }
}

impl Drop for OutputDir {
    /// A run that failed part way removes nothing, but its manifest must still name every
    /// file of ours in the folder (the old ones and those written so far), so that the next
    /// run can replace them.
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let mut written = self.take_written();
        if written.is_empty() {
            return;
        }
        written.extend(self.previous.drain(..));
        let _ = write_manifest(&self.root, written);
    }
}

fn write_manifest(root: &Path, files: HashSet<String>) -> Result<()> {
    let mut files: Vec<String> = files.into_iter().collect();
    files.sort_unstable();
    let m = Manifest {
        tool: TOOL.to_string(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        files,
    };
    let json = serde_json::to_vec_pretty(&m).map_err(|e| Error::Usage(e.to_string()))?;
    crate::atomic::write(&root.join(MANIFEST_NAME), &json)
}

/// Removes `root/rel` when it is a file or a link reached through real folders only (never
/// through a link), then the folders on its way that this leaves empty. `rel` is a plain
/// relative path ([`plain_relative`]). False when nothing was removed.
fn remove_listed(root: &Path, rel: &str) -> bool {
    let parts: Vec<&str> = rel.split('/').collect();
    let Some((last, dirs)) = parts.split_last() else {
        return false;
    };
    let mut dir = root.to_path_buf();
    for d in dirs {
        dir.push(d);
        match std::fs::symlink_metadata(&dir) {
            Ok(m) if m.file_type().is_dir() => {}
            _ => return false,
        }
    }
    let target = dir.join(last);
    let removable = std::fs::symlink_metadata(&target)
        .is_ok_and(|m| m.file_type().is_file() || m.file_type().is_symlink());
    if !removable || std::fs::remove_file(&target).is_err() {
        return false;
    }
    // `remove_dir` refuses a folder that is not empty, so only folders left empty go.
    for depth in (1..=dirs.len()).rev() {
        let d: PathBuf = std::iter::once(root.to_path_buf())
            .chain(dirs[..depth].iter().map(PathBuf::from))
            .collect();
        if std::fs::remove_dir(&d).is_err() {
            break;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_paths_only() {
        for ok in ["a.txt", "labels/train/a.txt", "images/x y.png"] {
            assert!(plain_relative(ok), "{ok}");
        }
        for bad in [
            "",
            "../x",
            "a/../../x",
            "/etc/passwd",
            "a//b",
            "./a",
            "a\\..\\b",
            "C:x",
            "a\nb",
            MANIFEST_NAME,
        ] {
            assert!(!plain_relative(bad), "{bad:?}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn links_as_the_folder_or_to_a_folder_inside_are_foreign() {
        let t = tempfile::tempdir().unwrap();
        let elsewhere = t.path().join("elsewhere");
        std::fs::create_dir(&elsewhere).unwrap();
        let link = t.path().join("out-link");
        std::os::unix::fs::symlink(&elsewhere, &link).unwrap();
        assert!(matches!(inspect(&link).unwrap(), State::Foreign(why) if why.contains("link")));
        // A folder of ours that someone put a folder link into.
        let ours = t.path().join("ours");
        std::fs::create_dir_all(ours.join("labels")).unwrap();
        write_manifest(&ours, HashSet::new()).unwrap();
        assert!(matches!(inspect(&ours).unwrap(), State::Ours(_)));
        std::os::unix::fs::symlink(&elsewhere, ours.join("labels").join("train")).unwrap();
        assert!(matches!(inspect(&ours).unwrap(), State::Foreign(why) if why.contains("labels")));
    }

    #[test]
    fn inspect_tells_fresh_ours_and_foreign() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("out");
        assert_eq!(inspect(&d).unwrap(), State::Fresh);
        std::fs::create_dir(&d).unwrap();
        assert_eq!(inspect(&d).unwrap(), State::Fresh);
        std::fs::write(d.join(".neutrostruct-abc.tmp"), b"").unwrap();
        assert_eq!(
            inspect(&d).unwrap(),
            State::Fresh,
            "our temp files do not count"
        );
        std::fs::write(d.join("x"), b"").unwrap();
        assert!(matches!(inspect(&d).unwrap(), State::Foreign(_)));
        std::fs::write(
            d.join(MANIFEST_NAME),
            br#"{"tool":"other","version":"1","files":[]}"#,
        )
        .unwrap();
        assert!(matches!(inspect(&d).unwrap(), State::Foreign(_)));
        std::fs::write(
            d.join(MANIFEST_NAME),
            br#"{"tool":"neutrostruct","version":"0","files":["x"]}"#,
        )
        .unwrap();
        assert_eq!(inspect(&d).unwrap(), State::Ours(vec!["x".into()]));
        assert!(inspect(&d.join("x")).is_err(), "a file is not a folder");
    }

    #[test]
    fn a_run_replaces_what_it_listed_and_nothing_else() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("out");
        let run = |names: &[&str]| {
            let o = OutputDir::begin(&d, false).unwrap();
            for n in names {
                crate::atomic::write(&d.join(n), b"x").unwrap();
            }
            o.finish().unwrap()
        };
        assert_eq!(run(&["a.txt", "sub/b.txt", "sub/c.txt"]), 0);
        std::fs::write(d.join("sub/mine.txt"), b"keep").unwrap();
        assert_eq!(run(&["a.txt"]), 2);
        assert!(d.join("a.txt").exists());
        assert!(!d.join("sub/b.txt").exists() && !d.join("sub/c.txt").exists());
        assert!(d.join("sub/mine.txt").exists(), "not listed: kept");
        assert_eq!(inspect(&d).unwrap(), State::Ours(vec!["a.txt".into()]));
    }

    #[test]
    fn a_failed_run_keeps_every_file_listed() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("out");
        let o = OutputDir::begin(&d, false).unwrap();
        crate::atomic::write(&d.join("old.txt"), b"x").unwrap();
        o.finish().unwrap();
        {
            let _o = OutputDir::begin(&d, false).unwrap();
            crate::atomic::write(&d.join("new.txt"), b"x").unwrap();
        }
        assert!(d.join("old.txt").exists());
        assert_eq!(
            inspect(&d).unwrap(),
            State::Ours(vec!["new.txt".into(), "old.txt".into()])
        );
    }

    #[cfg(unix)]
    #[test]
    fn removal_never_goes_through_a_link() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("out");
        let outside = t.path().join("outside");
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join("b.txt"), b"secret").unwrap();
        std::fs::create_dir(&d).unwrap();
        std::os::unix::fs::symlink(&outside, d.join("sub")).unwrap();
        std::os::unix::fs::symlink(outside.join("b.txt"), d.join("l.txt")).unwrap();
        assert!(!remove_listed(&d, "sub/b.txt"));
        assert!(outside.join("b.txt").exists());
        assert!(remove_listed(&d, "l.txt"), "the link itself goes");
        assert!(outside.join("b.txt").exists(), "not what it names");
    }
}
