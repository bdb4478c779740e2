//! The loop's metrics add up: spawns, polls, wakes (local and remote), timers, I/O events, the blocking pool.

use std::time::Duration;

use weft::net::{TcpListener, TcpStream};

#[test]
fn spawns_and_polls_add_up() {
    let runtime = weft::Runtime::new().unwrap();
    runtime.block_on(async {
        let tasks: Vec<_> = (0..100)
            .map(|_| {
                weft::spawn(async {
                    for _ in 0..9 {
                        weft::task::yield_now().await;
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
    });
    let metrics = runtime.handle().metrics();
    assert_eq!(metrics.tasks_spawned, 100);
    assert_eq!(metrics.tasks_alive, 0);
    assert_eq!(
        metrics.polls,
        100 * 10,
        "each task is polled once per yield plus once to finish"
    );
    assert!(
        metrics.local_wakes >= 100 * 9,
        "every yield wakes its task on the loop's own thread"
    );
    assert_eq!(metrics.remote_wakes, 0);
}

#[test]
fn live_tasks_are_counted_until_they_finish() {
    let runtime = weft::Runtime::new().unwrap();
    let parked: Vec<_> = runtime.block_on(async {
        let parked: Vec<_> = (0..7)
            .map(|_| weft::spawn(std::future::pending::<()>()))
            .collect();
        weft::task::yield_now().await;
        parked
    });
    assert_eq!(runtime.handle().metrics().tasks_alive, 7);
    for task in &parked {
        task.abort();
    }
    runtime.block_on(async { weft::task::yield_now().await });
    assert_eq!(runtime.handle().metrics().tasks_alive, 0);
}

#[test]
fn timers_remote_wakes_io_and_the_blocking_pool_are_counted() {
    let runtime = weft::Builder::new().start_paused(true).build().unwrap();
    runtime.block_on(async {
        for i in 0..5 {
            weft::time::sleep(Duration::from_millis(10 * (i + 1))).await;
        }
        // A wake from another thread: the blocking job completes on a pool thread.
        weft::spawn(async { weft::spawn_blocking(|| 1).await.unwrap() })
            .await
            .unwrap();
        // Some I/O.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let client = weft::spawn(async move {
            TcpStream::connect(address)
                .await
                .unwrap()
                .write_all(b"x")
                .await
        });
        let (server, _) = listener.accept().await.unwrap();
        let mut byte = [0; 1];
        server.read_exact(&mut byte).await.unwrap();
        client.await.unwrap().unwrap();
    });
    let metrics = runtime.handle().metrics();
    assert!(metrics.timers_fired >= 5, "{metrics:?}");
    assert!(metrics.remote_wakes >= 1, "{metrics:?}");
    assert!(metrics.io_events >= 1, "{metrics:?}");
    assert_eq!(metrics.blocking_threads, 1, "{metrics:?}");
    assert_eq!(metrics.blocking_threads_idle, 1, "{metrics:?}");
    assert_eq!(metrics.blocking_queue_depth, 0);
}

#[test]
fn an_idle_loop_is_parked_not_busy() {
    let runtime = weft::Runtime::new().unwrap();
    runtime.block_on(async {
        weft::time::sleep(Duration::from_millis(60)).await;
    });
    let metrics = runtime.handle().metrics();
    assert!(metrics.parked >= Duration::from_millis(50), "{metrics:?}");
    assert!(metrics.parked > metrics.busy, "{metrics:?}");
}

#[test]
fn metrics_can_be_read_from_another_thread() {
    let runtime = weft::Runtime::new().unwrap();
    let handle = runtime.handle();
    runtime.block_on(async {
        weft::spawn(async {}).await.unwrap();
    });
    let metrics = std::thread::spawn(move || handle.metrics()).join().unwrap();
    assert_eq!(metrics.tasks_spawned, 1);
}

#[test]
fn an_idle_runtime_makes_no_periodic_wake_ups() {
    let runtime = weft::Runtime::new().unwrap();
    runtime.block_on(async {
        // One task waits 300 ms: the loop should park once until the deadline, not tick meanwhile.
        weft::spawn(async { weft::time::sleep(Duration::from_millis(300)).await })
            .await
            .unwrap();
    });
    let metrics = runtime.handle().metrics();
    assert!(metrics.parked >= Duration::from_millis(250), "{metrics:?}");
    // A 1 ms tick would make ~300 parks; a wake-up per timer slot cascade at most a handful.
    assert!(
        metrics.parks <= 4,
        "an idle loop woke up {} times in 300 ms: {metrics:?}",
        metrics.parks
    );
}
