//! The io_uring backend: connected streams read and write by completions (`recv`/`send` operations, see
//! `streams.rs`; their memory is owned by the op table, `ops.rs`), and every other socket — listeners,
//! datagrams, a stream while it connects — by readiness from one multishot `POLL_ADD` per registration.
//!
//! The ring is set up `SINGLE_ISSUER | DEFER_TASKRUN` (`COOP_TASKRUN` on kernels before 6.1): only the loop's
//! thread touches it, and the kernel runs completion work only when the loop asks for events, never by
//! interrupting it. Each park is **one** `io_uring_enter` that submits what is queued — the `send` of every
//! stream written to since the last park among it — and waits for at least one completion, with the next timer
//! as its timeout (`IORING_ENTER_EXT_ARG`). The loop's eventfd is watched once, by its own multishot poll, so a
//! wake from another thread ends a park.
//!
//! # Invariants
//!
//! 1. Every operation's `user_data` is a registration's token (`generation << 32 | key`, two top bits clear,
//!    registrations invariant 1: its multishot poll), [`OP_TAG`]` | index` (an operation of the op table),
//!    [`WAKE_TOKEN`] (the eventfd's multishot poll) or [`CANCEL_TOKEN`] (an `ASYNC_CANCEL`, whose completion
//!    means nothing). Nothing else is ever submitted.
//! 2. An operation's life: **submitted** (its entry is in the submission queue; pushed only by the loop's thread,
//!    and a full queue is submitted first, never an entry dropped), **waiting** (in the kernel, which holds its
//!    own reference to the socket's file), **completed** (a completion without `IORING_CQE_F_MORE`: the kernel
//!    let go of the file). A poll points at no memory of ours, so no buffer has to outlive it.
//! 3. **Ignored**: deregistering (which the socket does *before* it closes its descriptor, registrations
//!    invariant 2) queues an `ASYNC_CANCEL` of its token and enters the ring at once, asking for events so that
//!    `DEFER_TASKRUN`'s deferred work runs too: the kernel has dropped the poll and its reference to the file when
//!    the descriptor closes, so the close is as final as on epoll and the number can be reused safely. Every
//!    completion carrying that token afterwards is stale (the key's generation moved on, or the entry is vacant)
//!    and is ignored and never re-armed. A socket freed through another loop's remote queue closes first; its
//!    poll, there until that loop cancels it by `user_data`, names the old file, never the reused number, and
//!    its completions carry the old generation: ignored too.
//! 4. A multishot poll of a live registration that ends (no `F_MORE`: the completion queue overflowed, or the
//!    kernel cancelled it) is re-armed at once. A new poll reports the socket's present state when armed, so no
//!    readiness edge is lost. One that ends with an error other than `ECANCELED` is not re-armed (it would fail
//!    again, every park): the registration is marked in error, both directions ready, so its tasks retry the
//!    system call and get the real error.
//! 5. Only the loop's thread touches the ring (`SINGLE_ISSUER`): the reactor lives in the loop's `Core`, which is
//!    `!Send` (a `Runtime` never leaves the thread that built it) and is reached only through that thread's
//!    context. Other threads wake the loop through the eventfd, never the ring.
//! 8. **A wake is never swallowed.** The loop also reaps outside its park (a stream settling for `into_std`, or
//!    handing its leftovers to another loop while the loop takes its remote queue, right after it announced the
//!    park). A wake reaped there was rung for work the loop may not have looked at yet, and the doorbell rings
//!    once per park: it is remembered ([`UringBackend::wake_reaped`]), and the next park does not wait.
//!
//! 6. An operation that points at memory (`recv`, `send`, a task's operation) owns it through its op-table slot
//!    from submission to its final completion (ops invariants 1–3); a stream that closes first cancels its
//!    `recv` and leaves its `send` to finish (the kernel holds the socket's file until then), so nothing the
//!    kernel touches is freed early and no descriptor number is reused under an operation: a stream's entries
//!    are submitted, and its cancels run, before its descriptor closes (`Reactor::deregister`).
//!
//! 7. A task's file operation (`submit_file`: `read`/`write` at the file's cursor, `fsync`, `openat`) owns
//!    its buffer and keeps its file's descriptor (an `Arc` clone) or its path in its slot until the final
//!    completion. Its future, dropped, makes it ignored (ops invariant 3): a read or an `openat` is then
//!    cancelled, a write never is (its bytes were promised, file invariant 3; a short write goes on with the
//!    rest), and an `openat`'s descriptor nobody collects is closed. Dropping the ring waits (bounded) for them;
//!    one still in flight after that leaks its memory rather than free it under the kernel.
//!
//! # Next (issue 19)
//!
//! Registered descriptors and zero-copy sends for large writes, where a measurement says they pay (on this
//! loopback-only machine neither does: issue 19's notes).
//!
//! References: io_uring(7), io_uring_setup(2), io_uring_enter(2), io_uring_prep_poll_multishot(3); Jens Axboe,
//! "What's new with io_uring in 6.x"; monoio's and compio's op lifecycles.

#![allow(unsafe_code)] // pushing entries on the ring: each block says which invariant makes it sound

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::io::{self, IoSlice};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use io_uring::{cqueue, opcode, squeue, types, IoUring, Probe};

use super::accepts::Accepts;
use super::buf_ring::{self, BufRing};
use super::ops::{FileOp, Finished, Forgotten, Ops, Submit, Target, TaskKind, OP_TAG};
use super::registrations::{Ready, Registrations};
use super::streams::{Handoff, HandoffSender, Streams};
use crate::sys::EventFd;

/// The `user_data` of the eventfd's poll (invariant 1; never a registration's: `registrations::RESERVED_KEYS`).
const WAKE_TOKEN: u64 = u64::MAX;

/// The `user_data` of a cancel (invariant 1).
const CANCEL_TOKEN: u64 = u64::MAX - 1;

