//! Progress on stderr for long work, shown only to a person at a terminal: a bar for loops
//! over images, a spinner with a phase message for everything else (reading, checking,
//! writing), so that a command never sits silent for seconds. Nothing is drawn when stderr is
//! not a terminal (CI logs, pipes, tests), and the library builds without the terminal crates
//! (feature `cli` off); then all of this is nothing.
//!
//! Every bar and spinner is drawn through one [`indicatif::MultiProgress`]: a command's phase
//! spinner and the bar of the loop it runs stack as two lines instead of overwriting each
//! other, and a message printed meanwhile ([`suspend`]) goes above them, not through them.

/// Counts finished work items or shows a phase; draws only with the `cli` feature on a
/// terminal. Dropping it removes it from the terminal, so an early error leaves no bar behind.
pub(crate) struct Progress {
    #[cfg(feature = "cli")]
    bar: indicatif::ProgressBar,
    /// This is the command's phase spinner, which [`phase`] updates.
    #[cfg(feature = "cli")]
    is_phase: bool,
}

/// The spinner of the running command, for [`phase`]: library code deep in a conversion says
/// what it is doing without being handed the spinner.
#[cfg(feature = "cli")]
static PHASE: std::sync::Mutex<Option<indicatif::ProgressBar>> = std::sync::Mutex::new(None);

/// Sets the message of the running command's spinner, if there is one (none in library use,
/// or when stderr is not a terminal).
pub(crate) fn phase(msg: &str) {
    #[cfg(feature = "cli")]
    if let Ok(p) = PHASE.lock() {
        if let Some(bar) = p.as_ref() {
            bar.set_message(msg.to_string());
        }
    }
    #[cfg(not(feature = "cli"))]
    let _ = msg;
}

#[cfg(feature = "cli")]
fn multi() -> &'static indicatif::MultiProgress {
    static MULTI: std::sync::OnceLock<indicatif::MultiProgress> = std::sync::OnceLock::new();
    MULTI.get_or_init(|| {
        indicatif::MultiProgress::with_draw_target(indicatif::ProgressDrawTarget::stderr())
    })
}

/// Whether anything may be drawn: stderr is a terminal.
#[cfg(feature = "cli")]
fn visible() -> bool {
    use std::io::IsTerminal;
    std::io::stderr().is_terminal()
}

impl Progress {
    /// A bar over `len` items with what they are (`"masks"`) in front; `quiet` hides it.
    pub(crate) fn bar(len: u64, quiet: bool, what: &str) -> Progress {
        #[cfg(feature = "cli")]
        {
            if quiet || !visible() {
                return Progress::hidden();
            }
            let bar = multi().add(indicatif::ProgressBar::new(len));
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{msg:>12} {bar:40} {pos}/{len} {elapsed} eta {eta}",
            ) {
                bar.set_style(style);
            }
            bar.set_message(what.to_string());
            // Drawn now, not at the first finished item: a slow first image is not silence.
            bar.tick();
            Progress {
                bar,
                is_phase: false,
            }
        }
        #[cfg(not(feature = "cli"))]
        {
            let _ = (len, quiet, what);
            Progress {}
        }
    }

    /// A spinner with a phase message (`"reading annotations.xml"`), redrawn ten times a
    /// second from its own thread, so it moves while one long call runs.
    pub(crate) fn spinner(msg: &str) -> Progress {
        #[cfg(feature = "cli")]
        {
            if !visible() {
                return Progress::hidden();
            }
            let bar = multi().add(indicatif::ProgressBar::new_spinner());
            if let Ok(style) = indicatif::ProgressStyle::with_template("{spinner} {msg} {elapsed}")
            {
                bar.set_style(style);
            }
            bar.set_message(msg.to_string());
            bar.enable_steady_tick(std::time::Duration::from_millis(100));
            if let Ok(mut p) = PHASE.lock() {
                *p = Some(bar.clone());
            }
            Progress {
                bar,
                is_phase: true,
            }
        }
        #[cfg(not(feature = "cli"))]
        {
            let _ = msg;
            Progress {}
        }
    }

    #[cfg(feature = "cli")]
    fn hidden() -> Progress {
        Progress {
            bar: indicatif::ProgressBar::hidden(),
            is_phase: false,
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
        {
            if self.is_phase {
                if let Ok(mut p) = PHASE.lock() {
                    *p = None;
                }
            }
            self.bar.finish_and_clear();
            multi().remove(&self.bar);
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        #[cfg(feature = "cli")]
        if !self.bar.is_finished() {
            self.finish();
        }
    }
}

/// Runs `f` (which prints to stderr) with the bars lifted off the terminal, then redraws
/// them below what it printed.
pub(crate) fn suspend<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(feature = "cli")]
    {
        multi().suspend(f)
    }
    #[cfg(not(feature = "cli"))]
    {
        f()
    }
}
