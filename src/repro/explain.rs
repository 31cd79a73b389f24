//! What to expect from a run and why it ended as it did, as data: enums
//! with the numbers in them, no sentences. Each front end words them in its
//! own terms (the command line names `--mode` and `--max-time`,
//! `report::repro_text`; the dashboard names the fields of its form,
//! `tui::repro::view`), so neither has to rewrite the other's text.
//! Pure: a port policy, a mode, what the TCP table showed and numbers in.

use std::net::SocketAddr;

use crate::core::advice::reserve_fix;
use crate::core::ports::{PortPolicy, PortRange};

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

/// Even or odd: which pass of the kernel's walk a port belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parity {
    Even,
    Odd,
}

impl Parity {
    pub fn of(port: u16) -> Parity {
        if port % 2 == 0 {
            Parity::Even
        } else {
            Parity::Odd
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Parity::Even => "even",
            Parity::Odd => "odd",
        }
    }

    /// "an even", "an odd".
    pub fn with_article(self) -> &'static str {
        match self {
            Parity::Even => "an even",
            Parity::Odd => "an odd",
        }
    }
}

/// What the machine showed about the target before or after a run.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TargetFacts {
    pub policy: PortPolicy,
    /// A socket connected to itself on the target's address and port
    /// (another run holding it, or a client that hit the bug): the kernel
    /// cannot hand out the port for this target while it is open.
    pub held_by: Option<SocketAddr>,
}

impl TargetFacts {
    pub fn new(policy: PortPolicy) -> TargetFacts {
        TargetFacts {
            policy,
            held_by: None,
        }
    }
}

/// Why the kernel will, or will not, hand out the port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// `bind` mode sets the source port itself.
    ExplicitBind,
    /// Outside the ephemeral range: never picked automatically.
    OutsideRange { range: PortRange },
    /// In `net.ipv4.ip_local_reserved_ports`.
    Reserved,
    /// A socket connected to itself holds the 4-tuple already.
    Held { by: SocketAddr },
    /// connect()'s parity: walked through `count` ports of that parity.
    ConnectWalk {
        range: PortRange,
        parity: Parity,
        count: u32,
    },
    /// The other parity than connect()'s first pass.
    ConnectOtherParity {
        low: u16,
        first: Parity,
        other: Parity,
    },
    /// The guard closes what the kernel hands out.
    GuardCloses,
    /// bind(0) picks the other parity first, at random: one in `count`.
    BindFirstLottery { other: Parity, count: u32 },
    /// bind(0) reaches connect()'s parity only when the other runs out.
    BindFirstOtherParity { first: Parity, other: Parity },
}

/// Something to try instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Try {
    /// A port that fits the mode better.
    pub port: Option<u16>,
    /// A mode that fits the port better.
    pub mode: Option<Mode>,
}

/// What to expect from a mode on a port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prospect {
    pub port: u16,
    pub likelihood: Likelihood,
    pub reason: Reason,
    pub instead: Option<Try>,
}

