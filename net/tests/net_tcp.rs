//! TCP on 127.0.0.1: echo, 1 MiB both ways at once, half-close, reset peer, write after the
//! peer closed, read deadline beside a concurrent writer, close waking a parked reader,
//! connect errors, plain-thread use, a vectored write sent whole in one call.
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::Duration;

use goro_net::{TcpListener, TcpStream};

/// A listener on an ephemeral port, and a coroutine that runs `serve` for each connection.
fn server(serve: fn(TcpStream)) -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    goro::spawn(move || {
        for s in l.incoming() {
            let s = s.unwrap();
            goro_net::spawn_balanced(move || serve(s));
        }
    });
    addr
}

fn echo(mut s: TcpStream) {
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if s.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
        }
    }
}

fn pattern(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

#[test]
fn echo_from_coroutines_and_from_a_plain_thread() {
    let addr = server(echo);
    // Plain thread: the same types block the thread.
    let mut c = TcpStream::connect(addr).unwrap();
    c.set_nodelay(true).unwrap();
    assert!(c.nodelay().unwrap());
    c.write_all(b"from a thread").unwrap();
    let mut buf = [0u8; 13];
    c.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"from a thread");
    // Coroutines, several messages each, every byte checked.
    let hs: Vec<_> = (0..50u8)
        .map(|k| {
            goro::spawn(move || {
                let mut c = TcpStream::connect(addr).unwrap();
                for round in 0..20u8 {
                    let msg = pattern(k ^ round, 64 + k as usize);
                    c.write_all(&msg).unwrap();
                    let mut back = vec![0u8; msg.len()];
                    c.read_exact(&mut back).unwrap();
                    assert_eq!(back, msg);
                }
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
}

/// Both ends write 1 MiB while reading 1 MiB: a reader and a writer coroutine per end share
/// the stream (`&TcpStream`); neither side could finish if reads and writes blocked each other.
#[test]
fn one_mib_both_directions_at_once() {
    const LEN: usize = 1 << 20;
    fn duplex(s: TcpStream, send_seed: u8, recv_seed: u8) -> goro::JoinHandle<()> {
        let s = Arc::new(s);
        let w = s.clone();
        let writer = goro::spawn(move || {
            let data = pattern(send_seed, LEN);
            (&*w).write_all(&data).unwrap();
        });
        goro::spawn(move || {
            let want = pattern(recv_seed, LEN);
            let mut got = vec![0u8; LEN];
            (&*s).read_exact(&mut got).unwrap();
            assert!(got == want, "corrupted stream");
            writer.join().unwrap();
        })
    }
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let srv = goro::spawn(move || duplex(l.accept().unwrap().0, 1, 2).join().unwrap());
    let cli = goro::spawn(move || {
        duplex(TcpStream::connect(addr).unwrap(), 2, 1)
            .join()
            .unwrap()
    });
    cli.join().unwrap();
    srv.join().unwrap();
}

#[test]
fn half_close() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let srv = goro::spawn(move || {
        let (mut s, peer) = l.accept().unwrap();
        assert_eq!(peer, s.peer_addr().unwrap());
        let mut all = Vec::new();
        s.read_to_end(&mut all).unwrap(); // ends at the client's FIN
        s.write_all(format!("got {}", all.len()).as_bytes())
            .unwrap();
    });
    let mut c = TcpStream::connect(addr).unwrap();
    c.write_all(&[9u8; 10_000]).unwrap();
    c.shutdown(Shutdown::Write).unwrap();
    let mut reply = String::new();
    c.read_to_string(&mut reply).unwrap(); // our read half still works
    assert_eq!(reply, "got 10000");
    srv.join().unwrap();
}

fn set_linger_zero(s: &TcpStream) {
    let l = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: passes a live linger struct of the right size to our open socket.
    let r = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&l as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(r, 0);
}

#[test]
fn reset_peer_and_write_after_close_are_errors_not_crashes() {
    // Prove MSG_NOSIGNAL: with SIGPIPE at its default action, a write to a closed peer would
    // kill the process.
    // SAFETY: restoring the default action of SIGPIPE is async-signal-safe and affects only
    // signal delivery.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let srv = goro::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        // Reset only once the client has seen its connect succeed (its byte arrived): a
        // reset that races the client's non-blocking connect would fail the connect itself,
        // which a loaded machine made happen now and then.
        s.read_exact(&mut [0u8; 1]).unwrap();
        set_linger_zero(&s);
        drop(s); // RST
    });
    let h = goro::spawn(move || {
        let mut c = TcpStream::connect(addr).unwrap();
        c.write_all(b"x").unwrap();
        srv.join().unwrap();
        let mut buf = [0u8; 16];
        let r = c.read(&mut buf);
        assert!(
            matches!(&r, Err(e) if e.kind() == ErrorKind::ConnectionReset) || matches!(r, Ok(0)),
            "{r:?}"
        );
        let mut failed = None;
        for _ in 0..1000 {
            if let Err(e) = c.write(&[0u8; 1024]) {
                failed = Some(e);
                break;
            }
        }
        let e = failed.expect("writes to a reset peer kept succeeding");
        assert!(
            matches!(e.kind(), ErrorKind::BrokenPipe | ErrorKind::ConnectionReset),
            "{e:?}"
        );
    });
    h.join().unwrap();
}

/// The reader times out while a writer on the same stream is parked on a full socket buffer
/// and later completes; a read after the timeout works.
#[test]
fn read_deadline_fires_while_a_concurrent_writer_proceeds() {
    use std::sync::atomic::{AtomicBool, Ordering};
    static TIMED_OUT: AtomicBool = AtomicBool::new(false);
    const LEN: usize = 4 << 20;
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let srv = goro::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        // Read nothing until the client's read deadline fired: its writer is parked on a
        // full buffer meanwhile.
        while !TIMED_OUT.load(Ordering::Acquire) {
            goro::time::sleep(Duration::from_millis(5));
        }
        let mut sink = vec![0u8; LEN];
        s.read_exact(&mut sink).unwrap();
        assert!(sink.iter().all(|&b| b == 5));
        s.write_all(b"now").unwrap();
        s
    });
    let c = Arc::new(TcpStream::connect(addr).unwrap());
    let w = c.clone();
    let writer = goro::spawn(move || (&*w).write_all(&vec![5u8; LEN]).unwrap());
    let reader = goro::spawn(move || {
        c.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
        let mut buf = [0u8; 3];
        let e = (&*c).read(&mut buf).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::TimedOut);
        TIMED_OUT.store(true, Ordering::Release);
        c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        (&*c).read_exact(&mut buf).unwrap();
        buf
    });
    writer.join().unwrap();
    assert_eq!(&reader.join().unwrap(), b"now");
    drop(srv.join().unwrap());
}

