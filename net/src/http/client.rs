//! [`Client`]: HTTP/1.1 requests with keep-alive connections pooled per host.
use std::collections::HashMap;
use std::fmt;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::os::fd::AsRawFd;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::pipeline::{Lanes, Outcome};
use super::redirect;
use super::streaming::StreamingResponse;
use super::wire::{self, Chunked, Next};
use crate::connpool::{self, Pool, PooledConn};
use crate::pool::{self, PooledBuf};
use crate::{lock, TcpStream};

/// Configures a [`Client`] (Go's `http.Transport` settings).
#[derive(Clone, Debug)]
pub struct ClientBuilder {
    connect_timeout: Duration,
    timeout: Option<Duration>,
    read_timeout: Option<Duration>,
    write_timeout: Option<Duration>,
    pub(super) idle_timeout: Option<Duration>,
    pub(super) max_idle_per_host: usize,
    pub(super) max_active_per_host: usize,
    pub(super) pipeline: usize,
    pub(super) max_body_bytes: u64,
    max_redirects: usize,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        ClientBuilder {
            connect_timeout: Duration::from_secs(5),
            timeout: None,
            read_timeout: Some(Duration::from_secs(30)),
            write_timeout: Some(Duration::from_secs(30)),
            idle_timeout: Some(Duration::from_secs(90)),
            max_idle_per_host: 32,
            max_active_per_host: 0,
            pipeline: 1,
            max_body_bytes: 64 << 20,
            max_redirects: 10,
        }
    }
}

impl ClientBuilder {
    /// How long a TCP connect may take (default 5 s).
    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.connect_timeout = d;
        self
    }

    /// How long a whole request may take, from the call until the last byte of the answer
    /// (Go's `Client.Timeout`; default `None`: no limit beyond the per-step timeouts). It
    /// bounds the wait for a free connection, the connect, the write and every read; a
    /// request still unanswered then fails with [`io::ErrorKind::TimedOut`]. (Resolving the
    /// host name is the one step it cannot cut short.)
    ///
    /// The per-step timeouts alone do not bound a request: a server that sends one byte of
    /// its answer per read timeout keeps the caller forever.
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// let client = goro_net::http::Client::builder().timeout(Duration::from_secs(10)).build();
    /// match client.get("http://127.0.0.1:8080/slow") {
    ///     Err(e) if e.kind() == std::io::ErrorKind::TimedOut => eprintln!("gave up: {e}"),
    ///     other => println!("{:?}", other.map(|r| r.status)),
    /// }
    /// ```
    pub fn timeout(mut self, d: impl Into<Option<Duration>>) -> Self {
        self.timeout = d.into();
        self
    }

    /// How long any one read of the response may wait (default 30 s; `None`: forever).
    pub fn read_timeout(mut self, d: impl Into<Option<Duration>>) -> Self {
        self.read_timeout = d.into();
        self
    }

    /// How long any one write of the request may wait (default 30 s).
    pub fn write_timeout(mut self, d: impl Into<Option<Duration>>) -> Self {
        self.write_timeout = d.into();
        self
    }

    /// Idle keep-alive connections older than this are not reused (default 90 s).
    pub fn idle_timeout(mut self, d: impl Into<Option<Duration>>) -> Self {
        self.idle_timeout = d.into();
        self
    }

    /// Idle connections kept per host (default 32); with [`pipeline`](Self::pipeline), also
    /// idle pipelined connections per host.
    pub fn max_idle_per_host(mut self, n: usize) -> Self {
        self.max_idle_per_host = n;
        self
    }

    /// Connections open at once per host; more requests wait (default 0: no limit). With
    /// [`pipeline`](Self::pipeline), also the most pipelined connections per host (counted
    /// apart from the pool's): at the limit, requests join their worker's least busy one even
    /// past the depth, or wait for the pool if their worker has none.
    pub fn max_active_per_host(mut self, n: usize) -> Self {
        self.max_active_per_host = n;
        self
    }

    /// Largest response body the client reads (default 64 MiB; `u64::MAX`: no limit). The
    /// whole body is held in memory ([`ClientResponse::body`]), so this is what a server can
    /// make the client allocate. A longer answer, declared or sent, fails the request with
    /// [`io::ErrorKind::InvalidData`] and its connection is closed.
    pub fn max_body_bytes(mut self, n: u64) -> Self {
        self.max_body_bytes = n;
        self
    }

    /// Most redirects one request follows (default 10, as Go's client; 0: none, the `3xx`
    /// answer is returned as it is, like Go's `http.ErrUseLastResponse`). Past the limit
    /// the request fails with [`io::ErrorKind::Other`]. What a redirect changes in the next
    /// request (method, body, headers) is Go's rule: see the table in the [`Client`] docs.
    ///
    /// ```
    /// use std::io::Write;
    /// use goro_net::{http, TcpListener};
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    /// let addr = listener.local_addr().unwrap();
    /// let server = http::Server::new(|w: &mut http::ResponseWriter<'_>, r: &mut http::Request<'_>| {
    ///     if r.path() == "/old" {
    ///         w.header_set("Location", "/new");
    ///         w.write_header(301);
    ///     } else {
    ///         let _ = write!(w, "{} {}", r.method(), r.path());
    ///     }
    /// });
    /// let s = server.clone();
    /// goro::spawn(move || s.serve(listener));
    ///
    /// let url = format!("http://{addr}/old");
    /// let followed = http::Client::new().post(&url, "text/plain", b"x").unwrap();
    /// assert_eq!(followed.body, b"GET /new"); // a 301 turns a POST into a GET
    /// let not = http::Client::builder().max_redirects(0).build().get(&url).unwrap();
    /// assert_eq!((not.status, not.header("location")), (301, Some("/new")));
    /// server.shutdown(std::time::Duration::from_secs(1));
    /// ```
    pub fn max_redirects(mut self, n: usize) -> Self {
        self.max_redirects = n;
        self
    }

    /// HTTP/1.1 pipelining: up to `depth` GET and HEAD requests without a body in flight at
    /// once on one keep-alive connection (default 1: off).
    ///
    /// Requests made by coroutines of one worker in the same scheduling round go out in one
    /// write, the server can answer them with one write, and one read brings the answers
    /// back: for a proxy that is two syscalls per batch instead of two per request. The
    /// cost is head-of-line blocking: a slow answer delays the ones queued behind it on
    /// its connection. So requests queue behind others only on a connection whose answers
    /// come back within 10 ms; to a slow backend each connection carries one request at a
    /// time, as without pipelining. A request whose connection fails before its answer
    /// began is sent again through the pool (GET and HEAD are idempotent). Other methods,
    /// requests with a body, and requests from plain threads never pipeline. Turn it on
    /// only for servers known to handle pipelining (RFC 9112 §9.3.2 requires it of every
    /// HTTP/1.1 server, but not every one gets it right).
    ///
    /// ```
    /// use std::io::Write;
    /// use goro_net::{http, TcpListener};
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    /// let addr = listener.local_addr().unwrap();
    /// let server = http::Server::new(|w: &mut http::ResponseWriter<'_>, r: &mut http::Request<'_>| {
    ///     let _ = write!(w, "{}", r.path());
    /// });
    /// let s = server.clone();
    /// goro::spawn(move || s.serve(listener));
    ///
    /// let client = http::Client::builder().pipeline(8).build();
    /// let calls: Vec<_> = (0..32)
    ///     .map(|i| {
    ///         let client = client.clone();
    ///         goro::spawn(move || client.get(&format!("http://{addr}/{i}")).unwrap().body)
    ///     })
    ///     .collect();
    /// for (i, call) in calls.into_iter().enumerate() {
    ///     assert_eq!(call.join().unwrap(), format!("/{i}").into_bytes()); // each its own answer
    /// }
    /// server.shutdown(std::time::Duration::from_secs(1));
    /// ```
    pub fn pipeline(mut self, depth: usize) -> Self {
        self.pipeline = depth.max(1);
        self
    }

    /// The client.
    pub fn build(self) -> Client {
        Client {
            cfg: Arc::new(self),
            hosts: Arc::new(Mutex::new(HashMap::new())),
        }
    }
}

