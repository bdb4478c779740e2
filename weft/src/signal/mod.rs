//! Signals as futures: [`ctrl_c`], and [`unix::signal`] for any catchable Unix signal.
//!
//! A service stops on `SIGTERM`, reloads on `SIGHUP` and shuts down cleanly on Ctrl-C; here each is an `.await`.
//! Any number of [`Signal`](unix::Signal) listeners may wait for the same signal, on any loop and any thread (and
//! outside weft, in any executor): each receives every delivery that arrives after it was registered.
//! Deliveries that arrive between two `recv` calls of one listener merge into one, as in tokio — signals are
//! notifications, not a queue.
//!
//! # How it works: a self-pipe and `sigaction`, not signalfd
//!
//! The first registration of a signal installs a `sigaction` handler for it. The handler counts the delivery in
//! a per-signal atomic counter and writes one byte to a non-blocking pipe — both async-signal-safe, and nothing
//! else. One thread (`weft-signal`, started by the first registration in the process, idle in `read(2)`
//! otherwise) reads the pipe and wakes the listeners of each signal whose counter moved; a listener is ready
//! when the counter passed the value it last saw. A wake of a task on a loop goes through the loop's remote
//! queue like any other cross-thread wake.
//!
//! signalfd was the alternative. It only receives a signal that is blocked in **every** thread of the process —
//! otherwise the kernel delivers it to a thread that does not block it, with its default action — and a
//! library cannot block signals in threads it did not start (the test harness's, a C library's, the user's
//! own), nor keep children from inheriting the blocked mask through `exec`. A `sigaction` handler is
//! process-wide and needs no cooperation from other threads, and the pipe lets one reader serve every loop.
//!
//! # What changes for the process
//!
//! Once a signal has a listener, its handler stays installed for the life of the process, also after every
//! listener is gone: a registered signal never kills the process (a late Ctrl-C is ignored rather than
//! fatal). Signals nobody registered keep their disposition. `SIGKILL` and `SIGSTOP` cannot be caught, and
//! `SIGILL`, `SIGFPE`, `SIGSEGV` and `SIGBUS` must not be (a handler that returns re-runs the faulting
//! instruction): [`unix::signal`] refuses them with an `InvalidInput` error, as it refuses numbers that are no
//! signal and the two real-time signals the C library keeps for itself.
//!
//! References: sigaction(2), signal-safety(7), signalfd(2) ("the signals must be blocked"); tokio's
//! `tokio::signal`.

#![forbid(unsafe_code)]

mod registry;
pub mod unix;

use std::future::Future;
use std::io;

/// Completes at the next Ctrl-C (`SIGINT`) after this call.
///
/// The listener is registered when `ctrl_c` is called, not when the future is first polled, so a Ctrl-C that
/// arrives in between is not missed. From then on `SIGINT` no longer ends the process (see the [module
/// docs](self)): the program decides what Ctrl-C means.
///
/// ```
/// weft::run(async {
///     let ctrl_c = weft::signal::ctrl_c();
///     // The terminal's Ctrl-C, simulated:
///     std::process::Command::new("kill")
///         .args(["-INT", &std::process::id().to_string()])
///         .status()
///         .unwrap();
///     ctrl_c.await.unwrap();
///     println!("shutting down");
/// });
/// ```
///
/// # Errors
/// If the signal machinery cannot be set up (no descriptor for the self-pipe, no thread for the reader).
#[track_caller]
pub fn ctrl_c() -> impl Future<Output = io::Result<()>> + Send + 'static {
    let location = std::panic::Location::caller();
    let signal = unix::signal(unix::SignalKind::interrupt());
    async move {
        let mut signal = signal?;
        signal.recv_at(location).await;
        Ok(())
    }
}
