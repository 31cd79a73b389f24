//! Plain-words explanations of a finding and the fixes that apply to it.
//! The dashboard's details pane shows them; kept here so that they are
//! tested without a terminal.

use std::net::SocketAddr;

use super::ports::{PortPolicy, Risk};
use super::snapshot::{Namespace, Owner, Socket};
use super::socket::{FindingKind, TcpState};

pub use super::reserve::SYSCTL_DROP_IN;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fix {
    pub title: String,
    /// Exact commands or settings, one per line.
    pub commands: Vec<String>,
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advice {
    /// One sentence: what this socket is.
    pub what: String,
    /// Why it matters, one reason per line.
    pub why: Vec<String>,
    pub fixes: Vec<Fix>,
}

/// The fix that reserves `port` in namespace `ns`: run inside it (through
/// `ip netns exec` or `nsenter`) when it is not the tool's own. Outside the
/// host's namespace (the tool's own included, in a container or an `ip
/// netns`) it is persisted with that namespace's own setup, since the
/// host's `/etc/sysctl.d` does not reach it.
pub fn reserve_fix_in(ns: &Namespace, port: u16) -> Fix {
    let mut fix = reserve_fix(&ns.policy, port);
    if ns.is_own && ns.is_host {
        return fix;
    }
    let reserved = ns.policy.reserved.with_port(port);
    if !ns.is_own {
        fix.title = format!("{} (in network namespace {})", fix.title, ns.name);
    }
    fix.commands = vec![super::reserve::sysctl_line(ns, &reserved)];
    fix.note = Some(super::reserve::persist_note(
        ns,
        &reserved.to_sysctl_value(),
    ));
    fix
}

/// The fix that reserves `port` while keeping the ports already reserved.
pub fn reserve_fix(policy: &PortPolicy, port: u16) -> Fix {
    let value = policy.reserved.with_port(port).to_sysctl_value();
    let keep = if policy.reserved.is_empty() {
        String::new()
    } else {
        format!(" (keeps the {} already reserved)", policy.reserved)
    };
    Fix {
        title: format!("Reserve {port} so the kernel never picks it as a source port{keep}"),
        commands: vec![
            format!("sysctl -w net.ipv4.ip_local_reserved_ports={value}"),
            format!("echo 'net.ipv4.ip_local_reserved_ports = {value}' > {SYSCTL_DROP_IN}"),
        ],
        note: Some(
            "The value replaces the whole list; it is per network namespace, and covers IPv6 too."
                .to_string(),
        ),
    }
}

fn move_fix(policy: &PortPolicy, port: u16) -> Fix {
    let below = policy.range.low.saturating_sub(1);
    Fix {
        title: format!(
            "Move the service off {port}, out of the ephemeral range {}",
            policy.range
        ),
        commands: vec![],
        note: Some(format!(
            "Any port below {} (or above {}) is never picked automatically.",
            below + 1,
            policy.range.high
        )),
    }
}

fn guard_fix() -> Fix {
    Fix {
        title:
            "Guard the client: after connect(), if local address == peer address, close and retry"
                .to_string(),
        commands: vec![],
        note: Some(
            "Go's dialer does this; Rust std, tokio, Node, the JDK and asyncio do not.".to_string(),
        ),
    }
}

/// A command line as one line: its line breaks and tabs (`python3 -c
/// "import socket<newline>..."`) become spaces, so its words neither run
/// together nor show as escapes; other control characters are left for the
/// sanitiser to escape.
pub fn command_line_spaced(cmdline: &str) -> std::borrow::Cow<'_, str> {
    if cmdline.contains(['\n', '\r', '\t']) {
        cmdline.replace(['\n', '\r', '\t'], " ").into()
    } else {
        cmdline.into()
    }
}

fn owner_line(owner: &Owner) -> String {
    match owner {
        Owner::Process(p) => format!(
            "Held by pid {} ({}, user {}): {}",
            p.pid,
            p.name,
            p.user,
            command_line_spaced(&p.cmdline)
        ),
        Owner::Unknown(why) => format!("Owner unknown: {}", why.reason()),
    }
}

/// The `ss` filter that matches exactly the self-connection on `addr`
/// (its local and remote address), e.g. `src 127.0.0.1:44600 and dst
/// 127.0.0.1:44600`; IPv6 addresses in brackets, as `ss` wants them.
pub fn ss_filter(addr: SocketAddr) -> String {
    format!("src {addr} and dst {addr}")
}

