//! [`select!`](crate::select): wait on several futures at once, take the first that finishes, drop the rest.
//!
//! The macro is `macro_rules!` only. It pins every branch's future on the stack with [`core::pin::pin!`] (no
//! `unsafe` reaches the caller's code), polls them from one `poll_fn` starting at a random branch (a xorshift
//! generator in a thread-local: a few instructions, no lock, no syscall), and returns a nested [`Choice`] value
//! naming the winner and its output. The futures are dropped at the end of that block — before the winner's
//! handler runs — and the handler runs in the caller's own context, so `break`, `continue`, `return`, `?` and
//! `.await` in it mean what they mean outside the macro.
//!
//! A branch whose output does not match its pattern is disabled and the others are polled on; to test the
//! match without moving the output, the pattern is matched against a reference to it with its `mut` and `ref`
//! keywords removed (a token muncher does it, as tokio's proc-macro does). The real match, with the pattern as
//! written, happens outside.

use std::cell::Cell;
use std::hash::{BuildHasher, Hasher};

/// Support for [`select!`](crate::select); not public API.
#[doc(hidden)]
pub mod __private {
    pub use std::future::poll_fn;
    pub use std::task::Poll;

    /// The winner of a `select!`: `This` is the first branch's output, `Next(This(..))` the second's, and so on;
    /// the innermost `Next` of the last branch holds [`AllDisabled`].
    #[derive(Debug)]
    pub enum Choice<T, R> {
        /// This branch won, with its output.
        This(T),
        /// A later branch won (or all were disabled).
        Next(R),
    }

    /// Every branch was disabled: its precondition was false or its output failed its pattern.
    #[derive(Debug)]
    pub struct AllDisabled;

    pub use super::random_start;

    /// The mask of `branches` branches.
    pub const fn all(branches: usize) -> u64 {
        if branches >= 64 {
            u64::MAX
        } else {
            (1u64 << branches) - 1
        }
    }
}

thread_local! {
    /// The state of this thread's xorshift generator; 0 until first used.
    static RANDOM: Cell<u64> = const { Cell::new(0) };
}

/// A random index below `branches` (at most 64), from this thread's generator: where a `select!` starts polling,
/// so no branch is always first. Not public API.
#[doc(hidden)]
#[inline(always)]
pub fn random_start(branches: usize) -> usize {
    RANDOM.with(|state| {
        let mut x = state.get();
        if x == 0 {
            x = seed();
        }
        // xorshift64 (Marsaglia 2003): a full-period generator over the nonzero 64-bit states.
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        state.set(x);
        // The high bits scaled into 0..branches (Lemire's multiply-shift, no division).
        (((x >> 32) * branches as u64) >> 32) as usize
    })
}

/// A nonzero seed from std's per-process random hash keys and this thread's address space.
#[cold]
fn seed() -> u64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    let local = 0u8;
    hasher.write_usize(&local as *const u8 as usize);
    hasher.finish() | 1
}

