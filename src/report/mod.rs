//! Printed output: the scan table, the repro result, and their JSON
//! (including the JSON of a failed command), shared by `scan`, `repro` and
//! tests.

pub mod error_json;
pub mod repro_json;
pub mod repro_text;
pub mod scan_json;
pub mod scan_table;
