//! The glue of each mode: arguments in, engine, report out, exit status.

pub mod dashboard;
pub mod repro;
pub mod repro_scenario;
pub mod scan;
