//! `selfconn-tui` with no subcommand: the live dashboard.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;

use crate::tui::interval::parse_interval;
use crate::tui::record::Recording;
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
    /// A self-connect on a port whose listener went this long ago or less is reported as the port stolen: 90s, 10m, 2h (from 1s to 24h)
    #[arg(
        long = "incident-window",
        value_name = "DURATION",
        default_value = "10m",
        value_parser = crate::config::settings::parse_incident_window
    )]
    pub incident_window: Duration,
    /// Show only one network namespace: its name as listed (an `ip netns`
    /// name, `host`, `docker:3f2a1b4c5d6e`, ...), its id, `own`, a
    /// container id, or the PID of a process inside it
    #[arg(long, value_name = "NAME|ID|PID", conflicts_with = "replay")]
    pub netns: Option<String>,
    /// Show only the network namespace this runs in (as `--netns own`):
    /// started in a private namespace, not every container on the machine
    #[arg(long, conflicts_with_all = ["netns", "replay"])]
    pub own_netns: bool,
    /// Do not watch the kernel's events (live catch): self-connects are then
    /// seen by the scans only, as without root or tracefs
    #[arg(long)]
    pub no_live_catch: bool,
    /// The proc filesystem to read (for tests on fixture trees)
    #[arg(long = "proc-root", hide = true, default_value = "/proc")]
    pub proc_root: PathBuf,
    /// Write the dashboard's inputs (scans, repro counters) to FILE, gzipped, to replay them later, e.g. demo.rec.gz
    #[arg(long, value_name = "FILE", conflicts_with = "replay")]
    pub record: Option<PathBuf>,
    /// Play a recording made with --record, e.g. demo.rec.gz: no root, no sockets, nothing acts on this machine
    #[arg(long, value_name = "FILE")]
    pub replay: Option<PathBuf>,
    /// How much faster than recorded a replay plays (1, 2, 0.5)
    #[arg(long, value_name = "FACTOR", requires = "replay", default_value = "1",
          value_parser = crate::tui::record::parse_speed, allow_hyphen_values = true)]
    pub speed: f64,
    /// `[colours]` of the configuration file.
    #[arg(skip)]
    pub colours: crate::config::colours::ColourOverrides,
    /// `[live]` of the configuration file.
    #[arg(skip)]
    pub storm: crate::core::live::StormConfig,
    /// `[repro]` of the configuration: the repro pane's first values.
    #[arg(skip)]
    pub repro: crate::tui::repro::FormDefaults,
}

pub fn run(args: DashboardArgs) -> ExitCode {
    // A recording that cannot be played is said first, terminal or not.
    let recording = match args.replay.as_deref().map(Recording::open).transpose() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("selfconn-tui: {e}");
            return ExitCode::from(2);
        }
    };
    let netns = args
        .own_netns
        .then(|| "own".to_string())
        .or(args.netns.clone());
    // A bad name is said before the screen is taken, as `scan` says it.
    if recording.is_none()
        && let Some(wanted) = &netns
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
    let inputs = match record_inputs(&args, recording) {
        Ok(i) => i,
        Err(msg) => {
            eprintln!("selfconn-tui: {msg}");
            return ExitCode::from(2);
        }
    };
    crate::tui::run(crate::tui::Config {
        inputs,
        interval: args.interval,
        theme: args
            .colours
            .apply(Theme::pick(args.theme, crate::colour::no_color_env())),
        proc_root: args.proc_root,
        incident_window: args.incident_window,
        netns,
        storm: args.storm,
        live_catch: !args.no_live_catch,
        repro: args.repro,
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

/// `--record` creates its file before the terminal is taken: an error is
/// a plain message.
fn record_inputs(
    args: &DashboardArgs,
    recording: Option<Recording>,
) -> Result<crate::tui::record::Inputs, String> {
    use crate::tui::record::{Header, Inputs, Recorder, host_name};
    if let Some(recording) = recording {
        return Ok(Inputs::Replay {
            recording,
            speed: args.speed,
        });
    }
    let recorder = match &args.record {
        Some(path) => {
            let size = crossterm::terminal::size().unwrap_or((0, 0));
            let header = Header::new(host_name(), chrono::Local::now(), size);
            let rec = Recorder::create(path, &header)
                .map_err(|e| format!("cannot record to {}: {e}", path.display()))?;
            Some(rec)
        }
        None => None,
    };
    Ok(Inputs::Live { recorder })
}
