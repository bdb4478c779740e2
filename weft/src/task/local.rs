//! Task-local values: [`task_local!`](crate::task_local) declares a [`LocalKey`]; [`LocalKey::scope`] gives it a
//! value for the whole life of one future — the role of Python's `contextvars` in asyncio.
//!
//! The value lives in the future returned by `scope` and is lent to a thread-local only while that future is
//! being polled: each poll swaps it in, polls, and swaps it back out (also when the poll panics). So the value
//! follows the future wherever it is polled — on whichever task, loop or thread — nested scopes restore the
//! outer value when the inner poll ends, and code outside the scope never sees it.

use std::cell::RefCell;
use std::error::Error;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::thread;

/// Declares task-local values: `static NAME: Type;`, each a [`LocalKey`] with no value until a
/// [`scope`](LocalKey::scope) gives it one.
///
/// ```
/// weft::task_local! {
///     /// The id of the request being served.
///     static REQUEST_ID: u64;
///     pub static USER: String;
/// }
///
/// async fn log(message: &str) -> String {
///     let id = REQUEST_ID.with(|id| *id);
///     format!("[request {id}] {message}")
/// }
///
/// weft::run(async {
///     let line = REQUEST_ID.scope(7, async { log("hello").await }).await;
///     assert_eq!(line, "[request 7] hello");
///     assert!(REQUEST_ID.try_with(|id| *id).is_err()); // outside the scope: no value
/// });
/// ```
#[macro_export]
macro_rules! task_local {
    () => {};
    ($(#[$attr:meta])* $vis:vis static $name:ident: $ty:ty; $($rest:tt)*) => {
        $crate::__task_local_inner!($(#[$attr])* $vis $name, $ty);
        $crate::task_local!($($rest)*);
    };
    ($(#[$attr:meta])* $vis:vis static $name:ident: $ty:ty) => {
        $crate::__task_local_inner!($(#[$attr])* $vis $name, $ty);
    };
}

/// Implementation of [`task_local!`]: one key.
#[doc(hidden)]
#[macro_export]
macro_rules! __task_local_inner {
    ($(#[$attr:meta])* $vis:vis $name:ident, $ty:ty) => {
        $(#[$attr])*
        $vis static $name: $crate::task::LocalKey<$ty> = {
            ::std::thread_local! {
                static __WEFT_TASK_LOCAL: ::std::cell::RefCell<::std::option::Option<$ty>> =
                    const { ::std::cell::RefCell::new(::std::option::Option::None) };
            }
            $crate::task::LocalKey::__new(__WEFT_TASK_LOCAL, ::std::stringify!($name))
        };
    };
}

/// A task-local value's key, declared with [`task_local!`](crate::task_local).
///
/// ```
/// weft::task_local! { static DEPTH: u32; }
///
/// weft::run(async {
///     DEPTH.scope(1, async {
///         assert_eq!(DEPTH.get(), 1);
///         DEPTH.scope(2, async { assert_eq!(DEPTH.get(), 2) }).await; // nested: shadows...
///         assert_eq!(DEPTH.get(), 1); // ...and restores
///     }).await;
/// });
/// ```
pub struct LocalKey<T: 'static> {
    /// Where the value is lent while its scope's future is polled.
    inner: thread::LocalKey<RefCell<Option<T>>>,
    /// The name it was declared with.
    name: &'static str,
}

impl<T: 'static> LocalKey<T> {
    /// Used by [`task_local!`](crate::task_local); not public API.
    #[doc(hidden)]
    pub const fn __new(
        inner: thread::LocalKey<RefCell<Option<T>>>,
        name: &'static str,
    ) -> LocalKey<T> {
        LocalKey { inner, name }
    }

    /// Runs `future` with `value` as this key's value: inside it (and whatever it awaits), [`with`](Self::with)
    /// sees `value`; outside, nothing changes. Spawned tasks do not inherit it: pass it on with another
    /// `scope`.
    ///
    /// ```
    /// weft::task_local! { static NAME: &'static str; }
    ///
    /// weft::run(async {
    ///     let a = weft::spawn(NAME.scope("a", async { weft::task::yield_now().await; NAME.get() }));
    ///     let b = weft::spawn(NAME.scope("b", async { weft::task::yield_now().await; NAME.get() }));
    ///     assert_eq!((a.await.unwrap(), b.await.unwrap()), ("a", "b")); // per task, though interleaved
    /// });
    /// ```
    pub fn scope<F: Future>(&'static self, value: T, future: F) -> TaskLocalFuture<T, F> {
        TaskLocalFuture {
            key: self,
            value: Some(value),
            future: Some(future),
        }
    }

    /// Runs the closure `f` with `value` as this key's value, then restores what was there.
    ///
    /// ```
    /// weft::task_local! { static LEVEL: u8; }
    ///
    /// let seen = LEVEL.sync_scope(3, || LEVEL.get());
    /// assert_eq!(seen, 3);
    /// assert!(LEVEL.try_with(|_| ()).is_err());
    /// ```
    pub fn sync_scope<F: FnOnce() -> R, R>(&'static self, value: T, f: F) -> R {
        let mut slot = Some(value);
        let _lent = self.lend(&mut slot);
        f()
    }

    /// Calls `f` with a reference to the value.
    ///
    /// ```
    /// weft::task_local! { static GREETING: String; }
    ///
    /// weft::run(GREETING.scope("hello".into(), async {
    ///     assert_eq!(GREETING.with(|text| text.len()), 5);
    /// }));
    /// ```
    ///
    /// # Panics
    /// Outside a [`scope`](Self::scope) of this key; use [`try_with`](Self::try_with) to check.
    #[track_caller]
    pub fn with<F: FnOnce(&T) -> R, R>(&'static self, f: F) -> R {
        match self.try_with(f) {
            Ok(result) => result,
            Err(_) => panic!(
                "task-local `{}` read outside its scope: wrap the future in {}.scope(value, future)",
                self.name, self.name
            ),
        }
    }

    /// Calls `f` with a reference to the value, or returns [`AccessError`] outside a scope of this key.
    ///
    /// ```
    /// weft::task_local! { static TRACE: u32; }
    ///
    /// weft::run(async {
    ///     assert!(TRACE.try_with(|id| *id).is_err());
    ///     let inside = TRACE.scope(9, async { TRACE.try_with(|id| *id) }).await;
    ///     assert_eq!(inside, Ok(9));
    /// });
    /// ```
    pub fn try_with<F: FnOnce(&T) -> R, R>(&'static self, f: F) -> Result<R, AccessError> {
        let borrowed = self.inner.try_with(|cell| {
            let value = cell.borrow();
            value.as_ref().map(f)
        });
        match borrowed {
            Ok(Some(result)) => Ok(result),
            _ => Err(AccessError { name: self.name }),
        }
    }

    /// A copy of the value.
    ///
    /// ```
    /// weft::task_local! { static ATTEMPT: u32; }
    ///
    /// weft::run(ATTEMPT.scope(2, async { assert_eq!(ATTEMPT.get(), 2) }));
    /// ```
    ///
    /// # Panics
    /// Outside a scope of this key.
    #[track_caller]
    pub fn get(&'static self) -> T
    where
        T: Clone,
    {
        self.with(T::clone)
    }

    /// Swaps `slot` into the thread-local; the guard swaps it back when dropped.
    fn lend<'a>(&'static self, slot: &'a mut Option<T>) -> Lent<'a, T> {
        self.swap(slot);
        Lent { key: self, slot }
    }

    /// Exchanges `slot` with the thread-local's value.
    fn swap(&'static self, slot: &mut Option<T>) {
        self.inner.with(|cell| {
            let mut value = cell.try_borrow_mut().unwrap_or_else(|_| {
                panic!(
                    "task-local `{}` entered or left a scope while `with` was reading it",
                    self.name
                )
            });
            std::mem::swap(&mut *value, slot);
        });
    }
}

impl<T: 'static> fmt::Debug for LocalKey<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalKey")
            .field("name", &self.name)
            .finish()
    }
}

/// Puts a lent value back where it came from.
struct Lent<'a, T: 'static> {
    /// The key.
    key: &'static LocalKey<T>,
    /// Where the value goes back to (and the outer value comes back from).
    slot: &'a mut Option<T>,
}

impl<T: 'static> Drop for Lent<'_, T> {
    fn drop(&mut self) {
        self.key.swap(self.slot);
    }
}

/// The future returned by [`LocalKey::scope`]: polls its future with the value lent to the key.
///
/// ```
/// use weft::task::TaskLocalFuture;
///
/// weft::task_local! { static TENANT: &'static str; }
///
/// weft::run(async {
///     let scoped: TaskLocalFuture<&str, _> = TENANT.scope("acme", async { TENANT.get() });
///     assert_eq!(scoped.await, "acme");
/// });
/// ```
#[must_use = "futures do nothing unless you .await them"]
pub struct TaskLocalFuture<T: 'static, F> {
    /// The key.
    key: &'static LocalKey<T>,
    /// The value, while it is not lent.
    value: Option<T>,
    /// The future; `None` once dropped (inside the scope, so its destructors see the value).
    future: Option<F>,
}

impl<T: 'static, F: Future> Future for TaskLocalFuture<T, F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // SAFETY: `future` is structurally pinned: it is never moved out, only polled in place and dropped in
        // place (in `Drop`); `key` and `value` are not pinned and are only swapped.
        let this = unsafe { self.get_unchecked_mut() };
        let _lent = this.key.lend(&mut this.value);
        let future = this
            .future
            .as_mut()
            .expect("TaskLocalFuture polled after it completed");
        // SAFETY: as above: the future stays in place until dropped.
        let poll = unsafe { Pin::new_unchecked(future) }.poll(cx);
        if poll.is_ready() {
            // Dropped now, in place, with the value still lent.
            this.future = None;
        }
        poll
    }
}

impl<T: 'static, F> Drop for TaskLocalFuture<T, F> {
    fn drop(&mut self) {
        if self.future.is_none() {
            return;
        }
        // The future's destructors run inside the scope, as its polls did. If the thread-local is gone (thread
        // exit), they run without it.
        if self.key.inner.try_with(|_| ()).is_ok() {
            let _lent = self.key.lend(&mut self.value);
            self.future = None;
        } else {
            self.future = None;
        }
    }
}

impl<T: 'static, F> fmt::Debug for TaskLocalFuture<T, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskLocalFuture")
            .field("key", &self.key.name)
            .field("done", &self.future.is_none())
            .finish()
    }
}

/// A task-local value was read outside a scope of its key (from [`LocalKey::try_with`]).
///
/// ```
/// weft::task_local! { static ID: u8; }
///
/// let error = ID.try_with(|id| *id).unwrap_err();
/// assert_eq!(error.to_string(), "task-local `ID` has no value here: no scope of it encloses this code");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccessError {
    /// The key's name.
    name: &'static str,
}

impl fmt::Display for AccessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "task-local `{}` has no value here: no scope of it encloses this code",
            self.name
        )
    }
}

impl Error for AccessError {}
