//! Plain words on what to expect from a run and why it ended as it did.
//! Pure: a port policy, a mode and numbers in, sentences out; the command
//! line and the dashboard print them.

use crate::core::advice::reserve_fix;
use crate::core::ports::PortPolicy;

use super::counters::Snapshot;
use super::engine::End;
use super::mode::Mode;

/// How likely the mode is to make the kernel hand out the target port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Likelihood {
    /// It should happen within the default limits.
    Expected,
    /// Possible, but only in conditions a demonstration will not meet.
    Unlikely,
    /// The kernel never picks the port by itself.
    Never,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prospect {
    pub likelihood: Likelihood,
    /// One or two sentences.
    pub why: String,
}

fn parity(port: u16) -> &'static str {
    if port % 2 == 0 { "even" } else { "odd" }
}

/// How many ports of the range have `port`'s parity.
fn same_parity_count(policy: &PortPolicy, port: u16) -> u32 {
    let (low, high) = (u32::from(policy.range.low), u32::from(policy.range.high));
    let first = if (low + u32::from(port)) % 2 == 0 {
        low
    } else {
        low + 1
    };
    if first > high {
        0
    } else {
        (high - first) / 2 + 1
    }
}

/// What to expect from `mode` on `port` under `policy`.
pub fn prospect(policy: &PortPolicy, mode: Mode, port: u16) -> Prospect {
    let range = policy.range;
    let p = |likelihood, why: String| Prospect { likelihood, why };
    if mode == Mode::Bind {
        return p(
            Likelihood::Expected,
            format!(
                "bind mode sets the source port to {port} itself, so the first connect() is to itself, in the ephemeral range or not."
            ),
        );
    }
    if !range.contains(port) {
        return p(
            Likelihood::Never,
            format!(
                "{port} is outside the ephemeral range {range}: the kernel never picks it as a source port, so only --mode bind (an explicit bind) connects to itself there."
            ),
        );
    }
    if policy.reserved.contains(port) {
        return p(
            Likelihood::Never,
            format!(
                "{port} is in net.ipv4.ip_local_reserved_ports: the kernel never picks it as a source port, so only --mode bind (an explicit bind) connects to itself there."
            ),
        );
    }
    let connect_parity = range.has_connect_parity(port);
    let first = parity(range.low);
    let other = parity(range.low.wrapping_add(1));
    let n = same_parity_count(policy, port);
    let neighbour = if port < range.high {
        port + 1
    } else {
        port - 1
    };
    match (mode, connect_parity) {
        (Mode::Fresh | Mode::Reuse, true) => p(
            Likelihood::Expected,
            format!(
                "{port} is in the ephemeral range {range} and {first}, the parity connect() picks first: the kernel walks up through the {n} {first} ports in small random steps and usually reaches {port} within a pass or two (each step skips some ports, so a run can take several passes)."
            ),
        ),
        (Mode::Fresh | Mode::Reuse | Mode::Guarded, false) => p(
            Likelihood::Unlikely,
            format!(
                "{port} is {other}, but connect() picks {first} ports first (the parity of {}, the range's low end, since Linux 4.6) and reaches {other} ones only when all {first} ports are taken. Try an {first} port such as {neighbour}, or --mode bind-first.",
                range.low
            ),
        ),
        (Mode::Guarded, true) => p(
            Likelihood::Expected,
            format!(
                "The kernel will hand out {port} as a source port, but the guard closes such a connection and retries, as Go's dialer does: the run should end at a limit with the catches counted, never connected to itself."
            ),
        ),
        (Mode::BindFirst, false) => p(
            Likelihood::Expected,
            format!(
                "bind(0) picks {other} ports first, at random, and {port} is one of the {n}: expect a self-connect after about {n} attempts (a lottery, not a walk)."
            ),
        ),
        (Mode::BindFirst, true) => p(
            Likelihood::Unlikely,
            format!(
                "bind(0) picks {other} ports first (the other parity than connect()); {port} is {first}, which bind(0) reaches only when all {other} ports are taken. Try {neighbour}, or --mode fresh."
            ),
        ),
        (Mode::Bind, _) => unreachable!("handled above"),
    }
}