/// An HTTP/1.1 client with a keep-alive [`connpool`] per `host:port` (Go's `http.Client`).
/// Cheap to clone; clones share the pools. `http://` URLs only.
///
/// Like Go's client it follows redirects ([`ClientBuilder::max_redirects`]): a `301`, `302`,
/// `303`, `307` or `308` answer with a `Location` (absolute or relative) is followed, and
/// the caller gets the last answer.
///
/// | status | next method | next body |
/// |---|---|---|
/// | 301, 302, 303 | `GET` (`HEAD` stays `HEAD`) | none, and no `Content-Type` |
/// | 307, 308 | the same | the same |
///
/// The caller's other headers go along, but not to another `host:port` than the first
/// request's: there `Authorization`, `Cookie`, `Cookie2`, `Www-Authenticate`,
/// `Proxy-Authorization` and a caller's `Host` are left out. A redirect to anything but
/// `http://` fails with [`io::ErrorKind::InvalidInput`].
///
/// ```
/// use std::io::Write;
/// use goro_net::{http, TcpListener};
///
/// let listener = TcpListener::bind("127.0.0.1:0").unwrap();
/// let addr = listener.local_addr().unwrap();
/// let server = http::Server::new(|w: &mut http::ResponseWriter<'_>, r: &mut http::Request<'_>| {
///     let _ = write!(w, "you asked for {}", r.path());
/// });
/// let s = server.clone();
/// goro::spawn(move || s.serve(listener));
///
/// let client = http::Client::new();
/// for _ in 0..3 {
///     let resp = client.get(&format!("http://{addr}/x")).unwrap();
///     assert_eq!(resp.status, 200);
///     assert_eq!(resp.body, b"you asked for /x");
/// }
/// assert_eq!(client.pool_stats().dials, 1); // one keep-alive connection served all three
/// server.shutdown(std::time::Duration::from_secs(1));
/// ```
#[derive(Clone, Debug)]
pub struct Client {
    cfg: Arc<ClientBuilder>,
    hosts: Arc<Mutex<HashMap<String, Arc<Host>>>>,
}

/// The connections to one `host:port`: the keep-alive pool, and the pipelined connections.
#[derive(Debug)]
pub(super) struct Host {
    pool: Pool<TcpStream>,
    lanes: Lanes,
}

/// A complete response read by the [`Client`].
///
/// ```no_run
/// let resp = goro_net::http::Client::new().get("http://127.0.0.1:8080/")?;
/// assert_eq!(resp.status, 200);
/// let kind = resp.header("content-type").unwrap_or("?");
/// for (name, value) in resp.headers() {
///     println!("{name}: {value}");
/// }
/// println!("{kind}, {} bytes", resp.body.len());
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Default)]
pub struct ClientResponse {
    /// Status code.
    pub status: u16,
    /// The whole body (chunked framing removed).
    pub body: Vec<u8>,
    /// Every header name and value, back to back: two allocations per response (this and
    /// `spans`) rather than two per header.
    text: String,
    /// Per header, in order: where its name starts, where it ends (and its value starts), and
    /// where its value ends, in `text`.
    spans: Vec<[u32; 3]>,
    /// The URL that gave this answer, if redirects led to it.
    url: Option<String>,
}

