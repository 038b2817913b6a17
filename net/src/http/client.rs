//! [`Client`]: HTTP/1.1 requests with keep-alive connections pooled per host (Go's
//! `http.Client`).
//!
//! The client's parts, one concept each: `client_builder.rs` (its settings),
//! `transport.rs` (dialling,
//! sending a request on a pooled connection), `send.rs` (writing a request),
//! `answer.rs` ([`ClientResponse`] and reading an answer), `redirect.rs` (following
//! redirects), `pipeline.rs` (pipelining), `streaming.rs` ([`StreamingResponse`]).
use std::collections::HashMap;
use std::io::{self, Read};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use goro::context::Context;

use super::answer::{read_body, ClientResponse, OnInterim, Src};
use super::client_builder::ClientBuilder;
use super::client_conn::{self, ClientConn, Scheme};
use super::pipeline::Lanes;
use super::pipeline::Outcome;
use super::redirect;
use super::send::{request_head, Payload};
use super::streaming::StreamingResponse;
use super::transport::{ask, dial, Answer};
use crate::connpool;
use crate::connpool::Pool;
use crate::lock;

impl ClientBuilder {
    /// The client.
    pub fn build(self) -> Client {
        Client {
            cfg: Arc::new(self),
            hosts: Arc::new(Mutex::new([HashMap::new(), HashMap::new()])),
            ctx: None,
        }
    }
}

/// An HTTP/1.1 client with a keep-alive [`connpool`] per `host:port` (Go's `http.Client`).
/// Cheap to clone; clones share the pools. `http://` and `https://` URLs (feature `tls`:
/// the server's certificate is verified for the URL's host name against Mozilla's roots
/// unless `ClientBuilder::tls_connector` says otherwise); connections are pooled by
/// scheme, host and port, so an `http://` and an `https://` connection are never mixed.
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
/// `Proxy-Authorization` and a caller's `Host` are left out. Redirects between `http://` and
/// `https://` are followed both ways, as Go's client does; a redirect to any other scheme
/// fails with [`io::ErrorKind::InvalidInput`].
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
    /// The hosts by `host:port`, for `http://` and `https://` (indexed by [`Scheme`]).
    hosts: Arc<Mutex<[Hosts; 2]>>,
    /// The context this handle's requests are bound to ([`Client::with_context`]).
    ctx: Option<Context>,
}

/// A client's hosts of one scheme, by `host:port`.
type Hosts = HashMap<String, Arc<Host>>;

/// The connections to one scheme and `host:port`: the keep-alive pool, and the pipelined
/// connections (`http://` only).
#[derive(Debug)]
pub(super) struct Host {
    pub(super) scheme: Scheme,
    pub(super) pool: Pool<ClientConn>,
    pub(super) lanes: Lanes,
}

impl Host {
    /// The connections to `authority` over `scheme`, dialled with the client's settings `cfg`.
    pub(super) fn new(scheme: Scheme, authority: &str, cfg: &Arc<ClientBuilder>) -> Host {
        let cfg = cfg.clone();
        let name = authority.to_string();
        let pool = Pool::builder()
            .max_idle(cfg.max_idle_per_host)
            .max_active(cfg.max_active_per_host)
            .idle_timeout(cfg.idle_timeout)
            .test_on_checkout(|c: &mut ClientConn, _| c.alive())
            .prefer(|c: &ClientConn| c.socket().polled_here())
            .watch_idle(ClientConn::socket)
            .build_with_deadline(move |by| client_conn::dial(scheme, &name, &cfg, by));
        Host {
            scheme,
            pool,
            lanes: Lanes::default(),
        }
    }
}

impl Default for Client {
    fn default() -> Self {
        Client::new()
    }
}

impl Client {
    /// The client's settings (for `ReverseProxy`'s upgrade dial, which takes no pooled
    /// connection but dials as the client would, TLS connector included).
    pub(super) fn config(&self) -> &ClientBuilder {
        &self.cfg
    }

    /// A client with the default timeouts.
    pub fn new() -> Client {
        ClientBuilder::default().build()
    }

    /// A builder.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// This client with its requests bound to `ctx` (Go's `req.WithContext(ctx)`): sharing
    /// its connections and settings, each request fails at once if `ctx` is done, its
    /// deadline bounds the exchange, and canceling `ctx` mid-exchange (a streamed body
    /// included) closes the exchange's connection and fails it with the context's error
    /// (`TimedOut` for a deadline, `Other` wrapping
    /// [`goro::context::Error::Canceled`]); a canceled pipelined request closes its
    /// pipelined connection, and the others on it go again through the pool. Cheap: a
    /// handle, no new pool.
    ///
    /// ```
    /// use std::time::Duration;
    /// use goro::context;
    /// use goro_net::http::{httptest, Client, Request, ResponseWriter};
    ///
    /// let slow = httptest::Server::new(|_w: &mut ResponseWriter<'_>, r: &mut Request<'_>| {
    ///     r.context().wait_timeout(Duration::from_secs(10)); // until the client leaves
    /// });
    /// let (ctx, _cancel) = context::with_timeout(&context::background(), Duration::from_millis(100));
    /// let e = Client::new().with_context(&ctx).get(slow.url()).unwrap_err();
    /// assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);
    /// ```
    pub fn with_context(&self, ctx: &Context) -> Client {
        Client {
            cfg: self.cfg.clone(),
            hosts: self.hosts.clone(),
            ctx: Some(ctx.clone()),
        }
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
        redirect::follow(
            &self.cfg,
            (method, url, headers, body),
            true,
            |(m, u, h, b), by| self.once(m, u, h, b, by),
        )
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
        self.stream_with(method, url, headers, body, None, None)
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
        self.stream_with(method, url, headers, &[], Some((body, length)), None)
    }

