//! The I/O layer: everything that reads `/proc`.

pub mod owners;
pub mod procnet;
pub mod scanner;
