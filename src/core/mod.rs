//! The pure core: port policy, socket classification, scan results, what
//! changed between scans, advice, and making foreign text terminal-safe.
//! No I/O and no terminal code: everything here is tested on data.

pub mod advice;
pub mod changes;
pub mod incident_advice;
pub mod live;
pub mod packets;
pub mod ports;
pub mod quote;
pub mod reserve;
pub mod sanitize;
pub mod snapshot;
pub mod socket;
pub mod words;
