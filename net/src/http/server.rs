//! [`Server`]: configuration, the accept loop, the connection registry, timeouts, shutdown.
//! What one connection does with its socket, and the record ([`Conn`]) it owns while it
//! lives, are in `conn.rs`.
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use goro::sync::Semaphore;

use super::conn::Conn;
use super::connection::Connection;
use super::date::DateCell;
use super::server_builder::{Builder, Config};
use super::Handler;
use crate::{lock, TcpListener, TcpStream};

/// An HTTP/1.1 server (Go's `http.Server`): a coroutine per connection, placed as
/// [`spawn_balanced`](crate::spawn_balanced) places them (packed onto workers with room).
/// Between requests a keep-alive connection holds no coroutine: the next one starts when
/// the client sends more, on a stack still warm from the last request served. Cheap to
/// clone: clones share the server, so one coroutine can [`serve`](Server::serve) while
/// another calls [`shutdown`](Server::shutdown).
///
/// ```
/// use std::io::{Read, Write};
/// use std::time::Duration;
/// use goro_net::{http, TcpListener, TcpStream};
///
/// let server = http::Server::new(|w: &mut http::ResponseWriter<'_>, _r: &mut http::Request<'_>| {
///     let _ = w.write_all(b"hi\n");
/// });
/// let listener = TcpListener::bind("127.0.0.1:0").unwrap();
/// let addr = listener.local_addr().unwrap();
/// let s = server.clone();
/// let serving = goro::spawn(move || s.serve(listener));
///
/// let mut c = TcpStream::connect(addr).unwrap();
/// c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
/// let mut reply = String::new();
/// c.read_to_string(&mut reply).unwrap();
/// assert!(reply.starts_with("HTTP/1.1 200 OK\r\n") && reply.ends_with("\r\n\r\nhi\n"));
///
/// assert!(server.shutdown(Duration::from_secs(1))); // graceful: nothing in flight
/// serving.join().unwrap().unwrap();
/// ```
#[derive(Clone)]
pub struct Server {
    inner: Arc<Shared>,
}

/// Counters of a [`Server`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerStats {
    /// Connections accepted so far.
    pub accepted: u64,
    /// Connections open now.
    pub active: usize,
    /// Requests refused as malformed or over a limit (400, 413, 417, 431, 501).
    pub bad_requests: u64,
    /// Connections closed by a timeout.
    pub timed_out: u64,
}

impl Server {
    /// The server over settings `cfg` ([`Builder::build`]).
    pub(crate) fn with_config(cfg: Config, handler: Box<dyn Handler>) -> Server {
        let tick = [cfg.read_header_timeout, cfg.read_timeout, cfg.idle_timeout]
            .into_iter()
            .flatten()
            .map(|d| d / 8)
            .fold(Duration::from_millis(500), Duration::min)
            .max(Duration::from_millis(5));
        Server {
            inner: Arc::new(Shared {
                handler,
                permits: Semaphore::new(cfg.max_connections),
                cfg,
                date: DateCell::new(),
                epoch: Instant::now(),
                clock: AtomicU64::new(1),
                tick,
                conns: Mutex::new(Registry::default()),
                shutting: AtomicBool::new(false),
                listeners: Mutex::new(Vec::new()),
                ticker: AtomicBool::new(false),
                accepted: AtomicU64::new(0),
                bad_requests: AtomicU64::new(0),
                timed_out: AtomicU64::new(0),
                live: AtomicUsize::new(0),
            }),
        }
    }

    /// A builder with the default limits and timeouts.
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// A server with the default limits and timeouts.
    pub fn new(handler: impl Handler) -> Server {
        Builder::default().build(handler)
    }

    /// Binds `addr` (backlog = `somaxconn`) and serves until [`shutdown`](Self::shutdown).
    pub fn listen_and_serve<A: ToSocketAddrs + Sync>(&self, addr: A) -> io::Result<()> {
        self.serve(TcpListener::bind(addr)?)
    }

