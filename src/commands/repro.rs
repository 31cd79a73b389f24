//! `selfconn-tui repro`: the reproduction loop, headless. A live progress
//! line on a terminal, then the result in words or as JSON.

use std::collections::VecDeque;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use clap::builder::PossibleValue;
use clap::{Args, ValueEnum};

use crate::commands::pcap;
use crate::core::sanitize::{terminal_safe, terminal_safe_cut};
use crate::report::error_json::{ErrorJson, ErrorKind};
use crate::report::{repro_json, repro_text};
use crate::repro::explain::{TargetFacts, prospect};
use crate::repro::facts::read_target_facts;
use crate::repro::pace::{MAX_RATE, MIN_RATE};
use crate::repro::{
    Config, Counters, End, Mode, Outcome, ReproHandle, SelfConnection, Target, parse_port,
};

#[derive(Debug, Clone, Args)]
#[command(after_help = "\
Exit status: 0 it connected to itself, 1 limits reached without that (or stopped, or a listener \
answered), 2 error (bad arguments, a target that is not local).

Only local targets are accepted: loopback (127.0.0.0/8, ::1) or an address of this machine; \
nothing is sent anywhere else. Root is not needed. On a shared host a run churns through the \
source ports while it lasts and, once connected, holds the target port (then 60 s in TIME_WAIT); \
to keep it apart, give it a private network namespace (root):
  unshare -n sh -c 'ip link set lo up && exec selfconn-tui repro --port 44600'")]
pub struct ReproArgs {
    /// The port to connect to; for a self-connect, an even port inside the ephemeral range
    /// (net.ipv4.ip_local_port_range), with nothing listening, e.g. 44600
    #[arg(long, value_name = "PORT", value_parser = port_arg)]
    pub port: u16,
    /// The host: a literal address, loopback or one of this machine's, or localhost (from
    /// /etc/hosts); other names are refused, never looked up in DNS. E.g. 127.0.0.1, ::1
    #[arg(long, value_name = "HOST", default_value = "127.0.0.1")]
    pub host: String,
    /// How each attempt gets its socket and source port
    #[arg(long, value_name = "MODE", default_value = "fresh")]
    pub mode: Mode,
    /// Attempts per second, e.g. 200 (default: as fast as possible); a low rate lets an audience watch
    /// the source port climb
    #[arg(long, value_name = "N", value_parser = rate_arg, allow_negative_numbers = true)]
    pub rate: Option<f64>,
    /// Give up after this many attempts
    #[arg(long, value_name = "N", default_value_t = Config::DEFAULT_MAX_ATTEMPTS, value_parser = max_attempts_arg)]
    pub max_attempts: u64,
    /// Give up after this many seconds
    #[arg(long, value_name = "SECS", default_value = "30", value_parser = max_time_arg)]
    pub max_time: Duration,
    /// Print one JSON object instead of words
    #[arg(long)]
    pub json: bool,
    /// Once connected to itself, keep the socket open until Ctrl-C (to look at it with
    /// `selfconn-tui scan` or `ss -tn`)
    #[arg(long)]
    pub hold: bool,
    /// Capture the target port's packets on loopback during the run and write them to FILE
    /// as a pcap file (`tcpdump -r FILE`, Wireshark): the last 200 packets and the whole
    /// self-connect handshake. Needs root (e.g. self-connect.pcap)
    #[arg(long, value_name = "FILE")]
    pub pcap: Option<std::path::PathBuf>,
    /// Play a whole incident instead: `restart`, a service whose port a client connected to
    /// itself takes while the service restarts (the client is a plain connect() loop;
    /// e.g. --scenario restart)
    #[arg(long, value_name = "NAME")]
    pub scenario: Option<crate::repro::scenario::Scenario>,
}

impl ValueEnum for Mode {
    fn value_variants<'a>() -> &'a [Self] {
        &Mode::ALL
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(PossibleValue::new(self.name()).help(self.summary()))
    }
}

fn port_arg(s: &str) -> Result<u16, String> {
    parse_port(s).map_err(|e| e.to_string())
}

fn rate_arg(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        // NaN fails both comparisons; infinities fail one.
        Ok(r) if (MIN_RATE..=MAX_RATE).contains(&r) => Ok(r),
        Ok(_) => Err(format!(
            "the rate must be from {MIN_RATE} (one attempt every {} s) to {MAX_RATE} attempts per second (leave it out for as fast as possible)",
            1.0 / MIN_RATE
        )),
        Err(_) => Err(format!("{s:?} is not a number of attempts per second")),
    }
}

fn max_attempts_arg(s: &str) -> Result<u64, String> {
    match s.trim().parse::<u64>() {
        Ok(n) if (1..=Config::MAX_ATTEMPTS_LIMIT).contains(&n) => Ok(n),
        _ => Err(format!(
            "the attempt limit must be a whole number from 1 to {}",
            Config::MAX_ATTEMPTS_LIMIT
        )),
    }
}

