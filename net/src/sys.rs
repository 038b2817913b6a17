//! The few socket syscalls std does not offer in non-blocking form: socket creation,
//! `accept4`, `listen(somaxconn)`, and `sockaddr` conversion; and the socket options std
//! lacks (keep-alive, linger, buffer sizes) with Go's TCP defaults.
use std::io;
use std::mem::{self, ManuallyDrop};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::sync::OnceLock;

pub(crate) fn cvt(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// A std socket type viewing `fd` without owning it (for std's option setters and getters).
///
/// # Safety
///
/// `fd` must be an open socket of the kind `T` expects for as long as the view lives; the view
/// must not be turned into an owned value (it is `ManuallyDrop`, so it never closes `fd`).
pub(crate) unsafe fn view<T: FromRawFd>(fd: RawFd) -> ManuallyDrop<T> {
    // SAFETY: the caller keeps `fd` open while the view lives, and ManuallyDrop keeps it from
    // being closed by the view.
    ManuallyDrop::new(unsafe { T::from_raw_fd(fd) })
}

/// A new non-blocking, close-on-exec socket.
pub(crate) fn socket(domain: libc::c_int, ty: libc::c_int) -> io::Result<OwnedFd> {
    #[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
    {
        let ty = ty | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;
        // SAFETY: plain syscall; the result is owned at once.
        let fd = cvt(unsafe { libc::socket(domain, ty, 0) })?;
        // SAFETY: `fd` was just created and is owned by nobody else.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    }
    #[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
    {
        // SAFETY: plain syscall; the result is owned at once.
        let fd = unsafe { OwnedFd::from_raw_fd(cvt(libc::socket(domain, ty, 0))?) };
        set_cloexec_nonblock(&fd)?;
        Ok(fd)
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
fn set_cloexec_nonblock(fd: &OwnedFd) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let mut on: libc::c_int = 1;
    // SAFETY: fcntl/ioctl on an fd we own, with a live c_int argument.
    unsafe {
        cvt(libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC))?;
        cvt(libc::ioctl(fd.as_raw_fd(), libc::FIONBIO, &mut on))?;
        #[cfg(any(target_os = "macos", target_os = "ios"))]
        cvt(libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_NOSIGPIPE,
            (&on as *const libc::c_int).cast(),
            mem::size_of::<libc::c_int>() as libc::socklen_t,
        ))?;
    }
    Ok(())
}

/// `accept` returning a non-blocking, close-on-exec fd and the peer's raw address.
pub(crate) fn accept(fd: RawFd) -> io::Result<(OwnedFd, libc::sockaddr_storage, libc::socklen_t)> {
    // SAFETY: an all-zero sockaddr_storage is a valid value.
    let mut storage: libc::sockaddr_storage = unsafe { mem::zeroed() };
    let mut len = mem::size_of_val(&storage) as libc::socklen_t;
    let out = (&mut storage as *mut libc::sockaddr_storage).cast();
    #[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
    {
        let flags = libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;
        // SAFETY: `out`/`len` describe a live sockaddr_storage; the new fd is owned at once.
        let nfd = cvt(unsafe { libc::accept4(fd, out, &mut len, flags) })?;
        // SAFETY: `nfd` was just created and is owned by nobody else.
        Ok((unsafe { OwnedFd::from_raw_fd(nfd) }, storage, len))
    }
    #[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
    {
        // SAFETY: as above.
        let nfd = unsafe { OwnedFd::from_raw_fd(cvt(libc::accept(fd, out, &mut len))?) };
        set_cloexec_nonblock(&nfd)?;
        Ok((nfd, storage, len))
    }
}

/// The system's maximum listen backlog (`net.core.somaxconn`), as Go uses.
pub(crate) fn somaxconn() -> libc::c_int {
    static V: OnceLock<libc::c_int> = OnceLock::new();
    *V.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/net/core/somaxconn")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .filter(|&n: &libc::c_int| n > 0)
            .unwrap_or(libc::SOMAXCONN)
    })
}

