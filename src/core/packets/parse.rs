//! One captured packet read into a record: the IPv4 or IPv6 header and the
//! TCP header after it (with its options kept raw for printing). The bytes
//! start at the IP header, as an `AF_PACKET` datagram socket and a
//! `LINKTYPE_RAW` capture file both give them.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// When a packet was seen: seconds and nanoseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    pub secs: i64,
    pub nanos: u32,
}

/// The TCP flag bits, in the header's order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
    pub const URG: u8 = 0x20;
    pub const ECE: u8 = 0x40;
    pub const CWR: u8 = 0x80;

    /// True when every bit of `bits` is set.
    pub fn has(self, bits: u8) -> bool {
        self.0 & bits == bits
    }

    /// The connection-level bits only (SYN, ACK, RST, FIN): what tells a
    /// handshake step from another, whatever ECN or PSH say.
    pub fn control(self) -> u8 {
        self.0 & (Self::SYN | Self::ACK | Self::RST | Self::FIN)
    }

    /// As tcpdump writes them between brackets: `S`, `S.`, `R.`, `P.`,
    /// `F.`, ... in bit order, or `none`.
    pub fn tcpdump(self) -> String {
        const LETTERS: [(u8, char); 8] = [
            (TcpFlags::FIN, 'F'),
            (TcpFlags::SYN, 'S'),
            (TcpFlags::RST, 'R'),
            (TcpFlags::PSH, 'P'),
            (TcpFlags::ACK, '.'),
            (TcpFlags::URG, 'U'),
            (TcpFlags::ECE, 'E'),
            (TcpFlags::CWR, 'W'),
        ];
        let s: String = LETTERS
            .iter()
            .filter(|(bit, _)| self.0 & bit != 0)
            .map(|(_, c)| c)
            .collect();
        if s.is_empty() { "none".to_string() } else { s }
    }
}

/// The longest TCP option area (a 60-byte header less the fixed 20).
pub const MAX_OPTIONS: usize = 40;

/// One TCP segment as seen on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet {
    pub time: Timestamp,
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub flags: TcpFlags,
    pub seq: u32,
    pub ack: u32,
    pub win: u16,
    pub urg: u16,
    /// Payload bytes, from the IP lengths (not from what was captured).
    pub len: u32,
    options: [u8; MAX_OPTIONS],
    options_len: u8,
}

impl Packet {
    /// The TCP options as they were sent.
    pub fn options(&self) -> &[u8] {
        &self.options[..usize::from(self.options_len)]
    }

    /// True for an IPv6 packet (tcpdump writes `IP6` instead of `IP`).
    pub fn is_v6(&self) -> bool {
        self.src.is_ipv6()
    }
}

/// Why captured bytes were not read as a TCP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// Fewer bytes than the headers need.
    Truncated,
    /// Neither IPv4 nor IPv6, or a header that contradicts itself.
    Malformed,
    /// Not TCP (or TCP behind IPv6 extension headers).
    NotTcp,
    /// A fragment: the TCP header is not (all) there.
    Fragment,
}

/// Reads the bytes of one packet, starting at its IP header.
pub fn parse(bytes: &[u8], time: Timestamp) -> Result<Packet, Skip> {
    let first = *bytes.first().ok_or(Skip::Truncated)?;
    let (src, dst, tcp_at, ip_payload) = match first >> 4 {
        4 => ipv4(bytes)?,
        6 => ipv6(bytes)?,
        _ => return Err(Skip::Malformed),
    };
    let tcp = bytes.get(tcp_at..).ok_or(Skip::Truncated)?;
    if tcp.len() < 20 {
        return Err(Skip::Truncated);
    }
    let header_len = usize::from(tcp[12] >> 4) * 4;
    if header_len < 20 || header_len > ip_payload {
        return Err(Skip::Malformed);
    }
    let raw_options = tcp.get(20..header_len).ok_or(Skip::Truncated)?;
    let mut options = [0u8; MAX_OPTIONS];
    options[..raw_options.len()].copy_from_slice(raw_options);
    Ok(Packet {
        time,
        src: SocketAddr::new(src, be16(tcp, 0)),
        dst: SocketAddr::new(dst, be16(tcp, 2)),
        seq: be32(tcp, 4),
        ack: be32(tcp, 8),
        flags: TcpFlags(tcp[13]),
        win: be16(tcp, 14),
        urg: be16(tcp, 18),
        len: (ip_payload - header_len) as u32,
        options,
        // At most 40: the header length field tops out at 60.
        options_len: raw_options.len() as u8,
    })
}

