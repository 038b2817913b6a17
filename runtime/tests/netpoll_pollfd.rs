//! goro::io::PollFd on real fds (socketpairs): parking reads and writes, deadlines, close from
//! another coroutine, plain threads, and a reader and a writer homed on different workers.
use std::io::ErrorKind;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use goro::io::PollFd;

fn pair() -> (PollFd, PollFd) {
    let (a, b) = UnixStream::pair().unwrap();
    (
        PollFd::new(OwnedFd::from(a)).unwrap(),
        PollFd::new(OwnedFd::from(b)).unwrap(),
    )
}

#[test]
fn read_parks_until_the_peer_writes() {
    let (a, b) = pair();
    let reader = goro::spawn(move || {
        let mut buf = [0u8; 8];
        let mut got = Vec::new();
        while got.len() < 12 {
            let n = a.read(&mut buf).unwrap();
            assert!(n > 0);
            got.extend_from_slice(&buf[..n]);
        }
        got
    });
    let writer = goro::spawn(move || {
        for chunk in [&b"hello "[..], b"world!"] {
            goro::time::sleep(Duration::from_millis(5));
            assert_eq!(b.write(chunk).unwrap(), chunk.len());
        }
        b
    });
    assert_eq!(reader.join().unwrap(), b"hello world!");
    drop(writer.join().unwrap());
}

#[test]
fn polled_here_is_true_only_on_the_worker_that_registered_the_fd() {
    let workers = goro::stats().workers;
    let (a, b) = pair();
    let (a, b) = (Arc::new(a), Arc::new(b));
    assert!(!a.polled_here(), "not registered yet, and a plain thread");
    let (a2, b2) = (a.clone(), b.clone());
    goro::Builder::new()
        .worker_hint(0)
        .spawn(move || {
            assert!(!a2.polled_here(), "not registered yet");
            // A read that parks registers the fd with this worker's poller.
            let reader = goro::spawn(move || {
                let mut buf = [0u8; 4];
                a2.read(&mut buf).unwrap()
            });
            goro::time::sleep(Duration::from_millis(20));
            b2.write(b"ping").unwrap();
            assert_eq!(reader.join().unwrap(), 4);
        })
        .unwrap()
        .join()
        .unwrap();
    let a3 = a.clone();
    let home = goro::Builder::new()
        .worker_hint(0)
        .spawn(move || a3.polled_here());
    assert!(home.unwrap().join().unwrap());
    if workers > 1 {
        let a4 = a.clone();
        let away = goro::Builder::new()
            .worker_hint(1)
            .spawn(move || a4.polled_here());
        assert!(!away.unwrap().join().unwrap());
    }
    assert!(!a.polled_here(), "a plain thread");
}

#[test]
fn read_deadline_times_out_and_fd_stays_usable() {
    let (a, b) = pair();
    let h = goro::spawn(move || {
        let mut buf = [0u8; 4];
        a.set_read_timeout(Some(Duration::from_millis(30))).unwrap();
        let t = Instant::now();
        let e = a.read(&mut buf).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::TimedOut);
        assert!(t.elapsed() >= Duration::from_millis(30), "fired early");
        a.set_read_timeout(None).unwrap();
        // An absolute deadline in the past fails at once.
        a.set_read_deadline(Some(Instant::now()));
        assert_eq!(a.read(&mut buf).unwrap_err().kind(), ErrorKind::TimedOut);
        a.set_read_deadline(None);
        let n = a.read(&mut buf).unwrap(); // succeeds once the peer writes
        buf[..n].to_vec()
    });
    std::thread::sleep(Duration::from_millis(80));
    b.write(b"late").unwrap();
    assert_eq!(h.join().unwrap(), b"late");
}

#[test]
fn close_wakes_a_parked_reader_with_an_error() {
    let (a, _b) = pair();
    let a = Arc::new(a);
    let a2 = a.clone();
    let reader = goro::spawn(move || {
        let mut buf = [0u8; 4];
        a2.read(&mut buf)
    });
    std::thread::sleep(Duration::from_millis(30)); // let it park
    a.close();
    let e = reader.join().unwrap().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotConnected);
    assert!(a.is_closed());
}

#[test]
fn plain_thread_blocks_and_is_woken() {
    let (a, b) = pair();
    let t = std::thread::spawn(move || {
        let mut buf = [0u8; 3];
        let n = a.read(&mut buf).unwrap(); // a plain thread: blocks this thread
        buf[..n].to_vec()
    });
    std::thread::sleep(Duration::from_millis(20));
    goro::spawn(move || b.write(b"abc").unwrap())
        .join()
        .unwrap();
    assert_eq!(t.join().unwrap(), b"abc");
}

