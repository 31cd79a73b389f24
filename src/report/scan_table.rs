//! `scan`'s human output: a summary line and an aligned table.

use std::fmt::Write as _;

use crossterm::style::Stylize;

use super::scan_json::sorted_findings;
use crate::core::ports::Risk;
use crate::core::snapshot::{Namespace, Owner, Snapshot, Socket};
use crate::core::socket::FindingKind;

const HEADERS: [&str; 9] = [
    "FINDING", "RISK", "FAMILY", "LOCAL", "REMOTE", "STATE", "PID", "PROCESS", "USER",
];

/// `1 socket`, `2 sockets`.
fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn counts_text(snapshot: &Snapshot) -> String {
    let c = snapshot.counts();
    format!(
        "{} scanned · {} self-connected · {} ({} high, {} medium)",
        plural(c.sockets, "socket", "sockets"),
        c.self_connects,
        plural(
            c.high_listeners + c.medium_listeners,
            "risky listener",
            "risky listeners"
        ),
        c.high_listeners,
        c.medium_listeners,
    )
}

/// The summary line above the table. With one namespace scanned, its range
/// and reserved list (and its name when it is not the tool's own); with
/// several, their number: each one's policy is listed below it by
/// [`namespace_lines`].
pub fn summary(snapshot: &Snapshot) -> String {
    let scanned: Vec<&Namespace> = snapshot.scanned_namespaces().map(|(_, n)| n).collect();
    match scanned.as_slice() {
        [one] => format!(
            "{}ephemeral range {} · reserved {} · {}",
            if one.is_own {
                String::new()
            } else {
                format!("netns {} · ", one.name)
            },
            one.policy.range,
            one.policy.reserved,
            counts_text(snapshot),
        ),
        many => format!(
            "{} network namespaces · {}",
            many.len(),
            counts_text(snapshot)
        ),
    }
}

/// One line per scanned namespace (name, id, range, reserved, sockets),
/// when more than one was scanned; empty otherwise.
pub fn namespace_lines(snapshot: &Snapshot) -> Vec<String> {
    if snapshot.scanned_namespaces().count() < 2 {
        return Vec::new();
    }
    let rows: Vec<[String; 5]> = snapshot
        .scanned_namespaces()
        .map(|(i, ns)| {
            let sockets = snapshot.sockets.iter().filter(|s| s.netns == i).count();
            let mut name = ns.name.clone();
            if ns.is_own && !ns.is_host {
                name.push_str(" (own)");
            }
            [
                name,
                ns.id.to_string(),
                format!("range {}", ns.policy.range),
                format!("reserved {}", ns.policy.reserved),
                plural(sockets, "socket", "sockets"),
            ]
        })
        .collect();
    let mut widths = [0usize; 5];
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    rows.iter()
        .map(|r| {
            let mut l = String::from("  ");
            for (i, (c, w)) in r.iter().zip(widths).enumerate() {
                if i + 1 == r.len() {
                    l.push_str(c);
                } else {
                    let _ = write!(l, "{c:<w$}  ");
                }
            }
            l
        })
        .collect()
}

fn cells(snapshot: &Snapshot, s: &Socket, with_netns: bool) -> Vec<String> {
    let (finding, risk) = match s.finding {
        Some(f) => (
            match f.kind {
                FindingKind::SelfConnect => "self-connect",
                FindingKind::EphemeralListener => "listener",
            },
            f.risk.map_or("-", Risk::as_str),
        ),
        None => ("-", "-"),
    };
    let (pid, process) = match &s.owner {
        Owner::Process(p) => (p.pid.to_string(), p.name.clone()),
        Owner::Unknown(why) => ("-".to_string(), why.short().to_string()),
    };
    let mut row = vec![finding.to_string(), risk.to_string()];
    if with_netns {
        row.push(snapshot.namespace_of(s).name.clone());
    }
    row.extend([
        s.entry.family.as_str().to_string(),
        s.entry.local.to_string(),
        s.entry.remote.to_string(),
        s.entry.state.as_str().to_string(),
        pid,
        process,
        s.user.to_string(),
    ]);
    row
}

