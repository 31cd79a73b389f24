//! A packet in tcpdump's words (`tcpdump -n`, default verbosity):
//! `10:31:02.327307 IP 127.0.0.1.49998 > 127.0.0.1.50000: Flags [S], seq 123,
//! win 65495, options [...], length 0`, with its sequence numbers made
//! relative the way tcpdump does it. The payload is not decoded.

use std::collections::HashMap;
use std::fmt::Write;
use std::net::{IpAddr, SocketAddr};

use super::parse::{Packet, TcpFlags};

/// Sequence numbers as tcpdump prints them for one packet, and the
/// conversation's bases (for SACK blocks).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Shown {
    pub seq: u32,
    pub ack: u32,
    base_seq: u32,
    base_ack: u32,
    reversed: bool,
}

/// One entry per conversation, keyed in one order for both directions.
type Key = (IpAddr, IpAddr, u32);

/// tcpdump's table of initial sequence numbers. A conversation is recorded
/// at its first packet with ACK set (or at a SYN with ACK); later packets
/// are printed relative to it. Bounded: when full it starts over, so a
/// port reused after that many conversations prints absolute numbers
/// where tcpdump, whose table grows without end, would print relative ones.
#[derive(Debug, Clone)]
pub struct SeqTracker {
    bases: HashMap<Key, (u32, u32)>,
    cap: usize,
}

impl Default for SeqTracker {
    fn default() -> Self {
        Self::new(65_536)
    }
}

impl SeqTracker {
    pub fn new(cap: usize) -> Self {
        SeqTracker {
            bases: HashMap::new(),
            cap: cap.max(1),
        }
    }

    /// The numbers to print for `p`, updating the table as tcpdump does.
    pub fn observe(&mut self, p: &Packet) -> Shown {
        let (seq, ack) = (p.seq, p.ack);
        if !p.flags.has(TcpFlags::ACK) {
            return Shown {
                seq,
                ack,
                ..Shown::default()
            };
        }
        let (sport, dport) = (p.src.port(), p.dst.port());
        // tcpdump compares the raw address bytes; Ord on IpAddr of one
        // family is the same order.
        let reversed = sport > dport || (sport == dport && p.src.ip() > p.dst.ip());
        let key = if reversed {
            (
                p.dst.ip(),
                p.src.ip(),
                u32::from(dport) << 16 | u32::from(sport),
            )
        } else {
            (
                p.src.ip(),
                p.dst.ip(),
                u32::from(sport) << 16 | u32::from(dport),
            )
        };
        let found = self.bases.get(&key).copied();
        let (base_seq, base_ack, seq, ack) = match found {
            Some((bs, ba)) if !p.flags.has(TcpFlags::SYN) => {
                if reversed {
                    (bs, ba, seq.wrapping_sub(ba), ack.wrapping_sub(bs))
                } else {
                    (bs, ba, seq.wrapping_sub(bs), ack.wrapping_sub(ba))
                }
            }
            _ => {
                let bases = if reversed {
                    (ack.wrapping_sub(1), seq)
                } else {
                    (seq, ack.wrapping_sub(1))
                };
                if found.is_none() && self.bases.len() >= self.cap {
                    self.bases.clear();
                }
                self.bases.insert(key, bases);
                (bases.0, bases.1, seq, ack)
            }
        };
        Shown {
            seq,
            ack,
            base_seq,
            base_ack,
            reversed,
        }
    }
}

/// The time of day at `utc_offset_secs` from UTC, to the microsecond, as
/// tcpdump prints it: `10:31:02.327307`.
pub fn time_of_day(p: &Packet, utc_offset_secs: i32) -> String {
    let secs = (p.time.secs + i64::from(utc_offset_secs)).rem_euclid(86_400);
    format!(
        "{:02}:{:02}:{:02}.{:06}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        p.time.nanos / 1000
    )
}

/// One line as `tcpdump -n` prints it for `p`, given what a
/// [`SeqTracker`] made of its numbers.
pub fn tcpdump_line(p: &Packet, shown: &Shown, utc_offset_secs: i32) -> String {
    let mut s = time_of_day(p, utc_offset_secs);
    let family = if p.is_v6() { "IP6" } else { "IP" };
    let _ = write!(
        s,
        " {family} {} > {}: Flags [{}]",
        endpoint(p.src),
        endpoint(p.dst),
        p.flags.tcpdump()
    );
    let f = p.flags;
    if p.len > 0 || f.0 & (TcpFlags::SYN | TcpFlags::FIN | TcpFlags::RST) != 0 {
        let _ = write!(s, ", seq {}", shown.seq);
        if p.len > 0 {
            let _ = write!(s, ":{}", shown.seq.wrapping_add(p.len));
        }
    }
    if f.has(TcpFlags::ACK) {
        let _ = write!(s, ", ack {}", shown.ack);
    }
    let _ = write!(s, ", win {}", p.win);
    if f.has(TcpFlags::URG) {
        let _ = write!(s, ", urg {}", p.urg);
    }
    if !p.options().is_empty() {
        s.push_str(", options [");
        if options(&mut s, p.options(), shown).is_err() {
            // tcpdump ends the line at an option it cannot walk.
            return s;
        }
        s.push(']');
    }
    let _ = write!(s, ", length {}", p.len);
    s
}

