//! Every public entry point that panics on misuse names the caller's line: the panic's location (what the panic
//! hook and the default "panicked at" message show) is this file, at the line of the call — or of the `.await`
//! for a future polled outside a runtime — never a line inside weft. (A socket's operation, polled through layers
//! of weft, panics inside weft; its message names the line that made it.)

use std::cell::RefCell;
use std::future::{pending, Future};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::sync::Once;
use std::task::{Context, Wake, Waker};
use std::time::Duration;

use weft::sync::{broadcast, mpsc, Semaphore};
use weft::task::TaskGroup;
use weft::time::{interval, sleep, sleep_until, timeout, Instant};
use weft::{Handle, Runtime};

/// Where a panic happened, and what it said.
#[derive(Debug)]
struct Site {
    file: String,
    line: u32,
    message: String,
}

thread_local! {
    /// Set while [`panic_site`] runs on this thread: the hook records the panic here instead of printing it.
    static CAUGHT: RefCell<Option<Option<Site>>> = const { RefCell::new(None) };
}

/// Runs `f`, which must panic, and returns where (from the panic hook's `PanicHookInfo::location`).
fn panic_site(f: impl FnOnce()) -> Site {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let recorded = CAUGHT.with(|caught| {
                let mut caught = caught.borrow_mut();
                let slot = caught.as_mut()?;
                let location = info.location().expect("a panic location");
                let payload = info.payload();
                let message = payload
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                // The first panic is the one under test (an unwinding runtime may panic no further, but keep it).
                slot.get_or_insert(Site {
                    file: location.file().to_owned(),
                    line: location.line(),
                    message,
                });
                Some(())
            });
            if recorded.is_none() {
                default(info);
            }
        }));
    });
    CAUGHT.with(|caught| *caught.borrow_mut() = Some(None));
    let outcome = catch_unwind(AssertUnwindSafe(f));
    let site = CAUGHT.with(|caught| caught.borrow_mut().take()).flatten();
    assert!(outcome.is_err(), "expected a panic");
    site.expect("the hook saw the panic")
}

/// Asserts that `expression` panics at this very line of this file, with a message containing `words`. Called
/// with braces, which rustfmt leaves alone, so that the call stays on the line that `line!()` names.
macro_rules! here {
    ($words:expr, $expression:expr) => {{
        let line = line!();
        let site = panic_site(|| {
            let _output = $expression;
        });
        assert!(site.file.ends_with("rt_caller_panics.rs"), "{site:?}");
        assert_eq!(site.line, line, "{site:?}");
        assert!(site.message.contains($words), "{site:?}");
    }};
}

/// A waker that does nothing (the futures here panic before they would wait).
fn noop_waker() -> Waker {
    struct Noop;
    impl Wake for Noop {
        fn wake(self: Arc<Self>) {}
    }
    Waker::from(Arc::new(Noop))
}

/// Polls `future` once on this thread, with no runtime, and returns whether it was ready.
fn poll_once<F: Future>(future: F) -> bool {
    let mut future = pin!(future);
    let waker = noop_waker();
    let mut cx = Context::from_waker(&waker);
    future.as_mut().poll(&mut cx).is_ready()
}

const D: Duration = Duration::from_millis(1);

#[test]
fn spawn_outside_a_runtime() {
    here! { "outside a runtime", weft::spawn(async {}) }
}

#[test]
fn spawn_blocking_outside_a_runtime() {
    here! { "outside a runtime", weft::spawn_blocking(|| ()) }
}

#[test]
fn builder_spawn_outside_a_runtime() {
    here! { "outside a runtime", weft::task::Builder::new().spawn(async {}) }
}

#[test]
fn task_group_spawn_outside_a_runtime() {
    let mut group = TaskGroup::<()>::new();
    here! { "outside a runtime", group.spawn(async {}) }
    assert!(group.is_empty());
}

#[test]
fn task_group_spawn_named_outside_a_runtime() {
    let mut group = TaskGroup::<()>::new();
    here! { "outside a runtime", group.spawn_named("n", async {}) }
    assert!(group.is_empty());
}

#[test]
fn task_group_spawn_blocking_outside_a_runtime() {
    let mut group = TaskGroup::<()>::new();
    here! { "outside a runtime", group.spawn_blocking(|| ()) }
    assert!(group.is_empty());
}

