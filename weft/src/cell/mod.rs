//! The task cell: the layer below the runtime that keeps a task — its one allocation, state word, wakers, handles
//! and bookmarks. The runtime owns and polls cells through [`Owner`]; the public task API (`weft::task`: spawning
//! with a name, groups, `join!`, `select!`) sits above the runtime and re-exports the handle types from here.
//!
//! A task lives in **one allocation**: a `Header` (state word, vtable, id, spawn location, join waker, bookmark
//! and poll statistics) followed by its *stage*, which holds the future while it runs and then its output. The
//! owner loop is found from the cell's address (rule 7), not stored in every header.
//! The loop polls the task when it is scheduled; a [`Waker`](std::task::Waker) for a task is a pointer to its
//! header, so waking from the same thread pushes it on the loop's run queue without a lock, and waking from
//! another thread goes through the loop's remote queue.
//!
//! # Invariants
//!
//! These rules are cited by number in the `// SAFETY:` comments of this module.
//!
//! 1. **The stage belongs to the owner loop while the task is not complete.** Only the thread running the owner
//!    loop polls or drops the future, and only while `COMPLETE` is unset. (For a blocking task the pool thread
//!    that took it from the pool queue plays the loop's part.) The type system carries this rule: polling or
//!    cancelling needs a [`Runner`], which is neither `Send` nor `Sync` and made by one `unsafe` constructor on
//!    the owning thread (a blocking job, whose future is `Send`, is a `raw::SendTask` instead, run by the thread
//!    that holds it).
//! 2. **After completion the output belongs to the join side** if `JOIN_INTEREST` was set when `COMPLETE` was
//!    set: only the [`JoinHandle`] reads or drops it, after observing `COMPLETE` with acquire ordering. If
//!    `JOIN_INTEREST` was unset at that moment, the loop drops the output itself, right away.
//! 3. **The join waker slot** is written only by the join side, and only while `JOIN_WAKER` is unset; the task
//!    side reads it only when it sets `COMPLETE` and sees `JOIN_WAKER` set. Once `COMPLETE` is set, nobody
//!    writes it again; it is dropped with the cell.
//! 4. **`SCHEDULED` owns a reference**: whoever sets it also adds one reference, held by the queue the task is
//!    pushed to; whoever pops the task clears the bit and releases that reference in one step.
//! 5. **The owner loop's registry holds a reference** from the moment the task is registered until it completes
//!    or the loop shuts down; so a task that is not complete is always alive.
//! 6. **The cell is freed when the reference count reaches zero.** By then its stage holds nothing tied to a
//!    thread (rules 1 and 2 guarantee the future is gone, and a leftover output is `Send` or was dropped by its
//!    non-`Send` handle's thread), so the last reference may be dropped on any thread.
//! 7. **The owner pointer** (found by `raw::owner_of`: in the arena page's header for a cell from the loop's
//!    arena, in the 8 bytes before the header for any other cell, which under `--cfg weft_no_arena` is every cell) holds one strong count of the loop's shared
//!    state for as long as the cell lives, so waking a task after its runtime is gone touches only memory that is still valid; the
//!    loop's queues refuse it once closed.
//! 8. **The x-ray statistics** (`Header::stats`: bookmark, polls, last run) are read and written only
//!    on the owner loop's thread: by the loop around a poll and in a dump. Leaf futures do not touch them:
//!    they leave their bookmark in a thread-local, which the owner loop files in the header after the poll.
//! 9. **A task changes owner only before its first poll** (work stealing, `Builder::steal`): a loop that takes a
//!    never-polled `Send` task from another loop's steal queue makes itself the owner (`raw::adopt`) before it
//!    registers or polls it. Until then the task sits in one queue, `SCHEDULED`, so no wake or abort reads the
//!    owner (they read it only after setting `SCHEDULED`, rule 4), and no waker of it exists yet; rule 1 then
//!    holds for the new owner. Cells that may move are never arena cells, whose owner is their page's.
//!
//! References: the task state machine of tokio (`tokio/src/runtime/task/`), async-task's header layout.

pub(crate) mod arena;
pub(crate) mod builder;
pub(crate) mod coop;
pub(crate) mod error;
pub(crate) mod handle;
pub(crate) mod id;
pub(crate) mod label;
pub(crate) mod owner;
pub(crate) mod raw;
pub(crate) mod runner;
pub(crate) mod state;
pub(crate) mod stats;

pub(crate) use builder::Builder;
pub(crate) use error::{drop_quietly, JoinError};
pub(crate) use handle::JoinHandle;
pub(crate) use id::Id;
pub(crate) use label::{Label, Op};
pub(crate) use owner::Owner;
pub(crate) use raw::TaskRef;
pub(crate) use runner::Runner;
pub(crate) use stats::{bookmark, bookmark_if_none};

/// A task as reports name it: "task 7" or "task 7 'handler'".
pub(crate) struct TaskTitle<'a>(pub(crate) Id, pub(crate) Option<&'a str>);

impl std::fmt::Display for TaskTitle<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "task {}", self.0)?;
        match self.1 {
            Some(name) => write!(f, " '{name}'"),
            None => Ok(()),
        }
    }
}
