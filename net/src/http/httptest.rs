//! `httptest`: handlers tested without hand-written sockets (Go's `net/http/httptest`).
//!
//! | Go `httptest` | goro-net `http::httptest` |
//! |---|---|
//! | `httptest.NewRecorder()`, `rec.Code`, `rec.Header()`, `rec.Body`, `rec.Flushed` | [`ResponseRecorder::new`], [`status`](ResponseRecorder::status), [`header`](ResponseRecorder::header), [`body`](ResponseRecorder::body), [`flushed`](ResponseRecorder::flushed) |
//! | `httptest.NewRequest(m, target, body)` | [`TestRequest::new`]`(m, target)`, [`.body(b)`](TestRequest::body) |
//! | `h.ServeHTTP(rec, req)` | [`TestRequest::record`]`(&h)`, or [`TestRequest::with`] and [`ResponseRecorder::writer`] |
//! | `httptest.NewServer(h)`, `ts.URL`, `ts.Close()` | [`Server::new`]`(h)`, [`Server::url`], drop (or [`Server::close`]) |
//!
//! **The recorder runs the real writer.** A [`ResponseWriter`] built by
//! [`ResponseRecorder::writer`] is the server's own, over an in-memory wire (`Wire::Memory`,
//! `connection.rs`): the handler's headers, status, buffering, chunking and `flush` produce
//! the bytes a client would receive, and the recorder parses them back. So what a test
//! sees is what the server sends, framing headers (`Content-Length`, `Transfer-Encoding`)
//! included, with the body decoded. A request built by [`TestRequest`] is the server's own
//! [`Request`] over the same memory: its body is served from memory and reading past it
//! finds the end.
//!
//! What cannot be done in memory fails as it would on a connection that cannot do it:
//! [`ResponseWriter::hijack`] answers `Unsupported`, as Go's recorder is not a `Hijacker`.
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use super::connection::{Memory, Wire};
use super::date::{DateCell, DATE_LEN};
use super::request::{Body, Kind, Request};
use super::response::{Out, ResponseWriter};
use super::wire::{self, Chunked, Next};
use super::Handler;
use crate::{lock, TcpListener};

/// Records what a handler answers (Go's `httptest.ResponseRecorder`): build the handler's
/// writer with [`writer`](Self::writer), then read the status, headers and decoded body.
///
/// ```
/// use std::io::Write;
/// use goro_net::http::httptest::{ResponseRecorder, TestRequest};
/// use goro_net::http::{Request, ResponseWriter};
///
/// fn greet(w: &mut ResponseWriter<'_>, r: &mut Request<'_>) {
///     w.header_set("Content-Type", "text/plain");
///     w.write_header(201);
///     let _ = write!(w, "hello {}", r.query_value("name").unwrap_or("nobody"));
/// }
///
/// let mut rec = ResponseRecorder::new();
/// TestRequest::new("GET", "/greet?name=gopher").with(|r| greet(&mut rec.writer(), r));
/// assert_eq!(rec.status(), 201);
/// assert_eq!(rec.header("content-type"), Some("text/plain"));
/// assert_eq!(rec.body_str(), "hello gopher");
/// ```
#[derive(Default)]
pub struct ResponseRecorder {
    parts: Parts,
    recorded: Recorded,
}

/// What the writer borrows.
#[derive(Default)]
struct Parts {
    mem: Memory,
    out: Out,
    hdrs: Vec<u8>,
    body: Vec<u8>,
    date: Option<[u8; DATE_LEN]>,
}

/// The parsed answer.
#[derive(Default, Debug)]
struct Recorded {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    raw: Vec<u8>,
    flushed: bool,
}

impl ResponseRecorder {
    /// An empty recorder (status 200, no headers, no body until a writer is used).
    pub fn new() -> ResponseRecorder {
        ResponseRecorder::default()
    }

