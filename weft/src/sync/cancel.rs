//! [`CancellationToken`]: a flag that says "stop", shared by tasks on any loop or thread, in a tree — cancelling
//! a token cancels its children, never its parent.
//!
//! Each token is a node: an atomic `cancelled` flag (so `is_cancelled` takes no lock) and, behind its own
//! mutex, its parent, its children, a count of its handles and the tasks waiting in
//! [`cancelled`](CancellationToken::cancelled).
//!
//! # Invariants
//!
//! 1. **Locks are taken top-down**: a parent before its child, a node before its children. Two siblings are
//!    locked together only under their parent's lock.
//! 2. **A parent lists a child only while the child has handles and the parent is not cancelled.** The child's
//!    last handle removes it from the list (so dropped children are not kept by a long-lived parent) and hands
//!    its own children to its parent — or, if the parent is cancelled, cancels them, since the parent's
//!    cancellation may not have reached it yet. Cancelling a node takes its list whole. So the `Arc` cycle
//!    between a parent and a child is always broken by the time either is unreachable.
//! 3. **`cancelled` is set under the node's lock**, where its waiters are unlinked, so a waiter that registers
//!    under the lock after seeing it unset is always woken.

use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::parked;
use super::wait_list::{WaitKey, WaitList, WakeBatch};
use crate::cell::coop;
use crate::cell::Op;
use crate::loom::sync::atomic::{AtomicBool, Ordering};
use crate::loom::sync::{lock, Arc, Mutex};

/// Carries cancellation across tasks, loops and threads: [`cancel`](Self::cancel) once, and every task
/// awaiting [`cancelled`](Self::cancelled) on it — or on any of its [child tokens](Self::child_token) — wakes.
///
/// Clones are the same token. `Clone + Send + Sync`. Cancelling is for good: a token never becomes uncancelled.
///
/// ```
/// use std::time::Duration;
/// use weft::sync::CancellationToken;
///
/// let runtime = weft::Builder::new().start_paused(true).build().unwrap();
/// runtime.block_on(async {
///     let shutdown = CancellationToken::new();
///     let worker = weft::spawn({
///         let shutdown = shutdown.child_token();
///         async move {
///             let mut ticks = 0;
///             loop {
///                 weft::select! {
///                     _ = shutdown.cancelled() => return ticks,
///                     _ = weft::time::sleep(Duration::from_secs(1)) => ticks += 1,
///                 }
///             }
///         }
///     });
///     weft::time::sleep(Duration::from_millis(3500)).await;
///     shutdown.cancel(); // the worker's child token is cancelled with its parent
///     assert_eq!(worker.await.unwrap(), 3);
/// });
/// ```
pub struct CancellationToken {
    /// The token's node; this handle is counted in its `handles`.
    node: Arc<Node>,
}

/// One token of the tree.
struct Node {
    /// Set once, under the lock (rule 3); read without it.
    cancelled: AtomicBool,
    /// Everything else.
    state: Mutex<NodeState>,
}

/// A node's links and waiters.
struct NodeState {
    /// The parent that lists this node (rule 2).
    parent: Option<Arc<Node>>,
    /// This node's index in its parent's `children`.
    index_in_parent: usize,
    /// Children not cancelled and still held (rule 2).
    children: Vec<Arc<Node>>,
    /// `CancellationToken`s of this node alive.
    handles: usize,
    /// Tasks waiting for the cancellation.
    waiters: WaitList<()>,
}

impl Node {
    /// A node with one handle and no links.
    fn new(cancelled: bool) -> Arc<Node> {
        Arc::new(Node {
            cancelled: AtomicBool::new(cancelled),
            state: Mutex::new(NodeState {
                parent: None,
                index_in_parent: 0,
                children: Vec::new(),
                handles: 1,
                waiters: WaitList::new(),
            }),
        })
    }
}

