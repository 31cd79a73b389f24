//! The reproduction engine on the real kernel, over real loopback.
//!
//! Loops that target a port inside the ephemeral range run in a private
//! network namespace (a thread that called `unshare(CLONE_NEWNET)`: the
//! sockets it creates live there), so they neither take the host's source
//! ports nor leave sockets behind. That needs root; without it those tests
//! say they were skipped. Tests on the host's loopback only use `bind`
//! mode, a listener of their own, or a port outside the range.
//!
//! Every loop is bounded in attempts and time.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

mod common;

use common::{free_port_outside_range, in_private_netns};
use selfconn_tui::core::socket::{Family, TcpState};
use selfconn_tui::repro::{
    Config, Counters, ECHO_MESSAGE, End, Mode, ReproError, ReproHandle, Stage, Target, TargetError,
    run,
};
use selfconn_tui::sys::procnet::{NetFiles, read_tcp_table};

fn target(port: u16) -> Target {
    Target::resolve("127.0.0.1", port).expect("127.0.0.1 is local")
}

fn config(port: u16, mode: Mode, max_time: Duration) -> Config {
    Config {
        max_time,
        ..Config::new(target(port), mode)
    }
}

fn run_once(config: &Config) -> selfconn_tui::repro::Outcome {
    run(config, &Counters::new(), &AtomicBool::new(false))
}

fn assert_self_connected(outcome: &selfconn_tui::repro::Outcome, port: u16) {
    let want = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    match &outcome.end {
        End::SelfConnected { local, peer, echo } => {
            assert_eq!((*local, *peer), (want, want));
            assert!(echo.verified, "echo: {echo:?}");
            assert_eq!(echo.received, ECHO_MESSAGE);
        }
        other => panic!(
            "expected a self-connect, got {other:?} after {:?}",
            outcome.stats
        ),
    }
    let conn = outcome.connection().expect("the outcome holds the socket");
    assert_eq!(conn.local(), want);
    assert_eq!(conn.socket().peer_addr().unwrap().as_socket(), Some(want));
    assert_eq!(outcome.stats.last_source_port, Some(port));
    assert!(outcome.stats.stage == Stage::EchoProven);
}