/// How many ports of the range have `port`'s parity.
pub fn same_parity_count(range: PortRange, port: u16) -> u32 {
    let (low, high) = (u32::from(range.low), u32::from(range.high));
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

/// What to expect from `mode` on `port`.
pub fn prospect(facts: &TargetFacts, mode: Mode, port: u16) -> Prospect {
    let policy = &facts.policy;
    let range = policy.range;
    let p = |likelihood, reason, instead| Prospect {
        port,
        likelihood,
        reason,
        instead,
    };
    let bind_instead = Some(Try {
        port: None,
        mode: Some(Mode::Bind),
    });
    if let Some(by) = facts.held_by {
        return p(Likelihood::Never, Reason::Held { by }, None);
    }
    if mode == Mode::Bind {
        return p(Likelihood::Expected, Reason::ExplicitBind, None);
    }
    if !range.contains(port) {
        return p(
            Likelihood::Never,
            Reason::OutsideRange { range },
            bind_instead,
        );
    }
    if policy.reserved.contains(port) {
        return p(Likelihood::Never, Reason::Reserved, bind_instead);
    }
    in_range(range, mode, port)
}

/// What to expect of a port the kernel may pick: parity decides.
fn in_range(range: PortRange, mode: Mode, port: u16) -> Prospect {
    let p = |likelihood, reason, instead| Prospect {
        port,
        likelihood,
        reason,
        instead,
    };
    let first = Parity::of(range.low);
    let other = Parity::of(range.low.wrapping_add(1));
    let count = same_parity_count(range, port);
    let neighbour = if port < range.high {
        port + 1
    } else {
        port - 1
    };
    let instead = |mode| {
        Some(Try {
            port: Some(neighbour),
            mode: Some(mode),
        })
    };
    match (mode, range.has_connect_parity(port)) {
        (Mode::Fresh | Mode::Reuse, true) => {
            let reason = Reason::ConnectWalk {
                range,
                parity: first,
                count,
            };
            p(Likelihood::Expected, reason, None)
        }
        (Mode::Fresh | Mode::Reuse | Mode::Guarded, false) => {
            let low = range.low;
            let reason = Reason::ConnectOtherParity { low, first, other };
            p(Likelihood::Unlikely, reason, instead(Mode::BindFirst))
        }
        (Mode::Guarded, true) => p(Likelihood::Expected, Reason::GuardCloses, None),
        (Mode::BindFirst, false) => {
            let reason = Reason::BindFirstLottery { other, count };
            p(Likelihood::Expected, reason, None)
        }
        (Mode::BindFirst, true) => {
            let reason = Reason::BindFirstOtherParity { first, other };
            p(Likelihood::Unlikely, reason, instead(Mode::Fresh))
        }
        // Handled by the caller: bind mode sets the port itself.
        (Mode::Bind, _) => p(Likelihood::Expected, Reason::ExplicitBind, None),
    }
}

/// How long a pass over the ports takes at the rate a run reached.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pass {
    /// Attempts per second, rounded as it is to be shown (whole numbers
    /// from 10 up, one decimal below), so that the duration agrees with it.
    pub rate: f64,
    /// Ports of the target's parity in the range.
    pub ports: u32,
}

impl Pass {
    /// `ports / rate`, in seconds.
    pub fn secs(&self) -> f64 {
        f64::from(self.ports) / self.rate
    }
}

/// A rate rounded as it is shown; `None` below 0.05/s (it would show as 0).
pub fn shown_rate(rate: f64) -> Option<f64> {
    let r = if rate >= 10.0 {
        rate.round()
    } else {
        (rate * 10.0).round() / 10.0
    };
    (r.is_finite() && r > 0.0).then_some(r)
}