/// Cancels `node` and every node below it, each under its own lock (rule 3), without recursion.
fn cancel_tree(node: &Arc<Node>) {
    let mut pending = vec![node.clone()];
    while let Some(node) = pending.pop() {
        let mut state = lock(&node.state);
        if node.cancelled.load(Ordering::Acquire) {
            continue;
        }
        node.cancelled.store(true, Ordering::Release);
        let mut wakers = WakeBatch::new();
        state.waiters.drain(|_| {}, &mut wakers);
        // Rule 2: the list goes whole; each child keeps its link up to this (now cancelled) node until the loop
        // reaches it, so a child dropped meanwhile sees its parent cancelled and cancels its own children.
        let children = std::mem::take(&mut state.children);
        drop(state);
        wakers.wake_all();
        pending.extend(children);
    }
}

impl CancellationToken {
    /// A new token, not cancelled, with no parent.
    ///
    /// ```
    /// let token = weft::sync::CancellationToken::new();
    /// assert!(!token.is_cancelled());
    /// ```
    pub fn new() -> CancellationToken {
        CancellationToken {
            node: Node::new(false),
        }
    }

    /// A token that is cancelled when this one is (or when it is cancelled itself); cancelling it does not
    /// cancel this one. A child of a cancelled token starts cancelled.
    ///
    /// ```
    /// let parent = weft::sync::CancellationToken::new();
    /// let child = parent.child_token();
    /// child.cancel();
    /// assert!(!parent.is_cancelled()); // never upward
    /// let other = parent.child_token();
    /// parent.cancel();
    /// assert!(other.is_cancelled()); // always downward
    /// ```
    pub fn child_token(&self) -> CancellationToken {
        let mut state = lock(&self.node.state);
        if self.node.cancelled.load(Ordering::Acquire) {
            return CancellationToken {
                node: Node::new(true),
            };
        }
        let child = Node::new(false);
        {
            let mut child_state = lock(&child.state);
            child_state.parent = Some(self.node.clone());
            child_state.index_in_parent = state.children.len();
        }
        state.children.push(child.clone());
        CancellationToken { node: child }
    }

    /// Cancels this token and all its descendants, and wakes every task waiting on them. Idempotent; works from
    /// any thread.
    ///
    /// ```
    /// let token = weft::sync::CancellationToken::new();
    /// let clone = token.clone();
    /// std::thread::spawn(move || clone.cancel()).join().unwrap();
    /// assert!(token.is_cancelled());
    /// ```
    pub fn cancel(&self) {
        cancel_tree(&self.node);
    }

    /// True once this token (or an ancestor) was cancelled. Takes no lock.
    ///
    /// ```
    /// let token = weft::sync::CancellationToken::new();
    /// assert!(!token.is_cancelled());
    /// token.cancel();
    /// assert!(token.is_cancelled());
    /// ```
    pub fn is_cancelled(&self) -> bool {
        self.node.cancelled.load(Ordering::Acquire)
    }

