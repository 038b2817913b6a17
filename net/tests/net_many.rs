//! 10,000 concurrent echo connections, every byte verified.
//!
//! Both ends of 10,000 connections need 20,000 fds, and the hard `RLIMIT_NOFILE` here is
//! 20,000, so the clients run in a child process (this test binary re-run with an environment
//! variable); each process raises its soft limit to the hard limit.
use std::io::{Read, Write};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use goro_net::{TcpListener, TcpStream};

const CONNS: usize = 10_000;
const ROUNDS: usize = 3;
const ENV: &str = "GORO_NET_MANY_CLIENT_ADDR";

fn raise_nofile() -> u64 {
    // SAFETY: getrlimit/setrlimit with a live rlimit struct.
    unsafe {
        let mut r: libc::rlimit = std::mem::zeroed();
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut r), 0);
        r.rlim_cur = r.rlim_max;
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &r), 0);
        #[allow(clippy::unnecessary_cast)] // rlim_t is i64 on the BSDs
        let cur = r.rlim_cur as u64;
        cur
    }
}

fn message(conn: usize, round: usize) -> [u8; 64] {
    let mut m = [0u8; 64];
    for (i, b) in m.iter_mut().enumerate() {
        *b = (conn.wrapping_mul(7919) ^ round.wrapping_mul(104_729) ^ i.wrapping_mul(31)) as u8;
    }
    m[..8].copy_from_slice(&(conn as u64).to_le_bytes());
    m
}

/// The client half: runs only in the child process.
#[test]
fn many_client_process() {
    let Ok(addr) = std::env::var(ENV) else {
        return; // not the child
    };
    raise_nofile();
    static CONNECTED: AtomicUsize = AtomicUsize::new(0);
    let hs: Vec<_> = (0..CONNS)
        .map(|k| {
            let addr = addr.clone();
            goro::Builder::new()
                .stack_size(32 * 1024)
                .spawn(move || {
                    let mut s = TcpStream::connect(&addr).unwrap();
                    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
                    for round in 0..ROUNDS {
                        if round == 1 {
                            // Every server coroutine has echoed round 0, so it is running;
                            // hold on until all are, so the 10,000 are truly concurrent.
                            CONNECTED.fetch_add(1, Ordering::Relaxed);
                            while CONNECTED.load(Ordering::Relaxed) < CONNS {
                                goro::time::sleep(Duration::from_millis(10));
                            }
                        }
                        let m = message(k, round);
                        s.write_all(&m).unwrap();
                        let mut back = [0u8; 64];
                        s.read_exact(&mut back).unwrap();
                        assert_eq!(back, m, "connection {k} round {round}: wrong bytes");
                    }
                })
                .unwrap()
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
}

#[test]
fn ten_thousand_concurrent_echo_connections() {
    if std::env::var(ENV).is_ok() {
        return;
    }
    let limit = raise_nofile();
    assert!(
        limit as usize > CONNS + 100,
        "RLIMIT_NOFILE hard limit {limit} is too low for {CONNS} connections"
    );
    static LIVE: AtomicUsize = AtomicUsize::new(0);
    static PEAK: AtomicUsize = AtomicUsize::new(0);
    static BYTES: AtomicUsize = AtomicUsize::new(0);
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    goro::spawn(move || {
        for s in l.incoming() {
            let mut s = s.unwrap();
            goro_net::spawn_balanced(move || {
                let live = LIVE.fetch_add(1, Ordering::Relaxed) + 1;
                PEAK.fetch_max(live, Ordering::Relaxed);
                let mut buf = [0u8; 256];
                loop {
                    match s.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            BYTES.fetch_add(n, Ordering::Relaxed);
                            if s.write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                    }
                }
                LIVE.fetch_sub(1, Ordering::Relaxed);
            });
        }
    });
    let t = Instant::now();
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "many_client_process", "--nocapture"])
        .env(ENV, addr.to_string())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "client process failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("1 passed"),
        "the client test did not run"
    );
    assert_eq!(
        PEAK.load(Ordering::Relaxed),
        CONNS,
        "not all connections were concurrent"
    );
    assert_eq!(BYTES.load(Ordering::Relaxed), CONNS * ROUNDS * 64);
    let per_worker: Vec<usize> = goro::stats()
        .per_worker
        .iter()
        .map(|w| w.connections)
        .collect();
    eprintln!(
        "10k echo: {:?}, connections per worker at the end {per_worker:?}",
        t.elapsed()
    );
}
