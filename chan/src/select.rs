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
//! Two selects that take the same channels in opposite orders cannot deadlock: no select
//! holds a channel lock while it takes another, and claims are single CASes on the
//! claimed waiter's context. The same channel twice in one select is two entries with two
//! operation indices.

use std::fmt;
use std::marker::PhantomData;
use std::time::{Duration, Instant};

use goro::park;

use crate::channel::{Receiver, Sender};
use crate::context::{Context, Operation, Selected};
use crate::err::{RecvError, SelectTimeoutError, SendError, TrySelectError};
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
#[doc(hidden)]
pub fn run<'a>(handles: &mut [Handle<'a>], timeout: Timeout) -> Option<SelectedOperation<'a>> {
    let (token, index) = select_loop(handles, timeout)?;
    Some(SelectedOperation {
        token,
        index,
        done: false,
        _marker: PhantomData,
    })
}

fn select_loop(handles: &mut [Handle<'_>], timeout: Timeout) -> Option<(Token, usize)> {
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
    shuffle(handles);
    loop {
        let mut token = Token::new();
        for h in handles.iter() {
            if h.handle.try_select(&mut token) {
                token.owner = h.id;
                return Some((token, h.index));
            }
        }
        match timeout {
            Timeout::Now => return None,
            Timeout::At(d) if Instant::now() >= d => return None,
            _ => {}
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
                    let h = &handles[i];
                    if h.handle.accept(&mut token, cx) {
                        token.owner = h.id;
                        Some(h.index)
                    } else {
                        None
                    }
                }
            }
        });
        if let Some(index) = chosen {
            return Some((token, index));
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
pub struct Select<'a> {
    handles: Vec<Handle<'a>>,
    next_index: usize,
}

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
    pub fn send<T>(&mut self, s: &'a Sender<T>) -> usize {
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
    pub fn recv<T>(&mut self, r: &'a Receiver<T>) -> usize {
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

    fn run(&mut self, timeout: Timeout) -> Option<SelectedOperation<'a>> {
        run(&mut self.handles, timeout)
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
/// channel. Dropping it without doing so panics, because a peer may be committed to it
/// (on a zero-capacity channel the other side is already waiting for the exchange).
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
    token: Token,
    index: usize,
    done: bool,
    _marker: PhantomData<&'a ()>,
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
        self.done = true;
        s.write_token(&mut self.token, msg)
    }

    /// Completes the chosen receive on `r`.
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
        self.done = true;
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
    fn drop(&mut self) {
        if !self.done && !std::thread::panicking() {
            panic!("goro-chan: dropped a SelectedOperation without completing it");
        }
    }
}
