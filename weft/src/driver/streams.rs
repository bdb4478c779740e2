//! Completion I/O for connected stream sockets on io_uring: what each stream has received and not yet handed
//! out, what it was asked to send and has not yet sent, and the operations that move the bytes.
//!
//! A read that finds nothing received submits one `recv` and waits: with the loop's buffer ring, the kernel
//! puts the bytes in a ring buffer and they are copied to the stream's received bytes (nothing is lent while
//! the stream waits); without one, into the stream's own buffer. The next read copies them out. A write copies
//! the caller's bytes into the stream's unsent buffer and returns at once; every unsent buffer goes out as
//! **one** `send` per stream just before the loop enters the ring (send batching: many writes of one turn, one
//! operation, and no system call of their own). At most one `send` per stream is in flight, so bytes leave in
//! the order they were written.
//!
//! # Invariants
//!
//! 1. A stream's received bytes belong to the stream, not to the read that asked: a read future dropped while
//!    its `recv` is in flight loses nothing, the next read returns those bytes first. A stream used on another
//!    loop takes them along: its new loop's reads wait for a [`Handoff`] from the old loop, which cancels its
//!    `recv`, waits out its last completion and passes on what it received and had not handed out. Every path
//!    completes the handoff (a dropped sender completes it empty), so a read never waits for it forever.
//! 2. A write that returned `Ok(n)` has its `n` bytes sent, in order, unless the connection fails — and a failure
//!    is returned by every later write and flush. A stream closed with bytes unsent still sends them:
//!    [`Streams::close`] submits them, or, when a `send` is already in flight (the order must hold), keeps a
//!    duplicate of the descriptor ([`Lingering`]) until the last one completes.
//! 3. The unsent bytes and those in flight stay under [`SEND_WINDOW`]; a write beyond it waits (back-pressure).
//! 4. A stream's state is keyed by its registration key and generation; a completion for a closed stream (its
//!    key reused or vacant) only frees its operation's slot.
//! 5. With the loop's buffer ring, a stream lends no memory to a `recv` that waits (the kernel takes a ring
//!    buffer when bytes arrive; they are copied to the stream and the buffer goes back at once), and a stream
//!    whose received bytes were all read keeps at most [`KEEP_RECEIVED`] bytes of buffer. A stream whose bytes
//!    were all sent keeps no send buffer. Larger emptied buffers go to the loop's spares (at most [`SPARE_BYTES`]
//!    in all; the rest is freed), so an idle connection costs no buffer memory beyond that. Without a ring, the
//!    stream's own buffer is lent to each `recv`.

#![forbid(unsafe_code)]

use std::io::{self, IoSlice};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use super::buf_ring;
use super::ops::{Ops, Submit, Target};
use super::store_waker;

/// Unsent bytes plus bytes in flight, per stream (invariant 3).
pub(crate) const SEND_WINDOW: usize = 128 * 1024;

/// The largest single `recv`.
const MAX_RECV: usize = 64 * 1024;

/// A stream whose reads waited this many times reads in a loop: its next `recv` is a multishot one.
const MULTISHOT_AFTER: u8 = 2;

/// Received bytes a stream may hold unread before its multishot `recv` is stopped (back-pressure: the kernel's
/// receive buffer and the peer's window hold the rest).
const MAX_BUFFERED: usize = 256 * 1024;

/// A stream whose received bytes were all read keeps its receive buffer only up to this capacity; a larger one
/// is freed, so an idle stream holds at most this much (invariant 5).
const KEEP_RECEIVED: usize = 1024;

/// Emptied send and receive buffers kept for reuse, per loop: at most this many bytes of capacity in all.
const SPARE_BYTES: usize = 256 * 1024;

/// Emptied buffers kept for the next write or receive, so a busy stream does not allocate per message, bounded
/// by [`SPARE_BYTES`] so the loop does not hoard what idle streams gave back (invariant 5).
#[derive(Debug, Default)]
struct Spares {
    /// The buffers, empty.
    buffers: Vec<Vec<u8>>,
    /// The sum of their capacities.
    bytes: usize,
}

impl Spares {
    /// A spare buffer, if any.
    fn take(&mut self) -> Option<Vec<u8>> {
        let buffer = self.buffers.pop()?;
        self.bytes -= buffer.capacity();
        Some(buffer)
    }

    /// Keeps `buffer`, emptied, if it fits in the bound; else frees it.
    fn keep(&mut self, mut buffer: Vec<u8>) {
        if self.bytes + buffer.capacity() <= SPARE_BYTES {
            buffer.clear();
            self.bytes += buffer.capacity();
            self.buffers.push(buffer);
        }
    }

    /// How many buffers are kept.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.buffers.len()
    }
}

