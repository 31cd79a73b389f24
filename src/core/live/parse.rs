//! Parses `trace_pipe` text lines of the two events live catch enables.
//!
//! A line looks like
//! `         python3-15206   [000] .....   347.717866: inet_sock_set_state: family=AF_INET ...`:
//! the task's `comm-tid` right-aligned, the CPU, the flags column (absent
//! without the `irq-info` option; a `(tgid)` column appears with
//! `record-tgid`), the timestamp, the event name and `key=value` fields.
//! `comm` may itself hold spaces, dashes, brackets or colons, so the head
//! is read from the right, and the event is found by its last
//! `: NAME: ` marker (the fields after it never hold `": "`). Fields are
//! read by name, so a kernel that adds, drops or reorders fields still
//! parses as long as the ports and addresses are there.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use super::event::{ResetReceived, StateChange, Task, TcpState, TraceEvent};
use crate::core::socket::Family;

/// A line of a known event that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unreadable trace line: {0}")]
pub struct ParseError(pub String);

/// The events this parser knows. `tcp_set_state` is the name of the
/// state-change event on kernels before 4.16, with the same fields.
const EVENTS: [&str; 3] = ["inet_sock_set_state", "tcp_set_state", "tcp_receive_reset"];

/// Parses one line. `Ok(None)` for lines that are not events of ours
/// (headers, comments, other events, non-TCP protocols).
pub fn parse_line(line: &str) -> Result<Option<TraceEvent>, ParseError> {
    let line = line.trim_end_matches(['\n', '\r']);
    if let Some(lost) = parse_lost(line) {
        return Ok(Some(lost));
    }
    let Some((at, event)) = EVENTS
        .iter()
        .filter_map(|e| Some((line.rfind(&format!(": {e}: "))?, *e)))
        .max_by_key(|(at, _)| *at)
    else {
        return Ok(None);
    };
    let (task, time) = parse_head(&line[..at]).ok_or_else(|| bad("head", line))?;
    let fields = Fields::parse(&line[at + event.len() + 4..]);
    if fields
        .get("protocol")
        .is_some_and(|p| p != "IPPROTO_TCP" && p != "6")
    {
        return Ok(None);
    }
    let (family, local, remote) = fields.endpoints().ok_or_else(|| bad("addresses", line))?;
    let ev = if event == "tcp_receive_reset" {
        TraceEvent::Reset(ResetReceived {
            time,
            task,
            family,
            local,
            remote,
        })
    } else {
        let state = |k| fields.get(k).and_then(TcpState::from_text);
        let (Some(old), Some(new)) = (state("oldstate"), state("newstate")) else {
            return Err(bad("states", line));
        };
        TraceEvent::StateChange(StateChange {
            time,
            task,
            family,
            local,
            remote,
            old,
            new,
        })
    };
    Ok(Some(ev))
}

fn bad(what: &str, line: &str) -> ParseError {
    let cut: String = line.chars().take(200).collect();
    ParseError(format!("no {what} in {cut:?}"))
}

/// `CPU:3 [LOST 1234 EVENTS]`.
fn parse_lost(line: &str) -> Option<TraceEvent> {
    let rest = line.trim_start().strip_prefix("CPU:")?;
    let (cpu, rest) = rest.split_once(' ')?;
    let count = rest
        .trim()
        .strip_prefix("[LOST ")?
        .strip_suffix(" EVENTS]")?
        .parse()
        .ok()?;
    Some(TraceEvent::Lost {
        cpu: cpu.parse().ok(),
        count,
    })
}

/// `<comm>-<tid> [(tgid)] [cpu] [flags] <seconds>`, read from the right.
fn parse_head(head: &str) -> Option<(Task, Duration)> {
    let head = head.trim_end();
    let (rest, ts) = head.rsplit_once(char::is_whitespace)?;
    let time = parse_timestamp(ts)?;
    let mut rest = rest.trim_end();
    if !rest.ends_with(']') {
        // The flags column (`.....`, `d.h2.`), when the option shows it.
        rest = rest.rsplit_once(char::is_whitespace)?.0.trim_end();
    }
    let open = rest.rfind('[')?;
    rest[open + 1..rest.len() - 1].trim().parse::<u32>().ok()?;
    let mut rest = rest[..open].trim_end();
    if rest.ends_with(')') {
        rest = rest[..rest.rfind('(')?].trim_end();
    }
    let (comm, tid) = rest.trim_start().rsplit_once('-')?;
    let tid = tid.parse().ok()?;
    let comm = (comm != "<...>").then(|| comm.to_string());
    Some((Task { tid, comm }, time))
}

