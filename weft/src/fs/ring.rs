//! [`RingOp`]: a file operation in flight on the current loop's io_uring, as a `Send` future.
//!
//! The operation and the memory it lends the kernel live in that loop's op table (`driver::ops`); the future
//! holds only the loop's id and the operation's index, so it can be moved between threads like any `Send`
//! future, but only its own loop may poll it.
//!
//! # Invariants
//!
//! 1. A `RingOp` is polled only on the loop that submitted it (its index means something in that loop's op
//!    table alone); polled anywhere else it panics with a message saying so.
//! 2. Dropped before its result was collected, it tells its loop to forget the operation (the driver cancels
//!    a read or an `openat`, lets a write finish): at once on that loop's thread, else through the loop's
//!    remote queue as a visit, never touching another thread's ring (`uring.rs` invariant 5). A loop that has
//!    shut down needs no telling: its ring waits for, or outlives, what is in flight.

use std::future::Future;
use std::io;
use std::os::fd::OwnedFd;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::driver::{Driver, FileOp};
use crate::runtime::{context, Core, Shared};

/// What a completed ring operation hands back: its result (bytes moved), its buffer, and for an `openat` the
/// new descriptor.
pub(super) type RingDone = (io::Result<usize>, Vec<u8>, Option<OwnedFd>);

/// A file operation submitted to the current loop's ring.
#[derive(Debug)]
pub(super) struct RingOp {
    /// The loop that submitted it (rule 1).
    loop_id: u64,
    /// Its index in that loop's op table.
    index: u32,
    /// The result was collected: nothing to forget (rule 2).
    collected: bool,
}

impl RingOp {
    /// Whether file operations go to the ring of the loop running on this thread: it drives its I/O with
    /// io_uring. (A paused clock does not jump while a task awaits one, as while blocking work is in flight.)
    pub(super) fn available() -> bool {
        context::with_core(|core| core.is_some_and(|core| core.driver().kind() == Driver::IoUring))
    }

    /// Submits `op` to the current loop's ring; hands it back if no loop runs here or it runs epoll.
    pub(super) fn start(op: FileOp) -> Result<RingOp, FileOp> {
        context::with_core(|core| {
            let core = match core {
                Some(core) => core,
                None => return Err(op),
            };
            let index = core.driver().submit_file(op)?;
            Ok(RingOp {
                loop_id: core.shared().id(),
                index,
                collected: false,
            })
        })
    }
}

impl Future for RingOp {
    type Output = RingDone;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<RingDone> {
        let this = self.get_mut();
        assert!(
            !this.collected,
            "weft: a file operation's future polled after it completed"
        );
        let polled = context::with_core(|core| match core {
            Some(core) if core.shared().id() == this.loop_id => {
                Some(core.driver().poll_file(this.index, cx))
            }
            _ => None,
        });
        let Some(polled) = polled else {
            panic!(
                "weft: a file operation started on io_uring loop {} was polled on another thread or loop; \
                 await a file's operations on the loop that started them (spawn the task that uses the file \
                 on one loop)",
                this.loop_id
            );
        };
        if polled.is_ready() {
            this.collected = true;
        }
        polled
    }
}

impl Drop for RingOp {
    fn drop(&mut self) {
        if self.collected {
            return;
        }
        let (loop_id, index) = (self.loop_id, self.index);
        let forgot_here = context::with_core(|core| match core {
            Some(core) if core.shared().id() == loop_id => {
                core.driver().forget_file(index);
                true
            }
            _ => false,
        });
        if !forgot_here {
            if let Some(shared) = Shared::find(loop_id) {
                shared.push_remote(|remote| {
                    remote.visits.push(Box::new(move |core: &Core| {
                        core.driver().forget_file(index)
                    }));
                });
            }
        }
    }
}