/// One stream's state.
#[derive(Debug)]
struct StreamIo {
    /// The registration's generation (invariant 4).
    generation: u32,
    /// The descriptor, open while the stream is (registrations invariant 2).
    fd: RawFd,
    /// The receive buffer; empty while it is lent to a `recv` in flight.
    received: Vec<u8>,
    /// Where the bytes not yet handed out start and end in `received`.
    read_at: usize,
    read_end: usize,
    /// The `recv` in flight.
    recv_op: Option<u32>,
    /// End of stream was received.
    eof: bool,
    /// The last `recv` came back short: the socket's queue was drained.
    drained: bool,
    /// Reads that had to wait for a `recv`, counted up to [`MULTISHOT_AFTER`].
    waits: u8,
    /// Its cancel was pushed (back-pressure); it ends soon.
    stopping: bool,
    /// The `recv` failed with this `errno` (returned once, like a system call's).
    read_error: Option<i32>,
    /// The task waiting to read.
    reader: Option<Waker>,
    /// Bytes written and not yet submitted.
    unsent: Vec<u8>,
    /// The `send` in flight and how many bytes it carries.
    send_op: Option<u32>,
    in_flight: usize,
    /// The connection failed with this `errno`: every later write fails with it (invariant 2).
    write_error: Option<i32>,
    /// Written bytes were dropped unsent because of `write_error`: flush fails too.
    bytes_lost: bool,
    /// The task waiting for room or for a flush.
    writer: Option<Waker>,
    /// The stream is in [`Streams::flush`].
    queued: bool,
    /// `shutdown(Write)` waits for the unsent bytes to go first.
    shutdown_when_sent: bool,
    /// The write side was shut down: writes fail with `EPIPE`, as the system call would.
    write_shut: bool,
    /// Bytes the stream's previous loop received, not yet passed on: reads wait for them (invariant 1).
    handoff: Option<Arc<Handoff>>,
    /// This loop passes the stream's leftovers to its next loop once its `recv` has ended.
    handing: Option<HandoffSender>,
}

impl StreamIo {
    /// Puts `buffer` (from `offset` on, `sent` bytes of it gone already) in flight as this stream's one `send`.
    fn start_send(&mut self, ops: &mut Ops, (key, sent): (u32, usize), buffer: Vec<u8>) -> Submit {
        if sent == 0 {
            self.in_flight = buffer.len();
        }
        let op = ops.insert(
            Target::Send {
                key,
                generation: self.generation,
                sent,
            },
            buffer,
        );
        self.send_op = Some(op);
        Submit::Send {
            op,
            fd: self.fd,
            offset: sent,
        }
    }

    /// Makes room for `more` received bytes: a stream holding no buffer takes a spare one first, if they do not
    /// fit the small buffer it would grow (invariant 5).
    fn room_for(&mut self, more: usize, spare: &mut Spares) {
        if self.received.capacity() == 0 && more > KEEP_RECEIVED {
            if let Some(buffer) = spare.take() {
                self.received = buffer;
            }
        }
    }

    /// A `recv` came back with `result` (bytes already stored when positive, else `0` for end of stream or
    /// `-errno`): records how the stream ended or failed and wakes its reader.
    fn receive_ended(&mut self, result: i32) {
        match result {
            n if n > 0 => {}
            0 => self.eof = true,
            // Out of ring buffers, cancelled (back-pressure, `into_std`) or interrupted: nothing arrived, the
            // next read asks again.
            e if [libc::ENOBUFS, libc::ECANCELED, libc::EINTR, libc::EAGAIN].contains(&-e) => {}
            e => {
                self.read_error = Some(-e);
                // A dead connection fails writes too, at once: the bytes would have nowhere to go.
                if matches!(-e, libc::ECONNRESET | libc::ETIMEDOUT | libc::EPIPE) {
                    self.write_error = Some(-e);
                    self.bytes_lost |= !self.unsent.is_empty();
                    self.unsent.clear();
                }
            }
        }
        if let Some(waker) = self.reader.take() {
            waker.wake();
        }
    }
}

/// What a stream received on one loop and had not handed out, passed to the loop it moved to (invariant 1).
#[derive(Debug, Default)]
pub(crate) struct Handoff(Mutex<HandoffState>);

/// The state of a [`Handoff`].
#[derive(Debug, Default)]
struct HandoffState {
    /// The old loop has passed everything on.
    done: bool,
    /// Bytes received and not handed out.
    bytes: Vec<u8>,
    /// End of stream had been received.
    eof: bool,
    /// A receive had failed with this `errno`.
    error: Option<i32>,
    /// The new loop's reader, waiting.
    waker: Option<Waker>,
}

