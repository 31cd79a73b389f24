//! One network namespace's files under a `/proc` root: its TCP tables (both
//! families, read through [`super::tcp_table`]), what its `sockstat` says
//! they hold, and its port sysctls. The root is a parameter so that tests
//! can point it at fixture trees.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::diag::{Expect, expect};
use super::tcp_table::{Extent, io_message, read_tcp_file};
use crate::core::ports::{PortPolicy, PortRange, ReservedPorts};
use crate::core::snapshot::ScanError;
use crate::core::socket::{Family, SocketEntry};
use crate::core::words::group;

/// The longest sysctl value read. The longest real one, a reserved list of
/// every other port, is about 190 KB.
const MAX_SYSCTL: u64 = 1 << 20;

/// The paths of one network namespace's files under a `/proc` root.
#[derive(Debug, Clone)]
pub struct NetFiles {
    /// `/proc/net`, `/proc/PID/net` or `/proc/thread-self/net`.
    pub net_dir: PathBuf,
    /// `/proc/sys/net/ipv4`.
    pub sysctl_dir: PathBuf,
}

impl NetFiles {
    /// The files of the namespace this process runs in.
    pub fn own(proc_root: &Path) -> NetFiles {
        NetFiles {
            net_dir: proc_root.join("net"),
            sysctl_dir: proc_root.join("sys/net/ipv4"),
        }
    }

    /// The files of the namespace the calling thread is in (on the live
    /// kernel: a thread that joined another namespace sees that one's).
    pub fn this_thread() -> NetFiles {
        NetFiles {
            net_dir: PathBuf::from("/proc/thread-self/net"),
            sysctl_dir: PathBuf::from("/proc/sys/net/ipv4"),
        }
    }

    /// The tables of a process's namespace (no sysctls: those show the
    /// reader's namespace, whatever the path).
    pub fn of_pid(proc_root: &Path, pid: i32) -> NetFiles {
        NetFiles {
            net_dir: proc_root.join(pid.to_string()).join("net"),
            sysctl_dir: PathBuf::new(),
        }
    }

    pub fn tcp(&self, family: Family) -> PathBuf {
        self.net_dir.join(match family {
            Family::Ipv4 => "tcp",
            Family::Ipv6 => "tcp6",
        })
    }

    /// What the tables hold, from the `sockstat` files (both unknown when
    /// they cannot be read).
    pub fn expect(&self) -> (Expect, Expect) {
        let Ok(v4) = std::fs::read_to_string(self.net_dir.join("sockstat")) else {
            return BOTH;
        };
        match std::fs::read_to_string(self.net_dir.join("sockstat6")) {
            Ok(v6) => expect(&v4, Some(&v6)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => expect(&v4, None),
            Err(_) => BOTH,
        }
    }
}

/// Both families, (IPv4, IPv6), read whole.
pub const BOTH: (Expect, Expect) = (Expect::Unknown, Expect::Unknown);

/// Reads one of the namespace's tables (see [`super::tcp_table`]); `None`
/// when the file cannot be read.
pub fn read_tcp_table(
    files: &NetFiles,
    family: Family,
    errors: &mut Vec<ScanError>,
) -> Option<Vec<SocketEntry>> {
    read_tcp_file(&files.tcp(family), family, Extent::All, errors)
}

/// Reads a namespace's tables (the families asked for); `None` when none
/// could be read. Each read walks the kernel's whole connection hash
/// (usually one for all namespaces), whichever family it lists, so with
/// both to read the second runs on a thread of its own (a thread started
/// here sees the same namespace as this one).
pub fn read_tables(
    files: &NetFiles,
    families: (Expect, Expect),
    errors: &mut Vec<ScanError>,
) -> Option<Vec<SocketEntry>> {
    read_tables_to(files, families, Extent::All, errors)
}

/// [`read_tables`], of all rows or only the listeners (see [`Extent`]).
pub fn read_tables_to(
    files: &NetFiles,
    families: (Expect, Expect),
    extent: Extent,
    errors: &mut Vec<ScanError>,
) -> Option<Vec<SocketEntry>> {
    let wanted: Vec<Family> = [(Family::Ipv4, families.0), (Family::Ipv6, families.1)]
        .into_iter()
        .filter(|&(_, expect)| expect != Expect::Nothing)
        .map(|(family, _)| family)
        .collect();
    let read = |family: Family| {
        let mut errs = Vec::new();
        let rows = read_tcp_file(&files.tcp(family), family, extent, &mut errs);
        (rows, errs)
    };
    let reads: Vec<_> = std::thread::scope(|scope| {
        let beside = wanted.get(1).and_then(|&family| {
            std::thread::Builder::new()
                .name("table-v6".into())
                .spawn_scoped(scope, move || read(family))
                .ok()
        });
        let mut reads: Vec<_> = wanted.first().map(|&f| read(f)).into_iter().collect();
        match beside {
            Some(h) => reads.push(h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))),
            None => reads.extend(wanted.get(1).map(|&f| read(f))),
        }
        reads
    });
    let mut rows = Vec::new();
    let mut any = wanted.is_empty();
    for (r, mut errs) in reads {
        errors.append(&mut errs);
        if let Some(mut r) = r {
            any = true;
            // Moved, not copied, when it is the first: a big host's table is
            // megabytes, and a copy would double them for a moment.
            if rows.is_empty() {
                std::mem::swap(&mut rows, &mut r);
            }
            rows.append(&mut r);
        }
    }
    any.then_some(rows)
}

