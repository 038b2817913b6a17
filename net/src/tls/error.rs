//! TLS failures as `io::Error`s whose kind and message name the cause.
//!
//! Every error of this module is an [`io::Error`] (the streams are `Read`/`Write`, and a
//! handshake is socket I/O). Its kind sorts the cause coarsely, its message names it, and
//! `err.get_ref()` downcasts to [`TlsError`] for the rustls error underneath:
//!
//! | cause | kind | message starts |
//! |---|---|---|
//! | the peer's certificate expired / not yet valid | `InvalidData` | "the peer's certificate has expired" |
//! | the certificate does not name the host | `InvalidData` | "the peer's certificate is not valid for this host name" |
//! | no trusted root signs it (self-signed, unknown CA) | `InvalidData` | "the peer's certificate is not signed by a trusted root" |
//! | a required client certificate is missing | `PermissionDenied` | "the client sent no certificate" |
//! | the peer rejected *our* certificate (an alert) | `ConnectionAborted` | "the peer aborted the handshake" |
//! | plaintext HTTP on the TLS port (see [`take_plaintext_http`]) | `InvalidData` | "a plaintext HTTP request arrived" |
//! | other non-TLS bytes | `InvalidData` | "the peer does not speak TLS" |
//! | no common version / cipher suite / ALPN protocol | `InvalidData` | "no TLS version, cipher suite or protocol in common" |
//! | handshake timeout | `TimedOut` | "TLS handshake timed out" |
//! | the peer closed the connection mid-handshake | `UnexpectedEof` | "the peer closed the connection during the TLS handshake" |
use std::error::Error as StdError;
use std::fmt;
use std::io;
use std::time::Duration;

use rustls::{CertificateError, Error as RustlsError};

use crate::TcpStream;

/// The error inside the `io::Error`s of [`tls`](crate::tls) that come from TLS itself (not
/// from the socket): a readable cause, and the rustls error when there is one.
///
/// ```
/// # fn f(e: std::io::Error) {
/// if let Some(tls) = e.get_ref().and_then(|e| e.downcast_ref::<goro_net::tls::TlsError>()) {
///     if let Some(rustls::Error::InvalidCertificate(c)) = tls.rustls_error() {
///         eprintln!("certificate problem: {c:?}");
///     }
/// }
/// # }
/// ```
#[derive(Debug)]
pub struct TlsError {
    message: String,
    rustls: Option<RustlsError>,
    plaintext_http: bool,
    /// The connection of a plaintext HTTP client, kept for [`take_plaintext_http`].
    stream: Option<TcpStream>,
}

impl TlsError {
    /// The rustls error behind this one, if any (a timeout or an early close has none).
    pub fn rustls_error(&self) -> Option<&RustlsError> {
        self.rustls.as_ref()
    }

    /// True if the peer sent a plaintext HTTP request instead of a TLS handshake.
    pub fn is_plaintext_http(&self) -> bool {
        self.plaintext_http
    }
}

/// The connection of a client that spoke plaintext HTTP to [`TlsAcceptor::accept`]
/// (nothing was written to it), so that a server can answer as Go's does:
/// `HTTP/1.0 400 Bad Request` and "Client sent an HTTP request to an HTTPS server." The
/// first call on such an error returns it; `None` for every other error.
///
/// ```no_run
/// # fn f(acceptor: goro_net::tls::TlsAcceptor, tcp: goro_net::TcpStream) {
/// use std::io::Write;
/// match acceptor.accept(tcp) {
///     Ok(tls) => { /* serve */ }
///     Err(mut e) => {
///         if let Some(mut plain) = goro_net::tls::take_plaintext_http(&mut e) {
///             let _ = plain.write_all(b"HTTP/1.0 400 Bad Request\r\n\r\n\
///                 Client sent an HTTP request to an HTTPS server.\n");
///         }
///         eprintln!("{e}"); // still the whole error
///     }
/// }
/// # }
/// ```
///
/// [`TlsAcceptor::accept`]: super::TlsAcceptor::accept
pub fn take_plaintext_http(e: &mut io::Error) -> Option<TcpStream> {
    e.get_mut()?.downcast_mut::<TlsError>()?.stream.take()
}

