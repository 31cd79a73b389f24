//! The pure core: port policy, socket classification, scan results and
//! advice. No I/O and no terminal code: everything here is tested on data.

pub mod advice;
pub mod ports;
pub mod quote;
pub mod snapshot;
pub mod socket;
