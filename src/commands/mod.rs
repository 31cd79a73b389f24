//! The glue of each mode: arguments in, engine, report out, exit status.

pub mod config;
pub mod dashboard;
pub mod generate;
pub mod repro;
pub mod scan;
