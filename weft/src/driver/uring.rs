//! The io_uring backend: readiness from one multishot `POLL_ADD` per registration, so every socket type of
//! `net/` works unchanged on it; the groundwork for completion I/O (see "Next" below).
//!
//! The ring is set up `SINGLE_ISSUER | DEFER_TASKRUN` (`COOP_TASKRUN` on kernels before 6.1): only the loop's
//! thread touches it, and the kernel runs completion work only when the loop asks for events, never by
//! interrupting it. Each park is **one** `io_uring_enter` that submits what is queued and waits for at least one
//! completion, with the next timer as its timeout (`IORING_ENTER_EXT_ARG`). The loop's eventfd is watched once,
//! by its own multishot poll, so a wake from another thread ends a park.
//!
//! # Invariants
//!
//! 1. Every operation's `user_data` is a registration's token (`generation << 32 | key`, registrations
//!    invariant 1: its multishot poll), [`WAKE_TOKEN`] (the eventfd's multishot poll) or [`CANCEL_TOKEN`] (an
//!    `ASYNC_CANCEL` of a poll, whose completion means nothing). Nothing else is ever submitted.
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
//!
//! # Next: completion I/O for `TcpStream` (not built yet)
//!
//! A `recv`/`send` will be an operation with an explicit owner: the driver's op table holds, per in-flight op, its
//! state (submitted, waiting with the task's waker, ignored, completed with a result), its buffer (owned by the
//! table, not borrowed from the caller: the caller's `&mut [u8]` is filled by copying from it) and a reference
//! keeping the socket's descriptor open. Dropping the read future moves its op to *ignored*: the table keeps the
//! buffer until the completion, and bytes the kernel already copied are kept on the socket as leftovers that the
//! next read returns first — a dropped read never loses data. An ignored op gets an `ASYNC_CANCEL` when its socket
//! is closed; the descriptor closes only after every op on it has completed. Then multishot recv into a
//! provided-buffer ring, multishot accept, and send batching (issue 19, items 2–4).
//!
//! References: io_uring(7), io_uring_setup(2), io_uring_enter(2), io_uring_prep_poll_multishot(3); Jens Axboe,
//! "What's new with io_uring in 6.x"; monoio's and compio's op lifecycles.

#![allow(unsafe_code)] // pushing entries on the ring: each block says which invariant makes it sound

use std::cell::{Cell, RefCell};
use std::io;
use std::os::fd::RawFd;
use std::time::Duration;

use io_uring::{cqueue, opcode, squeue, types, IoUring, Probe};

use super::registrations::{Ready, Registrations};
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

/// The loop's ring.
pub(crate) struct UringBackend {
    /// The ring (invariant 5: touched by the loop's thread only).
    ring: RefCell<IoUring>,
    /// Entries pushed since the last submission.
    unsubmitted: Cell<u32>,
    /// Tokens of polls that ended and still need re-arming (invariant 4), when the queue could not take them.
    rearm: RefCell<Vec<u64>>,
    /// The eventfd's descriptor, to re-arm its poll.
    wake_fd: RawFd,
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
        let backend = UringBackend {
            ring: RefCell::new(ring),
            unsubmitted: Cell::new(0),
            rearm: RefCell::new(Vec::new()),
            wake_fd: wake.as_raw_fd(),
        };
        backend.push(&wake_entry(backend.wake_fd))?;
        backend.submit();
        Ok(backend)
    }

    /// Whether entries wait to be submitted (the loop should not skip its zero-timeout park).
    pub(crate) fn has_unsubmitted(&self) -> bool {
        self.unsubmitted.get() > 0 || !self.rearm.borrow().is_empty()
    }

    /// Watches `fd` with a multishot poll whose completions carry `token`; submitted with the next park.
    pub(crate) fn watch(&self, fd: RawFd, token: u64) -> io::Result<()> {
        self.push(&poll_entry(fd, token))
    }

    /// Stops watching the registration `token`, at once: before the socket closes its descriptor (invariant 3).
    pub(crate) fn unwatch(&self, token: u64) {
        // ASYNC_CANCEL, not POLL_REMOVE: a poll whose wake-up is being handled (with DEFER_TASKRUN, until the
        // next park) refuses a poll-remove with EALREADY and stays armed, keeping the socket's file open; a
        // cancel marks it and the kernel ends it as soon as that handling runs.
        let cancel = opcode::AsyncCancel::new(token)
            .build()
            .user_data(CANCEL_TOKEN);
        if self.push(&cancel).is_ok() {
            self.submit_and_run_completions();
        }
        // If even that failed, the poll stays until the ring closes; its completions are stale (invariant 3).
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
            // SAFETY: invariant 2: every entry we push is a poll or a cancel, which points at no memory of
            // ours; the descriptor it names is open (registrations invariant 2) or, if closed meanwhile, the
            // stale completion is ignored (invariant 3).
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
        self.reap(wake, registrations)
    }

    /// Hands every completion to `registrations` and re-arms polls that ended (invariant 4).
    fn reap(&self, wake: &EventFd, registrations: &RefCell<Registrations>) -> u64 {
        let mut ring = self.ring.borrow_mut();
        let mut registrations = registrations.borrow_mut();
        let mut rearm = self.rearm.borrow_mut();
        let mut io_events = 0;
        for completion in ring.completion() {
            let token = completion.user_data();
            let more = cqueue::more(completion.flags());
            match token {
                CANCEL_TOKEN => {}
                WAKE_TOKEN => {
                    wake.drain();
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
        self.rearm_ended(&registrations);
        io_events
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
                // A registration may have gone since its poll ended: nothing to re-arm then (invariant 3).
                token => match registrations.live_fd(token) {
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
