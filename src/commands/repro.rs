//! `selfconn-tui repro`: the reproduction loop, headless. A live progress
//! line on a terminal, then the result in words or as JSON.

use std::collections::VecDeque;
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use clap::builder::PossibleValue;
use clap::{Args, ValueEnum};

use crate::core::ports::PortPolicy;
use crate::report::{repro_json, repro_text};
use crate::repro::explain::{Likelihood, prospect};
use crate::repro::pace::MAX_RATE;
use crate::repro::{Config, Counters, End, Mode, Outcome, ReproHandle, Target, parse_port};
use crate::sys::procnet::{NetFiles, read_policy};

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
    /// (net.ipv4.ip_local_port_range), with nothing listening
    #[arg(long, value_name = "PORT", value_parser = port_arg)]
    pub port: u16,
    /// The host: a loopback address or one of this machine's addresses (a name is resolved,
    /// and every address it resolves to must be local)
    #[arg(long, value_name = "HOST", default_value = "127.0.0.1")]
    pub host: String,
    /// How each attempt gets its socket and source port
    #[arg(long, value_name = "MODE", default_value = "fresh")]
    pub mode: Mode,
    /// Attempts per second (default: as fast as possible); a low rate lets an audience watch
    /// the source port climb
    #[arg(long, value_name = "N", value_parser = rate_arg)]
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
    /// Play a whole incident instead: `restart`, a service whose port a client connected to
    /// itself takes while the service restarts (the client is a plain connect() loop)
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
        Ok(r) if r.is_finite() && r > 0.0 && r <= MAX_RATE => Ok(r),
        Ok(_) => Err(format!(
            "the rate must be more than 0 and at most {MAX_RATE} attempts per second (leave it out for as fast as possible)"
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

fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("selfconn-tui: {message}");
    ExitCode::from(2)
}

pub fn run(args: ReproArgs) -> ExitCode {
    if let Some(scenario) = args.scenario {
        return super::repro_scenario::run(scenario, &args);
    }
    let target = match Target::resolve(&args.host, args.port) {
        Ok(t) => t,
        Err(e) => return fail(e),
    };
    let config = Config {
        rate: args.rate,
        max_attempts: args.max_attempts,
        max_time: args.max_time,
        ..Config::new(target, args.mode)
    };
    if let Err(e) = config.check() {
        return fail(e);
    }
    // The namespace's range and reserved list, for the explanations. When
    // they cannot be read, the kernel defaults stand in.
    let policy = read_policy(&NetFiles::own(Path::new("/proc")), &mut Vec::new());

    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // A second Ctrl-C ends the process at once, should the loop hang.
        let registered = signal_hook::flag::register_conditional_shutdown(signal, 1, stop.clone())
            .and_then(|_| signal_hook::flag::register(signal, stop.clone()));
        if let Err(e) = registered {
            return fail(format!("cannot handle signals: {e}"));
        }
    }

    let live = std::io::stderr().is_terminal();
    if live {
        announce(&config, &policy);
    }
    let handle =
        match ReproHandle::spawn_with(config.clone(), Arc::new(Counters::new()), stop.clone()) {
            Ok(h) => h,
            Err(e) => return fail(format!("cannot start the loop: {e}")),
        };
    let mut outcome = watch(handle, &config, live);

    let code = match &outcome.end {
        End::SelfConnected { .. } => ExitCode::SUCCESS,
        End::Failed(_) => ExitCode::from(2),
        _ => ExitCode::from(1),
    };
    if let End::Failed(e) = &outcome.end
        && !args.json
    {
        eprintln!("selfconn-tui: {e}");
        return code;
    }
    let text = if args.json {
        format!("{}\n", repro_json::to_json(&config, &outcome, &policy))
    } else {
        let colour = crate::cli::colour_wanted(std::io::stdout().is_terminal());
        repro_text::render(&config, &outcome, &policy, colour)
    };
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout
        .write_all(text.as_bytes())
        .and_then(|_| stdout.flush())
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        return fail(format!("cannot write the report: {e}"));
    }
    drop(stdout);
    if args.hold
        && let Some(conn) = outcome.take_connection()
    {
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
    code
}

/// On a terminal: what is about to happen, and a warning when the mode
/// cannot (or is unlikely to) reach the port.
fn announce(config: &Config, policy: &PortPolicy) {
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
    let p = prospect(policy, config.mode, config.target.port());
    if p.likelihood != Likelihood::Expected {
        eprintln!("Note: {}", p.why);
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

/// Cuts a line to the terminal's width, so that `\r` can redraw it.
fn fit_to_terminal(line: &str) -> &str {
    // A terminal that reports no size (0 columns) gets 80.
    let width = match crossterm::terminal::size() {
        Ok((w, _)) if w > 0 => usize::from(w.max(2)),
        _ => 80,
    };
    match line.char_indices().nth(width - 1) {
        Some((i, _)) => &line[..i],
        None => line,
    }
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
        assert!(rate_arg("0").unwrap_err().contains("more than 0"));
        assert!(rate_arg("-3").is_err());
        assert!(rate_arg("fast").unwrap_err().contains("not a number"));
        assert_eq!(max_attempts_arg("1"), Ok(1));
        assert!(max_attempts_arg("0").is_err());
        assert_eq!(max_time_arg("0.5"), Ok(Duration::from_millis(500)));
        assert!(max_time_arg("0").is_err());
        assert!(max_time_arg("1e9").is_err());
        assert!(max_time_arg("inf").is_err());
    }
}
