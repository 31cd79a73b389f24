//! Recorded demos: `--record FILE` writes the dashboard's inputs as they
//! arrive (each scan's outcome, each answer of the repro runner, with
//! its time), and `--replay FILE` plays them back through the same
//! channel, at their pace or faster, with no root and no sockets: the
//! fallback when a venue's machine cannot run the live demo.
//!
//! Recording happens where inputs enter the dashboard (the event loop),
//! so what is replayed is exactly what was shown; keys are not recorded,
//! so the replay can be browsed like a live dashboard. Modules:
//! [`format`] (the header and the lines, checked when read), [`wire`]
//! (the serde form of the repro engine's types), [`recorder`],
//! [`reader`], and [`mark`] (what the header says). The source that
//! plays a recording is [`crate::tui::worker::ReplaySource`], beside the
//! scan worker it stands in for.

pub mod format;
pub mod mark;
pub mod reader;
pub mod recorder;
pub mod wire;

use std::time::Duration;

pub use format::Header;
pub use mark::{Mark, ReplayNews};
pub use reader::{Recording, ReplayError};
pub use recorder::Recorder;

use crate::tui::repro::ReproEffect;

/// Where the dashboard's inputs come from.
#[derive(Debug)]
pub enum Inputs {
    /// The scanner and the repro runner, written to a recording if given.
    Live { recorder: Option<Recorder> },
    /// A recording, played at `speed` times its pace.
    Replay { recording: Recording, speed: f64 },
}

/// The fastest replay.
pub const MAX_SPEED: f64 = 1000.0;

/// Parses `--speed`: a factor above 0, at most [`MAX_SPEED`].
pub fn parse_speed(text: &str) -> Result<f64, String> {
    let v: f64 = text
        .trim()
        .trim_end_matches(['x', '×'])
        .parse()
        .map_err(|_| {
            format!("{text:?} is not a number (1 plays at the recorded pace, 2 twice as fast)")
        })?;
    if !v.is_finite() || v <= 0.0 {
        return Err(format!(
            "{text} is not a speed: give a factor above 0 (1, 2, 0.5)"
        ));
    }
    if v > MAX_SPEED {
        return Err(format!("{text} is too fast: at most {MAX_SPEED}"));
    }
    Ok(v)
}

/// When an input recorded at `at` plays at `speed`.
pub fn play_time(at: Duration, speed: f64) -> Duration {
    Duration::try_from_secs_f64(at.as_secs_f64() / speed).unwrap_or(Duration::MAX)
}

/// What a key of the repro pane would do to this machine, when it would
/// do something: a replay refuses it.
pub fn refused(effect: ReproEffect) -> Option<&'static str> {
    match effect {
        ReproEffect::Start => Some("starting a loop"),
        ReproEffect::Stop => Some("stopping a loop"),
        ReproEffect::CloseSocket => Some("closing the socket"),
        _ => None,
    }
}

/// This machine's name, for the header (`unknown` if it cannot be read).
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn speeds_above_zero_and_bounded() {
        assert_eq!(parse_speed("2"), Ok(2.0));
        assert_eq!(parse_speed("0.5x"), Ok(0.5));
        for bad in ["0", "-1", "nan", "inf", "fast", "1001"] {
            assert!(parse_speed(bad).is_err(), "{bad}");
        }
        assert_eq!(
            play_time(Duration::from_secs(10), 4.0),
            Duration::from_millis(2500)
        );
    }
}
