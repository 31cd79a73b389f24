//! Snapshots built by hand for the tests of the change diff and of what
//! is made of it (the dashboard's event log).

use std::sync::Arc;

use chrono::{DateTime, Local, TimeZone};

use crate::core::ports::{PortPolicy, ReservedPorts};
use crate::core::snapshot::{Namespace, Owner, ProcessInfo, Snapshot, Socket, UnknownOwner};
use crate::core::socket::{Family, SocketEntry, TcpState, classify};

pub(crate) fn t(sec: u32) -> DateTime<Local> {
    Local
        .with_ymd_and_hms(2024, 5, 1, 12, 0, sec)
        .single()
        .expect("an unambiguous local time")
}

pub(crate) fn ns(id: u64, name: &str, reserved: &str) -> Namespace {
    Namespace {
        id,
        name: name.into(),
        is_own: id == 1,
        policy: PortPolicy {
            reserved: ReservedPorts::parse(reserved).unwrap(),
            ..PortPolicy::default()
        },
        ..Namespace::default()
    }
}

pub(crate) fn process(pid: i32, name: &str) -> Owner {
    Owner::Process(Arc::new(ProcessInfo {
        pid,
        name: name.into(),
        cmdline: format!("{name} --serve"),
        user: "alice".into(),
    }))
}

pub(crate) fn sock(
    local: &str,
    remote: &str,
    state: TcpState,
    owner: Option<(i32, &str)>,
) -> Socket {
    let local: std::net::SocketAddr = local.parse().unwrap();
    Socket {
        entry: SocketEntry {
            family: if local.is_ipv4() {
                Family::Ipv4
            } else {
                Family::Ipv6
            },
            local,
            remote: remote.parse().unwrap(),
            state,
            inode: 1,
            uid: 0,
        },
        finding: None,
        owner: match owner {
            Some((pid, name)) => process(pid, name),
            None => Owner::Unknown(UnknownOwner::KernelHeld),
        },
        user: "root".into(),
        netns: 0,
    }
}

pub(crate) fn listener(port: u16, owner: Option<(i32, &str)>) -> Socket {
    sock(
        &format!("0.0.0.0:{port}"),
        "0.0.0.0:0",
        TcpState::Listen,
        owner,
    )
}

pub(crate) fn snap(at: u32, namespaces: Vec<Namespace>, mut sockets: Vec<Socket>) -> Snapshot {
    for s in &mut sockets {
        s.finding = classify(&s.entry, &namespaces[s.netns].policy);
    }
    Snapshot {
        taken_at: t(at),
        scan_micros: 1,
        namespaces,
        sockets,
        errors: vec![],
        visibility_note: None,
    }
}

pub(crate) fn host() -> Vec<Namespace> {
    vec![ns(1, "host", "")]
}
