//! [`TlsConnector`]: the client side (Go's `tls.Client` / `tls.Dial` with a `tls.Config`).
use std::io;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, Connection};

use super::cert::{CertPool, Certificate};
use super::error::invalid_input;
use super::{provider, TlsStream, DEFAULT_HANDSHAKE_TIMEOUT};
use crate::TcpStream;

/// Turns TCP connections into verified TLS client connections. Verification is on: the
/// server's chain must lead to a trusted root (Mozilla's, from `webpki-roots`, unless
/// [`roots`](TlsConnectorBuilder::roots) says otherwise) and name the host. Cheap to clone;
/// share one, so that sessions are resumed.
///
/// ```no_run
/// use std::io::{Read, Write};
/// use goro_net::{tls::TlsConnector, TcpStream};
///
/// # fn main() -> std::io::Result<()> {
/// // Go: conn, err := tls.Dial("tcp", "example.com:443", nil)
/// let connector = TlsConnector::new();
/// let mut tls = connector.connect("example.com", TcpStream::connect("example.com:443")?)?;
/// tls.write_all(b"GET / HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n")?;
/// let mut page = Vec::new();
/// tls.read_to_end(&mut page)?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct TlsConnector {
    config: Arc<ClientConfig>,
    handshake_timeout: Option<Duration>,
}

impl TlsConnector {
    /// A client that trusts Mozilla's roots, offers no ALPN and sends no certificate.
    pub fn new() -> TlsConnector {
        TlsConnector::builder()
            .build()
            .expect("goro-net: the default TLS client configuration is valid")
    }

    /// Starts a configuration: roots, ALPN, a client certificate, handshake timeout.
    pub fn builder() -> TlsConnectorBuilder {
        TlsConnectorBuilder {
            roots: None,
            alpn: Vec::new(),
            cert: None,
            handshake_timeout: Some(DEFAULT_HANDSHAKE_TIMEOUT),
        }
    }

    /// Uses a rustls configuration built by hand, with the default handshake timeout.
    pub fn from_config(config: Arc<ClientConfig>) -> TlsConnector {
        TlsConnector {
            config,
            handshake_timeout: Some(DEFAULT_HANDSHAKE_TIMEOUT),
        }
    }

    /// Runs the client side of the handshake on `tcp` for `host` (a DNS name, sent as SNI
    /// and checked against the certificate; or an IP address, checked against the
    /// certificate's IP names, with no SNI), parking as the socket needs, within the
    /// handshake timeout and the socket's deadlines.
    pub fn connect(&self, host: &str, tcp: TcpStream) -> io::Result<TlsStream> {
        let name = ServerName::try_from(host.to_owned()).map_err(|e| {
            invalid_input(format!("goro-net: {host:?} is not a host name: {e}"), None)
        })?;
        let sni = matches!(name, ServerName::DnsName(_)).then(|| host.to_owned());
        let conn = ClientConnection::new(self.config.clone(), name)
            .map_err(|e| invalid_input(format!("goro-net: TLS client setup: {e}"), Some(e)))?;
        TlsStream::handshake(tcp, Connection::Client(conn), sni, self.handshake_timeout)
    }

    /// Connects to `addr` (`"host:port"`, `"[v6 address]:port"`) and runs the handshake
    /// for its host part (Go's `tls.Dial("tcp", addr, cfg)`).
    ///
    /// ```no_run
    /// # fn main() -> std::io::Result<()> {
    /// let tls = goro_net::tls::TlsConnector::new().dial("example.com:443")?;
    /// # Ok(()) }
    /// ```
    pub fn dial(&self, addr: &str) -> io::Result<TlsStream> {
        let Some((host, _port)) = addr.rsplit_once(':') else {
            return Err(invalid_input(
                format!("goro-net: {addr:?} is not host:port"),
                None,
            ));
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        self.connect(host, TcpStream::connect(addr)?)
    }

    /// How long a handshake may take (`None`: no bound but the socket's deadlines).
    pub fn handshake_timeout(&self) -> Option<Duration> {
        self.handshake_timeout
    }

    /// The rustls configuration in use.
    pub fn config(&self) -> &Arc<ClientConfig> {
        &self.config
    }
}

impl Default for TlsConnector {
    fn default() -> Self {
        TlsConnector::new()
    }
}

impl std::fmt::Debug for TlsConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsConnector")
            .field("alpn", &self.config.alpn_protocols)
            .field("handshake_timeout", &self.handshake_timeout)
            .finish_non_exhaustive()
    }
}

/// Settings for a [`TlsConnector`].
#[derive(Debug)]
pub struct TlsConnectorBuilder {
    roots: Option<CertPool>,
    alpn: Vec<Vec<u8>>,
    cert: Option<Certificate>,
    handshake_timeout: Option<Duration>,
}

impl TlsConnectorBuilder {
    /// Trusts these roots instead of Mozilla's (Go's `RootCAs`): a private CA, a test
    /// certificate, or `CertPool::system` (feature `tls-native-roots`) for the operating
    /// system's store.
    pub fn roots(mut self, roots: CertPool) -> Self {
        self.roots = Some(roots);
        self
    }

    /// The protocols offered through ALPN, most preferred first (Go's `NextProtos`).
    pub fn alpn_protocols<P: Into<Vec<u8>>>(
        mut self,
        protocols: impl IntoIterator<Item = P>,
    ) -> Self {
        self.alpn = protocols.into_iter().map(Into::into).collect();
        self
    }

    /// A certificate to present when the server asks for one (Go's `Certificates` on a
    /// client).
    pub fn client_certificate(mut self, cert: Certificate) -> Self {
        self.cert = Some(cert);
        self
    }

    /// How long a handshake may take; `None` for no bound but the socket's deadlines.
    /// Default 10 s, as Go's `http.DefaultTransport` (`TLSHandshakeTimeout`).
    pub fn handshake_timeout(mut self, limit: Option<Duration>) -> Self {
        self.handshake_timeout = limit;
        self
    }

    /// Builds the connector.
    pub fn build(self) -> io::Result<TlsConnector> {
        let roots = self.roots.unwrap_or_else(CertPool::webpki_roots);
        if roots.is_empty() {
            return Err(invalid_input(
                "goro-net: a TLS client with no trusted root cannot verify any server".into(),
                None,
            ));
        }
        let builder = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| invalid_input(format!("goro-net: TLS versions: {e}"), Some(e)))?
            .with_root_certificates(roots.into_store());
        let mut config = match self.cert {
            None => builder.with_no_client_auth(),
            Some(cert) => {
                let (chain, key) = cert.parts();
                builder.with_client_auth_cert(chain, key).map_err(|e| {
                    invalid_input(format!("goro-net: client certificate: {e}"), Some(e))
                })?
            }
        };
        config.alpn_protocols = self.alpn;
        Ok(TlsConnector {
            config: Arc::new(config),
            handshake_timeout: self.handshake_timeout,
        })
    }
}
