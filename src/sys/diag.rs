//! Reads a namespace's TCP sockets through netlink `sock_diag` (what `ss`
//! uses) instead of `/proc/net/tcp{,6}`, guided by `sockstat` so that the
//! expensive part is skipped when it cannot find anything.
//!
//! Why: the kernel's established-connections hash table is shared by all
//! namespaces (unless `net.ipv4.tcp_child_ehash_entries` gave them their
//! own), and every listing of connections walks all of it, however few
//! sockets the namespace holds. Measured on Linux 6.18 with 262144
//! buckets: reading `/proc/PID/net/tcp` of an empty namespace costs about
//! 4 ms (one walk for the rows, one more for the read that finds the end);
//! a `sock_diag` dump of all states 1.6 ms (one walk); a dump of listeners
//! only 0.02 ms (their hash is small); `sockstat` 0.02 ms. So a family
//! with no socket is not read at all, and one whose sockets are all
//! listeners (sockstat's count equals the listeners found, and no
//! TIME_WAIT) costs no walk: the typical container.
//!
//! A netlink socket belongs to the namespace it was created in, so the
//! socket for another namespace is created by a thread inside it (see
//! [`super::nsjoin`]) and then used from anywhere; the scanner keeps it
//! between refreshes.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};

use crate::core::socket::{Family, SocketEntry, TcpState};

// The netlink numbers come from libc; the kernel's headers have them in
// include/uapi/linux/{netlink,sock_diag,inet_diag}.h.
const NLM_F_REQUEST: u16 = libc::NLM_F_REQUEST as u16;
const NLM_F_DUMP: u16 = libc::NLM_F_DUMP as u16;
const NLMSG_ERROR: u16 = libc::NLMSG_ERROR as u16;
const NLMSG_DONE: u16 = libc::NLMSG_DONE as u16;
const NLMSG_HDR_LEN: usize = std::mem::size_of::<libc::nlmsghdr>();
/// The message type of a `sock_diag` request and its answers
/// (`include/uapi/linux/sock_diag.h`; libc does not export it).
const SOCK_DIAG_BY_FAMILY: u16 = 20;
/// `struct inet_diag_msg`: family, state, timer, retrans, the 48-byte
/// `inet_diag_sockid`, then expires, rqueue, wqueue, uid, inode (libc does
/// not define it).
const INET_DIAG_MSG_LEN: usize = 72;
const AF_INET: u8 = libc::AF_INET as u8;
const AF_INET6: u8 = libc::AF_INET6 as u8;
const IPPROTO_TCP: u8 = libc::IPPROTO_TCP as u8;
/// `idiag_states` masks: bit N is TCP state N.
const ALL_STATES: u32 = u32::MAX;
const LISTEN_ONLY: u32 = 1 << 10;

/// A netlink `sock_diag` socket, bound to the network namespace of the
/// thread that opened it.
#[derive(Debug)]
pub struct DiagSocket {
    socket: Socket,
    seq: u32,
    buf: Vec<u8>,
}

impl DiagSocket {
    /// Opens a socket in the calling thread's network namespace.
    pub fn open() -> std::io::Result<DiagSocket> {
        let socket = Socket::new(
            Domain::from(libc::AF_NETLINK),
            Type::DGRAM.cloexec(),
            Some(Protocol::from(libc::NETLINK_SOCK_DIAG)),
        )?;
        // A dump never waits on the network; bound it all the same.
        socket.set_read_timeout(Some(Duration::from_secs(2)))?;
        Ok(DiagSocket {
            socket,
            seq: 0,
            buf: vec![0; 64 * 1024],
        })
    }

