//! Reads one TCP table (`/proc/net/tcp` or `tcp6`) into our rows, whatever
//! the file holds.
//!
//! Rows are parsed by procfs (the adapter from its rows to ours is here, so
//! that the core does not know procfs), a piece of about [`CHUNK`] bytes at
//! a time: a host with 100k sockets has 15 MB of table, which need not be
//! in memory at once. A big file is read a few blocks ahead on a helper
//! thread ([`ReadAhead`]), so that parsing overlaps the kernel's writing.
//! The file is read in lines bounded by [`MAX_LINE`] and in total by
//! [`MAX_TABLE`], so a crafted file (a 512 KiB header, 8 MB
//! without a newline, `/dev/zero`) ends like any other. What cannot be
//! read is said in our own words, a few rows at most, then counted; the
//! header is recognised by what it says, so a table without one loses no
//! row; and a table that holds rows of which none can be read is an error,
//! not an empty table.

use std::io::{BufReader, Read};
use std::path::Path;

use procfs::FromBufReadSI;
use procfs::net::TcpNetEntries;

use super::lines::{BoundedLines, Line};
use super::read_ahead::ReadAhead;
use crate::core::quote::excerpt;
use crate::core::snapshot::ScanError;
use crate::core::socket::{Family, SocketEntry, TcpState};
use crate::core::words::group;

/// The longest line read as a row. A real one is under 200 bytes (IPv6,
/// all fields at their widest); longer lines are skipped whole.
pub const MAX_LINE: usize = 4096;

/// How much of one table is read at most: far more than a host with a
/// million sockets lists (about 150 MB), and a bound on a file that never
/// ends.
pub const MAX_TABLE: u64 = 1 << 30;

/// How much table text procfs parses at a time.
const CHUNK: usize = 512 * 1024;

/// How many unreadable rows of one table are described; the rest are counted.
pub const MAX_ROW_WARNINGS: usize = 10;

/// How much of a bad row a warning quotes.
const ECHO_CHARS: usize = 60;

/// What procfs is given as the first line of every piece (it skips it).
const PROCFS_HEADER: &[u8] = b"  sl  local_address rem_address   st\n";

/// Reads the table at `path`; `None` when the file cannot be opened or its
/// first read fails. Problems with its content go to `errors`.
pub fn read_tcp_file(
    path: &Path,
    family: Family,
    extent: Extent,
    errors: &mut Vec<ScanError>,
) -> Option<Vec<SocketEntry>> {
    let source = path.display().to_string();
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) => {
            errors.push(ScanError::new(source, io_message(&e)));
            return None;
        }
    };
    match extent {
        // Parsed while the kernel writes the next block (see [`ReadAhead`]).
        Extent::All => read_tcp_text(ReadAhead::start(file), family, &source, extent, errors),
        // A page or two: nothing to read ahead, and a block read ahead
        // would walk the connections this read is there to skip.
        Extent::Listeners => read_tcp_text(file, family, &source, extent, errors),
    }
}

/// How much of a table is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Extent {
    #[default]
    All,
    /// The listeners only. The kernel lists its listening sockets first,
    /// so the read stops at the first row in another state, before the
    /// walk over every connection on the host, which is what a full read
    /// costs.
    Listeners,
}

/// Reads a table's text from `input`, all of it or its listeners;
/// `source` names it in messages.
pub fn read_tcp_text(
    input: impl Read,
    family: Family,
    source: &str,
    extent: Extent,
    errors: &mut Vec<ScanError>,
) -> Option<Vec<SocketEntry>> {
    let mut lines = BoundedLines::new(
        BufReader::with_capacity(64 * 1024, input),
        MAX_LINE,
        MAX_TABLE,
    );
    let mut table = Table::new(family, source);
    let mut line_no = 0u64;
    loop {
        line_no += 1;
        let start = table.chunk.len();
        match lines.next_into(&mut table.chunk) {
            Ok(Line::End) => break,
            Ok(Line::TooLong(len)) => {
                table.rows_seen += 1;
                table.unreadable(line_no, None, || {
                    format!("{} bytes long, longer than any TCP table row", group(len))
                });
            }
            Ok(Line::Text) => {
                if extent == Extent::Listeners && is_connection(&table.chunk[start..]) {
                    table.chunk.truncate(start);
                    break;
                }
                table.take_line(line_no, start);
            }
            Ok(Line::Limit) => {
                table.problems.push(ScanError::new(
                    source,
                    format!(
                        "stopped reading after {} bytes: the rest of the table is not scanned",
                        group(MAX_TABLE)
                    ),
                ));
                break;
            }
            Err(e) if line_no == 1 => {
                errors.push(ScanError::new(source, io_message(&e)));
                return None;
            }
            Err(e) => {
                // Keep what was read; say the table was cut short.
                table.problems.push(ScanError::new(source, io_message(&e)));
                break;
            }
        }
        if table.chunk.len() >= CHUNK {
            table.parse_chunk();
        }
    }
    table.parse_chunk();
    Some(table.finish(errors))
}

