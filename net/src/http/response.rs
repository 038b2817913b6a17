//! The server's response side: [`ResponseWriter`] and the connection's output buffer.
use std::io::{self, Write};

use super::connection::Wire;
use super::wire::{chunk_line, CHUNK_LINE};
use crate::pool::{self, PooledBuf};

/// Body bytes a response buffers before it commits to streaming (chunked, or the handler's
/// own `Content-Length`). A handler that writes less gets an exact `Content-Length`.
const BUFFER_LIMIT: usize = 16 << 10;
/// Size of the pooled output buffer a batch of responses is assembled in.
const OUT_SIZE: usize = 16 << 10;

/// The connection's output: responses accumulate here and go out in one `write` per batch.
/// The pooled buffer is taken on the first byte and given back once flushed, so an idle
/// connection holds none.
#[derive(Default)]
pub(crate) struct Out {
    buf: Option<PooledBuf>,
    len: usize,
}

impl Out {
    pub(crate) fn push(&mut self, wire: Wire<'_>, data: &[u8]) -> io::Result<()> {
        let buf = self.buf.get_or_insert_with(|| pool::get(OUT_SIZE));
        if self.len + data.len() <= buf.len() {
            buf[self.len..self.len + data.len()].copy_from_slice(data);
            self.len += data.len();
            return Ok(());
        }
        self.flush(wire)?;
        if data.len() >= OUT_SIZE / 2 {
            return wire.write_all(data);
        }
        self.push(wire, data)
    }

    /// True if no response waits in the buffer.
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Writes what is buffered and returns the buffer to the pool.
    pub(crate) fn flush(&mut self, wire: Wire<'_>) -> io::Result<()> {
        let len = std::mem::take(&mut self.len);
        match self.buf.take() {
            Some(b) if len > 0 => wire.write_all(&b[..len]),
            _ => Ok(()),
        }
    }
}

/// Who writes the `Date` header (RFC 9110 §6.6.1: an origin server with a clock sends it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DateHeader {
    /// The server adds the current one (the default).
    Auto,
    /// The handler set its own (a relayed backend's): the server adds none.
    Handler,
    /// The handler deleted it: none is sent.
    Off,
}

/// How the body goes on the wire once the head is out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Head not written yet; body bytes are buffered.
    Buffering,
    /// Head written with this `Content-Length`.
    Length,
    /// Head written with `Transfer-Encoding: chunked`.
    Chunked,
    /// HTTP/1.0 without a length: the body ends when the connection closes.
    UntilClose,
}

/// Builds the response to one request (Go's `http.ResponseWriter`).
///
/// Set headers with [`header_set`](Self::header_set) / [`header_add`](Self::header_add),
/// optionally the status with [`write_header`](Self::write_header) (default 200), then
/// write the body through [`std::io::Write`]. A body of up to 16 KiB is buffered and sent
/// with an exact `Content-Length`; a larger one, or one after [`flush`](Write::flush), is
/// sent chunked (or with the handler's own `Content-Length` header). For `HEAD` the body is
/// counted but not sent.
///
/// **`Date` and `Server`.** The server adds `Date` unless the handler set one (a relayed
/// backend's, say) or deleted it with `header_del("Date")`, as Go's does. It adds no
/// `Server` header, as Go's does not: naming the software and its version helps an
/// attacker pick exploits and tells a client nothing it needs (RFC 9110 §10.2.4 calls it
/// optional), and it is 14 bytes less per answer. A handler that wants one sets it. So a
/// proxy that copies a backend's headers sends each once.
///
/// ```
/// use std::io::Write;
/// use goro_net::http::{Request, ResponseWriter};
///
/// fn not_found(w: &mut ResponseWriter<'_>, _r: &mut Request<'_>) {
///     w.header_set("Content-Type", "text/plain; charset=utf-8");
///     w.write_header(404);
///     let _ = w.write_all(b"404 page not found\n");
/// }
/// # let _ = not_found;
/// ```
pub struct ResponseWriter<'a> {
    out: &'a mut Out,
    wire: Wire<'a>,
    hdrs: &'a mut Vec<u8>,
    body: &'a mut Vec<u8>,
    date: &'a [u8],
    status: u16,
    mode: Mode,
    declared: Option<u64>,
    written: u64,
    pub(crate) head_only: bool,
    pub(crate) close: bool,
    /// [`abort`](ResponseWriter::abort)ed: nothing more goes out, the response stays cut.
    aborted: bool,
    pub(crate) http10: bool,
    pub(crate) ka10: bool,
    /// Who decides the `Date` header: see [`DateHeader`].
    date_header: DateHeader,
    /// A handler took the connection over (`hijack.rs`): nothing more is sent for it.
    pub(crate) hijacked: bool,
    /// What the server does when a handler hijacks: forget the connection and hand its
    /// record over. `None` where nothing registered it (`httptest`).
    pub(crate) on_hijack: Option<super::hijack::Takeover<'a>>,
    /// Trailer lines (`name: value\r\n`) for the last chunk ([`trailer_add`](Self::trailer_add)).
    trailers: Vec<u8>,
    /// A `Trailer` header was set: the body goes chunked (no header scan per answer).
    trailer_announced: bool,
}