/// Why a run ended without connecting to itself, and what to try; or, when
/// it did, what fixes it. One sentence per line.
pub fn explain_end(
    policy: &PortPolicy,
    mode: Mode,
    port: u16,
    end: &End,
    stats: &Snapshot,
) -> Vec<String> {
    let mut lines = Vec::new();
    let pros = prospect(policy, mode, port);
    match end {
        End::SelfConnected { .. } => {
            if policy.is_ephemeral(port) {
                let fix = reserve_fix(policy, port);
                lines.push(format!(
                    "A service on {port} is at risk while it is down: move it out of the ephemeral range {}, or reserve the port: {}",
                    policy.range,
                    fix.commands.first().map_or("", String::as_str)
                ));
            } else {
                lines.push(format!(
                    "This took an explicit bind(): the kernel itself never picks {port} as a source port."
                ));
            }
        }
        End::ConnectedToOther { peer, .. } => {
            lines.push(format!(
                "Something listens on {peer}, so connect() reached it. While it runs the port is never picked as a source port; the danger is the window when it is down or restarting and a client keeps retrying."
            ));
        }
        End::PortInUse { addr } => {
            lines.push(format!(
                "Something listens on {addr} or holds the port bound, so bind() to it failed. Stop it, or pick a free port."
            ));
        }
        End::AttemptLimit | End::TimeLimit | End::Stopped => {
            let errors = stats.errors.total();
            let dominant = stats.errors.nonzero().max_by_key(|&(_, n)| n);
            if let Some((name, _)) = dominant.filter(|_| errors * 2 > stats.attempts) {
                let why = match name {
                    "EADDRNOTAVAIL" => {
                        " (no free source port: too many sockets in TIME_WAIT, or a tiny range?)"
                    }
                    "EINPROGRESS" => {
                        " (no answer in time: the SYNs were dropped, by a firewall or by a listener whose accept queue is full)"
                    }
                    _ => "",
                };
                lines.push(format!("Most attempts failed with {name}{why}."));
            } else if mode == Mode::Guarded && stats.caught > 0 {
                lines.push(format!(
                    "The guard caught {} self-connection{} and closed {}: that is the fix working (Go's dialer does the same).",
                    stats.caught,
                    if stats.caught == 1 { "" } else { "s" },
                    if stats.caught == 1 { "it" } else { "them" }
                ));
            } else if pros.likelihood != Likelihood::Expected || mode == Mode::Guarded {
                lines.push(pros.why);
            } else if !matches!(end, End::Stopped) {
                let n = same_parity_count(policy, port);
                let rate = stats.attempts_per_sec();
                let pass = if rate > 0.0 && mode != Mode::BindFirst {
                    format!(
                        "; at {} attempts/s a pass over the {n} ports takes about {:.1} s",
                        rate.round(),
                        f64::from(n) / rate
                    )
                } else {
                    String::new()
                };
                lines.push(format!(
                    "The kernel did not hand out {port} yet{pass}. Raise --max-time or --max-attempts."
                ));
            }
        }
        End::Failed(_) => {}
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::ports::{PortRange, ReservedPorts};
    use std::net::SocketAddr;

    fn default_policy() -> PortPolicy {
        PortPolicy::default()
    }

    #[test]
    fn counts_ports_of_a_parity() {
        let p = default_policy(); // 32768-60999: 14116 even, 14116 odd
        assert_eq!(same_parity_count(&p, 44600), 14116);
        assert_eq!(same_parity_count(&p, 44601), 14116);
        let tiny = PortPolicy {
            range: PortRange { low: 7, high: 7 },
            reserved: ReservedPorts::default(),
        };
        assert_eq!(same_parity_count(&tiny, 7), 1);
        assert_eq!(same_parity_count(&tiny, 8), 0);
    }

    #[test]
    fn parity_and_range_decide_the_prospect() {
        let p = default_policy();
        let l = |m, port| prospect(&p, m, port).likelihood;
        assert_eq!(l(Mode::Fresh, 44600), Likelihood::Expected);
        assert_eq!(l(Mode::Reuse, 44600), Likelihood::Expected);
        assert_eq!(l(Mode::Fresh, 44601), Likelihood::Unlikely);
        assert_eq!(l(Mode::BindFirst, 44601), Likelihood::Expected);
        assert_eq!(l(Mode::BindFirst, 44600), Likelihood::Unlikely);
        assert_eq!(l(Mode::Fresh, 8080), Likelihood::Never);
        assert_eq!(l(Mode::Bind, 8080), Likelihood::Expected);
        let why = prospect(&p, Mode::Fresh, 44601).why;
        assert!(
            why.contains("odd") && why.contains("even") && why.contains("44602"),
            "{why}"
        );
        let why = prospect(&p, Mode::Reuse, 8080).why;
        assert!(
            why.contains("outside the ephemeral range 32768-60999"),
            "{why}"
        );
        let reserved = PortPolicy {
            reserved: ReservedPorts::parse("44600").unwrap(),
            ..p
        };
        assert_eq!(
            prospect(&reserved, Mode::Fresh, 44600).likelihood,
            Likelihood::Never
        );
    }

    #[test]
    fn a_limit_on_an_odd_port_is_explained_by_parity() {
        let p = default_policy();
        let stats = Snapshot {
            attempts: 1000,
            ..Snapshot::default()
        };
        let lines = explain_end(&p, Mode::Fresh, 44601, &End::TimeLimit, &stats);
        assert!(
            lines[0].contains("connect() picks even ports first"),
            "{lines:?}"
        );
    }

    #[test]
    fn success_suggests_reserving_the_port() {
        let p = default_policy();
        let addr: SocketAddr = "127.0.0.1:44600".parse().unwrap();
        let end = End::SelfConnected {
            local: addr,
            peer: addr,
            echo: crate::repro::Echo {
                sent: b"x",
                received: b"x".to_vec(),
                verified: true,
                error: None,
            },
        };
        let lines = explain_end(&p, Mode::Fresh, 44600, &end, &Snapshot::default());
        assert!(
            lines[0].contains("ip_local_reserved_ports=44600"),
            "{lines:?}"
        );
    }

    #[test]
    fn dominant_errors_are_named() {
        let p = default_policy();
        let mut errors = crate::repro::ErrorCounts::default();
        errors.0[crate::repro::counters::errno_slot(libc::EINPROGRESS)] = 6;
        let stats = Snapshot {
            attempts: 6,
            errors,
            ..Snapshot::default()
        };
        let lines = explain_end(&p, Mode::Fresh, 44600, &End::TimeLimit, &stats);
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(lines[0].starts_with("Most attempts failed with EINPROGRESS (no answer in time"));
    }

    #[test]
    fn guard_catches_are_reported() {
        let p = default_policy();
        let stats = Snapshot {
            attempts: 100,
            caught: 2,
            ..Snapshot::default()
        };
        let lines = explain_end(&p, Mode::Guarded, 44600, &End::TimeLimit, &stats);
        assert!(lines[0].contains("caught 2 self-connections"), "{lines:?}");
    }
}
