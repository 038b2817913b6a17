//! goro: Go's concurrency model for Rust.
#![warn(missing_docs)]

pub mod park;
pub mod time;
mod stack;
