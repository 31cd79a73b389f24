//! The command line: picks a mode and hands over to it.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::commands;

#[derive(Debug, Parser)]
#[command(
    name = "selfconn-tui",
    version,
    args_conflicts_with_subcommands = true,
    about = "Find TCP sockets connected to themselves, and listeners the kernel could hand out as source ports",
    long_about = "Find TCP sockets connected to themselves, and listeners the kernel could hand out as \
                  source ports.\n\nWith no subcommand, opens the live dashboard.",
    after_help = "Exit status of scan: 0 nothing found, 1 findings, 2 error.\n\
                  Exit status of repro: 0 it connected to itself, 1 limits reached, 2 error."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub dashboard: commands::dashboard::DashboardArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Scan once, print the findings, exit (0 none, 1 found, 2 error)
    Scan(commands::scan::ScanArgs),
    /// Make a client connect to itself on a local port, and prove it
    Repro(commands::repro::ReproArgs),
}

/// Parses the command line and runs the chosen mode.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Scan(args)) => commands::scan::run(args),
        Some(Command::Repro(args)) => commands::repro::run(args),
        None => commands::dashboard::run(cli.dashboard),
    }
}

/// Whether to colour output meant for a terminal: only on a terminal, and
/// never when `NO_COLOR` is set to anything non-empty.
pub fn colour_wanted(is_terminal: bool) -> bool {
    is_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
