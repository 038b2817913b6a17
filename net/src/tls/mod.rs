//! TLS for goro sockets: rustls sessions over goro's parking [`TcpStream`] (Go's
//! `crypto/tls`). Feature `tls`, on by default.
//!
//! | Go | goro-net |
//! |----|----------|
//! | `tls.LoadX509KeyPair(cert, key)` | [`Certificate::from_pem_files`] |
//! | `tls.Server(conn, cfg)` + `Handshake()` | [`TlsAcceptor::accept`]`(tcp)` |
//! | `tls.Client(conn, cfg)` + `Handshake()` | [`TlsConnector::connect`]`(host, tcp)` |
//! | `tls.Dial("tcp", addr, cfg)` | [`TlsConnector::dial`]`(addr)` |
//! | `*tls.Conn` | [`TlsStream`] (`Read` + `Write`, also through `&TlsStream`) |
//! | `x509.CertPool`, `SystemCertPool` | [`CertPool`], `CertPool::system` (feature `tls-native-roots`) |
//! | `conn.ConnectionState()` | [`TlsStream::peer_certificates`], [`alpn_protocol`](TlsStream::alpn_protocol), [`server_name`](TlsStream::server_name), [`protocol_version`](TlsStream::protocol_version), [`cipher_suite`](TlsStream::cipher_suite) |
//! | `conn.CloseWrite()` | [`TlsStream::shutdown`] |
//!
//! ```
//! use std::io::{Read, Write};
//! use goro_net::tls::{CertPool, Certificate, TlsAcceptor, TlsConnector};
//! use goro_net::{TcpListener, TcpStream};
//!
//! # let key = rcgen::KeyPair::generate().unwrap();
//! # let cert = rcgen::CertificateParams::new(vec!["localhost".into()]).unwrap().self_signed(&key).unwrap();
//! # let (cert_pem, key_pem) = (cert.pem(), key.serialize_pem());
//! // cert_pem, key_pem: a certificate for "localhost" and its key, as PEM text.
//! let acceptor = TlsAcceptor::new(Certificate::from_pem(cert_pem.as_bytes(), key_pem.as_bytes())?)?;
//! let listener = TcpListener::bind("127.0.0.1:0")?;
//! let addr = listener.local_addr()?;
//! goro::spawn(move || {
//!     let (tcp, _) = listener.accept().unwrap();
//!     let mut tls = acceptor.accept(tcp).unwrap();
//!     let mut buf = [0u8; 5];
//!     tls.read_exact(&mut buf).unwrap();
//!     tls.write_all(&buf).unwrap();
//! });
//!
//! let mut roots = CertPool::new();
//! roots.append_pem(cert_pem.as_bytes())?; // trust the self-signed certificate
//! let connector = TlsConnector::builder().roots(roots).build()?;
//! let mut tls = connector.connect("localhost", TcpStream::connect(addr)?)?;
//! tls.write_all(b"hello")?;
//! let mut back = [0u8; 5];
//! tls.read_exact(&mut back)?;
//! assert_eq!(&back, b"hello");
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # Design
//!
//! **rustls over the parking socket.** goro's sockets park the calling coroutine when the
//! kernel says `EAGAIN`. A TLS stream built naively as "rustls over a blocking `Read` +
//! `Write`" would park *inside* rustls's `read_tls`/`write_tls`, while the session is
//! borrowed. Since `&TlsStream` is `Read` and `Write` (the HTTP server reads a body and
//! writes a response through shared references, possibly from two coroutines on one
//! worker), the session sits behind a lock, and a lock held across a park deadlocks the
//! worker (a std `Mutex`) or panics (a `RefCell`). So rustls gets *non-blocking* adaptors
//! (`stream.rs`: `RecvNb`, `SendNb`): one `recv`/`send` (or `sendmsg`) per call that hands `EAGAIN`
//! back as `WouldBlock`. Each operation is a loop:
//!
//! 1. lock the session; try (return decrypted bytes / encrypt and send records);
//! 2. if the socket said `EAGAIN`: unlock, park on the socket's readiness
//!    (`PollFd::readable`/`wait_writable`), go to 1.
//!
//! The lock is held only across rustls calls and non-blocking syscalls, never a park.
//! Rejected: a lock-free split into a read half and a write half (rustls's state is one
//! object: reads can queue alerts and key updates for writing), and a copy of the socket
//! bytes through a buffer of our own before rustls (one more copy per byte).
//!
//! **No extra copies of our own.** `read_tls` receives straight into rustls's record
//! buffer, rustls decrypts in place and queues the plaintext (it copies each record's into a
//! fresh `Vec`), and a read copies it out from there into the caller's buffer. A write
//! encrypts from the caller's buffers (a vectored write's buffers go into the same
//! records, unjoined) into rustls's outgoing queue (a fresh `Vec` per record), which
//! leaves in one system call (`sys::send_vectored`: a lone record, the usual response, with
//! `send`; several with one `sendmsg`). Receives go through `PollFd::try_read_with`, the readiness bookkeeping
//! of `TcpStream::read` without its wait: a read that drained the socket lets the next one
//! park without a wasted `recv` while the poller reports nothing new, and a `recv` that
//! filled rustls's buffer (rustls takes at most 4 KiB per call) leaves the socket marked
//! readable, so the bytes still in the kernel are not lost to anyone waiting on readiness
//! (the poller's reports are edges: it will not report them again). The cost of the
//! buffered rustls API: it receives at most 4 KiB per `recv`, so a full 16 KiB record takes
//! four, and it allocates twice per request and response on a keep-alive connection (the
//! two `Vec`s above). rustls's unbuffered API (caller-owned buffers) is the way past both,
//! if profiles show it: in the HTTPS keep-alive profile of `examples/hello` (wrk -c100)
//! all of `malloc` and `free` together took about 1% of the server's CPU, the kernel
//! about two thirds.
//!
//! **Where plaintext waits.** Decrypted bytes that no read has taken yet stay in rustls
//! ([`TlsStream::buffered_plaintext`] counts them). The socket does not become readable
//! for them: anyone who waits on the *socket* (an idle keep-alive connection parked on
//! readiness without a coroutine) must first check that count. Records not yet complete
//! stay in rustls's record buffer; for those the socket is the right thing to wait on.
//!
//! **What the deadlines cover.** Deadlines and timeouts are the socket's
//! ([`TcpStream::set_read_deadline`] and friends, also settable on the `TlsStream`): a
//! TLS read waits under the read deadline, a write (and the records a read answers with)
//! under the write deadline. The handshake runs under both *and* the handshake timeout,
//! whichever comes first. Writes that time out break the session (records already
//! encrypted cannot be taken back), as in Go; reads that time out do not.
//!
//! **The handshake timeout defaults to 10 s**, on both sides. Go's `crypto/tls` has none
//! and its HTTP server relies on `ReadTimeout`, which is zero by default: a client that
//! trickles its handshake bytes holds a connection (here a coroutine, a stack and a rustls
//! session, ~tens of KiB) for as long as it likes. A real handshake is one or two round
//! trips; 10 s leaves room for a slow mobile link with retransmissions, and is what Go's
//! `http.DefaultTransport` allows a client (`TLSHandshakeTimeout`). Set `None` to rely on
//! the socket's deadlines alone.
//!
//! **Crypto.** rustls with the *ring* provider (TLS 1.2 and 1.3, rustls's safe defaults):
//! ring builds with a C compiler alone, unlike aws-lc-rs (CMake, Go or NASM on some
//! targets). One provider value is shared by every client configuration, another (the
//! same suites, reordered) by every server configuration.
//!
//! **Cipher suite choice.** A server built by [`TlsAcceptorBuilder`] picks the suite by its
//! own order, not the client's, as Go's server does: AES-128-GCM, then AES-256-GCM, then
//! ChaCha20-Poly1305 (TLS 1.3 with SHA-256; TLS 1.2 likewise). rustls's own default lets
//! the client choose, and OpenSSL clients (curl, wrk, python) list AES-256-GCM first, whose
//! SHA-384 key schedule is the costliest part of a resumed handshake after the key exchange
//! (SHA-512's compression has no CPU instructions on x86-64, SHA-256's has): in a profile
//! of the peers' handshake benchmark (wrk resumes its sessions), SHA-512 compression took
//! 15% of the server's samples, SHA-256 takes under 4%; AES-128 also encrypts records with
//! 10 rounds instead of 14. All three suites are offered and
//! accepted as before; a client that offers only AES-256-GCM or ChaCha20 gets it. Go goes
//! one step further and keeps ChaCha20 first for a client that lists it first (one without
//! AES instructions); rustls has no per-client order, so such a client gets AES-GCM here
//! (constant-time, only slower for it). A configuration built by hand
//! ([`TlsAcceptor::from_config`]) keeps its own `ignore_client_order` and suites.
//!
//! **Session tickets.** The server sends one TLS 1.3 ticket per full handshake, as Go's does
//! (rustls's default is two), and keeps resumable sessions in rustls's in-memory cache (256).
//!
//! Files: `acceptor.rs` (server side, SNI choice), `connector.rs` (client side),
//! `stream.rs` (the session over the socket), `cert.rs` (PEM, certificates, root pools),
//! `error.rs` (errors naming their cause).
//!
//! [`TcpStream`]: crate::TcpStream
//! [`TcpStream::set_read_deadline`]: crate::TcpStream::set_read_deadline
mod acceptor;
mod cert;
mod connector;
mod error;
mod stream;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

