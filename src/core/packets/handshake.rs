//! Recognising a self-connect on the wire: three packets from one address
//! and port to the same address and port, `[S] seq X`, `[S.] seq X, ack X+1`
//! (the socket's own SYN answered with its own sequence number: the same
//! connection answering itself), then `[.] seq X+1, ack X+1`.

use std::net::SocketAddr;

use super::parse::{Packet, TcpFlags};

/// Which packet of a self-connect handshake a packet is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandshakeStep {
    Syn,
    SynAck,
    Ack,
}

/// A handshake seen whole: the address that connected to itself and its
/// initial sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SelfConnect {
    pub addr: SocketAddr,
    pub isn: u32,
}

/// Follows the packets one at a time and says which belong to a
/// self-connect handshake.
#[derive(Debug, Clone, Default)]
pub struct SelfConnectWatch {
    /// The handshake under way: its address, ISN, and the last step seen.
    current: Option<(SelfConnect, HandshakeStep)>,
    done: Option<SelfConnect>,
}

impl SelfConnectWatch {
    /// The step `p` is in a self-connect handshake, if it is one.
    pub fn observe(&mut self, p: &Packet) -> Option<HandshakeStep> {
        if p.src != p.dst {
            return None;
        }
        let control = p.flags.control();
        if control == TcpFlags::SYN {
            // A new handshake from a port to itself starts over.
            let hs = SelfConnect {
                addr: p.src,
                isn: p.seq,
            };
            self.current = Some((hs, HandshakeStep::Syn));
            return Some(HandshakeStep::Syn);
        }
        let (hs, last) = self.current?;
        let next_isn = hs.isn.wrapping_add(1);
        let step = if p.src != hs.addr {
            None
        } else if last == HandshakeStep::Syn
            && control == TcpFlags::SYN | TcpFlags::ACK
            && p.seq == hs.isn
            && p.ack == next_isn
        {
            Some(HandshakeStep::SynAck)
        } else if last == HandshakeStep::SynAck
            && control == TcpFlags::ACK
            && p.seq == next_isn
            && p.ack == next_isn
        {
            Some(HandshakeStep::Ack)
        } else {
            None
        };
        match step {
            Some(HandshakeStep::Ack) => {
                self.current = None;
                self.done = Some(hs);
            }
            Some(s) => self.current = Some((hs, s)),
            None => {}
        }
        step
    }

    /// The last handshake seen whole.
    pub fn completed(&self) -> Option<SelfConnect> {
        self.done
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse::fixtures::*;
    use super::super::parse::{Timestamp, parse};
    use super::*;

    fn p(src: &str, dst: &str, flags: u8, seq: u32, ack: u32) -> Packet {
        parse(
            &tcp(at(src), at(dst), flags, seq, ack, 1, &[], b""),
            Timestamp::default(),
        )
        .unwrap()
    }

    const ME: &str = "127.0.0.1:44600";
    const SA: u8 = TcpFlags::SYN | TcpFlags::ACK;

    #[test]
    fn the_three_packets_of_a_self_connect_are_recognised_in_order() {
        let mut w = SelfConnectWatch::default();
        assert_eq!(
            w.observe(&p(ME, ME, TcpFlags::SYN, 7, 0)),
            Some(HandshakeStep::Syn)
        );
        assert_eq!(w.completed(), None);
        assert_eq!(w.observe(&p(ME, ME, SA, 7, 8)), Some(HandshakeStep::SynAck));
        assert_eq!(
            w.observe(&p(ME, ME, TcpFlags::ACK, 8, 8)),
            Some(HandshakeStep::Ack)
        );
        assert_eq!(
            w.completed(),
            Some(SelfConnect {
                addr: at(ME),
                isn: 7
            })
        );
        // Data after it is not part of the handshake.
        assert_eq!(w.observe(&p(ME, ME, TcpFlags::ACK, 8, 8)), None);
    }

    #[test]
    fn a_normal_handshake_or_a_foreign_number_is_not_a_self_connect() {
        let mut w = SelfConnectWatch::default();
        assert_eq!(
            w.observe(&p("127.0.0.1:40000", ME, TcpFlags::SYN, 7, 0)),
            None
        );
        assert_eq!(w.observe(&p(ME, "127.0.0.1:40000", SA, 90, 8)), None);
        // A SYN-ACK from the port to itself that does not echo the SYN's
        // own number is not the same connection answering itself.
        assert_eq!(
            w.observe(&p(ME, ME, TcpFlags::SYN, 7, 0)),
            Some(HandshakeStep::Syn)
        );
        assert_eq!(w.observe(&p(ME, ME, SA, 90, 8)), None);
        assert_eq!(w.observe(&p(ME, ME, TcpFlags::ACK, 8, 8)), None);
        assert_eq!(w.completed(), None);
        // Wrapping at 2^32 is still X + 1.
        assert_eq!(
            w.observe(&p(ME, ME, TcpFlags::SYN, u32::MAX, 0)),
            Some(HandshakeStep::Syn)
        );
        assert_eq!(
            w.observe(&p(ME, ME, SA, u32::MAX, 0)),
            Some(HandshakeStep::SynAck)
        );
        assert_eq!(
            w.observe(&p(ME, ME, TcpFlags::ACK, 0, 0)),
            Some(HandshakeStep::Ack)
        );
    }
}
