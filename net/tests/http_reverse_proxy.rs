//! `http::ReverseProxy` against real backends: headers both ways (hop-by-hop, X-Forwarded-*,
//! `Date` and `Server` once), the hooks, errors, streaming with flushes (`flush_interval`
//! too), trailers, and interim `1xx` answers. Raw sockets stand in for a backend or client
//! where a goro one would not send or show the bytes under test.
use std::io::{BufRead, BufReader, Read, Write};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use goro_net::http::httptest::{self, TestRequest};
use goro_net::http::{Client, Request, ResponseWriter, ReverseProxy};

#[cfg(all(feature = "tls", target_os = "linux"))]
mod tls_util;

/// Every value of header `name` in a raw response head.
fn values<'h>(head: &'h str, name: &str) -> Vec<&'h str> {
    head.lines()
        .filter_map(|l| l.split_once(':'))
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
        .collect()
}

fn raw_get(addr: std::net::SocketAddr, path: &str, extra: &str) -> (String, String) {
    let mut c = std::net::TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        c,
        "GET {path} HTTP/1.1\r\nHost: front.test\r\nConnection: close, X-Secret\r\n{extra}\r\n"
    )
    .unwrap();
    let mut all = String::new();
    c.read_to_string(&mut all).unwrap();
    let (head, body) = all.split_once("\r\n\r\n").unwrap();
    (head.to_string(), body.to_string())
}

#[test]
fn the_writer_adds_date_unless_told_and_never_server() {
    let rec = TestRequest::new("GET", "/")
        .record(&|_w: &mut ResponseWriter<'_>, _r: &mut Request<'_>| {});
    assert_eq!(rec.headers().filter(|(n, _)| *n == "Date").count(), 1);
    assert_eq!(rec.header("server"), None);
    let rec =
        TestRequest::new("GET", "/").record(&|w: &mut ResponseWriter<'_>, _r: &mut Request<'_>| {
            w.header_del("Date");
            w.header_set("Server", "mine/1.0");
        });
    assert_eq!(rec.header("date"), None);
    let servers: Vec<_> = rec.headers().filter(|(n, _)| *n == "Server").collect();
    assert_eq!(servers, [("Server", "mine/1.0")]);
    let rec =
        TestRequest::new("GET", "/").record(&|w: &mut ResponseWriter<'_>, _r: &mut Request<'_>| {
            w.header_set("Date", "Tue, 01 Jan 2030 00:00:00 GMT");
        });
    let dates: Vec<_> = rec.headers().filter(|(n, _)| *n == "Date").collect();
    assert_eq!(dates, [("Date", "Tue, 01 Jan 2030 00:00:00 GMT")]);
}

#[test]
fn headers_are_relayed_once_and_hop_by_hop_ones_dropped_both_ways() {
    let backend = httptest::Server::new(|w: &mut ResponseWriter<'_>, r: &mut Request<'_>| {
        w.header_set("Server", "backend/2");
        w.header_set("Date", "Tue, 01 Jan 2030 00:00:00 GMT");
        w.header_set("Connection", "X-Hop");
        w.header_set("X-Hop", "must not pass");
        w.header_set("Keep-Alive", "timeout=5");
        w.header_set("X-End", "passes");
        let _ = write!(
            w,
            "host={} xff={} secret={} custom={} keepalive={}",
            r.host(),
            r.header("x-forwarded-for").unwrap_or("-"),
            r.header("x-secret").unwrap_or("-"),
            r.header("x-custom").unwrap_or("-"),
            r.header("keep-alive").unwrap_or("-"),
        );
    });
    let proxy = httptest::Server::new(ReverseProxy::new(backend.url()));
    let (head, body) = raw_get(
        proxy.addr(),
        "/x",
        "X-Forwarded-For: 203.0.113.9\r\nX-Secret: s\r\nX-Custom: c\r\nKeep-Alive: 9\r\n",
    );
    assert_eq!(
        body,
        format!(
            "host={} xff=203.0.113.9, 127.0.0.1 secret=- custom=c keepalive=-",
            backend.addr()
        )
    );
    assert_eq!(values(&head, "server"), ["backend/2"], "{head}");
    assert_eq!(
        values(&head, "date"),
        ["Tue, 01 Jan 2030 00:00:00 GMT"],
        "{head}"
    );
    assert_eq!(values(&head, "x-end"), ["passes"]);
    assert!(values(&head, "x-hop").is_empty(), "{head}");
    assert!(values(&head, "keep-alive").is_empty(), "{head}");
}

