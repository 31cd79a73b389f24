//! The kernel filter of the capture, as data: a classic BPF program that an
//! `AF_PACKET` datagram socket runs on each packet before copying it, so
//! that only the target port's TCP packets on loopback reach the tool.
//! With a datagram socket the program sees the packet from its IP header on;
//! the link-level facts come from the kernel's ancillary loads.

/// One classic BPF instruction (`struct sock_filter`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Insn {
    pub code: u16,
    pub jt: u8,
    pub jf: u8,
    pub k: u32,
}

/// Bytes kept of each packet: room for the largest IPv4 (60) plus TCP
/// (60) header; the payload is not needed.
pub const SNAPLEN: u32 = 128;

/// `sll_pkttype` of the copy a sender's side sees on loopback.
pub const PACKET_OUTGOING: u32 = 4;

// Opcode parts (linux/bpf_common.h).
const LD: u16 = 0x00;
const LDX: u16 = 0x01;
const JMP: u16 = 0x05;
const RET: u16 = 0x06;
const W: u16 = 0x00;
const H: u16 = 0x08;
const B: u16 = 0x10;
const ABS: u16 = 0x20;
const IND: u16 = 0x40;
const MSH: u16 = 0xa0;
const JEQ: u16 = 0x10;
const JSET: u16 = 0x40;

/// Ancillary loads: offsets past `SKF_AD_OFF` (-4096) read skb fields.
const AD_OFF: u32 = 0u32.wrapping_sub(0x1000);
const AD_PROTOCOL: u32 = AD_OFF; // skb->protocol, host order
const AD_PKTTYPE: u32 = AD_OFF + 4; // skb->pkt_type
const AD_IFINDEX: u32 = AD_OFF + 8; // skb->dev->ifindex

const ETH_P_IP: u32 = 0x0800;
const ETH_P_IPV6: u32 = 0x86dd;
const IPPROTO_TCP: u32 = 6;

// Where the jumps land (see the listing in `port_filter`).
const V6: usize = 15;
const ACCEPT: usize = 22;
const DROP: usize = 23;

/// A jump offset from instruction `at` to `to` (counted from the next one).
const fn to(at: usize, target: usize) -> u8 {
    (target - at - 1) as u8
}

