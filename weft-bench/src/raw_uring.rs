//! The second ceiling: a hand-written io_uring echo server with no runtime at all — one thread, one ring —
//! reported as runtime `raw-uring` in the echo rows, beside [`crate::raw`] (epoll).
//!
//! Its message handling is the same as every echo server's: read what is there into a 4 KiB buffer and write it
//! all back, with `TCP_NODELAY` on each accepted connection. It is tuned the way a serious hand-written loop is:
//! the ring is set up `SINGLE_ISSUER | DEFER_TASKRUN` (falling back to `COOP_TASKRUN`, then to a plain ring,
//! where the kernel refuses), one multishot accept, one **multishot recv per connection into a provided buffer
//! ring** (4 KiB buffers, shared by the connections), one send in flight per connection, and every operation
//! queued during a turn is submitted by the one `io_uring_enter` that also waits for the next completions. A
//! short send is resubmitted for the rest.
//!
//! Multishot recv was kept over one plain `recv` in flight per connection (a buffer of its own each) because it
//! measured better: in three runs of each against raw epoll (full size, 3 runs per figure), server CPU per
//! message was 0.92–0.93× raw's at 50 connections and 0.91–0.95× at 500 with multishot recv, against
//! 0.95–0.98× and 0.95–1.02× with the plain recv (the figures are in `RESULTS.md`, 2026-12-04 12:42 UTC).
//!
//! # Invariants
//!
//! 1. A connection's multishot recv is armed from its accept until a completion without `F_MORE`; at most one
//!    send of it is in flight, from a buffer of the ring that the connection holds from the recv that filled it
//!    until that send has taken all of it. Received buffers are sent back in the order they arrived.
//! 2. The buffer ring's entries and buffers are leaked: the server runs until the process ends, so the kernel
//!    never writes into or reads from freed memory.
//! 3. A slot is freed (its descriptor closed) only once its recv is no longer armed and no send of it is in
//!    flight (rule 1), so no completion ever finds a reused slot; `user_data` is the slot index (with
//!    [`SEND`] for sends).
//!
//! References: `io_uring_setup(2)`, `io_uring_enter(2)`, `io_uring_prep_multishot_accept(3)`,
//! `io_uring_prep_recv_multishot(3)`, `io_uring_register_buf_ring(3)`.

use std::collections::VecDeque;
use std::io;
use std::net::TcpListener;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU16, Ordering};

use io_uring::types::BufRingEntry;
use io_uring::{cqueue, opcode, squeue, types, IoUring, Submitter};

use crate::child::{announce_port, Ctx, SERVER_MAX_CONNS};
use crate::{Figures, Result};

/// `user_data` of the multishot accept; connections use their slot index (invariant 3).
const ACCEPT: u64 = u64::MAX;
/// `user_data` of the cancellation of the accept once [`SERVER_MAX_CONNS`] connections were taken.
const CANCEL_ACCEPT: u64 = u64::MAX - 1;
/// Set in the `user_data` of a connection's send (beside its slot index).
const SEND: u64 = 1 << 32;
/// Submission queue entries; the completion queue gets twice as many (the kernel's default).
const RING_ENTRIES: u32 = 1024;
/// Bytes per buffer, as in every echo server of the bench.
const BUF_SIZE: usize = 4096;
/// Buffers in the provided ring (a power of two): room for every connection of the largest case (500) to hold
/// several.
const BUFFERS: u16 = 2048;
/// The buffer group id of the provided ring.
const GROUP: u16 = 0;

/// How the ring was set up: the first of these the kernel accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Setup {
    /// `IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN` (Linux 6.1): completions are run only when the
    /// one issuing thread enters the ring to wait, never by interrupting it.
    DeferTaskrun,
    /// `IORING_SETUP_COOP_TASKRUN` (Linux 5.19): no interrupt to run completions, they wait for the next enter.
    CoopTaskrun,
    /// No flags.
    Plain,
}

/// Builds the ring, trying [`Setup`]'s variants in order; an `EINVAL` (a kernel without the flag) moves on to
/// the next, any other error is returned.
pub fn ring(entries: u32) -> io::Result<(IoUring, Setup)> {
    let attempts = [Setup::DeferTaskrun, Setup::CoopTaskrun, Setup::Plain];
    let mut last = None;
    for setup in attempts {
        let mut builder = IoUring::builder();
        match setup {
            Setup::DeferTaskrun => {
                builder.setup_single_issuer().setup_defer_taskrun();
            }
            Setup::CoopTaskrun => {
                builder.setup_coop_taskrun();
            }
            Setup::Plain => {}
        }
        match builder.build(entries) {
            Ok(ring) => return Ok((ring, setup)),
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::other("no io_uring setup left to try")))
}