#[test]
fn hooks_rewrite_modify_and_handle_errors() {
    let backend = httptest::Server::new(|w: &mut ResponseWriter<'_>, r: &mut Request<'_>| {
        if r.path().ends_with("/refuse") {
            w.header_set("X-Refuse", "1");
        }
        let _ = write!(w, "{} {}", r.method(), r.uri());
    });
    let proxy = httptest::Server::new(
        ReverseProxy::builder()
            .target(&format!("{}/base/", backend.url()))
            .rewrite(|out, r| {
                if r.path() == "/old" {
                    out.url = out.url.replace("/old", "/new");
                }
            })
            .modify_response(|resp, _r| {
                if resp.header("x-refuse").is_some() {
                    return Err(std::io::Error::other("refused"));
                }
                resp.status = 299;
                Ok(())
            })
            .error_handler(|w, _r, e| {
                w.write_header(503);
                let _ = write!(w, "handled: {e}");
            })
            .build(),
    );
    let client = Client::new();
    let r = client.get(&format!("{}/old?q=1", proxy.url())).unwrap();
    assert_eq!((r.status, &r.body[..]), (299, &b"GET /base/new?q=1"[..]));
    let r = client.get(&format!("{}/refuse", proxy.url())).unwrap();
    assert_eq!((r.status, &r.body[..]), (503, &b"handled: refused"[..]));

    let gone = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = gone.local_addr().unwrap();
    drop(gone);
    let proxy = httptest::Server::new(ReverseProxy::new(&format!("http://{dead}")));
    let r = client.get(&format!("{}/", proxy.url())).unwrap();
    assert_eq!(r.status, 502);
}

#[test]
fn request_and_answer_bodies_stream_through() {
    let backend = httptest::Server::new(|w: &mut ResponseWriter<'_>, r: &mut Request<'_>| {
        let mut body = Vec::new();
        r.body().read_to_end(&mut body).unwrap();
        w.header_set("Content-Length", &(body.len() * 2).to_string());
        let _ = w.write_all(&body);
        let _ = w.write_all(&body);
    });
    let proxy = httptest::Server::new(ReverseProxy::new(backend.url()));
    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
    let r = Client::builder()
        .max_body_bytes(1 << 20)
        .build()
        .post(
            &format!("{}/twice", proxy.url()),
            "application/octet-stream",
            &big,
        )
        .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.body.len(), big.len() * 2);
    assert!(r.body[..big.len()] == big[..] && r.body[big.len()..] == big[..]);
}

/// A server-sent-events answer is flushed through piece by piece: the backend sends its
/// second event only once the client got the first through the proxy.
#[test]
fn an_event_stream_is_flushed_through_as_it_comes() {
    let (got_first, first_seen) = mpsc::channel::<()>();
    let first_seen = std::sync::Mutex::new(Some(first_seen));
    let backend = httptest::Server::new(move |w: &mut ResponseWriter<'_>, _r: &mut Request<'_>| {
        w.header_set("Content-Type", "text/event-stream");
        let _ = w.write_all(b"data: one\n\n");
        let _ = w.flush();
        let seen = wait_for(&first_seen);
        let _ = w.write_all(format!("data: two seen={seen}\n\n").as_bytes());
    });
    let proxy = httptest::Server::new(ReverseProxy::new(backend.url()));
    let mut c = std::net::TcpStream::connect(proxy.addr()).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    c.write_all(b"GET /events HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut lines = BufReader::new(c).lines();
    let mut saw = |want: &str| loop {
        let line = lines
            .next()
            .expect("more")
            .expect("within the read timeout");
        if line.contains(want) {
            return line;
        }
    };
    saw("data: one");
    got_first.send(()).unwrap();
    assert_eq!(saw("data: two"), "data: two seen=true");
}

/// Whether the test said go on within 10 s, asked from a handler: the wait runs on
/// goro's blocking pool, so the handler's worker (shared with every test in this process)
/// serves other coroutines meanwhile. The first request takes the receiver.
fn wait_for(rx: &std::sync::Mutex<Option<mpsc::Receiver<()>>>) -> bool {
    let Some(rx) = rx.lock().unwrap().take() else {
        return false;
    };
    goro::blocking(move || rx.recv_timeout(Duration::from_secs(10)).is_ok())
}

/// Reads from `s` until `done` says the bytes so far are enough, or `wait` passes: the
/// bytes, and whether `done` was met.
fn read_until(
    s: &mut std::net::TcpStream,
    wait: Duration,
    done: impl Fn(&str) -> bool,
) -> (String, bool) {
    let end = Instant::now() + wait;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&got).into_owned();
        if done(&text) {
            return (text, true);
        }
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return (text, false);
        }
        s.set_read_timeout(Some(left)).unwrap();
        match s.read(&mut buf) {
            Ok(0) => return (text, false),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => panic!("read: {e}"),
        }
    }
}

