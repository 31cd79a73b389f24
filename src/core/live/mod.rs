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

use crate::core::ports::PortRange;

/// The widest ephemeral range among some namespaces' (lowest low to
/// highest high): the kernel's filter on refused connects watches it, so
/// that a storm in any namespace is seen. The kernel's default when none.
pub fn widest_range(ranges: impl IntoIterator<Item = PortRange>) -> PortRange {
    ranges
        .into_iter()
        .reduce(|a, b| PortRange {
            low: a.low.min(b.low),
            high: a.high.max(b.high),
        })
        .unwrap_or(PortRange::KERNEL_DEFAULT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_widest_range_spans_every_namespace() {
        let r = |low, high| PortRange { low, high };
        assert_eq!(
            widest_range([r(40000, 40009), r(32768, 35000), r(39000, 41000)]),
            r(32768, 41000)
        );
        assert_eq!(widest_range([]), PortRange::KERNEL_DEFAULT);
    }
}
