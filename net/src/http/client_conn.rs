//! [`ClientConn`]: a client connection, plain TCP for `http://` or TLS for `https://`, and
//! how a URL's scheme and authority pick and dial one.
//!
//! The client pools connections by scheme, host and port (`Client::host`): an `http://`
//! and an `https://` connection to the same `host:port` never share a pool. Reads and
//! writes go through [`Wire`], so a plain connection keeps its direct calls and a TLS one
//! goes through its session; everything below TLS (deadlines, readiness, liveness, the
//! context's shutdown) is the socket's ([`ClientConn::socket`]).
use std::io;
use std::time::Instant;

use super::client_builder::ClientBuilder;
use super::connection::Wire;
use crate::TcpStream;

/// The schemes the client speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) enum Scheme {
    Http,
    Https,
}

impl Scheme {
    /// The scheme `url` starts with (case-insensitive) and the rest after `://`.
    pub(super) fn split(url: &str) -> Option<(Scheme, &str)> {
        let (scheme, rest) = url.split_once("://")?;
        if scheme.eq_ignore_ascii_case("http") {
            Some((Scheme::Http, rest))
        } else if scheme.eq_ignore_ascii_case("https") {
            Some((Scheme::Https, rest))
        } else {
            None
        }
    }

    /// `http` or `https`.
    pub(super) fn name(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }

    fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }

    /// `authority` with the scheme's port added if it names none (`host`, `[::1]`).
    pub(super) fn with_port(self, authority: &str) -> String {
        let has_port = match authority.rfind(']') {
            Some(b) => authority[b..].contains(':'),
            None => authority.contains(':'),
        };
        if has_port {
            authority.to_string()
        } else {
            format!("{authority}:{}", self.default_port())
        }
    }
}

/// The host name of `authority` (`host[:port]`, `[v6]:port`), for TLS's SNI and
/// certificate check.
#[cfg_attr(not(feature = "tls"), allow(dead_code))]
pub(super) fn host_name(authority: &str) -> &str {
    if let Some(rest) = authority.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    authority.rsplit_once(':').map_or(authority, |(h, _)| h)
}

/// One pooled client connection.
pub(crate) enum ClientConn {
    /// `http://`.
    Plain(TcpStream),
    /// `https://` (boxed: a TLS session is large, a plain connection should not pay for it).
    #[cfg(feature = "tls")]
    Tls(Box<crate::tls::TlsStream>),
}

impl ClientConn {
    /// The TCP socket underneath.
    pub(super) fn socket(&self) -> &TcpStream {
        match self {
            ClientConn::Plain(s) => s,
            #[cfg(feature = "tls")]
            ClientConn::Tls(s) => s.get_ref(),
        }
    }

    /// Bytes the connection holds for the next read that the socket will not report
    /// readable (a TLS session's decrypted plaintext).
    pub(super) fn buffered(&self) -> usize {
        match self {
            ClientConn::Plain(_) => 0,
            #[cfg(feature = "tls")]
            ClientConn::Tls(s) => s.buffered_plaintext(),
        }
    }

    /// Reads and writes.
    pub(super) fn wire(&self) -> Wire<'_> {
        Wire::from(self)
    }

    /// An idle connection is usable if nothing arrived on it since its last answer: no end
    /// of file, no stray bytes (for TLS: nothing decrypted left either; a `close_notify`
    /// waiting in the socket counts as bytes).
    pub(super) fn alive(&self) -> bool {
        match self {
            ClientConn::Plain(s) => super::transport::alive(s),
            #[cfg(feature = "tls")]
            ClientConn::Tls(s) => {
                s.buffered_plaintext() == 0 && super::transport::alive(s.get_ref())
            }
        }
    }
}

impl<'a> From<&'a ClientConn> for Wire<'a> {
    #[inline]
    fn from(c: &'a ClientConn) -> Wire<'a> {
        match c {
            ClientConn::Plain(s) => Wire::Tcp(s),
            #[cfg(feature = "tls")]
            ClientConn::Tls(s) => Wire::Dyn(&**s),
        }
    }
}

/// A wire as a reader (for `Read::take` and friends on an answer's body).
impl io::Read for Wire<'_> {
    #[inline]
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        Wire::read(*self, buf)
    }
}

impl<'a> From<&'a TcpStream> for Wire<'a> {
    #[inline]
    fn from(s: &'a TcpStream) -> Wire<'a> {
        Wire::Tcp(s)
    }
}

/// Dials `authority` (`host[:port]`, the scheme's port if none) for `scheme` by
/// `deadline`: for `https`, a TLS handshake follows, checking the certificate against
/// `authority`'s host name with the client's connector (or the default one). Without the
/// `tls` feature, `https` is refused.
pub(super) fn dial(
    scheme: Scheme,
    authority: &str,
    cfg: &ClientBuilder,
    deadline: Option<Instant>,
) -> io::Result<ClientConn> {
    let tcp = super::transport::dial(&scheme.with_port(authority), cfg, deadline)?;
    match scheme {
        Scheme::Http => Ok(ClientConn::Plain(tcp)),
        #[cfg(feature = "tls")]
        Scheme::Https => {
            let connector = match &cfg.tls {
                Some(c) => c.clone(),
                None => default_connector()?,
            };
            tcp.set_deadline(deadline);
            let tls = connector.connect(host_name(authority), tcp)?;
            Ok(ClientConn::Tls(Box::new(tls)))
        }
        #[cfg(not(feature = "tls"))]
        Scheme::Https => {
            drop(tcp);
            Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "goro-net http: https:// URLs need goro-net's `tls` feature",
            ))
        }
    }
}

/// The connector of clients that set none: Mozilla's roots, ALPN `http/1.1`. Made once
/// (parsing the roots is not free) and shared.
#[cfg(feature = "tls")]
fn default_connector() -> io::Result<crate::tls::TlsConnector> {
    static DEFAULT: std::sync::OnceLock<crate::tls::TlsConnector> = std::sync::OnceLock::new();
    if let Some(c) = DEFAULT.get() {
        return Ok(c.clone());
    }
    let c = crate::tls::TlsConnector::builder()
        .alpn_protocols(["http/1.1"])
        .build()?;
    Ok(DEFAULT.get_or_init(|| c).clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_ports_and_host_names() {
        assert_eq!(Scheme::split("HTTPS://h/x"), Some((Scheme::Https, "h/x")));
        assert_eq!(Scheme::split("http://h"), Some((Scheme::Http, "h")));
        assert_eq!(Scheme::split("ftp://h"), None);
        assert_eq!(Scheme::Https.with_port("h"), "h:443");
        assert_eq!(Scheme::Http.with_port("h"), "h:80");
        assert_eq!(Scheme::Https.with_port("h:8443"), "h:8443");
        assert_eq!(Scheme::Https.with_port("[::1]"), "[::1]:443");
        assert_eq!(Scheme::Https.with_port("[::1]:9"), "[::1]:9");
        assert_eq!(host_name("example.com:443"), "example.com");
        assert_eq!(host_name("example.com"), "example.com");
        assert_eq!(host_name("[::1]:443"), "::1");
        assert_eq!(host_name("127.0.0.1:8443"), "127.0.0.1");
    }
}