/// The whole human report; `all` lists every socket after the findings.
pub fn render(snapshot: &Snapshot, all: bool, colour: bool) -> String {
    let mut rows: Vec<&Socket> = sorted_findings(snapshot);
    if all {
        rows.extend(snapshot.sockets.iter().filter(|s| s.finding.is_none()));
    }
    let mut out = String::new();
    let _ = writeln!(out, "{}", summary(snapshot));
    for l in namespace_lines(snapshot) {
        let _ = writeln!(out, "{l}");
    }
    if rows.is_empty() && snapshot.is_inconclusive() {
        let _ = writeln!(
            out,
            "Nothing can be concluded: a TCP table could not be read (see the errors)."
        );
        return out;
    }
    if rows.is_empty() {
        let _ = writeln!(
            out,
            "No self-connected sockets, and no listener inside the ephemeral range."
        );
        return out;
    }
    // The NETNS column only when sockets from several namespaces are listed.
    let with_netns = snapshot.scanned_namespaces().count() > 1;
    let mut headers: Vec<String> = HEADERS.iter().map(|h| h.to_string()).collect();
    if with_netns {
        headers.insert(2, "NETNS".to_string());
    }
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|s| cells(snapshot, s, with_netns))
        .collect();
    let mut widths: Vec<usize> = headers.iter().map(String::len).collect();
    for r in &table {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cols: &[String]| {
        let mut l = String::new();
        for (i, (c, &w)) in cols.iter().zip(&widths).enumerate() {
            if i + 1 == cols.len() {
                l.push_str(c);
            } else {
                let _ = write!(l, "{c:<w$}  ");
            }
        }
        l
    };
    let header = line(&headers);
    let _ = writeln!(
        out,
        "{}",
        if colour {
            header.bold().to_string()
        } else {
            header
        }
    );
    for (s, r) in rows.iter().zip(&table) {
        let l = line(r);
        let styled = match (colour, s.finding.map(|f| f.severity())) {
            (true, Some(3)) => l.red().bold().to_string(),
            (true, Some(2)) => l.yellow().to_string(),
            (true, Some(_)) => l.cyan().to_string(),
            _ => l,
        };
        let _ = writeln!(out, "{styled}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::ports::{PortPolicy, PortRange, ReservedPorts};
    use crate::core::snapshot::{Namespace, UnknownOwner};
    use crate::core::socket::{Family, SocketEntry, TcpState, classify};

    fn snapshot() -> Snapshot {
        let host = Namespace {
            id: 10,
            name: "host".into(),
            is_own: true,
            is_host: true,
            ..Namespace::default()
        };
        let blue = Namespace {
            id: 20,
            name: "blue".into(),
            policy: PortPolicy {
                range: PortRange::parse("40001 50000").unwrap(),
                reserved: ReservedPorts::parse("45001").unwrap(),
            },
            ip_netns: Some("blue".into()),
            pid: Some(42),
            ..Namespace::default()
        };
        let namespaces = vec![host, blue];
        let listener = |netns: usize, port: u16| {
            let entry = SocketEntry {
                family: Family::Ipv4,
                local: format!("0.0.0.0:{port}").parse().unwrap(),
                remote: "0.0.0.0:0".parse().unwrap(),
                state: TcpState::Listen,
                inode: 1,
                uid: 0,
            };
            Socket {
                finding: classify(&entry, &namespaces[netns].policy),
                owner: Owner::Unknown(UnknownOwner::NotFound),
                user: "root".into(),
                netns,
                entry,
            }
        };
        // 44601: medium against the host's default range, high in blue's.
        let sockets = vec![listener(0, 44601), listener(1, 44601)];
        Snapshot {
            taken_at: chrono::Local::now(),
            scan_micros: 0,
            namespaces,
            sockets,
            errors: vec![],
            visibility_note: None,
        }
    }

    #[test]
    fn several_namespaces_get_a_netns_column_and_their_policies() {
        let text = render(&snapshot(), false, false);
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[0].starts_with("2 network namespaces · 2 sockets scanned"),
            "{text}"
        );
        assert!(lines[1].contains("host") && lines[1].contains("range 32768-60999"));
        assert!(lines[2].contains("blue") && lines[2].contains("range 40001-50000"));
        assert!(lines[2].contains("reserved 45001") && lines[2].ends_with("1 socket"));
        assert!(lines[3].starts_with("FINDING") && lines[3].contains("NETNS"));
        assert!(
            lines[4].contains("high") && lines[4].contains("blue"),
            "{text}"
        );
        assert!(
            lines[5].contains("medium") && lines[5].contains("host"),
            "{text}"
        );
    }

    #[test]
    fn one_namespace_keeps_the_plain_summary() {
        let mut s = snapshot();
        s.sockets.retain(|x| x.netns == 0);
        s.namespaces.truncate(1);
        let text = render(&s, false, false);
        assert!(
            text.starts_with("ephemeral range 32768-60999 · reserved none · 1 socket scanned"),
            "{text}"
        );
        assert!(!text.contains("NETNS"));

        // --netns picked another: the own one is left out, the summary
        // names the picked one and shows its policy.
        let mut s = snapshot();
        s.namespaces[0].filtered_out = true;
        s.sockets.retain(|x| x.netns == 1);
        let text = render(&s, false, false);
        assert!(
            text.starts_with(
                "netns blue · ephemeral range 40001-50000 · reserved 45001 · 1 socket"
            ),
            "{text}"
        );
        assert!(!text.contains("NETNS"));
    }
}
