//! [`ReverseProxy`]: a handler that forwards requests to a backend and relays the answers
//! (Go's `httputil.ReverseProxy`).
//!
//! **One exchange, in Go's order.** For each request: the outgoing request is built (the
//! target's URL with the request's path and query, the target's `Host`, the inbound
//! headers less the hop-by-hop ones, the client's address appended to `X-Forwarded-For`;
//! with [`x_forwarded`](ReverseProxyBuilder::x_forwarded), `X-Forwarded-Host` and
//! `X-Forwarded-Proto` set too), the [`rewrite`](ReverseProxyBuilder::rewrite) hook (Go's
//! `Director`) may change any of it; the body goes on to the backend as it arrives;
//! interim answers are relayed as they come; the answer's hop-by-hop headers are dropped,
//! [`modify_response`](ReverseProxyBuilder::modify_response) may change status and
//! headers or refuse the answer; then head, body and trailers are relayed. Any failure
//! before the head is relayed goes to the
//! [`error_handler`](ReverseProxyBuilder::error_handler) (default: `502 Bad Gateway`, as
//! Go's); a body that breaks off after it is [aborted](super::ResponseWriter::abort), so
//! the client sees it cut.
//!
//! **X-Forwarded-\*, as Go's `Director`.** By default only `X-Forwarded-For` is set; a
//! client's own `X-Forwarded-Host` and `X-Forwarded-Proto` pass as sent, so a backend must
//! not trust them unless the proxy sets them:
//! [`ProxyRequest::set_x_forwarded`] (Go's `ProxyRequest.SetXForwarded`) replaces all
//! three, `Proto` being `https` when the request came over TLS
//! ([`Request::tls`](super::Request::tls)).
//!
//! **Streaming and flushes.** The answer's body is relayed as it arrives. An answer of
//! unknown length (chunked) or of type `text/event-stream` is flushed after every piece,
//! as Go flushes such "streaming" answers; one with a `Content-Length` goes through the
//! writer's output buffer (16 KiB pieces), unless
//! [`flush_interval`](ReverseProxyBuilder::flush_interval) (Go's `FlushInterval`) asks for
//! a flush after every piece or at most an interval after one (`reverse_proxy_relay.rs`
//! tells how the copy keeps that time without a timer).
//!
//! **Trailers and interim answers** (`reverse_proxy_relay.rs`). A chunked answer's
//! trailers follow its body to the client, announced anew in `Trailer`, less the fields a
//! trailer may not carry; `1xx` answers but `100` and `101` are relayed when they come
//! (`103 Early Hints`), `100 Continue` being the proxy's own server's to send.
//!
//! **Held answers, for throughput.** A proxy in front of many small answers pays for each
//! exchange twice; [`hold`](ReverseProxyBuilder::hold) sends bodiless `GET` and `HEAD`
//! requests through a second client (pipelined, if that client pipelines: a batch of
//! requests leaves in one write and the answers come back in one read) and relays each
//! answer whole, with an exact `Content-Length`. An answer over the hold limit is fetched
//! again as a stream, so memory stays bounded. Do not hold endpoints that stream forever
//! (server-sent events): they would run into the holding client's timeout. A held answer
//! carries no trailers and no interim answers (its length is exact, and the holding
//! client skips `1xx`), nor is it flushed early.
//!
//! **Cancellation.** Every exchange is bound to the request's
//! [context](super::Request::context): when the client leaves (or the server's shutdown
//! grace ends, or the handler timeout passes), the backend connection is closed and the
//! handler returns, instead of waiting for an answer nobody will read (a pipelined exchange
//! kills its connection, and the requests queued on it go again through the pool).
//!
//! **Upgrades.** A request with `Connection: upgrade` (a WebSocket handshake) is sent to the
//! backend with its `Upgrade` header, and the client's connection is then
//! [hijacked](super::ResponseWriter::hijack) and spliced to the backend's both ways, as
//! Go's proxy does after a `101`. As in Go, the `101` goes through `modify_response` first
//! (with its `Connection` and `Upgrade` headers: they are the point of it), and a refusal
//! there, or a backend that switches to another protocol than asked, goes to the error
//! handler with nothing spliced. An `https://` backend is dialed with TLS (the proxy's
//! client's connector, or the default one), and the client's side may be TLS too (an
//! HTTPS server's hijack hands over the TLS stream).
//!
//! **No header twice.** The server adds `Date` only when the handler set none, and
//! `Server` never (see [`ResponseWriter`]), so a backend's `Date`
//! and `Server` are relayed once each, as sent.
use std::io::{self, Read, Write};
use std::time::Duration;

