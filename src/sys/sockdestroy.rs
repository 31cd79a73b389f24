//! Frees a port held by a self-connected socket: destroys that one socket
//! through netlink `sock_diag` `SOCK_DESTROY`, which is what `ss -K` does.
//! Its holder sees ECONNABORTED on its next read or write, and a port the
//! kernel picked (a plain `connect()`, the usual case) can be bound at once;
//! one the client bound itself stays taken until it closes the socket
//! (both checked on Linux 6.18). Needs CAP_NET_ADMIN in the socket's
//! namespace and a kernel built with CONFIG_INET_DIAG_DESTROY.
//!
//! Never anything but the one socket asked for: the address must be its
//! own peer (local == remote), the socket is first looked up by its exact
//! 4-tuple and must carry the expected inode (not one made since on the
//! same address), and the destroy names it by the kernel's cookie from
//! that lookup, so a socket that replaced it in between is not touched.
//!
//! The request layout is that of [`super::diag`] (`inet_diag_req_v2`),
//! but as an exact lookup by socket id instead of a dump; the reply is
//! parsed by the same code.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsFd;
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};

use super::diag::parse_inet_diag_msg;
use crate::core::advice::ss_filter;
use crate::core::socket::TcpState;

// From include/uapi/linux/{netlink,sock_diag,inet_diag}.h.
const AF_NETLINK: i32 = 16;
const NETLINK_SOCK_DIAG: i32 = 4;
const SOCK_DIAG_BY_FAMILY: u16 = 20;
const SOCK_DESTROY: u16 = 21;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLMSG_ERROR: u16 = 0x2;
const NLMSG_HDR_LEN: usize = 16;
const REQ_LEN: usize = 56;
const IPPROTO_TCP: u8 = 6;
/// `INET_DIAG_NOCOOKIE`: match any cookie.
const NO_COOKIE: [u8; 8] = [0xff; 8];
/// Where `idiag_cookie` sits in `struct inet_diag_msg`.
const MSG_COOKIE: std::ops::Range<usize> = 44..52;

/// Why a socket was not destroyed.
#[derive(Debug, thiserror::Error)]
pub enum DestroyError {
    #[error(
        "{local} -> {remote} is not connected to itself: only a self-connected socket is destroyed"
    )]
    NotSelfConnected {
        local: SocketAddr,
        remote: SocketAddr,
    },
    #[error(
        "destroying a socket needs root (CAP_NET_ADMIN in its network namespace); as root: {}",
        ss_line(*.addr)
    )]
    NotPermitted { addr: SocketAddr },
    #[error(
        "this kernel cannot destroy sockets (built without CONFIG_INET_DIAG_DESTROY): restart \
         the process that holds {addr} instead"
    )]
    NotSupported { addr: SocketAddr },
    #[error("{addr} is gone already: nothing holds the port through it any more")]
    Gone { addr: SocketAddr },
    #[error(
        "{addr} was closed since and is in TIME_WAIT: not destroyed; look again (in \
         TIME_WAIT, with inode 0, it can be destroyed too)"
    )]
    TimeWait { addr: SocketAddr },
    #[error(
        "{addr} is now another socket (inode {found}, not {wanted}): not destroyed; look again"
    )]
    Replaced {
        addr: SocketAddr,
        wanted: u64,
        found: u64,
    },
    #[error("cannot enter the network namespace: {0}")]
    Namespace(String),
    #[error("sock_diag: {0}")]
    Io(#[from] std::io::Error),
}

/// The `ss -K` line that does the same by hand.
pub fn ss_line(addr: SocketAddr) -> String {
    format!("ss -K -tn '{}'", ss_filter(addr))
}

/// What was destroyed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destroyed {
    pub addr: SocketAddr,
    pub inode: u64,
    /// Its state just before.
    pub state: TcpState,
}

/// A netlink `sock_diag` socket for destroying, bound to one namespace.
#[derive(Debug)]
pub struct SockDestroyer {
    socket: Socket,
    seq: u32,
}

