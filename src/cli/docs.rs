//! `neutrostruct completions` and `neutrostruct manpage`: shell completion scripts and roff
//! man pages generated from the clap definitions themselves, so they list exactly the
//! commands and flags this build accepts.

use super::{Cli, Status};
use crate::error::{Error, Result};
use clap::CommandFactory;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell to complete for; the script goes to stdout (e.g.
    /// `neutrostruct completions bash > ~/.local/share/bash-completion/completions/neutrostruct`).
    #[arg(value_enum)]
    shell: clap_complete::Shell,
}

#[derive(Debug, clap::Args)]
pub struct ManpageArgs {
    /// Folder to write `neutrostruct.1` and one `neutrostruct-COMMAND.1` per command into
    /// (default: the main page as roff on stdout).
    #[arg(short = 'o', long = "output", visible_alias = "out")]
    output: Option<PathBuf>,
}

pub(crate) fn run_completions(a: CompletionsArgs) -> Result<Status> {
    let mut cmd = Cli::command();
    let mut buf = Vec::new();
    clap_complete::generate(a.shell, &mut cmd, "neutrostruct", &mut buf);
    out!("{}", String::from_utf8_lossy(&buf));
    Ok(Status::Success)
}

pub(crate) fn run_manpage(a: ManpageArgs) -> Result<Status> {
    let cmd = Cli::command();
    let Some(dir) = a.output else {
        out!("{}", String::from_utf8_lossy(&render(cmd)?));
        return Ok(Status::Success);
    };
    if dir.exists() && !dir.is_dir() {
        return Err(Error::Usage(format!("-o {}: not a folder", dir.display())));
    }
    crate::atomic::write(&dir.join("neutrostruct.1"), &render(cmd.clone())?)?;
    for sub in cmd.get_subcommands() {
        // The page of a command is named as man(1) looks it up: `man neutrostruct-convert`.
        let name = format!("neutrostruct-{}", sub.get_name());
        let page = sub
            .clone()
            .name(name.clone())
            .bin_name(format!("neutrostruct {}", sub.get_name()));
        crate::atomic::write(&dir.join(format!("{name}.1")), &render(page)?)?;
    }
    say!("wrote the man pages into {}", dir.display());
    Ok(Status::Success)
}

fn render(cmd: clap::Command) -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd)
        .render(&mut buf)
        .map_err(|e| Error::Usage(format!("rendering the man page: {e}")))?;
    Ok(buf)
}

#[derive(Debug, clap::Args)]
pub struct ConfigArgs {
    /// Print a complete validation config (TOML) with every setting at its default and a
    /// comment on each, to start a `--config` file from.
    #[arg(long, required = true)]
    defaults: bool,
}

pub fn run_config(a: ConfigArgs) -> Result<Status> {
    // `required = true`: clap refuses `config` alone; the flag is always set here.
    let _ = a.defaults;
    out!("{}", crate::validate::config::defaults_toml());
    Ok(Status::Success)
}