#[test]
fn reader_and_writer_on_different_workers() {
    let workers = goro::stats().workers;
    let (a, b) = pair();
    let a = Arc::new(a);
    const N: usize = 256 * 1024;
    // The writer fills the socket buffer and parks on write; the reader, on another worker,
    // drains it. Both wait on the same descriptor, registered in one worker's poller.
    let wa = a.clone();
    let writer = goro::Builder::new()
        .worker_hint(0)
        .spawn(move || {
            let data = vec![7u8; N];
            let mut off = 0;
            while off < N {
                off += wa.write(&data[off..]).unwrap();
            }
        })
        .unwrap();
    let echo = goro::Builder::new()
        .worker_hint(1 % workers)
        .spawn(move || {
            // Echo everything back from the far end.
            let mut buf = vec![0u8; 8192];
            let mut total = 0;
            while total < N {
                let n = b.read(&mut buf).unwrap();
                let mut off = 0;
                while off < n {
                    off += b.write(&buf[off..n]).unwrap();
                }
                total += n;
            }
        })
        .unwrap();
    let reader = goro::Builder::new()
        .worker_hint(1 % workers)
        .spawn(move || {
            let mut buf = vec![0u8; 8192];
            let mut total = 0;
            while total < N {
                let n = a.read(&mut buf).unwrap();
                assert!(buf[..n].iter().all(|&x| x == 7));
                total += n;
            }
            total
        })
        .unwrap();
    writer.join().unwrap();
    echo.join().unwrap();
    assert_eq!(reader.join().unwrap(), N);
}

#[test]
fn write_parks_while_the_buffer_is_full_and_times_out() {
    let (a, b) = pair();
    let h = goro::spawn(move || {
        a.set_write_timeout(Some(Duration::from_millis(30)))
            .unwrap();
        let data = vec![1u8; 64 * 1024];
        loop {
            match a.write(&data) {
                Ok(_) => continue,
                Err(e) => {
                    assert_eq!(e.kind(), ErrorKind::TimedOut);
                    return;
                }
            }
        }
    });
    h.join().unwrap();
    drop(b);
}

#[test]
fn read_and_write_work_on_pipes_too() {
    // PollFd::read/write use recv/send on sockets and fall back to read/write elsewhere.
    let mut fds = [0; 2];
    // SAFETY: `fds` is a live array of two c_ints for pipe to fill.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // SAFETY: pipe just returned these two fds, owned by nothing else.
    let (r, w) = unsafe {
        use std::os::fd::FromRawFd;
        (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1]))
    };
    let (r, w) = (PollFd::new(r).unwrap(), PollFd::new(w).unwrap());
    let reader = goro::spawn(move || {
        let mut got = Vec::new();
        let mut buf = [0u8; 7];
        loop {
            match r.read(&mut buf).unwrap() {
                0 => return got,
                n => got.extend_from_slice(&buf[..n]),
            }
        }
    });
    let writer = goro::spawn(move || {
        for i in 0..100u8 {
            assert_eq!(w.write(&[i; 10]).unwrap(), 10);
            if i % 10 == 0 {
                goro::time::sleep(Duration::from_millis(1));
            }
        }
    });
    writer.join().unwrap();
    let got = reader.join().unwrap();
    let want: Vec<u8> = (0..100u8).flat_map(|i| [i; 10]).collect();
    assert_eq!(got, want);
}

/// `try_read_with` never parks, skips the syscall when the fd is known drained, and leaves
/// the fd marked readable after a full read, so `readable()` and `read_would_park()` still
/// see data the kernel holds (the poller will not report it again).
#[test]
fn try_read_with_keeps_the_readiness_bookkeeping_of_read() {
    let (a, b) = pair();
    let recv = |fd: &PollFd, buf: &mut [u8]| {
        let len = buf.len();
        fd.try_read_with(
            |raw| {
                use std::os::fd::AsRawFd;
                // SAFETY: `buf` is a live, writable slice of `len` bytes for the call.
                let r = unsafe { libc::read(raw.as_raw_fd(), buf.as_mut_ptr().cast(), len) };
                if r < 0 {
                    Err(std::io::Error::last_os_error())
                } else {
                    Ok(r as usize)
                }
            },
            |&n| n == len || n == 0,
        )
    };
    goro::spawn(move || {
        let mut buf = [0u8; 4];
        // Nothing there: WouldBlock at once (and the fd is now registered).
        assert_eq!(
            recv(&a, &mut buf).unwrap_err().kind(),
            ErrorKind::WouldBlock
        );
        b.write(b"0123456789").unwrap();
        a.readable_deadline(Instant::now() + Duration::from_secs(5))
            .unwrap();
        // A full read leaves the fd readable: 6 bytes are still in the kernel.
        assert_eq!(recv(&a, &mut buf).unwrap(), 4);
        assert!(!a.read_would_park());
        a.readable_deadline(Instant::now() + Duration::from_secs(5))
            .unwrap();
        assert_eq!(recv(&a, &mut buf).unwrap(), 4);
        let mut big = [0u8; 64];
        assert_eq!(recv(&a, &mut big).unwrap(), 2, "a short read drains it");
        assert!(a.read_would_park());
        // Drained and nothing reported since: no syscall, WouldBlock.
        assert_eq!(
            recv(&a, &mut big).unwrap_err().kind(),
            ErrorKind::WouldBlock
        );
        let e = a.readable_deadline(Instant::now() + Duration::from_millis(50));
        assert_eq!(e.unwrap_err().kind(), ErrorKind::TimedOut);
        // End of file stays visible to every later wait and read.
        drop(b);
        a.readable_deadline(Instant::now() + Duration::from_secs(5))
            .unwrap();
        assert_eq!(recv(&a, &mut big).unwrap(), 0);
        a.readable_deadline(Instant::now() + Duration::from_secs(5))
            .unwrap();
        assert_eq!(recv(&a, &mut big).unwrap(), 0);
    })
    .join()
    .unwrap();
}
