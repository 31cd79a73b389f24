//! Reads a file on a helper thread, a few blocks ahead of its consumer.
//!
//! A big TCP table costs two things: the kernel writing it out (most of a
//! `cat`'s time) and our parsing of it. Read on one thread, the two add
//! up; with the reads on a helper thread the parsing happens while the
//! kernel writes the next block, and a scan of a busy host takes about as
//! long as a `cat` of its tables. The queue is bounded ([`AHEAD`] blocks),
//! so memory stays small whatever the file's size, and the helper stops
//! at the end of the file, at its first error, or as soon as the consumer
//! is dropped (its next block has nowhere to go).

use std::io::{self, Read};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

/// The size of one hand-over to the consumer: few enough that their cost
/// does not show, and under the allocator's threshold for mapping fresh
/// memory (each block would otherwise cost page faults).
pub const BLOCK: usize = 64 * 1024;

/// How many blocks may wait for the consumer.
const AHEAD: usize = 4;

/// A reader whose reads were done on a helper thread.
pub struct ReadAhead {
    blocks: Receiver<io::Result<Vec<u8>>>,
    current: Vec<u8>,
    pos: usize,
    /// Set once the helper said it is done (end of file or an error).
    done: bool,
}

impl ReadAhead {
    /// Starts reading `input` on a helper thread; `None` when no thread
    /// can be started (the caller then reads it itself).
    pub fn start<R: Read + Send + 'static>(input: R) -> Result<ReadAhead, R> {
        let (tx, rx) = sync_channel(AHEAD);
        // The input goes to the thread through a slot it can be taken back
        // from if the thread cannot start.
        let slot = std::sync::Arc::new(std::sync::Mutex::new(Some(input)));
        let theirs = slot.clone();
        let started = std::thread::Builder::new()
            .name("table-reader".into())
            .spawn(move || {
                let input = theirs.lock().ok().and_then(|mut s| s.take());
                if let Some(input) = input {
                    pump(input, &tx);
                }
            });
        match started {
            Ok(_) => Ok(ReadAhead {
                blocks: rx,
                current: Vec::new(),
                pos: 0,
                done: false,
            }),
            Err(_) => {
                let input = slot.lock().ok().and_then(|mut s| s.take());
                // Without a thread nobody else took it.
                Err(input.expect("the input is still in its slot"))
            }
        }
    }
}

/// The helper: sends full blocks until the end, an error, or nobody
/// listens. A `/proc` file hands out a page per read, so a block is filled
/// by many reads before it is sent: one hand-over per block, not per page.
fn pump(mut input: impl Read, tx: &SyncSender<io::Result<Vec<u8>>>) {
    loop {
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
        if filled > 0 && tx.send(Ok(block)).is_err() {
            return;
        }
        match end {
            None => {}
            Some(Ok(())) => return,
            Some(Err(e)) => {
                let _ = tx.send(Err(e));
                return;
            }
        }
    }
}

impl Read for ReadAhead {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.current.len() {
            if self.done {
                return Ok(0);
            }
            match self.blocks.recv() {
                Ok(Ok(block)) => {
                    self.current = block;
                    self.pos = 0;
                }
                Ok(Err(e)) => {
                    self.done = true;
                    return Err(e);
                }
                // The helper ended: the end of the file.
                Err(_) => self.done = true,
            }
        }
        let n = buf.len().min(self.current.len() - self.pos);
        buf[..n].copy_from_slice(&self.current[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Input that hands out a few bytes per read, then fails.
    struct Trickle {
        left: usize,
        fail_at_end: bool,
    }

    impl Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.left == 0 {
                return if self.fail_at_end {
                    Err(io::Error::other("device went away"))
                } else {
                    Ok(0)
                };
            }
            let n = buf.len().min(self.left).min(7);
            buf[..n].fill(b'x');
            self.left -= n;
            Ok(n)
        }
    }

    #[test]
    fn everything_arrives_in_order() {
        let text: Vec<u8> = (0..3 * BLOCK + 17).map(|i| (i % 251) as u8).collect();
        let mut r = ReadAhead::start(io::Cursor::new(text.clone()))
            .ok()
            .unwrap();
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        assert_eq!(out, text);
        // And the end stays the end.
        assert_eq!(r.read(&mut [0; 8]).unwrap(), 0);
    }

    #[test]
    fn an_error_after_data_arrives_after_the_data() {
        let mut r = ReadAhead::start(Trickle {
            left: 100,
            fail_at_end: true,
        })
        .ok()
        .unwrap();
        let mut out = Vec::new();
        let err = r.read_to_end(&mut out).unwrap_err();
        assert_eq!(out.len(), 100);
        assert_eq!(err.to_string(), "device went away");
    }

    /// Endless input that says when it is dropped.
    struct Endless(std::sync::Arc<std::sync::atomic::AtomicBool>);

    impl Read for Endless {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            buf.fill(0);
            Ok(buf.len())
        }
    }

    impl Drop for Endless {
        fn drop(&mut self) {
            self.0.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    }

    #[test]
    fn a_dropped_reader_stops_its_helper_on_endless_input() {
        let dropped = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut r = ReadAhead::start(Endless(dropped.clone())).ok().unwrap();
        let mut buf = [1u8; 1000];
        r.read_exact(&mut buf).unwrap();
        assert!(buf.iter().all(|&b| b == 0));
        assert!(!dropped.load(std::sync::atomic::Ordering::SeqCst));
        drop(r);
        // The helper notices at its next send, then drops its input.
        let gone = (0..500).any(|_| {
            std::thread::sleep(std::time::Duration::from_millis(10));
            dropped.load(std::sync::atomic::Ordering::SeqCst)
        });
        assert!(gone, "the helper kept reading after its reader was dropped");
    }
}
