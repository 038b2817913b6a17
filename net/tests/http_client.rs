//! goro_net::http::Client against the goro server: keep-alive reuse, retries, timeouts.
use std::io::{ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

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
        Client::new().get("ftp://x/").unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
}

/// Serves each of `answers` once, in order, on one connection per answer (reads the request
/// head first); returns the address.
/// Reads one request head from `c`, a byte at a time (so nothing after it is taken); false
/// if the connection ended or failed first.
fn read_head(c: &mut std::net::TcpStream) -> bool {
    let (mut head, mut byte) = (Vec::new(), [0u8; 1]);
    while !head.ends_with(b"\r\n\r\n") {
        if c.read_exact(&mut byte).is_err() {
            return false;
        }
        head.push(byte[0]);
    }
    true
}

fn raw_backend(answers: Vec<Vec<u8>>) -> (SocketAddr, std::thread::JoinHandle<()>) {
    let ln = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = ln.local_addr().unwrap();
    let t = std::thread::spawn(move || {
        for answer in answers {
            let (mut c, _) = ln.accept().unwrap();
            read_head(&mut c);
            // The client may hang up first (a body over its limit): not an error here.
            let _ = c.write_all(&answer);
        }
    });
    (addr, t)
}

#[test]
fn response_headers_keep_order_case_and_duplicates() {
    // A hand-written answer, so the headers are exactly these bytes.
    let (addr, backend) = raw_backend(vec![b"HTTP/1.1 201 Created\r\nSet-Cookie: a=1\r\n\
        X-Mixed-Case: yes\r\nSet-Cookie: b=2\r\nX-Raw: caf\xe9\r\nContent-Length: 2\r\n\r\nok"
        .to_vec()]);
    let r = Client::new().get(&format!("http://{addr}/")).unwrap();
    backend.join().unwrap();
    assert_eq!(r.status, 201);
    assert_eq!(r.body, b"ok");
    assert_eq!(r.redirected_to(), None);
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

/// The client reads answers with the server's exact chunked decoder and Go's framing rules
/// (issue #19): malformed framing is an error, never a guess at where the answer ends.
#[test]
fn answers_are_framed_exactly() {
    let ok: &[(&[u8], &[u8])] = &[
        (
            b"Transfer-Encoding: chunked\r\n\r\n5;x=1\r\nhello\r\n0\r\nX-T: 1\r\n\r\n",
            b"hello",
        ),
        // Transfer-Encoding wins over Content-Length in either order, as Go reads it.
        (
            b"Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
            b"hello",
        ),
        (
            b"Transfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
            b"hello",
        ),
        (
            b"Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
            b"hello",
        ),
    ];
    let bad: &[&[u8]] = &[
        b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\n0\r\n\r\n",
        b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nZ\n",
        b"Transfer-Encoding: chunked\r\n\r\n\r\nhello\r\n0\r\n\r\n",
        b"Transfer-Encoding: gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        b"Content-Length: +5\r\n\r\nhello",
        b"Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
    ];
    let answer = |rest: &[u8]| [b"HTTP/1.1 200 OK\r\nConnection: close\r\n", rest].concat();
    let answers = ok.iter().map(|(a, _)| answer(a));
    let (addr, backend) = raw_backend(answers.chain(bad.iter().map(|a| answer(a))).collect());
    let client = Client::new();
    for (a, body) in ok {
        let r = client
            .get(&format!("http://{addr}/"))
            .unwrap_or_else(|e| panic!("{:?}: {e}", String::from_utf8_lossy(a)));
        assert_eq!(r.body, *body, "{:?}", String::from_utf8_lossy(a));
    }
    for a in bad {
        let r = client.get(&format!("http://{addr}/"));
        let e = r.expect_err(&String::from_utf8_lossy(a));
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidData, "{e}");
    }
    backend.join().unwrap();
}

