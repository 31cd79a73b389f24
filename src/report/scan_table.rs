//! `scan`'s human output: a summary line, an aligned table, and notes:
//! one line per self-connected socket saying that it keeps a service off
//! its port and how to free it (at most [`NOTES_MAX`], then a count).
//!
//! Names that come from other processes or the kernel (program names,
//! users, namespace names) pass through [`terminal_safe_cut`]: escaped,
//! and cut to [`NAME_WIDTH`] columns so one long name cannot widen every
//! row. Columns are aligned by display width.

use std::fmt::Write as _;

use crossterm::style::Stylize;
use unicode_width::UnicodeWidthStr;

use super::scan_json::sorted_findings;
use crate::core::advice::free_port_fix;
use crate::core::ports::Risk;
use crate::core::sanitize::terminal_safe_cut;
use crate::core::snapshot::{Namespace, Owner, Snapshot, Socket};
use crate::core::socket::FindingKind;
use crate::core::words::plural;

const HEADERS: [&str; 9] = [
    "FINDING", "RISK", "FAMILY", "LOCAL", "REMOTE", "STATE", "PID", "PROCESS", "USER",
];

/// The most columns a name takes in the table and the summary; `--json`
/// has it whole.
pub const NAME_WIDTH: usize = 40;

/// Self-connects explained one by one under the table; the rest counted.
pub const NOTES_MAX: usize = 10;

/// A name from another process or the kernel, safe and bounded.
fn name(s: &str) -> String {
    terminal_safe_cut(s, NAME_WIDTH).into_owned()
}

/// `cells` joined by two spaces, each but the last padded to its width in
/// columns (`{:<w$}` pads by characters, which misaligns wide ones).
fn aligned(cells: &[String], widths: &[usize]) -> String {
    let mut l = String::new();
    for (i, (c, &w)) in cells.iter().zip(widths).enumerate() {
        l.push_str(c);
        if i + 1 < cells.len() {
            let pad = w.saturating_sub(UnicodeWidthStr::width(c.as_str())) + 2;
            l.extend(std::iter::repeat_n(' ', pad));
        }
    }
    l
}