    /// Waits until the token is cancelled; completes at once if it already is.
    ///
    /// Cancel safety: dropping the future loses nothing; a cancellation stays visible to the next call.
    ///
    /// ```
    /// use weft::sync::CancellationToken;
    ///
    /// weft::run(async {
    ///     let token = CancellationToken::new();
    ///     let waiter = weft::spawn({
    ///         let token = token.clone();
    ///         async move { token.cancelled().await; "stopped" }
    ///     });
    ///     weft::task::yield_now().await;
    ///     token.cancel();
    ///     assert_eq!(waiter.await.unwrap(), "stopped");
    /// });
    /// ```
    #[track_caller]
    pub fn cancelled(&self) -> WaitForCancellation<'_> {
        WaitForCancellation {
            waiter: Waiter::new(&self.node),
            _token: self,
        }
    }

    /// Like [`cancelled`](Self::cancelled), but the future owns a clone of the token: it is `'static`, to move
    /// into a task or store in a struct.
    ///
    /// ```
    /// use weft::sync::CancellationToken;
    ///
    /// weft::run(async {
    ///     let token = CancellationToken::new();
    ///     let stopped = weft::spawn(token.clone().cancelled_owned());
    ///     token.cancel();
    ///     stopped.await.unwrap();
    /// });
    /// ```
    #[track_caller]
    pub fn cancelled_owned(self) -> WaitForCancellationOwned {
        WaitForCancellationOwned {
            waiter: Waiter::new(&self.node),
            _token: self,
        }
    }

    /// Runs `future` until it finishes (`Some(output)`) or the token is cancelled (`None`, and the future is
    /// dropped at its bookmark). A token already cancelled wins at once.
    ///
    /// ```
    /// use weft::sync::CancellationToken;
    ///
    /// weft::run(async {
    ///     let token = CancellationToken::new();
    ///     assert_eq!(token.run_until_cancelled(async { 5 }).await, Some(5));
    ///     token.cancel();
    ///     assert_eq!(token.run_until_cancelled(std::future::pending::<u8>()).await, None);
    /// });
    /// ```
    #[track_caller]
    pub fn run_until_cancelled<'a, F>(
        &'a self,
        future: F,
    ) -> impl Future<Output = Option<F::Output>> + 'a
    where
        F: Future + 'a,
    {
        let cancelled = self.cancelled();
        async move {
            crate::select! {
                biased;
                _ = cancelled => None,
                output = future => Some(output),
            }
        }
    }

    /// A guard that cancels the token when dropped — for "stop the helpers when this scope ends, however it
    /// ends". [`DropGuard::disarm`] gives the token back without cancelling.
    ///
    /// ```
    /// let token = weft::sync::CancellationToken::new();
    /// {
    ///     let _guard = token.clone().drop_guard();
    /// }
    /// assert!(token.is_cancelled());
    /// ```
    pub fn drop_guard(self) -> DropGuard {
        DropGuard { token: Some(self) }
    }
}

impl Default for CancellationToken {
    fn default() -> CancellationToken {
        CancellationToken::new()
    }
}

impl Clone for CancellationToken {
    fn clone(&self) -> CancellationToken {
        lock(&self.node.state).handles += 1;
        CancellationToken {
            node: self.node.clone(),
        }
    }
}

impl Drop for CancellationToken {
    fn drop(&mut self) {
        {
            let mut state = lock(&self.node.state);
            if state.handles > 1 {
                state.handles -= 1;
                return;
            }
        }
        // The last handle: unlink from the parent and hand the children to it (rule 2), locking top-down.
        loop {
            let parent = lock(&self.node.state).parent.clone();
            let mut parent_state = parent.as_ref().map(|parent| lock(&parent.state));
            let mut state = lock(&self.node.state);
            let same_parent = match (&state.parent, &parent) {
                (Some(now), Some(seen)) => Arc::ptr_eq(now, seen),
                (None, None) => true,
                _ => false,
            };
            if !same_parent {
                // Reparented or unlinked meanwhile: look again.
                continue;
            }
            state.handles -= 1;
            if state.handles > 0 {
                return;
            }
            if parent
                .as_ref()
                .is_some_and(|parent| parent.cancelled.load(Ordering::Acquire))
            {
                // The parent's cancellation has taken its list and is on its way down to us: make sure it
                // reaches our children too, which we would otherwise have handed up.
                state.parent = None;
                drop(state);
                drop(parent_state);
                cancel_tree(&self.node);
                return;
            }
            let children = std::mem::take(&mut state.children);
            if let Some(parent_state) = parent_state.as_mut() {
                let index = state.index_in_parent;
                parent_state.children.swap_remove(index);
                if let Some(moved) = parent_state.children.get(index) {
                    // Rule 1: a sibling, under the parent's lock.
                    lock(&moved.state).index_in_parent = index;
                }
            }
            for child in children {
                let mut child_state = lock(&child.state);
                child_state.parent = parent.clone();
                if let Some(parent_state) = parent_state.as_mut() {
                    child_state.index_in_parent = parent_state.children.len();
                    drop(child_state);
                    parent_state.children.push(child);
                }
            }
            state.parent = None;
            return;
        }
    }
}

impl fmt::Debug for CancellationToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancellationToken")
            .field("cancelled", &self.is_cancelled())
            .finish()
    }
}

/// A task waiting on a node: its slot in the node's wait list.
struct Waiter {
    /// The node (kept alive by the token the future borrows or owns).
    node: Arc<Node>,
    /// Our slot, while queued or woken and not yet removed.
    key: Option<WaitKey>,
    /// Where `cancelled` was called: the task's bookmark while it waits.
    location: &'static Location<'static>,
}

