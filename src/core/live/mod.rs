//! Live catch, the pure part: the kernel's trace events as typed data
//! (parsed from `trace_pipe` text), the self-connect predicate, the
//! retry-storm aggregator and the estimate of how soon a storm connects to
//! itself. The I/O that feeds it lives in `crate::sys::tracefs`.

pub mod event;
pub mod parse;
pub mod storm;
pub mod walk;

pub use event::{LiveEvent, Owner, ResetReceived, StateChange, Task, TcpState, TraceEvent};
pub use parse::{ParseError, parse_line};
pub use storm::{StormChange, StormConfig, StormKey, StormStats, StormTracker};
pub use walk::{TriesEstimate, tries_estimate};