#[test]
fn oversized_answers_are_errors_not_allocations() {
    let chunk = |n: usize| {
        let mut c = format!("{n:x}\r\n").into_bytes();
        c.extend(std::iter::repeat_n(b'c', n));
        c.extend_from_slice(b"\r\n");
        c
    };
    let mut chunked_over = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..3 {
        chunked_over.extend(chunk(400));
    }
    chunked_over.extend_from_slice(b"0\r\n\r\n");
    let chunked_head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
    let mut endless_line = chunked_head.to_vec();
    endless_line.extend(std::iter::repeat_n(b'0', 200_000));
    let mut endless_trailers = chunked_head.to_vec();
    endless_trailers.extend_from_slice(b"0\r\n");
    for i in 0..10_000 {
        endless_trailers.extend(format!("X-T{i}: v\r\n").bytes());
    }
    let interim = |n: usize| {
        let mut a = b"HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n".repeat(n);
        a.extend_from_slice(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
        a
    };
    let until_close = |n: usize| {
        let mut a = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n".to_vec();
        a.extend(std::iter::repeat_n(b'u', n));
        a
    };
    let at_limit = {
        let mut a = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n".to_vec();
        a.extend([b'k'; 1000]);
        a
    };
    let cases: Vec<(Vec<u8>, Result<usize, ErrorKind>)> = vec![
        // A declared length far past the limit (and past the machine's memory: reserving it
        // would abort the process) fails before any body is read.
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 1000000000000\r\n\r\nabc".to_vec(),
            Err(ErrorKind::InvalidData),
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffff\r\nabc".to_vec(),
            Err(ErrorKind::InvalidData),
        ),
        // Within the limit, but the body is cut short.
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 900\r\n\r\nabc".to_vec(),
            Err(ErrorKind::UnexpectedEof),
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 1001\r\n\r\n".to_vec(),
            Err(ErrorKind::InvalidData),
        ),
        (chunked_over, Err(ErrorKind::InvalidData)),
        // A chunk-size line or trailers that never end.
        (endless_line, Err(ErrorKind::InvalidData)),
        (endless_trailers, Err(ErrorKind::InvalidData)),
        // Interim answers: a few are skipped, endless ones are not.
        (interim(3), Ok(2)),
        (interim(1000), Err(ErrorKind::InvalidData)),
        (until_close(5000), Err(ErrorKind::InvalidData)),
        (until_close(1000), Ok(1000)),
        (at_limit, Ok(1000)),
    ];
    let expected: Vec<_> = cases.iter().map(|(_, want)| *want).collect();
    let (addr, backend) = raw_backend(cases.into_iter().map(|(a, _)| a).collect());
    let client = Client::builder().max_body_bytes(1000).build();
    for want in expected {
        let got = client.get(&format!("http://{addr}/")).map(|r| r.body.len());
        match (got, want) {
            (Ok(n), Ok(m)) => assert_eq!(n, m),
            (Err(e), Err(kind)) => assert_eq!(e.kind(), kind, "{e}"),
            (got, want) => panic!("got {got:?}, want {want:?}"),
        }
    }
    backend.join().unwrap();
}

#[test]
fn strings_that_would_reframe_the_request_are_refused() {
    let (addr, server) = start(Server::builder());
    let client = Client::new();
    let url = format!("http://{addr}/");
    let refused = [
        client.request("GET", &url, &[("X-A", "1\r\nX-Injected: 2")], b""),
        client.request("GET", &url, &[("X-A", "nul\0")], b""),
        client.request("GET", &url, &[("Bad Name", "v")], b""),
        client.request("GET", &url, &[("", "v")], b""),
        client.request("GET /x HTTP/1.1\r\n", &url, &[], b""),
        client.request("", &url, &[], b""),
        client.get(&format!("http://{addr}/a b")),
        client.get(&format!("http://{addr}/a\r\nX-Injected: 1")),
        client.get("http:///nohost"),
        client.get("ftp://example.com/"),
    ];
    for r in refused {
        let e = r.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    }
    // Nothing of the above reached the server; ordinary requests still work, and a query
    // without a path asks for `/`.
    assert_eq!(server.stats().accepted, 0);
    let r = client.get(&format!("http://{addr}?q=1")).unwrap();
    assert_eq!(r.body, b"GET / 0");
    let r = client
        .request("PATCH", &url, &[("X-Ok", "tab\tand unicode é")], b"xy")
        .unwrap();
    assert_eq!(r.body, b"PATCH / 2");
}

