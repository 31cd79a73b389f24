//! `repro`'s human output: the live progress line, the result in words,
//! and the wording of [`crate::repro::explain`]'s advice. The sentences
//! take [`Terms`]: the command line names its options (`--mode`,
//! `--max-time`, `--hold`, [`CLI_TERMS`]); the dashboard's repro pane
//! passes its own terms (the fields of its form), so neither front end
//! rewrites the other's text.

use std::fmt::Write as _;
use std::time::Duration;

use crossterm::style::Stylize;

use crate::core::sanitize::terminal_safe;
use crate::core::words::{plural, plural_noun, time_of_day_millis};
use crate::repro::explain::{
    EndAdvice, Likelihood, Pass, Prospect, Reason, TargetFacts, Try, explain_end,
};
use crate::repro::{Config, End, Mode, Outcome, Snapshot};

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
pub fn details(config: &Config, outcome: &Outcome, facts: &TargetFacts) -> Vec<String> {
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
    lines.extend(notes(config, outcome, facts));
    lines
}

/// How a front end names what the user can change.
#[derive(Debug, Clone, Copy)]
pub struct Terms {
    /// A mode to choose: `--mode bind-first`, or `mode bind-first`.
    pub mode: fn(Mode) -> String,
    /// What to do when the limits came before the port: one sentence.
    pub more_time: &'static str,
    /// Who may hold a port connected to itself, besides the bug itself.
    pub other_run: &'static str,
}

fn mode_option(m: Mode) -> String {
    format!("--mode {}", m.name())
}

/// The command line's terms.
pub const CLI_TERMS: Terms = Terms {
    mode: mode_option,
    more_time: "Raise --max-time or --max-attempts.",
    other_run: "another run with --hold",
};

/// The advice on a run's end, in the command line's words (also the
/// `notes` of the JSON report).
pub fn notes(config: &Config, outcome: &Outcome, facts: &TargetFacts) -> Vec<String> {
    let port = config.target.port();
    explain_end(facts, config.mode, port, &outcome.end, &outcome.stats)
        .map(|a| advice(&a, &CLI_TERMS))
        .into_iter()
        .collect()
}

/// "Try an even port such as 44602, or --mode bind-first."
fn try_words(t: &Try, parity: Option<&str>, terms: &Terms) -> String {
    let port = t.port.map(|p| match parity {
        Some(par) => format!("{par} port such as {p}"),
        None => p.to_string(),
    });
    let mode = t.mode.map(terms.mode);
    match (port, mode) {
        (Some(p), Some(m)) => format!(" Try {p}, or {m}."),
        (Some(p), None) => format!(" Try {p}."),
        (None, Some(m)) => format!(" Try {m}."),
        (None, None) => String::new(),
    }
}

/// What to expect, in one or two sentences.
pub fn prospect_words(p: &Prospect, terms: &Terms) -> String {
    let port = p.port;
    match &p.reason {
        Reason::Held { by } => format!(
            "{by} is already connected to itself ({}, or a client that hit the bug): the kernel cannot pick {port} for this target until that socket closes.",
            terms.other_run
        ),
        Reason::ExplicitBind => format!(
            "bind mode sets the source port to {port} itself, so the first connect() is to itself, in the ephemeral range or not."
        ),
        Reason::OutsideRange { range } => format!(
            "{port} is outside the ephemeral range {range}: the kernel never picks it as a source port, so only {} (an explicit bind) connects to itself there.",
            (terms.mode)(Mode::Bind)
        ),
        Reason::Reserved => format!(
            "{port} is in net.ipv4.ip_local_reserved_ports: the kernel never picks it as a source port, so only {} (an explicit bind) connects to itself there.",
            (terms.mode)(Mode::Bind)
        ),
        Reason::ConnectWalk {
            range,
            parity,
            count,
        } => {
            let first = parity.name();
            format!(
                "{port} is in the ephemeral range {range} and {first}, the parity connect() picks first: the kernel walks up through the {count} {first} ports in small random steps and usually reaches {port} within a pass or two (each step skips some ports, so a run can take several passes)."
            )
        }
        Reason::ConnectOtherParity { low, first, other } => {
            let (first_name, other_name) = (first.name(), other.name());
            let instead = p
                .instead
                .map(|t| try_words(&t, Some(first.with_article()), terms))
                .unwrap_or_default();
            format!(
                "{port} is {other_name}, but connect() picks {first_name} ports first (the parity of {low}, the range's low end, since Linux 4.6) and reaches {other_name} ones only when all {first_name} ports are taken.{instead}"
            )
        }
        Reason::GuardCloses => format!(
            "The kernel will hand out {port} as a source port, but the guard closes such a connection and retries, as Go's dialer does: the run should end at a limit with the catches counted, never connected to itself."
        ),
        Reason::BindFirstLottery { other, count } => format!(
            "bind(0) picks {} ports first, at random, and {port} is one of the {count}: expect a self-connect after about {count} attempts (a lottery, not a walk).",
            other.name()
        ),
        Reason::BindFirstOtherParity { first, other } => {
            let instead = p
                .instead
                .map(|t| try_words(&t, None, terms))
                .unwrap_or_default();
            format!(
                "bind(0) picks {other} ports first (the other parity than connect()); {port} is {first}, which bind(0) reaches only when all {other} ports are taken.{instead}",
                other = other.name(),
                first = first.name()
            )
        }
    }
}

