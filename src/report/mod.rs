//! Printed output: the scan table and JSON, shared by `scan` and tests.

pub mod scan_json;
pub mod scan_table;