/// The provided buffer ring: [`BUFFERS`] buffers of [`BUF_SIZE`] bytes that the kernel picks from for each
/// multishot recv completion, and that the loop gives back once their bytes are sent (invariant 1).
struct BufRing {
    /// The ring's entries, shared with the kernel (page-aligned, leaked: invariant 2).
    entries: &'static mut [BufRingEntry],
    /// The buffers, buffer id `i` at `i * BUF_SIZE` (leaked: invariant 2).
    bufs: &'static mut [u8],
    /// The tail as published to the kernel: entries before it are buffers the kernel may fill.
    tail: u16,
}

impl BufRing {
    /// Allocates the ring and its buffers, hands every buffer to the kernel and registers the ring as group
    /// [`GROUP`].
    fn new(submitter: &Submitter<'_>) -> io::Result<BufRing> {
        let layout = std::alloc::Layout::from_size_align(
            BUFFERS as usize * std::mem::size_of::<BufRingEntry>(),
            4096,
        )
        .map_err(io::Error::other)?;
        // SAFETY: the layout has a non-zero size.
        let base = unsafe { std::alloc::alloc_zeroed(layout) }.cast::<BufRingEntry>();
        if base.is_null() {
            return Err(io::Error::other("out of memory for the buffer ring"));
        }
        // SAFETY: `base` points to BUFFERS zeroed entries (all-zero is a valid io_uring_buf), never freed
        // (invariant 2), and nothing else refers to them yet.
        let entries = unsafe { std::slice::from_raw_parts_mut(base, BUFFERS as usize) };
        let bufs: &'static mut [u8] =
            Box::leak(vec![0u8; BUFFERS as usize * BUF_SIZE].into_boxed_slice());
        let mut ring = BufRing {
            entries,
            bufs,
            tail: 0,
        };
        for bid in 0..BUFFERS {
            ring.give_back(bid);
        }
        // SAFETY: the ring's entries are page-aligned and BUFFERS long, and they and every buffer they name live
        // until the process ends (invariant 2).
        unsafe { submitter.register_buf_ring_with_flags(base as u64, BUFFERS, GROUP, 0)? };
        Ok(ring)
    }

    /// The first `len` bytes of buffer `bid`.
    fn buf(&self, bid: u16, len: usize) -> &[u8] {
        &self.bufs[bid as usize * BUF_SIZE..][..len]
    }

    /// Hands buffer `bid` (back) to the kernel.
    fn give_back(&mut self, bid: u16) {
        let addr = self.bufs[bid as usize * BUF_SIZE..].as_ptr() as u64;
        let entry = &mut self.entries[(self.tail & (BUFFERS - 1)) as usize];
        entry.set_addr(addr);
        entry.set_len(BUF_SIZE as u32);
        entry.set_bid(bid);
        self.tail = self.tail.wrapping_add(1);
        // SAFETY: the tail is the u16 in the first entry's reserved field, which the kernel reads atomically;
        // the entry above is written before the tail is published (Release).
        let tail = unsafe { &*BufRingEntry::tail(self.entries.as_ptr()).cast::<AtomicU16>() };
        tail.store(self.tail, Ordering::Release);
    }
}

/// One accepted connection (invariants 1 and 3).
struct Conn {
    fd: OwnedFd,
    /// Its multishot recv is armed (no completion without `F_MORE` yet).
    recv_armed: bool,
    /// Buffers received and not yet all sent back, in order: (buffer id, length, bytes sent).
    pending: VecDeque<(u16, usize, usize)>,
    /// A send of the first pending buffer is in flight.
    sending: bool,
    /// Shut down: freed once nothing of it is in flight.
    closing: bool,
}

/// The loop's state: the slot table, the buffer ring and the entries made during a turn.
struct Server {
    conns: Vec<Option<Conn>>,
    free: Vec<usize>,
    accepted: usize,
    /// Entries made during this turn, pushed to the submission queue before the turn's one enter.
    queued: Vec<squeue::Entry>,
    bufs: BufRing,
    /// Connections whose recv ended for want of buffers: re-armed when one comes back.
    starved: Vec<usize>,
}

