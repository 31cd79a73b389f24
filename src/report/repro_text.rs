//! `repro`'s human output: the live progress line and the result in words.

use std::fmt::Write as _;
use std::time::Duration;

use crossterm::style::Stylize;

use crate::core::ports::PortPolicy;
use crate::repro::explain::explain_end;
use crate::repro::{Config, End, Outcome, Snapshot};

/// `12345`, `95.2k`, `1.20M`: short numbers for a line that changes 10
/// times a second.
pub fn short_number(x: f64) -> String {
    if x >= 1e6 {
        format!("{:.2}M", x / 1e6)
    } else if x >= 1e4 {
        format!("{:.1}k", x / 1e3)
    } else {
        format!("{x:.0}")
    }
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

/// A limit as given: `30 s`, `0.5 s`.
fn limit_secs(d: Duration) -> String {
    format!("{} s", d.as_secs_f64())
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The live line: attempts, refusals, rate, source port, elapsed.
/// `rate` is the recent rate (the caller samples it).
pub fn progress_line(config: &Config, s: &Snapshot, rate: f64) -> String {
    let port = s
        .last_source_port
        .map_or_else(|| "-".to_string(), |p| p.to_string());
    let mut line = format!(
        "{} {}: {} attempts, {} refused, {}/s, source port {} (target {}), {} even / {} odd",
        config.mode,
        config.target,
        s.attempts,
        s.refused,
        short_number(rate),
        port,
        config.target.port(),
        s.even_source_ports,
        s.odd_source_ports,
    );
    let errors = s.errors.total();
    if errors > 0 {
        let _ = write!(line, ", {errors} errors");
    }
    if s.caught > 0 {
        let _ = write!(line, ", caught {}", s.caught);
    }
    let _ = write!(line, ", {}", secs(s.elapsed));
    line
}

/// The headline: what happened, in one sentence.
pub fn headline(config: &Config, outcome: &Outcome) -> String {
    headline_of(config, &outcome.end, &outcome.stats)
}

/// The headline of a run that ended with `end` after `s` (for a UI that
/// keeps the end and the counters, not the outcome).
pub fn headline_of(config: &Config, end: &End, s: &Snapshot) -> String {
    let target = config.target.addr();
    let after = format!(
        "after {} in {}",
        plural(s.attempts, "attempt", "attempts"),
        secs(s.elapsed)
    );
    match end {
        End::SelfConnected { local, peer, echo } => {
            let proof = if echo.verified {
                format!("echo verified (wrote '{}', read it back)", echo.sent_text())
            } else {
                format!(
                    "echo failed: {}",
                    echo.error.as_deref().unwrap_or("no answer")
                )
            };
            format!("{target} connected to itself {after}: local {local} = peer {peer}; {proof}")
        }
        End::ConnectedToOther { local, peer } => format!(
            "{target} is answered by a listener: connected to it, not to itself, {after} (local {local}, peer {peer})"
        ),
        End::PortInUse { addr } => {
            format!("Cannot bind {addr}: the port is in use, so it cannot connect to itself there")
        }
        End::AttemptLimit => format!(
            "No self-connect to {target} {after}: the attempt limit ({}) was reached",
            config.max_attempts
        ),
        End::TimeLimit => format!(
            "No self-connect to {target} {after}: the time limit ({}) was reached",
            limit_secs(config.max_time)
        ),
        End::Stopped => format!("Stopped {after}: no self-connect to {target}"),
        End::Failed(e) => format!("Failed {after}: {e}"),
    }
}

/// The details under the headline: counts, then the explanation.
pub fn details(config: &Config, outcome: &Outcome, policy: &PortPolicy) -> Vec<String> {
    let s = &outcome.stats;
    let mut counts = format!(
        "mode {} ({}); {} refused; source ports {} even / {} odd",
        config.mode,
        config.mode.summary(),
        s.refused,
        s.even_source_ports,
        s.odd_source_ports,
    );
    if let Some(p) = s.last_source_port {
        let _ = write!(counts, ", last {p}");
    }
    // A rate over a handful of attempts means nothing.
    if s.attempts >= 100 {
        let _ = write!(
            counts,
            "; {} attempts/s",
            short_number(s.attempts_per_sec())
        );
    }
    if s.caught > 0 {
        let _ = write!(counts, "; caught {}", s.caught);
    }
    let errors: Vec<String> = s
        .errors
        .nonzero()
        .map(|(name, n)| format!("{name} {n}"))
        .collect();
    if !errors.is_empty() {
        let _ = write!(counts, "; errors: {}", errors.join(", "));
    }
    let mut lines = vec![counts];
    lines.extend(explain_end(
        policy,
        config.mode,
        config.target.port(),
        &outcome.end,
        s,
    ));
    lines
}

/// The whole result: the headline (in colour when asked), then the details
/// indented.
pub fn render(config: &Config, outcome: &Outcome, policy: &PortPolicy, colour: bool) -> String {
    let head = headline(config, outcome);
    let mut out = if !colour {
        head
    } else {
        match &outcome.end {
            End::SelfConnected { echo, .. } if echo.verified => head.green().bold().to_string(),
            End::SelfConnected { .. } | End::ConnectedToOther { .. } | End::PortInUse { .. } => {
                head.yellow().bold().to_string()
            }
            End::Failed(_) => head.red().bold().to_string(),
            _ => head.bold().to_string(),
        }
    };
    out.push('\n');
    for line in details(config, outcome, policy) {
        let _ = writeln!(out, "  {line}");
    }
    out
}

/// One step of a scenario as a line: its time, the time since the start,
/// and what happened.
pub fn scenario_step_line(e: &crate::repro::scenario::StepEvent) -> String {
    use crate::repro::scenario::{FreeWith, Step};
    let what = match &e.step {
        Step::ServiceStarted { addr } => format!("service started: listening on {addr}"),
        Step::ServiceStopped { addr } => {
            format!("service stopped: nothing listens on {addr}; a client keeps reconnecting to it")
        }
        Step::ClientSelfConnected {
            local,
            attempts,
            refused,
            echo_verified,
        } => format!(
            "the client connected to itself after {} ({refused} refused): local {local} = peer \
             {local}{}; it now holds the port",
            plural(*attempts, "attempt", "attempts"),
            if *echo_verified {
                ", echo verified"
            } else {
                ""
            }
        ),
        Step::ClientGaveUp { end, attempts } => format!(
            "the client gave up ({end}) after {} without connecting to itself",
            plural(*attempts, "attempt", "attempts")
        ),
        Step::ServiceRestartFailed { call, errno } => format!(
            "service restart FAILED: {call} {errno}, even with SO_REUSEADDR: the client's socket \
             holds the port"
        ),
        Step::ServiceRestarted { addr } => {
            format!("service restarted on {addr}: the port was not held")
        }
        Step::PortFreed { how, addr } => match how {
            FreeWith::Close => format!(
                "the client closed {addr} (SO_LINGER 0, so no TIME_WAIT holds the port): it is free"
            ),
            FreeWith::Destroy => {
                format!("{addr} destroyed through sock_diag (as ss -K does): the port is free")
            }
        },
        Step::PortNotFreed { error, .. } => format!("the port could not be freed: {error}"),
        Step::ServiceBack { addr } => format!("service started again: listening on {addr}"),
        Step::ServiceStartFailed { call, errno } => {
            format!("the service could not start: {call} {errno}")
        }
        Step::Stopped => "stopped".to_string(),
    };
    format!(
        "{} {:>7}  {what}",
        e.time.format("%H:%M:%S%.3f"),
        format!("+{:.2}s", e.elapsed_ms as f64 / 1000.0)
    )
}

/// The last line of a scenario: whether the incident happened as told.
pub fn scenario_summary(outcome: &crate::repro::scenario::ScenarioOutcome) -> String {
    if outcome.reproduced {
        format!(
            "Reproduced: a client connected to itself on {} took the service's port; the \
             service could start again only once that socket was gone. To prevent it: reserve \
             the port (net.ipv4.ip_local_reserved_ports) or move the service out of the \
             ephemeral range.",
            outcome.target
        )
    } else {
        format!("Not reproduced on {}: see the steps above.", outcome.target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_numbers() {
        assert_eq!(short_number(0.0), "0");
        assert_eq!(short_number(9999.4), "9999");
        assert_eq!(short_number(95_213.0), "95.2k");
        assert_eq!(short_number(1_200_000.0), "1.20M");
    }
}
