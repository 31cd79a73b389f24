//! Does what can only be done from inside a network namespace.
//!
//! `/proc/sys/net/...` shows the namespace of the thread that looks the
//! file up, whatever `/proc/PID` path leads there, so another namespace's
//! `ip_local_port_range` and `ip_local_reserved_ports` are read by a thread
//! that has joined it with `setns(CLONE_NEWNET)`; a netlink socket, too,
//! belongs to the namespace it is created in. That thread is a scoped
//! helper that visits every namespace asked for in turn and then exits: the
//! caller's thread never changes namespace (checked on Linux 6.18: the
//! helper sees the joined namespace's values even after having read its
//! own; the caller's are unchanged).

use std::os::fd::AsFd;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use nix::sched::{CloneFlags, setns};

use super::diag::DiagSocket;
use super::procnet::{BOTH, NetFiles, read_policy, read_tables};
use crate::core::ports::PortPolicy;
use crate::core::snapshot::ScanError;
use crate::core::socket::SocketEntry;

/// One namespace to visit.
#[derive(Debug, Clone)]
pub struct JoinJob {
    /// The namespace's inode: a handle that opens to another inode (a pid
    /// reused since discovery) is skipped.
    pub id: u64,
    /// Files that refer to the namespace, tried in order:
    /// `/proc/PID/ns/net` of its processes, `/run/netns/NAME`.
    pub handles: Vec<PathBuf>,
    /// Read its port policy.
    pub policy: bool,
    /// Open a `sock_diag` socket in it.
    pub diag: bool,
    /// When no `sock_diag` socket is to be had, read its TCP tables through
    /// `/proc/thread-self/net` (for a namespace no process is in).
    pub tables_without_diag: bool,
}

/// What was done inside one namespace.
#[derive(Debug)]
pub struct Inside {
    /// The policy, with what could not be read of it.
    pub policy: Option<(PortPolicy, Vec<ScanError>)>,
    pub diag: Option<std::io::Result<DiagSocket>>,
    /// Both tables, when read; `None` when neither could be read.
    pub tables: Option<Vec<SocketEntry>>,
    /// Problems with single table files (the rest was read).
    pub errors: Vec<ScanError>,
}

/// The namespace could not be joined at all: why.
pub type JoinResult = Result<Inside, String>;

/// Visits each job's namespace on one short-lived helper thread. The
/// results come back in the jobs' order.
pub fn read_inside(jobs: &[JoinJob]) -> Vec<JoinResult> {
    if jobs.is_empty() {
        return Vec::new();
    }
    let spawned = std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("netns-reader".into())
            .spawn_scoped(scope, || jobs.iter().map(visit).collect::<Vec<_>>())
            .map(|handle| handle.join())
    });
    match spawned {
        Ok(Ok(results)) => results,
        Ok(Err(_)) => failed(jobs, "the namespace reader thread panicked"),
        Err(e) => failed(
            jobs,
            &format!("cannot start the namespace reader thread: {e}"),
        ),
    }
}

fn failed(jobs: &[JoinJob], why: &str) -> Vec<JoinResult> {
    jobs.iter().map(|_| Err(why.to_string())).collect()
}

/// Runs on the helper thread only: it changes the thread's namespace.
fn visit(job: &JoinJob) -> JoinResult {
    join(job)?;
    let files = NetFiles::this_thread();
    let policy = job.policy.then(|| {
        let mut errors = Vec::new();
        (read_policy(&files, &mut errors), errors)
    });
    let mut errors = Vec::new();
    let diag = job.diag.then(DiagSocket::open);
    let mut tables = None;
    if job.tables_without_diag && !matches!(diag, Some(Ok(_))) {
        tables = read_tables(&files, BOTH, &mut errors);
    }
    Ok(Inside {
        policy,
        diag,
        tables,
        errors,
    })
}

/// Joins the job's namespace through the first handle that still refers to it.
fn join(job: &JoinJob) -> Result<(), String> {
    let mut last = String::from("no process or bind mount refers to it any more");
    for path in &job.handles {
        let file = match std::fs::File::open(path) {
            Ok(f) => f,
            Err(e) => {
                last = format!("{}: {e}", path.display());
                continue;
            }
        };
        match file.metadata() {
            Ok(m) if m.ino() == job.id => {}
            Ok(_) => {
                last = format!("{}: now refers to another namespace", path.display());
                continue;
            }
            Err(e) => {
                last = format!("{}: {e}", path.display());
                continue;
            }
        }
        return setns(file.as_fd(), CloneFlags::CLONE_NEWNET)
            .map_err(|e| format!("setns({}): {e}", path.display()));
    }
    Err(last)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::netns::ns_link_inode;

    #[test]
    fn joining_reads_the_policy_and_leaves_the_calling_thread_alone() {
        let link = std::path::Path::new("/proc/thread-self/ns/net");
        let before = std::fs::read_link(link).unwrap();
        let own = ns_link_inode(std::path::Path::new("/proc/self/ns/net")).unwrap();
        let r = read_inside(&[
            JoinJob {
                id: own,
                handles: vec![
                    PathBuf::from("/nonexistent/ns/net"),
                    "/proc/self/ns/net".into(),
                ],
                policy: true,
                diag: true,
                tables_without_diag: true,
            },
            JoinJob {
                id: own,
                handles: vec![PathBuf::from("/nonexistent/ns/net")],
                policy: true,
                diag: false,
                tables_without_diag: false,
            },
            JoinJob {
                id: own + 1,
                handles: vec![PathBuf::from("/proc/self/ns/net")],
                policy: true,
                diag: false,
                tables_without_diag: false,
            },
        ]);
        assert_eq!(r.len(), 3);
        if nix::unistd::geteuid().is_root() {
            let inside = r[0].as_ref().expect("root joins its own namespace");
            let mut errors = vec![];
            let here = read_policy(&NetFiles::own("/proc".as_ref()), &mut errors);
            assert_eq!(inside.policy, Some((here, errors)));
            assert!(matches!(inside.diag, Some(Ok(_))), "{:?}", inside.diag);
            assert!(inside.tables.is_none(), "no table read when diag works");
        } else {
            assert!(r[0].as_ref().unwrap_err().contains("setns"), "{:?}", r[0]);
        }
        assert!(r[1].as_ref().unwrap_err().contains("/nonexistent"));
        assert!(r[2].as_ref().unwrap_err().contains("another namespace"));
        assert_eq!(std::fs::read_link(link).unwrap(), before);
    }
}
