//! HTTP/1.1 for goro: a server in the shape of Go's `net/http`, and a keep-alive client.
//!
//! ```no_run
//! use std::io::Write;
//! use goro_net::http;
//!
//! http::handle_func("/", |w, _r| {
//!     let _ = w.write_all(b"Hello from Go I/O!\n");
//! });
//! http::listen_and_serve("127.0.0.1:8080", http::DefaultServeMux).unwrap();
//! ```
//!
//! | Go `net/http` | goro-net `http` |
//! |---|---|
//! | `http.HandleFunc(p, f)`, `http.Handle` | [`handle_func`], [`handle`] (the default mux) |
//! | `http.ListenAndServe(a, nil)` | [`listen_and_serve`]`(a, `[`DefaultServeMux`]`)` |
//! | `http.Handler`, `http.HandlerFunc` | [`Handler`], implemented for closures `\|w, r\|` |
//! | `http.NewServeMux()`, Go 1.22 patterns (`"GET /items/{id}"`), `r.PathValue` | [`ServeMux::new`], the same patterns, [`Request::path_value`] |
//! | `&http.Server{ReadHeaderTimeout: ..}`, `srv.Serve(ln)`, `srv.Shutdown(ctx)` | [`Server::builder`], [`Server::serve`], [`Server::shutdown`] |
//! | `w.Header().Set(k, v)`, `w.WriteHeader(c)`, `w.Write(b)`, `Flusher` | [`ResponseWriter::header_set`], [`ResponseWriter::write_header`], `Write::write`, `Write::flush` |
//! | `r.Method`, `r.URL.Path`, `r.Header.Get(k)`, `r.Body` | [`Request::method`], [`Request::path`], [`Request::header`], [`Request::body`] |
//! | `r.FormValue(k)` | [`Request::form_value`] |
//! | `r.Cookie(name)`, `r.Cookies()`, `http.SetCookie(w, &c)` | [`Request::cookie`], [`Request::cookies`], [`set_cookie`]`(w, &c)` |
//! | `http.Error`, `http.NotFound`, `http.Redirect` | [`error`], [`not_found`], [`redirect()`] |
//! | `http.FileServer(http.Dir(root))`, `http.ServeFile`, `http.StripPrefix` | [`FileServer::new`]`(root)`, [`serve_file`], [`strip_prefix`] |
//! | `http.Client{Timeout}`, `Transport` pool | [`Client`] over [`connpool`](crate::connpool), [`ClientBuilder::timeout`] |
//! | `client.Do(req)`, reading `resp.Body` as it arrives | [`Client::stream`], [`StreamingResponse`] (`Read`) |
//! | `Client.CheckRedirect` (10 redirects), `http.ErrUseLastResponse` | [`ClientBuilder::max_redirects`] (10), `max_redirects(0)` |
//! | (no Go counterpart) | [`ClientBuilder::pipeline`]: HTTP/1.1 pipelining of GET and HEAD |
//! | `http.ListenAndServeTLS(a, cert, key, h)`, `srv.ServeTLS(ln, "", "")` | `listen_and_serve_tls(a, cert, key, h)`, `Server::serve_tls(ln, acceptor)` (feature `tls`) |
//! | a server over any `net.Conn` | [`Server::serve_with`] over a [`Connection`] |
//! | `httptest.NewRecorder`, `httptest.NewRequest`, `httptest.NewServer` | [`httptest::ResponseRecorder`], [`httptest::TestRequest`], [`httptest::Server`] |
//! | `w.(http.Hijacker).Hijack()` | [`ResponseWriter::hijack`], [`Hijacked`] |
//! | `httputil.ReverseProxy` (`Director`, `ModifyResponse`, `ErrorHandler`) | [`ReverseProxy`] ([`ReverseProxyBuilder::rewrite`], [`ReverseProxyBuilder::modify_response`], [`ReverseProxyBuilder::error_handler`]) |
//! | `r.Context()`, `http.TimeoutHandler` | [`Request::context`], [`Builder::handler_timeout`] |
//! | `req.WithContext(ctx)` for the client | [`Client::with_context`] |
//!
//! # Design
//!
//! **A coroutine per connection, blocking-style code.** As in Go, the accept loop hands each
//! connection to a coroutine of its own ([`spawn_balanced`](crate::spawn_balanced) packs
//! it onto a worker that is not busy), and that coroutine reads, calls the handler
//! and writes with plain blocking calls. A handler may sleep, read a database, call another
//! server: only its coroutine parks. 2,000 handlers sleeping 2 s cost 2,000 parked
//! coroutines, no threads.
//!
//! **One read per batch, one write per answer.** The connection loop (`conn.rs`) reads
//! whatever the socket has into a pooled buffer, then parses and answers *every* complete
//! request in it before it reads the socket again. Answers go to a pooled output buffer,
//! written before the next request's handler runs (a handler may be slow, a backend call or
//! a sleep, and nothing tells that before it returns) and at the end of the batch: no answer
//! ever waits for a later request's handler, as with Go's server. A keep-alive client with
//! one request in flight costs one `read` and one `write` per request; a pipelining client
//! one read per batch and one write per answer. Requests are answered strictly in order; a
//! write that fails (the client reset) ends the connection before its queued requests reach
//! the handler. An explicit `flush` and a handler that reads its body from the socket (the
//! client may wait for `100 Continue`) write early too.
//!
//! **Nothing allocated per request.** `httparse` parses the head in place into an array
//! of header views on the coroutine's stack; [`Request`] borrows everything from the read
//! buffer. [`ResponseWriter`] builds the head in a stack buffer and keeps handler headers
//! and a short body in two vectors the connection reuses. The `Date` header is formatted
//! once per second by the server's ticker and copied from a sequence lock (`date.rs`).
//! Buffers come from [`pool`](crate::pool) and the output buffer goes back between
//! batches, so an idle keep-alive connection holds only its read buffer and its stack.
//!
//! **Timeouts without a timer per request.** Arming a runtime timer for every read would
//! cost a heap insert and a cancel per request. Instead each connection publishes its
//! current deadline and whether it is idle in one atomic word (`server.rs`, `Slot`), at
//! most two relaxed stores per batch against a coarse clock. The server's ticker wakes
//! every `min(timeout)/8` (between 5 and 500 ms), advances the clock, refreshes `Date`,
//! and closes connections whose deadline passed: the parked reader wakes with an error and
//! the coroutine ends. So a timeout fires within one tick of its deadline, never before.
//! Rejected: per-read socket timeouts (a timer per park on the hot path) and a timer per
//! connection re-armed per request (the same cost, plus cancellation races). Write
//! timeouts *are* per-operation socket timeouts: a write parks only when the client stops
//! reading, so that timer costs nothing in the common case.
//!
//! | deadline word | meaning | who writes | who acts |
//! |---|---|---|---|
//! | `d << 1 \| 1` | waiting for the next request until `d` (0: forever) | connection | ticker closes at `d`; shutdown closes at once |
//! | `d << 1` | inside a request (head, handler, body) until `d` (0: no limit) | connection | ticker closes at `d` |
//!
//! **Bad input ends one connection.** A malformed head gets `400`, an oversized head `431`,
//! an oversized body `413`, an unknown expectation `417`, a transfer coding other than
//! `chunked` `501`, each with `Connection: close`; the connection then half-closes and
//! drains the client for a moment so the answer is not lost to a reset. A handler panic is
//! caught and logged, answered with 500 if nothing was sent yet, and ends only its
//! connection. Every such event is a `tracing` event.
//!
//! **Exact framing, no smuggling.** Where a request ends is decided by rules with no
//! guesswork (`wire.rs` has the grammar and a table against Go's), and the framing suite
//! (`net/tests/http_framing.rs`) holds every shape:
//!
//! | input | answer | Go's `net/http` |
//! |---|---|---|
//! | `Transfer-Encoding` other than one line of exactly `chunked` (any case): `gzip, chunked`, `chunked, chunked`, two lines | 501, close | the same |
//! | `Transfer-Encoding` in HTTP/1.0 | 400, close | ignored: framed by `Content-Length` |
//! | `Content-Length` and `Transfer-Encoding: chunked` together | 400, close (RFC 9112 §6.3 allows it) | chunked, `Content-Length` dropped |
//! | `Content-Length` not 1-19 digits (`+5`, `-1`, `0x5`, `5, 5`), or two that differ | 400, close | the same (two equal ones pass in both) |
//! | chunked framing outside the grammar: bare `LF` or `CR`, no size digits, no `CRLF` after data, trailers over 4 KiB or malformed | 400, close (the handler's body read fails) | the same |
//! | HTTP/1.1 without `Host`, two `Host`s, or a `Host` with bytes no host has | 400, close | the same |
//! | absolute-form target `http://host/path` | served, host from the target | the same |
//! | `OPTIONS *` | 200, `Content-Length: 0`, handler not called | the same |
//! | `*` with another method, or a target of no RFC 9112 form | 400, close | the same |
//!
//! A handler that leaves a body unread does not cost the connection: up to 256 KiB of it
//! (`Content-Length` or chunked) is read and dropped after the answer, as Go does.
//!
//! **Graceful shutdown.** [`Server::shutdown`] closes the listeners, closes idle
//! connections, marks the rest to send `Connection: close` after their current answer, and
//! waits for the registry to empty; past the grace period it closes what is left, and
//! cancels the [contexts](Request::context) of the requests still running.
//!
//! **One transport abstraction.** The connection loop is generic over a [`Connection`]
//! (a [`TcpStream`](crate::TcpStream), a TLS stream, anything with bytes both ways over a
//! TCP socket), so plain TCP compiles to direct calls; [`Request`] and
//! [`ResponseWriter`] hold the transport as a small enum (`connection.rs`), whose third arm
//! is the in-memory wire of [`httptest`]. [`Server::serve_with`] wraps each accepted socket
//! (a TLS handshake) in its own coroutine. A transport that buffers bytes of its own
//! reports them ([`Connection::buffered`]), and the loop serves them before it leaves an
//! idle connection to the poller.
//!
//! **TLS is a transport, not a mode.** `https.rs` makes a rustls session over the socket
//! (`tls::TlsStream`) a [`Connection`], and HTTPS is `serve_with` with a TLS handshake as
//! the wrap: nothing in the connection loop, the request or the writer knows about TLS.
//! Three things had to be decided. *Where the handshake runs*: in the connection's own
//! coroutine, so a client that trickles its ClientHello holds up nobody (the accept loop
//! only accepts); it is bounded by the acceptor's handshake timeout and by the server's
//! read-header timeout (a socket deadline, cleared once the handshake is done, because
//! from then on the ticker keeps time). *Where decrypted bytes wait*: rustls decrypts whole
//! records, so the next pipelined request can sit decrypted in the session with the socket
//! empty; the loop asks [`Connection::buffered`] before it leaves the connection to the
//! poller, and reads again at once if anything is there, so an idle TLS connection still
//! holds no coroutine and no request is stranded. *What the wrong client gets*: plaintext
//! HTTP on the TLS port is told so in plaintext (Go's 400), every other handshake failure
//! closes its connection only. On the client side a connection is a `ClientConn` (plain or
//! TLS, `client_conn.rs`) pooled by scheme, host and port; reads and writes go through the
//! same `Wire` enum, so the plain path keeps its direct calls. Rejected: a TLS-terminating
//! coroutine per connection copying plaintext over a socketpair (two more copies and a
//! coroutine per idle connection), and HTTP/2 over ALPN (not spoken yet; ALPN offers
//! `http/1.1` alone).
//!
//! **Handlers may take the connection.** [`ResponseWriter::hijack`] hands a handler the
//! stream and the bytes already received past the head, and the server forgets the
//! connection at once (`hijack.rs`): WebSocket upgrades and `CONNECT` tunnels.
//!
//! **Contexts cost nothing until asked for.** [`Request::context`] makes the context on the
//! first call and watches the socket for the client leaving with an unstarted task, not a
//! coroutine (`request_context.rs`); [`Client::with_context`] closes an exchange's
//! connection when its context is done (`cancel.rs`). [`ReverseProxy`] joins the two, so a
//! client that gives up frees its backend connection.
//!
//! **The client pipelines when asked.** [`ClientBuilder::pipeline`] lets GET and HEAD
//! requests share per-worker connections, several in flight on each, so that a proxy's
//! backend side costs a write and a read per batch instead of per request; the design and its
//! invariants are at the top of `pipeline.rs`.
//!
//! **Limits.** Head size ([`Builder::max_header_bytes`], 32 KiB), header count
//! ([`Builder::max_headers`], 100; the table at `max_header_bytes` compares Go's and
//! nginx's), body size ([`Builder::max_body_bytes`]), and
//! concurrent connections (a semaphore in the accept loop: beyond it clients wait in the
//! `somaxconn` backlog rather than being accepted and dropped).
//!
//! # Files
//!
//! One concept each, the lower ones first: a file imports only from files above it in this
//! list, with two pairs as the exception (`server.rs` hands `conn.rs` the connection record
//! it builds from the server's shared state and registry slot; `client_conn.rs` dials a TCP
//! socket and checks an idle one's liveness with `transport.rs`'s helpers, which serve the
//! pipelined lanes too):
//!
//! | file | holds |
//! |---|---|
//! | `syntax.rs` | tokens, comma lists, URL bytes, path cleaning (used by all below) |
//! | `wire.rs` | HTTP/1.1 framing: the one chunked decoder and encoder, `Content-Length`, request targets, `Host` |
//! | `date.rs`, `form.rs`, `cookie.rs` | the `Date` cell, percent-decoding and forms, cookies |
//! | `connection.rs` | [`Connection`], what the server needs of a transport, and the `Wire` a request and its writer hold |
//! | `request.rs`, `response.rs` | the server's [`Request`] with its [`Body`], and [`ResponseWriter`] with the output buffer |
//! | `hijack.rs` | [`ResponseWriter::hijack`] and [`Hijacked`]: a handler takes its connection over |
//! | `request_context.rs` | [`Request::context`]: made on demand, canceled when the client leaves (an unstarted watcher), at shutdown's end, at the handler timeout |
//! | `conn.rs` | one server connection: its record (`Conn`), the read-answer-write loop, request parsing |
//! | `server_builder.rs` | [`Builder`]: the server's limits and timeouts |
//! | `server.rs` | [`Server`]: accept loop, registry, ticker, shutdown |
//! | `https.rs` | HTTPS: `Connection` for `TlsStream`, `Server::serve_tls`, `listen_and_serve_tls` (feature `tls`) |
//! | `mux.rs`, `fs.rs`, `reply.rs` | [`ServeMux`], [`FileServer`], canned answers |
//! | `httptest.rs` | [`httptest`]: the recorder and in-memory requests over the real writer, a test server |
//! | `client_builder.rs` | [`ClientBuilder`]: the client's settings, read by every part below |
//! | `client_conn.rs` | a client connection, plain or TLS; schemes, default ports, dialling one |
//! | `send.rs` | writing a client request: head, field checks, streamed upload |
//! | `answer.rs` | [`ClientResponse`] and reading an answer: head, framing, body |
//! | `cancel.rs` | a client exchange bound to a context: canceling shuts its connection down |
//! | `transport.rs` | dialling, an idle connection's liveness, send-and-read-head on a pooled connection with retry |
//! | `pipeline.rs` | the client's pipelined lanes |
//! | `redirect.rs` | following redirects |
//! | `streaming.rs` | [`StreamingResponse`] |
//! | `client.rs` | [`Client`], and its connections to each host (pool and lanes) |
//! | `reverse_proxy.rs` | [`ReverseProxy`]: forwarding with Go's hooks, over a [`Client`] |
mod answer;
mod cancel;
mod client;
mod client_builder;
mod client_conn;
mod conn;
mod connection;
mod cookie;
mod date;
mod form;
mod fs;
mod hijack;
#[cfg(feature = "tls")]
mod https;
pub mod httptest;
mod mux;
mod pipeline;
mod redirect;
mod reply;
mod request;
mod request_context;
mod response;
mod reverse_proxy;
mod reverse_proxy_relay;
mod send;
mod server;
mod server_builder;
mod streaming;
mod syntax;
mod transport;
mod wire;

