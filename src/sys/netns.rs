//! Network namespaces: which ones exist on the host, and what people call
//! them.
//!
//! Discovery walks `/proc/PID/ns/net` once: the link's target
//! (`net:[4026531840]`) names the namespace by its inode. These are the
//! building blocks; [`super::namespaces`] puts them together for a scan,
//! and [`super::live`] reads each namespace's tables and policy.
//!
//! Only thread-group leaders are walked (`/proc/PID`, not
//! `/proc/PID/task/TID`): a thread that joined another namespace on its own
//! is not seen through it, but a namespace kept alive by `ip netns add` is
//! found through its bind mount in `/run/netns` (see [`named_namespaces`]).

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Where `ip netns add NAME` bind-mounts the namespaces it names.
pub const RUN_NETNS: &str = "/run/netns";

/// How many of a namespace's processes are kept as candidates for reading
/// its tables (the first may exit before its tables are read).
const MAX_PIDS: usize = 4;

/// One network namespace seen through its processes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The namespace's inode number.
    pub id: u64,
    /// A few of its processes, lowest pid first.
    pub pids: Vec<i32>,
    /// How many processes it holds.
    pub processes: usize,
}

/// The namespaces found by one walk over `/proc`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Discovery {
    /// In order of their lowest pid.
    pub namespaces: Vec<Found>,
    /// Processes whose `/proc/PID/ns/net` could not be read (permission
    /// denied), lowest pid first.
    pub denied: Vec<i32>,
}

impl Discovery {
    pub fn get(&self, id: u64) -> Option<&Found> {
        self.namespaces.iter().find(|f| f.id == id)
    }
}

