//! TCP: [`TcpListener`] and [`TcpStream`], std's API with goro's blocking model.
use std::io::{self, IoSlice, Read, Write};
use std::net::{Shutdown, SocketAddr, ToSocketAddrs};
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

use goro::io::PollFd;

use crate::addr::each_addr;
use crate::fd::{from_std, socket_common};
use crate::sys;

/// A TCP socket server (like `std::net::TcpListener`; Go's `net.Listen("tcp", ..)`).
///
/// `accept` parks the calling coroutine until a connection arrives. The listen backlog is the
/// system's maximum (`net.core.somaxconn`), as in Go, so a burst of thousands of connects is
/// not dropped. Accepted streams get Go's TCP defaults (see [`TcpStream`]): `TCP_NODELAY` on
/// and keep-alive probes every 15 s. On Linux they inherit both from the listener, so this
/// costs no system call per connection. When the process is out of fds (`EMFILE`/`ENFILE`) `accept` backs off (5 ms,
/// doubling up to 1 s, with a tracing warning) and resumes when fds are free again; it never
/// spins.
///
/// ```
/// use std::io::{Read, Write};
/// use goro_net::{TcpListener, TcpStream};
///
/// let listener = TcpListener::bind("127.0.0.1:0").unwrap();
/// let addr = listener.local_addr().unwrap();
/// goro::spawn(move || {
///     for stream in listener.incoming().take(1) {
///         let mut stream = stream.unwrap();
///         goro_net::spawn_balanced(move || {
///             let mut buf = [0u8; 64];
///             let n = stream.read(&mut buf).unwrap();
///             stream.write_all(&buf[..n]).unwrap();
///         });
///     }
/// });
/// // From a plain thread the same types block the thread.
/// let mut c = TcpStream::connect(addr).unwrap();
/// c.write_all(b"ping").unwrap();
/// let mut buf = [0u8; 4];
/// c.read_exact(&mut buf).unwrap();
/// assert_eq!(&buf, b"ping");
/// ```
pub struct TcpListener {
    inner: PollFd,
}

/// First and largest sleep of the accept back-off on `EMFILE`/`ENFILE`.
const BACKOFF_MIN: Duration = Duration::from_millis(5);
const BACKOFF_MAX: Duration = Duration::from_secs(1);

impl TcpListener {
    /// Binds to `addr` (each resolved address in turn) and listens with the system's maximum
    /// backlog. `SO_REUSEADDR` is set, as std and Go do on Unix.
    pub fn bind<A: ToSocketAddrs + Sync>(addr: A) -> io::Result<TcpListener> {
        each_addr(addr, |a| {
            let fd = sys::socket(sys::domain(a), libc::SOCK_STREAM)?;
            let raw = fd.as_raw_fd();
            sys::set_flag(raw, libc::SOL_SOCKET, libc::SO_REUSEADDR)?;
            listener_defaults(raw);
            let (st, len) = sys::sockaddr(a);
            // SAFETY: `st` is a live sockaddr of `len` bytes.
            sys::cvt(unsafe {
                libc::bind(raw, (&st as *const libc::sockaddr_storage).cast(), len)
            })?;
            // SAFETY: plain syscall on our socket.
            sys::cvt(unsafe { libc::listen(raw, sys::somaxconn()) })?;
            tracing::debug!(addr = %a, backlog = sys::somaxconn(), "goro-net: listening");
            Ok(TcpListener {
                inner: PollFd::from_nonblocking(fd),
            })
        })
    }

