//! goro's TLS client against goro's TLS server on 127.0.0.1: echo from coroutines and from a
//! plain thread, 1 MiB both ways, SNI with two certificates, ALPN, client certificates,
//! close_notify, buffered plaintext, shared-reference reads and writes, deadlines, session
//! tickets and resumption, and 200 concurrent echo clients with every byte checked.
#![cfg(all(feature = "tls", target_os = "linux"))]

mod tls_util;

use std::io::{ErrorKind, IoSlice, Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use goro_net::tls::rustls;
use goro_net::tls::{ClientAuth, TlsAcceptor, TlsConnector, TlsStream};
use goro_net::TcpStream;
use rustls::client::{ClientSessionStore, Tls12ClientSessionValue, Tls13ClientSessionValue};
use rustls::pki_types::ServerName;
use rustls::NamedGroup;
use tls_util::{connector, echo, echo_once, pattern, server, Ca};

fn echo_server(ca: &Ca) -> std::net::SocketAddr {
    let acceptor = TlsAcceptor::new(ca.leaf(&["localhost", "127.0.0.1"]).certificate()).unwrap();
    server(acceptor, echo).0
}

#[test]
fn echo_from_a_plain_thread_and_from_a_coroutine() {
    let ca = Ca::new("goro test CA");
    let addr = echo_server(&ca);
    let c = connector(&ca);
    echo_once(&c, addr, "localhost", b"hello from a thread");
    echo_once(&c, addr, "127.0.0.1", b"by IP address, no SNI");
    let mut tls = c.dial(&format!("localhost:{}", addr.port())).unwrap();
    assert_eq!(tls.server_name().as_deref(), Some("localhost"));
    tls.write_all(b"dialed").unwrap();
    let mut back = [0u8; 6];
    tls.read_exact(&mut back).unwrap();
    assert_eq!(&back, b"dialed");
    let c2 = c.clone();
    goro::spawn(move || echo_once(&c2, addr, "localhost", b"hello from a coroutine"))
        .join()
        .unwrap();
}

#[test]
fn one_mib_both_directions_with_vectored_writes() {
    let ca = Ca::new("goro test CA");
    let addr = echo_server(&ca);
    let tls = Arc::new(
        connector(&ca)
            .connect("localhost", TcpStream::connect(addr).unwrap())
            .unwrap(),
    );
    let data = pattern(1, 1 << 20);
    let (w, d) = (tls.clone(), data.clone());
    // A writer coroutine and a reader (this thread) on the same stream at once.
    let writer = goro::spawn(move || {
        for chunk in d.chunks(100_000) {
            // write_all_vectored is unstable: carry on from a short write by hand.
            let (mut a, mut b) = chunk.split_at(chunk.len() / 3);
            while !a.is_empty() || !b.is_empty() {
                let n = (&*w)
                    .write_vectored(&[IoSlice::new(a), IoSlice::new(b)])
                    .unwrap();
                let from_a = n.min(a.len());
                a = &a[from_a..];
                b = &b[n - from_a..];
            }
        }
    });
    let mut got = vec![0u8; data.len()];
    (&*tls).read_exact(&mut got).unwrap();
    writer.join().unwrap();
    assert!(got == data, "echoed bytes differ");
    assert_eq!(tls.buffered_plaintext(), 0);
}

#[test]
fn sni_picks_the_certificate_and_alpn_is_agreed() {
    let ca = Ca::new("goro test CA");
    let a = ca.leaf(&["a.test"]);
    let b = ca.leaf(&["*.b.test"]);
    let acceptor = TlsAcceptor::builder()
        .certificate(a.certificate())
        .certificate(b.certificate())
        .alpn_protocols(["http/1.1"])
        .build()
        .unwrap();
    let (addr, _errs) = server(acceptor, |s| {
        // Report what the server saw, then echo.
        let line = format!(
            "{}|{}\n",
            s.server_name().unwrap_or_default(),
            String::from_utf8_lossy(&s.alpn_protocol().unwrap_or_default())
        );
        (&s).write_all(line.as_bytes()).unwrap();
        echo(s)
    });
    let c = TlsConnector::builder()
        .roots(ca.pool())
        .alpn_protocols(["h2", "http/1.1"])
        .build()
        .unwrap();
    for (host, want_leaf) in [("a.test", &a), ("www.b.test", &b)] {
        let mut tls = c.connect(host, TcpStream::connect(addr).unwrap()).unwrap();
        assert_eq!(tls.alpn_protocol().as_deref(), Some(&b"http/1.1"[..]));
        assert_eq!(tls.server_name().as_deref(), Some(host));
        let mut line = [0u8; 64];
        let n = tls.read(&mut line).unwrap();
        assert_eq!(
            std::str::from_utf8(&line[..n]).unwrap(),
            format!("{host}|http/1.1\n")
        );
        let chain = tls.peer_certificates().unwrap();
        let want = want_leaf.certificate();
        assert_eq!(chain[0], want.chain()[0], "wrong certificate for {host}");
    }
    // A name no certificate covers gets the first one (as Go does) and fails verification.
    let e = c
        .connect("other.test", TcpStream::connect(addr).unwrap())
        .unwrap_err();
    assert!(
        e.to_string().contains("not valid for this host name"),
        "{e}"
    );
}

#[test]
fn client_certificates_requested_and_required() {
    let ca = Ca::new("server CA");
    let client_ca = Ca::new("client CA");
    let leaf = ca.leaf(&["localhost"]);
    let client_leaf = client_ca.leaf(&["client.test"]);
    let report: fn(TlsStream) = |s| {
        let n = s.peer_certificates().map_or(0, |c| c.len());
        (&s).write_all(&[n as u8]).unwrap();
        let _ = s.shutdown();
    };
    let with_cert = TlsConnector::builder()
        .roots(ca.pool())
        .client_certificate(client_leaf.certificate())
        .build()
        .unwrap();
    let without = connector(&ca);
    let peer_certs = |c: &TlsConnector, addr| -> std::io::Result<u8> {
        let mut tls = c.connect("localhost", TcpStream::connect(addr)?)?;
        let mut n = [0u8; 1];
        tls.read_exact(&mut n)?;
        Ok(n[0])
    };

    let requested = TlsAcceptor::builder()
        .certificate(leaf.certificate())
        .client_auth(ClientAuth::Request(client_ca.pool()))
        .build()
        .unwrap();
    let (addr, _errs) = server(requested, report);
    assert_eq!(peer_certs(&with_cert, addr).unwrap(), 1);
    assert_eq!(peer_certs(&without, addr).unwrap(), 0);

    let required = TlsAcceptor::builder()
        .certificate(leaf.certificate())
        .client_auth(ClientAuth::Require(client_ca.pool()))
        .build()
        .unwrap();
    let (addr, errs) = server(required, report);
    assert_eq!(peer_certs(&with_cert, addr).unwrap(), 1);
    // TLS 1.3: the client finishes first and learns of the refusal on its first read.
    assert!(peer_certs(&without, addr).is_err());
    let e = errs.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{e}");
    assert!(e.to_string().contains("sent no certificate"), "{e}");
    assert_eq!(
        peer_certs(&with_cert, addr).unwrap(),
        1,
        "server stopped serving"
    );
}

#[test]
fn close_notify_ends_the_stream_and_writes_after_shutdown_fail() {
    let ca = Ca::new("goro test CA");
    let acceptor = TlsAcceptor::new(ca.leaf(&["localhost"]).certificate()).unwrap();
    let (addr, _errs) = server(acceptor, |s| {
        (&s).write_all(b"bye").unwrap();
        s.shutdown().unwrap();
        // Reading goes on after our shutdown: wait for the client's close_notify.
        let mut rest = Vec::new();
        (&s).read_to_end(&mut rest).unwrap();
        assert_eq!(rest, b"last words");
    });
    let mut tls = connector(&ca)
        .connect("localhost", TcpStream::connect(addr).unwrap())
        .unwrap();
    let mut got = Vec::new();
    tls.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"bye");
    assert_eq!(tls.read(&mut [0u8; 8]).unwrap(), 0, "EOF stays EOF");
    tls.write_all(b"last words").unwrap();
    tls.shutdown().unwrap();
    let e = tls.write(b"more").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::BrokenPipe);
}

