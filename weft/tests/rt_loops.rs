//! Many loops in one runtime (`Builder::loops`): each loop on its own thread, tasks placed by `spawn_on`,
//! `spawn_on_each` and `Handle::spawn`, `weft::spawn` staying local, cross-loop wakes and I/O, and shutdown of
//! every loop on its own thread.

mod common;

use std::collections::HashSet;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use common::without_deadlock;
use weft::io::AsyncReadExt;
use weft::net::{TcpListener, TcpStream};
use weft::Builder;

const LIMIT: Duration = Duration::from_secs(60);

fn runtime(loops: usize) -> weft::Runtime {
    Builder::new()
        .loops(loops)
        .pin_loops(false)
        .build()
        .unwrap()
}

#[test]
fn each_loop_runs_on_a_thread_of_its_own() {
    without_deadlock(LIMIT, || {
        let runtime = runtime(3);
        let handle = runtime.handle();
        let ids = handle.loops();
        assert_eq!(
            ids.iter().map(|id| id.index()).collect::<Vec<_>>(),
            [0, 1, 2]
        );
        let main_thread = thread::current().id();
        let seen = runtime.block_on(async {
            let tasks: Vec<_> = ids
                .iter()
                .map(|&id| {
                    handle.spawn_on(id, async move {
                        (id, weft::current_loop(), thread::current().id())
                    })
                })
                .collect();
            weft::join_all(tasks).await
        });
        let mut threads = HashSet::new();
        for (asked, ran_on, thread) in seen.into_iter().map(Result::unwrap) {
            assert_eq!(asked, ran_on);
            assert_eq!(
                thread == main_thread,
                asked.index() == 0,
                "loop 0 is block_on's thread"
            );
            threads.insert(thread);
        }
        assert_eq!(threads.len(), 3);
    });
}

#[test]
fn spawn_on_each_builds_a_non_send_future_on_every_loop() {
    without_deadlock(LIMIT, || {
        let runtime = runtime(2);
        let handle = runtime.handle();
        let built_on = Arc::new(Mutex::new(Vec::new()));
        let record = built_on.clone();
        let tasks = handle.spawn_on_each(move |id| {
            record.lock().unwrap().push((id, weft::current_loop()));
            let state = Rc::new(id.index() + 100); // per-loop state, not Send
            async move {
                weft::task::yield_now().await;
                (*state, weft::current_loop())
            }
        });
        let outputs = runtime.block_on(weft::join_all(tasks));
        let outputs: Vec<_> = outputs.into_iter().map(Result::unwrap).collect();
        assert_eq!(outputs[0].0, 100);
        assert_eq!(outputs[1].0, 101);
        assert_eq!(outputs[1].1.index(), 1);
        let mut built_on = built_on.lock().unwrap().clone();
        built_on.sort();
        assert!(
            built_on.iter().all(|(id, ran_on)| id == ran_on),
            "the factory ran on its own loop"
        );
        assert_eq!(built_on.len(), 2);
    });
}

#[test]
fn weft_spawn_stays_on_the_current_loop() {
    without_deadlock(LIMIT, || {
        let runtime = runtime(2);
        let handle = runtime.handle();
        let second = handle.loops()[1];
        let loops = runtime.block_on(handle.spawn_on(second, async {
            let children: Vec<_> = (0..8)
                .map(|_| weft::spawn(async { weft::current_loop() }))
                .collect();
            weft::join_all(children).await
        }));
        assert!(loops.unwrap().into_iter().all(|id| id.unwrap() == second));
    });
}

#[test]
fn handle_spawn_spreads_a_burst_over_every_loop() {
    without_deadlock(LIMIT, || {
        let runtime = runtime(2);
        let handle = runtime.handle();
        let placed = runtime.block_on(async {
            // Tasks that stay alive until released, so every loop's load keeps counting them.
            let (release, released) = weft::sync::watch::channel(false);
            let tasks: Vec<_> = (0..100)
                .map(|_| {
                    let mut released = released.clone();
                    handle.spawn(async move {
                        let loop_id = weft::current_loop();
                        while !*released.borrow_and_update() {
                            released.changed().await.unwrap();
                        }
                        loop_id
                    })
                })
                .collect();
            release.send(true).unwrap();
            weft::join_all(tasks).await
        });
        let on_second = placed
            .into_iter()
            .filter(|id| id.as_ref().unwrap().index() == 1)
            .count();
        // Placement reads loads that may be a turn stale: roughly even, not exactly.
        assert!(
            (25..=75).contains(&on_second),
            "{on_second} of 100 on loop 1"
        );
    });
}

