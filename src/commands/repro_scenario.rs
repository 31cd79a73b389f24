//! `selfconn-tui repro --scenario NAME`: a whole incident played live,
//! one line per step as it happens (or one JSON object at the end).

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use super::repro::ReproArgs;
use crate::report::{repro_json, repro_text};
use crate::repro::scenario::{Scenario, ScenarioConfig, run_restart};
use crate::repro::{Counters, Target};

fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("selfconn-tui: {message}");
    ExitCode::from(2)
}

/// Exit status: 0 the incident happened as told, 1 it did not, 2 error.
pub fn run(scenario: Scenario, args: &ReproArgs) -> ExitCode {
    let Scenario::Restart = scenario;
    let target = match Target::resolve(&args.host, args.port) {
        Ok(t) => t,
        Err(e) => return fail(e),
    };
    let config = ScenarioConfig {
        max_attempts: args.max_attempts,
        max_time: args.max_time,
        ..ScenarioConfig::new(target)
    };
    if let Err(e) = config.client().check() {
        return fail(e);
    }
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        let registered = signal_hook::flag::register_conditional_shutdown(signal, 1, stop.clone())
            .and_then(|_| signal_hook::flag::register(signal, stop.clone()));
        if let Err(e) = registered {
            return fail(format!("cannot handle signals: {e}"));
        }
    }
    let json = args.json;
    let mut write_error = None;
    let outcome = run_restart(&config, &Counters::new(), &stop, &mut |step| {
        if !json && write_error.is_none() {
            let mut out = std::io::stdout().lock();
            write_error = writeln!(out, "{}", repro_text::scenario_step_line(step))
                .and_then(|_| out.flush())
                .err();
        }
    });
    let tail = if json {
        repro_json::scenario_to_json("restart", &outcome)
    } else {
        repro_text::scenario_summary(&outcome)
    };
    let mut out = std::io::stdout().lock();
    let written = match write_error {
        Some(e) => Err(e),
        None => writeln!(out, "{tail}").and_then(|_| out.flush()),
    };
    if let Err(e) = written
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        return fail(format!("cannot write the report: {e}"));
    }
    if outcome.reproduced {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
