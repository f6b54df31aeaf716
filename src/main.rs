//! The `neutrostruct` command: parse arguments, run, map the outcome to an exit code.
//! Everything else lives in the library (`neutrostruct::cli`).

use clap::Parser;
use std::process::ExitCode;

/// mimalloc instead of the system allocator: a conversion makes and frees millions of small
/// strings and vectors from several threads, and glibc's malloc/free showed as a tenth of
/// the profile (benches/RESULTS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
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
