//! `--pcap FILE`: the capture around a run, from the file opened and the
//! capture started before it to the file written after it.

use std::fs::File;
use std::path::{Path, PathBuf};

use crate::report::pcap;
use crate::sys::capture::{Capture, CaptureError};

/// A capture under way and the file it goes to.
pub struct PcapRun {
    path: PathBuf,
    file: File,
    capture: Capture,
}

/// Opens `path` for writing and starts capturing `port`: both fail before
/// the run, with the reason.
pub fn start(path: &Path, port: u16) -> Result<PcapRun, String> {
    let capture = Capture::start(port).map_err(|e| match e {
        CaptureError::NeedsRoot => {
            format!("--pcap: {e}; run as root, or leave --pcap out to run without a capture")
        }
        e => format!("--pcap: {e}"),
    })?;
    let file =
        File::create(path).map_err(|e| format!("--pcap: cannot write {}: {e}", path.display()))?;
    Ok(PcapRun {
        path: path.to_path_buf(),
        file,
        capture,
    })
}

impl PcapRun {
    /// Stops the capture, writes the file, and says on stderr what it holds.
    pub fn finish(mut self) -> Result<(), String> {
        let done = self.capture.finish();
        let packets = done.tail.packets();
        pcap::write_to(&mut self.file, packets.iter().copied())
            .map_err(|e| format!("--pcap: cannot write {}: {e}", self.path.display()))?;
        let handshake = if done.tail.has_self_connect() {
            "with the self-connect handshake"
        } else {
            "no self-connect handshake seen"
        };
        eprintln!(
            "selfconn-tui: wrote {} of {} packets to {} ({handshake}; read it with `tcpdump -n -r {}`)",
            packets.len(),
            done.tail.seen(),
            self.path.display(),
            self.path.display()
        );
        if let Some(e) = done.error {
            eprintln!("selfconn-tui: the capture ended early: {e}");
        }
        Ok(())
    }
}
