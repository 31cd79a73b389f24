//! Reads a recording back: the header at once (a file that is not ours,
//! of another version or damaged is refused before the dashboard starts),
//! then the inputs one by one, as the replay plays them.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::time::Duration;

use flate2::read::GzDecoder;

use super::format::{Header, decode, line_max, read_header, read_line};
use crate::tui::event::Event;

pub struct Recording {
    path: PathBuf,
    header: Header,
    lines: Box<dyn BufRead + Send>,
    /// Input lines read so far.
    read: u64,
    done: bool,
}

impl std::fmt::Debug for Recording {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recording")
            .field("path", &self.path)
            .field("header", &self.header)
            .finish()
    }
}

/// Why a recording cannot be replayed at all.
#[derive(Debug, thiserror::Error)]
#[error("cannot replay {}: {why}", path.display())]
pub struct ReplayError {
    pub path: PathBuf,
    pub why: String,
}

impl Recording {
    pub fn open(path: &Path) -> Result<Recording, ReplayError> {
        let fail = |why: String| ReplayError {
            path: path.to_path_buf(),
            why,
        };
        let file = File::open(path).map_err(|e| fail(e.to_string()))?;
        if file.metadata().is_ok_and(|m| m.is_dir()) {
            return Err(fail("it is a directory".into()));
        }
        let mut lines: Box<dyn BufRead + Send> =
            Box::new(BufReader::new(GzDecoder::new(BufReader::new(file))));
        let header = read_header(&mut lines).map_err(fail)?;
        Ok(Recording {
            path: path.to_path_buf(),
            header,
            lines,
            read: 0,
            done: false,
        })
    }

    pub fn header(&self) -> &Header {
        &self.header
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Inputs read so far.
    pub fn read(&self) -> u64 {
        self.read
    }

    /// The next input and when it came (since the start); `None` at the
    /// end. An error (a file cut short, a damaged line) ends the
    /// recording: what came before it stands.
    pub fn next_input(&mut self) -> Option<Result<(Duration, Event), String>> {
        if self.done {
            return None;
        }
        let line = match read_line(&mut self.lines, line_max()) {
            Ok(Some(l)) => l,
            Ok(None) => {
                self.done = true;
                return None;
            }
            Err(e) => {
                self.done = true;
                return Some(Err(format!("after {} inputs: {e}", self.read)));
            }
        };
        match decode(&line) {
            Ok((ms, ev)) => {
                self.read += 1;
                Some(Ok((Duration::from_millis(ms), ev)))
            }
            Err(e) => {
                self.done = true;
                Some(Err(format!("input {} is damaged: {e}", self.read + 1)))
            }
        }
    }
}