/// Why a run ended as it did, and what to do.
#[derive(Debug, Clone, PartialEq)]
pub enum EndAdvice {
    /// It connected to itself inside the range: a service on the port is
    /// at risk while it is down; `reserve` is the command that reserves it.
    AtRisk {
        port: u16,
        range: PortRange,
        reserve: String,
    },
    /// It connected to itself outside the range: only an explicit bind can.
    ExplicitBindOnly { port: u16 },
    /// A listener answered.
    ListenerAnswered { peer: SocketAddr },
    /// bind() failed: something holds the port.
    PortBound { addr: SocketAddr },
    /// Most attempts failed with one error.
    MostlyErrors { errno: &'static str },
    /// The guard caught and closed self-connections.
    GuardCaught { caught: u64 },
    /// A socket connected to itself holds the 4-tuple: the kernel cannot
    /// pick the port for this target until it closes.
    Held { port: u16, by: SocketAddr },
    /// The mode or the port made it unlikely (or impossible).
    Prospect(Prospect),
    /// Not handed out yet: more time would do; `pass` when a rate is known.
    NotYet { port: u16, pass: Option<Pass> },
}

/// Why a run ended without connecting to itself, and what to try; or, when
/// it did, what fixes it. `None` when there is nothing to add.
pub fn explain_end(
    facts: &TargetFacts,
    mode: Mode,
    port: u16,
    end: &End,
    stats: &Snapshot,
) -> Option<EndAdvice> {
    let policy = &facts.policy;
    match end {
        End::SelfConnected { .. } if policy.is_ephemeral(port) => {
            let fix = reserve_fix(policy, port);
            Some(EndAdvice::AtRisk {
                port,
                range: policy.range,
                reserve: fix.commands.first().cloned().unwrap_or_default(),
            })
        }
        End::SelfConnected { .. } => Some(EndAdvice::ExplicitBindOnly { port }),
        End::ConnectedToOther { peer, .. } => Some(EndAdvice::ListenerAnswered { peer: *peer }),
        End::PortInUse { addr } => Some(match facts.held_by {
            Some(by) => EndAdvice::Held { port, by },
            None => EndAdvice::PortBound { addr: *addr },
        }),
        End::AttemptLimit | End::TimeLimit | End::Stopped => {
            explain_no_pick(facts, mode, port, end, stats)
        }
        End::Failed(_) => None,
    }
}

/// A run that stopped or reached a limit without a self-connect.
fn explain_no_pick(
    facts: &TargetFacts,
    mode: Mode,
    port: u16,
    end: &End,
    stats: &Snapshot,
) -> Option<EndAdvice> {
    let errors = stats.errors.total();
    let dominant = stats.errors.nonzero().max_by_key(|&(_, n)| n);
    if let Some((errno, _)) = dominant.filter(|_| errors * 2 > stats.attempts) {
        return Some(EndAdvice::MostlyErrors { errno });
    }
    if mode == Mode::Guarded && stats.caught > 0 {
        return Some(EndAdvice::GuardCaught {
            caught: stats.caught,
        });
    }
    if let Some(by) = facts.held_by {
        return Some(EndAdvice::Held { port, by });
    }
    let pros = prospect(facts, mode, port);
    if pros.likelihood != Likelihood::Expected || mode == Mode::Guarded {
        return Some(EndAdvice::Prospect(pros));
    }
    if matches!(end, End::Stopped) {
        return None;
    }
    let pass = shown_rate(stats.attempts_per_sec())
        .filter(|_| mode != Mode::BindFirst)
        .map(|rate| Pass {
            rate,
            ports: same_parity_count(facts.policy.range, port),
        });
    Some(EndAdvice::NotYet { port, pass })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::ports::ReservedPorts;
    use std::time::Duration;

    fn facts() -> TargetFacts {
        TargetFacts::default()
    }

    #[test]
    fn counts_ports_of_a_parity() {
        let r = PortRange::KERNEL_DEFAULT; // 14116 even, 14116 odd
        assert_eq!(same_parity_count(r, 44600), 14116);
        assert_eq!(same_parity_count(r, 44601), 14116);
        let tiny = PortRange { low: 7, high: 7 };
        assert_eq!(same_parity_count(tiny, 7), 1);
        assert_eq!(same_parity_count(tiny, 8), 0);
    }

    #[test]
    fn parity_and_range_decide_the_prospect() {
        let f = facts();
        let l = |m, port| prospect(&f, m, port).likelihood;
        assert_eq!(l(Mode::Fresh, 44600), Likelihood::Expected);
        assert_eq!(l(Mode::Reuse, 44600), Likelihood::Expected);
        assert_eq!(l(Mode::Fresh, 44601), Likelihood::Unlikely);
        assert_eq!(l(Mode::BindFirst, 44601), Likelihood::Expected);
        assert_eq!(l(Mode::BindFirst, 44600), Likelihood::Unlikely);
        assert_eq!(l(Mode::Fresh, 8080), Likelihood::Never);
        assert_eq!(l(Mode::Bind, 8080), Likelihood::Expected);
        let odd = prospect(&f, Mode::Fresh, 44601);
        assert_eq!(
            odd.reason,
            Reason::ConnectOtherParity {
                low: 32768,
                first: Parity::Even,
                other: Parity::Odd
            }
        );
        assert_eq!(
            odd.instead,
            Some(Try {
                port: Some(44602),
                mode: Some(Mode::BindFirst)
            })
        );
        assert_eq!(
            prospect(&f, Mode::Reuse, 8080).reason,
            Reason::OutsideRange {
                range: PortRange::KERNEL_DEFAULT
            }
        );
        let reserved = TargetFacts::new(PortPolicy {
            reserved: ReservedPorts::parse("44600").unwrap(),
            ..PortPolicy::default()
        });
        assert_eq!(
            prospect(&reserved, Mode::Fresh, 44600).reason,
            Reason::Reserved
        );
    }

    #[test]
    fn a_held_port_is_never_picked_whatever_the_mode() {
        let by: SocketAddr = "127.0.0.1:44600".parse().unwrap();
        let f = TargetFacts {
            held_by: Some(by),
            ..facts()
        };
        for mode in Mode::ALL {
            let p = prospect(&f, mode, 44600);
            assert_eq!(
                (p.likelihood, p.reason),
                (Likelihood::Never, Reason::Held { by })
            );
        }
        let stats = Snapshot {
            attempts: 1000,
            refused: 1000,
            elapsed: Duration::from_secs(1),
            ..Snapshot::default()
        };
        assert_eq!(
            explain_end(&f, Mode::Fresh, 44600, &End::TimeLimit, &stats),
            Some(EndAdvice::Held { port: 44600, by })
        );
        assert_eq!(
            explain_end(&f, Mode::Bind, 44600, &End::PortInUse { addr: by }, &stats),
            Some(EndAdvice::Held { port: 44600, by })
        );
    }

    #[test]
    fn the_pass_duration_agrees_with_the_rate_shown() {
        // 14116 attempts in 9414.7 s: 1.4993/s, shown as 1.5/s.
        let stats = Snapshot {
            attempts: 14116,
            refused: 14116,
            elapsed: Duration::from_secs_f64(9414.7),
            ..Snapshot::default()
        };
        let Some(EndAdvice::NotYet {
            port: 44600,
            pass: Some(pass),
        }) = explain_end(&facts(), Mode::Fresh, 44600, &End::TimeLimit, &stats)
        else {
            panic!("not a NotYet")
        };
        assert_eq!(pass.rate, 1.5);
        assert_eq!(pass.ports, 14116);
        assert!((pass.secs() - 14116.0 / 1.5).abs() < 1e-9);
        assert_eq!(shown_rate(1234.4), Some(1234.0));
        assert_eq!(shown_rate(0.01), None);
    }

    #[test]
    fn success_suggests_reserving_the_port() {
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
        let advice = explain_end(&facts(), Mode::Fresh, 44600, &end, &Snapshot::default());
        match advice {
            Some(EndAdvice::AtRisk { reserve, .. }) => {
                assert!(
                    reserve.contains("ip_local_reserved_ports=44600"),
                    "{reserve}"
                )
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn dominant_errors_and_guard_catches_are_named() {
        let mut errors = crate::repro::ErrorCounts::default();
        errors.0[crate::repro::counters::errno_slot(libc::EINPROGRESS)] = 6;
        let stats = Snapshot {
            attempts: 6,
            errors,
            ..Snapshot::default()
        };
        assert_eq!(
            explain_end(&facts(), Mode::Fresh, 44600, &End::TimeLimit, &stats),
            Some(EndAdvice::MostlyErrors {
                errno: "EINPROGRESS"
            })
        );
        let stats = Snapshot {
            attempts: 100,
            caught: 2,
            ..Snapshot::default()
        };
        assert_eq!(
            explain_end(&facts(), Mode::Guarded, 44600, &End::TimeLimit, &stats),
            Some(EndAdvice::GuardCaught { caught: 2 })
        );
    }
}