impl ClientResponse {
    /// The URL this answer came from when the client followed redirects to it (Go's
    /// `resp.Request.URL`); `None` when it answers the URL that was asked for.
    pub fn redirected_to(&self) -> Option<&str> {
        self.url.as_deref()
    }

    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// Every header in order, as sent, as `(name, value)`. A value that is not UTF-8 has its
    /// bad bytes replaced by U+FFFD.
    pub fn headers(&self) -> impl ExactSizeIterator<Item = (&str, &str)> + '_ {
        self.spans.iter().map(|&[lo, mid, hi]| {
            let (lo, mid, hi) = (lo as usize, mid as usize, hi as usize);
            (&self.text[lo..mid], &self.text[mid..hi])
        })
    }

    /// Appends a header (how the client fills a response in; also for building one by hand,
    /// e.g. in a test of code that takes a `ClientResponse`).
    ///
    /// # Panics
    /// If the headers would total 4 GiB or more (a response head the client reads is capped
    /// at 64 KiB).
    pub fn push_header(&mut self, name: &str, value: &str) {
        let at = |len: usize| u32::try_from(len).expect("ClientResponse headers over 4 GiB");
        let lo = at(self.text.len());
        let mid = at(lo as usize + name.len());
        let hi = at(mid as usize + value.len());
        self.text.push_str(name);
        self.text.push_str(value);
        self.spans.push([lo, mid, hi]);
    }
}

impl fmt::Debug for ClientResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientResponse")
            .field("status", &self.status)
            .field("headers", &self.headers().collect::<Vec<_>>())
            .field("body", &format_args!("{} bytes", self.body.len()))
            .finish()
    }
}

impl Default for Client {
    fn default() -> Self {
        Client::new()
    }
}

impl Client {
    /// A client with the default timeouts.
    pub fn new() -> Client {
        ClientBuilder::default().build()
    }

    /// A builder.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// `GET url`.
    pub fn get(&self, url: &str) -> io::Result<ClientResponse> {
        self.request("GET", url, &[], &[])
    }

    /// `POST url` with a body of `content_type`.
    pub fn post(&self, url: &str, content_type: &str, body: &[u8]) -> io::Result<ClientResponse> {
        self.request("POST", url, &[("Content-Type", content_type)], body)
    }