/// Waits (up to a second) for the row `port -> port` to be in `state`.
fn wait_for_self_row(net_dir: &Path, port: u16, state: TcpState) -> Option<TcpState> {
    let t0 = Instant::now();
    loop {
        let now = self_row_state(net_dir, port);
        if now == Some(state) || t0.elapsed() > Duration::from_secs(1) {
            return now;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The state of the row `port -> port` in a TCP table, if any.
fn self_row_state(net_dir: &Path, port: u16) -> Option<TcpState> {
    let files = NetFiles {
        net_dir: net_dir.to_path_buf(),
        sysctl_dir: PathBuf::from("/proc/sys/net/ipv4"),
    };
    read_tcp_table(&files, Family::Ipv4, &mut Vec::new())
        .unwrap()
        .into_iter()
        .find(|e| e.is_self_connected() && e.local.port() == port)
        .map(|e| e.state)
}

#[test]
fn bind_mode_connects_to_itself_in_one_attempt_and_holds_the_socket() {
    let port = common::free_port("127.0.0.1");
    let mut outcome = run_once(&config(port, Mode::Bind, Duration::from_secs(5)));
    assert_self_connected(&outcome, port);
    assert_eq!(outcome.stats.attempts, 1);
    assert_eq!(outcome.stats.refused, 0);
    // The kernel's table shows it as the scanner will: established, local == remote.
    let proc_net = Path::new("/proc/net");
    assert_eq!(self_row_state(proc_net, port), Some(TcpState::Established));
    // The owner takes the socket; it stays open until closed.
    let conn = outcome.take_connection().unwrap();
    drop(outcome);
    assert_eq!(self_row_state(proc_net, port), Some(TcpState::Established));
    conn.close();
    assert_eq!(
        wait_for_self_row(proc_net, port, TcpState::TimeWait),
        Some(TcpState::TimeWait)
    );
}

#[test]
fn bind_mode_works_outside_the_ephemeral_range() {
    let port = free_port_outside_range();
    let outcome = run_once(&config(port, Mode::Bind, Duration::from_secs(5)));
    assert_self_connected(&outcome, port);
    assert_eq!(outcome.stats.attempts, 1);
}

#[test]
fn fresh_and_reuse_connect_to_themselves_on_an_even_port_in_the_range() {
    in_private_netns(|| {
        for (mode, port) in [(Mode::Fresh, 44600), (Mode::Reuse, 44602)] {
            let t0 = Instant::now();
            let outcome = run_once(&config(port, mode, Duration::from_secs(20)));
            assert_self_connected(&outcome, port);
            let s = outcome.stats;
            assert!(s.attempts > 1, "{mode}: {s:?}");
            assert_eq!(
                s.refused,
                s.attempts - 1,
                "{mode}: every other attempt was refused"
            );
            // connect() picks the parity of the range's low end (32768): even.
            assert_eq!((s.even_source_ports, s.odd_source_ports), (s.attempts, 0));
            println!(
                "{mode}: self-connected after {} attempts in {:?} ({:.0}/s)",
                s.attempts,
                t0.elapsed(),
                s.attempts_per_sec()
            );
        }
    });
}

#[test]
fn bind_first_takes_odd_ports_and_reaches_an_odd_target() {
    in_private_netns(|| {
        let outcome = run_once(&config(44601, Mode::BindFirst, Duration::from_secs(20)));
        assert_self_connected(&outcome, 44601);
        let s = outcome.stats;
        assert_eq!((s.even_source_ports, s.odd_source_ports), (0, s.attempts));
    });
}

#[test]
fn guarded_never_ends_connected_to_itself() {
    in_private_netns(|| {
        // Until the guard has caught one (or 15 s), then stop.
        let handle =
            ReproHandle::spawn(config(44600, Mode::Guarded, Duration::from_secs(15))).unwrap();
        while !handle.is_finished() && handle.snapshot().caught == 0 {
            std::thread::sleep(Duration::from_millis(5));
        }
        // One more moment: the guard keeps going after a catch.
        std::thread::sleep(Duration::from_millis(50));
        let outcome = handle.stop_and_join();
        assert!(!outcome.is_self_connected());
        assert!(outcome.connection().is_none());
        assert!(
            matches!(outcome.end, End::Stopped | End::TimeLimit),
            "{:?}",
            outcome.end
        );
        let s = outcome.stats;
        assert!(s.caught >= 1, "the guard caught nothing: {s:?}");
        assert_eq!(s.refused + s.caught, s.attempts, "{s:?}");
        println!("guarded: caught {} in {} attempts", s.caught, s.attempts);
    });
}

#[test]
fn an_odd_port_is_not_reached_by_connect() {
    in_private_netns(|| {
        let outcome = run_once(&Config {
            max_attempts: 20_000,
            ..config(44601, Mode::Reuse, Duration::from_secs(2))
        });
        assert!(!outcome.is_self_connected(), "{:?}", outcome.end);
        assert_eq!(outcome.stats.odd_source_ports, 0);
    });
}

#[test]
fn ipv6_loopback_works_too() {
    in_private_netns(|| {
        let t = Target::resolve("::1", 44604).unwrap();
        let outcome = run_once(&Config {
            max_time: Duration::from_secs(20),
            ..Config::new(t, Mode::Reuse)
        });
        assert!(outcome.is_self_connected(), "{:?}", outcome.end);
        let conn = outcome.connection().unwrap();
        assert_eq!(conn.local(), conn.peer());
        assert_eq!(conn.local().to_string(), "[::1]:44604");
    });
}

#[test]
fn non_local_targets_and_bad_ports_are_refused_before_anything_is_sent() {
    let locals = selfconn_tui::repro::target::local_addresses().unwrap();
    for host in ["8.8.8.8", "203.0.113.7", "198.51.100.1", "2001:db8::1"] {
        if locals.iter().any(|ip| ip.to_string() == host) {
            continue;
        }
        let err = Target::resolve(host, 44600).unwrap_err();
        assert!(matches!(err, TargetError::NotLocal { .. }), "{host}: {err}");
    }
    assert!(matches!(
        Target::resolve("127.0.0.1", 0),
        Err(TargetError::BadPort(_))
    ));
    for bad in ["0", "70000", "http", ""] {
        assert!(selfconn_tui::repro::parse_port(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn a_target_reached_from_another_address_fails_before_the_first_attempt() {
    // 127.0.0.2 is reached from 127.0.0.1: an unbound client cannot hit itself.
    let t = Target::resolve("127.0.0.2", free_port_outside_range()).unwrap();
    let outcome = run_once(&Config::new(t, Mode::Fresh));
    assert!(matches!(
        outcome.end,
        End::Failed(ReproError::SourceAddress { .. })
    ));
    assert_eq!(outcome.stats.attempts, 0);
    assert_eq!(outcome.stats.stage, Stage::Failed);
}

#[test]
fn bad_limits_fail_before_the_first_attempt() {
    let port = free_port_outside_range();
    for c in [
        Config {
            rate: Some(0.0),
            ..Config::new(target(port), Mode::Fresh)
        },
        Config {
            max_attempts: 0,
            ..Config::new(target(port), Mode::Fresh)
        },
        Config {
            max_time: Duration::ZERO,
            ..Config::new(target(port), Mode::Fresh)
        },
    ] {
        let outcome = run_once(&c);
        assert!(matches!(outcome.end, End::Failed(ReproError::Config(_))));
        assert_eq!(outcome.stats.attempts, 0);
    }
}

#[test]
fn the_rate_limit_holds() {
    // A port outside the range: every attempt is refused, harmlessly.
    let c = Config {
        rate: Some(200.0),
        ..config(
            free_port_outside_range(),
            Mode::Fresh,
            Duration::from_millis(500),
        )
    };
    let outcome = run_once(&c);
    assert_eq!(outcome.end, End::TimeLimit);
    let n = outcome.stats.attempts;
    assert!((60..=140).contains(&n), "{n} attempts at 200/s in 0.5 s");
    assert_eq!(outcome.stats.refused, n);
}

#[test]
fn the_attempt_limit_holds() {
    let outcome = run_once(&Config {
        max_attempts: 50,
        ..config(
            free_port_outside_range(),
            Mode::Reuse,
            Duration::from_secs(10),
        )
    });
    assert_eq!(outcome.end, End::AttemptLimit);
    assert_eq!(outcome.stats.attempts, 50);
    assert_eq!(outcome.stats.stage, Stage::LimitReached);
}

#[test]
fn a_handle_stops_mid_loop_and_counts_live() {
    let c = Config {
        rate: Some(1000.0),
        ..config(
            free_port_outside_range(),
            Mode::Fresh,
            Duration::from_secs(20),
        )
    };
    let handle = ReproHandle::spawn(c).unwrap();
    assert!(
        common::wait_until(Duration::from_secs(10), || {
            let s = handle.snapshot();
            s.attempts > 0 && s.last_source_port.is_some()
        }),
        "no attempt within 10 s"
    );
    let live = handle.snapshot();
    assert!(!handle.is_finished());
    assert_eq!(live.stage, Stage::Trying);
    assert!(live.attempts > 0, "{live:?}");
    assert!(live.last_source_port.is_some());
    let t0 = Instant::now();
    let outcome = handle.stop_and_join();
    assert!(
        t0.elapsed() < Duration::from_secs(2),
        "stopping took {:?}",
        t0.elapsed()
    );
    assert_eq!(outcome.end, End::Stopped);
    assert_eq!(outcome.stats.stage, Stage::Stopped);
    assert!(outcome.stats.attempts >= live.attempts);
    assert!(outcome.stats.elapsed < Duration::from_secs(1));
}

#[test]
fn dropping_a_handle_stops_its_loop() {
    let c = config(
        free_port_outside_range(),
        Mode::Reuse,
        Duration::from_secs(20),
    );
    let handle = ReproHandle::spawn(Config {
        rate: Some(500.0),
        ..c
    })
    .unwrap();
    let counters = handle.counters().clone();
    assert!(common::wait_until(Duration::from_secs(10), || {
        counters.snapshot().attempts > 0
    }));
    let t0 = Instant::now();
    drop(handle);
    // Promptly, not at the 20 s limit (generous: the machine may be loaded).
    assert!(t0.elapsed() < Duration::from_secs(2));
    assert_eq!(counters.stage(), Stage::Stopped);
    let after = counters.snapshot().attempts;
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(
        counters.snapshot().attempts,
        after,
        "the loop outlived its handle"
    );
}

#[test]
fn a_listener_answers_instead_of_a_self_connect() {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    let outcome = run_once(&config(port, Mode::Fresh, Duration::from_secs(5)));
    match outcome.end {
        End::ConnectedToOther { local, peer } => {
            assert_eq!(peer, SocketAddr::from((Ipv4Addr::LOCALHOST, port)));
            assert_ne!(local, peer);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(outcome.stats.attempts, 1);
    assert_eq!(outcome.stats.stage, Stage::ConnectedToOther);
    assert!(outcome.connection().is_none());
    // bind mode cannot even take the port.
    let outcome = run_once(&config(port, Mode::Bind, Duration::from_secs(5)));
    assert!(
        matches!(outcome.end, End::PortInUse { .. }),
        "{:?}",
        outcome.end
    );
    drop(listener);
}

#[test]
fn dropped_syns_do_not_hold_up_the_time_limit_or_a_stop() {
    in_private_netns(|| {
        use socket2::{Domain, SockAddr, Socket, Type};
        // A listener whose accept queue is full drops further SYNs: each
        // connect() blocks until the engine's connect timeout.
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, 44700));
        let listener = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        listener.bind(&SockAddr::from(addr)).unwrap();
        listener.listen(0).unwrap();
        let fillers: Vec<Socket> = (0..3)
            .map(|_| {
                let s = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
                s.set_nonblocking(true).unwrap();
                let _ = s.connect(&SockAddr::from(addr));
                s
            })
            .collect();
        std::thread::sleep(Duration::from_millis(50));

        let limit = Duration::from_millis(600);
        let t0 = Instant::now();
        let outcome = run_once(&config(44700, Mode::Fresh, limit));
        let took = t0.elapsed();
        assert_eq!(outcome.end, End::TimeLimit, "{:?}", outcome.stats);
        // Generous: a loaded 2-core machine may be slow to wake the loop.
        assert!(took < limit + Duration::from_secs(1), "{took:?}");
        let s = outcome.stats;
        assert!(s.attempts >= 2, "{s:?}");
        assert_eq!(
            s.errors.nonzero().collect::<Vec<_>>(),
            vec![("EINPROGRESS", s.attempts)]
        );

        let handle =
            ReproHandle::spawn(config(44700, Mode::Reuse, Duration::from_secs(20))).unwrap();
        assert!(common::wait_until(Duration::from_secs(10), || {
            handle.snapshot().attempts > 0
        }));
        let t0 = Instant::now();
        let outcome = handle.stop_and_join();
        assert_eq!(outcome.end, End::Stopped);
        let connect_timeout = Config::DEFAULT_CONNECT_TIMEOUT;
        assert!(
            t0.elapsed() < connect_timeout + Duration::from_secs(1),
            "{:?}",
            t0.elapsed()
        );
        drop(fillers);
    });
}

/// `SO_NETNS_COOKIE` (Linux 5.14+): identifies a socket's network namespace.
const SO_NETNS_COOKIE: libc::c_int = 71;

// Read through nix's getsockopt, so that no `unsafe` is needed here.
use nix::{getsockopt_impl, sockopt_impl};
sockopt_impl!(NetnsCookie, GetOnly, libc::SOL_SOCKET, SO_NETNS_COOKIE, u64);

fn netns_cookie(socket: &impl std::os::fd::AsFd) -> Option<u64> {
    nix::sys::socket::getsockopt(socket, NetnsCookie).ok()
}

/// How many of this process's open sockets live in the namespace `cookie`.
/// Each one is looked at through a duplicate taken with `pidfd_getfd` (a
/// safe way to hold a descriptor known only by its number).
fn open_sockets_in(cookie: u64) -> usize {
    use rustix::process::{PidfdFlags, PidfdGetfdFlags, getpid, pidfd_getfd, pidfd_open};
    let me = pidfd_open(getpid(), PidfdFlags::empty()).expect("pidfd_open (Linux 5.3+)");
    // The numbers first: the duplicates must not be listed themselves.
    let sockets: Vec<i32> = std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| {
            let e = e.ok()?;
            let link = std::fs::read_link(e.path()).ok()?;
            link.to_str()?.starts_with("socket:").then_some(())?;
            e.file_name().to_str()?.parse().ok()
        })
        .collect();
    sockets
        .into_iter()
        .filter_map(|fd| pidfd_getfd(&me, fd, PidfdGetfdFlags::empty()).ok())
        .filter(|dup| netns_cookie(dup) == Some(cookie))
        .count()
}

#[test]
fn every_socket_is_closed_except_the_self_connected_one() {
    in_private_netns(|| {
        let probe = std::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let Some(cookie) = netns_cookie(&probe) else {
            common::skip("sockets_closed: no SO_NETNS_COOKIE (Linux < 5.14)");
            return;
        };
        assert_eq!(open_sockets_in(cookie), 1, "only the probe");
        // Ports of the parity the mode does not pick: no self-connect.
        for (mode, port) in [
            (Mode::Fresh, 44611),
            (Mode::Reuse, 44611),
            (Mode::BindFirst, 44610),
            (Mode::Guarded, 44611),
        ] {
            let outcome = run_once(&Config {
                max_attempts: 2000,
                ..config(port, mode, Duration::from_secs(5))
            });
            assert!(!outcome.is_self_connected(), "{mode}");
            assert_eq!(open_sockets_in(cookie), 1, "{mode} left sockets open");
        }
        let outcome = run_once(&config(44612, Mode::Reuse, Duration::from_secs(20)));
        assert!(outcome.is_self_connected());
        assert_eq!(
            open_sockets_in(cookie),
            2,
            "the probe and the self-connected socket"
        );
        drop(outcome);
        assert_eq!(open_sockets_in(cookie), 1);
    });
}
