//! Hijack and Upgrade: a WebSocket echo on the HTTP port against tungstenite's client (the
//! `websocket` example's handler), the bytes received past the head handed over, and the
//! server forgetting a hijacked connection, which the handler owns and may keep past its
//! return.
use std::io::{Read, Write};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use goro_net::http::httptest::{self, TestRequest};
use goro_net::http::{Client, Hijacked, Request, ResponseWriter, ReverseProxy, Server};
use tungstenite::Message;

#[allow(dead_code)]
#[path = "../../examples/websocket.rs"]
mod websocket;

mod common;

#[test]
fn a_websocket_echo_shares_the_http_port_and_outlives_shutdown() {
    let ts = httptest::Server::new(websocket::mux());
    let page = Client::new().get(&format!("{}/", ts.url())).unwrap();
    assert_eq!(page.body, b"websocket echo at /ws\n");

    let (mut ws, resp) = tungstenite::connect(format!("ws://{}/ws", ts.addr())).unwrap();
    assert_eq!(resp.status(), 101);
    let sock = match ws.get_ref() {
        tungstenite::stream::MaybeTlsStream::Plain(s) => s,
        _ => unreachable!(),
    };
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    ws.send(Message::text("hello")).unwrap();
    assert_eq!(ws.read().unwrap(), Message::text("hello"));
    ws.send(Message::binary(vec![0u8, 1, 2, 255])).unwrap();
    assert_eq!(ws.read().unwrap(), Message::binary(vec![0u8, 1, 2, 255]));

    // The server forgot the upgraded connection: shutdown does not wait for it, and it
    // goes on after the server is gone.
    assert!(ts.server().shutdown(Duration::from_secs(5)));
    ws.send(Message::text("still here")).unwrap();
    assert_eq!(ws.read().unwrap(), Message::text("still here"));
    common::close_websocket(&mut ws);
}

