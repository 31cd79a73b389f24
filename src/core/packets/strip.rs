//! The packet strip: the last packets to or from the target port, one
//! tcpdump line each, readable at 100k attempts per second. A refused
//! attempt (`[S]` from another port to the target, answered by `[R.]`) is
//! folded into a running count; the three packets of a self-connect are
//! kept whole, whatever comes after them.

use std::collections::VecDeque;

use super::handshake::{HandshakeStep, SelfConnect, SelfConnectWatch};
use super::line::{SeqTracker, Shown, tcpdump_line};
use super::parse::{Packet, TcpFlags};
use crate::core::words::{group, plural_noun};

/// How far back a reset looks for the SYN it refuses (the two are
/// normally adjacent on loopback).
const LOOKBACK: usize = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Plain,
    /// A SYN to the target from another port: folded once refused.
    AwaitingReset,
    Handshake(HandshakeStep),
}

#[derive(Debug, Clone)]
enum Entry {
    Packet {
        packet: Packet,
        shown: Shown,
        role: Role,
    },
    Folded {
        count: u64,
        last_port: u16,
    },
}

/// What a strip line is, for the screen to style.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineKind {
    Packet,
    /// The running count of refused attempts.
    Folded,
    /// One of the three packets of a self-connect.
    Handshake,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StripLine {
    pub kind: LineKind,
    pub text: String,
}

/// The strip's state: bounded, fed one packet at a time.
#[derive(Debug, Clone)]
pub struct Strip {
    target: u16,
    cap: usize,
    entries: VecDeque<Entry>,
    tracker: SeqTracker,
    watch: SelfConnectWatch,
    folded: u64,
}

impl Strip {
    /// A strip for packets to or from `target_port`, holding at most
    /// `cap` lines (at least four: a fold line and a handshake).
    pub fn new(target_port: u16, cap: usize) -> Self {
        Strip {
            target: target_port,
            cap: cap.max(4),
            entries: VecDeque::new(),
            tracker: SeqTracker::default(),
            watch: SelfConnectWatch::default(),
            folded: 0,
        }
    }

    /// Takes the next packet, in the order they were seen.
    pub fn push(&mut self, packet: Packet) {
        let shown = self.tracker.observe(&packet);
        let control = packet.flags.control();
        let role = if let Some(step) = self.watch.observe(&packet) {
            if step == HandshakeStep::Syn {
                self.unpin_handshake();
            }
            Role::Handshake(step)
        } else if control == TcpFlags::SYN
            && packet.dst.port() == self.target
            && packet.src.port() != self.target
        {
            Role::AwaitingReset
        } else {
            if packet.flags.has(TcpFlags::RST) && self.fold_refused(&packet) {
                return;
            }
            Role::Plain
        };
        self.entries.push_back(Entry::Packet {
            packet,
            shown,
            role,
        });
        self.trim();
    }

    /// Refused attempts folded so far.
    pub fn folded(&self) -> u64 {
        self.folded
    }

    /// The self-connect seen whole, if any.
    pub fn self_connect(&self) -> Option<SelfConnect> {
        self.watch.completed()
    }

    /// The strip's lines, oldest first, with times at `utc_offset_secs`.
    pub fn lines(&self, utc_offset_secs: i32) -> Vec<StripLine> {
        self.entries
            .iter()
            .map(|e| match e {
                Entry::Packet {
                    packet,
                    shown,
                    role,
                } => StripLine {
                    kind: match role {
                        Role::Handshake(_) => LineKind::Handshake,
                        _ => LineKind::Packet,
                    },
                    text: tcpdump_line(packet, shown, utc_offset_secs),
                },
                Entry::Folded { count, last_port } => StripLine {
                    kind: LineKind::Folded,
                    text: format!(
                        "… {} {} folded (the last from port {last_port})",
                        group(*count),
                        plural_noun(*count, "refused attempt", "refused attempts")
                    ),
                },
            })
            .collect()
    }

    /// When `reset` refuses a SYN still on the strip: both leave it and
    /// the count grows. False when it refuses nothing shown.
    fn fold_refused(&mut self, reset: &Packet) -> bool {
        let n = self.entries.len();
        let found = (n.saturating_sub(LOOKBACK)..n).rev().find(|&i| {
            matches!(&self.entries[i], Entry::Packet { packet: syn, role: Role::AwaitingReset, .. }
                if syn.src == reset.dst && syn.dst == reset.src
                    && reset.ack == syn.seq.wrapping_add(1))
        });
        let Some(i) = found else {
            return false;
        };
        self.entries.remove(i);
        self.folded += 1;
        let port = reset.dst.port();
        // The count sits just before the SYNs still awaiting an answer.
        let n = self.entries.len();
        let mut at = n;
        while at > n.saturating_sub(LOOKBACK)
            && matches!(
                self.entries[at - 1],
                Entry::Packet {
                    role: Role::AwaitingReset,
                    ..
                }
            )
        {
            at -= 1;
        }
        match at.checked_sub(1).map(|i| &mut self.entries[i]) {
            Some(Entry::Folded { count, last_port }) => {
                *count += 1;
                *last_port = port;
            }
            _ => self.entries.insert(
                at,
                Entry::Folded {
                    count: 1,
                    last_port: port,
                },
            ),
        }
        true
    }

    /// A new self-connect starts: the last one's packets may scroll away.
    fn unpin_handshake(&mut self) {
        for e in &mut self.entries {
            if let Entry::Packet { role, .. } = e
                && matches!(role, Role::Handshake(_))
            {
                *role = Role::Plain;
            }
        }
    }