fn max_time_arg(s: &str) -> Result<Duration, String> {
    let max = Config::MAX_TIME_LIMIT.as_secs();
    match s.trim().parse::<f64>() {
        Ok(t) if t.is_finite() && t > 0.0 && t <= max as f64 => Ok(Duration::from_secs_f64(t)),
        _ => Err(format!(
            "the time limit must be a number of seconds, more than 0 and at most {max}"
        )),
    }
}

/// Exit status 2 with the message on stderr and, under `--json`, the error
/// object on stdout.
fn fail(json: bool, kind: impl Into<ErrorKind>, message: impl std::fmt::Display) -> ExitCode {
    super::fail(json, ErrorJson::new(kind, message))
}

pub fn run(args: ReproArgs) -> ExitCode {
    if let Some(scenario) = args.scenario {
        return super::repro_scenario::run(scenario, &args);
    }
    let json = args.json;
    let config = match config_of(&args) {
        Ok(c) => c,
        Err(code) => return code,
    };
    // The namespace's range and reserved list, and whether a socket
    // connected to itself holds the target, for the explanations. When
    // they cannot be read, the kernel defaults stand in.
    let facts = read_target_facts(config.target.addr());
    let stop = match stop_on_signals() {
        Ok(stop) => stop,
        Err(e) => {
            return fail(
                json,
                ErrorKind::System,
                format!("cannot handle signals: {e}"),
            );
        }
    };
    let mut outcome = match run_loop(&args, &config, &facts, &stop) {
        Ok(o) => o,
        Err(code) => return code,
    };
    // Read again: the target may have been taken (or freed) meanwhile;
    // not after a self-connect, whose own socket holds it now.
    let facts = match outcome.is_self_connected() {
        true => facts,
        false => TargetFacts {
            held_by: read_target_facts(config.target.addr()).held_by,
            ..facts
        },
    };
    let code = report(json, &config, &outcome, &facts);
    if args.hold
        && let Some(conn) = outcome.take_connection()
    {
        hold(conn, &stop);
    }
    code
}

/// The run's configuration from the arguments, checked.
fn config_of(args: &ReproArgs) -> Result<Config, ExitCode> {
    let target = Target::resolve(&args.host, args.port).map_err(|e| fail(args.json, &e, &e))?;
    let config = Config {
        rate: args.rate,
        max_attempts: args.max_attempts,
        max_time: args.max_time,
        ..Config::new(target, args.mode)
    };
    config.check().map_err(|e| fail(args.json, &e, &e))?;
    Ok(config)
}

/// The loop, with the capture around it when `--pcap` asked for one
/// (refused before the run when it cannot be had).
fn run_loop(
    args: &ReproArgs,
    config: &Config,
    facts: &TargetFacts,
    stop: &Arc<AtomicBool>,
) -> Result<Outcome, ExitCode> {
    let json = args.json;
    let capture = match &args.pcap {
        Some(path) => Some(
            pcap::start(path, config.target.port())
                .map_err(|e| fail(json, ErrorKind::System, e))?,
        ),
        None => None,
    };
    let live = std::io::stderr().is_terminal();
    announce(config, facts, live);
    let handle = ReproHandle::spawn_with(config.clone(), Arc::new(Counters::new()), stop.clone())
        .map_err(|e| {
        fail(
            json,
            ErrorKind::System,
            format!("cannot start the loop: {e}"),
        )
    })?;
    let outcome = watch(handle, config, live);
    if let Some(p) = capture {
        p.finish().map_err(|e| fail(json, ErrorKind::System, e))?;
    }
    Ok(outcome)
}

/// The result in words or JSON on stdout; the exit status: 0 connected to
/// itself, 1 limits reached or stopped, 2 failed.
fn report(json: bool, config: &Config, outcome: &Outcome, facts: &TargetFacts) -> ExitCode {
    let code = match &outcome.end {
        End::SelfConnected { .. } => ExitCode::SUCCESS,
        End::Failed(_) => ExitCode::from(2),
        _ => ExitCode::from(1),
    };
    if let End::Failed(e) = &outcome.end {
        eprintln!("selfconn-tui: {}", terminal_safe(&e.to_string()));
        if !json {
            return code;
        }
    }
    let text = if json {
        format!("{}\n", repro_json::to_json(config, outcome, facts))
    } else {
        let colour = crate::colour::colour_wanted(std::io::stdout().is_terminal());
        repro_text::render(config, outcome, facts, colour)
    };
    if let Err(e) = super::write_stdout(&text) {
        // stdout itself failed: no JSON can be written there.
        eprintln!("selfconn-tui: cannot write the report: {e}");
        return ExitCode::from(2);
    }
    code
}

