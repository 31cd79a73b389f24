//! Everything the main loop reacts to arrives as one [`Event`] over one
//! channel: keys, pastes and mouse from the input thread, snapshots from
//! the scan worker, signals from the signal thread, what live catch
//! reports from its reader thread.
//!
//! The input thread reads through crossterm built with `use-dev-tty`:
//! its default reader registers the tty with epoll edge-triggered and
//! returns after the first event of a read, so the rest of a burst
//! (a paste of 2 KB or more without bracketed paste) stays queued on the
//! tty until the next key arrives, and an Esc typed after it is not seen
//! (crossterm issue #813, pull request #1057). The `use-dev-tty` reader
//! polls level-triggered, so whatever is queued is read.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::thread::JoinHandle;
use std::time::Duration;

use crossterm::event::{self as ct, KeyEvent, MouseEvent};

use super::app::ScanResult;
use super::repro::ReproUpdate;

#[derive(Debug)]
pub enum Event {
    Key(KeyEvent),
    /// Text pasted into the terminal (bracketed paste), as one event.
    Paste(String),
    Mouse(MouseEvent),
    Resize(u16, u16),
    /// The terminal gained or lost focus: nothing to do but draw.
    Other,
    Scan(Box<ScanResult>),
    /// An event of live catch (a self-connect caught, a retry storm).
    Live(Box<crate::sys::tracefs::Caught>),
    /// An answer of the repro runner (sampled counters, a start, an end).
    Repro(Box<ReproUpdate>),
    /// News of the replay source (it has played everything).
    Replay(super::record::ReplayNews),
    /// SIGTERM, SIGHUP, SIGINT or SIGQUIT: leave cleanly.
    Signal(i32),
    /// SIGTSTP: hand the terminal back and stop, as Ctrl-Z does.
    Suspend,
    /// SIGCONT: the process was stopped (by us or anyone) and continues;
    /// the terminal must be taken back and redrawn.
    Continued,
    /// The terminal cannot be read any more.
    InputGone(String),
}

/// Reads the terminal until `stop` is set. Polls with a timeout so that it
/// notices `stop`; a key is still delivered as soon as it arrives.
pub fn spawn_input(tx: Sender<Event>, stop: Arc<AtomicBool>) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("selfconn-input".into())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                match ct::poll(Duration::from_millis(200)) {
                    Ok(false) => continue,
                    Ok(true) => {}
                    Err(e) => {
                        let _ = tx.send(Event::InputGone(e.to_string()));
                        return;
                    }
                }
                let ev = match ct::read() {
                    Ok(ct::Event::Key(k)) => Event::Key(k),
                    Ok(ct::Event::Paste(text)) => Event::Paste(text),
                    Ok(ct::Event::Mouse(m)) => Event::Mouse(m),
                    Ok(ct::Event::Resize(w, h)) => Event::Resize(w, h),
                    Ok(_) => Event::Other,
                    Err(e) => {
                        let _ = tx.send(Event::InputGone(e.to_string()));
                        return;
                    }
                };
                if tx.send(ev).is_err() {
                    return;
                }
            }
        })
}

/// Forwards termination signals to the loop, which restores the terminal
/// and exits; a second signal of the same kind exits at once (for a loop
/// that no longer answers). Also forwards SIGTSTP and SIGCONT, for
/// suspending like other full-screen programs.
pub struct SignalThread {
    handle: signal_hook::iterator::Handle,
}

impl SignalThread {
    pub fn spawn(tx: Sender<Event>) -> std::io::Result<SignalThread> {
        use signal_hook::consts::{SIGCONT, SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGTSTP};
        let ends = [SIGTERM, SIGHUP, SIGINT, SIGQUIT];
        let seen = Arc::new(AtomicBool::new(false));
        for s in ends {
            signal_hook::flag::register_conditional_shutdown(s, 128 + s, Arc::clone(&seen))?;
            signal_hook::flag::register(s, Arc::clone(&seen))?;
        }
        let mut signals =
            signal_hook::iterator::Signals::new(ends.into_iter().chain([SIGTSTP, SIGCONT]))?;
        let handle = signals.handle();
        std::thread::Builder::new()
            .name("selfconn-signals".into())
            .spawn(move || {
                for sig in signals.forever() {
                    let ev = match sig {
                        SIGTSTP => Event::Suspend,
                        SIGCONT => Event::Continued,
                        _ => Event::Signal(sig),
                    };
                    if tx.send(ev).is_err() {
                        return;
                    }
                }
            })?;
        Ok(SignalThread { handle })
    }

    pub fn close(&self) {
        self.handle.close();
    }
}
