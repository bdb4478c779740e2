//! [`Doorbell`]: how other threads make sure a parked loop notices what they handed it (runtime invariant 2).
//!
//! The loop says it is about to park, then looks at its remote queue once more, then sleeps in the OS. A thread
//! that pushes to the queue marks it pending and, if the loop may be parked, rings (writes the loop's eventfd).
//! With sequentially consistent flags one of the two always sees the other: either the loop's second look finds
//! the work, or the pusher finds the loop parking and rings — and a ring before the loop's `epoll_wait` still
//! wakes it, since the eventfd stays readable. The loom model below checks that under every interleaving.

#![forbid(unsafe_code)]

use crate::loom::sync::atomic::AtomicBool;
use crate::loom::sync::atomic::Ordering::{Relaxed, SeqCst};

/// The loop's two flags: work pending, and awake.
#[derive(Debug)]
pub(crate) struct Doorbell {
    /// True when the remote queue may hold something.
    pending: AtomicBool,
    /// False only while the loop is (about to be) parked.
    awake: AtomicBool,
}

impl Doorbell {
    /// An awake loop with nothing pending.
    pub(crate) fn new() -> Doorbell {
        Doorbell {
            pending: AtomicBool::new(false),
            awake: AtomicBool::new(true),
        }
    }

    /// Work was pushed (under the queue's lock): marks it pending. True if the loop may be parked: the caller
    /// must ring (write the eventfd).
    pub(crate) fn pushed(&self) -> bool {
        self.pending.store(true, SeqCst);
        self.wake()
    }

    /// True if the loop may be parked and the caller must ring; the loop counts as awake from now on, so only
    /// one caller rings per park.
    pub(crate) fn wake(&self) -> bool {
        !self.awake.swap(true, SeqCst)
    }

    /// The loop is about to park; it must look at its queue once more afterwards, with
    /// [`take_pending(true)`](Self::take_pending).
    pub(crate) fn announce_park(&self) {
        // A read-modify-write, like the pusher's: two of them on each side cannot both miss the other's write
        // (each reads the latest value of its flag), which the model checks without relying on `SeqCst` loads.
        self.awake.swap(false, SeqCst);
    }

    /// The loop is awake again.
    pub(crate) fn announce_awake(&self) {
        self.awake.store(true, Relaxed);
    }

    /// True if work may be pending (clearing the mark): the loop then takes the queue under its lock. While
    /// busy, a plain load skips an empty queue cheaply (a push it misses is seen at the next look); the look
    /// after announcing a park (`parking`) is a read-modify-write, which cannot miss a push whose pusher did
    /// not ring.
    pub(crate) fn take_pending(&self, parking: bool) -> bool {
        if !parking && !self.pending.load(SeqCst) {
            return false;
        }
        self.pending.swap(false, SeqCst)
    }
}

/// loom model of the doorbell (`RUSTFLAGS="--cfg loom" cargo test -p weft --lib --release loom_models`).
#[cfg(all(test, loom))]
mod loom_models {
    use super::*;
    use loom::sync::{Arc, Mutex};
    use loom::thread;

    #[test]
    fn loom_models_remote_wake_vs_loop_park() {
        // A thread pushes work while the loop parks: the loop either finds the work on its second look, or is
        // rung — never asleep with work waiting and no ring (a lost wake-up).
        loom::model(|| {
            let bell = Arc::new(Doorbell::new());
            let queue = Arc::new(Mutex::new(Vec::new()));
            let pusher = {
                let (bell, queue) = (bell.clone(), queue.clone());
                thread::spawn(move || {
                    let mut queue = queue.lock().unwrap();
                    queue.push(1);
                    let rang = bell.pushed();
                    drop(queue);
                    rang
                })
            };
            bell.announce_park();
            let found = bell.take_pending(true) && !queue.lock().unwrap().is_empty();
            let rang = pusher.join().unwrap();
            assert!(
                found || rang,
                "the loop parked with work queued and nobody rang"
            );
        });
    }
}
