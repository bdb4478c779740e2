//! Compatibility with the wider ecosystem: hyper 1.x (feature `hyper`).

#![forbid(unsafe_code)]

#[cfg(feature = "hyper")]
mod hyper;

#[cfg(feature = "hyper")]
pub use self::hyper::{WeftExecutor, WeftIo, WeftSleep, WeftTimer};