    /// A writer for one handler call. The answer is complete, and this recorder's
    /// accessors show it, when the writer drops (at the end of the statement in
    /// `handler(&mut rec.writer(), r)`). A second writer records a new answer.
    pub fn writer(&mut self) -> Recording<'_> {
        let ResponseRecorder { parts, recorded } = self;
        lock(&parts.mem.written).clear();
        let date = parts.date.get_or_insert_with(|| DateCell::new().get());
        let w = ResponseWriter::new(
            &mut parts.out,
            Wire::Memory(&parts.mem),
            &mut parts.hdrs,
            &mut parts.body,
            date,
        );
        Recording {
            w,
            mem: &parts.mem,
            recorded,
        }
    }

    /// The status code sent (200 if no writer was used yet).
    pub fn status(&self) -> u16 {
        match self.recorded.status {
            0 => 200,
            s => s,
        }
    }

    /// The first value of header `name` (case-insensitive) as sent.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// Every header sent, in order, `Date`, `Content-Length` and the like included.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &str)> {
        self.recorded
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// The body, with chunked framing removed.
    pub fn body(&self) -> &[u8] {
        &self.recorded.body
    }

    /// The body as text (lossy for bytes that are not UTF-8).
    pub fn body_str(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.recorded.body)
    }

    /// The whole answer as it would go on the wire: head, framing and body.
    pub fn raw(&self) -> &[u8] {
        &self.recorded.raw
    }

    /// True if part of the answer went out before the handler returned (it flushed, or
    /// wrote more than the writer holds back; Go's `Flushed`).
    pub fn flushed(&self) -> bool {
        self.recorded.flushed
    }
}

impl std::fmt::Debug for ResponseRecorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseRecorder")
            .field("status", &self.status())
            .field("headers", &self.recorded.headers)
            .field("body_len", &self.recorded.body.len())
            .finish()
    }
}

/// A [`ResponseWriter`] recording into a [`ResponseRecorder`] (it dereferences to one, so
/// `&mut rec.writer()` is passed where a handler takes `&mut ResponseWriter`). Dropping it
/// completes the answer, as the server does when a handler returns.
pub struct Recording<'r> {
    w: ResponseWriter<'r>,
    mem: &'r Memory,
    recorded: &'r mut Recorded,
}

impl<'r> std::ops::Deref for Recording<'r> {
    type Target = ResponseWriter<'r>;
    fn deref(&self) -> &ResponseWriter<'r> {
        &self.w
    }
}

impl<'r> std::ops::DerefMut for Recording<'r> {
    fn deref_mut(&mut self) -> &mut ResponseWriter<'r> {
        &mut self.w
    }
}

impl Drop for Recording<'_> {
    fn drop(&mut self) {
        let flushed = !lock(&self.mem.written).is_empty();
        // Memory takes every write: these cannot fail.
        let _ = self.w.finish();
        let _ = self.w.flush_out();
        let raw = std::mem::take(&mut *lock(&self.mem.written));
        *self.recorded = parse(raw);
        self.recorded.flushed = flushed;
    }
}

