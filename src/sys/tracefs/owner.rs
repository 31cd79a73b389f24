//! Completes a traced task into its process from `/proc`, while it lives:
//! process id, names, command line, user and network namespace.
//!
//! The one place live catch reads process facts: through
//! [`crate::sys::process`], like the socket owners.

use std::path::Path;

use crate::core::live::{Owner, Task};
use crate::sys::netns::ns_link_inode;
use crate::sys::process::ProcessFacts;

/// The process of `task`, or `None` when it is gone or its id now names
/// another thread (its `comm` differs from the one the kernel recorded).
/// `/proc/TID` answers for any thread, listed or not.
pub fn complete(proc_root: &Path, task: &Task) -> Option<Owner> {
    let tdir = proc_root.join(task.tid.to_string());
    let status = std::fs::read_to_string(tdir.join("status")).ok()?;
    if let Some(comm) = &task.comm {
        let now = std::fs::read_to_string(tdir.join("comm")).ok()?;
        if now.trim_end_matches('\n') != comm {
            return None;
        }
    }
    let pid = status_field(&status, "Tgid:").unwrap_or(task.tid);
    let uid = status_field(&status, "Uid:").and_then(|u| u32::try_from(u).ok());
    // The namespace is the thread's own: a thread may have left its
    // process's namespace (unshare, setns).
    let netns = ns_link_inode(&tdir.join("ns/net")).ok();
    // The uid is the thread's, from the status already read.
    let facts = ProcessFacts::read(&proc_root.join(pid.to_string()), false);
    let (name, cmdline) = (facts.program(), facts.command_line());
    let comm = facts.comm;
    Some(Owner {
        pid,
        tid: task.tid,
        comm,
        name,
        cmdline,
        uid,
        netns,
    })
}

/// The process id of a thread, from its `status` (`None` when gone).
pub fn tgid_of(proc_root: &Path, tid: i32) -> Option<i32> {
    let status = std::fs::read_to_string(proc_root.join(tid.to_string()).join("status")).ok()?;
    status_field(&status, "Tgid:")
}

/// The first number after `key` in a `/proc/PID/status` text.
fn status_field(status: &str, key: &str) -> Option<i32> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completes_this_thread_and_refuses_a_wrong_comm() {
        let tid = nix::unistd::gettid().as_raw();
        let comm = std::fs::read_to_string("/proc/thread-self/comm").unwrap();
        let task = Task {
            tid,
            comm: Some(comm.trim_end().to_string()),
        };
        let o = complete(Path::new("/proc"), &task).expect("this thread lives");
        assert_eq!(o.pid, std::process::id() as i32);
        assert_eq!(o.tid, tid);
        assert_eq!(o.uid, Some(nix::unistd::getuid().as_raw()));
        let own_ns = ns_link_inode(Path::new("/proc/thread-self/ns/net")).unwrap();
        assert_eq!(o.netns, Some(own_ns));
        assert!(!o.cmdline.is_empty() && !o.name.is_empty());
        let other = Task {
            tid,
            comm: Some("not-this-one".into()),
        };
        assert_eq!(complete(Path::new("/proc"), &other), None);
        assert_eq!(
            tgid_of(Path::new("/proc"), tid),
            Some(std::process::id() as i32)
        );
        assert_eq!(tgid_of(Path::new("/proc"), i32::MAX), None);
    }
}
