//! The cooperative budget: a task whose every `.await` is ready still steps aside, so its neighbours run, and
//! `task::unconstrained` lifts that. One test per kind of weft leaf future; each asserts an order of events, not
//! a time.

use std::cell::Cell;
use std::future::Future;
use std::rc::Rc;
use std::time::Duration;

use weft::net::{TcpListener, TcpStream};
use weft::sync::{mpsc, oneshot, Mutex, Semaphore};
use weft::task::unconstrained;

mod common;
use common::run;

/// More ready operations than one poll's budget allows.
const OPERATIONS: usize = 1000;

/// Runs `work` in a task spawned just before a neighbour task; true if the neighbour ran before `work` ended.
async fn neighbour_ran_during(work: impl Future<Output = ()> + 'static) -> bool {
    let ran = Rc::new(Cell::new(false));
    let task = weft::spawn({
        let ran = ran.clone();
        async move {
            work.await;
            ran.get()
        }
    });
    let neighbour = weft::spawn(async move { ran.set(true) });
    let ran_during = task.await.unwrap();
    neighbour.await.unwrap();
    ran_during
}

#[test]
fn draining_a_full_channel_lets_a_neighbour_run() {
    run(async {
        let (tx, mut rx) = mpsc::unbounded_channel();
        for i in 0..OPERATIONS {
            tx.send(i).unwrap();
        }
        let drained = neighbour_ran_during(async move {
            for i in 0..OPERATIONS {
                assert_eq!(rx.recv().await, Some(i)); // yielding for the budget loses no message
            }
        })
        .await;
        assert!(drained);
    });
}

#[test]
fn sending_into_a_roomy_channel_lets_a_neighbour_run() {
    run(async {
        let (tx, mut rx) = mpsc::channel(OPERATIONS);
        assert!(
            neighbour_ran_during(async move {
                for i in 0..OPERATIONS {
                    tx.send(i).await.unwrap();
                }
            })
            .await
        );
        for i in 0..OPERATIONS {
            assert_eq!(rx.recv().await, Some(i));
        }
    });
}

#[test]
fn taking_a_free_lock_over_and_over_lets_a_neighbour_run() {
    run(async {
        let lock = Rc::new(Mutex::new(0));
        let counter = lock.clone();
        assert!(
            neighbour_ran_during(async move {
                for _ in 0..OPERATIONS {
                    *counter.lock().await += 1;
                }
            })
            .await
        );
        assert_eq!(*lock.lock().await, OPERATIONS);
    });
}

#[test]
fn acquiring_free_permits_over_and_over_lets_a_neighbour_run() {
    run(async {
        let semaphore = Rc::new(Semaphore::new(1));
        let permits = semaphore.clone();
        assert!(
            neighbour_ran_during(async move {
                for _ in 0..OPERATIONS {
                    drop(permits.acquire().await.unwrap());
                }
            })
            .await
        );
        assert_eq!(semaphore.available_permits(), 1);
    });
}

#[test]
fn sleeps_already_due_let_a_neighbour_run() {
    run(async {
        assert!(
            neighbour_ran_during(async {
                for _ in 0..OPERATIONS {
                    weft::time::sleep(Duration::ZERO).await;
                }
            })
            .await
        );
    });
}

#[test]
fn awaiting_finished_tasks_lets_a_neighbour_run() {
    run(async {
        let handles: Vec<_> = (0..OPERATIONS)
            .map(|i| weft::spawn(async move { i }))
            .collect();
        while !handles.iter().all(|handle| handle.is_finished()) {
            weft::task::yield_now().await;
        }
        assert!(
            neighbour_ran_during(async move {
                for (i, handle) in handles.into_iter().enumerate() {
                    assert_eq!(handle.await.unwrap(), i);
                }
            })
            .await
        );
    });
}