#[test]
fn close_wakes_a_coroutine_parked_in_read() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let _srv = goro::spawn(move || {
        let (s, _) = l.accept().unwrap();
        goro::time::sleep(Duration::from_secs(5));
        drop(s);
    });
    let c = Arc::new(TcpStream::connect(addr).unwrap());
    let r = c.clone();
    let reader = goro::spawn(move || (&*r).read(&mut [0u8; 8]));
    goro::time::sleep(Duration::from_millis(30));
    c.close();
    assert!(reader.join().unwrap().is_err());
    assert!(
        (&*c).write(b"x").is_err(),
        "a closed stream accepted a write"
    );
}

#[test]
fn connect_errors_and_timeouts() {
    // A port nobody listens on: refused.
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    let e = goro::spawn(move || TcpStream::connect(addr).unwrap_err())
        .join()
        .unwrap();
    assert_eq!(e.kind(), ErrorKind::ConnectionRefused);
    // A listener that never accepts, with a backlog of 0: once its queue is full, SYNs are
    // dropped and a connect can only time out.
    let full = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    // SAFETY: plain syscall on an open listening socket.
    assert_eq!(unsafe { libc::listen(full.as_raw_fd(), 0) }, 0);
    let addr = full.local_addr().unwrap();
    let mut kept = Vec::new();
    let mut timed_out = false;
    for _ in 0..8 {
        match TcpStream::connect_timeout(&addr, Duration::from_millis(100)) {
            Ok(s) => kept.push(s),
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::TimedOut, "{e:?}");
                timed_out = true;
                break;
            }
        }
    }
    assert!(timed_out, "every connect to a full backlog succeeded");
    assert!(TcpStream::connect_timeout(&addr, Duration::ZERO).is_err());
}

