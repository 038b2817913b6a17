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
/// not dropped. When the process is out of fds (`EMFILE`/`ENFILE`) `accept` backs off (5 ms,
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
from_std!(TcpListener, std::net::TcpListener);

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

    /// Sets `TCP_NODELAY` (Nagle off).
    pub fn set_nodelay(&self, on: bool) -> io::Result<()> {
        self.std().set_nodelay(on)
    }

    /// `TCP_NODELAY`.
    pub fn nodelay(&self) -> io::Result<bool> {
        self.std().nodelay()
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

    /// See [`PollFd::polled_here`](goro::io::PollFd::polled_here).
    pub(crate) fn polled_here(&self) -> bool {
        self.inner.polled_here()
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
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        match bufs.iter().find(|b| !b.is_empty()) {
            Some(b) => self.inner.write(b),
            None => Ok(0),
        }
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