/// `addr` as a C socket address.
pub(crate) fn sockaddr(addr: &SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: an all-zero sockaddr_storage is a valid value.
    let mut storage: libc::sockaddr_storage = unsafe { mem::zeroed() };
    let len = match addr {
        SocketAddr::V4(a) => {
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in.
            let sin = unsafe { &mut *(&mut storage as *mut _ as *mut libc::sockaddr_in) };
            sin.sin_family = libc::AF_INET as libc::sa_family_t;
            sin.sin_port = a.port().to_be();
            sin.sin_addr = libc::in_addr {
                s_addr: u32::from_ne_bytes(a.ip().octets()),
            };
            mem::size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(a) => {
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in6.
            let sin6 = unsafe { &mut *(&mut storage as *mut _ as *mut libc::sockaddr_in6) };
            sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            sin6.sin6_port = a.port().to_be();
            sin6.sin6_addr = libc::in6_addr {
                s6_addr: a.ip().octets(),
            };
            sin6.sin6_flowinfo = a.flowinfo();
            sin6.sin6_scope_id = a.scope_id();
            mem::size_of::<libc::sockaddr_in6>()
        }
    };
    (storage, len as libc::socklen_t)
}

/// A C socket address back as a `SocketAddr`.
pub(crate) fn to_socket_addr(
    storage: &libc::sockaddr_storage,
    len: libc::socklen_t,
) -> io::Result<SocketAddr> {
    match storage.ss_family as libc::c_int {
        libc::AF_INET if len as usize >= mem::size_of::<libc::sockaddr_in>() => {
            // SAFETY: the family and length say the storage holds a sockaddr_in.
            let sin = unsafe { &*(storage as *const _ as *const libc::sockaddr_in) };
            let ip = Ipv4Addr::from(sin.sin_addr.s_addr.to_ne_bytes());
            Ok(SocketAddrV4::new(ip, u16::from_be(sin.sin_port)).into())
        }
        libc::AF_INET6 if len as usize >= mem::size_of::<libc::sockaddr_in6>() => {
            // SAFETY: the family and length say the storage holds a sockaddr_in6.
            let sin6 = unsafe { &*(storage as *const _ as *const libc::sockaddr_in6) };
            let ip = Ipv6Addr::from(sin6.sin6_addr.s6_addr);
            Ok(SocketAddrV6::new(
                ip,
                u16::from_be(sin6.sin6_port),
                sin6.sin6_flowinfo,
                sin6.sin6_scope_id,
            )
            .into())
        }
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "goro-net: not an internet socket address",
        )),
    }
}

/// The domain of `addr` for `socket(2)`.
pub(crate) fn domain(addr: &SocketAddr) -> libc::c_int {
    match addr {
        SocketAddr::V4(_) => libc::AF_INET,
        SocketAddr::V6(_) => libc::AF_INET6,
    }
}

/// `getsockopt(SO_ERROR)`: the pending error of a socket (a finished non-blocking connect).
pub(crate) fn take_error(fd: RawFd) -> io::Result<Option<io::Error>> {
    let mut err: libc::c_int = 0;
    let mut len = mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `err`/`len` are live and sized for SO_ERROR.
    cvt(unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_ERROR,
            (&mut err as *mut libc::c_int).cast(),
            &mut len,
        )
    })?;
    Ok((err != 0).then(|| io::Error::from_raw_os_error(err)))
}

/// `setsockopt(level, name, 1)`.
pub(crate) fn set_flag(fd: RawFd, level: libc::c_int, name: libc::c_int) -> io::Result<()> {
    setsockopt(fd, level, name, 1 as libc::c_int)
}

/// `setsockopt(level, name, value)` for a plain-data option value (`c_int`, `linger`).
pub(crate) fn setsockopt<T: Copy>(
    fd: RawFd,
    level: libc::c_int,
    name: libc::c_int,
    value: T,
) -> io::Result<()> {
    // SAFETY: passes one live `T`, sized correctly; the kernel only reads it.
    cvt(unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (&value as *const T).cast(),
            mem::size_of::<T>() as libc::socklen_t,
        )
    })?;
    Ok(())
}

