//! [`Builder`]: a server's limits and timeouts, with their defaults.
use std::time::Duration;

use super::server::Server;
use super::Handler;

/// Limits and timeouts (see [`Builder`] for each one's meaning and default).
#[derive(Clone, Debug)]
pub(crate) struct Config {
    pub(crate) read_header_timeout: Option<Duration>,
    pub(crate) read_timeout: Option<Duration>,
    pub(crate) write_timeout: Option<Duration>,
    pub(crate) idle_timeout: Option<Duration>,
    pub(crate) max_header_bytes: usize,
    pub(crate) max_headers: usize,
    pub(crate) max_body_bytes: u64,
    pub(crate) max_connections: usize,
    pub(crate) handler_timeout: Option<Duration>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            read_header_timeout: Some(Duration::from_secs(10)),
            read_timeout: Some(Duration::from_secs(60)),
            write_timeout: Some(Duration::from_secs(60)),
            idle_timeout: Some(Duration::from_secs(120)),
            max_header_bytes: 32 << 10,
            max_headers: 100,
            max_body_bytes: 16 << 20,
            max_connections: 100_000,
            handler_timeout: None,
        }
    }
}

/// Builds a [`Server`] (Go's `http.Server{...}` literal). Every setting has a default a
/// production server can start with.
///
/// ```
/// use std::time::Duration;
/// use goro_net::http::Server;
///
/// let server = Server::builder()
///     .read_header_timeout(Duration::from_secs(5))
///     .idle_timeout(None) // keep idle connections forever
///     .max_connections(10_000)
///     .build(|w: &mut goro_net::http::ResponseWriter<'_>, _r: &mut goro_net::http::Request<'_>| {
///         let _ = std::io::Write::write_all(w, b"ok\n");
///     });
/// # drop(server);
/// ```
#[derive(Debug, Default)]
pub struct Builder {
    pub(crate) cfg: Config,
}

impl Builder {
    /// How long a client may take to send a request head, from its first byte (from the
    /// accept for a new connection). Default 10 s; the slowloris defence.
    pub fn read_header_timeout(mut self, d: impl Into<Option<Duration>>) -> Builder {
        self.cfg.read_header_timeout = d.into();
        self
    }

    /// How long reading a request body may take once the handler runs. Default 60 s.
    pub fn read_timeout(mut self, d: impl Into<Option<Duration>>) -> Builder {
        self.cfg.read_timeout = d.into();
        self
    }

    /// How long any one socket write of a response may wait for the client. Default 60 s.
    pub fn write_timeout(mut self, d: impl Into<Option<Duration>>) -> Builder {
        self.cfg.write_timeout = d.into();
        self
    }

    /// How long a keep-alive connection may wait for its next request. Default 120 s.
    pub fn idle_timeout(mut self, d: impl Into<Option<Duration>>) -> Builder {
        self.cfg.idle_timeout = d.into();
        self
    }

    /// Largest request head (request line + headers); larger gets 431. Default 32 KiB.
    ///
    /// | server | head size | header count |
    /// |---|---|---|
    /// | goro (defaults) | 32 KiB | 100 ([`max_headers`](Self::max_headers)) |
    /// | Go `net/http` | 1 MiB (`MaxHeaderBytes`) | no limit |
    /// | nginx | 1 KiB, then up to 4 buffers of 8 KiB, one line per buffer (`large_client_header_buffers`) | no limit |
    /// | Apache httpd | 8 KiB per line (`LimitRequestFieldSize`) | 100 (`LimitRequestFields`) |
    ///
    /// goro's defaults protect memory first (a connection's read buffer grows to the head
    /// it holds); raise them for clients that send large cookies or many headers.
    ///
    /// ```
    /// let server = goro_net::http::Server::builder()
    ///     .max_header_bytes(1 << 20) // Go's default
    ///     .build(|_w: &mut goro_net::http::ResponseWriter<'_>, _r: &mut goro_net::http::Request<'_>| {});
    /// # drop(server);
    /// ```
    pub fn max_header_bytes(mut self, n: usize) -> Builder {
        self.cfg.max_header_bytes = n.max(64);
        self
    }

    /// Most header lines a request head may carry; more gets 431. Default 100 (Apache's
    /// `LimitRequestFields`; Go and nginx count only bytes, see
    /// [`max_header_bytes`](Self::max_header_bytes)). At least 1. Up to 100, the parsed
    /// headers live on the connection's stack; a larger limit takes room for them from
    /// the heap for each request.
    ///
    /// ```
    /// let server = goro_net::http::Server::builder()
    ///     .max_headers(200)
    ///     .build(|_w: &mut goro_net::http::ResponseWriter<'_>, _r: &mut goro_net::http::Request<'_>| {});
    /// # drop(server);
    /// ```
    pub fn max_headers(mut self, n: usize) -> Builder {
        self.cfg.max_headers = n.max(1);
        self
    }

    /// Largest request body; larger gets 413. Default 16 MiB.
    pub fn max_body_bytes(mut self, n: u64) -> Builder {
        self.cfg.max_body_bytes = n;
        self
    }

    /// Most connections served at once; further clients wait in the listen backlog.
    /// Default 100,000.
    pub fn max_connections(mut self, n: usize) -> Builder {
        self.cfg.max_connections = n.max(1);
        self
    }

    /// A deadline for each request's [context](super::Request::context), this long after
    /// its handler starts (Go's `http.TimeoutHandler`, cooperative: a handler that watches
    /// its context, or passes it to [`Client::with_context`](super::Client::with_context),
    /// stops; one that does not, runs on). Default: none.
    ///
    /// ```
    /// use std::time::Duration;
    /// let server = goro_net::http::Server::builder()
    ///     .handler_timeout(Duration::from_secs(30))
    ///     .build(|_w: &mut goro_net::http::ResponseWriter<'_>, r: &mut goro_net::http::Request<'_>| {
    ///         let _deadline = r.context().deadline(); // 30 s from now
    ///     });
    /// # drop(server);
    /// ```
    pub fn handler_timeout(mut self, d: impl Into<Option<Duration>>) -> Builder {
        self.cfg.handler_timeout = d.into();
        self
    }

    /// The server, answering every request with `handler`.
    pub fn build(self, handler: impl Handler) -> Server {
        Server::with_config(self.cfg, Box::new(handler))
    }
}
