//! weft's runners: `weft::Runtime::new()` with its defaults, the root running as a spawned task
//! (`block_on(spawn(root))`) as on every other runtime; `weft::sync::mpsc` for `ping_pong`, `weft::net` for
//! the servers (the soak's, on any number of loops, is [`crate::rt_weft_loops::soak_server`]) and `weft::compat::WeftIo` for hyper.
//!
//! A workload weft could not run would be listed in [`support`] as `Support::NotYet("reason")`, the reason
//! printed under the table; it lights up by writing its runner here and naming it in the table.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::child::{announce_port, Ctx, SERVER_MAX_CONNS};
use crate::common::{
    idle_figures, ns_per, per_sec, signal, timer_delays, timer_figures, warm_figures, BatchClock,
    SignalTx, IDLE_SETTLE_LIMIT,
};
use crate::runtime::{Runtime, Support};
use crate::spec::Workload;
use crate::sys::MemProbe;
use crate::{Figures, Result};

/// weft's table.
pub fn support(workload: Workload) -> Support {
    match workload {
        Workload::Spawn => Support::Run(spawn),
        Workload::ChainedSpawn => Support::Run(chained_spawn),
        Workload::SpawnWarm => Support::Run(spawn_warm),
        Workload::ChainedSpawnWarm => Support::Run(chained_spawn_warm),
        Workload::YieldMany => Support::Run(yield_many),
        Workload::Timers => Support::Run(timers),
        Workload::IdleMemory => Support::Run(idle_memory),
        Workload::Blocking => Support::Run(blocking),
        Workload::PingPong => Support::Run(ping_pong),
        Workload::Echo => Support::Run(echo),
        Workload::Http | Workload::HttpWrk => Support::Run(http),
        Workload::Select | Workload::Group => crate::structured::support(Runtime::Weft, workload),
    }
}

/// A weft `JoinError` as a bench error (it carries a panic payload, so it is not `Sync` itself).
fn joined<T>(r: std::result::Result<T, weft::JoinError>) -> Result<T> {
    r.map_err(|e| e.to_string().into())
}

/// Runs `root` as a task on a fresh default runtime and returns its output.
fn run_root<T: 'static>(root: impl std::future::Future<Output = Result<T>> + 'static) -> Result<T> {
    run_root_on(weft::Runtime::new()?, root)
}

/// Runs `root` as a task on `rt` and returns its output.
pub(crate) fn run_root_on<T: 'static>(
    rt: weft::Runtime,
    root: impl std::future::Future<Output = Result<T>> + 'static,
) -> Result<T> {
    rt.block_on(async move { joined(weft::spawn(root).await)? })
}

/// `ping_pong` on `weft::sync::mpsc` (capacity 1 each way).
fn ping_pong(ctx: &Ctx) -> Result<Figures> {
    let rounds = ctx.params.ping_pong_hops / 2;
    let elapsed = run_root(async move {
        let (to_pong, mut pong_rx) = weft::sync::mpsc::channel::<usize>(1);
        let (to_ping, mut ping_rx) = weft::sync::mpsc::channel::<usize>(1);
        let start = Instant::now();
        let pong = weft::spawn(async move {
            // Ends when `ping` drops its sender: bounded by `rounds`.
            while let Some(v) = pong_rx.recv().await {
                if to_ping.send(v + 1).await.is_err() {
                    break;
                }
            }
        });
        let ping = weft::spawn(async move {
            let mut v = 0;
            for _ in 0..rounds {
                to_pong.send(v).await.map_err(|_| "pong gone")?;
                v = ping_rx.recv().await.ok_or("pong gone")?;
            }
            Ok::<usize, crate::Error>(v)
        });
        let v = joined(ping.await)??;
        joined(pong.await)?;
        assert_eq!(v, rounds);
        Ok(start.elapsed())
    })?;
    Ok(Figures::new().value("ns_per_hop", ns_per(elapsed, rounds * 2)))
}

/// Echo on one connection with weft's inherent `read` / `write_all`.
pub(crate) async fn echo_conn(stream: weft::net::TcpStream) {
    let mut buf = [0u8; 4096];
    // Ends when the peer closes: bounded by the load generator's time limit.
    loop {
        let n = match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if stream.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

/// Binds 127.0.0.1:0, announces the port, and hands each accepted connection (with `TCP_NODELAY`) to `serve`.
pub(crate) async fn accept_loop<F, Fut>(serve: F) -> Result<Figures>
where
    F: Fn(weft::net::TcpStream) -> Fut,
    Fut: Future<Output = ()> + 'static,
{
    let listener = weft::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    announce_port(listener.local_addr()?.port())?;
    for _ in 0..SERVER_MAX_CONNS {
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        drop(weft::spawn(serve(stream)));
    }
    // Every connection slot is used: keep serving the accepted ones until the process is ended.
    std::future::pending::<()>().await;
    Ok(Figures::new())
}

/// `echo` on `weft::net`.
fn echo(_ctx: &Ctx) -> Result<Figures> {
    run_root(accept_loop(echo_conn))
}

/// `http`: hyper 1.x over weft's `TcpStream` through weft's own adapter, `weft::compat::WeftIo` (as tokio's
/// server uses `hyper_util::rt::TokioIo`).
fn http(_ctx: &Ctx) -> Result<Figures> {
    run_root(accept_loop(http_conn))
}

/// hyper's HTTP/1 hello world on one connection, through `weft::compat::WeftIo`.
pub(crate) async fn http_conn(stream: weft::net::TcpStream) {
    let io = weft::compat::WeftIo::new(stream);
    let service = hyper::service::service_fn(crate::hyper_io::hello);
    let _ = crate::hyper_io::http1().serve_connection(io, service).await;
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

/// `spawn_warm`: `spawn`'s batch again and again in one runtime, with one handle vector reused throughout.
fn spawn_warm(ctx: &Ctx) -> Result<Figures> {
    let p = ctx.params;
    let n = p.spawn_tasks;
    let times = run_root(async move {
        let mut handles = Vec::with_capacity(n);
        let mut times = Vec::new();
        for _ in 0..p.warm_up_batches + p.warm_batches {
            let clock = BatchClock::start();
            for i in 0..n {
                handles.push(weft::spawn(async move { i }));
            }
            let mut sum = 0usize;
            for h in handles.drain(..) {
                sum = sum.wrapping_add(joined(h.await)?);
            }
            times.push(clock.stop());
            assert_eq!(sum, n * n.saturating_sub(1) / 2);
        }
        Ok(times)
    })?;
    warm_figures(
        &times,
        p.warm_up_batches,
        ("tasks_per_s", "cpu_tasks_per_s"),
        |d| per_sec(n, d),
    )
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

/// `chained_spawn_warm`: `chained_spawn`'s chains again and again in one runtime, timed a batch of chains at a time.
fn chained_spawn_warm(ctx: &Ctx) -> Result<Figures> {
    let p = ctx.params;
    let (depth, repeats) = (p.chain_depth, p.chain_repeats);
    let times = run_root(async move {
        let mut times = Vec::new();
        for _ in 0..p.warm_up_batches + p.warm_batches {
            let clock = BatchClock::start();
            for _ in 0..repeats {
                let (tx, rx) = signal();
                link(tx, depth);
                rx.await;
            }
            times.push(clock.stop());
        }
        Ok(times)
    })?;
    warm_figures(
        &times,
        p.warm_up_batches,
        ("ns_per_link", "cpu_ns_per_link"),
        |d| ns_per(d, depth * repeats),
    )
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
