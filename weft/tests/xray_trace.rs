//! The trace file parses as Chrome trace JSON with one slice per poll (equal to the metrics' poll count),
//! named after the task, plus loop slices and wake→poll flow arrows; memory is bounded by the ring.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

/// A unique temp path for one test's trace.
fn trace_file(test: &str) -> PathBuf {
    std::env::temp_dir().join(format!("weft-trace-{}-{test}.json", std::process::id()))
}

/// The trace's events.
fn events(path: &PathBuf) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    let document: Value = serde_json::from_str(&text).expect("the trace is valid JSON");
    std::fs::remove_file(path).unwrap();
    document["traceEvents"]
        .as_array()
        .expect("a traceEvents array")
        .clone()
}

fn of_category<'a>(events: &'a [Value], category: &str) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|event| event["cat"] == category)
        .collect()
}

#[test]
fn one_slice_per_poll_and_the_poll_count_matches_the_metrics() {
    let path = trace_file("slices");
    let runtime = weft::Builder::new()
        .trace_path(&path)
        .start_paused(true)
        .build()
        .unwrap();
    runtime.block_on(async {
        let workers: Vec<_> = (0..20)
            .map(|i| {
                weft::task::Builder::new()
                    .name(format!("worker-{i}"))
                    .spawn(async move {
                        for _ in 0..4 {
                            weft::task::yield_now().await;
                        }
                        weft::time::sleep(Duration::from_millis(10)).await;
                    })
            })
            .collect();
        for worker in workers {
            worker.await.unwrap();
        }
    });
    let polls = runtime.handle().metrics().polls;
    drop(runtime);
    let events = events(&path);
    let slices = of_category(&events, "poll");
    assert_eq!(slices.len() as u64, polls, "one slice per poll");
    assert_eq!(
        polls,
        20 * 6,
        "each worker: first poll, four yields, the sleep's wake"
    );
    for slice in &slices {
        assert_eq!(slice["ph"], "X");
        assert!(slice["dur"].as_f64().unwrap() >= 0.0);
        assert!(
            slice["name"].as_str().unwrap().starts_with("worker-"),
            "{slice}"
        );
        assert!(slice["args"]["spawned_at"]
            .as_str()
            .unwrap()
            .contains("xray_trace.rs"));
    }
    // Every worker is there, each with its six polls.
    for i in 0..20 {
        let name = format!("worker-{i} (task ");
        let count = slices
            .iter()
            .filter(|slice| slice["name"].as_str().unwrap().starts_with(&name))
            .count();
        assert_eq!(count, 6, "{name}");
    }
    // The timers fired in the loop's own slice, and every poll after a wake ends a flow arrow started by it.
    assert!(events
        .iter()
        .any(|event| event["cat"] == "loop" && event["name"] == "timers"));
    let starts = events.iter().filter(|event| event["ph"] == "s").count();
    let ends = events.iter().filter(|event| event["ph"] == "f").count();
    assert!(
        ends > 0 && ends <= starts,
        "{starts} flow starts, {ends} ends"
    );
}

#[test]
fn parking_is_a_slice_of_its_own() {
    let path = trace_file("park");
    let runtime = weft::Builder::new().trace_path(&path).build().unwrap();
    runtime.block_on(async {
        weft::spawn(async { weft::time::sleep(Duration::from_millis(20)).await })
            .await
            .unwrap();
    });
    drop(runtime);
    let events = events(&path);
    let parks: Vec<_> = events
        .iter()
        .filter(|event| event["cat"] == "loop" && event["name"] == "park")
        .collect();
    assert!(!parks.is_empty());
    let parked_us: f64 = parks.iter().map(|park| park["dur"].as_f64().unwrap()).sum();
    assert!(
        parked_us >= 15_000.0,
        "the loop parked through the 20 ms sleep: {parked_us} µs"
    );
}

#[test]
fn the_ring_keeps_only_the_newest_events() {
    let path = trace_file("ring");
    let runtime = weft::Builder::new()
        .trace_path(&path)
        .trace_capacity(50)
        .build()
        .unwrap();
    runtime.block_on(async {
        for _ in 0..1_000 {
            weft::spawn(async {}).await.unwrap();
        }
    });
    drop(runtime);
    let events = events(&path);
    // A recorded event is a slice ("X") or a wake starting a flow ("s"); a poll's flow end ("f") rides along
    // with its slice.
    let recorded = events
        .iter()
        .filter(|event| event["ph"] == "X" || event["ph"] == "s")
        .count();
    assert_eq!(recorded, 50, "bounded by the ring");
}

