//! The task dump and the bookmarks of the time, task and blocking leaf futures: `xray::dump()` on the loop's
//! thread, `Handle::dump()` from other threads (answered between polls; a stuck loop is named).
//!
//! No timing assertions: the virtual clock, orderings and counts. (A busy time is checked only against a lower
//! bound that a poll's own `thread::sleep` guarantees.)

mod common;

use std::collections::BTreeSet;
use std::future::pending;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use weft::task::Id;
use weft::time::{interval, sleep, sleep_until, timeout, Instant};
use weft::xray::{Dump, TaskInfo, TaskState};

/// A runtime with a virtual clock.
fn paused() -> weft::Runtime {
    weft::Builder::new().start_paused(true).build().unwrap()
}

/// The task `id` in `dump`.
fn task(dump: &Dump, id: Id) -> &TaskInfo {
    dump.tasks()
        .iter()
        .find(|task| task.id == id)
        .unwrap_or_else(|| panic!("task {id} not in the dump:\n{dump}"))
}

/// The bookmark of task `id`: (label, line), after checking it points into this file.
fn bookmark(dump: &Dump, id: Id) -> (String, u32) {
    let info = task(dump, id);
    let bookmark = info
        .bookmark
        .as_ref()
        .unwrap_or_else(|| panic!("task {id} has no bookmark:\n{dump}"));
    assert!(
        bookmark.location.file().ends_with("xray_dump.rs"),
        "{bookmark}"
    );
    (bookmark.label.to_string(), bookmark.location.line())
}

/// Lets every spawned task run to its bookmark (virtual clock: no real time passes).
async fn settle() {
    for _ in 0..3 {
        weft::task::yield_now().await;
    }
}

#[test]
fn sleep_bookmarks_name_the_duration_and_the_awaiting_line() {
    paused().block_on(async {
        let line = Arc::new(Mutex::new(0));
        let seen = line.clone();
        let sleeper = weft::spawn(async move {
            *seen.lock().unwrap() = line!() + 1;
            sleep(Duration::from_secs(2)).await;
        });
        let short = weft::spawn(async { sleep(Duration::from_millis(250)).await });
        let short_line = line!() - 1;
        let until =
            weft::spawn(async { sleep_until(Instant::now() + Duration::from_secs(90)).await });
        let until_line = line!() - 1;
        settle().await;
        let dump = weft::xray::dump();
        assert_eq!(
            bookmark(&dump, sleeper.id()),
            ("sleep 2.0s".into(), *line.lock().unwrap())
        );
        assert_eq!(
            bookmark(&dump, short.id()),
            ("sleep 250ms".into(), short_line)
        );
        assert_eq!(
            bookmark(&dump, until.id()),
            ("sleep 90.0s".into(), until_line)
        );
        assert_eq!(task(&dump, sleeper.id()).state, TaskState::Parked);
        until.abort();
        sleeper.await.unwrap();
        short.await.unwrap();
    });
}

#[test]
fn a_timeout_defers_to_the_bookmark_of_the_future_it_wraps() {
    paused().block_on(async {
        let wrapped = weft::spawn(async {
            timeout(Duration::from_secs(5), sleep(Duration::from_secs(60))).await
        });
        let wrapped_line = line!() - 2;
        let foreign = weft::spawn(async { timeout(Duration::from_secs(5), pending::<()>()).await });
        let foreign_line = line!() - 1;
        settle().await;
        let dump = weft::xray::dump();
        // The inner sleep is the more precise answer; a future weft does not know leaves the timeout's own.
        assert_eq!(
            bookmark(&dump, wrapped.id()),
            ("sleep 60.0s".into(), wrapped_line)
        );
        assert_eq!(
            bookmark(&dump, foreign.id()),
            ("timeout 5.0s".into(), foreign_line)
        );
        assert!(wrapped.await.unwrap().is_err());
        assert!(foreign.await.unwrap().is_err());
    });
}

#[test]
fn interval_ticks_bookmark_the_tick_line_with_the_period() {
    paused().block_on(async {
        let ticker = weft::spawn(async {
            let mut ticks = interval(Duration::from_millis(1500));
            loop {
                ticks.tick().await;
            }
        });
        let tick_line = line!() - 3;
        settle().await;
        let dump = weft::xray::dump();
        assert_eq!(
            bookmark(&dump, ticker.id()),
            ("Interval::tick 1.5s".into(), tick_line)
        );
        ticker.abort();
    });
}

