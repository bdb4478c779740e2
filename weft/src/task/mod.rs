//! Tasks: a future handed to the runtime, with a handle to await its result or cancel it — spawning with a
//! name ([`Builder`]), groups of children ([`TaskGroup`]), running several futures at once ([`join!`](crate::join),
//! [`select!`](crate::select), [`try_join!`](crate::try_join), [`join_all`]), stepping aside ([`yield_now`],
//! the cooperative budget and [`unconstrained`]), per-task values ([`task_local!`](crate::task_local)), and the
//! [cancellation guide](cancellation).
//!
//! The task cell itself (its allocation, state word, wakers and handles) is the crate's `cell` layer, below the
//! runtime; this module sits above the runtime and re-exports what users name.

pub mod cancellation;
mod gather;
mod group;
mod local;
mod select;
mod try_join;
mod yield_now;

pub use crate::cell::builder::Builder;
pub use crate::cell::coop::{unconstrained, Unconstrained};
pub use crate::cell::error::JoinError;
pub use crate::cell::handle::{AbortHandle, JoinHandle};
pub use crate::cell::id::Id;
pub use gather::{join_all, JoinAll};
pub use group::{JoinNext, Outcome, TaskGroup};
pub use local::{AccessError, LocalKey, TaskLocalFuture};
pub use yield_now::{yield_now, YieldNow};

#[doc(hidden)]
pub use gather::__private;
#[doc(hidden)]
pub use select::__private as __select;
#[doc(hidden)]
pub use try_join::__private as __try_join;
