//! Compatibility with the wider ecosystem: hyper 1.x and serving a tower `Service` such as an axum `Router`
//! (feature `hyper`), and tokio's I/O traits (feature
//! `tokio-io`).

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