#[test]
fn awaiting_a_task_bookmarks_its_spawn_line_and_id() {
    paused().block_on(async {
        let child = weft::spawn(async { sleep(Duration::from_secs(1)).await });
        let child_line = line!() - 1;
        let child_id = child.id();
        let parent = weft::spawn(async move { child.await.unwrap() });
        let blocking = weft::spawn(async {
            weft::spawn_blocking(|| std::thread::sleep(Duration::from_millis(50)))
                .await
                .unwrap()
        });
        let blocking_line = line!() - 4;
        settle().await;
        let dump = weft::xray::dump();
        assert_eq!(
            bookmark(&dump, parent.id()),
            (format!("JoinHandle task {child_id}"), child_line)
        );
        let (label, line) = bookmark(&dump, blocking.id());
        assert!(label.starts_with("spawn_blocking task "), "{label}");
        assert_eq!(line, blocking_line);
        // Blocking work is not a task of the loop: it is not listed.
        assert_eq!(dump.tasks().len(), 3, "{dump}");
        parent.await.unwrap();
        blocking.await.unwrap();
    });
}

#[test]
fn a_task_that_yielded_is_ready_and_the_asking_task_is_running() {
    paused().block_on(async {
        let yielder = weft::spawn(async {
            loop {
                weft::task::yield_now().await;
            }
        });
        let yield_line = line!() - 3;
        let asker = weft::spawn(async { weft::xray::dump() });
        let asker_id = asker.id();
        let dump = asker.await.unwrap();
        let info = task(&dump, yielder.id());
        assert_eq!(info.state, TaskState::Ready);
        assert_eq!(
            bookmark(&dump, yielder.id()),
            ("yield_now".into(), yield_line)
        );
        assert_eq!(task(&dump, asker_id).state, TaskState::Running);
        assert_eq!(
            task(&dump, asker_id).bookmark,
            None,
            "a running task has no bookmark"
        );
        yielder.abort();
    });
}

#[test]
fn the_dump_lists_exactly_the_live_tasks() {
    paused().block_on(async {
        let mut live = Vec::new();
        let mut gone = Vec::new();
        for i in 0..30 {
            let task = weft::spawn(async move {
                if i % 3 == 0 {
                    return; // finishes at once
                }
                sleep(Duration::from_secs(10)).await;
            });
            match i % 3 {
                0 => gone.push(task),
                1 => live.push(task),
                _ => {
                    task.abort();
                    gone.push(task);
                }
            }
        }
        let gone_ids: Vec<Id> = gone.iter().map(|task| task.id()).collect();
        for task in gone {
            let _ = task.await;
        }
        let dump = weft::xray::dump();
        let listed: BTreeSet<Id> = dump.tasks().iter().map(|task| task.id).collect();
        let expected: BTreeSet<Id> = live.iter().map(|task| task.id()).collect();
        assert_eq!(listed, expected, "{dump}");
        assert!(gone_ids.iter().all(|id| !listed.contains(id)));
        for task in live {
            task.await.unwrap();
        }
        assert!(weft::xray::dump().tasks().is_empty());
    });
}

#[test]
fn polls_are_counted_per_task() {
    paused().block_on(async {
        let worker = weft::spawn(async {
            for _ in 0..4 {
                weft::task::yield_now().await;
            }
            sleep(Duration::from_secs(1)).await;
        });
        sleep(Duration::from_millis(1)).await; // the worker yields 4 times, then parks in its sleep
        let dump = weft::xray::dump();
        assert_eq!(task(&dump, worker.id()).polls, 5, "{dump}");
        assert_eq!(task(&dump, worker.id()).state, TaskState::Parked);
        worker.await.unwrap();
    });
}

#[test]
fn the_table_shows_names_states_bookmarks_and_spawn_lines_longest_parked_first() {
    common::run(async {
        let early = weft::task::Builder::new()
            .name("early")
            .spawn(async { sleep(Duration::from_secs(60)).await });
        sleep(Duration::from_millis(30)).await; // real time: `early` has been parked longer
        let late = weft::task::Builder::new()
            .name("late")
            .spawn(async { sleep(Duration::from_secs(60)).await });
        weft::task::yield_now().await;
        let dump = weft::xray::dump();
        let order: Vec<Id> = dump.tasks().iter().map(|task| task.id).collect();
        assert_eq!(order, vec![early.id(), late.id()], "{dump}");
        assert!(task(&dump, early.id()).idle_for >= task(&dump, late.id()).idle_for);
        let table = dump.to_string();
        let lines: Vec<&str> = table.lines().collect();
        assert!(lines[0].contains("2 live tasks"), "{table}");
        for word in [
            "id",
            "name",
            "state",
            "idle",
            "polls",
            "busy",
            "bookmark",
            "spawned at",
        ] {
            assert!(lines[1].contains(word), "{table}");
        }
        assert!(
            lines[2].contains("early") && lines[2].contains("parked"),
            "{table}"
        );
        assert!(
            lines[2].contains("sleep 60.0s at ") && lines[2].contains("xray_dump.rs"),
            "{table}"
        );
        assert!(lines[3].contains("late"), "{table}");
        // Columns line up: every row puts its state where the header puts "state".
        let column = lines[1].find("state").unwrap();
        assert_eq!(lines[2].find("parked"), Some(column), "{table}");
        assert_eq!(lines[3].find("parked"), Some(column), "{table}");
        early.abort();
        late.abort();
    });
}

