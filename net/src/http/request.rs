//! The server's view of one request: [`Request`] and its [`Body`] reader.
use std::io::{self, Read};
use std::net::SocketAddr;

use super::connection::Wire;
use super::wire::{Chunked, Next};
use crate::pool::{self, PooledBuf};

/// An HTTP request received by the server (Go's `*http.Request`).
///
/// Everything borrows from the connection's read buffer: the method, path, query and headers
/// are `&str`/`&[u8]` views, so parsing a request allocates nothing. The body is a
/// [`Read`]er ([`Request::body`]) that decodes `Content-Length` and `chunked` framing.
///
/// ```
/// use std::io::{Read, Write};
/// use goro_net::http::{Request, ResponseWriter};
///
/// fn echo(w: &mut ResponseWriter<'_>, r: &mut Request<'_>) {
///     let mut body = Vec::new();
///     if r.body().read_to_end(&mut body).is_err() {
///         w.write_header(400);
///         return;
///     }
///     w.header_set("Content-Type", "application/octet-stream");
///     let _ = w.write(&body);
/// }
/// # let _ = echo;
/// ```
pub struct Request<'a> {
    pub(crate) method: &'a str,
    /// The request target as sent.
    pub(crate) target: &'a str,
    /// What [`path`](Request::path) and [`query`](Request::query) read: `target` less a
    /// prefix [`strip_prefix`](super::strip_prefix) took off.
    pub(crate) routed: &'a str,
    /// The host the request is for: from an absolute-form target, else the `Host` header.
    pub(crate) host: &'a str,
    pub(crate) minor: u8,
    pub(crate) headers: &'a [httparse::Header<'a>],
    pub(crate) remote: SocketAddr,
    pub(crate) body: Body<'a>,
    /// The named wildcards of the [`ServeMux`](super::ServeMux) pattern that matched.
    pub(crate) path_values: Vec<(std::sync::Arc<str>, std::borrow::Cow<'a, str>)>,
    /// The decoded form, once [`form_value`](Request::form_value) parsed it.
    pub(crate) form: Option<Vec<(String, String)>>,
    /// The context, made on demand (`request_context.rs`).
    pub(crate) ctx: super::request_context::ReqContext<'a>,
}