/// Submission queue entries. Registrations beyond it are fine: a full queue is submitted first (invariant 2).
const SUBMISSION_ENTRIES: u32 = 256;

/// Completion queue entries: room for a burst of readiness from many sockets in one park.
const COMPLETION_ENTRIES: u32 = 4096;

/// What a socket's poll asks for: the same bits the epoll backend asks for, plus the ones poll always reports.
const POLL_MASK: u32 =
    (libc::POLLIN | libc::POLLOUT | libc::POLLRDHUP | libc::POLLERR | libc::POLLHUP) as u32;

/// `IORING_RECVSEND_POLL_FIRST` (Linux 5.19): wait for data before trying the receive.
const RECVSEND_POLL_FIRST: u16 = 1;

/// The most one file `read`/`write` moves (the kernel's cap on one transfer; the result must fit an `i32`).
const MAX_TRANSFER: usize = 0x7fff_f000;

/// How long a stream that leaves the ring (`into_std`, or a move to another loop) waits for its own operations, at
/// most: a peer that reads nothing, or a kernel slow to cancel, cannot hold the loop longer.
const SETTLE_FOR: Duration = Duration::from_secs(1);

/// How long dropping a loop waits for the sends its streams still owe (invariant 2 of `streams.rs`), at most.
const DRAIN_SENDS_FOR: Duration = Duration::from_secs(2);

/// The loop's ring.
pub(crate) struct UringBackend {
    /// The ring (invariant 5: touched by the loop's thread only).
    ring: RefCell<IoUring>,
    /// The operations in flight that own memory (invariant 6).
    ops: RefCell<Ops>,
    /// Streams doing completion I/O.
    streams: RefCell<Streams>,
    /// Listeners accepting by multishot accept.
    accepts: RefCell<Accepts>,
    /// The provided-buffer ring of multishot `recv`s, made when a stream first reads in a loop; `Err` once it
    /// could not be (the kernel refused: streams keep single `recv`s).
    buf_ring: RefCell<Option<Result<BufRing, ()>>>,
    /// Whether streams do completion I/O here (`recv`/`send` with `MSG_WAITALL` need Linux 5.19's retries).
    completion_streams: bool,
    /// Submissions made while handling a call, pushed right after it.
    out: RefCell<Vec<Submit>>,
    /// Completions of operations, gathered while the completion queue is borrowed and handled after.
    ops_done: RefCell<Vec<(u64, i32, u32)>>,
    /// Entries pushed since the last submission.
    unsubmitted: Cell<u32>,
    /// Tokens of polls that ended and still need re-arming (invariant 4), when the queue could not take them.
    rearm: RefCell<Vec<u64>>,
    /// The eventfd's descriptor, to re-arm its poll.
    wake_fd: RawFd,
    /// The eventfd's poll completed in a reap outside [`park`](Self::park): the next park must not wait
    /// (invariant 8).
    wake_reaped: Cell<bool>,
}

impl std::fmt::Debug for UringBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UringBackend")
            .field("unsubmitted", &self.unsubmitted.get())
            .finish_non_exhaustive()
    }
}

