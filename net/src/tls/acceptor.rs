//! [`TlsAcceptor`]: the server side (Go's `tls.Server` with a `tls.Config`), and the SNI
//! certificate choice.
use std::collections::HashMap;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{Connection, ServerConfig, ServerConnection};

use super::cert::{CertPool, Certificate};
use super::error::invalid_input;
use super::{server_provider, TlsStream, DEFAULT_HANDSHAKE_TIMEOUT};
use crate::TcpStream;

/// Turns accepted TCP connections into TLS connections: holds the server's certificates and
/// settings, and runs the server side of each handshake. Cheap to clone (one `Arc`); share
/// one between all connections.
///
/// ```no_run
/// use std::io::{Read, Write};
/// use goro_net::tls::{Certificate, TlsAcceptor};
///
/// # fn main() -> std::io::Result<()> {
/// // Go: cert, _ := tls.LoadX509KeyPair(..); ln, _ := tls.Listen("tcp", ":8443", cfg)
/// let acceptor = TlsAcceptor::new(Certificate::from_pem_files("cert.pem", "key.pem")?)?;
/// let listener = goro_net::TcpListener::bind("127.0.0.1:8443")?;
/// for tcp in listener.incoming() {
///     let (tcp, acceptor) = (tcp?, acceptor.clone());
///     goro_net::spawn_balanced(move || {
///         // The handshake runs here, on the connection's coroutine, not in the accept loop.
///         let Ok(mut tls) = acceptor.accept(tcp) else { return };
///         let mut buf = [0u8; 4096];
///         while let Ok(n @ 1..) = tls.read(&mut buf) {
///             if tls.write_all(&buf[..n]).is_err() {
///                 break;
///             }
///         }
///     });
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct TlsAcceptor {
    config: Arc<ServerConfig>,
    handshake_timeout: Option<Duration>,
}

impl TlsAcceptor {
    /// A server presenting `cert` to every client, with the defaults of
    /// [`TlsAcceptorBuilder`].
    pub fn new(cert: Certificate) -> io::Result<TlsAcceptor> {
        TlsAcceptor::builder().certificate(cert).build()
    }

    /// Starts a configuration: certificates, ALPN, client certificates, handshake timeout.
    pub fn builder() -> TlsAcceptorBuilder {
        TlsAcceptorBuilder {
            certs: Vec::new(),
            alpn: Vec::new(),
            client_auth: ClientAuth::None,
            handshake_timeout: Some(DEFAULT_HANDSHAKE_TIMEOUT),
        }
    }

    /// Uses a rustls configuration built by hand (for what the builder does not offer),
    /// with the default handshake timeout.
    pub fn from_config(config: Arc<ServerConfig>) -> TlsAcceptor {
        TlsAcceptor {
            config,
            handshake_timeout: Some(DEFAULT_HANDSHAKE_TIMEOUT),
        }
    }

    /// Runs the server side of the handshake on `tcp`, parking as the socket needs. Fails
    /// if it does not finish within the handshake timeout (or the socket's read and write
    /// deadlines, whichever is first), with an error naming the cause (see
    /// [`TlsError`](super::TlsError)); the caller drops the connection and serves others.
    pub fn accept(&self, tcp: TcpStream) -> io::Result<TlsStream> {
        let conn = ServerConnection::new(self.config.clone())
            .map_err(|e| invalid_input(format!("goro-net: TLS server setup: {e}"), Some(e)))?;
        TlsStream::handshake(tcp, Connection::Server(conn), None, self.handshake_timeout)
    }

    /// How long a handshake may take (`None`: no bound but the socket's deadlines).
    pub fn handshake_timeout(&self) -> Option<Duration> {
        self.handshake_timeout
    }

    /// The rustls configuration in use.
    pub fn config(&self) -> &Arc<ServerConfig> {
        &self.config
    }

    /// This acceptor, offering `protocol` through ALPN as well (last, so the caller's
    /// preferences come first); itself if it offers it already.
    pub(crate) fn with_alpn(&self, protocol: &[u8]) -> TlsAcceptor {
        if self.config.alpn_protocols.iter().any(|p| p == protocol) {
            return self.clone();
        }
        let mut config = (*self.config).clone();
        config.alpn_protocols.push(protocol.to_vec());
        TlsAcceptor {
            config: Arc::new(config),
            handshake_timeout: self.handshake_timeout,
        }
    }
}

impl std::fmt::Debug for TlsAcceptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsAcceptor")
            .field("alpn", &self.config.alpn_protocols)
            .field("handshake_timeout", &self.handshake_timeout)
            .finish_non_exhaustive()
    }
}

/// Whether a server asks its clients for certificates (Go's `tls.ClientAuthType` with
/// `ClientCAs`).
#[derive(Clone, Debug, Default)]
pub enum ClientAuth {
    /// Ask for none (Go's `NoClientCert`, the default).
    #[default]
    None,
    /// Ask; verify one if sent against these roots, accept clients that send none (Go's
    /// `VerifyClientCertIfGiven`).
    Request(CertPool),
    /// Require one, signed by these roots (Go's `RequireAndVerifyClientCert`).
    Require(CertPool),
}

/// Settings for a [`TlsAcceptor`].
#[derive(Debug)]
pub struct TlsAcceptorBuilder {
    certs: Vec<Certificate>,
    alpn: Vec<Vec<u8>>,
    client_auth: ClientAuth,
    handshake_timeout: Option<Duration>,
}

