//! Go's TCP defaults on 127.0.0.1: dialed and accepted streams (also through a listener adopted
//! from std) have TCP_NODELAY and 15 s keep-alive probes; keep-alive, linger and buffer sizes
//! set and read back with raw getsockopt; linger 0 resets the peer.
use std::io::{ErrorKind, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::time::Duration;

use goro_net::{TcpListener, TcpStream};

/// A `c_int` socket option, read with a raw `getsockopt` (not through goro-net).
fn opt(fd: RawFd, level: libc::c_int, name: libc::c_int) -> libc::c_int {
    let mut v: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `v`/`len` are live and sized for a c_int option.
    let r = unsafe {
        libc::getsockopt(
            fd,
            level,
            name,
            (&mut v as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    assert_eq!(r, 0, "getsockopt: {}", std::io::Error::last_os_error());
    v
}

#[cfg(not(any(target_os = "macos", target_os = "ios")))]
const TCP_KEEPIDLE: libc::c_int = libc::TCP_KEEPIDLE;
#[cfg(any(target_os = "macos", target_os = "ios"))]
const TCP_KEEPIDLE: libc::c_int = libc::TCP_KEEPALIVE;

/// Go's defaults, read back from the socket itself.
fn assert_go_defaults(s: &TcpStream, who: &str) {
    let fd = s.as_raw_fd();
    assert_ne!(
        opt(fd, libc::IPPROTO_TCP, libc::TCP_NODELAY),
        0,
        "{who}: TCP_NODELAY off"
    );
    assert_ne!(
        opt(fd, libc::SOL_SOCKET, libc::SO_KEEPALIVE),
        0,
        "{who}: SO_KEEPALIVE off"
    );
    assert_eq!(
        opt(fd, libc::IPPROTO_TCP, TCP_KEEPIDLE),
        15,
        "{who}: keep-alive idle"
    );
    assert_eq!(
        opt(fd, libc::IPPROTO_TCP, libc::TCP_KEEPINTVL),
        15,
        "{who}: keep-alive interval"
    );
    assert_eq!(
        opt(fd, libc::IPPROTO_TCP, libc::TCP_KEEPCNT),
        9,
        "{who}: keep-alive count"
    );
    assert!(s.nodelay().unwrap(), "{who}");
    assert_eq!(
        s.keepalive().unwrap(),
        Some(Duration::from_secs(15)),
        "{who}"
    );
    assert_eq!(s.linger().unwrap(), None, "{who}");
}

fn pair(l: &TcpListener) -> (TcpStream, TcpStream) {
    let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (s, _) = l.accept().unwrap();
    (c, s)
}

#[test]
fn dialed_and_accepted_streams_get_gos_defaults_on_threads_and_coroutines() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let (c, s) = pair(&l);
    assert_go_defaults(&c, "dialed (thread)");
    assert_go_defaults(&s, "accepted (thread)");
    let addr = l.local_addr().unwrap();
    let h = goro::spawn(move || {
        let c = TcpStream::connect_timeout(&addr, Duration::from_secs(10)).unwrap();
        assert_go_defaults(&c, "dialed (coroutine, connect_timeout)");
        let (s, _) = l.accept().unwrap();
        assert_go_defaults(&s, "accepted (coroutine)");
    });
    h.join().unwrap();
}

#[test]
fn a_listener_adopted_from_std_hands_out_gos_defaults_too() {
    let l: TcpListener = std::net::TcpListener::bind("127.0.0.1:0").unwrap().into();
    let (c, s) = pair(&l);
    assert_go_defaults(&c, "dialed");
    assert_go_defaults(&s, "accepted from an adopted listener");
}

#[test]
fn a_stream_adopted_from_std_keeps_the_systems_options() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let std = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let s: TcpStream = std.into();
    assert!(!s.nodelay().unwrap());
    assert_eq!(opt(s.as_raw_fd(), libc::SOL_SOCKET, libc::SO_KEEPALIVE), 0);
    assert_eq!(s.keepalive().unwrap(), None);
}

#[test]
fn keepalive_set_rounds_up_to_seconds_and_turns_off() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let (c, _s) = pair(&l);
    let fd = c.as_raw_fd();
    c.set_keepalive(Some(Duration::from_millis(1500))).unwrap();
    assert_eq!(c.keepalive().unwrap(), Some(Duration::from_secs(2)));
    assert_eq!(opt(fd, libc::IPPROTO_TCP, TCP_KEEPIDLE), 2);
    assert_eq!(opt(fd, libc::IPPROTO_TCP, libc::TCP_KEEPINTVL), 2);
    c.set_keepalive(Some(Duration::ZERO)).unwrap();
    assert_eq!(c.keepalive().unwrap(), Some(Duration::from_secs(1)));
    c.set_keepalive(None).unwrap();
    assert_eq!(opt(fd, libc::SOL_SOCKET, libc::SO_KEEPALIVE), 0);
    assert_eq!(c.keepalive().unwrap(), None);
    c.set_keepalive(Some(Duration::from_secs(30))).unwrap();
    assert_ne!(opt(fd, libc::SOL_SOCKET, libc::SO_KEEPALIVE), 0);
    assert_eq!(c.keepalive().unwrap(), Some(Duration::from_secs(30)));
}

#[test]
fn nodelay_can_be_turned_off() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let (c, _s) = pair(&l);
    c.set_nodelay(false).unwrap();
    assert_eq!(opt(c.as_raw_fd(), libc::IPPROTO_TCP, libc::TCP_NODELAY), 0);
    assert!(!c.nodelay().unwrap());
}

