//! Keep-alive connections that come and go, idle and wake: between requests a connection
//! holds no coroutine (conn.rs), so every way a connection can end while it waits must
//! still close it, unregister it and leave no coroutine behind. A process of its own, so the
//! runtime's coroutine count is this test's alone.
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use goro_net::http::{Request, ResponseWriter, Server};
use goro_net::TcpListener;

fn handler(w: &mut ResponseWriter<'_>, r: &mut Request<'_>) {
    if r.path() == "/nap" {
        goro::time::sleep(Duration::from_millis(5)); // parks inside a request
    }
    let _ = write!(w, "{}", r.path());
}

/// One response with a Content-Length body.
fn read_response(c: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(c.read(&mut byte).unwrap(), 1, "closed inside a head");
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap();
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .unwrap()
        .parse()
        .unwrap();
    let mut body = vec![0u8; len];
    c.read_exact(&mut body).unwrap();
    String::from_utf8(body).unwrap()
}

/// A deterministic xorshift, one per client thread.
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// Waits (bounded) until `pred` holds.
fn eventually(what: &str, pred: impl Fn() -> bool) {
    let t = Instant::now();
    while !pred() {
        assert!(t.elapsed() < Duration::from_secs(10), "never {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn connections_that_idle_wake_and_leave_leave_nothing_behind() {
    let ln = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr: SocketAddr = ln.local_addr().unwrap();
    let server = Server::builder()
        .idle_timeout(Duration::from_millis(300))
        .build(handler);
    let s = server.clone();
    let serving = goro::spawn(move || s.serve(ln));
    // The first answer means the accept loop and the server's ticker are running.
    let mut first = TcpStream::connect(addr).unwrap();
    first
        .write_all(b"GET /first HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    assert_eq!(read_response(&mut first), "/first");
    drop(first);
    eventually("the first connection closed", || server.stats().active == 0);
    let baseline = goro::stats().coroutines;

    // 8 client threads x 25 connections, each with 1-5 requests separated by idle gaps of
    // 0-20 ms, ending in one of four ways.
    let clients: Vec<_> = (0..8u64)
        .map(|t| {
            std::thread::spawn(move || {
                let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (t + 1));
                let mut left_idle = Vec::new();
                for k in 0..25 {
                    let mut c = TcpStream::connect(addr).unwrap();
                    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                    for i in 0..1 + rng.below(5) {
                        std::thread::sleep(Duration::from_millis(rng.below(21)));
                        let path = if rng.below(4) == 0 {
                            "/nap".to_string()
                        } else {
                            format!("/t{t}/c{k}/r{i}")
                        };
                        c.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
                            .unwrap();
                        assert_eq!(read_response(&mut c), path);
                    }
                    match rng.below(4) {
                        0 => drop(c),           // leaves while idle
                        1 => left_idle.push(c), // idles until the server's timeout
                        2 => {
                            // leaves in the middle of a head
                            c.write_all(b"GET /cut HTTP/1.1\r\nHost: x\r\n").unwrap();
                        }
                        _ => {
                            // asks to close
                            c.write_all(
                                b"GET /bye HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                            )
                            .unwrap();
                            let mut rest = String::new();
                            c.read_to_string(&mut rest).unwrap();
                            assert!(rest.ends_with("/bye"), "{rest}");
                        }
                    }
                }
                // The server closes the idle ones: each reads end of file.
                for mut c in left_idle {
                    let mut b = [0u8; 1];
                    assert_eq!(c.read(&mut b).unwrap(), 0);
                }
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
    eventually("every connection closed", || server.stats().active == 0);
    eventually("every connection's coroutine ended", || {
        goro::stats().coroutines <= baseline
    });
    assert!(server.stats().accepted >= 201);

    // Shutdown with idle connections: they are closed at once, and nothing is left.
    let mut idle: Vec<TcpStream> = (0..50)
        .map(|i| {
            let mut c = TcpStream::connect(addr).unwrap();
            c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            c.write_all(format!("GET /idle{i} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
                .unwrap();
            assert_eq!(read_response(&mut c), format!("/idle{i}"));
            c
        })
        .collect();
    assert!(
        server.shutdown(Duration::from_secs(5)),
        "shutdown timed out"
    );
    for c in &mut idle {
        let mut b = [0u8; 1];
        assert_eq!(c.read(&mut b).unwrap(), 0);
    }
    serving.join().unwrap().unwrap();
    assert_eq!(server.stats().active, 0);
    eventually("the server's coroutines ended", || {
        goro::stats().coroutines < baseline
    });
}