/// `getsockopt(level, name)` for a plain-data option value (`c_int`, `linger`).
///
/// # Safety
///
/// `T` must be the C type the kernel writes for `(level, name)` (every bit pattern of it a
/// valid value, as for `c_int` and `linger`).
pub(crate) unsafe fn getsockopt<T: Copy>(
    fd: RawFd,
    level: libc::c_int,
    name: libc::c_int,
) -> io::Result<T> {
    // SAFETY: the caller promises `T` is a plain C type for which all-zero is valid.
    let mut value: T = unsafe { mem::zeroed() };
    let mut len = mem::size_of::<T>() as libc::socklen_t;
    // SAFETY: `value`/`len` are live and describe `size_of::<T>()` writable bytes.
    cvt(unsafe { libc::getsockopt(fd, level, name, (&mut value as *mut T).cast(), &mut len) })?;
    Ok(value)
}

/// Go's keep-alive default for TCP connections (`net.Dialer.KeepAlive` and
/// `net.ListenConfig.KeepAlive` when zero): the first probe after 15 s idle, then every 15 s.
pub(crate) const KEEPALIVE: std::time::Duration = std::time::Duration::from_secs(15);
/// Go's default number of unanswered probes before the connection is dropped
/// (`net.KeepAliveConfig.Count`, the Linux default).
const KEEPALIVE_COUNT: libc::c_int = 9;

/// `TCP_KEEPIDLE` where it is called that; macOS and iOS call it `TCP_KEEPALIVE`.
#[cfg(not(any(target_os = "macos", target_os = "ios")))]
const TCP_KEEPIDLE: libc::c_int = libc::TCP_KEEPIDLE;
#[cfg(any(target_os = "macos", target_os = "ios"))]
const TCP_KEEPIDLE: libc::c_int = libc::TCP_KEEPALIVE;

/// Whole seconds for a socket option, rounded up as Go does (`roundDurationUp`), at least 1.
fn secs(d: std::time::Duration) -> libc::c_int {
    let s = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    s.clamp(1, libc::c_int::MAX as u64) as libc::c_int
}

/// Keep-alive probes on after `idle` (also the probe interval, as Go's `KeepAlive` sets both),
/// 9 probes; or off (`None`).
pub(crate) fn set_keepalive(fd: RawFd, idle: Option<std::time::Duration>) -> io::Result<()> {
    let Some(idle) = idle else {
        return setsockopt(fd, libc::SOL_SOCKET, libc::SO_KEEPALIVE, 0 as libc::c_int);
    };
    let s = secs(idle);
    setsockopt(fd, libc::IPPROTO_TCP, TCP_KEEPIDLE, s)?;
    setsockopt(fd, libc::IPPROTO_TCP, libc::TCP_KEEPINTVL, s)?;
    setsockopt(fd, libc::IPPROTO_TCP, libc::TCP_KEEPCNT, KEEPALIVE_COUNT)?;
    set_flag(fd, libc::SOL_SOCKET, libc::SO_KEEPALIVE)
}

/// `None` if keep-alive probes are off, else the idle time before the first probe.
pub(crate) fn keepalive(fd: RawFd) -> io::Result<Option<std::time::Duration>> {
    // SAFETY: SO_KEEPALIVE and TCP_KEEPIDLE are `c_int` options.
    let on: libc::c_int = unsafe { getsockopt(fd, libc::SOL_SOCKET, libc::SO_KEEPALIVE)? };
    if on == 0 {
        return Ok(None);
    }
    // SAFETY: as above.
    let idle: libc::c_int = unsafe { getsockopt(fd, libc::IPPROTO_TCP, TCP_KEEPIDLE)? };
    Ok(Some(std::time::Duration::from_secs(idle.max(0) as u64)))
}

/// `SO_LINGER`: `None` is the default (close returns at once, unsent data is still sent);
/// `Some(d)` lingers up to `d` (whole seconds, rounded up); `Some(0)` resets on close.
pub(crate) fn set_linger(fd: RawFd, linger: Option<std::time::Duration>) -> io::Result<()> {
    let l = libc::linger {
        l_onoff: linger.is_some() as libc::c_int,
        l_linger: match linger {
            Some(d) if d.is_zero() => 0,
            Some(d) => secs(d),
            None => 0,
        },
    };
    setsockopt(fd, libc::SOL_SOCKET, libc::SO_LINGER, l)
}

