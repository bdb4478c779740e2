//! `select!`: the first finished branch wins and the others are dropped before its handler runs; random start and
//! `biased;`; patterns that fail disable their branch; preconditions; `else`; `!Unpin` futures kept across loop
//! iterations with `&mut`; `break`, `continue`, `return`, `?` in handlers.

use std::cell::Cell;
use std::future::{pending, ready};
use std::rc::Rc;
use std::time::Duration;

use weft::sync::{mpsc, oneshot};
use weft::task::yield_now;
use weft::time::sleep;
use weft::Builder;

/// Sets its flag when dropped.
struct SetOnDrop(Rc<Cell<bool>>);

impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.set(true);
    }
}

#[weft::test]
async fn the_ready_branch_wins() {
    let value = weft::select! {
        _ = pending::<()>() => 0,
        v = ready(7) => v,
    };
    assert_eq!(value, 7);
}

#[weft::test]
async fn losers_are_dropped_before_the_handler_runs() {
    let dropped = Rc::new(Cell::new(false));
    let guard = SetOnDrop(dropped.clone());
    let loser = async move {
        let _guard = guard;
        pending::<()>().await;
    };
    let seen_in_handler = weft::select! {
        _ = loser => unreachable!(),
        _ = ready(()) => dropped.get(),
    };
    assert!(seen_in_handler);
}

#[weft::test]
async fn the_start_is_random_unless_biased() {
    let mut wins = [0u32; 3];
    for _ in 0..3000 {
        let winner = weft::select! {
            _ = ready(()) => 0,
            _ = ready(()) => 1,
            _ = ready(()) => 2,
        };
        wins[winner] += 1;
    }
    for count in wins {
        assert!(count > 700, "an unfair start: {wins:?}");
    }
    for _ in 0..100 {
        let winner = weft::select! {
            biased;
            _ = ready(()) => 0,
            _ = ready(()) => 1,
        };
        assert_eq!(winner, 0);
    }
}

#[weft::test]
async fn a_pattern_that_fails_disables_its_branch() {
    let (tx, mut rx) = mpsc::channel::<u8>(1);
    drop(tx); // recv gives None at once
    let got = weft::select! {
        biased;
        Some(v) = rx.recv() => v,
        v = async { yield_now().await; 9 } => v,
    };
    assert_eq!(got, 9);
}

#[weft::test]
async fn else_runs_when_every_branch_is_disabled() {
    let (tx, mut rx) = mpsc::channel::<u8>(1);
    drop(tx);
    let got = weft::select! {
        Some(v) = rx.recv() => v,
        _ = pending::<()>(), if false => 1,
        else => 2,
    };
    assert_eq!(got, 2);
}

#[weft::test]
async fn a_precondition_skips_its_branch() {
    let got = weft::select! {
        v = ready(1), if false => v,
        v = async { yield_now().await; 2 } => v,
    };
    assert_eq!(got, 2);
}

#[weft::test]
#[should_panic(expected = "every branch is disabled")]
async fn no_else_panics_when_every_branch_is_disabled() {
    let none: Option<u8> = None;
    weft::select! {
        Some(_) = ready(none) => {}
    }
}

#[weft::test]
async fn mut_and_ref_and_nested_patterns() {
    let got = weft::select! {
        Some((mut a, [b, ..])) = ready(Some((String::from("x"), [1, 2, 3]))) => {
            a.push('y');
            (a, b)
        }
    };
    assert_eq!(got, (String::from("xy"), 1));
    let got = weft::select! {
        Ok(ref v) | Err(ref v) = ready(Err::<String, String>("e".into())) => v.clone(),
    };
    assert_eq!(got, "e");
    struct Point {
        x: i32,
        y: i32,
    }
    let got = weft::select! {
        Point { x: 1, mut y } = ready(Point { x: 1, y: 2 }) => { y += 1; y }
        else => 0
    };
    assert_eq!(got, 3);
}

#[test]
fn a_loop_with_mut_unpin_futures_keeps_its_sleep() {
    let runtime = Builder::new().start_paused(true).build().unwrap();
    runtime.block_on(async {
        let (tx, mut rx) = mpsc::channel(4);
        weft::spawn(async move {
            for i in 0..5u32 {
                sleep(Duration::from_millis(300)).await;
                if tx.send(i).await.is_err() {
                    return;
                }
            }
        });
        let deadline = sleep(Duration::from_secs(1)); // !Unpin
        let mut deadline = std::pin::pin!(deadline);
        let mut got = Vec::new();
        let mut turns = 0;
        loop {
            turns += 1;
            weft::select! {
                Some(v) = rx.recv() => {
                    got.push(v);
                    continue;
                }
                () = &mut deadline => break,
            }
        }
        assert_eq!(got, [0, 1, 2]); // at 300, 600 and 900 ms; the deadline at 1 s
        assert_eq!(turns, 4);
    });
}

#[weft::test]
async fn return_and_question_mark_in_handlers() {
    async fn first(fail: bool) -> Result<u8, &'static str> {
        let value = weft::select! {
            v = ready(if fail { Err("bad") } else { Ok(1) }) => v?,
        };
        if value == 1 {
            return weft::select! { _ = ready(()) => Ok(10) };
        }
        Ok(value)
    }
    assert_eq!(first(false).await, Ok(10));
    assert_eq!(first(true).await, Err("bad"));
}

#[weft::test]
async fn handlers_may_await() {
    let (tx, rx) = oneshot::channel();
    let got = weft::select! {
        _ = ready(()) => {
            tx.send(5).unwrap();
            rx.await.unwrap()
        }
    };
    assert_eq!(got, 5);
}

#[weft::test]
async fn a_timer_loses_to_a_message_and_is_dropped() {
    let (tx, mut rx) = mpsc::channel(1);
    tx.send(3).await.unwrap();
    let got = weft::select! {
        _ = sleep(Duration::from_secs(3600)) => None,
        v = rx.recv() => v,
    };
    assert_eq!(got, Some(3));
}

#[weft::test]
async fn many_branches() {
    let got = weft::select! {
        biased;
        _ = pending::<()>() => 0,
        _ = pending::<()>() => 1,
        _ = pending::<()>() => 2,
        _ = pending::<()>() => 3,
        _ = pending::<()>() => 4,
        _ = pending::<()>() => 5,
        _ = pending::<()>() => 6,
        _ = pending::<()>() => 7,
        _ = pending::<()>() => 8,
        _ = pending::<()>() => 9,
        v = ready(10) => v,
    };
    assert_eq!(got, 10);
}

#[test]
fn select_and_try_join_futures_are_send_when_their_branches_are() {
    fn assert_send<T: Send>(_: &T) {}
    let (tx, mut rx) = mpsc::channel::<u8>(1);
    let selecting = async move {
        let _tx = tx;
        weft::select! {
            Some(v) = rx.recv() => v,
            _ = sleep(Duration::from_millis(1)) => 0,
        }
    };
    assert_send(&selecting);
    let joining = async { weft::try_join!(async { Ok::<_, ()>(1) }, async { Ok(2) }) };
    assert_send(&joining);
    // And they run on a runtime spawned from another thread.
    let runtime = weft::Runtime::new().unwrap();
    let handle = runtime.handle();
    let task = std::thread::spawn(move || handle.spawn(selecting))
        .join()
        .unwrap();
    assert_eq!(runtime.block_on(task).unwrap(), 0);
}
