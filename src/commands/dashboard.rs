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
    /// Show only one network namespace: its name as listed (an `ip netns`
    /// name, `host`, `docker:3f2a1b4c5d6e`, ...), its id, `own`, a
    /// container id, or the PID of a process inside it
    #[arg(long, value_name = "NAME|ID|PID")]
    pub netns: Option<String>,
    /// Show only the network namespace this runs in (as `--netns own`):
    /// started in a private namespace, not every container on the machine
    #[arg(long, conflicts_with = "netns")]
    pub own_netns: bool,
    /// The proc filesystem to read (for tests on fixture trees)
    #[arg(long = "proc-root", hide = true, default_value = "/proc")]
    pub proc_root: PathBuf,
    /// `[colours]` of the configuration file.
    #[arg(skip)]
    pub colours: crate::config::colours::ColourOverrides,
}

pub fn run(args: DashboardArgs) -> ExitCode {
    let netns = args
        .own_netns
        .then(|| "own".to_string())
        .or(args.netns.clone());
    // A bad name is said before the screen is taken, as `scan` says it.
    if let Some(wanted) = &netns
        && let Err(e) = check_netns(&args.proc_root, wanted)
    {
        return super::fail(false, &e);
    }
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
        netns,
    })
}

/// Whether `wanted` names exactly one namespace: one scan without owners'
/// details is enough to know.
fn check_netns(
    proc_root: &std::path::Path,
    wanted: &str,
) -> Result<(), crate::sys::scanner::ScanFailure> {
    use crate::sys::scanner::{ScanFailure, ScanOptions, Scanner};
    let mut scanner = Scanner::new(ScanOptions {
        proc_root: proc_root.to_path_buf(),
        netns: Some(wanted.to_string()),
        ..ScanOptions::default()
    });
    match scanner.scan() {
        Err(e @ ScanFailure::NoSuchNamespace { .. }) => Err(e),
        // Anything else the dashboard shows and retries.
        _ => Ok(()),
    }
}
