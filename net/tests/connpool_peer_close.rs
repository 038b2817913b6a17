//! Idle pooled connections whose peer closes them are closed at once (#19 defect 7), in
//! `connpool` with `watch_idle`, in the HTTP client's pool and in its pipelined lanes; and
//! the watching does not disturb a connection in use.
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use goro_net::connpool::Pool;
use goro_net::http::{Client, Request, ResponseWriter, Server};
use goro_net::{TcpListener, TcpStream};

/// Generous: the watcher starts on the poller's next report of the peer's FIN, which takes
/// microseconds; a loaded 2-core machine can delay it, never by seconds.
const BOUND: Duration = Duration::from_secs(5);

/// Sockets in `CLOSE-WAIT` whose remote end is `peer` (from `/proc/net/tcp`): ours, since
/// each test's backend has a port of its own.
fn close_wait_to(peer: SocketAddr) -> usize {
    let want = format!("0100007F:{:04X}", peer.port());
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap();
    table
        .lines()
        .skip(1)
        .filter(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.len() > 3 && f[2] == want && f[3] == "08"
        })
        .count()
}

/// Polls `f` until it holds or [`BOUND`] passes; true if it held.
fn eventually(mut f: impl FnMut() -> bool) -> bool {
    let by = Instant::now() + BOUND;
    while Instant::now() < by {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    f()
}

/// A backend on a plain thread: accepts one connection, answers one keep-alive request,
/// then, once told (`close`), closes its side while the client keeps the connection idle.
fn one_shot_backend() -> (
    SocketAddr,
    std::sync::mpsc::Sender<()>,
    std::thread::JoinHandle<()>,
) {
    let ln = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = ln.local_addr().unwrap();
    let (close, closed) = std::sync::mpsc::channel::<()>();
    let t = std::thread::spawn(move || {
        let (mut c, _) = ln.accept().unwrap();
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut head = Vec::new();
        let mut b = [0u8; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = c.read(&mut b).unwrap();
            assert!(n > 0, "the client closed before its request");
            head.extend_from_slice(&b[..n]);
        }
        c.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            .unwrap();
        let _ = closed.recv_timeout(Duration::from_secs(10));
        drop(c); // FIN to the client's idle connection
    });
    (addr, close, t)
}

#[test]
fn connpool_closes_an_idle_connection_when_the_peer_closes_it() {
    let ln = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = ln.local_addr().unwrap();
    let pool = Pool::builder()
        .watch_idle(|c: &TcpStream| c)
        .build(move || TcpStream::connect(addr));
    drop(pool.get().unwrap());
    assert_eq!(pool.stats().idle, 1);
    let (server_side, _) = ln.accept().unwrap();
    drop(server_side);
    assert!(
        eventually(|| pool.stats().idle == 0),
        "the idle connection outlived its peer: {:?}",
        pool.stats()
    );
    assert_eq!(pool.stats().discarded, 1);
    assert!(
        eventually(|| close_wait_to(addr) == 0),
        "a socket stays in CLOSE-WAIT"
    );
    // The pool still works: the next checkout dials afresh.
    drop(pool.get().unwrap());
    assert_eq!(pool.stats().dials, 2);
}

#[test]
fn connpool_keeps_an_idle_connection_whose_peer_only_stays_quiet() {
    let ln = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = ln.local_addr().unwrap();
    let pool = Pool::builder()
        .watch_idle(|c: &TcpStream| c)
        .build(move || TcpStream::connect(addr));
    drop(pool.get().unwrap());
    let (_server_side, _) = ln.accept().unwrap();
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(pool.stats().idle, 1);
    assert_eq!(pool.stats().discarded, 0);
    assert!(pool.get().unwrap().reused());
}

#[test]
fn http_client_pool_drops_a_keep_alive_connection_the_backend_closed() {
    let (addr, close, backend) = one_shot_backend();
    let client = Client::new();
    let r = client.get(&format!("http://{addr}/")).unwrap();
    assert_eq!(r.body, b"ok");
    assert_eq!(client.pool_stats().idle, 1);
    close.send(()).unwrap();
    backend.join().unwrap();
    assert!(
        eventually(|| client.pool_stats().idle == 0),
        "the idle connection outlived the backend: {:?}",
        client.pool_stats()
    );
    assert!(
        eventually(|| close_wait_to(addr) == 0),
        "a socket stays in CLOSE-WAIT"
    );
}

#[test]
fn http_client_pipelined_lane_is_dropped_when_the_backend_closes_it() {
    let (addr, close, backend) = one_shot_backend();
    let client = Client::builder().pipeline(8).build();
    let c = client.clone();
    // Pipelining is for coroutines: this request goes out on a lane.
    let body = goro::spawn(move || c.get(&format!("http://{addr}/")).unwrap().body)
        .join()
        .unwrap();
    assert_eq!(body, b"ok");
    assert_eq!(client.pool_stats().idle, 1);
    close.send(()).unwrap();
    backend.join().unwrap();
    assert!(
        eventually(|| client.pool_stats().idle == 0),
        "the idle lane outlived the backend: {:?}",
        client.pool_stats()
    );
    assert!(
        eventually(|| close_wait_to(addr) == 0),
        "a socket stays in CLOSE-WAIT"
    );
}

fn echo_path(w: &mut ResponseWriter<'_>, r: &mut Request<'_>) {
    if r.path() == "/nap" {
        goro::time::sleep(Duration::from_millis(2));
    }
    let _ = write!(w, "{}", r.path());
}

/// The watcher parked in an idle socket's read slot must not take a read edge from the
/// request that checks the connection out next: every request gets its answer, on one
/// connection, whether the answer is immediate or comes after the reader parked.
#[test]
fn watching_idle_connections_does_not_disturb_their_next_use() {
    let ln = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = ln.local_addr().unwrap();
    let server = Server::new(echo_path);
    let s = server.clone();
    goro::spawn(move || s.serve(ln));
    for depth in [1, 8] {
        let client = Client::builder()
            .pipeline(depth)
            .timeout(Duration::from_secs(10))
            .build();
        let c = client.clone();
        goro::spawn(move || {
            for i in 0..300 {
                let path = if i % 3 == 0 {
                    "/nap".to_string()
                } else {
                    format!("/{i}")
                };
                let r = c.get(&format!("http://{addr}{path}")).unwrap();
                assert_eq!(r.body, path.as_bytes());
                if i % 50 == 0 {
                    goro::time::sleep(Duration::from_millis(3)); // an idle spell
                }
            }
        })
        .join()
        .unwrap();
        let s = client.pool_stats();
        assert_eq!(s.dials, 1, "depth {depth}: {s:?}");
        assert_eq!(s.discarded, 0, "depth {depth}: {s:?}");
    }
    server.shutdown(Duration::from_secs(1));
}
