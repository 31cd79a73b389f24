//! `selfconn-tui scan --watch`: keeps running and prints one JSON object
//! per line (NDJSON, `crate::report::watch_json`) for every change: what
//! the scanner shows every `--interval` (through the core's
//! `ChangeTracker`) and what live catch reports as it happens. The first
//! line (`watch_started`) says whether live catch is on, or why not.
//! Ends after `--duration`, on Ctrl-C or SIGTERM: exit 0, or 1 when
//! anything was found.

use std::io::Write;
use std::process::ExitCode;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use chrono::Local;
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use super::scan::ScanArgs;
use crate::core::changes::{Change, ChangeKind, ChangeTracker};
use crate::core::live::{LiveEvent, StormConfig};
use crate::report::error_json::{ErrorJson, ErrorKind};
use crate::report::watch_json::{self, LiveCatchState};
use crate::sys::scanner::{OwnerScope, ScanOptions, Scanner};
use crate::sys::tracefs::{self, Caught, LiveCatch};
use crate::tui::interval::parse_interval;

/// What wakes the loop besides its clock.
enum Msg {
    Live(Box<Caught>),
    Stop,
}

/// Parses `--duration`: seconds (`5`, `0.5`) or with a unit (`500ms`,
/// `2m`, `1h`), more than zero, at most 30 days.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = (&t[..split], t[split..].trim());
    let scale = match unit {
        "" | "s" => 1.0,
        "ms" => 0.001,
        "m" => 60.0,
        "h" => 3600.0,
        _ => {
            return Err(format!(
                "{text:?}: use seconds, or ms, s, m, h (e.g. 5, 500ms, 2m)"
            ));
        }
    };
    match number.parse::<f64>() {
        Ok(n) if n > 0.0 && n * scale <= 30.0 * 86_400.0 => Ok(Duration::from_secs_f64(n * scale)),
        _ => Err(format!(
            "{text:?} is not a duration above zero and up to 30 days (e.g. 5, 500ms, 2m)"
        )),
    }
}

/// The retry-storm settings of the configuration (`[live]`), the
/// defaults where unset.
pub fn storm_config(layered: &crate::config::Layered) -> StormConfig {
    let value = |key| layered.get("live", key).and_then(|r| r.value.clone());
    let mut storm = StormConfig::default();
    if let Some(n) = value("storm_refusals").and_then(|v| v.trim().parse().ok()) {
        storm.threshold = n;
    }
    if let Some(d) = value("storm_window").and_then(|v| parse_interval(&v).ok()) {
        storm.window = d;
    }
    storm
}

/// Whether a change is a finding (the exit status is 1 once one was seen).
fn is_finding(kind: &ChangeKind) -> bool {
    matches!(
        kind,
        ChangeKind::SelfConnectSeen(_)
            | ChangeKind::SelfConnectCaught(_)
            | ChangeKind::RetryStormStarted(_)
            | ChangeKind::ListenerAppeared(_)
            | ChangeKind::ListenerRiskChanged(_)
            | ChangeKind::PortStolen(_)
    )
}

struct Watch {
    tracker: ChangeTracker,
    found: bool,
    out: std::io::StdoutLock<'static>,
}

impl Watch {
    /// Prints one line; false once stdout is gone (`| head`).
    fn print(&mut self, v: &serde_json::Value) -> bool {
        writeln!(self.out, "{v}")
            .and_then(|_| self.out.flush())
            .is_ok()
    }

    fn changes(&mut self, changes: Vec<Change>) -> bool {
        changes.iter().all(|c| {
            self.found |= is_finding(&c.kind);
            self.print(&watch_json::line(c))
        })
    }

    fn live(&mut self, caught: &Caught) -> bool {
        let extra = match &caught.event {
            LiveEvent::Lost { count } => serde_json::json!({
                "event": "live_events_lost", "count": count,
            }),
            LiveEvent::Failed { reason } => serde_json::json!({
                "event": "live_catch_failed", "reason": reason,
            }),
            ev => {
                let changes = self.tracker.observe_live(caught.wall, ev);
                return self.changes(changes.into_iter().collect());
            }
        };
        let mut extra = extra;
        extra["time"] = caught.wall.to_rfc3339().into();
        self.print(&extra)
    }
}

