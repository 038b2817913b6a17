//! A connection pool generic over its dialer, in the manner of redis.Pool (`MaxIdle`,
//! `MaxActive`, `IdleTimeout`, `Wait`, `TestOnBorrow`).
//!
//! ```
//! use std::time::Duration;
//! use goro_net::connpool::Pool;
//!
//! // Any value can be pooled; here a counter stands in for a socket.
//! let next = std::sync::atomic::AtomicU32::new(0);
//! let pool = Pool::builder()
//!     .max_idle(2)
//!     .max_active(4)
//!     .idle_timeout(Duration::from_secs(300))
//!     .build(move || Ok(next.fetch_add(1, std::sync::atomic::Ordering::Relaxed)));
//! let a = pool.get().unwrap();
//! assert_eq!(*a, 0);
//! drop(a); // back to the idle list
//! let b = pool.get().unwrap();
//! assert_eq!(*b, 0, "reused, not dialled again");
//! assert_eq!(pool.stats().dials, 1);
//! ```
//!
//! # Design
//!
//! The idle list is a stack behind a plain mutex held for a push or a pop only, never
//! across a dial or a park: the most recently returned connection is handed out first
//! (it is the least likely to have been closed by the peer; [`Builder::prefer`] can pick
//! among the newest few instead), and the oldest fall off the bottom when more than
//! `max_idle` are idle. `max_active` (idle + checked out) is a
//! [`goro::sync::Semaphore`]: a checkout takes a permit before it pops or dials, and the
//! permit comes back when the connection is returned or dropped. When none is free the
//! caller either parks for up to `wait_timeout` (FIFO, so no waiter starves) or, with
//! [`Builder::fail_fast`], gets `WouldBlock` at once.
//!
//! A checkout discards, without handing them out, idle connections older than
//! `idle_timeout` and those the `test_on_checkout` hook rejects (for sockets: the peer
//! closed it, or it has unexpected bytes; see `http::Client`). A caller that saw a
//! connection fail calls [`PooledConn::discard`] so it is closed instead of returned.
//!
//! A pool of sockets can also notice a peer's close while a connection sits idle
//! ([`Builder::watch_idle`]): the poller watches each idle socket with an unstarted task in
//! its read slot, which holds no stack, and the socket is closed as soon as the peer closes
//! its side, rather than waiting in `CLOSE-WAIT` until a checkout or the idle timeout
//! (`idle_watch.rs` has the protocol).
use std::io;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use goro::sync::Semaphore;

use crate::idle_watch::{self, Armed};
use crate::{lock, TcpStream};

/// Dials a connection; the argument is the checkout's deadline, if it has one.
type DialFn<C> = dyn Fn(Option<Instant>) -> io::Result<C> + Send + Sync;
type TestFn<C> = dyn Fn(&mut C, Duration) -> bool + Send + Sync;
type PreferFn<C> = dyn Fn(&C) -> bool + Send + Sync;
type WatchFn<C> = dyn Fn(&C) -> &TcpStream + Send + Sync;

/// How many of the most recently returned idle connections a checkout looks through for a
/// preferred one (`Builder::prefer`).
const PREFER_SCAN: usize = 8;

/// Configures a [`Pool`].
pub struct Builder<C> {
    max_idle: usize,
    max_active: usize,
    idle_timeout: Option<Duration>,
    wait: Option<Duration>,
    test: Option<Box<TestFn<C>>>,
    prefer: Option<Box<PreferFn<C>>>,
    watch: Option<Box<WatchFn<C>>>,
}

