//! goro-net: blocking-style sockets for goro coroutines.
//!
//! The types mirror `std::net` and `std::os::unix::net`: [`TcpListener`], [`TcpStream`],
//! [`UdpSocket`], [`UnixListener`], [`UnixStream`], [`UnixDatagram`]. Inside a goro coroutine
//! a call that would block (`accept`, `read`, `write` on a full buffer, `connect`) parks only
//! that coroutine; the worker thread runs others until the kernel reports the socket ready.
//! From a plain thread (a test, `main`) the same calls block the thread, so one type serves
//! both.
//!
//! Coming from Go's `net`:
//!
//! | Go | goro-net |
//! |----|----------|
//! | `net.Listen("tcp", a)` | [`TcpListener::bind`]`(a)` (backlog = `somaxconn`, as Go) |
//! | `ln.Accept()` + `go handle(c)` | [`TcpListener::accept`] / `incoming()` + [`spawn_balanced`] (or `go!`) |
//! | `net.Dial`, `net.DialTimeout` | [`TcpStream::connect`], [`TcpStream::connect_timeout`] |
//! | `c.SetReadDeadline(t)` | [`TcpStream::set_read_deadline`]`(Some(t))`; std-style `set_read_timeout` too |
//! | timeout error (`os.ErrDeadlineExceeded`) | `io::ErrorKind::TimedOut`; the stream stays usable |
//! | `c.Close()` from another goroutine | [`TcpStream::close`] (wakes parked readers/writers with an error) |
//! | `(*TCPConn).CloseWrite` | `shutdown(Shutdown::Write)` |
//! | `sync.Pool` of buffers | [`pool::get`] |
//! | `crypto/tls` (`tls.Server`, `tls.Client`, `tls.Conn`) | `tls::TlsAcceptor`, `tls::TlsConnector`, `tls::TlsStream` (feature `tls`, on by default) |
//!
//! Name resolution (`ToSocketAddrs`) runs off the worker threads. The fd-level machinery is
//! `goro::io::PollFd`, public so other crates can build their own coroutine-aware fds.
#![warn(missing_docs)]

mod addr;
pub mod connpool;
mod fd;
pub mod http;
mod idle_watch;
pub mod pool;
mod sys;
mod tcp;
#[cfg(feature = "tls")]
pub mod tls;
mod udp;
mod unix;

pub use goro::io::spawn_balanced;
pub use tcp::{Incoming, TcpListener, TcpStream};
pub use udp::UdpSocket;
pub use unix::{UnixDatagram, UnixListener, UnixStream};

/// Locks a std mutex whose data stays consistent even if a holder panicked (every mutex in
/// this crate guards state that each critical section leaves valid), so poisoning is ignored.
pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
