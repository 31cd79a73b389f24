//! "Reserve all": one `sysctl -w net.ipv4.ip_local_reserved_ports=...`
//! line per namespace that covers every risky listener there while keeping
//! what is already reserved (writing the sysctl replaces the whole list),
//! and where such a setting is persisted. Pure: computed from a snapshot.

use super::ports::ReservedPorts;
use super::snapshot::{Namespace, Snapshot};
use super::socket::FindingKind;

/// Where a persistent sysctl setting belongs on the host.
pub const SYSCTL_DROP_IN: &str = "/etc/sysctl.d/90-reserved-ports.conf";

/// The one line that reserves every risky listener of a namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReserveAll {
    /// Index into [`Snapshot::namespaces`].
    pub netns: usize,
    /// The risky listeners' ports, ascending, each once.
    pub ports: Vec<u16>,
    /// The whole new list: what was reserved, merged with `ports`.
    pub reserved: ReservedPorts,
    /// The command to run, with the prefix that enters the namespace when
    /// it is not the tool's own.
    pub command: String,
}

impl ReserveAll {
    /// The sysctl's new value, e.g. `1-4,44600,44602`.
    pub fn value(&self) -> String {
        self.reserved.to_sysctl_value()
    }
}

/// `reserved` with every port of `ports` added; ranges merged.
pub fn merged(reserved: &ReservedPorts, ports: &[u16]) -> ReservedPorts {
    ports.iter().fold(reserved.clone(), |r, &p| r.with_port(p))
}

/// The `sysctl -w` line that writes `reserved`, run inside `ns`.
pub fn sysctl_line(ns: &Namespace, reserved: &ReservedPorts) -> String {
    let prefix = ns
        .enter_prefix()
        .map(|p| format!("{p} "))
        .unwrap_or_default();
    format!(
        "{prefix}sysctl -w net.ipv4.ip_local_reserved_ports={}",
        reserved.to_sysctl_value()
    )
}

/// The reserve-all line of namespace `netns` (an index into the
/// snapshot's namespaces), or `None` when nothing there is at risk.
pub fn reserve_all(snap: &Snapshot, netns: usize) -> Option<ReserveAll> {
    let ns = snap.namespaces.get(netns)?;
    let mut ports: Vec<u16> = snap
        .sockets
        .iter()
        .filter(|s| s.netns == netns)
        .filter(|s| {
            s.finding
                .is_some_and(|f| f.kind == FindingKind::EphemeralListener)
        })
        .map(|s| s.entry.local.port())
        .collect();
    ports.sort_unstable();
    ports.dedup();
    if ports.is_empty() {
        return None;
    }
    let reserved = merged(&ns.policy.reserved, &ports);
    Some(ReserveAll {
        netns,
        command: sysctl_line(ns, &reserved),
        ports,
        reserved,
    })
}

/// The reserve-all lines of every namespace with a risky listener, in the
/// snapshot's order of namespaces.
pub fn reserve_all_per_namespace(snap: &Snapshot) -> Vec<ReserveAll> {
    (0..snap.namespaces.len())
        .filter_map(|i| reserve_all(snap, i))
        .collect()
}

/// How a reservation written with `value` outlives a reboot (or the
/// namespace) in `ns`. The host's `/etc/sysctl.d` reaches only the host's
/// namespace: any other, the tool's own included when it runs in a
/// container or an `ip netns`, keeps its setting in its own setup.
pub fn persist_note(ns: &Namespace, value: &str) -> String {
    if ns.is_host {
        format!(
            "Persist it in {SYSCTL_DROP_IN}: \
             `net.ipv4.ip_local_reserved_ports = {value}`. The value replaces the whole list; it \
             is per network namespace, and covers IPv6 too."
        )
    } else {
        let which = if ns.is_own {
            "this tool runs in its own network namespace, not the host's"
        } else {
            "it lasts until the namespace goes"
        };
        format!(
            "Not in the host's /etc/sysctl.d ({which}): persist it where the namespace is made, \
             e.g. `docker run --sysctl net.ipv4.ip_local_reserved_ports={value}`, a pod's \
             securityContext.sysctls, or the script that runs `ip netns add`."
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::changes::fixtures::{listener, ns, snap, sock};
    use crate::core::socket::TcpState;

    fn r(text: &str) -> ReservedPorts {
        ReservedPorts::parse(text).unwrap()
    }

    #[test]
    fn merging_keeps_what_is_reserved_and_joins_neighbours_and_overlaps() {
        assert_eq!(merged(&r(""), &[44600]).to_sysctl_value(), "44600");
        assert_eq!(
            merged(&r("1,2-4,44600"), &[44601, 50000]).to_sysctl_value(),
            "1-4,44600-44601,50000"
        );
        // Inside an existing range: nothing new.
        assert_eq!(
            merged(&r("40000-45000"), &[44600, 44600]).to_sysctl_value(),
            "40000-45000"
        );
        // Bridging two ranges makes one.
        assert_eq!(merged(&r("10-19,21-30"), &[20]).to_sysctl_value(), "10-30");
        assert_eq!(
            merged(&r("65535"), &[65534, 0]).to_sysctl_value(),
            "0,65534-65535"
        );
    }

    #[test]
    fn one_line_per_namespace_covers_its_risky_listeners_only() {
        let names = vec![ns(1, "host", "80,44000-44010"), ns(2, "web", "")];
        let mut in_web = listener(44602, None);
        in_web.netns = 1;
        let sc = sock(
            "127.0.0.1:44700",
            "127.0.0.1:44700",
            TcpState::Established,
            None,
        );
        let s = snap(
            0,
            names,
            vec![
                listener(44600, None),
                listener(44601, None),
                listener(44600, None),
                listener(22, None),
                listener(44005, None),
                sc,
                in_web,
            ],
        );
        let all = reserve_all_per_namespace(&s);
        assert_eq!(all.len(), 2, "{all:#?}");
        assert_eq!(all[0].ports, vec![44600, 44601]);
        assert_eq!(
            all[0].command,
            "sysctl -w net.ipv4.ip_local_reserved_ports=80,44000-44010,44600-44601"
        );
        assert_eq!(all[1].netns, 1);
        assert_eq!(all[1].value(), "44602");
        assert!(
            all[1]
                .command
                .ends_with("sysctl -w net.ipv4.ip_local_reserved_ports=44602")
        );
        assert!(reserve_all(&snap(0, vec![ns(1, "host", "")], vec![]), 0).is_none());
        assert!(reserve_all(&s, 9).is_none());
    }

    #[test]
    fn persisting_names_the_host_drop_in_only_for_the_host() {
        let host = Namespace {
            is_host: true,
            is_own: true,
            ..Namespace::default()
        };
        assert!(persist_note(&host, "44600").contains(SYSCTL_DROP_IN));
        let own_private = Namespace {
            is_host: false,
            is_own: true,
            ..Namespace::default()
        };
        let note = persist_note(&own_private, "44600");
        assert!(note.contains("Not in the host's /etc/sysctl.d"), "{note}");
        assert!(note.contains("its own network namespace"), "{note}");
        assert!(note.contains("ip netns add"), "{note}");
        assert!(!note.contains(SYSCTL_DROP_IN));
    }
}