    /// Accepts a connection, parking until one arrives. The stream is non-blocking inside
    /// and not yet registered with any poller: it joins the poller of the worker whose
    /// coroutine first waits on it (see [`spawn_balanced`](crate::spawn_balanced)).
    pub fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let mut backoff = Duration::ZERO;
        loop {
            match self.inner.read_with(|fd| sys::accept(fd.as_raw_fd())) {
                Ok((fd, st, len)) => {
                    if !INHERITS_DEFAULTS {
                        sys::tcp_defaults(fd.as_raw_fd());
                    }
                    let peer = sys::to_socket_addr(&st, len)?;
                    tracing::trace!(%peer, "goro-net: accepted");
                    return Ok((TcpStream::from_fd(fd), peer));
                }
                Err(e) => match e.raw_os_error() {
                    Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM) => {
                        backoff = (backoff * 2).clamp(BACKOFF_MIN, BACKOFF_MAX);
                        tracing::warn!(
                            error = %e,
                            retry_in_ms = backoff.as_millis() as u64,
                            "goro-net: accept failed (out of file descriptors or memory); backing off"
                        );
                        goro::time::sleep(backoff);
                    }
                    // The peer gave up before we accepted: not the listener's problem.
                    Some(libc::ECONNABORTED) => {}
                    _ => return Err(e),
                },
            }
        }
    }

    /// An endless iterator of accepted connections (`accept` in a loop).
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming { listener: self }
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.std().local_addr()
    }

    /// Sets `IP_TTL`.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.std().set_ttl(ttl)
    }

    /// `IP_TTL`.
    pub fn ttl(&self) -> io::Result<u32> {
        self.std().ttl()
    }

    /// The pending socket error (`SO_ERROR`), if any.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        sys::take_error(self.inner.as_raw_fd())
    }

    /// A second handle to the same listening socket (its own fd, deadlines and poller slot).
    pub fn try_clone(&self) -> io::Result<TcpListener> {
        let s = self.std().try_clone()?;
        Ok(TcpListener {
            inner: PollFd::from_nonblocking(s.into()),
        })
    }

    fn std(&self) -> std::mem::ManuallyDrop<std::net::TcpListener> {
        // SAFETY: our fd is an open TCP listening socket while `self` is borrowed, and the
        // view never closes it.
        unsafe { sys::view(self.inner.as_raw_fd()) }
    }
}

socket_common!(TcpListener);

impl From<std::net::TcpListener> for TcpListener {
    /// Adopts a std listener, switching it to non-blocking mode; connections it accepts from
    /// now on get Go's TCP defaults, as with [`TcpListener::bind`].
    ///
    /// # Panics
    ///
    /// If the socket cannot be made non-blocking (never for an open socket).
    fn from(l: std::net::TcpListener) -> TcpListener {
        listener_defaults(l.as_raw_fd());
        TcpListener {
            inner: PollFd::new(l.into()).expect("goro-net: cannot make the socket non-blocking"),
        }
    }
}

/// Linux (and Android) copy a listening socket's `TCP_NODELAY` and keep-alive settings into
/// every socket it accepts; elsewhere `accept` sets them on each new socket.
const INHERITS_DEFAULTS: bool = cfg!(any(target_os = "linux", target_os = "android"));

/// Sets Go's TCP defaults on a listening socket where accepted sockets inherit them.
fn listener_defaults(fd: std::os::fd::RawFd) {
    if INHERITS_DEFAULTS {
        sys::tcp_defaults(fd);
    }
}

/// Iterator returned by [`TcpListener::incoming`]; never ends.
#[derive(Debug)]
pub struct Incoming<'a> {
    listener: &'a TcpListener,
}

impl Iterator for Incoming<'_> {
    type Item = io::Result<TcpStream>;
    fn next(&mut self) -> Option<io::Result<TcpStream>> {
        Some(self.listener.accept().map(|(s, _)| s))
    }
}

/// A TCP connection (like `std::net::TcpStream`; Go's `net.TCPConn`).
///
/// `Read` and `Write` are implemented for `TcpStream` and `&TcpStream`, so one coroutine can
/// read while another writes the same stream (share it with an `Arc`). Writes use
/// `MSG_NOSIGNAL`: writing to a closed peer is an `EPIPE` error, never a `SIGPIPE`.
///
/// # Go's defaults
///
/// Streams from [`connect`](TcpStream::connect) and [`TcpListener::accept`] start with the
/// options Go gives every TCP connection, not the operating system's:
///
/// | option | default | change with |
/// |---|---|---|
/// | `TCP_NODELAY` (Nagle's algorithm off) | on | [`set_nodelay`](TcpStream::set_nodelay) |
/// | keep-alive probes (`SO_KEEPALIVE`) | after 15 s idle, every 15 s, 9 probes | [`set_keepalive`](TcpStream::set_keepalive) |
/// | `SO_LINGER` | off (the system's) | [`set_linger`](TcpStream::set_linger) |
/// | `SO_SNDBUF`, `SO_RCVBUF` | the system's (auto-tuned) | [`set_send_buffer_size`](TcpStream::set_send_buffer_size), [`set_recv_buffer_size`](TcpStream::set_recv_buffer_size) |
///
/// A stream adopted from std (`From<std::net::TcpStream>`) keeps the options it has.
///
/// ```
/// use std::time::Duration;
/// let l = goro_net::TcpListener::bind("127.0.0.1:0").unwrap();
/// let c = goro_net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
/// let (s, _) = l.accept().unwrap();
/// for stream in [&c, &s] {
///     assert!(stream.nodelay().unwrap());
///     assert_eq!(stream.keepalive().unwrap(), Some(Duration::from_secs(15)));
/// }
/// ```
pub struct TcpStream {
    inner: PollFd,
}

