//! The table of io_uring operations in flight: for each one, who it is for and the memory it owns.
//!
//! An operation is **submitted** when its entry is pushed (by [`UringBackend`](super::uring::UringBackend) only),
//! **waiting** while the kernel works on it, **ignored** when whoever wanted its result is gone (a dropped future,
//! a closed socket) and **completed** when its last completion arrives. Its slot — and the buffer in it — is freed
//! only then, whatever happened to its owner in between, so the kernel never writes into or reads from freed
//! memory. The slot's index is the operation's `user_data` (with [`OP_TAG`]), unique while it is in flight.
//!
//! # Invariants
//!
//! 1. A slot's buffer is never resized, moved out or dropped while its operation is in flight: the kernel holds
//!    a pointer into it. Only [`Ops::complete`] (the final completion) gives it back.
//! 2. A slot is reused only after its final completion, so a `user_data` names one operation while the kernel
//!    knows it.
//! 3. A [`Target::Task`] operation whose future was dropped is **ignored**: its slot keeps what it owns (`keep`)
//!    until the completion, and the result is thrown away.

#![forbid(unsafe_code)]

use std::any::Any;
use std::ffi::CString;
use std::fs::File;
use std::os::fd::RawFd;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use super::store_waker;

/// Bits 62–63 of a `user_data` that name an operation of this table (registrations' tokens keep them clear).
pub(crate) const OP_TAG: u64 = 1 << 62;

/// An operation to push on the ring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Submit {
    /// `recv` of up to `len` bytes into the buffer of slot `op`, or, `from_ring`, into a buffer the kernel
    /// picks from the loop's buffer ring when the bytes arrive (the slot then lends nothing while it waits);
    /// `poll_first` when the socket was just found drained (the kernel then waits for data instead of trying a
    /// receive that would fail first).
    Recv {
        op: u32,
        fd: RawFd,
        len: usize,
        poll_first: bool,
        from_ring: bool,
    },
    /// `send` of the slot's buffer from `offset` on.
    Send { op: u32, fd: RawFd, offset: usize },
    /// A multishot `recv` on the stream `fd` into the loop's buffer ring.
    RecvMulti { op: u32, fd: RawFd },
    /// A multishot accept on the listener `fd` (`accepts.rs`).
    AcceptMulti { op: u32, fd: RawFd },
    /// Cancel the operation `op`.
    Cancel { op: u32 },
}

/// Who an operation's result is for.
#[derive(Debug)]
pub(crate) enum Target {
    /// A stream's receive of up to `len` bytes: the stream with this registration key and generation.
    Recv {
        key: u32,
        generation: u32,
        len: usize,
    },
    /// A stream's send, with the bytes already sent out of the slot's buffer.
    Send {
        key: u32,
        generation: u32,
        sent: usize,
    },
    /// A stream's multishot receive into the loop's buffer ring (its slot stays until the last completion).
    RecvMulti { key: u32, generation: u32 },
    /// A listener's multishot accept (its slot stays until the last completion).
    Accept { key: u32, generation: u32 },
    /// A send of a stream that was closed with bytes still to send (`streams::Lingering`).
    Linger { index: u32, sent: usize },
    /// A task's operation (a file read, an `openat`): its waker, its result once completed, and what it owns.
    Task(TaskOp),
}

/// A file operation a task asks the ring for, owning the memory and the descriptor the kernel will use.
#[derive(Debug)]
pub(crate) enum FileOp {
    /// `read` of up to `len` bytes at the file's cursor (offset -1: the kernel moves the cursor), appended to
    /// `buf` (into its spare capacity, reserved first: nothing is zeroed).
    Read {
        /// The file, kept open until the completion.
        file: Arc<File>,
        /// Receives the bytes after those it holds.
        buf: Vec<u8>,
        /// The most to read.
        len: usize,
    },
    /// `write` of all of `buf` at the file's cursor; a short write goes on with the rest (even if the task is
    /// gone: file invariant 3).
    Write {
        /// The file, kept open until the completion.
        file: Arc<File>,
        /// The bytes.
        buf: Vec<u8>,
    },
    /// `fsync`, or `fdatasync` if `data_only`.
    Sync {
        /// The file, kept open until the completion.
        file: Arc<File>,
        /// `fdatasync`.
        data_only: bool,
    },
    /// `openat(AT_FDCWD, path, flags | O_CLOEXEC, mode)`.
    Open {
        /// The path, kept until the completion.
        path: CString,
        /// `open(2)` flags.
        flags: i32,
        /// The mode of a created file.
        mode: u32,
    },
    /// `statx(dirfd, path, flags, mask)` into `buf` (one `libc::statx`): of `path`, or of `file` itself (with
    /// an empty path and `AT_EMPTY_PATH`).
    Stat {
        /// The path (empty for `file`), kept until the completion.
        path: CString,
        /// The open file to look at instead of a path, kept open until the completion.
        file: Option<Arc<File>>,
        /// `AT_*` flags (`AT_SYMLINK_NOFOLLOW`, `AT_EMPTY_PATH`).
        flags: i32,
        /// What to ask for (`STATX_*`).
        mask: u32,
        /// Receives the answer: exactly one `libc::statx` long.
        buf: Vec<u8>,
    },
}