/// A client that sends its first frame in the same segment as its upgrade request: the
/// frame is in the server's buffer when the handler hijacks, and must reach tungstenite.
#[test]
fn a_frame_sent_with_the_upgrade_request_is_handed_over() {
    let ts = httptest::Server::new(websocket::mux());
    let mut c = std::net::TcpStream::connect(ts.addr()).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut req = b"GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
        Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        .to_vec();
    // A masked text frame "early" (RFC 6455 §5.2).
    let mask = [1u8, 2, 3, 4];
    req.extend_from_slice(&[0x81, 0x80 | 5]);
    req.extend_from_slice(&mask);
    req.extend(b"early".iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    c.write_all(&req).unwrap();

    let mut got = Vec::new();
    let mut buf = [0u8; 512];
    let echo: &[u8] = &[0x81, 5, b'e', b'a', b'r', b'l', b'y'];
    while !got.ends_with(echo) {
        let n = c.read(&mut buf).expect("the echo within the read timeout");
        assert!(n > 0, "closed: {:?}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&got);
    assert!(
        text.starts_with("HTTP/1.1 101 Switching Protocols\r\n"),
        "{text}"
    );
    // RFC 6455's own example key and accept value.
    assert!(text.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
}

#[test]
fn a_request_that_is_not_a_handshake_gets_400() {
    let ts = httptest::Server::new(websocket::mux());
    let resp = Client::new().get(&format!("{}/ws", ts.url())).unwrap();
    assert_eq!(resp.status, 400);
    assert_eq!(resp.header("sec-websocket-version"), Some("13"));
}

/// The server writes nothing for a hijacked request, not even a head, serves none of the
/// requests pipelined behind it (the handler gets them as bytes), and closes the
/// connection when the handler returns.
#[test]
fn a_hijacker_owns_the_bytes_and_the_server_writes_nothing() {
    let ts = httptest::Server::new(|w: &mut ResponseWriter<'_>, r: &mut Request<'_>| {
        w.header_set("X-Dropped", "yes");
        let _ = w.write_all(b"never sent");
        let mut conn = w.hijack(r).unwrap();
        assert!(w.write_all(b"after").is_err(), "the writer is dead");
        assert!(w.hijack(r).is_err(), "only once");
        let behind = conn.take_buffered();
        let _ = write!(conn, "RAW {}|", behind.len());
        let _ = conn.write_all(&behind);
    });
    let mut c = std::net::TcpStream::connect(ts.addr()).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let behind = "GET /next HTTP/1.1\r\nHost: h\r\n\r\n";
    c.write_all(format!("GET /take HTTP/1.1\r\nHost: h\r\n\r\n{behind}").as_bytes())
        .unwrap();
    let mut all = String::new();
    c.read_to_string(&mut all).unwrap();
    assert_eq!(all, format!("RAW {}|{behind}", behind.len()));
    assert_eq!(ts.server().stats().active, 0);
}

#[test]
fn a_recorder_cannot_be_hijacked() {
    let rec =
        TestRequest::new("GET", "/").record(&|w: &mut ResponseWriter<'_>, r: &mut Request<'_>| {
            let e = w.hijack(r).unwrap_err();
            assert_eq!(e.kind(), std::io::ErrorKind::Unsupported);
            w.write_header(501);
        });
    assert_eq!(rec.status(), 501);
}

/// A WebSocket through `ReverseProxy`: the handshake is forwarded with its `Upgrade`, and
/// the connections are spliced.
#[test]
fn a_websocket_goes_through_the_reverse_proxy() {
    let backend = httptest::Server::new(websocket::mux());
    let proxy = httptest::Server::new(ReverseProxy::new(backend.url()));
    let (mut ws, resp) = tungstenite::connect(format!("ws://{}/ws", proxy.addr())).unwrap();
    assert_eq!(resp.status(), 101);
    if let tungstenite::stream::MaybeTlsStream::Plain(s) = ws.get_ref() {
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    }
    for i in 0..3 {
        ws.send(Message::text(format!("via proxy {i}"))).unwrap();
        assert_eq!(ws.read().unwrap(), Message::text(format!("via proxy {i}")));
    }
    ws.close(None).unwrap();
    while ws.read().is_ok() {}
    // A plain request on the same proxy still works.
    let page = Client::new().get(&format!("{}/", proxy.url())).unwrap();
    assert_eq!(page.body, b"websocket echo at /ws\n");
}

/// Reads from `c` until `want` has arrived (within its read timeout), and returns all read.
fn read_until(c: &mut std::net::TcpStream, want: &str) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 512];
    while !String::from_utf8_lossy(&got).contains(want) {
        let n = c
            .read(&mut buf)
            .unwrap_or_else(|e| panic!("waiting for {want:?}: {e}"));
        assert!(
            n > 0,
            "closed before {want:?}: {:?}",
            String::from_utf8_lossy(&got)
        );
        got.extend_from_slice(&buf[..n]);
    }
    String::from_utf8(got).unwrap()
}

/// A chat room, as a Go program keeps one: every hijacked connection goes into a shared
/// map and its reader into a coroutine of its own; the handler returns at once. The
/// connections live on after their handlers returned, a line from one reaches the other,
/// the server counts none of them (its one-connection limit lets the second in), and
/// `close` on a member's handle ends its connection for the client.
#[test]
fn a_hijacked_connection_outlives_its_handler_in_a_chat_room() {
    type Room = Arc<Mutex<Vec<(u32, Hijacked)>>>;
    let room: Room = Arc::default();
    let returned = Arc::new(AtomicU32::new(0));
    let (r2, ret2) = (room.clone(), returned.clone());
    let next = AtomicU32::new(0);
    let server = Server::builder().max_connections(1).build(
        move |w: &mut ResponseWriter<'_>, r: &mut Request<'_>| {
            let id = next.fetch_add(1, Ordering::Relaxed);
            let Ok(mut conn) = w.hijack(r) else { return };
            let _ = write!(
                conn,
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: chat\r\n\r\nyou are {id}\n"
            );
            r2.lock().unwrap().push((id, conn.try_clone().unwrap()));
            let room = r2.clone();
            goro::spawn(move || {
                let mut buf = [0u8; 256];
                while let Ok(n @ 1..) = conn.read(&mut buf) {
                    for (_, member) in room.lock().unwrap().iter_mut() {
                        let _ = write!(member, "{id}: ");
                        let _ = member.write_all(&buf[..n]);
                    }
                }
            });
            ret2.fetch_add(1, Ordering::Relaxed);
        },
    );
    let ts = httptest::Server::start(server);
    let join = |who: &str| {
        let mut c = std::net::TcpStream::connect(ts.addr()).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        c.write_all(
            b"GET /chat HTTP/1.1\r\nHost: h\r\nUpgrade: chat\r\nConnection: Upgrade\r\n\r\n",
        )
        .unwrap();
        let hello = read_until(&mut c, "you are");
        assert!(hello.starts_with("HTTP/1.1 101 "), "{who}: {hello}");
        c
    };
    let mut a = join("a");
    // The first member's handler returned and its connection is the server's no more:
    // the one-connection limit lets the second in.
    let mut b = join("b");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while returned.load(Ordering::Relaxed) != 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "the handlers did not return"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    assert_eq!(ts.server().stats().active, 0);

    a.write_all(b"hello b\n").unwrap();
    read_until(&mut b, "0: hello b\n");
    b.write_all(b"hi a\n").unwrap();
    read_until(&mut a, "1: hi a\n");

    // The server's shutdown does not touch them.
    assert!(ts.server().shutdown(Duration::from_secs(5)));
    a.write_all(b"still\n").unwrap();
    read_until(&mut b, "0: still\n");

    // Closing b's handle in the room ends b's connection (its reader's handle too).
    room.lock().unwrap().retain(|(id, m)| {
        if *id == 1 {
            m.close();
        }
        *id != 1
    });
    let mut rest = Vec::new();
    match b.read_to_end(&mut rest) {
        Ok(_) => {}
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}"),
    }
}

/// The connection closes when the last handle drops, not when the handler returns: a
/// clone kept by another coroutine writes after the handler is gone, and the client sees
/// the end of the stream once that coroutine drops it.
#[test]
fn a_hijacked_connection_closes_when_its_last_handle_drops() {
    let (tx, rx) = mpsc::channel::<()>();
    let rx = Mutex::new(Some(rx));
    let ts = httptest::Server::new(move |w: &mut ResponseWriter<'_>, r: &mut Request<'_>| {
        let conn = w.hijack(r).unwrap();
        let later = conn.try_clone().unwrap();
        drop(conn);
        let rx = rx.lock().unwrap().take().unwrap();
        goro::spawn(move || {
            let mut later = later;
            // Released by the test once the handler has returned.
            let go = goro::blocking(move || rx.recv_timeout(Duration::from_secs(10)));
            let _ = write!(later, "late {}", go.is_ok());
        });
    });
    let mut c = std::net::TcpStream::connect(ts.addr()).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    c.write_all(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n").unwrap();
    // The handler returned (nothing is written for the request, the connection stays).
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while ts.server().stats().active != 0 {
        assert!(std::time::Instant::now() < deadline, "never forgotten");
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(50));
    tx.send(()).unwrap();
    let mut all = String::new();
    c.read_to_string(&mut all).unwrap();
    assert_eq!(all, "late true");
}
