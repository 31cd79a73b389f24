//! Helpers shared by the integration tests: the binary, real sockets on
//! loopback, and private network namespaces.
#![allow(dead_code)]

use std::net::{SocketAddr, TcpListener};
use std::process::{Command, Output};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

/// The binary under test, blind to the developer's own configuration file
/// and `SELFCONN_TUI_*` variables (tests give theirs explicitly).
pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_selfconn-tui"));
    c.env("XDG_CONFIG_HOME", "/nonexistent/selfconn-tui-tests");
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("SELFCONN_TUI_") {
            c.env_remove(name);
        }
    }
    c
}

pub fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("the binary runs")
}

pub fn json_of(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is one JSON object ({e}):\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Polls `cond` every few milliseconds until it holds or `limit` has
/// passed; returns whether it held. For waiting on something another
/// thread or process does, instead of sleeping and hoping.
pub fn wait_until(limit: std::time::Duration, mut cond: impl FnMut() -> bool) -> bool {
    let t0 = std::time::Instant::now();
    loop {
        if cond() {
            return true;
        }
        if t0.elapsed() > limit {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// The variable under which a skipped test is a failure. `.ci/run` sets
/// it, so CI cannot go green without the tests that need root.
pub const STRICT_VAR: &str = "SELFCONN_TESTS_STRICT";

/// Says that a test is skipped and why; under [`STRICT_VAR`] it fails
/// instead. Call it, then return.
pub fn skip(why: &str) {
    if std::env::var_os(STRICT_VAR).is_some_and(|v| !v.is_empty() && v != "0") {
        panic!("{STRICT_VAR} is set and this test would skip: {why}");
    }
    println!("skipped: {why}");
}

/// True when root; otherwise skips (see [`skip`]) with `why`.
pub fn root_or_skip(why: &str) -> bool {
    if is_root() {
        return true;
    }
    skip(why);
    false
}

/// The ephemeral range of the calling thread's namespace.
pub fn port_range() -> (u16, u16) {
    let text = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").unwrap();
    let mut it = text.split_whitespace().map(|p| p.parse::<u16>().unwrap());
    (it.next().unwrap(), it.next().unwrap())
}

/// A listener on `ip` at a port inside the range with the given parity
/// relative to the range's low end (true: the parity `connect()` uses).
/// Tries a bounded number of ports from a pseudo-random start.
pub fn listener_in_range(ip: &str, connect_parity: bool) -> TcpListener {
    let (low, high) = port_range();
    let span = u32::from(high - low) + 1;
    let seed = std::process::id() * 7919
        + std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
    for i in 0..2000u32 {
        let mut port = u32::from(low) + (seed.wrapping_add(i * 2)) % span;
        if ((port - u32::from(low)) % 2 == 0) != connect_parity {
            port = if port < u32::from(high) {
                port + 1
            } else {
                port - 1
            };
        }
        if let Ok(l) = TcpListener::bind(format!("{ip}:{port}")) {
            return l;
        }
    }
    panic!("no free port with the wanted parity in {low}-{high} after 2000 tries");
}

/// A socket connected to itself in one step: bind the source port to the
/// destination port, then connect (TCP simultaneous open).
/// A listener bound without SO_REUSEADDR (std's sets it, and a
/// self-connect made with it too would then let the bind through).
pub fn listen_plain(addr: SocketAddr) -> std::io::Result<Socket> {
    let s = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    s.bind(&addr.into())?;
    s.listen(8)?;
    Ok(s)
}

pub fn self_connect(addr: SocketAddr) -> Socket {
    let s = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP)).unwrap();
    s.set_reuse_address(true).unwrap();
    s.bind(&SockAddr::from(addr)).unwrap();
    s.connect(&SockAddr::from(addr)).unwrap();
    assert_eq!(
        s.local_addr().unwrap().as_socket(),
        s.peer_addr().unwrap().as_socket()
    );
    s
}

/// A free port on `ip` inside the range (learned by binding port 0, which
/// the kernel takes from the range, then releasing it).
pub fn free_port(ip: &str) -> u16 {
    TcpListener::bind(format!("{ip}:0"))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

thread_local! {
    /// Set on a thread that has verifiably left the host's namespace.
    static IN_PRIVATE_NETNS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` on a thread that has its own, new network namespace (with
/// loopback up), so that it may set the namespace's sysctls without
/// touching the host's. Child processes it spawns inherit the namespace.
/// Returns `None`, after saying so, when not root.
pub fn in_private_netns<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    if !root_or_skip("a private network namespace (unshare -n) needs root") {
        return None;
    }
    let host_ns = std::fs::read_link("/proc/thread-self/ns/net").unwrap();
    let t = std::thread::spawn(move || {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).expect("unshare(CLONE_NEWNET)");
        let ns = std::fs::read_link("/proc/thread-self/ns/net").unwrap();
        // Never write a sysctl unless this thread really left the host's namespace.
        assert_ne!(ns, host_ns, "still in the host's network namespace");
        IN_PRIVATE_NETNS.set(true);
        loopback_up();
        f()
    });
    Some(t.join().expect("the namespace thread finished"))
}

/// Brings `lo` up in the calling thread's network namespace, through
/// `ip link` (a child started from this thread inherits its namespace),
/// since the ioctl would need `unsafe`, which the package forbids.
pub fn loopback_up() {
    // One RTM_NEWLINK request over rtnetlink, rather than running `ip`:
    // a child forked now would hold, until its exec, a copy of every
    // descriptor of the test process, sockets other tests just closed
    // included, and those tests would see them still open.
    use socket2::{Domain, Protocol, Socket, Type};
    const IFF_UP: u32 = libc::IFF_UP as u32;
    let nl = Socket::new(
        Domain::from(libc::AF_NETLINK),
        Type::RAW,
        Some(Protocol::from(libc::NETLINK_ROUTE)),
    )
    .expect("an rtnetlink socket");
    // nlmsghdr (16 bytes) + ifinfomsg (16 bytes): lo is interface 1 in
    // every namespace.
    let mut msg = Vec::with_capacity(32);
    msg.extend_from_slice(&32u32.to_ne_bytes());
    msg.extend_from_slice(&libc::RTM_NEWLINK.to_ne_bytes());
    msg.extend_from_slice(&((libc::NLM_F_REQUEST | libc::NLM_F_ACK) as u16).to_ne_bytes());
    msg.extend_from_slice(&1u32.to_ne_bytes()); // sequence
    msg.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel fills it
    msg.extend_from_slice(&[libc::AF_UNSPEC as u8, 0]); // family, padding
    msg.extend_from_slice(&0u16.to_ne_bytes()); // type
    msg.extend_from_slice(&1i32.to_ne_bytes()); // index of lo
    msg.extend_from_slice(&IFF_UP.to_ne_bytes()); // flags
    msg.extend_from_slice(&IFF_UP.to_ne_bytes()); // change mask
    use std::io::{Read, Write};
    (&nl).write_all(&msg).expect("send RTM_NEWLINK");
    let mut reply = [0u8; 256];
    let n = (&nl)
        .read(&mut reply)
        .expect("the kernel's answer to RTM_NEWLINK");
    // An NLMSG_ERROR whose error is 0 is the acknowledgement.
    assert!(n >= 20, "short rtnetlink answer ({n} bytes)");
    let kind = u16::from_ne_bytes([reply[4], reply[5]]);
    let errno = i32::from_ne_bytes([reply[16], reply[17], reply[18], reply[19]]);
    assert_eq!(kind, libc::NLMSG_ERROR as u16, "rtnetlink answered {kind}");
    assert_eq!(errno, 0, "RTM_NEWLINK lo up: errno {}", -errno);
}

/// A free port outside the calling thread's ephemeral range: connecting to
/// it is refused, and the kernel never picks it as a source port.
pub fn free_port_outside_range() -> u16 {
    let (low, high) = port_range();
    (1025..65535u16)
        .rev()
        .filter(|&p| p < low || p > high)
        .find(|&p| TcpListener::bind(("127.0.0.1", p)).is_ok())
        .expect("a free port outside the ephemeral range")
}

/// Writes a sysctl of the calling thread's network namespace. Only for use
/// inside [`in_private_netns`].
pub fn set_netns_sysctl(name: &str, value: &str) {
    let path = format!("/proc/sys/net/ipv4/{name}");
    assert!(
        IN_PRIVATE_NETNS.get(),
        "refusing to write {path} outside a private namespace"
    );
    std::fs::write(&path, value).unwrap_or_else(|e| panic!("write {path}: {e}"));
}

/// Runs `selfconn-tui repro ARGS` in a private network namespace (through
/// `unshare -n`, loopback up) whose ephemeral range is `range` (`"LOW
/// HIGH"`: a narrow one makes the kernel reach the target within a few
/// hundred attempts, however loaded the machine). `None`, after saying
/// why, when not root.
pub fn repro_in_netns_with_range(test: &str, range: &str, args: &[&str]) -> Option<Output> {
    if !root_or_skip(&format!("{test}: needs root for unshare -n")) {
        return None;
    }
    Some(
        Command::new("unshare")
            .args([
                "-n",
                "sh",
                "-c",
                r#"ip link set lo up && echo "$SELFCONN_TEST_RANGE" > /proc/sys/net/ipv4/ip_local_port_range && exec "$0" "$@""#,
                env!("CARGO_BIN_EXE_selfconn-tui"),
                "repro",
            ])
            .args(args)
            .env("NO_COLOR", "1")
            .env("SELFCONN_TEST_RANGE", range)
            .stdin(std::process::Stdio::null())
            .output()
            .expect("run unshare"),
    )
}

/// `setpriv`'s arguments that run a command as `nobody` (uid and gid
/// 65534, no supplementary groups).
pub const AS_NOBODY: [&str; 3] = ["--reuid=65534", "--regid=65534", "--clear-groups"];

/// Runs the ignored test `name` of this test binary as `nobody` and
/// returns what it printed; fails unless it ran and passed. (Root only:
/// the caller has checked.)
pub fn run_ignored_test_as_nobody(name: &str) -> String {
    let out = Command::new("setpriv")
        .args(AS_NOBODY)
        .arg(std::env::current_exe().unwrap())
        .args(["--exact", name, "--ignored", "--nocapture"])
        .output()
        .expect("setpriv runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("1 passed"), "{stdout}");
    stdout
}

/// Connects to `target` up to `count` times within ten seconds; returns
/// how many were refused. A try that connects (to itself, by chance of the
/// port walk) is closed and counted out.
pub fn refused_connects(target: SocketAddr, count: u32) -> u32 {
    let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
    (0..count)
        .take_while(|_| std::time::Instant::now() < until)
        .filter(|_| {
            std::net::TcpStream::connect_timeout(&target, std::time::Duration::from_secs(1))
                .is_err_and(|e| e.kind() == std::io::ErrorKind::ConnectionRefused)
        })
        .count() as u32
}

/// Runs `cmd` with `input` on its standard input, and its output.
pub fn output_with_stdin(cmd: &mut Command, input: &str) -> Output {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("run {cmd:?}: {e}"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// Whether `sh -n` parses `text` (parsed, not run).
pub fn sh_parses(text: &str) -> bool {
    output_with_stdin(Command::new("sh").arg("-n"), text)
        .status
        .success()
}

/// `selfconn-tui repro ARGS` from the calling thread (its namespace),
/// without colour and with no input.
pub fn repro(args: &[&str]) -> Output {
    bin()
        .arg("repro")
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run selfconn-tui")
}