impl TcpStream {
    fn from_fd(fd: OwnedFd) -> TcpStream {
        TcpStream {
            inner: PollFd::from_nonblocking(fd),
        }
    }

    /// Connects to `addr` (each resolved address in turn), parking while the handshake runs.
    pub fn connect<A: ToSocketAddrs + Sync>(addr: A) -> io::Result<TcpStream> {
        each_addr(addr, |a| TcpStream::connect_inner(a, None))
    }

    /// Connects to `addr`, failing with `TimedOut` if the handshake takes longer than
    /// `timeout`.
    pub fn connect_timeout(addr: &SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
        if timeout.is_zero() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "goro-net: zero connect timeout",
            ));
        }
        TcpStream::connect_inner(addr, Instant::now().checked_add(timeout))
    }

    fn connect_inner(a: &SocketAddr, deadline: Option<Instant>) -> io::Result<TcpStream> {
        let fd = sys::socket(sys::domain(a), libc::SOCK_STREAM)?;
        let raw = fd.as_raw_fd();
        // Before the handshake, so that not even the first segment waits for Nagle.
        sys::tcp_defaults(raw);
        let (st, len) = sys::sockaddr(a);
        // SAFETY: `st` is a live sockaddr of `len` bytes.
        let r = unsafe { libc::connect(raw, (&st as *const libc::sockaddr_storage).cast(), len) };
        let s = TcpStream::from_fd(fd);
        if r < 0 {
            let e = io::Error::last_os_error();
            match e.raw_os_error() {
                // In progress (EINTR: it goes on in the background, as POSIX says).
                Some(libc::EINPROGRESS | libc::EINTR) => {
                    s.inner.wait_writable(deadline)?;
                    if let Some(e) = sys::take_error(raw)? {
                        return Err(e);
                    }
                }
                _ => return Err(e),
            }
        }
        tracing::trace!(addr = %a, "goro-net: connected");
        Ok(s)
    }

    /// The remote address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.std().peer_addr()
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.std().local_addr()
    }

    /// Shuts down the read, write or both halves (a half-close with `Shutdown::Write`).
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.std().shutdown(how)
    }

    /// Sets `TCP_NODELAY`: `true` (the default, as in Go) sends each write at once; `false`
    /// turns Nagle's algorithm back on, which holds small writes back while an earlier
    /// segment is unacknowledged (Go's `SetNoDelay`).
    ///
    /// ```
    /// # let l = goro_net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let s = goro_net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    /// assert!(s.nodelay().unwrap()); // Go's default
    /// s.set_nodelay(false).unwrap();
    /// assert!(!s.nodelay().unwrap());
    /// ```
    pub fn set_nodelay(&self, on: bool) -> io::Result<()> {
        self.std().set_nodelay(on)
    }

    /// `TCP_NODELAY`: true while Nagle's algorithm is off (the default).
    ///
    /// ```
    /// # let l = goro_net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let s = goro_net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    /// assert!(s.nodelay().unwrap());
    /// ```
    pub fn nodelay(&self) -> io::Result<bool> {
        self.std().nodelay()
    }

    /// Turns TCP keep-alive probes on, the first after `idle` without traffic and then one
    /// every `idle`, dropping the connection after 9 unanswered probes (Go's
    /// `SetKeepAlive` + `SetKeepAlivePeriod`); `None` turns them off. Durations are rounded
    /// up to whole seconds. The default is `Some(15 s)`, as in Go.
    ///
    /// ```
    /// use std::time::Duration;
    /// # let l = goro_net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let s = goro_net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    /// s.set_keepalive(Some(Duration::from_secs(60))).unwrap();
    /// assert_eq!(s.keepalive().unwrap(), Some(Duration::from_secs(60)));
    /// s.set_keepalive(None).unwrap();
    /// assert_eq!(s.keepalive().unwrap(), None);
    /// ```
    pub fn set_keepalive(&self, idle: Option<Duration>) -> io::Result<()> {
        sys::set_keepalive(self.inner.as_raw_fd(), idle)
    }

    /// `None` if keep-alive probes are off, else the idle time before the first probe.
    ///
    /// ```
    /// # let l = goro_net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let s = goro_net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    /// assert_eq!(s.keepalive().unwrap(), Some(std::time::Duration::from_secs(15)));
    /// ```
    pub fn keepalive(&self) -> io::Result<Option<Duration>> {
        sys::keepalive(self.inner.as_raw_fd())
    }

    /// Sets `SO_LINGER` (Go's `SetLinger`, std's unstable `set_linger`). `None`, the default:
    /// dropping the stream returns at once and the system still sends unsent data.
    /// `Some(Duration::ZERO)`: dropping the stream discards unsent data and resets the
    /// connection (an RST instead of a FIN). `Some(d)`: as Go warns, on Linux and some
    /// other systems dropping the stream then *blocks* (here: the worker thread) for up to `d`
    /// until the data is sent; prefer `None`, or [`shutdown`](TcpStream::shutdown) and a read
    /// to end of file.
    ///
    /// ```
    /// use std::time::Duration;
    /// # let l = goro_net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let s = goro_net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    /// assert_eq!(s.linger().unwrap(), None);
    /// s.set_linger(Some(Duration::ZERO)).unwrap(); // reset on close
    /// assert_eq!(s.linger().unwrap(), Some(Duration::ZERO));
    /// ```
    pub fn set_linger(&self, linger: Option<Duration>) -> io::Result<()> {
        sys::set_linger(self.inner.as_raw_fd(), linger)
    }

    /// `SO_LINGER`, in the form [`set_linger`](TcpStream::set_linger) takes.
    ///
    /// ```
    /// # let l = goro_net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let s = goro_net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    /// assert_eq!(s.linger().unwrap(), None);
    /// ```
    pub fn linger(&self) -> io::Result<Option<Duration>> {
        sys::linger(self.inner.as_raw_fd())
    }

    /// Sets `SO_SNDBUF`, the kernel's send buffer, in bytes (Go's `SetWriteBuffer`). Setting
    /// it turns off the kernel's auto-tuning for this socket; Linux doubles the value (see
    /// [`send_buffer_size`](TcpStream::send_buffer_size)).
    ///
    /// ```
    /// # let l = goro_net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let s = goro_net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    /// s.set_send_buffer_size(64 << 10).unwrap();
    /// assert!(s.send_buffer_size().unwrap() >= 64 << 10);
    /// ```
    pub fn set_send_buffer_size(&self, size: usize) -> io::Result<()> {
        sys::set_buffer_size(self.inner.as_raw_fd(), libc::SO_SNDBUF, size)
    }

    /// `SO_SNDBUF` as the kernel reports it (on Linux, twice what was set, for bookkeeping).
    ///
    /// ```
    /// # let l = goro_net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let s = goro_net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    /// assert!(s.send_buffer_size().unwrap() > 0);
    /// ```
    pub fn send_buffer_size(&self) -> io::Result<usize> {
        sys::buffer_size(self.inner.as_raw_fd(), libc::SO_SNDBUF)
    }

    /// Sets `SO_RCVBUF`, the kernel's receive buffer, in bytes (Go's `SetReadBuffer`); as
    /// [`set_send_buffer_size`](TcpStream::set_send_buffer_size).
    ///
    /// ```
    /// # let l = goro_net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let s = goro_net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    /// s.set_recv_buffer_size(64 << 10).unwrap();
    /// assert!(s.recv_buffer_size().unwrap() >= 64 << 10);
    /// ```
    pub fn set_recv_buffer_size(&self, size: usize) -> io::Result<()> {
        sys::set_buffer_size(self.inner.as_raw_fd(), libc::SO_RCVBUF, size)
    }

    /// `SO_RCVBUF` as the kernel reports it (on Linux, twice what was set).
    ///
    /// ```
    /// # let l = goro_net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let s = goro_net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    /// assert!(s.recv_buffer_size().unwrap() > 0);
    /// ```
    pub fn recv_buffer_size(&self) -> io::Result<usize> {
        sys::buffer_size(self.inner.as_raw_fd(), libc::SO_RCVBUF)
    }

    /// Sets `IP_TTL`.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.std().set_ttl(ttl)
    }

    /// `IP_TTL`.
    pub fn ttl(&self) -> io::Result<u32> {
        self.std().ttl()
    }

    /// The pending socket error (`SO_ERROR`), if any.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        sys::take_error(self.inner.as_raw_fd())
    }

    /// Parks until a read would not park (data, end of file or an error is waiting), without
    /// reading; tokio's `readable`. A server with many idle keep-alive connections uses it to
    /// hold no read buffer while a connection is idle. Honours the read timeout and deadline.
    ///
    /// ```no_run
    /// # fn f(stream: goro_net::TcpStream) -> std::io::Result<()> {
    /// use std::io::Read;
    /// stream.readable()?; // parked here with no buffer
    /// let mut buf = vec![0u8; 4096];
    /// let n = (&stream).read(&mut buf)?;
    /// # let _ = n; Ok(()) }
    /// ```
    pub fn readable(&self) -> io::Result<()> {
        self.inner.readable()
    }

    /// Starts `f` in a new coroutine once the stream is readable (data, end of file, an
    /// error, or [`close`](Self::close)), instead of parking a coroutine until then; see
    /// [`PollFd::spawn_when_readable`](goro::io::PollFd::spawn_when_readable). A server with
    /// many idle keep-alive connections waits between requests this way: an idle
    /// connection then holds no coroutine and no stack, and the next request is served on
    /// a stack still warm in the caches. The read timeout and deadline do not apply; close
    /// the stream to end the wait.
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// use std::sync::{mpsc, Arc};
    /// use goro_net::{TcpListener, TcpStream};
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    /// let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    /// let server = Arc::new(listener.accept().unwrap().0);
    /// let (tx, rx) = mpsc::channel();
    /// let s = server.clone();
    /// server
    ///     .spawn_when_readable(move || {
    ///         let mut buf = [0u8; 4];
    ///         let n = (&*s).read(&mut buf).unwrap();
    ///         tx.send(buf[..n].to_vec()).unwrap();
    ///     })
    ///     .unwrap();
    /// client.write_all(b"ping").unwrap();
    /// assert_eq!(rx.recv().unwrap(), b"ping");
    /// ```
    pub fn spawn_when_readable<F>(&self, f: F) -> io::Result<()>
    where
        F: FnOnce() + Send + 'static,
    {
        self.inner.spawn_when_readable(f)
    }

    /// Moves the stream to worker `worker`'s poller; see
    /// [`PollFd::move_to_worker`](goro::io::PollFd::move_to_worker).
    pub(crate) fn move_to_worker(&self, worker: usize) -> io::Result<()> {
        self.inner.move_to_worker(worker)
    }

    /// See [`PollFd::polled_here`](goro::io::PollFd::polled_here).
    pub(crate) fn polled_here(&self) -> bool {
        self.inner.polled_here()
    }

    /// Clears the poller's read-ready bit, if set, without parking (a wait whose deadline
    /// has passed takes the bit when it finds it set). For a pool that owns an idle
    /// connection and is about to ask the kernel whether it is readable: see
    /// `idle_watch::still_open`. A reader must not run concurrently: `read` trusts a clear
    /// bit to mean the socket was drained.
    pub(crate) fn clear_read_ready(&self) {
        let _ = self.inner.wait_readable(Some(Instant::now()));
    }

    /// See [`PollFd::read_would_park`](goro::io::PollFd::read_would_park).
    pub(crate) fn read_would_park(&self) -> bool {
        self.inner.read_would_park()
    }

    /// Reads without consuming, parking until data (or EOF) is there.
    pub fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read_with(|fd| {
            // SAFETY: `buf` is a live, writable slice for the call.
            let r = unsafe {
                libc::recv(
                    fd.as_raw_fd(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    libc::MSG_PEEK,
                )
            };
            if r < 0 {
                Err(io::Error::last_os_error())
            } else {
                Ok(r as usize)
            }
        })
    }

    /// A second handle to the same connection (a `dup` of the fd, with its own timeouts and
    /// deadlines, registered in a poller of its own the first time it waits).
    pub fn try_clone(&self) -> io::Result<TcpStream> {
        let s = self.std().try_clone()?;
        Ok(TcpStream::from_fd(s.into()))
    }

    fn std(&self) -> std::mem::ManuallyDrop<std::net::TcpStream> {
        // SAFETY: our fd is an open TCP socket while `self` is borrowed, and the view never
        // closes it.
        unsafe { sys::view(self.inner.as_raw_fd()) }
    }
}

socket_common!(TcpStream);
from_std!(TcpStream, std::net::TcpStream);

impl Read for &TcpStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf)
    }
}

impl Write for &TcpStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf)
    }
    /// One `sendmsg(2)` of all of `bufs` (as std's does with `writev`), parking while the
    /// socket's send buffer is full. Returns how many bytes went out, possibly fewer than the
    /// total; `write_all_vectored` or a loop carries on from there.
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.inner
            .write_with(|fd| sys::send_vectored(fd.as_raw_fd(), bufs))
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Read for TcpStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }
}

impl Write for TcpStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        (&*self).write_vectored(bufs)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