impl TlsAcceptorBuilder {
    /// Adds a certificate (Go's `Config.Certificates`). With several, each handshake
    /// presents the one whose names (DNS subject alternative names, `*.` wildcards
    /// included) match the name the client asked for (SNI); the first one added when
    /// nothing matches or the client sent no name, as Go does.
    pub fn certificate(mut self, cert: Certificate) -> Self {
        self.certs.push(cert);
        self
    }

    /// The protocols offered through ALPN, most preferred first (Go's `NextProtos`), e.g.
    /// `["http/1.1"]`. None by default. A client that offers ALPN but none of these fails
    /// the handshake.
    pub fn alpn_protocols<P: Into<Vec<u8>>>(
        mut self,
        protocols: impl IntoIterator<Item = P>,
    ) -> Self {
        self.alpn = protocols.into_iter().map(Into::into).collect();
        self
    }

    /// Client certificates: none asked (default), requested, or required.
    pub fn client_auth(mut self, auth: ClientAuth) -> Self {
        self.client_auth = auth;
        self
    }

    /// How long a handshake may take, from `accept` to the last handshake byte; `None` for
    /// no bound but the socket's own deadlines. Default 10 s (see the module docs for why).
    pub fn handshake_timeout(mut self, limit: Option<Duration>) -> Self {
        self.handshake_timeout = limit;
        self
    }

    /// Checks the certificates (each key must match its leaf) and builds the acceptor.
    pub fn build(self) -> io::Result<TlsAcceptor> {
        let provider = server_provider();
        if self.certs.is_empty() {
            return Err(invalid_input(
                "goro-net: a TLS server needs at least one certificate".into(),
                None,
            ));
        }
        let resolver = ByName::new(&self.certs, &provider)?;
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| invalid_input(format!("goro-net: TLS versions: {e}"), Some(e)))?;
        let builder = match self.client_auth {
            ClientAuth::None => builder.with_no_client_auth(),
            ClientAuth::Request(roots) | ClientAuth::Require(roots) if roots.is_empty() => {
                return Err(invalid_input(
                    "goro-net: client certificates asked for with no root to verify them".into(),
                    None,
                ))
            }
            ClientAuth::Request(roots) => builder.with_client_cert_verifier(
                WebPkiClientVerifier::builder_with_provider(roots.into_store(), provider.clone())
                    .allow_unauthenticated()
                    .build()
                    .map_err(|e| invalid_input(format!("goro-net: client roots: {e}"), None))?,
            ),
            ClientAuth::Require(roots) => builder.with_client_cert_verifier(
                WebPkiClientVerifier::builder_with_provider(roots.into_store(), provider.clone())
                    .build()
                    .map_err(|e| invalid_input(format!("goro-net: client roots: {e}"), None))?,
            ),
        };
        let mut config = builder.with_cert_resolver(Arc::new(resolver));
        config.alpn_protocols = self.alpn;
        // The server's suite order, not the client's (Go's choice: see the module docs).
        config.ignore_client_order = true;
        // One TLS 1.3 session ticket per handshake, as Go's server sends (rustls sends two):
        // a client resumes with one, and each ticket is a record to encrypt and write, and a
        // session to store.
        config.send_tls13_tickets = 1;
        Ok(TlsAcceptor {
            config: Arc::new(config),
            handshake_timeout: self.handshake_timeout,
        })
    }
}

/// Picks a certificate by the client's SNI name: exact DNS names first, then `*.` wildcards
/// (one label), else the first certificate.
#[derive(Debug)]
struct ByName {
    exact: HashMap<String, Arc<CertifiedKey>>,
    wildcard: HashMap<String, Arc<CertifiedKey>>,
    first: Arc<CertifiedKey>,
}

impl ByName {
    fn new(certs: &[Certificate], provider: &rustls::crypto::CryptoProvider) -> io::Result<Self> {
        let mut exact = HashMap::new();
        let mut wildcard = HashMap::new();
        let mut first = None;
        for cert in certs {
            let ck = cert.certified_key(provider)?;
            let leaf = webpki::EndEntityCert::try_from(&cert.chain()[0]).map_err(|e| {
                invalid_input(format!("goro-net: unparsable leaf certificate: {e}"), None)
            })?;
            for name in leaf.valid_dns_names() {
                let name = name.to_ascii_lowercase();
                match name.strip_prefix("*.") {
                    Some(rest) => wildcard.entry(rest.to_owned()),
                    None => exact.entry(name),
                }
                .or_insert_with(|| ck.clone());
            }
            first.get_or_insert(ck);
        }
        Ok(ByName {
            exact,
            wildcard,
            first: first.expect("goro-net: ByName built from no certificate"),
        })
    }
}

impl ResolvesServerCert for ByName {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        if let Some(name) = hello.server_name() {
            if !self.exact.is_empty() || !self.wildcard.is_empty() {
                let name = name.to_ascii_lowercase();
                if let Some(ck) = self.exact.get(&name) {
                    return Some(ck.clone());
                }
                if let Some((_, rest)) = name.split_once('.') {
                    if let Some(ck) = self.wildcard.get(rest) {
                        return Some(ck.clone());
                    }
                }
            }
        }
        Some(self.first.clone())
    }
}
