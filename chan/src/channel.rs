//! The public handles: constructors, `Sender`, `Receiver`, iterators; enum dispatch to the
//! flavors.

use std::fmt;
use std::iter::FusedIterator;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::context::Context;
use crate::context::Operation;
use crate::counter::Counter;
use crate::err::{
    RecvError, RecvTimeoutError, SendError, SendTimeoutError, TryRecvError, TrySendError,
};
use crate::flavors::{array, at, list, never, tick, zero};
use crate::select::{SelectHandle, Token};

/// A channel with room for `cap` values: Go's `make(chan T, cap)`.
///
/// With `cap == 0` the channel is a rendezvous (Go's unbuffered channel): a send completes
/// only when a receiver takes the value, handed over directly.
///
/// # Panics
///
/// If the buffer of `cap` values cannot be allocated (Go: "makechan: size out of range").
///
/// ```
/// let (tx, rx) = goro_chan::bounded(2);
/// tx.send(1).unwrap();
/// tx.send(2).unwrap();
/// assert!(tx.try_send(3).is_err()); // full
/// assert_eq!(rx.recv(), Ok(1));
/// ```
pub fn bounded<T>(cap: usize) -> (Sender<T>, Receiver<T>) {
    if cap == 0 {
        let c = Arc::new(Counter::new(zero::Channel::new()));
        (
            Sender {
                flavor: SenderFlavor::Zero(c.clone()),
            },
            Receiver {
                flavor: ReceiverFlavor::Zero(c),
            },
        )
    } else {
        let c = Arc::new(Counter::new(array::Channel::with_capacity(cap)));
        (
            Sender {
                flavor: SenderFlavor::Array(c.clone()),
            },
            Receiver {
                flavor: ReceiverFlavor::Array(c),
            },
        )
    }
}

/// A channel with an unbounded buffer: sends never block.
///
/// Go has no unbounded channel; this is the usual stand-in for a large buffered one.
///
/// ```
/// let (tx, rx) = goro_chan::unbounded();
/// for i in 0..1000 {
///     tx.send(i).unwrap();
/// }
/// drop(tx);
/// assert_eq!(rx.iter().sum::<i32>(), 499500);
/// ```
pub fn unbounded<T>() -> (Sender<T>, Receiver<T>) {
    let c = Arc::new(Counter::new(list::Channel::new()));
    (
        Sender {
            flavor: SenderFlavor::List(c.clone()),
        },
        Receiver {
            flavor: ReceiverFlavor::List(c),
        },
    )
}

/// A receiver that delivers the current time once, after `duration`: Go's `time.After`.
///
/// Backed by a `goro::time::Timer`, which is cancelled if the receiver is dropped first.
///
/// ```
/// use std::time::{Duration, Instant};
/// let start = Instant::now();
/// let t = goro_chan::after(Duration::from_millis(10)).recv().unwrap();
/// assert!(t >= start + Duration::from_millis(10));
/// ```
pub fn after(duration: Duration) -> Receiver<Instant> {
    match Instant::now().checked_add(duration) {
        Some(deadline) => at(deadline),
        None => never(),
    }
}

/// A receiver that delivers the current time once, at `when`.
///
/// ```
/// use std::time::{Duration, Instant};
/// let when = Instant::now() + Duration::from_millis(5);
/// assert!(goro_chan::at(when).recv().unwrap() >= when);
/// ```
pub fn at(when: Instant) -> Receiver<Instant> {
    Receiver {
        flavor: ReceiverFlavor::At(at::Channel::new(when), identity),
    }
}

/// A receiver that delivers ticks every `period`: Go's `time.Tick` / `time.NewTicker`.
///
/// Each value is the scheduled instant of the tick. Like Go's ticker, it buffers one tick
/// and drops ticks while that one is unreceived, so a slow receiver does not build a
/// backlog. The timer is cancelled when the receiver is dropped.
///
/// # Panics
/// If `period` is zero (Go panics too). A period of a century or more (`Duration::MAX`)
/// is taken as "never".
///
/// ```
/// use std::time::Duration;
/// let ticker = goro_chan::tick(Duration::from_millis(2));
/// let a = ticker.recv().unwrap();
/// let b = ticker.recv().unwrap();
/// assert!(b > a);
/// ```
pub fn tick(period: Duration) -> Receiver<Instant> {
    Receiver {
        flavor: ReceiverFlavor::Tick(tick::Channel::new(period), identity),
    }
}