use super::answer::{read_body, read_head, BodyTooLarge, ClientResponse, Src, RESP_BUF};
use super::client::Client;
use super::client_conn::{self, ClientConn, Scheme};
use super::request::Request;
use super::response::ResponseWriter;
use super::reverse_proxy_relay as relay;
use crate::pool;

/// Headers of one hop, not of the message (RFC 9110 §7.6.1), never forwarded either way.
const HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

type Rewrite = Box<dyn Fn(&mut ProxyRequest, &Request<'_>) + Send + Sync>;
type Modify = Box<dyn Fn(&mut ProxyResponse, &Request<'_>) -> io::Result<()> + Send + Sync>;
type OnError = Box<dyn Fn(&mut ResponseWriter<'_>, &Request<'_>, io::Error) + Send + Sync>;

/// The request a [`ReverseProxy`] is about to send (Go's outgoing `*http.Request` as a
/// `Director` sees it): change any field in the [`rewrite`](ReverseProxyBuilder::rewrite)
/// hook.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProxyRequest {
    /// The method, as received.
    pub method: String,
    /// Where the request goes: `http://host:port/path?query`.
    pub url: String,
    /// The headers sent, `Host` included (a client sends none of its own over these).
    pub headers: Vec<(String, String)>,
}

/// A backend's answer before it is relayed (Go's `*http.Response` as `ModifyResponse`
/// sees it): hop-by-hop headers are already gone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProxyResponse {
    /// The status code.
    pub status: u16,
    /// The headers relayed.
    pub headers: Vec<(String, String)>,
}

/// Header edits shared by [`ProxyRequest`] and [`ProxyResponse`].
macro_rules! header_ops {
    ($t:ty) => {
        impl $t {
            /// The first value of header `name` (case-insensitive).
            pub fn header(&self, name: &str) -> Option<&str> {
                self.headers
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v.as_str())
            }

            /// Replaces every value of header `name` with `value`.
            pub fn set_header(&mut self, name: &str, value: &str) {
                self.remove_header(name);
                self.headers.push((name.to_string(), value.to_string()));
            }

            /// Removes every value of header `name`.
            pub fn remove_header(&mut self, name: &str) {
                self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
            }
        }
    };
}
header_ops!(ProxyRequest);
header_ops!(ProxyResponse);

impl ProxyRequest {
    /// Sends the request to `target` (`http://host:port`, optionally with a path prefix)
    /// instead: the URL becomes the target's joined with the inbound path and query, and
    /// `Host` the target's (Go's `ProxyRequest.SetURL`).
    pub fn set_target(&mut self, target: &str, r: &Request<'_>) {
        let (url, host) = join(target, r);
        self.url = url;
        self.set_header("Host", &host);
    }