impl<'a> Request<'a> {
    /// The method (`GET`, `POST`, ...).
    pub fn method(&self) -> &'a str {
        self.method
    }

    /// The request target as sent (`/path?query`, or the whole `http://host/path?query` of
    /// an absolute-form target, or `*`; Go's `RequestURI`).
    pub fn uri(&self) -> &'a str {
        self.target
    }

    /// The path part of the target (before `?`), not percent-decoded; under
    /// [`strip_prefix`](super::strip_prefix), without the prefix it took off.
    pub fn path(&self) -> &'a str {
        self.routed.split_once('?').map_or(self.routed, |(p, _)| p)
    }

    /// The value the wildcard `name` matched in the [`ServeMux`](super::ServeMux) pattern
    /// that routed this request (Go's `PathValue`), percent-decoded (as sent if it does not
    /// decode); `None` if the pattern has no such wildcard. For `{name...}` it is the rest
    /// of the path, without its leading slash.
    ///
    /// ```
    /// use std::io::Write;
    /// use goro_net::http::ServeMux;
    ///
    /// let mut mux = ServeMux::new();
    /// mux.handle_func("GET /users/{id}/files/{path...}", |w, r| {
    ///     // GET /users/7/files/a/b.txt -> "7 a/b.txt"
    ///     let _ = write!(w, "{} {}", r.path_value("id").unwrap(), r.path_value("path").unwrap());
    /// });
    /// # drop(mux);
    /// ```
    pub fn path_value(&self, name: &str) -> Option<&str> {
        self.path_values
            .iter()
            .find_map(|(n, v)| (**n == *name).then_some(&**v))
    }

    /// Takes `prefix` off the front of the path (for [`strip_prefix`](super::strip_prefix));
    /// false, and no change, if the path does not start with it. [`uri`](Self::uri) stays
    /// as sent, as Go's `RequestURI` does.
    pub(crate) fn strip_path_prefix(&mut self, prefix: &str) -> bool {
        if !self.path().starts_with(prefix) {
            return false;
        }
        self.routed = &self.routed[prefix.len()..];
        true
    }

    /// `path` with this request's query, if it has one, after `?` (for redirects that keep
    /// it).
    pub(crate) fn with_query(&self, path: &str) -> String {
        match self.query() {
            "" => path.to_string(),
            q => format!("{path}?{q}"),
        }
    }

    /// The query string after `?` (empty if none), not decoded.
    pub fn query(&self) -> &'a str {
        self.routed.split_once('?').map_or("", |(_, q)| q)
    }

    /// The value of query parameter `key` (first match) as sent, not percent-decoded: see
    /// [`form_value`](Self::form_value) for the decoded value.
    pub fn query_value(&self, key: &str) -> Option<&'a str> {
        self.query().split('&').find_map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (k == key).then_some(v)
        })
    }

    /// The first value of `key` in the request's form, decoded (Go's `FormValue`): from a
    /// `POST`, `PUT` or `PATCH` body of type `application/x-www-form-urlencoded` first, then
    /// from the query. The first call reads such a body (up to 10 MiB; a longer one is left
    /// out), so read the body yourself *or* use this, not both. See the `form` module notes:
    /// `+` is a space and pairs that do not decode are skipped.
    ///
    /// ```
    /// use std::io::Write;
    /// use goro_net::http::{Request, ResponseWriter};
    ///
    /// // GET /search?q=caf%C3%A9+au+lait  or  POST /search with body q=caf%C3%A9+au+lait
    /// fn search(w: &mut ResponseWriter<'_>, r: &mut Request<'_>) {
    ///     let q = r.form_value("q").unwrap_or("").to_string(); // "café au lait"
    ///     let _ = write!(w, "you searched for {q}");
    /// }
    /// # let _ = search;
    /// ```
    pub fn form_value(&mut self, key: &str) -> Option<&str> {
        if self.form.is_none() {
            let mut form = Vec::new();
            let is_form = self.header("content-type").is_some_and(|t| {
                let t = t.split(';').next().unwrap_or("").trim();
                t.eq_ignore_ascii_case("application/x-www-form-urlencoded")
            });
            if is_form && matches!(self.method, "POST" | "PUT" | "PATCH") {
                if let Some(text) = super::form::read_body(&mut self.body) {
                    super::form::parse_into(&text, &mut form);
                }
            }
            super::form::parse_into(self.query(), &mut form);
            self.form = Some(form);
        }
        let form = self.form.as_deref().unwrap_or_default();
        form.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// `(1, 0)` or `(1, 1)`.
    pub fn version(&self) -> (u8, u8) {
        (1, self.minor)
    }

    /// The first header named `name` (case-insensitive) as text; `None` if it is missing or
    /// not valid UTF-8 (see [`header_bytes`](Self::header_bytes)).
    pub fn header(&self, name: &str) -> Option<&'a str> {
        self.header_bytes(name)
            .and_then(|v| std::str::from_utf8(v).ok())
    }

    /// The first header named `name` (case-insensitive), raw.
    pub fn header_bytes(&self, name: &str) -> Option<&'a [u8]> {
        find_header(self.headers, name)
    }

    /// Every header in order, as `(name, value)`.
    pub fn headers(&self) -> impl Iterator<Item = (&'a str, &'a [u8])> + 'a {
        self.headers.iter().map(|h| (h.name, h.value))
    }

    /// Every cookie the request carries, as `(name, value)` from its `Cookie` headers
    /// (Go's `Cookies`).
    pub fn cookies(&self) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        self.headers
            .iter()
            .filter(|h| h.name.eq_ignore_ascii_case("cookie"))
            .filter_map(|h| std::str::from_utf8(h.value).ok())
            .flat_map(super::cookie::pairs)
    }

    /// The value of the first cookie named `name` (Go's `Cookie`).
    ///
    /// ```
    /// use std::io::Write;
    /// use goro_net::http::{self, Cookie, Request, ResponseWriter};
    ///
    /// fn visit(w: &mut ResponseWriter<'_>, r: &mut Request<'_>) {
    ///     let n: u64 = r.cookie("visits").and_then(|v| v.parse().ok()).unwrap_or(0);
    ///     http::set_cookie(w, &Cookie::new("visits", (n + 1).to_string()));
    ///     let _ = write!(w, "visit {}", n + 1);
    /// }
    /// # let _ = visit;
    /// ```
    pub fn cookie(&self, name: &str) -> Option<&'a str> {
        self.cookies().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    /// The host the request is for (Go's `r.Host`): the authority of an absolute-form
    /// target (`GET http://example.com/ HTTP/1.1`), else the `Host` header; empty only
    /// for an HTTP/1.0 request without one (HTTP/1.1 requires exactly one valid `Host`:
    /// the server answers 400 otherwise).
    pub fn host(&self) -> &'a str {
        self.host
    }

    /// The client's address (Go's `RemoteAddr`).
    pub fn remote_addr(&self) -> SocketAddr {
        self.remote
    }

    /// The TLS session the request came over (Go's `r.TLS`): `None` on a plain
    /// connection. Copied out of the session on each call (the certificates too), so ask
    /// once per request.
    ///
    /// ```
    /// use goro_net::http::{Request, ResponseWriter};
    ///
    /// fn scheme(_w: &mut ResponseWriter<'_>, r: &mut Request<'_>) -> &'static str {
    ///     if r.tls().is_some() { "https" } else { "http" }
    /// }
    /// # let _ = scheme;
    /// ```
    pub fn tls(&self) -> Option<TlsState> {
        self.body.wire.tls()
    }

    /// The declared body length, if the request has a `Content-Length`.
    pub fn content_length(&self) -> Option<u64> {
        match self.body.kind {
            Kind::Length(_) => Some(self.body.declared),
            _ => None,
        }
    }

    /// The body, read with [`Read`]. Reads past the server's body limit fail with
    /// `InvalidData` (the server then answers 413 if the handler has not written yet).
    pub fn body(&mut self) -> &mut Body<'a> {
        &mut self.body
    }
}

