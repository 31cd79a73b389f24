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
    /// Serve Prometheus metrics on /metrics (default 127.0.0.1:9977)
    Serve(commands::serve::ServeArgs),
}

/// Parses the command line and runs the chosen mode.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    match cli.command {
        Some(Command::Scan(args)) => commands::scan::run(args),
        Some(Command::Repro(args)) => commands::repro::run(args),
        Some(Command::Serve(args)) => commands::serve::run(args),
        None => commands::dashboard::run(cli.dashboard),
    }
}

/// Help and version go to stdout as clap prints them; a usage error is one
/// clear line on stderr (the tool's convention), with exit status 2.
fn usage_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        let _ = e.print();
        return ExitCode::SUCCESS;
    }
    eprintln!("selfconn-tui: {}", one_line(&e.render().to_string()));
    ExitCode::from(2)
}

/// clap's message (`error: ...`, details, a tip, then usage) as one line:
/// the details and the tip are kept, the usage and the help hint dropped.
fn one_line(rendered: &str) -> String {
    let mut line = String::new();
    for l in rendered
        .lines()
        .map(str::trim)
        .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
        .filter(|l| !l.is_empty())
    {
        if let Some(tip) = l.strip_prefix("tip: ") {
            line.push_str("; ");
            line.push_str(tip);
        } else {
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(l.trim_start_matches("error: "));
        }
    }
    if line.is_empty() {
        line.push_str("invalid arguments");
    }
    line.push_str(" (see --help)");
    line
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
    fn usage_errors_become_one_line() {
        let e = Cli::try_parse_from(["selfconn-tui", "scan", "--jsn"]).unwrap_err();
        let line = one_line(&e.render().to_string());
        assert!(!line.contains('\n'));
        assert!(line.starts_with("unexpected argument '--jsn'"), "{line}");
        assert!(line.contains("--json"), "the tip survives: {line}");
    }

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
