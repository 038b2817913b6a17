//! `http::ReverseProxy` against real backends: headers both ways (hop-by-hop, X-Forwarded-For,
//! `Date` and `Server` once), the hooks, errors, and streaming with flushes.
use std::io::{BufRead, BufReader, Read, Write};
use std::sync::mpsc;
use std::time::Duration;

use goro_net::http::httptest::{self, TestRequest};
use goro_net::http::{Client, Request, ResponseWriter, ReverseProxy};

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
    let first_seen = std::sync::Mutex::new(first_seen);
    let backend = httptest::Server::new(move |w: &mut ResponseWriter<'_>, _r: &mut Request<'_>| {
        w.header_set("Content-Type", "text/event-stream");
        let _ = w.write_all(b"data: one\n\n");
        let _ = w.flush();
        let seen = first_seen
            .lock()
            .unwrap()
            .recv_timeout(Duration::from_secs(10))
            .is_ok();
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
