//! `task_local!`: a value per task for the life of a scope — visible to what the scope's future awaits, restored
//! across nested scopes, kept apart between interleaved tasks, following the future when another task polls it,
//! and seen by the future's destructors.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use weft::task::{yield_now, AccessError};

weft::task_local! {
    static REQUEST: u32;
    /// A documented key.
    pub static USER: String;
}

#[weft::test]
async fn with_and_try_with_inside_and_outside_a_scope() {
    assert!(REQUEST.try_with(|v| *v).is_err());
    let seen = REQUEST
        .scope(5, async {
            yield_now().await;
            (REQUEST.with(|v| *v), REQUEST.try_with(|v| *v + 1))
        })
        .await;
    assert_eq!(seen, (5, Ok(6)));
    let error: AccessError = REQUEST.try_with(|v| *v).unwrap_err();
    assert!(error.to_string().contains("REQUEST"));
}

#[weft::test]
async fn nested_scopes_shadow_and_restore_across_awaits() {
    REQUEST
        .scope(1, async {
            assert_eq!(REQUEST.get(), 1);
            REQUEST
                .scope(2, async {
                    yield_now().await;
                    assert_eq!(REQUEST.get(), 2);
                    USER.scope("ann".into(), async {
                        yield_now().await;
                        assert_eq!((REQUEST.get(), USER.get()), (2, "ann".to_string()));
                    })
                    .await;
                    assert!(USER.try_with(|_| ()).is_err());
                })
                .await;
            yield_now().await;
            assert_eq!(REQUEST.get(), 1);
        })
        .await;
}

#[weft::test]
async fn interleaved_tasks_each_see_their_own_value() {
    let mut tasks = Vec::new();
    for id in 0..20u32 {
        tasks.push(weft::spawn(REQUEST.scope(id, async move {
            let mut seen = Vec::new();
            for _ in 0..5 {
                yield_now().await;
                seen.push(REQUEST.get());
            }
            assert!(seen.iter().all(|v| *v == id));
            id
        })));
    }
    for (id, task) in tasks.into_iter().enumerate() {
        assert_eq!(task.await.unwrap(), id as u32);
    }
}

#[weft::test]
async fn a_spawned_task_does_not_inherit_the_value() {
    let inherited = REQUEST
        .scope(3, async {
            weft::spawn(async { REQUEST.try_with(|v| *v).is_ok() })
                .await
                .unwrap()
        })
        .await;
    assert!(!inherited);
}

/// Polls its inner future once per poll of its own, wherever it is polled.
struct Polled<F>(Pin<Box<F>>);

impl<F: Future> Future for Polled<F> {
    type Output = F::Output;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.0.as_mut().poll(cx)
    }
}

#[weft::test]
async fn the_value_follows_the_future_when_another_task_polls_it() {
    // Started on this task, inside another scope of the same key...
    let scoped = REQUEST.scope(10, async {
        yield_now().await;
        REQUEST.get()
    });
    let mut scoped = Box::pin(scoped);
    let waker = futures_util::task::noop_waker_ref();
    let first = REQUEST.sync_scope(99, || scoped.as_mut().poll(&mut Context::from_waker(waker)));
    assert!(first.is_pending());
    // ...finished by another task: it still sees 10, and the other task's view is untouched.
    let finished = weft::spawn(REQUEST.scope(20, async move {
        let value = Polled(scoped).await;
        (value, REQUEST.get())
    }))
    .await
    .unwrap();
    assert_eq!(finished, (10, 20));
}

/// Reads the task-local when dropped.
struct ReadOnDrop(Rc<Cell<Option<u32>>>);

impl Drop for ReadOnDrop {
    fn drop(&mut self) {
        self.0.set(REQUEST.try_with(|v| *v).ok());
    }
}

#[weft::test]
async fn a_cancelled_future_drops_inside_its_scope() {
    let seen = Rc::new(Cell::new(None));
    let guard = ReadOnDrop(seen.clone());
    let task = weft::spawn(REQUEST.scope(77, async move {
        let _guard = guard;
        std::future::pending::<()>().await;
    }));
    yield_now().await;
    task.abort();
    assert!(task.await.unwrap_err().is_cancelled());
    assert_eq!(seen.get(), Some(77));
}

#[test]
#[should_panic(expected = "read outside its scope")]
fn with_outside_a_scope_panics_with_advice() {
    REQUEST.with(|_| ());
}