/// What a task's operation is, for what happens when it completes or is forgotten.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TaskKind {
    /// A read: cancelled when forgotten.
    Read,
    /// A write of the whole buffer to `fd`, `written` bytes of it so far: never cancelled.
    WriteAll {
        /// The descriptor (kept open by the slot's `keep`).
        fd: RawFd,
        /// Bytes written so far.
        written: usize,
    },
    /// `fsync`/`fdatasync`: never cancelled (it is not worth it, and a caller may count on it).
    Sync,
    /// `openat`: cancelled when forgotten; its result is a descriptor someone must close.
    Open,
    /// `statx`: not cancelled (it is short, and the kernel writes only into the slot's own buffer).
    Stat,
}

/// What a completed task operation hands back.
pub(crate) struct TaskDone {
    /// The result: `-errno` on failure; for a whole write, the bytes written in all.
    pub(crate) result: i32,
    /// Its buffer.
    pub(crate) buf: Vec<u8>,
    /// What it kept alive (dropped by the caller, on the loop's thread).
    pub(crate) keep: Option<Box<dyn Any + Send>>,
    /// What it was.
    pub(crate) kind: TaskKind,
}

/// What [`Ops::finish_task`] found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Finished {
    /// The result waits for the task (which was woken).
    Stays,
    /// The task was gone: the slot is free; an `openat`'s descriptor nobody will claim is to be closed.
    Freed {
        /// The descriptor to close.
        unclaimed_fd: Option<RawFd>,
    },
    /// A whole write came up short: write `buf[from..]` to `fd` again, same slot.
    WriteMore {
        /// The descriptor.
        fd: RawFd,
        /// Where the rest starts.
        from: usize,
    },
}

/// What [`Ops::forget_task`] did.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Forgotten {
    /// The operation is in flight, now ignored (invariant 3); `cancel` if an `ASYNC_CANCEL` helps.
    InFlight {
        /// Worth cancelling (a read, an `openat`; never a write).
        cancel: bool,
    },
    /// It had completed: the slot is free; an `openat`'s descriptor nobody will claim is to be closed.
    Freed {
        /// The descriptor to close.
        unclaimed_fd: Option<RawFd>,
    },
}

/// The state of an operation a task awaits.
pub(crate) struct TaskOp {
    /// The task to wake on completion.
    waker: Option<Waker>,
    /// The result, once completed.
    result: Option<i32>,
    /// The future was dropped (invariant 3).
    ignored: bool,
    /// What the kernel may touch until the completion (paths, the file's descriptor), kept alive here.
    keep: Option<Box<dyn Any + Send>>,
    /// What the operation is.
    kind: TaskKind,
}

impl std::fmt::Debug for TaskOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskOp")
            .field("result", &self.result)
            .field("ignored", &self.ignored)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

/// One slot.
#[derive(Debug)]
struct Slot {
    /// Who the result is for; `None` while the slot is vacant.
    target: Option<Target>,
    /// The memory the kernel reads or writes (invariant 1).
    buf: Vec<u8>,
}

/// The operations in flight on one ring.
#[derive(Debug, Default)]
pub(crate) struct Ops {
    /// Slots by index.
    slots: Vec<Slot>,
    /// Vacant indices.
    vacant: Vec<u32>,
    /// Operations in flight.
    len: usize,
}

impl Ops {
    /// How many operations are in flight.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// How many sends (of open or closed streams) are in flight.
    pub(crate) fn sends_in_flight(&self) -> usize {
        self.slots
            .iter()
            .filter(|slot| {
                matches!(
                    slot.target,
                    Some(Target::Send { .. } | Target::Linger { .. })
                )
            })
            .count()
    }

