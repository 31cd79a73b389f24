//! `scan --json`: one object, with every field a script needs.

use serde::Serialize;

use crate::core::ports::{PortRange, PortSpan};
use crate::core::snapshot::{Owner, ScanError, Snapshot, Socket};

#[derive(Debug, Serialize)]
pub struct NetnsJson<'a> {
    pub id: u64,
    pub name: &'a str,
}

#[derive(Debug, Serialize)]
pub struct SocketJson<'a> {
    /// `self_connect`, `ephemeral_listener`, or null for a plain socket.
    pub kind: Option<&'static str>,
    pub family: &'static str,
    pub local_addr: String,
    pub local_port: u16,
    pub remote_addr: String,
    pub remote_port: u16,
    pub state: &'static str,
    pub risk: Option<&'static str>,
    pub inode: u64,
    pub uid: u32,
    pub user: &'a str,
    pub pid: Option<i32>,
    pub process: Option<&'a str>,
    pub cmdline: Option<&'a str>,
    /// Why `pid` and `process` are null.
    pub owner_unknown_reason: Option<&'static str>,
    pub netns: NetnsJson<'a>,
}

impl<'a> SocketJson<'a> {
    pub fn new(snapshot: &'a Snapshot, s: &'a Socket) -> SocketJson<'a> {
        let ns = snapshot.namespace_of(s);
        let e = &s.entry;
        let (pid, process, cmdline, reason) = match &s.owner {
            Owner::Process(p) => (
                Some(p.pid),
                Some(p.name.as_str()),
                Some(p.cmdline.as_str()),
                None,
            ),
            Owner::Unknown(why) => (None, None, None, Some(why.reason())),
        };
        SocketJson {
            kind: s.finding.map(|f| f.kind.as_str()),
            family: e.family.as_str(),
            local_addr: e.local.ip().to_string(),
            local_port: e.local.port(),
            remote_addr: e.remote.ip().to_string(),
            remote_port: e.remote.port(),
            state: e.state.as_str(),
            risk: s.finding.and_then(|f| f.risk).map(|r| r.as_str()),
            inode: e.inode,
            uid: e.uid,
            user: &s.user,
            pid,
            process,
            cmdline,
            owner_unknown_reason: reason,
            netns: NetnsJson {
                id: ns.id,
                name: &ns.name,
            },
        }
    }
}

#[derive(Debug, Serialize)]
pub struct ScanJson<'a> {
    pub taken_at: String,
    pub ephemeral_range: PortRange,
    pub reserved_ports: &'a [PortSpan],
    pub sockets_scanned: usize,
    pub findings: Vec<SocketJson<'a>>,
    pub errors: &'a [ScanError],
    pub notes: Vec<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sockets: Option<Vec<SocketJson<'a>>>,
}

/// Writes the JSON document for a snapshot, streamed rather than built as
/// a `serde_json::Value` (100k sockets would cost hundreds of MiB);
/// `all` adds every socket.
pub fn write_json(
    snapshot: &Snapshot,
    all: bool,
    out: impl std::io::Write,
) -> serde_json::Result<()> {
    let own = snapshot.own_namespace();
    let doc = ScanJson {
        taken_at: snapshot.taken_at.to_rfc3339(),
        ephemeral_range: own.policy.range,
        reserved_ports: own.policy.reserved.spans(),
        sockets_scanned: snapshot.sockets.len(),
        findings: sorted_findings(snapshot)
            .into_iter()
            .map(|s| SocketJson::new(snapshot, s))
            .collect(),
        errors: &snapshot.errors,
        notes: snapshot
            .visibility_note
            .iter()
            .map(String::as_str)
            .collect(),
        sockets: all.then(|| {
            snapshot
                .sockets
                .iter()
                .map(|s| SocketJson::new(snapshot, s))
                .collect()
        }),
    };
    serde_json::to_writer(out, &doc)
}

/// Findings, most urgent first, then by port.
pub fn sorted_findings(snapshot: &Snapshot) -> Vec<&Socket> {
    let mut v: Vec<&Socket> = snapshot.findings().collect();
    v.sort_by_key(|s| {
        (
            std::cmp::Reverse(s.finding.map(|f| f.severity())),
            s.entry.local.port(),
            s.entry.family,
        )
    });
    v
}
