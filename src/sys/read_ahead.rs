//! Reads a file on a helper thread, a few blocks ahead of its consumer.
//!
//! A big TCP table costs two things: the kernel writing it out (most of a
//! `cat`'s time) and our parsing of it. Read on one thread, the two add
//! up; with the reads on a helper thread the parsing happens while the
//! kernel writes the next block, and a scan of a busy host takes about as
//! long as a `cat` of its tables. The first block is read on the calling
//! thread, and a file that fits in it (most namespaces' tables, every
//! fixture) starts no thread at all.
//!
//! The queue is bounded ([`AHEAD`] blocks), so memory stays small whatever
//! the file's size; the helper stops at the end of the file, at its first
//! error, or at its next hand-over after the consumer is dropped. (A read
//! that never returns, such as a FIFO in a fixture tree whose writer
//! stalls, keeps its helper: a live `/proc` file always returns.)

use std::io::{self, Read};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

/// The size of one hand-over to the consumer: few enough that their cost
/// does not show, and under the allocator's threshold for mapping fresh
/// memory (each block would otherwise cost page faults).
pub const BLOCK: usize = 64 * 1024;

/// How many blocks may wait for the consumer.
const AHEAD: usize = 4;

/// What the helper hands over.
enum Piece {
    Block(Vec<u8>),
    Failed(io::Error),
    End,
}

/// A reader whose reads (after the first block) are done on a helper
/// thread.
pub struct ReadAhead<R> {
    /// `None` once nothing more will come: the file fit in the first
    /// block, or the helper said it is done.
    pieces: Option<Receiver<Piece>>,
    /// The input, when no helper could be started: read here.
    direct: Option<R>,
    current: Vec<u8>,
    pos: usize,
    /// An error met while filling the first block, given after its bytes.
    failed: Option<io::Error>,
}

impl<R: Read + Send + 'static> ReadAhead<R> {
    /// Reads the first block of `input`, and starts a helper thread for
    /// the rest when there is more (read here instead when no thread can
    /// be started).
    pub fn start(mut input: R) -> ReadAhead<R> {
        let (current, end) = fill(&mut input);
        let mut me = ReadAhead {
            pieces: None,
            direct: None,
            current,
            pos: 0,
            failed: None,
        };
        match end {
            Some(Ok(())) => {}
            Some(Err(e)) => me.failed = Some(e),
            None => {
                let (tx, rx) = sync_channel(AHEAD);
                // The input goes to the thread through a slot it can be
                // taken back from if the thread cannot start.
                let slot = std::sync::Arc::new(std::sync::Mutex::new(Some(input)));
                let theirs = slot.clone();
                let started = std::thread::Builder::new()
                    .name("table-reader".into())
                    .spawn(move || {
                        if let Some(input) = theirs.lock().ok().and_then(|mut s| s.take()) {
                            pump(input, &tx);
                        }
                    });
                match started {
                    Ok(_) => me.pieces = Some(rx),
                    // Without a thread nobody took it back out.
                    Err(_) => me.direct = slot.lock().ok().and_then(|mut s| s.take()),
                }
            }
        }
        me
    }
}

/// Reads into a fresh block until it is full (`None`: there may be more),
/// the end of the input or an error. A `/proc` file hands out a page per
/// read, so a block takes many reads.
fn fill(input: &mut impl Read) -> (Vec<u8>, Option<io::Result<()>>) {
    let mut block = vec![0; BLOCK];
    let mut filled = 0;
    let end = loop {
        if filled == BLOCK {
            break None;
        }
        match input.read(&mut block[filled..]) {
            Ok(0) => break Some(Ok(())),
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => break Some(Err(e)),
        }
    };
    block.truncate(filled);
    (block, end)
}

/// The helper: hands over full blocks until the end, an error, or nobody
/// listens; the last piece says which.
fn pump(mut input: impl Read, tx: &SyncSender<Piece>) {
    loop {
        let (block, end) = fill(&mut input);
        if !block.is_empty() && tx.send(Piece::Block(block)).is_err() {
            return;
        }
        match end {
            None => {}
            Some(Ok(())) => {
                let _ = tx.send(Piece::End);
                return;
            }
            Some(Err(e)) => {
                let _ = tx.send(Piece::Failed(e));
                return;
            }
        }
    }
}

impl<R: Read> Read for ReadAhead<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.current.len() {
            if let Some(e) = self.failed.take() {
                return Err(e);
            }
            if let Some(input) = &mut self.direct {
                return input.read(buf);
            }
            let Some(pieces) = &self.pieces else {
                return Ok(0);
            };
            match pieces.recv() {
                Ok(Piece::Block(block)) => {
                    self.current = block;
                    self.pos = 0;
                }
                Ok(Piece::Failed(e)) => {
                    self.pieces = None;
                    return Err(e);
                }
                Ok(Piece::End) => self.pieces = None,
                // Gone without a word: it panicked. The file was not read
                // to its end, which must not pass for a whole table.
                Err(_) => {
                    self.pieces = None;
                    return Err(io::Error::other("the table's reader thread stopped"));
                }
            }
        }
        let n = buf.len().min(self.current.len() - self.pos);
        buf[..n].copy_from_slice(&self.current[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
#[path = "read_ahead_tests.rs"]
mod tests;
