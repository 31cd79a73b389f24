//! What the header says of a recording: that this screen is a replay
//! (of which file, recorded when and where, at what speed, and whether it
//! has ended), or that the dashboard records. Pure data and words; the
//! header draws the line, the event loop and the app keep it current.

use chrono::{DateTime, Local};

use super::format::Header;
use crate::core::words::{plural, time_of_day};

#[derive(Debug, Clone, PartialEq)]
pub enum Mark {
    Recording {
        file: String,
        /// Why recording stopped early.
        stopped: Option<String>,
    },
    Replay {
        file: String,
        recorded: DateTime<Local>,
        host: String,
        speed: f64,
        /// Set when the last input was played: how it ended.
        ended: Option<String>,
        /// The last key refused, and when.
        refused: Option<String>,
    },
}

/// What the replay source tells the dashboard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplayNews {
    /// Every input was played (`problem`: the file ended early or a line
    /// was damaged, and why).
    Ended {
        inputs: u64,
        problem: Option<String>,
    },
}

impl Mark {
    pub fn replay(file: &str, header: &Header, speed: f64) -> Mark {
        Mark::Replay {
            file: file.to_string(),
            recorded: header.started,
            host: header.host.clone(),
            speed,
            ended: None,
            refused: None,
        }
    }

    pub fn is_replay(&self) -> bool {
        matches!(self, Mark::Replay { .. })
    }

    /// A key that would act on this machine was refused: say so.
    pub fn refuse(&mut self, what: &str, at: DateTime<Local>) {
        if let Mark::Replay { refused, .. } = self {
            *refused = Some(format!(
                "{} refused at {}: a replay acts on nothing",
                what,
                time_of_day(&at)
            ));
        }
    }

    pub fn on_news(&mut self, news: ReplayNews) {
        if let Mark::Replay { ended, .. } = self {
            let ReplayNews::Ended { inputs, problem } = news;
            *ended = Some(match problem {
                None => format!("ended ({} played)", plural(inputs, "input", "inputs")),
                Some(p) => format!("ended early, {p}"),
            });
        }
    }

    /// The header's line (sanitised by the header, as all its notes).
    pub fn line(&self) -> String {
        match self {
            Mark::Recording {
                file,
                stopped: None,
            } => format!("● recording to {file}"),
            Mark::Recording {
                file,
                stopped: Some(why),
            } => format!("● not recording any more to {file}: {why}"),
            Mark::Replay {
                file,
                recorded,
                host,
                speed,
                ended,
                refused,
            } => {
                let mut s = format!(
                    "▶ REPLAY of {file}, recorded {} on {host}",
                    recorded.format("%Y-%m-%d %H:%M")
                );
                if *speed != 1.0 {
                    s.push_str(&format!(" (×{speed})"));
                }
                for extra in [ended, refused].into_iter().flatten() {
                    s.push_str(" · ");
                    s.push_str(extra);
                }
                s
            }
        }
    }
}