impl SockDestroyer {
    /// In the calling thread's network namespace.
    pub fn open() -> std::io::Result<SockDestroyer> {
        let socket = Socket::new(
            Domain::from(AF_NETLINK),
            Type::DGRAM.cloexec(),
            Some(Protocol::from(NETLINK_SOCK_DIAG)),
        )?;
        // The kernel answers at once; bound the wait all the same.
        socket.set_read_timeout(Some(Duration::from_secs(2)))?;
        Ok(SockDestroyer { socket, seq: 0 })
    }

    /// In the network namespace `netns` refers to (an open
    /// `/proc/PID/ns/net` or `/run/netns/NAME`): a netlink socket belongs
    /// to the namespace it is made in, so a short-lived thread joins it,
    /// makes the socket and ends; the caller's thread stays where it is.
    pub fn open_in(netns: &(impl AsFd + Sync)) -> Result<SockDestroyer, DestroyError> {
        let made = std::thread::scope(|scope| {
            std::thread::Builder::new()
                .name("netns-destroy".into())
                .spawn_scoped(scope, || {
                    nix::sched::setns(netns.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET)
                        .map_err(|e| DestroyError::Namespace(format!("setns: {e}")))?;
                    SockDestroyer::open().map_err(DestroyError::Io)
                })
                .map(|h| h.join())
        });
        match made {
            Ok(Ok(r)) => r,
            Ok(Err(_)) => Err(DestroyError::Namespace("the helper thread panicked".into())),
            Err(e) => Err(DestroyError::Namespace(format!(
                "cannot start a helper thread: {e}"
            ))),
        }
    }

    /// Destroys the socket connected to itself on `addr` whose inode is
    /// `inode`, and nothing else.
    pub fn destroy_self_connected(
        &mut self,
        local: SocketAddr,
        remote: SocketAddr,
        inode: u64,
    ) -> Result<Destroyed, DestroyError> {
        if local != remote || local.port() == 0 {
            return Err(DestroyError::NotSelfConnected { local, remote });
        }
        let addr = local;
        let (found, cookie) = self.lookup(addr).map_err(|e| errno_error(e, addr))?;
        // In TIME_WAIT no process holds it (inode 0), yet it keeps the
        // port for up to 60 s, even from a service that sets SO_REUSEADDR
        // when the client did not; Linux 6.18 aborts it as well.
        if found.state == TcpState::TimeWait && inode != 0 {
            return Err(DestroyError::TimeWait { addr });
        }
        if found.local != addr || found.remote != addr {
            return Err(DestroyError::NotSelfConnected {
                local: found.local,
                remote: found.remote,
            });
        }
        if found.inode != inode {
            return Err(DestroyError::Replaced {
                addr,
                wanted: inode,
                found: found.inode,
            });
        }
        self.request(SOCK_DESTROY, NLM_F_REQUEST | NLM_F_ACK, addr, cookie)
            .and_then(|reply| match reply {
                Reply::Error(0) => Ok(()),
                Reply::Error(errno) => Err(std::io::Error::from_raw_os_error(errno)),
                Reply::Socket(_) => Err(std::io::Error::other("unexpected reply to a destroy")),
            })
            .map_err(|e| errno_error(e, addr))?;
        Ok(Destroyed {
            addr,
            inode,
            state: found.state,
        })
    }

    /// The socket on `addr` -> `addr` as the kernel has it, with its cookie.
    fn lookup(
        &mut self,
        addr: SocketAddr,
    ) -> std::io::Result<(crate::core::socket::SocketEntry, [u8; 8])> {
        match self.request(SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST, addr, NO_COOKIE)? {
            Reply::Socket(body) => {
                let entry = parse_inet_diag_msg(&body)
                    .ok_or_else(|| std::io::Error::other("short sock_diag reply"))?;
                let cookie = body[MSG_COOKIE].try_into().expect("8 bytes");
                Ok((entry, cookie))
            }
            Reply::Error(0) => Err(std::io::Error::other("no socket in the reply")),
            Reply::Error(errno) => Err(std::io::Error::from_raw_os_error(errno)),
        }
    }

