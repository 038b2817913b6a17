//! [`StreamingResponse`]: an answer whose body the caller reads as it arrives (Go's
//! `resp.Body`), from [`Client::stream`](super::Client::stream).
//!
//! The head is read when `stream` returns; the body stays on the connection until the
//! caller reads it, through a small state machine over the framing (`Content-Length`,
//! `chunked`, or up to the close). Data the head's read already brought is served from
//! the read buffer; after that, reads go from the socket straight into the caller's
//! buffer. Read to its end, the connection goes back to the pool; dropped before that (or
//! after an error), it is closed, as Go closes a connection whose body was not read to
//! EOF. Nothing bounds the body's size: the caller holds only what it reads.
use std::fmt;
use std::io::{self, Read};

use super::answer::{ClientResponse, Framing, Src};
use super::client_conn::ClientConn;
use super::transport::Answer;
use super::wire::Chunked;
use crate::connpool::PooledConn;
use crate::pool::PooledBuf;

/// An answer from [`Client::stream`](super::Client::stream): its status and headers, and
/// its body as a [`Read`]er.
///
/// ```
/// use std::io::{Read, Write};
/// use goro_net::{http, TcpListener};
///
/// let listener = TcpListener::bind("127.0.0.1:0").unwrap();
/// let addr = listener.local_addr().unwrap();
/// let server = http::Server::new(|w: &mut http::ResponseWriter<'_>, _r: &mut http::Request<'_>| {
///     for i in 0..3000 {
///         let _ = writeln!(w, "line {i:05}"); // 33 KB: over 16 KiB, so sent chunked
///     }
/// });
/// let s = server.clone();
/// goro::spawn(move || s.serve(listener));
///
/// let client = http::Client::new();
/// let mut resp = client.stream("GET", &format!("http://{addr}/"), &[], &[]).unwrap();
/// assert_eq!(resp.status(), 200);
/// let mut lines = 0;
/// let mut buf = [0u8; 4096];
/// loop {
///     let n = resp.read(&mut buf).unwrap();
///     if n == 0 {
///         break;
///     }
///     lines += buf[..n].iter().filter(|&&b| b == b'\n').count();
/// }
/// assert_eq!(lines, 3000);
/// drop(resp); // read to the end: the connection goes back to the pool
/// assert_eq!(client.pool_stats().idle, 1);
/// server.shutdown(std::time::Duration::from_secs(1));
/// ```
pub struct StreamingResponse {
    /// Status and headers; its `body` stays empty.
    head: ClientResponse,
    /// The request's context's hold on the connection (`cancel.rs`): emptied before the
    /// connection is let go.
    guard: Option<super::cancel::Guard>,
    /// `None` once the body is done (the connection went back or was closed).
    conn: Option<PooledConn<ClientConn>>,
    /// The read buffer and its unread part; `None` only while a step borrows it.
    buf: Option<(PooledBuf, usize, usize)>,
    /// The server lets the connection carry another request.
    keep: bool,
    state: State,
    /// A chunked body's trailer lines as read (`wire::Chunked::advance_keeping`).
    raw_trailers: Vec<u8>,
    /// The trailer fields, once the body was read to its end.
    trailers: Vec<(String, String)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// This many bytes of a `Content-Length` body left.
    Length(u64),
    /// A chunked body, where the shared decoder of `wire.rs` is.
    Chunked(Chunked),
    /// The body runs until the server closes.
    UntilClose,
    /// Read to its end.
    Done,
    /// A read failed; the connection is closed.
    Failed,
}

impl StreamingResponse {
    pub(super) fn new(a: Answer) -> StreamingResponse {
        let state = match a.framing {
            Framing::Length(n) => State::Length(n),
            Framing::Chunked => State::Chunked(Chunked::new()),
            Framing::UntilClose => State::UntilClose,
        };
        let mut r = StreamingResponse {
            head: a.resp,
            guard: a.guard,
            conn: Some(a.conn),
            buf: Some(a.buf),
            keep: a.keep,
            state,
            raw_trailers: Vec::new(),
            trailers: Vec::new(),
        };
        if state == State::Length(0) {
            r.finish(true);
        }
        r
    }