/// What the TLS handshake of a request's connection agreed (Go's `tls.ConnectionState`, as
/// `r.TLS` holds it), from [`Request::tls`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsState {
    /// The protocol version as on the wire, as Go's `tls.VersionTLS12` (`0x0303`) and
    /// `tls.VersionTLS13` (`0x0304`) spell it; 0 if unknown.
    pub version: u16,
    /// The protocol agreed through ALPN (`b"http/1.1"`), if any (Go's
    /// `NegotiatedProtocol`).
    pub alpn: Option<Vec<u8>>,
    /// The server name the client asked for (SNI), if it sent one (Go's `ServerName`).
    pub server_name: Option<String>,
    /// The client's certificate chain, leaf first, DER-encoded; empty if it sent none
    /// (Go's `PeerCertificates`, unparsed).
    pub peer_certificates: Vec<Vec<u8>>,
}

pub(crate) fn find_header<'a>(headers: &[httparse::Header<'a>], name: &str) -> Option<&'a [u8]> {
    headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case(name))
        .map(|h| h.value)
}

/// How the body is framed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `Content-Length`, with the bytes still to read.
    Length(u64),
    /// `Transfer-Encoding: chunked`, decoded by the one exact decoder of `wire.rs`.
    Chunked(Chunked),
}

/// A request body (Go's `Request.Body`): `Content-Length` or `chunked`, as [`Read`].
///
/// Bytes that arrived with the request head are served from the connection's buffer; the
/// rest is read from the socket on demand, so a handler that does not read the body costs
/// nothing (the server skips or drains it afterwards). With `Expect: 100-continue` the
/// `100 Continue` interim response is sent on the first read that needs the socket.
pub struct Body<'a> {
    pub(crate) kind: Kind,
    pub(crate) declared: u64,
    /// Bytes of the connection buffer after the head (may hold later pipelined requests).
    buffered: &'a [u8],
    pos: usize,
    /// Overflow buffer for chunked framing read from the socket: `extra[lo..hi]` unread.
    extra: Option<PooledBuf>,
    lo: usize,
    hi: usize,
    wire: Wire<'a>,
    limit: u64,
    total: u64,
    pub(crate) continue_pending: bool,
    pub(crate) too_large: bool,
    pub(crate) broken: bool,
}