/// A receiver that never delivers: Go's nil channel.
///
/// Useful to switch a `select!` arm off.
///
/// ```
/// use std::time::Duration;
/// let rx = goro_chan::never::<i32>();
/// assert!(rx.recv_timeout(Duration::from_millis(1)).is_err());
/// ```
pub fn never<T>() -> Receiver<T> {
    Receiver {
        flavor: ReceiverFlavor::Never(never::Channel::new()),
    }
}

fn identity(t: Instant) -> Instant {
    t
}

fn deadline_after(timeout: Duration) -> Option<Instant> {
    Instant::now().checked_add(timeout)
}

enum SenderFlavor<T> {
    Array(Arc<Counter<array::Channel<T>>>),
    List(Arc<Counter<list::Channel<T>>>),
    Zero(Arc<Counter<zero::Channel<T>>>),
}

enum ReceiverFlavor<T> {
    Array(Arc<Counter<array::Channel<T>>>),
    List(Arc<Counter<list::Channel<T>>>),
    Zero(Arc<Counter<zero::Channel<T>>>),
    /// `T` is `Instant`; the function is the identity and converts without `unsafe`.
    At(Arc<at::Channel>, fn(Instant) -> T),
    Tick(Arc<tick::Channel>, fn(Instant) -> T),
    Never(never::Channel<T>),
}

/// The sending side of a channel. Clone it for more senders (MPMC).
///
/// The channel disconnects when the last `Sender` is dropped or on [`close`](Sender::close);
/// receivers then drain what is buffered and get [`RecvError`].
///
/// ```
/// let (tx, rx) = goro_chan::unbounded();
/// let tx2 = tx.clone();
/// std::thread::spawn(move || tx2.send(1).unwrap()).join().unwrap();
/// tx.send(2).unwrap();
/// drop(tx);
/// let mut v: Vec<i32> = rx.iter().collect();
/// v.sort();
/// assert_eq!(v, [1, 2]);
/// ```
pub struct Sender<T> {
    flavor: SenderFlavor<T>,
}

/// The receiving side of a channel. Clone it for more receivers (MPMC); each value goes
/// to exactly one receiver.
///
/// ```
/// let (tx, rx) = goro_chan::bounded(0);
/// std::thread::spawn(move || tx.send("ping").unwrap());
/// assert_eq!(rx.recv(), Ok("ping"));
/// ```
pub struct Receiver<T> {
    flavor: ReceiverFlavor<T>,
}

impl<T> Sender<T> {
    /// Sends a value without blocking: Go's `select { case ch <- v: default: }`.
    ///
    /// ```
    /// use goro_chan::TrySendError;
    /// let (tx, rx) = goro_chan::bounded(1);
    /// assert_eq!(tx.try_send(1), Ok(()));
    /// assert_eq!(tx.try_send(2), Err(TrySendError::Full(2)));
    /// drop(rx);
    /// assert_eq!(tx.try_send(3), Err(TrySendError::Disconnected(3)));
    /// ```
    pub fn try_send(&self, msg: T) -> Result<(), TrySendError<T>> {
        match &self.flavor {
            SenderFlavor::Array(c) => c.try_send(msg),
            SenderFlavor::List(c) => c.send(msg).map_err(TrySendError::Disconnected),
            SenderFlavor::Zero(c) => c.try_send(msg),
        }
    }