/// A peer that ends the TCP connection without `close_notify` (many clients do): the data
/// before it arrives whole, then every read says end of file, as Go's `tls.Conn` does at a
/// record boundary.
#[test]
fn a_tcp_close_without_close_notify_reads_as_end_of_file_every_time() {
    let ca = Ca::new("goro test CA");
    let acceptor = TlsAcceptor::new(ca.leaf(&["localhost"]).certificate()).unwrap();
    let (addr, _errs) = server(acceptor, |s| {
        (&s).write_all(b"no goodbye").unwrap();
        s.get_ref().shutdown(std::net::Shutdown::Write).unwrap();
        // Hold the socket until the client hangs up.
        let _ = s.get_ref().set_read_timeout(Some(Duration::from_secs(10)));
        let _ = (&s).read(&mut [0u8; 1]);
    });
    let c = connector(&ca);
    // On a thread of its own, so a read that spins at the end of the stream fails the test
    // instead of hanging it.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut tls = c
            .connect("localhost", TcpStream::connect(addr).unwrap())
            .unwrap();
        tls.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut got = Vec::new();
        tls.read_to_end(&mut got).unwrap();
        let again: Vec<usize> = (0..3).map(|_| tls.read(&mut [0u8; 8]).unwrap()).collect();
        let _ = tx.send((got, again, tls.buffered_plaintext()));
    });
    let (got, again, buffered) = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("the client did not see the end of the stream");
    assert_eq!(got, b"no goodbye");
    assert_eq!(again, [0, 0, 0], "EOF stays EOF");
    assert_eq!(buffered, 0);
}

