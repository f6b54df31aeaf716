//! What the hostile-input tests share: running the binary with a time limit and a measured
//! peak memory, checking an outcome, seeded mutations of real files.
#![allow(dead_code)] // each test file uses its own part of these helpers

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A run that takes longer than this is a hang.
pub const TIME_LIMIT: Duration = Duration::from_secs(20);

/// Peak resident memory a run may reach (KiB, as `ru_maxrss` counts on Linux). Inputs here
/// are at most a few hundred KB; anything near this is an allocation sized from a number in
/// the file.
pub const RSS_LIMIT_KIB: i64 = 300 * 1024;

pub struct Run {
    pub code: Option<i32>,
    pub stderr: String,
    /// Peak resident set of the child, KiB.
    pub rss_kib: i64,
}

/// Waits for `child` with `wait4`, which also returns the child's resource usage (the peak
/// RSS that `Child::wait` cannot give), polling without blocking and killing it after
/// [`TIME_LIMIT`].
///
/// Linux folds the memory image the child had before `exec` into `ru_maxrss`, and a child
/// spawned with vfork had its parent's: the figure is the larger of the child's own peak and
/// this test process's peak at spawn time. It is an upper bound, and tight only in a test
/// binary that stays small itself (`hostile_mutants.rs`).
pub fn wait_with_rusage(child: &mut std::process::Child, args: &[&std::ffi::OsStr]) -> (i32, i64) {
    let pid = child.id() as libc::pid_t;
    let started = Instant::now();
    let mut killed = false;
    loop {
        let mut status: libc::c_int = 0;
        // SAFETY: `rusage` is plain data that wait4 fills in; the pid is our own child, not
        // yet reaped (std never waits on it: we do not call `wait`/`try_wait`).
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        let flags = if killed { 0 } else { libc::WNOHANG };
        let r = unsafe { libc::wait4(pid, &mut status, flags, &mut usage) };
        if r == pid {
            assert!(!killed, "hang: {args:?} ran longer than {TIME_LIMIT:?}");
            return (status, usage.ru_maxrss);
        }
        assert!(r == 0, "wait4 failed: {}", std::io::Error::last_os_error());
        if started.elapsed() > TIME_LIMIT {
            let _ = child.kill();
            killed = true;
            continue;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Runs the binary in `cwd` with stdout/stderr going to files (no pipe can fill up and block
/// the child), killing it after [`TIME_LIMIT`] and measuring its peak memory.
pub fn run_bin(args: &[&std::ffi::OsStr], cwd: &Path, logs: &Path) -> Run {
    let out = std::fs::File::create(logs.join("stdout")).expect("stdout file");
    let err = std::fs::File::create(logs.join("stderr")).expect("stderr file");
    let mut child = Command::new(env!("CARGO_BIN_EXE_neutrostruct"))
        .args(args)
        .current_dir(cwd)
        .env("NO_COLOR", "1")
        .env("TMPDIR", cwd)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .expect("spawn");
    let (status, rss_kib) = wait_with_rusage(&mut child, args);
    let code = if libc::WIFEXITED(status) {
        Some(libc::WEXITSTATUS(status))
    } else {
        None
    };
    Run {
        code,
        stderr: std::fs::read_to_string(logs.join("stderr")).unwrap_or_default(),
        rss_kib,
    }
}

/// Every file under `dir`, relative.
pub fn tree(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = walk(dir)
        .into_iter()
        .map(|p| p.strip_prefix(dir).expect("under dir").to_path_buf())
        .collect();
    v.sort();
    v
}

pub fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            }
            out.push(p);
        }
    }
    out
}