pub fn run(args: &ScanArgs) -> ExitCode {
    let (tx, rx) = mpsc::channel::<Msg>();
    let signals = match watch_signals(tx.clone()) {
        Ok(s) => s,
        Err(e) => {
            let doc = ErrorJson::new(ErrorKind::System, format!("cannot handle signals: {e}"));
            return super::fail(true, doc);
        }
    };
    let mut scanner = Scanner::new(ScanOptions {
        proc_root: args.proc_root.clone(),
        owners: OwnerScope::Findings,
        netns: args.netns.clone(),
        ..ScanOptions::default()
    });
    let first = match scanner.scan() {
        Ok(s) => s,
        Err(e) => return super::fail(true, &e),
    };
    let sink = tx.clone();
    let config = tracefs::config_for(&first, &args.proc_root, args.storm);
    let started = LiveCatch::start_with(config, move |c| sink.send(Msg::Live(Box::new(c))).is_ok());
    drop(tx);
    let (live, state) = match started {
        Ok(live) => {
            let state = LiveCatchState {
                enabled: true,
                source: Some("tracefs"),
                reason: None,
                storms_off: live.storms_off().map(|e| e.to_string()),
            };
            (Some(live), state)
        }
        Err(why) => (
            None,
            LiveCatchState {
                enabled: false,
                source: None,
                reason: Some(why.to_string()),
                storms_off: None,
            },
        ),
    };
    let mut tracker = ChangeTracker::new();
    tracker.set_storm_window(args.storm.window);
    let mut w = Watch {
        tracker,
        found: false,
        out: std::io::stdout().lock(),
    };
    let mut changes = w.tracker.observe(&first).into_iter();
    let interval_ms = u64::try_from(args.interval.as_millis()).unwrap_or(u64::MAX);
    let open = match changes.next() {
        Some(start) => w.print(&watch_json::started_line(&start, &state, interval_ms)),
        None => true,
    };
    if open && w.changes(changes.collect()) {
        watch_loop(&mut w, &mut scanner, &rx, args);
    }
    signals.close();
    // Removes the tracing instance before the exit status is given.
    if let Some(live) = live
        && let Err(e) = live.stop()
    {
        eprintln!("selfconn-tui: cannot remove the tracing instance: {e}");
    }
    if w.found {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// Scans every interval and prints live events as they come, until the
/// duration is over, a signal arrives or stdout is gone.
fn watch_loop(w: &mut Watch, scanner: &mut Scanner, rx: &Receiver<Msg>, args: &ScanArgs) {
    let end = args.duration.map(|d| Instant::now() + d);
    let mut next_scan = Instant::now() + args.interval;
    loop {
        let now = Instant::now();
        if end.is_some_and(|e| now >= e) {
            return;
        }
        if now >= next_scan {
            next_scan = now + args.interval;
            let at = Local::now();
            let printed = match scanner.scan() {
                Ok(snap) => {
                    let changes = w.tracker.observe(&snap);
                    w.changes(changes)
                }
                Err(e) => {
                    let failure = w.tracker.observe_failure(at, &e.to_string());
                    w.changes(failure.into_iter().collect())
                }
            };
            if !printed {
                return;
            }
            continue;
        }
        let wake = end.map_or(next_scan, |e| e.min(next_scan));
        match rx.recv_timeout(wake.saturating_duration_since(now)) {
            Ok(Msg::Live(c)) => {
                if !w.live(&c) {
                    return;
                }
            }
            Ok(Msg::Stop) => return,
            Err(RecvTimeoutError::Timeout) => {}
            // The signal thread and live catch both gone: only the clock.
            Err(RecvTimeoutError::Disconnected) => std::thread::sleep(
                wake.saturating_duration_since(Instant::now())
                    .min(Duration::from_millis(100)),
            ),
        }
    }
}

/// Ctrl-C and SIGTERM end the watch cleanly (a second one ends at once).
fn watch_signals(tx: Sender<Msg>) -> std::io::Result<signal_hook::iterator::Handle> {
    let seen = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    for s in [SIGINT, SIGTERM] {
        signal_hook::flag::register_conditional_shutdown(s, 128 + s, seen.clone())?;
        signal_hook::flag::register(s, seen.clone())?;
    }
    let mut signals = Signals::new([SIGINT, SIGTERM])?;
    let handle = signals.handle();
    std::thread::Builder::new()
        .name("selfconn-watch-signals".into())
        .spawn(move || {
            if signals.forever().next().is_some() {
                let _ = tx.send(Msg::Stop);
            }
        })?;
    Ok(handle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_units_and_refuse_nonsense() {
        assert_eq!(parse_duration("5"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        for bad in ["0", "-1", "x", "5 parsecs", "", "1000h"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