/// The widest cell of each column, in columns.
fn column_widths<'a>(
    start: Vec<usize>,
    rows: impl IntoIterator<Item = &'a [String]>,
) -> Vec<usize> {
    let mut widths = start;
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(UnicodeWidthStr::width(c.as_str()));
        }
    }
    widths
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
                format!("netns {} · ", name(&one.name))
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
            let mut label = name(&ns.name);
            if ns.is_own && !ns.is_host {
                label.push_str(" (own)");
            }
            [
                label,
                ns.id.to_string(),
                format!("range {}", ns.policy.range),
                format!("reserved {}", ns.policy.reserved),
                plural(sockets, "socket", "sockets"),
            ]
        })
        .collect();
    let widths = column_widths(vec![0; 5], rows.iter().map(|r| &r[..]));
    rows.iter()
        .map(|r| format!("  {}", aligned(r, &widths)))
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
        Owner::Process(p) => (p.pid.to_string(), name(&p.name)),
        Owner::Unknown(why) => ("-".to_string(), why.short().to_string()),
    };
    let mut row = vec![finding.to_string(), risk.to_string()];
    if with_netns {
        row.push(name(&snapshot.namespace_of(s).name));
    }
    row.extend([
        s.entry.family.as_str().to_string(),
        s.entry.local.to_string(),
        s.entry.remote.to_string(),
        s.entry.state.as_str().to_string(),
        pid,
        process,
        name(&s.user),
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
    table_lines(&mut out, snapshot, &rows, colour);
    let notes = notes(snapshot, &rows);
    if !notes.is_empty() {
        let _ = writeln!(out, "\nNotes");
        for (n, command) in notes {
            let _ = writeln!(out, "  {n}");
            // The command on a line of its own, so that it copies whole.
            if let Some(c) = command {
                let _ = writeln!(out, "      {c}");
            }
        }
    }
    for l in reserve_all_lines(snapshot) {
        let _ = writeln!(out, "{l}");
    }
    out
}

/// The table of `rows` (with its header), coloured by severity when `colour`.
fn table_lines(out: &mut String, snapshot: &Snapshot, rows: &[&Socket], colour: bool) {
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
    let widths = column_widths(
        headers.iter().map(String::len).collect(),
        table.iter().map(|r| &r[..]),
    );
    let line = |cols: &[String]| aligned(cols, &widths);
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
}

/// For each self-connected socket: a service that should listen on its
/// port cannot bind it because of this socket, and the `ss -K` line that
/// frees it (the same fix the dashboard's details list first).
fn notes(snapshot: &Snapshot, rows: &[&Socket]) -> Vec<(String, Option<String>)> {
    let self_connects: Vec<&&Socket> = rows
        .iter()
        .filter(|s| {
            s.finding
                .is_some_and(|f| f.kind == FindingKind::SelfConnect)
        })
        .collect();
    let mut out: Vec<(String, Option<String>)> = self_connects
        .iter()
        .take(NOTES_MAX)
        .map(|s| {
            let ns = snapshot.namespace_of(s);
            let port = s.entry.local.port();
            let holder = match &s.owner {
                Owner::Process(p) => format!(" (pid {} {})", p.pid, name(&p.name)),
                Owner::Unknown(_) => String::new(),
            };
            let free = free_port_fix(s, ns).commands.last().cloned();
            let sentence = format!(
                "{}{holder}: if a service should listen on {port}, this socket is why it \
                 cannot bind it (EADDRINUSE); free the port (root):",
                s.entry.local
            );
            (sentence, free)
        })
        .collect();
    if self_connects.len() > NOTES_MAX {
        out.push((
            format!(
                "and {} more self-connected sockets (the same applies; `scan --json` lists them all)",
                self_connects.len() - NOTES_MAX
            ),
            None,
        ));
    }
    out
}

/// After the table: one `sysctl -w` line per namespace that reserves all
/// its risky listeners at once (keeping what is reserved), each on its own
/// line with no prompt, so that it pastes as printed.
pub fn reserve_all_lines(snapshot: &Snapshot) -> Vec<String> {
    let all = crate::core::reserve::reserve_all_per_namespace(snapshot);
    if all.is_empty() {
        return Vec::new();
    }
    let mut out = vec![
        String::new(),
        format!(
            "Reserve all risky listeners ({}; keeps what is reserved, as the value replaces the \
             whole list):",
            plural(all.len(), "namespace", "namespaces")
        ),
    ];
    // Namespace names are the kernel's or a container's: made safe, and
    // only the prefix that enters the namespace carries one.
    out.extend(
        all.iter()
            .map(|r| format!("  {}", crate::core::sanitize::terminal_safe(&r.command))),
    );
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

    #[test]
    fn hostile_names_are_escaped_and_cut() {
        use crate::core::snapshot::ProcessInfo;
        let hostile = [
            "\x1b]0;owned\x07\x1b[2J",
            "ok\nself-connect  high  v4  0.0.0.0:1",
            "c1\u{9b}31m\u{7f}",
            "evil\u{202e}gnp.exe\u{2066}",
            &"y".repeat(3000),
            "ソケット😀",
        ];
        for bad in hostile {
            let mut s = snapshot();
            s.namespaces[1].name = bad.to_string();
            s.sockets[0].owner = Owner::Process(
                ProcessInfo {
                    pid: 7,
                    name: bad.to_string(),
                    cmdline: bad.to_string(),
                    user: bad.into(),
                }
                .into(),
            );
            s.sockets[0].user = bad.into();
            for text in [render(&s, true, false), {
                // One namespace (the hostile one): its name is in the summary.
                s.namespaces[0].filtered_out = true;
                s.sockets.retain(|x| x.netns == 1);
                render(&s, true, false)
            }] {
                assert!(
                    !text.chars().any(|c| c.is_control() && c != '\n'),
                    "{text:?}"
                );
                assert!(!text.contains(['\u{202e}', '\u{2066}']), "{text:?}");
                // No forged rows: a summary, maybe namespace lines, the
                // header and one row per socket; then, after a blank
                // line, the reserve-all block (a heading, one line per
                // namespace at risk).
                let table = text.split("\n\n").next().unwrap_or_default();
                assert!(table.lines().count() <= 6, "{text}");
                assert!(text.lines().count() <= 10, "{text}");
                for l in text.lines() {
                    assert!(UnicodeWidthStr::width(l) < 260, "{} wide: {l}", l.len());
                }
            }
        }
        // What was escaped is visible, not dropped.
        let mut s = snapshot();
        s.namespaces[1].name = "a\x1b[2Jb".into();
        assert!(render(&s, false, false).contains("a\\x1b[2Jb"));
    }

    #[test]
    fn each_self_connect_gets_a_note_that_frees_its_port_and_many_are_counted() {
        let mut s = snapshot();
        let sc = |port: u16, netns: usize| {
            let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
            let entry = SocketEntry {
                family: Family::Ipv4,
                local: addr,
                remote: addr,
                state: TcpState::Established,
                inode: 5,
                uid: 0,
            };
            Socket {
                finding: classify(&entry, &PortPolicy::default()),
                owner: Owner::Unknown(UnknownOwner::NotFound),
                user: "root".into(),
                netns,
                entry,
            }
        };
        s.sockets.push(sc(44600, 1));
        let text = render(&s, false, false);
        let notes: Vec<&str> = text
            .lines()
            .skip_while(|l| *l != "Notes")
            .take_while(|l| !l.is_empty())
            .collect();
        assert_eq!(
            notes[1],
            "  127.0.0.1:44600: if a service should listen on 44600, this socket is why it cannot \
             bind it (EADDRINUSE); free the port (root):",
            "{text}"
        );
        assert_eq!(
            notes[2],
            "      ip netns exec blue ss -K -tn 'src 127.0.0.1:44600 and dst 127.0.0.1:44600'",
            "{text}"
        );
        assert_eq!(notes.len(), 3, "listeners get no note: {text}");
        for p in 0..15 {
            s.sockets.push(sc(45000 + p, 0));
        }
        let text = render(&s, false, false);
        let notes: Vec<&str> = text
            .lines()
            .skip_while(|l| *l != "Notes")
            .take_while(|l| !l.is_empty())
            .collect();
        assert_eq!(notes.len(), 1 + 2 * NOTES_MAX + 1, "{text}");
        assert!(
            notes
                .last()
                .unwrap()
                .starts_with("  and 6 more self-connected sockets")
        );
    }

    #[test]
    fn wide_names_stay_aligned() {
        let mut s = snapshot();
        s.namespaces[1].name = "ソケット".into();
        let text = render(&s, false, false);
        let lines: Vec<&str> = text.lines().collect();
        let col = |l: &str| UnicodeWidthStr::width(&l[..l.find("range").unwrap()]);
        assert_eq!(col(lines[1]), col(lines[2]), "{text}");
    }

    #[test]
    fn the_summary_ends_with_one_reserve_all_line_per_namespace() {
        let mut s = snapshot();
        s.namespaces[0].policy.reserved = ReservedPorts::parse("44600,44602-44610").unwrap();
        let mut second = s.sockets[0].clone();
        second.entry.local = "0.0.0.0:44611".parse().unwrap();
        second.finding = classify(&second.entry, &s.namespaces[0].policy);
        s.sockets.push(second);
        let text = render(&s, false, false);
        let tail: Vec<&str> = text.split("\n\n").nth(1).unwrap().lines().collect();
        assert!(
            tail[0].starts_with("Reserve all risky listeners (2 namespaces;"),
            "{text}"
        );
        assert_eq!(
            tail[1],
            "  sysctl -w net.ipv4.ip_local_reserved_ports=44600-44611"
        );
        assert_eq!(
            tail[2],
            "  ip netns exec blue sysctl -w net.ipv4.ip_local_reserved_ports=44601,45001"
        );
        // Nothing at risk: no block.
        s.sockets.clear();
        assert!(!render(&s, false, false).contains("Reserve all"));
    }
}