    /// Sends any request. `headers` are added as given (a `Host` there replaces the one from
    /// the URL). Timeouts fail with `TimedOut` (the whole request's, if one is set: see
    /// [`ClientBuilder::timeout`]); a refused connection with its OS error.
    pub fn request(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> io::Result<ClientResponse> {
        self.redirected((method, url, headers, body), true, |(m, u, h, b), by| {
            self.once(m, u, h, b, by)
        })
    }

    /// Sends any request, as [`request`](Self::request) does, but returns once the answer's
    /// head is in: the body is read from the [`StreamingResponse`] as it arrives, without
    /// the [`max_body_bytes`](ClientBuilder::max_body_bytes) limit (Go's `resp.Body`). For
    /// downloads larger than memory, and for answers that never end (event streams).
    ///
    /// A streamed request never pipelines. Read the body to its end for the connection to
    /// be reused; dropping the response early closes it. The whole-request
    /// [`timeout`](ClientBuilder::timeout) still bounds every read of the body.
    pub fn stream(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> io::Result<StreamingResponse> {
        self.redirected((method, url, headers, body), true, |(m, u, h, b), by| {
            let (authority, head) = request_head(m, u, h, Payload::Bytes(b))?;
            let host = self.host(authority);
            ask(&host, &head, m == "HEAD", by, None).map(StreamingResponse::new)
        })
    }

    /// [`stream`](Self::stream) with the request's body read from `body` as it is sent
    /// (Go's `http.NewRequest(method, url, body)` with a reader): `length` bytes with a
    /// `Content-Length`, or, if `None`, however many the reader gives, sent chunked. A
    /// reader that gives fewer bytes than `length`, or more, fails the request with
    /// [`io::ErrorKind::InvalidInput`], and nothing of it is taken for complete.
    ///
    /// The body can be sent once: a request that fails after its first byte was read is
    /// not sent again, and a `307`/`308` redirect (which would need the body again) is
    /// returned as it is; `301`, `302` and `303` are followed with a `GET`.
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// use goro_net::{http, TcpListener};
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    /// let addr = listener.local_addr().unwrap();
    /// let server = http::Server::new(|w: &mut http::ResponseWriter<'_>, r: &mut http::Request<'_>| {
    ///     let mut n = 0;
    ///     let mut buf = [0u8; 8192];
    ///     while let Ok(k @ 1..) = r.body().read(&mut buf) {
    ///         n += k;
    ///     }
    ///     let _ = write!(w, "got {n} bytes");
    /// });
    /// let s = server.clone();
    /// goro::spawn(move || s.serve(listener));
    ///
    /// // 5 MB that never sit in memory at once: a reader of zeros, sent chunked.
    /// let mut zeros = std::io::repeat(0).take(5_000_000);
    /// let url = format!("http://{addr}/upload");
    /// let resp = http::Client::new().stream_from("PUT", &url, &[], &mut zeros, None).unwrap();
    /// assert_eq!(resp.into_response().unwrap().body, b"got 5000000 bytes");
    /// server.shutdown(std::time::Duration::from_secs(1));
    /// ```
    pub fn stream_from(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: &mut dyn Read,
        length: Option<u64>,
    ) -> io::Result<StreamingResponse> {
        let mut reader = Some(body);
        self.redirected((method, url, headers, &[]), false, |(m, u, h, b), by| {
            let (payload, upload) = match reader.take() {
                Some(r) => (Payload::Reader(length), Some((r, length))),
                None => (Payload::Bytes(b), None),
            };
            let (authority, head) = request_head(m, u, h, payload)?;
            let host = self.host(authority);
            ask(&host, &head, m == "HEAD", by, upload).map(StreamingResponse::new)
        })
    }

    /// Sends `req` with `send`, following redirects (see the type's docs) within the
    /// whole-request timeout. Without `resends` (the body cannot be sent twice), a redirect
    /// that keeps the body ends the chain: its answer is the caller's.
    fn redirected<'r, R: Redirectable>(
        &self,
        req: Req<'r>,
        resends: bool,
        mut send: impl FnMut(Req<'_>, Option<Instant>) -> io::Result<R>,
    ) -> io::Result<R> {
        let deadline = self.cfg.timeout.and_then(|t| Instant::now().checked_add(t));
        let timed_out = |e: io::Error| match deadline {
            Some(d) if e.kind() == io::ErrorKind::TimedOut && Instant::now() >= d => {
                io::Error::new(
                    io::ErrorKind::TimedOut,
                    "goro-net http: request timed out (ClientBuilder::timeout)",
                )
            }
            _ => e,
        };
        let (method, url, headers, body) = req;
        let mut resp = send(req, deadline).map_err(timed_out)?;
        if self.cfg.max_redirects == 0 {
            return Ok(resp);
        }
        let (mut method, mut body, mut to_get) = (method, body, false);
        let first_host = redirect::authority(url);
        let mut hops = 0;
        // The URL that gave `resp`, once it is not `url`.
        let mut at: Option<String> = None;
        loop {
            let (status, location) = resp.status_and_location();
            let next = redirect::next(at.as_deref().unwrap_or(url), status, location);
            let hop = match next {
                Some(hop) if resends || to_get || hop.as_ref().is_ok_and(|h| h.to_get) => hop?,
                _ => {
                    if let Some(at) = at {
                        resp.set_url(at);
                    }
                    return Ok(resp);
                }
            };
            if hops == self.cfg.max_redirects {
                return Err(io::Error::other(format!(
                    "goro-net http: stopped after {hops} redirects (ClientBuilder::max_redirects)"
                )));
            }
            hops += 1;
            if hop.to_get {
                to_get = true;
                body = &[];
                if method != "HEAD" {
                    method = "GET";
                }
            }
            let other_host = redirect::authority(&hop.url) != first_host;
            let kept: Vec<(&str, &str)> = headers
                .iter()
                .filter(|(n, _)| redirect::keeps(n, other_host, to_get))
                .copied()
                .collect();
            tracing::debug!(url = %hop.url, method, "http client: following a redirect");
            drop(resp);
            resp = send((method, &hop.url, &kept, body), deadline).map_err(timed_out)?;
            at = Some(hop.url);
        }
    }

    /// One request and its answer, no redirect followed.
    fn once(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        deadline: Option<Instant>,
    ) -> io::Result<ClientResponse> {
        let (authority, head) = request_head(method, url, headers, Payload::Bytes(body))?;
        let host = self.host(authority);
        self.send(&host, authority, method, &head, body.is_empty(), deadline)
    }

    /// Sends the request `head` (its body included) and reads the answer, by `deadline`.
    fn send(
        &self,
        host: &Host,
        authority: &str,
        method: &str,
        head: &[u8],
        no_body: bool,
        deadline: Option<Instant>,
    ) -> io::Result<ClientResponse> {
        let cfg = &*self.cfg;
        if cfg.pipeline > 1 && no_body && matches!(method, "GET" | "HEAD") {
            if let Some(worker) = goro::worker_index() {
                let dial = || dial(authority, cfg, deadline);
                match host
                    .lanes
                    .request(worker, head, method == "HEAD", cfg, deadline, dial)
                {
                    Outcome::Done(resp) => return Ok(resp),
                    Outcome::Failed(e) => return Err(e),
                    Outcome::Retry => {} // through the pool instead
                }
            }
        }
        let Answer {
            mut conn,
            mut resp,
            keep,
            framing,
            buf: (buf, pos, end),
        } = ask(host, head, method == "HEAD", deadline, None)?;
        let mut src = Src::new(&conn, buf, pos, end, cfg.max_body_bytes);
        let body = read_body(&mut src, framing, &mut resp.body);
        // Bytes after the answer were not asked for: the connection is out of step.
        if !(keep && matches!(body, Ok(true)) && src.pos == src.end) {
            conn.discard();
        }
        body.map(|_| resp)
    }

    /// Connection counters summed over every host, pipelined connections included (a
    /// pipelined connection is `active` while it has requests in flight).
    pub fn pool_stats(&self) -> connpool::Stats {
        let hosts = lock(&self.hosts);
        let mut t = connpool::Stats::default();
        for h in hosts.values() {
            for s in [h.pool.stats(), h.lanes.stats()] {
                t.idle += s.idle;
                t.active += s.active;
                t.waits += s.waits;
                t.dials += s.dials;
                t.discarded += s.discarded;
            }
        }
        t
    }

    fn host(&self, authority: &str) -> Arc<Host> {
        let mut hosts = lock(&self.hosts);
        if let Some(h) = hosts.get(authority) {
            return h.clone();
        }
        let cfg = self.cfg.clone();
        let name = authority.to_string();
        let pool = Pool::builder()
            .max_idle(cfg.max_idle_per_host)
            .max_active(cfg.max_active_per_host)
            .idle_timeout(cfg.idle_timeout)
            .test_on_checkout(|c: &mut TcpStream, _| alive(c))
            .prefer(TcpStream::polled_here)
            .watch_idle(|c: &TcpStream| c)
            .build_with_deadline(move |by| dial(&name, &cfg, by));
        let h = Arc::new(Host {
            pool,
            lanes: Lanes::default(),
        });
        hosts.insert(authority.to_string(), h.clone());
        h
    }
}

/// What the redirect loop needs of an answer, held or streamed.
pub(super) trait Redirectable {
    /// The status and the `Location` header.
    fn status_and_location(&self) -> (u16, Option<&str>);
    /// Records the URL the answer came from, after redirects.
    fn set_url(&mut self, url: String);
}

impl Redirectable for ClientResponse {
    fn status_and_location(&self) -> (u16, Option<&str>) {
        (self.status, self.header("location"))
    }

    fn set_url(&mut self, url: String) {
        self.url = Some(url);
    }
}

/// A request as the caller gave it: method, URL, headers, body.
type Req<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)], &'a [u8]);

