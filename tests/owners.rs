//! Socket owners on the real kernel, in a private network namespace: the
//! walk takes the likely holder first and stops early, and a scanner that
//! refreshes keeps owners without walking again, never stale. Holders are
//! `sleep` processes that inherit sockets (their close-on-exec flag
//! cleared), so each test knows exactly which process holds what.

mod common;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::os::fd::AsFd;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;

use selfconn_tui::core::snapshot::{Owner, Snapshot};
use selfconn_tui::sys::owner_order::fd_counts_known;
use selfconn_tui::sys::scanner::{OwnerScope, ScanOptions, Scanner};
use socket2::{Domain, Socket, Type};

/// A child started while another test's sockets are inheritable would
/// hold them too: one test at a time.
static SERIAL: Mutex<()> = Mutex::new(());

/// A `sleep` holding `socks` (inherited); killed and reaped when dropped.
struct Holder(Child);

impl Holder {
    fn start(socks: &[&Socket]) -> Holder {
        use nix::fcntl::{FcntlArg, FdFlag, fcntl};
        for s in socks {
            fcntl(s.as_fd(), FcntlArg::F_SETFD(FdFlag::empty())).unwrap();
        }
        let child = Command::new("sleep")
            .arg("120")
            .stdin(Stdio::null())
            .spawn()
            .expect("sleep starts");
        for s in socks {
            fcntl(s.as_fd(), FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC)).unwrap();
        }
        Holder(child)
    }

    fn pid(&self) -> i32 {
        self.0.id() as i32
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn inode_of(s: &Socket) -> u64 {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(format!("/proc/self/fd/{}", s.as_raw_fd()))
        .unwrap()
        .ino()
}

/// A scanner of the calling thread's namespace only (other tests' findings
/// on the host must not make it walk).
fn scanner(owners: OwnerScope) -> Scanner {
    Scanner::new(ScanOptions {
        owners,
        netns: Some("own".into()),
        ..ScanOptions::default()
    })
}

fn owner_pid(snap: &Snapshot, inode: u64) -> Option<i32> {
    let s = snap.sockets.iter().find(|s| s.entry.inode == inode)?;
    match &s.owner {
        Owner::Process(p) => Some(p.pid),
        Owner::Unknown(_) => None,
    }
}

fn self_connect() -> Socket {
    common::self_connect(SocketAddr::from((
        [127, 0, 0, 1],
        common::free_port("127.0.0.1"),
    )))
}

#[test]
fn the_small_later_process_is_walked_first_and_the_walk_stops_early() {
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if common::is_root() && !fd_counts_known(std::path::Path::new("/proc")) {
        common::skip("the kernel does not give descriptor counts (before Linux 6.2)");
        return;
    }
    common::in_private_netns(|| {
        let (_, hard) =
            nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE).unwrap();
        let _ =
            nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE, hard, hard);
        const BIG: usize = 1500;
        let many: Vec<Socket> = (0..BIG)
            .map(|_| Socket::new(Domain::IPV4, Type::STREAM, None).unwrap())
            .collect();
        let _big = Holder::start(&many.iter().collect::<Vec<_>>());
        drop(many);
        let sc = self_connect();
        let inode = inode_of(&sc);
        let small = Holder::start(&[&sc]);
        drop(sc);

        let mut s = scanner(OwnerScope::Findings);
        let snap = s.scan().unwrap();
        assert_eq!(owner_pid(&snap, inode), Some(small.pid()));
        let stats = s.owner_stats();
        assert!(stats.walked && stats.walk.stopped_early, "{stats:?}");
        assert!(
            stats.walk.descriptors < BIG / 2,
            "the big holder's {BIG} descriptors were walked: {stats:?}"
        );
    });
}

#[test]
fn a_second_refresh_walks_nothing_when_nothing_changed() {
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    common::in_private_netns(|| {
        let sc = self_connect();
        let inode = inode_of(&sc);
        let holder = Holder::start(&[&sc]);
        drop(sc);
        let listener = common::listener_in_range("127.0.0.1", true);
        for scope in [OwnerScope::Findings, OwnerScope::All] {
            let mut s = scanner(scope);
            let first = s.scan().unwrap();
            assert_eq!(owner_pid(&first, inode), Some(holder.pid()));
            assert!(s.owner_stats().walk.descriptors > 0, "{scope:?}");
            let second = s.scan().unwrap();
            let stats = s.owner_stats();
            assert_eq!(owner_pid(&second, inode), Some(holder.pid()));
            assert!(!stats.walked, "{scope:?}: {stats:?}");
            assert_eq!(stats.walk.descriptors, 0, "{scope:?}");
            assert!(stats.from_cache >= 2, "{scope:?}: {stats:?}");
            let me = std::process::id() as i32;
            let port = listener.local_addr().unwrap().port();
            let mine = second
                .sockets
                .iter()
                .find(|s| s.entry.local.port() == port)
                .unwrap();
            assert!(matches!(&mine.owner, Owner::Process(p) if p.pid == me));
        }
    });
}

#[test]
fn a_holder_that_exits_is_dropped_and_the_socket_found_again() {
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    common::in_private_netns(|| {
        let sc = self_connect();
        let inode = inode_of(&sc);
        let first = Holder::start(&[&sc]);
        let second = Holder::start(&[&sc]);
        drop(sc);
        // Alike but for their pids, the first would be walked first: the
        // hint (a live event's pid) puts the second before it.
        let mut s = scanner(OwnerScope::Findings);
        s.hint_owners([second.pid()]);
        let snap = s.scan().unwrap();
        assert_eq!(owner_pid(&snap, inode), Some(second.pid()));

        let gone = second.pid();
        drop(second);
        let snap = s.scan().unwrap();
        assert_eq!(owner_pid(&snap, inode), Some(first.pid()));
        let stats = s.owner_stats();
        assert!(stats.dropped >= 1 && stats.walked, "{stats:?}");
        assert_ne!(owner_pid(&snap, inode), Some(gone));

        // The last holder gone, the socket leaves the tables and the cache.
        drop(first);
        let snap = s.scan().unwrap();
        assert!(snap.sockets.iter().all(|x| x.entry.inode != inode));
        assert!(!s.owner_stats().walked, "{:?}", s.owner_stats());
    });
}

#[test]
fn a_socket_handed_on_by_a_living_process_shows_its_new_owner() {
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    common::in_private_netns(|| {
        let sc = self_connect();
        let inode = inode_of(&sc);
        let me = std::process::id() as i32;
        let mut s = scanner(OwnerScope::Findings);
        s.hint_owners([me]);
        let snap = s.scan().unwrap();
        assert_eq!(owner_pid(&snap, inode), Some(me));

        // This process hands the socket to a child and closes its own
        // copy, living on: the kept (pid, fd) no longer names the socket.
        let heir = Holder::start(&[&sc]);
        drop(sc);
        // A new socket may take the freed descriptor number: still not it.
        let reuse: Vec<Socket> = (0..4)
            .map(|_| Socket::new(Domain::IPV4, Type::STREAM, None).unwrap())
            .collect();
        let snap = s.scan().unwrap();
        assert_eq!(owner_pid(&snap, inode), Some(heir.pid()));
        assert!(s.owner_stats().dropped >= 1, "{:?}", s.owner_stats());
        let kept: HashSet<i32> = snap
            .sockets
            .iter()
            .filter_map(|x| owner_pid(&snap, x.entry.inode))
            .collect();
        assert!(kept.contains(&heir.pid()));
        drop(reuse);
    });
}
