//! The incident people hit, on the real kernel in a private network
//! namespace (root): a service's listener goes, a retrying client takes its
//! port by connecting to itself, the service cannot bind it again; the
//! scans, diffed by the core's change tracker, report one incident that
//! links the two, with both owners and the scans' times.

mod common;

use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::AtomicBool;

use selfconn_tui::core::changes::{ChangeKind, ChangeTracker, Fact, Inference};
use selfconn_tui::core::snapshot::Snapshot;
use selfconn_tui::repro::{Config, Counters, Mode, Target, run};
use selfconn_tui::sys::scanner::{ScanOptions, Scanner};

fn scan(scanner: &mut Scanner) -> Snapshot {
    scanner.scan().expect("a scan of the own namespace")
}

#[test]
fn a_listener_gone_then_a_self_connect_on_its_port_is_one_incident() {
    common::in_private_netns(|| {
        // A narrow range: the retry loop reaches the port in a few attempts.
        common::set_netns_sysctl("ip_local_port_range", "44600 44631");
        let addr: SocketAddr = "127.0.0.1:44600".parse().unwrap();
        let me = std::process::id() as i32;
        let mut scanner = Scanner::new(ScanOptions {
            netns: Some("own".into()),
            ..ScanOptions::default()
        });
        let mut tracker = ChangeTracker::new();

        let service = TcpListener::bind(addr).unwrap();
        let up = scan(&mut scanner);
        assert!(
            tracker
                .observe(&up)
                .iter()
                .any(|c| matches!(&c.kind, ChangeKind::ListenerAppeared(l) if l.addr == addr))
        );
        drop(service);
        let down = scan(&mut scanner);
        let gone = tracker.observe(&down);
        assert!(
            gone.iter()
                .any(|c| matches!(&c.kind, ChangeKind::ListenerGone(l) if l.port == 44600)),
            "{gone:#?}"
        );

        // The client retries the vacated port until it gets it as its own.
        let config = Config {
            max_time: std::time::Duration::from_secs(20),
            ..Config::new(Target::from_addr(addr).unwrap(), Mode::Fresh)
        };
        let mut outcome = run(&config, &Counters::new(), &AtomicBool::new(false));
        assert!(outcome.is_self_connected(), "{:?}", outcome.end);
        let held = outcome.take_connection().expect("the socket");
        // The service comes back: its port is taken, SO_REUSEADDR or not.
        let again = TcpListener::bind(addr).unwrap_err();
        assert_eq!(again.raw_os_error(), Some(libc::EADDRINUSE));

        let stolen = scan(&mut scanner);
        let changes = tracker.observe(&stolen);
        let incidents: Vec<_> = changes
            .iter()
            .filter_map(|c| match &c.kind {
                ChangeKind::PortStolen(i) => Some((c.time, i)),
                _ => None,
            })
            .collect();
        let [(time, i)] = incidents[..] else {
            panic!("one incident expected: {changes:#?}");
        };
        assert_eq!(time, stolen.taken_at);
        assert_eq!(i.port, 44600);
        assert_eq!(i.netns.id, stolen.own_namespace().id);
        assert_eq!(i.listener.addr, addr);
        assert_eq!(i.listener.owner.process().map(|p| p.pid), Some(me));
        assert_eq!(i.listener.first_seen, up.taken_at);
        assert_eq!(i.listener.last_seen, up.taken_at);
        assert_eq!(i.listener.gone_at, down.taken_at);
        assert_eq!(i.self_connect.addr, held.local());
        assert_eq!(i.self_connect.owner.process().map(|p| p.pid), Some(me));
        assert_eq!(i.self_connect.first_seen, stolen.taken_at);
        assert_eq!(
            i.delay_ms,
            (stolen.taken_at - down.taken_at).num_milliseconds()
        );
        assert!(i.known.contains(&Fact::PortHeld));
        assert!(i.inferred.contains(&Inference::ServiceCannotBind));

        // The next scan adds nothing; once the socket is gone the incident
        // is closed, with the time the port was seen free.
        assert!(tracker.observe(&scan(&mut scanner)).is_empty());
        assert_eq!(tracker.incidents().len(), 1);
        held.into_socket()
            .set_linger(Some(std::time::Duration::ZERO))
            .unwrap();
        let freed = scan(&mut scanner);
        tracker.observe(&freed);
        let rec = &tracker.incidents()[0];
        assert_eq!(rec.timeline.port_freed, Some(freed.taken_at));
        assert!(TcpListener::bind(addr).is_ok(), "the service can start");
    });
}

#[test]
fn a_self_connect_on_a_port_nobody_listened_on_is_no_incident() {
    common::in_private_netns(|| {
        common::set_netns_sysctl("ip_local_port_range", "44600 44631");
        let mut scanner = Scanner::new(ScanOptions {
            netns: Some("own".into()),
            ..ScanOptions::default()
        });
        let mut tracker = ChangeTracker::new();
        // A listener on another port goes: not this one.
        let other = TcpListener::bind("127.0.0.1:44602").unwrap();
        tracker.observe(&scan(&mut scanner));
        drop(other);
        tracker.observe(&scan(&mut scanner));
        let held = common::self_connect("127.0.0.1:44600".parse().unwrap());
        let changes = tracker.observe(&scan(&mut scanner));
        assert!(
            changes
                .iter()
                .any(|c| matches!(c.kind, ChangeKind::SelfConnectSeen(_)))
        );
        assert!(
            !changes
                .iter()
                .any(|c| matches!(c.kind, ChangeKind::PortStolen(_))),
            "{changes:#?}"
        );
        drop(held);
    });
}
