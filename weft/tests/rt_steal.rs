//! Work stealing between loops (`Builder::steal`): `Send` tasks spawned with `Handle::spawn` on a busy loop are
//! taken by an idle loop before their first poll; nothing moves without the opt-in, `weft::spawn`'s and
//! `spawn_on`'s tasks never move, and a stolen task's handle, abort, panic, shutdown and x-ray rows all follow it.

mod common;

use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::Duration;

use common::without_deadlock;
use weft::runtime::LoopId;
use weft::Builder;

const LIMIT: Duration = Duration::from_secs(60);

fn runtime(steal: bool) -> weft::Runtime {
    Builder::new()
        .loops(2)
        .pin_loops(false)
        .steal(steal)
        .build()
        .unwrap()
}

/// Keeps the CPU busy for `ms` milliseconds without yielding (work that blocks its loop).
fn busy(ms: u64) {
    thread::sleep(Duration::from_millis(ms));
}

/// Spawns `count` tasks with `Handle::spawn` from a task on loop 0; each blocks its loop for a while and reports
/// the loop it ran on. Loop 0 stays busy with the spawner meanwhile.
fn loops_that_ran(runtime: &weft::Runtime, count: usize) -> Vec<LoopId> {
    let handle = runtime.handle();
    let first = handle.loops()[0];
    runtime
        .block_on(handle.clone().spawn_on(first, async move {
            let tasks: Vec<_> = (0..count)
                .map(|_| {
                    handle.spawn(async {
                        busy(2);
                        weft::current_loop()
                    })
                })
                .collect();
            weft::join_all(tasks).await
        }))
        .unwrap()
        .into_iter()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn with_steal_on_tasks_spawned_on_a_busy_loop_run_on_the_idle_one() {
    without_deadlock(LIMIT, || {
        let runtime = runtime(true);
        let ran = loops_that_ran(&runtime, 200);
        let on_second = ran.iter().filter(|id| id.index() == 1).count();
        assert_eq!(ran.len(), 200);
        assert!(
            on_second >= 20,
            "the idle loop took only {on_second} of 200 tasks"
        );
        assert!(on_second < 200, "loop 0 ran none of its own tasks");
    });
}

/// Spawns `count` tasks with `Handle::spawn` from loop 0; each works, yields five times, and says on which loop it
/// was first polled and on which it finished.
fn where_tasks_started_and_ended(runtime: &weft::Runtime, count: usize) -> Vec<(LoopId, LoopId)> {
    let handle = runtime.handle();
    let first = handle.loops()[0];
    let moves = runtime.block_on(handle.clone().spawn_on(first, async move {
        let tasks: Vec<_> = (0..count)
            .map(|_| {
                handle.spawn(async {
                    let started = weft::current_loop();
                    for _ in 0..5 {
                        busy(1);
                        weft::task::yield_now().await;
                    }
                    (started, weft::current_loop())
                })
            })
            .collect();
        weft::join_all(tasks).await
    }));
    moves.unwrap().into_iter().map(Result::unwrap).collect()
}

#[test]
fn with_steal_off_tasks_spawned_on_a_loop_are_placed_and_never_move() {
    without_deadlock(LIMIT, || {
        for (started, ended) in where_tasks_started_and_ended(&runtime(false), 100) {
            assert_eq!(started, ended, "a task moved after its first poll");
        }
    });
}

#[test]
fn a_stolen_task_stays_on_the_loop_that_first_polled_it() {
    without_deadlock(LIMIT, || {
        let moves = where_tasks_started_and_ended(&runtime(true), 200);
        assert!(
            moves.iter().any(|(started, _)| started.index() == 1),
            "nothing was stolen"
        );
        for (started, ended) in moves {
            assert_eq!(started, ended, "a task moved after its first poll");
        }
    });
}

#[test]
fn weft_spawn_tasks_never_move_even_with_steal_on() {
    without_deadlock(LIMIT, || {
        let runtime = runtime(true);
        let ran = runtime.block_on(async {
            let tasks: Vec<_> = (0..100)
                .map(|_| {
                    let not_send = Rc::new(());
                    weft::spawn(async move {
                        busy(1);
                        drop(not_send);
                        weft::current_loop()
                    })
                })
                .collect();
            weft::join_all(tasks).await
        });
        for id in ran.into_iter().map(Result::unwrap) {
            assert_eq!(id.index(), 0, "a weft::spawn task moved");
        }
    });
}

#[test]
fn spawn_on_tasks_never_move_even_with_steal_on() {
    without_deadlock(LIMIT, || {
        let runtime = runtime(true);
        let handle = runtime.handle();
        let first = handle.loops()[0];
        let ran = runtime.block_on(async {
            let tasks: Vec<_> = (0..100)
                .map(|_| {
                    handle.spawn_on(first, async {
                        busy(1);
                        weft::current_loop()
                    })
                })
                .collect();
            weft::join_all(tasks).await
        });
        for id in ran.into_iter().map(Result::unwrap) {
            assert_eq!(id, first, "a spawn_on task moved");
        }
    });
}

#[test]
fn tasks_spawned_from_outside_the_runtime_are_stolen_too() {
    without_deadlock(LIMIT, || {
        let runtime = runtime(true);
        let handle = runtime.handle();
        // Placed from a plain thread (least busy loop), then taken by whichever loop runs out of work.
        let tasks = thread::spawn(move || {
            (0..200)
                .map(|_| {
                    handle.spawn(async {
                        busy(1);
                        weft::current_loop()
                    })
                })
                .collect::<Vec<_>>()
        })
        .join()
        .unwrap();
        let ran: Vec<_> = runtime
            .block_on(weft::join_all(tasks))
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert_eq!(ran.len(), 200);
        assert!(ran.iter().any(|id| id.index() == 1));
    });
}

#[test]
fn a_stolen_tasks_join_handle_abort_and_panic_work() {
    without_deadlock(LIMIT, || {
        let runtime = runtime(true);
        let handle = runtime.handle();
        let first = handle.loops()[0];
        let (started_on, started) = mpsc::channel::<(usize, LoopId)>();
        let dropped = Arc::new(AtomicUsize::new(0));
        let running = Arc::new(AtomicUsize::new(0));
        let outcomes = runtime.block_on({
            let (dropped, running) = (dropped.clone(), running.clone());
            handle.clone().spawn_on(first, async move {
                let mut tasks = Vec::new();
                for index in 0..60 {
                    let started_on = started_on.clone();
                    let guard = DropCount(dropped.clone());
                    let running = running.clone();
                    tasks.push(handle.spawn(async move {
                        let _guard = guard;
                        started_on.send((index, weft::current_loop())).unwrap();
                        running.fetch_add(1, Ordering::SeqCst);
                        busy(2);
                        if index % 3 == 1 {
                            panic!("task {index} panics");
                        }
                        if index % 3 == 2 {
                            // Parks forever: aborted below.
                            std::future::pending::<()>().await;
                        }
                        index
                    }));
                }
                // Abort the parked ones once every task has started (on either loop).
                while running.load(Ordering::SeqCst) < 60 {
                    weft::time::sleep(Duration::from_millis(1)).await;
                }
                let mut outcomes = Vec::new();
                for (index, task) in tasks.into_iter().enumerate() {
                    if index % 3 == 2 {
                        task.abort();
                    }
                    outcomes.push(task.await);
                }
                outcomes
            })
        });
        let outcomes = outcomes.unwrap();
        let starts: Vec<_> = started.try_iter().collect();
        assert_eq!(starts.len(), 60, "every task started once");
        assert!(
            starts.iter().any(|(_, id)| id.index() == 1),
            "nothing was stolen"
        );
        for (index, outcome) in outcomes.into_iter().enumerate() {
            match index % 3 {
                0 => assert_eq!(outcome.unwrap(), index),
                1 => assert!(outcome.unwrap_err().is_panic()),
                _ => assert!(outcome.unwrap_err().is_cancelled()),
            }
        }
        assert_eq!(
            dropped.load(Ordering::SeqCst),
            60,
            "every future was dropped"
        );
    });
}

/// Counts its drops.
struct DropCount(Arc<AtomicUsize>);

impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn dropping_the_runtime_drops_waiting_and_stolen_tasks() {
    without_deadlock(LIMIT, || {
        let runtime = runtime(true);
        let handle = runtime.handle();
        let first = handle.loops()[0];
        let dropped = Arc::new(AtomicUsize::new(0));
        let (started_on, started) = mpsc::channel::<LoopId>();
        // 100 tasks that never end; by the time both loops started some, others still wait.
        let tasks = runtime.block_on({
            let dropped = dropped.clone();
            handle.clone().spawn_on(first, async move {
                (0..100)
                    .map(|_| {
                        let guard = DropCount(dropped.clone());
                        let started_on = started_on.clone();
                        handle.spawn(async move {
                            let _guard = guard;
                            started_on.send(weft::current_loop()).unwrap();
                            loop {
                                busy(1);
                                weft::task::yield_now().await;
                            }
                        })
                    })
                    .collect::<Vec<_>>()
            })
        });
        let tasks = tasks.unwrap();
        let mut loops_seen = [false; 2];
        for id in started.iter() {
            loops_seen[id.index()] = true;
            if loops_seen == [true, true] {
                break;
            }
        }
        drop(runtime);
        assert_eq!(
            dropped.load(Ordering::SeqCst),
            100,
            "every task, running, stolen or still waiting, was dropped"
        );
        for task in tasks {
            assert!(weft::run(task).unwrap_err().is_cancelled());
        }
    });
}

#[test]
fn a_dump_shows_a_stolen_task_on_the_loop_that_runs_it() {
    without_deadlock(LIMIT, || {
        let runtime = runtime(true);
        let handle = runtime.handle();
        let first = handle.loops()[0];
        let stop = Arc::new(AtomicBool::new(false));
        let (started_on, started) = mpsc::channel::<(usize, LoopId)>();
        let tasks = runtime.block_on({
            let (handle, stop) = (handle.clone(), stop.clone());
            handle.clone().spawn_on(first, async move {
                (0..20)
                    .map(|index| {
                        let started_on = started_on.clone();
                        let stop = stop.clone();
                        handle.spawn(async move {
                            started_on.send((index, weft::current_loop())).unwrap();
                            busy(5);
                            while !stop.load(Ordering::SeqCst) {
                                weft::time::sleep(Duration::from_millis(1)).await;
                            }
                        })
                    })
                    .collect::<Vec<_>>()
            })
        });
        let tasks = tasks.unwrap();
        let starts: Vec<_> = started.iter().take(20).collect();
        // Loop 0 answers the dump while it runs (here, in `block_on`).
        let dump = runtime.block_on(async { handle.dump() });
        let mut stolen = 0;
        for &(index, ran_on) in &starts {
            let row = dump
                .tasks()
                .iter()
                .find(|row| row.id == tasks[index].id())
                .expect("every started task is in the dump");
            assert_eq!(
                row.loop_id, ran_on,
                "the dump row names the loop that runs it"
            );
            stolen += usize::from(ran_on.index() == 1);
        }
        assert!(stolen > 0, "nothing was stolen");
        stop.store(true, Ordering::SeqCst);
        for outcome in runtime.block_on(weft::join_all(tasks)) {
            outcome.unwrap();
        }
    });
}