/// Parses a `/proc/.../ns/net` link target (`net:[4026531840]`).
pub fn parse_ns_link(target: &str) -> Option<u64> {
    target
        .strip_prefix("net:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// The namespace inode behind a `/proc/.../ns/net` link.
pub fn ns_link_inode(link: &Path) -> std::io::Result<u64> {
    let target = std::fs::read_link(link)?;
    target
        .to_str()
        .and_then(parse_ns_link)
        .ok_or_else(|| std::io::Error::other(format!("unexpected link target {target:?}")))
}

/// Walks `proc_root/[pid]/ns/net` and groups the processes by network
/// namespace. Processes that exit during the walk are skipped.
pub fn discover(proc_root: &Path) -> Discovery {
    let mut pids: Vec<i32> = match std::fs::read_dir(proc_root) {
        Ok(dir) => dir
            .flatten()
            .filter_map(|d| d.file_name().to_str()?.parse::<i32>().ok())
            .collect(),
        Err(_) => return Discovery::default(),
    };
    // procfs lists pids in order already; fixture trees do not.
    pids.sort_unstable();
    let mut out = Discovery::default();
    let mut index: HashMap<u64, usize> = HashMap::new();
    let mut link = proc_root.to_path_buf();
    for pid in pids {
        link.clear();
        link.push(proc_root);
        link.push(pid.to_string());
        link.push("ns/net");
        match ns_link_inode(&link) {
            Ok(id) => {
                let i = *index.entry(id).or_insert_with(|| {
                    out.namespaces.push(Found {
                        id,
                        pids: Vec::new(),
                        processes: 0,
                    });
                    out.namespaces.len() - 1
                });
                let f = &mut out.namespaces[i];
                f.processes += 1;
                if f.pids.len() < MAX_PIDS {
                    f.pids.push(pid);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => out.denied.push(pid),
            Err(_) => {}
        }
    }
    out
}

/// The inode of a namespace's `net/tcp` file. procfs gives each
/// namespace's `tcp` entry its own inode, and `/proc/PID/net/tcp` can be
/// stat'ed where `/proc/PID/ns/net` cannot be read (no ptrace rights), so
/// this tells two processes' namespaces apart without their ids.
pub fn tcp_file_inode(net_dir: &Path) -> Option<u64> {
    std::fs::metadata(net_dir.join("tcp")).ok().map(|m| m.ino())
}

/// The `ip netns` names: every entry of `dir` (normally `/run/netns`) with
/// the namespace inode it is bound to. Entries on another device than
/// `nsfs_dev` (a stale file whose bind mount is gone) are skipped when a
/// device is given.
pub fn named_namespaces(dir: &Path, nsfs_dev: Option<u64>) -> Vec<(u64, String)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<(u64, String)> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let meta = std::fs::metadata(e.path()).ok()?;
            if nsfs_dev.is_some_and(|dev| dev != meta.dev()) {
                return None;
            }
            Some((meta.ino(), name))
        })
        .collect();
    out.sort_by(|a, b| a.1.cmp(&b.1));
    out
}

/// The device number of the namespace filesystem (nsfs), from a link that
/// is known to be readable (the tool's own `/proc/thread-self/ns/net`).
pub fn nsfs_dev(own_link: &Path) -> Option<u64> {
    std::fs::metadata(own_link).ok().map(|m| m.dev())
}

/// A short label for a process: `pid 1234 (nginx)`.
pub fn process_label(pid: i32, program: &str) -> String {
    if program.is_empty() {
        format!("pid {pid}")
    } else {
        format!("pid {pid} ({program})")
    }
}

/// How many characters of a container id to show: Docker's short id.
const SHORT_ID: usize = 12;

/// The short form of a container id, when `s` looks like one (hex, at
/// least 12 characters).
fn short_container_id(s: &str) -> Option<&str> {
    (s.len() >= SHORT_ID && s.bytes().all(|b| b.is_ascii_hexdigit())).then(|| &s[..SHORT_ID])
}

/// Undoes systemd's unit name escaping of `-` (`\x2d`).
fn systemd_unescape(s: &str) -> String {
    s.replace("\\x2d", "-")
}

/// A container hint from the text of `/proc/PID/cgroup` (v1 or v2):
/// `docker:3f2a1b4c5d6e`, `containerd:…`, `crio:…`, `podman:…`,
/// `kubepods:pod5b4f3c2a` (a pod shares one namespace among its
/// containers, so the pod is named), `lxc:NAME`, `machine:NAME`
/// (systemd-nspawn). `None` when the process is in no recognisable
/// container (or the cgroup namespace hides the path).
pub fn container_hint(cgroup: &str) -> Option<String> {
    cgroup.lines().find_map(|line| {
        let path = line.splitn(3, ':').nth(2)?;
        hint_from_path(path)
    })
}

fn hint_from_path(path: &str) -> Option<String> {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    // Kubernetes first: the pod owns the namespace, whatever the runtime.
    if parts.iter().any(|p| p.starts_with("kubepods")) {
        for p in &parts {
            // cgroupfs driver: `pod5b4f3c2a-1d2e-...`; systemd driver:
            // `kubepods-burstable-pod5b4f3c2a_1d2e_....slice`.
            let uid = p
                .strip_suffix(".slice")
                .and_then(|s| s.rsplit_once("-pod").map(|(_, u)| u))
                .or_else(|| p.strip_prefix("pod"));
            if let Some(uid) = uid {
                let first = uid.split(['-', '_']).next().unwrap_or(uid);
                if !first.is_empty() && first.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Some(format!("kubepods:pod{first}"));
                }
            }
        }
    }
    for (i, p) in parts.iter().enumerate() {
        let unit = p.strip_suffix(".scope").unwrap_or(p);
        for (prefix, runtime) in [
            ("docker-", "docker"),
            ("cri-containerd-", "containerd"),
            ("crio-", "crio"),
            ("libpod-", "podman"),
        ] {
            if let Some(id) = unit.strip_prefix(prefix).and_then(short_container_id) {
                return Some(format!("{runtime}:{id}"));
            }
        }
        // cgroupfs drivers: `/docker/<id>`, `/libpod_parent/libpod-<id>` (above).
        if *p == "docker"
            && let Some(id) = parts.get(i + 1).and_then(|n| short_container_id(n))
        {
            return Some(format!("docker:{id}"));
        }
        if let Some(name) = p.strip_prefix("lxc.payload.") {
            return Some(format!("lxc:{name}"));
        }
        if *p == "lxc"
            && let Some(name) = parts.get(i + 1)
        {
            return Some(format!("lxc:{name}"));
        }
        if i > 0
            && parts[i - 1] == "machine.slice"
            && let Some(name) = unit.strip_prefix("machine-")
        {
            return Some(format!("machine:{}", systemd_unescape(name)));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ns_links() {
        assert_eq!(parse_ns_link("net:[4026531840]"), Some(4026531840));
        assert_eq!(parse_ns_link("mnt:[4026531840]"), None);
        assert_eq!(parse_ns_link("net:[]"), None);
    }

    #[test]
    fn container_hints_from_cgroup_text() {
        let id = "3f2a1b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708";
        let cases: &[(String, Option<&str>)] = &[
            // Docker, cgroup v2 with the systemd driver.
            (
                format!("0::/system.slice/docker-{id}.scope\n"),
                Some("docker:3f2a1b4c5d6e"),
            ),
            // Docker, cgroup v1 with the cgroupfs driver: several lines.
            (
                format!("12:pids:/docker/{id}\n11:memory:/docker/{id}\n0::/\n"),
                Some("docker:3f2a1b4c5d6e"),
            ),
            // Podman, rootless, under the user's systemd.
            (
                format!(
                    "0::/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-{id}.scope/container\n"
                ),
                Some("podman:3f2a1b4c5d6e"),
            ),
            // Podman, cgroupfs driver.
            (
                format!("0::/libpod_parent/libpod-{id}\n"),
                Some("podman:3f2a1b4c5d6e"),
            ),
            // Plain containerd through CRI, not under kubepods.
            (
                format!("0::/system.slice/cri-containerd-{id}.scope\n"),
                Some("containerd:3f2a1b4c5d6e"),
            ),
            // Kubernetes, systemd driver: the pod is named, not the container.
            (
                format!(
                    "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod5b4f3c2a_1d2e_4f5a_9b8c_7d6e5f4a3b2c.slice/cri-containerd-{id}.scope\n"
                ),
                Some("kubepods:pod5b4f3c2a"),
            ),
            // Kubernetes, cgroupfs driver, v1.
            (
                format!(
                    "4:memory:/kubepods/besteffort/pod5b4f3c2a-1d2e-4f5a-9b8c-7d6e5f4a3b2c/{id}\n"
                ),
                Some("kubepods:pod5b4f3c2a"),
            ),
            // Guaranteed pods sit directly under kubepods.slice.
            (
                "0::/kubepods.slice/kubepods-pod0a1b2c3d_1111_2222_3333_444455556666.slice/crio-aaaaaaaaaaaaaaaa.scope\n"
                    .to_string(),
                Some("kubepods:pod0a1b2c3d"),
            ),
            ("0::/lxc.payload.web1/init.scope\n".to_string(), Some("lxc:web1")),
            (
                "0::/machine.slice/machine-build\\x2dbox.scope/payload\n".to_string(),
                Some("machine:build-box"),
            ),
            // Not containers.
            ("0::/\n".to_string(), None),
            ("0::/user.slice/user-1000.slice/session-2.scope\n".to_string(), None),
            (
                "0::/system.slice/docker.service\n".to_string(),
                None,
            ),
            // A short, non-hex tail is not a container id.
            ("0::/system.slice/docker-compose.scope\n".to_string(), None),
            (
                "4:memory:/process_api/28dc7f67f617c1dc071fd8c953213405\n".to_string(),
                None,
            ),
            (String::new(), None),
        ];
        for (text, want) in cases {
            assert_eq!(container_hint(text).as_deref(), *want, "{text}");
        }
    }

    #[test]
    fn process_labels() {
        assert_eq!(process_label(1234, "nginx"), "pid 1234 (nginx)");
        assert_eq!(process_label(7, ""), "pid 7");
    }

    #[test]
    fn discovery_groups_processes_by_namespace() {
        let root = tempfile::tempdir().unwrap();
        let mk = |pid: i32, target: &str| {
            let d = root.path().join(pid.to_string()).join("ns");
            std::fs::create_dir_all(&d).unwrap();
            std::os::unix::fs::symlink(target, d.join("net")).unwrap();
        };
        mk(300, "net:[20]");
        mk(1, "net:[10]");
        mk(42, "net:[20]");
        mk(7, "net:[10]");
        std::fs::create_dir_all(root.path().join("55")).unwrap(); // exited: no ns
        std::fs::create_dir_all(root.path().join("sys")).unwrap(); // not a pid
        let d = discover(root.path());
        assert_eq!(
            d.namespaces,
            vec![
                Found {
                    id: 10,
                    pids: vec![1, 7],
                    processes: 2
                },
                Found {
                    id: 20,
                    pids: vec![42, 300],
                    processes: 2
                },
            ]
        );
        assert!(d.denied.is_empty());
        assert_eq!(d.get(20).unwrap().pids[0], 42);
    }
}