/// Reads `s` to its end (within 10 s).
fn read_rest(s: &mut std::net::TcpStream) -> String {
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut all = Vec::new();
    s.read_to_end(&mut all).expect("the rest within 10 s");
    String::from_utf8_lossy(&all).into_owned()
}

/// A backend on a plain socket, for answers a goro server would not send: it takes one
/// connection, reads the request head and hands the socket to `answer`. Its URL.
fn raw_backend(answer: impl FnOnce(&mut std::net::TcpStream) + Send + 'static) -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        let (_, ok) = read_until(&mut s, Duration::from_secs(10), |t| t.contains("\r\n\r\n"));
        assert!(ok, "the request head");
        answer(&mut s);
    });
    url
}

/// The proxy, over a backend that sends 5 bytes of a 10-byte `Content-Length` body, then
/// the rest only once told (or after 10 s): whether the client saw the first 5 within
/// `wait`, and all it got.
fn drip(interval: Option<Duration>, wait: Duration) -> (bool, String) {
    let (go_on, told) = mpsc::channel::<()>();
    let told = std::sync::Mutex::new(Some(told));
    let backend = httptest::Server::new(move |w: &mut ResponseWriter<'_>, _r: &mut Request<'_>| {
        w.header_set("Content-Length", "10");
        let _ = w.write_all(b"first");
        let _ = w.flush();
        let told = wait_for(&told);
        let _ = w.write_all(if told { b"-last" } else { b"-late" });
    });
    let proxy = httptest::Server::new(
        ReverseProxy::builder()
            .target(backend.url())
            .flush_interval(interval)
            .build(),
    );
    let mut c = std::net::TcpStream::connect(proxy.addr()).unwrap();
    c.write_all(b"GET /drip HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
        .unwrap();
    let (early, saw) = read_until(&mut c, wait, |t| t.ends_with("\r\n\r\nfirst"));
    go_on.send(()).unwrap();
    (saw, early + &read_rest(&mut c))
}

#[test]
fn a_flush_interval_drips_a_known_length_body_through() {
    for interval in [Duration::from_millis(50), Duration::ZERO] {
        let (saw, all) = drip(Some(interval), Duration::from_secs(10));
        assert!(
            saw,
            "{interval:?}: the first half before the backend finished: {all:?}"
        );
        assert!(all.ends_with("\r\n\r\nfirst-last"), "{all:?}");
        assert_eq!(values(&all, "content-length"), ["10"], "{all:?}");
    }
}

/// The documented default: a body with a `Content-Length` goes through the writer's
/// buffer, so a few bytes wait there until more come or the body ends.
#[test]
fn without_a_flush_interval_a_known_length_body_waits_in_the_buffer() {
    let (saw, all) = drip(None, Duration::from_millis(300));
    assert!(!saw, "nothing flushed early by default: {all:?}");
    assert!(all.ends_with("\r\n\r\nfirst-last"), "{all:?}");
}

/// A backend answering with the `X-Forwarded-*` headers it got.
fn forwarded_echo() -> httptest::Server {
    httptest::Server::new(|w: &mut ResponseWriter<'_>, r: &mut Request<'_>| {
        let h = |n| r.header(n).unwrap_or("-");
        let _ = write!(
            w,
            "for={} host={} proto={}",
            h("x-forwarded-for"),
            h("x-forwarded-host"),
            h("x-forwarded-proto")
        );
    })
}

#[test]
fn x_forwarded_host_and_proto_are_set_when_asked_and_passed_as_sent_by_default() {
    let backend = forwarded_echo();
    let spoof = "X-Forwarded-For: 198.51.100.7\r\nX-Forwarded-Host: spoof.test\r\nX-Forwarded-Proto: gopher\r\n";
    // Default (Go's Director): X-Forwarded-For appended to, the rest as the client sent.
    let proxy = httptest::Server::new(ReverseProxy::new(backend.url()));
    let (_, body) = raw_get(proxy.addr(), "/", spoof);
    assert_eq!(
        body,
        "for=198.51.100.7, 127.0.0.1 host=spoof.test proto=gopher"
    );
    let (_, body) = raw_get(proxy.addr(), "/", "");
    assert_eq!(body, "for=127.0.0.1 host=- proto=-");
    // The builder option, and the same through the rewrite hook: Go's SetXForwarded.
    let on = httptest::Server::new(
        ReverseProxy::builder()
            .target(backend.url())
            .x_forwarded(true)
            .build(),
    );
    let hook = httptest::Server::new(
        ReverseProxy::builder()
            .target(backend.url())
            .rewrite(|out, r| out.set_x_forwarded(r))
            .build(),
    );
    for proxy in [&on, &hook] {
        let (_, body) = raw_get(proxy.addr(), "/", spoof);
        assert_eq!(
            body,
            "for=198.51.100.7, 127.0.0.1 host=front.test proto=http"
        );
    }
}

/// Over HTTPS, `Request::tls` tells what the handshake agreed and the proxy says
/// `X-Forwarded-Proto: https`.
#[cfg(all(feature = "tls", target_os = "linux"))]
#[test]
fn over_https_the_request_knows_its_tls_and_the_proxy_forwards_proto_https() {
    use goro_net::http::{Handler, Server};
    use goro_net::tls::TlsAcceptor;

    let ca = tls_util::Ca::new("goro proxy test CA");
    let backend = forwarded_echo();
    let proxy = ReverseProxy::builder()
        .target(backend.url())
        .x_forwarded(true)
        .build();
    let front = Server::new(move |w: &mut ResponseWriter<'_>, r: &mut Request<'_>| {
        if r.path() == "/tls" {
            let t = r.tls().expect("an HTTPS request has TLS state");
            let _ = write!(
                w,
                "{:#06x} {} {} {}",
                t.version,
                String::from_utf8_lossy(t.alpn.as_deref().unwrap_or(b"-")),
                t.server_name.as_deref().unwrap_or("-"),
                t.peer_certificates.len()
            );
        } else {
            proxy.serve_http(w, r);
        }
    });
    let ln = goro_net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = ln.local_addr().unwrap().port();
    let acceptor = TlsAcceptor::new(ca.leaf(&["localhost"]).certificate()).unwrap();
    let f = front.clone();
    goro::spawn(move || f.serve_tls(ln, acceptor));
    let client = tls_util::https_client(&ca);
    let r = client
        .get(&format!("https://localhost:{port}/tls"))
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&r.body),
        "0x0304 http/1.1 localhost 0"
    );
    let r = client.get(&format!("https://localhost:{port}/x")).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&r.body),
        format!("for=127.0.0.1 host=localhost:{port} proto=https")
    );
    // A plain request has none.
    let plain = httptest::Server::new(|w: &mut ResponseWriter<'_>, r: &mut Request<'_>| {
        let _ = write!(w, "{}", r.tls().is_some());
    });
    assert_eq!(Client::new().get(plain.url()).unwrap().body, b"false");
    front.shutdown(Duration::from_secs(1));
}

