//! The repro pane: make a client on this machine connect to itself, live,
//! from the dashboard. One module with everything the feature needs:
//!
//! - [`form`]: what the user fills in for each loop (port, host, mode,
//!   pace) and the note under it;
//! - [`history`]: one run as the pane shows it (counters sampled at the
//!   draw tick, the rates and source ports seen, how far it got);
//! - [`messages`]: the requests to the runner and its answers;
//! - [`state`] and [`answers`]: the pane's state and the one place it
//!   changes, on keys and on the runner's answers (pure: tests feed fixed
//!   answers);
//! - [`keys`]: the keys that apply in each state, with their words, read
//!   by the pane's hints and the footer alike;
//! - [`runner`]: the threads (owned by the event loop, never by the state),
//!   with the packet capture of each run (`capture`) and the "service
//!   restart" incident (`incident`);
//! - [`view`], [`view_run`], `view_numbers` and [`words`]: the drawing, and the pane's
//!   wording of [`crate::repro::explain`]'s advice.
//!
//! Two slots ([`SLOTS`]): the first loop, and the second one of a duel
//! (`d`). The same port cannot connect to itself twice at once, so the
//! duel presets put the second loop on another port: the odd neighbour for
//! the parity duel (which never connects), the next even port for the
//! guard duel (the guard catches and closes; the plain loop holds its port).

pub mod answers;
mod capture;
pub mod form;
pub mod history;
mod incident;
pub mod keys;
pub mod messages;
pub mod runner;
pub mod state;
pub mod view;
mod view_incident;
mod view_numbers;
mod view_run;
mod view_strip;
mod words;

use std::time::Duration;

pub use form::{Field, FormDefaults, HOSTS, Note, Pace, Slot, fits_host_field, is_host_char};
pub use history::{Capture, Run, Step};
pub use incident::INCIDENT_TIME;
pub use messages::{Purpose, ReproRequest, ReproUpdate, ScanFacts};
pub use runner::{ReproRunner, is_free, suggest};
pub use state::{ReproEffect, ReproState};
pub use view::ReproPane;

/// How many loops can run side by side.
pub const SLOTS: usize = 2;
/// A run started from the dashboard stops by itself after this long...
pub const MAX_TIME: Duration = Duration::from_secs(300);
/// ... or this many attempts (about 5 minutes as fast as possible).
pub const MAX_ATTEMPTS: u64 = 100_000_000;
