//! [`ClientBuilder`]: the settings of a [`Client`] (Go's `http.Transport` and
//! `http.Client` fields), read by every part of the client.
use std::time::Duration;

#[cfg(doc)]
use super::{Client, ClientResponse};
#[cfg(doc)]
use std::io;

/// Configures a [`Client`] (Go's `http.Transport` settings).
#[derive(Clone, Debug)]
pub struct ClientBuilder {
    pub(super) connect_timeout: Duration,
    pub(super) timeout: Option<Duration>,
    pub(super) read_timeout: Option<Duration>,
    pub(super) write_timeout: Option<Duration>,
    pub(super) idle_timeout: Option<Duration>,
    pub(super) max_idle_per_host: usize,
    pub(super) max_active_per_host: usize,
    pub(super) pipeline: usize,
    pub(super) max_body_bytes: u64,
    pub(super) max_redirects: usize,
    /// The connector for `https://` ([`ClientBuilder::tls_connector`]); `None`: the default.
    #[cfg(feature = "tls")]
    pub(super) tls: Option<crate::tls::TlsConnector>,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        ClientBuilder {
            connect_timeout: Duration::from_secs(5),
            timeout: None,
            read_timeout: Some(Duration::from_secs(30)),
            write_timeout: Some(Duration::from_secs(30)),
            idle_timeout: Some(Duration::from_secs(90)),
            max_idle_per_host: 32,
            max_active_per_host: 0,
            pipeline: 1,
            max_body_bytes: 64 << 20,
            max_redirects: 10,
            #[cfg(feature = "tls")]
            tls: None,
        }
    }
}

