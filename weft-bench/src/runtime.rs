//! The runtimes under test and the registry of which runner runs which workload on which runtime.
//!
//! A runner is one plain function `fn(&Ctx) -> Result<Figures>` ([`RunFn`]) in the runtime's module
//! (`rt_weft`, `rt_weft_drivers`, `rt_weft_loops`, `rt_tokio`, `rt_smol`, `raw`, `raw_uring`). Each module has a `support(Workload) -> Support` table; adding a
//! runtime's workload is writing that one function and naming it in the table, and the harness, the table and
//! the smoke test pick it up from there.

use std::fmt;

use crate::child::Ctx;
use crate::spec::Workload;
use crate::{Figures, Result};

/// A runtime (or the runtime-less ceiling) whose figures form one column of the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Runtime {
    /// weft, the runtime under development, with its defaults (driver `Auto`: io_uring where the kernel allows
    /// it).
    Weft,
    /// weft on one loop with the epoll driver (`Builder::driver(Driver::Epoll)`), servers only.
    WeftEpoll,
    /// weft on one loop with the io_uring driver (`Builder::driver(Driver::IoUring)`), servers only.
    WeftUring,
    /// weft with 2 loops, servers only: one `SO_REUSEPORT` listener per loop, each loop accepting and serving
    /// its own connections.
    Weft2,
    /// weft with 2 loops, servers only: one acceptor on loop 0 handing connections round-robin to the loops.
    Weft2Rr,
    /// `weft-2` with its loops left to the kernel's scheduler (`Builder::pin_loops(false)`), as tokio's workers
    /// are: the column to set beside `weft-2` where the load generator shares the server's CPUs.
    Weft2Unpinned,
    /// tokio's current_thread runtime.
    TokioCt,
    /// tokio's multi_thread runtime (default worker count: one for the servers, which are pinned to one CPU).
    TokioMt,
    /// tokio's multi_thread runtime with exactly 2 workers, servers only, on both CPUs.
    TokioMt2,
    /// smol's parts: `async_executor::LocalExecutor` on `async_io::block_on`, async-channel, async-net, blocking.
    Smol,
    /// No runtime: hand-written epoll (echo only), the ceiling for readiness I/O.
    Raw,
    /// No runtime: hand-written io_uring (echo only), the ceiling for completion I/O.
    RawUring,
}

impl Runtime {
    /// Every runtime, in column order.
    pub const ALL: [Runtime; 12] = [
        Runtime::Weft,
        Runtime::WeftEpoll,
        Runtime::WeftUring,
        Runtime::Weft2,
        Runtime::Weft2Rr,
        Runtime::Weft2Unpinned,
        Runtime::TokioCt,
        Runtime::TokioMt,
        Runtime::TokioMt2,
        Runtime::Smol,
        Runtime::Raw,
        Runtime::RawUring,
    ];

    /// The column name, also used on command lines and in the JSON.
    pub fn name(self) -> &'static str {
        match self {
            Runtime::Weft => "weft",
            Runtime::WeftEpoll => "weft-epoll",
            Runtime::WeftUring => "weft-uring",
            Runtime::Weft2 => "weft-2",
            Runtime::Weft2Rr => "weft-2rr",
            Runtime::Weft2Unpinned => "weft-2u",
            Runtime::TokioCt => "tokio-ct",
            Runtime::TokioMt => "tokio-mt",
            Runtime::TokioMt2 => "tokio-mt2",
            Runtime::Smol => "smol",
            Runtime::Raw => "raw",
            Runtime::RawUring => "raw-uring",
        }
    }

    /// The CPUs a server of this column runs on: 1 for the single-threaded columns (pinned to
    /// [`crate::child::SERVER_CPU`]), 2 for the 2-loop and 2-worker columns, which stay on both CPUs and so share
    /// them with the load generator.
    pub fn server_cpus(self) -> usize {
        match self {
            Runtime::Weft2 | Runtime::Weft2Rr | Runtime::Weft2Unpinned | Runtime::TokioMt2 => 2,
            _ => 1,
        }
    }

    /// Parses a name produced by [`Runtime::name`].
    pub fn from_name(name: &str) -> Option<Runtime> {
        Runtime::ALL.into_iter().find(|r| r.name() == name)
    }
}

impl fmt::Display for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A runner: runs one case in the current (fresh) process and returns its figures. Server runners announce their
/// port with [`crate::child::announce_port`] and serve until the process is ended.
pub type RunFn = fn(&Ctx) -> Result<Figures>;

/// Whether a runtime runs a workload.
#[derive(Clone, Copy)]
pub enum Support {
    /// It does, with this runner.
    Run(RunFn),
    /// It will once the runtime has what the workload needs; the reason is printed under the table.
    NotYet(&'static str),
    /// The workload does not apply to this runtime (e.g. `raw` only serves echo).
    NotApplicable,
}

impl fmt::Debug for Support {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Support::Run(_) => f.write_str("Run"),
            Support::NotYet(r) => write!(f, "NotYet({r:?})"),
            Support::NotApplicable => f.write_str("NotApplicable"),
        }
    }
}

/// The runner for `workload` on `runtime`, if any.
pub fn support(runtime: Runtime, workload: Workload) -> Support {
    // `http_wrk` serves exactly what `http` serves: only the client differs.
    let workload = match workload {
        Workload::HttpWrk => Workload::Http,
        w => w,
    };
    match runtime {
        Runtime::Weft => crate::rt_weft::support(workload),
        Runtime::WeftEpoll | Runtime::WeftUring => {
            crate::rt_weft_drivers::support(runtime, workload)
        }
        Runtime::Weft2 | Runtime::Weft2Rr | Runtime::Weft2Unpinned => {
            crate::rt_weft_loops::support(runtime, workload)
        }
        Runtime::TokioCt | Runtime::TokioMt => crate::rt_tokio::support(workload),
        Runtime::TokioMt2 => match workload {
            Workload::Echo | Workload::Http => crate::rt_tokio::support(workload),
            _ => Support::NotApplicable,
        },
        Runtime::Smol => crate::rt_smol::support(workload),
        Runtime::Raw => match workload {
            Workload::Echo => Support::Run(crate::raw::echo),
            _ => Support::NotApplicable,
        },
        Runtime::RawUring => match workload {
            Workload::Echo => Support::Run(crate::raw_uring::echo),
            _ => Support::NotApplicable,
        },
    }
}