/// What a completion asks of the loop besides queued entries.
enum After {
    Nothing,
    /// Arm the multishot accept again (the kernel ended it).
    RearmAccept,
}

/// The multishot recv of the connection in `slot`.
fn recv_entry(fd: RawFd, slot: usize) -> squeue::Entry {
    opcode::RecvMulti::new(types::Fd(fd), GROUP)
        .build()
        .user_data(slot as u64)
}

impl Server {
    /// A new connection from the accept: `TCP_NODELAY`, a slot, and its multishot recv.
    fn admit(&mut self, fd: RawFd) -> io::Result<()> {
        // SAFETY: a successful accept completion's result is a new descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        if self.accepted >= SERVER_MAX_CONNS {
            return Ok(()); // over the bound (the accept is being cancelled): dropping `fd` closes it
        }
        self.accepted += 1;
        set_nodelay(&fd)?;
        let slot = self.free.pop().unwrap_or_else(|| {
            self.conns.push(None);
            self.conns.len() - 1
        });
        self.queued.push(recv_entry(fd.as_raw_fd(), slot));
        self.conns[slot] = Some(Conn {
            fd,
            recv_armed: true,
            pending: VecDeque::new(),
            sending: false,
            closing: false,
        });
        if self.accepted == SERVER_MAX_CONNS {
            self.queued.push(
                opcode::AsyncCancel::new(ACCEPT)
                    .build()
                    .user_data(CANCEL_ACCEPT),
            );
        }
        Ok(())
    }

    /// Starts the next send of `slot` if none is in flight; frees the slot once nothing is in flight.
    fn next(&mut self, slot: usize) {
        let Some(conn) = self.conns.get_mut(slot).and_then(Option::as_mut) else {
            return;
        };
        if !conn.sending && !conn.closing {
            if let Some(&(bid, len, sent)) = conn.pending.front() {
                let rest = &self.bufs.buf(bid, len)[sent..];
                self.queued.push(
                    opcode::Send::new(
                        types::Fd(conn.fd.as_raw_fd()),
                        rest.as_ptr(),
                        rest.len() as u32,
                    )
                    .build()
                    .user_data(SEND | slot as u64),
                );
                conn.sending = true;
            }
        }
        if conn.closing && !conn.sending && !conn.recv_armed {
            for (bid, _, _) in conn.pending.drain(..) {
                self.bufs.give_back(bid);
            }
            // Nothing of it is in flight (invariant 3): closing and freeing is safe.
            self.conns[slot] = None;
            self.free.push(slot);
        }
    }

    /// Shuts the connection down; [`Server::next`] frees it once nothing of it is in flight.
    fn close(&mut self, slot: usize) {
        let Some(conn) = self.conns.get_mut(slot).and_then(Option::as_mut) else {
            return;
        };
        if !conn.closing {
            conn.closing = true;
            // Ends the armed recv (it completes with 0) so the slot can be freed.
            // SAFETY: shutdown on a descriptor we own has no memory-safety preconditions.
            unsafe { libc::shutdown(conn.fd.as_raw_fd(), libc::SHUT_RDWR) };
        }
    }

    /// Handles one completion.
    fn complete(&mut self, user_data: u64, res: i32, flags: u32) -> io::Result<After> {
        match user_data {
            ACCEPT => {
                if res >= 0 {
                    self.admit(res)?;
                } else if res != -libc::EINTR
                    && res != -libc::ECONNABORTED
                    && res != -libc::ECANCELED
                {
                    return Err(io::Error::from_raw_os_error(-res));
                }
                Ok(
                    if cqueue::more(flags) || self.accepted >= SERVER_MAX_CONNS {
                        After::Nothing
                    } else {
                        After::RearmAccept
                    },
                )
            }
            CANCEL_ACCEPT => Ok(After::Nothing),
            data if data & SEND != 0 => {
                let slot = (data & !SEND) as usize;
                let conn = live(&mut self.conns, slot)?;
                conn.sending = false;
                if res <= 0 && res != -libc::EINTR && res != -libc::EAGAIN {
                    self.close(slot);
                } else if res > 0 {
                    let front = conn.pending.front_mut().ok_or_else(|| {
                        io::Error::other(format!("slot {slot}: a send with nothing pending"))
                    })?;
                    front.2 += res as usize;
                    if front.2 == front.1 {
                        let bid = front.0;
                        conn.pending.pop_front();
                        self.bufs.give_back(bid);
                        for s in std::mem::take(&mut self.starved) {
                            if let Some(c) = self.conns[s]
                                .as_mut()
                                .filter(|c| !c.recv_armed && !c.closing)
                            {
                                c.recv_armed = true;
                                self.queued.push(recv_entry(c.fd.as_raw_fd(), s));
                            }
                        }
                    }
                }
                self.next(slot);
                Ok(After::Nothing)
            }
            slot => {
                let slot = slot as usize;
                let more = cqueue::more(flags);
                let conn = live(&mut self.conns, slot)?;
                if !more {
                    conn.recv_armed = false;
                }
                if res > 0 {
                    let bid = cqueue::buffer_select(flags).ok_or_else(|| {
                        io::Error::other(format!("slot {slot}: a recv without a provided buffer"))
                    })?;
                    conn.pending.push_back((bid, res as usize, 0));
                    if !more && !conn.closing {
                        conn.recv_armed = true;
                        self.queued.push(recv_entry(conn.fd.as_raw_fd(), slot));
                    }
                } else if res == -libc::ENOBUFS && !conn.closing {
                    self.starved.push(slot);
                } else if !more {
                    self.close(slot);
                }
                self.next(slot);
                Ok(After::Nothing)
            }
        }
    }
}