#[test]
fn a_task_on_one_loop_wakes_a_task_on_another() {
    without_deadlock(LIMIT, || {
        let runtime = runtime(2);
        let handle = runtime.handle();
        let second = handle.loops()[1];
        let total = runtime.block_on(async {
            let (tx, mut rx) = weft::sync::mpsc::channel::<u64>(4);
            let consumer = handle.spawn_on(second, async move {
                let mut total = 0;
                while let Some(value) = rx.recv().await {
                    total += value;
                }
                (total, weft::current_loop())
            });
            for value in 1..=1000 {
                tx.send(value).await.unwrap();
            }
            drop(tx);
            consumer.await.unwrap()
        });
        assert_eq!(total, (500_500, second));
    });
}

#[test]
fn a_connection_accepted_on_loop_0_is_served_on_loop_1() {
    without_deadlock(LIMIT, || {
        let runtime = runtime(2);
        let handle = runtime.handle();
        let second = handle.loops()[1];
        let reply = runtime.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let client = weft::spawn(async move {
                let mut stream = TcpStream::connect(addr).await.unwrap();
                stream.write_all(b"ping").await.unwrap();
                stream.shutdown(std::net::Shutdown::Write).unwrap();
                let mut reply = String::new();
                stream.read_to_string(&mut reply).await.unwrap();
                reply
            });
            let (mut stream, _) = listener.accept().await.unwrap();
            let server = handle.spawn_on(second, async move {
                let mut request = Vec::new();
                stream.read_to_end(&mut request).await.unwrap();
                let answer = format!(
                    "{} from {}",
                    String::from_utf8(request).unwrap(),
                    weft::current_loop()
                );
                stream.write_all(answer.as_bytes()).await.unwrap();
            });
            server.await.unwrap();
            client.await.unwrap()
        });
        assert_eq!(reply, "ping from loop 1");
    });
}

/// Records the thread its destructor runs on.
struct DropsOn(Arc<Mutex<Vec<String>>>);

impl Drop for DropsOn {
    fn drop(&mut self) {
        let name = thread::current().name().unwrap_or("unnamed").to_owned();
        self.0.lock().unwrap().push(name);
    }
}

#[test]
fn dropping_the_runtime_drops_each_loops_tasks_on_that_loops_thread() {
    without_deadlock(LIMIT, || {
        let runtime = runtime(3);
        let handle = runtime.handle();
        let dropped = Arc::new(Mutex::new(Vec::new()));
        let started = Arc::new(AtomicUsize::new(0));
        let record = dropped.clone();
        let count = started.clone();
        let tasks = handle.spawn_on_each(move |_| {
            let guard = DropsOn(record.clone());
            count.fetch_add(1, Ordering::SeqCst);
            async move {
                let _guard = guard;
                std::future::pending::<()>().await;
            }
        });
        runtime.block_on(async {
            while started.load(Ordering::SeqCst) < 3 {
                weft::time::sleep(Duration::from_millis(1)).await;
            }
        });
        drop(runtime);
        let mut names = dropped.lock().unwrap().clone();
        names.sort();
        let main = thread::current().name().unwrap_or("unnamed").to_owned();
        let mut expected = vec![main, "weft-loop-1".to_owned(), "weft-loop-2".to_owned()];
        expected.sort();
        assert_eq!(names, expected);
        for task in tasks {
            assert!(weft::run(task).unwrap_err().is_cancelled());
        }
    });
}

#[test]
fn aborting_a_spawn_on_each_handle_aborts_the_task_on_its_loop() {
    without_deadlock(LIMIT, || {
        let runtime = runtime(2);
        let handle = runtime.handle();
        let dropped = Arc::new(Mutex::new(Vec::new()));
        let record = dropped.clone();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let tasks = handle.spawn_on_each(move |_| {
            let guard = DropsOn(record.clone());
            let ready = ready_tx.clone();
            async move {
                let _guard = guard;
                ready.send(()).unwrap();
                std::future::pending::<()>().await;
            }
        });
        runtime.block_on(async {
            while ready_rx.try_recv().is_err() {
                weft::time::sleep(Duration::from_millis(1)).await;
            }
            while ready_rx.try_recv().is_err() {
                weft::time::sleep(Duration::from_millis(1)).await;
            }
            tasks[1].abort();
            while dropped.lock().unwrap().is_empty() {
                weft::time::sleep(Duration::from_millis(1)).await;
            }
        });
        assert_eq!(*dropped.lock().unwrap(), ["weft-loop-1"]);
        let mut tasks = tasks;
        let second = tasks.pop().unwrap();
        assert!(runtime.block_on(second).unwrap_err().is_cancelled());
    });
}