impl<'a> ResponseWriter<'a> {
    pub(crate) fn new(
        out: &'a mut Out,
        wire: Wire<'a>,
        hdrs: &'a mut Vec<u8>,
        body: &'a mut Vec<u8>,
        date: &'a [u8],
    ) -> ResponseWriter<'a> {
        hdrs.clear();
        body.clear();
        ResponseWriter {
            out,
            wire,
            hdrs,
            body,
            date,
            status: 0,
            mode: Mode::Buffering,
            declared: None,
            written: 0,
            head_only: false,
            close: false,
            aborted: false,
            http10: false,
            ka10: false,
            hijacked: false,
            on_hijack: None,
            date_header: DateHeader::Auto,
            trailers: Vec::new(),
            trailer_announced: false,
        }
    }

    /// Sets header `name` to `value`, replacing earlier values. Ignored once the head was
    /// sent. `Content-Length` set here makes the body stream with that length.
    pub fn header_set(&mut self, name: &str, value: &str) {
        self.header_del(name);
        self.header_add(name, value);
    }

    /// Adds a header line (repeatable headers such as `Set-Cookie`). CR and LF in the name
    /// or value are replaced by spaces, so a handler cannot split the response.
    pub fn header_add(&mut self, name: &str, value: &str) {
        if self.mode != Mode::Buffering {
            tracing::debug!(name, "goro-net http: header set after the head was sent");
            return;
        }
        if name.eq_ignore_ascii_case("content-length") {
            self.declared = value.trim().parse().ok();
        } else if name.len() == 4 && name.eq_ignore_ascii_case("date") {
            self.date_header = DateHeader::Handler;
        } else if name.len() == 7 && name.eq_ignore_ascii_case("trailer") {
            self.trailer_announced = true;
        }
        let clean = |b: u8| if b == b'\r' || b == b'\n' { b' ' } else { b };
        self.hdrs.extend(name.bytes().map(clean));
        self.hdrs.extend_from_slice(b": ");
        self.hdrs.extend(value.bytes().map(clean));
        self.hdrs.extend_from_slice(b"\r\n");
    }

    /// The first value of header `name` set so far.
    pub fn header_get(&self, name: &str) -> Option<&str> {
        self.lines()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// Removes every value of header `name`.
    pub fn header_del(&mut self, name: &str) {
        if name.eq_ignore_ascii_case("content-length") {
            self.declared = None;
        } else if name.len() == 4 && name.eq_ignore_ascii_case("date") {
            self.date_header = DateHeader::Off;
        } else if name.len() == 7 && name.eq_ignore_ascii_case("trailer") {
            self.trailer_announced = false;
        }
        let mut i = 0;
        while i < self.hdrs.len() {
            let end = i
                + self.hdrs[i..]
                    .windows(2)
                    .position(|w| w == b"\r\n")
                    .unwrap_or(0)
                + 2;
            let line = &self.hdrs[i..end];
            let is_it = line.len() > name.len()
                && line[name.len()] == b':'
                && line[..name.len()].eq_ignore_ascii_case(name.as_bytes());
            if is_it {
                self.hdrs.drain(i..end);
            } else {
                i = end;
            }
        }
    }

    fn lines(&self) -> impl Iterator<Item = (&str, &str)> {
        std::str::from_utf8(self.hdrs)
            .unwrap_or("")
            .split("\r\n")
            .filter_map(|l| l.split_once(": "))
    }

    /// Sets the status code (Go's `WriteHeader`). Only the first call counts, and only
    /// before the first body byte.
    ///
    /// An informational status (`100` to `199`, but `101`) is not the answer, as in Go: it
    /// goes out at once as an interim answer with the headers set so far, and the handler
    /// goes on to set the final status and write the body (see
    /// [`write_interim`](Self::write_interim), which names its headers instead).
    pub fn write_header(&mut self, status: u16) {
        if (100..200).contains(&status) && status != 101 {
            let hdrs = std::mem::take(self.hdrs);
            let lines: Vec<(&str, &str)> = std::str::from_utf8(&hdrs)
                .unwrap_or("")
                .split("\r\n")
                .filter_map(|l| l.split_once(": "))
                .collect();
            let _ = self.write_interim(status, &lines);
            *self.hdrs = hdrs;
            return;
        }
        if self.status == 0 {
            self.status = status.clamp(100, 999);
        } else {
            tracing::debug!(status, "goro-net http: superfluous write_header");
        }
    }

    /// Sends an interim answer now, before the final one: status `status` (`100` to `199`,
    /// but `101`) with `headers` (Go's `WriteHeader(103)` after setting the hints; RFC
    /// 8297's `103 Early Hints` lets a client fetch what a page will need while the server
    /// still works on it). The headers set for the final answer are left alone; framing
    /// headers (`Content-Length`, `Transfer-Encoding`, `Trailer`) are not sent, and CR and
    /// LF become spaces as in [`header_add`](Self::header_add).
    ///
    /// Sent at once, with whatever answers the connection had buffered before it. Refused
    /// (an error, nothing sent) with another status, after the head of the final answer
    /// went out, after [`abort`](Self::abort), or to an HTTP/1.0 client (RFC 9110 §15.2:
    /// it would take the interim answer for the final one). The server answers a request's
    /// `Expect: 100-continue` itself when the handler first reads the body; a handler
    /// rarely needs to send `100`.
    ///
    /// ```
    /// use std::io::Write;
    /// use goro_net::http::{Request, ResponseWriter};
    ///
    /// fn page(w: &mut ResponseWriter<'_>, _r: &mut Request<'_>) {
    ///     let _ = w.write_interim(103, &[("Link", "</app.css>; rel=preload; as=style")]);
    ///     // ... the slow part ...
    ///     w.header_set("Content-Type", "text/html");
    ///     let _ = w.write_all(b"<link rel=stylesheet href=/app.css>");
    /// }
    /// # let _ = page;
    /// ```
    pub fn write_interim(&mut self, status: u16, headers: &[(&str, &str)]) -> io::Result<()> {
        let refuse = |why: &str| Err(io::Error::other(format!("goro-net http: {why}")));
        if !(100..200).contains(&status) || status == 101 {
            return refuse("an interim answer's status is 1xx, not 101");
        }
        if self.mode != Mode::Buffering || self.aborted || self.hijacked {
            return refuse("interim answer after the final one began");
        }
        if self.http10 {
            return refuse("no interim answers to an HTTP/1.0 client");
        }
        let clean = |b: u8| if b == b'\r' || b == b'\n' { b' ' } else { b };
        let mut head = Vec::with_capacity(64);
        head.extend_from_slice(b"HTTP/1.1 ");
        let mut digits = [0u8; 20];
        head.extend_from_slice(itoa(u64::from(status), &mut digits));
        head.push(b' ');
        head.extend_from_slice(reason(status).as_bytes());
        head.extend_from_slice(b"\r\n");
        for (n, v) in headers {
            let framing = ["content-length", "transfer-encoding", "trailer"]
                .iter()
                .any(|f| f.eq_ignore_ascii_case(n));
            if framing || n.is_empty() {
                continue;
            }
            head.extend(n.bytes().map(clean));
            head.extend_from_slice(b": ");
            head.extend(v.bytes().map(clean));
            head.extend_from_slice(b"\r\n");
        }
        head.extend_from_slice(b"\r\n");
        self.out.push(self.wire, &head)?;
        self.out.flush(self.wire)
    }

    /// Adds a trailer field, sent after the body in its last chunk (Go's
    /// `w.Header().Set(name, v)` for a name announced in `Trailer` before the head, or with
    /// `http.TrailerPrefix`). Announce the names with `header_set("Trailer", "X-Sum")`
    /// before the head goes out, as RFC 9110 §6.6.2 asks. Trailers make the body chunked
    /// (a short body too, which would otherwise get a `Content-Length`), so they are
    /// dropped, with a debug log, from an answer with a `Content-Length` of the handler's,
    /// a `HEAD` answer, one without a body, or one to an HTTP/1.0 client. A field that may
    /// not be a trailer (`Content-Length`, `Transfer-Encoding`, `Host`, `Content-Type`,
    /// authentication and caching fields: RFC 9110 §6.5.1) or whose name is not a token is
    /// dropped too; CR and LF in the value become spaces.
    ///
    /// ```
    /// use std::io::Write;
    /// use goro_net::http::{Request, ResponseWriter};
    ///
    /// fn download(w: &mut ResponseWriter<'_>, _r: &mut Request<'_>) {
    ///     w.header_set("Trailer", "X-Checksum");
    ///     let body = b"the data";
    ///     let _ = w.write_all(body);
    ///     let sum: u32 = body.iter().map(|&b| u32::from(b)).sum();
    ///     w.trailer_add("X-Checksum", &sum.to_string());
    /// }
    /// # let _ = download;
    /// ```
    pub fn trailer_add(&mut self, name: &str, value: &str) {
        if !super::wire::trailer_allowed(name) {
            tracing::debug!(name, "goro-net http: not a field a trailer may carry");
            return;
        }
        let clean = |b: u8| if b == b'\r' || b == b'\n' { b' ' } else { b };
        self.trailers.extend_from_slice(name.as_bytes());
        self.trailers.extend_from_slice(b": ");
        self.trailers.extend(value.bytes().map(clean));
        self.trailers.extend_from_slice(b"\r\n");
    }

    /// The status code that was or will be sent (200 if none was set yet).
    pub fn status(&self) -> u16 {
        if self.status == 0 {
            200
        } else {
            self.status
        }
    }

    /// Asks the server to close the connection after this response.
    pub fn close_after(&mut self) {
        self.close = true;
    }

    /// Ends the response unfinished (Go's `panic(http.ErrAbortHandler)`): what was already
    /// written goes out, nothing completes it (no final chunk, no missing bytes of a
    /// declared length) and the connection is closed, so the client sees the body cut
    /// short instead of a complete-looking one. Later writes fail. For a handler that
    /// relays a body and loses its source midway, as a proxy does. A handler that panics
    /// after the head went out is aborted the same way.
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// use goro_net::http::{Request, ResponseWriter};
    ///
    /// fn relay(w: &mut ResponseWriter<'_>, source: &mut dyn Read) {
    ///     if let Err(e) = std::io::copy(source, w) {
    ///         eprintln!("source failed midway: {e}");
    ///         w.abort();
    ///     }
    /// }
    /// # let _ = relay;
    /// ```
    pub fn abort(&mut self) {
        self.aborted = true;
        self.close = true;
    }

    /// True if a byte of the head has been handed to the socket or output buffer.
    pub(crate) fn committed(&self) -> bool {
        self.mode != Mode::Buffering
    }

    /// Throws away whatever the handler prepared (the head was not sent yet).
    pub(crate) fn reset(&mut self, status: u16) {
        self.hdrs.clear();
        self.body.clear();
        self.declared = None;
        self.date_header = DateHeader::Auto;
        self.trailer_announced = false;
        self.written = 0;
        self.status = status;
    }

    fn body_allowed(&self) -> bool {
        let s = self.status();
        !(s < 200 || s == 204 || s == 304)
    }

    /// Writes the status line and headers into the output buffer.
    fn commit(&mut self, mode: Mode, length: Option<u64>) -> io::Result<()> {
        self.mode = mode;
        if self.status == 0 {
            self.status = 200;
        }
        let mut head = [0u8; 256];
        let mut n = 0;
        let mut put = |b: &[u8]| {
            head[n..n + b.len()].copy_from_slice(b);
            n += b.len();
        };
        put(b"HTTP/1.1 ");
        let mut code = [0u8; 3];
        let s = self.status;
        code[0] = b'0' + (s / 100) as u8;
        code[1] = b'0' + (s / 10 % 10) as u8;
        code[2] = b'0' + (s % 10) as u8;
        put(&code);
        put(b" ");
        put(reason(s).as_bytes());
        put(b"\r\n");
        if self.date_header == DateHeader::Auto {
            put(b"Date: ");
            put(self.date);
            put(b"\r\n");
        }
        match (mode, length) {
            (Mode::Chunked, _) => put(b"Transfer-Encoding: chunked\r\n"),
            (_, Some(len)) if self.declared.is_none() && self.body_allowed() => {
                put(b"Content-Length: ");
                let mut digits = [0u8; 20];
                put(itoa(len, &mut digits));
                put(b"\r\n");
            }
            _ => {}
        }
        if self.close || mode == Mode::UntilClose {
            put(b"Connection: close\r\n");
        } else if self.ka10 {
            put(b"Connection: keep-alive\r\n");
        }
        self.out.push(self.wire, &head[..n])?;
        self.out.push(self.wire, self.hdrs)?;
        self.out.push(self.wire, b"\r\n")
    }

    /// Commits to streaming: the head goes out with the declared length, chunked framing, or
    /// (HTTP/1.0) close-delimited; buffered body bytes follow.
    fn start_streaming(&mut self) -> io::Result<()> {
        let mode = if self.declared.is_some() || self.head_only || !self.body_allowed() {
            Mode::Length
        } else if self.http10 {
            self.close = true;
            Mode::UntilClose
        } else {
            Mode::Chunked
        };
        self.commit(mode, None)?;
        let body = std::mem::take(self.body);
        let r = self.send(&body);
        *self.body = body;
        self.body.clear();
        r
    }

    /// Sends body bytes in the committed mode.
    fn send(&mut self, data: &[u8]) -> io::Result<()> {
        if data.is_empty() || self.head_only || !self.body_allowed() {
            return Ok(());
        }
        match self.mode {
            Mode::Chunked => {
                let mut line = [0u8; CHUNK_LINE];
                self.out
                    .push(self.wire, chunk_line(data.len(), &mut line))?;
                self.out.push(self.wire, data)?;
                self.out.push(self.wire, b"\r\n")
            }
            _ => self.out.push(self.wire, data),
        }
    }

    /// Completes the response after the handler returned. Returns false if the connection
    /// cannot be reused (a short declared body, a close-delimited body).
    pub(crate) fn finish(&mut self) -> io::Result<bool> {
        if self.aborted {
            return Ok(false);
        }
        let trailers = !self.trailers.is_empty() || self.trailer_announced;
        if trailers && self.mode == Mode::Buffering {
            // Chunked, if this answer can be: only the last chunk carries trailers.
            let chunked =
                self.declared.is_none() && !self.head_only && self.body_allowed() && !self.http10;
            if chunked {
                self.start_streaming()?;
            }
        }
        if !self.trailers.is_empty() && self.mode != Mode::Chunked {
            tracing::debug!("goro-net http: trailers dropped: the answer is not chunked");
        }
        match self.mode {
            Mode::Buffering => {
                let len = self.declared.unwrap_or(self.written);
                self.commit(Mode::Length, Some(len))?;
                if !self.head_only && self.body_allowed() {
                    let body = std::mem::take(self.body);
                    let r = self.out.push(self.wire, &body);
                    *self.body = body;
                    r?;
                }
                Ok(self
                    .declared
                    .is_none_or(|d| d == self.written || self.head_only))
            }
            Mode::Chunked => {
                if self.trailers.is_empty() {
                    self.out.push(self.wire, b"0\r\n\r\n")?;
                } else {
                    self.out.push(self.wire, b"0\r\n")?;
                    let trailers = std::mem::take(&mut self.trailers);
                    self.out.push(self.wire, &trailers)?;
                    self.out.push(self.wire, b"\r\n")?;
                }
                Ok(true)
            }
            Mode::Length => Ok(self
                .declared
                .is_none_or(|d| d == self.written || self.head_only)),
            Mode::UntilClose => Ok(false),
        }
    }
}

