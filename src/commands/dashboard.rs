//! `selfconn-tui` with no subcommand: the live dashboard.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;

use crate::tui::interval::parse_interval;
use crate::tui::theme::{Theme, ThemeName};

#[derive(Debug, Clone, Args)]
pub struct DashboardArgs {
    /// Time between scans: 1, 0.5, 500ms, 2s, 1m (from 100ms to 1h)
    #[arg(
        long,
        value_name = "DURATION",
        default_value = "1s",
        value_parser = parse_interval,
        allow_hyphen_values = true
    )]
    pub interval: Duration,
    /// Colours of the dashboard (NO_COLOR=1 turns colour off and marks findings with bold and reverse video)
    #[arg(long, value_enum, value_name = "THEME", default_value_t = ThemeName::Default)]
    pub theme: ThemeName,
    /// The proc filesystem to read (for tests on fixture trees)
    #[arg(long = "proc-root", hide = true, default_value = "/proc")]
    pub proc_root: PathBuf,
    /// `[colours]` of the configuration file.
    #[arg(skip)]
    pub colours: crate::config::colours::ColourOverrides,
    /// `[live]` of the configuration file.
    #[arg(skip)]
    pub storm: crate::core::live::StormConfig,
}

pub fn run(args: DashboardArgs) -> ExitCode {
    if !std::io::stdout().is_terminal() {
        eprintln!(
            "selfconn-tui: the dashboard needs a terminal, and standard output is not one.\n\
             For a report on a pipe or in a file, use `selfconn-tui scan` (or `scan --json`)."
        );
        return ExitCode::from(2);
    }
    crate::tui::run(crate::tui::Config {
        interval: args.interval,
        theme: args
            .colours
            .apply(Theme::pick(args.theme, crate::colour::no_color_env())),
        proc_root: args.proc_root,
        storm: args.storm,
    })
}
