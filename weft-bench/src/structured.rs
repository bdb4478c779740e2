//! The structured-concurrency workloads, for every runtime that has the pieces: `select` (a `select!` over two
//! ready futures, ns per select) and `group` (spawn and join through weft's `TaskGroup` / tokio's `JoinSet`,
//! tasks/s). smol's parts have neither a `select!` nor a task set, so smol sits these out.
//!
//! Kept in one file beside the per-runtime modules so the rest of the harness changes by one table line each.

use std::future::ready;
use std::hint::black_box;
use std::time::{Duration, Instant};

use crate::child::Ctx;
use crate::common::{ns_per, per_sec};
use crate::runtime::{Runtime, Support};
use crate::spec::Workload;
use crate::{Figures, Result};

/// The runner of a structured workload on `runtime`.
pub fn support(runtime: Runtime, workload: Workload) -> Support {
    match (runtime, workload) {
        (Runtime::Weft, Workload::Select) => Support::Run(weft_select),
        (Runtime::Weft, Workload::Group) => Support::Run(weft_group),
        (Runtime::TokioCt | Runtime::TokioMt, Workload::Select) => Support::Run(tokio_select),
        (Runtime::TokioCt | Runtime::TokioMt, Workload::Group) => Support::Run(tokio_group),
        _ => Support::NotApplicable,
    }
}

/// `select` on weft: `weft::select!` (random start) over two `std::future::ready`s, in a loop.
fn weft_select(ctx: &Ctx) -> Result<Figures> {
    let n = ctx.params.select_iterations;
    let elapsed = weft_root(async move {
        let start = Instant::now();
        let mut sum = 0usize;
        for i in 0..n {
            sum += weft::select! {
                a = ready(black_box(i & 1)) => a,
                b = ready(black_box(1 - (i & 1))) => b,
            };
        }
        let elapsed = start.elapsed();
        black_box(sum);
        Ok(elapsed)
    })?;
    Ok(Figures::new().value("ns_per_select", ns_per(elapsed, n)))
}

/// `group` on weft: spawn `group_tasks` trivial children into one `TaskGroup`, then join them all.
fn weft_group(ctx: &Ctx) -> Result<Figures> {
    let n = ctx.params.group_tasks;
    let elapsed = weft_root(async move {
        let start = Instant::now();
        let mut group = weft::task::TaskGroup::new();
        for i in 0..n {
            group.spawn(async move { i });
        }
        let mut sum = 0usize;
        while let Some(result) = group.join_next().await {
            sum = sum.wrapping_add(result.map_err(|e| e.to_string())?);
        }
        let elapsed = start.elapsed();
        assert_eq!(sum, n * n.saturating_sub(1) / 2);
        Ok(elapsed)
    })?;
    Ok(Figures::new().value("tasks_per_s", per_sec(n, elapsed)))
}

/// Runs `root` as a task on a fresh default weft runtime.
fn weft_root(
    root: impl std::future::Future<Output = Result<Duration>> + 'static,
) -> Result<Duration> {
    let rt = weft::Runtime::new()?;
    rt.block_on(async move { weft::spawn(root).await.map_err(|e| e.to_string())? })
}

/// `select` on tokio: `tokio::select!` (random start) over two `std::future::ready`s, in a loop.
fn tokio_select(ctx: &Ctx) -> Result<Figures> {
    let n = ctx.params.select_iterations;
    let elapsed = tokio_root(ctx, async move {
        let start = Instant::now();
        let mut sum = 0usize;
        for i in 0..n {
            sum += tokio::select! {
                a = ready(black_box(i & 1)) => a,
                b = ready(black_box(1 - (i & 1))) => b,
            };
        }
        let elapsed = start.elapsed();
        black_box(sum);
        Ok(elapsed)
    })?;
    Ok(Figures::new().value("ns_per_select", ns_per(elapsed, n)))
}

/// `group` on tokio: spawn `group_tasks` trivial tasks into one `JoinSet`, then join them all.
fn tokio_group(ctx: &Ctx) -> Result<Figures> {
    let n = ctx.params.group_tasks;
    let elapsed = tokio_root(ctx, async move {
        let start = Instant::now();
        let mut set = tokio::task::JoinSet::new();
        for i in 0..n {
            set.spawn(async move { i });
        }
        let mut sum = 0usize;
        while let Some(result) = set.join_next().await {
            sum = sum.wrapping_add(result?);
        }
        let elapsed = start.elapsed();
        assert_eq!(sum, n * n.saturating_sub(1) / 2);
        Ok(elapsed)
    })?;
    Ok(Figures::new().value("tasks_per_s", per_sec(n, elapsed)))
}

/// Runs `root` as a task on a fresh tokio runtime of `ctx`'s flavour.
fn tokio_root<F>(ctx: &Ctx, root: F) -> Result<Duration>
where
    F: std::future::Future<Output = Result<Duration>> + Send + 'static,
{
    let mut builder = match ctx.runtime {
        Runtime::TokioMt => tokio::runtime::Builder::new_multi_thread(),
        _ => tokio::runtime::Builder::new_current_thread(),
    };
    let rt = builder.enable_all().build()?;
    rt.block_on(async move { tokio::spawn(root).await? })
}
