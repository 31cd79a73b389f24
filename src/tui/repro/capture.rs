//! The runner's side of the packet strip: one capture of the target port
//! per run (in the tool's own network namespace, where the loop runs),
//! its new packets handed to the pane at each draw tick, and the last
//! run's capture kept for `w`, which writes it as a `.pcap` file (the
//! refused tail and the whole handshake, bounded by the capture's limits).

use std::fs::File;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::core::packets::Packet;
use crate::report::pcap;
use crate::sys::capture::{Capture, Finished, local_utc_offset};

/// How long a capture goes on after its run ended: the last packets (the
/// handshake's, the close) are still on their way.
const AFTER_END: Duration = Duration::from_secs(1);

/// The capture of one slot's latest run.
#[derive(Default)]
pub(super) struct SlotCapture {
    port: u16,
    live: Option<Capture>,
    ended_at: Option<Instant>,
    done: Option<Finished>,
}

impl std::fmt::Debug for SlotCapture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlotCapture")
            .field("port", &self.port)
            .field("live", &self.live.is_some())
            .field("done", &self.done.is_some())
            .finish()
    }
}

impl SlotCapture {
    /// Starts capturing `port`; with the local UTC offset, or why not.
    pub(super) fn start(port: u16) -> (SlotCapture, Result<i32, &'static str>) {
        match Capture::start(port) {
            Ok(c) => (
                SlotCapture {
                    port,
                    live: Some(c),
                    ..SlotCapture::default()
                },
                Ok(local_utc_offset()),
            ),
            Err(e) => (
                SlotCapture {
                    port,
                    ..SlotCapture::default()
                },
                Err(e.short()),
            ),
        }
    }

    /// Whether a capture still reads.
    pub(super) fn is_live(&self) -> bool {
        self.live.is_some()
    }

    /// The packets read since the last call.
    pub(super) fn take_new(&self) -> Vec<Packet> {
        self.live
            .as_ref()
            .map(Capture::take_new)
            .unwrap_or_default()
    }

    /// The run ended: the capture goes on a little, then stops.
    pub(super) fn run_ended(&mut self) {
        self.ended_at.get_or_insert_with(Instant::now);
    }

    /// Stops the capture once its run has been over long enough; returns
    /// the last packets read.
    pub(super) fn settle(&mut self) -> Vec<Packet> {
        match self.ended_at {
            Some(t) if t.elapsed() >= AFTER_END => self.finish(),
            _ => vec![],
        }
    }

    /// Stops the capture now; returns the last packets read.
    pub(super) fn finish(&mut self) -> Vec<Packet> {
        let Some(live) = self.live.take() else {
            return vec![];
        };
        let last = live.take_new();
        self.done = Some(live.finish());
        last
    }

    /// Writes the last run's capture to a new file in `dir`; returns its
    /// path, or why not. Stops a capture that still reads.
    pub(super) fn save(&mut self, dir: &Path) -> (Vec<Packet>, Result<PathBuf, String>) {
        let last = self.finish();
        let Some(done) = &self.done else {
            let why = if self.port == 0 {
                "no run to save yet: start one first".to_string()
            } else {
                "the last run had no packet capture (it needs root)".to_string()
            };
            return (last, Err(why));
        };
        (last, write(dir, self.port, done))
    }
}

/// `selfconn-PORT-YYYYMMDD-HHMMSS.pcap`, never over an existing file.
fn write(dir: &Path, port: u16, done: &Finished) -> Result<PathBuf, String> {
    let stamp = chrono::Local::now().format("%Y%m%d-%H%M%S");
    for n in 0..10 {
        let suffix = if n == 0 {
            String::new()
        } else {
            format!("-{n}")
        };
        let path = dir.join(format!("selfconn-{port}-{stamp}{suffix}.pcap"));
        let mut file = match File::create_new(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(format!("cannot write {}: {e}", path.display())),
        };
        return pcap::write_to(&mut file, done.tail.packets())
            .map(|()| path.clone())
            .map_err(|e| format!("cannot write {}: {e}", path.display()));
    }
    Err(format!(
        "cannot write the capture: ten files named selfconn-{port}-{stamp}*.pcap exist in {}",
        dir.display()
    ))
}
