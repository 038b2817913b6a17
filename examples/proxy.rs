//! proxy: a reverse-proxy gateway, Go's `httputil.ReverseProxy` with a Director, in goro.
//!
//! ```text
//! cargo run --release --example proxy -- --listen 127.0.0.1:8081 \
//!     --backend 127.0.0.1:9001 --backend 127.0.0.1:9002 [--policy least-conn] [--pipeline 16]
//! ```
//!
//! Each request is forwarded to one backend, chosen round-robin (default) or by the
//! fewest requests in flight. Like a Go `Director`, the gateway rewrites the target to the
//! backend, sets `Host` to the backend's address and appends the client's IP to
//! `X-Forwarded-For`; hop-by-hop headers (`Connection`, `Keep-Alive`, `TE`, ...) are not
//! forwarded. Backend connections are kept alive in a pool per backend (idle 300 s), with
//! a 5 s connect timeout and 3 s per read/write; an answer the gateway holds must also
//! arrive within 120 s, while one it streams may take as long as data keeps coming (a
//! download of any length, as through Go's `ReverseProxy`). GET and HEAD
//! requests without a body are pipelined to the backend, up to 16 on a connection
//! (`--pipeline N`; 1 turns it off): the requests that arrive together leave in one write
//! and their answers come back in one read, which halves the gateway's CPU per request and
//! cuts the backend's by three quarters (docs/BENCHMARKS.md). Requests queue only on
//! connections whose answers come back within 10 ms, so they do not pile up behind a slow
//! handler. A backend that refuses or resets gives `502 Bad Gateway`, one that is too slow
//! (or trickles its answer) `504 Gateway Timeout`. A request's body is sent on to the
//! backend as it arrives, and the answer to it relayed the same way. Answers to GET and
//! HEAD up to 8 MiB are held and relayed whole; a larger one is fetched again as a stream
//! and relayed as it arrives, so memory stays bounded whatever the size (a stream cut
//! midway reaches the client cut). `/healthz` is answered by the gateway itself.
//! `CONNECT host:port` opens a tunnel to any host (as a forward proxy does; `curl -p -x`):
//! the handler hijacks the client's connection and relays bytes both ways. Logs go to
//! stderr; runs until killed.
use std::io::{ErrorKind, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use goro_net::http::{self, Client, ClientBuilder, Request, ResponseWriter};

/// How a backend is picked for each request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    /// In turn.
    RoundRobin,
    /// The one with the fewest requests in flight (ties: in turn).
    LeastConnections,
}

/// Headers that describe one hop, not the message (RFC 9110 §7.6.1), plus the framing
/// headers the client and server compute themselves.
const HOP: [&str; 10] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",
];

fn hop_by_hop(name: &str) -> bool {
    HOP.iter().any(|h| h.eq_ignore_ascii_case(name))
}

/// Largest answer the gateway holds in memory to relay; a larger one to a GET or HEAD is
/// fetched again and relayed as it arrives.
const MAX_HELD: u64 = 8 << 20;

/// Requests in flight at once on one backend connection (GET and HEAD only).
const PIPELINE: usize = 16;

/// The gateway: backends, policy, and the pooled clients that talk to them.
pub struct Gateway {
    backends: Vec<String>,
    in_flight: Vec<AtomicUsize>,
    turn: AtomicUsize,
    policy: Policy,
    /// For the answers the gateway holds (pipelined, whole-exchange timeout).
    client: Client,
    /// For what it relays as it arrives (request bodies, answers over `MAX_HELD`).
    streams: Client,
}

impl Gateway {
    /// A gateway over `backends` (`host:port` each) using `client` for the answers it
    /// holds, and a client with [`stream_client_builder`](Self::stream_client_builder)'s
    /// settings for those it streams.
    pub fn new(backends: Vec<String>, policy: Policy, client: Client) -> Gateway {
        let in_flight = backends.iter().map(|_| AtomicUsize::new(0)).collect();
        Gateway {
            backends,
            in_flight,
            turn: AtomicUsize::new(0),
            policy,
            client,
            streams: Self::stream_client_builder().build(),
        }
    }

    /// The client with the gateway's production timeouts.
    pub fn default_client() -> Client {
        Self::client_builder().build()
    }

    /// The gateway's production client settings for the answers it holds: pipelined, and
    /// bounded as a whole (a backend that trickles its answer cannot hold the gateway).
    pub fn client_builder() -> ClientBuilder {
        Self::stream_client_builder()
            .pipeline(PIPELINE)
            .timeout(Duration::from_secs(120))
            .max_body_bytes(MAX_HELD)
    }