    /// Sends one request about the socket `addr` -> `addr`; the first reply.
    fn request(
        &mut self,
        kind: u16,
        flags: u16,
        addr: SocketAddr,
        cookie: [u8; 8],
    ) -> std::io::Result<Reply> {
        self.seq = self.seq.wrapping_add(1);
        let req = request_bytes(kind, flags, self.seq, addr, cookie);
        (&self.socket).write_all(&req)?;
        let mut buf = vec![0u8; 8192];
        // Bounded: replies to earlier requests (acks) are skipped.
        for _ in 0..16 {
            let n = (&self.socket).read(&mut buf)?;
            if let Some(reply) = parse_reply(&buf[..n], self.seq)? {
                return Ok(reply);
            }
        }
        Err(std::io::Error::other("no reply from sock_diag"))
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Reply {
    /// `NLMSG_ERROR` with this errno (0: an acknowledgement).
    Error(i32),
    /// An `inet_diag_msg`.
    Socket(Vec<u8>),
}

/// `nlmsghdr` + `inet_diag_req_v2` naming one TCP socket by its 4-tuple.
fn request_bytes(kind: u16, flags: u16, seq: u32, addr: SocketAddr, cookie: [u8; 8]) -> Vec<u8> {
    let mut req = Vec::with_capacity(NLMSG_HDR_LEN + REQ_LEN);
    req.extend_from_slice(&((NLMSG_HDR_LEN + REQ_LEN) as u32).to_ne_bytes());
    req.extend_from_slice(&kind.to_ne_bytes());
    req.extend_from_slice(&flags.to_ne_bytes());
    req.extend_from_slice(&seq.to_ne_bytes());
    req.extend_from_slice(&0u32.to_ne_bytes());
    let (family, ip) = match addr.ip() {
        IpAddr::V4(v4) => {
            let mut b = [0u8; 16];
            b[..4].copy_from_slice(&v4.octets());
            (libc::AF_INET as u8, b)
        }
        IpAddr::V6(v6) => (libc::AF_INET6 as u8, v6.octets()),
    };
    req.extend_from_slice(&[family, IPPROTO_TCP, 0, 0]);
    // Every state: the lookup is by id; the kernel ignores the mask there.
    req.extend_from_slice(&u32::MAX.to_ne_bytes());
    // inet_diag_sockid: ports big-endian, source and destination, interface, cookie.
    req.extend_from_slice(&addr.port().to_be_bytes());
    req.extend_from_slice(&addr.port().to_be_bytes());
    req.extend_from_slice(&ip);
    req.extend_from_slice(&ip);
    req.extend_from_slice(&0u32.to_ne_bytes());
    req.extend_from_slice(&cookie);
    req
}

/// The reply to request `seq` in one datagram, if it holds one.
fn parse_reply(mut data: &[u8], seq: u32) -> std::io::Result<Option<Reply>> {
    let bad = || std::io::Error::new(std::io::ErrorKind::InvalidData, "truncated netlink reply");
    while data.len() >= NLMSG_HDR_LEN {
        let len = u32::from_ne_bytes(data[0..4].try_into().unwrap()) as usize;
        let kind = u16::from_ne_bytes(data[4..6].try_into().unwrap());
        let msg_seq = u32::from_ne_bytes(data[8..12].try_into().unwrap());
        if len < NLMSG_HDR_LEN || len > data.len() {
            return Err(bad());
        }
        let body = &data[NLMSG_HDR_LEN..len];
        if msg_seq == seq {
            match kind {
                NLMSG_ERROR => {
                    let code = body.get(0..4).ok_or_else(bad)?;
                    let code = i32::from_ne_bytes(code.try_into().unwrap());
                    return Ok(Some(Reply::Error(-code)));
                }
                SOCK_DIAG_BY_FAMILY => return Ok(Some(Reply::Socket(body.to_vec()))),
                _ => {}
            }
        }
        data = &data[((len + 3) & !3).min(data.len())..];
    }
    Ok(None)
}

/// The kernel's refusals, as the errors a user can act on.
fn errno_error(e: std::io::Error, addr: SocketAddr) -> DestroyError {
    match e.raw_os_error() {
        Some(libc::EPERM | libc::EACCES) => DestroyError::NotPermitted { addr },
        Some(libc::EOPNOTSUPP) => DestroyError::NotSupported { addr },
        Some(libc::ENOENT) => DestroyError::Gone { addr },
        _ => DestroyError::Io(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_names_one_socket_by_its_four_tuple_and_cookie() {
        let addr: SocketAddr = "127.0.0.1:44600".parse().unwrap();
        let r = request_bytes(SOCK_DESTROY, NLM_F_REQUEST | NLM_F_ACK, 7, addr, [1; 8]);
        assert_eq!(r.len(), 72);
        assert_eq!(u32::from_ne_bytes(r[0..4].try_into().unwrap()), 72);
        assert_eq!(u16::from_ne_bytes(r[4..6].try_into().unwrap()), 21);
        assert_eq!(u16::from_ne_bytes(r[6..8].try_into().unwrap()), 5);
        assert_eq!(r[16], libc::AF_INET as u8);
        assert_eq!(r[17], IPPROTO_TCP);
        assert_eq!(
            &r[24..28],
            &[0xae, 0x38, 0xae, 0x38],
            "44600 big-endian, twice"
        );
        assert_eq!(&r[28..32], &[127, 0, 0, 1]);
        assert_eq!(&r[44..48], &[127, 0, 0, 1]);
        assert_eq!(&r[64..72], &[1; 8]);
        let v6 = request_bytes(
            SOCK_DIAG_BY_FAMILY,
            1,
            8,
            "[::1]:44600".parse().unwrap(),
            NO_COOKIE,
        );
        assert_eq!(v6[16], libc::AF_INET6 as u8);
        assert_eq!(v6[43], 1, "::1 ends in 1");
    }

    #[test]
    fn replies_are_matched_by_sequence_and_errors_mapped() {
        let msg = |seq: u32, kind: u16, body: &[u8]| {
            let mut m = ((NLMSG_HDR_LEN + body.len()) as u32).to_ne_bytes().to_vec();
            m.extend_from_slice(&kind.to_ne_bytes());
            m.extend_from_slice(&0u16.to_ne_bytes());
            m.extend_from_slice(&seq.to_ne_bytes());
            m.extend_from_slice(&0u32.to_ne_bytes());
            m.extend_from_slice(body);
            m
        };
        let mut two = msg(3, NLMSG_ERROR, &0i32.to_ne_bytes());
        two.extend(msg(4, NLMSG_ERROR, &(-libc::EPERM).to_ne_bytes()));
        assert_eq!(
            parse_reply(&two, 4).unwrap(),
            Some(Reply::Error(libc::EPERM))
        );
        assert_eq!(parse_reply(&two, 3).unwrap(), Some(Reply::Error(0)));
        assert_eq!(parse_reply(&two, 5).unwrap(), None);
        assert!(
            parse_reply(&two[..38], 4).is_err(),
            "the second is cut short"
        );
        let addr: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let err = |n| errno_error(std::io::Error::from_raw_os_error(n), addr);
        assert!(matches!(
            err(libc::EPERM),
            DestroyError::NotPermitted { .. }
        ));
        assert!(matches!(
            err(libc::EOPNOTSUPP),
            DestroyError::NotSupported { .. }
        ));
        assert!(matches!(err(libc::ENOENT), DestroyError::Gone { .. }));
        assert!(
            err(libc::EPERM)
                .to_string()
                .ends_with("ss -K -tn 'src 127.0.0.1:1 and dst 127.0.0.1:1'")
        );
    }

    #[test]
    fn a_socket_that_is_not_its_own_peer_is_refused_before_asking_the_kernel() {
        let Ok(mut d) = SockDestroyer::open() else {
            println!("skipped: no netlink sock_diag here");
            return;
        };
        let a: SocketAddr = "127.0.0.1:44600".parse().unwrap();
        let b: SocketAddr = "127.0.0.1:44601".parse().unwrap();
        assert!(matches!(
            d.destroy_self_connected(a, b, 1),
            Err(DestroyError::NotSelfConnected { .. })
        ));
        assert_eq!(d.seq, 0, "nothing was sent");
    }
}