#[test]
fn shutdown_timeout_bounds_every_loop() {
    without_deadlock(LIMIT, || {
        let runtime = runtime(2);
        let handle = runtime.handle();
        let second = handle.loops()[1];
        runtime.block_on(async {
            let (started, running) = weft::sync::oneshot::channel();
            drop(handle.spawn_on(second, async move {
                let job = weft::spawn_blocking(move || {
                    started.send(()).unwrap();
                    thread::sleep(Duration::from_secs(30));
                });
                job.await.unwrap();
            }));
            running.await.unwrap();
        });
        let began = std::time::Instant::now();
        runtime.shutdown_timeout(Duration::from_millis(50));
        // A deadlock guard, not a timing assertion: 30 s would mean the deadline was ignored.
        assert!(began.elapsed() < Duration::from_secs(20));
    });
}

#[test]
fn loops_zero_means_one_per_allowed_cpu() {
    let runtime = Builder::new().loops(0).pin_loops(false).build().unwrap();
    let cpus = thread::available_parallelism().unwrap().get();
    assert_eq!(runtime.handle().loops().len(), cpus);
}

#[test]
fn pinned_loops_each_run_on_one_cpu() {
    without_deadlock(LIMIT, || {
        // On its own thread: pinning loop 0 pins the thread that builds the runtime.
        let runtime = Builder::new().loops(2).build().unwrap();
        let handle = runtime.handle();
        let allowed = runtime.block_on(async {
            let tasks = handle.spawn_on_each(|_| async { allowed_cpus() });
            weft::join_all(tasks).await
        });
        for cpus in allowed.into_iter().map(Result::unwrap) {
            assert_eq!(cpus, 1, "a pinned loop may run on one CPU");
        }
    });
}

#[test]
fn pinning_leaves_blocking_threads_and_the_callers_thread_free() {
    without_deadlock(LIMIT, || {
        let before = allowed_cpus();
        let runtime = Builder::new().loops(2).build().unwrap();
        assert_eq!(allowed_cpus(), 1, "this thread runs loop 0, pinned");
        let in_job = runtime.block_on(async { weft::spawn_blocking(allowed_cpus).await.unwrap() });
        assert_eq!(in_job, before, "a blocking thread may run on every CPU");
        drop(runtime);
        assert_eq!(allowed_cpus(), before, "the thread is the caller's again");
    });
}

/// How many CPUs the calling thread may run on.
fn allowed_cpus() -> usize {
    // SAFETY: cpu_set_t is plain data; sched_getaffinity fills it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        assert_eq!(
            libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set),
            0
        );
        libc::CPU_COUNT(&set) as usize
    }
}

#[test]
fn a_loop_without_its_runtime_refuses_spawns() {
    let runtime = runtime(2);
    let handle = runtime.handle();
    let second = handle.loops()[1];
    drop(runtime);
    let late = handle.spawn_on(second, async { 1 });
    assert!(weft::run(late).unwrap_err().is_cancelled());
}

fn paused(loops: usize) -> weft::Runtime {
    Builder::new()
        .loops(loops)
        .pin_loops(false)
        .start_paused(true)
        .build()
        .unwrap()
}

#[test]
fn one_virtual_clock_serves_every_loop() {
    without_deadlock(LIMIT, || {
        let runtime = paused(2);
        let handle = runtime.handle();
        let second = handle.loops()[1];
        let (start, slept_there, now_here) = runtime.block_on(async {
            let start = weft::time::Instant::now();
            let slept_there = handle
                .spawn_on(second, async {
                    let there = weft::time::Instant::now();
                    weft::time::sleep(Duration::from_secs(3600)).await;
                    (there, weft::time::Instant::now())
                })
                .await
                .unwrap();
            (start, slept_there, weft::time::Instant::now())
        });
        assert_eq!(slept_there.0, start, "both loops read one clock");
        assert_eq!(slept_there.1 - start, Duration::from_secs(3600));
        assert_eq!(now_here, slept_there.1);
    });
}

