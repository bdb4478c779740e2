//! The runtimes under test and the registry of which runner runs which workload on which runtime.
//!
//! A runner is one plain function `fn(&Ctx) -> Result<Figures>` ([`RunFn`]) in the runtime's module
//! (`rt_weft`, `rt_weft_loops`, `rt_tokio`, `rt_smol`, `raw`). Each module has a `support(Workload) -> Support` table; adding a
//! runtime's workload is writing that one function and naming it in the table, and the harness, the table and
//! the smoke test pick it up from there.

use std::fmt;

use crate::child::Ctx;
use crate::spec::Workload;
use crate::{Figures, Result};

/// A runtime (or the runtime-less ceiling) whose figures form one column of the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Runtime {
    /// weft, the runtime under development.
    Weft,
    /// weft with 2 loops, servers only: one `SO_REUSEPORT` listener per loop, each loop accepting and serving
    /// its own connections.
    Weft2,
    /// weft with 2 loops, servers only: one acceptor on loop 0 handing connections round-robin to the loops.
    Weft2Rr,
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
}

impl Runtime {
    /// Every runtime, in column order.
    pub const ALL: [Runtime; 8] = [
        Runtime::Weft,
        Runtime::Weft2,
        Runtime::Weft2Rr,
        Runtime::TokioCt,
        Runtime::TokioMt,
        Runtime::TokioMt2,
        Runtime::Smol,
        Runtime::Raw,
    ];

    /// The column name, also used on command lines and in the JSON.
    pub fn name(self) -> &'static str {
        match self {
            Runtime::Weft => "weft",
            Runtime::Weft2 => "weft-2",
            Runtime::Weft2Rr => "weft-2rr",
            Runtime::TokioCt => "tokio-ct",
            Runtime::TokioMt => "tokio-mt",
            Runtime::TokioMt2 => "tokio-mt2",
            Runtime::Smol => "smol",
            Runtime::Raw => "raw",
        }
    }

    /// The CPUs a server of this column runs on: 1 for the single-threaded columns (pinned to
    /// [`crate::child::SERVER_CPU`]), 2 for the 2-loop and 2-worker columns, which stay on both CPUs and so share
    /// them with the load generator.
    pub fn server_cpus(self) -> usize {
        match self {
            Runtime::Weft2 | Runtime::Weft2Rr | Runtime::TokioMt2 => 2,
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
    match runtime {
        Runtime::Weft => crate::rt_weft::support(workload),
        Runtime::Weft2 | Runtime::Weft2Rr => crate::rt_weft_loops::support(runtime, workload),
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
    }
}
