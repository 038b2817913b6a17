//! `select`: wait on several channel operations at once, complete exactly one.
//!
//! One select is one [`Context`] registered in the wait queue of every channel it waits
//! on, and one park. No coroutine or thread is spawned per arm.
//!
//! 1. Shuffle the operations (Fisher–Yates), so that when several are ready each is
//!    chosen with equal probability (Go's `pollorder`).
//! 2. Try each in that order without blocking (`try_select`). The first that can proceed
//!    is *reserved* in the [`Token`] (a ring slot claimed, a waiting peer claimed, ...);
//!    the caller then completes it with the matching `read`/`write`.
//! 3. Otherwise register the context with operation index `i` on every channel
//!    (`register`). A channel that turns out ready while we register makes us abort our own
//!    wait (its `register` returns true), and we go back to step 2.
//! 4. Park until the context's slot is claimed: by a peer for operation `i`, by a
//!    disconnection, or by our own timeout.
//! 5. Unregister from every channel. If operation `i` was claimed, `accept` reserves it
//!    (for a buffered channel the value may have been taken by someone faster, then we go
//!    back to step 2; for a zero-capacity channel the claimer already committed the
//!    exchange, so `accept` always succeeds).
//!
//! 6. The caller completes the reservation with `read`/`write`, or drops the
//!    [`SelectedOperation`] uncompleted; then `abandon` releases it.
//!
//! # Abandoned reservations
//!
//! A reservation is a promise to the channel (a ring slot claimed but not yet written, a
//! peer committed to an exchange), and safe code can break it: a `?` or a panic in a
//! `select!` send arm's value expression, or dropping the operation. So every flavor side
//! implements `SelectHandle::abandon`, and `SelectedOperation`'s destructor calls it on
//! the very handle the reservation was made on; releasing is sound on every path, and the
//! destructor neither panics nor consults `std::thread::panicking()`. (That flag is per OS
//! thread: while one coroutine is parked half-way through unwinding, every other
//! coroutine of its worker reads `true`, so a check guarded by it is skipped for them.)
//! What each flavor does:
//!
//! - array: an abandoned send stamps its slot *skipped*, which receivers step over and
//!   `Channel::drop` never drops (it drops only slots stamped full); an abandoned receive
//!   takes the value, drops it, and stamps the slot empty as a completed receive would.
//! - list: sends reserve nothing; an abandoned receive takes its claimed value and drops
//!   it, finishing the slot as a read would, so its block can be freed.
//! - zero: the committed peer is released and retries (a blocked `send` gets its value
//!   back, a blocked `recv` waits again); a heap packet is freed by whichever of the two
//!   sides finishes with it last.
//! - at, tick: the reserved instant is dropped (the tick is consumed); never: nothing.
//!
//! `mem::forget` of a `SelectedOperation` runs no destructor: a slot stays claimed and a
//! peer may wait forever (like a forgotten `MutexGuard`), but no value is dropped twice:
//! array's `Channel::drop` reads slot stamps rather than trusting `head..tail`.
//!
//! Two selects that take the same channels in opposite orders cannot deadlock: no select
//! holds a channel lock while it takes another, and claims are single CASes on the
//! claimed waiter's context. The same channel twice in one select is two entries with two
//! operation indices.

use std::fmt;
use std::time::{Duration, Instant};

use goro::park;

use crate::channel::{Receiver, Sender};
use crate::context::{Context, Operation, Selected};
use crate::err::{
    ReadyTimeoutError, RecvError, SelectTimeoutError, SendError, TryReadyError, TrySelectError,
};
use crate::flavors::{
    array::ArrayToken, at::AtToken, list::ListToken, tick::TickToken, zero::ZeroToken,
};
use crate::utils::shuffle;

/// A reserved operation, between `try_select`/`accept` and `read`/`write`.
///
/// Opaque; produced only by a select. It records which channel side it was reserved on,
/// and completing it on any other channel side panics.
pub struct Token {
    pub(crate) array: ArrayToken,
    pub(crate) list: ListToken,
    pub(crate) zero: ZeroToken,
    pub(crate) at: AtToken,
    pub(crate) tick: TickToken,
    /// `select_id` of the channel side this token was reserved on; 0 once used.
    owner: usize,
}