#[test]
fn timers_on_different_loops_fire_in_deadline_order_at_their_exact_times() {
    without_deadlock(LIMIT, || {
        let runtime = paused(2);
        let handle = runtime.handle();
        let loops = handle.loops();
        let fired = runtime.block_on(async {
            let start = weft::time::Instant::now();
            let (tx, mut rx) = weft::sync::mpsc::unbounded_channel();
            for (ms, id) in [
                (30, loops[0]),
                (20, loops[1]),
                (10, loops[1]),
                (40, loops[1]),
                (25, loops[0]),
            ] {
                let tx = tx.clone();
                drop(handle.spawn_on(id, async move {
                    weft::time::sleep(Duration::from_millis(ms)).await;
                    tx.send((ms, start.elapsed(), weft::current_loop().index()))
                        .unwrap();
                }));
            }
            drop(tx);
            let mut fired = Vec::new();
            while let Some(event) = rx.recv().await {
                fired.push(event);
            }
            fired
        });
        let order: Vec<u64> = fired.iter().map(|(ms, _, _)| *ms).collect();
        assert_eq!(order, [10, 20, 25, 30, 40]);
        for (ms, elapsed, _) in &fired {
            assert_eq!(
                *elapsed,
                Duration::from_millis(*ms),
                "virtual time is exact"
            );
        }
    });
}

#[test]
fn the_shared_clock_stands_still_while_any_loop_has_work() {
    without_deadlock(LIMIT, || {
        let runtime = paused(2);
        let handle = runtime.handle();
        let second = handle.loops()[1];
        let (seen, slept) = runtime.block_on(async {
            let start = weft::time::Instant::now();
            // Loop 1 stays busy for a while; loop 0 waits on a timer meanwhile.
            let busy = handle.spawn_on(second, async move {
                let mut seen = Vec::new();
                for _ in 0..2000 {
                    seen.push(start.elapsed());
                    weft::task::yield_now().await;
                }
                seen
            });
            weft::time::sleep(Duration::from_secs(10)).await;
            let slept = start.elapsed();
            (busy.await.unwrap(), slept)
        });
        assert!(
            seen.iter().all(|elapsed| elapsed.is_zero()),
            "time jumped while loop 1 was busy"
        );
        assert_eq!(slept, Duration::from_secs(10));
    });
}

#[test]
fn blocking_work_holds_the_shared_clock() {
    without_deadlock(LIMIT, || {
        let runtime = paused(2);
        let handle = runtime.handle();
        let second = handle.loops()[1];
        let (job_saw, finished) = runtime.block_on(async {
            let start = weft::time::Instant::now();
            let waiter = handle.spawn_on(second, async move {
                weft::time::sleep(Duration::from_secs(5)).await;
                start.elapsed()
            });
            // Real time passes in the job; virtual time must not jump past loop 1's timer meanwhile.
            let job = weft::spawn_blocking(|| thread::sleep(Duration::from_millis(50)));
            job.await.unwrap();
            let job_saw = start.elapsed();
            (job_saw, waiter.await.unwrap())
        });
        assert!(
            job_saw.is_zero(),
            "the clock jumped while blocking work ran: {job_saw:?}"
        );
        assert_eq!(finished, Duration::from_secs(5));
    });
}

#[test]
#[should_panic(expected = "no loop 2 in a runtime of 2 loops")]
fn spawn_on_a_loop_that_does_not_exist_panics() {
    let third = runtime(3).handle().loops()[2];
    let runtime = runtime(2);
    drop(runtime.handle().spawn_on(third, async {}));
}

#[test]
fn a_detached_panic_on_another_loop_stops_the_runtime_under_shutdown_runtime() {
    without_deadlock(LIMIT, || {
        let runtime = Builder::new()
            .loops(2)
            .pin_loops(false)
            .unhandled_panic(weft::UnhandledPanic::ShutdownRuntime)
            .build()
            .unwrap();
        let handle = runtime.handle();
        let second = handle.loops()[1];
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            runtime.block_on(async {
                drop(handle.spawn_on(second, async {
                    panic!("nobody awaits this task (expected in this test)")
                }));
                loop {
                    weft::time::sleep(Duration::from_millis(5)).await;
                }
            })
        }));
        let message = *outcome.unwrap_err().downcast::<&str>().unwrap();
        assert!(message.contains("ShutdownRuntime"), "{message}");
    });
}

