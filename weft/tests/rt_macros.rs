//! `#[weft::test]` and `#[weft::main]` expand to working code: bodies run to
//! completion on a weft runtime, return types and attributes are kept, and
//! `start_paused = true` gives a virtual clock.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[weft::test]
async fn spawned_task_returns_value() {
    let n = weft::spawn(async { 7 }).await.unwrap();
    assert_eq!(n, 7);
}

#[weft::test]
async fn body_runs_to_completion() {
    let flag = Arc::new(AtomicBool::new(false));
    let task_flag = flag.clone();
    weft::spawn(async move {
        weft::time::sleep(Duration::from_millis(1)).await;
        task_flag.store(true, Ordering::SeqCst);
    })
    .await
    .unwrap();
    assert!(flag.load(Ordering::SeqCst));
}

// Proves the body really executes (a dropped body would not panic), that a
// panic in it fails the test, and that the user's attributes are kept.
#[weft::test]
#[should_panic(expected = "the body ran")]
async fn body_panic_fails_the_test() {
    weft::time::sleep(Duration::from_millis(1)).await;
    panic!("the body ran");
}

#[weft::test]
async fn returns_result() -> Result<(), String> {
    let n: u32 = "42".parse().map_err(|e| format!("{e}"))?;
    let doubled = weft::spawn(async move { n * 2 })
        .await
        .map_err(|e| format!("{e:?}"))?;
    if doubled != 84 {
        return Err(format!("expected 84, got {doubled}"));
    }
    Ok(())
}

#[weft::test]
async fn question_mark_into_boxed_error() -> Result<(), Box<dyn std::error::Error>> {
    let n: i64 = "-3".parse()?;
    assert_eq!(n, -3);
    Ok(())
}

#[weft::test]
async fn inner_attributes_are_kept() {
    #![allow(unused_mut)]
    let mut x = 1;
    assert_eq!(x, 1);
}

#[weft::test(start_paused = true)]
async fn paused_clock_sleeps_in_virtual_time() {
    let real_start = std::time::Instant::now();
    let start = weft::time::Instant::now();
    weft::time::sleep(Duration::from_secs(3600)).await;
    let virtual_elapsed = weft::time::Instant::now().duration_since(start);
    assert!(
        virtual_elapsed >= Duration::from_secs(3600),
        "virtual clock advanced only {virtual_elapsed:?}"
    );
    assert!(
        real_start.elapsed() < Duration::from_secs(60),
        "a paused-clock sleep took {:?} of real time",
        real_start.elapsed()
    );
}

#[weft::test(start_paused = true)]
async fn paused_clock_with_spawned_sleepers() -> Result<(), String> {
    let start = weft::time::Instant::now();
    let a = weft::spawn(async {
        weft::time::sleep(Duration::from_secs(10)).await;
        1
    });
    let b = weft::spawn(async {
        weft::time::sleep(Duration::from_secs(20)).await;
        2
    });
    let sum = a.await.map_err(|e| format!("{e:?}"))? + b.await.map_err(|e| format!("{e:?}"))?;
    assert_eq!(sum, 3);
    assert!(weft::time::Instant::now().duration_since(start) >= Duration::from_secs(20));
    Ok(())
}

#[weft::test(start_paused = false)]
async fn unpaused_clock_sleeps_in_real_time() {
    let real_start = std::time::Instant::now();
    weft::time::sleep(Duration::from_millis(20)).await;
    assert!(real_start.elapsed() >= Duration::from_millis(20));
}

// `#[weft::main]` works on any function name, so it can be exercised from
// ordinary tests.
#[weft::main]
async fn main_like() -> u32 {
    weft::spawn(async { 40 }).await.unwrap() + 2
}

#[weft::main(start_paused = true)]
async fn main_like_paused() -> Duration {
    let start = weft::time::Instant::now();
    weft::time::sleep(Duration::from_secs(3600)).await;
    weft::time::Instant::now().duration_since(start)
}

#[weft::main]
pub(crate) async fn main_like_result() -> Result<u8, std::num::ParseIntError> {
    let n: u8 = "9".parse()?;
    Ok(n)
}

#[test]
fn main_macro_runs_body() {
    assert_eq!(main_like(), 42);
    assert_eq!(main_like_result(), Ok(9));
}

#[test]
fn main_macro_start_paused() {
    assert!(main_like_paused() >= Duration::from_secs(3600));
}

// A declarative macro that forwards a visibility (`$vis:vis`), a return type
// (`$ret:ty`) and a body (`$body:block`) hands the attribute invisible-group
// tokens; the macros must see through them, `pub(crate)` and an empty
// visibility alike.
macro_rules! weft_test_with_vis {
    ($vis:vis fn $name:ident) => {
        #[weft::test]
        $vis async fn $name() {
            assert_eq!(weft::spawn(async { 1 }).await.unwrap(), 1);
        }
    };
}

weft_test_with_vis!(pub(crate) fn test_from_macro_rules_pub_crate);
weft_test_with_vis!(fn test_from_macro_rules_private);

macro_rules! weft_main_with_vis {
    ($vis:vis fn $name:ident() -> $ret:ty $body:block) => {
        #[weft::main]
        $vis async fn $name() -> $ret $body
    };
}

weft_main_with_vis!(
    pub(crate) fn main_from_macro_rules() -> u32 {
        weft::spawn(async { 5 }).await.unwrap()
    }
);
weft_main_with_vis!(
    fn private_main_from_macro_rules() -> u32 {
        6
    }
);

#[test]
fn main_macro_through_macro_rules() {
    assert_eq!(main_from_macro_rules(), 5);
    assert_eq!(private_main_from_macro_rules(), 6);
}

// Attributes (`$(#[$meta:meta])*`), an argument (`$paused:expr`) and a body
// (`$body:block`) forwarded the same way.
macro_rules! weft_test_forwarding {
    ($(#[$meta:meta])* $vis:vis fn $name:ident(start_paused = $paused:expr) $body:block) => {
        #[weft::test(start_paused = $paused)]
        $(#[$meta])*
        $vis async fn $name() $body
    };
}

weft_test_forwarding!(
    #[should_panic(expected = "the forwarded body ran on a paused clock")]
    pub(crate) fn forwarded_attributes_argument_and_body(start_paused = true) {
        let start = weft::time::Instant::now();
        weft::time::sleep(Duration::from_secs(3600)).await;
        if weft::time::Instant::now().duration_since(start) >= Duration::from_secs(3600) {
            panic!("the forwarded body ran on a paused clock");
        }
    }
);
