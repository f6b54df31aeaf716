//! Errors of the reading and writing layer. Every error names the file; parse errors also
//! the 1-based line and column. All of them map to exit code 2.

use std::path::{Path, PathBuf};

/// A failure to read, parse or write a file, or a bad request. Exit code 2.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file that could not be opened, read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// A syntax or structure error at a position in a JSON or XML file.
    #[error("{}:{line}:{column}: {message}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: u32,
        /// 1-based column, in characters.
        column: u32,
        /// What is wrong there.
        message: String,
    },
    /// Content that parses but cannot be used (no position available, or not applicable).
    #[error("{}: {message}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// A command-line or configuration mistake.
    #[error("{0}")]
    Usage(String),
}

impl Error {
    /// An I/O error on `path`.
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        Error::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    /// A parse error at `line`:`column` of `path`.
    pub fn parse(path: &Path, line: u32, column: u32, message: impl Into<String>) -> Self {
        Error::Parse {
            path: path.to_path_buf(),
            line,
            column,
            message: message.into(),
        }
    }

    /// Content of `path` that cannot be used.
    pub fn invalid(path: &Path, message: impl Into<String>) -> Self {
        Error::Invalid {
            path: path.to_path_buf(),
            message: message.into(),
        }
    }

    /// Process exit code for this error (docs/design.md §4: usage, I/O or parse failure).
    pub fn exit_code(&self) -> i32 {
        2
    }
}

/// The library's result: [`Error`] unless said otherwise.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Largest input file read into memory (2 GiB). Annotation files are parsed from memory; a
/// bigger file is far beyond any real dataset and would only exhaust memory in CI.
pub(crate) const MAX_INPUT_BYTES: u64 = 2 * 1024 * 1024 * 1024;

/// Reads a whole input file, refusing one larger than [`MAX_INPUT_BYTES`] before reading it
/// (from its metadata) and while reading it (a FIFO or device reports no size).
pub(crate) fn read_input(path: &Path) -> Result<Vec<u8>> {
    use std::io::Read;
    let too_big = || {
        Error::invalid(
            path,
            format!("file is larger than the {MAX_INPUT_BYTES}-byte input limit"),
        )
    };
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let declared = file.metadata().map_err(|e| Error::io(path, e))?.len();
    if declared > MAX_INPUT_BYTES {
        return Err(too_big());
    }
    let mut bytes = Vec::with_capacity(usize::try_from(declared).unwrap_or(0));
    file.take(MAX_INPUT_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(path, e))?;
    if bytes.len() as u64 > MAX_INPUT_BYTES {
        return Err(too_big());
    }
    Ok(bytes)
}

/// 1-based (line, column) of a byte offset in `text`. Columns count characters.
pub fn line_col(text: &[u8], offset: usize) -> (u32, u32) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |p| p + 1);
    let column = String::from_utf8_lossy(&before[line_start..])
        .chars()
        .count()
        + 1;
    (line as u32, column as u32)
}

/// Incremental offset → line mapping for many increasing offsets in one file.
pub(crate) struct LineIndex {
    starts: Vec<usize>,
    /// The line number of `starts[0]` (1 for a whole file).
    first_line: u32,
}

impl LineIndex {
    /// The index of a whole file.
    pub fn new(text: &[u8]) -> Self {
        Self::window(text, 0, 1, 0)
    }

    /// For a piece of a file read as a stream: `text` starts at byte `base` of the file, on
    /// line `first_line`, which itself starts at byte `line_start` (≤ `base`). Offsets given
    /// to [`LineIndex::locate`] are offsets in the file, from `line_start` on.
    pub fn window(text: &[u8], base: usize, first_line: u32, line_start: usize) -> Self {
        let mut starts = vec![line_start.min(base)];
        starts.extend(memchr_newlines(text).map(|i| i + base));
        LineIndex { starts, first_line }
    }

    /// 1-based (line, column in bytes) of `offset`.
    pub(crate) fn locate(&self, offset: usize) -> (u32, u32) {
        let line = self.starts.partition_point(|&s| s <= offset).max(1);
        let col = offset.saturating_sub(self.starts[line - 1]) + 1;
        (
            (line as u32).saturating_add(self.first_line.saturating_sub(1)),
            col as u32,
        )
    }
}

/// Offsets just past every `\n` (SIMD search: this runs over every byte of every input).
fn memchr_newlines(text: &[u8]) -> impl Iterator<Item = usize> + '_ {
    memchr::memchr_iter(b'\n', text).map(|i| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_over_the_size_limit_is_refused_before_reading() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("big.json");
        // Sparse: takes no disk space, but reports MAX_INPUT_BYTES + 1 bytes.
        let f = std::fs::File::create(&p).expect("create");
        f.set_len(MAX_INPUT_BYTES + 1).expect("set_len");
        let e = read_input(&p).expect_err("refused").to_string();
        assert!(e.contains("input limit") && e.contains("big.json"), "{e}");
        std::fs::write(&p, b"{}").expect("write");
        assert_eq!(read_input(&p).expect("small file reads"), b"{}");
    }

    #[test]
    fn line_col_counts_from_one() {
        assert_eq!(line_col(b"ab\ncd", 0), (1, 1));
        assert_eq!(line_col(b"ab\ncd", 4), (2, 2));
        let idx = LineIndex::new(b"ab\ncd\n\nx");
        assert_eq!(idx.locate(4), (2, 2));
        assert_eq!(idx.locate(7), (4, 1));
    }
}