    /// Every TCP socket of one family in the socket's namespace, in all
    /// states (TIME_WAIT included, with inode 0, as in `/proc/net/tcp`).
    /// With `expect` from [`Expect`], listeners are dumped first, and the
    /// connections' walk is skipped when they are all there is.
    pub fn sockets(&mut self, family: Family, expect: Expect) -> std::io::Result<Vec<SocketEntry>> {
        match expect {
            Expect::Nothing => Ok(Vec::new()),
            Expect::Unknown => self.dump(family, ALL_STATES),
            Expect::Sockets(n) => {
                let mut rows = self.dump(family, LISTEN_ONLY)?;
                if rows.len() as u64 != n {
                    // Half-open connections (request sockets) show up here
                    // too, but only when some other socket is there: sockstat
                    // does not count them.
                    rows.extend(self.dump(family, ALL_STATES & !LISTEN_ONLY)?);
                }
                Ok(rows)
            }
        }
    }

    /// The listening sockets of one family: the kernel walks its listening
    /// hash only, not the connections.
    pub fn listeners(
        &mut self,
        family: Family,
        expect: Expect,
    ) -> std::io::Result<Vec<SocketEntry>> {
        match expect {
            Expect::Nothing => Ok(Vec::new()),
            _ => self.dump(family, LISTEN_ONLY),
        }
    }

    /// One dump: the sockets of `family` whose state is in `states`.
    pub fn dump(&mut self, family: Family, states: u32) -> std::io::Result<Vec<SocketEntry>> {
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        let mut req = Vec::with_capacity(NLMSG_HDR_LEN + 56);
        req.extend_from_slice(&((NLMSG_HDR_LEN + 56) as u32).to_ne_bytes());
        req.extend_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
        req.extend_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
        req.extend_from_slice(&seq.to_ne_bytes());
        req.extend_from_slice(&0u32.to_ne_bytes());
        // struct inet_diag_req_v2
        req.push(match family {
            Family::Ipv4 => AF_INET,
            Family::Ipv6 => AF_INET6,
        });
        req.push(IPPROTO_TCP);
        req.push(0); // no extensions
        req.push(0);
        req.extend_from_slice(&states.to_ne_bytes());
        req.extend_from_slice(&[0u8; 48]); // any socket
        (&self.socket).write_all(&req)?;

        let mut out = Vec::new();
        loop {
            let n = (&self.socket).read(&mut self.buf)?;
            if parse_dump(&self.buf[..n], seq, &mut out)? {
                return Ok(out);
            }
        }
    }
}

/// Parses one datagram of a dump into `out`; `true` once the dump is done.
fn parse_dump(mut data: &[u8], seq: u32, out: &mut Vec<SocketEntry>) -> std::io::Result<bool> {
    let bad = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string());
    while data.len() >= NLMSG_HDR_LEN {
        let len = u32::from_ne_bytes(data[0..4].try_into().unwrap()) as usize;
        let kind = u16::from_ne_bytes(data[4..6].try_into().unwrap());
        let msg_seq = u32::from_ne_bytes(data[8..12].try_into().unwrap());
        if len < NLMSG_HDR_LEN || len > data.len() {
            return Err(bad("truncated netlink message"));
        }
        let body = &data[NLMSG_HDR_LEN..len];
        if msg_seq == seq {
            match kind {
                NLMSG_DONE => return Ok(true),
                NLMSG_ERROR => {
                    let code = body
                        .get(0..4)
                        .map(|b| i32::from_ne_bytes(b.try_into().unwrap()))
                        .ok_or_else(|| bad("short netlink error"))?;
                    return Err(std::io::Error::from_raw_os_error(-code));
                }
                SOCK_DIAG_BY_FAMILY => {
                    if let Some(e) = parse_inet_diag_msg(body) {
                        out.push(e);
                    }
                }
                _ => {}
            }
        }
        let aligned = (len + 3) & !3;
        data = &data[aligned.min(data.len())..];
    }
    Ok(false)
}

