//! The I/O layer: everything that reads `/proc`, and the namespace joins.

pub mod diag;
pub mod netns;
pub mod nsjoin;
pub mod owners;
pub mod procnet;
pub mod scanner;
pub mod sockdestroy;