    /// Takes a slot for an operation for `target` that owns `buf`; returns its index.
    pub(crate) fn insert(&mut self, target: Target, buf: Vec<u8>) -> u32 {
        self.len += 1;
        if let Some(index) = self.vacant.pop() {
            let slot = &mut self.slots[index as usize];
            slot.target = Some(target);
            slot.buf = buf;
            return index;
        }
        self.slots.push(Slot {
            target: Some(target),
            buf,
        });
        (self.slots.len() - 1) as u32
    }

    /// A slot for a task's operation of `kind` keeping `keep` alive until it completes.
    pub(crate) fn insert_task(
        &mut self,
        buf: Vec<u8>,
        keep: Option<Box<dyn Any + Send>>,
        kind: TaskKind,
    ) -> u32 {
        self.insert(
            Target::Task(TaskOp {
                waker: None,
                result: None,
                ignored: false,
                keep,
                kind,
            }),
            buf,
        )
    }

    /// How many task operations wait for the kernel (completed ones waiting to be collected not counted).
    pub(crate) fn tasks_in_flight(&self) -> usize {
        self.slots
            .iter()
            .filter(|slot| matches!(&slot.target, Some(Target::Task(op)) if op.result.is_none()))
            .count()
    }

    /// How many task operations a task still awaits (in flight, not ignored): while any is, a paused clock must
    /// not jump, as it would not over blocking work.
    pub(crate) fn tasks_awaited(&self) -> usize {
        self.slots
            .iter()
            .filter(
                |slot| matches!(&slot.target, Some(Target::Task(op)) if op.result.is_none() && !op.ignored),
            )
            .count()
    }

    /// The buffer of the operation `index` (for building its entry; invariant 1 forbids changing it).
    pub(crate) fn buf(&self, index: u32) -> &[u8] {
        &self.slots[index as usize].buf
    }

    /// The target of the operation `index`, if it is in flight.
    pub(crate) fn target_mut(&mut self, index: u32) -> Option<&mut Target> {
        self.slots.get_mut(index as usize)?.target.as_mut()
    }

    /// The final completion of `index` arrived: frees the slot and hands back its target and buffer
    /// (invariants 1 and 2). `None` if no operation has that index (a stray `user_data`).
    pub(crate) fn complete(&mut self, index: u32) -> Option<(Target, Vec<u8>)> {
        let slot = self.slots.get_mut(index as usize)?;
        let target = slot.target.take()?;
        let buf = std::mem::take(&mut slot.buf);
        self.vacant.push(index);
        self.len -= 1;
        Some((target, buf))
    }

    /// A task's operation completed with `result`: a short whole write goes on; otherwise records the result
    /// and wakes the task, or, if the task is gone, frees the slot (invariant 3).
    pub(crate) fn finish_task(&mut self, index: u32, result: i32) -> Finished {
        let len = self
            .slots
            .get(index as usize)
            .map_or(0, |slot| slot.buf.len());
        let Some(Target::Task(op)) = self.target_mut(index) else {
            return Finished::Stays;
        };
        let mut result = result;
        if let TaskKind::WriteAll { fd, written } = &mut op.kind {
            if result > 0 {
                *written += result as usize;
                if *written < len {
                    return Finished::WriteMore {
                        fd: *fd,
                        from: *written,
                    };
                }
            }
            if result >= 0 {
                result = *written as i32;
            }
        }
        if op.ignored {
            let unclaimed_fd = (op.kind == TaskKind::Open && result >= 0).then_some(result);
            self.complete(index);
            return Finished::Freed { unclaimed_fd };
        }
        op.result = Some(result);
        if let Some(waker) = op.waker.take() {
            waker.wake();
        }
        Finished::Stays
    }

    /// Polls a task's operation: what it hands back once completed (the slot is freed then).
    pub(crate) fn poll_task(&mut self, index: u32, cx: &mut Context<'_>) -> Poll<TaskDone> {
        let Some(Target::Task(op)) = self.target_mut(index) else {
            unreachable!("weft: a task polled an operation it does not own");
        };
        match op.result {
            Some(result) => {
                let Some((Target::Task(op), buf)) = self.complete(index) else {
                    unreachable!("the slot was a task's");
                };
                Poll::Ready(TaskDone {
                    result,
                    buf,
                    keep: op.keep,
                    kind: op.kind,
                })
            }
            None => {
                store_waker(&mut op.waker, cx);
                Poll::Pending
            }
        }
    }

