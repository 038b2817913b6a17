//! Idle keep-alive HTTPS connections hold no coroutine: 1,000 of them on goro's server
//! (alone in its test binary, so the process's coroutine figures are the server's).
//!
//! An idle connection waits in `spawn_when_readable`: a start queued on its socket, which
//! `goro::stats()` counts among `coroutines` (spawned, not finished) but which is neither
//! parked nor holding a stack. So the figures watched are `parked` and `stacks`.
#![cfg(all(feature = "tls", target_os = "linux"))]

mod tls_util;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use goro_net::http::{Request, ResponseWriter, Server};
use goro_net::tls::{TlsAcceptor, TlsStream};
use goro_net::{TcpListener, TcpStream};
use tls_util::{connector, Ca};

const CONNS: usize = 1000;

/// Sends a GET for `path` and reads the answer, which is the path back.
fn get(tls: &TlsStream, path: &str) {
    write!(&mut &*tls, "GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
    let want = format!("Content-Length: {}\r\n", path.len());
    let mut got = Vec::new();
    let mut chunk = [0u8; 1024];
    while !got.ends_with(path.as_bytes()) {
        let n = (&*tls).read(&mut chunk).unwrap();
        assert!(n > 0, "closed: {}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&chunk[..n]);
    }
    let text = String::from_utf8_lossy(&got);
    assert!(
        text.starts_with("HTTP/1.1 200 OK\r\n") && text.contains(&want),
        "{text}"
    );
}

#[test]
fn idle_keep_alive_tls_connections_hold_no_coroutine() {
    let ca = Ca::new("goro test CA");
    let acceptor = TlsAcceptor::new(ca.leaf(&["localhost"]).certificate()).unwrap();
    let server = Server::new(|w: &mut ResponseWriter<'_>, r: &mut Request<'_>| {
        let _ = w.write_all(r.path().as_bytes());
    });
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let s = server.clone();
    goro::spawn(move || s.serve_tls(listener, acceptor));
    let connector = connector(&ca);
    let connect = || {
        let tls = connector
            .connect("localhost", TcpStream::connect(addr).unwrap())
            .unwrap();
        tls.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        tls
    };

    // One connection served and idle: the server's coroutines at rest.
    let first = connect();
    get(&first, "/warm");
    let rest = wait_settled();

    let mut conns = Vec::with_capacity(CONNS);
    for i in 0..CONNS {
        let tls = connect();
        get(&tls, &format!("/c{i}"));
        conns.push(tls);
    }
    assert_eq!(server.stats().active, CONNS + 1);
    let idle = wait_settled();
    assert!(
        idle.parked < rest.parked + 50 && idle.stacks < rest.stacks + 50,
        "{CONNS} idle TLS connections hold coroutines: {idle:?} (at rest: {rest:?})"
    );

    // Each is still served: its next request starts a coroutine for it.
    for (i, tls) in conns.iter().enumerate() {
        get(tls, &format!("/again{i}"));
    }
    assert_eq!(server.stats().accepted, CONNS as u64 + 1);
    drop(conns);
    server.shutdown(Duration::from_secs(5));
}

/// Parked coroutines and allocated stacks.
#[derive(Debug, PartialEq, Clone, Copy)]
struct Held {
    parked: u64,
    stacks: usize,
}

/// What the process holds once it stops changing (connections finish going idle just
/// after their answers leave).
fn wait_settled() -> Held {
    let held = || {
        let s = goro::stats();
        Held {
            parked: s.parked,
            stacks: s.stacks,
        }
    };
    let start = Instant::now();
    let mut last = held();
    loop {
        std::thread::sleep(Duration::from_millis(100));
        let now = held();
        if now == last || start.elapsed() > Duration::from_secs(10) {
            return now;
        }
        last = now;
    }
}