/// Waits on several futures at once and runs the handler of the first one to finish; the others are dropped.
///
/// Each branch reads `pattern = future => handler`. When a future finishes and its output matches the pattern,
/// every future is dropped and the handler runs with the pattern's bindings, and its value is the value of
/// `select!`. If the output does not match (say `Some(x) = rx.recv()` gets `None`), that branch is disabled and
/// the others go on. A branch may carry a precondition, `pattern = future, if condition => handler`: when the
/// condition is false the future is still created but never polled. `else => handler` runs when every branch is
/// disabled; without it, that case panics.
///
/// Branches are polled from a random one each time, so a branch that is always ready cannot starve the others;
/// start the macro with `biased;` to poll them in written order instead (cheaper, and sometimes what you mean:
/// "shutdown first").
///
/// **Dropping a future cancels it** at its bookmark: use futures that are *cancel-safe* (dropping them loses
/// nothing) as losing branches, which every weft future is, or keep a future across iterations with `&mut` so
/// it is not dropped. See [the cancellation guide](crate::task::cancellation).
///
/// ```
/// use std::time::Duration;
/// use weft::sync::mpsc;
/// use weft::time::sleep;
///
/// let runtime = weft::Builder::new().start_paused(true).build().unwrap();
/// runtime.block_on(async {
///     let (tx, mut rx) = mpsc::channel(8);
///     weft::spawn(async move {
///         for i in 0..3 {
///             tx.send(i).await.unwrap();
///         }
///     });
///     let mut received = Vec::new();
///     let deadline = sleep(Duration::from_secs(1));
///     let mut deadline = std::pin::pin!(deadline); // !Unpin, kept across iterations by &mut
///     loop {
///         weft::select! {
///             Some(n) = rx.recv() => received.push(n),
///             _ = &mut deadline => break,
///             else => break, // the channel closed: recv gave None
///         }
///     }
///     assert_eq!(received, [0, 1, 2]);
/// });
/// ```
///
/// `biased;` and a precondition:
///
/// ```
/// weft::run(async {
///     let shutting_down = true;
///     let picked = weft::select! {
///         biased;
///         _ = async {}, if !shutting_down => "work",
///         _ = async {} => "shutdown",
///     };
///     assert_eq!(picked, "shutdown");
/// });
/// ```
#[macro_export]
macro_rules! select {
    (biased; $($branches:tt)+) => {
        $crate::__select_internal!(@parse true [] [] [] $($branches)+)
    };
    ($($branches:tt)+) => {
        $crate::__select_internal!(@parse false [] [] [] $($branches)+)
    };
}