impl<C: Send + 'static> Builder<C> {
    /// Most idle connections kept (default 8); more are closed when returned.
    pub fn max_idle(mut self, n: usize) -> Self {
        self.max_idle = n;
        self
    }

    /// Most connections open at once, idle or checked out (default 0: no limit).
    pub fn max_active(mut self, n: usize) -> Self {
        self.max_active = n;
        self
    }

    /// Idle connections older than this are closed instead of handed out (default 300 s;
    /// `None`: never).
    pub fn idle_timeout(mut self, d: impl Into<Option<Duration>>) -> Self {
        self.idle_timeout = d.into();
        self
    }

    /// When `max_active` are out, wait at most `d` for one (the default, 5 s).
    pub fn wait_timeout(mut self, d: Duration) -> Self {
        self.wait = Some(d);
        self
    }

    /// When `max_active` are out, fail at once with `WouldBlock`.
    pub fn fail_fast(mut self) -> Self {
        self.wait = None;
        self
    }

    /// Checks an idle connection before it is handed out (`idle_for` is how long it sat
    /// idle); `false` discards it and the checkout tries the next or dials.
    pub fn test_on_checkout(
        mut self,
        f: impl Fn(&mut C, Duration) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.test = Some(Box::new(f));
        self
    }

    /// Among the few most recently returned idle connections, a checkout takes the newest
    /// for which `f` holds, and the newest of all if none does. `f` runs under the pool's
    /// lock: keep it to a cheap look at the connection.
    ///
    /// `http::Client` prefers a socket whose readiness is reported to the worker the caller
    /// runs on ([`goro::io::PollFd::polled_here`]): waiting on it then needs no hand-off
    /// between threads.
    pub fn prefer(mut self, f: impl Fn(&C) -> bool + Send + Sync + 'static) -> Self {
        self.prefer = Some(Box::new(f));
        self
    }

    /// Closes an idle connection as soon as its peer closes it (or resets it, or sends
    /// bytes nobody asked for), instead of keeping it in `CLOSE-WAIT` until a checkout
    /// finds it or the idle timeout passes. `f` gives the socket of a connection. The
    /// watching costs no coroutine per idle connection: the poller starts a short task on
    /// the socket's next read edge (module doc). Idle connections closed this way count in
    /// [`Stats::discarded`].
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use goro_net::{connpool::Pool, TcpListener, TcpStream};
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    /// let addr = listener.local_addr().unwrap();
    /// let pool = Pool::builder()
    ///     .watch_idle(|c: &TcpStream| c)
    ///     .build(move || TcpStream::connect(addr));
    /// drop(pool.get().unwrap()); // one idle connection
    /// drop(listener.accept().unwrap()); // the server closes its side
    /// let by = Instant::now() + Duration::from_secs(5);
    /// while pool.stats().idle > 0 && Instant::now() < by {
    ///     goro::time::sleep(Duration::from_millis(5));
    /// }
    /// assert_eq!(pool.stats().idle, 0);
    /// ```
    pub fn watch_idle(mut self, f: impl Fn(&C) -> &TcpStream + Send + Sync + 'static) -> Self {
        self.watch = Some(Box::new(f));
        self
    }

    /// The pool, dialling new connections with `dial`.
    pub fn build(self, dial: impl Fn() -> io::Result<C> + Send + Sync + 'static) -> Pool<C> {
        self.build_with_deadline(move |_| dial())
    }

    /// The pool, dialling new connections with `dial`, which gets the deadline of the
    /// checkout it dials for ([`Pool::get_deadline`]; `None` from [`Pool::get`]) so that it
    /// can bound its connect by it.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use goro_net::{connpool::Pool, TcpListener, TcpStream};
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    /// let addr = listener.local_addr().unwrap();
    /// let pool = Pool::builder().build_with_deadline(move |by: Option<Instant>| {
    ///     let left = by.map_or(Duration::from_secs(5), |d| d.saturating_duration_since(Instant::now()));
    ///     TcpStream::connect_timeout(&addr, left.max(Duration::from_millis(1)))
    /// });
    /// let conn = pool.get_deadline(Instant::now() + Duration::from_secs(1)).unwrap();
    /// assert_eq!(conn.peer_addr().unwrap(), addr);
    /// ```
    pub fn build_with_deadline(
        self,
        dial: impl Fn(Option<Instant>) -> io::Result<C> + Send + Sync + 'static,
    ) -> Pool<C> {
        Pool {
            inner: Arc::new(Inner {
                dial: Box::new(dial),
                test: self.test,
                prefer: self.prefer,
                watch: self.watch,
                max_idle: self.max_idle,
                idle_timeout: self.idle_timeout,
                wait: self.wait,
                permits: (self.max_active > 0).then(|| Semaphore::new(self.max_active)),
                idle: Mutex::new(Vec::new()),
                active: AtomicUsize::new(0),
                waits: AtomicU64::new(0),
                dials: AtomicU64::new(0),
                discarded: AtomicU64::new(0),
            }),
        }
    }
}

/// A pool of connections of type `C` (module doc). Cheap to clone; clones share the pool.
pub struct Pool<C> {
    inner: Arc<Inner<C>>,
}

impl<C> Clone for Pool<C> {
    fn clone(&self) -> Self {
        Pool {
            inner: self.inner.clone(),
        }
    }
}

struct Inner<C> {
    dial: Box<DialFn<C>>,
    test: Option<Box<TestFn<C>>>,
    prefer: Option<Box<PreferFn<C>>>,
    watch: Option<Box<WatchFn<C>>>,
    max_idle: usize,
    idle_timeout: Option<Duration>,
    wait: Option<Duration>,
    permits: Option<Semaphore>,
    /// Idle connections; the newest at the end.
    idle: Mutex<Vec<Idle<C>>>,
    active: AtomicUsize,
    waits: AtomicU64,
    dials: AtomicU64,
    discarded: AtomicU64,
}

/// An idle connection.
struct Idle<C> {
    conn: C,
    /// When it was returned.
    since: Instant,
    /// Its watcher flag, with [`Builder::watch_idle`]; also what the watcher knows it by.
    armed: Option<Arc<Armed>>,
}

