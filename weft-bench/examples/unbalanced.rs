//! Does a per-core runtime need work stealing? Tasks that all arrive on one loop, measured on weft with two loops
//! and on tokio's multi_thread runtime with two workers (which steals).
//!
//! ```sh
//! cargo run --release -p weft-bench --example unbalanced -- [tasks] [work_us] [rounds]
//! ```
//!
//! One producer (on loop 0, or inside one tokio worker) creates `tasks` tasks; each spins on the CPU for
//! `work_us` µs, yields, `rounds` times; odd-numbered tasks work three times as long, so tasks are uneven. The
//! producer waits for all of them. Rows:
//! - `weft-local`: `weft::spawn` — every task stays on loop 0 (the per-core default: one core does all the work);
//! - `weft-placed`: `Handle::spawn` — each task goes to the least busy loop when it is spawned, never moves after;
//! - `weft-stolen`: `Handle::spawn` with `Builder::steal(true)` — each task waits on loop 0 until first polled,
//!   and the idle loop takes half of the waiting tasks whenever it runs out of work;
//! - `tokio-mt2`: `tokio::spawn` on `multi_thread` with 2 workers — an idle worker steals from a busy one.
//!
//! It prints wall time per row (median of 5 runs, interleaved). With two idle cores, `weft-placed` close to
//! `tokio-mt2` says placement at spawn is enough for work that arrives on one loop; `weft-local` shows what a
//! per-core runtime costs when work is not spread at all. Placement alternates between the loops, so the 3×
//! tasks all land on one of them (1.5× the ideal); `weft-stolen` close to `tokio-mt2` says stealing never-polled
//! tasks is enough to even that out (RESULTS.md has the figures).

use std::time::{Duration, Instant};

/// Spins on the CPU for about `micros`.
fn work(micros: u64) {
    let until = Instant::now() + Duration::from_micros(micros);
    while Instant::now() < until {
        std::hint::spin_loop();
    }
}

/// The work of task `index`: uneven, odd tasks three times the even ones.
fn work_of(index: usize, work_us: u64) -> u64 {
    if index % 2 == 1 {
        work_us * 3
    } else {
        work_us
    }
}

/// How `weft_run` spawns.
#[derive(Clone, Copy, PartialEq)]
enum Spawn {
    /// `weft::spawn`: stay on loop 0.
    Local,
    /// `Handle::spawn`: the least busy loop.
    Placed,
    /// `Handle::spawn` with `Builder::steal(true)`.
    Stolen,
}

/// weft with two loops, spawning the tasks as `spawn` says.
fn weft_run(tasks: usize, work_us: u64, rounds: usize, spawn: Spawn) -> Duration {
    let runtime = weft::Builder::new()
        .loops(2)
        .steal(spawn == Spawn::Stolen)
        .build()
        .unwrap();
    let handle = runtime.handle();
    runtime.block_on(async move {
        let start = Instant::now();
        let mut joins = Vec::with_capacity(tasks);
        for index in 0..tasks {
            let task = async move {
                for _ in 0..rounds {
                    work(work_of(index, work_us));
                    weft::task::yield_now().await;
                }
            };
            joins.push(match spawn {
                Spawn::Local => weft::spawn(task),
                Spawn::Placed | Spawn::Stolen => handle.spawn(task),
            });
        }
        for join in joins {
            join.await.unwrap();
        }
        start.elapsed()
    })
}

/// tokio multi_thread with two workers, the producer inside a worker.
fn tokio_run(tasks: usize, work_us: u64, rounds: usize) -> Duration {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    runtime.block_on(async move {
        tokio::spawn(async move {
            let start = Instant::now();
            let mut joins = Vec::with_capacity(tasks);
            for index in 0..tasks {
                joins.push(tokio::spawn(async move {
                    for _ in 0..rounds {
                        work(work_of(index, work_us));
                        tokio::task::yield_now().await;
                    }
                }));
            }
            for join in joins {
                join.await.unwrap();
            }
            start.elapsed()
        })
        .await
        .unwrap()
    })
}

fn main() {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .map(|arg| arg.parse().expect("numbers: tasks work_us rounds"))
        .collect();
    let tasks = args.first().copied().unwrap_or(2000) as usize;
    let work_us = args.get(1).copied().unwrap_or(20);
    let rounds = args.get(2).copied().unwrap_or(5) as usize;
    let ideal = Duration::from_micros(tasks as u64 * work_us * 2 * rounds as u64) / 2;
    println!(
        "{tasks} tasks × {rounds} rounds, {work_us}/{} µs of work each (odd tasks 3×): {ideal:?} on 2 cores at best",
        work_us * 3
    );
    let mut rows: [(&str, Vec<Duration>); 4] = [
        ("weft-local", Vec::new()),
        ("weft-placed", Vec::new()),
        ("weft-stolen", Vec::new()),
        ("tokio-mt2", Vec::new()),
    ];
    for _ in 0..5 {
        rows[0]
            .1
            .push(weft_run(tasks, work_us, rounds, Spawn::Local));
        rows[1]
            .1
            .push(weft_run(tasks, work_us, rounds, Spawn::Placed));
        rows[2]
            .1
            .push(weft_run(tasks, work_us, rounds, Spawn::Stolen));
        rows[3].1.push(tokio_run(tasks, work_us, rounds));
    }
    for (name, mut times) in rows {
        times.sort();
        let median = times[times.len() / 2];
        println!(
            "{name:<12} {:>9.1} ms   {:.2}× the 2-core ideal",
            median.as_secs_f64() * 1e3,
            median.as_secs_f64() / ideal.as_secs_f64()
        );
    }
}