#[test]
fn peek_try_clone_ttl_and_std_conversions() {
    let addr = server(echo);
    let h = goro::spawn(move || {
        let s = TcpStream::from(std::net::TcpStream::connect(addr).unwrap());
        s.set_ttl(42).unwrap();
        assert_eq!(s.ttl().unwrap(), 42);
        let mut w = s.try_clone().unwrap();
        w.write_all(b"peekaboo").unwrap();
        let mut buf = [0u8; 8];
        let n = s.peek(&mut buf).unwrap();
        assert!(n > 0 && buf[..n] == b"peekaboo"[..n]);
        (&s).read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"peekaboo");
        assert_eq!(s.peer_addr().unwrap(), addr);
        assert!(s.take_error().unwrap().is_none());
    });
    h.join().unwrap();
}

#[test]
fn backend_is_the_one_this_build_asked_for() {
    let want = if cfg!(feature = "kqueue-emulation") {
        "kqueue (emulated on epoll, test-only)"
    } else {
        "epoll"
    };
    assert_eq!(goro::io::backend(), want);
}

#[test]
fn readable_waits_for_input_without_consuming_it() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let server = goro::spawn(move || {
        let (s, _) = l.accept().unwrap();
        let mut got = Vec::new();
        for _ in 0..3 {
            // Parks with no buffer; the bytes are still there for the read that follows.
            s.readable().unwrap();
            tx.send(()).unwrap();
            let mut buf = [0u8; 16];
            let n = (&s).read(&mut buf).unwrap();
            got.extend_from_slice(&buf[..n]);
        }
        s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
        let quiet = s.readable().unwrap_err().kind();
        (got, quiet)
    });
    let mut c = std::net::TcpStream::connect(addr).unwrap();
    for part in [&b"one"[..], b"two", b"three"] {
        // readable() must not return before the bytes are sent.
        assert!(rx.recv_timeout(Duration::from_millis(30)).is_err());
        c.write_all(part).unwrap();
        rx.recv_timeout(Duration::from_secs(5)).unwrap();
        std::thread::sleep(Duration::from_millis(5));
    }
    let (got, quiet) = server.join().unwrap();
    assert_eq!(got, b"onetwothree");
    assert_eq!(
        quiet,
        ErrorKind::TimedOut,
        "readable honours the read timeout"
    );
}

/// `write_vectored` is one `sendmsg` of every buffer, not just the first non-empty one: with
/// room in the socket buffer, a four-part write goes out whole in one call, in order.
#[test]
fn write_vectored_sends_every_buffer_in_one_call() {
    use std::io::IoSlice;
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (mut s, _) = l.accept().unwrap();
    let parts: [&[u8]; 4] = [b"", b"GET / HTTP/1.1\r\n", b"Host: x\r\n", b"\r\n"];
    let slices: Vec<IoSlice<'_>> = parts.iter().map(|p| IoSlice::new(p)).collect();
    let total: usize = parts.iter().map(|p| p.len()).sum();
    // On a coroutine (parks on EAGAIN) and on a plain thread (blocks): the same one call.
    let (c, wrote) = goro::spawn(move || {
        let slices: Vec<IoSlice<'_>> = parts.iter().map(|p| IoSlice::new(p)).collect();
        let n = (&c).write_vectored(&slices).unwrap();
        (c, n) // kept open: a write to a closed peer would fail below
    })
    .join()
    .unwrap();
    assert_eq!(wrote, total);
    let mut got = vec![0u8; total];
    s.read_exact(&mut got).unwrap();
    assert_eq!(got, parts.concat());
    // From the other end, on the plain thread, with a large second buffer.
    let big = pattern(7, 100_000);
    let n = s
        .write_vectored(&[IoSlice::new(b"head"), IoSlice::new(&big)])
        .unwrap();
    assert!(n > 4, "only the first buffer went out: {n}");
    assert_eq!(
        s.write_vectored(&slices[..1]).unwrap(),
        0,
        "empty buffers write nothing"
    );
    drop(c);
}