impl UringBackend {
    /// A ring listening to `wake`, or the reason io_uring cannot run here.
    pub(crate) fn new(wake: &EventFd) -> io::Result<UringBackend> {
        if cfg!(miri) {
            // Miri models epoll and eventfd but not io_uring: Auto runs the sanitizer's tests on epoll.
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "io_uring does not run under Miri",
            ));
        }
        let ring = setup().map_err(explain_setup_error)?;
        check_features(&ring)?;
        let completion_streams = supports_completion_streams(&ring);
        let backend = UringBackend {
            ring: RefCell::new(ring),
            ops: RefCell::new(Ops::default()),
            streams: RefCell::new(Streams::default()),
            accepts: RefCell::new(Accepts::default()),
            buf_ring: RefCell::new(None),
            completion_streams,
            out: RefCell::new(Vec::new()),
            ops_done: RefCell::new(Vec::new()),
            unsubmitted: Cell::new(0),
            rearm: RefCell::new(Vec::new()),
            wake_fd: wake.as_raw_fd(),
            wake_reaped: Cell::new(false),
        };
        backend.push(&wake_entry(backend.wake_fd))?;
        backend.submit();
        Ok(backend)
    }

    /// Whether entries wait to be submitted or operations are in flight (the loop should not skip its
    /// zero-timeout park).
    pub(crate) fn has_unsubmitted(&self) -> bool {
        self.unsubmitted.get() > 0
            || !self.rearm.borrow().is_empty()
            || self.ops.borrow().len() > 0
            || self.streams.borrow().busy()
    }

    /// How many file operations tasks await on this ring (see `Ops::tasks_awaited`).
    pub(crate) fn tasks_awaited(&self) -> usize {
        self.ops.borrow().tasks_awaited()
    }

    /// Whether connected streams read and write through completions (`recv`/`send` operations) here.
    pub(crate) fn completion_streams(&self) -> bool {
        self.completion_streams
    }

    /// Reads (or peeks) from the stream `(key, generation, fd)` (`streams.rs`).
    pub(crate) fn poll_stream_read(
        &self,
        stream: (u32, u32, RawFd),
        cx: &mut Context<'_>,
        buf: &mut [u8],
        consume: bool,
    ) -> Poll<io::Result<usize>> {
        let multishot = self.has_buf_ring();
        let mut out = self.out.borrow_mut();
        let result = self.streams.borrow_mut().poll_read(
            &mut self.ops.borrow_mut(),
            &mut out,
            stream,
            cx,
            buf,
            (consume, multishot),
        );
        self.push_all(&mut out);
        result
    }

    /// Whether the buffer ring of multishot `recv`s is there, making it on first use.
    fn has_buf_ring(&self) -> bool {
        let mut buf_ring = self.buf_ring.borrow_mut();
        if buf_ring.is_none() {
            *buf_ring = Some(BufRing::new(&self.ring.borrow()).map_err(drop));
        }
        matches!(*buf_ring, Some(Ok(_)))
    }

    /// The stream `(key, generation, fd)`, which moved here, reads what its previous loop passes on first.
    pub(crate) fn expect_handoff(&self, stream: (u32, u32, RawFd), handoff: Arc<Handoff>) {
        self.streams.borrow_mut().expect_handoff(stream, handoff);
    }

    /// The stream `key` moved away and its cancels were submitted: waits for the `recv`'s last completion (bytes
    /// it took from the socket before the cancel ran are the stream's, and must go with it), then passes on what
    /// the stream holds. Cancelling a waiting receive completes at once; the bound (1 s) only guards a kernel
    /// that would not — then the bytes that `recv` brings later are lost, and the new loop reads on without them.
    pub(crate) fn finish_handoff(
        &self,
        key: u32,
        wake: &EventFd,
        registrations: &RefCell<Registrations>,
    ) {
        self.enter(Some(Duration::ZERO));
        self.reap(wake, registrations);
        self.reap_while(SETTLE_FOR, (wake, registrations), |this| {
            this.streams.borrow().handing_awaits_recv(key)
        });
        self.streams.borrow_mut().finish_handoff(key);
    }

    /// The next connection of the listener `(key, generation, fd)` (`accepts.rs`).
    pub(crate) fn poll_accept(
        &self,
        listener: (u32, u32, RawFd),
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<OwnedFd>> {
        let mut out = self.out.borrow_mut();
        let result = self.accepts.borrow_mut().poll_accept(
            &mut self.ops.borrow_mut(),
            &mut out,
            listener,
            cx,
        );
        self.push_all(&mut out);
        result
    }

    /// Writes to the stream `(key, generation, fd)`: the bytes go with the next park (`streams.rs`).
    pub(crate) fn poll_stream_write(
        &self,
        stream: (u32, u32, RawFd),
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.streams.borrow_mut().poll_write(stream, cx, bufs)
    }

    /// Waits until the stream `(key, generation)` has sent everything written.
    pub(crate) fn poll_stream_flush(
        &self,
        key: u32,
        generation: u32,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        self.streams.borrow_mut().poll_flush(key, generation, cx)
    }

    /// `shutdown(Write)` of a stream: `true` if it waits for unsent bytes (it happens after them).
    pub(crate) fn stream_shutdown_after_sends(
        &self,
        (key, generation, fd): (u32, u32, RawFd),
    ) -> bool {
        self.streams
            .borrow_mut()
            .shutdown_after_sends(key, generation, fd)
    }

    /// The stream `(key, generation)` is about to leave the ring (`into_std`): its unsent bytes are sent and its
    /// `recv` in flight is cancelled, both waited for (a bounded wait: a peer that reads nothing cannot hold the
    /// loop), so nothing written is left behind and bytes a `recv` took are not lost unseen. Returns how many
    /// received bytes were not read and whether written bytes are still unsent.
    pub(crate) fn settle_stream(
        &self,
        (key, generation): (u32, u32),
        wake: &EventFd,
        registrations: &RefCell<Registrations>,
    ) -> (usize, bool) {
        let started = Instant::now();
        self.reap_while(SETTLE_FOR, (wake, registrations), |this| {
            let owes = this.streams.borrow_mut().owes_sends(key, generation);
            if owes {
                this.submit_unsent();
            }
            owes
        });
        let in_flight = self.streams.borrow_mut().recv_in_flight(key, generation);
        if let Some(op) = in_flight {
            let cancel = opcode::AsyncCancel::new(OP_TAG | u64::from(op))
                .build()
                .user_data(CANCEL_TOKEN);
            if self.push(&cancel).is_ok() {
                // Cancelling a receive that waits completes at once; the bound only guards a kernel that
                // would not.
                let left = SETTLE_FOR.saturating_sub(started.elapsed());
                self.reap_while(left, (wake, registrations), |this| {
                    this.streams.borrow_mut().recv_in_flight(key, generation) == Some(op)
                });
            }
        }
        let mut streams = self.streams.borrow_mut();
        (
            streams.buffered(key, generation),
            streams.owes_sends(key, generation),
        )
    }

    /// Enters the ring and reaps, at most 10 ms at a time, while `waiting` says so and for at most `bound`: the
    /// loop waiting for its own operations outside a park (a wake it reaps meanwhile is remembered, invariant 8).
    fn reap_while(
        &self,
        bound: Duration,
        (wake, registrations): (&EventFd, &RefCell<Registrations>),
        mut waiting: impl FnMut(&Self) -> bool,
    ) {
        let deadline = Instant::now() + bound;
        while waiting(self) && Instant::now() < deadline {
            self.enter(Some(Duration::from_millis(10)));
            self.reap(wake, registrations);
        }
    }

    /// The stream `key` closes: its `recv` is cancelled and its unsent bytes still go (`streams.rs`
    /// invariant 2). Called by [`Reactor::deregister`](super::Reactor::deregister), before the descriptor
    /// closes; that call submits what this queued.
    pub(crate) fn close_stream(
        &self,
        key: u32,
        descriptor_open: bool,
        handoff: Option<HandoffSender>,
    ) {
        let mut out = self.out.borrow_mut();
        self.streams.borrow_mut().close(
            &mut self.ops.borrow_mut(),
            &mut out,
            key,
            (descriptor_open, handoff),
        );
        self.accepts.borrow_mut().close(&mut out, key);
        self.push_all(&mut out);
    }

    /// Starts a task's file operation (`read`/`write` at the file's cursor, `fsync`, `openat`, `statx`); returns its
    /// index in the op table, for [`poll_task`](Self::poll_task) and [`forget_task`](Self::forget_task).
    pub(crate) fn submit_file(&self, op: FileOp) -> u32 {
        // `-1`: the file's cursor, moved by the kernel as `read(2)`/`write(2)` would (IORING_FEAT_RW_CUR_POS).
        const CURSOR: u64 = u64::MAX;
        match op {
            FileOp::Read { file, mut buf, len } => {
                let len = len.min(MAX_TRANSFER);
                buf.reserve(len);
                let into = buf.spare_capacity_mut().as_mut_ptr().cast::<u8>();
                let entry = opcode::Read::new(types::Fd(file.as_raw_fd()), into, len as u32)
                    .offset(CURSOR)
                    .build();
                // SAFETY: the entry points into `buf`'s heap memory (given to the op table with it) and at
                // `file`'s descriptor, which `keep` holds open until the completion.
                unsafe { self.submit_task(entry, buf, Some(Box::new(file)), TaskKind::Read) }
            }
            FileOp::Write { file, buf } => {
                let fd = file.as_raw_fd();
                let len = buf.len().min(MAX_TRANSFER) as u32;
                let entry = opcode::Write::new(types::Fd(fd), buf.as_ptr(), len)
                    .offset(CURSOR)
                    .build();
                let kind = TaskKind::WriteAll { fd, written: 0 };
                // SAFETY: as for a read: `buf`'s heap memory, `file` kept open by `keep`.
                unsafe { self.submit_task(entry, buf, Some(Box::new(file)), kind) }
            }
            FileOp::Sync { file, data_only } => {
                let flags = if data_only {
                    types::FsyncFlags::DATASYNC
                } else {
                    types::FsyncFlags::empty()
                };
                let entry = opcode::Fsync::new(types::Fd(file.as_raw_fd()))
                    .flags(flags)
                    .build();
                // SAFETY: no memory; `file` kept open by `keep`.
                unsafe { self.submit_task(entry, Vec::new(), Some(Box::new(file)), TaskKind::Sync) }
            }
            FileOp::Open { path, flags, mode } => {
                let entry = opcode::OpenAt::new(types::Fd(libc::AT_FDCWD), path.as_ptr())
                    .flags(flags | libc::O_CLOEXEC)
                    .mode(mode)
                    .build();
                // SAFETY: the entry points into `path`'s heap memory, which `keep` holds; no descriptor.
                unsafe { self.submit_task(entry, Vec::new(), Some(Box::new(path)), TaskKind::Open) }
            }
            FileOp::Stat {
                path,
                file,
                flags,
                mask,
                mut buf,
            } => {
                let dirfd = file
                    .as_ref()
                    .map_or(libc::AT_FDCWD, |file| file.as_raw_fd());
                assert_eq!(buf.len(), std::mem::size_of::<libc::statx>());
                let into = buf.as_mut_ptr().cast::<types::statx>();
                let entry = opcode::Statx::new(types::Fd(dirfd), path.as_ptr(), into)
                    .flags(flags | libc::AT_STATX_SYNC_AS_STAT)
                    .mask(mask)
                    .build();
                // SAFETY: the entry points into `buf`'s heap memory (one `statx` long, checked above; the kernel
                // copies into it byte-wise, so its alignment does not matter) and into `path`'s, and at `file`'s
                // descriptor: `buf` goes to the op table, `path` and `file` into `keep`, all until the completion.
                unsafe {
                    self.submit_task(entry, buf, Some(Box::new((path, file))), TaskKind::Stat)
                }
            }
        }
    }

    /// Queues `entry` as a task's operation of `kind`, owning `buf` and `keep` until its final completion
    /// (invariant 6); returns its index. A ring that refuses the entry completes it with the error at once.
    ///
    /// # Safety
    ///
    /// `entry` points only into the heap memory of `buf` or of `keep` (which the op table keeps unmoved,
    /// ops invariant 1) and only at descriptors that `keep` holds open until the completion. Its `user_data`
    /// is set here.
    unsafe fn submit_task(
        &self,
        entry: squeue::Entry,
        buf: Vec<u8>,
        keep: Option<Box<dyn Any + Send>>,
        kind: TaskKind,
    ) -> u32 {
        let index = self.ops.borrow_mut().insert_task(buf, keep, kind);
        let entry = entry.user_data(OP_TAG | u64::from(index));
        if let Err(error) = self.push(&entry) {
            self.fail_op(&entry, error);
        }
        index
    }

    /// Polls the task operation `index`: its result (`-errno` on failure) and buffer once completed; an
    /// `openat`'s descriptor is owned from here on.
    pub(crate) fn poll_task(
        &self,
        index: u32,
        cx: &mut Context<'_>,
    ) -> Poll<(io::Result<usize>, Vec<u8>, Option<OwnedFd>)> {
        let mut done = std::task::ready!(self.ops.borrow_mut().poll_task(index, cx));
        drop(done.keep);
        if done.result < 0 {
            return Poll::Ready((
                Err(io::Error::from_raw_os_error(-done.result)),
                done.buf,
                None,
            ));
        }
        if done.kind == TaskKind::Read {
            let filled = done.buf.len() + done.result as usize;
            // SAFETY: the read was given the spare capacity after `len` (reserved for it, the buffer unchanged
            // since: ops invariant 1) and the kernel says it wrote `result` bytes there, so those are
            // initialized and within capacity.
            unsafe { done.buf.set_len(filled.min(done.buf.capacity())) };
        }
        let opened = (done.kind == TaskKind::Open).then(|| {
            // SAFETY: an `openat`'s result is a descriptor the kernel just made for this operation, collected
            // once (the slot is freed by this poll).
            unsafe { OwnedFd::from_raw_fd(done.result) }
        });
        Poll::Ready((Ok(done.result as usize), done.buf, opened))
    }

    /// The future awaiting the task operation `index` is gone: the operation is ignored (ops invariant 3) and,
    /// if it is a read or an `openat` still in flight, cancelled; a write is never cancelled (its bytes were
    /// promised, file invariant 3).
    pub(crate) fn forget_task(&self, index: u32) {
        let forgotten = self.ops.borrow_mut().forget_task(index);
        match forgotten {
            Forgotten::InFlight { cancel: true } => {
                let cancel = opcode::AsyncCancel::new(OP_TAG | u64::from(index))
                    .build()
                    .user_data(CANCEL_TOKEN);
                // If the ring refuses the cancel, the operation simply runs to its end.
                let _ = self.push(&cancel);
            }
            Forgotten::InFlight { cancel: false } => {}
            Forgotten::Freed { unclaimed_fd } => close_unclaimed(unclaimed_fd),
        }
    }

    /// Pushes `submissions` (and empties the list).
    fn push_all(&self, submissions: &mut Vec<Submit>) {
        for submission in submissions.drain(..) {
            let entry = {
                let ops = self.ops.borrow();
                match submission {
                    Submit::Recv {
                        op,
                        fd,
                        len,
                        poll_first,
                        from_ring,
                    } => {
                        let ioprio = if poll_first { RECVSEND_POLL_FIRST } else { 0 };
                        if from_ring {
                            // No memory of ours: the kernel picks a buffer of the ring (streams invariant 5).
                            opcode::Recv::new(types::Fd(fd), std::ptr::null_mut(), len as u32)
                                .buf_group(buf_ring::GROUP)
                                .ioprio(ioprio)
                                .build()
                                .flags(squeue::Flags::BUFFER_SELECT)
                                .user_data(OP_TAG | u64::from(op))
                        } else {
                            let buf = ops.buf(op);
                            let len = len.min(buf.len());
                            opcode::Recv::new(types::Fd(fd), buf.as_ptr().cast_mut(), len as u32)
                                .ioprio(ioprio)
                                .build()
                                .user_data(OP_TAG | u64::from(op))
                        }
                    }
                    Submit::Send { op, fd, offset } => {
                        let buf = &ops.buf(op)[offset..];
                        opcode::Send::new(types::Fd(fd), buf.as_ptr(), buf.len() as u32)
                            .flags(libc::MSG_NOSIGNAL | libc::MSG_WAITALL)
                            .build()
                            .user_data(OP_TAG | u64::from(op))
                    }
                    Submit::RecvMulti { op, fd } => {
                        opcode::RecvMulti::new(types::Fd(fd), buf_ring::GROUP)
                            .build()
                            .user_data(OP_TAG | u64::from(op))
                    }
                    Submit::AcceptMulti { op, fd } => opcode::AcceptMulti::new(types::Fd(fd))
                        .flags(libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC)
                        .build()
                        .user_data(OP_TAG | u64::from(op)),
                    Submit::Cancel { op } => opcode::AsyncCancel::new(OP_TAG | u64::from(op))
                        .build()
                        .user_data(CANCEL_TOKEN),
                }
            };
            if let Err(error) = self.push(&entry) {
                // The ring refused even after submitting: fail the operation as the kernel would have.
                self.fail_op(&entry, error);
            }
        }
    }

    /// An entry that could not be queued: completes its operation with the error, so no task waits forever.
    fn fail_op(&self, entry: &squeue::Entry, error: io::Error) {
        let token = entry.get_user_data();
        if token & (3 << 62) == OP_TAG {
            let errno = error.raw_os_error().unwrap_or(libc::EIO);
            self.op_completed(token, -errno, 0);
        }
    }

    /// Watches `fd` with a multishot poll whose completions carry `token`; submitted with the next park.
    pub(crate) fn watch(&self, fd: RawFd, token: u64) -> io::Result<()> {
        self.push(&poll_entry(fd, token))
    }

    /// Queues the cancel of the registration `token`'s poll; [`release`](Self::release) makes it final.
    pub(crate) fn cancel_watch(&self, token: u64) {
        // ASYNC_CANCEL, not POLL_REMOVE: a poll whose wake-up is being handled (with DEFER_TASKRUN, until the
        // next park) refuses a poll-remove with EALREADY and stays armed, keeping the socket's file open; a
        // cancel marks it and the kernel ends it as soon as that handling runs.
        let cancel = opcode::AsyncCancel::new(token)
            .build()
            .user_data(CANCEL_TOKEN);
        // If even that fails, the poll stays until the ring closes; its completions are stale (invariant 3).
        let _ = self.push(&cancel);
    }

    /// Submits the cancels and sends a closing socket queued, before its descriptor closes (invariant 3).
    pub(crate) fn release(&self) {
        if self.unsubmitted.get() > 0 {
            self.submit_and_run_completions();
        }
    }

    /// Submits what is queued and lets the kernel run the completion work it deferred (`DEFER_TASKRUN` runs
    /// it only when asked for events), without waiting: a cancelled poll lets go of its file now, so closing
    /// the descriptor right after closes the socket as it would on epoll (a listener dropped refuses
    /// connections at once). The completions wait in the queue for the next park.
    fn submit_and_run_completions(&self) {
        let zero = types::Timespec::new();
        let args = types::SubmitArgs::new().timespec(&zero);
        loop {
            match self.ring.borrow().submitter().submit_with_args(1, &args) {
                Ok(_) => break,
                Err(error) if error.raw_os_error() == Some(libc::ETIME) => break,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                // EBUSY/EAGAIN: the kernel is short of room for completions; the entries go with the next park.
                Err(_) => return,
            }
        }
        self.unsubmitted.set(0);
    }

    /// Queues `entry`, submitting a full queue first (invariant 2).
    fn push(&self, entry: &squeue::Entry) -> io::Result<()> {
        let mut ring = self.ring.borrow_mut();
        loop {
            // SAFETY: invariants 2 and 6: a poll or a cancel points at no memory of ours; a `recv`/`send` points
            // into its slot's buffer, which the op table keeps unmoved until the final completion (ops
            // invariant 1), or, taking a ring buffer (single or multishot), at none: the kernel picks one from
            // the buffer ring, which outlives the io_uring instance (`buf_ring.rs` invariant 1). The descriptor
            // an entry names is open (registrations invariant 2) or, if closed meanwhile, the stale completion
            // is ignored (invariant 3).
            if unsafe { ring.submission().push(entry) }.is_ok() {
                self.unsubmitted.set(self.unsubmitted.get() + 1);
                return Ok(());
            }
            match ring.submit() {
                Ok(_) => self.unsubmitted.set(0),
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
            }
        }
    }

    /// Submits what is queued without waiting.
    fn submit(&self) {
        loop {
            match self.ring.borrow().submit() {
                Ok(_) => {
                    self.unsubmitted.set(0);
                    return;
                }
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                // EBUSY/EAGAIN: the kernel is short of room for completions; the entries go with the next park.
                Err(_) => return,
            }
        }
    }

    /// One `io_uring_enter`: submits what is queued and waits for a completion for at most `timeout` (`None`:
    /// until one arrives), then hands the completions to `registrations`; returns how many I/O events (the
    /// loop's own wake-ups not counted) it received.
    pub(crate) fn park(
        &self,
        timeout: Option<Duration>,
        wake: &EventFd,
        registrations: &RefCell<Registrations>,
    ) -> u64 {
        self.rearm_ended(&registrations.borrow());
        self.submit_unsent();
        // A wake reaped since the last park was for work the loop may not have taken: look, don't sleep
        // (invariant 8).
        let timeout = match self.wake_reaped.replace(false) {
            true => Some(Duration::ZERO),
            false => timeout,
        };
        let entered = {
            let ring = self.ring.borrow();
            let submitter = ring.submitter();
            match timeout {
                None => submitter.submit_and_wait(1),
                Some(timeout) => {
                    // Rounded up to whole milliseconds, as the epoll backend does, so the loop never wakes
                    // before a timer is due.
                    let ms = timeout.as_nanos().div_ceil(1_000_000).min(u64::MAX as u128) as u64;
                    let timespec = types::Timespec::from(Duration::from_millis(ms));
                    let args = types::SubmitArgs::new().timespec(&timespec);
                    submitter.submit_with_args(1, &args)
                }
            }
        };
        match entered {
            Ok(_) => self.unsubmitted.set(0),
            Err(error) => match error.raw_os_error() {
                // The timeout passed, a signal arrived, or completions must be reaped first: not errors.
                Some(libc::ETIME) | Some(libc::EINTR) | Some(libc::EBUSY) | Some(libc::EAGAIN) => {}
                // Any other failure is a programming error (EBADF, EFAULT, EINVAL); never spin on one.
                _ => panic!("weft: io_uring_enter failed: {error}"),
            },
        }
        let events = self.reap(wake, registrations);
        // A wake reaped by the park itself ends it as it should: the loop takes its remote queue next.
        self.wake_reaped.set(false);
        events
    }

    /// Hands every completion to `registrations` and re-arms polls that ended (invariant 4).
    fn reap(&self, wake: &EventFd, registrations: &RefCell<Registrations>) -> u64 {
        let mut ring = self.ring.borrow_mut();
        let mut registrations = registrations.borrow_mut();
        let mut rearm = self.rearm.borrow_mut();
        let mut io_events = 0;
        let mut ops_done = std::mem::take(&mut *self.ops_done.borrow_mut());
        for completion in ring.completion() {
            let token = completion.user_data();
            let more = cqueue::more(completion.flags());
            match token {
                CANCEL_TOKEN => {}
                token if token & (3 << 62) == OP_TAG => {
                    io_events += 1;
                    ops_done.push((token, completion.result(), completion.flags()));
                }
                WAKE_TOKEN => {
                    wake.drain();
                    self.wake_reaped.set(true);
                    if !more {
                        rearm.push(WAKE_TOKEN);
                    }
                }
                token => {
                    io_events += 1;
                    if registrations.live_fd(token).is_none() {
                        continue; // invariant 3: a stale completion
                    }
                    let result = completion.result();
                    if result >= 0 {
                        registrations.dispatch(token, Ready::from_poll_bits(result as u32));
                        if !more {
                            rearm.push(token);
                        }
                    } else if result == -libc::ECANCELED {
                        rearm.push(token);
                    } else {
                        let failed = Ready::ERROR.union(Ready::READABLE).union(Ready::WRITABLE);
                        registrations.dispatch(token, failed);
                    }
                }
            }
        }
        drop(ring);
        drop(rearm);
        for (token, result, flags) in ops_done.drain(..) {
            self.op_completed(token, result, flags);
        }
        *self.ops_done.borrow_mut() = ops_done;
        self.rearm_ended(&registrations);
        io_events
    }

    /// The completion of the operation `token` (invariant 6).
    fn op_completed(&self, token: u64, result: i32, flags: u32) {
        let index = (token & !(3 << 62)) as u32;
        let more = cqueue::more(flags);
        let mut ops = self.ops.borrow_mut();
        let next = match ops.target_mut(index) {
            None => None,
            Some(&mut Target::Accept { key, generation }) => {
                let accepted = if result >= 0 {
                    // SAFETY: an accept's result is a descriptor the kernel just made for us; nothing else owns
                    // it (accepts invariant 1: owned at once, closed if its listener is gone).
                    Ok(unsafe { OwnedFd::from_raw_fd(result) })
                } else {
                    Err(-result)
                };
                if !more {
                    ops.complete(index);
                }
                drop(ops);
                let next =
                    self.accepts
                        .borrow_mut()
                        .accepted((key, generation), index, accepted, !more);
                if let Some(next) = next {
                    self.push_all(&mut vec![next]);
                }
                return;
            }
            Some(&mut Target::RecvMulti { key, generation }) => {
                if !more {
                    ops.complete(index);
                }
                drop(ops);
                let mut streams = self.streams.borrow_mut();
                self.take_ring_bytes(flags, result, |bytes| {
                    if result > 0 {
                        streams.receive(key, generation, bytes);
                    }
                });
                let next = streams.multishot_done((key, generation), index, result, !more);
                drop(streams);
                if let Some(next) = next {
                    self.push_all(&mut vec![next]);
                }
                return;
            }
            Some(_) if more => None, // only accepts and multishot recvs have more

            Some(Target::Task(_)) => match ops.finish_task(index, result) {
                Finished::Stays => None,
                Finished::Freed { unclaimed_fd } => {
                    drop(ops);
                    close_unclaimed(unclaimed_fd);
                    return;
                }
                Finished::WriteMore { fd, from } => {
                    let rest = &ops.buf(index)[from..];
                    let len = rest.len().min(MAX_TRANSFER) as u32;
                    // Pushed below: the slot's buffer stays unmoved (ops invariant 1) and its `keep` holds
                    // `fd` open, as when the write was first submitted.
                    let entry = opcode::Write::new(types::Fd(fd), rest.as_ptr(), len)
                        .offset(u64::MAX)
                        .build()
                        .user_data(OP_TAG | u64::from(index));
                    drop(ops);
                    if let Err(error) = self.push(&entry) {
                        self.fail_op(&entry, error);
                    }
                    return;
                }
            },
            Some(_) => {
                let Some((target, buffer)) = ops.complete(index) else {
                    return;
                };
                let mut streams = self.streams.borrow_mut();
                match target {
                    Target::Recv {
                        key,
                        generation,
                        len,
                    } => {
                        let from_ring = self.take_ring_bytes(flags, result, |bytes| {
                            streams.recv_copied((key, generation, len), result, bytes);
                        });
                        if !from_ring {
                            streams.recv_done((key, generation, len), result, buffer);
                        }
                        None
                    }
                    Target::Send {
                        key,
                        generation,
                        sent,
                    } => streams.send_done(&mut ops, (key, generation), sent, result, buffer),
                    Target::Linger { index, sent } => {
                        streams.linger_done(&mut ops, index, sent, result, buffer)
                    }
                    Target::Task(_) | Target::Accept { .. } | Target::RecvMulti { .. } => {
                        unreachable!("handled above")
                    }
                }
            }
        };
        drop(ops);
        if let Some(next) = next {
            self.push_all(&mut vec![next]);
        }
    }

    /// Hands the bytes of the ring buffer a `recv` completion names (in `flags`; `result` of them) to `take`,
    /// then gives the buffer back to the ring at once; false if the completion named no ring buffer.
    fn take_ring_bytes(&self, flags: u32, result: i32, take: impl FnOnce(&[u8])) -> bool {
        let Some(bid) = cqueue::buffer_select(flags) else {
            return false;
        };
        if let Some(Ok(buf_ring)) = self.buf_ring.borrow_mut().as_mut() {
            take(buf_ring.bytes(bid, result.max(0) as usize));
            buf_ring.give_back(bid);
        }
        true
    }

    /// Submits (with the next `io_uring_enter`) the bytes streams were given since the last park: one `send`
    /// per stream.
    fn submit_unsent(&self) {
        let mut out = self.out.borrow_mut();
        self.streams
            .borrow_mut()
            .submit_unsent(&mut self.ops.borrow_mut(), &mut out);
        self.push_all(&mut out);
    }

    /// One `io_uring_enter` that submits and waits up to `timeout` for a completion, errors ignored (for the
    /// bounded waits of `settle_stream` and `Drop`).
    fn enter(&self, timeout: Option<Duration>) {
        let ring = self.ring.borrow();
        let timespec = types::Timespec::from(timeout.unwrap_or(Duration::ZERO));
        let args = types::SubmitArgs::new().timespec(&timespec);
        if ring.submitter().submit_with_args(1, &args).is_ok() {
            self.unsubmitted.set(0);
        }
    }

    /// Re-arms the polls that ended (invariant 4), those of registrations still alive only; a token the queue
    /// cannot take now stays for the next park.
    fn rearm_ended(&self, registrations: &Registrations) {
        let mut rearm = self.rearm.borrow_mut();
        if rearm.is_empty() {
            return;
        }
        let mut kept = 0;
        for index in 0..rearm.len() {
            let token = rearm[index];
            let entry = match token {
                WAKE_TOKEN => wake_entry(self.wake_fd),
                // A registration may have gone, or stopped being watched, since its poll ended: nothing to
                // re-arm then (invariant 3).
                token => match registrations.watched_fd(token) {
                    Some(fd) => poll_entry(fd, token),
                    None => continue,
                },
            };
            if self.push(&entry).is_err() {
                rearm[kept] = token;
                kept += 1;
            }
        }
        rearm.truncate(kept);
    }
}

