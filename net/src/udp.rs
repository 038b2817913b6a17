//! UDP: [`UdpSocket`], std's API with goro's blocking model.
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::os::fd::AsRawFd;

use goro::io::PollFd;

use crate::addr::{each_addr, resolve};
use crate::fd::{from_std, socket_common};
use crate::sys;

/// A UDP socket (like `std::net::UdpSocket`; Go's `net.UDPConn`).
///
/// Receives park the calling coroutine until a datagram arrives (or a timeout passes);
/// sends park only while the socket buffer is full.
///
/// ```
/// use goro_net::UdpSocket;
///
/// let a = UdpSocket::bind("127.0.0.1:0").unwrap();
/// let b = UdpSocket::bind("127.0.0.1:0").unwrap();
/// let b_addr = b.local_addr().unwrap();
/// let h = goro::spawn(move || {
///     let mut buf = [0u8; 16];
///     let (n, from) = b.recv_from(&mut buf).unwrap();
///     (buf[..n].to_vec(), from)
/// });
/// a.send_to(b"hi", b_addr).unwrap();
/// let (msg, from) = h.join().unwrap();
/// assert_eq!(msg, b"hi");
/// assert_eq!(from, a.local_addr().unwrap());
/// ```
pub struct UdpSocket {
    inner: PollFd,
}

impl UdpSocket {
    /// Binds to `addr` (each resolved address in turn).
    pub fn bind<A: ToSocketAddrs + Sync>(addr: A) -> io::Result<UdpSocket> {
        each_addr(addr, |a| {
            let fd = sys::socket(sys::domain(a), libc::SOCK_DGRAM)?;
            let (st, len) = sys::sockaddr(a);
            // SAFETY: `st` is a live sockaddr of `len` bytes.
            sys::cvt(unsafe {
                libc::bind(
                    fd.as_raw_fd(),
                    (&st as *const libc::sockaddr_storage).cast(),
                    len,
                )
            })?;
            Ok(UdpSocket {
                inner: PollFd::from_nonblocking(fd),
            })
        })
    }

    /// Sets the default peer for `send`/`recv` and filters datagrams from others.
    pub fn connect<A: ToSocketAddrs + Sync>(&self, addr: A) -> io::Result<()> {
        each_addr(addr, |a| self.std().connect(a))
    }

    /// Sends to the connected peer.
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write_with(|_| self.std().send(buf))
    }

    /// Receives one datagram from the connected peer.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read_with(|_| self.std().recv(buf))
    }

    /// Sends to `addr` (its first resolved address).
    pub fn send_to<A: ToSocketAddrs + Sync>(&self, buf: &[u8], addr: A) -> io::Result<usize> {
        let a = resolve(addr)?[0];
        self.inner.write_with(|_| self.std().send_to(buf, a))
    }

    /// Receives one datagram and its sender.
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.inner.read_with(|_| self.std().recv_from(buf))
    }

    /// Receives one datagram without removing it from the queue.
    pub fn peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.inner.read_with(|_| self.std().peek_from(buf))
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.std().local_addr()
    }

    /// The connected peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.std().peer_addr()
    }

    /// Sets `SO_BROADCAST`.
    pub fn set_broadcast(&self, on: bool) -> io::Result<()> {
        self.std().set_broadcast(on)
    }

    /// `SO_BROADCAST`.
    pub fn broadcast(&self) -> io::Result<bool> {
        self.std().broadcast()
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

    /// A second handle to the same socket (a `dup`, with its own timeouts).
    pub fn try_clone(&self) -> io::Result<UdpSocket> {
        let s = self.std().try_clone()?;
        Ok(UdpSocket {
            inner: PollFd::from_nonblocking(s.into()),
        })
    }

    fn std(&self) -> std::mem::ManuallyDrop<std::net::UdpSocket> {
        // SAFETY: our fd is an open UDP socket while `self` is borrowed, and the view never
        // closes it.
        unsafe { sys::view(self.inner.as_raw_fd()) }
    }
}

socket_common!(UdpSocket);
from_std!(UdpSocket, std::net::UdpSocket);