    /// The URL this answer came from when redirects were followed to it (see
    /// [`ClientResponse::redirected_to`]).
    pub fn redirected_to(&self) -> Option<&str> {
        self.head.redirected_to()
    }

    /// The status code.
    pub fn status(&self) -> u16 {
        self.head.status
    }

    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.header(name)
    }

    /// Every header in order, as `(name, value)` (see [`ClientResponse::headers`]).
    pub fn headers(&self) -> impl ExactSizeIterator<Item = (&str, &str)> + '_ {
        self.head.headers()
    }

    /// Reads the rest of the body into a [`ClientResponse`], as [`Client::request`]
    /// returns it (without its body limit: the caller chose to stream), trailers included.
    ///
    /// [`Client::request`]: super::Client::request
    pub fn into_response(mut self) -> io::Result<ClientResponse> {
        let mut body = Vec::new();
        self.read_to_end(&mut body)?;
        let mut resp = std::mem::take(&mut self.head);
        resp.body = body;
        resp.trailers = std::mem::take(&mut self.trailers);
        Ok(resp)
    }

    /// The trailer fields a chunked body ended with, once it was read to its end (a read
    /// returned 0; Go's `resp.Trailer` after `Body` hit EOF): empty before that, and for
    /// a body that had none. Fields that may not be trailers are dropped (see
    /// [`ClientResponse::trailers`]).
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// use goro_net::http::{httptest, Client, Request, ResponseWriter};
    ///
    /// let server = httptest::Server::new(|w: &mut ResponseWriter<'_>, _r: &mut Request<'_>| {
    ///     w.header_set("Trailer", "X-Checksum");
    ///     let _ = w.write_all(b"payload");
    ///     w.trailer_add("X-Checksum", "7");
    /// });
    /// let mut resp = Client::new().stream("GET", server.url(), &[], &[]).unwrap();
    /// std::io::copy(&mut resp, &mut std::io::sink()).unwrap();
    /// assert_eq!(resp.trailer("x-checksum"), Some("7"));
    /// assert_eq!(resp.trailers().collect::<Vec<_>>(), [("X-Checksum", "7")]);
    /// ```
    pub fn trailers(&self) -> impl ExactSizeIterator<Item = (&str, &str)> + '_ {
        self.trailers.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// The first trailer field named `name` (case-insensitive), once the body was read to
    /// its end (see [`trailers`](Self::trailers)).
    pub fn trailer(&self, name: &str) -> Option<&str> {
        self.trailers()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// Waits until the body may have bytes to read (buffered ones, or the socket turned
    /// readable, ended or failed: true) or `by` passes first (false). Reads nothing, so
    /// the next read finds everything. For a relay that must do something when its source
    /// goes quiet (the proxy's periodic flush).
    pub(crate) fn wait_readable_until(&self, by: std::time::Instant) -> bool {
        let Some(conn) = self.conn.as_ref() else {
            return true; // done or failed: a read returns at once
        };
        if self.buf.as_ref().is_some_and(|(_, pos, end)| pos < end) || conn.buffered() > 0 {
            return true;
        }
        !matches!(
            conn.socket().as_poll_fd().readable_deadline(by),
            Err(e) if e.kind() == io::ErrorKind::TimedOut
        )
    }

    /// Ends the body: the connection goes back to the pool if `reusable` and it holds no
    /// stray bytes, and is closed otherwise.
    fn finish(&mut self, reusable: bool) {
        self.state = State::Done;
        let clean = self.buf.as_ref().is_some_and(|(_, pos, end)| pos == end);
        self.guard = None;
        if let Some(mut c) = self.conn.take() {
            if !(reusable && self.keep && clean) {
                c.discard();
            }
        }
    }

    /// Runs `step` on the read buffer as a [`Src`] over the connection.
    fn with_src<T>(&mut self, step: impl FnOnce(&mut Src<'_>) -> io::Result<T>) -> io::Result<T> {
        let conn = self
            .conn
            .as_ref()
            .expect("a body being read has its connection");
        let (buf, pos, end) = self
            .buf
            .take()
            .expect("the read buffer is back after each step");
        let mut src = Src::new(&**conn, buf, pos, end, u64::MAX);
        let r = step(&mut src);
        self.buf = Some(src.into_parts());
        r
    }

    /// Up to `n` body bytes into `out`: buffered ones first, then from the socket; at
    /// least one, or an error if the connection ended first.
    fn data(&mut self, out: &mut [u8], n: u64) -> io::Result<usize> {
        match self.available(out, n)? {
            0 => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "goro-net http: answer cut short",
            )),
            k => Ok(k),
        }
    }

    /// Up to `n` body bytes into `out`: buffered ones first, then from the socket (0 at
    /// the connection's end).
    fn available(&mut self, out: &mut [u8], n: u64) -> io::Result<usize> {
        let want = out.len().min(usize::try_from(n).unwrap_or(usize::MAX));
        let (buf, pos, end) = self.buf.as_mut().expect("read buffer present");
        if *pos < *end {
            let k = want.min(*end - *pos);
            out[..k].copy_from_slice(&buf[*pos..*pos + k]);
            *pos += k;
            return Ok(k);
        }
        let conn = self
            .conn
            .as_ref()
            .expect("a body being read has its connection");
        conn.wire().read(&mut out[..want])
    }

    fn step(&mut self, out: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.state {
                State::Done => return Ok(0),
                State::Failed => {
                    return Err(io::Error::other(
                        "goro-net http: the body's read failed earlier",
                    ))
                }
                State::Length(0) => self.finish(true),
                State::Length(n) => {
                    if out.is_empty() {
                        return Ok(0);
                    }
                    let k = self.data(out, n)?;
                    let left = n - k as u64;
                    self.state = State::Length(left);
                    if left == 0 {
                        self.finish(true);
                    }
                    return Ok(k);
                }
                State::Chunked(mut dec) => {
                    let mut raw = std::mem::take(&mut self.raw_trailers);
                    let next = self.with_src(|s| s.chunk_next(&mut dec, Some(&mut raw)));
                    self.raw_trailers = raw;
                    let Some(size) = next? else {
                        self.trailers = super::wire::trailer_fields(&self.raw_trailers);
                        self.raw_trailers = Vec::new();
                        self.finish(true);
                        continue;
                    };
                    self.state = State::Chunked(dec);
                    if out.is_empty() {
                        return Ok(0);
                    }
                    let k = self.data(out, size)?;
                    dec.took(k as u64);
                    self.state = State::Chunked(dec);
                    return Ok(k);
                }
                State::UntilClose => {
                    if out.is_empty() {
                        return Ok(0);
                    }
                    let k = self.available(out, u64::MAX)?;
                    if k == 0 {
                        self.finish(false);
                    }
                    return Ok(k);
                }
            }
        }
    }
}

impl super::redirect::Redirectable for StreamingResponse {
    fn status_and_location(&self) -> (u16, Option<&str>) {
        (self.head.status, self.head.header("location"))
    }

    fn set_url(&mut self, url: String) {
        self.head.set_url(url);
    }
}

impl Read for StreamingResponse {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let r = self.step(out);
        if r.is_err() && self.state != State::Failed {
            self.finish(false);
            self.state = State::Failed;
        }
        r
    }
}

impl Drop for StreamingResponse {
    fn drop(&mut self) {
        self.guard = None;
        if let Some(mut c) = self.conn.take() {
            c.discard(); // the body was not read to its end
        }
    }
}

impl fmt::Debug for StreamingResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamingResponse")
            .field("status", &self.head.status)
            .field("headers", &self.head.headers().collect::<Vec<_>>())
            .field("state", &self.state)
            .finish()
    }
}
