//! The glue of each mode: arguments in, engine, report out, exit status.

pub mod dashboard;
pub mod pcap;
pub mod repro;
pub mod scan;
