//! The recording's format: gzip over JSON lines. The first line is the
//! [`Header`] (what, which version, where, when, the terminal's size);
//! each further line is one input of the dashboard with its time since
//! the start: a scan's outcome, or an answer of the repro runner. Reading
//! checks everything a foreign or damaged file could get wrong, so that a
//! replay never panics on one.

use std::io::{self, BufRead, Read};

use chrono::{DateTime, Local};
use serde::{Deserialize, Serialize};

use super::wire::{WireFailure, WireUpdate, ser_update};
use crate::core::snapshot::{Severity, Snapshot};
use crate::tui::app::ScanResult;
use crate::tui::event::Event;
use crate::tui::repro::ReproUpdate;

/// What the header's `format` says.
pub const FORMAT: &str = "selfconn-tui recording";
/// The version this build writes and reads.
pub const VERSION: u32 = 1;
/// The longest header line read.
const HEADER_MAX: u64 = 64 * 1024;
/// The longest input line read (a snapshot of a very busy host).
const LINE_MAX: u64 = 64 * 1024 * 1024;

/// The first line of a recording.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Header {
    pub format: String,
    pub version: u32,
    /// The version of selfconn-tui that recorded.
    pub tool_version: String,
    /// The machine recorded on.
    pub host: String,
    pub started: DateTime<Local>,
    /// Columns and rows of the terminal it was recorded in.
    pub terminal: (u16, u16),
}

impl Header {
    pub fn new(host: String, started: DateTime<Local>, terminal: (u16, u16)) -> Header {
        Header {
            format: FORMAT.to_string(),
            version: VERSION,
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            host,
            started,
            terminal,
        }
    }
}

/// One input, as written: borrowed from the event (a snapshot is not
/// copied to be written).
#[derive(Serialize)]
#[serde(rename_all = "snake_case")]
enum InputOut<'a> {
    Scan {
        at: &'a DateTime<Local>,
        snapshot: Option<&'a Snapshot>,
        /// Indices of the snapshot's errors that make it inconclusive
        /// (the severity is not part of a `ScanError`'s serde form).
        errors_severe: Vec<usize>,
        failure: Option<WireFailure>,
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        listeners_only: bool,
    },
    Repro(#[serde(serialize_with = "ser_update")] &'a ReproUpdate),
}

#[derive(Serialize)]
struct LineOut<'a> {
    ms: u64,
    input: InputOut<'a>,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum InputIn {
    Scan {
        at: DateTime<Local>,
        snapshot: Option<Snapshot>,
        #[serde(default)]
        errors_severe: Vec<usize>,
        failure: Option<WireFailure>,
        #[serde(default)]
        listeners_only: bool,
    },
    Repro(WireUpdate),
}

#[derive(Deserialize)]
struct LineIn {
    ms: u64,
    input: InputIn,
}

/// The JSON line for an event that carries data (a scan, a repro update);
/// `None` for the others (keys, resizes, signals are not recorded).
pub fn encode(ms: u64, ev: &Event) -> Option<serde_json::Result<String>> {
    let input = match ev {
        Event::Scan(scan) => {
            let (snapshot, failure) = match &scan.result {
                Ok(s) => (Some(s), None),
                Err(f) => (None, Some(WireFailure::from(f))),
            };
            let errors_severe = snapshot.map_or_else(Vec::new, |s| {
                (0..s.errors.len())
                    .filter(|&i| s.errors[i].is_error())
                    .collect()
            });
            InputOut::Scan {
                at: &scan.at,
                snapshot,
                errors_severe,
                failure,
                listeners_only: scan.listeners_only,
            }
        }
        Event::Repro(u) if super::wire::recorded(u) => InputOut::Repro(u),
        _ => return None,
    };
    Some(serde_json::to_string(&LineOut { ms, input }))
}

/// An input line read back: its time since the start, in milliseconds,
/// and the event to send.
pub fn decode(line: &str) -> Result<(u64, Event), String> {
    let parsed: LineIn = serde_json::from_str(line).map_err(|e| e.to_string())?;
    let ev = match parsed.input {
        InputIn::Scan {
            at,
            snapshot,
            errors_severe,
            failure,
            listeners_only,
        } => {
            let result = match (snapshot, failure) {
                (Some(mut s), None) => {
                    check_snapshot(&s)?;
                    for i in errors_severe {
                        let e = s
                            .errors
                            .get_mut(i)
                            .ok_or("a severe error that is not listed")?;
                        e.severity = Severity::Error;
                    }
                    Ok(s)
                }
                (None, Some(f)) => Err(f.into()),
                _ => return Err("a scan with both or neither of a snapshot and a failure".into()),
            };
            Event::Scan(Box::new(ScanResult {
                at,
                result,
                listeners_only,
            }))
        }
        InputIn::Repro(u) => Event::Repro(Box::new(u.checked()?)),
    };
    Ok((parsed.ms, ev))
}

/// What the dashboard relies on in a snapshot: a namespace (the header
/// shows the first), every socket's namespace listed, valid port ranges.
fn check_snapshot(s: &Snapshot) -> Result<(), String> {
    if s.namespaces.is_empty() {
        return Err("a snapshot without namespaces".into());
    }
    if let Some(bad) = s.sockets.iter().find(|k| k.netns >= s.namespaces.len()) {
        return Err(format!("a socket of namespace {} not listed", bad.netns));
    }
    for n in &s.namespaces {
        let r = n.policy.range;
        if r.low == 0 || r.low > r.high {
            return Err(format!("the port range {} {}", r.low, r.high));
        }
    }
    Ok(())
}

/// Reads one line of at most `max` bytes; `Ok(None)` at the end.
/// A line without its newline is a file cut short.
pub fn read_line(r: &mut impl BufRead, max: u64) -> io::Result<Option<String>> {
    let mut buf = Vec::new();
    r.by_ref().take(max + 1).read_until(b'\n', &mut buf)?;
    if buf.is_empty() {
        return Ok(None);
    }
    if buf.last() != Some(&b'\n') {
        let why = if buf.len() as u64 > max {
            format!("a line longer than {max} bytes")
        } else {
            "the last line is cut short (the recording was not finished)".to_string()
        };
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, why));
    }
    buf.pop();
    String::from_utf8(buf)
        .map(Some)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "a line is not UTF-8"))
}

/// Reads and checks the header line.
pub fn read_header(r: &mut impl BufRead) -> Result<Header, String> {
    let not_ours = "not a selfconn-tui recording";
    let line = match read_line(r, HEADER_MAX) {
        Ok(Some(l)) => l,
        Ok(None) => return Err(format!("{not_ours}: it is empty")),
        Err(e) => return Err(format!("{not_ours}: {e}")),
    };
    let value: serde_json::Value = serde_json::from_str(&line)
        .map_err(|_| format!("{not_ours}: its first line is not JSON"))?;
    if value.get("format").and_then(|f| f.as_str()) != Some(FORMAT) {
        return Err(format!("{not_ours}: its header names another format"));
    }
    let version = value.get("version").and_then(|v| v.as_u64());
    if version != Some(u64::from(VERSION)) {
        let found = version.map_or_else(|| "no version".to_string(), |v| format!("version {v}"));
        return Err(format!(
            "a recording of {found}; this selfconn-tui ({}) reads version {VERSION}",
            env!("CARGO_PKG_VERSION")
        ));
    }
    serde_json::from_value(value).map_err(|e| format!("a damaged header: {e}"))
}

/// The longest input line, for readers.
pub fn line_max() -> u64 {
    LINE_MAX
}