/// What follows a request's head.
#[derive(Clone, Copy, Debug)]
enum Payload<'b> {
    /// These bytes, sent with the head.
    Bytes(&'b [u8]),
    /// A body copied from a reader after the head: this many bytes, or chunked if unknown.
    Reader(Option<u64>),
}

/// The bytes of a request for `url` (its head, and a `Bytes` payload), and the `host:port`
/// to send them to. The client frames the body itself: the caller's `Content-Length` and
/// `Transfer-Encoding` headers are left out.
fn request_head<'u>(
    method: &str,
    url: &'u str,
    headers: &[(&str, &str)],
    payload: Payload<'_>,
) -> io::Result<(&'u str, Vec<u8>)> {
    let (authority, target) = split_url(url)?;
    check_fields(method, headers)?;
    let body = match payload {
        Payload::Bytes(b) => b,
        Payload::Reader(_) => &[],
    };
    let mut head = Vec::with_capacity(256 + body.len());
    // `http://h?q` asks for `/?q`.
    let slash = if target.starts_with('?') { "/" } else { "" };
    for part in [method, " ", slash, target, " HTTP/1.1\r\n"] {
        head.extend_from_slice(part.as_bytes());
    }
    let mut field = |n: &str, v: &str| {
        for part in [n, ": ", v, "\r\n"] {
            head.extend_from_slice(part.as_bytes());
        }
    };
    if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("host")) {
        field("Host", authority);
    }
    for (n, v) in headers {
        if !n.eq_ignore_ascii_case("content-length") && !n.eq_ignore_ascii_case("transfer-encoding")
        {
            field(n, v);
        }
    }
    let length = match payload {
        Payload::Reader(None) => {
            field("Transfer-Encoding", "chunked");
            None
        }
        Payload::Reader(Some(n)) => Some(n),
        Payload::Bytes(b) => (!b.is_empty()
            || !matches!(method, "GET" | "HEAD" | "DELETE" | "OPTIONS"))
        .then_some(b.len() as u64),
    };
    if let Some(n) = length {
        let mut digits = [0u8; 20];
        let len = super::response::itoa(n, &mut digits);
        field(
            "Content-Length",
            std::str::from_utf8(len).expect("ASCII digits"),
        );
    }
    head.extend_from_slice(b"\r\n");
    head.extend_from_slice(body);
    Ok((authority, head))
}

/// Connects to `authority`, within the connect timeout and by `deadline`.
fn dial(authority: &str, cfg: &ClientBuilder, deadline: Option<Instant>) -> io::Result<TcpStream> {
    let host = authority.to_string();
    let addrs: Vec<SocketAddr> =
        goro::blocking(move || host.to_socket_addrs().map(Iterator::collect))?;
    let mut last = io::Error::new(io::ErrorKind::InvalidInput, "goro-net http: no address");
    for a in addrs {
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        if left == Some(Duration::ZERO) {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "goro-net http: no time left to connect",
            ));
        }
        let timeout = left.map_or(cfg.connect_timeout, |l| l.min(cfg.connect_timeout));
        match TcpStream::connect_timeout(&a, timeout) {
            Ok(s) => {
                let _ = s.set_nodelay(true);
                s.set_read_timeout(cfg.read_timeout)?;
                s.set_write_timeout(cfg.write_timeout)?;
                return Ok(s);
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// An idle keep-alive socket is usable if reading it would block: no EOF, no stray bytes.
/// The poller usually knows that already (no read edge since the last response was read);
/// otherwise a non-blocking peek asks the kernel.
pub(super) fn alive(c: &TcpStream) -> bool {
    if c.read_would_park() {
        return true;
    }
    let mut b = [0u8; 1];
    // SAFETY: `b` is a live one-byte buffer; the fd is open while `c` is borrowed.
    let r = unsafe {
        libc::recv(
            c.as_raw_fd(),
            b.as_mut_ptr().cast(),
            1,
            libc::MSG_PEEK | libc::MSG_DONTWAIT,
        )
    };
    r < 0 && io::Error::last_os_error().kind() == io::ErrorKind::WouldBlock
}

/// `http://host[:port]/path?q` -> (`host:port`, `/path?q`); `http://host?q` -> (`host`, `?q`).
fn split_url(url: &str) -> io::Result<(&str, &str)> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| invalid("only http:// URLs"))?;
    let (auth, target) = match rest.find(['/', '?']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if auth.is_empty() {
        return Err(invalid("URL without a host"));
    }
    if !auth.bytes().chain(target.bytes()).all(is_visible) {
        return Err(invalid("space or control character in the URL"));
    }
    Ok((auth, target))
}

/// Refuses what would let a caller's strings change the request's framing: a method or
/// header name that is not an HTTP token, a header value with CR, LF or NUL (Go's client
/// refuses the same).
fn check_fields(method: &str, headers: &[(&str, &str)]) -> io::Result<()> {
    if !is_token(method) {
        return Err(invalid("method is not an HTTP token"));
    }
    for (n, v) in headers {
        if !is_token(n) {
            return Err(invalid(&format!("header name {n:?} is not an HTTP token")));
        }
        if v.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0)) {
            return Err(invalid(&format!(
                "CR, LF or NUL in the value of header {n}"
            )));
        }
    }
    Ok(())
}

