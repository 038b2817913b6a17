//! One server connection: read a batch, answer every complete request in it.
//!
//! No answer waits for a later request's handler: before a handler runs, the answers queued
//! by the requests before it are written (a handler can be slow, a backend call or a sleep,
//! and nothing tells that before it returns). That is Go's server's rule, one write per
//! answer of a pipelined batch; a request that arrives alone gets one write for its answer,
//! as before. A write that fails (the client reset or left) ends the connection before its
//! queued requests reach the handler.
use std::io::{self, Read};
use std::mem::MaybeUninit;
use std::net::{Shutdown, SocketAddr};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::connection::{Connection, Wire};
use super::request::{Body, Kind, Request};
use super::request_context::{self, ReqContext};
use super::response::{Out, ResponseWriter};
use super::server::{Shared, Slot};
use super::wire::{self, Chunked};
use crate::pool::{self, PooledBuf};

/// Header slots kept on the stack; a larger [`max_headers`](super::Builder::max_headers)
/// takes them from the heap, per request.
const STACK_HEADERS: usize = 100;
/// Unread body a connection drains to stay reusable after a handler ignored it.
const MAX_DRAIN: u64 = 256 << 10;
/// First size of a connection's read buffer.
const READ_SIZE: usize = 4096;

/// What one parse-and-answer step did.
enum Step {
    /// The buffer holds only part of a head: read more.
    Partial,
    /// A request was answered; `used` buffer bytes belonged to it.
    Done {
        used: usize,
        keep: bool,
        leftover: Option<(PooledBuf, usize, usize)>,
    },
    /// The connection must end (an error response is queued, or the socket failed).
    Close,
    /// The handler hijacked the connection: the server has forgotten it and sends nothing.
    Hijacked,
}

/// One live connection, owned by the coroutine that serves it. Between requests it moves to
/// the coroutine that will serve the next one ([`serve`]). Dropping it, at the end or by a
/// panic, unregisters the connection, closes the socket and frees its permit.
pub(crate) struct Conn<C: Connection> {
    pub(crate) srv: Arc<Shared>,
    pub(crate) slot: Arc<Slot<C>>,
    /// Counts the connection on its worker for placement (goro's `spawn_balanced` figure),
    /// and moves it off a saturated worker between requests ([`serve`]).
    pub(crate) placed: goro::io::Placement,
}

impl<C: Connection> Conn<C> {
    /// The record of a connection the server accepted and registered.
    pub(crate) fn new(
        srv: Arc<Shared>,
        slot: Arc<Slot<C>>,
        placed: goro::io::Placement,
    ) -> Conn<C> {
        Conn { srv, slot, placed }
    }
}

impl<C: Connection> Drop for Conn<C> {
    fn drop(&mut self) {
        // The socket closes when `self.slot`, the last reference once the registry let go of
        // its own, drops right after this. A hijacked connection left the registry already,
        // and its `Hijacked` handles hold the slot (so the socket stays open) after this.
        if !self.slot.hijacked.load(Ordering::Relaxed) {
            self.srv.unregister(self.slot.index);
        }
    }
}

/// Serves `conn` until it goes idle between requests, then leaves the wait for the next
/// request to the poller: the coroutine ends, and a new one starts (on the same worker)
/// when the client sends more, closes, or the ticker closes the connection for a timeout.
///
/// So an idle keep-alive connection holds no stack, no buffer and no coroutine, only its
/// socket and a queued start. Each request is served on a stack the worker's last
/// coroutine just gave back, where a coroutine parked through the idle spell would resume
/// on a stack gone cold in the caches and the TLB: with a thousand connections taking
/// turns, that resume cost about half a microsecond per request (docs/benchmarks-history.md).
pub(crate) fn serve<C: Connection>(mut conn: Conn<C>) {
    if !serve_requests(&conn.srv, &conn.slot) {
        return; // `conn` drops: the connection is closed and unregistered
    }
    let slot = conn.slot.clone();
    // Nothing of the connection is started now: if this worker is saturated while another
    // has room, the next request is served there (goro's poller balancing).
    if let Some(to) = conn.placed.rebalance() {
        if let Err(e) = slot.conn.socket().move_to_worker(to) {
            tracing::debug!(remote = %slot.remote, error = %e, "goro-net http: connection not moved");
        }
    }
    if let Err(e) = slot.conn.socket().spawn_when_readable(move || serve(conn)) {
        // Closed meanwhile (a timeout or shutdown): the closure and `conn` are dropped.
        tracing::debug!(remote = %slot.remote, error = %e, "goro-net http: connection ends idle");
    }
}