impl ResponseWriter<'_> {
    /// Writes what the output buffer holds (after [`finish`](Self::finish), for a writer
    /// that has no connection loop to do it: `httptest`).
    pub(crate) fn flush_out(&mut self) -> io::Result<()> {
        self.out.flush(self.wire)
    }
}

impl Write for ResponseWriter<'_> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.aborted {
            return Err(io::Error::other("goro-net http: the response was aborted"));
        }
        if self.status == 0 {
            self.status = 200;
        }
        if !self.body_allowed() {
            return Err(io::Error::other(
                "goro-net http: this status does not allow a body",
            ));
        }
        if let Some(d) = self.declared {
            if self.written + data.len() as u64 > d {
                return Err(io::Error::other(
                    "goro-net http: wrote more than the declared Content-Length",
                ));
            }
        }
        self.written += data.len() as u64;
        if self.mode == Mode::Buffering {
            if self.body.len() + data.len() <= BUFFER_LIMIT {
                if !self.head_only {
                    self.body.extend_from_slice(data);
                }
                return Ok(data.len());
            }
            self.start_streaming()?;
        }
        self.send(data)?;
        Ok(data.len())
    }

    /// Sends the head and everything buffered so far to the client now (Go's `Flusher`).
    fn flush(&mut self) -> io::Result<()> {
        if self.aborted {
            return Err(io::Error::other("goro-net http: the response was aborted"));
        }
        if self.mode == Mode::Buffering {
            self.start_streaming()?;
        }
        self.out.flush(self.wire)
    }
}

impl std::fmt::Debug for ResponseWriter<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseWriter")
            .field("status", &self.status())
            .field("written", &self.written)
            .finish()
    }
}

/// Writes `v` in decimal at the end of `buf` and returns the digits.
pub(crate) fn itoa(mut v: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            return &buf[i..];
        }
    }
}

/// The reason phrase of a status code (Go's `StatusText`; empty for unknown codes).
pub fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        102 => "Processing",
        103 => "Early Hints",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        206 => "Partial Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        411 => "Length Required",
        413 => "Content Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        417 => "Expectation Failed",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "",
    }
}
