//! Live catch against the real kernel (root): self-connects caught through
//! tracepoints with their process and namespace, retry storms, and the
//! tracing instance removed on every path.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use selfconn_tui::core::live::{LiveEvent, Owner, StateChange, StormChange, StormConfig};
use selfconn_tui::core::ports::PortRange;
use selfconn_tui::core::socket::Family;
use selfconn_tui::sys::netns::ns_link_inode;
use selfconn_tui::sys::tracefs::{Caught, LiveCatch, LiveConfig, Unavailable, instance};

/// How long an event may take to come through.
const DEADLINE: Duration = Duration::from_secs(5);

fn start(config: LiveConfig) -> Option<(LiveCatch, Receiver<Caught>)> {
    if !common::root_or_skip("live catch reads kernel tracepoints, which needs root") {
        return None;
    }
    Some(LiveCatch::start(config).expect("live catch starts as root"))
}

/// The first event `pick` accepts within `within`; others are skipped
/// (tests running in parallel see each other's events).
fn wait_for<T>(
    rx: &Receiver<Caught>,
    within: Duration,
    mut pick: impl FnMut(&LiveEvent) -> Option<T>,
) -> Option<T> {
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let caught = rx.recv_timeout(left).ok()?;
        if let Some(t) = pick(&caught.event) {
            return Some(t);
        }
    }
}

/// The self-connect to `addr` made by thread `tid`.
fn self_connect_of(
    rx: &Receiver<Caught>,
    addr: SocketAddr,
    tid: i32,
) -> (StateChange, Option<Owner>) {
    wait_for(rx, DEADLINE, |e| match e {
        LiveEvent::SelfConnect { change, owner }
            if change.local == addr && change.task.tid == tid =>
        {
            Some((change.clone(), owner.clone()))
        }
        _ => None,
    })
    .unwrap_or_else(|| panic!("no self-connect to {addr} by {tid} within {DEADLINE:?}"))
}

fn tid() -> i32 {
    nix::unistd::gettid().as_raw()
}

fn thread_comm() -> String {
    std::fs::read_to_string("/proc/thread-self/comm")
        .unwrap()
        .trim_end()
        .to_string()
}

/// A self-connect to `addr`, closed with a reset (SO_LINGER 0) at once:
/// no TIME_WAIT is left for a poller to find.
fn self_connect_and_reset(addr: SocketAddr) {
    let s = common::self_connect(addr);
    s.set_linger(Some(Duration::ZERO)).unwrap();
    drop(s);
}

#[test]
fn a_self_connect_closed_with_a_reset_is_caught_with_its_process() {
    let Some((live, rx)) = start(LiveConfig::default()) else {
        return;
    };
    let addr: SocketAddr = format!("127.0.0.1:{}", common::free_port("127.0.0.1"))
        .parse()
        .unwrap();
    let made = Instant::now();
    self_connect_and_reset(addr);
    assert!(
        made.elapsed() < Duration::from_millis(50),
        "made and closed at once"
    );
    let (change, owner) = self_connect_of(&rx, addr, tid());
    assert_eq!(change.family, Family::Ipv4);
    assert_eq!(change.remote, addr);
    // The kernel prints `<...>` (None) when the task's name has left its
    // small cache, which happens when many tests trace at once.
    let comm = change.task.comm.as_deref();
    assert!(
        comm.is_none() || comm == Some(thread_comm().as_str()),
        "{comm:?}"
    );
    let owner = owner.expect("the owner was read while it lived");
    assert_eq!(owner.pid, std::process::id() as i32);
    assert_eq!(owner.tid, tid());
    let own_ns = ns_link_inode(Path::new("/proc/thread-self/ns/net")).unwrap();
    assert_eq!(owner.netns, Some(own_ns));
    assert!(live.stats().self_connects >= 1);
    assert_eq!(live.stats().unparsed, 0);
}

#[test]
fn ipv6_and_ipv4_mapped_self_connects_are_caught() {
    let Some((_live, rx)) = start(LiveConfig::default()) else {
        return;
    };
    let v6: SocketAddr = format!("[::1]:{}", common::free_port("[::1]"))
        .parse()
        .unwrap();
    self_connect_and_reset(v6);
    let (change, owner) = self_connect_of(&rx, v6, tid());
    assert_eq!(change.family, Family::Ipv6);
    assert_eq!(owner.map(|o| o.pid), Some(std::process::id() as i32));

    let port = common::free_port("127.0.0.1");
    let mapped: SocketAddr = format!("[::ffff:127.0.0.1]:{port}").parse().unwrap();
    self_connect_and_reset(mapped);
    let (change, _) = self_connect_of(&rx, mapped, tid());
    assert_eq!(change.family, Family::Ipv6);
    assert_eq!(change.remote, mapped);
}