impl ClientBuilder {
    /// The TLS settings of `https://` connections (Go's `Transport.TLSClientConfig`): whom
    /// to trust, a client certificate, the handshake timeout. By default the server's
    /// certificate is verified against Mozilla's roots (webpki-roots) for the URL's host
    /// name, ALPN offers `http/1.1`, and a handshake may take 10 s. Feature `tls`.
    ///
    /// ```no_run
    /// use goro_net::http::Client;
    /// use goro_net::tls::{CertPool, TlsConnector};
    ///
    /// # fn main() -> std::io::Result<()> {
    /// // Trust a private CA (Go: RootCAs: pool).
    /// let connector = TlsConnector::builder()
    ///     .roots(CertPool::from_pem_file("ca.pem")?)
    ///     .alpn_protocols(["http/1.1"])
    ///     .build()?;
    /// let client = Client::builder().tls_connector(connector).build();
    /// let resp = client.get("https://internal.example:8443/health")?;
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "tls")]
    pub fn tls_connector(mut self, connector: crate::tls::TlsConnector) -> Self {
        self.tls = Some(connector);
        self
    }

    /// How long a TCP connect may take (default 5 s).
    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.connect_timeout = d;
        self
    }

    /// How long a whole request may take, from the call until the last byte of the answer
    /// (Go's `Client.Timeout`; default `None`: no limit beyond the per-step timeouts). It
    /// bounds the wait for a free connection, the connect, the write and every read; a
    /// request still unanswered then fails with [`io::ErrorKind::TimedOut`]. (Resolving the
    /// host name is the one step it cannot cut short.)
    ///
    /// The per-step timeouts alone do not bound a request: a server that sends one byte of
    /// its answer per read timeout keeps the caller forever.
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// let client = goro_net::http::Client::builder().timeout(Duration::from_secs(10)).build();
    /// match client.get("http://127.0.0.1:8080/slow") {
    ///     Err(e) if e.kind() == std::io::ErrorKind::TimedOut => eprintln!("gave up: {e}"),
    ///     other => println!("{:?}", other.map(|r| r.status)),
    /// }
    /// ```
    pub fn timeout(mut self, d: impl Into<Option<Duration>>) -> Self {
        self.timeout = d.into();
        self
    }

    /// How long any one read of the response may wait (default 30 s; `None`: forever).
    pub fn read_timeout(mut self, d: impl Into<Option<Duration>>) -> Self {
        self.read_timeout = d.into();
        self
    }

    /// How long any one write of the request may wait (default 30 s).
    pub fn write_timeout(mut self, d: impl Into<Option<Duration>>) -> Self {
        self.write_timeout = d.into();
        self
    }

    /// Idle keep-alive connections older than this are not reused (default 90 s).
    pub fn idle_timeout(mut self, d: impl Into<Option<Duration>>) -> Self {
        self.idle_timeout = d.into();
        self
    }

    /// Idle connections kept per host (default 32); with [`pipeline`](Self::pipeline), also
    /// idle pipelined connections per host.
    pub fn max_idle_per_host(mut self, n: usize) -> Self {
        self.max_idle_per_host = n;
        self
    }

    /// Connections open at once per host; more requests wait (default 0: no limit). With
    /// [`pipeline`](Self::pipeline), also the most pipelined connections per host (counted
    /// apart from the pool's): at the limit, requests join their worker's least busy one even
    /// past the depth, or wait for the pool if their worker has none.
    pub fn max_active_per_host(mut self, n: usize) -> Self {
        self.max_active_per_host = n;
        self
    }

    /// Largest response body the client reads (default 64 MiB; `u64::MAX`: no limit). The
    /// whole body is held in memory ([`ClientResponse::body`]), so this is what a server can
    /// make the client allocate. A longer answer, declared or sent, fails the request with
    /// [`io::ErrorKind::InvalidData`] and its connection is closed.
    pub fn max_body_bytes(mut self, n: u64) -> Self {
        self.max_body_bytes = n;
        self
    }

    /// Most redirects one request follows (default 10, as Go's client; 0: none, the `3xx`
    /// answer is returned as it is, like Go's `http.ErrUseLastResponse`). Past the limit
    /// the request fails with [`io::ErrorKind::Other`]. What a redirect changes in the next
    /// request (method, body, headers) is Go's rule: see the table in the [`Client`] docs.
    ///
    /// ```
    /// use std::io::Write;
    /// use goro_net::{http, TcpListener};
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    /// let addr = listener.local_addr().unwrap();
    /// let server = http::Server::new(|w: &mut http::ResponseWriter<'_>, r: &mut http::Request<'_>| {
    ///     if r.path() == "/old" {
    ///         w.header_set("Location", "/new");
    ///         w.write_header(301);
    ///     } else {
    ///         let _ = write!(w, "{} {}", r.method(), r.path());
    ///     }
    /// });
    /// let s = server.clone();
    /// goro::spawn(move || s.serve(listener));
    ///
    /// let url = format!("http://{addr}/old");
    /// let followed = http::Client::new().post(&url, "text/plain", b"x").unwrap();
    /// assert_eq!(followed.body, b"GET /new"); // a 301 turns a POST into a GET
    /// let not = http::Client::builder().max_redirects(0).build().get(&url).unwrap();
    /// assert_eq!((not.status, not.header("location")), (301, Some("/new")));
    /// server.shutdown(std::time::Duration::from_secs(1));
    /// ```
    pub fn max_redirects(mut self, n: usize) -> Self {
        self.max_redirects = n;
        self
    }

    /// HTTP/1.1 pipelining: up to `depth` GET and HEAD requests without a body in flight at
    /// once on one keep-alive connection (default 1: off).
    ///
    /// Requests made by coroutines of one worker in the same scheduling round go out in one
    /// write, the server can answer them with one write, and one read brings the answers
    /// back: for a proxy that is two syscalls per batch instead of two per request. The
    /// cost is head-of-line blocking: a slow answer delays the ones queued behind it on
    /// its connection. So requests queue behind others only on a connection whose answers
    /// come back within 10 ms; to a slow backend each connection carries one request at a
    /// time, as without pipelining. A request whose connection fails before its answer
    /// began is sent again through the pool (GET and HEAD are idempotent). Other methods,
    /// requests with a body, and requests from plain threads never pipeline. Turn it on
    /// only for servers known to handle pipelining (RFC 9112 §9.3.2 requires it of every
    /// HTTP/1.1 server, but not every one gets it right).
    ///
    /// ```
    /// use std::io::Write;
    /// use goro_net::{http, TcpListener};
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    /// let addr = listener.local_addr().unwrap();
    /// let server = http::Server::new(|w: &mut http::ResponseWriter<'_>, r: &mut http::Request<'_>| {
    ///     let _ = write!(w, "{}", r.path());
    /// });
    /// let s = server.clone();
    /// goro::spawn(move || s.serve(listener));
    ///
    /// let client = http::Client::builder().pipeline(8).build();
    /// let calls: Vec<_> = (0..32)
    ///     .map(|i| {
    ///         let client = client.clone();
    ///         goro::spawn(move || client.get(&format!("http://{addr}/{i}")).unwrap().body)
    ///     })
    ///     .collect();
    /// for (i, call) in calls.into_iter().enumerate() {
    ///     assert_eq!(call.join().unwrap(), format!("/{i}").into_bytes()); // each its own answer
    /// }
    /// server.shutdown(std::time::Duration::from_secs(1));
    /// ```
    pub fn pipeline(mut self, depth: usize) -> Self {
        self.pipeline = depth.max(1);
        self
    }
}
