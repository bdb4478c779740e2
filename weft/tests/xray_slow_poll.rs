//! Slow polls are reported while stuck (by the watchdog) and after they return, with the task's name and spawn
//! location; fast polls are not; detection can be turned off.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use weft::xray::SlowPoll;

/// A runtime reporting polls over `threshold` into a shared list.
fn recording_runtime(threshold: Option<Duration>) -> (weft::Runtime, Arc<Mutex<Vec<SlowPoll>>>) {
    let reports = Arc::new(Mutex::new(Vec::new()));
    let sink = reports.clone();
    let runtime = weft::Builder::new()
        .slow_poll_threshold(threshold)
        .on_slow_poll(move |slow| sink.lock().unwrap().push(slow.clone()))
        .build()
        .unwrap();
    (runtime, reports)
}

#[test]
fn a_stuck_poll_is_reported_while_it_runs_and_again_when_it_returns() {
    let (runtime, reports) = recording_runtime(Some(Duration::from_millis(30)));
    let seen_while_stuck = Arc::new(AtomicBool::new(false));
    let spawned_line = std::cell::Cell::new(0);
    runtime.block_on(async {
        let (reports, seen) = (reports.clone(), seen_while_stuck.clone());
        // Block the loop until the watchdog has named us (bounded, so a broken watchdog fails instead of
        // hanging).
        let body = async move {
            let give_up = Instant::now() + Duration::from_secs(10);
            while Instant::now() < give_up {
                if reports
                    .lock()
                    .unwrap()
                    .iter()
                    .any(|slow| slow.still_running)
                {
                    seen.store(true, Ordering::SeqCst);
                    break;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        };
        let builder = weft::task::Builder::new().name("cpu-hog");
        spawned_line.set(line!() + 1);
        let hog = builder.spawn(body);
        hog.await.unwrap();
    });
    drop(runtime);
    assert!(
        seen_while_stuck.load(Ordering::SeqCst),
        "the watchdog never reported the stuck poll"
    );
    let reports = reports.lock().unwrap();
    let during = reports.iter().find(|slow| slow.still_running).unwrap();
    let after = reports
        .iter()
        .find(|slow| !slow.still_running)
        .expect("reported when it returned");
    for slow in [during, after] {
        assert_eq!(slow.name.as_deref(), Some("cpu-hog"));
        assert_eq!(slow.spawned_at.file(), file!());
        assert_eq!(slow.spawned_at.line(), spawned_line.get());
        assert!(slow.duration >= Duration::from_millis(30));
    }
    assert_eq!(during.id, after.id);
    assert!(after.duration >= during.duration);
    let watchdog_reports = reports.iter().filter(|slow| slow.still_running).count();
    assert_eq!(watchdog_reports, 1, "one watchdog report per stuck poll");
    assert!(after.to_string().contains("'cpu-hog'"), "{after}");
    assert!(during.to_string().contains("still running"), "{during}");
}

#[test]
fn fast_polls_are_not_reported_and_slow_ones_are_counted() {
    let (runtime, reports) = recording_runtime(Some(Duration::from_millis(200)));
    runtime.block_on(async {
        for _ in 0..1_000 {
            weft::spawn(async { weft::task::yield_now().await })
                .await
                .unwrap();
        }
    });
    assert!(reports.lock().unwrap().is_empty());
    assert_eq!(runtime.handle().metrics().slow_polls, 0);
    runtime.block_on(async {
        weft::spawn(async { std::thread::sleep(Duration::from_millis(250)) })
            .await
            .unwrap();
    });
    assert_eq!(runtime.handle().metrics().slow_polls, 1);
    let reports = reports.lock().unwrap();
    assert_eq!(reports.iter().filter(|slow| !slow.still_running).count(), 1);
    assert!(reports.iter().all(|slow| slow.name.is_none()));
}

#[test]
fn detection_can_be_turned_off() {
    let (runtime, reports) = recording_runtime(None);
    runtime.block_on(async {
        weft::spawn(async { std::thread::sleep(Duration::from_millis(50)) })
            .await
            .unwrap();
    });
    assert!(reports.lock().unwrap().is_empty());
    assert_eq!(runtime.handle().metrics().slow_polls, 0);
}