#[test]
fn linger_is_set_and_read_back() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let (c, _s) = pair(&l);
    c.set_linger(Some(Duration::from_secs(3))).unwrap();
    assert_eq!(c.linger().unwrap(), Some(Duration::from_secs(3)));
    let mut raw = libc::linger {
        l_onoff: 0,
        l_linger: 0,
    };
    let mut len = std::mem::size_of::<libc::linger>() as libc::socklen_t;
    // SAFETY: `raw`/`len` are live and sized for SO_LINGER.
    let r = unsafe {
        libc::getsockopt(
            c.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&mut raw as *mut libc::linger).cast(),
            &mut len,
        )
    };
    assert_eq!(r, 0);
    assert_eq!((raw.l_onoff != 0, raw.l_linger), (true, 3));
    c.set_linger(None).unwrap();
    assert_eq!(c.linger().unwrap(), None);
}

#[test]
fn linger_zero_resets_the_peer_on_drop() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let (c, mut s) = pair(&l);
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    c.set_linger(Some(Duration::ZERO)).unwrap();
    (&c).write_all(b"x").unwrap();
    let mut b = [0u8; 1];
    s.read_exact(&mut b).unwrap();
    drop(c);
    let e = s.read(&mut b).expect_err("an RST, not a FIN");
    assert_eq!(e.kind(), ErrorKind::ConnectionReset, "{e}");
}

#[test]
fn buffer_sizes_are_set_and_read_back() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let (c, _s) = pair(&l);
    let fd = c.as_raw_fd();
    c.set_send_buffer_size(96 << 10).unwrap();
    c.set_recv_buffer_size(80 << 10).unwrap();
    let (snd, rcv) = (c.send_buffer_size().unwrap(), c.recv_buffer_size().unwrap());
    assert_eq!(snd, opt(fd, libc::SOL_SOCKET, libc::SO_SNDBUF) as usize);
    assert_eq!(rcv, opt(fd, libc::SOL_SOCKET, libc::SO_RCVBUF) as usize);
    if cfg!(target_os = "linux") {
        // Linux doubles the value for its bookkeeping (within its sysctl limits).
        assert_eq!((snd, rcv), (2 * (96 << 10), 2 * (80 << 10)));
    } else {
        assert!(snd >= 96 << 10 && rcv >= 80 << 10);
    }
    assert_eq!(
        c.set_send_buffer_size(usize::MAX).unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
}