/// RFC 9110 `token`: one or more of the visible ASCII characters but separators.
pub(super) fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// A byte a URL may carry as is in a request line: not a space, control or DEL.
fn is_visible(b: u8) -> bool {
    b > b' ' && b != 0x7f
}

fn invalid(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, format!("goro-net http: {msg}"))
}

/// First size of a response buffer (pooled: no allocation or zeroing per request).
pub(super) const RESP_BUF: usize = 8192;
/// Largest response head accepted.
const MAX_RESP_HEAD: usize = 64 << 10;
/// Most `1xx` interim answers skipped before the real one (Go's client allows 5).
const MAX_INTERIM: usize = 8;
/// Most body memory reserved ahead of the bytes arriving.
const PREALLOC_MAX: usize = 1 << 20;

/// An answer whose head has been read, on its pooled connection.
pub(super) struct Answer {
    pub(super) conn: PooledConn<TcpStream>,
    /// Without its body.
    pub(super) resp: ClientResponse,
    /// The server lets the connection stay open.
    pub(super) keep: bool,
    pub(super) framing: Framing,
    /// The read buffer, and the unread bytes in it (the start of the body).
    pub(super) buf: (PooledBuf, usize, usize),
}

/// Sends `head` (a whole request) on a pooled connection of `host` and reads the answer's
/// head, by `deadline`.
///
/// A reused connection may have been closed by the server meanwhile: if it fails before
/// any byte of the answer came, the request goes again on the next one. Each failed
/// connection is discarded, so this ends at the latest on a fresh one.
pub(super) fn ask(
    host: &Host,
    head: &[u8],
    head_only: bool,
    deadline: Option<Instant>,
    mut upload: Option<(&mut dyn Read, Option<u64>)>,
) -> io::Result<Answer> {
    // Whether a byte of the upload was taken from its reader: then it cannot go again.
    let mut taken = false;
    loop {
        let mut conn = match deadline {
            Some(d) => {
                let c = host.pool.get_deadline(d)?;
                c.set_deadline(Some(d));
                c
            }
            None => host.pool.get()?,
        };
        let reused = conn.reused();
        let answer = (&*conn)
            .write_all(head)
            .map_err(|e| (e, true))
            .and_then(|()| match upload.as_mut() {
                Some((body, length)) => {
                    send_body(&conn, &mut **body, *length, &mut taken).map_err(|e| (e, !taken))
                }
                None => Ok(()),
            })
            .and_then(|()| {
                let mut src = Src::new(&conn, pool::get(RESP_BUF), 0, 0, u64::MAX);
                let (resp, keep, framing) = read_head(&mut src, head_only)?;
                Ok((resp, keep, framing, src.into_parts()))
            })
            .map_err(|(e, before_answer)| (e, before_answer && !taken));
        match answer {
            Ok((resp, keep, framing, buf)) => {
                return Ok(Answer {
                    conn,
                    resp,
                    keep,
                    framing,
                    buf,
                })
            }
            Err((e, before_answer)) => {
                conn.discard();
                // (A timeout is the server being slow, not the connection being stale.)
                if !(reused && before_answer) || e.kind() == io::ErrorKind::TimedOut {
                    return Err(e);
                }
            }
        }
    }
}

/// Most bytes of an upload read and sent at once.
const UPLOAD_PIECE: usize = 64 << 10;

/// Copies a request body from `body` to `c`: `length` bytes, or chunked if `None`.
/// `taken` turns true with the first byte read from `body`.
fn send_body(
    c: &TcpStream,
    body: &mut dyn Read,
    length: Option<u64>,
    taken: &mut bool,
) -> io::Result<()> {
    // Room for a chunk's size line before the data and its CRLF after, so each piece
    // goes out in one write.
    const PRE: usize = wire::CHUNK_LINE;
    let mut buf = pool::get(PRE + UPLOAD_PIECE + 2);
    let mut sent = 0u64;
    let short = || {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "goro-net http: request body does not match its length",
        )
    };
    loop {
        let left = length.map_or(u64::MAX, |n| n - sent);
        let want = UPLOAD_PIECE.min(usize::try_from(left).unwrap_or(usize::MAX));
        if want == 0 {
            // All `length` bytes are out: a reader with more is a caller's mistake.
            let mut probe = [0u8; 1];
            if body.read(&mut probe)? > 0 {
                return Err(short());
            }
            return Ok(());
        }
        let n = match body.read(&mut buf[PRE..PRE + want]) {
            Ok(0) if length.is_some() => return Err(short()),
            Ok(0) => return (&*c).write_all(b"0\r\n\r\n"),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        *taken = true;
        sent += n as u64;
        if length.is_some() {
            (&*c).write_all(&buf[PRE..PRE + n])?;
            continue;
        }
        let mut line = [0u8; PRE];
        let size = wire::chunk_line(n, &mut line);
        let start = PRE - size.len();
        buf[start..PRE].copy_from_slice(size);
        buf[PRE + n..PRE + n + 2].copy_from_slice(b"\r\n");
        (&*c).write_all(&buf[start..PRE + n + 2])?;
    }
}

