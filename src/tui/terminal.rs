//! Entering and leaving the full-screen terminal: raw mode, the alternate
//! screen, mouse reporting, bracketed paste and the cursor, restored on
//! every way out (return, panic, signal; see [`super::run`]), left for a
//! while on Ctrl-Z or SIGTSTP ([`suspend`]) and taken back on SIGCONT
//! ([`resume`]).
//!
//! `ratatui::init` is not used: its panic hook does not turn mouse
//! reporting off, and a terminal left reporting the mouse is broken. The
//! screen is cleared through crossterm rather than `Terminal::clear`,
//! which in ratatui 0.30 asks the terminal for the cursor position.

use std::io::{self, Stdout, Write};
use std::sync::Once;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

use crossterm::event::{DisableBracketedPaste, DisableMouseCapture, EnableBracketedPaste};
use crossterm::terminal::{
    Clear, ClearType, EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use crossterm::{cursor, execute};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

pub type Term = Terminal<CrosstermBackend<Stdout>>;

/// Where the terminal is: as we found it (and nothing to restore), in our
/// mode, or handed back to the shell for a suspension.
const OFF: u8 = 0;
const ON: u8 = 1;
const SUSPENDED: u8 = 2;
static STATE: AtomicU8 = AtomicU8::new(OFF);
/// Set by the panic hook: the loop must stop drawing.
static PANICKED: AtomicBool = AtomicBool::new(false);
static HOOK: Once = Once::new();

/// Mouse reporting for clicks and the wheel only (1000) in SGR encoding
/// (1006). crossterm's `EnableMouseCapture` also asks for every pointer
/// motion (1003), a flood of events this dashboard does not use.
struct EnableClicksAndWheel;

impl crossterm::Command for EnableClicksAndWheel {
    fn write_ansi(&self, f: &mut impl std::fmt::Write) -> std::fmt::Result {
        f.write_str("\x1b[?1000h\x1b[?1006h")
    }
}

/// Restores the terminal when dropped.
pub struct Guard(());

impl Drop for Guard {
    fn drop(&mut self) {
        restore();
    }
}

/// Puts the terminal in full-screen mode and returns it with the guard
/// that restores it. On failure whatever was done is undone.
pub fn enter() -> io::Result<(Term, Guard)> {
    install_panic_hook();
    STATE.store(ON, Ordering::SeqCst);
    let guard = Guard(());
    take_over()?;
    let terminal = Terminal::new(CrosstermBackend::new(io::stdout()))?;
    Ok((terminal, guard))
}

/// Raw mode, the alternate screen (cleared), clicks and the wheel,
/// bracketed paste (a paste arrives as one event, not as keys), no cursor.
fn take_over() -> io::Result<()> {
    enable_raw_mode()?;
    execute!(
        io::stdout(),
        EnterAlternateScreen,
        EnableClicksAndWheel,
        EnableBracketedPaste,
        cursor::Hide,
        Clear(ClearType::All)
    )
}

/// Undoes [`take_over`]. Every step is tried even if one fails (a hung-up
/// terminal fails them all).
fn hand_back() {
    let mut out = io::stdout();
    let _ = execute!(
        out,
        DisableBracketedPaste,
        DisableMouseCapture,
        cursor::Show,
        LeaveAlternateScreen
    );
    let _ = disable_raw_mode();
    let _ = out.flush();
}

/// Leaves full-screen mode for good; harmless when called again, or while
/// suspended (the terminal is the shell's already).
pub fn restore() {
    if STATE.swap(OFF, Ordering::SeqCst) == ON {
        hand_back();
    }
}

/// Hands the terminal back to the shell before the process stops (Ctrl-Z,
/// SIGTSTP), when it is ours to hand back.
pub fn suspend() {
    if STATE
        .compare_exchange(ON, SUSPENDED, Ordering::SeqCst, Ordering::SeqCst)
        .is_ok()
    {
        hand_back();
    }
}

/// Takes the terminal back after SIGCONT: from a suspension, and also
/// when the process was stopped without one (`kill -STOP`), since the
/// shell resets the terminal to its own modes while a job is stopped.
/// Raw mode is left first, so that it is entered again from the
/// terminal's modes of now (crossterm skips entering it when it believes
/// it still is). The caller redraws everything.
pub fn resume() -> io::Result<()> {
    match STATE.compare_exchange(SUSPENDED, ON, Ordering::SeqCst, Ordering::SeqCst) {
        Ok(_) => {}
        Err(ON) => {
            let _ = disable_raw_mode();
        }
        // Restored for good: nothing to take back.
        Err(_) => return Ok(()),
    }
    take_over()
}

/// Whether the dashboard still owns the terminal, or will again after a
/// suspension (false once it is restored for good, by a panic too).
pub fn is_active() -> bool {
    STATE.load(Ordering::SeqCst) != OFF
}

pub fn panicked() -> bool {
    PANICKED.load(Ordering::SeqCst)
}

/// Restores the terminal before the panic message is printed, so that the
/// message is readable and the shell usable, whichever thread panics.
fn install_panic_hook() {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICKED.store(true, Ordering::SeqCst);
            restore();
            previous(info);
        }));
    });
}
