//! TLS failures, each a clear `io::Error` on both sides, and a server that keeps serving
//! after every one: expired certificate, wrong host name, unknown issuer, plaintext HTTP
//! on the TLS port, garbage bytes, a handshake slowloris cut at the handshake timeout, and
//! a server that never answers.
#![cfg(all(feature = "tls", target_os = "linux"))]

mod tls_util;

use std::io::{self, ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::sync::mpsc::Receiver;
use std::sync::Arc;
use std::time::{Duration, Instant};

use goro_net::tls::rustls;
use goro_net::tls::{TlsAcceptor, TlsConnector, TlsError};
use goro_net::{TcpListener, TcpStream};
use tls_util::{connector, echo, echo_once, server, Ca, Leaf};

fn serve(leaf: &Leaf) -> (SocketAddr, Receiver<io::Error>) {
    server(TlsAcceptor::new(leaf.certificate()).unwrap(), echo)
}

/// The next handshake error the server reported.
fn server_error(errs: &Receiver<io::Error>) -> io::Error {
    errs.recv_timeout(Duration::from_secs(10))
        .expect("the server reported no handshake error")
}

fn is_tls_error(e: &io::Error) -> bool {
    e.get_ref()
        .and_then(|e| e.downcast_ref::<TlsError>())
        .is_some()
}

#[test]
fn expired_certificate() {
    let ca = Ca::new("goro test CA");
    let (addr, errs) = serve(&ca.expired_leaf(&["localhost"]));
    let e = connector(&ca)
        .connect("localhost", TcpStream::connect(addr).unwrap())
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidData, "{e}");
    assert!(e.to_string().contains("certificate has expired"), "{e}");
    let tls = e.get_ref().unwrap().downcast_ref::<TlsError>().unwrap();
    assert!(matches!(
        tls.rustls_error(),
        Some(rustls::Error::InvalidCertificate(_))
    ));
    // The server hears the client's alert.
    let s = server_error(&errs);
    assert_eq!(s.kind(), ErrorKind::ConnectionAborted, "{s}");
    assert!(s.to_string().contains("aborted the handshake"), "{s}");
}

#[test]
fn wrong_host_name_then_the_right_one() {
    let ca = Ca::new("goro test CA");
    let (addr, errs) = serve(&ca.leaf(&["localhost"]));
    let c = connector(&ca);
    let e = c
        .connect("example.com", TcpStream::connect(addr).unwrap())
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidData, "{e}");
    assert!(
        e.to_string().contains("not valid for this host name"),
        "{e}"
    );
    assert!(is_tls_error(&server_error(&errs)));
    echo_once(&c, addr, "localhost", b"the server still serves");
}

#[test]
fn unknown_issuer_self_signed_and_default_roots() {
    let ca = Ca::new("goro test CA");
    let (addr, _errs) = serve(&ca.leaf(&["localhost"]));
    // Trusting another CA, and trusting only Mozilla's roots (the default): both refuse.
    for c in [connector(&Ca::new("someone else")), TlsConnector::new()] {
        let e = c
            .connect("localhost", TcpStream::connect(addr).unwrap())
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidData, "{e}");
        assert!(
            e.to_string().contains("not signed by a trusted root"),
            "{e}"
        );
    }
}