    /// Sends a value, parking the coroutine (or blocking the thread) while the channel is
    /// full: Go's `ch <- v`. On a zero-capacity channel it waits for a receiver.
    ///
    /// Fails, handing the value back, if the channel is disconnected (Go would panic on a
    /// closed channel).
    ///
    /// ```
    /// let (tx, rx) = goro_chan::bounded(0);
    /// let h = std::thread::spawn(move || rx.recv().unwrap());
    /// tx.send(42).unwrap(); // returns once the thread has the value
    /// assert_eq!(h.join().unwrap(), 42);
    /// ```
    pub fn send(&self, msg: T) -> Result<(), SendError<T>> {
        match &self.flavor {
            SenderFlavor::Array(c) => c.send(msg, None),
            SenderFlavor::List(c) => return c.send(msg).map_err(SendError),
            SenderFlavor::Zero(c) => c.send(msg, None),
        }
        .map_err(|e| match e {
            SendTimeoutError::Disconnected(v) => SendError(v),
            SendTimeoutError::Timeout(_) => {
                unreachable!("goro-chan: send without deadline timed out")
            }
        })
    }

    /// Like [`send`](Sender::send), giving up after `timeout`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use goro_chan::SendTimeoutError;
    /// let (tx, _rx) = goro_chan::bounded(1);
    /// tx.send(1).unwrap();
    /// let r = tx.send_timeout(2, Duration::from_millis(5));
    /// assert_eq!(r, Err(SendTimeoutError::Timeout(2)));
    /// ```
    pub fn send_timeout(&self, msg: T, timeout: Duration) -> Result<(), SendTimeoutError<T>> {
        match deadline_after(timeout) {
            Some(d) => self.send_deadline(msg, d),
            None => self.send(msg).map_err(SendTimeoutError::from),
        }
    }

    /// Like [`send`](Sender::send), giving up at `deadline`.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let (tx, _rx) = goro_chan::bounded(0);
    /// let r = tx.send_deadline(1, Instant::now() + Duration::from_millis(5));
    /// assert!(r.unwrap_err().is_timeout());
    /// ```
    pub fn send_deadline(&self, msg: T, deadline: Instant) -> Result<(), SendTimeoutError<T>> {
        match &self.flavor {
            SenderFlavor::Array(c) => c.send(msg, Some(deadline)),
            SenderFlavor::List(c) => c.send(msg).map_err(SendTimeoutError::Disconnected),
            SenderFlavor::Zero(c) => c.send(msg, Some(deadline)),
        }
    }

    /// Closes the channel: Go's `close(ch)`.
    ///
    /// Receivers get the values already buffered, then [`RecvError`]; every parked sender
    /// and receiver wakes. Later sends fail with the value handed back. Returns `true` if
    /// this call closed the channel, `false` if it was already disconnected (Go panics on
    /// a double close). Dropping the last `Sender` closes the channel too.
    ///
    /// ```
    /// let (tx, rx) = goro_chan::bounded(4);
    /// tx.send(1).unwrap();
    /// assert!(tx.close());
    /// assert!(tx.send(2).is_err());
    /// assert_eq!(rx.recv(), Ok(1));
    /// assert!(rx.recv().is_err());
    /// ```
    pub fn close(&self) -> bool {
        match &self.flavor {
            SenderFlavor::Array(c) => c.disconnect(),
            SenderFlavor::List(c) => c.disconnect(),
            SenderFlavor::Zero(c) => c.disconnect(),
        }
    }

    /// True if the channel is disconnected (closed, or all receivers gone).
    ///
    /// ```
    /// let (tx, rx) = goro_chan::unbounded::<()>();
    /// assert!(!tx.is_disconnected());
    /// drop(rx);
    /// assert!(tx.is_disconnected());
    /// ```
    pub fn is_disconnected(&self) -> bool {
        match &self.flavor {
            SenderFlavor::Array(c) => c.is_disconnected(),
            SenderFlavor::List(c) => c.is_disconnected(),
            SenderFlavor::Zero(c) => c.is_disconnected(),
        }
    }

