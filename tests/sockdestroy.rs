//! Destroying one self-connected socket through sock_diag, on the real
//! kernel, in private network namespaces (root): its holder sees
//! ECONNABORTED, the port can be bound at once; anything else is refused.

mod common;

use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;

use common::{in_private_netns, listen_plain, self_connect};
use selfconn_tui::sys::sockdestroy::{DestroyError, SockDestroyer};

fn inode_of(fd: &impl AsRawFd) -> u64 {
    std::fs::metadata(format!("/proc/self/fd/{}", fd.as_raw_fd()))
        .unwrap()
        .ino()
}

/// The errno of a read on a socket (None when it read something).
fn read_error(s: &socket2::Socket) -> Option<i32> {
    s.set_read_timeout(Some(std::time::Duration::from_secs(2)))
        .unwrap();
    let mut buf = [0u8; 8];
    (&*s).read(&mut buf).err().and_then(|e| e.raw_os_error())
}

/// A self-connect as it happens in real life: `connect()` without
/// `bind()`, the kernel picking the source port. The namespace's range is
/// narrowed to `port` and its neighbour, so that takes a few attempts.
fn self_connect_by_kernel(addr: SocketAddr) -> socket2::Socket {
    let p = addr.port();
    common::set_netns_sysctl("ip_local_port_range", &format!("{p} {}", p + 1));
    let domain = socket2::Domain::for_address(addr);
    for _ in 0..1000 {
        let s = socket2::Socket::new(domain, socket2::Type::STREAM, None).unwrap();
        if s.connect(&addr.into()).is_ok() {
            let local = s.local_addr().unwrap().as_socket();
            assert_eq!(local, Some(addr), "nothing else listens here");
            return s;
        }
    }
    panic!("no self-connect on {addr} in 1000 attempts with a range of 2 ports");
}

#[test]
fn a_self_connect_is_destroyed_and_its_port_can_be_bound_at_once() {
    in_private_netns(|| {
        for a in ["127.0.0.1:44600", "[::1]:44602"] {
            let addr: SocketAddr = a.parse().unwrap();
            let held = self_connect_by_kernel(addr);
            assert!(listen_plain(addr).is_err(), "{a}: held");
            let inode = inode_of(&held);
            let mut d = SockDestroyer::open().unwrap();
            let done = d
                .destroy_self_connected(addr, addr, inode)
                .unwrap_or_else(|e| panic!("{a}: {e}"));
            assert_eq!((done.addr, done.inode), (addr, inode));
            // Bound at once, while the holder still has its socket open.
            let l = listen_plain(addr);
            assert!(l.is_ok(), "{a}: the port is free at once: {l:?}");
            assert_eq!(read_error(&held), Some(libc::ECONNABORTED), "{a}");
            drop(l);
            // Gone now: the kernel has no such socket any more.
            assert!(matches!(
                d.destroy_self_connected(addr, addr, inode),
                Err(DestroyError::Gone { .. })
            ));
        }
    });
}

#[test]
fn a_self_connect_in_time_wait_holds_the_port_until_destroyed() {
    in_private_netns(|| {
        let addr: SocketAddr = "127.0.0.1:44612".parse().unwrap();
        drop(self_connect_by_kernel(addr));
        // Waited for: a child another test forks at this moment holds the
        // socket until its exec.
        assert!(common::wait_until(
            std::time::Duration::from_secs(10),
            || in_time_wait(44612)
        ));
        // The client set no SO_REUSEADDR: its TIME_WAIT blocks even a
        // service that does (std's listener sets it).
        assert!(TcpListener::bind(addr).is_err(), "TIME_WAIT holds the port");
        let done = SockDestroyer::open()
            .unwrap()
            .destroy_self_connected(addr, addr, 0)
            .unwrap();
        assert_eq!(done.state, selfconn_tui::core::socket::TcpState::TimeWait);
        assert!(listen_plain(addr).is_ok(), "free once destroyed");
    });
}

#[test]
fn an_explicitly_bound_self_connect_keeps_its_port_until_its_holder_closes_it() {
    in_private_netns(|| {
        let addr: SocketAddr = "127.0.0.1:44610".parse().unwrap();
        let held = self_connect(addr);
        let inode = inode_of(&held);
        SockDestroyer::open()
            .unwrap()
            .destroy_self_connected(addr, addr, inode)
            .unwrap();
        assert_eq!(read_error(&held), Some(libc::ECONNABORTED));
        // bind() took the port for the socket's life: aborted, it keeps it.
        assert!(listen_plain(addr).is_err());
        drop(held);
        // Aborted, it leaves no TIME_WAIT behind. (Waited for: a child
        // another test forks at this moment holds the socket until exec.)
        assert!(common::wait_until(
            std::time::Duration::from_secs(10),
            || listen_plain(addr).is_ok()
        ));
    });
}