/// Parses what the writer sent (it wrote it, so it is well formed: a problem is a bug).
/// Interim `1xx` answers before the final one are skipped (they stay in `raw`).
fn parse(raw: Vec<u8>) -> Recorded {
    let mut slots = vec![httparse::EMPTY_HEADER; 256];
    let mut start = 0;
    loop {
        let mut interim = [httparse::EMPTY_HEADER; 64];
        let mut r = httparse::Response::new(&mut interim);
        match r.parse(&raw[start..]) {
            Ok(httparse::Status::Complete(len))
                if r.code.is_some_and(|c| (100..200).contains(&c) && c != 101) =>
            {
                start += len;
            }
            _ => break,
        }
    }
    let mut resp = httparse::Response::new(&mut slots);
    let Ok(httparse::Status::Complete(head)) = resp.parse(&raw[start..]) else {
        panic!("goro: httptest could not parse the writer's own answer");
    };
    let head = start + head;
    let headers: Vec<(String, String)> = resp
        .headers
        .iter()
        .map(|h| {
            let v = String::from_utf8_lossy(h.value).into_owned();
            (h.name.to_string(), v)
        })
        .collect();
    let chunked = headers
        .iter()
        .any(|(n, v)| n.eq_ignore_ascii_case("transfer-encoding") && v == "chunked");
    let mut rest = &raw[head..];
    let body = if chunked {
        let (mut dec, mut body) = (Chunked::new(), Vec::new());
        while let Ok((used, next)) = dec.advance(rest) {
            rest = &rest[used..];
            let Next::Data(left) = next else { break };
            let n = rest.len().min(usize::try_from(left).unwrap_or(usize::MAX));
            if n == 0 {
                break;
            }
            body.extend_from_slice(&rest[..n]);
            rest = &rest[n..];
            dec.took(n as u64);
        }
        body
    } else {
        rest.to_vec()
    };
    Recorded {
        status: resp.code.unwrap_or(200),
        headers,
        body,
        raw,
        flushed: false,
    }
}

/// A request built in memory for a handler call (Go's `httptest.NewRequest`): method,
/// target, headers, body. Its [`Request`] comes from [`with`](Self::with), or the handler
/// is run on it by [`record`](Self::record).
///
/// The host is the target's (`http://host/path`), else the `Host` header's, else
/// `example.com`; the client address is `192.0.2.1:1234`, as in Go.
///
/// ```
/// use std::io::{Read, Write};
/// use goro_net::http::httptest::TestRequest;
/// use goro_net::http::{Request, ResponseWriter};
///
/// let upper = |w: &mut ResponseWriter<'_>, r: &mut Request<'_>| {
///     let mut body = String::new();
///     r.body().read_to_string(&mut body).unwrap();
///     w.header_set("X-Method", r.method());
///     let _ = w.write_all(body.to_uppercase().as_bytes());
/// };
/// let rec = TestRequest::new("POST", "/shout")
///     .header("Content-Type", "text/plain")
///     .body("quiet please")
///     .record(&upper);
/// assert_eq!(rec.status(), 200);
/// assert_eq!(rec.header("x-method"), Some("POST"));
/// assert_eq!(rec.body_str(), "QUIET PLEASE");
/// ```
#[derive(Clone, Debug)]
pub struct TestRequest {
    method: String,
    target: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
    remote: SocketAddr,
}

impl TestRequest {
    /// A request for `target` (`/path?query`, `http://host/path`, `*` for `OPTIONS`,
    /// `host:port` for `CONNECT`), without headers or body.
    ///
    /// # Panics
    ///
    /// If `target` is not a request target the server would accept for `method`, as Go's
    /// `NewRequest` panics on a target it cannot parse.
    pub fn new(method: &str, target: &str) -> TestRequest {
        assert!(
            wire::target(method, target).is_some(),
            "httptest: {target:?} is not a request target for {method}"
        );
        TestRequest {
            method: method.to_string(),
            target: target.to_string(),
            headers: Vec::new(),
            body: Vec::new(),
            remote: SocketAddr::from(([192, 0, 2, 1], 1234)),
        }
    }

    /// Adds a header line.
    pub fn header(mut self, name: &str, value: impl AsRef<[u8]>) -> TestRequest {
        self.headers
            .push((name.to_string(), value.as_ref().to_vec()));
        self
    }

    /// Sets the body (its length is the request's `Content-Length`).
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> TestRequest {
        self.body = body.into();
        self
    }

    /// Sets the client's address ([`Request::remote_addr`]).
    pub fn remote_addr(mut self, addr: SocketAddr) -> TestRequest {
        self.remote = addr;
        self
    }

