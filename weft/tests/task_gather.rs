//! Gathering: `join!` and `join_all` return every output in input order, run their futures concurrently, and
//! re-poll only the future that was woken.

use std::cell::{Cell, RefCell};
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use weft::task::yield_now;
use weft::time::{sleep, Instant};

/// Counts the polls of the future it wraps.
struct CountPolls<F> {
    inner: F,
    polls: Rc<Cell<usize>>,
}

impl<F: Future + Unpin> Future for CountPolls<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.polls.set(self.polls.get() + 1);
        Pin::new(&mut self.inner).poll(cx)
    }
}

#[weft::test]
async fn join_of_one_future() {
    let (a,) = weft::join!(async { 1 });
    assert_eq!(a, 1);
}

#[weft::test]
async fn join_of_two_futures_in_order() {
    let (a, b) = weft::join!(
        async {
            yield_now().await;
            "first"
        },
        async { "second" },
    );
    assert_eq!((a, b), ("first", "second"));
}

#[weft::test]
async fn join_of_five_futures_in_order() {
    let (a, b, c, d, e) = weft::join!(
        async { 1 },
        async {
            yield_now().await;
            2
        },
        async {
            for _ in 0..5 {
                yield_now().await;
            }
            3
        },
        async { 4 },
        async {
            yield_now().await;
            5
        }
    );
    assert_eq!((a, b, c, d, e), (1, 2, 3, 4, 5));
}

#[weft::test]
async fn join_of_futures_of_different_types() {
    let (number, text, list, unit, result) = weft::join!(
        async { 7u8 },
        async { String::from("seven") },
        async { vec![7; 3] },
        async {},
        weft::spawn(async { 7.5f64 }),
    );
    assert_eq!(number, 7);
    assert_eq!(text, "seven");
    assert_eq!(list, [7, 7, 7]);
    let () = unit;
    assert_eq!(result.unwrap(), 7.5);
}

#[weft::test]
async fn join_runs_its_futures_concurrently() {
    let log = Rc::new(RefCell::new(Vec::new()));
    let step = |name: &'static str| {
        let log = log.clone();
        async move {
            for i in 0..3 {
                log.borrow_mut().push(format!("{name}{i}"));
                yield_now().await;
            }
        }
    };
    weft::join!(step("a"), step("b"));
    let log = log.borrow();
    // Interleaved: neither ran all its steps before the other started.
    let a_last = log
        .iter()
        .rposition(|entry| entry.starts_with('a'))
        .unwrap();
    let b_first = log.iter().position(|entry| entry.starts_with('b')).unwrap();
    assert!(b_first < a_last, "{log:?}");
    assert_eq!(log.len(), 6);
}

#[weft::test(start_paused = true)]
async fn join_of_two_one_second_sleeps_takes_one_second_of_virtual_time() {
    let start = Instant::now();
    let ((), ()) = weft::join!(sleep(Duration::from_secs(1)), sleep(Duration::from_secs(1)));
    assert_eq!(Instant::now() - start, Duration::from_secs(1));

    let start = Instant::now();
    let (a, b, c) = weft::join!(
        async {
            sleep(Duration::from_millis(300)).await;
            Instant::now() - start
        },
        async {
            sleep(Duration::from_millis(100)).await;
            Instant::now() - start
        },
        async {
            sleep(Duration::from_millis(200)).await;
            Instant::now() - start
        },
    );
    assert_eq!(a, Duration::from_millis(300));
    assert_eq!(b, Duration::from_millis(100));
    assert_eq!(c, Duration::from_millis(200));
    assert_eq!(Instant::now() - start, Duration::from_millis(300));
}

#[weft::test]
async fn join_all_returns_results_in_input_order() {
    let results = weft::join_all((0..100).map(|i| async move {
        for _ in 0..(i % 7) {
            yield_now().await;
        }
        i * 10
    }))
    .await;
    assert_eq!(results, (0..100).map(|i| i * 10).collect::<Vec<_>>());
}

#[weft::test(start_paused = true)]
async fn join_all_keeps_input_order_when_later_futures_finish_first() {
    let finished = Rc::new(RefCell::new(Vec::new()));
    let start = Instant::now();
    let results = weft::join_all((0..10u64).map(|i| {
        let finished = finished.clone();
        async move {
            // Decreasing durations: the last input finishes first.
            sleep(Duration::from_millis(100 * (10 - i))).await;
            finished.borrow_mut().push(i);
            (i, Instant::now() - start)
        }
    }))
    .await;
    assert_eq!(*finished.borrow(), (0..10).rev().collect::<Vec<_>>());
    for (index, (i, elapsed)) in results.iter().enumerate() {
        assert_eq!(*i, index as u64);
        assert_eq!(*elapsed, Duration::from_millis(100 * (10 - *i)));
    }
    assert_eq!(Instant::now() - start, Duration::from_secs(1));
}

