//! Changes in how the scan went: the watch starting, whole scans failing
//! and working again, and the errors of a scan that went on without
//! something (each reported when it starts and when it clears).

use std::collections::BTreeSet;

use serde::Serialize;

use super::ChangeKind;
use crate::core::snapshot::{ScanError, Snapshot};

/// What the first snapshot held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct WatchStarted {
    pub sockets: usize,
    pub self_connects: usize,
    pub risky_listeners: usize,
}

impl WatchStarted {
    pub fn of(snap: &Snapshot) -> WatchStarted {
        let c = snap.counts();
        WatchStarted {
            sockets: c.sockets,
            self_connects: c.self_connects,
            risky_listeners: c.high_listeners + c.medium_listeners,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScanFailed {
    pub message: String,
}

/// An error as a sortable key: what was read, and what went wrong.
type ErrorKey = (String, String);

fn key(e: &ScanError) -> ErrorKey {
    (e.source.clone(), e.message.clone())
}

fn error(k: ErrorKey) -> ScanError {
    ScanError::new(k.0, k.1)
}

#[derive(Debug, Default)]
pub(super) struct ScanErrors {
    failing: bool,
    current: BTreeSet<ErrorKey>,
}

impl ScanErrors {
    pub(super) fn failed(&mut self, message: &str) -> Option<ChangeKind> {
        if self.failing {
            return None;
        }
        self.failing = true;
        Some(ChangeKind::ScanFailed(ScanFailed {
            message: message.to_string(),
        }))
    }

    /// A snapshot arrived: if scans were failing, they work again.
    pub(super) fn recovered(&mut self, out: &mut Vec<ChangeKind>) {
        if std::mem::take(&mut self.failing) {
            out.push(ChangeKind::ScanRecovered);
        }
    }

    /// Errors that cleared, then new ones, each in order.
    pub(super) fn observe(&mut self, snap: &Snapshot, out: &mut Vec<ChangeKind>) {
        let now: BTreeSet<ErrorKey> = snap.errors.iter().map(key).collect();
        let cleared = self.current.difference(&now).cloned();
        out.extend(cleared.map(|k| ChangeKind::ScanErrorCleared(error(k))));
        let fresh = now.difference(&self.current).cloned();
        out.extend(fresh.map(|k| ChangeKind::ScanError(error(k))));
        self.current = now;
    }
}