/// Addresses, where TCP starts, and the IP payload length.
fn ipv4(b: &[u8]) -> Result<(IpAddr, IpAddr, usize, usize), Skip> {
    if b.len() < 20 {
        return Err(Skip::Truncated);
    }
    let ihl = usize::from(b[0] & 0x0f) * 4;
    let total = usize::from(be16(b, 2));
    if ihl < 20 || total < ihl {
        return Err(Skip::Malformed);
    }
    if b[9] != 6 {
        return Err(Skip::NotTcp);
    }
    // More-fragments set or a fragment offset: no whole TCP header.
    if be16(b, 6) & 0x3fff != 0 {
        return Err(Skip::Fragment);
    }
    let src = Ipv4Addr::new(b[12], b[13], b[14], b[15]);
    let dst = Ipv4Addr::new(b[16], b[17], b[18], b[19]);
    Ok((src.into(), dst.into(), ihl, total - ihl))
}

fn ipv6(b: &[u8]) -> Result<(IpAddr, IpAddr, usize, usize), Skip> {
    if b.len() < 40 {
        return Err(Skip::Truncated);
    }
    // TCP right after the fixed header only: loopback TCP carries no
    // extension headers, and the kernel filter keeps no others.
    if b[6] != 6 {
        return Err(Skip::NotTcp);
    }
    let payload = usize::from(be16(b, 4));
    let addr = |at: usize| {
        let mut a = [0u8; 16];
        a.copy_from_slice(&b[at..at + 16]);
        IpAddr::V6(Ipv6Addr::from(a))
    };
    Ok((addr(8), addr(24), 40, payload))
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

#[cfg(test)]
pub(crate) mod fixtures {
    //! Packets built byte by byte, as the kernel sends them on loopback.

    use std::net::{IpAddr, SocketAddr};

    /// The options of a loopback SYN: mss 65495, sackOK, TS, nop, wscale 10.
    pub const SYN_OPTIONS: [u8; 20] = [
        2, 4, 0xff, 0xd7, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 10,
    ];

    /// An IPv4 or IPv6 packet (by the address family) with a TCP header.
    #[allow(clippy::too_many_arguments)]
    pub fn tcp(
        src: SocketAddr,
        dst: SocketAddr,
        flags: u8,
        seq: u32,
        ack: u32,
        win: u16,
        options: &[u8],
        payload: &[u8],
    ) -> Vec<u8> {
        let mut t = Vec::new();
        t.extend_from_slice(&src.port().to_be_bytes());
        t.extend_from_slice(&dst.port().to_be_bytes());
        t.extend_from_slice(&seq.to_be_bytes());
        t.extend_from_slice(&ack.to_be_bytes());
        t.push((((20 + options.len()) / 4) as u8) << 4);
        t.push(flags);
        t.extend_from_slice(&win.to_be_bytes());
        t.extend_from_slice(&[0, 0, 0, 0]);
        t.extend_from_slice(options);
        t.extend_from_slice(payload);
        let mut ip = Vec::new();
        match (src.ip(), dst.ip()) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                ip.extend_from_slice(&[0x45, 0]);
                ip.extend_from_slice(&((20 + t.len()) as u16).to_be_bytes());
                ip.extend_from_slice(&[0, 0, 0x40, 0, 64, 6, 0, 0]);
                ip.extend_from_slice(&s.octets());
                ip.extend_from_slice(&d.octets());
            }
            (IpAddr::V6(s), IpAddr::V6(d)) => {
                ip.extend_from_slice(&[0x60, 0, 0, 0]);
                ip.extend_from_slice(&(t.len() as u16).to_be_bytes());
                ip.extend_from_slice(&[6, 64]);
                ip.extend_from_slice(&s.octets());
                ip.extend_from_slice(&d.octets());
            }
            _ => panic!("one family for both ends"),
        }
        ip.extend_from_slice(&t);
        ip
    }

    pub fn at(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::*;
    use super::*;

    #[test]
    fn an_ipv4_syn_is_read_whole() {
        let b = tcp(
            at("127.0.0.1:49998"),
            at("127.0.0.1:50000"),
            TcpFlags::SYN,
            123,
            0,
            65495,
            &SYN_OPTIONS,
            b"",
        );
        let p = parse(&b, Timestamp { secs: 5, nanos: 7 }).unwrap();
        assert_eq!(p.src, at("127.0.0.1:49998"));
        assert_eq!(p.dst, at("127.0.0.1:50000"));
        assert_eq!((p.seq, p.ack, p.win, p.len), (123, 0, 65495, 0));
        assert_eq!(p.flags.tcpdump(), "S");
        assert_eq!(p.options(), &SYN_OPTIONS);
        assert_eq!(p.time, Timestamp { secs: 5, nanos: 7 });
        assert!(!p.is_v6());
    }

    #[test]
    fn an_ipv6_segment_with_payload_counts_its_bytes() {
        let b = tcp(
            at("[::1]:44602"),
            at("[::1]:44602"),
            TcpFlags::PSH | TcpFlags::ACK,
            9,
            10,
            64,
            &[],
            b"hi!",
        );
        let p = parse(&b, Timestamp::default()).unwrap();
        assert!(p.is_v6());
        assert_eq!(p.len, 3);
        assert_eq!(p.flags.tcpdump(), "P.");
    }

    #[test]
    fn what_is_not_a_whole_tcp_header_is_skipped_with_a_reason() {
        let good = tcp(
            at("127.0.0.1:1"),
            at("127.0.0.1:2"),
            TcpFlags::ACK,
            1,
            1,
            1,
            &[],
            b"",
        );
        assert_eq!(
            parse(&good[..30], Timestamp::default()),
            Err(Skip::Truncated)
        );
        assert_eq!(parse(&[], Timestamp::default()), Err(Skip::Truncated));
        let mut udp = good.clone();
        udp[9] = 17;
        assert_eq!(parse(&udp, Timestamp::default()), Err(Skip::NotTcp));
        let mut frag = good.clone();
        frag[6] = 0x20; // more fragments
        assert_eq!(parse(&frag, Timestamp::default()), Err(Skip::Fragment));
        let mut bad = good.clone();
        bad[0] = 0x75;
        assert_eq!(parse(&bad, Timestamp::default()), Err(Skip::Malformed));
        let mut short_hdr = good;
        short_hdr[32] = 0x40; // TCP data offset 4 words: less than 20 bytes
        assert_eq!(
            parse(&short_hdr, Timestamp::default()),
            Err(Skip::Malformed)
        );
    }

    #[test]
    fn flag_letters_follow_tcpdump() {
        let f = |b| TcpFlags(b).tcpdump();
        assert_eq!(f(TcpFlags::SYN | TcpFlags::ACK), "S.");
        assert_eq!(f(TcpFlags::RST | TcpFlags::ACK), "R.");
        assert_eq!(f(TcpFlags::FIN | TcpFlags::PSH | TcpFlags::ACK), "FP.");
        assert_eq!(f(TcpFlags::SYN | TcpFlags::ECE | TcpFlags::CWR), "SEW");
        assert_eq!(f(0), "none");
    }
}
