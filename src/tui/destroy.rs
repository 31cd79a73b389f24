//! Carries out the dashboard's [`super::app::Request::FreePort`]: destroys
//! that one self-connected socket through `sock_diag` ([`SockDestroyer`]),
//! in its own network namespace, and turns the answer into data for the
//! overlay ([`DestroyOutcome`]).
//!
//! It runs on the event loop's thread, between two frames: a lookup and a
//! destroy are two netlink requests that the kernel handles inside the
//! `sendmsg` call itself (netlink to the kernel is synchronous), so the
//! replies are queued before the reads start, well under a millisecond; a
//! namespace other than the own one adds one short-lived thread that joins
//! it. Even a kernel that never answered would hold the screen at most for
//! the destroyer's read timeout (2 s), once, after the user said yes.

use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use super::panes::confirm::{DestroyOutcome, DestroyTarget, NsHandle};
use crate::sys::sockdestroy::{DestroyError, SockDestroyer};

/// Destroys `target` and nothing else (the destroyer checks the 4-tuple
/// and the inode against the kernel's table first).
pub fn free_port(target: &DestroyTarget) -> DestroyOutcome {
    let done = open_destroyer(&target.netns)
        .and_then(|mut d| d.destroy_self_connected(target.addr, target.addr, target.inode));
    match done {
        Ok(_) => DestroyOutcome::Destroyed,
        Err(DestroyError::NotPermitted { .. }) => DestroyOutcome::NotPermitted,
        Err(DestroyError::NotSupported { .. }) => DestroyOutcome::NotSupported,
        Err(DestroyError::Gone { .. }) => DestroyOutcome::Gone,
        Err(e) => DestroyOutcome::Refused(e.to_string()),
    }
}

/// A destroyer in the target's namespace: the thread's own, or one
/// entered through a handle that still refers to it (same inode).
fn open_destroyer(ns: &NsHandle) -> Result<SockDestroyer, DestroyError> {
    if ns.own {
        return SockDestroyer::open().map_err(DestroyError::Io);
    }
    let mut handles: Vec<PathBuf> = Vec::new();
    handles.extend(
        ns.ip_netns
            .iter()
            .map(|n| PathBuf::from("/run/netns").join(n)),
    );
    handles.extend(ns.pid.map(|p| PathBuf::from(format!("/proc/{p}/ns/net"))));
    for path in &handles {
        let Ok(file) = File::open(path) else { continue };
        if ns.id != 0 && file.metadata().is_ok_and(|m| m.ino() == ns.id) {
            return SockDestroyer::open_in(&file);
        }
    }
    Err(DestroyError::Namespace(format!(
        "network namespace {} ({}) is gone, or no process in it can be reached",
        ns.name, ns.id
    )))
}
