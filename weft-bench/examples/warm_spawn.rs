//! Where a warm spawn+join goes, in instructions: `spawn_warm`'s loop (or `chained_spawn_warm`'s) on weft,
//! smol's `LocalExecutor` or tokio's current_thread runtime, with warm-up batches first and the timed batches
//! between two marker functions, so that callgrind counts only the warm part:
//!
//! ```sh
//! cargo build --release -p weft-bench --example warm_spawn
//! valgrind --tool=callgrind --dump-instr=no --callgrind-out-file=cg.weft \
//!   --zero-before=warm_spawn_timed_start --dump-before=warm_spawn_timed_end \
//!   target/release/examples/warm_spawn weft spawn 100000 2 3
//! callgrind_annotate --inclusive=no cg.weft.1      # the `.1` part: the timed batches only
//! ```
//!
//! Arguments: runtime (`weft`, `smol`, `tokio-ct`), workload (`spawn`: spawn n tasks then join them; `chain`:
//! each task spawns the next, n deep), n, warm-up batches, timed batches. Instruction counts do not depend on a
//! busy machine, which time does; divide the dump's total by n × timed batches for instructions per task.
//!
//! Run without valgrind, it prints the timed batches' wall time and CPU time (user + system of the process) per
//! task: on a machine shared with other work, CPU time leaves out the time the process waited for a core.
//! Batches of 1,000 (`weft spawn 1000 100 2000`) stay in cache; batches of 1M (`weft spawn 1000000 2 5`) do not.

use std::time::{Duration, Instant};

use weft_bench::common::{signal, SignalTx};

thread_local! {
    /// When the timed batches started: wall clock and process CPU time.
    static STARTED: std::cell::Cell<Option<(Instant, Duration)>> = const { std::cell::Cell::new(None) };
}

/// Callgrind zeroes its counters on entering this (`--zero-before`): the timed batches start.
#[no_mangle]
#[inline(never)]
pub extern "C" fn warm_spawn_timed_start() {
    STARTED.with(|started| started.set(Some((Instant::now(), weft_bench::sys::own_cpu_time()))));
}

/// Callgrind dumps its counters on entering this (`--dump-before`): the timed batches are over.
#[no_mangle]
#[inline(never)]
pub extern "C" fn warm_spawn_timed_end() {
    let (cpu, wall) = (weft_bench::sys::own_cpu_time(), Instant::now());
    TIMED.with(|timed| {
        if let Some((wall_0, cpu_0)) = STARTED.with(std::cell::Cell::get) {
            timed.set(Some((wall - wall_0, cpu - cpu_0)));
        }
    });
}

thread_local! {
    /// The timed batches' wall and CPU time.
    static TIMED: std::cell::Cell<Option<(Duration, Duration)>> = const { std::cell::Cell::new(None) };
}

thread_local! {
    /// smol's executor, as in `weft-bench` (`rt_smol`).
    static EX: async_executor::LocalExecutor<'static> = const { async_executor::LocalExecutor::new() };
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [runtime, workload, n, warm_up, timed] = &args[..] else {
        panic!("usage: warm_spawn weft|smol|tokio-ct spawn|chain N WARM_UP_BATCHES TIMED_BATCHES");
    };
    let number = |s: &String| s.parse::<usize>().expect("a count");
    let (n, warm_up, timed) = (number(n), number(warm_up), number(timed));
    let chain = match workload.as_str() {
        "spawn" => false,
        "chain" => true,
        _ => panic!("workload: spawn or chain"),
    };
    let started = Instant::now();
    match runtime.as_str() {
        "weft" => {
            let rt = weft::Runtime::new().expect("a weft runtime");
            rt.block_on(async move {
                weft::spawn(async move {
                    // One vector of handles throughout, as in `spawn_warm`.
                    let mut handles = Vec::with_capacity(n);
                    for batch in 0..warm_up + timed {
                        mark(batch, warm_up);
                        if chain {
                            let (tx, rx) = signal();
                            weft_link(tx, n);
                            rx.await;
                        } else {
                            handles.extend((0..n).map(|i| weft::spawn(async move { i })));
                            let mut sum = 0usize;
                            for h in handles.drain(..) {
                                sum = sum.wrapping_add(h.await.expect("no panic"));
                            }
                            assert_eq!(sum, n * n.saturating_sub(1) / 2);
                        }
                    }
                    warm_spawn_timed_end();
                })
                .await
                .expect("no panic")
            });
        }
        "smol" => EX.with(|ex| {
            async_io::block_on(ex.run(ex.spawn(async move {
                // One vector of handles throughout, as in `spawn_warm`.
                let mut handles = Vec::with_capacity(n);
                for batch in 0..warm_up + timed {
                    mark(batch, warm_up);
                    if chain {
                        let (tx, rx) = signal();
                        smol_link(tx, n);
                        rx.await;
                    } else {
                        handles.extend((0..n).map(|i| EX.with(|ex| ex.spawn(async move { i }))));
                        let mut sum = 0usize;
                        for h in handles.drain(..) {
                            sum = sum.wrapping_add(h.await);
                        }
                        assert_eq!(sum, n * n.saturating_sub(1) / 2);
                    }
                }
                warm_spawn_timed_end();
            })))
        }),
        "tokio-ct" => {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a tokio runtime");
            rt.block_on(async move {
                tokio::spawn(async move {
                    // One vector of handles throughout, as in `spawn_warm`.
                    let mut handles = Vec::with_capacity(n);
                    for batch in 0..warm_up + timed {
                        mark(batch, warm_up);
                        if chain {
                            let (tx, rx) = signal();
                            tokio_link(tx, n);
                            rx.await;
                        } else {
                            handles.extend((0..n).map(|i| tokio::spawn(async move { i })));
                            let mut sum = 0usize;
                            for h in handles.drain(..) {
                                sum = sum.wrapping_add(h.await.expect("no panic"));
                            }
                            assert_eq!(sum, n * n.saturating_sub(1) / 2);
                        }
                    }
                    warm_spawn_timed_end();
                })
                .await
                .expect("no panic")
            });
        }
        _ => panic!("runtime: weft, smol or tokio-ct"),
    }
    let per_task = |d: Duration| d.as_nanos() as f64 / (n * timed).max(1) as f64;
    match TIMED.with(std::cell::Cell::get) {
        Some((wall, cpu)) => eprintln!(
            "{runtime} {workload}: {n} × {} batches in {:?}; timed batches: {:.1} ns wall, {:.1} ns CPU per task",
            warm_up + timed,
            started.elapsed(),
            per_task(wall),
            per_task(cpu)
        ),
        None => eprintln!("{runtime} {workload}: {n} × {} batches in {:?}", warm_up + timed, started.elapsed()),
    }
}

/// Calls the start marker before the first timed batch.
fn mark(batch: usize, warm_up: usize) {
    if batch == warm_up {
        warm_spawn_timed_start();
    }
}

fn weft_link(done: SignalTx, left: usize) {
    if left == 0 {
        done.fire();
    } else {
        drop(weft::spawn(async move { weft_link(done, left - 1) }));
    }
}

fn smol_link(done: SignalTx, left: usize) {
    if left == 0 {
        done.fire();
    } else {
        EX.with(|ex| ex.spawn(async move { smol_link(done, left - 1) }).detach());
    }
}

fn tokio_link(done: SignalTx, left: usize) {
    if left == 0 {
        done.fire();
    } else {
        drop(tokio::spawn(async move { tokio_link(done, left - 1) }));
    }
}