/// The fix that frees the port a self-connection holds, now: restart the
/// client that holds it, or destroy that one socket with `ss -K` (root,
/// kernel with CONFIG_INET_DIAG_DESTROY). In TIME_WAIT no process holds it
/// and `ss -K` does not reach it: it goes by itself within 60 s.
pub fn free_port_fix(socket: &Socket, ns: &Namespace) -> Fix {
    let e = &socket.entry;
    let port = e.local.port();
    let prefix = ns
        .enter_prefix()
        .map(|p| format!("{p} "))
        .unwrap_or_default();
    let filter = ss_filter(e.local);
    if e.state == TcpState::TimeWait {
        return Fix {
            title: format!(
                "Free {port} now: in TIME_WAIT no process holds it, but it keeps the port for up \
                 to 60 s; destroy it"
            ),
            commands: vec![format!("{prefix}ss -K -tn state time-wait '{filter}'")],
            note: Some(
                "Root, and a kernel that aborts TIME_WAIT sockets (Linux 6.18 does). It blocks \
                 even a service that sets SO_REUSEADDR, unless the client set it too. Then \
                 reserve the port or move the service, so that it does not happen again."
                    .to_string(),
            ),
        };
    }
    let who = match &socket.owner {
        Owner::Process(p) => format!("pid {} ({})", p.pid, p.name),
        Owner::Unknown(_) => "the process that holds it".to_string(),
    };
    Fix {
        title: format!(
            "Free {port} now: restart the client that holds it, {who}, or destroy this one socket"
        ),
        commands: vec![
            format!("{prefix}ss -tnp '{filter}'"),
            format!("{prefix}ss -K -tn '{filter}'"),
        ],
        note: Some(
            "The first shows the process and its file descriptor (fd=N); the second (root, and a \
             kernel built with CONFIG_INET_DIAG_DESTROY) aborts only this socket: its holder gets \
             ECONNABORTED, and the service can bind the port at once (unless the client bound \
             the port itself: then only its closing the socket frees it). Then reserve the port \
             or move the service, so that it does not happen again."
                .to_string(),
        ),
    }
}

/// Why a self-connection matters, how it came about, and the fixes in
/// order: free the port, then keep it from happening again.
fn self_connect_advice(socket: &Socket, ns: &Namespace) -> Advice {
    let e = &socket.entry;
    let policy = &ns.policy;
    let port = e.local.port();
    let range = policy.range;
    let mut why = vec![
        format!(
            "Local {} equals remote {}: every byte it sends comes back to it.",
            e.local, e.remote
        ),
        owner_line(&socket.owner),
        format!(
            "If a service should listen on {port}, this socket is why it cannot bind it \
             (EADDRINUSE): the port is taken while the socket is open{}.",
            if e.state == TcpState::TimeWait {
                ", and for up to 60 s in TIME_WAIT, even from a service that sets SO_REUSEADDR"
            } else {
                ""
            }
        ),
    ];
    if policy.is_ephemeral(port) {
        why.push(format!(
            "{port} lies in the ephemeral range {range} and is not reserved: a client \
             retrying {port} while nothing listened got {port} as its own source port \
             (TCP simultaneous open)."
        ));
    } else {
        why.push(format!(
            "{port} is outside the automatic range {range} (or reserved): the client \
             must have bound its source port explicitly."
        ));
    }
    let mut fixes = vec![free_port_fix(socket, ns)];
    if policy.is_ephemeral(port) {
        fixes.push(reserve_fix_in(ns, port));
        fixes.push(move_fix(policy, port));
    }
    fixes.push(guard_fix());
    Advice {
        what: format!("A self-connected socket ({}), port {port}.", e.state),
        why,
        fixes,
    }
}

