//! A progress bar on stderr for long loops, shown only to a person at a terminal. The
//! library builds without the terminal crates (feature `cli` off); then the bar is nothing.

/// Counts finished work items; draws a bar when built with the `cli` feature and stderr is
/// a terminal, and never in CI logs or pipes.
pub(crate) struct Progress {
    #[cfg(feature = "cli")]
    bar: indicatif::ProgressBar,
}

impl Progress {
    /// A bar over `len` items; `quiet` hides it.
    pub(crate) fn new(len: u64, quiet: bool) -> Progress {
        #[cfg(feature = "cli")]
        {
            use std::io::IsTerminal;
            if quiet || !std::io::stderr().is_terminal() {
                return Progress {
                    bar: indicatif::ProgressBar::hidden(),
                };
            }
            let bar = indicatif::ProgressBar::new(len);
            if let Ok(style) =
                indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} {elapsed} eta {eta}")
            {
                bar.set_style(style);
            }
            Progress { bar }
        }
        #[cfg(not(feature = "cli"))]
        {
            let _ = (len, quiet);
            Progress {}
        }
    }

    /// One more item done (callable from several threads).
    pub(crate) fn inc(&self, n: u64) {
        #[cfg(feature = "cli")]
        self.bar.inc(n);
        #[cfg(not(feature = "cli"))]
        let _ = n;
    }

    /// Removes the bar from the terminal.
    pub(crate) fn finish(&self) {
        #[cfg(feature = "cli")]
        self.bar.finish_and_clear();
    }
}
