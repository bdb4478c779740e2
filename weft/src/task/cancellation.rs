//! # Cancellation in weft
//!
//! A guide, no items: how work stops in weft, and how to make it stop cleanly.
//!
//! ## Drop = cancel
//!
//! A future is a paused state machine; it only moves when polled. So cancelling a future is simply **dropping
//! it**: it is never polled again, and its destructors run — the locals it held at its last `.await` are
//! dropped, sockets closed, guards released. Nothing is interrupted mid-instruction: a future can only stop
//! *at a bookmark*, one of its `.await`s that returned `Pending`.
//!
//! ```
//! use std::time::Duration;
//! use weft::time::{sleep, timeout};
//!
//! struct Noisy(&'static str);
//! impl Drop for Noisy {
//!     fn drop(&mut self) {
//!         println!("dropped {}", self.0);
//!     }
//! }
//!
//! let runtime = weft::Builder::new().start_paused(true).build().unwrap();
//! runtime.block_on(async {
//!     let slow = async {
//!         let _held = Noisy("the state at the bookmark");
//!         sleep(Duration::from_secs(60)).await; // <- the bookmark where it stops
//!         unreachable!("never resumed");
//!     };
//!     // timeout drops `slow` after one second: it is cancelled at its sleep, and `_held` is dropped.
//!     assert!(timeout(Duration::from_secs(1), slow).await.is_err());
//! });
//! ```
//!
//! Everything that cancels in weft is a drop: [`timeout`](crate::time::timeout) drops its future when time is
//! up, [`select!`](crate::select) drops the losing branches, [`try_join!`](crate::try_join) drops the others
//! on the first error.
//!
//! ## Tasks: abort, groups and tokens
//!
//! A task is a future owned by the loop, so you cannot drop it yourself: [`JoinHandle::abort`] asks the loop
//! to. The task stops at its next bookmark (at once if it is parked), and **by the loop's next turn its future
//! has been dropped** and its destructors have run; its handle then gives a cancelled
//! [`JoinError`](crate::JoinError). Dropping a `JoinHandle` does *not* cancel: it detaches.
//!
//! For a set of tasks that belong to one piece of work, use a [`TaskGroup`]: dropping the group aborts every
//! child still running, so children never outlive the scope that owns them (structured concurrency, asyncio's
//! `TaskGroup`, trio's nursery). [`TaskGroup::fail_fast`] aborts the siblings of the first child that fails.
//!
//! ```
//! use std::time::Duration;
//! use weft::task::TaskGroup;
//! use weft::time::sleep;
//!
//! async fn check(host: u32) -> Result<u32, String> {
//!     sleep(Duration::from_millis(10 * u64::from(host))).await;
//!     if host == 3 { Err(format!("host {host} is down")) } else { Ok(host) }
//! }
//!
//! let runtime = weft::Builder::new().start_paused(true).build().unwrap();
//! runtime.block_on(async {
//!     let mut group = TaskGroup::new().fail_fast();
//!     for host in 1..=5 {
//!         group.spawn(check(host));
//!     }
//!     let results = group.join_all().await;
//!     let up = results.iter().filter(|r| matches!(r, Ok(Ok(_)))).count();
//!     let failed = results.iter().filter(|r| matches!(r, Ok(Err(_)))).count();
//!     let cancelled = results.iter().filter(|r| r.as_ref().is_err_and(|e| e.is_cancelled())).count();
//!     assert_eq!((up, failed, cancelled), (2, 1, 2)); // hosts 4 and 5 were stopped when 3 failed
//! });
//! ```
//!
//! To stop work that is not yours to drop — tasks on other loops, threads, libraries — pass a
//! [`CancellationToken`](crate::sync::CancellationToken). It cancels its [children](crate::sync::CancellationToken::child_token)
//! with it, never its parent, and a task notices it at a point of its choosing:
//!
//! ```
//! use std::time::Duration;
//! use weft::sync::CancellationToken;
//!
//! let runtime = weft::Builder::new().start_paused(true).build().unwrap();
//! runtime.block_on(async {
//!     let shutdown = CancellationToken::new();
//!     let server = weft::spawn({
//!         let shutdown = shutdown.child_token();
//!         async move {
//!             let mut served = 0;
//!             loop {
//!                 weft::select! {
//!                     _ = shutdown.cancelled() => break, // finish cleanly, at a point we chose
//!                     _ = weft::time::sleep(Duration::from_millis(100)) => served += 1,
//!                 }
//!             }
//!             served
//!         }
//!     });
//!     weft::time::sleep(Duration::from_millis(350)).await;
//!     shutdown.cancel();
//!     assert_eq!(server.await.unwrap(), 3);
//! });
//! ```
//!
//! ## Cancel safety
//!
//! Dropping a future is safe for memory, always. It is *cancel-safe* when dropping it also **loses no data**:
//! whatever it was about to take — a message, bytes, a connection, a lock, a permit — is still there for the
//! next call. That matters wherever a future may lose: a `select!` branch, a `timeout`.
//!
//! **Every weft leaf future is cancel-safe**, and says so in its docs: `mpsc`/`broadcast`/`watch` receives
//! (a message leaves the channel only in the poll that returns it), `oneshot` receivers, `Mutex::lock`,
//! `RwLock::read`/`write` and `Semaphore::acquire` (a lock or permit handed to a waiter that is then dropped
//! goes to the next one), `Notify::notified`, `TcpListener::accept`, socket `read`/`write`/`recv`/`send` (the
//! kernel keeps what was not returned), `sleep`, `Interval::tick`, `JoinHandle`, `TaskGroup::join_next`,
//! `CancellationToken::cancelled`. A `send` dropped before it completes delivers nothing (use `reserve` to keep
//! the message). `tests/task_cancel_safety.rs` runs each of the important ones in a lost `select!` race.
//!
//! Not cancel-safe — by nature, as in every runtime — are *compositions* that take something in several steps:
//! `read_exact` and `write_all` (part of the buffer may have moved when they are dropped), and your own `async`
//! blocks that hold what they took across an `.await`. For these, keep the future alive across the loop with
//! `&mut` instead of re-creating it, or move the work into a task:
//!
//! ```
//! use std::time::Duration;
//! use weft::sync::mpsc;
//!
//! let runtime = weft::Builder::new().start_paused(true).build().unwrap();
//! runtime.block_on(async {
//!     let (tx, mut rx) = mpsc::channel::<u32>(4);
//!     weft::spawn(async move {
//!         for i in 0..3 {
//!             weft::time::sleep(Duration::from_millis(10)).await;
//!             tx.send(i).await.unwrap();
//!         }
//!     });
//!     // One batch collector kept across the loop: ticks never drop a half-collected batch.
//!     let collect = async {
//!         let mut batch = Vec::new();
//!         while let Some(v) = rx.recv().await {
//!             batch.push(v);
//!         }
//!         batch
//!     };
//!     let mut collect = std::pin::pin!(collect);
//!     let mut ticks = weft::time::interval(Duration::from_millis(5));
//!     let batch = loop {
//!         weft::select! {
//!             batch = &mut collect => break batch,
//!             _ = ticks.tick() => {} // a tick does not disturb the collector
//!         }
//!     };
//!     assert_eq!(batch, [0, 1, 2]);
//! });
//! ```
//!
//! ## Futurelock: a losing branch that holds a lock
//!
//! A future kept across a `select!` loop by `&mut` is *not* dropped when its branch loses — and not polled
//! either, while the handler of another branch runs. If it holds a lock (or a permit) at that moment, anything
//! the handler awaits that needs the same lock waits forever. Keep lock guards out of futures that outlive a
//! `select!` iteration: take the lock inside the handler, or in a task of its own.
//!
//! [`JoinHandle::abort`]: crate::JoinHandle::abort
//! [`TaskGroup`]: crate::task::TaskGroup
//! [`TaskGroup::fail_fast`]: crate::task::TaskGroup::fail_fast
