//! [`IdleFlag`] and [`IdleCount`]: how the loops of a runtime on one virtual clock agree that every loop is idle,
//! so the clock may jump (the shared-clock rules of `runtime::loops`).
//!
//! A loop going idle adds itself to the group's count and then sets its flag; whoever clears the flag — the loop
//! itself when it wakes, or a thread that hands it work — takes it out of the count, exactly once (a swap decides).
//! A pusher pushes first and clears the flag after; the loop sets its flag first and looks at its queue after.
//! Every one of those steps is a sequentially consistent read-modify-write (the doorbell's push and the loop's look
//! are too), so one side always sees the other: the loop finds the work, or the pusher uncounts it. The loom model
//! below checks that under every interleaving.

#![forbid(unsafe_code)]

use crate::loom::sync::atomic::Ordering::SeqCst;
use crate::loom::sync::atomic::{AtomicBool, AtomicUsize};

/// How many loops of a group are idle on its virtual clock.
#[derive(Debug, Default)]
pub(crate) struct IdleCount {
    /// The count.
    idle: AtomicUsize,
}

impl IdleCount {
    /// Whether `loops` loops are all idle.
    pub(crate) fn all(&self, loops: usize) -> bool {
        self.idle.load(SeqCst) == loops
    }
}

/// One loop's mark of being counted idle.
#[derive(Debug, Default)]
pub(crate) struct IdleFlag {
    /// Set while the loop is counted.
    idle: AtomicBool,
}

impl IdleFlag {
    /// The loop goes idle: counted, then flagged. The caller then looks at its remote queue once more (with the
    /// doorbell's read-modify-write look) before it sleeps.
    pub(crate) fn enter(&self, count: &IdleCount) {
        count.idle.fetch_add(1, SeqCst);
        self.idle.swap(true, SeqCst);
    }

    /// The loop is busy again (it woke, or found work), or a thread handed it work after pushing it: uncounted if it
    /// was counted. Returns whether this call uncounted it.
    pub(crate) fn leave(&self, count: &IdleCount) -> bool {
        let was = self.idle.swap(false, SeqCst);
        if was {
            count.idle.fetch_sub(1, SeqCst);
        }
        was
    }
}

/// loom model of the idle count (`RUSTFLAGS="--cfg loom" cargo test -p weft --lib --release loom_models`).
#[cfg(all(test, loom))]
mod loom_models {
    use super::*;
    use crate::runtime::doorbell::Doorbell;
    use loom::sync::{Arc, Mutex};
    use loom::thread;

    #[test]
    fn loom_models_idle_loop_vs_work_handed_to_it() {
        // Another loop hands work to a loop that is going idle: afterwards the idle loop has either found the work,
        // or is no longer counted idle — the group never counts a loop idle that has work waiting.
        loom::model(|| {
            let count = Arc::new(IdleCount::default());
            let flag = Arc::new(IdleFlag::default());
            let bell = Arc::new(Doorbell::new());
            let queue = Arc::new(Mutex::new(Vec::new()));
            let pusher = {
                let (count, flag, bell, queue) =
                    (count.clone(), flag.clone(), bell.clone(), queue.clone());
                thread::spawn(move || {
                    let mut queued = queue.lock().unwrap();
                    queued.push(1);
                    bell.pushed();
                    drop(queued);
                    flag.leave(&count);
                })
            };
            flag.enter(&count);
            let found = bell.take_pending(true) && !queue.lock().unwrap().is_empty();
            if found {
                flag.leave(&count);
            }
            pusher.join().unwrap();
            let counted = count.all(1);
            assert!(
                found || !counted,
                "the loop is counted idle with work queued that it did not see"
            );
            assert_eq!(counted, flag.idle.load(SeqCst), "count and flag disagree");
        });
    }
}