/// Whether `127.0.0.1:port -> 127.0.0.1:port` is in TIME_WAIT in this
/// thread's namespace.
fn in_time_wait(port: u16) -> bool {
    let end = format!("0100007F:{port:04X}");
    std::fs::read_to_string("/proc/thread-self/net/tcp")
        .unwrap_or_default()
        .lines()
        .any(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.len() > 3 && f[1] == end && f[2] == end && f[3] == "06"
        })
}

#[test]
fn anything_but_the_self_connect_asked_for_is_refused() {
    in_private_netns(|| {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (local, remote) = (c.local_addr().unwrap(), c.peer_addr().unwrap());
        let mut d = SockDestroyer::open().unwrap();
        assert!(matches!(
            d.destroy_self_connected(local, remote, inode_of(&c)),
            Err(DestroyError::NotSelfConnected { .. })
        ));
        // A self-connect, but not the inode asked for (a newer socket).
        let addr: SocketAddr = "127.0.0.1:44604".parse().unwrap();
        let held = self_connect(addr);
        let e = d.destroy_self_connected(addr, addr, inode_of(&held) + 1);
        assert!(matches!(e, Err(DestroyError::Replaced { .. })), "{e:?}");
        // Untouched: both connections still work.
        let (mut accepted, _) = l.accept().unwrap();
        std::io::Write::write_all(&mut &c, b"x").unwrap();
        let mut one = [0u8; 1];
        accepted.read_exact(&mut one).unwrap();
        assert!(listen_plain(addr).is_err(), "still held");
        // Closed since: in TIME_WAIT, not the socket asked for.
        let inode = inode_of(&held);
        drop(held);
        // A child another test forks at this moment holds the socket until
        // its exec: wait for the close to take effect.
        assert!(
            common::wait_until(std::time::Duration::from_secs(10), || in_time_wait(44604)),
            "no TIME_WAIT row for {addr}"
        );
        let e = d.destroy_self_connected(addr, addr, inode);
        assert!(matches!(e, Err(DestroyError::TimeWait { .. })), "{e:?}");
    });
}

#[test]
fn another_namespace_is_reached_through_its_handle() {
    in_private_netns(|| {
        let addr: SocketAddr = "127.0.0.1:44606".parse().unwrap();
        // A second namespace, on a thread of its own, holding a self-connect.
        let (tx, rx) = std::sync::mpsc::channel();
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        let inner = std::thread::spawn(move || {
            nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
            common::loopback_up();
            let held = self_connect(addr);
            let ns = std::fs::File::open("/proc/thread-self/ns/net").unwrap();
            tx.send((ns, inode_of(&held))).unwrap();
            let _ = done_rx.recv_timeout(std::time::Duration::from_secs(10));
            read_error(&held)
        });
        let (ns, inode) = rx.recv().unwrap();
        // From here, the socket is not in this namespace.
        let mut here = SockDestroyer::open().unwrap();
        assert!(matches!(
            here.destroy_self_connected(addr, addr, inode),
            Err(DestroyError::Gone { .. })
        ));
        let mut there = SockDestroyer::open_in(&ns).unwrap();
        there.destroy_self_connected(addr, addr, inode).unwrap();
        done_tx.send(()).unwrap();
        assert_eq!(inner.join().unwrap(), Some(libc::ECONNABORTED));
    });
}

#[test]
fn without_root_the_kernel_refuses_and_the_error_gives_the_ss_line() {
    in_private_netns(|| {
        let addr: SocketAddr = "127.0.0.1:44608".parse().unwrap();
        let held = self_connect(addr);
        let inode = inode_of(&held);
        // A thread that gives up root for itself alone (the per-thread
        // system call, not libc's wrapper, which would change every thread).
        let refused = std::thread::spawn(move || {
            let nobody = rustix::process::Uid::from_raw(65534);
            rustix::thread::set_thread_res_uid(nobody, nobody, nobody).expect("setresuid");
            let mut d = SockDestroyer::open().unwrap();
            d.destroy_self_connected(addr, addr, inode)
        })
        .join()
        .unwrap();
        let Err(e @ DestroyError::NotPermitted { .. }) = refused else {
            panic!("EPERM expected: {refused:?}");
        };
        assert!(
            e.to_string()
                .contains("ss -K -tn 'src 127.0.0.1:44608 and dst 127.0.0.1:44608'"),
            "{e}"
        );
        assert!(listen_plain(addr).is_err(), "still held");
    });
}