impl UringBackend {
    /// Handles the completions of operations only (for `Drop`, when readiness no longer matters).
    fn reap_ops_only(&self) {
        let done: Vec<(u64, i32, u32)> = self
            .ring
            .borrow_mut()
            .completion()
            .filter(|completion| completion.user_data() & (3 << 62) == OP_TAG)
            .map(|completion| {
                (
                    completion.user_data(),
                    completion.result(),
                    completion.flags(),
                )
            })
            .collect();
        for (token, result, flags) in done {
            self.op_completed(token, result, flags);
        }
    }
}

impl Drop for UringBackend {
    /// Sends what streams still owe (`streams.rs` invariant 2) before the ring closes (closing it cancels every
    /// operation in flight), for at most [`DRAIN_SENDS_FOR`]: a peer that reads nothing cannot hold the loop.
    fn drop(&mut self) {
        self.submit_unsent();
        let deadline = Instant::now() + DRAIN_SENDS_FOR;
        let in_flight = |ops: &Ops| ops.sends_in_flight() + ops.tasks_in_flight();
        while in_flight(&self.ops.borrow()) > 0 && Instant::now() < deadline {
            self.enter(Some(Duration::from_millis(20)));
            self.reap_ops_only();
        }
        // Every other operation is cancelled and waited for, so the buffer ring can be unregistered and freed
        // (buf_ring invariant 1); if the kernel held on to any, the ring's memory is leaked rather than freed
        // under it.
        let cancel_all = opcode::AsyncCancel2::new(types::CancelBuilder::any())
            .build()
            .user_data(CANCEL_TOKEN);
        let _ = self.push(&cancel_all);
        let deadline = Instant::now() + Duration::from_secs(1);
        while self.ops.borrow().len() > 0 && Instant::now() < deadline {
            self.enter(Some(Duration::from_millis(20)));
            self.reap_ops_only();
        }
        if let Some(Ok(buf_ring)) = self.buf_ring.get_mut().take() {
            let unregistered = self
                .ring
                .borrow()
                .submitter()
                .unregister_buf_ring(buf_ring::GROUP);
            if self.ops.borrow().len() > 0 || unregistered.is_err() {
                std::mem::forget(buf_ring);
            }
        }
        if self.ops.borrow().tasks_in_flight() > 0 {
            // A file operation the kernel has not finished (a read of a FIFO nobody writes): its memory must
            // outlive the ring's teardown, so it is leaked rather than freed under the kernel (invariant 6).
            std::mem::forget(std::mem::take(self.ops.get_mut()));
        }
    }
}