    /// Calls `f` with the request, as a handler would get it.
    pub fn with<R>(&self, f: impl FnOnce(&mut Request<'_>) -> R) -> R {
        let headers: Vec<httparse::Header<'_>> = self
            .headers
            .iter()
            .map(|(n, v)| httparse::Header { name: n, value: v })
            .collect();
        let (mut host, mut routed) = ("example.com", self.target.as_str());
        if let Some(h) = super::request::find_header(&headers, "host") {
            host = std::str::from_utf8(h).unwrap_or(host);
        }
        if let Some(wire::Target::Absolute { authority, rest }) =
            wire::target(&self.method, &self.target)
        {
            (host, routed) = (authority, rest);
        }
        let mem = Memory::default();
        let mut r = Request {
            method: &self.method,
            target: &self.target,
            routed,
            host,
            minor: 1,
            headers: &headers,
            remote: self.remote,
            body: Body::new(
                Kind::Length(self.body.len() as u64),
                &self.body,
                Wire::Memory(&mem),
                u64::MAX,
                false,
            ),
            path_values: Vec::new(),
            form: None,
            ctx: Default::default(),
        };
        f(&mut r)
    }

    /// Runs `handler` on the request and returns what it answered (Go's
    /// `h.ServeHTTP(rec, req)`).
    pub fn record<H: Handler + ?Sized>(&self, handler: &H) -> ResponseRecorder {
        let mut rec = ResponseRecorder::new();
        self.with(|r| handler.serve_http(&mut rec.writer(), r));
        rec
    }
}

/// A real server on a free port of 127.0.0.1 for the length of a test (Go's
/// `httptest.NewServer`): dropping it shuts it down (a 5 s grace for requests in flight).
///
/// ```
/// use std::io::Write;
/// use goro_net::http::{httptest, Client, Request, ResponseWriter};
///
/// let ts = httptest::Server::new(|w: &mut ResponseWriter<'_>, r: &mut Request<'_>| {
///     let _ = write!(w, "you asked for {}", r.path());
/// });
/// let resp = Client::new().get(&format!("{}/thing", ts.url())).unwrap();
/// assert_eq!(resp.status, 200);
/// assert_eq!(resp.body, b"you asked for /thing");
/// ```
pub struct Server {
    server: super::Server,
    addr: SocketAddr,
    url: String,
    serving: Option<goro::JoinHandle<io::Result<()>>>,
}

impl Server {
    /// Serves `handler` with the default settings.
    ///
    /// # Panics
    ///
    /// If no port of 127.0.0.1 can be bound (a test cannot go on without one).
    pub fn new(handler: impl Handler) -> Server {
        Server::start(super::Server::new(handler))
    }

    /// Serves a server built with [`Server::builder`](super::Server::builder) (Go's
    /// `NewUnstartedServer` with `Config` set, then `Start`).
    ///
    /// # Panics
    ///
    /// If no port of 127.0.0.1 can be bound.
    pub fn start(server: super::Server) -> Server {
        let ln = TcpListener::bind("127.0.0.1:0").expect("httptest: bind 127.0.0.1:0");
        let addr = ln.local_addr().expect("httptest: the listener's address");
        let s = server.clone();
        let serving = goro::spawn(move || s.serve(ln));
        Server {
            server,
            addr,
            url: format!("http://{addr}"),
            serving: Some(serving),
        }
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash (Go's `URL`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The server itself (its [`stats`](super::Server::stats), an early
    /// [`shutdown`](super::Server::shutdown)).
    pub fn server(&self) -> &super::Server {
        &self.server
    }

    /// Shuts down as a drop does, and says whether everything in flight finished within
    /// the grace.
    pub fn close(mut self) -> bool {
        self.stop()
    }

    fn stop(&mut self) -> bool {
        let Some(serving) = self.serving.take() else {
            return true;
        };
        let clean = self.server.shutdown(Duration::from_secs(5));
        if let Ok(Err(e)) = serving.join() {
            tracing::debug!(error = %e, "goro-net httptest: the server stopped with an error");
        }
        clean
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("httptest::Server")
            .field("url", &self.url)
            .finish()
    }
}