const fn op(code: u16, k: u32) -> Insn {
    Insn {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

const fn jump(code: u16, k: u32, jt: u8, jf: u8) -> Insn {
    Insn { code, jt, jf, k }
}

/// The filter: TCP over IPv4 or IPv6 on interface `ifindex`, from or to
/// `port`, each packet once (the loopback's outgoing copy is dropped: the
/// incoming one is the same packet, as tcpdump shows it).
pub fn port_filter(port: u16, ifindex: u32) -> Vec<Insn> {
    let port = u32::from(port);
    vec![
        /* 0 */ op(LD | W | ABS, AD_IFINDEX), // A = interface index
        /* 1 */ jump(JMP | JEQ, ifindex, 0, to(1, DROP)), // not loopback: drop
        /* 2 */ op(LD | W | ABS, AD_PKTTYPE), // A = packet type
        /* 3 */ jump(JMP | JEQ, PACKET_OUTGOING, to(3, DROP), 0), // outgoing copy: drop
        /* 4 */ op(LD | W | ABS, AD_PROTOCOL), // A = ethertype
        /* 5 */ jump(JMP | JEQ, ETH_P_IP, 0, to(5, V6)), // IPv6 (or other) further on
        /* 6 */ op(LD | B | ABS, 9), // A = IPv4 protocol
        /* 7 */ jump(JMP | JEQ, IPPROTO_TCP, 0, to(7, DROP)),
        /* 8 */ op(LD | H | ABS, 6), // A = flags and fragment offset
        /* 9 */
        jump(JMP | JSET, 0x1fff, to(9, DROP), 0), // a later fragment: no TCP header
        /* 10 */ op(LDX | B | MSH, 0), // X = IPv4 header length (4 * IHL)
        /* 11 */ op(LD | H | IND, 0), // A = TCP source port
        /* 12 */ jump(JMP | JEQ, port, to(12, ACCEPT), 0),
        /* 13 */ op(LD | H | IND, 2), // A = TCP destination port
        /* 14 */ jump(JMP | JEQ, port, to(14, ACCEPT), to(14, DROP)),
        /* 15 */
        jump(JMP | JEQ, ETH_P_IPV6, 0, to(15, DROP)), // A is still the ethertype
        /* 16 */ op(LD | B | ABS, 6), // A = IPv6 next header
        /* 17 */ jump(JMP | JEQ, IPPROTO_TCP, 0, to(17, DROP)),
        /* 18 */ op(LD | H | ABS, 40), // A = TCP source port
        /* 19 */ jump(JMP | JEQ, port, to(19, ACCEPT), 0),
        /* 20 */ op(LD | H | ABS, 42), // A = TCP destination port
        /* 21 */ jump(JMP | JEQ, port, to(21, ACCEPT), to(21, DROP)),
        /* 22 */ op(RET, SNAPLEN), // keep the headers
        /* 23 */ op(RET, 0), // drop
    ]
}

#[cfg(test)]
mod tests {
    //! The program run by a small interpreter of the instructions it uses,
    //! on fixture packets; the real kernel runs it in tests/capture.rs.

    use super::super::parse::TcpFlags;
    use super::super::parse::fixtures::*;
    use super::*;

    /// What the kernel knows of a packet besides its bytes.
    #[derive(Clone, Copy)]
    struct Meta {
        ifindex: u32,
        pkttype: u32,
        protocol: u32,
    }

    const LO_IN: Meta = Meta {
        ifindex: 1,
        pkttype: 0,
        protocol: ETH_P_IP,
    };

    fn run(prog: &[Insn], pkt: &[u8], meta: Meta) -> u32 {
        let (mut a, mut x, mut pc) = (0u32, 0u32, 0usize);
        let load = |at: usize, size: usize| -> Option<u32> {
            let b = pkt.get(at..at + size)?;
            Some(b.iter().fold(0, |v, &byte| v << 8 | u32::from(byte)))
        };
        for _ in 0..prog.len() {
            let i = prog[pc];
            let size = match i.code & 0x18 {
                H => 2,
                B => 1,
                _ => 4,
            };
            pc += 1;
            match (i.code & 0x07, i.code & 0xe0) {
                (LD, ABS) if i.k >= AD_OFF => {
                    a = match i.k {
                        AD_IFINDEX => meta.ifindex,
                        AD_PKTTYPE => meta.pkttype,
                        AD_PROTOCOL => meta.protocol,
                        other => panic!("ancillary load {other:#x} not modelled"),
                    }
                }
                (LD, ABS) | (LD, IND) => {
                    let at = if i.code & 0xe0 == IND { x + i.k } else { i.k };
                    match load(at as usize, size) {
                        Some(v) => a = v,
                        None => return 0,
                    }
                }
                (LDX, MSH) => x = 4 * (u32::from(pkt[i.k as usize]) & 0xf),
                (JMP, _) => {
                    let hit = match i.code & 0xf0 {
                        JEQ => a == i.k,
                        JSET => a & i.k != 0,
                        other => panic!("jump {other:#x} not modelled"),
                    };
                    pc += usize::from(if hit { i.jt } else { i.jf });
                }
                (RET, _) => return i.k,
                other => panic!("opcode {other:?} not modelled"),
            }
        }
        panic!("ran off the end of the program");
    }

    fn syn(src: &str, dst: &str) -> Vec<u8> {
        tcp(at(src), at(dst), TcpFlags::SYN, 1, 0, 1, &SYN_OPTIONS, b"")
    }

    #[test]
    fn keeps_the_ports_tcp_packets_over_both_families() {
        let prog = port_filter(44600, 1);
        let v6 = Meta {
            protocol: ETH_P_IPV6,
            ..LO_IN
        };
        assert_eq!(
            run(&prog, &syn("127.0.0.1:40000", "127.0.0.1:44600"), LO_IN),
            SNAPLEN
        );
        assert_eq!(
            run(&prog, &syn("127.0.0.1:44600", "127.0.0.1:40000"), LO_IN),
            SNAPLEN
        );
        assert_eq!(run(&prog, &syn("[::1]:40000", "[::1]:44600"), v6), SNAPLEN);
        assert_eq!(run(&prog, &syn("[::1]:44600", "[::1]:44600"), v6), SNAPLEN);
        // The port inside a longer IPv4 header is still found.
        let mut opts = syn("127.0.0.1:40000", "127.0.0.1:44600");
        opts[0] = 0x46;
        opts.splice(20..20, [1, 1, 1, 1]);
        assert_eq!(run(&prog, &opts, LO_IN), SNAPLEN);
    }

    #[test]
    fn drops_everything_else() {
        let prog = port_filter(44600, 1);
        let v4 = syn("127.0.0.1:40000", "127.0.0.1:44600");
        assert_eq!(
            run(&prog, &syn("127.0.0.1:40000", "127.0.0.1:44601"), LO_IN),
            0
        );
        let outgoing = Meta {
            pkttype: PACKET_OUTGOING,
            ..LO_IN
        };
        assert_eq!(run(&prog, &v4, outgoing), 0);
        let eth0 = Meta {
            ifindex: 2,
            ..LO_IN
        };
        assert_eq!(run(&prog, &v4, eth0), 0);
        let arp = Meta {
            protocol: 0x0806,
            ..LO_IN
        };
        assert_eq!(run(&prog, &v4, arp), 0);
        let mut udp = v4.clone();
        udp[9] = 17;
        assert_eq!(run(&prog, &udp, LO_IN), 0);
        let mut fragment = v4.clone();
        fragment[7] = 0x10;
        assert_eq!(run(&prog, &fragment, LO_IN), 0);
        let v6 = Meta {
            protocol: ETH_P_IPV6,
            ..LO_IN
        };
        let mut ext = syn("[::1]:40000", "[::1]:44600");
        ext[6] = 0; // hop-by-hop options first
        assert_eq!(run(&prog, &ext, v6), 0);
        assert_eq!(run(&prog, &v4[..21], LO_IN), 0, "a cut packet is dropped");
    }
}