    /// [`stream_from`](Self::stream_from) with `body` (or [`stream`](Self::stream)
    /// without one, if `None`) that shows each interim answer to `on_interim` as it
    /// arrives, before the final one comes: every `1xx` but `101`, such as `103 Early
    /// Hints` or a `100 Continue` (Go's `httptrace.ClientTrace.Got1xxResponse`). An error
    /// from `on_interim` fails the request. The other methods skip interim answers.
    ///
    /// ```
    /// use goro_net::http::{httptest, Client, Request, ResponseWriter};
    ///
    /// let server = httptest::Server::new(|w: &mut ResponseWriter<'_>, _r: &mut Request<'_>| {
    ///     let _ = w.write_interim(103, &[("Link", "</app.css>; rel=preload")]);
    ///     w.header_set("Content-Type", "text/html");
    /// });
    /// let mut hints = Vec::new();
    /// let resp = Client::new()
    ///     .stream_interim("GET", server.url(), &[], None, &mut |interim| {
    ///         hints.push((interim.status, interim.header("link").map(str::to_string)));
    ///         Ok(())
    ///     })
    ///     .unwrap();
    /// assert_eq!(resp.status(), 200);
    /// assert_eq!(hints, [(103, Some("</app.css>; rel=preload".to_string()))]);
    /// ```
    pub fn stream_interim(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<(&mut dyn Read, Option<u64>)>,
        on_interim: &mut dyn FnMut(&ClientResponse) -> io::Result<()>,
    ) -> io::Result<StreamingResponse> {
        self.stream_with(method, url, headers, &[], body, Some(on_interim))
    }

    /// The streaming calls' one body: `bytes` as the request body, unless `upload` gives a
    /// reader (sent once: a redirect that needs the body again is returned as it is), with
    /// interim answers shown to `on_interim` if given.
    fn stream_with(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        bytes: &[u8],
        upload: Option<(&mut dyn Read, Option<u64>)>,
        mut on_interim: Option<&mut OnInterim<'_>>,
    ) -> io::Result<StreamingResponse> {
        let resends = upload.is_none();
        let mut reader = upload;
        redirect::follow(
            &self.cfg,
            (method, url, headers, bytes),
            resends,
            |(m, u, h, b), by| {
                let (payload, upload) = match reader.take() {
                    Some((r, length)) => (Payload::Reader(length), Some((r, length))),
                    None => (Payload::Bytes(b), None),
                };
                let (scheme, authority, head) = request_head(m, u, h, payload)?;
                let host = self.host(scheme, authority);
                ask(
                    &host.pool,
                    &head,
                    m == "HEAD",
                    by,
                    upload,
                    self.ctx.as_ref(),
                    on_interim.as_deref_mut(),
                )
                .map(StreamingResponse::new)
            },
        )
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
        let (scheme, authority, head) = request_head(method, url, headers, Payload::Bytes(body))?;
        let host = self.host(scheme, authority);
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
        let plain = host.scheme == Scheme::Http;
        if plain && cfg.pipeline > 1 && no_body && matches!(method, "GET" | "HEAD") {
            if let Some(worker) = goro::worker_index() {
                let ctx = self.ctx.as_ref();
                if let Some(e) = super::cancel::done(ctx) {
                    return Err(e);
                }
                let deadline = match (deadline, ctx.and_then(Context::deadline)) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
                let dial = || dial(&Scheme::Http.with_port(authority), cfg, deadline);
                let head_only = method == "HEAD";
                match host
                    .lanes
                    .request(worker, head, head_only, cfg, deadline, ctx, dial)
                {
                    Outcome::Done(resp) => return Ok(resp),
                    Outcome::Failed(e) => return Err(e),
                    Outcome::Retry => {} // through the pool instead
                }
            }
        }
        let Answer {
            guard,
            mut conn,
            mut resp,
            keep,
            framing,
            buf: (buf, pos, end),
        } = ask(
            &host.pool,
            head,
            method == "HEAD",
            deadline,
            None,
            self.ctx.as_ref(),
            None,
        )?;
        let mut src = Src::new(&*conn, buf, pos, end, cfg.max_body_bytes);
        let body = read_body(&mut src, framing, &mut resp.body, &mut resp.trailers)
            .map_err(|e| super::cancel::explain(guard.as_ref(), e));
        drop(guard); // before the connection goes (`cancel.rs`)
                     // Bytes after the answer were not asked for: the connection is out of step.
        if !(keep && matches!(body, Ok(true)) && src.drained()) {
            conn.discard();
        }
        body.map(|_| resp)
    }

    /// Connection counters summed over every host, pipelined connections included (a
    /// pipelined connection is `active` while it has requests in flight).
    pub fn pool_stats(&self) -> connpool::Stats {
        let hosts = lock(&self.hosts);
        let mut t = connpool::Stats::default();
        for h in hosts.iter().flat_map(HashMap::values) {
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

    /// The connections to `authority` over `scheme` (keyed by both: an `http://` and an
    /// `https://` connection to one `host:port` are never mixed).
    fn host(&self, scheme: Scheme, authority: &str) -> Arc<Host> {
        let mut all = lock(&self.hosts);
        let hosts = &mut all[scheme as usize];
        if let Some(h) = hosts.get(authority) {
            return h.clone();
        }
        let h = Arc::new(Host::new(scheme, authority, &self.cfg));
        hosts.insert(authority.to_string(), h.clone());
        h
    }
}
