//! The process-wide listener registry and the `weft-signal` thread that reads the self-pipe.
//!
//! # Invariants
//!
//! 1. A listener decides "ready or wait" and stores its waker under the registry lock, and the reader thread
//!    takes the wakers to wake under the same lock, after it read the byte that follows a counter's increment.
//!    So a listener either sees the new count or has its waker taken (and woken): no delivery is lost.
//! 2. The handler of a signal is installed (`sys::signal::catch`) only after the self-pipe exists
//!    (`sys::signal` invariant 1), and at most once.

use std::collections::HashMap;
use std::io;
use std::os::fd::OwnedFd;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Waker;

use crate::sys::signal as sys;

/// Everything the registry keeps.
struct Registry {
    /// The self-pipe's read end, once created (kept here so the handler's writes always have a reader).
    pipe: Option<Arc<OwnedFd>>,
    /// Whether the reader thread runs.
    reader_started: bool,
    /// Which signals have their handler installed (invariant 2).
    caught: [bool; sys::MAX_SIGNAL + 1],
    /// Waiting listeners by id: their signal and waker.
    waiting: HashMap<u64, (i32, Waker)>,
    /// The next listener id.
    next_id: u64,
}

impl Registry {
    /// Nothing registered yet.
    fn new() -> Registry {
        Registry {
            pipe: None,
            reader_started: false,
            caught: [false; sys::MAX_SIGNAL + 1],
            waiting: HashMap::new(),
            next_id: 0,
        }
    }
}

/// The registry.
static REGISTRY: Mutex<Option<Registry>> = Mutex::new(None);

/// Locks the registry (ignoring poisoning: its critical sections do not panic midway).
fn lock() -> MutexGuard<'static, Option<Registry>> {
    REGISTRY
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Makes sure `signum` is caught and the reader runs; returns a new listener id and the deliveries so far.
pub(super) fn register(signum: i32) -> io::Result<(u64, u64)> {
    let mut guard = lock();
    let registry = guard.get_or_insert_with(Registry::new);
    if registry.pipe.is_none() {
        registry.pipe = Some(Arc::new(sys::open_self_pipe()?));
    }
    if !registry.reader_started {
        let pipe = registry.pipe.clone().expect("created above");
        std::thread::Builder::new()
            .name("weft-signal".into())
            .spawn(move || read_deliveries(&pipe))?;
        registry.reader_started = true;
    }
    let index = usize::try_from(signum).expect("checked by the caller");
    if !registry.caught[index] {
        sys::catch(signum)?;
        registry.caught[index] = true;
    }
    registry.next_id += 1;
    Ok((registry.next_id, sys::deliveries(signum)))
}

/// A listener of `signum` that has seen `seen` deliveries: `true` if a newer one arrived (and then `seen` is
/// updated); otherwise stores `waker` to be woken by the next delivery (invariant 1).
pub(super) fn poll(id: u64, signum: i32, seen: &mut u64, waker: &Waker) -> bool {
    let mut guard = lock();
    let now = sys::deliveries(signum);
    if now != *seen {
        *seen = now;
        if let Some(registry) = guard.as_mut() {
            registry.waiting.remove(&id);
        }
        return true;
    }
    if let Some(registry) = guard.as_mut() {
        match registry.waiting.get_mut(&id) {
            Some((_, stored)) if stored.will_wake(waker) => {}
            Some((_, stored)) => stored.clone_from(waker),
            None => {
                registry.waiting.insert(id, (signum, waker.clone()));
            }
        }
    }
    false
}

/// A listener goes away.
pub(super) fn deregister(id: u64) {
    if let Some(registry) = lock().as_mut() {
        registry.waiting.remove(&id);
    }
}

/// The `weft-signal` thread: waits for bytes on the self-pipe and wakes the listeners of every signal whose
/// counter moved since it last looked. Runs for the life of the process.
fn read_deliveries(pipe: &OwnedFd) {
    // Counters start at zero and move only once a handler is installed, which happens after this thread was
    // started: starting from zero, no delivery before this thread first looks is missed.
    let mut last = [0u64; sys::MAX_SIGNAL + 1];
    let mut buf = [0u8; 64];
    let mut woken = Vec::new();
    loop {
        if sys::read_blocking(pipe, &mut buf).is_err() {
            // read(2) on our own pipe fails only on programming errors; do not spin.
            return;
        }
        {
            let mut guard = lock();
            let Some(registry) = guard.as_mut() else {
                continue;
            };
            let mut moved = [false; sys::MAX_SIGNAL + 1];
            for (signum, last) in last.iter_mut().enumerate() {
                let now = sys::deliveries(signum as i32);
                moved[signum] = now != *last;
                *last = now;
            }
            registry.waiting.retain(|_, (signum, waker)| {
                if moved[*signum as usize] {
                    woken.push(waker.clone());
                    false
                } else {
                    true
                }
            });
        }
        // Woken outside the lock: a waker may run arbitrary code (another executor's wake).
        for waker in woken.drain(..) {
            waker.wake();
        }
    }
}