#[weft::test]
async fn join_all_of_nothing_is_an_empty_vec() {
    let results: Vec<u32> = weft::join_all(Vec::<std::future::Ready<u32>>::new()).await;
    assert!(results.is_empty());
    let results = weft::join_all(std::iter::empty::<std::future::Ready<()>>()).await;
    assert!(results.is_empty());
}

#[weft::test]
async fn join_all_of_join_handles_gathers_tasks() {
    let tasks = (0..1000u64).map(|i| weft::spawn(async move { i * i }));
    let total: u64 = weft::join_all(tasks)
        .await
        .into_iter()
        .map(Result::unwrap)
        .sum();
    assert_eq!(total, (0..1000u64).map(|i| i * i).sum());
}

/// 100,000 children, each woken exactly once, one at a time, with the gather re-polled after every wake. A
/// gather that re-polled every child on every wake would make 10^10 polls; an O(1)-per-wake one makes one
/// poll per child to start and one per wake. The bound is checked after every wake, so a wrong
/// implementation fails at once rather than running for hours.
#[weft::test]
async fn join_all_over_100_000_futures_polls_each_woken_child_once() {
    const N: usize = 100_000;
    const SLACK: usize = 16;
    let polls = Rc::new(Cell::new(0usize));
    let ready: Rc<Vec<Cell<bool>>> = Rc::new((0..N).map(|_| Cell::new(false)).collect());
    let wakers: Rc<RefCell<Vec<Option<Waker>>>> = Rc::new(RefCell::new(vec![None; N]));
    let children: Vec<_> = (0..N)
        .map(|i| {
            let ready = ready.clone();
            let wakers = wakers.clone();
            CountPolls {
                polls: polls.clone(),
                inner: poll_fn(move |cx| {
                    if ready[i].get() {
                        return Poll::Ready(i);
                    }
                    wakers.borrow_mut()[i] = Some(cx.waker().clone());
                    Poll::Pending
                }),
            }
        })
        .collect();
    let gather = weft::spawn(weft::join_all(children));

    // Let the gather poll every child once.
    for _ in 0..100 {
        if wakers.borrow().iter().all(Option::is_some) {
            break;
        }
        yield_now().await;
    }
    assert!(
        wakers.borrow().iter().all(Option::is_some),
        "every child was polled once"
    );
    assert!(
        polls.get() <= N + SLACK,
        "{} polls before any wake",
        polls.get()
    );

    // Wake the children one at a time (in a scattered order), letting the gather run after each wake.
    for k in 0..N {
        let i = (k * 7919) % N; // 7919 is prime and does not divide N: a permutation of 0..N
        ready[i].set(true);
        let waker = wakers.borrow_mut()[i]
            .take()
            .expect("each child is woken once");
        waker.wake();
        yield_now().await;
        let bound = N + (k + 1) + SLACK;
        assert!(
            polls.get() <= bound,
            "after {} wakes: {} polls (bound {bound})",
            k + 1,
            polls.get()
        );
    }
    let results = gather.await.unwrap();
    assert_eq!(results, (0..N).collect::<Vec<_>>());
    assert!(
        polls.get() <= 2 * N + SLACK,
        "{} polls for {N} children each woken once",
        polls.get()
    );
}

/// The same for `join!`: a wake of one child re-polls only that child.
#[weft::test]
async fn join_polls_only_the_woken_child() {
    let polls: Vec<Rc<Cell<usize>>> = (0..3).map(|_| Rc::new(Cell::new(0))).collect();
    let child = |index: usize, yields: usize| CountPolls {
        polls: polls[index].clone(),
        inner: Box::pin(async move {
            for _ in 0..yields {
                yield_now().await;
            }
            index
        }),
    };
    let (a, b, c) = weft::join!(child(0, 0), child(1, 10), child(2, 0));
    assert_eq!((a, b, c), (0, 1, 2));
    assert_eq!(polls[0].get(), 1);
    assert_eq!(polls[1].get(), 11);
    assert_eq!(polls[2].get(), 1);
}
