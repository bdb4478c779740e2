//! Multishot accept for listeners on io_uring: one `ACCEPT` operation per listener keeps delivering connections,
//! each completion a new descriptor, queued on the listener until its task takes it.
//!
//! # Invariants
//!
//! 1. Every descriptor a completion carries is owned at once (an `OwnedFd`): queued on a live listener, or
//!    closed if the listener is gone (its key reused or vacant), so an accepted connection never leaks.
//! 2. At most one accept per listener is in flight. One that ends (no `IORING_CQE_F_MORE`: an error such as
//!    `EMFILE`, or the kernel's own limit) is armed again by the next `accept` call, after the error is returned
//!    to it — so the listener's back-off sees `EMFILE` exactly as with a plain `accept(2)`.
//! 3. No more than [`QUEUE_LIMIT`] connections wait on a listener: at the limit its accept is cancelled, and the
//!    kernel's backlog holds the rest until the queue drains (back-pressure instead of unbounded memory).

#![forbid(unsafe_code)]

use std::collections::VecDeque;
use std::io;
use std::os::fd::{OwnedFd, RawFd};
use std::task::{Context, Poll, Waker};

use super::ops::{Ops, Submit, Target};
use super::store_waker;

/// Connections queued per listener at most (invariant 3).
const QUEUE_LIMIT: usize = 256;

/// One listener's state.
#[derive(Debug)]
struct Listening {
    /// The registration's generation.
    generation: u32,
    /// The accept in flight (invariant 2).
    op: Option<u32>,
    /// Connections accepted and not yet taken.
    queue: VecDeque<OwnedFd>,
    /// The accept ended with this `errno`; returned once, then the accept is armed again.
    error: Option<i32>,
    /// The task waiting to accept.
    waker: Option<Waker>,
}

/// Every listener of one loop that accepts through the ring.
#[derive(Debug, Default)]
pub(crate) struct Accepts {
    /// Listener states by registration key.
    by_key: Vec<Option<Listening>>,
}

impl Accepts {
    /// The next connection of the listener `(key, generation, fd)`, arming its accept if none is in flight.
    pub(crate) fn poll_accept(
        &mut self,
        ops: &mut Ops,
        out: &mut Vec<Submit>,
        (key, generation, fd): (u32, u32, RawFd),
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<OwnedFd>> {
        let index = key as usize;
        if self.by_key.len() <= index {
            self.by_key.resize_with(index + 1, || None);
        }
        let slot = &mut self.by_key[index];
        if !matches!(slot, Some(listening) if listening.generation == generation) {
            *slot = Some(Listening {
                generation,
                op: None,
                queue: VecDeque::new(),
                error: None,
                waker: None,
            });
        }
        let listening = slot.as_mut().expect("just filled");
        if let Some(accepted) = listening.queue.pop_front() {
            return Poll::Ready(Ok(accepted));
        }
        if let Some(errno) = listening.error.take() {
            return Poll::Ready(Err(io::Error::from_raw_os_error(errno)));
        }
        if listening.op.is_none() {
            let op = ops.insert(Target::Accept { key, generation }, Vec::new());
            listening.op = Some(op);
            out.push(Submit::AcceptMulti { op, fd });
        }
        store_waker(&mut listening.waker, cx);
        Poll::Pending
    }

    /// A completion of the accept `op` of the listener `(key, generation)`: `accepted` is the new connection's
    /// descriptor, already owned (invariant 1), or `errno` why the accept ended; `last` says no more will come
    /// from this operation. Returns a cancel when the queue is full (invariant 3).
    pub(crate) fn accepted(
        &mut self,
        (key, generation): (u32, u32),
        op: u32,
        accepted: Result<OwnedFd, i32>,
        last: bool,
    ) -> Option<Submit> {
        let listening = self
            .by_key
            .get_mut(key as usize)?
            .as_mut()
            .filter(|listening| listening.generation == generation)?; // gone: `accepted` closes here
        if last && listening.op == Some(op) {
            listening.op = None;
        }
        match accepted {
            Ok(fd) => listening.queue.push_back(fd),
            Err(errno) if errno == libc::ECANCELED => {}
            Err(errno) => listening.error = Some(errno),
        }
        if let Some(waker) = listening.waker.take() {
            waker.wake();
        }
        match listening.op {
            Some(op) if listening.queue.len() >= QUEUE_LIMIT => Some(Submit::Cancel { op }),
            _ => None,
        }
    }

    /// The listener `key` closes: cancels its accept (submitted before its descriptor closes) and closes the
    /// connections it had not handed out.
    pub(crate) fn close(&mut self, out: &mut Vec<Submit>, key: u32) {
        let Some(listening) = self.by_key.get_mut(key as usize).and_then(Option::take) else {
            return;
        };
        if let Some(op) = listening.op {
            out.push(Submit::Cancel { op });
        }
        drop(listening.queue);
    }
}