#[test]
fn buffered_plaintext_counts_what_rustls_decrypted() {
    let ca = Ca::new("goro test CA");
    let acceptor = TlsAcceptor::new(ca.leaf(&["localhost"]).certificate()).unwrap();
    let (addr, _errs) = server(acceptor, |s| {
        // Two records in one go, then wait for the client to hang up.
        (&s).write_all(b"0123456789").unwrap();
        (&s).write_all(b"abcdefghij").unwrap();
        let _ = (&s).read(&mut [0u8; 1]);
    });
    let tls = connector(&ca)
        .connect("localhost", TcpStream::connect(addr).unwrap())
        .unwrap();
    let mut buf = [0u8; 4];
    (&tls).read_exact(&mut buf).unwrap();
    // The first record is decrypted; 6 of its bytes wait in rustls, not in the socket.
    let left = tls.buffered_plaintext();
    assert!(left == 6 || left == 16, "buffered {left}");
    let mut rest = vec![0u8; 16];
    (&tls).read_exact(&mut rest).unwrap();
    assert_eq!(&rest, b"456789abcdefghij");
    assert_eq!(tls.buffered_plaintext(), 0);
}

#[test]
fn read_deadline_times_out_and_the_stream_stays_usable() {
    let ca = Ca::new("goro test CA");
    let addr = echo_server(&ca);
    let mut tls = connector(&ca)
        .connect("localhost", TcpStream::connect(addr).unwrap())
        .unwrap();
    tls.set_read_deadline(Some(Instant::now() + Duration::from_millis(100)));
    let t = Instant::now();
    let e = tls.read(&mut [0u8; 8]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TimedOut);
    assert!(t.elapsed() < Duration::from_secs(5));
    tls.set_read_deadline(None);
    tls.write_all(b"still here").unwrap();
    let mut back = [0u8; 10];
    tls.read_exact(&mut back).unwrap();
    assert_eq!(&back, b"still here");
}

/// What a server that parks idle connections on socket readiness relies on: whenever
/// `buffered_plaintext()` is 0 and bytes are still unread, the socket reports readable at once
/// (bytes left in the kernel by a `recv` that filled rustls's buffer stay marked readable).
#[test]
fn socket_readiness_plus_buffered_plaintext_cover_every_byte() {
    const BYTES: usize = 60_000;
    let ca = Ca::new("goro test CA");
    let acceptor = TlsAcceptor::new(ca.leaf(&["localhost"]).certificate()).unwrap();
    let (addr, _errs) = server(acceptor, |s| {
        // Let all of it arrive first: no later arrival would report the socket again.
        goro::time::sleep(Duration::from_millis(300));
        let mut got = 0;
        let mut buf = [0u8; 1000];
        while got < BYTES {
            if s.buffered_plaintext() == 0 {
                let soon = Instant::now() + Duration::from_secs(5);
                s.get_ref()
                    .as_poll_fd()
                    .readable_deadline(soon)
                    .unwrap_or_else(|e| {
                        panic!("not readable with {} bytes to go: {e}", BYTES - got)
                    });
            }
            let n = (&s).read(&mut buf).unwrap();
            assert!(n > 0);
            got += n;
        }
        (&s).write_all(b"done").unwrap();
    });
    let mut tls = connector(&ca)
        .connect("localhost", TcpStream::connect(addr).unwrap())
        .unwrap();
    // Everything at once, so the server's socket holds far more than one recv takes.
    tls.write_all(&pattern(3, BYTES)).unwrap();
    let mut done = [0u8; 4];
    tls.read_exact(&mut done).unwrap();
    assert_eq!(&done, b"done");
}

