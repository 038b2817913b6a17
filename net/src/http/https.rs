//! HTTPS: the server over [`TlsStream`]s (Go's `ListenAndServeTLS` and `ServeTLS`).
//!
//! A TLS stream is a [`Connection`] like any other: the connection loop (`conn.rs`) reads
//! and writes it through `&TlsStream`, leaves an idle keep-alive connection to the socket's
//! readiness with no coroutine, and asks [`Connection::buffered`] first, because a request
//! already decrypted by rustls will not make the socket readable again.
//!
//! **Where the handshake runs.** In the connection's own coroutine ([`Server::serve_with`]
//! starts it), never in the accept loop: a client that trickles its handshake holds up
//! nobody else. It is bounded by the acceptor's handshake timeout and by the server's
//! read-header timeout, whichever is shorter (the socket's read deadline carries the
//! latter, and is cleared once the handshake is done: from then on the server's ticker
//! keeps time, as on a plain connection).
//!
//! **A plaintext client on the TLS port** gets Go's answer, `400 Bad Request` with "Client
//! sent an HTTP request to an HTTPS server.", then the connection closes; the server goes
//! on serving. Every other handshake failure closes that connection only (logged at debug).
//!
//! **Hijack** hands over the TLS stream itself (its `Connection` impl: reads through the
//! session, plaintext rustls already decrypted first, `close_write` says `close_notify`),
//! so a WebSocket upgrade or a `CONNECT` tunnel on an HTTPS server stays inside TLS.
//!
//! **ALPN.** The server offers `http/1.1` (added to a caller's acceptor if it lacks it, as
//! Go's `ServeTLS` does); HTTP/2 is not spoken.
use std::io::{self, Write};
use std::net::ToSocketAddrs;
use std::path::Path;
use std::time::Instant;

use super::connection::Connection;
use super::{Handler, Server};
use crate::tls::{self, Certificate, TlsAcceptor, TlsStream};
use crate::{TcpListener, TcpStream};

/// Go's answer to a plaintext HTTP request on an HTTPS port (`net/http`'s server says it so).
const PLAINTEXT_ANSWER: &[u8] =
    b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n";

impl Connection for TlsStream {
    #[inline]
    fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        io::Read::read(&mut &*self, buf)
    }

    #[inline]
    fn send(&self, data: &[u8]) -> io::Result<usize> {
        io::Write::write(&mut &*self, data)
    }

    #[inline]
    fn socket(&self) -> &TcpStream {
        self.get_ref()
    }

    /// Plaintext rustls decrypted and no read has taken yet.
    #[inline]
    fn buffered(&self) -> usize {
        self.buffered_plaintext()
    }

    /// A `close_notify` (or the end of the stream) processed into the session: the client
    /// left. Records read meanwhile stay in the session for the next `recv`.
    fn peer_left(&self) -> Option<bool> {
        Some(self.peer_left_nb())
    }

    /// Version, ALPN, SNI and the client's certificates, copied out of the session.
    fn tls(&self) -> Option<super::TlsState> {
        Some(super::TlsState {
            version: self.protocol_version().map_or(0, u16::from),
            alpn: self.alpn_protocol(),
            server_name: self.server_name(),
            peer_certificates: self
                .peer_certificates()
                .unwrap_or_default()
                .into_iter()
                .map(|c| c.as_ref().to_vec())
                .collect(),
        })
    }

    /// `close_notify`, then the TCP write half (for a hijacked connection).
    fn close_write(&self) -> io::Result<()> {
        self.shutdown()
    }
}

