//! [`Connection`]: what the HTTP server needs of a transport, and `Wire`, how a request and
//! its writer reach it.
//!
//! The server speaks HTTP/1.1 over anything that moves bytes both ways on top of a TCP
//! socket: a plain [`TcpStream`], a TLS stream, or (for `httptest`) memory. It needs two
//! things of it:
//!
//! 1. **Bytes**: [`recv`](Connection::recv) and [`send`](Connection::send), `Read::read` and
//!    `Write::write` on a *shared* reference, as `&TcpStream` has them. Shared, because the
//!    connection's record is shared with the server's registry and ticker, which close the
//!    socket under a parked reader on a timeout or at shutdown.
//! 2. **The socket underneath** ([`socket`](Connection::socket)): the registry closes it,
//!    the write timeout and the linger deadline are set on it, an idle keep-alive
//!    connection waits on its readiness with no coroutine at all
//!    ([`TcpStream::spawn_when_readable`]), and addresses come from it.
//!
//! And one thing that only a transport with its own buffer has: bytes it already holds
//! for the reader ([`buffered`](Connection::buffered)). A TLS stream decrypts whole
//! records, so a client's next request can sit decrypted in it while the socket is
//! empty; the server asks before it parks an idle connection on socket readiness, and
//! serves those bytes first, or it would wait for data that already arrived.
//!
//! **Monomorphic where it is hot.** The connection loop (`conn.rs`) is generic over the
//! connection type, so the plain-TCP server compiles to direct calls, as before this trait.
//! [`Request`](super::Request), its body and [`ResponseWriter`](super::ResponseWriter)
//! are not generic (a [`Handler`](super::Handler) takes them by one concrete type, as Go's
//! do), so they hold a `Wire`: an enum whose `Tcp` arm is a direct call, whose `Dyn` arm is
//! any other connection through a vtable, and whose `Memory` arm is the recorder of
//! `httptest`. Enum dispatch, not a `dyn` on the TCP path; the branch is one predictable
//! compare per socket call (a few per request), against a syscall.
//!
//! **How a TLS stream plugs in.** A `TlsStream` with `Read` and `Write` for `&TlsStream`,
//! `get_ref()` for its socket and `buffered_plaintext()` implements the trait in four lines
//! (`recv`: `Read::read(&mut &*self, buf)`; `send`: `Write::write(&mut &*self, data)`;
//! `socket`: `self.get_ref()`; `buffered`: `self.buffered_plaintext()`; it also says its goodbye in `peer_left` and
//! `close_write`), and an HTTPS server
//! is `server.serve_with(listener, move |tcp| handshake(tcp))`, the handshake running in
//! each connection's own coroutine under a deadline it sets on the socket. Hijack, the
//! request context's watch and `httptest` need nothing more.
//!
//! Rejected: making `Request` and `ResponseWriter` generic over the transport (every
//! handler, mux and middleware would carry the parameter, and one `ServeMux` could not
//! serve both HTTP and HTTPS); a `Box<dyn>` per connection (an allocation per accept, and
//! an indirect call on the plain path).
use std::any::Any;
use std::io;
use std::sync::Mutex;

use crate::TcpStream;