/// A backend that answers at once (`ok`) while the returned counter of fast answers lasts,
/// and otherwise with a 20-byte body sent one byte per `gap` (each read of it soon has a
/// byte), until the client hangs up. Runs until the test process ends; each connection's
/// thread ends with its connection.
fn trickling_backend(gap: Duration) -> (SocketAddr, Arc<AtomicUsize>) {
    let ln = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = ln.local_addr().unwrap();
    let fast = Arc::new(AtomicUsize::new(0));
    let fast2 = fast.clone();
    std::thread::spawn(move || {
        for c in ln.incoming() {
            let Ok(mut c) = c else { return };
            let fast = fast2.clone();
            std::thread::spawn(move || {
                while read_head(&mut c) {
                    let dec = |n: usize| n.checked_sub(1);
                    if fast.fetch_update(Relaxed, Relaxed, dec).is_ok() {
                        if c.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                            .is_err()
                        {
                            return;
                        }
                        continue;
                    }
                    if c.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n")
                        .is_err()
                    {
                        return;
                    }
                    for _ in 0..20 {
                        std::thread::sleep(gap);
                        if c.write_all(b"x").is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    (addr, fast)
}

#[test]
fn the_request_timeout_bounds_an_answer_that_trickles() {
    let (addr, _) = trickling_backend(Duration::from_millis(50));
    let url = format!("http://{addr}/");
    // The per-read timeout alone never fires: a byte comes every 50 ms.
    let patient = Client::builder()
        .read_timeout(Duration::from_millis(500))
        .build();
    assert_eq!(patient.get(&url).unwrap().body, [b'x'; 20]);

    let c = Client::builder()
        .read_timeout(Duration::from_millis(500))
        .timeout(Duration::from_millis(300))
        .build();
    let t = Instant::now();
    let e = c.get(&url).unwrap_err();
    let took = t.elapsed();
    assert_eq!(e.kind(), ErrorKind::TimedOut, "{e}");
    assert!(e.to_string().contains("ClientBuilder::timeout"), "{e}");
    assert!(
        took >= Duration::from_millis(290),
        "gave up early: {took:?}"
    );
    assert!(
        took < Duration::from_secs(5),
        "the trickle ran out first: {took:?}"
    );
    // The timed-out connection is not reused: its answer is still coming.
    assert_eq!(c.pool_stats().idle, 0);
}

#[test]
fn a_kept_connection_gets_a_fresh_deadline_for_each_request() {
    let (addr, _server) = start(Server::builder());
    let c = Client::builder()
        .timeout(Duration::from_millis(300))
        .build();
    assert_eq!(
        c.get(&format!("http://{addr}/a")).unwrap().body,
        b"GET /a 0"
    );
    // Longer than the timeout: the connection's deadline from the first request has passed.
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(
        c.get(&format!("http://{addr}/b")).unwrap().body,
        b"GET /b 0"
    );
    assert_eq!(c.pool_stats().dials, 1, "the connection was not reused");
    // A handler slower than the timeout fails the request.
    let e = c.get(&format!("http://{addr}/slow")).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TimedOut);
}

#[test]
fn the_request_timeout_bounds_the_connect() {
    // A listener that never accepts, with a backlog of 0: once its queue is full, SYNs are
    // dropped and a connect hangs.
    let full = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    // SAFETY: plain syscall on an open listening socket.
    assert_eq!(unsafe { libc::listen(full.as_raw_fd(), 0) }, 0);
    let addr = full.local_addr().unwrap();
    let mut kept = Vec::new();
    while let Ok(s) = std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
        kept.push(s);
        assert!(kept.len() < 64, "the backlog never filled");
    }
    let c = Client::builder()
        .connect_timeout(Duration::from_secs(60))
        .timeout(Duration::from_millis(300))
        .build();
    let t = Instant::now();
    let e = c.get(&format!("http://{addr}/")).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TimedOut, "{e}");
    assert!(
        t.elapsed() < Duration::from_secs(30),
        "waited for the connect timeout"
    );
}

#[test]
fn pipelined_requests_time_out_and_the_client_recovers() {
    // The first request is answered at once, so its lane is flowing when the others join
    // it; they trickle.
    let (addr, fast) = trickling_backend(Duration::from_millis(100));
    fast.store(1, Relaxed);
    let c = Client::builder()
        .pipeline(4)
        .timeout(Duration::from_millis(300))
        .build();
    let url = format!("http://{addr}/");
    let c2 = c.clone();
    let u2 = url.clone();
    let results = goro::spawn(move || {
        assert_eq!(c2.get(&u2).unwrap().body, b"ok"); // warms a lane up
        let calls: Vec<_> = (0..6)
            .map(|_| {
                let (c, u) = (c2.clone(), u2.clone());
                goro::spawn(move || (c.get(&u), Instant::now()))
            })
            .collect();
        let start = Instant::now();
        calls
            .into_iter()
            .map(|h| {
                let (r, at) = h.join().unwrap();
                (r.map(|r| r.body), at.duration_since(start))
            })
            .collect::<Vec<_>>()
    })
    .join()
    .unwrap();
    for (r, took) in results {
        let e = r.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::TimedOut, "{e}");
        assert!(
            took < Duration::from_secs(2),
            "a request outlived its timeout: {took:?}"
        );
    }
    // Once the backend is fast again, so is the client.
    fast.store(1, Relaxed);
    let c3 = c.clone();
    let body = goro::spawn(move || c3.get(&url).map(|r| r.body))
        .join()
        .unwrap();
    assert_eq!(body.unwrap(), b"ok");
}

/// A server that redirects (paths below) and otherwise describes the request it got.
fn redirecting() -> (SocketAddr, Server) {
    let ln = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = ln.local_addr().unwrap();
    let server = Server::new(|w: &mut ResponseWriter<'_>, r: &mut Request<'_>| {
        let mut body = Vec::new();
        let _ = r.body().read_to_end(&mut body);
        let to = match r.path() {
            "/a/r1" => Some((302, "r2".to_string())), // relative: /a/r2
            "/a/r2" => Some((307, "../final?x=1#frag".to_string())),
            "/t307" => Some((307, "/final".to_string())),
            "/loop" => Some((302, "/loop".to_string())),
            "/tls" => Some((301, "ftp://example.com/".to_string())),
            "/h" => Some((301, "/final".to_string())),
            "/away" => Some((
                303,
                format!("http://{}/final", r.query_value("to").unwrap()),
            )),
            _ => None,
        };
        if let Some((status, location)) = to {
            w.header_set("Location", &location);
            w.write_header(status);
            return;
        }
        let h = |n| r.header(n).unwrap_or("-").to_string();
        let _ = write!(
            w,
            "{} {} {} auth={} keep={} ct={}",
            r.method(),
            r.uri(),
            body.len(),
            h("authorization"),
            h("x-keep"),
            h("content-type")
        );
    });
    let s = server.clone();
    goro::spawn(move || s.serve(ln));
    (addr, server)
}

#[test]
fn redirects_are_followed_as_go_follows_them() {
    let (addr, _server) = redirecting();
    let c = Client::new();
    let text = |r: goro_net::http::ClientResponse| String::from_utf8(r.body).unwrap();
    // 302 turns the POST into a GET without its body or Content-Type; the 307 after it
    // keeps the GET; relative and dotted Locations resolve; the fragment is dropped.
    let r = c
        .request(
            "POST",
            &format!("http://{addr}/a/r1"),
            &[
                ("Content-Type", "text/plain"),
                ("Authorization", "Bearer t"),
                ("X-Keep", "1"),
            ],
            b"abc",
        )
        .unwrap();
    assert_eq!(r.status, 200);
    let final_url = format!("http://{addr}/final?x=1");
    assert_eq!(r.redirected_to(), Some(final_url.as_str()));
    assert_eq!(text(r), "GET /final?x=1 0 auth=Bearer t keep=1 ct=-");
    // 307 keeps the method and the body.
    let r = c
        .post(&format!("http://{addr}/t307"), "text/plain", b"abc")
        .unwrap();
    assert_eq!(text(r), "POST /final 3 auth=- keep=- ct=text/plain");
    // HEAD stays HEAD through a 301 (its answer's length is that of a HEAD's body).
    let r = c
        .request("HEAD", &format!("http://{addr}/h"), &[], &[])
        .unwrap();
    let want = "HEAD /final 0 auth=- keep=- ct=-".len().to_string();
    assert_eq!((r.status, r.header("content-length")), (200, Some(&*want)));
    // A scheme the client cannot follow.
    let e = c.get(&format!("http://{addr}/tls")).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    // A loop stops at the limit.
    let e = c.get(&format!("http://{addr}/loop")).unwrap_err();
    assert!(e.to_string().contains("stopped after 10 redirects"), "{e}");
    let e = Client::builder()
        .max_redirects(3)
        .build()
        .get(&format!("http://{addr}/loop"))
        .unwrap_err();
    assert!(e.to_string().contains("stopped after 3 redirects"), "{e}");
    // Every hop went over the one keep-alive connection.
    assert_eq!(c.pool_stats().dials, 1);
}

#[test]
fn credentials_do_not_follow_a_redirect_to_another_host() {
    let (a, _sa) = redirecting();
    let (b, _sb) = redirecting();
    let c = Client::new();
    let headers = [
        ("Authorization", "Bearer t"),
        ("Cookie", "s=1"),
        ("X-Keep", "1"),
    ];
    let r = c
        .request("GET", &format!("http://{a}/away?to={b}"), &headers, &[])
        .unwrap();
    assert_eq!(r.body, b"GET /final 0 auth=- keep=1 ct=-");
    // To the same host they go along.
    let r = c
        .request("GET", &format!("http://{a}/away?to={a}"), &headers, &[])
        .unwrap();
    assert_eq!(r.body, b"GET /final 0 auth=Bearer t keep=1 ct=-");
}

#[test]
fn streamed_bodies_arrive_piece_by_piece_and_free_their_connection_at_the_end() {
    let (addr, _server) = start(Server::builder());
    // A body limit far below the answer: streaming is not bound by it.
    let c = Client::builder().max_body_bytes(1000).build();
    let url = format!("http://{addr}/big");
    let e = c.get(&url).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidData);
    let over = e
        .get_ref()
        .and_then(|e| e.downcast_ref::<goro_net::http::BodyTooLarge>());
    assert_eq!(over.map(|o| o.limit), Some(1000), "{e}");
    for round in 0..2 {
        let mut r = c.stream("GET", &url, &[], &[]).unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.header("transfer-encoding"), Some("chunked"));
        let (mut total, mut buf) = (0, [0u8; 7]);
        loop {
            let n = r.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            assert!(buf[..n].iter().all(|&b| b == b'b'));
            total += n;
        }
        assert_eq!(total, 100_000, "round {round}");
        assert_eq!(r.read(&mut buf).unwrap(), 0, "reads after the end");
        drop(r);
        assert_eq!(
            c.pool_stats().idle,
            1,
            "round {round}: not back in the pool"
        );
    }
    // The failed buffered GET cost a connection; the two streams shared one more.
    assert_eq!(c.pool_stats().dials, 2);

    // Dropped half-read: the connection is closed, not reused.
    let mut r = c.stream("GET", &url, &[], &[]).unwrap();
    let mut some = [0u8; 10];
    r.read_exact(&mut some).unwrap();
    drop(r);
    assert_eq!(c.pool_stats().idle, 0);
    // A Content-Length body, through a redirect, gathered whole.
    let (raddr, _rs) = redirecting();
    let r = c
        .stream("POST", &format!("http://{raddr}/t307"), &[], b"abc")
        .unwrap()
        .into_response()
        .unwrap();
    assert_eq!(r.body, b"POST /final 3 auth=- keep=- ct=-");
}

#[test]
fn a_streamed_body_cut_short_or_too_slow_is_an_error() {
    // Declares 10 bytes, sends 4, closes.
    let (addr, backend) = raw_backend(vec![
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nfour".to_vec()
    ]);
    let mut r = Client::new()
        .stream("GET", &format!("http://{addr}/"), &[], &[])
        .unwrap();
    let mut body = Vec::new();
    let e = r.read_to_end(&mut body).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::UnexpectedEof);
    assert_eq!(body, b"four");
    assert!(
        r.read(&mut [0u8; 4]).is_err(),
        "a failed body read as ended"
    );
    backend.join().unwrap();

    // An HTTP/1.0 body without a length runs to the close.
    let (addr, backend) = raw_backend(vec![b"HTTP/1.0 200 OK\r\n\r\nuntil the end".to_vec()]);
    let c = Client::new();
    let r = c
        .stream("GET", &format!("http://{addr}/"), &[], &[])
        .unwrap();
    assert_eq!(r.into_response().unwrap().body, b"until the end");
    assert_eq!(c.pool_stats().idle, 0);
    backend.join().unwrap();

    // The whole-request timeout bounds the reads of a streamed body.
    let (addr, _) = trickling_backend(Duration::from_millis(50));
    let c = Client::builder()
        .timeout(Duration::from_millis(300))
        .build();
    let t = Instant::now();
    let mut r = c
        .stream("GET", &format!("http://{addr}/"), &[], &[])
        .unwrap();
    let e = r.read_to_end(&mut Vec::new()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TimedOut, "{e}");
    assert!(t.elapsed() < Duration::from_secs(5));
}