#[test]
fn busy_time_is_measured_while_polls_are_timed() {
    let runtime = weft::Builder::new()
        .slow_poll_threshold(Some(Duration::from_secs(60)))
        .build()
        .unwrap();
    runtime.block_on(async {
        let worker = weft::spawn(async {
            std::thread::sleep(Duration::from_millis(20)); // one poll that takes at least 20 ms
            sleep(Duration::from_secs(60)).await;
        });
        weft::task::yield_now().await;
        let dump = weft::xray::dump();
        assert!(dump.busy_measured());
        assert!(
            task(&dump, worker.id()).busy >= Duration::from_millis(20),
            "{dump}"
        );
        worker.abort();
    });
    // Without slow-poll detection or the trace, the release default, busy is not measured and says so.
    let plain = weft::Builder::new()
        .slow_poll_threshold(None)
        .build()
        .unwrap();
    plain.block_on(async {
        let dump = weft::xray::dump();
        assert!(!dump.busy_measured());
        assert!(dump.to_string().contains("busy: not measured"));
    });
}

#[test]
fn a_slow_poll_report_names_the_bookmark_it_resumed_from() {
    let reports = Arc::new(Mutex::new(Vec::new()));
    let runtime = weft::Builder::new()
        .slow_poll_threshold(Some(Duration::from_millis(30)))
        .on_slow_poll({
            let reports = reports.clone();
            move |slow: &weft::xray::SlowPoll| reports.lock().unwrap().push(slow.clone())
        })
        .build()
        .unwrap();
    let sleep_line = runtime.block_on(async {
        let hog = weft::spawn(async {
            sleep(Duration::from_millis(200)).await; // long enough to park even on a very slow machine
            std::thread::sleep(Duration::from_millis(80)); // blocks the loop after resuming from the sleep
        });
        let line = line!() - 3;
        hog.await.unwrap();
        line
    });
    drop(runtime);
    let reports = reports.lock().unwrap();
    // The hog's last poll is the slow one (on a very slow machine its first poll may be reported too).
    let after = reports
        .iter()
        .rev()
        .find(|slow| !slow.still_running)
        .expect("reported when it returned");
    let bookmark = after.bookmark.as_ref().expect("resumed from the sleep");
    assert_eq!(bookmark.label, "sleep 200ms");
    assert_eq!(bookmark.location.line(), sleep_line);
    assert!(
        after.to_string().contains("resumed from sleep 200ms at "),
        "{after}"
    );
}

#[test]
fn handle_dump_from_another_thread_is_answered_by_the_loop() {
    let runtime = weft::Runtime::new().unwrap();
    let handle = runtime.handle();
    runtime.block_on(async {
        let parked = weft::task::Builder::new()
            .name("parked")
            .spawn(async { sleep(Duration::from_secs(60)).await });
        weft::task::yield_now().await;
        // The loop parks in `join`, waiting for the asking thread; the request wakes it and it answers.
        let asker = std::thread::spawn(move || handle.dump());
        let dump = weft::spawn_blocking(move || asker.join().unwrap())
            .await
            .unwrap();
        assert!(dump.answered(), "{dump}");
        let info = task(&dump, parked.id());
        assert_eq!(info.name.as_deref(), Some("parked"));
        assert_eq!(info.bookmark.as_ref().unwrap().label, "sleep 60.0s");
        parked.abort();
    });
}