/// Closes the descriptor an `openat` made for a task that is gone.
fn close_unclaimed(fd: Option<RawFd>) {
    if let Some(fd) = fd {
        // SAFETY: the op table hands out an `openat`'s descriptor once, either to its task or here when the
        // task is gone (ops `Finished::Freed`/`Forgotten::Freed`); nothing else owns it.
        drop(unsafe { OwnedFd::from_raw_fd(fd) });
    }
}

/// Whether streams can read and write through `recv`/`send` operations: the kernel must retry a `send` with
/// `MSG_WAITALL` until all of it is sent (Linux 5.19). `SEND_ZC` (6.0) stands for that release.
fn supports_completion_streams(ring: &IoUring) -> bool {
    let mut probe = Probe::new();
    ring.submitter().register_probe(&mut probe).is_ok()
        && probe.is_supported(opcode::SendZc::CODE)
        && std::env::var_os("WEFT_URING_STREAMS").is_none_or(|value| value != "poll")
}

/// A multishot poll of `fd` for [`POLL_MASK`], its completions carrying `token`.
fn poll_entry(fd: RawFd, token: u64) -> squeue::Entry {
    opcode::PollAdd::new(types::Fd(fd), POLL_MASK)
        .multi(true)
        .build()
        .user_data(token)
}