impl Token {
    pub(crate) fn new() -> Token {
        Token {
            array: ArrayToken::default(),
            list: ListToken::default(),
            zero: ZeroToken::default(),
            at: None,
            tick: None,
            owner: 0,
        }
    }

    /// Whether the token holds a reservation not yet handed to a flavor.
    fn is_reserved(&self) -> bool {
        self.owner != 0
    }

    /// Checks that this token was reserved on `id` and marks it used.
    pub(crate) fn take_for(&mut self, id: usize) {
        assert!(
            id != 0 && self.owner == id,
            "goro-chan: a selected operation must be completed on the channel it was selected on"
        );
        self.owner = 0;
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token { .. }")
    }
}

/// What `select` needs from one side of a channel. Every flavor implements it.
pub(crate) trait SelectHandle {
    /// Reserves the operation without blocking (or sees the channel disconnected, which
    /// also counts as ready). True if the token now holds a reservation.
    fn try_select(&self, token: &mut Token) -> bool;
    /// Registers `cx` for operation `oper`. True if the operation is ready already (the
    /// caller then aborts its wait).
    fn register(&self, oper: Operation, cx: &Context) -> bool;
    /// Removes the registration, if no peer claimed it.
    fn unregister(&self, oper: Operation, cx: &Context);
    /// After a peer claimed `cx` for this operation: reserve it. False if it was lost to a
    /// faster party (buffered channels only); the select then starts over.
    fn accept(&self, token: &mut Token, cx: &Context) -> bool;
    /// Releases a reservation made by this side's `try_select`/`accept` that will never be
    /// completed (the [`SelectedOperation`] was dropped). Must leave the channel as if the
    /// operation had failed or completed: no slot left reserved, no peer left waiting, no
    /// value dropped twice or leaked. Never panics of its own (it runs inside `Drop`, maybe
    /// during unwinding); dropping a received value may run the value's `Drop`.
    ///
    /// # Safety
    /// `token` must hold a reservation made by this very side's `try_select`/`accept`, not
    /// yet completed nor abandoned.
    unsafe fn abandon(&self, token: &mut Token);
    /// Whether the operation could proceed now (or the channel is disconnected), for
    /// `Select::ready`. A hint: it may be stale by the time the caller acts.
    fn is_ready(&self) -> bool;
    /// Adds `cx` as an *observer* of operation `oper` (woken on any change that may make it
    /// ready, without reserving anything; see `waker.rs`). True if it is ready already.
    fn watch(&self, oper: Operation, cx: &Context) -> bool;
    /// Removes the observer, if no notification took it already.
    fn unwatch(&self, oper: Operation, cx: &Context);
}

/// How long a select may wait.
#[doc(hidden)]
#[derive(Clone, Copy, Debug)]
pub enum Timeout {
    /// Do not block (`default =>`).
    Now,
    /// Block until an operation is ready.
    Never,
    /// Block until an operation is ready or the instant passes (`default(d) =>`).
    At(Instant),
}

/// One operation of a select: a channel side and the caller's index for it.
#[doc(hidden)]
#[derive(Clone, Copy)]
pub struct Handle<'a> {
    handle: &'a dyn SelectHandle,
    index: usize,
    id: usize,
}

impl<'a> Handle<'a> {
    /// The receiving operation on `r`, reported as `index`.
    pub fn recv<T>(r: &'a Receiver<T>, index: usize) -> Handle<'a> {
        Handle {
            handle: r,
            index,
            id: r.select_id(),
        }
    }

    /// The sending operation on `s`, reported as `index`.
    pub fn send<T>(s: &'a Sender<T>, index: usize) -> Handle<'a> {
        Handle {
            handle: s,
            index,
            id: s.select_id(),
        }
    }
}

impl fmt::Debug for Handle<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle")
            .field("index", &self.index)
            .finish()
    }
}

/// Runs a select over `handles` (reordered in place): the chosen operation, reserved, or
/// `None` if `timeout` passed first. Used by `select!` and [`Select`].
///
/// `biased`: try the operations in the given order instead of a random one
/// (`select_biased!`, [`Select::new_biased`]).
#[doc(hidden)]
pub fn run<'a>(
    handles: &mut [Handle<'a>],
    timeout: Timeout,
    biased: bool,
) -> Option<SelectedOperation<'a>> {
    let (token, h) = select_loop(handles, timeout, biased)?;
    Some(SelectedOperation {
        token,
        index: h.index,
        handle: h.handle,
    })
}