/// Reads one answer from `src` (bytes already buffered first), leaving whatever follows it
/// in `src`; also says whether the server lets the connection stay open. Interim `1xx`
/// answers are skipped. The error says whether no byte of the answer came.
pub(super) fn read_response(
    src: &mut Src<'_>,
    head_only: bool,
) -> Result<(ClientResponse, bool), (io::Error, bool)> {
    let (mut resp, keep, framing) = read_head(src, head_only)?;
    let body_keeps = read_body(src, framing, &mut resp.body).map_err(|e| (e, false))?;
    Ok((resp, keep && body_keeps))
}

/// Reads an answer's head, skipping interim `1xx` answers: the response without its body,
/// whether the server lets the connection stay open, and how the body is framed. The
/// error says whether no byte of the answer came.
pub(super) fn read_head(
    src: &mut Src<'_>,
    head_only: bool,
) -> Result<(ClientResponse, bool, Framing), (io::Error, bool)> {
    let mut began = src.pos < src.end;
    let mut interim = 0;
    loop {
        if src.pos < src.end {
            if let Some(head) = parse_head(src, head_only).map_err(|e| (e, false))? {
                if head.0.status / 100 == 1 && head.0.status != 101 {
                    // 100 Continue, 103 Early Hints: the real answer follows, unless the
                    // server sends interim answers without end.
                    interim += 1;
                    if interim > MAX_INTERIM {
                        return Err((bad("too many 1xx interim answers"), false));
                    }
                    continue;
                }
                return Ok(head);
            }
            if src.end - src.pos >= MAX_RESP_HEAD {
                return Err((bad("response head too large"), false));
            }
        }
        src.more().map_err(|e| (e, !began))?;
        began = true;
    }
}

/// Reads a whole body framed as `framing` into `out`, within the body limit; false if the
/// connection cannot carry another answer after it (the body ran to the close).
fn read_body(src: &mut Src<'_>, framing: Framing, out: &mut Vec<u8>) -> io::Result<bool> {
    match framing {
        Framing::Length(n) => src.take(n, out)?,
        Framing::Chunked => {
            let mut dec = Chunked::new();
            while let Some(size) = src.chunk_next(&mut dec)? {
                src.take(size, out)?;
                dec.took(size);
            }
        }
        Framing::UntilClose => {
            // One byte past the limit tells a body at the limit from one over it.
            let max = src.max_body;
            let buffered = &src.buf[src.pos..src.end];
            let first = buffered.len().min(max.saturating_add(1) as usize);
            out.extend_from_slice(&buffered[..first]);
            src.pos = src.end;
            let room = max.saturating_add(1).saturating_sub(first as u64);
            src.c.take(room).read_to_end(out)?;
            if out.len() as u64 > max {
                return Err(too_big(max));
            }
            return Ok(false);
        }
    }
    Ok(true)
}

/// Parses the head at `src.pos` if it is all there, and moves past it.
fn parse_head(
    src: &mut Src<'_>,
    head_only: bool,
) -> io::Result<Option<(ClientResponse, bool, Framing)>> {
    let mut hs = [httparse::EMPTY_HEADER; 64];
    let mut r = httparse::Response::new(&mut hs);
    let len = match r.parse(&src.buf[src.pos..src.end]) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(bad(&e.to_string())),
    };
    let status = r.code.unwrap_or(0);
    let mut resp = ClientResponse {
        status,
        body: Vec::new(),
        text: String::with_capacity(len),
        spans: Vec::with_capacity(r.headers.len()),
        url: None,
    };
    let mut keep = r.version == Some(1);
    // Framing as Go's client reads it: `Transfer-Encoding` (HTTP/1.1 only) must be one
    // line of exactly `chunked`, and wins over `Content-Length` in whatever order they
    // come; `Content-Length` must be digits, the same in every line.
    let mut length = None;
    let mut te_lines = 0;
    let mut te_chunked = false;
    for h in r.headers.iter() {
        if h.name.eq_ignore_ascii_case("content-length") {
            let n = wire::content_length(h.value).ok_or_else(|| bad("bad Content-Length"))?;
            if length.is_some_and(|l| l != n) {
                return Err(bad("conflicting Content-Length"));
            }
            length = Some(n);
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            te_lines += 1;
            te_chunked = h.value.trim_ascii().eq_ignore_ascii_case(b"chunked");
        } else if h.name.eq_ignore_ascii_case("connection") {
            keep = if has_token(h.value, b"close") {
                false
            } else {
                keep || has_token(h.value, b"keep-alive")
            };
        }
        resp.push_header(h.name, &String::from_utf8_lossy(h.value));
    }
    let mut framing = match length {
        Some(n) => Framing::Length(n),
        None => Framing::UntilClose,
    };
    if te_lines > 0 && r.version == Some(1) {
        if te_lines > 1 || !te_chunked {
            return Err(bad("unsupported Transfer-Encoding"));
        }
        framing = Framing::Chunked;
    }
    if head_only || status / 100 == 1 || status == 204 || status == 304 {
        framing = Framing::Length(0);
    }
    src.pos += len;
    Ok(Some((resp, keep, framing)))
}