    /// Accepts connections on `listener` and serves each in its own coroutine, until
    /// [`shutdown`](Self::shutdown) (then `Ok(())`) or an accept error. Parks the calling
    /// coroutine (or blocks the calling thread).
    pub fn serve(&self, listener: TcpListener) -> io::Result<()> {
        self.accept_loop(listener, |srv, stream, peer, placed| {
            let worker = placed.worker();
            let conn = srv.register(stream, peer, placed);
            if let Err(e) = goro::Builder::new()
                .worker_hint(worker)
                .spawn(move || super::conn::serve(conn))
            {
                // The connection closes as `conn` drops; the server goes on.
                tracing::error!(%peer, error = %e, "goro-net http: cannot start a coroutine");
            }
        })
    }

    /// Serves HTTP over a transport built on each accepted socket: `wrap` turns the
    /// [`TcpStream`] into a [`Connection`] (a TLS server's handshake, Go's `ServeTLS`).
    /// Otherwise as [`serve`](Self::serve), and over the same handler, limits and
    /// shutdown, so one server may serve a plain and a wrapped listener at once.
    ///
    /// `wrap` runs in the new connection's own coroutine, so a slow handshake holds up
    /// nobody else. It runs before the connection enters the registry: the server's
    /// read-header timeout does not bound it (set a deadline on the socket inside `wrap`,
    /// and clear it before returning), and a connection still in `wrap` counts as active
    /// for [`shutdown`](Self::shutdown) but is not closed by it. An error from `wrap` closes
    /// that connection only (logged at debug).
    ///
    /// ```
    /// use std::io::{self, Read, Write};
    /// use goro_net::http::{self, Connection};
    /// use goro_net::{TcpListener, TcpStream};
    ///
    /// struct Plain(TcpStream); // a transport that adds nothing
    /// impl Connection for Plain {
    ///     fn recv(&self, buf: &mut [u8]) -> io::Result<usize> { (&self.0).read(buf) }
    ///     fn send(&self, data: &[u8]) -> io::Result<usize> { (&self.0).write(data) }
    ///     fn socket(&self) -> &TcpStream { &self.0 }
    /// }
    ///
    /// let server = http::Server::new(|w: &mut http::ResponseWriter<'_>, _r: &mut http::Request<'_>| {
    ///     let _ = w.write_all(b"wrapped\n");
    /// });
    /// let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    /// let addr = listener.local_addr().unwrap();
    /// let s = server.clone();
    /// let serving = goro::spawn(move || s.serve_with(listener, |tcp| Ok(Plain(tcp))));
    ///
    /// let mut c = TcpStream::connect(addr).unwrap();
    /// c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    /// let mut reply = String::new();
    /// c.read_to_string(&mut reply).unwrap();
    /// assert!(reply.ends_with("\r\n\r\nwrapped\n"));
    /// server.shutdown(std::time::Duration::from_secs(1));
    /// serving.join().unwrap().unwrap();
    /// ```
    pub fn serve_with<C, F>(&self, listener: TcpListener, wrap: F) -> io::Result<()>
    where
        C: Connection,
        F: Fn(TcpStream) -> io::Result<C> + Send + Sync + 'static,
    {
        let wrap = Arc::new(wrap);
        self.accept_loop(listener, |srv, stream, peer, placed| {
            let (srv, wrap) = (srv.clone(), wrap.clone());
            let worker = placed.worker();
            let started = goro::Builder::new().worker_hint(worker).spawn(move || {
                match wrap(stream) {
                    Ok(c) => super::conn::serve(srv.register(c, peer, placed)),
                    Err(e) => {
                        tracing::debug!(%peer, error = %e, "goro-net http: connection not wrapped");
                        srv.unregister_unwrapped();
                    }
                }
            });
            if let Err(e) = started {
                tracing::error!(%peer, error = %e, "goro-net http: cannot start a coroutine");
            }
        })
    }

