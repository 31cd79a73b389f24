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

/// One scanned network namespace, with its own policy.
#[derive(Debug, Serialize)]
pub struct NamespaceJson<'a> {
    pub id: u64,
    pub name: &'a str,
    pub is_host: bool,
    pub is_own: bool,
    /// A process inside it (`nsenter -t PID -n` enters it).
    pub pid: Option<i32>,
    /// Its `ip netns` name, when it has one.
    pub ip_netns: Option<&'a str>,
    pub ephemeral_range: PortRange,
    pub reserved_ports: &'a [PortSpan],
    /// How many sockets it holds, and how many of them are findings.
    pub sockets: usize,
    pub findings: usize,
}

impl<'a> NamespaceJson<'a> {
    pub fn new(snapshot: &'a Snapshot, index: usize) -> NamespaceJson<'a> {
        let ns = &snapshot.namespaces[index];
        let mine = snapshot.sockets.iter().filter(|s| s.netns == index);
        let (sockets, findings) = mine.fold((0, 0), |(n, f), s| {
            (n + 1, f + usize::from(s.finding.is_some()))
        });
        NamespaceJson {
            id: ns.id,
            name: &ns.name,
            is_host: ns.is_host,
            is_own: ns.is_own,
            pid: ns.pid,
            ip_netns: ns.ip_netns.as_deref(),
            ephemeral_range: ns.policy.range,
            reserved_ports: ns.policy.reserved.spans(),
            sockets,
            findings,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct ScanJson<'a> {
    pub taken_at: String,
    /// The policy of the namespace this tool runs in; each namespace's own
    /// is under `namespaces`.
    pub ephemeral_range: PortRange,
    pub reserved_ports: &'a [PortSpan],
    /// The namespaces scanned (all, or the one `--netns` picked).
    pub namespaces: Vec<NamespaceJson<'a>>,
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
        namespaces: snapshot
            .scanned_namespaces()
            .map(|(i, _)| NamespaceJson::new(snapshot, i))
            .collect(),
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
            s.netns,
        )
    });
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::ports::{PortPolicy, PortRange};
    use crate::core::snapshot::{Namespace, UnknownOwner};
    use crate::core::socket::{Family, SocketEntry, TcpState, classify};

    fn to_json(snapshot: &Snapshot, all: bool) -> serde_json::Value {
        let mut buf = Vec::new();
        write_json(snapshot, all, &mut buf).unwrap();
        serde_json::from_slice(&buf).unwrap()
    }

    #[test]
    fn namespaces_are_listed_with_their_own_policy_and_counts() {
        let namespaces = vec![
            Namespace {
                id: 10,
                name: "host".into(),
                is_own: true,
                is_host: true,
                ..Namespace::default()
            },
            Namespace {
                id: 20,
                name: "blue".into(),
                policy: PortPolicy {
                    range: PortRange::parse("40001 50000").unwrap(),
                    ..PortPolicy::default()
                },
                pid: Some(42),
                ip_netns: Some("blue".into()),
                ..Namespace::default()
            },
        ];
        let entry = SocketEntry {
            family: Family::Ipv4,
            local: "0.0.0.0:44601".parse().unwrap(),
            remote: "0.0.0.0:0".parse().unwrap(),
            state: TcpState::Listen,
            inode: 7,
            uid: 0,
        };
        let mut snapshot = Snapshot {
            taken_at: chrono::Local::now(),
            scan_micros: 0,
            sockets: vec![Socket {
                finding: classify(&entry, &namespaces[1].policy),
                owner: Owner::Unknown(UnknownOwner::NotFound),
                user: "root".into(),
                netns: 1,
                entry,
            }],
            namespaces,
            errors: vec![],
            visibility_note: None,
        };
        let doc = to_json(&snapshot, true);
        assert_eq!(doc["ephemeral_range"]["low"], 32768, "the own namespace's");
        let ns = doc["namespaces"].as_array().unwrap();
        assert_eq!(ns.len(), 2);
        assert_eq!(
            ns[1],
            serde_json::json!({
                "id": 20, "name": "blue", "is_host": false, "is_own": false, "pid": 42,
                "ip_netns": "blue", "ephemeral_range": {"low": 40001, "high": 50000},
                "reserved_ports": [], "sockets": 1, "findings": 1
            })
        );
        assert_eq!(ns[0]["sockets"], 0);
        assert_eq!(
            doc["findings"][0]["netns"],
            serde_json::json!({"id": 20, "name": "blue"})
        );
        assert_eq!(doc["findings"][0]["risk"], "high");

        // The own namespace, left out by --netns, is not listed.
        snapshot.namespaces[0].filtered_out = true;
        let doc = to_json(&snapshot, false);
        assert_eq!(doc["namespaces"].as_array().unwrap().len(), 1);
        assert_eq!(doc["namespaces"][0]["name"], "blue");
        assert_eq!(doc["ephemeral_range"]["low"], 32768);
    }
}