/// Serves requests as they arrive until the connection ends (false) or has answered
/// everything it was sent and waits idle for more (true).
#[inline(never)]
fn serve_requests<C: Connection>(srv: &Shared, slot: &Arc<Slot<C>>) -> bool {
    let (wire, remote) = (Wire::of(&slot.conn), slot.remote);
    let cfg = &srv.cfg;
    let mut rbuf = pool::get(READ_SIZE);
    let (mut start, mut end) = (0usize, 0usize);
    let mut out = Out::default();
    let mut hdrs = Vec::new();
    let mut body = Vec::new();
    // When the head now being read started (coarse ms): the read-header deadline's base.
    let mut head_since = None;
    let mut linger = false;
    'conn: loop {
        match slot.conn.recv(&mut rbuf[end..]) {
            Ok(0) => {
                if start < end {
                    tracing::debug!(%remote, "goro-net http: client closed inside a request head");
                }
                return false;
            }
            Ok(n) => end += n,
            Err(e) => {
                log_read_error(slot, remote, &e);
                return false;
            }
        }
        // Answer every complete request already buffered (the pipelining fast path).
        while start < end {
            let step = one(
                srv,
                slot,
                &rbuf[start..end],
                remote,
                &mut out,
                &mut hdrs,
                &mut body,
            );
            match step {
                Step::Partial => {
                    head_since.get_or_insert_with(|| srv.now_ms());
                    break;
                }
                Step::Done {
                    used,
                    keep,
                    leftover,
                } => {
                    start += used;
                    head_since = None;
                    if let Some((extra, lo, hi)) = leftover {
                        // The body reader read past the body: that is the next request.
                        debug_assert_eq!(start, end);
                        if rbuf.len() < hi - lo {
                            rbuf = pool::get(hi - lo);
                        }
                        rbuf[..hi - lo].copy_from_slice(&extra[lo..hi]);
                        (start, end) = (0, hi - lo);
                    }
                    if !keep {
                        break 'conn;
                    }
                }
                Step::Close => {
                    linger = true;
                    break 'conn;
                }
                Step::Hijacked => return false,
            }
        }
        if let Err(e) = out.flush(wire) {
            tracing::debug!(%remote, error = %e, "goro-net http: write failed");
            return false;
        }
        if start == end && slot.conn.buffered() > 0 {
            // The transport holds the next bytes itself (TLS plaintext): the socket will
            // not say so, so read them now instead of waiting for readiness (into the
            // whole buffer: a read that ended at its very end must not leave it full).
            (start, end) = (0, 0);
            slot.set_busy(srv.deadline(cfg.read_header_timeout, srv.now_ms()));
            continue 'conn;
        }
        if start == end {
            // Everything asked is answered: idle in keep-alive (the caller waits).
            if srv.shutting_down() {
                return false;
            }
            slot.set_idle(srv.deadline(cfg.idle_timeout, srv.now_ms()));
            return true;
        }
        rbuf.copy_within(start..end, 0);
        (end, start) = (end - start, 0);
        if end == rbuf.len() {
            // A head longer than the buffer: grow it (the limit check is in `one`).
            let mut bigger = pool::get((rbuf.len() * 4).min(cfg.max_header_bytes + 1));
            bigger[..end].copy_from_slice(&rbuf[..end]);
            rbuf = bigger;
        }
        let since = *head_since.get_or_insert_with(|| srv.now_ms());
        slot.set_busy(srv.deadline(cfg.read_header_timeout, since));
    }
    if let Err(e) = out.flush(wire) {
        tracing::debug!(%remote, error = %e, "goro-net http: write failed");
        return false;
    }
    if linger {
        linger_close(slot.conn.socket());
    }
    false
}