/// `347.717866` (microseconds) or any other number of decimals.
fn parse_timestamp(ts: &str) -> Option<Duration> {
    let (secs, frac) = ts.split_once('.').unwrap_or((ts, ""));
    let secs: u64 = secs.parse().ok()?;
    if frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let nanos = if frac.is_empty() {
        0
    } else {
        frac.parse::<u32>().ok()? * 10u32.pow(9 - frac.len() as u32)
    };
    Some(Duration::new(secs, nanos))
}

/// The `key=value` fields of an event.
struct Fields<'a>(HashMap<&'a str, &'a str>);

impl<'a> Fields<'a> {
    fn parse(text: &'a str) -> Fields<'a> {
        Fields(
            text.split_whitespace()
                .filter_map(|kv| kv.split_once('='))
                .collect(),
        )
    }

    fn get(&self, key: &str) -> Option<&'a str> {
        self.0.get(key).copied()
    }

    fn v4(&self, key: &str) -> Option<Ipv4Addr> {
        self.get(key)?.parse().ok()
    }

    fn v6(&self, key: &str) -> Option<Ipv6Addr> {
        // `saddrv6` in the print format; `saddr_v6` is the record's name.
        self.get(&format!("{key}v6"))
            .or_else(|| self.get(&format!("{key}_v6")))?
            .parse()
            .ok()
    }