    /// The settings for what the gateway relays as it arrives: the same per-operation
    /// timeouts and no bound on the whole exchange, since a long download looks like a
    /// trickle too. Go's `ReverseProxy` has none either.
    pub fn stream_client_builder() -> ClientBuilder {
        Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .read_timeout(Duration::from_secs(3))
            .write_timeout(Duration::from_secs(3))
            .max_redirects(0) // a backend's redirect is the client's to follow
            .idle_timeout(Duration::from_secs(300))
            .max_idle_per_host(256)
    }

    /// Uses `streams` for what the gateway relays as it arrives.
    pub fn with_stream_client(mut self, streams: Client) -> Gateway {
        self.streams = streams;
        self
    }

    /// The backend side's client for held answers (its pool statistics show reuse).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The backend side's client for request bodies and streamed answers.
    pub fn stream_client(&self) -> &Client {
        &self.streams
    }

    fn pick(&self) -> usize {
        let n = self.backends.len();
        let start = self.turn.fetch_add(1, Ordering::Relaxed) % n;
        match self.policy {
            Policy::RoundRobin => start,
            Policy::LeastConnections => (0..n)
                .map(|k| (start + k) % n)
                .min_by_key(|&i| self.in_flight[i].load(Ordering::Relaxed))
                .unwrap_or(start),
        }
    }

    /// Forwards one request (the handler).
    pub fn serve(&self, w: &mut ResponseWriter<'_>, r: &mut Request<'_>) {
        if r.path() == "/healthz" {
            let _ = w.write_all(b"ok\n");
            return;
        }
        if r.method() == "CONNECT" {
            return tunnel(w, r);
        }
        let i = self.pick();
        let backend = &self.backends[i];
        // The Director: new target and Host, X-Forwarded-For appended, hop headers dropped.
        // The origin-form path and query: an absolute-form target (`GET http://host/p`)
        // is forwarded as `/p` too.
        let url = match r.query() {
            "" => format!("http://{backend}{}", r.path()),
            q => format!("http://{backend}{}?{q}", r.path()),
        };
        let mut xff = r
            .header("x-forwarded-for")
            .map(str::to_string)
            .unwrap_or_default();
        if !xff.is_empty() {
            xff.push_str(", ");
        }
        xff.push_str(&r.remote_addr().ip().to_string());
        let mut headers: Vec<(&str, &str)> = r
            .headers()
            .filter(|(n, _)| {
                !hop_by_hop(n)
                    && !n.eq_ignore_ascii_case("host")
                    && !n.eq_ignore_ascii_case("x-forwarded-for")
            })
            .filter_map(|(n, v)| Some((n, std::str::from_utf8(v).ok()?)))
            .collect();
        headers.push(("Host", backend));
        headers.push(("X-Forwarded-For", &xff));

        let method = r.method();
        let uri = r.uri();
        let length = r.content_length();
        let has_body = !r.body().is_done();
        self.in_flight[i].fetch_add(1, Ordering::Relaxed);
        let result = if has_body {
            // A body goes through as it arrives, and so does the answer.
            self.streams
                .stream_from(method, &url, &headers, r.body(), length)
                .map(|resp| relay_stream(w, resp, method, uri, backend))
        } else {
            match self.client.request(method, &url, &headers, &[]) {
                // Too big to hold: fetch it again (GET and HEAD are idempotent) as a stream.
                Err(e) if too_large(&e) && matches!(method, "GET" | "HEAD") => self
                    .streams
                    .stream(method, &url, &headers, &[])
                    .map(|resp| relay_stream(w, resp, method, uri, backend)),
                Ok(resp) => {
                    // A HEAD answer has no body to measure: its length is the backend's word.
                    relay_head(w, resp.status, resp.headers(), method == "HEAD");
                    let _ = w.write_all(&resp.body);
                    Ok(())
                }
                Err(e) => Err(e),
            }
        };
        self.in_flight[i].fetch_sub(1, Ordering::Relaxed);
        match result {
            Ok(()) => {}
            Err(e) => {
                let status = if e.kind() == ErrorKind::TimedOut {
                    504
                } else {
                    502
                };
                eprintln!(
                    "proxy: {} {} via {backend}: {e} -> {status}",
                    r.method(),
                    r.uri()
                );
                w.write_header(status);
                let _ = writeln!(w, "{} {}", status, http::reason(status));
            }
        }
    }
}