fn log_read_error<C: Connection>(slot: &Slot<C>, remote: SocketAddr, e: &io::Error) {
    if slot.timed_out() {
        tracing::debug!(%remote, "goro-net http: connection timed out");
    } else {
        tracing::debug!(%remote, error = %e, "goro-net http: read failed");
    }
}

/// Parses one request at the start of `buf` and answers it into `out`.
///
/// Never inlined (nor is `serve`): its frame, the 3 KiB header array included, is then gone
/// while the connection waits idle, and what `serve` waits in fits the stack's top page.
#[inline(never)]
fn one<C: Connection>(
    srv: &Shared,
    slot: &Arc<Slot<C>>,
    buf: &[u8],
    remote: SocketAddr,
    out: &mut Out,
    hdrs: &mut Vec<u8>,
    body_buf: &mut Vec<u8>,
) -> Step {
    let cfg = &srv.cfg;
    let wire = Wire::of(&slot.conn);
    let mut storage = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; STACK_HEADERS];
    let mut heap = Vec::new();
    let slots = if cfg.max_headers <= STACK_HEADERS {
        &mut storage[..cfg.max_headers]
    } else {
        heap.resize_with(cfg.max_headers, MaybeUninit::uninit);
        &mut heap[..]
    };
    let mut req = httparse::Request::new(&mut []);
    let head_len = match req.parse_with_uninit_headers(buf, slots) {
        Ok(httparse::Status::Complete(n)) if n <= cfg.max_header_bytes => n,
        Ok(httparse::Status::Complete(_)) => {
            return fail(srv, wire, out, 431, remote, "head too large")
        }
        Ok(httparse::Status::Partial) if buf.len() > cfg.max_header_bytes => {
            return fail(srv, wire, out, 431, remote, "head too large")
        }
        Ok(httparse::Status::Partial) => return Step::Partial,
        Err(httparse::Error::TooManyHeaders) => {
            return fail(srv, wire, out, 431, remote, "too many headers")
        }
        Err(e) => return fail(srv, wire, out, 400, remote, &e.to_string()),
    };
    let (Some(method), Some(target), Some(minor)) = (req.method, req.path, req.version) else {
        return fail(srv, wire, out, 400, remote, "incomplete request line");
    };
    let headers: &[httparse::Header<'_>] = req.headers;

    // Framing, Host and connection semantics, in one pass over the headers. The rules
    // are the ones `wire.rs` documents; each refusal ends the connection.
    let mut framing = wire::FramingHeaders::default();
    let mut hosts = 0u32;
    let mut host: &[u8] = b"";
    let mut close = minor == 0;
    let mut expect_continue = false;
    for h in headers {
        match h.name.len() {
            14 if h.name.eq_ignore_ascii_case("content-length") => {
                if let Err(e) = framing.content_length(h.value) {
                    return fail(srv, wire, out, 400, remote, e.0);
                }
            }
            17 if h.name.eq_ignore_ascii_case("transfer-encoding") => {
                framing.transfer_encoding(h.value);
            }
            4 if h.name.eq_ignore_ascii_case("host") => {
                hosts += 1;
                host = h.value;
            }
            10 if h.name.eq_ignore_ascii_case("connection") => {
                for t in h.value.split(|&b| b == b',') {
                    let t = t.trim_ascii();
                    if t.eq_ignore_ascii_case(b"close") {
                        close = true;
                    } else if t.eq_ignore_ascii_case(b"keep-alive") && minor == 0 {
                        close = false;
                    }
                }
            }
            6 if h.name.eq_ignore_ascii_case("expect") => {
                if h.value.trim_ascii().eq_ignore_ascii_case(b"100-continue") {
                    expect_continue = minor == 1;
                } else {
                    return fail(srv, wire, out, 417, remote, "unsupported Expect");
                }
            }
            _ => {}
        }
    }
    let length = framing.length;
    let chunked = framing.has_transfer_encoding();
    if chunked {
        if minor == 0 {
            // Go ignores Transfer-Encoding in HTTP/1.0 and frames by Content-Length; a
            // proxy in front might not, so goro refuses the request instead.
            return fail(srv, wire, out, 400, remote, "Transfer-Encoding in HTTP/1.0");
        }
        if !framing.transfer_encoding_is_chunked() {
            // Go's rule: exactly one Transfer-Encoding line, exactly `chunked`.
            return fail(srv, wire, out, 501, remote, "unsupported Transfer-Encoding");
        }
        if length.is_some() {
            // RFC 9112 §6.3 lets a server refuse this (Go drops Content-Length instead).
            return fail(srv, wire, out, 400, remote, "Content-Length with chunked");
        }
    }
    if hosts > 1 {
        return fail(srv, wire, out, 400, remote, "more than one Host");
    }
    if hosts == 0 && minor == 1 {
        return fail(srv, wire, out, 400, remote, "HTTP/1.1 request without Host");
    }
    let Some(mut host) = wire::host(host) else {
        return fail(srv, wire, out, 400, remote, "malformed Host");
    };
    let routed = match wire::target(method, target) {
        Some(wire::Target::Origin) => target,
        Some(wire::Target::Absolute { authority, rest }) => {
            host = authority; // RFC 9112 §3.2.2: the target's host wins over Host
            rest
        }
        Some(wire::Target::Asterisk | wire::Target::Authority) => target,
        None => return fail(srv, wire, out, 400, remote, "bad request target"),
    };
    // `OPTIONS *` asks about the server, not a resource: answered here, as Go does.
    let options_star = target == "*";
    if length.is_some_and(|l| l > cfg.max_body_bytes) {
        return fail(srv, wire, out, 413, remote, "body too large");
    }
    let kind = if chunked {
        Kind::Chunked(Chunked::new())
    } else {
        Kind::Length(length.unwrap_or(0))
    };
    let rest = &buf[head_len..];
    // The whole body is already buffered: the handler will not read the socket.
    let in_buffer = matches!(kind, Kind::Length(n) if n <= rest.len() as u64);
    if in_buffer {
        // Answers of earlier pipelined requests wait in `out`: they go before this handler
        // runs (module doc). One request per read leaves `out` empty here: one write, as ever.
        if !out.is_empty() && out.flush(wire).is_err() {
            return Step::Close;
        }
        slot.set_busy(0);
    } else {
        // The handler will read from the socket: earlier pipelined answers go first (and
        // before any `100 Continue`), and the body read gets its own deadline.
        if out.flush(wire).is_err() {
            return Step::Close;
        }
        slot.set_busy(srv.deadline(cfg.read_timeout, srv.now_ms()));
    }

    let date = srv.date.get();
    let mut r = Request {
        method,
        target,
        routed,
        host,
        minor,
        headers,
        remote,
        body: Body::new(kind, rest, wire, cfg.max_body_bytes, expect_continue),
        path_values: Vec::new(),
        form: None,
        ctx: ReqContext::default(),
    };
    // The context, if the handler asks for it: registered with the connection, and the
    // socket watched for the client leaving if the handler will not read it itself.
    let arm = |cancel: &Arc<goro::context::CancelFn>, body_done: bool| {
        request_context::arm(slot, cancel, in_buffer || body_done)
    };
    r.ctx.arm = Some(&arm);
    if let Some(d) = cfg.handler_timeout {
        r.ctx.deadline = Some(Instant::now() + d);
    }
    let mut w = ResponseWriter::new(out, wire, hdrs, body_buf, &date);
    w.head_only = method == "HEAD";
    w.http10 = minor == 0;
    w.ka10 = minor == 0 && !close;
    w.close = close || srv.shutting_down();
    // Hijack (`hijack.rs`): the registry lets go, and the handler gets a reference to
    // the record of its own; this coroutine's reference drops when it ends.
    let forget = || -> Arc<Slot<dyn Connection>> {
        slot.hijacked.store(true, Ordering::Relaxed);
        srv.unregister(slot.index);
        slot.clone()
    };
    w.on_hijack = Some(&forget);
    let panicked = !options_star
        && catch_unwind(AssertUnwindSafe(|| srv.handler.serve_http(&mut w, &mut r))).is_err();
    if w.hijacked {
        if panicked {
            tracing::error!(%remote, method, target, "goro-net http: handler panicked after hijacking");
        }
        return Step::Hijacked;
    }
    let b = &mut r.body;
    if panicked {
        tracing::error!(%remote, method, target, "goro-net http: handler panicked");
        if w.committed() {
            w.abort(); // the client must not take what it got for the whole answer
        } else {
            w.reset(500);
            w.close = true;
        }
    } else if b.too_large && !w.committed() {
        w.reset(413);
        w.close = true;
    } else if b.broken {
        w.close = true;
        if !w.committed() {
            w.reset(400);
        }
    }
    let mut keep = !w.close;
    if keep && !b.is_done() {
        // Unread body: skip it to reach the next request, unless that means waiting for a
        // client that was never told to send it, or reading a lot.
        keep = !b.continue_pending && b.drain(MAX_DRAIN);
    }
    keep &= !b.broken && !srv.shutting_down();
    if !keep {
        w.close = true;
    }
    match w.finish() {
        Ok(reusable) => keep &= reusable,
        Err(e) => {
            tracing::debug!(%remote, error = %e, "goro-net http: write failed");
            return Step::Close;
        }
    }
    let used = head_len + b.consumed();
    let leftover = if keep { b.take_leftover() } else { None };
    Step::Done {
        used,
        keep,
        leftover,
    }
}