/// Pool counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Connections idle in the pool now.
    pub idle: usize,
    /// Connections checked out now.
    pub active: usize,
    /// Checkouts that had to wait for a free connection (or failed fast).
    pub waits: u64,
    /// Connections dialled so far.
    pub dials: u64,
    /// Idle connections discarded: at checkout (expired or failing the test), or closed by
    /// the peer while idle ([`Builder::watch_idle`]).
    pub discarded: u64,
}

impl<C: Send + 'static> Pool<C> {
    /// A builder with the defaults (max_idle 8, no max_active, idle_timeout 300 s, wait 5 s).
    pub fn builder() -> Builder<C> {
        Builder {
            max_idle: 8,
            max_active: 0,
            idle_timeout: Some(Duration::from_secs(300)),
            wait: Some(Duration::from_secs(5)),
            test: None,
            prefer: None,
            watch: None,
        }
    }

    /// Checks out a connection: an idle one that is fresh and passes the test, else a new
    /// one from the dialler. Errors: the dial's own, or `TimedOut` / `WouldBlock` when
    /// `max_active` are out and none came back in time.
    pub fn get(&self) -> io::Result<PooledConn<C>> {
        self.checkout(None)
    }

    /// [`get`](Self::get) that gives up with `TimedOut` at `deadline`: a wait for a free
    /// connection ends then at the latest, and the dialler is told the deadline (see
    /// [`Builder::build_with_deadline`]). A deadline already past fails at once.
    pub fn get_deadline(&self, deadline: Instant) -> io::Result<PooledConn<C>> {
        self.checkout(Some(deadline))
    }

    fn checkout(&self, deadline: Option<Instant>) -> io::Result<PooledConn<C>> {
        let p = &self.inner;
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        if left == Some(Duration::ZERO) {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "goro-net connpool: deadline passed before checkout",
            ));
        }
        if let Some(sem) = &p.permits {
            match sem.try_acquire() {
                Some(permit) => permit.forget(),
                None => {
                    p.waits.fetch_add(1, Ordering::Relaxed);
                    let Some(wait) = p.wait else {
                        return Err(io::Error::new(
                            io::ErrorKind::WouldBlock,
                            "goro-net connpool: all connections are in use",
                        ));
                    };
                    match sem.acquire_timeout(left.map_or(wait, |l| l.min(wait))) {
                        Some(permit) => permit.forget(),
                        None => {
                            return Err(io::Error::new(
                                io::ErrorKind::TimedOut,
                                "goro-net connpool: timed out waiting for a free connection",
                            ))
                        }
                    }
                }
            }
        }
        // From here on the permit is ours: every path returns it or hands it to a PooledConn.
        let mut out = PermitGuard(Some(self));
        loop {
            let top = self.pop_idle();
            let Some(Idle {
                mut conn,
                since,
                armed,
            }) = top
            else {
                break;
            };
            let idle_for = since.elapsed();
            let fresh = p.idle_timeout.is_none_or(|t| idle_for < t);
            if fresh && p.test.as_ref().is_none_or(|t| t(&mut conn, idle_for)) {
                out.0 = None;
                return Ok(self.wrap(conn, true, armed));
            }
            p.discarded.fetch_add(1, Ordering::Relaxed);
        }
        p.dials.fetch_add(1, Ordering::Relaxed);
        let c = (p.dial)(deadline)?;
        out.0 = None;
        let armed = p.watch.is_some().then(Arc::default);
        Ok(self.wrap(c, false, armed))
    }

    /// The newest idle connection, or a preferred one among the newest few.
    fn pop_idle(&self) -> Option<Idle<C>> {
        let p = &self.inner;
        let mut idle = lock(&p.idle);
        if let Some(prefer) = &p.prefer {
            let n = idle.len();
            let mut newest = idle.iter().rev().take(PREFER_SCAN);
            if let Some(k) = newest.position(|e| prefer(&e.conn)) {
                return Some(idle.remove(n - 1 - k));
            }
        }
        idle.pop()
    }

    fn wrap(&self, c: C, reused: bool, armed: Option<Arc<Armed>>) -> PooledConn<C> {
        self.inner.active.fetch_add(1, Ordering::Relaxed);
        PooledConn {
            conn: Some(c),
            pool: self.clone(),
            discard: false,
            reused,
            armed,
        }
    }

    /// Parks a watcher on idle connection `c` ([`Builder::watch_idle`]) unless one is
    /// there already.
    fn watch(&self, c: &C, armed: &Arc<Armed>) {
        let Some(socket) = &self.inner.watch else {
            return;
        };
        let pool = Arc::downgrade(&self.inner);
        let me = armed.clone();
        idle_watch::arm(socket(c), armed, move || Pool::on_edge(&pool, &me));
    }

    /// The watcher of the connection that `armed` belongs to: if that connection is idle,
    /// closes it when its peer has closed it, and watches it again otherwise.
    fn on_edge(pool: &Weak<Inner<C>>, armed: &Arc<Armed>) {
        let Some(inner) = pool.upgrade() else {
            return; // the pool is gone, and its idle connections with it
        };
        let pool = Pool { inner };
        let p = &pool.inner;
        let Some(socket) = &p.watch else { return };
        let mut idle = lock(&p.idle);
        let mine = |e: &Idle<C>| e.armed.as_ref().is_some_and(|a| Arc::ptr_eq(a, armed));
        let Some(i) = idle.iter().position(mine) else {
            return; // checked out (its user reads it) or closed
        };
        // The pool owns the connection while it is in the idle list and the lock is held,
        // so the watcher may look at its socket (idle_watch.rs).
        if idle_watch::still_open(socket(&idle[i].conn)) {
            pool.watch(&idle[i].conn, armed);
            return;
        }
        let gone = idle.remove(i);
        drop(idle);
        p.discarded.fetch_add(1, Ordering::Relaxed);
        tracing::debug!("goro-net connpool: the peer closed an idle connection");
        drop(gone); // closed outside the lock
    }

    /// The pool's counters.
    pub fn stats(&self) -> Stats {
        let p = &self.inner;
        Stats {
            idle: lock(&p.idle).len(),
            active: p.active.load(Ordering::Relaxed),
            waits: p.waits.load(Ordering::Relaxed),
            dials: p.dials.load(Ordering::Relaxed),
            discarded: p.discarded.load(Ordering::Relaxed),
        }
    }

    /// Closes every idle connection now.
    pub fn clear_idle(&self) {
        let idle = std::mem::take(&mut *lock(&self.inner.idle));
        drop(idle);
    }

    fn put(&self, c: Option<C>, armed: Option<Arc<Armed>>) {
        let p = &self.inner;
        if let Some(c) = c {
            if let Some(a) = &armed {
                // Armed before the connection is published: once it is in the list, another
                // checkout may take it at once.
                self.watch(&c, a);
            }
            let mut idle = lock(&p.idle);
            idle.push(Idle {
                conn: c,
                since: Instant::now(),
                armed,
            });
            let extra = idle.len().saturating_sub(p.max_idle);
            let dropped: Vec<_> = idle.drain(..extra).collect();
            drop(idle);
            drop(dropped); // closed outside the lock
        }
        self.release();
    }

    fn release(&self) {
        if let Some(sem) = &self.inner.permits {
            sem.add_permits(1);
        }
    }
}

