//! [`JoinError`]: why a task produced no output — it was cancelled, or it panicked.
//!
//! A panic's payload waits in a small process-wide table keyed by task id until the `JoinHandle` reads it, so
//! the task cell need not reserve room for it: panics are rare, small tasks are many.

#![forbid(unsafe_code)]

use std::any::Any;
use std::collections::HashMap;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Mutex;

use super::Id;

/// A task ended without an output: it was cancelled ([`JoinHandle::abort`](super::JoinHandle::abort) or runtime
/// shutdown), or it panicked.
///
/// ```
/// weft::run(async {
///     let task = weft::spawn(async { panic!("boom") });
///     let error = task.await.unwrap_err();
///     assert!(error.is_panic());
///     assert_eq!(*error.into_panic().downcast::<&str>().unwrap(), "boom");
/// });
/// ```
pub struct JoinError {
    /// The task that failed.
    id: Id,
    /// Why.
    repr: Repr,
}

/// Why a task failed.
enum Repr {
    /// Aborted or dropped at shutdown.
    Cancelled,
    /// Panicked with this payload.
    Panic(Box<dyn Any + Send>),
}

impl JoinError {
    /// A cancellation of task `id`.
    pub(crate) fn cancelled(id: Id) -> JoinError {
        JoinError {
            id,
            repr: Repr::Cancelled,
        }
    }

    /// A panic of task `id`. A missing payload (which the runtime never produces) reads as a unit payload.
    pub(crate) fn panic(id: Id, payload: Option<Box<dyn Any + Send>>) -> JoinError {
        JoinError {
            id,
            repr: Repr::Panic(payload.unwrap_or_else(|| Box::new(()))),
        }
    }

    /// True if the task was cancelled.
    ///
    /// ```
    /// weft::run(async {
    ///     let task = weft::spawn(std::future::pending::<()>());
    ///     task.abort();
    ///     let error = task.await.unwrap_err();
    ///     assert!(error.is_cancelled());
    ///     assert!(!error.is_panic());
    /// });
    /// ```
    pub fn is_cancelled(&self) -> bool {
        matches!(self.repr, Repr::Cancelled)
    }

    /// True if the task panicked.
    ///
    /// ```
    /// weft::run(async {
    ///     let error = weft::spawn(async { panic!("boom") }).await.unwrap_err();
    ///     assert!(error.is_panic());
    ///     assert!(!error.is_cancelled());
    /// });
    /// ```
    pub fn is_panic(&self) -> bool {
        matches!(self.repr, Repr::Panic(_))
    }

    /// The id of the task that failed.
    ///
    /// ```
    /// weft::run(async {
    ///     let task = weft::spawn(async { panic!("boom") });
    ///     let id = task.id();
    ///     assert_eq!(task.await.unwrap_err().id(), id);
    /// });
    /// ```
    pub fn id(&self) -> Id {
        self.id
    }

    /// The panic payload, to inspect or to resume the panic with [`std::panic::resume_unwind`].
    ///
    /// ```
    /// weft::run(async {
    ///     let code = 7;
    ///     let error = weft::spawn(async move { panic!("exit code {code}") }).await.unwrap_err();
    ///     let payload = error.into_panic();
    ///     // A formatted panic message is a String; a literal one is a &'static str.
    ///     assert_eq!(payload.downcast_ref::<String>().unwrap(), "exit code 7");
    /// });
    /// ```
    ///
    /// # Panics
    /// If the task was cancelled rather than panicked; use [`try_into_panic`](Self::try_into_panic) to check.
    pub fn into_panic(self) -> Box<dyn Any + Send> {
        self.try_into_panic()
            .expect("JoinError::into_panic called on a cancelled task; check is_panic() first")
    }

    /// The panic payload, or the error back if the task was cancelled.
    ///
    /// ```
    /// weft::run(async {
    ///     let task = weft::spawn(std::future::pending::<()>());
    ///     task.abort();
    ///     let error = task.await.unwrap_err();
    ///     let error = error.try_into_panic().unwrap_err(); // no payload: the error comes back
    ///     assert!(error.is_cancelled());
    ///
    ///     let error = weft::spawn(async { panic!("boom") }).await.unwrap_err();
    ///     assert_eq!(*error.try_into_panic().unwrap().downcast::<&str>().unwrap(), "boom");
    /// });
    /// ```
    pub fn try_into_panic(self) -> Result<Box<dyn Any + Send>, JoinError> {
        match self.repr {
            Repr::Panic(payload) => Ok(payload),
            Repr::Cancelled => Err(self),
        }
    }
}

/// The text of a panic payload, if it is a string.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> Option<&str> {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Cancelled => write!(f, "task {} was cancelled", self.id),
            Repr::Panic(payload) => match panic_message(payload.as_ref()) {
                Some(message) => write!(f, "task {} panicked: {message}", self.id),
                None => write!(f, "task {} panicked", self.id),
            },
        }
    }
}

impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Cancelled => write!(f, "JoinError::Cancelled({})", self.id),
            Repr::Panic(payload) => match panic_message(payload.as_ref()) {
                Some(message) => write!(f, "JoinError::Panic({}, {message:?})", self.id),
                None => write!(f, "JoinError::Panic({}, ..)", self.id),
            },
        }
    }
}

impl std::error::Error for JoinError {}

impl From<JoinError> for std::io::Error {
    fn from(error: JoinError) -> std::io::Error {
        std::io::Error::other(error.to_string())
    }
}

/// Payloads of panicked tasks whose output has not been read yet.
static PANICS: Mutex<Option<HashMap<Id, Box<dyn Any + Send>>>> = Mutex::new(None);

/// Keeps a task's panic payload until its join side reads or drops it.
pub(crate) fn store_panic(id: Id, payload: Box<dyn Any + Send>) {
    let mut table = PANICS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    table.get_or_insert_with(HashMap::new).insert(id, payload);
}

/// Takes a task's panic payload out of the table.
pub(crate) fn take_panic(id: Id) -> Option<Box<dyn Any + Send>> {
    let mut table = PANICS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    table.as_mut().and_then(|table| table.remove(&id))
}

/// Drops a panic payload, whose own destructor may panic too (`panic_any` of a value that panics when dropped):
/// that second panic is caught and its payload leaked rather than let loose.
pub(crate) fn drop_quietly(payload: Box<dyn Any + Send>) {
    if let Err(again) = catch_unwind(AssertUnwindSafe(move || drop(payload))) {
        std::mem::forget(again);
    }
}
