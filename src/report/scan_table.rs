//! `scan`'s human output: a summary line and an aligned table.

use std::fmt::Write as _;

use crossterm::style::Stylize;

use super::scan_json::sorted_findings;
use crate::core::ports::Risk;
use crate::core::snapshot::{Owner, Snapshot, Socket};
use crate::core::socket::FindingKind;

const HEADERS: [&str; 9] = [
    "FINDING", "RISK", "FAMILY", "LOCAL", "REMOTE", "STATE", "PID", "PROCESS", "USER",
];

/// The summary line above the table.
pub fn summary(snapshot: &Snapshot) -> String {
    let own = snapshot.own_namespace();
    let c = snapshot.counts();
    format!(
        "ephemeral range {} · reserved {} · {} sockets scanned · {} self-connected · {} risky listeners ({} high, {} medium)",
        own.policy.range,
        own.policy.reserved,
        c.sockets,
        c.self_connects,
        c.high_listeners + c.medium_listeners,
        c.high_listeners,
        c.medium_listeners,
    )
}

fn cells(s: &Socket) -> [String; 9] {
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
    [
        finding.to_string(),
        risk.to_string(),
        s.entry.family.as_str().to_string(),
        s.entry.local.to_string(),
        s.entry.remote.to_string(),
        s.entry.state.as_str().to_string(),
        pid,
        process,
        s.user.to_string(),
    ]
}

/// The whole human report; `all` lists every socket after the findings.
pub fn render(snapshot: &Snapshot, all: bool, colour: bool) -> String {
    let mut rows: Vec<&Socket> = sorted_findings(snapshot);
    if all {
        rows.extend(snapshot.sockets.iter().filter(|s| s.finding.is_none()));
    }
    let mut out = String::new();
    let _ = writeln!(out, "{}", summary(snapshot));
    if rows.is_empty() {
        let _ = writeln!(
            out,
            "No self-connected sockets, and no listener inside the ephemeral range."
        );
        return out;
    }
    let table: Vec<[String; 9]> = rows.iter().map(|s| cells(s)).collect();
    let mut widths = HEADERS.map(str::len);
    for r in &table {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cols: &[String]| {
        let mut l = String::new();
        for (i, (c, w)) in cols.iter().zip(widths).enumerate() {
            if i + 1 == cols.len() {
                l.push_str(c);
            } else {
                let _ = write!(l, "{c:<w$}  ");
            }
        }
        l
    };
    let header = line(&HEADERS.map(String::from));
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
