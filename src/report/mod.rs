//! Printed output: the scan table and JSON, shared by `scan` and tests.

pub mod pcap;
pub mod repro_json;
pub mod repro_text;
pub mod scan_json;
pub mod scan_table;
