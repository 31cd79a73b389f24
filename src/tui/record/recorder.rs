//! Writes a recording while the dashboard runs: each input that carries
//! data, with its time since the start, one JSON line each, gzipped. The
//! file is flushed about once a second, so that a dashboard killed midway
//! leaves a recording that plays up to there; past [`Recorder::limit`]
//! bytes, or on a write error, it stops and says why.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use flate2::Compression;
use flate2::write::GzEncoder;

use super::format::{Header, encode};
use crate::tui::event::Event;

/// Stop recording past this many bytes of JSON (the file is smaller).
pub const LIMIT: u64 = 200 * 1024 * 1024;
/// How often the compressed stream is flushed to the file.
const FLUSH_EVERY: Duration = Duration::from_secs(1);

pub struct Recorder {
    path: PathBuf,
    out: Option<GzEncoder<BufWriter<File>>>,
    started: Instant,
    last_flush: Instant,
    written: u64,
    limit: u64,
    inputs: u64,
    /// Why recording stopped early.
    stopped: Option<String>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("path", &self.path)
            .field("inputs", &self.inputs)
            .finish()
    }
}

impl Recorder {
    /// Creates (or replaces) the file and writes the header.
    pub fn create(path: &Path, header: &Header) -> io::Result<Recorder> {
        let file = File::create(path)?;
        let mut out = GzEncoder::new(BufWriter::new(file), Compression::default());
        let line = serde_json::to_string(header).map_err(io::Error::other)?;
        writeln!(out, "{line}")?;
        out.flush()?;
        let now = Instant::now();
        Ok(Recorder {
            path: path.to_path_buf(),
            out: Some(out),
            started: now,
            last_flush: now,
            written: line.len() as u64 + 1,
            limit: LIMIT,
            inputs: 0,
            stopped: None,
        })
    }

    /// The same with a smaller limit (tests).
    pub fn with_limit(mut self, limit: u64) -> Recorder {
        self.limit = limit;
        self
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Inputs recorded so far.
    pub fn inputs(&self) -> u64 {
        self.inputs
    }

    /// Why recording stopped before the end, if it did.
    pub fn stopped(&self) -> Option<&str> {
        self.stopped.as_deref()
    }

    /// Records the event if it carries data. Returns a note the first
    /// time recording stops (the file is full, or cannot be written).
    pub fn observe(&mut self, ev: &Event) -> Option<String> {
        let out = self.out.as_mut()?;
        let ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let line = match encode(ms, ev)? {
            Ok(l) => l,
            Err(e) => return self.stop(format!("cannot encode an input: {e}")),
        };
        if self.written + line.len() as u64 + 1 > self.limit {
            let mb = self.limit / (1024 * 1024);
            return self.stop(format!("the recording reached its limit of {mb} MB"));
        }
        let mut result = writeln!(out, "{line}");
        if result.is_ok() && self.last_flush.elapsed() >= FLUSH_EVERY {
            self.last_flush = Instant::now();
            result = out.flush();
        }
        match result {
            Ok(()) => {
                self.written += line.len() as u64 + 1;
                self.inputs += 1;
                None
            }
            Err(e) => self.stop(format!("cannot write to {}: {e}", self.path.display())),
        }
    }

    fn stop(&mut self, why: String) -> Option<String> {
        if let Some(out) = self.out.take() {
            // What was written stays readable.
            let _ = out.finish().and_then(|mut w| w.flush());
        }
        self.stopped = Some(why.clone());
        Some(format!("recording stopped: {why}"))
    }

    /// Ends the gzip stream and closes the file.
    pub fn finish(mut self) -> io::Result<u64> {
        if let Some(out) = self.out.take() {
            out.finish()?.flush()?;
        }
        Ok(self.inputs)
    }
}
