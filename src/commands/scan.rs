//! `selfconn-tui scan`: one scan, printed, then exit.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::core::sanitize::terminal_safe;
use crate::report::{scan_json, scan_table};
use crate::sys::scanner::{OwnerScope, ScanOptions, Scanner};

#[derive(Debug, Clone, Args)]
pub struct ScanArgs {
    /// Print one JSON object instead of the table
    #[arg(long)]
    pub json: bool,
    /// List every TCP socket, not only the findings (JSON: adds "sockets")
    #[arg(long)]
    pub all: bool,
    /// Scan only one network namespace: its name as listed (an `ip netns`
    /// name, `host`, `docker:3f2a1b4c5d6e`, ...), its id, `own`, a
    /// container id, or the PID of a process inside it
    #[arg(long, value_name = "NAME|ID")]
    pub netns: Option<String>,
    /// Write the findings as Prometheus metrics to FILE instead (for
    /// node_exporter's textfile collector), atomically; exit 0 when written.
    /// (e.g. /var/lib/prometheus/node-exporter/selfconn.prom)
    #[arg(long, value_name = "FILE", conflicts_with = "json")]
    pub prometheus: Option<PathBuf>,
    /// Keep running: one JSON object per line for every change (findings
    /// appearing and going, self-connects caught live, retry storms)
    #[arg(long, conflicts_with_all = ["json", "all", "prometheus"])]
    pub watch: bool,
    /// With --watch: time between scans (1, 0.5, 500ms, 2s; 100ms to 1h)
    #[arg(long, value_name = "DURATION", default_value = "1s", requires = "watch",
          value_parser = crate::tui::interval::parse_interval)]
    pub interval: std::time::Duration,
    /// With --watch: stop after this long (e.g. 5, 500ms, 2m, 1h)
    #[arg(long, value_name = "DURATION", requires = "watch",
          value_parser = super::watch::parse_duration)]
    pub duration: Option<std::time::Duration>,
    /// The proc filesystem to read (for tests on fixture trees)
    #[arg(long, hide = true, default_value = "/proc")]
    pub proc_root: PathBuf,
    /// `[live]` of the configuration file.
    #[arg(skip)]
    pub storm: crate::core::live::StormConfig,
}

pub fn run(args: ScanArgs) -> ExitCode {
    if args.watch {
        return super::watch::run(&args);
    }
    let mut scanner = Scanner::new(ScanOptions {
        proc_root: args.proc_root.clone(),
        owners: if args.all {
            OwnerScope::All
        } else {
            OwnerScope::Findings
        },
        netns: args.netns.clone(),
        ..ScanOptions::default()
    });
    let snapshot = match scanner.scan() {
        Ok(s) => s,
        Err(e) => return super::fail(args.json, &e),
    };
    if let Some(file) = &args.prometheus {
        return super::textfile::write(&snapshot, file);
    }
    let mut stdout = std::io::stdout().lock();
    let written = if args.json {
        let mut out = std::io::BufWriter::new(&mut stdout);
        scan_json::write_json(&snapshot, args.all, &mut out)
            .map_err(std::io::Error::from)
            .and_then(|_| writeln!(out))
            .and_then(|_| out.flush())
    } else {
        let colour = crate::colour::colour_wanted(std::io::stdout().is_terminal());
        for e in &snapshot.errors {
            let what = if e.is_error() { "error" } else { "warning" };
            eprintln!("selfconn-tui: {what}: {}", terminal_safe(&e.to_string()));
        }
        if let Some(note) = &snapshot.visibility_note {
            eprintln!("selfconn-tui: note: {}", terminal_safe(note));
        }
        write!(
            stdout,
            "{}",
            scan_table::render(&snapshot, args.all, colour)
        )
    };
    // A closed pipe (`| head`) is not an error worth a message.
    if let Err(e) = written.and_then(|_| stdout.flush())
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        eprintln!("selfconn-tui: cannot write the report: {e}");
        return ExitCode::from(2);
    }
    // A table of which no row could be read: "nothing found" is no answer.
    if snapshot.is_inconclusive() {
        ExitCode::from(2)
    } else if snapshot.findings().next().is_some() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