    /// The family and both endpoints. The kernel fills the IPv4 fields of
    /// an IPv6 socket with leftovers, so the family picks which to trust;
    /// without a family field (older `tcp_receive_reset`), an IPv4-mapped
    /// or missing IPv6 address means IPv4.
    fn endpoints(&self) -> Option<(Family, SocketAddr, SocketAddr)> {
        let sport: u16 = self.get("sport")?.parse().ok()?;
        let dport: u16 = self.get("dport")?.parse().ok()?;
        let v6_pair = || Some((self.v6("saddr")?, self.v6("daddr")?));
        let v4_pair = || {
            let from_v4 = self.v4("saddr").zip(self.v4("daddr"));
            from_v4.or_else(|| {
                let (s, d) = v6_pair()?;
                Some((s.to_ipv4_mapped()?, d.to_ipv4_mapped()?))
            })
        };
        let family = match self.get("family") {
            Some("AF_INET" | "2") => Family::Ipv4,
            Some("AF_INET6" | "10") => Family::Ipv6,
            Some(_) => return None,
            None => match v6_pair() {
                Some((s, _)) if s.to_ipv4_mapped().is_none() && !s.is_unspecified() => Family::Ipv6,
                _ => Family::Ipv4,
            },
        };
        let (src, dst): (IpAddr, IpAddr) = match family {
            Family::Ipv4 => {
                let (s, d) = v4_pair()?;
                (s.into(), d.into())
            }
            Family::Ipv6 => {
                let (s, d) = v6_pair()?;
                (s.into(), d.into())
            }
        };
        Some((
            family,
            SocketAddr::new(src, sport),
            SocketAddr::new(dst, dport),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Seen on 6.18: a self-connect over IPv4, ::1 and IPv4-mapped, and
    /// refused connects over both families.
    const V4_SELF: &str = "         python3-15206   [000] .....   347.717866: inet_sock_set_state: family=AF_INET protocol=IPPROTO_TCP sport=45001 dport=45001 saddr=127.0.0.1 daddr=127.0.0.1 saddrv6=::ffff:127.0.0.1 daddrv6=::ffff:127.0.0.1 oldstate=TCP_SYN_SENT newstate=TCP_SYN_RECV";
    const V6_SELF: &str = "         python3-15206   [000] .....   347.718031: inet_sock_set_state: family=AF_INET6 protocol=IPPROTO_TCP sport=45001 dport=45001 saddr=127.0.0.6 daddr=0.0.0.0 saddrv6=::1 daddrv6=::1 oldstate=TCP_SYN_SENT newstate=TCP_SYN_RECV";
    const MAPPED_SELF: &str = "         python3-15206   [000] .....   347.718081: inet_sock_set_state: family=AF_INET6 protocol=IPPROTO_TCP sport=45001 dport=45001 saddr=127.0.0.1 daddr=127.0.0.1 saddrv6=::ffff:127.0.0.1 daddrv6=::ffff:127.0.0.1 oldstate=TCP_SYN_SENT newstate=TCP_SYN_RECV";
    const V4_RESET: &str = "         python3-15206   [000] .....   347.718153: tcp_receive_reset: family=AF_INET sport=35732 dport=45003 saddr=127.0.0.1 daddr=127.0.0.1 saddrv6=::ffff:127.0.0.1 daddrv6=::ffff:127.0.0.1 sock_cookie=13";
    const V6_RESET: &str = "         python3-15206   [000] .....   347.718274: tcp_receive_reset: family=AF_INET6 sport=43942 dport=45003 saddr=0.0.0.0 daddr=0.0.0.0 saddrv6=::1 daddrv6=::1 sock_cookie=14";

    fn change(line: &str) -> StateChange {
        match parse_line(line) {
            Ok(Some(TraceEvent::StateChange(c))) => c,
            other => panic!("not a state change: {other:?}"),
        }
    }

    fn reset(line: &str) -> ResetReceived {
        match parse_line(line) {
            Ok(Some(TraceEvent::Reset(r))) => r,
            other => panic!("not a reset: {other:?}"),
        }
    }

    #[test]
    fn reads_a_self_connect_in_each_family() {
        let c = change(V4_SELF);
        assert_eq!(c.time, Duration::new(347, 717_866_000));
        assert_eq!(
            c.task,
            Task {
                tid: 15206,
                comm: Some("python3".into())
            }
        );
        assert_eq!(c.family, Family::Ipv4);
        assert_eq!(c.local, "127.0.0.1:45001".parse().unwrap());
        assert_eq!((c.old, c.new), (TcpState::SYN_SENT, TcpState::SYN_RECV));
        assert!(c.is_self_connect());

        let c = change(V6_SELF);
        assert_eq!(c.family, Family::Ipv6);
        // The IPv4 fields hold leftovers (127.0.0.6 / 0.0.0.0): ignored.
        assert_eq!(c.local, "[::1]:45001".parse().unwrap());
        assert_eq!(c.remote, "[::1]:45001".parse().unwrap());
        assert!(c.is_self_connect());

        let c = change(MAPPED_SELF);
        assert_eq!(c.family, Family::Ipv6);
        assert_eq!(c.local, "[::ffff:127.0.0.1]:45001".parse().unwrap());
        assert!(c.is_self_connect());
    }

    #[test]
    fn reads_refused_connects() {
        let r = reset(V4_RESET);
        assert_eq!(r.local, "127.0.0.1:35732".parse().unwrap());
        assert_eq!(r.remote, "127.0.0.1:45003".parse().unwrap());
        assert_eq!(r.task.tid, 15206);
        let r = reset(V6_RESET);
        assert_eq!(
            (r.family, r.remote),
            (Family::Ipv6, "[::1]:45003".parse().unwrap())
        );
    }

    #[test]
    fn comm_with_spaces_dashes_and_brackets_and_unknown_comm() {
        let line = V4_SELF.replace("python3-15206", "my-app [w] 1: x-77");
        let c = change(&line);
        assert_eq!(
            c.task,
            Task {
                tid: 77,
                comm: Some("my-app [w] 1: x".into())
            }
        );
        let line = V4_SELF.replace("python3-15206", "<...>-4242");
        assert_eq!(
            change(&line).task,
            Task {
                tid: 4242,
                comm: None
            }
        );
        // A name that spells an event marker does not confuse the split.
        let line = V4_RESET.replace("python3-15206", "a: inet_sock_set_state: b-9");
        let r = reset(&line);
        assert_eq!(r.task.comm.as_deref(), Some("a: inet_sock_set_state: b"));
    }

    #[test]
    fn other_trace_options_and_clocks() {
        // No irq-info column.
        let line = "   curl-88 [001] 12.5: tcp_receive_reset: family=AF_INET sport=1 dport=2 saddr=10.0.0.1 daddr=10.0.0.2 saddrv6=::ffff:10.0.0.1 daddrv6=::ffff:10.0.0.2 sock_cookie=1";
        let r = reset(line);
        assert_eq!((r.task.tid, r.time), (88, Duration::from_millis(12_500)));
        // record-tgid column, nanosecond clock.
        let line = "   curl-88   (     80) [001] d..1. 12.000000001: tcp_receive_reset: family=AF_INET sport=1 dport=2 saddr=10.0.0.1 daddr=10.0.0.2 saddrv6=::ffff:10.0.0.1 daddrv6=::ffff:10.0.0.2 sock_cookie=1";
        let r = reset(line);
        assert_eq!((r.task.tid, r.time), (88, Duration::new(12, 1)));
    }

    #[test]
    fn kernels_with_other_field_sets() {
        // Before 4.16 the event was tcp:tcp_set_state, without family/protocol.
        let line = "  java-31 [000] ..s1 99.000001: tcp_set_state: sport=40000 dport=40000 saddr=127.0.0.1 daddr=127.0.0.1 saddrv6=::ffff:127.0.0.1 daddrv6=::ffff:127.0.0.1 oldstate=TCP_SYN_SENT newstate=TCP_SYN_RECV";
        let c = change(line);
        assert_eq!(c.family, Family::Ipv4);
        assert!(c.is_self_connect());
        // tcp_receive_reset before the family field: the v6 address decides.
        let line = "  java-31 [000] ..s1 99.000001: tcp_receive_reset: sport=40000 dport=40002 saddr=0.0.0.0 daddr=0.0.0.0 saddrv6=fe80::1 daddrv6=fe80::2 sock_cookie=5";
        let r = reset(line);
        assert_eq!(r.family, Family::Ipv6);
        assert_eq!(r.remote, "[fe80::2]:40002".parse().unwrap());
        // Numeric states, extra and reordered fields, a raw-named v6 field.
        let line = "  x-1 [000] ..... 1.0: inet_sock_set_state: newstate=3 skaddr=0xffff oldstate=2 family=10 protocol=6 dport=5 sport=5 saddr_v6=::1 daddr_v6=::1 extra=zz";
        let c = change(line);
        assert!(c.is_self_connect());
        assert_eq!(c.family, Family::Ipv6);
    }

    #[test]
    fn lines_that_are_not_ours_and_lines_that_are_broken() {
        assert_eq!(parse_line(""), Ok(None));
        assert_eq!(parse_line("# tracer: nop"), Ok(None));
        let sctp = V4_SELF.replace("IPPROTO_TCP", "IPPROTO_SCTP");
        assert_eq!(parse_line(&sctp), Ok(None));
        let other = "  x-1 [000] ..... 1.0: sched_switch: prev_comm=a";
        assert_eq!(parse_line(other), Ok(None));
        assert_eq!(
            parse_line("CPU:1 [LOST 1234 EVENTS]"),
            Ok(Some(TraceEvent::Lost {
                cpu: Some(1),
                count: 1234
            }))
        );
        for broken in [
            V4_SELF.replace("sport=45001 ", ""),
            V4_SELF.replace("oldstate=TCP_SYN_SENT", "oldstate=TCP_WHAT"),
            V4_SELF
                .replace("daddr=127.0.0.1", "daddr=x")
                .replace("daddrv6=::ffff:127.0.0.1", "daddrv6=y"),
            V4_SELF.replace("347.717866", "soon"),
            V4_SELF.replace("python3-15206", "python3"),
            V4_SELF.replace("family=AF_INET", "family=AF_UNIX"),
        ] {
            assert_ne!(broken, V4_SELF);
            let err = parse_line(&broken).expect_err(&broken);
            assert!(
                err.to_string().starts_with("unreadable trace line: no "),
                "{err}"
            );
        }
    }
}