/// Queues a canned error response and ends the connection.
fn fail(
    srv: &Shared,
    wire: Wire<'_>,
    out: &mut Out,
    status: u16,
    remote: SocketAddr,
    why: &str,
) -> Step {
    tracing::debug!(%remote, status, reason = why, "goro-net http: bad request");
    srv.stats_bad_request();
    let msg: &[u8] = match status {
        400 => b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\nContent-Length: 16\r\n\r\n400 Bad Request\n",
        413 => b"HTTP/1.1 413 Content Too Large\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\nContent-Length: 22\r\n\r\n413 Content Too Large\n",
        501 => b"HTTP/1.1 501 Not Implemented\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\nContent-Length: 20\r\n\r\n501 Not Implemented\n",
        417 => b"HTTP/1.1 417 Expectation Failed\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\nContent-Length: 23\r\n\r\n417 Expectation Failed\n",
        _ => b"HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\nContent-Length: 36\r\n\r\n431 Request Header Fields Too Large\n",
    };
    let _ = out.push(wire, msg);
    Step::Close
}

/// Closes after an error response without losing it: half-close, then read and drop what
/// the client still sends for a moment, so the kernel does not answer unread data with a
/// reset that would destroy the response in flight.
pub(super) fn linger_close(stream: &crate::TcpStream) {
    let _ = stream.shutdown(Shutdown::Write);
    stream.set_read_deadline(Some(Instant::now() + Duration::from_millis(500)));
    let mut scratch = [0u8; 1024];
    let mut budget = 64usize << 10;
    while let Ok(n @ 1..) = (&*stream).read(&mut scratch) {
        budget = budget.saturating_sub(n);
        if budget == 0 {
            break;
        }
    }
}
