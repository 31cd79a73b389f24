//! The I/O layer: everything that reads `/proc` or the kernel, and the
//! namespace joins. A scan ([`scanner`]) asks a [`source::Source`] (the
//! live kernel, [`live`], or a fixture tree) for its facts.

pub mod atomic_file;
pub mod capture;
pub mod diag;
pub mod lines;
pub mod live;
pub mod namespaces;
pub mod netns;
pub mod nsjoin;
pub mod owner_cache;
pub mod owner_order;
pub mod owners;
pub mod process;
pub mod procnet;
pub mod read_ahead;
pub mod scanner;
pub mod select;
pub mod sockdestroy;
pub mod source;
pub mod tcp_table;
pub mod tracefs;