    /// The task awaiting `index` dropped its future: free the slot now if the operation completed, else mark it
    /// ignored (invariant 3).
    pub(crate) fn forget_task(&mut self, index: u32) -> Forgotten {
        let Some(Target::Task(op)) = self.target_mut(index) else {
            return Forgotten::Freed { unclaimed_fd: None };
        };
        if let Some(result) = op.result {
            let unclaimed_fd = (op.kind == TaskKind::Open && result >= 0).then_some(result);
            self.complete(index);
            return Forgotten::Freed { unclaimed_fd };
        }
        op.ignored = true;
        op.waker = None;
        Forgotten::InFlight {
            cancel: matches!(op.kind, TaskKind::Read | TaskKind::Open),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::task::Wake;

    struct Count(std::sync::atomic::AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }

    #[test]
    fn a_slot_is_reused_only_after_its_completion() {
        let mut ops = Ops::default();
        let a = ops.insert(
            Target::Recv {
                key: 1,
                generation: 1,
                len: 8,
            },
            vec![0; 8],
        );
        let b = ops.insert(
            Target::Recv {
                key: 2,
                generation: 1,
                len: 8,
            },
            vec![0; 8],
        );
        assert_ne!(a, b);
        assert_eq!(ops.len(), 2);
        let (_, buf) = ops.complete(a).unwrap();
        assert_eq!(buf.len(), 8);
        assert!(
            ops.complete(a).is_none(),
            "a second completion finds nothing"
        );
        let c = ops.insert(
            Target::Recv {
                key: 3,
                generation: 1,
                len: 8,
            },
            Vec::new(),
        );
        assert_eq!(c, a);
        assert_eq!(ops.len(), 2);
    }

    #[test]
    fn a_task_op_wakes_its_task_and_hands_back_what_it_kept() {
        let count = Arc::new(Count(Default::default()));
        let waker = Waker::from(count.clone());
        let mut cx = Context::from_waker(&waker);
        let mut ops = Ops::default();
        let index = ops.insert_task(
            vec![1, 2, 3],
            Some(Box::new(String::from("path"))),
            TaskKind::Read,
        );
        assert!(ops.poll_task(index, &mut cx).is_pending());
        assert_eq!(ops.finish_task(index, 3), Finished::Stays);
        assert_eq!(count.0.load(std::sync::atomic::Ordering::SeqCst), 1);
        let Poll::Ready(done) = ops.poll_task(index, &mut cx) else {
            panic!("completed");
        };
        assert_eq!((done.result, done.buf), (3, vec![1, 2, 3]));
        let keep = done.keep.unwrap().downcast::<String>().unwrap();
        assert_eq!(keep.as_str(), "path");
        assert_eq!(ops.len(), 0);
    }

    #[test]
    fn a_forgotten_task_op_keeps_its_memory_until_the_completion() {
        let mut ops = Ops::default();
        let index = ops.insert_task(vec![0; 16], None, TaskKind::Read);
        assert_eq!(ops.forget_task(index), Forgotten::InFlight { cancel: true });
        assert_eq!(
            ops.len(),
            1,
            "the buffer stays while the kernel may write it"
        );
        assert_eq!(
            ops.finish_task(index, 16),
            Finished::Freed { unclaimed_fd: None }
        );
        assert_eq!(ops.len(), 0);
    }

    #[test]
    fn a_short_whole_write_goes_on_even_when_forgotten_and_is_never_cancelled() {
        let mut ops = Ops::default();
        let kind = TaskKind::WriteAll { fd: 7, written: 0 };
        let index = ops.insert_task(vec![0; 10], None, kind);
        assert_eq!(
            ops.forget_task(index),
            Forgotten::InFlight { cancel: false }
        );
        assert_eq!(
            ops.finish_task(index, 4),
            Finished::WriteMore { fd: 7, from: 4 }
        );
        assert_eq!(ops.len(), 1, "the rest is still to write");
        assert_eq!(
            ops.finish_task(index, 6),
            Finished::Freed { unclaimed_fd: None }
        );
        assert_eq!(ops.len(), 0);
    }

    #[test]
    fn an_open_nobody_collects_hands_back_its_descriptor_to_close() {
        let mut ops = Ops::default();
        let index = ops.insert_task(Vec::new(), None, TaskKind::Open);
        assert_eq!(ops.finish_task(index, 42), Finished::Stays);
        assert_eq!(
            ops.forget_task(index),
            Forgotten::Freed {
                unclaimed_fd: Some(42)
            }
        );
        assert_eq!(ops.len(), 0);
    }
}
