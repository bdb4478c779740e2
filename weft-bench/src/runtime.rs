//! The runtimes under test and the registry of which runner runs which workload on which runtime.
//!
//! A runner is one plain function `fn(&Ctx) -> Result<Figures>` ([`RunFn`]) in the runtime's module
//! (`rt_weft`, `rt_tokio`, `rt_smol`, `raw`). Each module has a `support(Workload) -> Support` table; adding a
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
    /// tokio's current_thread runtime.
    TokioCt,
    /// tokio's multi_thread runtime (default worker count).
    TokioMt,
    /// smol's parts: `async_executor::LocalExecutor` on `async_io::block_on`, async-channel, async-net, blocking.
    Smol,
    /// No runtime: hand-written epoll (echo only), the ceiling for readiness I/O.
    Raw,
}

impl Runtime {
    /// Every runtime, in column order.
    pub const ALL: [Runtime; 5] = [
        Runtime::Weft,
        Runtime::TokioCt,
        Runtime::TokioMt,
        Runtime::Smol,
        Runtime::Raw,
    ];

    /// The column name, also used on command lines and in the JSON.
    pub fn name(self) -> &'static str {
        match self {
            Runtime::Weft => "weft",
            Runtime::TokioCt => "tokio-ct",
            Runtime::TokioMt => "tokio-mt",
            Runtime::Smol => "smol",
            Runtime::Raw => "raw",
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
        Runtime::TokioCt | Runtime::TokioMt => crate::rt_tokio::support(workload),
        Runtime::Smol => crate::rt_smol::support(workload),
        Runtime::Raw => match workload {
            Workload::Echo => Support::Run(crate::raw::echo),
            _ => Support::NotApplicable,
        },
    }
}