/// Hands `tcp` to `e` if `e` is a plaintext-HTTP handshake failure; else drops it.
pub(crate) fn attach_plaintext(mut e: io::Error, tcp: TcpStream) -> io::Error {
    if let Some(t) = e.get_mut().and_then(|e| e.downcast_mut::<TlsError>()) {
        if t.plaintext_http {
            t.stream = Some(tcp);
        }
    }
    e
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl StdError for TlsError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.rustls.as_ref().map(|e| e as &(dyn StdError + 'static))
    }
}

fn io_error(kind: io::ErrorKind, message: String, rustls: Option<RustlsError>) -> io::Error {
    io::Error::new(
        kind,
        TlsError {
            message,
            rustls,
            plaintext_http: false,
            stream: None,
        },
    )
}

/// "TLS handshake with example.com (1.2.3.4:5)"; `peer` is what the stream knows of the
/// peer's name and address, possibly nothing.
fn during(handshaking: bool, peer: &str) -> String {
    let what = if handshaking {
        "TLS handshake"
    } else {
        "TLS session"
    };
    if peer.is_empty() {
        format!("goro-net: {what}")
    } else {
        format!("goro-net: {what} with {peer}")
    }
}

/// Maps a rustls error. `head` is the first bytes the peer sent (during a handshake; empty
/// after it), used to tell plaintext HTTP and other non-TLS traffic from a broken TLS peer.
pub(crate) fn from_rustls(e: RustlsError, handshaking: bool, peer: &str, head: &[u8]) -> io::Error {
    use io::ErrorKind::*;
    let (kind, cause): (io::ErrorKind, &str) = match &e {
        RustlsError::InvalidCertificate(c) => (
            InvalidData,
            match c {
                CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                    "the peer's certificate has expired"
                }
                CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                    "the peer's certificate is not valid yet"
                }
                CertificateError::NotValidForName
                | CertificateError::NotValidForNameContext { .. } => {
                    "the peer's certificate is not valid for this host name"
                }
                CertificateError::UnknownIssuer => {
                    "the peer's certificate is not signed by a trusted root"
                }
                CertificateError::Revoked => "the peer's certificate is revoked",
                _ => "the peer's certificate was rejected",
            },
        ),
        RustlsError::NoCertificatesPresented => (
            PermissionDenied,
            "the client sent no certificate and this server requires one",
        ),
        RustlsError::AlertReceived(_) => (
            ConnectionAborted,
            "the peer aborted the handshake (it may not trust this side's certificate)",
        ),
        RustlsError::PeerIncompatible(_) | RustlsError::NoApplicationProtocol => (
            InvalidData,
            "no TLS version, cipher suite or protocol in common",
        ),
        _ if handshaking && looks_like_http(head) => (
            InvalidData,
            "a plaintext HTTP request arrived on a TLS port (the client should use https://)",
        ),
        // 0x16: a TLS handshake record; anything else first is not TLS at all.
        _ if handshaking && !head.is_empty() && head[0] != 0x16 => {
            (InvalidData, "the peer does not speak TLS")
        }
        _ => (InvalidData, "TLS protocol error"),
    };
    let mut message = format!("{} failed: {cause}", during(handshaking, peer));
    if cause == "the peer does not speak TLS" {
        message.push_str(" (first bytes");
        for b in head {
            message.push_str(&format!(" {b:02x}"));
        }
        message.push(')');
    }
    message.push_str(&format!(": {e}"));
    io::Error::new(
        kind,
        TlsError {
            message,
            rustls: Some(e),
            plaintext_http: cause.starts_with("a plaintext HTTP request"),
            stream: None,
        },
    )
}

/// The handshake did not finish in `limit`.
pub(crate) fn handshake_timeout(limit: Duration, peer: &str) -> io::Error {
    io_error(
        io::ErrorKind::TimedOut,
        format!("{} timed out after {limit:?}", during(true, peer)),
        None,
    )
}

/// The peer closed the TCP connection before the handshake finished.
pub(crate) fn handshake_eof(peer: &str) -> io::Error {
    io_error(
        io::ErrorKind::UnexpectedEof,
        format!(
            "{} failed: the peer closed the connection during the TLS handshake",
            during(true, peer)
        ),
        None,
    )
}

/// An error for a bad argument (a PEM file without a certificate, a bad ALPN list, ...).
pub(crate) fn invalid_input(message: String, rustls: Option<RustlsError>) -> io::Error {
    io_error(io::ErrorKind::InvalidInput, message, rustls)
}

/// Does `head` start like an HTTP/1 request line (`GET /`, `POST`, ...)?
fn looks_like_http(head: &[u8]) -> bool {
    const METHODS: [&[u8]; 9] = [
        b"GET ", b"HEAD", b"POST", b"PUT ", b"DELE", b"OPTI", b"PATC", b"CONN", b"TRAC",
    ];
    head.len() >= 4 && METHODS.iter().any(|m| head.starts_with(m))
}