/// One `struct inet_diag_msg` as a [`SocketEntry`].
pub(crate) fn parse_inet_diag_msg(b: &[u8]) -> Option<SocketEntry> {
    if b.len() < INET_DIAG_MSG_LEN {
        return None;
    }
    let state = tcp_state(b[1])?;
    // inet_diag_sockid at 4: sport, dport (big-endian), src[16], dst[16].
    let sport = u16::from_be_bytes([b[4], b[5]]);
    let dport = u16::from_be_bytes([b[6], b[7]]);
    let src = &b[8..24];
    let dst = &b[24..40];
    let (family, local, remote) = match b[0] {
        AF_INET => {
            let ip = |a: &[u8]| IpAddr::V4(Ipv4Addr::new(a[0], a[1], a[2], a[3]));
            (Family::Ipv4, ip(src), ip(dst))
        }
        AF_INET6 => {
            let ip = |a: &[u8]| IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(a).unwrap()));
            (Family::Ipv6, ip(src), ip(dst))
        }
        _ => return None,
    };
    let uid = u32::from_ne_bytes(b[64..68].try_into().unwrap());
    let inode = u32::from_ne_bytes(b[68..72].try_into().unwrap());
    Some(SocketEntry {
        family,
        local: SocketAddr::new(local, sport),
        remote: SocketAddr::new(remote, dport),
        state,
        inode: u64::from(inode),
        uid,
    })
}

/// The kernel's TCP state numbers (`include/net/tcp_states.h`).
fn tcp_state(n: u8) -> Option<TcpState> {
    Some(match n {
        1 => TcpState::Established,
        2 => TcpState::SynSent,
        3 => TcpState::SynRecv,
        4 => TcpState::FinWait1,
        5 => TcpState::FinWait2,
        6 => TcpState::TimeWait,
        7 => TcpState::Close,
        8 => TcpState::CloseWait,
        9 => TcpState::LastAck,
        10 => TcpState::Listen,
        11 => TcpState::Closing,
        // A pending connection (request socket): `/proc/net/tcp` shows it as SYN_RECV.
        12 => TcpState::SynRecv,
        _ => return None,
    })
}

/// What one family's table holds, as far as `sockstat` tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// No socket at all: nothing to read.
    Nothing,
    /// This many sockets (listeners and connections; not TIME_WAIT, not
    /// half-open requests), and no TIME_WAIT.
    Sockets(u64),
    /// Read everything.
    Unknown,
}

