//! The `neutrostruct` command: parse arguments, run, map the outcome to an exit code.
//! Everything else lives in the library (`neutrostruct::cli`).

use clap::Parser;
use std::process::ExitCode;

/// mimalloc instead of the system allocator: a conversion makes and frees millions of small
/// strings and vectors from several threads, and glibc's malloc/free showed as a tenth of
/// the profile (benches/RESULTS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Transparent huge pages off for this process. Why: mimalloc asks the kernel for huge
/// pages, and each first touch of one zeroes 2 MB; validating a million polygons spent about
/// a sixth of its samples there (kernel `clear_page_erms`), and without them the same run
/// took about 12 % less time with a third of the system time (benches/RESULTS.md, session
/// 8). A request the kernel refuses changes nothing, so its result is not checked.
#[cfg(target_os = "linux")]
fn without_transparent_huge_pages() {
    // SAFETY: PR_SET_THP_DISABLE takes plain integers and touches no memory of ours.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

fn main() -> ExitCode {
    #[cfg(target_os = "linux")]
    without_transparent_huge_pages();
    let args = neutrostruct::cli::Cli::parse();
    neutrostruct::atomic::install_signal_cleanup();
    match neutrostruct::cli::run(args) {
        Ok(status) => ExitCode::from(status.exit_code()),
        Err(err) => {
            // The message names files and quotes data: shown through the text escaping rule.
            eprintln!(
                "error: {}",
                neutrostruct::escape::text_block(&err.to_string())
            );
            ExitCode::from(err.exit_code() as u8)
        }
    }
}
