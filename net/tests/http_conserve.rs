//! Poller balancing, counted (issue #15): 1,000 keep-alive connections to a server whose
//! handler keeps its workers saturated (100 µs of computing per request) end up spread over
//! the workers: none holds more than twice its fair share. Counts, never speeds: the
//! per-worker connection counts come from `goro::stats()` after at most a few seconds of
//! load.
//!
//! The worker count is fixed when a runtime starts, so each case runs in a child process of
//! this test binary with `GORO_MAXPROCS` set, which runs the `child` test below.
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod common;

const CONNS: usize = 1000;
/// Client threads; each keeps `CONNS / THREADS` connections busy, one request at a time.
const THREADS: usize = 40;
/// The longest the load runs before the counts are read.
const LOAD_CAP: Duration = Duration::from_secs(4);

/// The handler's work: 100 µs of computing, a busy loop that checks the clock (as the peer
/// harness's `hello_cpu`).
fn burn() {
    let t = Instant::now();
    while t.elapsed() < Duration::from_micros(100) {
        std::hint::spin_loop();
    }
}

/// One keep-alive exchange on `c`; false if the connection failed.
fn exchange(c: &mut TcpStream, buf: &mut [u8]) -> bool {
    if c.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n").is_err() {
        return false;
    }
    // The answer is small; read until its 2-byte body ("ok") has arrived.
    let mut got = 0;
    loop {
        match c.read(&mut buf[got..]) {
            Ok(0) | Err(_) => return false,
            Ok(n) => got += n,
        }
        if buf[..got].ends_with(b"\r\n\r\nok") {
            return true;
        }
    }
}

/// Opens every connection first, before any request (as `wrk` does: connections arrive
/// before any load exists, so they are packed), then loads them from client threads.
fn clients(addr: SocketAddr, stop: Arc<AtomicBool>) -> Vec<std::thread::JoinHandle<()>> {
    let mut all: Vec<TcpStream> = (0..CONNS)
        .map(|_| {
            let c = TcpStream::connect(addr).unwrap();
            c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            c
        })
        .collect();
    (0..THREADS)
        .map(|_| {
            let stop = stop.clone();
            let mut conns: Vec<TcpStream> = all.drain(..CONNS / THREADS).collect();
            std::thread::spawn(move || {
                let mut buf = [0u8; 512];
                while !stop.load(Ordering::Relaxed) {
                    for c in &mut conns {
                        assert!(exchange(c, &mut buf), "a keep-alive exchange failed");
                    }
                }
            })
        })
        .collect()
}

/// The child's case: serve, load, count.
fn case() {
    let (addr, server) = common::serve(
        |w: &mut goro_net::http::ResponseWriter<'_>, _r: &mut goro_net::http::Request<'_>| {
            burn();
            let _ = w.write_all(b"ok");
        },
    );
    let stop = Arc::new(AtomicBool::new(false));
    let hs = clients(addr, stop.clone());
    let t = Instant::now();
    let w = goro::stats().workers;
    let packed: Vec<usize> = goro::stats()
        .per_worker
        .iter()
        .map(|p| p.connections)
        .collect();
    println!("connections per worker before the load (W={w}): {packed:?}");
    let bound = 2 * CONNS.div_ceil(w);
    let mut counts;
    loop {
        std::thread::sleep(Duration::from_millis(200));
        counts = goro::stats()
            .per_worker
            .iter()
            .map(|p| p.connections)
            .collect::<Vec<_>>();
        let total: usize = counts.iter().sum();
        if (total == CONNS && counts.iter().all(|&c| c <= bound)) || t.elapsed() > LOAD_CAP {
            break;
        }
    }
    stop.store(true, Ordering::Relaxed);
    hs.into_iter().for_each(|h| h.join().unwrap());
    server.shutdown(Duration::from_secs(1));
    println!("connections per worker (W={w}, bound {bound}): {counts:?}");
    assert_eq!(counts.iter().sum::<usize>(), CONNS, "{counts:?}");
    assert!(
        counts.iter().all(|&c| c <= bound),
        "a worker holds more than twice its fair share of {CONNS} connections: {counts:?}\n{:?}",
        goro::stats()
    );
}

#[test]
fn child() {
    if std::env::var("GORO_CONSERVE_CHILD").is_ok() {
        case();
        println!("CONSERVE-OK");
    }
}

fn run(workers: usize) {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child", "--nocapture", "--test-threads=1"])
        .env("GORO_MAXPROCS", workers.to_string())
        .env("GORO_CONSERVE_CHILD", "1")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && text.contains("CONSERVE-OK"),
        "{workers} workers:\n{text}"
    );
    eprintln!(
        "{}",
        text.lines()
            .find(|l| l.starts_with("connections per worker"))
            .unwrap_or("")
    );
}

/// One test, the cases one after the other: two servers loading 2 cores at once would
/// measure each other.
#[test]
fn saturated_workers_shed_connections() {
    for w in [2, 8, 16] {
        run(w);
    }
}