#[test]
fn a_self_connect_in_another_namespace_carries_that_namespace() {
    let Some((_live, rx)) = start(LiveConfig::default()) else {
        return;
    };
    let host_ns = ns_link_inode(Path::new("/proc/thread-self/ns/net")).unwrap();
    let seen = common::in_private_netns(move || {
        let ns = ns_link_inode(Path::new("/proc/thread-self/ns/net")).unwrap();
        // The same port may be in use on the host: this namespace is empty.
        let addr: SocketAddr = "127.0.0.1:45001".parse().unwrap();
        self_connect_and_reset(addr);
        // Wait here: the owner is read while this thread still lives.
        let (_, owner) = self_connect_of(&rx, addr, tid());
        (ns, owner)
    });
    let Some((ns, owner)) = seen else { return };
    assert_ne!(ns, host_ns);
    let owner = owner.expect("owner read while the thread lived");
    assert_eq!(owner.netns, Some(ns));
    assert_eq!(owner.pid, std::process::id() as i32);
}

#[test]
fn a_retry_storm_is_raised_with_pid_port_and_parity_and_not_below_the_threshold() {
    let range = PortRange {
        low: 40000,
        high: 49999,
    };
    let config = LiveConfig {
        reset_ports: range,
        storm: StormConfig {
            threshold: 100,
            window: Duration::from_secs(2),
            ..StormConfig::default()
        },
        ..LiveConfig::default()
    };
    let Some((live, rx)) = start(config) else {
        return;
    };
    let result = common::in_private_netns(move || {
        common::set_netns_sysctl("ip_local_port_range", "40000 49999");
        let ns = ns_link_inode(Path::new("/proc/thread-self/ns/net")).unwrap();
        let storm: SocketAddr = "127.0.0.1:45000".parse().unwrap();
        let quiet: SocketAddr = "127.0.0.1:45002".parse().unwrap();
        let refused = common::refused_connects(storm, 150);
        assert!(refused >= 120, "only {refused} of 150 refused");
        assert!(common::refused_connects(quiet, 50) >= 40);
        // A marker after both loops: once it is read, so are their resets.
        let marker: SocketAddr = "127.0.0.1:45003".parse().unwrap();
        self_connect_and_reset(marker);
        let mut storms = Vec::new();
        let marker_seen = wait_for(&rx, DEADLINE, |e| match e {
            LiveEvent::Storm { change, owner } => {
                storms.push((change.clone(), owner.clone()));
                None
            }
            LiveEvent::SelfConnect { change, .. } if change.local == marker => Some(()),
            _ => None,
        });
        assert!(
            marker_seen.is_some(),
            "the marker self-connect came through"
        );
        let ended = wait_for(&rx, Duration::from_secs(8), |e| match e {
            LiveEvent::Storm {
                change: c @ StormChange::Ended(s),
                ..
            } if s.key.target == storm => Some(c.clone()),
            _ => None,
        });
        (ns, tid(), storms, ended)
    });
    let Some((ns, my_tid, storms, ended)) = result else {
        return;
    };
    let me = std::process::id() as i32;
    let ours: Vec<_> = storms
        .iter()
        .filter(|(c, _)| c.stats().key.pid == me)
        .collect();
    let [(StormChange::Started(s), owner)] = ours.as_slice() else {
        panic!("one storm started by this process: {ours:?}");
    };
    assert_eq!(s.key.target, "127.0.0.1:45000".parse().unwrap());
    assert!(s.refusals >= 100 && s.total >= 100, "{s:?}");
    assert!(s.connect_parity, "45000 has the parity of 40000");
    assert_eq!(s.estimate.map(|e| e.expected), Some(5000));
    assert!(s.rate_per_sec > 50.0, "{s:?}");
    assert!(range.contains(s.last_source_port), "{s:?}");
    let owner = owner.as_ref().expect("storm owner read while it lived");
    assert_eq!((owner.pid, owner.tid, owner.netns), (me, my_tid, Some(ns)));
    let Some(StormChange::Ended(end)) = ended else {
        panic!("the storm ended once quiet")
    };
    assert_eq!(end.refusals, 0);
    assert!(end.total >= 100);
    assert!(live.stats().resets >= 150);
}

