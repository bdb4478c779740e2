//! smol's runners: a thread-local `async_executor::LocalExecutor` driven by `async_io::block_on` (which also runs
//! async-io's reactor and timers), async-channel for `ping_pong`, `blocking::unblock` for `blocking`, and
//! async-net with hyper through [`FuturesIo`] for the servers.

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_executor::{LocalExecutor, Task};
use futures_lite::{AsyncReadExt, AsyncWriteExt};

use crate::child::{announce_port, Ctx, SERVER_MAX_CONNS};
use crate::common::{
    idle_figures, ns_per, per_sec, signal, timer_delays, timer_figures, warm_figures, BatchClock,
    SignalTx, IDLE_SETTLE_LIMIT,
};
use crate::hyper_io::FuturesIo;
use crate::runtime::Support;
use crate::spec::Workload;
use crate::sys::MemProbe;
use crate::{Figures, Result};

/// smol's table.
pub fn support(workload: Workload) -> Support {
    if let Workload::Select | Workload::Group = workload {
        return crate::structured::support(crate::runtime::Runtime::Smol, workload);
    }
    Support::Run(match workload {
        Workload::Spawn => spawn,
        Workload::ChainedSpawn => chained_spawn,
        Workload::SpawnWarm => spawn_warm,
        Workload::ChainedSpawnWarm => chained_spawn_warm,
        Workload::YieldMany => yield_many,
        Workload::PingPong => ping_pong,
        Workload::Timers => timers,
        Workload::IdleMemory => idle_memory,
        Workload::Echo => echo,
        Workload::Http | Workload::HttpWrk => http,
        Workload::Blocking => blocking,
        Workload::Select | Workload::Group => unreachable!("answered above"),
    })
}

thread_local! {
    static EX: LocalExecutor<'static> = const { LocalExecutor::new() };
}

fn spawn_local<T: 'static>(fut: impl Future<Output = T> + 'static) -> Task<T> {
    EX.with(|ex| ex.spawn(fut))
}

/// Runs `root` as a task on this thread's executor and returns its output.
fn run_root<T: 'static>(root: impl Future<Output = Result<T>> + 'static) -> Result<T> {
    EX.with(|ex| async_io::block_on(ex.run(ex.spawn(root))))
}

fn spawn(ctx: &Ctx) -> Result<Figures> {
    let n = ctx.params.spawn_tasks;
    let elapsed = run_root(async move {
        let start = Instant::now();
        let mut handles = Vec::with_capacity(n);
        for i in 0..n {
            handles.push(spawn_local(async move { i }));
        }
        let mut sum = 0usize;
        for h in handles {
            sum = sum.wrapping_add(h.await);
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
                handles.push(spawn_local(async move { i }));
            }
            let mut sum = 0usize;
            for h in handles.drain(..) {
                sum = sum.wrapping_add(h.await);
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
        spawn_local(async move { link(done, left - 1) }).detach();
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
                spawn_local(async move {
                    for _ in 0..yields {
                        futures_lite::future::yield_now().await;
                    }
                })
            })
            .collect();
        for h in handles {
            h.await;
        }
        Ok(start.elapsed())
    })?;
    Ok(Figures::new().value("ns_per_poll", ns_per(elapsed, tasks * yields)))
}

fn ping_pong(ctx: &Ctx) -> Result<Figures> {
    let rounds = ctx.params.ping_pong_hops / 2;
    let elapsed = run_root(async move {
        let (to_pong, pong_rx) = async_channel::bounded::<usize>(1);
        let (to_ping, ping_rx) = async_channel::bounded::<usize>(1);
        let start = Instant::now();
        let pong = spawn_local(async move {
            // Ends when `ping` drops its sender: bounded by `rounds`.
            while let Ok(v) = pong_rx.recv().await {
                if to_ping.send(v + 1).await.is_err() {
                    break;
                }
            }
        });
        let ping = spawn_local(async move {
            let mut v = 0;
            for _ in 0..rounds {
                to_pong.send(v).await.map_err(|_| "pong gone")?;
                v = ping_rx.recv().await.map_err(|_| "pong gone")?;
            }
            Ok::<usize, crate::Error>(v)
        });
        let v = ping.await?;
        pong.await;
        assert_eq!(v, rounds);
        Ok(start.elapsed())
    })?;
    Ok(Figures::new().value("ns_per_hop", ns_per(elapsed, rounds * 2)))
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
                spawn_local(async move {
                    let t0 = Instant::now();
                    async_io::Timer::after(d).await;
                    t0.elapsed().saturating_sub(d)
                })
            })
            .collect();
        let mut overshoot = Vec::with_capacity(handles.len());
        for h in handles {
            overshoot.push(h.await);
        }
        let wall = start.elapsed();
        let growth = probe.peak_delta();
        overshoot.sort_unstable();

        let start = Instant::now();
        for _ in 0..p.timer_cancels {
            let mut t = pin!(async_io::Timer::after(Duration::from_secs(60)));
            assert!(futures_lite::future::poll_once(t.as_mut()).await.is_none());
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
    run_root(async move {
        let probe = MemProbe::start();
        let polled = Arc::new(AtomicUsize::new(0));
        for _ in 0..n {
            let polled = polled.clone();
            spawn_local(async move {
                polled.fetch_add(1, Ordering::Relaxed);
                std::future::pending::<()>().await;
            })
            .detach();
        }
        let deadline = Instant::now() + IDLE_SETTLE_LIMIT;
        while polled.load(Ordering::Relaxed) < n && Instant::now() < deadline {
            async_io::Timer::after(Duration::from_millis(1)).await;
        }
        idle_figures(n, polled.load(Ordering::Relaxed), &probe)
    })
    // The executor (a thread-local) is never torn down: the child exits right after reporting.
}

fn blocking(ctx: &Ctx) -> Result<Figures> {
    let n = ctx.params.blocking_calls;
    let elapsed = run_root(async move {
        let start = Instant::now();
        let handles: Vec<_> = (0..n)
            .map(|i| blocking::unblock(move || i.wrapping_mul(3)))
            .collect();
        let mut sum = 0usize;
        for h in handles {
            sum = sum.wrapping_add(h.await);
        }
        std::hint::black_box(sum);
        Ok(start.elapsed())
    })?;
    Ok(Figures::new().value("calls_per_s", per_sec(n, elapsed)))
}

async fn echo_conn(mut stream: async_net::TcpStream) {
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
async fn accept_loop<F, Fut>(serve: F) -> Result<Figures>
where
    F: Fn(async_net::TcpStream) -> Fut,
    Fut: Future<Output = ()> + 'static,
{
    let listener = async_net::TcpListener::bind(("127.0.0.1", 0)).await?;
    announce_port(listener.local_addr()?.port())?;
    for _ in 0..SERVER_MAX_CONNS {
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        spawn_local(serve(stream)).detach();
    }
    // Every connection slot is used: keep serving the accepted ones until the process is ended.
    std::future::pending::<()>().await;
    Ok(Figures::new())
}

fn echo(_ctx: &Ctx) -> Result<Figures> {
    run_root(accept_loop(echo_conn))
}

fn http(_ctx: &Ctx) -> Result<Figures> {
    run_root(accept_loop(|stream| async move {
        // async-net's streams implement `poll_write_vectored` with writev.
        let io = FuturesIo::new(stream).vectored(true);
        let service = hyper::service::service_fn(crate::hyper_io::hello);
        let _ = crate::hyper_io::http1().serve_connection(io, service).await;
    }))
}