#[test]
fn request_bodies_stream_from_readers_with_or_without_a_length() {
    let (addr, _server) = start(Server::builder().max_body_bytes(8 << 20));
    let c = Client::new();
    let url = format!("http://{addr}/up");
    let body = |r: goro_net::http::StreamingResponse| r.into_response().unwrap().body;
    // A known length: sent with Content-Length.
    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
    let mut reader = std::io::Cursor::new(data.clone());
    let r = c
        .stream_from("POST", &url, &[], &mut reader, Some(data.len() as u64))
        .unwrap();
    assert_eq!(body(r), b"POST /up 300000");
    // Unknown length: sent chunked, several pieces.
    let mut zeros = std::io::repeat(7).take(1_000_000);
    let r = c.stream_from("PUT", &url, &[], &mut zeros, None).unwrap();
    assert_eq!(body(r), b"PUT /up 1000000");
    // A reader that does not match its length fails the request.
    for (len, have) in [(10u64, 5usize), (3, 5)] {
        let mut short = std::io::Cursor::new(vec![1u8; have]);
        let e = c
            .stream_from("POST", &url, &[], &mut short, Some(len))
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{len} vs {have}: {e}");
    }
    // The caller cannot frame the body differently from what the client sends.
    let r = c
        .request("POST", &url, &[("Transfer-Encoding", "chunked")], b"abc")
        .unwrap();
    assert_eq!(r.body, b"POST /up 3");
    assert_eq!(
        c.get(&url).unwrap().body,
        b"GET /up 0",
        "the connection is still in step"
    );
}

