//! Error types. Every error from a send hands the unsent value back.

use std::error;
use std::fmt;

/// The channel is disconnected (closed, or every receiver is gone); the value comes back.
///
/// Go panics on a send to a closed channel; goro-chan returns the value instead.
///
/// ```
/// let (tx, rx) = goro_chan::unbounded::<String>();
/// drop(rx);
/// let err = tx.send("hello".to_string()).unwrap_err();
/// assert_eq!(err.into_inner(), "hello");
/// ```
#[derive(PartialEq, Eq, Clone, Copy)]
pub struct SendError<T>(pub T);

/// Why a [`try_send`](crate::Sender::try_send) failed; the value comes back.
///
/// ```
/// use goro_chan::TrySendError;
/// let (tx, _rx) = goro_chan::bounded(1);
/// tx.try_send(1).unwrap();
/// assert_eq!(tx.try_send(2), Err(TrySendError::Full(2)));
/// ```
#[derive(PartialEq, Eq, Clone, Copy)]
pub enum TrySendError<T> {
    /// The buffer is full (or, for a zero-capacity channel, no receiver is waiting).
    Full(T),
    /// The channel is disconnected.
    Disconnected(T),
}

/// Why a [`send_timeout`](crate::Sender::send_timeout) failed; the value comes back.
///
/// ```
/// use std::time::Duration;
/// use goro_chan::SendTimeoutError;
/// let (tx, _rx) = goro_chan::bounded(0);
/// let r = tx.send_timeout(7, Duration::from_millis(1));
/// assert_eq!(r, Err(SendTimeoutError::Timeout(7)));
/// ```
#[derive(PartialEq, Eq, Clone, Copy)]
pub enum SendTimeoutError<T> {
    /// The deadline passed before a receiver took the value or buffer space appeared.
    Timeout(T),
    /// The channel is disconnected.
    Disconnected(T),
}

/// The channel is empty and disconnected: Go's `v, ok := <-ch` with `ok == false`.
///
/// ```
/// let (tx, rx) = goro_chan::bounded::<i32>(1);
/// drop(tx);
/// assert_eq!(rx.recv(), Err(goro_chan::RecvError));
/// ```
#[derive(PartialEq, Eq, Clone, Copy, Debug)]
pub struct RecvError;

/// Why a [`try_recv`](crate::Receiver::try_recv) failed.
///
/// ```
/// use goro_chan::TryRecvError;
/// let (tx, rx) = goro_chan::unbounded::<i32>();
/// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
/// drop(tx);
/// assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
/// ```
#[derive(PartialEq, Eq, Clone, Copy, Debug)]
pub enum TryRecvError {
    /// Nothing to receive right now.
    Empty,
    /// Empty and disconnected.
    Disconnected,
}

/// Why a [`recv_timeout`](crate::Receiver::recv_timeout) failed.
///
/// ```
/// use std::time::Duration;
/// use goro_chan::RecvTimeoutError;
/// let (_tx, rx) = goro_chan::bounded::<i32>(0);
/// assert_eq!(rx.recv_timeout(Duration::from_millis(1)), Err(RecvTimeoutError::Timeout));
/// ```
#[derive(PartialEq, Eq, Clone, Copy, Debug)]
pub enum RecvTimeoutError {
    /// The deadline passed with nothing to receive.
    Timeout,
    /// Empty and disconnected.
    Disconnected,
}

/// No operation of a [`Select`](crate::Select) was ready (from `try_select`).
///
/// ```
/// let (_tx, rx) = goro_chan::bounded::<i32>(0);
/// let mut sel = goro_chan::Select::new();
/// sel.recv(&rx);
/// assert!(sel.try_select().is_err());
/// ```
#[derive(PartialEq, Eq, Clone, Copy, Debug)]
pub struct TrySelectError;

/// No operation of a [`Select`](crate::Select) became ready before the deadline.
///
/// ```
/// use std::time::Duration;
/// let (_tx, rx) = goro_chan::bounded::<i32>(0);
/// let mut sel = goro_chan::Select::new();
/// sel.recv(&rx);
/// assert!(sel.select_timeout(Duration::from_millis(1)).is_err());
/// ```
#[derive(PartialEq, Eq, Clone, Copy, Debug)]
pub struct SelectTimeoutError;