/// 200 clients on coroutines at once, each echoing 64 KiB in uneven pieces.
/// The server picks the cipher suite by its own order (Go's), AES-128-GCM first, over a
/// client that prefers AES-256-GCM (as OpenSSL's clients do), in TLS 1.3 and 1.2; a client
/// that offers only AES-256-GCM or only ChaCha20-Poly1305 still gets it.
#[test]
#[allow(deprecated)] // ring's provider: see `goro_net::tls`'s module docs
fn the_server_orders_cipher_suites_aes_128_gcm_first() {
    use goro_net::tls::rustls::crypto::ring::{cipher_suite as cs, default_provider};
    use goro_net::tls::rustls::{version, CipherSuite, ClientConfig};
    let ca = Ca::new("goro test CA");
    let addr = echo_server(&ca);
    let (tls13, tls12) = (&[&version::TLS13][..], &[&version::TLS12][..]);
    let cases = [
        (
            vec![
                cs::TLS13_AES_256_GCM_SHA384,
                cs::TLS13_CHACHA20_POLY1305_SHA256,
                cs::TLS13_AES_128_GCM_SHA256,
            ],
            tls13,
            CipherSuite::TLS13_AES_128_GCM_SHA256,
        ),
        (
            vec![cs::TLS13_AES_256_GCM_SHA384],
            tls13,
            CipherSuite::TLS13_AES_256_GCM_SHA384,
        ),
        (
            vec![cs::TLS13_CHACHA20_POLY1305_SHA256],
            tls13,
            CipherSuite::TLS13_CHACHA20_POLY1305_SHA256,
        ),
        (
            vec![
                cs::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
                cs::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
            ],
            tls12,
            CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        ),
    ];
    for (suites, versions, want) in cases {
        let mut provider = default_provider();
        provider.cipher_suites = suites;
        let config = ClientConfig::builder_with_provider(Arc::new(provider))
            .with_protocol_versions(versions)
            .unwrap()
            .with_root_certificates(ca.root_store())
            .with_no_client_auth();
        let c = TlsConnector::from_config(Arc::new(config));
        let mut tls = c
            .connect("localhost", TcpStream::connect(addr).unwrap())
            .unwrap();
        assert_eq!(tls.cipher_suite(), Some(want));
        tls.write_all(b"ping").unwrap();
        let mut back = [0u8; 4];
        tls.read_exact(&mut back).unwrap();
        assert_eq!(&back, b"ping", "echo under {want:?}");
    }
}