#[test]
fn a_streamed_upload_is_not_sent_twice_by_a_redirect() {
    let (addr, _server) = redirecting();
    let c = Client::new();
    // 307 would need the body again: its answer comes back as it is.
    let mut body = std::io::Cursor::new(b"abc".to_vec());
    let r = c
        .stream_from(
            "POST",
            &format!("http://{addr}/t307"),
            &[],
            &mut body,
            Some(3),
        )
        .unwrap();
    assert_eq!((r.status(), r.header("location")), (307, Some("/final")));
    // 303 goes on as a GET without the body.
    let mut body = std::io::Cursor::new(b"abc".to_vec());
    let to = format!("http://{addr}/away?to={addr}");
    let r = c.stream_from("POST", &to, &[], &mut body, None).unwrap();
    let final_url = format!("http://{addr}/final");
    assert_eq!(r.redirected_to(), Some(final_url.as_str()));
    assert_eq!(
        r.into_response().unwrap().body,
        b"GET /final 0 auth=- keep=- ct=-"
    );
}

/// Pipelined requests under a whole-request timeout (here rather than in http_pipeline, so
/// its load does not overlap that file's tests that look for batching).
#[test]
fn requests_past_their_timeout_fail_alone_and_never_get_another_answer() {
    // A goro server whose every fourth path takes 60 ms, longer than the client's whole
    // request timeout; the rest answer at once. Slow answers block the fast ones queued
    // behind them on a pipelined connection until a deadline kills it.
    let ln = goro_net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = ln.local_addr().unwrap();
    let server = goro_net::http::Server::new(
        |w: &mut goro_net::http::ResponseWriter<'_>, r: &mut goro_net::http::Request<'_>| {
            let i: usize = r.path().rsplit('/').next().unwrap().parse().unwrap();
            if i.is_multiple_of(4) {
                goro::time::sleep(Duration::from_millis(60));
            }
            let _ = w.write_all(r.path().as_bytes());
        },
    );
    let s = server.clone();
    goro::spawn(move || s.serve(ln));
    let client = Client::builder()
        .pipeline(8)
        .timeout(Duration::from_millis(30))
        .build();
    let started = Instant::now();
    for wave in 0..8 {
        let handles: Vec<_> = (0..40usize)
            .map(|i| {
                let client = client.clone();
                let path = format!("/w{wave}/{i}");
                goro::spawn(move || {
                    let r = client.get(&format!("http://{addr}{path}"));
                    (
                        i,
                        r.map(|r| assert_eq!(r.body, path.into_bytes(), "someone else's answer")),
                    )
                })
            })
            .collect();
        for h in handles {
            match h.join().unwrap() {
                (i, Ok(())) => assert!(!i.is_multiple_of(4), "a 60 ms answer beat a 30 ms timeout"),
                (_, Err(e)) => assert_eq!(e.kind(), ErrorKind::TimedOut, "{e}"),
            }
        }
    }
    assert!(started.elapsed() < Duration::from_secs(20));
    // Every request took its outcome: nothing is left in flight.
    assert_eq!(client.pool_stats().active, 0);
    // With time to spare, every request is answered again.
    let patient = Client::builder().pipeline(8).build();
    let calls: Vec<_> = (0..40)
        .map(|i| {
            let (c, url) = (patient.clone(), format!("http://{addr}/after/{i}"));
            goro::spawn(move || c.get(&url).unwrap().body)
        })
        .collect();
    for (i, call) in calls.into_iter().enumerate() {
        assert_eq!(call.join().unwrap(), format!("/after/{i}").into_bytes());
    }
    server.shutdown(Duration::from_secs(1));
}