pub use acceptor::{ClientAuth, TlsAcceptor, TlsAcceptorBuilder};
pub use cert::{CertPool, Certificate};
pub use connector::{TlsConnector, TlsConnectorBuilder};
pub use error::{take_plaintext_http, TlsError};
pub use stream::TlsStream;

/// The rustls version this module is built on, for configurations made by hand
/// ([`TlsAcceptor::from_config`], [`TlsConnector::from_config`]).
pub use rustls;

/// The default bound on a handshake, on both sides (see the module docs).
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// ring's provider, made once and shared by every configuration.
///
/// rustls 0.23.48 marks ring's provider deprecated because ring lacks the post-quantum key
/// exchange (X25519MLKEM768) that aws-lc-rs has. We keep ring on purpose (it builds with a
/// C compiler alone; see the module docs), and get X25519, P-256 and P-384 exchanges.
#[allow(deprecated)]
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    static PROVIDER: OnceLock<Arc<rustls::crypto::CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| Arc::new(rustls::crypto::ring::default_provider()))
        .clone()
}

/// ring's provider with the cipher suites in the server's order of preference, Go's:
/// AES-128-GCM first, then AES-256-GCM, then ChaCha20-Poly1305, in each TLS version (the
/// same suites as [`provider`], only reordered). Servers pick by this order, not the
/// client's (see the module docs, "Cipher suite choice").
fn server_provider() -> Arc<rustls::crypto::CryptoProvider> {
    use rustls::CipherSuite as S;
    static PROVIDER: OnceLock<Arc<rustls::crypto::CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| {
            let mut p = (*provider()).clone();
            let rank = |s: &rustls::SupportedCipherSuite| match s.suite() {
                S::TLS13_AES_128_GCM_SHA256
                | S::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
                | S::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 => 0,
                S::TLS13_AES_256_GCM_SHA384
                | S::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384
                | S::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 => 1,
                _ => 2,
            };
            // Stable: TLS 1.3 suites stay ahead of TLS 1.2 ones within a rank.
            p.cipher_suites.sort_by_key(rank);
            Arc::new(p)
        })
        .clone()
}