#[test]
fn handle_dump_names_the_task_blocking_a_stuck_loop() {
    for slow_poll_detection in [false, true] {
        let runtime = weft::Builder::new()
            .slow_poll_threshold(slow_poll_detection.then_some(Duration::from_secs(60)))
            .build()
            .unwrap();
        let handle = runtime.handle();
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        let asking = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let asker = std::thread::spawn({
            let asking = asking.clone();
            move || {
                started_rx.recv().unwrap(); // the hog is in its poll
                asking.store(true, std::sync::atomic::Ordering::SeqCst);
                handle.dump()
            }
        });
        let (hog_id, dump) = runtime.block_on(async move {
            let hog = weft::task::Builder::new().name("hog").spawn(async move {
                sleep(Duration::from_millis(1)).await;
                started_tx.send(()).unwrap();
                while !asking.load(std::sync::atomic::Ordering::SeqCst) {
                    std::thread::yield_now();
                }
                // Blocks the loop for longer than the dump waits, from before the request was made.
                std::thread::sleep(Duration::from_millis(1500));
            });
            let id = hog.id();
            hog.await.unwrap();
            (id, asker.join().unwrap())
        });
        assert!(!dump.answered());
        assert!(dump.tasks().is_empty());
        assert_eq!(dump.blocking_task(), Some(hog_id));
        let text = dump.to_string();
        assert!(text.contains("did not answer"), "{text}");
        assert!(text.contains(&format!("task {hog_id} 'hog'")), "{text}");
        assert!(text.contains("xray_dump.rs"), "{text}");
        if slow_poll_detection {
            assert!(text.contains("running for"), "{text}");
            assert!(text.contains("resumed from sleep 1ms"), "{text}");
        }
    }
}

#[test]
fn handle_dump_never_hangs_on_a_runtime_nobody_runs_or_that_shut_down() {
    common::without_deadlock(Duration::from_secs(30), || {
        let runtime = weft::Runtime::new().unwrap();
        let handle = runtime.handle();
        let idle = std::thread::spawn({
            let handle = handle.clone();
            move || handle.dump()
        })
        .join()
        .unwrap();
        assert!(!idle.answered());
        assert!(idle.to_string().contains("no thread is running"), "{idle}");
        drop(runtime);
        let after = std::thread::spawn(move || handle.dump()).join().unwrap();
        assert!(!after.answered());
        assert!(after.tasks().is_empty());
        assert!(after.to_string().contains("shut down"), "{after}");
    });
}

#[test]
fn bookmarks_cost_nothing_outside_a_task() {
    // The main future is not a task: its leaf futures leave no bookmark anywhere and nothing breaks.
    paused().block_on(async {
        sleep(Duration::from_millis(5)).await;
        weft::task::yield_now().await;
        assert!(weft::xray::dump().tasks().is_empty());
    });
}

#[test]
fn a_task_parked_in_a_foreign_future_shows_no_bookmark_not_a_stale_one() {
    paused().block_on(async {
        // First parked in a sleep (a bookmark), then in a future weft does not know (none).
        let (go, went) = weft::sync::oneshot::channel::<()>();
        let parked = weft::spawn(async move {
            let _ = went.await;
            sleep(Duration::from_millis(1)).await;
            pending::<()>().await;
        });
        settle().await;
        go.send(()).unwrap();
        settle().await;
        let dump = weft::xray::dump();
        assert_eq!(
            bookmark(&dump, parked.id()).0,
            "sleep 1ms",
            "parked in its sleep"
        );
        // The main future leaves bookmarks of its own while the task's next poll is due: none may reach it.
        sleep(Duration::from_millis(5)).await;
        let dump = weft::xray::dump();
        assert_eq!(task(&dump, parked.id()).state, TaskState::Parked, "{dump}");
        assert_eq!(task(&dump, parked.id()).bookmark, None, "{dump}");
        parked.abort();
    });
}

#[test]
fn a_bookmark_left_in_a_poll_that_completed_does_not_reach_the_next_task() {
    paused().block_on(async {
        // The first task's only poll polls a sleep once (which leaves a bookmark) and then completes; the
        // second, polled right after it in the same batch, parks in a future weft does not know.
        let first = weft::spawn(async {
            let mut nap = std::pin::pin!(sleep(Duration::from_secs(60)));
            std::future::poll_fn(|cx| {
                assert!(std::future::Future::poll(nap.as_mut(), cx).is_pending());
                std::task::Poll::Ready(())
            })
            .await;
        });
        let second = weft::spawn(pending::<()>());
        settle().await;
        first.await.unwrap();
        let dump = weft::xray::dump();
        assert_eq!(task(&dump, second.id()).polls, 1, "{dump}");
        assert_eq!(task(&dump, second.id()).bookmark, None, "{dump}");
        second.abort();
    });
}

#[test]
fn a_running_task_counts_its_poll_in_progress_and_has_been_idle_for_nothing() {
    paused().block_on(async {
        let asker = weft::spawn(async {
            weft::task::yield_now().await;
            sleep(Duration::from_secs(3)).await;
            weft::xray::dump()
        });
        let id = asker.id();
        let dump = asker.await.unwrap();
        let info = task(&dump, id);
        assert_eq!(info.state, TaskState::Running);
        assert_eq!(
            info.polls, 3,
            "two finished polls and the one asking: {dump}"
        );
        assert_eq!(info.idle_for, Duration::ZERO);
        assert_eq!(info.bookmark, None);
    });
}
