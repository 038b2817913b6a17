//! [`ClientResponse`], and reading an HTTP/1.1 answer off a client connection: the head,
//! the framing of its body (`Content-Length`, chunked through the shared decoder of
//! `wire.rs`, or up to the close) and the body itself. The client, the pipelining client
//! and [`StreamingResponse`](super::StreamingResponse) all read answers through [`Src`].
use std::fmt;
use std::io::{self, Read};

use super::connection::Wire;
use super::syntax::has_token;
use super::wire::{self, Chunked, Next};
use crate::pool::{self, PooledBuf};

/// A complete response read by the [`Client`](super::Client).
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
    pub(super) text: String,
    /// Per header, in order: where its name starts, where it ends (and its value starts), and
    /// where its value ends, in `text`.
    pub(super) spans: Vec<[u32; 3]>,
    /// The URL that gave this answer, if redirects led to it.
    pub(super) url: Option<String>,
    /// The trailer fields after a chunked body, those [allowed](super::wire::trailer_allowed).
    pub(super) trailers: Vec<(String, String)>,
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

    /// The first trailer field named `name` (case-insensitive): sent after a chunked body
    /// (Go's `resp.Trailer`).
    pub fn trailer(&self, name: &str) -> Option<&str> {
        self.trailers()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// Every trailer field in order, as `(name, value)`: the fields a chunked body ended
    /// with, less those that may not be trailers (framing, routing, authentication and
    /// content headers: RFC 9110 §6.5.1), which are dropped. A `Trailer` header in the
    /// head only announces names; the values are here.
    pub fn trailers(&self) -> impl ExactSizeIterator<Item = (&str, &str)> + '_ {
        self.trailers.iter().map(|(n, v)| (n.as_str(), v.as_str()))
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
            .field("trailers", &self.trailers)
            .finish()
    }
}

/// First size of a response buffer (pooled: no allocation or zeroing per request).
pub(super) const RESP_BUF: usize = 8192;
/// Largest response head accepted.
const MAX_RESP_HEAD: usize = 64 << 10;
/// Most `1xx` interim answers skipped before the real one (Go's client allows 5).
const MAX_INTERIM: usize = 8;
/// Most body memory reserved ahead of the bytes arriving.
const PREALLOC_MAX: usize = 1 << 20;

/// Reads one answer from `src` (bytes already buffered first), leaving whatever follows it
/// in `src`; also says whether the server lets the connection stay open. Interim `1xx`
/// answers are skipped. The error says whether no byte of the answer came.
pub(super) fn read_response(
    src: &mut Src<'_>,
    head_only: bool,
) -> Result<(ClientResponse, bool), (io::Error, bool)> {
    let (mut resp, keep, framing) = read_head(src, head_only)?;
    let mut trailers = Vec::new();
    let body_keeps =
        read_body(src, framing, &mut resp.body, &mut trailers).map_err(|e| (e, false))?;
    resp.trailers = trailers;
    Ok((resp, keep && body_keeps))
}

/// Reads an answer's head, skipping interim `1xx` answers: the response without its body,
/// whether the server lets the connection stay open, and how the body is framed. The
/// error says whether no byte of the answer came.
pub(super) fn read_head(
    src: &mut Src<'_>,
    head_only: bool,
) -> Result<(ClientResponse, bool, Framing), (io::Error, bool)> {
    read_head_interim(src, head_only, None)
}

/// What is told of each interim answer: its status and headers (no body).
pub(super) type OnInterim<'f> = dyn FnMut(&ClientResponse) -> io::Result<()> + 'f;

/// [`read_head`] that shows each interim `1xx` answer but `101` to `on_interim` as it is
/// read, before reading on (Go's `httptrace.ClientTrace.Got1xxResponse`); an error from
/// it ends the exchange.
pub(super) fn read_head_interim(
    src: &mut Src<'_>,
    head_only: bool,
    mut on_interim: Option<&mut OnInterim<'_>>,
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
                    if let Some(f) = on_interim.as_deref_mut() {
                        f(&head.0).map_err(|e| (e, false))?;
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

/// Reads a whole body framed as `framing` into `out`, within the body limit, and the
/// trailer fields' lines of a chunked one into `trailers`; false if the connection cannot
/// carry another answer after it (the body ran to the close).
pub(super) fn read_body(
    src: &mut Src<'_>,
    framing: Framing,
    out: &mut Vec<u8>,
    trailers: &mut Vec<(String, String)>,
) -> io::Result<bool> {
    match framing {
        Framing::Length(n) => src.take(n, out)?,
        Framing::Chunked => {
            let mut dec = Chunked::new();
            let mut raw = Vec::new();
            while let Some(size) = src.chunk_next(&mut dec, Some(&mut raw))? {
                src.take(size, out)?;
                dec.took(size);
            }
            *trailers = wire::trailer_fields(&raw);
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
        trailers: Vec::new(),
    };
    let mut keep = r.version == Some(1);
    // Framing as Go's client reads it: `Transfer-Encoding` (HTTP/1.1 only) must be one
    // line of exactly `chunked`, and wins over `Content-Length` in whatever order they
    // come; `Content-Length` must be digits, the same in every line.
    let mut headers = wire::FramingHeaders::default();
    for h in r.headers.iter() {
        if h.name.eq_ignore_ascii_case("content-length") {
            headers.content_length(h.value).map_err(|m| bad(m.0))?;
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            headers.transfer_encoding(h.value);
        } else if h.name.eq_ignore_ascii_case("connection") {
            keep = if has_token(h.value, b"close") {
                false
            } else {
                keep || has_token(h.value, b"keep-alive")
            };
        }
        resp.push_header(h.name, &String::from_utf8_lossy(h.value));
    }
    let mut framing = match headers.length {
        Some(n) => Framing::Length(n),
        None => Framing::UntilClose,
    };
    if headers.has_transfer_encoding() && r.version == Some(1) {
        if !headers.transfer_encoding_is_chunked() {
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

/// How an answer's body is delimited.
#[derive(Clone, Copy, Debug)]
pub(super) enum Framing {
    Length(u64),
    Chunked,
    UntilClose,
}

/// Response bytes already read (`buf[pos..end]`), then the socket.
pub(super) struct Src<'a> {
    c: Wire<'a>,
    buf: PooledBuf,
    pos: usize,
    end: usize,
    /// [`ClientBuilder::max_body_bytes`](super::ClientBuilder::max_body_bytes).
    max_body: u64,
}

impl<'a> Src<'a> {
    pub(super) fn new(
        c: impl Into<Wire<'a>>,
        buf: PooledBuf,
        pos: usize,
        end: usize,
        max_body: u64,
    ) -> Src<'a> {
        Src {
            c: c.into(),
            buf,
            pos,
            end,
            max_body,
        }
    }

    /// True if every byte read so far was taken.
    pub(super) fn drained(&self) -> bool {
        self.pos == self.end
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
        let n = self.c.read(&mut self.buf[self.end..])?;
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
    /// the size of the data that comes next, or `None` at the end of the body (the trailer
    /// lines appended to `trailers`, if given, else dropped).
    pub(super) fn chunk_next(
        &mut self,
        dec: &mut Chunked,
        mut trailers: Option<&mut Vec<u8>>,
    ) -> io::Result<Option<u64>> {
        loop {
            let (used, next) = dec
                .advance_keeping(&self.buf[self.pos..self.end], trailers.as_deref_mut())
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
/// body is over [`ClientBuilder::max_body_bytes`](super::ClientBuilder::max_body_bytes): a caller can tell it from a malformed
/// answer, and fetch the body with [`Client::stream`](super::Client::stream) instead.
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
