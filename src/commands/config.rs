//! `selfconn-tui config`: the configuration in effect, or a default file.

use std::io::Write;
use std::process::ExitCode;

use clap::Args;

use crate::config::{Layered, show};

#[derive(Debug, Clone, Args)]
#[command(after_help = "Start a file with:\n  \
    mkdir -p ~/.config/selfconn-tui && selfconn-tui config --default > ~/.config/selfconn-tui/config.toml")]
pub struct ConfigArgs {
    /// Print a commented file with every setting at its default instead
    #[arg(long)]
    pub default: bool,
}

pub fn run(args: ConfigArgs, layered: &Layered) -> ExitCode {
    let text = if args.default {
        show::default_file(layered)
    } else {
        show::effective(layered)
    };
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("selfconn-tui: cannot write: {e}");
            ExitCode::from(2)
        }
    }
}
