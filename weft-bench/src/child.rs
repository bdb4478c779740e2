//! The child side: one fresh process runs one case of one workload on one runtime and reports on stdout.
//!
//! The harness starts `weft-bench __child <runtime> <workload> <size> <conns>`. The child writes exactly one JSON
//! [`Message`] line to stdout — `{"done":{..figures..}}`, `{"failed":".."}`, `{"not_supported":".."}` — or, for
//! a server case, `{"port":N}` and then serves until the harness kills it. Anything else goes to stderr.
//!
//! A server child pins itself to CPU 0 before creating any thread (the load generator runs on CPU 1), except the
//! columns whose server uses both CPUs ([`Runtime::server_cpus`]), which share them with the load generator. Every child
//! starts a watchdog ([`crate::sys::start_watchdog`]) that ends it when the harness closes its stdin or the size's
//! time limit passes, so no child ever outlives the harness.

use std::io::Write;
use std::panic::AssertUnwindSafe;
use std::process::ExitCode;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::runtime::{Runtime, Support};
use crate::spec::{Case, Params, Size, Workload};
use crate::sys::{self, MemProbe};
use crate::{Figures, Result};

/// The most connections a server accepts (the largest case uses 500); it keeps accept loops bounded.
pub const SERVER_MAX_CONNS: usize = 4096;

/// Extra figure: CPU used by other processes on the machine during the run, in cores (see
/// [`sys::Interference`]).
pub const OTHER_CPU: &str = "other_cpu_cores";

/// Above this [`OTHER_CPU`], a run counts as disturbed and the report says so.
pub const OTHER_CPU_NOISY: f64 = 0.25;

/// The CPU that servers are pinned to.
pub const SERVER_CPU: usize = 0;

/// What a child (or the load generator) reports on its stdout, one JSON line.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum Message {
    /// A server is listening on 127.0.0.1 at this port.
    Port(u16),
    /// The run finished with these figures.
    Done(Figures),
    /// The run failed (error or panic).
    Failed(String),
    /// This runtime cannot run this workload (yet).
    NotSupported(String),
    /// A soak server listens on 127.0.0.1 at these ports: echo, and hyper's hello world.
    SoakPorts {
        /// The echo server's port.
        echo: u16,
        /// The hyper server's port.
        http: u16,
    },
    /// A soak server's own figures, a few times a second (see [`crate::soak`]).
    Tick(crate::soak::ServerTick),
}

impl Message {
    /// Writes the message as one JSON line on stdout and flushes it.
    pub fn emit(&self) -> std::io::Result<()> {
        let line = serde_json::to_string(self).map_err(std::io::Error::other)?;
        let mut out = std::io::stdout().lock();
        writeln!(out, "{line}")?;
        out.flush()
    }
}

/// Everything a runner needs to know about its case.
#[derive(Clone, Copy, Debug)]
pub struct Ctx {
    /// The runtime (lets one function serve tokio's two flavours).
    pub runtime: Runtime,
    /// The case.
    pub case: Case,
    /// The run size.
    pub size: Size,
    /// The concrete sizes.
    pub params: Params,
}

/// Tells the harness which port a server listens on. Servers call this once, after `listen`, before serving.
pub fn announce_port(port: u16) -> Result<()> {
    Message::Port(port).emit()?;
    Ok(())
}

fn parse(args: &[String]) -> std::result::Result<Ctx, String> {
    let [rt, w, size, conns] = args else {
        return Err(format!(
            "usage: __child <runtime> <workload> <size> <conns>, got {args:?}"
        ));
    };
    let runtime = Runtime::from_name(rt).ok_or_else(|| format!("unknown runtime {rt}"))?;
    let workload = Workload::from_name(w).ok_or_else(|| format!("unknown workload {w}"))?;
    let size = Size::from_name(size).ok_or_else(|| format!("unknown size {size}"))?;
    let conns = conns.parse().map_err(|_| format!("bad conns {conns}"))?;
    Ok(Ctx {
        runtime,
        case: Case { workload, conns },
        size,
        params: size.params(),
    })
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic".to_string()
    }
}

/// Entry point of `weft-bench __child ...`. Ends the process itself (without running the runtime's teardown,
/// which is not part of any figure).
pub fn main(args: &[String]) -> ExitCode {
    let ctx = match parse(args) {
        Ok(ctx) => ctx,
        Err(e) => {
            let _ = Message::Failed(e).emit();
            return ExitCode::from(2);
        }
    };
    // A server of more than one CPU (2 loops, 2 workers) stays on both, shared with the load generator — unless
    // `WEFT_BENCH_ONE_CPU=1` asks for every server on CPU 0 (2 loops or workers then share it, and the load
    // generator has CPU 1 to itself: the cost of a second loop without the cost of sharing a core with the client).
    let one_cpu = std::env::var("WEFT_BENCH_ONE_CPU").as_deref() == Ok("1");
    if ctx.case.workload.is_server() && (ctx.runtime.server_cpus() == 1 || one_cpu) {
        if let Err(e) = sys::pin_to_cpu(SERVER_CPU) {
            eprintln!("weft-bench: server not pinned: {e}");
        }
    }
    sys::start_watchdog(ctx.size.child_time_limit());

    let run = match crate::runtime::support(ctx.runtime, ctx.case.workload) {
        Support::Run(run) => run,
        Support::NotYet(reason) => {
            let _ = Message::NotSupported(reason.to_string()).emit();
            std::process::exit(0);
        }
        Support::NotApplicable => {
            let _ = Message::NotSupported("not applicable".to_string()).emit();
            std::process::exit(0);
        }
    };

    let my_cpu = || sys::process_cpu_time(std::process::id()).unwrap_or_default();
    let probe = MemProbe::start();
    let started = Instant::now();
    let others = sys::Interference::start(my_cpu());
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| run(&ctx)));
    let msg = match outcome {
        Ok(Ok(mut figures)) => {
            if let Some(other) = others.and_then(|o| o.other_cores(my_cpu())) {
                figures = figures.extra(OTHER_CPU, other);
            }
            Message::Done(
                figures
                    .extra("child_wall_s", started.elapsed().as_secs_f64())
                    .extra(
                        "child_peak_rss_delta_mib",
                        probe.peak_delta() as f64 / (1024.0 * 1024.0),
                    ),
            )
        }
        Ok(Err(e)) => Message::Failed(e.to_string()),
        Err(p) => Message::Failed(format!("panicked: {}", panic_message(&*p))),
    };
    let code = i32::from(!matches!(msg, Message::Done(_)));
    if let Err(e) = msg.emit() {
        eprintln!("weft-bench child: cannot report: {e}");
    }
    std::process::exit(code)
}
