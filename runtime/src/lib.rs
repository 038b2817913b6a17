//! goro: Go's concurrency model for Rust.
#![warn(missing_docs)]

mod blocking;
pub mod park;
mod stack;
pub mod sync;
pub mod time;
pub use blocking::blocking;