impl<C> std::fmt::Debug for Pool<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("max_idle", &self.inner.max_idle)
            .field("idle_timeout", &self.inner.idle_timeout)
            .finish()
    }
}

/// Gives the permit back if a checkout fails after taking it.
struct PermitGuard<'a, C: Send + 'static>(Option<&'a Pool<C>>);

impl<C: Send + 'static> Drop for PermitGuard<'_, C> {
    fn drop(&mut self) {
        if let Some(p) = self.0 {
            p.release();
        }
    }
}

/// A checked-out connection; derefs to `C` and goes back to the pool on drop (unless
/// [`discard`](PooledConn::discard)ed).
pub struct PooledConn<C: Send + 'static> {
    conn: Option<C>,
    pool: Pool<C>,
    discard: bool,
    reused: bool,
    /// Its watcher flag ([`Builder::watch_idle`]), kept with it across checkouts.
    armed: Option<Arc<Armed>>,
}

impl<C: Send + 'static> PooledConn<C> {
    /// Marks the connection broken: it is closed on drop instead of returned.
    pub fn discard(&mut self) {
        self.discard = true;
    }

    /// True if the connection came from the idle list (it served an earlier checkout), false
    /// if it was dialled for this one.
    pub fn reused(&self) -> bool {
        self.reused
    }
}

impl<C: Send + 'static> Deref for PooledConn<C> {
    type Target = C;
    fn deref(&self) -> &C {
        self.conn
            .as_ref()
            .expect("goro-net connpool: connection present until drop")
    }
}

impl<C: Send + 'static> DerefMut for PooledConn<C> {
    fn deref_mut(&mut self) -> &mut C {
        self.conn
            .as_mut()
            .expect("goro-net connpool: connection present until drop")
    }
}

impl<C: Send + 'static> Drop for PooledConn<C> {
    fn drop(&mut self) {
        self.pool.inner.active.fetch_sub(1, Ordering::Relaxed);
        let c = self.conn.take().filter(|_| !self.discard);
        self.pool.put(c, self.armed.take());
    }
}

impl<C: Send + 'static> std::fmt::Debug for PooledConn<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PooledConn")
            .field("discard", &self.discard)
            .finish()
    }
}
