//! The glue of each mode: arguments in, engine, report out, exit status.

pub mod dashboard;
pub mod repro;
pub mod scan;
pub mod serve;
pub mod textfile;