    /// Number of buffered values (always 0 for a zero-capacity channel): Go's `len(ch)`.
    ///
    /// ```
    /// let (tx, _rx) = goro_chan::bounded(3);
    /// tx.send(()).unwrap();
    /// assert_eq!(tx.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        match &self.flavor {
            SenderFlavor::Array(c) => c.len(),
            SenderFlavor::List(c) => c.len(),
            SenderFlavor::Zero(_) => 0,
        }
    }

    /// True if nothing is buffered.
    ///
    /// ```
    /// let (tx, _rx) = goro_chan::unbounded::<u8>();
    /// assert!(tx.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True if a send would block for lack of room (always true for zero capacity).
    ///
    /// ```
    /// let (tx, _rx) = goro_chan::bounded(1);
    /// tx.send(0).unwrap();
    /// assert!(tx.is_full());
    /// ```
    pub fn is_full(&self) -> bool {
        match &self.flavor {
            SenderFlavor::Array(c) => c.is_full(),
            SenderFlavor::List(_) => false,
            SenderFlavor::Zero(_) => true,
        }
    }

    /// The buffer size (`Some(0)` for a rendezvous channel, `None` if unbounded): Go's
    /// `cap(ch)`.
    ///
    /// ```
    /// assert_eq!(goro_chan::bounded::<()>(7).0.capacity(), Some(7));
    /// assert_eq!(goro_chan::unbounded::<()>().0.capacity(), None);
    /// ```
    pub fn capacity(&self) -> Option<usize> {
        match &self.flavor {
            SenderFlavor::Array(c) => Some(c.capacity()),
            SenderFlavor::List(_) => None,
            SenderFlavor::Zero(_) => Some(0),
        }
    }

    /// True if both senders belong to the same channel.
    ///
    /// ```
    /// let (tx, _rx) = goro_chan::unbounded::<()>();
    /// let (other, _) = goro_chan::unbounded::<()>();
    /// assert!(tx.same_channel(&tx.clone()));
    /// assert!(!tx.same_channel(&other));
    /// ```
    pub fn same_channel(&self, other: &Sender<T>) -> bool {
        self.select_id() == other.select_id()
    }

    /// Identifies this channel side for select tokens (odd: the send side).
    pub(crate) fn select_id(&self) -> usize {
        let p = match &self.flavor {
            SenderFlavor::Array(c) => Arc::as_ptr(c) as usize,
            SenderFlavor::List(c) => Arc::as_ptr(c) as usize,
            SenderFlavor::Zero(c) => Arc::as_ptr(c) as usize,
        };
        p | 1
    }

    /// Completes a send reserved by a select on this sender.
    pub(crate) fn write_token(&self, token: &mut Token, msg: T) -> Result<(), SendError<T>> {
        token.take_for(self.select_id());
        // `take_for` checked that the token was reserved by this very channel side's
        // `try_select`/`accept` and has not been used: that is the flavors' contract.
        match &self.flavor {
            // SAFETY: see above.
            SenderFlavor::Array(c) => unsafe { c.write_token(token, msg) },
            // SAFETY: see above.
            SenderFlavor::List(c) => unsafe { c.write_token(token, msg) },
            // SAFETY: see above.
            SenderFlavor::Zero(c) => unsafe { c.write_token(token, msg) },
        }
        .map_err(SendError)
    }
}

