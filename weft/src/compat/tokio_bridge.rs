//! The tokio bridge (feature `tokio-bridge`): [`with_tokio`] polls a future inside the context of one background
//! tokio runtime, so crates that need tokio's reactor, timers or `tokio::spawn` (reqwest, tonic, `axum::serve`)
//! run from weft tasks.
//!
//! The future stays in its weft task and is polled by weft's loop; each poll enters the tokio runtime's context
//! (`tokio::runtime::Handle::enter`), so tokio resources created or polled there register with that runtime's
//! reactor and timer, and `tokio::spawn` puts tasks on it. When tokio's reactor sees the socket ready or the
//! timer fire, it wakes the waker the future was polled with — the weft task's — from the bridge's thread, which
//! is an ordinary cross-thread wake for weft.
//!
//! # Invariants
//!
//! 1. There is at most one bridge runtime per process. It is built on first use, on the calling thread (so a
//!    failure to build it is reported where `with_tokio` was called), then driven by one background thread,
//!    `weft-tokio-bridge`, until the process exits; it is never dropped, so its context stays valid for every
//!    future that entered it.
//! 2. The runtime is tokio's current-thread runtime. Its one thread parks in tokio's driver and runs the
//!    reactor, the timer wheel and whatever `tokio::spawn` put there; the bridged futures themselves run on weft's
//!    loops. A multi-thread runtime would start one worker per core to run almost nothing: the work that matters
//!    (the user's futures) is weft's.
//! 3. The context is entered for the duration of one poll and left before `poll` returns, so a weft task that
//!    is not inside `with_tokio` never sees tokio's context, and nested calls restore the outer context.

#![forbid(unsafe_code)]

use std::fmt;
use std::future::{Future, IntoFuture};
use std::panic::Location;
use std::pin::Pin;
use std::sync::{Mutex, OnceLock};
use std::task::{Context, Poll};

use pin_project_lite::pin_project;
use tokio::runtime::{Builder, Handle};

use crate::cell::{Label, Op};

/// The bridge runtime's handle, once it runs (invariant 1).
static BRIDGE: OnceLock<Handle> = OnceLock::new();

/// Held while the bridge runtime starts, so two threads never start two (invariant 1).
static STARTING: Mutex<()> = Mutex::new(());

/// The handle of the bridge runtime, starting it on first use (invariant 1).
#[track_caller]
fn bridge() -> &'static Handle {
    if let Some(handle) = BRIDGE.get() {
        return handle;
    }
    let _starting = crate::loom::lock_std(&STARTING);
    if let Some(handle) = BRIDGE.get() {
        return handle;
    }
    match start() {
        Ok(handle) => BRIDGE.get_or_init(|| handle),
        Err(error) => panic!("weft::compat::with_tokio could not start its tokio runtime: {error}"),
    }
}

/// Builds the bridge runtime and hands it to its background thread, which drives it until the process ends.
fn start() -> std::io::Result<Handle> {
    let runtime = Builder::new_current_thread()
        .enable_all()
        .thread_name("weft-tokio-bridge-blocking")
        .build()?;
    let handle = runtime.handle().clone();
    std::thread::Builder::new()
        .name("weft-tokio-bridge".into())
        .spawn(move || {
            // Parks in tokio's driver, running its reactor, timers and spawned tasks (invariant 2).
            runtime.block_on(std::future::pending::<()>());
        })?;
    Ok(handle)
}

/// Runs `future` inside the context of weft's background tokio runtime (started on first use), so tokio's
/// `net`, `time` and `spawn` — and crates built on them, such as reqwest, tonic and `axum::serve` — work from a
/// weft task. The output is the future's own.
///
/// The future is polled by the weft task that awaits the bridge, on that task's loop; only tokio's reactor,
/// timers and the tasks that `tokio::spawn` starts run on the bridge's thread. Wrap the smallest piece that needs
/// tokio: code inside the bridge that uses weft's own sockets and timers works too, at the cost of one context
/// switch per poll. While the task waits on something of tokio's, its x-ray bookmark is this call.
///
/// ```
/// use std::time::Duration;
///
/// weft::run(async {
///     let answer = weft::compat::with_tokio(async {
///         tokio::time::sleep(Duration::from_millis(1)).await; // needs tokio's timer
///         tokio::spawn(async { 6 * 7 }).await.unwrap() // runs on the bridge's runtime
///     })
///     .await;
///     assert_eq!(answer, 42);
/// });
/// ```
///
/// # Cancellation safety
/// As cancel-safe as `future`: dropping the bridge drops `future` at its bookmark. The drop happens outside
/// tokio's context, which tokio's own types do not need (they keep a handle to their runtime).
///
/// # Panics
/// When the tokio runtime cannot be started (the OS refused it a descriptor or a thread).
#[track_caller]
pub fn with_tokio<F: IntoFuture>(future: F) -> WithTokio<F::IntoFuture> {
    WithTokio {
        future: future.into_future(),
        handle: bridge(),
        location: Location::caller(),
    }
}

pin_project! {
    /// A future polled inside the tokio bridge's context; see [`with_tokio`].
    ///
    /// ```
    /// let bridged: weft::compat::WithTokio<_> = weft::compat::with_tokio(async { 1 });
    /// assert_eq!(weft::run(bridged), 1);
    /// ```
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub struct WithTokio<F> {
        #[pin]
        future: F,
        // The bridge runtime's handle (invariant 1).
        handle: &'static Handle,
        // Where `with_tokio` was called: the task's bookmark while it waits on tokio.
        location: &'static Location<'static>,
    }
}

impl<F: Future> Future for WithTokio<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let poll = {
            let _entered = this.handle.enter(); // invariant 3
            this.future.poll(cx)
        };
        if poll.is_pending() {
            // A weft leaf future inside the bridge leaves a more precise bookmark; keep it.
            crate::cell::bookmark_if_none(this.location, Label::plain(Op::WithTokio));
        }
        poll
    }
}

impl<F> fmt::Debug for WithTokio<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WithTokio")
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}
