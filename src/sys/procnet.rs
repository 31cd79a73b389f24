//! Reads the kernel's TCP tables and port sysctls from a `/proc` tree.
//! The root is a parameter so that tests can point it at fixture trees.

use std::path::{Path, PathBuf};

use procfs::FromBufReadSI;
use procfs::net::TcpNetEntries;

use crate::core::ports::{PortPolicy, PortRange, ReservedPorts};
use crate::core::snapshot::ScanError;
use crate::core::socket::{Family, SocketEntry};

/// The paths of one network namespace's files under a `/proc` root.
#[derive(Debug, Clone)]
pub struct NetFiles {
    /// `/proc/net` or `/proc/PID/net`.
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

    pub fn tcp(&self, family: Family) -> PathBuf {
        self.net_dir.join(match family {
            Family::Ipv4 => "tcp",
            Family::Ipv6 => "tcp6",
        })
    }
}

fn system_info() -> procfs::ExplicitSystemInfo {
    // Only the byte order matters for the TCP tables.
    procfs::ExplicitSystemInfo {
        boot_time_secs: 0,
        ticks_per_second: 100,
        page_size: 4096,
        is_little_endian: cfg!(target_endian = "little"),
    }
}

/// Parses a TCP table's text. A garbled line is reported and skipped; the
/// rest of the table is kept.
pub fn parse_tcp_table(
    text: &[u8],
    family: Family,
    source: &str,
    errors: &mut Vec<ScanError>,
) -> Vec<SocketEntry> {
    let si = system_info();
    // Fast path: the crate parses the whole table in one go.
    if let Ok(TcpNetEntries(rows)) = TcpNetEntries::from_buf_read(text, &si) {
        return rows
            .into_iter()
            .map(|e| SocketEntry::from_procfs(family, e))
            .collect();
    }
    // Slow path, only when something is wrong: line by line, to keep the
    // good rows and name the bad ones.
    let text = String::from_utf8_lossy(text);
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    let mut out = Vec::new();
    for (i, line) in lines.enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let one = format!("{header}\n{line}\n");
        match TcpNetEntries::from_buf_read(one.as_bytes(), &si) {
            Ok(TcpNetEntries(rows)) => out.extend(
                rows.into_iter()
                    .map(|e| SocketEntry::from_procfs(family, e)),
            ),
            Err(e) => errors.push(ScanError::new(
                format!("{source} line {}", i + 2),
                format!("unreadable row skipped ({e}): {:?}", truncate(line, 80)),
            )),
        }
    }
    out
}

fn truncate(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

fn io_message(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "not found".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => e.to_string(),
    }
}

/// Reads one TCP table; `None` when the file itself could not be read.
pub fn read_tcp_table(
    files: &NetFiles,
    family: Family,
    errors: &mut Vec<ScanError>,
) -> Option<Vec<SocketEntry>> {
    let path = files.tcp(family);
    let source = path.display().to_string();
    match read_proc_file(&path) {
        Ok(bytes) => Some(parse_tcp_table(&bytes, family, &source, errors)),
        Err(e) => {
            errors.push(ScanError::new(source, io_message(&e)));
            None
        }
    }
}

/// Reads a `/proc` file whole. Large reads matter: the kernel regenerates
/// the TCP table text for every read call.
pub fn read_proc_file(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut f = std::fs::File::open(path)?;
    let mut buf = Vec::with_capacity(256 * 1024);
    f.read_to_end(&mut buf)?;
    Ok(buf)
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

/// Reads and parses one sysctl file; the error names the file.
fn read_sysctl<T>(
    files: &NetFiles,
    name: &str,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<T, ScanError> {
    let path = files.sysctl_dir.join(name);
    std::fs::read_to_string(&path)
        .map_err(|e| io_message(&e))
        .and_then(|text| parse(&text))
        .map_err(|message| ScanError::new(path.display().to_string(), message))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::socket::TcpState;

    const HEADER: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode";

    #[test]
    fn parses_ipv4_rows_including_a_self_connect() {
        let text = format!(
            "{HEADER}\n   0: 0100007F:AE38 0100007F:AE38 01 00000000:00000000 00:00000000 00000000     0        0 12345 1 0000000000000000 20 4 30 10 -1\n   1: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 999 1 0000000000000000 100 0 0 10 0\n"
        );
        let mut errors = vec![];
        let rows = parse_tcp_table(text.as_bytes(), Family::Ipv4, "t", &mut errors);
        assert!(errors.is_empty());
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].local.to_string(), "127.0.0.1:44600");
        assert!(rows[0].is_self_connected());
        assert_eq!(rows[0].inode, 12345);
        assert_eq!(rows[1].state, TcpState::Listen);
        assert_eq!(rows[1].local.port(), 22);
    }

    #[test]
    fn a_garbled_line_is_reported_and_the_rest_kept() {
        let text = format!(
            "{HEADER}\n   0: 0100007F:AE38 0100007F:AE38 01 00000000:00000000 00:00000000 00000000     0        0 12345\n   1: garbage here\n   2: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 999\n"
        );
        let mut errors = vec![];
        let rows = parse_tcp_table(text.as_bytes(), Family::Ipv4, "t", &mut errors);
        assert_eq!(rows.len(), 2);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].source, "t line 3");
        assert!(errors[0].message.contains("garbage"));
    }
}
