//! Hijack on an HTTPS server: the handler gets the TLS stream, not the raw socket. A
//! WebSocket (tungstenite) is served over `serve_tls`, and the bytes a client sent with its
//! upgrade request reach the handler whether the server had them in its own buffer or
//! rustls still held them decrypted.
#![cfg(all(feature = "tls", target_os = "linux"))]

mod common;
mod tls_util;

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::Duration;

use goro_net::http::Server;
use goro_net::tls::{TlsAcceptor, TlsStream};
use goro_net::TcpListener;
use tls_util::Ca;
use tungstenite::Message;

#[allow(dead_code)]
#[path = "../../examples/websocket.rs"]
mod websocket;

/// The websocket example's routes served over TLS; the server, for its counters.
fn serve(ca: &Ca) -> (SocketAddr, Server) {
    let acceptor = TlsAcceptor::new(ca.leaf(&["localhost"]).certificate()).unwrap();
    let server = Server::new(websocket::mux());
    let ln = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = ln.local_addr().unwrap();
    let s = server.clone();
    goro::spawn(move || s.serve_tls(ln, acceptor));
    (addr, server)
}

fn dial(ca: &Ca, addr: SocketAddr) -> TlsStream {
    let tcp = goro_net::TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    tls_util::connector(ca).connect("localhost", tcp).unwrap()
}

#[test]
fn a_websocket_echo_over_https() {
    let ca = Ca::new("goro hijack CA");
    let (addr, server) = serve(&ca);
    let url = format!("wss://localhost:{}/ws", addr.port());
    let (mut ws, resp) = tungstenite::client::client(url.as_str(), dial(&ca, addr)).unwrap();
    assert_eq!(resp.status(), 101);
    ws.send(Message::text("hello over tls")).unwrap();
    assert_eq!(ws.read().unwrap(), Message::text("hello over tls"));
    let big = vec![7u8; 100_000];
    ws.send(Message::binary(big.clone())).unwrap();
    assert_eq!(ws.read().unwrap(), Message::binary(big));
    // The server forgot the connection; the conversation outlives its shutdown.
    assert_eq!(server.stats().active, 0);
    assert!(server.shutdown(Duration::from_secs(5)));
    ws.send(Message::text("after shutdown")).unwrap();
    assert_eq!(ws.read().unwrap(), Message::text("after shutdown"));
    common::close_websocket(&mut ws);
}

/// The upgrade request and a 10 KB frame in one TLS record: the server's first read takes
/// only part of the record's plaintext (its buffer is 4 KiB), so the frame is split between
/// the server's buffer and rustls's decrypted plaintext; both reach the handler, in order.
#[test]
fn a_frame_sent_with_the_upgrade_request_over_tls_is_handed_over_whole() {
    let ca = Ca::new("goro hijack CA");
    let (addr, _server) = serve(&ca);
    let mut tls = dial(&ca, addr);
    let mut req =
        b"GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
        Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            .to_vec();
    let payload: Vec<u8> = (0..10_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let mask = [9u8, 8, 7, 6];
    req.extend_from_slice(&[0x82, 0x80 | 126]);
    req.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    req.extend_from_slice(&mask);
    req.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    tls.write_all(&req).unwrap();

    let mut expect = vec![0x82, 126];
    expect.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    expect.extend_from_slice(&payload);
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !got.ends_with(&expect) {
        let n = tls
            .read(&mut buf)
            .expect("the echo within the read timeout");
        assert!(n > 0, "closed after {} bytes", got.len());
        got.extend_from_slice(&buf[..n]);
    }
    let head_end = got.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert!(got.starts_with(b"HTTP/1.1 101 Switching Protocols\r\n"));
    assert_eq!(
        &got[head_end..],
        &expect[..],
        "exactly the echo after the 101"
    );
}