/// `127.0.0.1.50000`, `::1.50000`: tcpdump's address-dot-port.
fn endpoint(a: SocketAddr) -> String {
    format!("{}.{}", a.ip(), a.port())
}

/// Marks an option area that cannot be walked: the line ends there.
struct BadOption;

/// The options between tcpdump's brackets, comma-separated.
fn options(s: &mut String, mut rest: &[u8], shown: &Shown) -> Result<(), BadOption> {
    let mut first = true;
    let bad = |s: &mut String, first: bool| {
        s.push_str("[bad opt]");
        if !first {
            s.push(']');
        }
        Err(BadOption)
    };
    while let Some(&kind) = rest.first() {
        if !first {
            s.push(',');
        }
        if kind == 0 || kind == 1 {
            s.push_str(if kind == 0 { "eol" } else { "nop" });
            rest = &rest[1..];
            if kind == 0 {
                return Ok(());
            }
            first = false;
            continue;
        }
        let len = rest.get(1).map_or(0, |&l| usize::from(l));
        if len < 2 || len > rest.len() || option(s, kind, &rest[2..len], shown).is_err() {
            return bad(s, first);
        }
        first = false;
        rest = &rest[len..];
    }
    Ok(())
}

fn option_name(kind: u8) -> String {
    match kind {
        2 => "mss".into(),
        3 => "wscale".into(),
        4 => "sackOK".into(),
        5 => "sack".into(),
        8 => "TS".into(),
        other => format!("unknown-{other}"),
    }
}