/// Checks one run's outcome against the rules of this file.
pub fn check(input: &Path, what: &str, r: &Run) {
    let ctx = format!("{} [{what}]\n{}", input.display(), r.stderr);
    let code = r
        .code
        .unwrap_or_else(|| panic!("killed by a signal: {ctx}"));
    assert!(matches!(code, 0..=2), "exit code {code}: {ctx}");
    assert!(!r.stderr.contains("panicked"), "panic: {ctx}");
    assert!(
        r.rss_kib < RSS_LIMIT_KIB,
        "peak RSS {} MiB over the {} MiB limit: {ctx}",
        r.rss_kib / 1024,
        RSS_LIMIT_KIB / 1024
    );
    if code == 2 {
        let line = r
            .stderr
            .lines()
            .find(|l| l.starts_with("error: "))
            .unwrap_or_else(|| panic!("exit 2 without `error:`: {ctx}"));
        let prefix = format!("error: {}", input.display());
        assert!(
            line.starts_with(&prefix),
            "error does not name the input: {ctx}"
        );
        let ext = input.extension().and_then(|e| e.to_str()).unwrap_or("");
        if matches!(ext, "json" | "xml" | "txt" | "yaml") {
            let rest = &line[prefix.len()..];
            let mut parts = rest.splitn(4, ':');
            let (empty, l, c) = (parts.next(), parts.next(), parts.next());
            let is_num = |s: Option<&str>| s.is_some_and(|s| s.parse::<u32>().is_ok_and(|n| n > 0));
            assert!(
                empty == Some("") && is_num(l) && is_num(c),
                "error has no :line:col: {ctx}"
            );
        }
    }
}

/// Deterministic xorshift (no dependency, same mutations on every machine).
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// One seeded mutation: byte flip, truncation, duplicated span, deleted span, or changed
/// digits (which keeps most files parseable, so writers see odd numbers, not only syntax
/// errors).
pub fn mutate(src: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut b = src.to_vec();
    let len = b.len().max(1);
    match rng.below(5) {
        4 => {
            let digits: Vec<usize> = (0..b.len()).filter(|&i| b[i].is_ascii_digit()).collect();
            for _ in 0..=rng.below(3) {
                if digits.is_empty() {
                    break;
                }
                let i = digits[rng.below(digits.len())];
                b[i] = b"0123456789-.e"[rng.below(13)];
            }
        }
        0 => {
            for _ in 0..=rng.below(4) {
                let i = rng.below(len);
                if let Some(x) = b.get_mut(i) {
                    *x ^= 1 << rng.below(8);
                }
            }
        }
        1 => b.truncate(rng.below(len)),
        2 => {
            let i = rng.below(len);
            let j = (i + rng.below(64) + 1).min(b.len());
            let span = b[i.min(j)..j].to_vec();
            b.splice(j..j, span);
        }
        _ => {
            let i = rng.below(len);
            let j = (i + rng.below(64) + 1).min(b.len());
            b.drain(i.min(j)..j);
        }
    }
    b
}

pub fn fixtures() -> Vec<(PathBuf, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/conformance");
    let mut v = Vec::new();
    for d in std::fs::read_dir(&root).expect("fixtures").flatten() {
        for f in std::fs::read_dir(d.path()).into_iter().flatten().flatten() {
            let p = f.path();
            if matches!(p.extension().and_then(|e| e.to_str()), Some("json" | "xml")) {
                let bytes = std::fs::read(&p).expect("fixture");
                v.push((p, bytes));
            }
        }
    }
    v.sort();
    v
}

/// A fresh temporary folder with the four folders every binary run uses: `in` (the input),
/// `out` (the only place a run may write), `cwd` (its working directory) and `logs` (its
/// captured output).
pub struct WorkDirs {
    pub root: tempfile::TempDir,
    pub inp: PathBuf,
    pub out: PathBuf,
    pub cwd: PathBuf,
    pub logs: PathBuf,
}

pub fn work_dirs() -> WorkDirs {
    let root = tempfile::tempdir().expect("tempdir");
    let [inp, out, cwd, logs] = ["in", "out", "cwd", "logs"].map(|d| root.path().join(d));
    for d in [&inp, &out, &cwd, &logs] {
        std::fs::create_dir(d).expect("mkdir");
    }
    WorkDirs {
        root,
        inp,
        out,
        cwd,
        logs,
    }
}

/// A zip archive of the given entries, built in memory.
pub fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    use std::io::Write;
    let mut buf = std::io::Cursor::new(Vec::new());
    let mut z = zip::ZipWriter::new(&mut buf);
    let opts = zip::write::SimpleFileOptions::default();
    for (name, bytes) in entries {
        z.start_file(*name, opts).expect("start entry");
        z.write_all(bytes).expect("write entry");
    }
    z.finish().expect("finish zip");
    buf.into_inner()
}

/// The error a CVAT document is refused with, as text.
pub fn cvat_err(text: &str) -> String {
    neutrostruct::cvat::read_bytes(text.as_bytes(), Path::new("in.xml"), &Default::default())
        .expect_err("refused")
        .to_string()
}