impl Server {
    /// Serves HTTPS on `listener` (Go's `srv.ServeTLS(ln, "", "")` with `TLSConfig` set):
    /// each accepted connection's TLS handshake runs in its own coroutine, bounded by the
    /// acceptor's [handshake timeout](TlsAcceptor::handshake_timeout) and the server's
    /// [read-header timeout](super::Builder::read_header_timeout), then requests are served
    /// as on a plain connection (keep-alive, pipelining, timeouts, shutdown). ALPN offers
    /// `http/1.1`. A client speaking plaintext HTTP gets `400 Bad Request`.
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// use goro_net::http;
    /// use goro_net::tls::{CertPool, Certificate, TlsAcceptor, TlsConnector};
    /// use goro_net::{TcpListener, TcpStream};
    ///
    /// # let key = rcgen::KeyPair::generate().unwrap();
    /// # let cert = rcgen::CertificateParams::new(vec!["localhost".into()]).unwrap().self_signed(&key).unwrap();
    /// # let (cert_pem, key_pem) = (cert.pem(), key.serialize_pem());
    /// // cert_pem, key_pem: a certificate for "localhost" and its key, as PEM text.
    /// let acceptor = TlsAcceptor::new(Certificate::from_pem(cert_pem.as_bytes(), key_pem.as_bytes())?)?;
    /// let server = http::Server::new(|w: &mut http::ResponseWriter<'_>, _r: &mut http::Request<'_>| {
    ///     let _ = w.write_all(b"secret\n");
    /// });
    /// let listener = TcpListener::bind("127.0.0.1:0")?;
    /// let addr = listener.local_addr()?;
    /// let s = server.clone();
    /// goro::spawn(move || s.serve_tls(listener, acceptor));
    ///
    /// let mut roots = CertPool::new();
    /// roots.append_pem(cert_pem.as_bytes())?;
    /// let connector = TlsConnector::builder().roots(roots).build()?;
    /// let mut tls = connector.connect("localhost", TcpStream::connect(addr)?)?;
    /// tls.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")?;
    /// let mut reply = String::new();
    /// tls.read_to_string(&mut reply)?;
    /// assert!(reply.starts_with("HTTP/1.1 200 OK\r\n") && reply.ends_with("secret\n"));
    /// server.shutdown(std::time::Duration::from_secs(1));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn serve_tls(&self, listener: TcpListener, acceptor: TlsAcceptor) -> io::Result<()> {
        let acceptor = acceptor.with_alpn(b"http/1.1");
        let header_timeout = self.read_header_timeout();
        self.serve_with(listener, move |tcp| {
            if let Some(d) = header_timeout {
                tcp.set_read_deadline(Instant::now().checked_add(d));
            }
            match acceptor.accept(tcp) {
                Ok(tls) => {
                    tls.set_read_deadline(None);
                    Ok(tls)
                }
                Err(mut e) => {
                    if let Some(plain) = tls::take_plaintext_http(&mut e) {
                        answer_plaintext(plain);
                    }
                    Err(e)
                }
            }
        })
    }

    /// Binds `addr` and serves HTTPS with the certificate chain and key in the PEM files
    /// `cert_file` and `key_file` (Go's `srv.ListenAndServeTLS(certFile, keyFile)`), until
    /// [`shutdown`](Self::shutdown). See [`serve_tls`](Self::serve_tls).
    pub fn listen_and_serve_tls<A: ToSocketAddrs + Sync>(
        &self,
        addr: A,
        cert_file: impl AsRef<Path>,
        key_file: impl AsRef<Path>,
    ) -> io::Result<()> {
        let acceptor = TlsAcceptor::new(Certificate::from_pem_files(cert_file, key_file)?)?;
        self.serve_tls(TcpListener::bind(addr)?, acceptor)
    }
}

/// Serves `handler` over HTTPS on `addr` with the default limits, the certificate chain
/// and key read from the PEM files `cert_file` and `key_file` (Go's
/// `http.ListenAndServeTLS(addr, certFile, keyFile, handler)`); pass
/// [`DefaultServeMux`](super::DefaultServeMux) for Go's `nil`.
///
/// ```no_run
/// use std::io::Write;
/// use goro_net::http;
///
/// http::handle_func("/", |w, _r| {
///     let _ = w.write_all(b"Hello over TLS!\n");
/// });
/// http::listen_and_serve_tls("0.0.0.0:8443", "cert.pem", "key.pem", http::DefaultServeMux)
///     .unwrap();
/// ```
pub fn listen_and_serve_tls<A, H>(
    addr: A,
    cert_file: impl AsRef<Path>,
    key_file: impl AsRef<Path>,
    handler: H,
) -> io::Result<()>
where
    A: ToSocketAddrs + Sync,
    H: Handler,
{
    Server::new(handler).listen_and_serve_tls(addr, cert_file, key_file)
}

/// Tells a plaintext HTTP client it reached an HTTPS port, and closes without losing the
/// answer to a reset (`conn.rs`'s lingering close).
fn answer_plaintext(plain: TcpStream) {
    tracing::debug!(peer = ?plain.peer_addr().ok(), "goro-net http: plaintext HTTP on the TLS port");
    if (&plain).write_all(PLAINTEXT_ANSWER).is_ok() {
        super::conn::linger_close(&plain);
    }
}