/// The select proper: the reserved token and the handle it was reserved on.
fn select_loop<'a>(
    handles: &mut [Handle<'a>],
    timeout: Timeout,
    biased: bool,
) -> Option<(Token, Handle<'a>)> {
    let deadline = match timeout {
        Timeout::Now => None,
        Timeout::Never => None,
        Timeout::At(d) => Some(d),
    };
    if handles.is_empty() {
        match timeout {
            Timeout::Now => return None,
            Timeout::At(d) => {
                goro::time::sleep_until(d);
                return None;
            }
            // Go: an empty `select {}` blocks forever.
            Timeout::Never => loop {
                park::park();
            },
        }
    }
    if !biased {
        shuffle(handles);
    }
    // A select that may not wait (`Timeout::Now`, or its deadline passed) looks at every
    // operation twice before it reports none ready, as crossbeam's does. One look is not
    // linearizable: with the handles in the order r2, r1, a peer can fill r2 right after we
    // saw it empty and then empty r1 before we look there, and the select reports nothing
    // though a value was waiting throughout (crossbeam's `linearizable_timeout`). The
    // second look sees r2 filled.
    let mut last_look = false;
    loop {
        let mut token = Token::new();
        for h in handles.iter() {
            if h.handle.try_select(&mut token) {
                token.owner = h.id;
                return Some((token, *h));
            }
        }
        let expired = match timeout {
            Timeout::Now => true,
            Timeout::At(d) => Instant::now() >= d,
            Timeout::Never => false,
        };
        if expired {
            if last_look {
                return None;
            }
            last_look = true;
            // SeqCst: orders the first look's loads before the second's, as the
            // registration crossbeam does here would.
            std::sync::atomic::fence(std::sync::atomic::Ordering::SeqCst);
            continue;
        }
        let chosen = Context::with(|cx| {
            let mut registered = 0;
            for (i, h) in handles.iter().enumerate() {
                registered += 1;
                if h.handle.register(Operation(i), cx) {
                    let _ = cx.try_select(Selected::Aborted);
                    break;
                }
                if cx.selected() != Selected::Waiting {
                    break;
                }
            }
            let sel = cx.wait_until(deadline);
            for (i, h) in handles[..registered].iter().enumerate() {
                h.handle.unregister(Operation(i), cx);
            }
            match sel {
                Selected::Waiting => unreachable!("goro-chan: woke while waiting"),
                Selected::Aborted | Selected::Disconnected => None,
                Selected::Operation(Operation(i)) => {
                    let h = handles[i];
                    if h.handle.accept(&mut token, cx) {
                        token.owner = h.id;
                        Some(h)
                    } else {
                        None
                    }
                }
            }
        });
        if let Some(h) = chosen {
            return Some((token, h));
        }
    }
}