/// Implementation of [`select!`]. State: `biased [else handler] [branches] [one _ per branch so far]`.
#[doc(hidden)]
#[macro_export]
macro_rules! __select_internal {
    // ---- parsing: one branch at a time ----
    (@parse $biased:tt $else:tt $branches:tt $count:tt) => {
        $crate::__select_internal!(@emit $biased $else $branches $count)
    };
    (@parse $biased:tt [] $branches:tt $count:tt else => $handler:block, $($rest:tt)*) => {
        $crate::__select_internal!(@parse $biased [$handler] $branches $count $($rest)*)
    };
    (@parse $biased:tt [] $branches:tt $count:tt else => $handler:block $($rest:tt)*) => {
        $crate::__select_internal!(@parse $biased [$handler] $branches $count $($rest)*)
    };
    (@parse $biased:tt [] $branches:tt $count:tt else => $handler:expr, $($rest:tt)*) => {
        $crate::__select_internal!(@parse $biased [$handler] $branches $count $($rest)*)
    };
    (@parse $biased:tt [] $branches:tt $count:tt else => $handler:expr) => {
        $crate::__select_internal!(@parse $biased [$handler] $branches $count)
    };
    (@parse $biased:tt $else:tt $branches:tt $count:tt $($rest:tt)+) => {
        $crate::__select_internal!(@pattern $biased $else $branches $count () $($rest)+)
    };
    // The pattern: every token up to the first `=` at its level.
    (@pattern $biased:tt $else:tt $branches:tt $count:tt ($($pattern:tt)*) = $($rest:tt)*) => {
        $crate::__select_internal!(@future $biased $else $branches $count ($($pattern)*) $($rest)*)
    };
    (@pattern $biased:tt $else:tt $branches:tt $count:tt ($($pattern:tt)*) $token:tt $($rest:tt)*) => {
        $crate::__select_internal!(@pattern $biased $else $branches $count ($($pattern)* $token) $($rest)*)
    };
    // The future, an optional precondition, the handler.
    (@future $b:tt $e:tt [$($br:tt)*] [$($n:tt)*] $p:tt $f:expr, if $c:expr => $h:block, $($rest:tt)*) => {
        $crate::__select_internal!(@parse $b $e [$($br)* [[$($n)*] $p ($f) ($c) ($h)]] [$($n)* _] $($rest)*)
    };
    (@future $b:tt $e:tt [$($br:tt)*] [$($n:tt)*] $p:tt $f:expr, if $c:expr => $h:block $($rest:tt)*) => {
        $crate::__select_internal!(@parse $b $e [$($br)* [[$($n)*] $p ($f) ($c) ($h)]] [$($n)* _] $($rest)*)
    };
    (@future $b:tt $e:tt [$($br:tt)*] [$($n:tt)*] $p:tt $f:expr, if $c:expr => $h:expr, $($rest:tt)*) => {
        $crate::__select_internal!(@parse $b $e [$($br)* [[$($n)*] $p ($f) ($c) ($h)]] [$($n)* _] $($rest)*)
    };
    (@future $b:tt $e:tt [$($br:tt)*] [$($n:tt)*] $p:tt $f:expr, if $c:expr => $h:expr) => {
        $crate::__select_internal!(@parse $b $e [$($br)* [[$($n)*] $p ($f) ($c) ($h)]] [$($n)* _])
    };
    (@future $b:tt $e:tt [$($br:tt)*] [$($n:tt)*] $p:tt $f:expr => $h:block, $($rest:tt)*) => {
        $crate::__select_internal!(@parse $b $e [$($br)* [[$($n)*] $p ($f) (true) ($h)]] [$($n)* _] $($rest)*)
    };
    (@future $b:tt $e:tt [$($br:tt)*] [$($n:tt)*] $p:tt $f:expr => $h:block $($rest:tt)*) => {
        $crate::__select_internal!(@parse $b $e [$($br)* [[$($n)*] $p ($f) (true) ($h)]] [$($n)* _] $($rest)*)
    };
    (@future $b:tt $e:tt [$($br:tt)*] [$($n:tt)*] $p:tt $f:expr => $h:expr, $($rest:tt)*) => {
        $crate::__select_internal!(@parse $b $e [$($br)* [[$($n)*] $p ($f) (true) ($h)]] [$($n)* _] $($rest)*)
    };
    (@future $b:tt $e:tt [$($br:tt)*] [$($n:tt)*] $p:tt $f:expr => $h:expr) => {
        $crate::__select_internal!(@parse $b $e [$($br)* [[$($n)*] $p ($f) (true) ($h)]] [$($n)* _])
    };

    // ---- the expansion ----
    (@emit $biased:tt [$($else:tt)*]
        [$( [[$($skip:tt)*] ($($pattern:tt)*) ($future:expr) ($condition:expr) ($handler:expr)] )+]
        [$($count:tt)+]
    ) => {{
        let __branches: usize = <[()]>::len(&[$($crate::__select_internal!(@unit $count)),+]);
        let mut __disabled: u64 = 0;
        $(
            if !$condition {
                __disabled |= 1u64 << <[()]>::len(&[$($crate::__select_internal!(@unit $skip)),*]);
            }
        )+
        let __output = {
            // Dropped at the end of this block: the losers go before the winner's handler runs.
            let mut __futures = ( $( ::core::pin::pin!(::core::future::IntoFuture::into_future($future)), )+ );
            $crate::task::__select::poll_fn(|__cx| {
                let __start: usize = $crate::__select_internal!(@start $biased __branches);
                for __pass in 0..2 {
                    $(
                        let __index: usize = <[()]>::len(&[$($crate::__select_internal!(@unit $skip)),*]);
                        let __due = if __pass == 0 { __index >= __start } else { __index < __start };
                        if __due && __disabled & (1u64 << __index) == 0 {
                            let ( $($skip,)* __future, .. ) = &mut __futures;
                            if let $crate::task::__select::Poll::Ready(__value) =
                                ::core::future::Future::poll(__future.as_mut(), __cx)
                            {
                                __disabled |= 1u64 << __index;
                                #[allow(unused_variables, unreachable_patterns, clippy::redundant_pattern_matching)]
                                let __matches = match &__value {
                                    $crate::__select_internal!(@clean [] () $($pattern)*) => true,
                                    _ => false,
                                };
                                if __matches {
                                    return $crate::task::__select::Poll::Ready(
                                        $crate::__select_internal!(@wrap [$($skip)*] __value),
                                    );
                                }
                            }
                        }
                    )+
                }
                if __disabled == $crate::task::__select::all(__branches) {
                    return $crate::task::__select::Poll::Ready(
                        $crate::__select_internal!(@disabled [$($count)+]),
                    );
                }
                $crate::task::__select::Poll::Pending
            })
            .await
        };
        #[allow(unreachable_patterns, unused_variables)]
        match __output {
            $( $crate::__select_internal!(@wrap [$($skip)*] $($pattern)*) => $handler, )+
            $crate::__select_internal!(@disabled [$($count)+]) => $crate::__select_internal!(@else $($else)*),
            _ => ::core::unreachable!("weft::select!: an output matched its pattern by reference but not by value"),
        }
    }};

    (@unit $token:tt) => { () };
    (@start true $branches:ident) => { 0 };
    (@start false $branches:ident) => { $crate::task::__select::random_start($branches) };
    (@else) => {
        ::core::panic!("weft::select!: every branch is disabled and there is no `else` branch")
    };
    (@else $handler:expr) => { $handler };

    // The winner's value (or pattern), nested in one `Next` per branch before it.
    (@wrap [] $($value:tt)*) => { $crate::task::__select::Choice::This($($value)*) };
    (@wrap [_ $($skip:tt)*] $($value:tt)*) => {
        $crate::task::__select::Choice::Next($crate::__select_internal!(@wrap [$($skip)*] $($value)*))
    };
    (@disabled []) => { $crate::task::__select::AllDisabled };
    (@disabled [_ $($count:tt)*]) => {
        $crate::task::__select::Choice::Next($crate::__select_internal!(@disabled [$($count)*]))
    };

    // A pattern without `mut` and `ref`, to match against a reference. A stack keeps the enclosing levels while
    // the muncher is inside a group: [delimiter (tokens before the group) (tokens after it)].
    (@clean [] ($($done:tt)*)) => { $($done)* };
    (@clean [[paren ($($before:tt)*) ($($after:tt)*)] $($stack:tt)*] ($($inner:tt)*)) => {
        $crate::__select_internal!(@clean [$($stack)*] ($($before)* ($($inner)*)) $($after)*)
    };
    (@clean [[bracket ($($before:tt)*) ($($after:tt)*)] $($stack:tt)*] ($($inner:tt)*)) => {
        $crate::__select_internal!(@clean [$($stack)*] ($($before)* [$($inner)*]) $($after)*)
    };
    (@clean [[brace ($($before:tt)*) ($($after:tt)*)] $($stack:tt)*] ($($inner:tt)*)) => {
        $crate::__select_internal!(@clean [$($stack)*] ($($before)* {$($inner)*}) $($after)*)
    };
    (@clean [$($stack:tt)*] ($($done:tt)*) ($($inner:tt)*) $($rest:tt)*) => {
        $crate::__select_internal!(@clean [[paren ($($done)*) ($($rest)*)] $($stack)*] () $($inner)*)
    };
    (@clean [$($stack:tt)*] ($($done:tt)*) [$($inner:tt)*] $($rest:tt)*) => {
        $crate::__select_internal!(@clean [[bracket ($($done)*) ($($rest)*)] $($stack)*] () $($inner)*)
    };
    (@clean [$($stack:tt)*] ($($done:tt)*) {$($inner:tt)*} $($rest:tt)*) => {
        $crate::__select_internal!(@clean [[brace ($($done)*) ($($rest)*)] $($stack)*] () $($inner)*)
    };
    (@clean $stack:tt ($($done:tt)*) mut $($rest:tt)*) => {
        $crate::__select_internal!(@clean $stack ($($done)*) $($rest)*)
    };
    (@clean $stack:tt ($($done:tt)*) ref $($rest:tt)*) => {
        $crate::__select_internal!(@clean $stack ($($done)*) $($rest)*)
    };
    (@clean $stack:tt ($($done:tt)*) $token:tt $($rest:tt)*) => {
        $crate::__select_internal!(@clean $stack ($($done)* $token) $($rest)*)
    };
}
