//! Entering and leaving the full-screen terminal: raw mode, the alternate
//! screen, mouse reporting and the cursor, restored on every way out
//! (return, panic, signal; see [`super::run`]).
//!
//! `ratatui::init` is not used: its panic hook does not turn mouse
//! reporting off, and a terminal left reporting the mouse is broken. The
//! screen is cleared through crossterm rather than `Terminal::clear`,
//! which in ratatui 0.30 asks the terminal for the cursor position.

use std::io::{self, Stdout, Write};
use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};

use crossterm::event::DisableMouseCapture;
use crossterm::terminal::{
    Clear, ClearType, EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use crossterm::{cursor, execute};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

pub type Term = Terminal<CrosstermBackend<Stdout>>;

/// Whether the terminal is in our mode and must be restored.
static ACTIVE: AtomicBool = AtomicBool::new(false);
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
    ACTIVE.store(true, Ordering::SeqCst);
    let guard = Guard(());
    enable_raw_mode()?;
    let mut out = io::stdout();
    execute!(
        out,
        EnterAlternateScreen,
        EnableClicksAndWheel,
        cursor::Hide,
        Clear(ClearType::All)
    )?;
    let terminal = Terminal::new(CrosstermBackend::new(io::stdout()))?;
    Ok((terminal, guard))
}

/// Leaves full-screen mode; harmless when called again. Every step is
/// tried even if one fails (a hung-up terminal fails them all).
pub fn restore() {
    if !ACTIVE.swap(false, Ordering::SeqCst) {
        return;
    }
    let mut out = io::stdout();
    let _ = execute!(out, DisableMouseCapture, cursor::Show, LeaveAlternateScreen);
    let _ = disable_raw_mode();
    let _ = out.flush();
}

pub fn is_active() -> bool {
    ACTIVE.load(Ordering::SeqCst)
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
