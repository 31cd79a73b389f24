//! The reproduction engine.
