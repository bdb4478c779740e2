//! `try_join!`: all values in order, or the first error at once with the other futures dropped.

use std::cell::Cell;
use std::future::pending;
use std::rc::Rc;
use std::time::Duration;

use weft::task::yield_now;
use weft::time::{sleep, Instant};
use weft::Builder;

/// Sets its flag when dropped.
struct SetOnDrop(Rc<Cell<bool>>);

impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.set(true);
    }
}

#[weft::test]
async fn every_value_in_written_order() {
    let values = weft::try_join!(
        async {
            yield_now().await;
            Ok::<_, ()>(1)
        },
        async { Ok("two") },
        async { Ok(vec![3]) },
    );
    assert_eq!(values, Ok((1, "two", vec![3])));
}

#[test]
fn the_first_err_returns_at_once_and_drops_the_others() {
    let runtime = Builder::new().start_paused(true).build().unwrap();
    runtime.block_on(async {
        let dropped = Rc::new(Cell::new(false));
        let guard = SetOnDrop(dropped.clone());
        let start = Instant::now();
        let result: Result<((), u8), &str> = weft::try_join!(
            async move {
                let _guard = guard;
                pending::<()>().await;
                Ok(())
            },
            async {
                sleep(Duration::from_secs(2)).await;
                Err("failed")
            },
        );
        assert_eq!(result, Err("failed"));
        assert_eq!(start.elapsed(), Duration::from_secs(2));
        assert!(dropped.get());
    });
}

#[weft::test]
async fn the_first_err_in_time_wins_not_in_writing() {
    let result: Result<(u8, u8), &str> = weft::try_join!(
        async {
            for _ in 0..3 {
                yield_now().await;
            }
            Err("late")
        },
        async { Err("early") },
    );
    assert_eq!(result, Err("early"));
}

#[weft::test]
async fn works_with_join_handles_and_question_mark() {
    async fn both() -> Result<u32, weft::JoinError> {
        let (a, b) = weft::try_join!(weft::spawn(async { 20 }), weft::spawn(async { 22 }))?;
        Ok(a + b)
    }
    assert_eq!(both().await.unwrap(), 42);
}