#[test]
fn handle_current_outside_a_runtime() {
    here! { "outside a runtime", Handle::current() }
}

#[test]
fn current_loop_outside_a_runtime() {
    here! { "outside a runtime", weft::current_loop() }
}

#[test]
fn spawn_on_a_loop_the_runtime_does_not_have() {
    let two = weft::Builder::new()
        .loops(2)
        .pin_loops(false)
        .build()
        .unwrap();
    let second = two.handle().loops()[1];
    let one = Runtime::new().unwrap();
    let handle = one.handle();
    here! { "no ", handle.spawn_on(second, async {}) }
}

#[test]
fn xray_dump_outside_a_runtime() {
    here! { "outside a runtime", weft::xray::dump() }
}

#[test]
fn a_sleep_polled_outside_a_runtime() {
    let mut timer = sleep(D);
    let waker = noop_waker();
    let mut cx = Context::from_waker(&waker);
    here! { "rt_caller_panics.rs:", Pin::new(&mut timer).poll(&mut cx) } // names where it was made, too
}

#[test]
fn a_sleep_awaited_outside_a_runtime() {
    here! { "outside a runtime", poll_once(async { sleep(D).await }) }
}

#[test]
fn a_sleep_until_awaited_outside_a_runtime() {
    let deadline = Instant::now() + D;
    here! { "outside a runtime", poll_once(async { sleep_until(deadline).await }) }
}

#[test]
fn a_timeout_awaited_outside_a_runtime() {
    here! { "outside a runtime", poll_once(async { timeout(D, pending::<()>()).await }) }
}

#[test]
fn an_interval_tick_awaited_outside_a_runtime() {
    let mut ticks = interval(D);
    here! { "outside a runtime", poll_once(async { ticks.tick().await }) }
}

#[test]
fn an_interval_poll_tick_outside_a_runtime() {
    let mut ticks = interval(D);
    let waker = noop_waker();
    let mut cx = Context::from_waker(&waker);
    here! { "outside a runtime", ticks.poll_tick(&mut cx) }
}

#[test]
fn an_interval_of_zero() {
    here! { "period", interval(Duration::ZERO) }
}

#[test]
fn block_on_inside_a_runtime() {
    let inner = Runtime::new().unwrap();
    let outer = Runtime::new().unwrap();
    here! { "inside a runtime", outer.block_on(async { inner.block_on(async {}) }) }
}

#[test]
fn run_inside_a_runtime() {
    let outer = Runtime::new().unwrap();
    here! { "inside a runtime", outer.block_on(async { weft::run(async {}) }) }
}

weft::task_local! {
    static REQUEST: u32;
}

#[test]
fn a_task_local_read_outside_its_scope() {
    here! { "outside its scope", REQUEST.with(|id| *id) }
    here! { "outside its scope", REQUEST.get() }
}

#[test]
fn an_mpsc_channel_of_no_capacity() {
    here! { "at least 1", mpsc::channel::<u8>(0) }
}

#[test]
fn a_broadcast_channel_of_no_capacity() {
    here! { "at least 1", broadcast::channel::<u8>(0) }
}

#[test]
fn a_semaphore_over_its_maximum() {
    here! { "at most", Semaphore::new(Semaphore::MAX_PERMITS + 1) }
    let full = Semaphore::new(Semaphore::MAX_PERMITS);
    here! { "at most", full.add_permits(1) }
}

#[test]
fn outside_a_runtime_creating_a_timer_is_fine_and_awaiting_it_in_one_works() {
    let timer = sleep(D);
    let ticks = interval(D);
    weft::run(async move {
        timer.await;
        let mut ticks = ticks;
        ticks.tick().await;
    });
}

#[test]
fn a_socket_read_polled_outside_a_runtime_names_where_it_was_made() {
    // Sockets follow the rule too. Their futures are polled through layers of weft (the read's poll, the socket's
    // readiness), so the panic's own location is inside weft; its message names the line that made the read.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let stream = weft::net::TcpStream::from_std(client).unwrap(); // fine outside a runtime
    let mut buf = [0u8; 8];
    let line = line!() + 1;
    let read = stream.read(&mut buf);
    let site = panic_site(|| {
        poll_once(read);
    });
    assert!(site.message.contains("outside a runtime"), "{site:?}");
    assert!(
        site.message
            .contains(&format!("rt_caller_panics.rs:{line}:")),
        "{site:?}"
    );
}