impl<'a> Body<'a> {
    pub(crate) fn new(
        kind: Kind,
        buffered: &'a [u8],
        wire: Wire<'a>,
        limit: u64,
        expect_continue: bool,
    ) -> Body<'a> {
        let declared = match kind {
            Kind::Length(n) => n,
            Kind::Chunked(_) => 0,
        };
        Body {
            kind,
            declared,
            buffered,
            pos: 0,
            extra: None,
            lo: 0,
            hi: 0,
            wire,
            limit,
            total: 0,
            continue_pending: expect_continue && kind != Kind::Length(0),
            too_large: false,
            broken: false,
        }
    }

    /// True once the whole body has been read.
    pub fn is_done(&self) -> bool {
        match self.kind {
            Kind::Length(n) => n == 0,
            Kind::Chunked(d) => d.is_done(),
        }
    }

    /// How many bytes of the connection buffer the body used.
    pub(crate) fn consumed(&self) -> usize {
        self.pos
    }

    /// Bytes read from the socket past the body (the start of a pipelined request).
    pub(crate) fn leftover(&self) -> &[u8] {
        match &self.extra {
            Some(b) => &b[self.lo..self.hi],
            None => &[],
        }
    }

    /// Takes every byte received and not yet read: the rest of the connection buffer and
    /// what the body reader read past it, raw (unread body, pipelined requests, a
    /// hijacker's early data). The body then reads as ended.
    pub(crate) fn take_rest(&mut self) -> Vec<u8> {
        let mut rest = self.buffered[self.pos.min(self.buffered.len())..].to_vec();
        self.pos = self.buffered.len();
        rest.extend_from_slice(self.leftover());
        self.extra = None;
        (self.lo, self.hi) = (0, 0);
        self.kind = Kind::Length(0);
        self.continue_pending = false;
        rest
    }

    /// Takes the bytes read from the socket past the body, with their range.
    pub(crate) fn take_leftover(&mut self) -> Option<(PooledBuf, usize, usize)> {
        let b = self.extra.take()?;
        (self.lo < self.hi).then_some((b, self.lo, self.hi))
    }

    /// Reads and discards the rest of the body, up to `max` bytes; true if it ended.
    pub(crate) fn drain(&mut self, max: u64) -> bool {
        let mut scratch = [0u8; 2048];
        let mut n = 0u64;
        while !self.is_done() {
            match self.read(&mut scratch) {
                // A chunked body reads 0 at its end: that is success, not a short body.
                Ok(0) => return self.is_done(),
                Err(_) => return false,
                Ok(k) => n += k as u64,
            }
            if n > max {
                return false;
            }
        }
        true
    }

    fn avail(&self) -> &[u8] {
        if self.pos < self.buffered.len() {
            &self.buffered[self.pos..]
        } else {
            self.leftover()
        }
    }

    fn consume(&mut self, n: usize) {
        if self.pos < self.buffered.len() {
            self.pos += n;
        } else {
            self.lo += n;
        }
    }

    fn send_continue(&mut self) -> io::Result<()> {
        if std::mem::take(&mut self.continue_pending) {
            self.wire.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        }
        Ok(())
    }

    /// Copies available bytes or reads the socket straight into `buf`.
    fn read_raw(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let a = self.avail();
        if !a.is_empty() {
            let n = a.len().min(buf.len());
            buf[..n].copy_from_slice(&a[..n]);
            self.consume(n);
            return Ok(n);
        }
        self.send_continue()?;
        self.wire.read(buf)
    }

    /// Marks the body as over the server's limit (the server answers 413) and unusable.
    fn over_limit(&mut self) -> io::Error {
        self.too_large = true;
        self.broken = true;
        io::Error::new(
            io::ErrorKind::InvalidData,
            "goro-net http: request body too large",
        )
    }

    /// Makes more bytes available contiguously (for chunk-size lines); false at EOF.
    fn fill(&mut self) -> io::Result<bool> {
        let tail_len = self.buffered.len() - self.pos;
        let mut extra = match self.extra.take() {
            Some(b) if b.len() > tail_len => b,
            _ => pool::get((tail_len + 1024).max(4096)),
        };
        if tail_len > 0 {
            // Move the tail of the connection buffer over, so the line is contiguous.
            extra[..tail_len].copy_from_slice(&self.buffered[self.pos..]);
            self.pos = self.buffered.len();
            (self.lo, self.hi) = (0, tail_len);
        } else if self.lo > 0 {
            extra.copy_within(self.lo..self.hi, 0);
            (self.lo, self.hi) = (0, self.hi - self.lo);
        }
        if self.hi == extra.len() {
            self.extra = Some(extra);
            return Err(bad("chunk framing line too long"));
        }
        let r = self
            .send_continue()
            .and_then(|_| self.wire.read(&mut extra[self.hi..]));
        let got = match r {
            Ok(n) => n,
            Err(e) => {
                self.extra = Some(extra);
                return Err(e);
            }
        };
        self.hi += got;
        self.extra = Some(extra);
        Ok(got > 0)
    }

    /// Reads chunked framing and data through the shared decoder: framing is consumed
    /// from the buffered bytes (more are read when a framing line is incomplete), data is
    /// copied or read straight into `buf`.
    fn read_chunked(&mut self, buf: &mut [u8], mut dec: Chunked) -> io::Result<usize> {
        loop {
            let step = dec.advance(self.avail());
            let (used, next) = step.map_err(|m| bad(m.0))?;
            self.consume(used);
            self.kind = Kind::Chunked(dec);
            match next {
                Next::Done => return Ok(0),
                Next::Data(left) => {
                    let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                    let n = self.read_raw(&mut buf[..want])?;
                    if n == 0 {
                        return Err(eof());
                    }
                    dec.took(n as u64);
                    self.kind = Kind::Chunked(dec);
                    return Ok(n);
                }
                Next::More => {
                    if !self.fill()? {
                        return Err(eof());
                    }
                }
            }
        }
    }
}

