//! `selfconn-tui repro`: the reproduction loop, headless.

use std::process::ExitCode;

use clap::Args;

#[derive(Debug, Clone, Args)]
pub struct ReproArgs {}

pub fn run(_args: ReproArgs) -> ExitCode {
    eprintln!("selfconn-tui: repro is not built yet");
    ExitCode::from(2)
}
