//! What the dashboard's state and the repro pane tell each other: the
//! facts of the latest scan the pane needs (policy, ports in use, a
//! listener or a self-connect on the target), the runner's answers, and
//! the pane's changes with their requests (none in a replay).

use std::net::SocketAddr;

use super::{App, Request};
use crate::core::ports::PortPolicy;
use crate::core::snapshot::Socket;
use crate::repro::explain::TargetFacts;
use crate::repro::facts::{held_by, listener_on};
use crate::tui::pane::PaneId;
use crate::tui::repro::{ReproEffect, ReproRequest, ReproUpdate, ScanFacts};

impl App {
    /// The sockets of the tool's own namespace in the latest scan.
    pub(super) fn own_sockets(&self) -> impl Iterator<Item = &Socket> {
        let snap = self.latest();
        let own = snap.and_then(|s| s.namespaces.iter().position(|n| n.is_own));
        snap.into_iter()
            .flat_map(|s| s.sockets.iter())
            .filter(move |s| Some(s.netns) == own)
    }

    /// What the repro pane needs of the latest scan: the port policy and
    /// the ports in use in the tool's own namespace.
    pub fn scan_facts(&self) -> ScanFacts {
        let Some(snap) = self.latest() else {
            return ScanFacts::default();
        };
        let mut used: Vec<u16> = self.own_sockets().map(|s| s.entry.local.port()).collect();
        used.sort_unstable();
        used.dedup();
        ScanFacts {
            policy: snap
                .namespaces
                .iter()
                .find(|n| n.is_own)
                .map(|n| n.policy.clone()),
            used,
        }
    }

    /// The port policy of the tool's own namespace (the kernel defaults
    /// before the first scan).
    pub fn own_policy(&self) -> PortPolicy {
        self.latest()
            .and_then(|s| s.namespaces.iter().find(|n| n.is_own))
            .map(|n| n.policy.clone())
            .unwrap_or_default()
    }

    /// What the latest scan says about a repro target: the policy, and a
    /// socket connected to itself that holds it.
    pub fn target_facts(&self, target: SocketAddr) -> TargetFacts {
        TargetFacts {
            policy: self.own_policy(),
            held_by: held_by(self.own_sockets().map(|s| &s.entry), target),
        }
    }

    /// The listener a connect() to `target` would reach in the tool's own
    /// namespace (latest scan), with its owner's name and pid when known:
    /// the repro pane warns as soon as the port is typed.
    pub fn listener_on(&self, target: SocketAddr) -> Option<(SocketAddr, Option<(String, i32)>)> {
        let local = listener_on(self.own_sockets().map(|s| &s.entry), target)?;
        let owner = self
            .own_sockets()
            .find(|s| {
                s.entry.local == local && s.entry.state == crate::core::socket::TcpState::Listen
            })
            .and_then(|s| s.owner.process())
            .map(|p| (p.name.clone(), p.pid));
        Some((local, owner))
    }

    /// Takes an answer of the repro runner.
    pub fn on_repro(&mut self, update: ReproUpdate) {
        // A replayed run shows as it did: the pane opens when it starts.
        let opens = self.is_replay()
            && !self.repro.is_open()
            && matches!(update, ReproUpdate::Started { .. });
        if opens {
            self.apply_repro(ReproEffect::Open);
        }
        if self.repro.update(update) {
            self.outbox.push(Request::Rescan);
        }
    }

    pub(super) fn push_repro(&mut self, requests: Vec<ReproRequest>) {
        // A replay's runs come from the recording; the runner gets nothing
        // (not even a port suggestion, which binds a socket).
        if self.is_replay() {
            return;
        }
        self.outbox.extend(requests.into_iter().map(Request::Repro));
    }

    /// A change of the repro pane; the pane is in the Tab order while it
    /// is open.
    pub(super) fn apply_repro(&mut self, effect: ReproEffect) {
        if let Some(what) = crate::tui::record::refused(effect)
            && let Some(mark) = self.mark.as_mut().filter(|m| m.is_replay())
        {
            mark.refuse(what, self.now);
            return;
        }
        let requests = self.repro.apply(effect, &self.scan_facts());
        self.push_repro(requests);
        if effect == ReproEffect::Open {
            self.zoom = None;
            self.help = false;
            self.focus = PaneId::Repro;
        }
        let listed = self.pane_order.contains(&PaneId::Repro);
        match (self.repro.is_open(), listed) {
            (true, false) => self.pane_order.push(PaneId::Repro),
            (false, true) => {
                self.pane_order.retain(|&p| p != PaneId::Repro);
                if self.focus == PaneId::Repro {
                    self.focus = PaneId::Sockets;
                }
                if self.zoom == Some(PaneId::Repro) {
                    self.zoom = None;
                }
            }
            _ => {}
        }
    }
}