/// No operation of a [`Select`](crate::Select) was ready (from `try_ready`).
///
/// ```
/// let (_tx, rx) = goro_chan::bounded::<i32>(0);
/// let mut sel = goro_chan::Select::new();
/// sel.recv(&rx);
/// assert_eq!(sel.try_ready(), Err(goro_chan::TryReadyError));
/// ```
#[derive(PartialEq, Eq, Clone, Copy, Debug)]
pub struct TryReadyError;

/// No operation of a [`Select`](crate::Select) became ready before the deadline (from
/// `ready_timeout`/`ready_deadline`).
///
/// ```
/// use std::time::Duration;
/// let (_tx, rx) = goro_chan::bounded::<i32>(0);
/// let mut sel = goro_chan::Select::new();
/// sel.recv(&rx);
/// let r = sel.ready_timeout(Duration::from_millis(1));
/// assert_eq!(r, Err(goro_chan::ReadyTimeoutError));
/// ```
#[derive(PartialEq, Eq, Clone, Copy, Debug)]
pub struct ReadyTimeoutError;

impl<T> SendError<T> {
    /// The value that was not sent.
    ///
    /// ```
    /// let (tx, rx) = goro_chan::bounded(1);
    /// drop(rx);
    /// assert_eq!(tx.send(5).unwrap_err().into_inner(), 5);
    /// ```
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> TrySendError<T> {
    /// The value that was not sent.
    ///
    /// ```
    /// let (tx, _rx) = goro_chan::bounded(0);
    /// assert_eq!(tx.try_send(5).unwrap_err().into_inner(), 5);
    /// ```
    pub fn into_inner(self) -> T {
        match self {
            TrySendError::Full(v) | TrySendError::Disconnected(v) => v,
        }
    }

    /// True for [`TrySendError::Full`].
    ///
    /// ```
    /// let (tx, _rx) = goro_chan::bounded(0);
    /// assert!(tx.try_send(5).unwrap_err().is_full());
    /// ```
    pub fn is_full(&self) -> bool {
        matches!(self, TrySendError::Full(_))
    }

    /// True for [`TrySendError::Disconnected`].
    ///
    /// ```
    /// let (tx, rx) = goro_chan::bounded(0);
    /// drop(rx);
    /// assert!(tx.try_send(5).unwrap_err().is_disconnected());
    /// ```
    pub fn is_disconnected(&self) -> bool {
        matches!(self, TrySendError::Disconnected(_))
    }
}

impl<T> SendTimeoutError<T> {
    /// The value that was not sent.
    ///
    /// ```
    /// use std::time::Duration;
    /// let (tx, _rx) = goro_chan::bounded(0);
    /// let e = tx.send_timeout(5, Duration::ZERO).unwrap_err();
    /// assert_eq!(e.into_inner(), 5);
    /// ```
    pub fn into_inner(self) -> T {
        match self {
            SendTimeoutError::Timeout(v) | SendTimeoutError::Disconnected(v) => v,
        }
    }

    /// True for [`SendTimeoutError::Timeout`].
    ///
    /// ```
    /// use std::time::Duration;
    /// let (tx, _rx) = goro_chan::bounded(0);
    /// assert!(tx.send_timeout(5, Duration::ZERO).unwrap_err().is_timeout());
    /// ```
    pub fn is_timeout(&self) -> bool {
        matches!(self, SendTimeoutError::Timeout(_))
    }

    /// True for [`SendTimeoutError::Disconnected`].
    ///
    /// ```
    /// use std::time::Duration;
    /// let (tx, rx) = goro_chan::bounded(0);
    /// drop(rx);
    /// assert!(tx.send_timeout(5, Duration::ZERO).unwrap_err().is_disconnected());
    /// ```
    pub fn is_disconnected(&self) -> bool {
        matches!(self, SendTimeoutError::Disconnected(_))
    }
}

impl TryRecvError {
    /// True for [`TryRecvError::Empty`].
    ///
    /// ```
    /// let (_tx, rx) = goro_chan::unbounded::<()>();
    /// assert!(rx.try_recv().unwrap_err().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        matches!(self, TryRecvError::Empty)
    }