impl Waiter {
    /// A waiter that has not polled yet.
    #[track_caller]
    fn new(node: &Arc<Node>) -> Waiter {
        Waiter {
            node: node.clone(),
            key: None,
            location: Location::caller(),
        }
    }

    /// Ready once the node is cancelled; otherwise queued with `cx`'s waker (rule 3).
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        coop::budgeted(cx, |cx| {
            if self.node.cancelled.load(Ordering::Acquire) {
                self.release();
                return Poll::Ready(());
            }
            let mut state = lock(&self.node.state);
            if self.node.cancelled.load(Ordering::Acquire) {
                if let Some(key) = self.key.take() {
                    state.waiters.remove(key);
                }
                return Poll::Ready(());
            }
            match self.key {
                Some(key) => state.waiters.register(key, cx.waker()),
                None => self.key = Some(state.waiters.push_back((), cx.waker())),
            }
            drop(state);
            parked(Poll::Pending, self.location, Op::Cancelled)
        })
    }

    /// Frees our slot, if any.
    fn release(&mut self) {
        if let Some(key) = self.key.take() {
            lock(&self.node.state).waiters.remove(key);
        }
    }
}

impl Drop for Waiter {
    fn drop(&mut self) {
        self.release();
    }
}

/// The future returned by [`CancellationToken::cancelled`].
///
/// ```
/// use weft::sync::{CancellationToken, WaitForCancellation};
///
/// weft::run(async {
///     let token = CancellationToken::new();
///     token.cancel();
///     let waiting: WaitForCancellation<'_> = token.cancelled();
///     waiting.await; // at once: already cancelled
/// });
/// ```
#[must_use = "futures do nothing unless you .await them"]
pub struct WaitForCancellation<'a> {
    /// Our place in the wait list.
    waiter: Waiter,
    /// The token, borrowed.
    _token: &'a CancellationToken,
}

impl Future for WaitForCancellation<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.waiter.poll(cx)
    }
}

impl fmt::Debug for WaitForCancellation<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitForCancellation")
            .field("waiting", &self.waiter.key.is_some())
            .finish()
    }
}

/// The future returned by [`CancellationToken::cancelled_owned`]; holds a clone of the token.
///
/// ```
/// use weft::sync::{CancellationToken, WaitForCancellationOwned};
///
/// let token = CancellationToken::new();
/// let waiting: WaitForCancellationOwned = token.child_token().cancelled_owned();
/// std::thread::spawn(move || token.cancel()).join().unwrap();
/// weft::run(waiting);
/// ```
#[must_use = "futures do nothing unless you .await them"]
pub struct WaitForCancellationOwned {
    /// Our place in the wait list.
    waiter: Waiter,
    /// The token, owned (it keeps the node's parent link alive).
    _token: CancellationToken,
}

impl Future for WaitForCancellationOwned {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.waiter.poll(cx)
    }
}

impl fmt::Debug for WaitForCancellationOwned {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitForCancellationOwned")
            .field("waiting", &self.waiter.key.is_some())
            .finish()
    }
}

/// Cancels its token when dropped; from [`CancellationToken::drop_guard`].
///
/// ```
/// let token = weft::sync::CancellationToken::new();
/// let guard = token.clone().drop_guard();
/// let token_back = guard.disarm(); // no cancellation
/// assert!(!token_back.is_cancelled());
/// ```
pub struct DropGuard {
    /// The token, until disarmed.
    token: Option<CancellationToken>,
}

impl DropGuard {
    /// Gives the token back without cancelling it.
    pub fn disarm(mut self) -> CancellationToken {
        self.token
            .take()
            .expect("a DropGuard holds its token until disarmed")
    }
}

impl Drop for DropGuard {
    fn drop(&mut self) {
        if let Some(token) = &self.token {
            token.cancel();
        }
    }
}

impl fmt::Debug for DropGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DropGuard")
            .field("token", &self.token)
            .finish()
    }
}