/// The eventfd's multishot poll: readable only (reading it wakes writers with `POLLOUT`, which would end every
/// park at once).
fn wake_entry(fd: RawFd) -> squeue::Entry {
    opcode::PollAdd::new(types::Fd(fd), libc::POLLIN as u32)
        .multi(true)
        .build()
        .user_data(WAKE_TOKEN)
}

/// Sets up the ring: `SINGLE_ISSUER | DEFER_TASKRUN` (6.1), else `COOP_TASKRUN` (5.19), else plain.
fn setup() -> io::Result<IoUring> {
    let mut builder = IoUring::builder();
    builder
        .setup_cqsize(COMPLETION_ENTRIES)
        .setup_single_issuer()
        .setup_defer_taskrun();
    match builder.build(SUBMISSION_ENTRIES) {
        Err(error) if error.raw_os_error() == Some(libc::EINVAL) => {}
        result => return result,
    }
    let mut builder = IoUring::builder();
    builder
        .setup_cqsize(COMPLETION_ENTRIES)
        .setup_coop_taskrun();
    match builder.build(SUBMISSION_ENTRIES) {
        Err(error) if error.raw_os_error() == Some(libc::EINVAL) => {}
        result => return result,
    }
    IoUring::builder()
        .setup_cqsize(COMPLETION_ENTRIES)
        .build(SUBMISSION_ENTRIES)
}

