//! The listeners-only scan on the real kernel: in a private network
//! namespace with listeners (IPv4 and IPv6), connections and a
//! self-connect, it lists exactly the listening sockets a full scan lists,
//! with their owners, and nothing else, in every namespace it sees.

mod common;

use std::net::{SocketAddr, TcpListener, TcpStream};

use common::*;
use selfconn_tui::core::snapshot::{Owner, Snapshot};
use selfconn_tui::core::socket::TcpState;
use selfconn_tui::sys::scanner::{ScanOptions, Scanner};

/// The own namespace's sockets: (address, state).
fn own_rows(snap: &Snapshot) -> Vec<(SocketAddr, TcpState)> {
    let mut v: Vec<_> = snap
        .sockets
        .iter()
        .filter(|s| snap.namespace_of(s).is_own)
        .map(|s| (s.entry.local, s.entry.state))
        .collect();
    v.sort_by_key(|r| (r.0, r.1.as_str()));
    v
}

#[test]
fn a_listeners_only_scan_lists_every_listener_and_nothing_else() {
    in_private_netns(|| {
        let v4 = listener_in_range("0.0.0.0", true);
        let v6 = TcpListener::bind("[::1]:0").ok();
        let extra = TcpListener::bind("127.0.0.1:0").unwrap();
        // Connections, so that the kernel lists rows after the listeners.
        let mut keep = Vec::new();
        for _ in 0..50 {
            let c = TcpStream::connect(extra.local_addr().unwrap()).unwrap();
            let (a, _) = extra.accept().unwrap();
            keep.push((c, a));
        }
        let port = listener_in_range("127.0.0.1", false)
            .local_addr()
            .unwrap()
            .port();
        let sc = self_connect(SocketAddr::from(([127, 0, 0, 1], port)));

        let mut scanner = Scanner::new(ScanOptions::default());
        let full = scanner.scan().unwrap();
        let light = scanner.scan_listeners().unwrap();

        let listening: Vec<_> = own_rows(&full)
            .into_iter()
            .filter(|r| r.1 == TcpState::Listen)
            .collect();
        assert_eq!(own_rows(&light), listening);
        assert!(listening.contains(&(v4.local_addr().unwrap(), TcpState::Listen)));
        if let Some(v6) = &v6 {
            assert!(listening.contains(&(v6.local_addr().unwrap(), TcpState::Listen)));
        }
        assert!(
            own_rows(&full).len() >= listening.len() + 101,
            "the connections are there"
        );
        // Nothing but listeners, whichever namespace (the host's through
        // sock_diag) and whichever way it was read.
        assert!(
            light
                .sockets
                .iter()
                .all(|s| s.entry.state == TcpState::Listen),
            "{:?}",
            light
                .sockets
                .iter()
                .find(|s| s.entry.state != TcpState::Listen)
        );
        // The risky listener is a finding with its owner: this process.
        let risky = light
            .sockets
            .iter()
            .find(|s| s.entry.local == v4.local_addr().unwrap() && snap_is_own(&light, s))
            .unwrap();
        assert!(risky.finding.is_some());
        match &risky.owner {
            Owner::Process(p) => assert_eq!(p.pid as u32, std::process::id()),
            other => panic!("owner {other:?}"),
        }
        drop((sc, keep, v6));
    });
}

fn snap_is_own(snap: &Snapshot, s: &selfconn_tui::core::snapshot::Socket) -> bool {
    snap.namespace_of(s).is_own
}