/// Blocks until one of `handles` is *ready* (could proceed, or its channel is
/// disconnected), or `timeout` passes; returns its caller index. Reserves nothing: the
/// caller then performs the operation itself, which may find it no longer ready. Waiting
/// uses observer entries (`waker.rs`), which take no wakeup from a blocked operation.
fn ready_loop(handles: &mut [Handle<'_>], timeout: Timeout, biased: bool) -> Option<usize> {
    let deadline = match timeout {
        Timeout::At(d) => Some(d),
        Timeout::Now | Timeout::Never => None,
    };
    if handles.is_empty() {
        // As `select_loop`: nothing can become ready.
        return select_loop(handles, timeout, biased).map(|_| unreachable!());
    }
    if !biased {
        shuffle(handles);
    }
    loop {
        if let Some(h) = handles.iter().find(|h| h.handle.is_ready()) {
            return Some(h.index);
        }
        match timeout {
            Timeout::Now => return None,
            Timeout::At(d) if Instant::now() >= d => return None,
            _ => {}
        }
        let woken = Context::with(|cx| {
            let mut watched = 0;
            for (i, h) in handles.iter().enumerate() {
                watched += 1;
                if h.handle.watch(Operation(i), cx) {
                    let _ = cx.try_select(Selected::Aborted);
                    break;
                }
                if cx.selected() != Selected::Waiting {
                    break;
                }
            }
            let sel = cx.wait_until(deadline);
            for (i, h) in handles[..watched].iter().enumerate() {
                h.handle.unwatch(Operation(i), cx);
            }
            match sel {
                Selected::Waiting => unreachable!("goro-chan: woke while waiting"),
                // Look again: the outer loop re-checks every operation and the deadline.
                Selected::Aborted | Selected::Disconnected => None,
                // Possibly spurious (documented): the operation was ready a moment ago.
                Selected::Operation(Operation(i)) => Some(handles[i].index),
            }
        });
        if woken.is_some() {
            return woken;
        }
    }
}

/// A select over a set of operations known only at run time.
///
/// Add operations with [`send`](Select::send) and [`recv`](Select::recv), which return
/// their indices; a `select*` call then returns a [`SelectedOperation`] that must be
/// completed with its own `send`/`recv` on the same channel. For a fixed set of
/// operations the [`select!`](crate::select!) macro is shorter.
///
/// ```
/// use goro_chan::{unbounded, Select};
///
/// let (tx1, rx1) = unbounded::<i32>();
/// let (tx2, rx2) = unbounded::<i32>();
/// tx2.send(20).unwrap();
///
/// let rxs = [rx1, rx2];
/// let mut sel = Select::new();
/// for rx in &rxs {
///     sel.recv(rx);
/// }
/// let op = sel.select();
/// let i = op.index();
/// assert_eq!(i, 1);
/// assert_eq!(op.recv(&rxs[i]), Ok(20));
/// # drop(tx1);
/// ```
///
/// # Send and Sync
///
/// A `Select` is `Send` and `Sync` (and `Clone`), as crossbeam-channel's is, so it can be
/// built once and cloned into threads. For that its [`send`](Select::send) and
/// [`recv`](Select::recv) require `T: Send` (then the channel sides it borrows are
/// `Sync`). The [`select!`](crate::select!) macro has no such bound: its operations never
/// leave the calling thread.
#[derive(Clone)]
pub struct Select<'a> {
    handles: Vec<Handle<'a>>,
    next_index: usize,
    /// Operations are tried in the order they were added, not in a random order.
    biased: bool,
}

// SAFETY: a `Select` holds shared references to `Sender<T>`/`Receiver<T>` (as `&dyn
// SelectHandle`, which hides their `Sync`-ness) plus plain integers. `Select::send` and
// `Select::recv` are the only ways to add a handle and both require `T: Send`, under which
// `Sender<T>` and `Receiver<T>` are `Sync` (checked by `assert_sync` in those methods), so
// every reference held may be shared with and sent to another thread.
unsafe impl Send for Select<'_> {}
// SAFETY: as for `Send`; `&Select` only allows `Clone` and `Debug`, which read.
unsafe impl Sync for Select<'_> {}

/// Compile-time check behind the `Send`/`Sync` impls of [`Select`].
fn assert_sync<X: Sync>() {}

