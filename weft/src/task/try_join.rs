//! [`try_join!`](crate::try_join): run several fallible futures at once; all their values, or the first error.
//!
//! Each future is wrapped in a [`TryChild`](__private::TryChild) pinned on the caller's stack with
//! [`core::pin::pin!`], so no `unsafe` reaches the caller's code. Every poll polls the children that are still
//! running (a `try_join!` has a handful of them); the first `Err` returns at once, and the other futures are
//! dropped with the macro's block — cancelled at their bookmarks.

/// Support for [`try_join!`](crate::try_join); not public API.
#[doc(hidden)]
pub mod __private {
    use std::fmt;
    use std::future::Future;
    use std::pin::Pin;
    use std::task::Context;

    pub use std::future::poll_fn;
    pub use std::task::Poll;

    /// A future's output that is a `Result`.
    pub trait TryOutput {
        /// The value.
        type Ok;
        /// The error.
        type Err;
        /// The output as a `Result`.
        fn into_result(self) -> Result<Self::Ok, Self::Err>;
    }

    impl<T, E> TryOutput for Result<T, E> {
        type Ok = T;
        type Err = E;
        fn into_result(self) -> Result<T, E> {
            self
        }
    }

    /// One future of a `try_join!`: running, then its value.
    pub struct TryChild<F: Future>
    where
        F::Output: TryOutput,
    {
        /// Where it is.
        stage: Stage<F>,
    }

    /// A child's stage. Only `Running` is pinned: the value is moved out freely.
    enum Stage<F: Future>
    where
        F::Output: TryOutput,
    {
        /// The future, pinned where the child is.
        Running(F),
        /// Its value, not taken yet.
        Done(<F::Output as TryOutput>::Ok),
        /// Value taken, or the future failed.
        Gone,
    }

    impl<F: Future> TryChild<F>
    where
        F::Output: TryOutput,
    {
        /// Wraps a future.
        pub fn new(future: F) -> TryChild<F> {
            TryChild {
                stage: Stage::Running(future),
            }
        }

        /// Polls the future if it is still running: `Ready(Ok(()))` once it has a value, `Ready(Err(..))` when
        /// it failed.
        pub fn poll_child(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
        ) -> Poll<Result<(), <F::Output as TryOutput>::Err>> {
            // SAFETY: the future inside `Running` is never moved: it is polled in place and dropped in place when
            // the stage is overwritten; the other stages hold nothing pinned.
            let this = unsafe { self.get_unchecked_mut() };
            let Stage::Running(future) = &mut this.stage else {
                return Poll::Ready(Ok(()));
            };
            // SAFETY: as above: the future stays where it is until dropped.
            let future = unsafe { Pin::new_unchecked(future) };
            match future.poll(cx) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(output) => match output.into_result() {
                    Ok(value) => {
                        this.stage = Stage::Done(value);
                        Poll::Ready(Ok(()))
                    }
                    Err(error) => {
                        this.stage = Stage::Gone;
                        Poll::Ready(Err(error))
                    }
                },
            }
        }

        /// Takes the value, once every child has one.
        pub fn take(self: Pin<&mut Self>) -> <F::Output as TryOutput>::Ok {
            // SAFETY: only the `Done` stage is read and replaced, and it holds nothing pinned.
            let this = unsafe { self.get_unchecked_mut() };
            match std::mem::replace(&mut this.stage, Stage::Gone) {
                Stage::Done(value) => value,
                _ => panic!("try_join! took a value that was not there"),
            }
        }
    }

    impl<F: Future> fmt::Debug for TryChild<F>
    where
        F::Output: TryOutput,
    {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            let stage = match self.stage {
                Stage::Running(_) => "running",
                Stage::Done(_) => "done",
                Stage::Gone => "gone",
            };
            f.debug_tuple("TryChild").field(&stage).finish()
        }
    }
}

/// Runs several futures that return `Result` at once on the current task and returns all their values as a
/// tuple, or the first error: the moment one future fails, the others are dropped (cancelled at their
/// bookmarks) and `try_join!` returns that error. Every future must have the same error type.
///
/// ```
/// use std::time::Duration;
/// use weft::time::{sleep, Instant};
///
/// async fn fetch(name: &'static str, seconds: u64) -> Result<&'static str, String> {
///     sleep(Duration::from_secs(seconds)).await;
///     if name == "broken" { Err(format!("{name} failed")) } else { Ok(name) }
/// }
///
/// let runtime = weft::Builder::new().start_paused(true).build().unwrap();
/// runtime.block_on(async {
///     let both = weft::try_join!(fetch("a", 1), fetch("b", 2));
///     assert_eq!(both, Ok(("a", "b")));
///
///     let start = Instant::now();
///     let failed = weft::try_join!(fetch("slow", 60), fetch("broken", 1));
///     assert_eq!(failed, Err("broken failed".to_string()));
///     assert_eq!(start.elapsed(), Duration::from_secs(1)); // the slow one was dropped, not awaited
/// });
/// ```
#[macro_export]
macro_rules! try_join {
    ($($future:expr),+ $(,)?) => {
        $crate::__try_join_internal!(@normalize () () $($future,)+)
    };
}

/// Implementation of [`try_join!`]: gives each future the list of `_` that skips to its place in the tuple.
#[doc(hidden)]
#[macro_export]
macro_rules! __try_join_internal {
    (@normalize ($($done:tt)*) ($($skip:tt)*) $head:expr, $($rest:expr,)*) => {
        $crate::__try_join_internal!(@normalize ($($done)* [($($skip)*) $head]) ($($skip)* _) $($rest,)*)
    };
    (@normalize ($([($($skip:tt)*) $future:expr])*) ($($count:tt)*)) => {{
        // Dropped at the end of this block: on the first error, the others go at once.
        let mut __children = ( $(
            ::core::pin::pin!($crate::task::__try_join::TryChild::new(
                ::core::future::IntoFuture::into_future($future),
            )),
        )* );
        $crate::task::__try_join::poll_fn(|__cx| {
            let mut __done = true;
            $(
                {
                    let ( $($skip,)* __child, .. ) = &mut __children;
                    match __child.as_mut().poll_child(__cx) {
                        $crate::task::__try_join::Poll::Ready(::core::result::Result::Ok(())) => {}
                        $crate::task::__try_join::Poll::Ready(::core::result::Result::Err(__error)) => {
                            return $crate::task::__try_join::Poll::Ready(::core::result::Result::Err(__error));
                        }
                        $crate::task::__try_join::Poll::Pending => __done = false,
                    }
                }
            )*
            if !__done {
                return $crate::task::__try_join::Poll::Pending;
            }
            $crate::task::__try_join::Poll::Ready(::core::result::Result::Ok(( $( {
                let ( $($skip,)* __child, .. ) = &mut __children;
                __child.as_mut().take()
            }, )* )))
        })
        .await
    }};
}