#[test]
fn plaintext_http_and_garbage_are_refused_and_the_server_goes_on() {
    let ca = Ca::new("goro test CA");
    let (addr, errs) = serve(&ca.leaf(&["localhost"]));
    let c = connector(&ca);
    let send_raw = |bytes: &[u8]| {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(bytes).unwrap();
        // The server closes the connection (after an alert, if it sent one).
        let mut rest = Vec::new();
        let _ = s.read_to_end(&mut rest);
        rest
    };

    let answer = send_raw(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
    let e = server_error(&errs);
    assert_eq!(e.kind(), ErrorKind::InvalidData, "{e}");
    assert!(e.to_string().contains("plaintext HTTP request"), "{e}");
    let tls = e.get_ref().unwrap().downcast_ref::<TlsError>().unwrap();
    assert!(tls.is_plaintext_http());
    // The server answered as Go's does, with no TLS alert before it.
    assert_eq!(
        String::from_utf8_lossy(&answer),
        "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n"
    );
    echo_once(&c, addr, "localhost", b"after plaintext");

    let answer = send_raw(&[0xff, 0x00, 0x13, 0x37, 0x00, 0x01, 0x02, 0x03, 0x04]);
    assert!(!answer.starts_with(b"HTTP"), "garbage got an HTTP answer");
    let e = server_error(&errs);
    assert!(!e
        .get_ref()
        .unwrap()
        .downcast_ref::<TlsError>()
        .unwrap()
        .is_plaintext_http());
    assert_eq!(e.kind(), ErrorKind::InvalidData, "{e}");
    assert!(
        e.to_string()
            .contains("does not speak TLS (first bytes ff 00 13 37"),
        "{e}"
    );
    echo_once(&c, addr, "localhost", b"after garbage");

    // A handshake record header followed by nonsense.
    send_raw(&[
        0x16, 0x03, 0x01, 0x00, 0x06, 0x01, 0x00, 0x00, 0x02, 0xde, 0xad,
    ]);
    let e = server_error(&errs);
    assert_eq!(e.kind(), ErrorKind::InvalidData, "{e}");
    assert!(e.to_string().contains("TLS protocol error"), "{e}");

    // A client that connects and leaves at once.
    drop(std::net::TcpStream::connect(addr).unwrap());
    let e = server_error(&errs);
    assert_eq!(e.kind(), ErrorKind::UnexpectedEof, "{e}");
    echo_once(&c, addr, "localhost", b"after all of them");
}

/// A real ClientHello, trickled a byte at a time, is cut at the handshake timeout.
#[test]
fn handshake_slowloris_is_cut_at_the_handshake_timeout() {
    let ca = Ca::new("goro test CA");
    let limit = Duration::from_millis(500);
    let acceptor = TlsAcceptor::builder()
        .certificate(ca.leaf(&["localhost"]).certificate())
        .handshake_timeout(Some(limit))
        .build()
        .unwrap();
    let (addr, errs) = server(acceptor, echo);

    let config = connector(&ca).config().clone();
    let mut hello = Vec::new();
    let mut conn = rustls::ClientConnection::new(config, "localhost".try_into().unwrap()).unwrap();
    conn.write_tls(&mut hello).unwrap();
    assert!(hello.len() > 100);

    let start = Instant::now();
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    let mut sent = 0;
    for b in &hello {
        if s.write_all(&[*b]).is_err() || start.elapsed() > Duration::from_secs(10) {
            break;
        }
        sent += 1;
        std::thread::sleep(Duration::from_millis(50));
        if let Ok(e) = errs.try_recv() {
            let waited = start.elapsed();
            assert_eq!(e.kind(), ErrorKind::TimedOut, "{e}");
            assert!(e.to_string().contains("timed out after 500ms"), "{e}");
            assert!(waited >= limit, "cut after {waited:?}");
            assert!(waited < Duration::from_secs(5), "cut only after {waited:?}");
            assert!(sent < hello.len(), "the whole hello went through");
            echo_once(&connector(&ca), addr, "localhost", b"after the slowloris");
            return;
        }
    }
    panic!(
        "no timeout after {sent} of {} bytes in {:?}",
        hello.len(),
        start.elapsed()
    );
}

#[test]
fn client_handshake_timeout_against_a_silent_server() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let held = Arc::new(std::sync::Mutex::new(Vec::new()));
    let h = held.clone();
    goro::spawn(move || {
        for s in l.incoming() {
            h.lock().unwrap().push(s.unwrap()); // accept, then say nothing
        }
    });
    let c = TlsConnector::builder()
        .handshake_timeout(Some(Duration::from_millis(300)))
        .build()
        .unwrap();
    let t = Instant::now();
    let e = c
        .connect("localhost", TcpStream::connect(addr).unwrap())
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TimedOut, "{e}");
    assert!(e.to_string().contains("TLS handshake"), "{e}");
    assert!(t.elapsed() < Duration::from_secs(5));
    // The socket's own deadline also bounds the handshake, when it comes first.
    let c = TlsConnector::builder()
        .handshake_timeout(None)
        .build()
        .unwrap();
    let tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_deadline(Some(Instant::now() + Duration::from_millis(200)));
    let e = c.connect("localhost", tcp).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TimedOut, "{e}");
}

#[test]
fn bad_inputs_are_invalid_input() {
    let e = goro_net::tls::Certificate::from_pem(b"not pem", b"not pem").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    let ca = Ca::new("goro test CA");
    let a = ca.leaf(&["a.test"]);
    let b = ca.leaf(&["b.test"]);
    // b's key with a's certificate.
    let mismatched =
        goro_net::tls::Certificate::from_pem(a.cert_pem.as_bytes(), b.key_pem.as_bytes()).unwrap();
    let e = TlsAcceptor::new(mismatched).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    assert!(e.to_string().contains("does not belong"), "{e}");
    let e = TlsAcceptor::builder().build().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    let tcp = TcpStream::connect(serve(&a).0).unwrap();
    let e = connector(&ca).connect("not a host!", tcp).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
}