/// A chunked answer that ends with trailers, forbidden ones among them (framing, routing).
const TRAILED: &[u8] = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\
    Trailer: X-Sum, Content-Length, Host\r\n\r\n5\r\nhello\r\n0\r\nX-Sum: 42\r\n\
    Content-Length: 999\r\nHost: evil.test\r\nTransfer-Encoding: chunked\r\nX-Late: yes\r\n\r\n";

#[test]
fn the_client_reads_trailers_and_drops_the_forbidden_ones() {
    let whole = raw_backend(|s| s.write_all(TRAILED).unwrap());
    let r = Client::new().get(&whole).unwrap();
    assert_eq!(r.body, b"hello");
    assert_eq!(
        r.trailers().collect::<Vec<_>>(),
        [("X-Sum", "42"), ("X-Late", "yes")]
    );
    assert_eq!(r.trailer("x-sum"), Some("42"));
    let streamed = raw_backend(|s| s.write_all(TRAILED).unwrap());
    let mut r = Client::new().stream("GET", &streamed, &[], &[]).unwrap();
    assert_eq!(r.trailers().len(), 0, "not before the body's end");
    let mut body = String::new();
    r.read_to_string(&mut body).unwrap();
    assert_eq!(body, "hello");
    assert_eq!(
        r.trailers().collect::<Vec<_>>(),
        [("X-Sum", "42"), ("X-Late", "yes")]
    );
}