/// Explains `socket`, a finding or not, against its namespace's policy.
pub fn advise(socket: &Socket, ns: &Namespace) -> Advice {
    let e = &socket.entry;
    let policy = &ns.policy;
    let port = e.local.port();
    let range = policy.range;
    let parity = |p: u16| if p % 2 == 0 { "even" } else { "odd" };
    match socket.finding.map(|f| (f.kind, f.risk)) {
        Some((FindingKind::SelfConnect, _)) => self_connect_advice(socket, ns),
        Some((FindingKind::EphemeralListener, risk)) => {
            let mut why = vec![
                format!(
                    "{port} is inside the ephemeral range {range} and not in the reserved list ({}).",
                    policy.reserved
                ),
                owner_line(&socket.owner),
                "While this service is down or restarting, a client retrying it can be handed \
                 {port} as its source port and connect to itself; the service then cannot bind it."
                    .replace("{port}", &port.to_string()),
            ];
            why.push(match risk {
                Some(Risk::High) => format!(
                    "Risk high: {port} is {} like the range's low end {}, the parity connect() \
                     tries first: a plain retry loop reaches it.",
                    parity(port),
                    range.low
                ),
                _ => format!(
                    "Risk medium: {port} is {} while the range starts {}: plain connect() tries \
                     it only after the {} ports; bind-then-connect clients, IP_LOCAL_PORT_RANGE \
                     clients (Linux 6.8+) and kernels before 4.6 reach it directly.",
                    parity(port),
                    parity(range.low),
                    parity(range.low)
                ),
            });
            Advice {
                what: format!("A listener on {} inside the ephemeral range.", e.local),
                why,
                fixes: vec![
                    move_fix(policy, port),
                    reserve_fix_in(ns, port),
                    guard_fix(),
                ],
            }
        }
        None => Advice {
            what: format!(
                "{} {} -> {} ({}).",
                e.family.as_str(),
                e.local,
                e.remote,
                e.state
            ),
            why: vec![
                "Not a finding: not connected to itself, and not a listener the kernel could \
                 hand out as a source port."
                    .to_string(),
                owner_line(&socket.owner),
            ],
            fixes: vec![],
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::ports::ReservedPorts;
    use crate::core::snapshot::UnknownOwner;
    use crate::core::socket::{Family, Finding, SocketEntry, TcpState, classify};

    fn ns(reserved: &str) -> Namespace {
        Namespace {
            id: 1,
            name: "host".into(),
            is_own: true,
            policy: PortPolicy {
                reserved: ReservedPorts::parse(reserved).unwrap(),
                ..PortPolicy::default()
            },
            is_host: true,
            ..Namespace::default()
        }
    }

    fn socket(local: &str, remote: &str, state: TcpState, ns: &Namespace) -> Socket {
        let entry = SocketEntry {
            family: Family::Ipv4,
            local: local.parse().unwrap(),
            remote: remote.parse().unwrap(),
            state,
            inode: 7,
            uid: 0,
        };
        let finding: Option<Finding> = classify(&entry, &ns.policy);
        Socket {
            entry,
            finding,
            owner: Owner::Unknown(UnknownOwner::NotPermitted),
            user: "root".into(),
            netns: 0,
        }
    }

    #[test]
    fn listener_advice_reserves_the_port_and_keeps_the_list() {
        let n = ns("1,2-4");
        let s = socket("0.0.0.0:44600", "0.0.0.0:0", TcpState::Listen, &n);
        let a = advise(&s, &n);
        let cmds: Vec<&String> = a.fixes.iter().flat_map(|f| &f.commands).collect();
        assert!(
            cmds.iter()
                .any(|c| *c == "sysctl -w net.ipv4.ip_local_reserved_ports=1-4,44600"),
            "{cmds:?}"
        );
        assert!(cmds.iter().any(|c| c.contains(SYSCTL_DROP_IN)));
        assert!(a.why.iter().any(|w| w.contains("Risk high")));
        assert!(a.why.iter().any(|w| w.contains("run as root")));
    }

    #[test]
    fn another_namespace_gets_the_fix_run_inside_it() {
        let n = Namespace {
            id: 2,
            name: "blue".into(),
            is_own: false,
            is_host: false,
            ip_netns: Some("blue".into()),
            ..ns("80")
        };
        let s = socket("0.0.0.0:44600", "0.0.0.0:0", TcpState::Listen, &n);
        let a = advise(&s, &n);
        let fix = a
            .fixes
            .iter()
            .find(|f| f.title.starts_with("Reserve"))
            .unwrap();
        assert_eq!(
            fix.commands,
            vec!["ip netns exec blue sysctl -w net.ipv4.ip_local_reserved_ports=80,44600"]
        );
        assert!(fix.note.as_deref().unwrap().contains("docker run --sysctl"));
        let pid_only = Namespace {
            ip_netns: None,
            pid: Some(4242),
            ..n.clone()
        };
        let fix = reserve_fix_in(&pid_only, 44600);
        assert!(fix.commands[0].starts_with("nsenter -t 4242 -n sysctl -w"));
    }

    #[test]
    fn medium_listener_explains_parity() {
        let n = ns("");
        let s = socket("0.0.0.0:44601", "0.0.0.0:0", TcpState::Listen, &n);
        let a = advise(&s, &n);
        assert!(
            a.why
                .iter()
                .any(|w| w.contains("Risk medium") && w.contains("odd"))
        );
        assert_eq!(
            a.fixes[1].commands[0],
            "sysctl -w net.ipv4.ip_local_reserved_ports=44601"
        );
    }

    #[test]
    fn self_connect_advice_frees_the_port_first_then_reserves_moves_and_guards() {
        let n = ns("");
        let s = socket(
            "127.0.0.1:44600",
            "127.0.0.1:44600",
            TcpState::Established,
            &n,
        );
        let a = advise(&s, &n);
        assert!(a.what.contains("self-connected"));
        assert!(a.why.iter().any(|w| w.contains(
            "If a service should listen on 44600, this socket is why it cannot bind it (EADDRINUSE)"
        )));
        let titles: Vec<&str> = a.fixes.iter().map(|f| f.title.as_str()).collect();
        assert!(titles[0].starts_with("Free 44600 now"), "{titles:?}");
        assert!(titles[1].starts_with("Reserve 44600"), "{titles:?}");
        assert!(titles[2].starts_with("Move the service"), "{titles:?}");
        assert!(titles[3].starts_with("Guard the client"), "{titles:?}");
        assert_eq!(
            a.fixes[0].commands,
            vec![
                "ss -tnp 'src 127.0.0.1:44600 and dst 127.0.0.1:44600'",
                "ss -K -tn 'src 127.0.0.1:44600 and dst 127.0.0.1:44600'"
            ]
        );
        // Outside the range: only an explicit bind does that; no sysctl helps.
        let s = socket(
            "127.0.0.1:5000",
            "127.0.0.1:5000",
            TcpState::Established,
            &n,
        );
        let a = advise(&s, &n);
        assert_eq!(a.fixes.len(), 2);
        assert!(a.fixes[0].title.starts_with("Free 5000 now"));
        assert!(a.why.iter().any(|w| w.contains("bound its source port")));
    }

    #[test]
    fn freeing_names_the_holder_brackets_ipv6_and_runs_inside_another_namespace() {
        let n = Namespace {
            id: 2,
            name: "blue".into(),
            is_own: false,
            is_host: false,
            ip_netns: Some("blue".into()),
            ..ns("")
        };
        let mut s = socket("[::1]:44600", "[::1]:44600", TcpState::Established, &n);
        s.owner = Owner::Process(std::sync::Arc::new(crate::core::snapshot::ProcessInfo {
            pid: 4410,
            name: "java".into(),
            cmdline: "java -jar client.jar".into(),
            user: "kafka".into(),
        }));
        let fix = free_port_fix(&s, &n);
        assert!(fix.title.contains("pid 4410 (java)"), "{}", fix.title);
        assert_eq!(
            fix.commands[1],
            "ip netns exec blue ss -K -tn 'src [::1]:44600 and dst [::1]:44600'"
        );
        // In TIME_WAIT no process holds it, yet it holds the port: ss -K
        // reaches it only with a state filter.
        let tw = socket(
            "127.0.0.1:44600",
            "127.0.0.1:44600",
            TcpState::TimeWait,
            &ns(""),
        );
        let a = advise(&tw, &ns(""));
        assert_eq!(
            a.fixes[0].commands,
            vec!["ss -K -tn state time-wait 'src 127.0.0.1:44600 and dst 127.0.0.1:44600'"]
        );
        assert!(
            a.why
                .iter()
                .any(|w| w.contains("even from a service that sets SO_REUSEADDR"))
        );
    }

    #[test]
    fn the_own_namespace_off_the_host_persists_in_its_own_setup() {
        let n = Namespace {
            is_host: false,
            ..ns("80")
        };
        let fix = reserve_fix_in(&n, 44600);
        assert_eq!(
            fix.commands,
            vec!["sysctl -w net.ipv4.ip_local_reserved_ports=80,44600"]
        );
        let note = fix.note.unwrap();
        assert!(note.contains("not the host's"), "{note}");
        assert!(note.contains("ip netns add"), "{note}");
        assert!(!fix.commands.iter().any(|c| c.contains(SYSCTL_DROP_IN)));
        assert!(!fix.title.contains("in network namespace"));
    }

    #[test]
    fn a_multi_line_command_line_reads_as_one_line_of_words() {
        let n = ns("");
        let mut s = socket("0.0.0.0:44600", "0.0.0.0:0", TcpState::Listen, &n);
        s.owner = Owner::Process(std::sync::Arc::new(crate::core::snapshot::ProcessInfo {
            pid: 9,
            name: "python3".into(),
            cmdline: "python3 -c import socket\ns=socket.socket()\tx\x1b".into(),
            user: "root".into(),
        }));
        let a = advise(&s, &n);
        let held = a.why.iter().find(|w| w.starts_with("Held by")).unwrap();
        assert!(
            held.ends_with("python3 -c import socket s=socket.socket() x\x1b"),
            "{held:?}"
        );
        let shown = crate::core::sanitize::terminal_safe(held);
        assert!(shown.ends_with("socket.socket() x\\x1b"), "{shown}");
    }
}
