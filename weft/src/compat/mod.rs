//! Compatibility with the wider ecosystem: hyper 1.x (feature `hyper`) and tokio's I/O traits (feature
//! `tokio-io`).

#![forbid(unsafe_code)]

#[cfg(feature = "hyper")]
mod hyper;

#[cfg(feature = "hyper")]
pub use self::hyper::{WeftExecutor, WeftIo, WeftSleep, WeftTimer};

#[cfg(feature = "tokio-io")]
pub mod tokio_io;
