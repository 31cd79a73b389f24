//! The command line: picks a mode and hands over to it.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::report::error_json::{ErrorJson, ErrorKind as JsonErrorKind};
use crate::{commands, config};

#[derive(Debug, Parser)]
#[command(
    name = "selfconn-tui",
    version,
    about = "Find TCP sockets connected to themselves, and listeners the kernel could hand out as source ports",
    long_about = "Find TCP sockets connected to themselves, and listeners the kernel could hand out as \
                  source ports.\n\nWith no subcommand, opens the live dashboard.",
    after_help = "Exit status of scan: 0 nothing found, 1 findings, 2 error.\n\
                  Exit status of repro: 0 it connected to itself, 1 limits reached, 2 error.\n\
                  With --json, an error is one JSON object on stdout too: {\"error\": {\"kind\", \"message\"}}."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub dashboard: commands::dashboard::DashboardArgs,
    /// Read the settings from this file, e.g. ./demo.toml (default:
    /// $XDG_CONFIG_HOME/selfconn-tui/config.toml; also SELFCONN_TUI_CONFIG)
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Read no configuration file: flags, environment and defaults only
    #[arg(long, global = true, conflicts_with = "config")]
    pub no_config: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Scan once, print the findings, exit (0 none, 1 found, 2 error)
    Scan(commands::scan::ScanArgs),
    /// Make a client connect to itself on a local port, and prove it
    Repro(commands::repro::ReproArgs),
    /// Print the configuration in effect, and where each value comes from
    Config(commands::config::ConfigArgs),
    /// Print a shell completion script
    Completions(commands::generate::CompletionsArgs),
    /// Print the man page (roff)
    Man(commands::generate::ManArgs),
    /// Serve Prometheus metrics on /metrics (default 127.0.0.1:9977)
    Serve(commands::serve::ServeArgs),
}

/// Parses the command line and runs the chosen mode.
pub fn main() -> ExitCode {
    let argv: Vec<OsString> = std::env::args_os().collect();
    let env = |name: &str| std::env::var(name).ok();
    // The file and the environment become the flags' defaults.
    let layered = match config::prepare(Cli::command(), &argv, &env) {
        Ok(l) => l,
        Err(e) => {
            let doc = ErrorJson::new(JsonErrorKind::Config, e.to_string());
            return commands::fail(asks_for_json(&argv), doc);
        }
    };
    let cli = match layered.matches(&argv).and_then(|m| {
        dashboard_flags_alone(&layered.command, &m)?;
        Cli::from_arg_matches(&m)
    }) {
        Ok(cli) => cli,
        Err(e) => return usage_error(e, asks_for_json(&argv)),
    };
    match cli.command {
        Some(Command::Scan(mut args)) => {
            args.storm = commands::watch::storm_config(&layered);
            commands::scan::run(args)
        }
        Some(Command::Repro(args)) => commands::repro::run(args),
        Some(Command::Serve(mut args)) => {
            args.storm = commands::watch::storm_config(&layered);
            commands::serve::run(args)
        }
        Some(Command::Config(args)) => commands::config::run(args, &layered),
        Some(Command::Completions(args)) => commands::generate::completions(args, layered.command),
        Some(Command::Man(args)) => commands::generate::man(args, layered.command),
        None => {
            config::keys::install(layered.keys());
            let mut args = cli.dashboard;
            args.colours = layered.colours();
            args.storm = commands::watch::storm_config(&layered);
            args.repro = config::repro::pane_defaults(&layered);
            commands::dashboard::run(args)
        }
    }
}

/// The dashboard's flags mean nothing to a subcommand: refused rather than
/// ignored. (Checked here rather than with clap's
/// `args_conflicts_with_subcommands`, which would refuse the global
/// `--config` and `--no-config` too.)
fn dashboard_flags_alone(cmd: &clap::Command, m: &clap::ArgMatches) -> Result<(), clap::Error> {
    let Some((sub, _)) = m.subcommand() else {
        return Ok(());
    };
    let typed = cmd.get_arguments().find(|a| {
        !a.is_global_set()
            && m.value_source(a.get_id().as_str()) == Some(clap::parser::ValueSource::CommandLine)
    });
    match typed {
        Some(a) => Err(cmd.clone().error(
            clap::error::ErrorKind::ArgumentConflict,
            format!(
                "--{} is for the dashboard (no subcommand); `{sub}` does not take it",
                a.get_long().unwrap_or(a.get_id().as_str())
            ),
        )),
        None => Ok(()),
    }
}

/// Help and version go to stdout as clap prints them; a usage error is one
/// clear line on stderr (the tool's convention), with exit status 2. When
/// the arguments asked for `--json`, stdout also gets the error object: a
/// script that asked for JSON reads JSON even when its command line is
/// wrong.
fn usage_error(e: clap::Error, json: bool) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        let _ = e.print();
        return ExitCode::SUCCESS;
    }
    let message = one_line(&e.render().to_string());
    commands::fail(json, ErrorJson::new(JsonErrorKind::Usage, message))
}

/// Whether `--json` is among the arguments (before a `--` that ends the
/// options), parsed or not: `--json=yes` and a misplaced `--json` count.
fn asks_for_json(args: &[OsString]) -> bool {
    args.iter()
        .skip(1)
        .map(|a| a.to_string_lossy())
        .take_while(|a| a != "--")
        .any(|a| a == "--json" || a.starts_with("--json="))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_errors_become_one_line() {
        let e = Cli::try_parse_from(["selfconn-tui", "scan", "--jsn"]).unwrap_err();
        let line = one_line(&e.render().to_string());
        assert!(!line.contains('\n'));
        assert!(line.starts_with("unexpected argument '--jsn'"), "{line}");
        assert!(line.contains("--json"), "the tip survives: {line}");
    }

    #[test]
    fn json_is_wanted_wherever_the_flag_stands_before_a_double_dash() {
        let wants = |args: &[&str]| {
            let v: Vec<OsString> = args.iter().map(OsString::from).collect();
            asks_for_json(&v)
        };
        assert!(wants(&["selfconn-tui", "scan", "--json", "--bogus"]));
        assert!(wants(&["selfconn-tui", "--json"]));
        assert!(wants(&["selfconn-tui", "repro", "--json=1"]));
        assert!(!wants(&["selfconn-tui", "scan", "--jsn"]));
        assert!(!wants(&["selfconn-tui", "scan", "--", "--json"]));
        assert!(!wants(&["--json"]), "the program name is not an argument");
    }

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