#[test]
fn reuseport_listeners_on_every_loop_share_the_connections() {
    without_deadlock(LIMIT, || {
        let runtime = runtime(2);
        let handle = runtime.handle();
        const CONNECTIONS: usize = 64;
        let accepted = runtime.block_on(async move {
            let first = TcpListener::bind_reuseport("127.0.0.1:0").await.unwrap();
            let address = first.local_addr().unwrap();
            let (bound_tx, mut bound_rx) = weft::sync::mpsc::channel(2);
            let (stop_tx, stop_rx) = weft::sync::watch::channel(false);
            let servers = handle.spawn_on_each(move |_| {
                let bound = bound_tx.clone();
                let mut stop = stop_rx.clone();
                async move {
                    let listener = TcpListener::bind_reuseport(address).await.unwrap();
                    bound.send(()).await.unwrap();
                    let mut served = 0;
                    loop {
                        weft::select! {
                            biased;
                            accepted = listener.accept() => {
                                let (stream, _) = accepted.unwrap();
                                stream.write_all(weft::current_loop().to_string().as_bytes()).await.unwrap();
                                served += 1;
                            }
                            _ = stop.changed() => return served,
                        }
                    }
                }
            });
            bound_rx.recv().await.unwrap();
            bound_rx.recv().await.unwrap();
            drop(first); // only the loops' listeners take connections now
            for _ in 0..CONNECTIONS {
                let mut stream = TcpStream::connect(address).await.unwrap();
                let mut reply = String::new();
                stream.read_to_string(&mut reply).await.unwrap();
                assert!(reply.starts_with("loop "));
            }
            stop_tx.send(true).unwrap();
            weft::join_all(servers).await
        });
        let accepted: Vec<usize> = accepted.into_iter().map(Result::unwrap).collect();
        assert_eq!(accepted.iter().sum::<usize>(), CONNECTIONS);
        // The kernel hashes each connection to a listener: 64 all on one would be a 1-in-2^63 event.
        assert!(accepted.iter().all(|&n| n > 0), "{accepted:?}");
    });
}

#[test]
fn metrics_sum_the_loops_and_break_them_down() {
    without_deadlock(LIMIT, || {
        let runtime = runtime(2);
        let handle = runtime.handle();
        let second = handle.loops()[1];
        runtime.block_on(async {
            for _ in 0..3 {
                handle.spawn_on(second, async {}).await.unwrap();
            }
            weft::spawn(async {}).await.unwrap();
            weft::task::yield_now().await;
        });
        // Loop 1 publishes at the end of its turn, which may follow the last task's completion by a moment.
        let mut metrics = handle.metrics();
        while metrics.loops[1].tasks_spawned < 3 || metrics.loops[1].tasks_alive > 0 {
            thread::sleep(Duration::from_millis(1));
            metrics = handle.metrics();
        }
        assert_eq!(metrics.loops.len(), 2);
        assert_eq!(metrics.loops[0].loop_id.index(), 0);
        assert_eq!(metrics.loops[1].loop_id, second);
        assert_eq!(metrics.loops[0].tasks_spawned, 1);
        assert_eq!(metrics.loops[1].tasks_spawned, 3);
        assert_eq!(metrics.tasks_spawned, 4);
        assert_eq!(
            metrics.polls,
            metrics.loops[0].polls + metrics.loops[1].polls
        );
    });
}