/// Adds to a setup failure what the system says about it (`kernel.io_uring_disabled`).
fn explain_setup_error(error: io::Error) -> io::Error {
    let disabled = std::fs::read_to_string("/proc/sys/kernel/io_uring_disabled")
        .ok()
        .and_then(|text| text.trim().parse::<u32>().ok())
        .filter(|&value| value != 0);
    let reason = match (error.raw_os_error(), disabled) {
        (_, Some(value)) => format!("io_uring_setup: {error}; kernel.io_uring_disabled = {value}"),
        (Some(libc::ENOSYS), None) => {
            format!("io_uring_setup: {error}; this kernel has no io_uring")
        }
        (Some(libc::EPERM), None) => {
            format!("io_uring_setup: {error}; denied by a seccomp filter or container policy")
        }
        _ => format!("io_uring_setup: {error}"),
    };
    io::Error::new(error.kind(), reason)
}

/// Checks that the kernel has what this backend uses: a timeout on `io_uring_enter` (`EXT_ARG`, 5.11), no
/// dropped completions (`NODROP`, 5.5), multishot polls (5.13; `RSRC_TAGS`, new in the same release, stands for
/// them) and the poll opcodes (`IORING_REGISTER_PROBE`).
fn check_features(ring: &IoUring) -> io::Result<()> {
    let params = ring.params();
    let missing = if !params.is_feature_ext_arg() {
        Some("IORING_FEAT_EXT_ARG (Linux 5.11)")
    } else if !params.is_feature_nodrop() {
        Some("IORING_FEAT_NODROP (Linux 5.5)")
    } else if !params.is_feature_resource_tagging() {
        Some("multishot poll (Linux 5.13)")
    } else {
        let mut probe = Probe::new();
        ring.submitter().register_probe(&mut probe)?;
        if !probe.is_supported(opcode::PollAdd::CODE) {
            Some("the POLL_ADD operation")
        } else if !probe.is_supported(opcode::AsyncCancel::CODE) {
            Some("the ASYNC_CANCEL operation")
        } else {
            None
        }
    };
    match missing {
        Some(what) => Err(io::Error::new(
            io::ErrorKind::Unsupported,
            format!("this kernel's io_uring lacks {what}"),
        )),
        None => Ok(()),
    }
}