#[test]
fn trailers_are_relayed_announced_anew_and_forbidden_ones_dropped() {
    let backend = raw_backend(|s| s.write_all(TRAILED).unwrap());
    let proxy = httptest::Server::new(ReverseProxy::new(&backend));
    let (head, body) = raw_get(proxy.addr(), "/t", "");
    assert_eq!(values(&head, "trailer"), ["X-Sum"], "{head}");
    assert_eq!(values(&head, "transfer-encoding"), ["chunked"], "{head}");
    assert!(values(&head, "content-length").is_empty(), "{head}");
    let (data, trailers) = body.split_once("0\r\n").expect("a last chunk");
    assert_eq!(data, "5\r\nhello\r\n");
    assert_eq!(trailers, "X-Sum: 42\r\nX-Late: yes\r\n\r\n");
}

/// The writer sends trailers in the last chunk, making even a short body chunked; one to
/// an HTTP/1.0 client gets a `Content-Length` and no trailers.
#[test]
fn the_writer_sends_trailers_in_the_last_chunk() {
    let server = httptest::Server::new(|w: &mut ResponseWriter<'_>, _r: &mut Request<'_>| {
        w.header_set("Trailer", "X-Sum");
        let _ = w.write_all(b"abc");
        w.trailer_add("X-Sum", "3\r\nInjected: 1");
        w.trailer_add("Content-Length", "5");
        w.trailer_add("Bad Name", "x");
    });
    let (head, body) = raw_get(server.addr(), "/", "");
    assert_eq!(values(&head, "transfer-encoding"), ["chunked"], "{head}");
    assert!(values(&head, "content-length").is_empty(), "{head}");
    assert_eq!(body, "3\r\nabc\r\n0\r\nX-Sum: 3  Injected: 1\r\n\r\n");
    let mut c = std::net::TcpStream::connect(server.addr()).unwrap();
    c.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
    let all = read_rest(&mut c);
    assert_eq!(values(&all, "content-length"), ["3"], "{all}");
    assert!(all.ends_with("\r\n\r\nabc"), "{all}");
}