/// One table being read: the piece waiting for procfs, the rows so far,
/// and what went wrong.
struct Table<'a> {
    family: Family,
    source: &'a str,
    /// [`PROCFS_HEADER`], then rows, one per line.
    chunk: Vec<u8>,
    /// The file's line number of each row in `chunk`.
    chunk_lines: Vec<u64>,
    rows: Vec<SocketEntry>,
    /// Lines that should have been rows (not the header, not blank).
    rows_seen: u64,
    unreadable_rows: u64,
    problems: Vec<ScanError>,
}

impl<'a> Table<'a> {
    fn new(family: Family, source: &'a str) -> Table<'a> {
        let mut chunk = Vec::with_capacity(CHUNK + MAX_LINE + 1);
        chunk.extend_from_slice(PROCFS_HEADER);
        Table {
            family,
            source,
            chunk,
            chunk_lines: Vec::new(),
            rows: Vec::new(),
            rows_seen: 0,
            unreadable_rows: 0,
            problems: Vec::new(),
        }
    }

    /// Keeps the line just appended to `chunk` at `start`, unless it is
    /// blank or the header.
    fn take_line(&mut self, line_no: u64, start: usize) {
        let line = &self.chunk[start..];
        if line.iter().all(u8::is_ascii_whitespace) {
            self.chunk.truncate(start);
            return;
        }
        if line_no == 1 {
            if is_header(line) {
                self.chunk.truncate(start);
                return;
            }
            if parse_row(line, self.family).is_some() {
                self.problems.push(ScanError::new(
                    format!("{} line 1", self.source),
                    "no header line: the first line is read as a row",
                ));
            }
        }
        self.chunk.push(b'\n');
        self.chunk_lines.push(line_no);
        self.rows_seen += 1;
    }

    /// Parses the waiting piece: in one go when it is all good, else row
    /// by row, to keep the good rows and name the bad ones.
    fn parse_chunk(&mut self) {
        if self.chunk_lines.is_empty() {
            return;
        }
        let family = self.family;
        if let Ok(TcpNetEntries(rows)) =
            TcpNetEntries::from_buf_read(&self.chunk[..], &system_info())
        {
            self.rows
                .extend(rows.into_iter().map(|e| entry_from_procfs(family, e)));
        } else {
            let chunk = std::mem::take(&mut self.chunk);
            let lines = std::mem::take(&mut self.chunk_lines);
            let text = &chunk[PROCFS_HEADER.len()..];
            for (line, line_no) in text.split(|&b| b == b'\n').zip(lines) {
                match parse_row(line, family) {
                    Some(entry) => self.rows.push(entry),
                    None => {
                        let text = String::from_utf8_lossy(line);
                        self.unreadable(line_no, Some(&text), || what_is_wrong(&text));
                    }
                }
            }
            self.chunk = chunk;
        }
        self.chunk.truncate(PROCFS_HEADER.len());
        self.chunk_lines.clear();
    }

    /// Notes an unreadable row: described while few (`why` says what is
    /// wrong with it), counted after.
    fn unreadable(&mut self, line_no: u64, line: Option<&str>, why: impl FnOnce() -> String) {
        self.unreadable_rows += 1;
        if self.unreadable_rows as usize > MAX_ROW_WARNINGS {
            return;
        }
        let why = why();
        let message = match line {
            Some(l) => format!(
                "unreadable row skipped ({why}): {}",
                excerpt(l.trim(), ECHO_CHARS)
            ),
            None => format!("unreadable row skipped ({why})"),
        };
        self.problems.push(ScanError::new(
            format!("{} line {line_no}", self.source),
            message,
        ));
    }

    /// The rows; the problems, counted and judged, into `errors`.
    fn finish(mut self, errors: &mut Vec<ScanError>) -> Vec<SocketEntry> {
        let unsaid = self.unreadable_rows.saturating_sub(MAX_ROW_WARNINGS as u64);
        if unsaid > 0 {
            self.problems.push(ScanError::new(
                self.source,
                format!("and {} more unreadable rows skipped", group(unsaid)),
            ));
        }
        if self.rows.is_empty() && self.rows_seen > 0 {
            self.problems.push(ScanError::error(
                self.source,
                format!(
                    "no row could be read (of {}): this is not a TCP table, so the scan \
                     cannot tell what is at risk",
                    group(self.rows_seen)
                ),
            ));
        }
        errors.append(&mut self.problems);
        self.rows
    }
}

/// Whether `line` is a row of a connection: its fourth field (`st`) is a
/// state in hex other than `0A` (LISTEN) and `03` (SYN_RECV: kernels
/// before 4.4 list a listener's pending handshakes right after it, in the
/// listening part). The header and unreadable rows are not.
fn is_connection(line: &[u8]) -> bool {
    let state = line
        .split(u8::is_ascii_whitespace)
        .filter(|w| !w.is_empty())
        .nth(3);
    state.is_some_and(|st| {
        st.len() == 2
            && st.iter().all(u8::is_ascii_hexdigit)
            && !st.eq_ignore_ascii_case(b"0A")
            && st != b"03"
    })
}

/// Whether `line` is a table's header: `sl  local_address ...`.
fn is_header(line: &[u8]) -> bool {
    let text = String::from_utf8_lossy(line);
    let mut words = text.split_whitespace();
    words.next() == Some("sl") && words.next() == Some("local_address")
}

/// One row through procfs; `None` when it cannot be read (see
/// [`what_is_wrong`]).
fn parse_row(line: &[u8], family: Family) -> Option<SocketEntry> {
    let mut one = Vec::with_capacity(PROCFS_HEADER.len() + line.len() + 1);
    one.extend_from_slice(PROCFS_HEADER);
    one.extend_from_slice(String::from_utf8_lossy(line).as_bytes());
    one.push(b'\n');
    match TcpNetEntries::from_buf_read(&one[..], &system_info()) {
        Ok(TcpNetEntries(mut rows)) if rows.len() == 1 => {
            Some(entry_from_procfs(family, rows.remove(0)))
        }
        _ => None,
    }
}

/// Says what is wrong with a row procfs refused, in the terms of the
/// table's columns (procfs's own message names its source files).
fn what_is_wrong(row: &str) -> String {
    let f: Vec<&str> = row.split_whitespace().take(10).collect();
    if f.len() < 10 {
        return format!("{} fields where a row has at least 10", f.len());
    }
    let quoted = |s: &str| excerpt(s, 24);
    let hex = |s: &str, bits: u32| u64::from_str_radix(s, 16).is_ok_and(|v| v >> bits == 0);
    let address = |s: &str| {
        s.split_once(':').is_some_and(|(ip, port)| {
            (ip.len() == 8 || ip.len() == 32)
                && ip.bytes().all(|b| b.is_ascii_hexdigit())
                && hex(port, 16)
        })
    };
    let queues = |s: &str| {
        s.split_once(':')
            .is_some_and(|(t, r)| hex(t, 32) && hex(r, 32))
    };
    if !address(f[1]) {
        format!(
            "the local address {} is not HEX-ADDRESS:HEX-PORT",
            quoted(f[1])
        )
    } else if !address(f[2]) {
        format!(
            "the remote address {} is not HEX-ADDRESS:HEX-PORT",
            quoted(f[2])
        )
    } else if !u8::from_str_radix(f[3], 16).is_ok_and(|s| (1..=12).contains(&s)) {
        format!("the state {} is not a TCP state (01 to 0C)", quoted(f[3]))
    } else if !queues(f[4]) {
        format!("the queues {} are not TX:RX in hex", quoted(f[4]))
    } else if f[7].parse::<u32>().is_err() {
        format!("the uid {} is not a number", quoted(f[7]))
    } else if f[9].parse::<u64>().is_err() {
        format!("the inode {} is not a number", quoted(f[9]))
    } else {
        "not a TCP table row".to_string()
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

/// A procfs row as ours.
fn entry_from_procfs(family: Family, e: procfs::net::TcpNetEntry) -> SocketEntry {
    SocketEntry {
        family,
        local: e.local_address,
        remote: e.remote_address,
        state: state_from_procfs(e.state),
        inode: e.inode,
        uid: e.uid,
    }
}

fn state_from_procfs(s: procfs::net::TcpState) -> TcpState {
    use procfs::net::TcpState as P;
    match s {
        P::Established => TcpState::Established,
        P::SynSent => TcpState::SynSent,
        P::SynRecv => TcpState::SynRecv,
        P::FinWait1 => TcpState::FinWait1,
        P::FinWait2 => TcpState::FinWait2,
        P::TimeWait => TcpState::TimeWait,
        P::Close => TcpState::Close,
        P::CloseWait => TcpState::CloseWait,
        P::LastAck => TcpState::LastAck,
        P::Listen => TcpState::Listen,
        P::Closing => TcpState::Closing,
        P::NewSynRecv => TcpState::NewSynRecv,
    }
}

/// An I/O error in a few words.
pub fn io_message(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "not found".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => e.to_string(),
    }
}

#[cfg(test)]
#[path = "tcp_table_tests.rs"]
mod tests;