impl<T> Receiver<T> {
    /// Receives a value without blocking: Go's `select { case v := <-ch: default: }`.
    ///
    /// ```
    /// use goro_chan::TryRecvError;
    /// let (tx, rx) = goro_chan::unbounded();
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    /// tx.send(1).unwrap();
    /// assert_eq!(rx.try_recv(), Ok(1));
    /// ```
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        match &self.flavor {
            ReceiverFlavor::Array(c) => c.try_recv(),
            ReceiverFlavor::List(c) => c.try_recv(),
            ReceiverFlavor::Zero(c) => c.try_recv(),
            ReceiverFlavor::At(c, f) => c.try_recv().map(f),
            ReceiverFlavor::Tick(c, f) => c.try_recv().map(f),
            ReceiverFlavor::Never(c) => c.try_recv(),
        }
    }

    /// Receives a value, parking the coroutine (or blocking the thread) until one arrives:
    /// Go's `v, ok := <-ch`. `Err(RecvError)` once the channel is disconnected and drained
    /// (Go's zero value with `ok == false`).
    ///
    /// ```
    /// let (tx, rx) = goro_chan::bounded(1);
    /// std::thread::spawn(move || {
    ///     tx.send(5).unwrap();
    /// });
    /// assert_eq!(rx.recv(), Ok(5));
    /// assert!(rx.recv().is_err()); // sender dropped
    /// ```
    pub fn recv(&self) -> Result<T, RecvError> {
        self.recv_inner(None).map_err(|e| match e {
            RecvTimeoutError::Disconnected => RecvError,
            RecvTimeoutError::Timeout => unreachable!("goro-chan: recv without deadline timed out"),
        })
    }

    /// Like [`recv`](Receiver::recv), giving up after `timeout`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let (_tx, rx) = goro_chan::unbounded::<i32>();
    /// assert!(rx.recv_timeout(Duration::from_millis(5)).unwrap_err().is_timeout());
    /// ```
    pub fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        self.recv_inner(deadline_after(timeout))
    }

    /// Like [`recv`](Receiver::recv), giving up at `deadline`.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let (_tx, rx) = goro_chan::bounded::<i32>(0);
    /// let r = rx.recv_deadline(Instant::now() + Duration::from_millis(5));
    /// assert!(r.unwrap_err().is_timeout());
    /// ```
    pub fn recv_deadline(&self, deadline: Instant) -> Result<T, RecvTimeoutError> {
        self.recv_inner(Some(deadline))
    }

    fn recv_inner(&self, deadline: Option<Instant>) -> Result<T, RecvTimeoutError> {
        match &self.flavor {
            ReceiverFlavor::Array(c) => c.recv(deadline),
            ReceiverFlavor::List(c) => c.recv(deadline),
            ReceiverFlavor::Zero(c) => c.recv(deadline),
            ReceiverFlavor::At(c, f) => c.recv(deadline).map(f),
            ReceiverFlavor::Tick(c, f) => c.recv(deadline).map(f),
            ReceiverFlavor::Never(c) => c.recv(deadline),
        }
    }

    /// A blocking iterator that ends when the channel is disconnected and drained: Go's
    /// `for v := range ch`.
    ///
    /// ```
    /// let (tx, rx) = goro_chan::bounded(8);
    /// std::thread::spawn(move || {
    ///     for i in 0..5 {
    ///         tx.send(i).unwrap();
    ///     }
    /// });
    /// assert_eq!(rx.iter().collect::<Vec<_>>(), [0, 1, 2, 3, 4]);
    /// ```
    pub fn iter(&self) -> Iter<'_, T> {
        Iter { rx: self }
    }

    /// An iterator over the values available now, without blocking.
    ///
    /// ```
    /// let (tx, rx) = goro_chan::unbounded();
    /// tx.send(1).unwrap();
    /// tx.send(2).unwrap();
    /// assert_eq!(rx.try_iter().collect::<Vec<_>>(), [1, 2]);
    /// ```
    pub fn try_iter(&self) -> TryIter<'_, T> {
        TryIter { rx: self }
    }

    /// Number of buffered values: Go's `len(ch)`. For `after`/`tick`: 1 if a value waits.
    ///
    /// ```
    /// let (tx, rx) = goro_chan::unbounded();
    /// tx.send(1).unwrap();
    /// assert_eq!(rx.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        match &self.flavor {
            ReceiverFlavor::Array(c) => c.len(),
            ReceiverFlavor::List(c) => c.len(),
            ReceiverFlavor::Zero(_) => 0,
            ReceiverFlavor::At(c, _) => c.len(),
            ReceiverFlavor::Tick(c, _) => c.len(),
            ReceiverFlavor::Never(_) => 0,
        }
    }

    /// True if nothing is buffered.
    ///
    /// ```
    /// let (_tx, rx) = goro_chan::bounded::<i32>(1);
    /// assert!(rx.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True if the buffer is full (always true for zero capacity; for `after`/`tick`,
    /// when their one value waits).
    ///
    /// ```
    /// let (tx, rx) = goro_chan::bounded(1);
    /// tx.send(1).unwrap();
    /// assert!(rx.is_full());
    /// ```
    pub fn is_full(&self) -> bool {
        match &self.flavor {
            ReceiverFlavor::Array(c) => c.is_full(),
            ReceiverFlavor::List(_) => false,
            ReceiverFlavor::Zero(_) => true,
            ReceiverFlavor::At(c, _) => c.len() == 1,
            ReceiverFlavor::Tick(c, _) => c.len() == 1,
            ReceiverFlavor::Never(_) => true,
        }
    }

    /// The buffer size: `Some(0)` for rendezvous and `never()`, `Some(1)` for
    /// `after`/`tick`, `None` if unbounded. Go's `cap(ch)`.
    ///
    /// ```
    /// assert_eq!(goro_chan::bounded::<()>(0).1.capacity(), Some(0));
    /// ```
    pub fn capacity(&self) -> Option<usize> {
        match &self.flavor {
            ReceiverFlavor::Array(c) => Some(c.capacity()),
            ReceiverFlavor::List(_) => None,
            ReceiverFlavor::Zero(_) => Some(0),
            ReceiverFlavor::At(..) | ReceiverFlavor::Tick(..) => Some(1),
            ReceiverFlavor::Never(_) => Some(0),
        }
    }

    /// True if both receivers belong to the same channel (`never()` receivers never do).
    ///
    /// ```
    /// let (_tx, rx) = goro_chan::unbounded::<()>();
    /// assert!(rx.same_channel(&rx.clone()));
    /// assert!(!goro_chan::never::<()>().same_channel(&goro_chan::never()));
    /// ```
    pub fn same_channel(&self, other: &Receiver<T>) -> bool {
        let a = self.select_id();
        a != 0 && a == other.select_id()
    }

    /// Identifies this channel side for select tokens (even: the receive side; 0 for
    /// `never`, which is never selected).
    pub(crate) fn select_id(&self) -> usize {
        match &self.flavor {
            ReceiverFlavor::Array(c) => Arc::as_ptr(c) as usize,
            ReceiverFlavor::List(c) => Arc::as_ptr(c) as usize,
            ReceiverFlavor::Zero(c) => Arc::as_ptr(c) as usize,
            ReceiverFlavor::At(c, _) => Arc::as_ptr(c) as usize,
            ReceiverFlavor::Tick(c, _) => Arc::as_ptr(c) as usize,
            ReceiverFlavor::Never(_) => 0,
        }
    }

    /// Completes a receive reserved by a select on this receiver.
    pub(crate) fn read_token(&self, token: &mut Token) -> Result<T, RecvError> {
        token.take_for(self.select_id());
        // `take_for` checked that the token was reserved by this very channel side's
        // `try_select`/`accept` and has not been used: that is the flavors' contract.
        match &self.flavor {
            // SAFETY: see above.
            ReceiverFlavor::Array(c) => unsafe { c.read_token(token) },
            // SAFETY: see above.
            ReceiverFlavor::List(c) => unsafe { c.read_token(token) },
            // SAFETY: see above.
            ReceiverFlavor::Zero(c) => unsafe { c.read_token(token) },
            ReceiverFlavor::At(c, f) => c.read_token(token).map(f),
            ReceiverFlavor::Tick(c, f) => c.read_token(token).map(f),
            ReceiverFlavor::Never(_) => Err(()),
        }
        .map_err(|()| RecvError)
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        let flavor = match &self.flavor {
            SenderFlavor::Array(c) => {
                c.acquire_sender();
                SenderFlavor::Array(c.clone())
            }
            SenderFlavor::List(c) => {
                c.acquire_sender();
                SenderFlavor::List(c.clone())
            }
            SenderFlavor::Zero(c) => {
                c.acquire_sender();
                SenderFlavor::Zero(c.clone())
            }
        };
        Sender { flavor }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        match &self.flavor {
            SenderFlavor::Array(c) => {
                if c.release_sender() {
                    c.disconnect();
                }
            }
            SenderFlavor::List(c) => {
                if c.release_sender() {
                    c.disconnect();
                }
            }
            SenderFlavor::Zero(c) => {
                if c.release_sender() {
                    c.disconnect();
                }
            }
        }
    }
}

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Self {
        let flavor = match &self.flavor {
            ReceiverFlavor::Array(c) => {
                c.acquire_receiver();
                ReceiverFlavor::Array(c.clone())
            }
            ReceiverFlavor::List(c) => {
                c.acquire_receiver();
                ReceiverFlavor::List(c.clone())
            }
            ReceiverFlavor::Zero(c) => {
                c.acquire_receiver();
                ReceiverFlavor::Zero(c.clone())
            }
            ReceiverFlavor::At(c, f) => ReceiverFlavor::At(c.clone(), *f),
            ReceiverFlavor::Tick(c, f) => ReceiverFlavor::Tick(c.clone(), *f),
            ReceiverFlavor::Never(_) => ReceiverFlavor::Never(never::Channel::new()),
        };
        Receiver { flavor }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        match &self.flavor {
            ReceiverFlavor::Array(c) => {
                if c.release_receiver() {
                    c.disconnect();
                }
            }
            ReceiverFlavor::List(c) => {
                if c.release_receiver() {
                    c.disconnect();
                }
            }
            ReceiverFlavor::Zero(c) => {
                if c.release_receiver() {
                    c.disconnect();
                }
            }
            // The timer channels cancel their timer when their last `Arc` goes.
            ReceiverFlavor::At(..) | ReceiverFlavor::Tick(..) | ReceiverFlavor::Never(_) => {}
        }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sender { .. }")
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Receiver { .. }")
    }
}