/// The connection in `slot`; a completion for an empty slot would break invariant 3, so it is an error.
fn live(conns: &mut [Option<Conn>], slot: usize) -> io::Result<&mut Conn> {
    conns
        .get_mut(slot)
        .and_then(Option::as_mut)
        .ok_or_else(|| io::Error::other(format!("a completion for slot {slot}, which is empty")))
}

/// Serves echo on 127.0.0.1 until the process is ended (by the harness, or the watchdog's time limit).
pub fn echo(_ctx: &Ctx) -> Result<Figures> {
    let (mut ring, setup) = ring(RING_ENTRIES)?;
    if setup != Setup::DeferTaskrun {
        eprintln!(
            "weft-bench raw-uring: DEFER_TASKRUN refused by the kernel, ring set up {setup:?}"
        );
    }
    let listener = TcpListener::bind(("127.0.0.1", 0))?;
    let accept = || {
        opcode::AcceptMulti::new(types::Fd(listener.as_raw_fd()))
            .build()
            .user_data(ACCEPT)
    };
    let (submitter, mut sq, mut cq) = ring.split();
    let mut server = Server {
        conns: Vec::new(),
        free: Vec::new(),
        accepted: 0,
        queued: vec![accept()],
        bufs: BufRing::new(&submitter)?,
        starved: Vec::new(),
    };
    announce_port(listener.local_addr()?.port())?;
    // Bounded in time by the process watchdog; each turn handles the completions of one enter.
    loop {
        // Queued entries go in now; what does not fit waits for the next turn's enter.
        let mut pushed = 0;
        for entry in &server.queued {
            // SAFETY: a send points into a buffer of the ring, which is leaked (invariant 2) and held by its
            // connection until the send completes (invariant 1); recvs and accepts carry no pointer.
            if unsafe { sq.push(entry) }.is_err() {
                break;
            }
            pushed += 1;
        }
        server.queued.drain(..pushed);
        sq.sync();
        cq.sync();
        match submitter.submit_and_wait(1) {
            Ok(_) => {}
            // Interrupted, or the completion queue is full: reap what is there, then enter again.
            Err(e) if matches!(e.raw_os_error(), Some(libc::EINTR | libc::EBUSY)) => {}
            Err(e) => return Err(e.into()),
        }
        cq.sync();
        for cqe in &mut cq {
            if let After::RearmAccept =
                server.complete(cqe.user_data(), cqe.result(), cqe.flags())?
            {
                server.queued.push(accept());
            }
        }
    }
}

/// `TCP_NODELAY` on an accepted connection.
fn set_nodelay(fd: &OwnedFd) -> io::Result<()> {
    let on: libc::c_int = 1;
    // SAFETY: `on` is a valid c_int that outlives the call and the length passed is its exact size.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_NODELAY,
            std::ptr::addr_of!(on).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
