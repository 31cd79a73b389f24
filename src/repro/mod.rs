//! The reproduction engine: makes a TCP client on this machine connect to
//! itself, counts every attempt live, and proves the result with an echo.
//!
//! No terminal code here: `selfconn-tui repro` and the dashboard both drive
//! it. A UI starts a run with [`ReproHandle::spawn`], reads
//! [`Counters::snapshot`] as often as it likes (atomics, no lock), calls
//! [`ReproHandle::stop`] when the user wants, and takes the [`Outcome`],
//! which holds the self-connected socket open until it is dropped.
//!
//! ```no_run
//! use selfconn_tui::repro::{Config, Mode, ReproHandle, Target};
//! let target = Target::resolve("127.0.0.1", 44600)?;
//! let handle = ReproHandle::spawn(Config::new(target, Mode::Reuse))?;
//! while !handle.is_finished() {
//!     let s = handle.snapshot();
//!     println!("{} attempts, source port {:?}", s.attempts, s.last_source_port);
//!     std::thread::sleep(std::time::Duration::from_millis(100));
//! }
//! let mut outcome = handle.join();
//! let socket = outcome.take_connection(); // open until dropped
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod counters;
pub mod engine;
pub mod explain;
pub mod facts;
pub mod handle;
pub mod mode;
pub mod pace;
pub mod proof;
pub mod scenario;
pub mod target;

pub use counters::{Counters, ErrorCounts, Snapshot, Stage};
pub use engine::{Config, End, Outcome, ReproError, run};
pub use handle::ReproHandle;
pub use mode::Mode;
pub use proof::{ECHO_MESSAGE, Echo, SelfConnection};
pub use target::{Target, TargetError, parse_port};