impl<'a> Select<'a> {
    /// An empty select. Selecting on it blocks forever (like Go's `select {}`), or until
    /// the timeout.
    ///
    /// ```
    /// let mut sel = goro_chan::Select::new();
    /// assert!(sel.try_select().is_err());
    /// ```
    pub fn new() -> Select<'a> {
        Select {
            handles: Vec::with_capacity(4),
            next_index: 0,
            biased: false,
        }
    }

    /// An empty select that tries its operations in the order they were added, instead
    /// of a random one: the first ready operation is always chosen (crossbeam-channel's
    /// `Select::new_biased`; `select_biased!` is the macro form). Go has no such mode.
    ///
    /// ```
    /// let (tx1, rx1) = goro_chan::unbounded();
    /// let (tx2, rx2) = goro_chan::unbounded();
    /// tx1.send(1).unwrap();
    /// tx2.send(2).unwrap();
    /// let mut sel = goro_chan::Select::new_biased();
    /// let i1 = sel.recv(&rx1);
    /// sel.recv(&rx2);
    /// for _ in 0..10 {
    ///     assert_eq!(sel.ready(), i1); // both ready; the first one wins every time
    /// }
    /// ```
    pub fn new_biased() -> Select<'a> {
        Select {
            biased: true,
            ..Select::new()
        }
    }

    /// Adds a send on `s`; returns the operation's index.
    ///
    /// ```
    /// let (tx, rx) = goro_chan::bounded(1);
    /// let mut sel = goro_chan::Select::new();
    /// let i = sel.send(&tx);
    /// let op = sel.select();
    /// assert_eq!(op.index(), i);
    /// op.send(&tx, 5).unwrap();
    /// assert_eq!(rx.recv(), Ok(5));
    /// ```
    pub fn send<T: Send>(&mut self, s: &'a Sender<T>) -> usize {
        assert_sync::<Sender<T>>();
        let i = self.next_index;
        self.next_index += 1;
        self.handles.push(Handle::send(s, i));
        i
    }

    /// Adds a receive on `r`; returns the operation's index.
    ///
    /// ```
    /// let (tx, rx) = goro_chan::bounded(1);
    /// tx.send("hi").unwrap();
    /// let mut sel = goro_chan::Select::new();
    /// let i = sel.recv(&rx);
    /// let op = sel.select();
    /// assert_eq!(op.index(), i);
    /// assert_eq!(op.recv(&rx), Ok("hi"));
    /// ```
    pub fn recv<T: Send>(&mut self, r: &'a Receiver<T>) -> usize {
        assert_sync::<Receiver<T>>();
        let i = self.next_index;
        self.next_index += 1;
        self.handles.push(Handle::recv(r, i));
        i
    }

    /// Removes the operation with index `index` (e.g. a channel found disconnected).
    ///
    /// # Panics
    /// If no operation has that index.
    ///
    /// ```
    /// let (tx1, rx1) = goro_chan::unbounded::<i32>();
    /// let (tx2, rx2) = goro_chan::unbounded::<i32>();
    /// drop(tx1);
    /// tx2.send(2).unwrap();
    /// let mut sel = goro_chan::Select::new();
    /// let i1 = sel.recv(&rx1);
    /// let i2 = sel.recv(&rx2);
    /// sel.remove(i1);
    /// let op = sel.select();
    /// assert_eq!(op.index(), i2);
    /// assert_eq!(op.recv(&rx2), Ok(2));
    /// ```
    pub fn remove(&mut self, index: usize) {
        let pos = self
            .handles
            .iter()
            .position(|h| h.index == index)
            .expect("goro-chan: no operation with this index in the select");
        self.handles.swap_remove(pos);
    }

    /// Selects a ready operation without blocking.
    ///
    /// ```
    /// let (tx, rx) = goro_chan::unbounded::<i32>();
    /// let mut sel = goro_chan::Select::new();
    /// sel.recv(&rx);
    /// assert!(sel.try_select().is_err());
    /// tx.send(1).unwrap();
    /// let op = sel.try_select().unwrap();
    /// assert_eq!(op.recv(&rx), Ok(1));
    /// ```
    pub fn try_select(&mut self) -> Result<SelectedOperation<'a>, TrySelectError> {
        self.run(Timeout::Now).ok_or(TrySelectError)
    }

    /// Blocks until an operation is ready and selects it.
    ///
    /// ```
    /// let (tx, rx) = goro_chan::bounded(0);
    /// std::thread::spawn(move || tx.send(9).unwrap());
    /// let mut sel = goro_chan::Select::new();
    /// sel.recv(&rx);
    /// assert_eq!(sel.select().recv(&rx), Ok(9));
    /// ```
    pub fn select(&mut self) -> SelectedOperation<'a> {
        self.run(Timeout::Never)
            .expect("goro-chan: a select without timeout returned nothing")
    }

    /// Like [`select`](Select::select), giving up after `timeout`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let (_tx, rx) = goro_chan::bounded::<i32>(0);
    /// let mut sel = goro_chan::Select::new();
    /// sel.recv(&rx);
    /// assert!(sel.select_timeout(Duration::from_millis(5)).is_err());
    /// ```
    pub fn select_timeout(
        &mut self,
        timeout: Duration,
    ) -> Result<SelectedOperation<'a>, SelectTimeoutError> {
        match Instant::now().checked_add(timeout) {
            Some(d) => self.select_deadline(d),
            None => Ok(self.select()),
        }
    }

    /// Like [`select`](Select::select), giving up at `deadline`.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let (_tx, rx) = goro_chan::bounded::<i32>(0);
    /// let mut sel = goro_chan::Select::new();
    /// sel.recv(&rx);
    /// let r = sel.select_deadline(Instant::now() + Duration::from_millis(5));
    /// assert!(r.is_err());
    /// ```
    pub fn select_deadline(
        &mut self,
        deadline: Instant,
    ) -> Result<SelectedOperation<'a>, SelectTimeoutError> {
        self.run(Timeout::At(deadline)).ok_or(SelectTimeoutError)
    }

    /// Blocks until an operation is ready and returns its index, without performing it.
    ///
    /// "Ready" means the operation would not block now, or its channel is disconnected.
    /// Another party may act first, so the operation may block or fail by the time the
    /// caller performs it (use `try_send`/`try_recv`), and this may return spuriously.
    ///
    /// ```
    /// let (tx, rx) = goro_chan::unbounded::<i32>();
    /// std::thread::spawn(move || tx.send(1).unwrap());
    /// let mut sel = goro_chan::Select::new();
    /// let i = sel.recv(&rx);
    /// assert_eq!(sel.ready(), i);
    /// assert_eq!(rx.try_recv(), Ok(1));
    /// ```
    pub fn ready(&mut self) -> usize {
        ready_loop(&mut self.handles, Timeout::Never, self.biased)
            .expect("goro-chan: a ready without timeout returned nothing")
    }

    /// The index of an operation that is ready now, without blocking.
    ///
    /// ```
    /// let (tx, rx) = goro_chan::bounded::<i32>(1);
    /// let mut sel = goro_chan::Select::new();
    /// sel.recv(&rx);
    /// assert!(sel.try_ready().is_err());
    /// tx.send(1).unwrap();
    /// assert_eq!(sel.try_ready(), Ok(0));
    /// ```
    pub fn try_ready(&mut self) -> Result<usize, TryReadyError> {
        ready_loop(&mut self.handles, Timeout::Now, self.biased).ok_or(TryReadyError)
    }

    /// Like [`ready`](Select::ready), giving up after `timeout`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let (_tx, rx) = goro_chan::bounded::<i32>(0);
    /// let mut sel = goro_chan::Select::new();
    /// sel.recv(&rx);
    /// assert!(sel.ready_timeout(Duration::from_millis(5)).is_err());
    /// ```
    pub fn ready_timeout(&mut self, timeout: Duration) -> Result<usize, ReadyTimeoutError> {
        match Instant::now().checked_add(timeout) {
            Some(d) => self.ready_deadline(d),
            None => Ok(self.ready()),
        }
    }

    /// Like [`ready`](Select::ready), giving up at `deadline`.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let (tx, rx) = goro_chan::bounded::<i32>(0);
    /// drop(tx);
    /// let mut sel = goro_chan::Select::new();
    /// sel.recv(&rx);
    /// // Disconnected counts as ready.
    /// assert_eq!(sel.ready_deadline(Instant::now() + Duration::from_secs(1)), Ok(0));
    /// ```
    pub fn ready_deadline(&mut self, deadline: Instant) -> Result<usize, ReadyTimeoutError> {
        ready_loop(&mut self.handles, Timeout::At(deadline), self.biased).ok_or(ReadyTimeoutError)
    }

    fn run(&mut self, timeout: Timeout) -> Option<SelectedOperation<'a>> {
        run(&mut self.handles, timeout, self.biased)
    }
}