impl<T> SelectHandle for Sender<T> {
    fn try_select(&self, token: &mut Token) -> bool {
        match &self.flavor {
            SenderFlavor::Array(c) => c.sender().try_select(token),
            SenderFlavor::List(c) => c.sender().try_select(token),
            SenderFlavor::Zero(c) => c.sender().try_select(token),
        }
    }
    fn register(&self, oper: Operation, cx: &Context) -> bool {
        match &self.flavor {
            SenderFlavor::Array(c) => c.sender().register(oper, cx),
            SenderFlavor::List(c) => c.sender().register(oper, cx),
            SenderFlavor::Zero(c) => c.sender().register(oper, cx),
        }
    }
    fn unregister(&self, oper: Operation, cx: &Context) {
        match &self.flavor {
            SenderFlavor::Array(c) => c.sender().unregister(oper, cx),
            SenderFlavor::List(c) => c.sender().unregister(oper, cx),
            SenderFlavor::Zero(c) => c.sender().unregister(oper, cx),
        }
    }
    fn accept(&self, token: &mut Token, cx: &Context) -> bool {
        match &self.flavor {
            SenderFlavor::Array(c) => c.sender().accept(token, cx),
            SenderFlavor::List(c) => c.sender().accept(token, cx),
            SenderFlavor::Zero(c) => c.sender().accept(token, cx),
        }
    }
    unsafe fn abandon(&self, token: &mut Token) {
        // Forwarded contract in every arm: the token was reserved on this side, hence on
        // this flavor's sending side.
        match &self.flavor {
            // SAFETY: see above.
            SenderFlavor::Array(c) => unsafe { c.sender().abandon(token) },
            // SAFETY: see above.
            SenderFlavor::List(c) => unsafe { c.sender().abandon(token) },
            // SAFETY: see above.
            SenderFlavor::Zero(c) => unsafe { c.sender().abandon(token) },
        }
    }
}

