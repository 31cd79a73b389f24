//! Packets on the wire, without I/O: the IP and TCP headers read into a
//! record, a line in tcpdump's words, the kernel filter that picks the
//! target port's packets (as data), the self-connect handshake recognised,
//! the packet strip that folds refused attempts, and the bounded tail that
//! a capture file is written from.

pub mod bpf;
pub mod handshake;
pub mod line;
pub mod parse;
pub mod strip;
pub mod tail;

pub use handshake::{HandshakeStep, SelfConnect, SelfConnectWatch};
pub use line::{SeqTracker, Shown, tcpdump_line};
pub use parse::{Packet, Skip, TcpFlags, Timestamp, parse};
pub use strip::{LineKind, Strip, StripLine};
pub use tail::{Captured, TailLog};