/// What the IPv4 and IPv6 tables hold, from the texts of a namespace's
/// `net/sockstat` (`TCP: inuse N orphan N tw N ...`) and `net/sockstat6`
/// (`TCP6: inuse N`; `None` when the file does not exist: IPv6 is off).
/// The counters are per namespace; TIME_WAIT (`tw`) is counted for both
/// families together, so any makes both [`Expect::Unknown`]. Text that is
/// not understood also gives `Unknown`.
pub fn expect(sockstat: &str, sockstat6: Option<&str>) -> (Expect, Expect) {
    fn field(text: &str, line: &str, name: &str) -> Option<u64> {
        let rest = text.lines().find_map(|l| l.strip_prefix(line))?;
        let mut it = rest.split_whitespace();
        while let Some(k) = it.next() {
            let v = it.next()?;
            if k == name {
                return v.parse().ok();
            }
        }
        None
    }
    let tw = field(sockstat, "TCP:", "tw");
    let of = |inuse: Option<u64>| match (inuse, tw) {
        (Some(0), Some(0)) => Expect::Nothing,
        (Some(n), Some(0)) => Expect::Sockets(n),
        _ => Expect::Unknown,
    };
    let v4 = of(field(sockstat, "TCP:", "inuse"));
    let v6 = match sockstat6 {
        None => Expect::Nothing,
        Some(text) => of(field(text, "TCP6:", "inuse")),
    };
    (v4, v6)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::procnet::{NetFiles, read_tcp_table};

    #[test]
    fn sockstat_says_what_to_read() {
        use Expect::*;
        let v4 =
            "sockets: used 25\nTCP: inuse 5 orphan 0 tw 0 alloc 6 mem 187\nUDP: inuse 0 mem 0\n";
        let v6 = "TCP6: inuse 0\nUDP6: inuse 0\n";
        assert_eq!(expect(v4, Some(v6)), (Sockets(5), Nothing));
        let idle = "TCP: inuse 0 orphan 0 tw 0 alloc 6 mem 187\n";
        assert_eq!(expect(idle, Some(v6)), (Nothing, Nothing));
        assert_eq!(expect(idle, Some("TCP6: inuse 3\n")), (Nothing, Sockets(3)));
        // TIME_WAIT in either family: read both whole.
        let tw = "TCP: inuse 0 orphan 0 tw 2 alloc 6 mem 187\n";
        assert_eq!(expect(tw, Some(v6)), (Unknown, Unknown));
        // No IPv6 in the kernel: no sockstat6, no tcp6.
        assert_eq!(expect(v4, None), (Sockets(5), Nothing));
        assert_eq!(expect("", Some(v6)), (Unknown, Unknown));
        assert_eq!(expect(idle, Some("")), (Nothing, Unknown));
    }

    #[test]
    fn the_netlink_numbers_are_the_kernels() {
        assert_eq!(NLMSG_HDR_LEN, 16);
        assert_eq!((NLM_F_REQUEST, NLM_F_DUMP), (0x1, 0x300));
        assert_eq!((NLMSG_ERROR, NLMSG_DONE), (2, 3));
        assert_eq!((AF_INET, AF_INET6, IPPROTO_TCP), (2, 10, 6));
    }

    #[test]
    fn parses_a_diag_message() {
        let mut b = vec![0u8; INET_DIAG_MSG_LEN];
        b[0] = AF_INET;
        b[1] = 1;
        b[4..6].copy_from_slice(&44600u16.to_be_bytes());
        b[6..8].copy_from_slice(&44600u16.to_be_bytes());
        b[8..12].copy_from_slice(&[127, 0, 0, 1]);
        b[24..28].copy_from_slice(&[127, 0, 0, 1]);
        b[64..68].copy_from_slice(&1000u32.to_ne_bytes());
        b[68..72].copy_from_slice(&12345u32.to_ne_bytes());
        let e = parse_inet_diag_msg(&b).unwrap();
        assert_eq!(e.local.to_string(), "127.0.0.1:44600");
        assert!(e.is_self_connected());
        assert_eq!(
            (e.uid, e.inode, e.state),
            (1000, 12345, TcpState::Established)
        );
        b[1] = 99;
        assert!(parse_inet_diag_msg(&b).is_none());
        assert!(parse_inet_diag_msg(&b[..40]).is_none());
    }

    /// The dump and `/proc/net/tcp{,6}` agree on real sockets.
    #[test]
    fn dump_matches_the_proc_tables() {
        let Ok(mut diag) = DiagSocket::open() else {
            println!("skipped: no netlink sock_diag here");
            return;
        };
        let l4 = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let c4 = std::net::TcpStream::connect(l4.local_addr().unwrap()).unwrap();
        let l6 = std::net::TcpListener::bind("[::1]:0").ok();
        let files = NetFiles::own("/proc".as_ref());
        for (family, addr) in [
            (Family::Ipv4, Some(c4.local_addr().unwrap())),
            (Family::Ipv4, Some(l4.local_addr().unwrap())),
            (Family::Ipv6, l6.as_ref().map(|l| l.local_addr().unwrap())),
        ] {
            let Some(addr) = addr else { continue };
            let dumped = diag.dump(family, ALL_STATES).unwrap();
            let mut errors = vec![];
            let listed = read_tcp_table(&files, family, &mut errors).unwrap();
            let pick = |v: &[SocketEntry]| v.iter().find(|e| e.local == addr).cloned();
            let d = pick(&dumped).unwrap_or_else(|| panic!("{addr} in the dump"));
            assert_eq!(Some(d), pick(&listed), "{addr}");
        }
    }
}