    /// Sets `X-Forwarded-For`, `X-Forwarded-Host` and `X-Forwarded-Proto` from the inbound
    /// request `r` (Go's `ProxyRequest.SetXForwarded`), replacing whatever the client sent
    /// in them: For is the inbound `X-Forwarded-For` values with the client's address
    /// appended (as the default already sets it), Host the inbound [host](Request::host),
    /// Proto `https` if `r` came over TLS ([`Request::tls`]) and `http` otherwise. Call it
    /// in [`rewrite`](ReverseProxyBuilder::rewrite), or have every request get it with
    /// [`x_forwarded`](ReverseProxyBuilder::x_forwarded).
    ///
    /// ```
    /// use goro_net::http::ReverseProxy;
    ///
    /// let proxy = ReverseProxy::builder()
    ///     .target("http://127.0.0.1:8080")
    ///     .rewrite(|out, r| out.set_x_forwarded(r))
    ///     .build();
    /// # let _ = proxy;
    /// ```
    pub fn set_x_forwarded(&mut self, r: &Request<'_>) {
        let mut xff = String::new();
        for (n, v) in r.headers() {
            if n.eq_ignore_ascii_case("x-forwarded-for") {
                xff.push_str(&String::from_utf8_lossy(v));
                xff.push_str(", ");
            }
        }
        xff.push_str(&r.remote_addr().ip().to_string());
        self.set_header("X-Forwarded-For", &xff);
        self.set_header("X-Forwarded-Host", r.host());
        let proto = if r.tls().is_some() { "https" } else { "http" };
        self.set_header("X-Forwarded-Proto", proto);
    }
}

/// Forwards requests to a backend and relays its answers (Go's `httputil.ReverseProxy`);
/// a [`Handler`](super::Handler). The module notes in `reverse_proxy.rs` give the order
/// of one exchange and the flushing rules.
///
/// ```
/// use std::io::Write;
/// use goro_net::http::{httptest, Client, ReverseProxy, Request, ResponseWriter};
///
/// let backend = httptest::Server::new(|w: &mut ResponseWriter<'_>, r: &mut Request<'_>| {
///     let xff = r.header("x-forwarded-for").unwrap_or("-");
///     let _ = write!(w, "{} {} via {xff}", r.method(), r.uri());
/// });
/// let proxy = httptest::Server::new(
///     ReverseProxy::builder()
///         .target(backend.url())
///         .rewrite(|out, _r| out.set_header("X-Proxied", "yes"))
///         .modify_response(|resp, _r| {
///             resp.set_header("X-Via", "goro");
///             Ok(())
///         })
///         .build(),
/// );
/// let resp = Client::new().get(&format!("{}/a?b=1", proxy.url())).unwrap();
/// assert_eq!(resp.body, b"GET /a?b=1 via 127.0.0.1");
/// assert_eq!(resp.header("x-via"), Some("goro"));
/// ```
pub struct ReverseProxy {
    target: Option<String>,
    client: Client,
    hold: Option<Client>,
    rewrite: Option<Rewrite>,
    modify: Option<Modify>,
    on_error: Option<OnError>,
    /// [`ReverseProxyBuilder::flush_interval`].
    flush_interval: Option<Duration>,
    /// [`ReverseProxyBuilder::x_forwarded`].
    x_forwarded: bool,
}

/// Builds a [`ReverseProxy`] (Go's struct literal).
#[must_use]
pub struct ReverseProxyBuilder {
    proxy: ReverseProxy,
}

impl ReverseProxyBuilder {
    /// The backend every request goes to (`http://host:port`, optionally with a path
    /// prefix; Go's `NewSingleHostReverseProxy`). Without one, the
    /// [`rewrite`](Self::rewrite) hook must set the URL, or
    /// [`ReverseProxy::serve_to`] name the target.
    pub fn target(mut self, url: &str) -> Self {
        self.proxy.target = Some(url.trim_end_matches('/').to_string());
        self
    }

    /// The client that carries the exchanges (default: [`Client::new`]); set its timeouts
    /// here. Its redirects should be off (`max_redirects(0)`): a backend's redirect is the
    /// client's to follow.
    pub fn client(mut self, client: Client) -> Self {
        self.proxy.client = client;
        self
    }

    /// Sends bodiless `GET` and `HEAD` requests through `client`, holding answers whole
    /// up to its [`max_body_bytes`](super::ClientBuilder::max_body_bytes) (module notes:
    /// held answers, for throughput).
    pub fn hold(mut self, client: Client) -> Self {
        self.proxy.hold = Some(client);
        self
    }

