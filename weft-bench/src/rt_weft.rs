//! weft's runners: `weft::Runtime::new()` with its defaults, the root running as a spawned task
//! (`block_on(spawn(root))`) as on every other runtime.
//!
//! The workloads weft cannot run yet are listed in [`support`] with the reason printed under the table; each
//! lights up by writing its runner here and naming it in the table.

use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::child::Ctx;
use crate::common::{
    idle_figures, ns_per, per_sec, signal, timer_delays, timer_figures, SignalTx, IDLE_SETTLE_LIMIT,
};
use crate::runtime::Support;
use crate::spec::Workload;
use crate::sys::MemProbe;
use crate::{Figures, Result};

/// weft's table.
pub fn support(workload: Workload) -> Support {
    match workload {
        Workload::Spawn => Support::Run(spawn),
        Workload::ChainedSpawn => Support::Run(chained_spawn),
        Workload::YieldMany => Support::Run(yield_many),
        Workload::Timers => Support::Run(timers),
        Workload::IdleMemory => Support::Run(idle_memory),
        Workload::Blocking => Support::Run(blocking),
        Workload::PingPong => Support::NotYet("weft::sync::mpsc not built yet"),
        Workload::Echo => Support::NotYet("weft::net not built yet"),
        Workload::Http => Support::NotYet("weft::net and weft::compat (hyper) not built yet"),
    }
}

/// A weft `JoinError` as a bench error (it carries a panic payload, so it is not `Sync` itself).
fn joined<T>(r: std::result::Result<T, weft::JoinError>) -> Result<T> {
    r.map_err(|e| e.to_string().into())
}

/// Runs `root` as a task on a fresh default runtime and returns its output.
fn run_root<T: 'static>(root: impl std::future::Future<Output = Result<T>> + 'static) -> Result<T> {
    let rt = weft::Runtime::new()?;
    rt.block_on(async move { joined(weft::spawn(root).await)? })
}

fn spawn(ctx: &Ctx) -> Result<Figures> {
    let n = ctx.params.spawn_tasks;
    let elapsed = run_root(async move {
        let start = Instant::now();
        let mut handles = Vec::with_capacity(n);
        for i in 0..n {
            handles.push(weft::spawn(async move { i }));
        }
        let mut sum = 0usize;
        for h in handles {
            sum = sum.wrapping_add(joined(h.await)?);
        }
        let elapsed = start.elapsed();
        assert_eq!(sum, n * n.saturating_sub(1) / 2);
        Ok(elapsed)
    })?;
    Ok(Figures::new().value("tasks_per_s", per_sec(n, elapsed)))
}

fn link(done: SignalTx, left: usize) {
    if left == 0 {
        done.fire();
    } else {
        drop(weft::spawn(async move { link(done, left - 1) }));
    }
}

fn chained_spawn(ctx: &Ctx) -> Result<Figures> {
    let (depth, repeats) = (ctx.params.chain_depth, ctx.params.chain_repeats);
    let elapsed = run_root(async move {
        let start = Instant::now();
        for _ in 0..repeats {
            let (tx, rx) = signal();
            link(tx, depth);
            rx.await;
        }
        Ok(start.elapsed())
    })?;
    Ok(Figures::new().value("ns_per_link", ns_per(elapsed, depth * repeats)))
}

fn yield_many(ctx: &Ctx) -> Result<Figures> {
    let (tasks, yields) = (ctx.params.yield_tasks, ctx.params.yields_per_task);
    let elapsed = run_root(async move {
        let start = Instant::now();
        let handles: Vec<_> = (0..tasks)
            .map(|_| {
                weft::spawn(async move {
                    for _ in 0..yields {
                        weft::task::yield_now().await;
                    }
                })
            })
            .collect();
        for h in handles {
            joined(h.await)?;
        }
        Ok(start.elapsed())
    })?;
    Ok(Figures::new().value("ns_per_poll", ns_per(elapsed, tasks * yields)))
}

fn timers(ctx: &Ctx) -> Result<Figures> {
    let p = ctx.params;
    run_root(async move {
        let delays = timer_delays(&p);
        let probe = MemProbe::start();
        let start = Instant::now();
        let handles: Vec<_> = delays
            .iter()
            .map(|&d| {
                weft::spawn(async move {
                    let t0 = Instant::now();
                    weft::time::sleep(d).await;
                    t0.elapsed().saturating_sub(d)
                })
            })
            .collect();
        let mut overshoot = Vec::with_capacity(handles.len());
        for h in handles {
            overshoot.push(joined(h.await)?);
        }
        let wall = start.elapsed();
        let growth = probe.peak_delta();
        overshoot.sort_unstable();

        let start = Instant::now();
        for _ in 0..p.timer_cancels {
            let mut s = pin!(weft::time::sleep(Duration::from_secs(60)));
            assert!(futures_lite::future::poll_once(s.as_mut()).await.is_none());
        }
        let cancel = start.elapsed();
        Ok(timer_figures(
            wall,
            &overshoot,
            growth,
            p.timer_cancels,
            cancel,
        ))
    })
}

fn idle_memory(ctx: &Ctx) -> Result<Figures> {
    let n = ctx.params.idle_tasks;
    let rt = weft::Runtime::new()?;
    let figures = rt.block_on(async move {
        joined(
            weft::spawn(async move {
                let probe = MemProbe::start();
                let polled = Arc::new(AtomicUsize::new(0));
                for _ in 0..n {
                    let polled = polled.clone();
                    // The handle is dropped: the task is detached and stays parked.
                    drop(weft::spawn(async move {
                        polled.fetch_add(1, Ordering::Relaxed);
                        std::future::pending::<()>().await;
                    }));
                }
                let deadline = Instant::now() + IDLE_SETTLE_LIMIT;
                while polled.load(Ordering::Relaxed) < n && Instant::now() < deadline {
                    weft::time::sleep(Duration::from_millis(1)).await;
                }
                idle_figures(n, polled.load(Ordering::Relaxed), &probe)
            })
            .await,
        )?
    });
    // Tearing down a million tasks is not part of any figure: the child exits right after reporting.
    std::mem::forget(rt);
    figures
}

fn blocking(ctx: &Ctx) -> Result<Figures> {
    let n = ctx.params.blocking_calls;
    let elapsed = run_root(async move {
        let start = Instant::now();
        let handles: Vec<_> = (0..n)
            .map(|i| weft::spawn_blocking(move || i.wrapping_mul(3)))
            .collect();
        let mut sum = 0usize;
        for h in handles {
            sum = sum.wrapping_add(joined(h.await)?);
        }
        std::hint::black_box(sum);
        Ok(start.elapsed())
    })?;
    Ok(Figures::new().value("calls_per_s", per_sec(n, elapsed)))
}