impl Read for Body<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.broken {
            return Err(bad("request body unusable after an earlier error"));
        }
        if buf.is_empty() {
            return Ok(0);
        }
        let r = match self.kind {
            Kind::Length(0) => return Ok(0),
            Kind::Length(left) => {
                let want = buf.len().min(left.min(usize::MAX as u64) as usize);
                match self.read_raw(&mut buf[..want]) {
                    Ok(0) => Err(eof()),
                    Ok(n) => {
                        self.kind = Kind::Length(left - n as u64);
                        Ok(n)
                    }
                    Err(e) => Err(e),
                }
            }
            Kind::Chunked(dec) => self.read_chunked(buf, dec),
        };
        match r {
            Ok(n) => {
                self.total += n as u64;
                if self.total > self.limit {
                    return Err(self.over_limit());
                }
                Ok(n)
            }
            Err(e) => {
                self.broken = true;
                Err(e)
            }
        }
    }
}

impl std::fmt::Debug for Body<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Body")
            .field("kind", &self.kind)
            .field("read", &self.total)
            .finish()
    }
}

impl std::fmt::Debug for Request<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("uri", &self.target)
            .field("remote", &self.remote)
            .finish()
    }
}

fn bad(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("goro-net http: {msg}"))
}

fn eof() -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "goro-net http: connection closed inside the request body",
    )
}
