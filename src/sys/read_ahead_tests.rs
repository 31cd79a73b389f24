use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::*;

/// Input that hands out a few bytes per read, then ends or fails.
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
        let n = buf.len().min(self.left).min(4050);
        buf[..n].fill(b'x');
        self.left -= n;
        Ok(n)
    }
}

/// Endless input that says when it is dropped, or panics after a while.
struct Endless {
    dropped: Arc<AtomicBool>,
    panic_after: Option<usize>,
}

impl Read for Endless {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(n) = &mut self.panic_after {
            *n = n.checked_sub(1).expect("the input breaks down");
        }
        buf.fill(0);
        Ok(buf.len())
    }
}

impl Drop for Endless {
    fn drop(&mut self) {
        self.dropped.store(true, Ordering::SeqCst);
    }
}

#[test]
fn everything_arrives_in_order() {
    let text: Vec<u8> = (0..3 * BLOCK + 17).map(|i| (i % 251) as u8).collect();
    let mut r = ReadAhead::start(io::Cursor::new(text.clone()));
    assert!(r.pieces.is_some(), "more than a block: read by a helper");
    let mut out = Vec::new();
    r.read_to_end(&mut out).unwrap();
    assert_eq!(out, text);
    // And the end stays the end.
    assert_eq!(r.read(&mut [0; 8]).unwrap(), 0);
}

#[test]
fn a_file_that_fits_in_a_block_starts_no_thread() {
    let mut r = ReadAhead::start(io::Cursor::new(b"short\n".to_vec()));
    assert!(r.pieces.is_none());
    let mut out = String::new();
    r.read_to_string(&mut out).unwrap();
    assert_eq!(out, "short\n");
}

#[test]
fn an_error_comes_after_the_data_read_before_it() {
    for left in [100, 3 * BLOCK + 100] {
        let mut r = ReadAhead::start(Trickle {
            left,
            fail_at_end: true,
        });
        let mut out = Vec::new();
        let err = r.read_to_end(&mut out).unwrap_err();
        assert_eq!(out.len(), left);
        assert_eq!(err.to_string(), "device went away");
    }
}

#[test]
fn a_helper_that_panics_is_an_error_not_an_end() {
    let dropped = Arc::new(AtomicBool::new(false));
    let mut r = ReadAhead::start(Endless {
        dropped,
        panic_after: Some(3),
    });
    let mut out = Vec::new();
    let err = r.read_to_end(&mut out).unwrap_err();
    assert!(err.to_string().contains("reader thread stopped"), "{err}");
}

#[test]
fn a_dropped_reader_stops_its_helper_on_endless_input() {
    let dropped = Arc::new(AtomicBool::new(false));
    let mut r = ReadAhead::start(Endless {
        dropped: dropped.clone(),
        panic_after: None,
    });
    let mut buf = vec![1u8; 3 * BLOCK];
    r.read_exact(&mut buf).unwrap();
    assert!(buf.iter().all(|&b| b == 0));
    assert!(!dropped.load(Ordering::SeqCst));
    drop(r);
    // The helper notices at its next hand-over, then drops its input.
    let gone = (0..500).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(10));
        dropped.load(Ordering::SeqCst)
    });
    assert!(gone, "the helper kept reading after its reader was dropped");
}