impl Default for Select<'_> {
    fn default() -> Self {
        Select::new()
    }
}

impl fmt::Debug for Select<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Select")
            .field("operations", &self.handles.len())
            .finish()
    }
}

/// The operation a [`Select`] chose. It is reserved, not done: complete it with
/// [`send`](SelectedOperation::send) or [`recv`](SelectedOperation::recv) on the same
/// channel.
///
/// # Dropping it uncompleted
///
/// Dropping a `SelectedOperation` without completing it (a `?` or a panic in a
/// `select!` send arm's value expression, or plain `drop(op)`) *releases* the reservation,
/// silently, and the channel carries on as if the operation had not been chosen, with
/// one difference for a receive: on a buffered channel (`bounded(n)`, `unbounded`, the
/// timer channels) the reserved value is taken and dropped; on a zero-capacity channel the
/// sender keeps its value and tries again. An abandoned send sends nothing; a peer that a
/// zero-capacity exchange had committed is released and retries. Early return from a send
/// arm is ordinary control flow, so none of this panics.
///
/// [`mem::forget`](std::mem::forget) runs no destructor, so the reservation is never
/// released: a bounded channel's receivers may then wait for that slot, and a peer of a
/// zero-capacity exchange may wait forever, as with a forgotten `MutexGuard`. It is never
/// undefined behaviour: dropping the channel does not drop the unwritten slot.
///
/// ```
/// let (tx, rx) = goro_chan::unbounded();
/// tx.send(1).unwrap();
/// let mut sel = goro_chan::Select::new();
/// sel.recv(&rx);
/// let op = sel.select();
/// assert_eq!(op.index(), 0);
/// assert_eq!(op.recv(&rx), Ok(1));
/// ```
#[must_use = "a selected operation must be completed with `send` or `recv`"]
pub struct SelectedOperation<'a> {
    /// The reservation; `token.owner != 0` until it is handed to a flavor to complete.
    token: Token,
    index: usize,
    /// The channel side the reservation was made on, to release it if dropped uncompleted.
    handle: &'a dyn SelectHandle,
}

