//! What a capture file is written from: the last packets of a run (the
//! refused tail) and, kept apart so that nothing after them pushes them
//! out, the three packets of the self-connect. Bounded in size.

use std::collections::VecDeque;

use super::handshake::{HandshakeStep, SelfConnectWatch};
use super::parse::{Packet, Timestamp};

/// One packet's bytes as captured (from the IP header on, possibly cut
/// short), with its length on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Captured {
    pub time: Timestamp,
    pub data: Vec<u8>,
    pub orig_len: u32,
}

/// The last `keep` packets, plus the self-connect handshake.
#[derive(Debug, Clone)]
pub struct TailLog {
    keep: usize,
    /// Numbered in arrival order, so the two parts merge back in order.
    ring: VecDeque<(u64, Captured)>,
    handshake: Vec<(u64, Captured)>,
    watch: SelfConnectWatch,
    next: u64,
}

impl TailLog {
    /// A log of the last `keep` packets (at least one).
    pub fn new(keep: usize) -> Self {
        TailLog {
            keep: keep.max(1),
            ring: VecDeque::new(),
            handshake: Vec::new(),
            watch: SelfConnectWatch::default(),
            next: 0,
        }
    }

    /// Takes the next packet; `parsed` is what it reads as, when it is TCP.
    pub fn push(&mut self, captured: Captured, parsed: Option<&Packet>) {
        let index = self.next;
        self.next += 1;
        match parsed.and_then(|p| self.watch.observe(p)) {
            Some(HandshakeStep::Syn) => {
                self.handshake.clear();
                self.handshake.push((index, captured.clone()));
            }
            Some(_) => self.handshake.push((index, captured.clone())),
            None => {}
        }
        if self.ring.len() == self.keep {
            self.ring.pop_front();
        }
        self.ring.push_back((index, captured));
    }

    /// Whether a whole self-connect handshake was seen.
    pub fn has_self_connect(&self) -> bool {
        self.watch.completed().is_some()
    }

    /// Packets taken so far (kept or not).
    pub fn seen(&self) -> u64 {
        self.next
    }

    /// The kept packets in arrival order, each once.
    pub fn packets(&self) -> Vec<&Captured> {
        let mut all: Vec<&(u64, Captured)> = self.ring.iter().chain(&self.handshake).collect();
        all.sort_by_key(|(i, _)| *i);
        all.dedup_by_key(|(i, _)| *i);
        all.into_iter().map(|(_, c)| c).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse::fixtures::*;
    use super::super::parse::{TcpFlags, parse};
    use super::*;

    fn push(log: &mut TailLog, src: &str, dst: &str, flags: u8, seq: u32, ack: u32) {
        let data = tcp(at(src), at(dst), flags, seq, ack, 1, &[], b"");
        let time = Timestamp {
            secs: i64::try_from(log.seen()).unwrap(),
            nanos: 0,
        };
        let parsed = parse(&data, time).unwrap();
        let orig_len = data.len() as u32;
        log.push(
            Captured {
                time,
                data,
                orig_len,
            },
            Some(&parsed),
        );
    }

    #[test]
    fn the_tail_is_bounded_and_the_handshake_survives_what_follows() {
        let t = "127.0.0.1:44600";
        let mut log = TailLog::new(4);
        for port in 40000..40100u16 {
            push(
                &mut log,
                &format!("127.0.0.1:{port}"),
                t,
                TcpFlags::SYN,
                1,
                0,
            );
        }
        push(&mut log, t, t, TcpFlags::SYN, 7, 0);
        push(&mut log, t, t, TcpFlags::SYN | TcpFlags::ACK, 7, 8);
        push(&mut log, t, t, TcpFlags::ACK, 8, 8);
        assert!(log.has_self_connect());
        for _ in 0..10 {
            push(&mut log, t, t, TcpFlags::ACK, 8, 8);
        }
        let kept = log.packets();
        assert_eq!(kept.len(), 3 + 4);
        let secs: Vec<i64> = kept.iter().map(|c| c.time.secs).collect();
        assert_eq!(secs, [100, 101, 102, 109, 110, 111, 112]);
        assert_eq!(log.seen(), 113);
    }

    #[test]
    fn a_short_run_keeps_each_packet_once() {
        let t = "127.0.0.1:44600";
        let mut log = TailLog::new(200);
        push(&mut log, "127.0.0.1:40000", t, TcpFlags::SYN, 1, 0);
        push(&mut log, t, t, TcpFlags::SYN, 7, 0);
        push(&mut log, t, t, TcpFlags::SYN | TcpFlags::ACK, 7, 8);
        push(&mut log, t, t, TcpFlags::ACK, 8, 8);
        let secs: Vec<i64> = log.packets().iter().map(|c| c.time.secs).collect();
        assert_eq!(secs, [0, 1, 2, 3]);
    }
}
