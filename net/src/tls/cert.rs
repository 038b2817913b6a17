//! Certificates and trust: [`Certificate`] (a chain and its key, Go's `tls.Certificate`) and
//! [`CertPool`] (trusted roots, Go's `x509.CertPool`), read from PEM or DER.
use std::fmt;
use std::io;
use std::path::Path;
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;
use rustls::RootCertStore;

use super::error::invalid_input;

/// A certificate chain (leaf first) and the leaf's private key: what a server presents, or a
/// client when the server asks for one (Go's `tls.Certificate`).
///
/// ```
/// # fn f() -> std::io::Result<()> {
/// // Go: cert, err := tls.LoadX509KeyPair("cert.pem", "key.pem")
/// let cert = goro_net::tls::Certificate::from_pem_files("cert.pem", "key.pem")?;
/// # Ok(()) }
/// ```
pub struct Certificate {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

impl Certificate {
    /// Reads the chain (one or more `CERTIFICATE` blocks, leaf first) and the key (PKCS#8,
    /// PKCS#1 RSA or SEC1 EC) from PEM files (Go's `tls.LoadX509KeyPair`).
    pub fn from_pem_files(cert: impl AsRef<Path>, key: impl AsRef<Path>) -> io::Result<Self> {
        let read = |p: &Path| {
            std::fs::read(p).map_err(|e| {
                io::Error::new(e.kind(), format!("goro-net: reading {}: {e}", p.display()))
            })
        };
        Self::from_pem(&read(cert.as_ref())?, &read(key.as_ref())?)
    }

    /// Parses the chain and the key from PEM text in memory (Go's `tls.X509KeyPair`).
    pub fn from_pem(cert_pem: &[u8], key_pem: &[u8]) -> io::Result<Self> {
        let chain = certs_from_pem(cert_pem)?;
        if chain.is_empty() {
            return Err(invalid_input(
                "goro-net: no CERTIFICATE block in the certificate PEM".into(),
                None,
            ));
        }
        let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| {
            invalid_input(
                format!("goro-net: no private key in the key PEM: {e}"),
                None,
            )
        })?;
        Ok(Certificate { chain, key })
    }

    /// Takes a chain and a key already in DER form.
    pub fn from_der(chain: Vec<CertificateDer<'static>>, key: PrivateKeyDer<'static>) -> Self {
        Certificate { chain, key }
    }

    /// The chain, leaf first.
    pub fn chain(&self) -> &[CertificateDer<'static>] {
        &self.chain
    }

    /// The DER chain and key, for rustls's own builders.
    pub(crate) fn parts(&self) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
        (self.chain.clone(), self.key.clone_key())
    }

    /// Loads the key with `provider` and checks that it matches the leaf.
    pub(crate) fn certified_key(&self, provider: &CryptoProvider) -> io::Result<Arc<CertifiedKey>> {
        let signer = provider
            .key_provider
            .load_private_key(self.key.clone_key())
            .map_err(|e| invalid_input(format!("goro-net: unusable private key: {e}"), Some(e)))?;
        let ck = CertifiedKey::new(self.chain.clone(), signer);
        ck.keys_match().map_err(|e| {
            invalid_input(
                format!("goro-net: the private key does not belong to the certificate: {e}"),
                Some(e),
            )
        })?;
        Ok(Arc::new(ck))
    }
}

impl Clone for Certificate {
    fn clone(&self) -> Self {
        Certificate {
            chain: self.chain.clone(),
            key: self.key.clone_key(),
        }
    }
}

impl fmt::Debug for Certificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Certificate")
            .field("chain_len", &self.chain.len())
            .finish_non_exhaustive()
    }
}

fn certs_from_pem(pem: &[u8]) -> io::Result<Vec<CertificateDer<'static>>> {
    CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid_input(format!("goro-net: bad certificate PEM: {e}"), None))
}

/// A set of trusted root certificates (Go's `x509.CertPool`): whom a client trusts to sign
/// servers' certificates, or a server to sign its clients'.
///
/// ```
/// # fn f(ca_pem: &[u8]) -> std::io::Result<()> {
/// use goro_net::tls::CertPool;
/// // Go: pool := x509.NewCertPool(); pool.AppendCertsFromPEM(caPEM)
/// let mut pool = CertPool::new();
/// pool.append_pem(ca_pem)?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct CertPool {
    store: RootCertStore,
}

impl CertPool {
    /// An empty pool.
    pub fn new() -> Self {
        CertPool {
            store: RootCertStore::empty(),
        }
    }

    /// Mozilla's root program (the `webpki-roots` crate, compiled in): what
    /// [`TlsConnector::new`](super::TlsConnector::new) trusts. The same on every machine,
    /// unlike the system's store.
    pub fn webpki_roots() -> Self {
        CertPool {
            store: RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            },
        }
    }

    /// The operating system's trust store (Go's `x509.SystemCertPool`), read through
    /// `rustls-native-certs`. Needs the `tls-native-roots` feature. Certificates the store
    /// holds but rustls cannot parse are skipped (logged at debug level); an error only if
    /// none could be loaded.
    #[cfg(feature = "tls-native-roots")]
    pub fn system() -> io::Result<Self> {
        let found = rustls_native_certs::load_native_certs();
        for e in &found.errors {
            tracing::debug!(error = %e, "goro-net: skipping part of the system trust store");
        }
        let mut store = RootCertStore::empty();
        let (added, ignored) = store.add_parsable_certificates(found.certs);
        tracing::debug!(added, ignored, "goro-net: loaded the system trust store");
        if store.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!(
                    "goro-net: no usable certificate in the system trust store ({} errors)",
                    found.errors.len()
                ),
            ));
        }
        Ok(CertPool { store })
    }

    /// Reads every `CERTIFICATE` block of a PEM file into a new pool.
    pub fn from_pem_file(path: impl AsRef<Path>) -> io::Result<Self> {
        let path = path.as_ref();
        let pem = std::fs::read(path).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("goro-net: reading {}: {e}", path.display()),
            )
        })?;
        let mut pool = CertPool::new();
        pool.append_pem(&pem)?;
        Ok(pool)
    }

    /// Adds every `CERTIFICATE` block of `pem` (Go's `AppendCertsFromPEM`); returns how many.
    /// An error if there is none, or one is not a usable certificate.
    pub fn append_pem(&mut self, pem: &[u8]) -> io::Result<usize> {
        let certs = certs_from_pem(pem)?;
        if certs.is_empty() {
            return Err(invalid_input(
                "goro-net: no CERTIFICATE block in the PEM".into(),
                None,
            ));
        }
        let n = certs.len();
        for c in certs {
            self.add_der(c)?;
        }
        Ok(n)
    }

    /// Adds one DER certificate.
    pub fn add_der(&mut self, der: CertificateDer<'_>) -> io::Result<()> {
        self.store.add(der).map_err(|e| {
            invalid_input(format!("goro-net: unusable root certificate: {e}"), Some(e))
        })
    }

    /// How many roots the pool holds.
    pub fn len(&self) -> usize {
        self.store.len()
    }

    /// True if the pool holds no root.
    pub fn is_empty(&self) -> bool {
        self.store.is_empty()
    }

    pub(crate) fn into_store(self) -> Arc<RootCertStore> {
        Arc::new(self.store)
    }
}

impl Default for CertPool {
    fn default() -> Self {
        CertPool::new()
    }
}

impl fmt::Debug for CertPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertPool")
            .field("len", &self.store.len())
            .finish()
    }
}
