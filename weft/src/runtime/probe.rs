//! [`Probe`]: the one seam through which an observer (the x-ray's slow-poll detection and trace) watches the
//! loop. The loop calls it at a handful of moments — a turn starts, a task is queued, a poll runs, loop work
//! (parking, timers, I/O) is done, a task ends, the loop shuts down — and knows nothing of what it does with them.
//! With no probe installed, each of those moments costs one test of an `Option`.
//!
//! The always-on bookkeeping (bookmarks and poll statistics in the task header, the loop's counters) is not
//! behind the probe: it is a few stores, not worth a call through a pointer.

#![forbid(unsafe_code)]

use std::any::Any;
use std::fmt;
use std::panic::Location;
use std::sync::Arc;
use std::time::Instant;

use super::LoopId;
use crate::cell::{Id, Label};

/// Loop work that is not a task's poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LoopWork {
    /// Parked in the OS.
    Park,
    /// Firing timers.
    Timers,
    /// Dispatching I/O events.
    Io,
}

/// A poll about to run, as a probe sees it.
#[derive(Debug)]
pub(crate) struct PollInfo {
    /// The task.
    pub(crate) id: Id,
    /// Its name, if it has one.
    pub(crate) name: Option<Arc<str>>,
    /// Where it was spawned.
    pub(crate) spawned_at: &'static Location<'static>,
    /// The bookmark the poll resumes from, if the task parked in a weft future.
    pub(crate) resumed_from: Option<(&'static Location<'static>, Label)>,
}

/// What the loop tells an observer. Called on the loop's thread only.
pub(crate) trait Probe: Any {
    /// A turn starts.
    fn turn(&self);

    /// Task `id` was queued to run (spawned or woken).
    fn woke(&self, id: Id);

    /// Runs `poll` (which polls the task and says whether it was stale: already complete, nothing ran) under
    /// observation. `started` is told when the poll started, if the probe reads the clock for it, so that the
    /// task's statistics use that moment. Returns true if the poll was slow (the loop counts it).
    fn observe_poll(
        &self,
        task: &PollInfo,
        started: &dyn Fn(Instant),
        poll: &mut dyn FnMut() -> bool,
    ) -> bool;

    /// A timestamp for the start of loop work; `fresh` reads the clock, otherwise the last one read will do.
    fn work_start(&self, fresh: bool) -> u64;

    /// Loop work of `kind` that started at `start` handled `count` items (events, timers).
    fn work_done(&self, kind: LoopWork, start: u64, count: u64);

    /// Task `id` ended: forget what is kept about it.
    fn retired(&self, id: Id);

    /// The loop shuts down.
    fn shutdown(&self);

    /// Whether polls are timed, so that `busy_of` knows tasks' busy time.
    fn times_polls(&self) -> bool;

    /// The probe itself, for the observer to find its own state again.
    fn as_any(&self) -> &dyn Any;
}

/// Settings that make a [`Probe`] for each new loop, kept in the [`Builder`](super::Builder); the x-ray's
/// builder methods fill them in.
pub(crate) trait ProbeSettings: Send + Sync + fmt::Debug {
    /// A probe for a new loop, with what other threads may read of it while the loop is busy (the x-ray: the
    /// poll in progress), which the loop keeps in its shared half; `None` if nothing is to be observed.
    fn start(&self, loop_id: LoopId) -> Option<(Box<dyn Probe>, Arc<dyn Any + Send + Sync>)>;

    /// The settings one runtime's loops start from: what its loops share (one trace file for all of them) is
    /// made here, once per runtime.
    fn for_runtime(&self) -> Box<dyn ProbeSettings>;

    /// The settings themselves, for the observer to change them.
    fn as_any_mut(&mut self) -> &mut dyn Any;

    /// A copy (the builder is `Clone`).
    fn clone_box(&self) -> Box<dyn ProbeSettings>;
}