    /// True for [`TryRecvError::Disconnected`].
    ///
    /// ```
    /// let (tx, rx) = goro_chan::unbounded::<()>();
    /// drop(tx);
    /// assert!(rx.try_recv().unwrap_err().is_disconnected());
    /// ```
    pub fn is_disconnected(&self) -> bool {
        matches!(self, TryRecvError::Disconnected)
    }
}

impl RecvTimeoutError {
    /// True for [`RecvTimeoutError::Timeout`].
    ///
    /// ```
    /// use std::time::Duration;
    /// let (_tx, rx) = goro_chan::unbounded::<()>();
    /// assert!(rx.recv_timeout(Duration::ZERO).unwrap_err().is_timeout());
    /// ```
    pub fn is_timeout(&self) -> bool {
        matches!(self, RecvTimeoutError::Timeout)
    }

    /// True for [`RecvTimeoutError::Disconnected`].
    ///
    /// ```
    /// use std::time::Duration;
    /// let (tx, rx) = goro_chan::unbounded::<()>();
    /// drop(tx);
    /// assert!(rx.recv_timeout(Duration::ZERO).unwrap_err().is_disconnected());
    /// ```
    pub fn is_disconnected(&self) -> bool {
        matches!(self, RecvTimeoutError::Disconnected)
    }
}

impl<T> fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SendError { .. }")
    }
}
impl<T> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("sending on a disconnected channel")
    }
}
impl<T> error::Error for SendError<T> {}

impl<T> fmt::Debug for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => f.write_str("Full(..)"),
            TrySendError::Disconnected(_) => f.write_str("Disconnected(..)"),
        }
    }
}
impl<T> fmt::Display for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => f.write_str("sending on a full channel"),
            TrySendError::Disconnected(_) => f.write_str("sending on a disconnected channel"),
        }
    }
}
impl<T> error::Error for TrySendError<T> {}
impl<T> From<SendError<T>> for TrySendError<T> {
    fn from(e: SendError<T>) -> Self {
        TrySendError::Disconnected(e.0)
    }
}

impl<T> fmt::Debug for SendTimeoutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendTimeoutError::Timeout(_) => f.write_str("Timeout(..)"),
            SendTimeoutError::Disconnected(_) => f.write_str("Disconnected(..)"),
        }
    }
}
impl<T> fmt::Display for SendTimeoutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendTimeoutError::Timeout(_) => f.write_str("timed out waiting on send operation"),
            SendTimeoutError::Disconnected(_) => f.write_str("sending on a disconnected channel"),
        }
    }
}
impl<T> error::Error for SendTimeoutError<T> {}
impl<T> From<SendError<T>> for SendTimeoutError<T> {
    fn from(e: SendError<T>) -> Self {
        SendTimeoutError::Disconnected(e.0)
    }
}

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("receiving on an empty and disconnected channel")
    }
}
impl error::Error for RecvError {}

impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryRecvError::Empty => f.write_str("receiving on an empty channel"),
            TryRecvError::Disconnected => {
                f.write_str("receiving on an empty and disconnected channel")
            }
        }
    }
}
impl error::Error for TryRecvError {}
impl From<RecvError> for TryRecvError {
    fn from(_: RecvError) -> Self {
        TryRecvError::Disconnected
    }
}

impl fmt::Display for RecvTimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecvTimeoutError::Timeout => f.write_str("timed out waiting on receive operation"),
            RecvTimeoutError::Disconnected => {
                f.write_str("receiving on an empty and disconnected channel")
            }
        }
    }
}
impl error::Error for RecvTimeoutError {}
impl From<RecvError> for RecvTimeoutError {
    fn from(_: RecvError) -> Self {
        RecvTimeoutError::Disconnected
    }
}

impl fmt::Display for TrySelectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("all operations in select would block")
    }
}
impl error::Error for TrySelectError {}

impl fmt::Display for SelectTimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("timed out waiting on select")
    }
}
impl error::Error for SelectTimeoutError {}

impl fmt::Display for TryReadyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("all operations in select would block")
    }
}
impl error::Error for TryReadyError {}

impl fmt::Display for ReadyTimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("timed out waiting on ready")
    }
}
impl error::Error for ReadyTimeoutError {}
