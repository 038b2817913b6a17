//! Open/close churn: 100,000 short connections through one listener, fd numbers reused all
//! the time while other coroutines are parked on live ones.
//!
//! Each client sends its connection number and must get exactly that number back: a wake-up
//! delivered to the wrong coroutine (a stale event for a reused fd waking the new owner's
//! reader before its data is there) would show up as a hang or a wrong reply. Clients close
//! with `SO_LINGER` 0 (a reset), so 100,000 connections leave no `TIME_WAIT` behind to exhaust
//! the ephemeral ports.
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use goro_net::{TcpListener, TcpStream};

const TOTAL: usize = 100_000;
const CLIENTS: usize = 200;

fn linger_zero(s: &TcpStream) {
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
fn hundred_thousand_connections_churn() {
    static SERVED: AtomicUsize = AtomicUsize::new(0);
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    goro::spawn(move || {
        for s in l.incoming() {
            let mut s = s.unwrap();
            goro_net::spawn_balanced(move || {
                let mut id = [0u8; 8];
                // Parks until the client's bytes arrive (the fd was registered moments ago,
                // possibly under a number another connection just released).
                if s.read_exact(&mut id).is_ok() && s.write_all(&id).is_ok() {
                    SERVED.fetch_add(1, Ordering::Relaxed);
                }
                let _ = s.read(&mut [0u8; 1]); // wait for the client's close
            });
        }
    });
    let t = Instant::now();
    let hs: Vec<_> = (0..CLIENTS)
        .map(|c| {
            goro::spawn(move || {
                for i in (c..TOTAL).step_by(CLIENTS) {
                    let mut s = TcpStream::connect(addr).unwrap();
                    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
                    linger_zero(&s);
                    s.write_all(&(i as u64).to_le_bytes()).unwrap();
                    let mut back = [0u8; 8];
                    s.read_exact(&mut back).unwrap();
                    assert_eq!(u64::from_le_bytes(back), i as u64, "wrong reply");
                }
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    // A server coroutine counts its connection after its `write_all` returns, which can be
    // after the client has read the reply and finished: give the last ones time to count.
    let deadline = Instant::now() + Duration::from_secs(10);
    while SERVED.load(Ordering::Relaxed) < TOTAL && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(SERVED.load(Ordering::Relaxed), TOTAL);
    eprintln!("{TOTAL} connections in {:?}", t.elapsed());
}
