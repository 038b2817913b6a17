//! Unix-domain sockets: [`UnixListener`], [`UnixStream`], [`UnixDatagram`].
//!
//! Sockets are created through `std::os::unix::net` (which knows `sockaddr_un`) and switched
//! to non-blocking mode; every wait then parks the coroutine. `UnixStream::connect` is the one
//! call made in blocking mode: a local connect completes at once unless the listener's
//! backlog is full.
use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::os::fd::AsRawFd;
use std::os::unix::net::{self as std_unix, SocketAddr};
use std::path::Path;

use goro::io::PollFd;

use crate::fd::{from_std, socket_common};
use crate::sys;

fn adopt(fd: std::os::fd::OwnedFd) -> io::Result<PollFd> {
    PollFd::new(fd)
}

/// A Unix stream socket server (like `std::os::unix::net::UnixListener`).
///
/// ```
/// use std::io::{Read, Write};
/// use goro_net::{UnixListener, UnixStream};
///
/// let dir = std::env::temp_dir().join(format!("goro-doc-{}", std::process::id()));
/// let _ = std::fs::remove_file(&dir);
/// let l = UnixListener::bind(&dir).unwrap();
/// let h = goro::spawn(move || {
///     let (mut s, _) = l.accept().unwrap();
///     let mut buf = [0u8; 3];
///     s.read_exact(&mut buf).unwrap();
///     buf
/// });
/// UnixStream::connect(&dir).unwrap().write_all(b"abc").unwrap();
/// assert_eq!(&h.join().unwrap(), b"abc");
/// std::fs::remove_file(&dir).unwrap();
/// ```
pub struct UnixListener {
    inner: PollFd,
}

impl UnixListener {
    /// Binds to `path` and listens with the system's maximum backlog.
    pub fn bind<P: AsRef<Path>>(path: P) -> io::Result<UnixListener> {
        let l = std_unix::UnixListener::bind(path)?;
        // Raise std's backlog to somaxconn (listen on a listening socket updates it).
        // SAFETY: plain syscall on an open socket we own.
        sys::cvt(unsafe { libc::listen(l.as_raw_fd(), sys::somaxconn()) })?;
        Ok(UnixListener {
            inner: adopt(l.into())?,
        })
    }

    /// Accepts a connection, parking until one arrives.
    pub fn accept(&self) -> io::Result<(UnixStream, SocketAddr)> {
        let (s, a) = self.inner.read_with(|_| self.std().accept())?;
        Ok((
            UnixStream {
                inner: adopt(s.into())?,
            },
            a,
        ))
    }

    /// An endless iterator of accepted connections.
    pub fn incoming(&self) -> impl Iterator<Item = io::Result<UnixStream>> + '_ {
        std::iter::repeat_with(move || self.accept().map(|(s, _)| s))
    }

    /// The bound address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.std().local_addr()
    }

    fn std(&self) -> std::mem::ManuallyDrop<std_unix::UnixListener> {
        // SAFETY: our fd is an open Unix listening socket while `self` is borrowed; the view
        // never closes it.
        unsafe { sys::view(self.inner.as_raw_fd()) }
    }
}

socket_common!(UnixListener);
from_std!(UnixListener, std_unix::UnixListener);

/// A Unix stream connection (like `std::os::unix::net::UnixStream`).
pub struct UnixStream {
    inner: PollFd,
}

impl UnixStream {
    /// Connects to the socket at `path`.
    pub fn connect<P: AsRef<Path>>(path: P) -> io::Result<UnixStream> {
        let s = std_unix::UnixStream::connect(path)?;
        Ok(UnixStream {
            inner: adopt(s.into())?,
        })
    }

    /// A connected pair.
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = std_unix::UnixStream::pair()?;
        Ok((
            UnixStream {
                inner: adopt(a.into())?,
            },
            UnixStream {
                inner: adopt(b.into())?,
            },
        ))
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.std().local_addr()
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.std().peer_addr()
    }

    /// Shuts down the read, write or both halves.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.std().shutdown(how)
    }

    /// A second handle to the same connection (a `dup`, with its own timeouts).
    pub fn try_clone(&self) -> io::Result<UnixStream> {
        let s = self.std().try_clone()?;
        Ok(UnixStream {
            inner: PollFd::from_nonblocking(s.into()),
        })
    }

    fn std(&self) -> std::mem::ManuallyDrop<std_unix::UnixStream> {
        // SAFETY: our fd is an open Unix stream socket while `self` is borrowed; the view
        // never closes it.
        unsafe { sys::view(self.inner.as_raw_fd()) }
    }
}

socket_common!(UnixStream);
from_std!(UnixStream, std_unix::UnixStream);

impl Read for &UnixStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf)
    }
}

impl Write for &UnixStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Read for UnixStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }
}

impl Write for UnixStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A Unix datagram socket (like `std::os::unix::net::UnixDatagram`).
pub struct UnixDatagram {
    inner: PollFd,
}

impl UnixDatagram {
    /// Binds to `path`.
    pub fn bind<P: AsRef<Path>>(path: P) -> io::Result<UnixDatagram> {
        UnixDatagram::adopt(std_unix::UnixDatagram::bind(path)?)
    }

    /// An unbound socket.
    pub fn unbound() -> io::Result<UnixDatagram> {
        UnixDatagram::adopt(std_unix::UnixDatagram::unbound()?)
    }

    /// A connected pair.
    pub fn pair() -> io::Result<(UnixDatagram, UnixDatagram)> {
        let (a, b) = std_unix::UnixDatagram::pair()?;
        Ok((UnixDatagram::adopt(a)?, UnixDatagram::adopt(b)?))
    }

    fn adopt(s: std_unix::UnixDatagram) -> io::Result<UnixDatagram> {
        Ok(UnixDatagram {
            inner: adopt(s.into())?,
        })
    }

    /// Sets the default peer.
    pub fn connect<P: AsRef<Path>>(&self, path: P) -> io::Result<()> {
        self.std().connect(path)
    }

    /// Sends to the connected peer.
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write_with(|_| self.std().send(buf))
    }

    /// Receives one datagram.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read_with(|_| self.std().recv(buf))
    }

    /// Sends to the socket at `path`.
    pub fn send_to<P: AsRef<Path>>(&self, buf: &[u8], path: P) -> io::Result<usize> {
        let path = path.as_ref();
        self.inner.write_with(|_| self.std().send_to(buf, path))
    }

    /// Receives one datagram and its sender.
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.inner.read_with(|_| self.std().recv_from(buf))
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.std().local_addr()
    }

    /// The connected peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.std().peer_addr()
    }

    fn std(&self) -> std::mem::ManuallyDrop<std_unix::UnixDatagram> {
        // SAFETY: our fd is an open Unix datagram socket while `self` is borrowed; the view
        // never closes it.
        unsafe { sys::view(self.inner.as_raw_fd()) }
    }
}

socket_common!(UnixDatagram);
from_std!(UnixDatagram, std_unix::UnixDatagram);