impl<T> SelectHandle for Receiver<T> {
    fn try_select(&self, token: &mut Token) -> bool {
        match &self.flavor {
            ReceiverFlavor::Array(c) => c.receiver().try_select(token),
            ReceiverFlavor::List(c) => c.receiver().try_select(token),
            ReceiverFlavor::Zero(c) => c.receiver().try_select(token),
            ReceiverFlavor::At(c, _) => c.try_select(token),
            ReceiverFlavor::Tick(c, _) => c.try_select(token),
            ReceiverFlavor::Never(c) => c.try_select(token),
        }
    }
    fn register(&self, oper: Operation, cx: &Context) -> bool {
        match &self.flavor {
            ReceiverFlavor::Array(c) => c.receiver().register(oper, cx),
            ReceiverFlavor::List(c) => c.receiver().register(oper, cx),
            ReceiverFlavor::Zero(c) => c.receiver().register(oper, cx),
            ReceiverFlavor::At(c, _) => c.register(oper, cx),
            ReceiverFlavor::Tick(c, _) => c.register(oper, cx),
            ReceiverFlavor::Never(c) => c.register(oper, cx),
        }
    }
    fn unregister(&self, oper: Operation, cx: &Context) {
        match &self.flavor {
            ReceiverFlavor::Array(c) => c.receiver().unregister(oper, cx),
            ReceiverFlavor::List(c) => c.receiver().unregister(oper, cx),
            ReceiverFlavor::Zero(c) => c.receiver().unregister(oper, cx),
            ReceiverFlavor::At(c, _) => c.unregister(oper, cx),
            ReceiverFlavor::Tick(c, _) => c.unregister(oper, cx),
            ReceiverFlavor::Never(c) => c.unregister(oper, cx),
        }
    }
    fn accept(&self, token: &mut Token, cx: &Context) -> bool {
        match &self.flavor {
            ReceiverFlavor::Array(c) => c.receiver().accept(token, cx),
            ReceiverFlavor::List(c) => c.receiver().accept(token, cx),
            ReceiverFlavor::Zero(c) => c.receiver().accept(token, cx),
            ReceiverFlavor::At(c, _) => c.accept(token, cx),
            ReceiverFlavor::Tick(c, _) => c.accept(token, cx),
            ReceiverFlavor::Never(c) => c.accept(token, cx),
        }
    }
    unsafe fn abandon(&self, token: &mut Token) {
        // Forwarded contract in every arm: the token was reserved on this side, hence on
        // this flavor's receiving side.
        match &self.flavor {
            // SAFETY: see above.
            ReceiverFlavor::Array(c) => unsafe { c.receiver().abandon(token) },
            // SAFETY: see above.
            ReceiverFlavor::List(c) => unsafe { c.receiver().abandon(token) },
            // SAFETY: see above.
            ReceiverFlavor::Zero(c) => unsafe { c.receiver().abandon(token) },
            // SAFETY: see above.
            ReceiverFlavor::At(c, _) => unsafe { c.abandon(token) },
            // SAFETY: see above.
            ReceiverFlavor::Tick(c, _) => unsafe { c.abandon(token) },
            // SAFETY: see above.
            ReceiverFlavor::Never(c) => unsafe { c.abandon(token) },
        }
    }
}