fn instance_exists(dir: &Path) -> bool {
    dir.exists()
}

#[test]
fn no_instance_is_left_after_drop_stop_cleanup_or_panic() {
    let Some((live, _rx)) = start(LiveConfig::default()) else {
        return;
    };
    let dir = live.instance_dir().to_path_buf();
    let name = dir.file_name().unwrap().to_string_lossy().into_owned();
    assert_eq!(instance::owner_pid(&name), Some(std::process::id()));
    assert!(instance_exists(&dir));
    assert!(dir.join("trace_pipe").exists());
    drop(live);
    assert!(!instance_exists(&dir), "{} left after drop", dir.display());

    let (live, _rx) = LiveCatch::start(LiveConfig::default()).unwrap();
    let dir = live.instance_dir().to_path_buf();
    live.stop().expect("stop removes the instance");
    assert!(!instance_exists(&dir));

    // A signal handler's path: a handle, while the session still runs.
    let (live, _rx) = LiveCatch::start(LiveConfig::default()).unwrap();
    let dir = live.instance_dir().to_path_buf();
    let handle = live.cleanup_handle();
    handle.cleanup().expect("the handle removes the instance");
    assert!(!instance_exists(&dir));
    assert!(!live.is_running(), "the reader stopped");
    drop(live);

    // A panic on the thread that holds it.
    let (tx, rx) = std::sync::mpsc::channel::<PathBuf>();
    let panicked = std::thread::spawn(move || {
        let (live, _rx) = LiveCatch::start(LiveConfig::default()).unwrap();
        tx.send(live.instance_dir().to_path_buf()).unwrap();
        panic!("on purpose, holding a live catch");
    })
    .join();
    assert!(panicked.is_err());
    let dir = rx.recv().unwrap();
    assert!(
        !instance_exists(&dir),
        "{} left after a panic",
        dir.display()
    );
}

/// Removes a directory we made for a test, even when the test fails.
struct RemoveDir(PathBuf);

impl Drop for RemoveDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.0);
    }
}

#[test]
fn a_stale_instance_of_a_dead_run_is_removed_and_live_ones_are_kept() {
    if !common::root_or_skip("tracing instances need root") {
        return;
    }
    // Mounts tracefs if needed, then finds where.
    let (live, _rx) = LiveCatch::start(LiveConfig::default()).unwrap();
    let instances = live.tracefs().join("instances");
    drop(live);
    let mut dead = std::process::Command::new("true").spawn().unwrap();
    let dead_pid = dead.id();
    dead.wait().unwrap();
    let mut alive = std::process::Command::new("sleep")
        .arg("30")
        .spawn()
        .unwrap();
    let stale = RemoveDir(instances.join(instance::instance_name(dead_pid, 0)));
    let kept = RemoveDir(instances.join(instance::instance_name(alive.id(), 2)));
    let foreign = RemoveDir(instances.join(format!("other-tool-{dead_pid}")));
    for d in [&stale, &kept, &foreign] {
        std::fs::create_dir(&d.0).unwrap();
    }
    let (live, _rx) = LiveCatch::start(LiveConfig::default()).unwrap();
    let gone = !stale.0.exists();
    let kept_ok = kept.0.exists();
    let foreign_ok = foreign.0.exists();
    drop(live);
    let _ = alive.kill();
    let _ = alive.wait();
    assert!(gone, "the dead run's instance was removed");
    assert!(kept_ok, "a live process's instance is kept");
    assert!(foreign_ok, "another tool's instance is never touched");
}

#[test]
fn a_root_that_is_not_tracefs_says_why() {
    if !common::root_or_skip("the check after the root check needs root") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let config = LiveConfig {
        tracefs: Some(dir.path().to_path_buf()),
        ..LiveConfig::default()
    };
    let err = LiveCatch::start(config)
        .err()
        .expect("a temp dir is no tracefs");
    assert!(matches!(err, Unavailable::Tracefs(_)), "{err:?}");
    assert!(
        err.to_string().starts_with("tracefs unavailable: "),
        "{err}"
    );
    assert!(err.to_string().contains("is not a tracefs mount"), "{err}");
    assert_eq!(Unavailable::NotRoot.to_string(), "not root");
    assert_eq!(
        Unavailable::EventMissing("tcp:tcp_receive_reset").to_string(),
        "event tcp:tcp_receive_reset missing on this kernel"
    );
}