#[test]
fn a_dump_lists_the_tasks_of_every_loop_with_their_loop() {
    without_deadlock(LIMIT, || {
        let runtime = runtime(2);
        let handle = runtime.handle();
        let loops = handle.loops();
        runtime.block_on(async {
            let (release, released) = weft::sync::oneshot::channel::<()>();
            let sleeper = weft::task::Builder::new()
                .name("here")
                .spawn(async { weft::time::sleep(Duration::from_secs(60)).await });
            let there = handle.spawn_on(loops[1], async move {
                weft::task::Builder::new()
                    .name("there")
                    .spawn(async move { released.await.unwrap() })
                    .await
                    .unwrap();
            });
            // Until both named tasks are parked at their bookmarks.
            let dump = loop {
                let dump = weft::xray::dump();
                let parked = |name: &str| {
                    dump.tasks()
                        .iter()
                        .any(|task| task.name.as_deref() == Some(name) && task.bookmark.is_some())
                };
                if parked("here") && parked("there") {
                    break dump;
                }
                weft::time::sleep(Duration::from_millis(1)).await;
            };
            assert!(dump.answered());
            let loop_of = |name: &str| {
                dump.tasks()
                    .iter()
                    .find(|task| task.name.as_deref() == Some(name))
                    .unwrap()
                    .loop_id
            };
            assert_eq!(loop_of("here"), loops[0]);
            assert_eq!(loop_of("there"), loops[1]);
            let text = dump.to_string();
            assert!(text.contains("on 2 loops"), "{text}");
            assert!(text.lines().nth(1).unwrap().starts_with("loop"), "{text}");
            release.send(()).unwrap();
            there.await.unwrap();
            sleeper.abort();
        });
    });
}

#[test]
fn a_dump_names_the_task_blocking_another_loop_and_still_lists_the_rest() {
    without_deadlock(LIMIT, || {
        let runtime = runtime(2);
        let handle = runtime.handle();
        let second = handle.loops()[1];
        let (stuck_tx, stuck_rx) = std::sync::mpsc::channel();
        let hog = handle.spawn_on(second, async move {
            stuck_tx.send(()).unwrap();
            thread::sleep(Duration::from_millis(2500)); // blocks loop 1 longer than a dump waits
        });
        let hog_id = hog.id();
        let dump = runtime.block_on(async {
            let _parked = weft::task::Builder::new()
                .name("parked")
                .spawn(async { weft::time::sleep(Duration::from_secs(60)).await });
            weft::task::yield_now().await;
            stuck_rx.recv().unwrap();
            weft::xray::dump()
        });
        assert!(!dump.answered());
        assert_eq!(dump.blocking_task(), Some(hog_id));
        assert!(dump
            .tasks()
            .iter()
            .any(|task| task.name.as_deref() == Some("parked")));
        let text = dump.to_string();
        assert!(text.contains("loop 1: the loop did not answer"), "{text}");
        runtime.block_on(hog).unwrap();
    });
}

#[test]
fn a_slow_poll_on_a_worker_loop_says_which_loop_it_blocked() {
    without_deadlock(LIMIT, || {
        let reports = Arc::new(Mutex::new(Vec::new()));
        let record = reports.clone();
        let runtime = Builder::new()
            .loops(2)
            .pin_loops(false)
            .slow_poll_threshold(Some(Duration::from_millis(20)))
            .on_slow_poll(move |slow| {
                record
                    .lock()
                    .unwrap()
                    .push((slow.loop_id, slow.to_string()))
            })
            .build()
            .unwrap();
        let handle = runtime.handle();
        let second = handle.loops()[1];
        runtime
            .block_on(handle.spawn_on(second, async {
                thread::sleep(Duration::from_millis(60)); // blocks loop 1
            }))
            .unwrap();
        drop(runtime);
        let reports = reports.lock().unwrap();
        let (loop_id, text) = reports.last().expect("a slow poll was reported");
        assert_eq!(*loop_id, second);
        assert!(text.contains("on loop 1"), "{text}");
    });
}

#[test]
fn a_dump_links_a_task_awaiting_a_task_on_another_loop() {
    without_deadlock(LIMIT, || {
        let runtime = runtime(2);
        let handle = runtime.handle();
        let second = handle.loops()[1];
        runtime.block_on(async {
            let awaited = handle.spawn_on(second, async {
                weft::time::sleep(Duration::from_secs(60)).await;
            });
            let awaited_id = awaited.id();
            let waiter = weft::spawn(awaited); // a JoinHandle is a future: this task awaits it
            let waiter_id = waiter.id();
            let dump = loop {
                let dump = weft::xray::dump();
                let parked = dump
                    .tasks()
                    .iter()
                    .filter(|task| task.bookmark.is_some())
                    .count();
                if parked >= 2 {
                    break dump;
                }
                weft::time::sleep(Duration::from_millis(1)).await;
            };
            let row = dump
                .tasks()
                .iter()
                .find(|task| task.id == awaited_id)
                .expect("the awaited task is listed");
            assert_eq!(row.loop_id, second);
            assert_eq!(row.awaited_by, Some(waiter_id), "{dump}");
            waiter.abort();
        });
    });
}