/// `SO_LINGER` as [`set_linger`] takes it.
pub(crate) fn linger(fd: RawFd) -> io::Result<Option<std::time::Duration>> {
    // SAFETY: SO_LINGER is a `struct linger` option (two ints).
    let l: libc::linger = unsafe { getsockopt(fd, libc::SOL_SOCKET, libc::SO_LINGER)? };
    Ok((l.l_onoff != 0).then(|| std::time::Duration::from_secs(l.l_linger.max(0) as u64)))
}

/// Sets `SO_SNDBUF` or `SO_RCVBUF` (`name`).
pub(crate) fn set_buffer_size(fd: RawFd, name: libc::c_int, size: usize) -> io::Result<()> {
    let size = libc::c_int::try_from(size).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "goro-net: buffer size too large",
        )
    })?;
    setsockopt(fd, libc::SOL_SOCKET, name, size)
}

/// `SO_SNDBUF` or `SO_RCVBUF` (`name`) as the kernel reports it (Linux doubles the value set,
/// for its bookkeeping).
pub(crate) fn buffer_size(fd: RawFd, name: libc::c_int) -> io::Result<usize> {
    // SAFETY: SO_SNDBUF and SO_RCVBUF are `c_int` options.
    let n: libc::c_int = unsafe { getsockopt(fd, libc::SOL_SOCKET, name)? };
    Ok(n.max(0) as usize)
}

/// Go's defaults for a new TCP connection: `TCP_NODELAY` on (Go's `newTCPConn`) and
/// keep-alive probes every 15 s. Errors are ignored, as Go ignores them: a socket that
/// refuses an option still works.
pub(crate) fn tcp_defaults(fd: RawFd) {
    let nodelay = set_flag(fd, libc::IPPROTO_TCP, libc::TCP_NODELAY);
    let keepalive = set_keepalive(fd, Some(KEEPALIVE));
    if let Err(e) = nodelay.and(keepalive) {
        tracing::debug!(error = %e, "goro-net: could not apply Go's TCP defaults");
    }
}

/// Most buffers one `sendmsg` takes: POSIX guarantees `IOV_MAX` >= 16 and Linux, macOS and
/// FreeBSD all allow 1024; the rest of a longer list goes in the caller's next write.
const MAX_IOV: usize = 1024;

/// One non-blocking `sendmsg(2)` of all of `bufs` (up to [`MAX_IOV`] of them) with
/// `MSG_NOSIGNAL`: a closed peer is `EPIPE`, never `SIGPIPE`. `WouldBlock` is returned as
/// is; the caller parks.
///
/// A single buffer (a lone TLS record, most often) goes out with `send(2)` instead, which
/// spares the kernel the message header and iovec array `sendmsg` copies in and checks: on
/// loopback, 128-byte writes took 1.95–2.05 µs per `send` against 2.04–2.21 per `sendmsg`.
pub(crate) fn send_vectored(fd: RawFd, bufs: &[std::io::IoSlice<'_>]) -> io::Result<usize> {
    if let [one] = bufs {
        return send(fd, one);
    }
    // SAFETY: msghdr is plain data, all-zero is a valid empty header.
    let mut msg: libc::msghdr = unsafe { mem::zeroed() };
    // `IoSlice` is guaranteed ABI-compatible with `iovec` on Unix; sendmsg only reads them.
    msg.msg_iov = bufs.as_ptr() as *mut libc::iovec;
    msg.msg_iovlen = bufs.len().min(MAX_IOV) as _;
    // SAFETY: `msg` points at `msg_iovlen` live iovecs, each naming a live buffer, for the
    // whole call; no address or control data.
    let r = unsafe { libc::sendmsg(fd, &msg, libc::MSG_NOSIGNAL) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r as usize)
    }
}

/// One non-blocking `send(2)` of `buf` with `MSG_NOSIGNAL` (a closed peer is `EPIPE`).
fn send(fd: RawFd, buf: &[u8]) -> io::Result<usize> {
    // SAFETY: `buf` is a live slice of `buf.len()` bytes for the call, which only reads it;
    // `fd` is the caller's open socket.
    let r = unsafe { libc::send(fd, buf.as_ptr().cast(), buf.len(), libc::MSG_NOSIGNAL) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r as usize)
    }
}