    /// Drops the oldest lines beyond the cap, never a handshake packet.
    fn trim(&mut self) {
        while self.entries.len() > self.cap {
            let oldest = self.entries.iter().position(|e| {
                !matches!(
                    e,
                    Entry::Packet {
                        role: Role::Handshake(_),
                        ..
                    }
                )
            });
            match oldest {
                Some(i) => {
                    self.entries.remove(i);
                }
                None => break,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse::fixtures::*;
    use super::super::parse::{Timestamp, parse};
    use super::*;

    const TARGET: &str = "127.0.0.1:44600";

    fn p(src: &str, dst: &str, flags: u8, seq: u32, ack: u32) -> Packet {
        parse(
            &tcp(at(src), at(dst), flags, seq, ack, 1, &[], b""),
            Timestamp::default(),
        )
        .unwrap()
    }

    fn refused(strip: &mut Strip, port: u16, seq: u32) {
        let me = format!("127.0.0.1:{port}");
        strip.push(p(&me, TARGET, TcpFlags::SYN, seq, 0));
        strip.push(p(
            TARGET,
            &me,
            TcpFlags::RST | TcpFlags::ACK,
            0,
            seq.wrapping_add(1),
        ));
    }

    fn self_connect(strip: &mut Strip, isn: u32) {
        strip.push(p(TARGET, TARGET, TcpFlags::SYN, isn, 0));
        strip.push(p(
            TARGET,
            TARGET,
            TcpFlags::SYN | TcpFlags::ACK,
            isn,
            isn + 1,
        ));
        strip.push(p(TARGET, TARGET, TcpFlags::ACK, isn + 1, isn + 1));
    }

    fn kinds(strip: &Strip) -> Vec<LineKind> {
        strip.lines(0).iter().map(|l| l.kind).collect()
    }

    #[test]
    fn refused_attempts_fold_into_one_count_and_the_handshake_stays_whole() {
        let mut strip = Strip::new(44600, 8);
        for i in 0..100_000u32 {
            refused(&mut strip, 32769 + (i * 2 % 28000) as u16, i * 7);
        }
        self_connect(&mut strip, 4_250_021_430);
        let lines = strip.lines(0);
        assert_eq!(strip.folded(), 100_000);
        assert_eq!(
            kinds(&strip),
            [
                LineKind::Folded,
                LineKind::Handshake,
                LineKind::Handshake,
                LineKind::Handshake
            ]
        );
        assert!(
            lines[0]
                .text
                .starts_with("… 100,000 refused attempts folded (the last from port ")
        );
        assert!(
            lines[1]
                .text
                .contains("44600 > 127.0.0.1.44600: Flags [S], seq 4250021430,")
        );
        assert!(
            lines[2]
                .text
                .contains("Flags [S.], seq 4250021430, ack 4250021431,")
        );
        assert!(lines[3].text.contains("Flags [.], ack 1,"));
        assert_eq!(strip.self_connect().map(|s| s.isn), Some(4_250_021_430));
    }

    #[test]
    fn a_syn_waiting_for_its_answer_is_shown_until_refused() {
        let mut strip = Strip::new(44600, 8);
        refused(&mut strip, 40000, 1);
        strip.push(p("127.0.0.1:40002", TARGET, TcpFlags::SYN, 50, 0));
        assert_eq!(kinds(&strip), [LineKind::Folded, LineKind::Packet]);
        assert!(
            strip.lines(0)[0]
                .text
                .starts_with("… 1 refused attempt folded (the last from port 40000)")
        );
        // A reset that refuses another number does not fold it.
        strip.push(p(
            TARGET,
            "127.0.0.1:40002",
            TcpFlags::RST | TcpFlags::ACK,
            0,
            99,
        ));
        assert_eq!(kinds(&strip).len(), 3);
        strip.push(p(
            TARGET,
            "127.0.0.1:40002",
            TcpFlags::RST | TcpFlags::ACK,
            0,
            51,
        ));
        // The stray reset stays; the refusal after it starts a new count.
        assert_eq!(
            kinds(&strip),
            [LineKind::Folded, LineKind::Packet, LineKind::Folded]
        );
        assert_eq!(strip.folded(), 2);
        let lines = strip.lines(0);
        assert!(lines[1].text.contains("Flags [R.], seq 0, ack 99,"));
        assert!(
            lines[2]
                .text
                .starts_with("… 1 refused attempt folded (the last from port 40002)")
        );
    }

    #[test]
    fn other_traffic_scrolls_but_the_handshake_is_kept() {
        let mut strip = Strip::new(44600, 5);
        self_connect(&mut strip, 10);
        for i in 0..50 {
            strip.push(p(TARGET, TARGET, TcpFlags::ACK | TcpFlags::PSH, 11 + i, 11));
        }
        let k = kinds(&strip);
        assert_eq!(k.len(), 5);
        assert_eq!(&k[..3], [LineKind::Handshake; 3]);
        // Refusals after other packets start a count of their own.
        refused(&mut strip, 40000, 1);
        assert_eq!(kinds(&strip).last(), Some(&LineKind::Folded));
        // A second self-connect releases the first one's lines.
        self_connect(&mut strip, 500);
        let lines = strip.lines(0);
        assert_eq!(lines.len(), 5);
        assert!(lines[2..].iter().all(|l| l.kind == LineKind::Handshake));
        assert!(lines[2].text.contains("seq 500"));
    }

    #[test]
    fn counts_are_grouped_by_thousands() {
        assert_eq!(group(0), "0");
        assert_eq!(group(999), "999");
        assert_eq!(group(48_211), "48,211");
        assert_eq!(group(1_000_000), "1,000,000");
    }
}
