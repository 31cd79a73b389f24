//! Printed output: the scan table, the repro result, their JSON (including
//! the JSON of a failed command) and the Prometheus metrics, shared by
//! `scan`, `repro`, `serve` and tests.

pub mod error_json;
pub mod metrics;
pub mod pcap;
pub mod repro_json;
pub mod repro_text;
pub mod scan_json;
pub mod scan_table;
pub mod watch_json;