#[test]
fn awaiting_sent_oneshots_lets_a_neighbour_run() {
    run(async {
        let receivers: Vec<_> = (0..OPERATIONS)
            .map(|i| {
                let (tx, rx) = oneshot::channel();
                tx.send(i).unwrap();
                rx
            })
            .collect();
        assert!(
            neighbour_ran_during(async move {
                for (i, rx) in receivers.into_iter().enumerate() {
                    assert_eq!(rx.await.unwrap(), i);
                }
            })
            .await
        );
    });
}

#[test]
fn reading_a_full_socket_byte_by_byte_lets_a_neighbour_run() {
    run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server, _) = listener.accept().await.unwrap();
        let sent: Vec<u8> = (0..OPERATIONS).map(|i| i as u8).collect();
        client.write_all(&sent).await.unwrap();
        let mut first = [0; 1];
        server.read_exact(&mut first).await.unwrap(); // everything has arrived by now, or soon will
        let received = Rc::new(std::cell::RefCell::new(first.to_vec()));
        let into = received.clone();
        assert!(
            neighbour_ran_during(async move {
                let mut byte = [0; 1];
                for _ in 1..OPERATIONS {
                    server.read_exact(&mut byte).await.unwrap();
                    into.borrow_mut().push(byte[0]);
                }
            })
            .await
        );
        assert_eq!(
            *received.borrow(),
            sent,
            "yielding for the budget lost no byte"
        );
    });
}

#[test]
fn unconstrained_work_runs_to_its_end_in_one_poll() {
    run(async {
        let (tx, mut rx) = mpsc::unbounded_channel();
        for i in 0..OPERATIONS {
            tx.send(i).unwrap();
        }
        let ran = neighbour_ran_during(unconstrained(async move {
            for i in 0..OPERATIONS {
                assert_eq!(rx.recv().await, Some(i));
            }
        }))
        .await;
        assert!(
            !ran,
            "the neighbour ran while the unconstrained task was ready"
        );
    });
}

#[test]
fn the_budget_is_back_after_an_unconstrained_section() {
    run(async {
        let (tx, mut rx) = mpsc::unbounded_channel();
        for i in 0..2 * OPERATIONS {
            tx.send(i).unwrap();
        }
        let ran = neighbour_ran_during(async move {
            unconstrained(async {
                for _ in 0..OPERATIONS {
                    rx.recv().await.unwrap();
                }
            })
            .await;
            for _ in 0..OPERATIONS {
                rx.recv().await.unwrap();
            }
        })
        .await;
        assert!(ran);
    });
}

#[test]
fn the_block_on_future_steps_aside_too() {
    run(async {
        let (tx, mut rx) = mpsc::unbounded_channel();
        for i in 0..OPERATIONS {
            tx.send(i).unwrap();
        }
        let ran = Rc::new(Cell::new(false));
        let neighbour = weft::spawn({
            let ran = ran.clone();
            async move { ran.set(true) }
        });
        for _ in 0..OPERATIONS {
            rx.recv().await.unwrap();
        }
        assert!(
            ran.get(),
            "the spawned task ran while the main future drained"
        );
        neighbour.await.unwrap();
    });
}

#[test]
fn a_blocking_thread_has_no_budget() {
    run(async {
        // Outside a loop nothing refills the budget, so nothing must spend it: a plain executor on a blocking
        // thread drains everything.
        let (tx, mut rx) = mpsc::unbounded_channel();
        for i in 0..OPERATIONS {
            tx.send(i).unwrap();
        }
        let sum = weft::spawn_blocking(move || {
            futures_executor_block_on(async move {
                let mut sum = 0;
                for _ in 0..OPERATIONS {
                    sum += rx.recv().await.unwrap();
                }
                sum
            })
        })
        .await
        .unwrap();
        assert_eq!(sum, (0..OPERATIONS).sum::<usize>());
    });
}

/// A minimal executor: polls `future` on this thread until it is ready, parking between polls.
fn futures_executor_block_on<F: Future>(future: F) -> F::Output {
    use std::sync::Arc;
    use std::task::{Context, Poll, Wake, Waker};

    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    let mut polls = 0;
    loop {
        polls += 1;
        assert!(polls < 10, "polled {polls} times: the future kept yielding");
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        std::thread::park();
    }
}
