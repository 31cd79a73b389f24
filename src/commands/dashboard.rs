//! `selfconn-tui` with no subcommand: the live dashboard.

use std::process::ExitCode;

use clap::Args;

#[derive(Debug, Clone, Args)]
pub struct DashboardArgs {}

pub fn run(_args: DashboardArgs) -> ExitCode {
    eprintln!("selfconn-tui: the dashboard is not built yet");
    ExitCode::from(2)
}