use std::io;
use std::net::ToSocketAddrs;

pub use answer::{BodyTooLarge, ClientResponse};
pub use client::Client;
pub use client_builder::ClientBuilder;
pub use connection::Connection;
pub use cookie::{set_cookie, Cookie, SameSite};
pub use fs::{serve_file, strip_prefix, FileServer};
pub use hijack::Hijacked;
#[cfg(feature = "tls")]
pub use https::listen_and_serve_tls;
pub use mux::{handle, handle_func, DefaultServeMux, ServeMux};
pub use reply::{error, not_found, redirect};
pub use request::{Body, Request, TlsState};
pub use response::{reason, ResponseWriter};
pub use reverse_proxy::{ProxyRequest, ProxyResponse, ReverseProxy, ReverseProxyBuilder};
pub use server::{Server, ServerStats};
pub use server_builder::Builder;
pub use streaming::StreamingResponse;

/// Answers requests (Go's `http.Handler`). Implemented for every closure
/// `Fn(&mut ResponseWriter, &mut Request)` that is `Send + Sync + 'static`, and for
/// [`ServeMux`].
///
/// ```
/// use std::io::Write;
/// use goro_net::http::{Handler, Request, ResponseWriter};
///
/// struct Greeter(&'static str);
/// impl Handler for Greeter {
///     fn serve_http(&self, w: &mut ResponseWriter<'_>, _r: &mut Request<'_>) {
///         let _ = w.write_all(self.0.as_bytes());
///     }
/// }
/// let _server = goro_net::http::Server::new(Greeter("hello\n"));
/// ```
pub trait Handler: Send + Sync + 'static {
    /// Writes the response to `r` into `w`. Runs in the connection's coroutine.
    fn serve_http(&self, w: &mut ResponseWriter<'_>, r: &mut Request<'_>);
}

impl<F> Handler for F
where
    F: Fn(&mut ResponseWriter<'_>, &mut Request<'_>) + Send + Sync + 'static,
{
    fn serve_http(&self, w: &mut ResponseWriter<'_>, r: &mut Request<'_>) {
        self(w, r)
    }
}

/// Serves `handler` on `addr` with the default limits until an accept error (Go's
/// `http.ListenAndServe`); pass [`DefaultServeMux`] for Go's `nil`.
pub fn listen_and_serve<A, H>(addr: A, handler: H) -> io::Result<()>
where
    A: ToSocketAddrs + Sync,
    H: Handler,
{
    Server::new(handler).listen_and_serve(addr)
}
