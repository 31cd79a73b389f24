//! The ways a client can reach itself, each named after what it shows.

use std::fmt;
use std::str::FromStr;

/// How each attempt gets its socket and source port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Mode {
    /// A new socket per attempt, like a shell loop around `nc`: the kernel
    /// picks a source port for each `connect()`.
    #[default]
    Fresh,
    /// One socket, `connect()` again and again after each refusal, like
    /// `tcploop.c`: the fastest way to walk the source ports.
    Reuse,
    /// `bind()` the source port to the target port (with `SO_REUSEADDR`),
    /// then `connect()`: connected to itself on the first try, on any free
    /// port, in the ephemeral range or not.
    Bind,
    /// `bind()` to port 0, then `connect()`: the kernel picks a port of the
    /// other parity than `connect()` would, at random.
    BindFirst,
    /// `Fresh` plus Go's dialer guard: a connection whose local address
    /// equals its peer is counted as caught, closed, and retried.
    Guarded,
}

impl Mode {
    pub const ALL: [Mode; 5] = [
        Mode::Fresh,
        Mode::Reuse,
        Mode::Bind,
        Mode::BindFirst,
        Mode::Guarded,
    ];

    /// The name on the command line and in JSON.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Fresh => "fresh",
            Mode::Reuse => "reuse",
            Mode::Bind => "bind",
            Mode::BindFirst => "bind-first",
            Mode::Guarded => "guarded",
        }
    }

    /// One line on what the mode does.
    pub fn summary(self) -> &'static str {
        match self {
            Mode::Fresh => "a new socket per attempt, like a loop around nc",
            Mode::Reuse => "one socket, connect() again and again, like tcploop.c",
            Mode::Bind => "bind the source port to the target port, then connect",
            Mode::BindFirst => "bind to port 0, then connect: the kernel picks the other parity",
            Mode::Guarded => "fresh plus Go's guard: a self-connection is closed and retried",
        }
    }

    /// Whether the kernel picks the source port through `connect()` (and
    /// so walks the ports with the parity of the range's low end).
    pub fn connect_picks_port(self) -> bool {
        matches!(self, Mode::Fresh | Mode::Reuse | Mode::Guarded)
    }

    /// Whether the kernel also picks the source address (no `bind()`): then
    /// a target reached from another local address can never be hit.
    pub fn kernel_picks_address(self) -> bool {
        self.connect_picks_port()
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Mode {
    type Err = String;

    fn from_str(s: &str) -> Result<Mode, String> {
        Mode::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Mode::ALL.iter().map(|m| m.name()).collect();
                format!("unknown mode {s:?} (one of: {})", names.join(", "))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for m in Mode::ALL {
            assert_eq!(m.name().parse::<Mode>(), Ok(m));
        }
        assert!("nc".parse::<Mode>().unwrap_err().contains("bind-first"));
    }
}