/// A backend's `103 Early Hints` reaches the client while the backend still works: the
/// backend answers only once the client saw the hints.
#[test]
fn early_hints_are_relayed_before_the_answer() {
    let (saw_hints, hints_seen) = mpsc::channel::<()>();
    let backend = raw_backend(move |s| {
        s.write_all(
            b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\
              Connection: X-Hop\r\nX-Hop: no\r\n\r\n",
        )
        .unwrap();
        let seen = hints_seen.recv_timeout(Duration::from_secs(10)).is_ok();
        let body = format!("seen={seen}");
        write!(
            s,
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
    });
    let proxy = httptest::Server::new(ReverseProxy::new(&backend));
    let mut c = std::net::TcpStream::connect(proxy.addr()).unwrap();
    c.write_all(b"GET /page HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
        .unwrap();
    let (hints, ok) = read_until(&mut c, Duration::from_secs(10), |t| t.contains("\r\n\r\n"));
    assert!(ok, "the hints within 10 s: {hints:?}");
    assert!(hints.starts_with("HTTP/1.1 103 Early Hints\r\n"), "{hints}");
    assert_eq!(values(&hints, "link"), ["</a.css>; rel=preload"]);
    assert!(values(&hints, "x-hop").is_empty() && values(&hints, "connection").is_empty());
    saw_hints.send(()).unwrap();
    let rest = read_rest(&mut c);
    let rest = rest
        .strip_prefix(hints.split_once("\r\n\r\n").unwrap().1)
        .unwrap_or(&rest);
    assert!(rest.starts_with("HTTP/1.1 200 OK\r\n"), "{rest}");
    assert!(rest.ends_with("\r\n\r\nseen=true"), "{rest}");
}

/// `Expect: 100-continue` through the proxy: the client gets one `100 Continue` (the
/// proxy's own, when it starts forwarding the body), then the backend's answer.
#[test]
fn expect_continue_through_the_proxy_gets_one_100() {
    let backend = httptest::Server::new(|w: &mut ResponseWriter<'_>, r: &mut Request<'_>| {
        let mut body = String::new();
        let _ = r.body().read_to_string(&mut body);
        let _ = write!(w, "got {body}");
    });
    let proxy = httptest::Server::new(ReverseProxy::new(backend.url()));
    let mut c = std::net::TcpStream::connect(proxy.addr()).unwrap();
    c.write_all(
        b"POST /up HTTP/1.1\r\nHost: h\r\nConnection: close\r\nExpect: 100-continue\r\n\
          Content-Length: 5\r\n\r\n",
    )
    .unwrap();
    let (first, ok) = read_until(&mut c, Duration::from_secs(10), |t| t.contains("\r\n\r\n"));
    assert!(ok && first == "HTTP/1.1 100 Continue\r\n\r\n", "{first:?}");
    c.write_all(b"hello").unwrap();
    let rest = read_rest(&mut c);
    assert!(!rest.contains(" 100 "), "one 100 Continue only: {rest}");
    assert!(
        rest.starts_with("HTTP/1.1 200 OK\r\n") && rest.ends_with("got hello"),
        "{rest}"
    );
}

/// Go's `WriteHeader(103)`: the interim answer goes out at once with the headers set so
/// far, which stay for the final answer; the client's `stream_interim` shows it.
#[test]
fn write_header_1xx_sends_an_interim_answer_and_the_client_sees_it() {
    let server = httptest::Server::new(|w: &mut ResponseWriter<'_>, _r: &mut Request<'_>| {
        w.header_set("Link", "</b.js>; rel=preload");
        w.write_header(103);
        w.header_set("Content-Type", "text/plain");
        let _ = w.write_all(b"page");
    });
    let (interim, rest) = raw_get(server.addr(), "/", "");
    let (fin, body) = rest.split_once("\r\n\r\n").expect("two heads");
    assert!(
        interim.starts_with("HTTP/1.1 103 Early Hints\r\n"),
        "{interim}"
    );
    assert_eq!(values(&interim, "link"), ["</b.js>; rel=preload"]);
    assert!(fin.starts_with("HTTP/1.1 200 OK\r\n"), "{fin}");
    assert_eq!(values(fin, "link"), ["</b.js>; rel=preload"]);
    assert_eq!(body, "page");
    let mut seen = Vec::new();
    let resp = Client::new()
        .stream_interim("GET", server.url(), &[], None, &mut |i| {
            seen.push((i.status, i.header("link").unwrap_or("-").to_string()));
            Ok(())
        })
        .unwrap();
    assert_eq!(resp.into_response().unwrap().body, b"page");
    assert_eq!(seen, [(103, "</b.js>; rel=preload".to_string())]);
    // The recorder shows the final answer, the interim one only in its raw bytes.
    let rec =
        TestRequest::new("GET", "/").record(&|w: &mut ResponseWriter<'_>, _r: &mut Request<'_>| {
            w.header_set("Link", "</c.js>; rel=preload");
            w.write_header(103);
            w.write_header(201);
            let _ = w.write_all(b"made");
        });
    assert_eq!((rec.status(), rec.body()), (201, &b"made"[..]));
    assert!(rec.raw().starts_with(b"HTTP/1.1 103 Early Hints\r\n"));
    // No interim answers to HTTP/1.0 clients, nor once the final answer began.
    let server = httptest::Server::new(|w: &mut ResponseWriter<'_>, _r: &mut Request<'_>| {
        let early = w.write_interim(103, &[("Link", "</d.js>")]).is_ok();
        let _ = w.flush();
        let late = w.write_interim(103, &[("Link", "</e.js>")]).is_ok();
        let _ = w.write_all(format!("early={early} late={late}").as_bytes());
    });
    let mut c = std::net::TcpStream::connect(server.addr()).unwrap();
    c.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
    let all = read_rest(&mut c);
    assert!(all.starts_with("HTTP/1.1 200 OK\r\n"), "{all}");
    assert!(all.ends_with("early=false late=false"), "{all}");
    let (head, body) = raw_get(server.addr(), "/", "");
    assert!(head.starts_with("HTTP/1.1 103 "), "{head}");
    assert!(
        body.ends_with("early=true late=false\r\n0\r\n\r\n"),
        "{body}"
    );
}
