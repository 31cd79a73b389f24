//! Printed output: the scan table and JSON, the Prometheus metrics, shared
//! by `scan`, `serve` and tests.

pub mod metrics;
pub mod repro_json;
pub mod repro_text;
pub mod scan_json;
pub mod scan_table;