/// A flag that Ctrl-C (SIGINT) and SIGTERM set; a second one ends the
/// process at once, should the loop hang.
fn stop_on_signals() -> std::io::Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register_conditional_shutdown(signal, 1, stop.clone())?;
        signal_hook::flag::register(signal, stop.clone())?;
    }
    Ok(stop)
}

/// `--hold`: keeps the self-connected socket open until `stop`.
fn hold(conn: SelfConnection, stop: &AtomicBool) {
    eprintln!(
        "selfconn-tui: holding {} -> {} open (see `selfconn-tui scan` or `ss -tn`); Ctrl-C closes it",
        conn.local(),
        conn.peer()
    );
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(100));
    }
    conn.close();
}

/// On a terminal: what is about to happen, and a warning when the mode
/// cannot (or is unlikely to) reach the port. A target already held by a
/// socket connected to itself is said in any case: the run cannot succeed.
fn announce(config: &Config, facts: &TargetFacts, live: bool) {
    let p = prospect(facts, config.mode, config.target.port());
    let note = repro_text::worth_a_note(&p)
        .then(|| repro_text::prospect_words(&p, &repro_text::CLI_TERMS));
    if !live {
        if let Some(note) = note.filter(|_| facts.held_by.is_some()) {
            eprintln!("Note: {note}");
        }
        return;
    }
    let pace = match config.rate {
        Some(r) => format!("{r} attempts/s"),
        None => "as fast as possible".to_string(),
    };
    eprintln!(
        "Connecting to {} (mode {}: {}), {pace}, for at most {} attempts or {} s; Ctrl-C stops.",
        config.target,
        config.mode,
        config.mode.summary(),
        config.max_attempts,
        config.max_time.as_secs_f64()
    );
    let p = prospect(facts, config.mode, config.target.port());
    if repro_text::worth_a_note(&p) {
        eprintln!(
            "Note: {}",
            repro_text::prospect_words(&p, &repro_text::CLI_TERMS)
        );
    }
}

/// Waits for the end, drawing the progress line about ten times a second
/// when `live`.
fn watch(handle: ReproHandle, config: &Config, live: bool) -> Outcome {
    const TICK: Duration = Duration::from_millis(100);
    // The rate shown is over the last half second.
    let mut samples: VecDeque<crate::repro::Snapshot> = VecDeque::with_capacity(6);
    // The first line after one tick: a run that ends at once draws none.
    let mut next_draw = Instant::now() + TICK;
    let mut drawn = false;
    while !handle.is_finished() {
        let now = Instant::now();
        if live && now >= next_draw {
            let s = handle.snapshot();
            if samples.len() == 6 {
                samples.pop_front();
            }
            samples.push_back(s);
            let rate = samples.front().map_or(0.0, |first| s.rate_since(first));
            let line = repro_text::progress_line(config, &s, rate);
            eprint!("\r\x1b[2K{}", fit_to_terminal(&line));
            let _ = std::io::stderr().flush();
            drawn = true;
            next_draw = now + TICK;
        }
        // Poll often so that a short run ends without waiting for a tick.
        std::thread::sleep(Duration::from_millis(5));
    }
    if drawn {
        eprint!("\r\x1b[2K");
        let _ = std::io::stderr().flush();
    }
    handle.join()
}

/// Cuts a line to the terminal's width (less one column, so that the line
/// never wraps and `\r` can redraw it), by display width.
fn fit_to_terminal(line: &str) -> std::borrow::Cow<'_, str> {
    // A terminal that reports no size (0 columns) gets 80.
    let width = match crossterm::terminal::size() {
        Ok((w, _)) if w > 0 => usize::from(w.max(2)),
        _ => 80,
    };
    terminal_safe_cut(line, width - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argument_parsers_explain_what_is_wrong() {
        assert!(port_arg("0").unwrap_err().contains("port 0"));
        assert!(port_arg("70000").unwrap_err().contains("out of range"));
        assert_eq!(rate_arg("200"), Ok(200.0));
        assert_eq!(rate_arg("0.5"), Ok(0.5));
        assert_eq!(rate_arg("0.01"), Ok(0.01));
        assert_eq!(rate_arg("1e6"), Ok(1e6));
        for bad in [
            "0", "-3", "-0", "1e-19", "1.2e-19", "5e-324", "0.0099", "1000001", "inf", "-inf",
            "NaN", "infinity",
        ] {
            let e = rate_arg(bad).unwrap_err();
            assert!(e.contains("from 0.01"), "{bad}: {e}");
            assert!(e.contains("1000000"), "{bad}: {e}");
        }
        assert!(rate_arg("fast").unwrap_err().contains("not a number"));
        assert_eq!(max_attempts_arg("1"), Ok(1));
        assert!(max_attempts_arg("0").is_err());
        assert_eq!(max_time_arg("0.5"), Ok(Duration::from_millis(500)));
        assert!(max_time_arg("0").is_err());
        assert!(max_time_arg("1e9").is_err());
        assert!(max_time_arg("inf").is_err());
    }
}