/// Serves `CONNECT host:port`: dials the target, takes the client's connection over
/// ([`ResponseWriter::hijack`]), answers `200` and copies bytes both ways until each side
/// has finished sending (a coroutine per direction; each half-closes the other end when
/// its source ends). A target that cannot be reached gets `502`.
fn tunnel(w: &mut ResponseWriter<'_>, r: &mut Request<'_>) {
    let target = r.uri();
    let upstream = match goro_net::TcpStream::connect(target) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("proxy: CONNECT {target}: {e} -> 502");
            http::error(w, "cannot reach the target", 502);
            return;
        }
    };
    let Ok(mut client) = w.hijack(r) else {
        return;
    };
    if client
        .write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
        .is_err()
    {
        return;
    }
    // What the client sent right behind its CONNECT goes first.
    let early = client.take_buffered();
    let (Ok(up), Ok(down)) = (upstream.try_clone(), client.socket().try_clone()) else {
        return;
    };
    if (&upstream).write_all(&early).is_err() {
        return;
    }
    let to_target = goro::spawn(move || {
        let _ = std::io::copy(&mut &down, &mut &up);
        let _ = up.shutdown(std::net::Shutdown::Write);
    });
    let to_client = client.socket();
    let _ = std::io::copy(&mut &upstream, &mut &*to_client);
    let _ = to_client.shutdown(std::net::Shutdown::Write);
    let _ = to_target.join();
}

/// Relays a streamed answer: head, then the body as it arrives. A body the backend breaks
/// off is aborted toward the client, so it is seen cut short.
fn relay_stream(
    w: &mut ResponseWriter<'_>,
    mut resp: http::StreamingResponse,
    method: &str,
    uri: &str,
    backend: &str,
) {
    relay_head(w, resp.status(), resp.headers(), true);
    if let Err(e) = std::io::copy(&mut resp, w) {
        eprintln!("proxy: {method} {uri} via {backend}: {e}");
        w.abort();
    }
}

/// Whether `e` is the client's body limit (the answer may still be streamed).
fn too_large(e: &std::io::Error) -> bool {
    e.get_ref().is_some_and(|e| e.is::<http::BodyTooLarge>())
}

/// Copies a backend answer's status and end-to-end headers to `w`; its `Content-Length` too
/// if `keep_length` (the body is relayed as it comes, or a HEAD has none to measure).
fn relay_head<'h>(
    w: &mut ResponseWriter<'_>,
    status: u16,
    headers: impl Iterator<Item = (&'h str, &'h str)>,
    keep_length: bool,
) {
    for (n, v) in headers {
        let length = n.eq_ignore_ascii_case("content-length");
        if (!hop_by_hop(n) || keep_length && length)
            && !n.eq_ignore_ascii_case("date")
            && !n.eq_ignore_ascii_case("server")
        {
            w.header_add(n, v);
        }
    }
    w.write_header(status);
}

fn main() {
    let mut listen = String::from("127.0.0.1:8081");
    let mut backends = Vec::new();
    let mut policy = Policy::RoundRobin;
    let mut pipeline = PIPELINE;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| usage(&a));
        match a.as_str() {
            "--listen" => listen = value(),
            "--backend" => backends.push(value()),
            "--policy" => {
                policy = match value().as_str() {
                    "round-robin" => Policy::RoundRobin,
                    "least-conn" => Policy::LeastConnections,
                    _ => usage(&a),
                }
            }
            "--pipeline" => pipeline = value().parse().unwrap_or_else(|_| usage(&a)),
            _ => usage(&a),
        }
    }
    if backends.is_empty() {
        usage("(no --backend)");
    }
    eprintln!("proxy: {listen} -> {backends:?} ({policy:?})");
    let client = Gateway::client_builder().pipeline(pipeline).build();
    let gw = Gateway::new(backends, policy, client);
    let handler = move |w: &mut ResponseWriter<'_>, r: &mut Request<'_>| gw.serve(w, r);
    if let Err(e) = http::listen_and_serve(&listen, handler) {
        eprintln!("proxy: {e}");
        std::process::exit(1);
    }
}

fn usage(arg: &str) -> ! {
    eprintln!(
        "usage: proxy [--listen HOST:PORT] --backend HOST:PORT [--backend ...] \
         [--policy round-robin|least-conn] [--pipeline DEPTH] (bad argument {arg:?})"
    );
    std::process::exit(2);
}