    /// The accept loop both `serve` and `serve_with` run: a permit, an accept, the
    /// socket's options, then `start` with the connection counted as live (it must end in
    /// a registered [`Conn`] or in [`Shared::unregister_unwrapped`]).
    fn accept_loop(
        &self,
        listener: TcpListener,
        mut start: impl FnMut(&Arc<Shared>, TcpStream, SocketAddr, goro::io::Placement),
    ) -> io::Result<()> {
        let srv = &self.inner;
        let inherited = nodelay_for_accepted(&listener);
        let ln = Arc::new(listener);
        lock(&srv.listeners).push(ln.clone());
        if srv.shutting_down() {
            return Ok(());
        }
        self.start_ticker();
        loop {
            srv.permits.acquire().forget();
            let (stream, peer) = match ln.accept() {
                Ok(c) => c,
                Err(e) => {
                    srv.permits.add_permits(1);
                    if srv.shutting_down() {
                        return Ok(());
                    }
                    tracing::error!(error = %e, "goro-net http: accept failed");
                    return Err(e);
                }
            };
            if !inherited {
                let _ = stream.set_nodelay(true);
            }
            if let Some(d) = srv.cfg.write_timeout {
                let _ = stream.set_write_timeout(Some(d));
            }
            srv.live.fetch_add(1, Ordering::Relaxed);
            srv.accepted.fetch_add(1, Ordering::Relaxed);
            start(srv, stream, peer, goro::io::Placement::choose());
        }
    }

    /// Graceful shutdown (Go's `Server.Shutdown`): stop accepting, close idle connections,
    /// let requests in flight finish (their connections close after the response), and
    /// after `grace` close whatever is left. True if everything finished in time.
    pub fn shutdown(&self, grace: Duration) -> bool {
        let srv = &self.inner;
        srv.shutting.store(true, Ordering::Relaxed);
        for ln in lock(&srv.listeners).drain(..) {
            ln.close();
        }
        // A grace too long for `Instant` (`Duration::MAX`) waits for as long as it takes.
        let deadline = Instant::now().checked_add(grace);
        let mut nap = Duration::from_millis(1);
        loop {
            srv.sweep(true);
            if srv.live.load(Ordering::Relaxed) == 0 {
                return true;
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                let all: Vec<_> = lock(&srv.conns).slots.iter().flatten().cloned().collect();
                tracing::warn!(
                    left = all.len(),
                    "goro-net http: shutdown grace expired, closing"
                );
                for s in all {
                    super::request_context::cancel_request(&*s);
                    s.conn.socket().close();
                }
                return false;
            }
            goro::time::sleep(nap);
            nap = (nap * 2).min(Duration::from_millis(50));
        }
    }

    /// Closes the server at once (Go's `Server.Close`): the listeners, every connection,
    /// and the [contexts](super::Request::context) of the requests still running, which
    /// are canceled. Hijacked connections are not the server's any more and stay open.
    /// True if nothing was in flight.
    pub fn close(&self) -> bool {
        self.shutdown(Duration::ZERO)
    }

    /// The server's counters.
    pub fn stats(&self) -> ServerStats {
        let s = &self.inner;
        ServerStats {
            accepted: s.accepted.load(Ordering::Relaxed),
            active: s.live.load(Ordering::Relaxed),
            bad_requests: s.bad_requests.load(Ordering::Relaxed),
            timed_out: s.timed_out.load(Ordering::Relaxed),
        }
    }

    /// The read-header timeout (it also bounds a TLS handshake, `https.rs`).
    #[cfg(feature = "tls")]
    pub(super) fn read_header_timeout(&self) -> Option<Duration> {
        self.inner.cfg.read_header_timeout
    }

