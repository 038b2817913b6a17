//! proxy: a reverse-proxy gateway, Go's `httputil.ReverseProxy` with a Director, in goro.
//!
//! ```text
//! cargo run --release --example proxy -- --listen 127.0.0.1:8081 \
//!     --backend 127.0.0.1:9001 --backend 127.0.0.1:9002 [--policy least-conn] [--pipeline 16]
//! # TLS for clients, an https:// backend trusted through a private CA:
//! cargo run --release --example proxy -- --listen 127.0.0.1:8443 --cert cert.pem --key key.pem \
//!     --backend https://localhost:9443 --backend-ca ca.pem
//! ```
//!
//! `--cert FILE --key FILE` terminate TLS for clients (Go's `ListenAndServeTLS`). A backend
//! given as `https://host:port` is reached over TLS, its certificate checked against
//! Mozilla's roots, or against `--backend-ca FILE` (PEM) when given; a bare `host:port` is
//! `http://`.
//!
//! Each request is forwarded to one backend, chosen round-robin (default) or by the
//! fewest requests in flight, and relayed by `goro_net::http::ReverseProxy` (Go's
//! `httputil.ReverseProxy`): it rewrites the target to the backend, sets `Host` to the
//! backend's address and appends the client's IP to `X-Forwarded-For`; hop-by-hop headers
//! (`Connection`, `Keep-Alive`, `TE`, ...) are not forwarded either way, and the backend's
//! `Date` and `Server` are relayed once, as sent. Backend connections are kept alive in a pool per backend (idle 300 s), with
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

use goro_net::http::{self, Client, ClientBuilder, Request, ResponseWriter, ReverseProxy};

/// How a backend is picked for each request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    /// In turn.
    RoundRobin,
    /// The one with the fewest requests in flight (ties: in turn).
    LeastConnections,
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
    /// The relaying itself, over both clients.
    proxy: ReverseProxy,
}

impl Gateway {
    /// A gateway over `backends` (`host:port` each) using `client` for the answers it
    /// holds, and a client with [`stream_client_builder`](Self::stream_client_builder)'s
    /// settings for those it streams.
    pub fn new(backends: Vec<String>, policy: Policy, client: Client) -> Gateway {
        let in_flight = backends.iter().map(|_| AtomicUsize::new(0)).collect();
        let streams = Self::stream_client_builder().build();
        Gateway {
            backends,
            in_flight,
            turn: AtomicUsize::new(0),
            policy,
            proxy: Self::proxy(&client, &streams),
            client,
            streams,
        }
    }

    /// Go's `ReverseProxy` with the gateway's clients; a timeout answers 504.
    fn proxy(client: &Client, streams: &Client) -> ReverseProxy {
        ReverseProxy::builder()
            .client(streams.clone())
            .hold(client.clone())
            .error_handler(|w, r, e| {
                let status = if e.kind() == ErrorKind::TimedOut {
                    504
                } else {
                    502
                };
                eprintln!("proxy: {} {}: {e} -> {status}", r.method(), r.uri());
                w.write_header(status);
                let _ = writeln!(w, "{} {}", status, http::reason(status));
            })
            .build()
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
        self.proxy = Self::proxy(&self.client, &streams);
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
        self.in_flight[i].fetch_add(1, Ordering::Relaxed);
        let b = &self.backends[i];
        let target = if b.contains("://") {
            b.clone()
        } else {
            format!("http://{b}")
        };
        self.proxy.serve_to(w, r, &target);
        self.in_flight[i].fetch_sub(1, Ordering::Relaxed);
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
    // What the client sent right behind its CONNECT goes first: `client` reads it before
    // its connection. A second handle on the client's connection (through TLS when the
    // proxy serves HTTPS) writes the other direction.
    let (Ok(up), Ok(mut to_client)) = (upstream.try_clone(), client.try_clone()) else {
        return;
    };
    let to_target = goro::spawn(move || {
        let _ = std::io::copy(&mut client, &mut &up);
        let _ = up.shutdown(std::net::Shutdown::Write);
    });
    let _ = std::io::copy(&mut &upstream, &mut to_client);
    let _ = to_client.shutdown_write();
    let _ = to_target.join();
}

fn main() {
    let mut listen = String::from("127.0.0.1:8081");
    let mut backends = Vec::new();
    let mut policy = Policy::RoundRobin;
    let mut pipeline = PIPELINE;
    let (mut cert, mut key, mut backend_ca) = (None, None, None);
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
            "--cert" => cert = Some(value()),
            "--key" => key = Some(value()),
            "--backend-ca" => backend_ca = Some(value()),
            _ => usage(&a),
        }
    }
    if backends.is_empty() {
        usage("(no --backend)");
    }
    eprintln!("proxy: {listen} -> {backends:?} ({policy:?})");
    #[cfg_attr(not(feature = "tls"), allow(unused_mut))]
    let (mut held, mut streams) = (
        Gateway::client_builder().pipeline(pipeline),
        Gateway::stream_client_builder(),
    );
    if let Some(ca) = backend_ca {
        #[cfg(feature = "tls")]
        {
            let connector = goro_net::tls::CertPool::from_pem_file(&ca)
                .and_then(|roots| {
                    goro_net::tls::TlsConnector::builder()
                        .roots(roots)
                        .alpn_protocols(["http/1.1"])
                        .build()
                })
                .unwrap_or_else(|e| {
                    eprintln!("proxy: --backend-ca {ca}: {e}");
                    std::process::exit(1)
                });
            held = held.tls_connector(connector.clone());
            streams = streams.tls_connector(connector);
        }
        #[cfg(not(feature = "tls"))]
        usage(&format!(
            "--backend-ca {ca} (built without the `tls` feature)"
        ));
    }
    let gw = Gateway::new(backends, policy, held.build()).with_stream_client(streams.build());
    let handler = move |w: &mut ResponseWriter<'_>, r: &mut Request<'_>| gw.serve(w, r);
    let served = match (cert, key) {
        (None, None) => http::listen_and_serve(&listen, handler),
        #[cfg(feature = "tls")]
        (Some(c), Some(k)) => http::listen_and_serve_tls(&listen, c, k, handler),
        #[cfg(not(feature = "tls"))]
        (Some(_), Some(_)) => usage("--cert/--key (built without the `tls` feature)"),
        _ => usage("(--cert and --key go together)"),
    };
    if let Err(e) = served {
        eprintln!("proxy: {e}");
        std::process::exit(1);
    }
}

fn usage(arg: &str) -> ! {
    eprintln!(
        "usage: proxy [--listen HOST:PORT] --backend HOST:PORT [--backend ...] \
         [--policy round-robin|least-conn] [--pipeline DEPTH] [--cert FILE --key FILE] \
         [--backend-ca FILE] (bad argument {arg:?})"
    );
    std::process::exit(2);
}
