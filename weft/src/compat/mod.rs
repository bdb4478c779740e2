//! Compatibility with the wider ecosystem: hyper 1.x (feature `hyper`), tokio's I/O traits (feature `tokio-io`)
//! and tokio's runtime context for crates that need its reactor (feature `tokio-bridge`, `with_tokio`).

#![forbid(unsafe_code)]

#[cfg(feature = "hyper")]
mod hyper;

#[cfg(feature = "hyper")]
pub use self::hyper::{WeftExecutor, WeftIo, WeftSleep, WeftTimer};

#[cfg(feature = "tokio-io")]
pub mod tokio_io;

#[cfg(feature = "tokio-bridge")]
mod tokio_bridge;

#[cfg(feature = "tokio-bridge")]
pub use self::tokio_bridge::{with_tokio, WithTokio};