impl Handoff {
    /// Passes `bytes` (and how the stream ended, if it did) on; wakes the waiting reader.
    fn complete(&self, bytes: Vec<u8>, eof: bool, error: Option<i32>) {
        let waker = {
            let mut state = self
                .0
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if state.done {
                return;
            }
            state.done = true;
            state.bytes = bytes;
            state.eof = eof;
            state.error = error;
            state.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// What the old loop passed on, once it has.
    fn poll_take(&self, cx: &mut Context<'_>) -> Poll<(Vec<u8>, bool, Option<i32>)> {
        let mut state = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if state.done {
            return Poll::Ready((
                std::mem::take(&mut state.bytes),
                state.eof,
                state.error.take(),
            ));
        }
        state.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

/// The old loop's side of a [`Handoff`]: completes it (empty) if dropped before it did, so the new loop's reader
/// never waits forever (a loop that shut down with the message unread).
#[derive(Debug)]
pub(crate) struct HandoffSender(pub(crate) Arc<Handoff>);

impl HandoffSender {
    /// Passes the stream's leftovers on.
    fn send(self, bytes: Vec<u8>, eof: bool, error: Option<i32>) {
        self.0.complete(bytes, eof, error);
    }
}

impl Drop for HandoffSender {
    fn drop(&mut self) {
        self.0.complete(Vec::new(), false, None);
    }
}

/// A closed stream still sending what it was given (invariant 2).
#[derive(Debug)]
struct Lingering {
    /// A duplicate of the closed stream's descriptor.
    fd: OwnedFd,
    /// Bytes to send once the `send` in flight completes.
    unsent: Vec<u8>,
}

/// Every stream of one loop that reads or writes through completions.
#[derive(Debug)]
pub(crate) struct Streams {
    /// Stream states by registration key.
    by_key: Vec<Option<StreamIo>>,
    /// Keys of streams with unsent bytes, to submit before the next park.
    flush: Vec<(u32, u32)>,
    /// Closed streams still sending.
    lingering: Vec<Option<Lingering>>,
    /// Emptied send and receive buffers to reuse (none is held by an idle stream: invariant 5).
    spare: Spares,
    /// A write with nothing queued goes to the kernel at once (`send(2)`), not with the next park
    /// (`WEFT_URING_SENDS=eager`, for comparisons: batching measured 3–7 % less server CPU per message).
    eager: bool,
}

impl Default for Streams {
    fn default() -> Streams {
        Streams {
            by_key: Vec::new(),
            flush: Vec::new(),
            lingering: Vec::new(),
            spare: Spares::default(),
            eager: std::env::var_os("WEFT_URING_SENDS").is_some_and(|mode| mode == "eager"),
        }
    }
}

impl Streams {
    /// Whether sends wait to be submitted or closed streams are still sending.
    pub(crate) fn busy(&self) -> bool {
        !self.flush.is_empty() || self.lingering.iter().any(Option::is_some)
    }

    /// The state of the stream `key` at `generation`, created on first use.
    fn stream(&mut self, key: u32, generation: u32, fd: RawFd) -> &mut StreamIo {
        let index = key as usize;
        if self.by_key.len() <= index {
            self.by_key.resize_with(index + 1, || None);
        }
        let slot = &mut self.by_key[index];
        if !matches!(slot, Some(stream) if stream.generation == generation) {
            *slot = Some(StreamIo {
                generation,
                fd,
                received: Vec::new(),
                read_at: 0,
                read_end: 0,
                recv_op: None,
                eof: false,
                drained: false,
                waits: 0,
                stopping: false,
                read_error: None,
                reader: None,
                unsent: Vec::new(),
                send_op: None,
                in_flight: 0,
                write_error: None,
                bytes_lost: false,
                writer: None,
                queued: false,
                shutdown_when_sent: false,
                write_shut: false,
                handoff: None,
                handing: None,
            });
        }
        slot.as_mut().expect("just filled")
    }

    /// The live stream `key` at `generation`, if any (invariant 4).
    fn live(&mut self, key: u32, generation: u32) -> Option<&mut StreamIo> {
        self.live_with_spare(key, generation)
            .map(|(stream, _)| stream)
    }

    /// [`live`](Self::live), with the spare buffers beside it.
    fn live_with_spare(
        &mut self,
        key: u32,
        generation: u32,
    ) -> Option<(&mut StreamIo, &mut Spares)> {
        let stream = self
            .by_key
            .get_mut(key as usize)?
            .as_mut()
            .filter(|stream| stream.generation == generation)?;
        Some((stream, &mut self.spare))
    }

    /// Reads (or, without `consume`, peeks) into `buf`: received bytes first (invariant 1), else one `recv` of
    /// up to `buf.len()` bytes is submitted and the task waits for it — or, for a stream that reads in a loop
    /// when the loop has a buffer ring (`multishot`), one multishot `recv` that keeps filling the stream.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn poll_read(
        &mut self,
        ops: &mut Ops,
        out: &mut Vec<Submit>,
        (key, generation, fd): (u32, u32, RawFd),
        cx: &mut Context<'_>,
        buf: &mut [u8],
        (consume, multishot): (bool, bool),
    ) -> Poll<io::Result<usize>> {
        let stream = self.stream(key, generation, fd);
        if let Some(handoff) = &stream.handoff {
            let (bytes, eof, error) = std::task::ready!(handoff.poll_take(cx));
            stream.handoff = None;
            if !bytes.is_empty() {
                stream.read_end = bytes.len();
                stream.read_at = 0;
                stream.received = bytes;
            }
            stream.eof |= eof;
            stream.read_error = stream.read_error.or(error);
        }
        if stream.read_at < stream.read_end {
            let n = buf.len().min(stream.read_end - stream.read_at);
            buf[..n].copy_from_slice(&stream.received[stream.read_at..stream.read_at + n]);
            if consume {
                stream.read_at += n;
                if stream.read_at == stream.read_end && multishot {
                    // Drained, and the next bytes are copied in from the ring: they land at the start again,
                    // in a buffer the stream keeps only if it is small (invariant 5).
                    stream.read_at = 0;
                    stream.read_end = 0;
                    stream.received.clear();
                    if stream.received.capacity() > KEEP_RECEIVED {
                        let buffer = std::mem::take(&mut stream.received);
                        self.spare.keep(buffer);
                    }
                }
            }
            return Poll::Ready(Ok(n));
        }
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        if let Some(errno) = stream.read_error.take() {
            return Poll::Ready(Err(io::Error::from_raw_os_error(errno)));
        }
        if stream.eof {
            return Poll::Ready(Ok(0));
        }
        if stream.recv_op.is_none() && multishot && stream.waits >= MULTISHOT_AFTER {
            let op = ops.insert(Target::RecvMulti { key, generation }, Vec::new());
            stream.recv_op = Some(op);
            out.push(Submit::RecvMulti { op, fd });
        } else if stream.recv_op.is_none() {
            stream.waits = stream.waits.saturating_add(1);
            let want = buf.len().min(MAX_RECV);
            // With the loop's buffer ring, the `recv` takes a ring buffer only when bytes arrive: a stream
            // waiting for its peer lends nothing (invariant 5). Without it, the stream's own buffer is lent.
            let (len, buffer) = if multishot {
                (want.min(buf_ring::BUFFER_SIZE), Vec::new())
            } else {
                let mut buffer = std::mem::take(&mut stream.received);
                if buffer.len() < want {
                    buffer.resize(want, 0);
                }
                // Never more than the caller can take at once: the buffer keeps its length (no zeroing next
                // time), the `recv` asks for `want` bytes only.
                (want, buffer)
            };
            let op = ops.insert(
                Target::Recv {
                    key,
                    generation,
                    len,
                },
                buffer,
            );
            stream.recv_op = Some(op);
            out.push(Submit::Recv {
                op,
                fd,
                len,
                poll_first: stream.drained,
                from_ring: multishot,
            });
        }
        store_waker(&mut stream.reader, cx);
        Poll::Pending
    }

    /// Copies as much of `bufs` as the window allows into the unsent bytes (invariant 3) and queues the stream
    /// for the next submission.
    pub(crate) fn poll_write(
        &mut self,
        (key, generation, fd): (u32, u32, RawFd),
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.stream(key, generation, fd);
        let spare = &mut self.spare;
        let by_flush = &mut self.flush;
        let stream = self.by_key[key as usize].as_mut().expect("created above");
        if let Some(errno) = stream.write_error {
            return Poll::Ready(Err(io::Error::from_raw_os_error(errno)));
        }
        if stream.write_shut {
            return Poll::Ready(Err(io::Error::from_raw_os_error(libc::EPIPE)));
        }
        let want: usize = bufs.iter().map(|buf| buf.len()).sum();
        if want == 0 {
            return Poll::Ready(Ok(0));
        }
        let mut sent = 0;
        if self.eager && stream.unsent.is_empty() && stream.send_op.is_none() {
            // Nothing queued: the bytes go to the kernel now, as with readiness — a write that returned is in
            // the kernel, and a closed peer fails this very write. Only what the socket cannot take is queued.
            match crate::sys::socket::send_vectored_to(stream.fd, bufs) {
                Ok(n) if n == want => return Poll::Ready(Ok(n)),
                Ok(n) => sent = n,
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Poll::Ready(Err(error)),
            }
        }
        let room = SEND_WINDOW.saturating_sub(stream.unsent.len() + stream.in_flight);
        if room == 0 {
            store_waker(&mut stream.writer, cx);
            return Poll::Pending;
        }
        if stream.unsent.capacity() == 0 {
            if let Some(buffer) = spare.take() {
                stream.unsent = buffer;
            }
        }
        let mut left = room;
        let mut skip = sent;
        for buf in bufs {
            if skip >= buf.len() {
                skip -= buf.len(); // sent already
                continue;
            }
            let buf = &buf[skip..];
            skip = 0;
            let n = buf.len().min(left);
            stream.unsent.extend_from_slice(&buf[..n]);
            left -= n;
            if left == 0 {
                break;
            }
        }
        if !stream.queued {
            stream.queued = true;
            by_flush.push((key, generation));
        }
        Poll::Ready(Ok(sent + room - left))
    }

    /// Waits until every byte written has been sent (or returns the error that stopped it).
    pub(crate) fn poll_flush(
        &mut self,
        key: u32,
        generation: u32,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        let Some(stream) = self.live(key, generation) else {
            return Poll::Ready(Ok(()));
        };
        if let (Some(errno), true) = (stream.write_error, stream.bytes_lost) {
            return Poll::Ready(Err(io::Error::from_raw_os_error(errno)));
        }
        if stream.unsent.is_empty() && stream.send_op.is_none() {
            return Poll::Ready(Ok(()));
        }
        store_waker(&mut stream.writer, cx);
        Poll::Pending
    }

    /// `shutdown(Write)` asked: later writes fail; `true` if bytes are still to send, so the shutdown happens
    /// after them (the caller shuts down at once otherwise).
    pub(crate) fn shutdown_after_sends(&mut self, key: u32, generation: u32, fd: RawFd) -> bool {
        let stream = self.stream(key, generation, fd);
        stream.write_shut = true;
        if !stream.unsent.is_empty() || stream.send_op.is_some() {
            stream.shutdown_when_sent = true;
            return true;
        }
        false
    }

    /// The stream `key`, registered here after it moved from another loop, reads what that loop passes on first.
    pub(crate) fn expect_handoff(
        &mut self,
        (key, generation, fd): (u32, u32, RawFd),
        handoff: Arc<Handoff>,
    ) {
        self.stream(key, generation, fd).handoff = Some(handoff);
    }

    /// The stream `key` moved away and its `recv` was cancelled: passes on what it holds now (whatever its `recv`
    /// brought in before it ended) and forgets it. Returns whether the `recv` had ended (if not, bytes it brings
    /// later are lost: the kernel did not run the cancel at once).
    pub(crate) fn finish_handoff(&mut self, key: u32) -> bool {
        let Some(slot) = self.by_key.get_mut(key as usize) else {
            return true;
        };
        if slot.as_ref().is_none_or(|stream| stream.handing.is_none()) {
            return true;
        }
        let mut stream = slot.take().expect("checked above");
        let ended = stream.recv_op.is_none();
        let bytes =
            stream.received[stream.read_at..stream.read_end.min(stream.received.len())].to_vec();
        if let Some(handing) = stream.handing.take() {
            handing.send(bytes, stream.eof, stream.read_error);
        }
        ended
    }

    /// Whether the stream `key`, moving away, still waits for its `recv`'s last completion.
    pub(crate) fn handing_awaits_recv(&self, key: u32) -> bool {
        self.by_key
            .get(key as usize)
            .and_then(Option::as_ref)
            .is_some_and(|stream| stream.handing.is_some() && stream.recv_op.is_some())
    }

    /// Bytes received and not yet handed out by the stream `key`.
    pub(crate) fn buffered(&mut self, key: u32, generation: u32) -> usize {
        self.live(key, generation)
            .map_or(0, |stream| stream.read_end - stream.read_at)
    }

    /// Whether the stream `key` has bytes written and not yet sent.
    pub(crate) fn owes_sends(&mut self, key: u32, generation: u32) -> bool {
        self.live(key, generation)
            .is_some_and(|stream| !stream.unsent.is_empty() || stream.send_op.is_some())
    }

    /// The `recv` in flight of the stream `key`, if any.
    pub(crate) fn recv_in_flight(&mut self, key: u32, generation: u32) -> Option<u32> {
        self.live(key, generation)?.recv_op
    }

    /// Submits the unsent bytes of every queued stream that has no `send` in flight (one `send` each).
    pub(crate) fn submit_unsent(&mut self, ops: &mut Ops, out: &mut Vec<Submit>) {
        let queued = std::mem::take(&mut self.flush);
        for &(key, generation) in &queued {
            let Some(stream) = self.live(key, generation) else {
                continue;
            };
            stream.queued = false;
            if stream.send_op.is_some() || stream.unsent.is_empty() {
                // The completion of the send in flight submits the rest.
                continue;
            }
            // The stream keeps no buffer meanwhile: its next write takes a spare one (invariant 5).
            let buffer = std::mem::take(&mut stream.unsent);
            out.push(stream.start_send(ops, (key, 0), buffer));
        }
        let mut queued = queued;
        queued.clear();
        if self.flush.is_empty() {
            self.flush = queued;
        }
    }

    /// The `recv` `op` of the stream `key` completed with `result`, into `buffer`.
    pub(crate) fn recv_done(
        &mut self,
        (key, generation, requested): (u32, u32, usize),
        result: i32,
        buffer: Vec<u8>,
    ) {
        let Some(stream) = self.live(key, generation) else {
            return; // invariant 4: the stream is gone, the buffer with it
        };
        stream.recv_op = None;
        stream.received = buffer;
        stream.read_at = 0;
        stream.read_end = 0;
        match result {
            n if n > 0 => {
                stream.read_end = n as usize;
                stream.drained = stream.read_end < requested;
            }
            _ => {}
        }
        stream.receive_ended(result);
    }

    /// The `recv` `op` of the stream `key` that took a ring buffer completed with `result`; `bytes` are what it
    /// received (copied here, the ring buffer goes back right after).
    pub(crate) fn recv_copied(
        &mut self,
        (key, generation, requested): (u32, u32, usize),
        result: i32,
        bytes: &[u8],
    ) {
        let Some((stream, spare)) = self.live_with_spare(key, generation) else {
            return; // invariant 4
        };
        stream.recv_op = None;
        // A `recv` is submitted only when nothing received is left unread.
        stream.received.clear();
        stream.room_for(bytes.len(), spare);
        stream.received.extend_from_slice(bytes);
        stream.read_at = 0;
        stream.read_end = bytes.len();
        if result > 0 {
            stream.drained = bytes.len() < requested;
        }
        stream.receive_ended(result);
    }

    /// Appends `bytes`, received by a multishot `recv`, to the stream `(key, generation)` if it is live.
    pub(crate) fn receive(&mut self, key: u32, generation: u32, bytes: &[u8]) {
        if let Some((stream, spare)) = self.live_with_spare(key, generation) {
            stream.received.truncate(stream.read_end);
            stream.room_for(bytes.len(), spare);
            stream.received.extend_from_slice(bytes);
            stream.read_end = stream.received.len();
        }
    }

    /// A completion of the multishot `recv` `op` of the stream `(key, generation)`, its bytes (if any) already
    /// appended by [`receive`](Self::receive); `last` says the operation ended. Returns a cancel
    /// when the stream holds [`MAX_BUFFERED`] bytes unread.
    pub(crate) fn multishot_done(
        &mut self,
        (key, generation): (u32, u32),
        op: u32,
        result: i32,
        last: bool,
    ) -> Option<Submit> {
        let stream = self.live(key, generation)?;
        if last && stream.recv_op == Some(op) {
            stream.recv_op = None;
            stream.stopping = false;
        }
        stream.receive_ended(result);
        match stream.recv_op {
            Some(op)
                if !last
                    && !stream.stopping
                    && stream.read_end - stream.read_at >= MAX_BUFFERED =>
            {
                stream.stopping = true;
                Some(Submit::Cancel { op })
            }
            _ => None,
        }
    }

    /// The `send` `op` of the stream `key` completed with `result`; `sent` bytes of `buffer` had gone before.
    /// Returns a submission for the rest of a short send or for the bytes written meanwhile.
    pub(crate) fn send_done(
        &mut self,
        ops: &mut Ops,
        (key, generation): (u32, u32),
        sent: usize,
        result: i32,
        buffer: Vec<u8>,
    ) -> Option<Submit> {
        let spare = &mut self.spare;
        let stream = self
            .by_key
            .get_mut(key as usize)?
            .as_mut()
            .filter(|stream| stream.generation == generation)?;
        stream.send_op = None;
        if let Some(waker) = stream.writer.take() {
            waker.wake();
        }
        if result < 0 && result != -libc::EINTR && result != -libc::EAGAIN {
            stream.write_error = Some(-result);
            stream.bytes_lost = true;
            stream.in_flight = 0;
            stream.unsent.clear();
            return None;
        }
        let sent = sent + result.max(0) as usize;
        if sent < buffer.len() {
            // A short send: the rest goes first, before anything written meanwhile (invariant 2).
            return Some(stream.start_send(ops, (key, sent), buffer));
        }
        stream.in_flight = 0;
        spare.keep(buffer);
        if !stream.unsent.is_empty() {
            let next = std::mem::take(&mut stream.unsent);
            return Some(stream.start_send(ops, (key, 0), next));
        }
        if stream.shutdown_when_sent {
            stream.shutdown_when_sent = false;
            // The descriptor is open: the stream is live (registrations invariant 2).
            let _ = crate::sys::socket::shutdown_write(stream.fd);
        }
        None
    }

    /// A closed stream's `send` completed; returns the submission of its remaining bytes, if any.
    pub(crate) fn linger_done(
        &mut self,
        ops: &mut Ops,
        index: u32,
        sent: usize,
        result: i32,
        buffer: Vec<u8>,
    ) -> Option<Submit> {
        let slot = self.lingering.get_mut(index as usize)?;
        let lingering = slot.as_mut()?;
        if result < 0 && result != -libc::EINTR && result != -libc::EAGAIN {
            *slot = None; // the connection failed: nothing more can go; the duplicate closes
            return None;
        }
        let sent = sent + result.max(0) as usize;
        let fd = lingering.fd.as_raw_fd();
        let (buffer, offset) = if sent < buffer.len() {
            (buffer, sent)
        } else if !lingering.unsent.is_empty() {
            (std::mem::take(&mut lingering.unsent), 0)
        } else {
            *slot = None; // all sent: the duplicate closes, and with it the socket
            return None;
        };
        let op = ops.insert(
            Target::Linger {
                index,
                sent: offset,
            },
            buffer,
        );
        Some(Submit::Send { op, fd, offset })
    }

    /// The stream `key` is being closed (its descriptor closes right after): cancels its `recv` and makes sure
    /// its unsent bytes still go (invariant 2). Submissions go to `out`; they must be submitted before the
    /// descriptor closes. Without `descriptor_open` (a stream dropped on another thread, or taken to another
    /// loop) the number may name another file by now: unsent bytes are dropped then, the one exception to
    /// invariant 2.
    pub(crate) fn close(
        &mut self,
        ops: &mut Ops,
        out: &mut Vec<Submit>,
        key: u32,
        (descriptor_open, handoff): (bool, Option<HandoffSender>),
    ) {
        let Some(slot) = self.by_key.get_mut(key as usize) else {
            return;
        };
        if let (Some(handoff), Some(stream)) = (handoff, slot.as_mut()) {
            if let Some(op) = stream.recv_op {
                // The stream moved: its `recv` is cancelled, and what it brings in goes along
                // ([`finish_handoff`](Self::finish_handoff), once the cancel has run).
                out.push(Submit::Cancel { op });
                stream.handing = Some(handoff);
                return;
            }
            let bytes = stream.received[stream.read_at..stream.read_end].to_vec();
            handoff.send(bytes, stream.eof, stream.read_error);
        }
        let Some(mut stream) = slot.take() else {
            return;
        };
        if let Some(op) = stream.recv_op {
            out.push(Submit::Cancel { op });
        }
        if stream.unsent.is_empty() || !descriptor_open {
            return; // a send in flight finishes on its own: the kernel holds the socket until then
        }
        match stream.send_op {
            None => {
                let unsent = std::mem::take(&mut stream.unsent);
                out.push(stream.start_send(ops, (key, 0), unsent));
            }
            Some(op) => {
                // The order must hold: a duplicate descriptor sends the rest after the send in flight.
                let Ok(fd) = crate::sys::fd::duplicate(stream.fd) else {
                    return; // out of descriptors: the bytes cannot be kept in order; the peer sees a short stream
                };
                let index = match self.lingering.iter().position(Option::is_none) {
                    Some(index) => index,
                    None => {
                        self.lingering.push(None);
                        self.lingering.len() - 1
                    }
                };
                self.lingering[index] = Some(Lingering {
                    fd,
                    unsent: stream.unsent,
                });
                if let Some(Target::Send { sent, .. }) = ops.target_mut(op) {
                    let sent = *sent;
                    if let Some(target) = ops.target_mut(op) {
                        *target = Target::Linger {
                            index: index as u32,
                            sent,
                        };
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STREAM: (u32, u32, RawFd) = (3, 1, 100);

    /// Reads into `buf` through the ring path; the submissions it made go to `out`.
    fn read(
        streams: &mut Streams,
        ops: &mut Ops,
        out: &mut Vec<Submit>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let mut cx = Context::from_waker(Waker::noop());
        streams.poll_read(ops, out, STREAM, &mut cx, buf, (true, true))
    }

    /// The one `recv` a waiting read submitted: its op, and how much it may take.
    fn the_recv(out: &mut Vec<Submit>) -> (u32, usize) {
        match std::mem::take(out)[..] {
            [Submit::Recv {
                op,
                len,
                from_ring: true,
                ..
            }] => (op, len),
            ref other => panic!("expected one recv from the ring, got {other:?}"),
        }
    }

    fn received_capacity(streams: &Streams) -> usize {
        streams.by_key[STREAM.0 as usize]
            .as_ref()
            .unwrap()
            .received
            .capacity()
    }

    #[test]
    fn a_read_waiting_on_the_ring_lends_no_buffer_and_a_drained_stream_keeps_a_small_one() {
        let (mut streams, mut ops, mut out) = (Streams::default(), Ops::default(), Vec::new());
        let mut buf = vec![0; 8192];
        assert!(read(&mut streams, &mut ops, &mut out, &mut buf).is_pending());
        let (op, len) = the_recv(&mut out);
        assert_eq!(len, buf_ring::BUFFER_SIZE, "capped at one ring buffer");
        assert_eq!(ops.buf(op).len(), 0, "nothing lent while it waits");
        assert_eq!(received_capacity(&streams), 0);

        // 100 bytes arrive: copied in; read out; the small buffer stays for the next ones.
        ops.complete(op);
        streams.recv_copied((STREAM.0, STREAM.1, len), 100, &[9; 100]);
        assert!(matches!(
            read(&mut streams, &mut ops, &mut out, &mut buf),
            Poll::Ready(Ok(100))
        ));
        assert!(buf[..100].iter().all(|&b| b == 9));
        assert!((100..=KEEP_RECEIVED).contains(&received_capacity(&streams)));
        assert_eq!(streams.spare.len(), 0);
    }

    #[test]
    fn a_large_receive_read_out_leaves_its_buffer_to_the_spares_and_the_next_one_reuses_it() {
        let (mut streams, mut ops, mut out) = (Streams::default(), Ops::default(), Vec::new());
        let mut buf = vec![0; 8192];
        assert!(read(&mut streams, &mut ops, &mut out, &mut buf).is_pending());
        let (op, len) = the_recv(&mut out);
        ops.complete(op);
        streams.recv_copied((STREAM.0, STREAM.1, len), 3000, &[5; 3000]);
        assert!(matches!(
            read(&mut streams, &mut ops, &mut out, &mut buf),
            Poll::Ready(Ok(3000))
        ));
        assert_eq!(
            received_capacity(&streams),
            0,
            "an idle stream holds no large buffer"
        );
        assert_eq!(streams.spare.len(), 1);

        assert!(read(&mut streams, &mut ops, &mut out, &mut buf).is_pending());
        let (op, len) = the_recv(&mut out);
        ops.complete(op);
        streams.recv_copied((STREAM.0, STREAM.1, len), 2000, &[6; 2000]);
        assert!(
            received_capacity(&streams) >= 3000,
            "the spare buffer was taken"
        );
        assert_eq!(streams.spare.len(), 0);
        assert!(matches!(
            read(&mut streams, &mut ops, &mut out, &mut buf),
            Poll::Ready(Ok(2000))
        ));
        assert!(buf[..2000].iter().all(|&b| b == 6));
    }

    #[test]
    fn a_stream_whose_bytes_went_out_holds_no_send_buffer() {
        let (mut streams, mut ops, mut out) = (Streams::default(), Ops::default(), Vec::new());
        let mut cx = Context::from_waker(Waker::noop());
        let bytes = [1u8; 3000];
        let written = streams.poll_write(STREAM, &mut cx, &[IoSlice::new(&bytes)]);
        assert!(matches!(written, Poll::Ready(Ok(3000))));
        streams.submit_unsent(&mut ops, &mut out);
        let op = match out[..] {
            [Submit::Send { op, offset: 0, .. }] => op,
            ref other => panic!("expected one send, got {other:?}"),
        };
        let stream = streams.by_key[STREAM.0 as usize].as_ref().unwrap();
        assert_eq!(
            stream.unsent.capacity(),
            0,
            "no buffer kept while the send is in flight"
        );
        assert_eq!(ops.buf(op).len(), 3000);

        let (_, buffer) = ops.complete(op).unwrap();
        let next = streams.send_done(&mut ops, (STREAM.0, STREAM.1), 0, 3000, buffer);
        assert!(next.is_none());
        let stream = streams.by_key[STREAM.0 as usize].as_ref().unwrap();
        assert_eq!(stream.unsent.capacity(), 0);
        assert_eq!(
            streams.spare.len(),
            1,
            "the sent buffer is a spare for the next write"
        );
    }

    #[test]
    fn the_spares_keep_at_most_spare_bytes_and_free_the_rest() {
        let mut spares = Spares::default();
        for _ in 0..3 {
            spares.keep(Vec::with_capacity(SPARE_BYTES / 2));
        }
        assert_eq!(spares.len(), 2, "the third would pass the bound: freed");
        spares.keep(vec![1; 10]);
        assert_eq!(spares.len(), 2);
        let taken = spares.take().unwrap();
        assert!(taken.is_empty() && taken.capacity() >= SPARE_BYTES / 2);
        spares.keep(Vec::with_capacity(100));
        assert_eq!(spares.len(), 2);
        assert!(spares.bytes <= SPARE_BYTES);
    }
}