/// Blocking iterator from [`Receiver::iter`].
///
/// ```
/// let (tx, rx) = goro_chan::unbounded();
/// tx.send(1).unwrap();
/// drop(tx);
/// let mut it = rx.iter();
/// assert_eq!(it.next(), Some(1));
/// assert_eq!(it.next(), None);
/// ```
pub struct Iter<'a, T> {
    rx: &'a Receiver<T>,
}

impl<T> Iterator for Iter<'_, T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        self.rx.recv().ok()
    }
}

impl<T> FusedIterator for Iter<'_, T> {}

impl<T> fmt::Debug for Iter<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Iter { .. }")
    }
}

/// Non-blocking iterator from [`Receiver::try_iter`].
///
/// ```
/// let (_tx, rx) = goro_chan::unbounded::<i32>();
/// assert_eq!(rx.try_iter().next(), None);
/// ```
pub struct TryIter<'a, T> {
    rx: &'a Receiver<T>,
}

impl<T> Iterator for TryIter<'_, T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        self.rx.try_recv().ok()
    }
}

impl<T> fmt::Debug for TryIter<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TryIter { .. }")
    }
}

/// Owning blocking iterator from `Receiver::into_iter`.
///
/// ```
/// let (tx, rx) = goro_chan::unbounded();
/// tx.send('a').unwrap();
/// drop(tx);
/// let v: Vec<char> = rx.into_iter().collect();
/// assert_eq!(v, ['a']);
/// ```
pub struct IntoIter<T> {
    rx: Receiver<T>,
}

impl<T> Iterator for IntoIter<T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        self.rx.recv().ok()
    }
}

impl<T> FusedIterator for IntoIter<T> {}

impl<T> fmt::Debug for IntoIter<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IntoIter { .. }")
    }
}

impl<'a, T> IntoIterator for &'a Receiver<T> {
    type Item = T;
    type IntoIter = Iter<'a, T>;
    fn into_iter(self) -> Iter<'a, T> {
        self.iter()
    }
}

impl<T> IntoIterator for Receiver<T> {
    type Item = T;
    type IntoIter = IntoIter<T>;
    fn into_iter(self) -> IntoIter<T> {
        IntoIter { rx: self }
    }
}
