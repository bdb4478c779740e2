//! weft's servers on each driver: the columns `weft-epoll` and `weft-uring` run the same echo and http servers as
//! `weft` (one loop, [`crate::rt_weft`]'s accept loop and connection handlers) on a runtime built with
//! `weft::Builder::driver(Driver::Epoll)` or `Driver::IoUring`, so one run compares both drivers side by side.
//!
//! `weft` itself keeps `Runtime::new()`'s defaults (`Driver::Auto`: io_uring where the kernel allows it).

use weft::runtime::Driver;

use crate::child::Ctx;
use crate::rt_weft::{accept_loop, echo_conn, http_conn, run_root_on};
use crate::rt_weft_loops::Service;
use crate::runtime::{Runtime, Support};
use crate::spec::Workload;
use crate::{Figures, Result};

/// The table of `weft-epoll` and `weft-uring`: the servers only.
pub fn support(runtime: Runtime, workload: Workload) -> Support {
    match (runtime, workload) {
        (Runtime::WeftEpoll, Workload::Echo) => Support::Run(echo_epoll),
        (Runtime::WeftEpoll, Workload::Http) => Support::Run(http_epoll),
        (Runtime::WeftUring, Workload::Echo) => Support::Run(echo_uring),
        (Runtime::WeftUring, Workload::Http) => Support::Run(http_uring),
        _ => Support::NotApplicable,
    }
}

fn echo_epoll(_ctx: &Ctx) -> Result<Figures> {
    serve(Driver::Epoll, Service::Echo)
}

fn http_epoll(_ctx: &Ctx) -> Result<Figures> {
    serve(Driver::Epoll, Service::Http)
}

fn echo_uring(_ctx: &Ctx) -> Result<Figures> {
    serve(Driver::IoUring, Service::Echo)
}

fn http_uring(_ctx: &Ctx) -> Result<Figures> {
    serve(Driver::IoUring, Service::Http)
}

/// `service` on one loop of a runtime built with `driver`; fails (the cell says why) where the kernel does not
/// allow that driver.
fn serve(driver: Driver, service: Service) -> Result<Figures> {
    let rt = weft::Builder::new()
        .driver(driver)
        .build()
        .map_err(|e| format!("weft with the {driver} driver: {e}"))?;
    if rt.driver() != driver {
        return Err(format!("asked for the {driver} driver, runs {}", rt.driver()).into());
    }
    match service {
        Service::Echo => run_root_on(rt, accept_loop(echo_conn)),
        Service::Http => run_root_on(rt, accept_loop(http_conn)),
    }
}