#[test]
fn an_event_wakes_the_reader_at_once_not_at_the_poll_timeout() {
    let slow_poll = LiveConfig {
        poll_interval: Duration::from_secs(2),
        ..LiveConfig::default()
    };
    let Some((_live, rx)) = start(slow_poll) else {
        return;
    };
    let addr: SocketAddr = format!("127.0.0.1:{}", common::free_port("127.0.0.1"))
        .parse()
        .unwrap();
    let made = Instant::now();
    self_connect_and_reset(addr);
    self_connect_of(&rx, addr, tid());
    let took = made.elapsed();
    assert!(
        took < Duration::from_millis(500),
        "took {took:?} with a 2 s poll timeout"
    );
}

/// Run by the test below as an unprivileged user.
#[test]
#[ignore = "run as nobody by not_root_is_a_stated_reason"]
fn not_root_inner() {
    assert!(!common::is_root(), "this half runs without root");
    let err = LiveCatch::start(LiveConfig::default())
        .err()
        .expect("refused without root");
    assert_eq!(err, Unavailable::NotRoot);
    println!("live catch: off ({err})");
}

#[test]
fn not_root_is_a_stated_reason() {
    if !common::root_or_skip("dropping to another user needs root") {
        return;
    }
    let stdout = common::run_ignored_test_as_nobody("not_root_inner");
    assert!(stdout.contains("live catch: off (not root)"), "{stdout}");
}

/// Runs `f` on a thread with its own mount namespace (root), so that
/// tracefs can be unmounted or hidden there without touching the host.
fn in_private_mountns<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    use nix::mount::{MsFlags, mount};
    if !common::root_or_skip("a private mount namespace needs root") {
        return None;
    }
    let host_ns = std::fs::read_link("/proc/thread-self/ns/mnt").unwrap();
    let t = std::thread::spawn(move || {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS).expect("unshare(CLONE_NEWNS)");
        assert_ne!(
            std::fs::read_link("/proc/thread-self/ns/mnt").unwrap(),
            host_ns
        );
        // Nothing done here may propagate back to the host's mounts.
        mount(
            None::<&str>,
            "/",
            None::<&str>,
            MsFlags::MS_REC | MsFlags::MS_PRIVATE,
            None::<&str>,
        )
        .expect("make / private");
        f()
    });
    Some(t.join().expect("the mount namespace thread finished"))
}

#[test]
fn tracefs_is_mounted_when_missing() {
    let result = in_private_mountns(|| {
        let _ = nix::mount::umount2("/sys/kernel/tracing", nix::mount::MntFlags::MNT_DETACH);
        assert!(!selfconn_tui::sys::tracefs::mount::is_tracefs(Path::new(
            "/sys/kernel/tracing"
        )));
        let (live, rx) = LiveCatch::start(LiveConfig::default()).expect("starts after mounting");
        let mounted = live.mounted_tracefs();
        let root = live.tracefs().to_path_buf();
        // It works there too.
        let addr: SocketAddr = format!("127.0.0.1:{}", common::free_port("127.0.0.1"))
            .parse()
            .unwrap();
        self_connect_and_reset(addr);
        self_connect_of(&rx, addr, tid());
        (mounted, root)
    });
    let Some((mounted, root)) = result else {
        return;
    };
    assert!(mounted, "this start mounted tracefs");
    assert_eq!(root, Path::new("/sys/kernel/tracing"));
}

#[test]
fn no_tracefs_mount_point_is_a_stated_reason() {
    let result = in_private_mountns(|| {
        // An empty /sys/kernel: no tracefs, nowhere to mount one.
        nix::mount::mount(
            Some("none"),
            "/sys/kernel",
            Some("tmpfs"),
            nix::mount::MsFlags::empty(),
            None::<&str>,
        )
        .expect("an empty tmpfs over /sys/kernel");
        LiveCatch::start(LiveConfig::default()).err()
    });
    let Some(err) = result else { return };
    let err = err.expect("no tracefs, no live catch");
    assert!(matches!(err, Unavailable::Tracefs(_)), "{err:?}");
    assert_eq!(
        err.to_string(),
        "tracefs unavailable: not mounted, and /sys/kernel/tracing does not exist"
    );
}