    fn start_ticker(&self) {
        if self.inner.ticker.swap(true, Ordering::Relaxed) {
            return;
        }
        let srv = self.inner.clone();
        goro::spawn(move || loop {
            goro::time::sleep(srv.tick);
            srv.clock.store(
                srv.epoch.elapsed().as_millis() as u64 + 1,
                Ordering::Relaxed,
            );
            srv.date.refresh();
            srv.sweep(false);
            if srv.shutting_down() && srv.live.load(Ordering::Relaxed) == 0 {
                srv.ticker.store(false, Ordering::Relaxed);
                return;
            }
        });
    }
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("config", &self.inner.cfg)
            .field("stats", &self.stats())
            .finish()
    }
}

/// What the connections of one server share.
pub(crate) struct Shared {
    pub(crate) handler: Box<dyn Handler>,
    pub(crate) cfg: Config,
    pub(crate) date: DateCell,
    epoch: Instant,
    /// Coarse milliseconds since `epoch` (+1), advanced by the ticker every `tick`.
    clock: AtomicU64,
    tick: Duration,
    conns: Mutex<Registry>,
    shutting: AtomicBool,
    listeners: Mutex<Vec<Arc<TcpListener>>>,
    permits: Semaphore,
    ticker: AtomicBool,
    accepted: AtomicU64,
    bad_requests: AtomicU64,
    timed_out: AtomicU64,
    live: AtomicUsize,
}

impl Shared {
    pub(crate) fn now_ms(&self) -> u64 {
        self.clock.load(Ordering::Relaxed)
    }

    /// The deadline `timeout` after `base` in coarse ms (0: none). Capped so a slot's state
    /// (`deadline << 1 | idle`) holds it: a timeout of millions of years (`Duration::MAX`)
    /// is as good as none.
    pub(crate) fn deadline(&self, timeout: Option<Duration>, base: u64) -> u64 {
        timeout.map_or(0, |d| {
            let ms = u64::try_from(d.as_millis().max(1)).unwrap_or(u64::MAX);
            base.saturating_add(ms).min(u64::MAX >> 1)
        })
    }

    pub(crate) fn shutting_down(&self) -> bool {
        self.shutting.load(Ordering::Relaxed)
    }

    pub(crate) fn stats_bad_request(&self) {
        self.bad_requests.fetch_add(1, Ordering::Relaxed);
    }

    /// Enters an accepted (and counted) connection in the registry: the record its
    /// coroutine will own.
    pub(crate) fn register<C: Connection>(
        self: &Arc<Self>,
        conn: C,
        remote: SocketAddr,
        placed: goro::io::Placement,
    ) -> Conn<C> {
        let mut registry = lock(&self.conns);
        let index = registry.vacant();
        let slot = Arc::new(Slot {
            index,
            remote,
            state: AtomicU64::new(self.deadline(self.cfg.read_header_timeout, self.now_ms()) << 1),
            timed_out: AtomicBool::new(false),
            hijacked: AtomicBool::new(false),
            request_cancel: Mutex::new(std::sync::Weak::new()),
            conn,
        });
        registry.slots[index] = Some(slot.clone());
        drop(registry);
        Conn::new(self.clone(), slot, placed)
    }

    /// Un-counts a connection that `serve_with`'s wrap refused (it was never registered).
    fn unregister_unwrapped(&self) {
        self.live.fetch_sub(1, Ordering::Relaxed);
        self.permits.add_permits(1);
    }

    /// Takes connection `index` out of the registry and frees its permit (when its [`Conn`]
    /// drops, or when a handler hijacks it). The registry's reference to its slot is dropped outside the lock.
    pub(crate) fn unregister(&self, index: usize) {
        let registered = {
            let mut r = lock(&self.conns);
            r.free.push(index);
            r.slots[index].take()
        };
        drop(registered);
        self.live.fetch_sub(1, Ordering::Relaxed);
        self.permits.add_permits(1);
    }

