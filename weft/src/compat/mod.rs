//! Compatibility with the wider ecosystem: hyper 1.x and serving a tower `Service` such as an axum `Router`
//! (feature `hyper`), tokio's I/O traits (feature `tokio-io`) and tokio's runtime context for crates that need
//! its reactor (feature `tokio-bridge`, `with_tokio`).

#![forbid(unsafe_code)]

#[cfg(feature = "hyper")]
mod hyper;

#[cfg(feature = "hyper")]
pub use self::hyper::{WeftExecutor, WeftIo, WeftSleep, WeftTimer};

#[cfg(feature = "hyper")]
mod serve;
#[cfg(feature = "hyper")]
mod serve_loops;

#[cfg(feature = "hyper")]
pub use self::serve::{serve, Serve, WithGracefulShutdown};
#[cfg(feature = "hyper")]
pub use self::serve_loops::{ServeLoops, Spread};

#[cfg(feature = "tokio-io")]
pub mod tokio_io;

#[cfg(feature = "tokio-bridge")]
mod tokio_bridge;

#[cfg(feature = "tokio-bridge")]
pub use self::tokio_bridge::{with_tokio, WithTokio};
