//! websocket: a WebSocket echo on the HTTP server's own port, Go's `Upgrader` over
//! `http.Hijacker` (as gorilla/websocket does it), with tungstenite speaking WebSocket.
//!
//! ```text
//! cargo run --release --example websocket -- --listen 127.0.0.1:8082
//! ```
//!
//! `GET /` is a plain HTTP answer; `GET /ws` with `Upgrade: websocket` is upgraded: the
//! handler checks the handshake, [hijacks](goro_net::http::ResponseWriter::hijack) the
//! connection, sends `101 Switching Protocols` itself and hands the stream to tungstenite,
//! which echoes every text and binary message until the client closes. The conversation
//! runs in the connection's coroutine, as a Go handler's does in its goroutine; the server
//! has forgotten the connection (shutdown does not wait for it). Runs until killed.
use std::io::Write;

use goro_net::http::{self, Hijacked, Request, ResponseWriter, ServeMux};
use tungstenite::handshake::derive_accept_key;
use tungstenite::protocol::Role;
use tungstenite::{Message, WebSocket};

/// Checks a WebSocket handshake (RFC 6455 §4.2.1), takes the connection over and
/// answers `101`. On a request that is not a handshake, answers `400` and returns `None`.
pub fn upgrade(w: &mut ResponseWriter<'_>, r: &mut Request<'_>) -> Option<WebSocket<Hijacked>> {
    let has_token = |name: &str, token: &str| {
        r.header(name)
            .is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    };
    let key = r.header("sec-websocket-key");
    let handshake = r.method() == "GET"
        && has_token("upgrade", "websocket")
        && has_token("connection", "upgrade")
        && r.header("sec-websocket-version") == Some("13");
    let (true, Some(key)) = (handshake, key) else {
        w.header_set("Sec-WebSocket-Version", "13");
        http::error(w, "websocket handshake expected", 400);
        return None;
    };
    let accept = derive_accept_key(key.as_bytes());
    let mut conn = w.hijack(r).ok()?;
    write!(
        conn,
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {accept}\r\n\r\n"
    )
    .ok()?;
    Some(WebSocket::from_raw_socket(conn, Role::Server, None))
}

/// The `/ws` handler: echoes text and binary messages (tungstenite answers pings and the
/// closing handshake itself).
pub fn echo(w: &mut ResponseWriter<'_>, r: &mut Request<'_>) {
    let Some(mut ws) = upgrade(w, r) else {
        return;
    };
    loop {
        match ws.read() {
            Ok(m @ (Message::Text(_) | Message::Binary(_))) => {
                if ws.send(m).is_err() {
                    return;
                }
            }
            Ok(_) => {}
            Err(_) => return, // closed, reset, or a protocol error
        }
    }
}

/// The server's routes: `/ws` and a plain page.
pub fn mux() -> ServeMux {
    let mut mux = ServeMux::new();
    mux.handle_func("GET /ws", echo);
    mux.handle_func("GET /{$}", |w, _r| {
        let _ = w.write_all(b"websocket echo at /ws\n");
    });
    mux
}

fn main() {
    let mut listen = String::from("127.0.0.1:8082");
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--listen" => listen = args.next().expect("--listen needs a value"),
            other => {
                eprintln!("usage: websocket [--listen HOST:PORT] (unknown argument {other})");
                std::process::exit(2);
            }
        }
    }
    eprintln!("websocket: ws://{listen}/ws");
    if let Err(e) = http::listen_and_serve(&listen, mux()) {
        eprintln!("websocket: {e}");
        std::process::exit(1);
    }
}
