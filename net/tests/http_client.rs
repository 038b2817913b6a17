//! goro_net::http::Client against the goro server: keep-alive reuse, retries, timeouts.
use std::io::{ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::time::Duration;

use goro_net::http::{Builder, Client, Request, ResponseWriter, Server};
use goro_net::TcpListener;

fn handler(w: &mut ResponseWriter<'_>, r: &mut Request<'_>) {
    let mut body = Vec::new();
    let _ = r.body().read_to_end(&mut body);
    match r.path() {
        "/slow" => goro::time::sleep(Duration::from_millis(500)),
        "/close" => w.close_after(),
        "/big" => {
            let _ = w.write_all(&vec![b'b'; 100_000]);
            return;
        }
        _ => {}
    }
    let _ = write!(w, "{} {} {}", r.method(), r.path(), body.len());
}

fn start(b: Builder) -> (SocketAddr, Server) {
    let ln = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = ln.local_addr().unwrap();
    let server = b.build(handler);
    let s = server.clone();
    goro::spawn(move || s.serve(ln));
    (addr, server)
}

#[test]
fn keep_alive_connections_are_reused() {
    let (addr, server) = start(Server::builder());
    let c = Client::new();
    for i in 0..10 {
        let r = c.get(&format!("http://{addr}/g{i}")).unwrap();
        assert_eq!(r.body, format!("GET /g{i} 0").as_bytes());
        let r = c
            .post(&format!("http://{addr}/p"), "text/plain", b"abc")
            .unwrap();
        assert_eq!((r.status, r.body.as_slice()), (200, &b"POST /p 3"[..]));
    }
    let big = c.get(&format!("http://{addr}/big")).unwrap();
    assert_eq!(big.header("transfer-encoding"), Some("chunked"));
    assert_eq!(big.body.len(), 100_000);
    assert_eq!(c.pool_stats().dials, 1);
    assert_eq!(server.stats().accepted, 1);
}

#[test]
fn closed_connections_are_replaced() {
    let (addr, _server) = start(Server::builder().idle_timeout(Duration::from_millis(100)));
    let c = Client::new();
    assert_eq!(c.get(&format!("http://{addr}/close")).unwrap().status, 200);
    assert_eq!(c.get(&format!("http://{addr}/a")).unwrap().status, 200);
    assert_eq!(
        c.pool_stats().dials,
        2,
        "a Connection: close answer was pooled"
    );
    // The server drops the idle connection; the next request notices and dials again.
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(c.get(&format!("http://{addr}/b")).unwrap().status, 200);
    assert_eq!(c.pool_stats().dials, 3);
}

#[test]
fn timeouts_and_refusals_are_errors() {
    let (addr, _server) = start(Server::builder());
    let c = Client::builder()
        .read_timeout(Duration::from_millis(100))
        .build();
    let e = c.get(&format!("http://{addr}/slow")).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TimedOut);

    let unused = TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = unused.local_addr().unwrap();
    drop(unused);
    let e = Client::new().get(&format!("http://{dead}/")).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ConnectionRefused);
    assert_eq!(
        Client::new().get("https://x/").unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
}

#[test]
fn response_headers_keep_order_case_and_duplicates() {
    // A hand-written answer, so the headers are exactly these bytes.
    let ln = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = ln.local_addr().unwrap();
    let backend = std::thread::spawn(move || {
        let (mut c, _) = ln.accept().unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            c.read_exact(&mut byte).unwrap();
            head.push(byte[0]);
        }
        c.write_all(
            b"HTTP/1.1 201 Created\r\nSet-Cookie: a=1\r\nX-Mixed-Case: yes\r\n\
              Set-Cookie: b=2\r\nX-Raw: caf\xe9\r\nContent-Length: 2\r\n\r\nok",
        )
        .unwrap();
    });
    let r = Client::new().get(&format!("http://{addr}/")).unwrap();
    backend.join().unwrap();
    assert_eq!(r.status, 201);
    assert_eq!(r.body, b"ok");
    let all: Vec<(&str, &str)> = r.headers().collect();
    assert_eq!(
        all,
        [
            ("Set-Cookie", "a=1"),
            ("X-Mixed-Case", "yes"),
            ("Set-Cookie", "b=2"),
            ("X-Raw", "caf\u{fffd}"),
            ("Content-Length", "2"),
        ]
    );
    assert_eq!(r.headers().len(), 5);
    // Lookup is case-insensitive and takes the first of duplicates.
    assert_eq!(r.header("set-cookie"), Some("a=1"));
    assert_eq!(r.header("x-mixed-case"), Some("yes"));
    assert_eq!(r.header("missing"), None);
    let shown = format!("{r:?}");
    assert!(shown.contains("(\"X-Mixed-Case\", \"yes\")") && shown.contains("2 bytes"));
}
