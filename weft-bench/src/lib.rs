//! `weft-bench`: weft measured side by side with tokio (current_thread and multi_thread), smol, and — for echo —
//! hand-written epoll and io_uring servers with no runtime at all, in one run on one machine (see
//! `shared/BENCH.md`).
//!
//! The pieces:
//! - [`spec`]: the workloads, their figures and sizes;
//! - [`runtime`]: the runtimes and the registry of runners (`fn(&Ctx) -> Result<Figures>`), one module per
//!   runtime: [`rt_weft`], [`rt_weft_drivers`] (weft's servers on each driver), [`rt_weft_loops`] (weft's
//!   2-loop servers), [`rt_tokio`], [`rt_smol`], [`raw`] and [`raw_uring`] (the two ceilings);
//! - [`harness`]: runs each case of each runtime in a fresh child process, interleaved, N times;
//! - [`child`]: the child side of that protocol;
//! - [`loadgen`]: the one load generator for echo and http, on no runtime under test;
//! - [`wrk`]: `wrk` as a second client for http (`http_wrk`);
//! - [`report`]: medians, ratios, the table, `latest.json` and `RESULTS.md`;
//! - [`soak`]: `weft-bench soak`, weft's echo server under load and churn, watched for growth, with its own load
//!   generator, [`churn`].

#![warn(missing_docs)]

pub mod child;
pub mod churn;
pub mod common;
pub mod epoll;
pub mod harness;
pub mod hyper_io;
pub mod loadgen;
pub mod raw;
pub mod raw_uring;
pub mod report;
pub mod rt_smol;
pub mod rt_tokio;
pub mod rt_weft;
pub mod rt_weft_drivers;
pub mod rt_weft_loops;
pub mod runtime;
pub mod soak;
pub mod spec;
pub mod structured;
pub mod sys;
pub mod wrk;

pub use common::Figures;

/// Any error a runner or the harness reports.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