/// Reads a namespace's tables through the first of its processes that is
/// still there.
pub fn read_tables_via_pids(
    root: &Path,
    pids: &[i32],
    families: (Expect, Expect),
    extent: Extent,
    errors: &mut Vec<ScanError>,
) -> Option<Vec<SocketEntry>> {
    for (i, &pid) in pids.iter().enumerate() {
        let mut errs = Vec::new();
        let rows = read_tables_to(&NetFiles::of_pid(root, pid), families, extent, &mut errs);
        if rows.is_some() || i + 1 == pids.len() {
            errors.extend(errs);
            return rows;
        }
    }
    None
}

/// Reads the namespace's range and reserved list. What cannot be read is
/// reported and replaced by the kernel default (range) or an empty list.
pub fn read_policy(files: &NetFiles, errors: &mut Vec<ScanError>) -> PortPolicy {
    let default_range = format!("assuming the kernel default {}", PortRange::KERNEL_DEFAULT);
    PortPolicy {
        range: read_sysctl(files, "ip_local_port_range", PortRange::parse).unwrap_or_else(|e| {
            errors.push(e.assuming(&default_range));
            PortRange::KERNEL_DEFAULT
        }),
        reserved: read_sysctl(files, "ip_local_reserved_ports", ReservedPorts::parse)
            .unwrap_or_else(|e| {
                errors.push(e.assuming("assuming nothing is reserved"));
                ReservedPorts::default()
            }),
    }
}

/// Reads (at most [`MAX_SYSCTL`] bytes of) one sysctl file and parses it;
/// the error names the file.
fn read_sysctl<T>(
    files: &NetFiles,
    name: &str,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<T, ScanError> {
    let path = files.sysctl_dir.join(name);
    let mut text = String::new();
    std::fs::File::open(&path)
        .and_then(|f| f.take(MAX_SYSCTL + 1).read_to_string(&mut text))
        .map_err(|e| io_message(&e))
        .and_then(|n| {
            if n as u64 > MAX_SYSCTL {
                Err(format!(
                    "longer than {} bytes, more than any value of it",
                    group(MAX_SYSCTL)
                ))
            } else {
                parse(&text)
            }
        })
        .map_err(|message| ScanError::new(path.display().to_string(), message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sysctls_are_read_within_bounds() {
        let dir = tempfile::tempdir().unwrap();
        let files = NetFiles::own(dir.path());
        std::fs::create_dir_all(&files.sysctl_dir).unwrap();
        std::fs::write(
            files.sysctl_dir.join("ip_local_port_range"),
            "40000 50000\n",
        )
        .unwrap();
        let big = "1,".repeat(MAX_SYSCTL as usize);
        std::fs::write(files.sysctl_dir.join("ip_local_reserved_ports"), big).unwrap();
        let mut errors = vec![];
        let p = read_policy(&files, &mut errors);
        assert_eq!(p.range.to_string(), "40000-50000");
        assert!(p.reserved.is_empty());
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0].message.starts_with("longer than 1,048,576 bytes"),
            "{errors:?}"
        );
    }

    #[test]
    fn a_namespace_with_one_readable_table_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let files = NetFiles::own(dir.path());
        std::fs::create_dir_all(&files.net_dir).unwrap();
        std::fs::write(files.tcp(Family::Ipv4), "  sl  local_address rem_address\n").unwrap();
        let mut errors = vec![];
        assert_eq!(read_tables(&files, BOTH, &mut errors), Some(vec![]));
        assert!(errors[0].source.ends_with("tcp6"), "{errors:?}");
        std::fs::remove_file(files.tcp(Family::Ipv4)).unwrap();
        assert_eq!(read_tables(&files, BOTH, &mut errors), None);
    }
}