#[test]
fn flush_writes_the_trace_while_the_runtime_runs() {
    let path = trace_file("flush");
    let runtime = weft::Builder::new().trace_path(&path).build().unwrap();
    runtime.block_on(async {
        weft::spawn(async {}).await.unwrap();
        weft::xray::flush_trace().unwrap();
    });
    let text = std::fs::read_to_string(&path).unwrap();
    let document: Value = serde_json::from_str(&text).unwrap();
    assert!(!document["traceEvents"].as_array().unwrap().is_empty());
    drop(runtime);
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn without_a_trace_path_nothing_is_written_and_flush_is_harmless() {
    let runtime = weft::Builder::new().build().unwrap();
    runtime.block_on(async {
        weft::xray::flush_trace().unwrap();
    });
    assert!(
        weft::xray::flush_trace().is_ok(),
        "outside a runtime: nothing to do"
    );
}

#[test]
fn a_runtime_of_two_loops_writes_one_file_with_a_track_per_loop() {
    let path = trace_file("loops");
    let runtime = weft::Builder::new()
        .loops(2)
        .pin_loops(false)
        .trace_path(&path)
        .build()
        .unwrap();
    let handle = runtime.handle();
    runtime.block_on(async {
        let tasks = handle.spawn_on_each(|id| async move {
            for _ in 0..3 {
                weft::task::yield_now().await;
            }
            id
        });
        for task in weft::join_all(tasks).await {
            task.unwrap();
        }
    });
    drop(runtime);
    let events = events(&path);
    let names: Vec<(u64, &str)> = events
        .iter()
        .filter(|event| event["name"] == "thread_name")
        .map(|event| {
            (
                event["tid"].as_u64().unwrap(),
                event["args"]["name"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(names.len(), 2);
    assert_eq!((names[0].1, names[1].1), ("weft loop 0", "weft loop 1"));
    assert_ne!(names[0].0, names[1].0, "a thread (tid) each");
    for tid in [names[0].0, names[1].0] {
        let polls = of_category(&events, "poll")
            .into_iter()
            .filter(|event| event["tid"] == tid)
            .count();
        assert!(polls >= 4, "loop track {tid} has {polls} poll slices");
    }
}

#[test]
fn a_poll_slice_says_where_the_task_parked_and_whether_it_was_slow() {
    let path = trace_file("parked");
    let runtime = weft::Builder::new()
        .trace_path(&path)
        .slow_poll_threshold(Some(Duration::from_millis(30)))
        .on_slow_poll(|_| {})
        .build()
        .unwrap();
    let sleep_line = line!() + 5;
    runtime.block_on(async {
        weft::task::Builder::new()
            .name("napper")
            .spawn(async {
                weft::time::sleep(Duration::from_millis(5)).await;
                std::thread::sleep(Duration::from_millis(40)); // blocks the loop: a slow poll
            })
            .await
            .unwrap();
    });
    drop(runtime);
    let events = events(&path);
    let polls: Vec<_> = of_category(&events, "poll")
        .into_iter()
        .filter(|slice| slice["name"].as_str().unwrap().starts_with("napper"))
        .collect();
    assert_eq!(polls.len(), 2, "{polls:?}");
    let (first, second) = (&polls[0]["args"], &polls[1]["args"]);
    assert_eq!(first["parked_on"], "sleep 5ms");
    assert!(
        first["parked_at"]
            .as_str()
            .unwrap()
            .ends_with(&format!("xray_trace.rs:{sleep_line}:17")),
        "{first}"
    );
    assert!(first.get("slow").is_none(), "{first}");
    assert_eq!(second["slow"], true, "{second}");
    assert!(second.get("parked_at").is_none(), "it finished: {second}");
}

#[test]
fn the_traces_of_two_loops_are_two_threads_of_the_process() {
    let paths = [trace_file("loop-a"), trace_file("loop-b")];
    let threads: Vec<_> = paths
        .iter()
        .cloned()
        .map(|path| {
            std::thread::spawn(move || {
                let runtime = weft::Builder::new().trace_path(&path).build().unwrap();
                runtime.block_on(async { weft::spawn(async {}).await.unwrap() });
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    let tids: Vec<_> = paths
        .iter()
        .map(|path| {
            let events = events(path);
            let name = &events[0];
            assert_eq!(name["name"], "thread_name");
            let tid = name["tid"].as_u64().unwrap();
            assert_eq!(name["args"]["name"], "weft loop 0"); // loop 0 of its runtime
            assert!(events.iter().all(|event| event["tid"] == tid));
            assert!(events
                .iter()
                .all(|event| event["pid"] == std::process::id()));
            tid
        })
        .collect();
    assert_ne!(tids[0], tids[1], "each loop is a thread of its own");
}
