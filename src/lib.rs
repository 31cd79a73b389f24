//! selfconn-tui: finds TCP sockets connected to themselves and listeners
//! that the kernel could hand out as source ports, explains them, and
//! reproduces the problem live.
//!
//! Layers: [`core`] is pure (parsing, classification, advice); [`sys`]
//! reads `/proc`; [`repro`] drives real sockets; [`report`] prints;
//! [`tui`] is the dashboard; [`cli`] picks a mode. [`colour`] is the one
//! colour policy of every front end.

pub mod cli;
pub mod colour;
pub mod commands;
pub mod core;
pub mod report;
pub mod repro;
pub mod sys;
pub mod tui;
