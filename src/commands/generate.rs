//! `selfconn-tui completions SHELL` and `selfconn-tui man`: documents
//! generated from the command-line definition, so they cannot drift from it.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use clap::{Args, Command};
use clap_complete::Shell;

#[derive(Debug, Clone, Args)]
#[command(after_help = "Install, for example:\n  \
    selfconn-tui completions bash > /etc/bash_completion.d/selfconn-tui\n  \
    selfconn-tui completions zsh > \"${fpath[1]}/_selfconn-tui\"\n  \
    selfconn-tui completions fish > ~/.config/fish/completions/selfconn-tui.fish")]
pub struct CompletionsArgs {
    /// The shell: bash, zsh, fish, elvish or powershell
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: Shell,
}

#[derive(Debug, Clone, Args)]
pub struct ManArgs {
    /// Write a page per command (selfconn-tui.1, selfconn-tui-scan.1, ...)
    /// into this directory instead of the main page to standard output,
    /// e.g. target/generated/man
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<std::path::PathBuf>,
}

fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("selfconn-tui: {message}");
    ExitCode::from(2)
}

/// The completion script for `shell`, to standard output.
pub fn completions(args: CompletionsArgs, mut cmd: Command) -> ExitCode {
    let mut buf = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "selfconn-tui", &mut buf);
    write_out(&buf)
}

/// The man page (roff) to standard output, or every page into a directory.
pub fn man(args: ManArgs, cmd: Command) -> ExitCode {
    if let Some(dir) = args.out_dir {
        return match man_pages(cmd, &dir) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(format!(
                "cannot write the man pages to {}: {e}",
                dir.display()
            )),
        };
    }
    let mut buf = Vec::new();
    if let Err(e) = clap_mangen::Man::new(cmd).render(&mut buf) {
        return fail(format!("cannot render the man page: {e}"));
    }
    write_out(&buf)
}

fn man_pages(cmd: Command, dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    clap_mangen::generate_to(cmd, dir)
}

fn write_out(bytes: &[u8]) -> ExitCode {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|_| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => fail(format!("cannot write: {e}")),
    }
}