    /// Closes connections past their deadline, and idle ones if `idle_too`.
    fn sweep(&self, idle_too: bool) {
        let now = self.now_ms();
        let mut doomed = Vec::new();
        for s in lock(&self.conns).slots.iter().flatten() {
            let w = s.state.load(Ordering::Relaxed);
            let (deadline, idle) = (w >> 1, w & 1 == 1);
            if deadline != 0 && deadline <= now {
                if !s.timed_out.swap(true, Ordering::Relaxed) {
                    self.timed_out.fetch_add(1, Ordering::Relaxed);
                }
                doomed.push(s.clone());
            } else if idle && (idle_too || self.shutting_down()) {
                doomed.push(s.clone());
            }
        }
        // Wake outside the registry lock.
        for s in doomed {
            s.conn.socket().close();
        }
    }
}

/// A live connection as the registry and the ticker see it. The connection comes last, so
/// that a `Slot<TcpStream>` is also a `Slot<dyn Connection>` to the registry (an unsized
/// coercion): the connection's own coroutine calls its transport directly, the ticker
/// and `shutdown` through the vtable.
pub(crate) struct Slot<C: ?Sized> {
    /// Its place in the registry.
    pub(crate) index: usize,
    pub(crate) remote: SocketAddr,
    /// `deadline_ms << 1 | idle`: written by the connection's coroutine, read by the ticker
    /// and `shutdown` (Relaxed both ways: a stale read only moves a close by one tick).
    state: AtomicU64,
    timed_out: AtomicBool,
    /// The cancel of the context of the request being served, if its handler asked for one
    /// (`request_context.rs`): shutdown cancels it when its grace expires.
    pub(crate) request_cancel: Mutex<std::sync::Weak<goro::context::CancelFn>>,
    /// Set (by the connection's own coroutine) when a handler hijacked the connection: the
    /// registry has forgotten it and its [`Conn`] must not unregister it again.
    pub(crate) hijacked: AtomicBool,
    pub(crate) conn: C,
}

impl<C: ?Sized> Slot<C> {
    /// Waiting for a new request (shutdown may close it) until `deadline` (0: none).
    pub(crate) fn set_idle(&self, deadline: u64) {
        self.set(deadline << 1 | 1);
    }

    /// Inside a request until `deadline` (0: none).
    pub(crate) fn set_busy(&self, deadline: u64) {
        self.set(deadline << 1);
    }

    fn set(&self, v: u64) {
        if self.state.load(Ordering::Relaxed) != v {
            self.state.store(v, Ordering::Relaxed);
        }
    }

    /// True if the ticker closed the connection for a timeout.
    pub(crate) fn timed_out(&self) -> bool {
        self.timed_out.load(Ordering::Relaxed)
    }
}

/// The live connections of a server, by slot index.
#[derive(Default)]
struct Registry {
    slots: Vec<Option<Arc<Slot<dyn Connection>>>>,
    free: Vec<usize>,
}

impl Registry {
    /// A free index; the caller fills it.
    fn vacant(&mut self) -> usize {
        self.free.pop().unwrap_or_else(|| {
            self.slots.push(None);
            self.slots.len() - 1
        })
    }
}

/// Asks for `TCP_NODELAY` on every connection `listener` accepts; true if they get it without
/// a `setsockopt` each. Linux copies the listener's option into each accepted socket, so there
/// one call on the listener replaces a syscall per connection; elsewhere the caller sets it
/// per connection.
fn nodelay_for_accepted(listener: &TcpListener) -> bool {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        use std::os::fd::AsRawFd;
        crate::sys::set_flag(listener.as_raw_fd(), libc::IPPROTO_TCP, libc::TCP_NODELAY).is_ok()
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        let _ = listener;
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted_connections_get_nodelay() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let inherited = nodelay_for_accepted(&l);
        assert_eq!(
            inherited,
            cfg!(any(target_os = "linux", target_os = "android"))
        );
        let addr = l.local_addr().unwrap();
        let client = std::net::TcpStream::connect(addr).unwrap();
        let (s, _) = l.accept().unwrap();
        if inherited {
            assert!(
                s.nodelay().unwrap(),
                "the listener's TCP_NODELAY was not inherited"
            );
        }
        drop(client);
    }
}