/// A byte stream the HTTP server can serve: a plain [`TcpStream`], or a transport over one
/// such as TLS. See the module notes in `connection.rs` for why each method is there.
///
/// Implement it for a stream that has `Read` and `Write` on a shared reference (as
/// `&TcpStream` does), and serve it with [`Server::serve_with`](super::Server::serve_with),
/// which wraps each accepted socket in it:
///
/// ```
/// use std::io::{self, Read, Write};
/// use goro_net::http::Connection;
/// use goro_net::TcpStream;
///
/// /// A transport that counts the bytes it reads (a stand-in for a TLS stream).
/// struct Counting {
///     tcp: TcpStream,
///     read: std::sync::atomic::AtomicU64,
/// }
///
/// impl Connection for Counting {
///     fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
///         let n = (&self.tcp).read(buf)?;
///         self.read.fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
///         Ok(n)
///     }
///     fn send(&self, data: &[u8]) -> io::Result<usize> {
///         (&self.tcp).write(data)
///     }
///     fn socket(&self) -> &TcpStream {
///         &self.tcp
///     }
/// }
/// ```
pub trait Connection: Send + Sync + 'static {
    /// Reads bytes for the server (`Read::read` on `&self`): `Ok(0)` at the end of the
    /// stream. Parks the coroutine until data arrives, honouring the socket's deadlines.
    fn recv(&self, buf: &mut [u8]) -> io::Result<usize>;

    /// Writes some of `data` (`Write::write` on `&self`); the server loops until all is out.
    fn send(&self, data: &[u8]) -> io::Result<usize>;

    /// The TCP socket underneath: the server closes it (timeouts, shutdown), sets write
    /// timeouts and deadlines on it, waits on its readiness while the connection is idle,
    /// and reads addresses from it. Closing it must make a parked `recv` or `send` fail.
    fn socket(&self) -> &TcpStream;

    /// Bytes this transport already holds for `recv`, which the socket will not report as
    /// readable (a TLS stream's decrypted plaintext). The server serves them before it
    /// leaves an idle connection to the socket's readiness. 0 for a transport with no
    /// buffer of its own (the default).
    fn buffered(&self) -> usize {
        0
    }

    /// Whether the client has left, for a transport whose bytes on the socket may be a
    /// goodbye rather than data (a TLS `close_notify`). The server asks when the socket
    /// turns readable while a handler runs (the request's [context](super::Request::context)
    /// is canceled if the client left); it must not wait, nor take bytes a later
    /// [`recv`](Self::recv) would miss. `None` (the default): the socket alone tells.
    fn peer_left(&self) -> Option<bool> {
        None
    }

    /// What was agreed when the transport's TLS session was set up (Go's `r.TLS`), for
    /// [`Request::tls`](super::Request::tls); `None` (the default) for a transport without
    /// TLS. Asked only when a handler asks, so it may copy.
    fn tls(&self) -> Option<super::TlsState> {
        None
    }

    /// Ends this side's sending, reading goes on (Go's `CloseWrite`), for a
    /// [hijacked](super::Hijacked::shutdown_write) connection: a transport with a goodbye
    /// of its own says it first (TLS's `close_notify`). The default shuts the socket's
    /// write half.
    fn close_write(&self) -> io::Result<()> {
        self.socket().shutdown(std::net::Shutdown::Write)
    }
}

impl Connection for TcpStream {
    #[inline]
    fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        io::Read::read(&mut &*self, buf)
    }

    #[inline]
    fn send(&self, data: &[u8]) -> io::Result<usize> {
        io::Write::write(&mut &*self, data)
    }

    #[inline]
    fn socket(&self) -> &TcpStream {
        self
    }
}

/// Where a request's body reads from and its response goes: the transport as the
/// non-generic [`Request`](super::Request) and [`ResponseWriter`](super::ResponseWriter)
/// hold it (module notes).
#[derive(Clone, Copy)]
pub(crate) enum Wire<'a> {
    /// A plain TCP connection: direct calls.
    Tcp(&'a TcpStream),
    /// Any other [`Connection`] (TLS).
    Dyn(&'a dyn Connection),
    /// `httptest`: reads find the end of the stream, writes are recorded.
    Memory(&'a Memory),
}

impl<'a> Wire<'a> {
    /// The wire of connection `c`: the `Tcp` arm for a [`TcpStream`] (decided at compile
    /// time: the type test folds away once `C` is known).
    #[inline]
    pub(crate) fn of<C: Connection>(c: &'a C) -> Wire<'a> {
        match (c as &dyn Any).downcast_ref::<TcpStream>() {
            Some(tcp) => Wire::Tcp(tcp),
            None => Wire::Dyn(c),
        }
    }

    #[inline]
    pub(crate) fn read(self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Wire::Tcp(s) => io::Read::read(&mut &*s, buf),
            Wire::Dyn(c) => c.recv(buf),
            Wire::Memory(_) => Ok(0),
        }
    }

    #[inline]
    pub(crate) fn write_all(self, mut data: &[u8]) -> io::Result<()> {
        match self {
            Wire::Tcp(s) => io::Write::write_all(&mut &*s, data),
            Wire::Dyn(c) => {
                while !data.is_empty() {
                    match c.send(data) {
                        Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                        Ok(n) => data = &data[n..],
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(e),
                    }
                }
                Ok(())
            }
            Wire::Memory(m) => {
                crate::lock(&m.written).extend_from_slice(data);
                Ok(())
            }
        }
    }

    /// The TLS session's state, for a TLS transport ([`Connection::tls`]).
    pub(crate) fn tls(self) -> Option<super::TlsState> {
        match self {
            Wire::Dyn(c) => c.tls(),
            Wire::Tcp(_) | Wire::Memory(_) => None,
        }
    }
}

/// The in-memory end of `httptest`: everything the server side writes.
#[derive(Default)]
pub(crate) struct Memory {
    pub(crate) written: Mutex<Vec<u8>>,
}
