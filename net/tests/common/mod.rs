//! Helpers shared by goro-net's integration tests (each test file is its own process).
#![allow(dead_code)] // each test file uses its own share of these

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::Duration;

use goro_net::http::{Handler, Request, ResponseWriter, Server};
use goro_net::TcpListener;

/// Reads the whole request body; on a body error answers 400 with the error and returns
/// `None` (the handler then returns).
pub fn body_or_400(w: &mut ResponseWriter<'_>, r: &mut Request<'_>) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    if let Err(e) = r.body().read_to_end(&mut body) {
        w.write_header(400);
        let _ = write!(w, "body error: {e}");
        return None;
    }
    Some(body)
}

/// Sends `request` (a whole request, as bytes on the wire; it should say
/// `Connection: close`) over a plain socket and reads the answer to the end: the status,
/// the head and the body.
pub fn raw(addr: SocketAddr, request: &str) -> (u16, String, String) {
    let mut c = std::net::TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    c.write_all(request.as_bytes()).unwrap();
    let mut all = String::new();
    c.read_to_string(&mut all).unwrap();
    let (head, body) = all.split_once("\r\n\r\n").unwrap();
    let status = head[9..12].parse().unwrap();
    (status, head.to_string(), body.to_string())
}

/// The first value of header `name` in a response head.
pub fn header<'h>(head: &'h str, name: &str) -> Option<&'h str> {
    head.lines().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// Serves `handler` on a fresh port of 127.0.0.1 (shut the server down to stop it).
pub fn serve(handler: impl Handler) -> (SocketAddr, Server) {
    let ln = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = ln.local_addr().unwrap();
    let server = Server::new(handler);
    let s = server.clone();
    goro::spawn(move || s.serve(ln));
    (addr, server)
}

/// One request with the target exactly as given and the header lines `extra` (each ending
/// in CRLF; `Host: h` is added unless `extra` has a Host), over [`raw`].
pub fn ask(addr: SocketAddr, method: &str, target: &str, extra: &str) -> (u16, String, String) {
    let host = if extra.to_ascii_lowercase().contains("host:") {
        ""
    } else {
        "Host: h\r\n"
    };
    raw(
        addr,
        &format!("{method} {target} HTTP/1.1\r\n{host}{extra}Connection: close\r\n\r\n"),
    )
}

/// Closes `ws` and reads until the peer's closing frame and the end of the connection,
/// failing on any other error.
pub fn close_websocket<S: Read + Write>(ws: &mut tungstenite::WebSocket<S>) {
    ws.close(None).unwrap();
    loop {
        match ws.read() {
            Ok(_) => {}
            Err(tungstenite::Error::ConnectionClosed) => break,
            Err(e) => panic!("closing: {e}"),
        }
    }
}