    /// Changes the outgoing request after the defaults are applied (Go's `Director`, or
    /// `Rewrite`).
    pub fn rewrite(
        mut self,
        f: impl Fn(&mut ProxyRequest, &Request<'_>) + Send + Sync + 'static,
    ) -> Self {
        self.proxy.rewrite = Some(Box::new(f));
        self
    }

    /// Changes the answer's status and headers before they are relayed; an error refuses
    /// the answer and goes to the error handler (Go's `ModifyResponse`).
    pub fn modify_response(
        mut self,
        f: impl Fn(&mut ProxyResponse, &Request<'_>) -> io::Result<()> + Send + Sync + 'static,
    ) -> Self {
        self.proxy.modify = Some(Box::new(f));
        self
    }

    /// Answers when the backend cannot be reached or its answer refused (Go's
    /// `ErrorHandler`); the default logs at debug and answers `502 Bad Gateway`.
    pub fn error_handler(
        mut self,
        f: impl Fn(&mut ResponseWriter<'_>, &Request<'_>, io::Error) + Send + Sync + 'static,
    ) -> Self {
        self.proxy.on_error = Some(Box::new(f));
        self
    }

    /// How often an answer's body is flushed to the client while it is copied (Go's
    /// `FlushInterval`):
    ///
    /// | setting | Go | flushes |
    /// |---|---|---|
    /// | `None` (the default) | `0` | only streaming answers (chunked, `text/event-stream`), after every piece; others go through the writer's 16 KiB buffer |
    /// | `Some(Duration::ZERO)` | negative | every answer, after every piece |
    /// | `Some(d)` | `d` | every answer, at most `d` after a piece was written, also while the backend sends nothing; streaming ones still after every piece |
    ///
    /// For a backend that drips a body of known length (a slow download, a long poll
    /// answered a line at a time) whose client should see it as it comes.
    pub fn flush_interval(mut self, interval: Option<Duration>) -> Self {
        self.proxy.flush_interval = interval;
        self
    }

    /// Sets `X-Forwarded-Host` and `X-Forwarded-Proto` on every outgoing request, as well
    /// as `X-Forwarded-For` ([`ProxyRequest::set_x_forwarded`], before the
    /// [`rewrite`](Self::rewrite) hook). Off by default, as with Go's `Director`: only
    /// `X-Forwarded-For` is set (appended to), and the client's own `X-Forwarded-Host`
    /// and `X-Forwarded-Proto` pass as sent, so a backend that trusts them should sit
    /// behind a proxy with this on.
    pub fn x_forwarded(mut self, on: bool) -> Self {
        self.proxy.x_forwarded = on;
        self
    }

    /// The proxy.
    pub fn build(self) -> ReverseProxy {
        self.proxy
    }
}

impl ReverseProxy {
    /// A proxy to `target` with the defaults (Go's `NewSingleHostReverseProxy`).
    pub fn new(target: &str) -> ReverseProxy {
        ReverseProxy::builder().target(target).build()
    }

    /// A builder with no target, no hooks and a default [`Client`].
    pub fn builder() -> ReverseProxyBuilder {
        ReverseProxyBuilder {
            proxy: ReverseProxy {
                target: None,
                client: Client::builder().max_redirects(0).build(),
                hold: None,
                rewrite: None,
                modify: None,
                on_error: None,
                flush_interval: None,
                x_forwarded: false,
            },
        }
    }

    /// Forwards `r` to `target` instead of the configured one (a handler that picks a
    /// backend per request, as a load balancer does).
    pub fn serve_to(&self, w: &mut ResponseWriter<'_>, r: &mut Request<'_>, target: &str) {
        self.forward(w, r, Some(target.trim_end_matches('/')));
    }

    fn forward(&self, w: &mut ResponseWriter<'_>, r: &mut Request<'_>, target: Option<&str>) {
        let mut out = outgoing(r, target.or(self.target.as_deref()));
        if self.x_forwarded {
            out.set_x_forwarded(r);
        }
        if let Some(f) = &self.rewrite {
            f(&mut out, r);
        }
        let result = match upgrade_protocol(r) {
            Some(protocol) => self.upgrade(w, r, &out, &protocol),
            None => self.exchange(w, r, &out),
        };
        if let Err(e) = result {
            match &self.on_error {
                Some(f) => f(w, r, e),
                None => {
                    tracing::debug!(method = r.method(), url = %out.url, error = %e, "goro-net http: proxy error");
                    super::error(w, "502 Bad Gateway", 502);
                }
            }
        }
    }

    /// Sends `out` and relays the answer; an error before anything was relayed.
    fn exchange(
        &self,
        w: &mut ResponseWriter<'_>,
        r: &mut Request<'_>,
        out: &ProxyRequest,
    ) -> io::Result<()> {
        if out.url.is_empty() {
            return Err(io::Error::other("goro-net http: the proxy has no target"));
        }
        let headers: Vec<(&str, &str)> = out
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let (method, url) = (out.method.as_str(), out.url.as_str());
        let has_body = !r.body().is_done();
        // The request's context: the exchange ends, its backend connection closed, when
        // the client leaves (or the server gives up on the request).
        let ctx = r.context();
        if let (Some(held), false, "GET" | "HEAD") = (&self.hold, has_body, method) {
            match held.with_context(&ctx).request(method, url, &headers, &[]) {
                Ok(resp) => {
                    let head = ProxyResponse {
                        status: resp.status,
                        headers: owned(resp.headers()),
                    };
                    // A HEAD answer has no body to measure: its length is the backend's.
                    let head = self.answer(r, head, method == "HEAD")?;
                    relay_head(w, &head);
                    let _ = w.write_all(&resp.body);
                    return Ok(());
                }
                Err(e) if !e.get_ref().is_some_and(|e| e.is::<BodyTooLarge>()) => return Err(e),
                Err(_) => {} // too big to hold: fetched again below, as a stream
            }
        }
        let client = self.client.with_context(&ctx);
        let mut resp = {
            // Interim answers (103 Early Hints) go on to the client as they come.
            let mut interim = |i: &ClientResponse| relay::interim(w, i);
            let length = r.content_length();
            let body = has_body.then(|| (r.body() as &mut dyn Read, length));
            client.stream_interim(method, url, &headers, body, &mut interim)?
        };
        let head = ProxyResponse {
            status: resp.status(),
            headers: owned(resp.headers()),
        };
        let streaming = head.header("content-length").is_none()
            || head
                .header("content-type")
                .is_some_and(|t| t.starts_with("text/event-stream"));
        let flush = relay::Flush::choose(self.flush_interval, streaming);
        // The trailers the backend announces (`Trailer` is hop-by-hop: announced anew).
        let announced = relay::announced_trailers(&head.headers);
        let head = self.answer(r, head, true)?;
        relay_head(w, &head);
        if let Some(names) = announced {
            w.header_add("Trailer", &names);
        }
        if flush == relay::Flush::Every {
            let _ = w.flush(); // the head now: the first event may be a while
        }
        relay::copy_body(w, &mut resp, flush, url);
        Ok(())
    }

    /// Forwards an `Upgrade` request (a WebSocket handshake), as Go's proxy does: its head
    /// goes to the backend (dialed as the proxy's client dials, TLS for `https://`) with
    /// `Connection: Upgrade` and `Upgrade` restored, and the backend's answer is read.
    /// A `101` goes through `modify_response` with all its headers (an error, or a switch
    /// to another protocol than asked, goes to the error handler and nothing is spliced),
    /// then the client's connection is hijacked, the `101` relayed, and the two connections
    /// spliced, both ways, until both sides are done. Any other answer is relayed as an
    /// ordinary one (hop-by-hop headers dropped, `modify_response`, body).
    fn upgrade(
        &self,
        w: &mut ResponseWriter<'_>,
        r: &mut Request<'_>,
        out: &ProxyRequest,
        protocol: &str,
    ) -> io::Result<()> {
        let Some((scheme, rest)) = Scheme::split(&out.url) else {
            return Err(io::Error::other(format!(
                "goro-net http: the proxy cannot upgrade to {:?}",
                out.url
            )));
        };
        let (authority, target) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let cfg = self.client.config();
        let backend = client_conn::dial(scheme, authority, cfg, None)?;
        let mut head = format!("{} {target} HTTP/1.1\r\n", out.method);
        for (n, v) in &out.headers {
            head.push_str(&format!("{n}: {v}\r\n"));
        }
        head.push_str(&format!(
            "Connection: Upgrade\r\nUpgrade: {protocol}\r\n\r\n"
        ));
        backend.wire().write_all(head.as_bytes())?;
        let mut src = Src::new(
            backend.wire(),
            pool::get(RESP_BUF),
            0,
            0,
            cfg.max_body_bytes,
        );
        let (resp, _, framing) = read_head(&mut src, false).map_err(|(e, _)| e)?;
        let mut answer = ProxyResponse {
            status: resp.status,
            headers: owned(resp.headers()),
        };
        if answer.status != 101 {
            // A refusal (or an answer that ignores the upgrade): relayed as any answer.
            let mut body = Vec::new();
            read_body(&mut src, framing, &mut body, &mut Vec::new())?;
            let head = self.answer(r, answer, false)?;
            relay_head(w, &head);
            let _ = w.write_all(&body);
            return Ok(());
        }
        if let Some(f) = &self.modify {
            f(&mut answer, r)?;
        }
        let switched = answer.header("upgrade").unwrap_or("");
        if !switched.eq_ignore_ascii_case(protocol) {
            return Err(io::Error::other(format!(
                "goro-net http: backend tried to switch protocol {switched:?} when {protocol:?} was requested"
            )));
        }
        // The backend's first bytes of the new protocol may have come with its `101`.
        let (buf, lo, hi) = src.into_parts();
        // The conversation may idle for long: the client's read timeout is for answers.
        let _ = backend.socket().set_read_timeout(None);
        let mut client = w.hijack(r)?;
        let mut head = String::from("HTTP/1.1 101 Switching Protocols\r\n");
        for (n, v) in &answer.headers {
            head.push_str(&format!("{n}: {v}\r\n"));
        }
        head.push_str("\r\n");
        if client.write_all(head.as_bytes()).is_err() || client.write_all(&buf[lo..hi]).is_err() {
            return Ok(());
        }
        drop(buf);
        let Ok(mut down) = client.try_clone() else {
            return Ok(());
        };
        let backend = std::sync::Arc::new(backend);
        let up = backend.clone();
        // Client to backend (the client's bytes received past its head first: `client`
        // reads them before its connection).
        let to_backend = goro::spawn(move || {
            let mut buf = crate::pool::get(32 << 10);
            while let Ok(n @ 1..) = client.read(&mut buf) {
                if up.wire().write_all(&buf[..n]).is_err() {
                    break;
                }
            }
            let _ = close_write(&up);
        });
        let mut buf = crate::pool::get(32 << 10);
        while let Ok(n @ 1..) = backend.wire().read(&mut buf) {
            if down.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = down.shutdown_write();
        let _ = to_backend.join();
        Ok(())
    }

    /// The answer's head as relayed: hop-by-hop headers (and, unless `keep_length`,
    /// `Content-Length`) dropped, then the hook.
    fn answer(
        &self,
        r: &Request<'_>,
        mut head: ProxyResponse,
        keep_length: bool,
    ) -> io::Result<ProxyResponse> {
        let listed = connection_tokens(&head.headers);
        head.headers.retain(|(n, _)| {
            !hop(n, &listed) && (keep_length || !n.eq_ignore_ascii_case("content-length"))
        });
        if let Some(f) = &self.modify {
            f(&mut head, r)?;
        }
        Ok(head)
    }
}

impl super::Handler for ReverseProxy {
    fn serve_http(&self, w: &mut ResponseWriter<'_>, r: &mut Request<'_>) {
        self.forward(w, r, None);
    }
}

impl std::fmt::Debug for ReverseProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReverseProxy")
            .field("target", &self.target)
            .field("hold", &self.hold.is_some())
            .finish()
    }
}

/// The protocol an `Upgrade` request asks for (`Connection: upgrade` and an `Upgrade`
/// header), if it is one.
fn upgrade_protocol(r: &Request<'_>) -> Option<String> {
    let asks = r.headers().any(|(n, v)| {
        n.eq_ignore_ascii_case("connection")
            && v.split(|&b| b == b',')
                .any(|t| t.trim_ascii().eq_ignore_ascii_case(b"upgrade"))
    });
    asks.then(|| r.header("upgrade").map(str::to_string))
        .flatten()
}

/// The outgoing request before the hook: target URL and `Host`, end-to-end headers,
/// `X-Forwarded-For` with the client appended (Go's `Director` defaults).
fn outgoing(r: &Request<'_>, target: Option<&str>) -> ProxyRequest {
    let inbound: Vec<(String, String)> = owned(
        r.headers()
            .filter_map(|(n, v)| Some((n, std::str::from_utf8(v).ok()?))),
    );
    let listed = connection_tokens(&inbound);
    let mut xff = String::new();
    let mut headers = Vec::with_capacity(inbound.len() + 2);
    for (n, v) in inbound {
        if n.eq_ignore_ascii_case("x-forwarded-for") {
            xff.push_str(&v);
            xff.push_str(", ");
        } else if !hop(&n, &listed)
            && !n.eq_ignore_ascii_case("host")
            && !n.eq_ignore_ascii_case("content-length")
        {
            headers.push((n, v));
        }
    }
    xff.push_str(&r.remote_addr().ip().to_string());
    headers.push(("X-Forwarded-For".to_string(), xff));
    let mut out = ProxyRequest {
        method: r.method().to_string(),
        url: String::new(),
        headers,
    };
    if let Some(t) = target {
        out.set_target(t, r);
    }
    out
}

/// The URL for `r` at `target`, and the target's host: path prefixes joined with one
/// slash (Go's `singleJoiningSlash`).
fn join(target: &str, r: &Request<'_>) -> (String, String) {
    let after_scheme = target.split_once("://").map_or(target, |(_, rest)| rest);
    let host = after_scheme.split('/').next().unwrap_or("").to_string();
    let base = target.trim_end_matches('/');
    let url = match r.query() {
        "" => format!("{base}{}", r.path()),
        q => format!("{base}{}?{q}", r.path()),
    };
    (url, host)
}

fn owned<'h>(headers: impl Iterator<Item = (&'h str, &'h str)>) -> Vec<(String, String)> {
    headers
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

/// The header names a `Connection` header lists: hop-by-hop for this message.
fn connection_tokens(headers: &[(String, String)]) -> Vec<String> {
    headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("connection"))
        .flat_map(|(_, v)| v.split(','))
        .map(|t| t.trim().to_ascii_lowercase())
        .filter(|t| !t.is_empty())
        .collect()
}

pub(super) fn hop(name: &str, listed: &[String]) -> bool {
    HOP.iter().any(|h| h.eq_ignore_ascii_case(name))
        || listed.iter().any(|t| t.eq_ignore_ascii_case(name))
}

/// Ends the sending half of a backend connection (TLS: `close_notify` first).
fn close_write(c: &ClientConn) -> io::Result<()> {
    match c {
        ClientConn::Plain(s) => s.shutdown(std::net::Shutdown::Write),
        #[cfg(feature = "tls")]
        ClientConn::Tls(s) => s.shutdown(),
    }
}

/// Copies status and headers to `w`.
fn relay_head(w: &mut ResponseWriter<'_>, head: &ProxyResponse) {
    for (n, v) in &head.headers {
        w.header_add(n, v);
    }
    w.write_header(head.status);
}
