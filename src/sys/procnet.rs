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
    let mut out = Vec::new();
    parse_chunk(text, 1, family, source, &mut out, errors);
    out
}

/// Parses a piece of a table that starts with the header line, whose first
/// line is line `first_line` of the file, into `out`.
fn parse_chunk(
    text: &[u8],
    first_line: usize,
    family: Family,
    source: &str,
    out: &mut Vec<SocketEntry>,
    errors: &mut Vec<ScanError>,
) {
    let si = system_info();
    // Fast path: the crate parses the whole piece in one go.
    if let Ok(TcpNetEntries(rows)) = TcpNetEntries::from_buf_read(text, &si) {
        out.extend(
            rows.into_iter()
                .map(|e| SocketEntry::from_procfs(family, e)),
        );
        return;
    }
    // Slow path, only when something is wrong: line by line, to keep the
    // good rows and name the bad ones.
    let text = String::from_utf8_lossy(text);
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
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
                format!("{source} line {}", first_line + i + 1),
                format!("unreadable row skipped ({e}): {:?}", truncate(line, 80)),
            )),
        }
    }
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
///
/// The text is parsed in pieces of about [`CHUNK`] bytes as it is read: a
/// host with 100k sockets has 15 MB of it, which need not all be in memory
/// at once (nor the crate's rows for all of it).
pub fn read_tcp_table(
    files: &NetFiles,
    family: Family,
    errors: &mut Vec<ScanError>,
) -> Option<Vec<SocketEntry>> {
    use std::io::BufRead;
    let path = files.tcp(family);
    let source = path.display().to_string();
    let failed = |e: std::io::Error, errors: &mut Vec<ScanError>| {
        errors.push(ScanError::new(source.clone(), io_message(&e)));
    };
    let mut reader = match std::fs::File::open(&path) {
        Ok(f) => std::io::BufReader::with_capacity(64 * 1024, f),
        Err(e) => {
            failed(e, errors);
            return None;
        }
    };
    let mut header = Vec::new();
    if let Err(e) = reader.read_until(b'\n', &mut header) {
        failed(e, errors);
        return None;
    }
    let mut out = Vec::new();
    let mut chunk = Vec::with_capacity(CHUNK + 4096);
    let mut chunk_first_line = 1;
    let mut lines_read = 1;
    loop {
        chunk.clear();
        chunk.extend_from_slice(&header);
        let mut eof = false;
        while chunk.len() < CHUNK {
            match reader.read_until(b'\n', &mut chunk) {
                Ok(0) => {
                    eof = true;
                    break;
                }
                Ok(_) => lines_read += 1,
                Err(e) => {
                    // Keep what was read; say the table was cut short.
                    failed(e, errors);
                    eof = true;
                    break;
                }
            }
        }
        parse_chunk(&chunk, chunk_first_line, family, &source, &mut out, errors);
        chunk_first_line = lines_read;
        if eof {
            return Some(out);
        }
    }
}

/// How much table text is parsed at a time.
const CHUNK: usize = 512 * 1024;

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
    fn a_big_table_is_read_in_pieces_and_line_numbers_stay_right() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("net")).unwrap();
        let mut text = format!("{HEADER}\n");
        let rows = 6000; // about 900 KB: two pieces
        let bad = 4500;
        for i in 0..rows {
            if i == bad {
                text.push_str("   x: garbled\n");
                continue;
            }
            text.push_str(&format!(
                "{i:4}: 0100007F:{:04X} 0100007F:0016 01 00000000:00000000 00:00000000 00000000     0        0 {} 1 0000000000000000 20 4 30 10 -1\n",
                1024 + i,
                100_000 + i
            ));
        }
        assert!(text.len() > CHUNK);
        std::fs::write(dir.path().join("net/tcp"), &text).unwrap();
        let files = NetFiles::own(dir.path());
        let mut errors = vec![];
        let got = read_tcp_table(&files, Family::Ipv4, &mut errors).unwrap();
        assert_eq!(got.len(), rows - 1);
        assert_eq!(got[0].local.port(), 1024);
        assert_eq!(got.last().unwrap().inode, 100_000 + rows as u64 - 1);
        assert_eq!(errors.len(), 1, "{errors:?}");
        // The header is line 1, row i is line i + 2.
        assert!(
            errors[0].source.ends_with(&format!("line {}", bad + 2)),
            "{errors:?}"
        );
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