#[test]
fn two_hundred_concurrent_echo_clients() {
    const CLIENTS: u32 = 200;
    const BYTES: usize = 64 << 10;
    let ca = Ca::new("goro test CA");
    let addr = echo_server(&ca);
    let c = connector(&ca);
    let handles: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let c = c.clone();
            goro::spawn(move || {
                let tcp = TcpStream::connect(addr).unwrap();
                tcp.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
                let tls = Arc::new(c.connect("localhost", tcp).unwrap());
                let data = pattern(i, BYTES);
                let (w, d) = (tls.clone(), data.clone());
                let writer = goro::spawn(move || {
                    for chunk in d.chunks(1000 + i as usize * 37) {
                        (&*w).write_all(chunk).unwrap();
                    }
                });
                let mut got = vec![0u8; BYTES];
                (&*tls).read_exact(&mut got).unwrap();
                writer.join().unwrap();
                assert!(got == data, "client {i}: echoed bytes differ");
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
}

/// A write that misses its deadline with records queued stops later writes (as Go's
/// `tls.Conn` does), while reads go on.
#[test]
fn write_deadline_stops_writes_but_not_reads() {
    let ca = Ca::new("goro test CA");
    let acceptor = TlsAcceptor::new(ca.leaf(&["localhost"]).certificate()).unwrap();
    let (addr, _errs) = server(acceptor, |s| {
        // Read nothing until the client's writes have stalled, then talk.
        goro::time::sleep(Duration::from_millis(600));
        (&s).write_all(b"ok").unwrap();
        let _ = std::io::copy(&mut &s, &mut std::io::sink());
    });
    let tls = connector(&ca)
        .connect("localhost", TcpStream::connect(addr).unwrap())
        .unwrap();
    tls.set_write_deadline(Some(Instant::now() + Duration::from_millis(200)));
    let chunk = vec![7u8; 64 << 10];
    let e = loop {
        if let Err(e) = (&tls).write(&chunk) {
            break e;
        }
    };
    assert_eq!(e.kind(), ErrorKind::TimedOut, "{e}");
    tls.set_write_deadline(None);
    let again = (&tls).write(b"x").unwrap_err();
    assert_eq!(again.kind(), ErrorKind::TimedOut, "{again}");
    assert!(
        again.to_string().contains("earlier write failed"),
        "{again}"
    );
    let mut ok = [0u8; 2];
    (&tls).read_exact(&mut ok).unwrap();
    assert_eq!(&ok, b"ok");
}

/// A client session store that counts the TLS 1.3 tickets it is given.
#[derive(Debug)]
struct CountingStore {
    inner: rustls::client::ClientSessionMemoryCache,
    tickets: std::sync::atomic::AtomicUsize,
}

impl ClientSessionStore for CountingStore {
    fn set_kx_hint(&self, name: ServerName<'static>, group: NamedGroup) {
        self.inner.set_kx_hint(name, group)
    }
    fn kx_hint(&self, name: &ServerName<'_>) -> Option<NamedGroup> {
        self.inner.kx_hint(name)
    }
    fn set_tls12_session(&self, name: ServerName<'static>, value: Tls12ClientSessionValue) {
        self.inner.set_tls12_session(name, value)
    }
    fn tls12_session(&self, name: &ServerName<'_>) -> Option<Tls12ClientSessionValue> {
        self.inner.tls12_session(name)
    }
    fn remove_tls12_session(&self, name: &ServerName<'static>) {
        self.inner.remove_tls12_session(name)
    }
    fn insert_tls13_ticket(&self, name: ServerName<'static>, value: Tls13ClientSessionValue) {
        self.tickets
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.inner.insert_tls13_ticket(name, value)
    }
    fn take_tls13_ticket(&self, name: &ServerName<'static>) -> Option<Tls13ClientSessionValue> {
        self.inner.take_tls13_ticket(name)
    }
}

#[test]
#[allow(deprecated)] // ring's provider: see `goro_net::tls`'s module docs
fn the_server_sends_one_session_ticket_and_a_client_resumes_with_it() {
    // Go's server sends one TLS 1.3 ticket per full handshake; rustls's default is two.
    let ca = Ca::new("goro test CA");
    let addr = echo_server(&ca);
    let store = Arc::new(CountingStore {
        inner: rustls::client::ClientSessionMemoryCache::new(8),
        tickets: Default::default(),
    });
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(ca.root_store())
        .with_no_client_auth();
    config.resumption = rustls::client::Resumption::store(store.clone());
    let config = Arc::new(config);
    let connect = |msg: &[u8]| {
        let sock = std::net::TcpStream::connect(addr).unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let conn =
            rustls::ClientConnection::new(config.clone(), "localhost".try_into().unwrap()).unwrap();
        let mut tls = rustls::StreamOwned::new(conn, sock);
        tls.write_all(msg).unwrap();
        let mut back = vec![0; msg.len()];
        // The tickets come before the echo, so reading it has taken them in.
        tls.read_exact(&mut back).unwrap();
        assert_eq!(back, msg);
        let kind = tls.conn.handshake_kind();
        tls.conn.send_close_notify();
        let _ = tls.flush();
        kind
    };
    assert_eq!(connect(b"first"), Some(rustls::HandshakeKind::Full));
    assert_eq!(
        store.tickets.load(std::sync::atomic::Ordering::Relaxed),
        1,
        "tickets sent after one full handshake"
    );
    assert_eq!(connect(b"second"), Some(rustls::HandshakeKind::Resumed));
}