/// Whether a prospect deserves a note before the run.
pub fn worth_a_note(p: &Prospect) -> bool {
    p.likelihood != Likelihood::Expected
}

/// "at 1.5 attempts/s a pass over the 14116 ports takes about 2.6 h".
pub fn pass_words(pass: &Pass) -> String {
    let rate = if pass.rate.fract() == 0.0 {
        format!("{:.0}", pass.rate)
    } else {
        format!("{:.1}", pass.rate)
    };
    let unit = if pass.rate == 1.0 {
        "attempt"
    } else {
        "attempts"
    };
    format!(
        "at {rate} {unit}/s a pass over the {} ports takes about {}",
        pass.ports,
        duration_words(pass.secs())
    )
}

/// `9.4 s`, `157 min`, `2.6 h`.
pub fn duration_words(secs: f64) -> String {
    if secs < 120.0 {
        format!("{secs:.1} s")
    } else if secs < 2.0 * 3600.0 {
        format!("{:.0} min", secs / 60.0)
    } else {
        format!("{:.1} h", secs / 3600.0)
    }
}

/// Why errors dominated, when the errno says.
pub fn errno_cause(errno: &str) -> &'static str {
    match errno {
        "EADDRNOTAVAIL" => {
            " (no free source port: too many sockets in TIME_WAIT, or a tiny range?)"
        }
        "EINPROGRESS" => {
            " (no answer in time: the SYNs were dropped, by a firewall or by a listener whose accept queue is full)"
        }
        _ => "",
    }
}

/// The advice on a run's end, in one or two sentences.
pub fn advice(a: &EndAdvice, terms: &Terms) -> String {
    match a {
        EndAdvice::AtRisk {
            port,
            range,
            reserve,
        } => format!(
            "A service on {port} is at risk while it is down: move it out of the ephemeral range {range}, or reserve the port: {reserve}"
        ),
        EndAdvice::ExplicitBindOnly { port } => format!(
            "This took an explicit bind(): the kernel itself never picks {port} as a source port."
        ),
        EndAdvice::ListenerAnswered { peer } => format!(
            "Something listens on {peer}, so connect() reached it. While it runs the port is never picked as a source port; the danger is the window when it is down or restarting and a client keeps retrying."
        ),
        EndAdvice::PortBound { addr } => format!(
            "Something listens on {addr} or holds the port bound, so bind() to it failed. Stop it, or pick a free port."
        ),
        EndAdvice::MostlyErrors { errno } => {
            format!("Most attempts failed with {errno}{}.", errno_cause(errno))
        }
        EndAdvice::GuardCaught { caught } => format!(
            "The guard caught {} and closed {}: that is the fix working (Go's dialer does the same).",
            plural(*caught, "self-connection", "self-connections"),
            plural_noun(*caught, "it", "them")
        ),
        EndAdvice::Held { port, by } => format!(
            "{by} is connected to itself and holds the port: the kernel cannot pick {port} for this target until that socket closes (more time will not help). Close it (end the run that holds it, or `ss -K src {by} dst {by}` as root), or pick another port."
        ),
        EndAdvice::Prospect(p) => prospect_words(p, terms),
        EndAdvice::NotYet { port, pass } => {
            let pass = pass
                .map(|p| format!("; {}", pass_words(&p)))
                .unwrap_or_default();
            format!(
                "The kernel did not hand out {port} yet{pass}. {}",
                terms.more_time
            )
        }
    }
}

/// The whole result: the headline (in colour when asked), then the details
/// indented. Made terminal-safe: they quote what a peer sent back and
/// system error messages.
pub fn render(config: &Config, outcome: &Outcome, facts: &TargetFacts, colour: bool) -> String {
    let head = terminal_safe(&headline(config, outcome)).into_owned();
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
    for line in details(config, outcome, facts) {
        let _ = writeln!(out, "  {}", terminal_safe(&line));
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
        time_of_day_millis(&e.time),
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

    #[test]
    fn a_pass_is_worded_with_the_rate_it_was_computed_from() {
        let words = pass_words(&Pass {
            rate: 1.0,
            ports: 14116,
        });
        assert_eq!(
            words,
            "at 1 attempt/s a pass over the 14116 ports takes about 3.9 h"
        );
        let words = pass_words(&Pass {
            rate: 1.5,
            ports: 14116,
        });
        assert_eq!(
            words,
            "at 1.5 attempts/s a pass over the 14116 ports takes about 2.6 h"
        );
        let words = pass_words(&Pass {
            rate: 95_000.0,
            ports: 14116,
        });
        assert!(words.ends_with("takes about 0.1 s"), "{words}");
    }

    #[test]
    fn the_command_line_names_its_options() {
        let p = crate::repro::explain::prospect(&TargetFacts::default(), Mode::Fresh, 44601);
        let words = prospect_words(&p, &CLI_TERMS);
        assert!(
            words.ends_with("Try an even port such as 44602, or --mode bind-first."),
            "{words}"
        );
        let held: std::net::SocketAddr = "127.0.0.1:44600".parse().unwrap();
        let words = advice(
            &EndAdvice::Held {
                port: 44600,
                by: held,
            },
            &CLI_TERMS,
        );
        assert!(words.contains("cannot pick 44600"), "{words}");
        assert!(!words.contains("raise --max-time"), "{words}");
    }
}