/// One option with a length byte: its name, then its data as tcpdump
/// shows it; `[len N]` when the length does not fit the kind.
fn option(s: &mut String, kind: u8, data: &[u8], shown: &Shown) -> Result<(), BadOption> {
    s.push_str(&option_name(kind));
    let be32 = |d: &[u8]| u32::from_be_bytes([d[0], d[1], d[2], d[3]]);
    let expected = match kind {
        2 if data.len() >= 2 => {
            let _ = write!(s, " {}", u16::from_be_bytes([data[0], data[1]]));
            2
        }
        3 if !data.is_empty() => {
            let _ = write!(s, " {}", data[0]);
            1
        }
        4 => 0,
        5 if data.len() % 8 == 0 => {
            let _ = write!(s, " {} ", data.len() / 8);
            let base = if shown.reversed {
                shown.base_seq
            } else {
                shown.base_ack
            };
            for block in data.chunks_exact(8) {
                let (l, r) = (be32(&block[..4]), be32(&block[4..]));
                let _ = write!(s, "{{{}:{}}}", l.wrapping_sub(base), r.wrapping_sub(base));
            }
            data.len()
        }
        5 => {
            s.push_str(" invalid sack");
            data.len()
        }
        8 if data.len() >= 8 => {
            let _ = write!(s, " val {} ecr {}", be32(&data[..4]), be32(&data[4..]));
            8
        }
        2 | 3 | 8 => return Err(BadOption),
        _ => {
            if !data.is_empty() {
                s.push_str(" 0x");
            }
            for b in data {
                let _ = write!(s, "{b:02x}");
            }
            data.len()
        }
    };
    if expected != data.len() {
        let _ = write!(s, "[len {}]", data.len() + 2);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::parse::fixtures::*;
    use super::super::parse::{Timestamp, parse};
    use super::*;

    const T: Timestamp = Timestamp {
        secs: 1_699_920_000 + 10 * 3600 + 31 * 60 + 2,
        nanos: 327_307_999,
    };

    fn packet(
        src: &str,
        dst: &str,
        flags: u8,
        seq: u32,
        ack: u32,
        win: u16,
        opts: &[u8],
    ) -> Packet {
        parse(&tcp(at(src), at(dst), flags, seq, ack, win, opts, b""), T).unwrap()
    }

    /// The lines of a refused attempt and a self-connect, numbers and all,
    /// as tcpdump 4.99 printed them for the same packets on loopback.
    #[test]
    fn refused_attempt_and_self_connect_read_as_tcpdump_prints_them() {
        let (s, sa, a, r) = (
            TcpFlags::SYN,
            TcpFlags::SYN | TcpFlags::ACK,
            TcpFlags::ACK,
            TcpFlags::RST | TcpFlags::ACK,
        );
        let ts_ack = [
            1, 1, 8, 10, 0, 0, 0, 9, 0, 0, 0, 9, 1, 1, 5, 10, 0, 0, 0, 5, 0, 0, 0, 6,
        ];
        let packets = [
            packet(
                "127.0.0.1:38790",
                "127.0.0.1:44600",
                s,
                226296235,
                0,
                65495,
                &SYN_OPTIONS,
            ),
            packet(
                "127.0.0.1:44600",
                "127.0.0.1:38790",
                r,
                0,
                226296236,
                0,
                &[],
            ),
            packet(
                "127.0.0.1:44600",
                "127.0.0.1:44600",
                s,
                5,
                0,
                65495,
                &SYN_OPTIONS,
            ),
            packet(
                "127.0.0.1:44600",
                "127.0.0.1:44600",
                sa,
                5,
                6,
                65495,
                &SYN_OPTIONS,
            ),
            packet("127.0.0.1:44600", "127.0.0.1:44600", a, 6, 6, 64, &ts_ack),
        ];
        let mut tracker = SeqTracker::default();
        let lines: Vec<String> = packets
            .iter()
            .map(|p| tcpdump_line(p, &tracker.observe(p), 0))
            .collect();
        let opts = "options [mss 65495,sackOK,TS val 1 ecr 0,nop,wscale 10]";
        assert_eq!(
            lines,
            [
                format!("10:31:02.327307 IP 127.0.0.1.38790 > 127.0.0.1.44600: Flags [S], seq 226296235, win 65495, {opts}, length 0"),
                "10:31:02.327307 IP 127.0.0.1.44600 > 127.0.0.1.38790: Flags [R.], seq 0, ack 226296236, win 0, length 0".to_string(),
                format!("10:31:02.327307 IP 127.0.0.1.44600 > 127.0.0.1.44600: Flags [S], seq 5, win 65495, {opts}, length 0"),
                format!("10:31:02.327307 IP 127.0.0.1.44600 > 127.0.0.1.44600: Flags [S.], seq 5, ack 6, win 65495, {opts}, length 0"),
                "10:31:02.327307 IP 127.0.0.1.44600 > 127.0.0.1.44600: Flags [.], ack 1, win 64, options [nop,nop,TS val 9 ecr 9,nop,nop,sack 1 {0:1}], length 0".to_string(),
            ]
        );
    }

    #[test]
    fn data_shows_its_relative_range_and_ipv6_says_ip6() {
        let mut tracker = SeqTracker::default();
        let syn_ack = packet(
            "[::1]:9",
            "[::1]:9",
            TcpFlags::SYN | TcpFlags::ACK,
            100,
            101,
            1,
            &[],
        );
        tracker.observe(&syn_ack);
        let data = parse(
            &tcp(
                at("[::1]:9"),
                at("[::1]:9"),
                TcpFlags::PSH | TcpFlags::ACK,
                101,
                101,
                64,
                &[],
                b"hi",
            ),
            T,
        )
        .unwrap();
        let line = tcpdump_line(&data, &tracker.observe(&data), 3600);
        assert_eq!(
            line,
            "11:31:02.327307 IP6 ::1.9 > ::1.9: Flags [P.], seq 1:3, ack 1, win 64, length 2"
        );
    }

    #[test]
    fn odd_options_are_shown_not_trusted() {
        let shown = Shown::default();
        let mut s = String::new();
        assert!(options(&mut s, &[1, 2, 9, 0], &shown).is_err());
        assert_eq!(s, "nop,[bad opt]]");
        s.clear();
        assert!(options(&mut s, &[30, 4, 0xab, 0xcd, 0], &shown).is_ok());
        assert_eq!(s, "unknown-30 0xabcd,eol");
        s.clear();
        assert!(options(&mut s, &[2, 3, 0], &shown).is_err());
        assert_eq!(s, "mss[bad opt]");
    }

    #[test]
    fn a_full_tracker_starts_over_instead_of_growing() {
        let mut tracker = SeqTracker::new(2);
        for port in 1..=5u16 {
            let p = packet(
                &format!("127.0.0.1:{port}"),
                "127.0.0.1:80",
                TcpFlags::ACK,
                7,
                7,
                1,
                &[],
            );
            tracker.observe(&p);
            assert!(tracker.bases.len() <= 2);
        }
    }
}