impl SelectedOperation<'_> {
    /// Index of the chosen operation (as returned by `Select::send`/`recv`).
    ///
    /// ```
    /// let (tx, rx) = goro_chan::unbounded::<()>();
    /// let mut sel = goro_chan::Select::new();
    /// sel.recv(&rx);
    /// let i = sel.send(&tx);
    /// let op = sel.select(); // the send is ready (unbounded), the receive is not
    /// assert_eq!(op.index(), i);
    /// op.send(&tx, ()).unwrap();
    /// ```
    pub fn index(&self) -> usize {
        self.index
    }

    /// Completes the chosen send on `s`.
    ///
    /// On a zero-capacity channel, if the receiver this select was paired with abandons the
    /// exchange (its own `SelectedOperation` dropped), this sends as a blocking
    /// [`Sender::send`] would.
    ///
    /// # Panics
    /// If the chosen operation is not a send on `s`.
    ///
    /// ```
    /// let (tx, rx) = goro_chan::bounded(1);
    /// let mut sel = goro_chan::Select::new();
    /// sel.send(&tx);
    /// sel.select().send(&tx, 'x').unwrap();
    /// assert_eq!(rx.recv(), Ok('x'));
    /// ```
    pub fn send<T>(mut self, s: &Sender<T>, msg: T) -> Result<(), SendError<T>> {
        // If this panics (wrong channel), the token is still owned and `drop` releases it.
        s.write_token(&mut self.token, msg)
    }

    /// Completes the chosen receive on `r`.
    ///
    /// On a zero-capacity channel, if the sender this select was paired with abandons the
    /// exchange (a `?` or a panic in its `select!` send arm's value), this receives as a
    /// blocking [`Receiver::recv`] would.
    ///
    /// # Panics
    /// If the chosen operation is not a receive on `r`.
    ///
    /// ```
    /// let (tx, rx) = goro_chan::bounded::<i32>(1);
    /// drop(tx);
    /// let mut sel = goro_chan::Select::new();
    /// sel.recv(&rx);
    /// assert!(sel.select().recv(&rx).is_err()); // disconnected counts as ready
    /// ```
    pub fn recv<T>(mut self, r: &Receiver<T>) -> Result<T, RecvError> {
        // As in `send`: a mismatch panics before the token is used, and `drop` releases it.
        r.read_token(&mut self.token)
    }
}

impl fmt::Debug for SelectedOperation<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SelectedOperation")
            .field("index", &self.index)
            .finish()
    }
}

impl Drop for SelectedOperation<'_> {
    /// Releases an uncompleted reservation (see the type's docs). Whether the thread is
    /// panicking plays no part: `std::thread::panicking()` is per OS thread, and another
    /// coroutine of the same worker may be parked mid-unwind, so it says nothing about
    /// *this* drop. Releasing is sound in every case, so there is nothing to guard.
    fn drop(&mut self) {
        if self.token.is_reserved() {
            self.token.owner = 0;
            // SAFETY: `select_loop` reserved the token on `self.handle` (it set `owner`
            // from that handle's id right after its `try_select`/`accept`), and a nonzero
            // `owner` means no `read`/`write` took it: `take_for` clears it first.
            unsafe { self.handle.abandon(&mut self.token) };
        }
    }
}