/// True if the comma-separated header value `v` holds `token` (ASCII case-insensitive).
fn has_token(v: &[u8], token: &[u8]) -> bool {
    v.split(|&b| b == b',')
        .any(|t| t.trim_ascii().eq_ignore_ascii_case(token))
}

/// How an answer's body is delimited.
#[derive(Clone, Copy, Debug)]
pub(super) enum Framing {
    Length(u64),
    Chunked,
    UntilClose,
}

/// Response bytes already read (`buf[pos..end]`), then the socket.
pub(super) struct Src<'a> {
    c: &'a TcpStream,
    buf: PooledBuf,
    pos: usize,
    end: usize,
    /// [`ClientBuilder::max_body_bytes`].
    max_body: u64,
}

impl<'a> Src<'a> {
    pub(super) fn new(
        c: &'a TcpStream,
        buf: PooledBuf,
        pos: usize,
        end: usize,
        max_body: u64,
    ) -> Src<'a> {
        Src {
            c,
            buf,
            pos,
            end,
            max_body,
        }
    }

    /// The buffer and the unread part of it, to go on with later.
    pub(super) fn into_parts(self) -> (PooledBuf, usize, usize) {
        (self.buf, self.pos, self.end)
    }

    /// Reads more of the answer after `end`, moving the unread part to the front (or into a
    /// bigger buffer) first if there is no room.
    fn more(&mut self) -> io::Result<()> {
        if self.end == self.buf.len() {
            let unread = self.end - self.pos;
            if self.pos == 0 {
                let mut bigger = pool::get(self.buf.len() * 2);
                bigger[..unread].copy_from_slice(&self.buf[..unread]);
                self.buf = bigger;
            } else {
                self.buf.copy_within(self.pos..self.end, 0);
            }
            (self.pos, self.end) = (0, unread);
        }
        let n = (&*self.c).read(&mut self.buf[self.end..])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "goro-net http: answer cut short",
            ));
        }
        self.end += n;
        Ok(())
    }

    /// Appends the next `n` bytes of the answer to `out`, the body so far: fails before
    /// reading if they would take it past the body limit.
    fn take(&mut self, n: u64, out: &mut Vec<u8>) -> io::Result<()> {
        let room = self.max_body.saturating_sub(out.len() as u64);
        let Some(mut n) = usize::try_from(n).ok().filter(|_| n <= room) else {
            return Err(too_big(self.max_body));
        };
        // Room for what the server declared, up to a bound: a declared length is only a
        // claim until the bytes come.
        out.reserve(n.min(PREALLOC_MAX));
        while n > 0 {
            if self.pos == self.end {
                (self.pos, self.end) = (0, 0);
                self.more()?;
            }
            let k = n.min(self.end - self.pos);
            out.extend_from_slice(&self.buf[self.pos..self.pos + k]);
            self.pos += k;
            n -= k;
        }
        Ok(())
    }

    /// Consumes chunked framing through the shared decoder `dec`, reading more as needed:
    /// the size of the data that comes next, or `None` at the end of the body (trailers
    /// read and dropped).
    pub(super) fn chunk_next(&mut self, dec: &mut Chunked) -> io::Result<Option<u64>> {
        loop {
            let (used, next) = dec
                .advance(&self.buf[self.pos..self.end])
                .map_err(|m| bad(m.0))?;
            self.pos += used;
            match next {
                Next::Data(n) => return Ok(Some(n)),
                Next::Done => return Ok(None),
                Next::More => self.more()?,
            }
        }
    }
}

fn too_big(max: u64) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, BodyTooLarge { limit: max })
}

/// The error inside the [`io::ErrorKind::InvalidData`] error of a request whose answer's
/// body is over [`ClientBuilder::max_body_bytes`]: a caller can tell it from a malformed
/// answer, and fetch the body with [`Client::stream`] instead.
///
/// ```no_run
/// use goro_net::http::{BodyTooLarge, Client};
///
/// let client = Client::builder().max_body_bytes(1 << 20).build();
/// match client.get("http://127.0.0.1:8080/video") {
///     Err(e) if e.get_ref().is_some_and(|e| e.is::<BodyTooLarge>()) => {
///         let mut resp = client.stream("GET", "http://127.0.0.1:8080/video", &[], &[])?;
///         std::io::copy(&mut resp, &mut std::io::sink())?;
///     }
///     other => drop(other?),
/// }
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BodyTooLarge {
    /// The limit the body went over.
    pub limit: u64,
}

impl fmt::Display for BodyTooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "goro-net http: response body over the client's limit of {} bytes \
             (ClientBuilder::max_body_bytes)",
            self.limit
        )
    }
}

impl std::error::Error for BodyTooLarge {}

fn bad(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("goro-net http: {msg}"))
}

#[cfg(test)]
mod tests {
    use super::has_token;

    #[test]
    fn header_tokens_match_whole_words_in_any_case() {
        assert!(has_token(b"chunked", b"chunked"));
        assert!(has_token(b"gzip, Chunked", b"chunked"));
        assert!(has_token(b" Keep-Alive ", b"keep-alive"));
        assert!(!has_token(b"notchunked", b"chunked"));
        assert!(!has_token(b"", b"close"));
    }
}
