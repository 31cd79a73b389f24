//! Every network namespace on the host, end to end: real namespaces made
//! with `ip netns add`, each with its own port range and reserved ports
//! (set inside it, never on the host), sockets inside, and
//! `selfconn-tui scan` run from the host. Needs root; skipped otherwise.

mod common;

use std::fs::File;
use std::net::TcpListener;
use std::os::fd::AsFd;
use std::os::unix::fs::MetadataExt;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use common::*;
use selfconn_tui::sys::scanner::{OwnerScope, ScanOptions, Scanner};
use serde_json::Value;

/// A network namespace made for one test; deleted on drop, even when the
/// test fails, after its helper processes are killed.
struct TestNetns {
    name: String,
    helpers: Vec<Child>,
}

static NEXT: AtomicU32 = AtomicU32::new(0);

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("ip runs");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl TestNetns {
    /// `None`, after saying why, when the test cannot make namespaces.
    fn new(tag: &str) -> Option<TestNetns> {
        if !common::root_or_skip("creating network namespaces (ip netns add) needs root") {
            return None;
        }
        if Command::new("ip").arg("-V").output().is_err() {
            common::skip("the ip command (iproute2) is not installed");
            return None;
        }
        let name = format!(
            "selfconn-test-{}-{}-{tag}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        ip(&["netns", "add", &name]);
        let ns = TestNetns {
            name,
            helpers: Vec::new(),
        };
        ip(&["-n", &ns.name, "link", "set", "lo", "up"]);
        Some(ns)
    }

    /// The namespace's id: the inode its bind mount refers to.
    fn id(&self) -> u64 {
        std::fs::metadata(format!("/run/netns/{}", self.name))
            .unwrap()
            .ino()
    }

    /// Sets one of the namespace's own sysctls (`ip netns exec ... sysctl`).
    fn sysctl(&self, key: &str, value: &str) {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.name, "sysctl", "-w"])
            .arg(format!("{key}={value}"))
            .output()
            .expect("ip netns exec sysctl runs");
        assert!(
            out.status.success(),
            "sysctl {key} in {}: {}",
            self.name,
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Starts a process that lives in the namespace until the test ends.
    fn spawn_resident(&mut self) -> u32 {
        let child = Command::new("ip")
            .args(["netns", "exec", &self.name, "sleep", "600"])
            .stdin(Stdio::null())
            .spawn()
            .expect("ip netns exec sleep runs");
        let pid = child.id();
        self.helpers.push(child);
        // `ip netns exec` joins, then execs: wait (bounded) until it has.
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let ns = std::fs::read_link(format!("/proc/{pid}/ns/net")).ok();
            let inode = ns.and_then(|t| {
                t.to_str()?
                    .strip_prefix("net:[")?
                    .strip_suffix(']')?
                    .parse::<u64>()
                    .ok()
            });
            if inode == Some(self.id()) {
                return pid;
            }
            assert!(
                Instant::now() < deadline,
                "pid {pid} never entered {}",
                self.name
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Runs `f` on a thread that has joined the namespace: the sockets it
    /// makes live in the namespace, held by this test process.
    fn inside<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        let path = format!("/run/netns/{}", self.name);
        std::thread::scope(|s| {
            s.spawn(|| {
                let ns = File::open(&path).unwrap();
                nix::sched::setns(ns.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET)
                    .expect("setns into the test namespace");
                f()
            })
            .join()
            .expect("the thread inside the namespace finished")
        })
    }
}

impl Drop for TestNetns {
    fn drop(&mut self) {
        for c in &mut self.helpers {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

fn namespace<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == name)
        .unwrap_or_else(|| panic!("namespace {name} in {:#}", doc["namespaces"]))
}

/// The row of `list` for `addr:port` in `state`, in namespace `ns_id`.
fn row<'a>(list: &'a Value, ns_id: u64, addr: &str, port: u16, state: &str) -> Option<&'a Value> {
    list.as_array().unwrap().iter().find(|r| {
        r["netns"]["id"] == ns_id
            && r["local_addr"] == addr
            && r["local_port"] == port
            && r["state"] == state
    })
}

#[test]
fn every_namespace_is_found_named_and_scored_by_its_own_policy() {
    // A: an odd low end (connect() takes odd ports first), reserved ports,
    // and a resident process it is found through.
    let Some(mut a) = TestNetns::new("a") else {
        return;
    };
    a.sysctl("net.ipv4.ip_local_port_range", "40001 50000");
    a.sysctl("net.ipv4.ip_local_reserved_ports", "45001,45003-45005");
    let a_pid = a.spawn_resident();
    // B: a range below the host's default, and no process in it at all:
    // only its ip netns bind mount leads to it.
    let b = TestNetns::new("b").unwrap();
    b.sysctl("net.ipv4.ip_local_port_range", "20000 30000");

    let a_sockets = a.inside(|| {
        (
            TcpListener::bind("0.0.0.0:44601").unwrap(), // high in A
            TcpListener::bind("127.0.0.1:44600").unwrap(), // medium in A
            TcpListener::bind("0.0.0.0:45001").unwrap(), // reserved in A
            self_connect("127.0.0.1:44999".parse().unwrap()),
        )
    });
    let b_sockets = b.inside(|| {
        let v6 = socket2::Socket::new(socket2::Domain::IPV6, socket2::Type::STREAM, None)
            .and_then(|s| s.bind(&"[::1]:0".parse::<std::net::SocketAddr>().unwrap().into()))
            .is_ok();
        (
            TcpListener::bind("0.0.0.0:20002").unwrap(), // high in B, outside the host's default range
            if v6 {
                Some(self_connect("[::1]:25001".parse().unwrap()))
            } else {
                println!("no IPv6 loopback in the namespace: IPv6 part skipped");
                None
            },
        )
    });

    let out = run(&["scan", "--json", "--all"]);
    assert_eq!(out.status.code(), Some(1), "findings give exit 1");
    let doc = json_of(&out);
    let me = std::process::id();

    // The namespaces, with their own policies.
    let na = namespace(&doc, &a.name);
    assert_eq!(na["id"], a.id());
    assert_eq!(na["ip_netns"], a.name.as_str());
    assert_eq!(na["is_host"], false);
    assert_eq!(na["is_own"], false);
    assert_eq!(na["pid"], a_pid, "found through its resident process");
    assert_eq!(
        na["ephemeral_range"],
        serde_json::json!({"low": 40001, "high": 50000})
    );
    assert_eq!(
        na["reserved_ports"],
        serde_json::json!([{"low": 45001, "high": 45001}, {"low": 45003, "high": 45005}])
    );
    assert_eq!(na["sockets"], 4);
    assert_eq!(na["findings"], 3);
    let nb = namespace(&doc, &b.name);
    assert_eq!(nb["id"], b.id());
    assert_eq!(nb["pid"], Value::Null, "no process in B");
    assert_eq!(
        nb["ephemeral_range"],
        serde_json::json!({"low": 20000, "high": 30000})
    );
    let host = namespace(&doc, "host");
    assert_eq!(host["is_host"], true);
    // The top level keeps the tool's own namespace's policy.
    let own: Vec<&Value> = doc["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["is_own"] == true)
        .collect();
    assert_eq!(own.len(), 1);
    assert_eq!(doc["ephemeral_range"], own[0]["ephemeral_range"]);
    assert_eq!(doc["reserved_ports"], own[0]["reserved_ports"]);

    // Findings, scored against each namespace's own policy.
    let f = &doc["findings"];
    let (ida, idb) = (a.id(), b.id());
    let l = row(f, ida, "0.0.0.0", 44601, "LISTEN").expect("44601 in A");
    assert_eq!(l["risk"], "high", "odd port, odd low end in A");
    assert_eq!(l["netns"]["name"], a.name.as_str());
    assert_eq!(l["pid"], me, "owner resolved across namespaces");
    let l = row(f, ida, "127.0.0.1", 44600, "LISTEN").expect("44600 in A");
    assert_eq!(l["risk"], "medium");
    assert!(
        row(f, ida, "0.0.0.0", 45001, "LISTEN").is_none(),
        "reserved in A"
    );
    let all = &doc["sockets"];
    let r = row(all, ida, "0.0.0.0", 45001, "LISTEN").expect("listed with --all");
    assert_eq!(r["kind"], Value::Null);
    let sc = row(f, ida, "127.0.0.1", 44999, "ESTABLISHED").expect("self-connect in A");
    assert_eq!(sc["kind"], "self_connect");
    assert_eq!(sc["pid"], me);

    let l = row(f, idb, "0.0.0.0", 20002, "LISTEN").expect("20002 in B");
    assert_eq!(l["risk"], "high", "inside B's range, whatever the host's");
    assert_eq!(l["netns"]["name"], b.name.as_str());
    if b_sockets.1.is_some() {
        let sc = row(f, idb, "::1", 25001, "ESTABLISHED").expect("IPv6 self-connect in B");
        assert_eq!(sc["family"], "ipv6");
        assert_eq!(sc["pid"], me);
    }
    // Each socket sits in exactly one namespace: nothing of A's shows in B.
    assert!(row(all, idb, "0.0.0.0", 44601, "LISTEN").is_none());

    // Both ways of listing agree: netlink sock_diag (guided by sockstat),
    // and /proc (through A's process; from inside B, which has none).
    let listed = |sock_diag: bool| {
        let mut scanner = Scanner::new(ScanOptions {
            owners: OwnerScope::All,
            sock_diag,
            ..ScanOptions::default()
        });
        let snap = scanner.scan().unwrap();
        let mut v: Vec<(u64, String, String, &str, u64)> = snap
            .sockets
            .iter()
            .filter(|s| [ida, idb].contains(&snap.namespace_of(s).id))
            .map(|s| {
                let e = &s.entry;
                let id = snap.namespace_of(s).id;
                (
                    id,
                    e.local.to_string(),
                    e.remote.to_string(),
                    e.state.as_str(),
                    e.inode,
                )
            })
            .collect();
        v.sort();
        v
    };
    let via_diag = listed(true);
    assert_eq!(
        via_diag.len(),
        5 + usize::from(b_sockets.1.is_some()),
        "{via_diag:#?}"
    );
    assert_eq!(via_diag, listed(false));

    // The table: a NETNS column, the namespace count, each one's range.
    let out = run(&["scan"]);
    let text = String::from_utf8(out.stdout).unwrap();
    let first = text.lines().next().unwrap();
    assert!(first.contains("network namespaces"), "{first}");
    assert!(
        text.lines()
            .any(|l| l.contains(&a.name) && l.contains("range 40001-50000")),
        "{text}"
    );
    let header = text.lines().find(|l| l.starts_with("FINDING")).unwrap();
    assert!(header.contains("NETNS"), "{header}");
    assert!(
        text.lines()
            .any(|l| l.contains(&a.name) && l.contains("0.0.0.0:44601") && l.contains("high")),
        "{text}"
    );
    drop((a_sockets, b_sockets));
}

#[test]
fn netns_option_picks_one_namespace_or_names_the_known_ones() {
    let Some(mut a) = TestNetns::new("pick") else {
        return;
    };
    a.sysctl("net.ipv4.ip_local_port_range", "40001 50000");
    let a_pid = a.spawn_resident();
    let sockets = a.inside(|| {
        (
            TcpListener::bind("0.0.0.0:44601").unwrap(),
            self_connect("127.0.0.1:44999".parse().unwrap()),
        )
    });
    let id = a.id();

    for wanted in [a.name.clone(), id.to_string(), a_pid.to_string()] {
        let out = run(&["scan", "--json", "--all", "--netns", &wanted]);
        assert_eq!(out.status.code(), Some(1), "--netns {wanted}");
        let doc = json_of(&out);
        let names: Vec<&Value> = doc["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| &n["name"])
            .collect();
        assert_eq!(names, vec![a.name.as_str()], "--netns {wanted}");
        let sockets = doc["sockets"].as_array().unwrap();
        assert_eq!(sockets.len(), 2, "{sockets:#?}");
        assert!(sockets.iter().all(|s| s["netns"]["id"] == id));
        assert_eq!(doc["findings"].as_array().unwrap().len(), 2);
        // The top level stays the tool's own namespace's, not A's.
        assert_ne!(
            doc["ephemeral_range"],
            serde_json::json!({"low": 40001, "high": 50000})
        );
    }

    // The table names the namespace and shows its range.
    let out = run(&["scan", "--netns", &a.name]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with(&format!("netns {} · ephemeral range 40001-50000", a.name)),
        "{text}"
    );
    assert!(!text.contains("NETNS"), "one namespace, no column: {text}");

    // `host` picks the host's namespace only.
    let doc = json_of(&run(&["scan", "--json", "--netns", "host"]));
    let ns = doc["namespaces"].as_array().unwrap();
    assert_eq!(ns.len(), 1);
    assert_eq!(ns[0]["is_host"], true);

    // No match: exit 2, one line, the known namespaces listed.
    let nope = format!("{}-nope", a.name);
    let out = run(&["scan", "--netns", &nope]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains(&format!("no network namespace matches {nope:?}"))
            && stderr.contains(&format!("{} [{id}]", a.name))
            && stderr.contains("host ["),
        "{stderr}"
    );
    drop(sockets);
}

#[test]
fn a_changed_range_is_seen_within_the_policy_cache_age() {
    use selfconn_tui::sys::scanner::POLICY_MAX_AGE;
    let Some(mut a) = TestNetns::new("sysctl") else {
        return;
    };
    a.sysctl("net.ipv4.ip_local_port_range", "40001 50000");
    a.spawn_resident();
    let listener = a.inside(|| TcpListener::bind("0.0.0.0:44601").unwrap());
    let mut scanner = Scanner::new(ScanOptions::default());
    let risk = |scanner: &mut Scanner| {
        let snap = scanner.scan().unwrap();
        let ns = snap
            .namespaces
            .iter()
            .position(|n| n.name == a.name)
            .expect("namespace found");
        let range = snap.namespaces[ns].policy.range.to_string();
        let risk = snap
            .sockets
            .iter()
            .find(|s| s.netns == ns && s.entry.local.port() == 44601)
            .and_then(|s| s.finding)
            .and_then(|f| f.risk);
        (range, risk.map(|r| r.as_str()))
    };
    assert_eq!(risk(&mut scanner), ("40001-50000".into(), Some("high")));
    // An even low end flips the parity: 44601 becomes medium.
    a.sysctl("net.ipv4.ip_local_port_range", "40000 50000");
    let started = Instant::now();
    loop {
        let now = risk(&mut scanner);
        if now == ("40000-50000".into(), Some("medium")) {
            break;
        }
        assert!(
            started.elapsed() < POLICY_MAX_AGE + Duration::from_secs(1),
            "still {now:?} after {:?}",
            started.elapsed()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    println!("new range seen after {:?}", started.elapsed());
    // The scans left this thread in its namespace.
    assert_eq!(
        std::fs::read_link("/proc/thread-self/ns/net").unwrap(),
        std::fs::read_link("/proc/self/ns/net").unwrap()
    );
    drop(listener);
}

#[test]
fn a_fix_for_a_namespace_with_a_shell_hostile_name_runs_in_that_namespace() {
    // Any file name under /run/netns is a namespace name; one the shell
    // would act on must reach `ip netns exec` as one word, untouched.
    // (No '/' in it: `ip` refuses that one; the shell below runs in `dir`.)
    let dir = tempfile::tempdir().unwrap();
    let trap = dir.path().join("ran");
    let tag = "it's $(touch ran);x";
    let Some(ns) = TestNetns::new(tag) else {
        return;
    };
    ns.sysctl("net.ipv4.ip_local_port_range", "40001 50000");
    // No process in it: the fix can only enter it by name.
    let _listener = ns.inside(|| TcpListener::bind("0.0.0.0:44601").unwrap());

    let out = run(&["scan"]);
    let text = String::from_utf8(out.stdout).unwrap();
    let fix = text
        .lines()
        .map(str::trim)
        .find(|l| {
            l.starts_with("ip netns exec")
                && shlex::split(l).is_some_and(|w| w.get(3) == Some(&ns.name))
        })
        .unwrap_or_else(|| panic!("no quoted fix line for {:?}:\n{text}", ns.name));
    // The same command, asking instead of setting: run by a real shell, it
    // must answer from inside the namespace.
    let (prefix, _) = fix.split_once(" sysctl -w ").expect(fix);
    let asked = Command::new("sh")
        .current_dir(dir.path())
        .arg("-c")
        .arg(format!("{prefix} sysctl -n net.ipv4.ip_local_port_range"))
        .output()
        .unwrap();
    assert!(
        asked.status.success(),
        "{prefix}: {}",
        String::from_utf8_lossy(&asked.stderr)
    );
    let range: Vec<String> = String::from_utf8_lossy(&asked.stdout)
        .split_whitespace()
        .map(String::from)
        .collect();
    assert_eq!(range, ["40001", "50000"], "{prefix}");
    assert!(!trap.exists(), "the name's $(...) ran: {fix}");
}
