//! `ReverseProxy` and `Upgrade` (WebSocket), as Go's proxy handles a `101`: the answer goes
//! through `modify_response` (a refusal goes to the error handler and nothing is spliced),
//! an answer other than `101` is relayed as an ordinary one, and TLS on either side: an
//! `https://` backend is dialed with the proxy's client's connector, and a proxy served
//! with `serve_tls` splices the client's TLS stream.
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::Duration;

use goro_net::http::httptest;
use goro_net::http::{ResponseWriter, ReverseProxy};
use tungstenite::Message;

#[allow(dead_code)]
#[path = "../../examples/websocket.rs"]
mod websocket;

/// Echoes three messages through `ws`, then closes it.
fn echo_three<S: Read + Write>(ws: &mut tungstenite::WebSocket<S>) {
    for i in 0..3 {
        ws.send(Message::text(format!("via proxy {i}"))).unwrap();
        assert_eq!(ws.read().unwrap(), Message::text(format!("via proxy {i}")));
    }
    ws.close(None).unwrap();
    while ws.read().is_ok() {}
}

fn ws_plain(
    addr: SocketAddr,
) -> (
    tungstenite::WebSocket<std::net::TcpStream>,
    tungstenite::handshake::client::Response,
) {
    let s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    tungstenite::client::client(format!("ws://{addr}/ws").as_str(), s).unwrap()
}

/// The `101` is what `modify_response` made it: a header it adds reaches the client, and
/// the hook sees the `Upgrade` header (hop-by-hop headers are not dropped from a `101`).
#[test]
fn an_upgrade_answer_goes_through_modify_response() {
    let backend = httptest::Server::new(websocket::mux());
    let proxy = httptest::Server::new(
        ReverseProxy::builder()
            .target(backend.url())
            .modify_response(|resp, _r| {
                let up = resp.header("upgrade").unwrap_or("none").to_string();
                resp.set_header("X-Modified", &format!("{} {up}", resp.status));
                Ok(())
            })
            .build(),
    );
    let (mut ws, resp) = ws_plain(proxy.addr());
    assert_eq!(resp.status(), 101);
    assert_eq!(resp.headers()["x-modified"], "101 websocket");
    echo_three(&mut ws);
}

/// `modify_response` refusing the `101`: the error handler answers, and the connection
/// stays an HTTP one (nothing is spliced: a second request on it is answered by the proxy).
#[test]
fn a_refused_upgrade_answer_goes_to_the_error_handler() {
    let backend = httptest::Server::new(websocket::mux());
    let proxy = httptest::Server::new(
        ReverseProxy::builder()
            .target(backend.url())
            .modify_response(|resp, _r| {
                if resp.status == 101 {
                    return Err(io::Error::other("no upgrades here"));
                }
                Ok(())
            })
            .error_handler(|w: &mut ResponseWriter<'_>, _r, e| {
                w.write_header(403);
                let _ = write!(w, "refused: {e}");
            })
            .build(),
    );
    let mut c = std::net::TcpStream::connect(proxy.addr()).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    c.write_all(
        b"GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n\
          GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    let mut all = String::new();
    c.read_to_string(&mut all).unwrap();
    assert!(all.starts_with("HTTP/1.1 403 "), "{all}");
    assert!(all.contains("refused: no upgrades here"), "{all}");
    assert!(!all.contains("101"), "{all}");
    // The request behind it was served by the proxy as HTTP.
    assert!(all.ends_with("websocket echo at /ws\n"), "{all}");
}

/// A backend that refuses the upgrade (`400`, no handshake key): its answer is relayed as
/// an ordinary one, body and `modify_response` included.
#[test]
fn a_backend_refusing_the_upgrade_is_relayed_as_an_answer() {
    let backend = httptest::Server::new(websocket::mux());
    let proxy = httptest::Server::new(
        ReverseProxy::builder()
            .target(backend.url())
            .modify_response(|resp, _r| {
                resp.set_header("X-Modified", &resp.status.to_string());
                Ok(())
            })
            .build(),
    );
    let mut c = std::net::TcpStream::connect(proxy.addr()).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    c.write_all(
        b"GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade, close\r\n\r\n",
    )
    .unwrap();
    let mut all = String::new();
    c.read_to_string(&mut all).unwrap();
    assert!(all.starts_with("HTTP/1.1 400 "), "{all}");
    assert!(all.contains("X-Modified: 400\r\n"), "{all}");
    assert!(all.contains("Sec-WebSocket-Version: 13\r\n"), "{all}");
    assert!(all.ends_with("websocket handshake expected\n"), "{all}");
}

#[cfg(all(feature = "tls", target_os = "linux"))]
mod tls_util;

#[cfg(all(feature = "tls", target_os = "linux"))]
mod tls {
    use super::*;
    use goro_net::http::{Client, Server};
    use goro_net::tls::TlsAcceptor;
    use goro_net::TcpListener;

    use crate::tls_util::{self, Ca};

    fn serve_tls(server: Server, ca: &Ca) -> SocketAddr {
        let acceptor = TlsAcceptor::new(ca.leaf(&["localhost"]).certificate()).unwrap();
        let ln = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = ln.local_addr().unwrap();
        goro::spawn(move || server.serve_tls(ln, acceptor));
        addr
    }

    /// An `https://` backend is dialed with TLS for the splice, with the connector of the
    /// proxy's client (the backend's certificate is signed by a CA only it trusts).
    #[test]
    fn an_upgrade_reaches_an_https_backend() {
        let ca = Ca::new("goro upgrade CA");
        let backend = serve_tls(Server::new(websocket::mux()), &ca);
        let client = Client::builder()
            .max_redirects(0)
            .tls_connector(tls_util::connector(&ca))
            .build();
        let proxy = httptest::Server::new(
            ReverseProxy::builder()
                .target(&format!("https://localhost:{}", backend.port()))
                .client(client)
                .build(),
        );
        let (mut ws, resp) = ws_plain(proxy.addr());
        assert_eq!(resp.status(), 101);
        echo_three(&mut ws);
        // Without the CA the backend's certificate is refused: the error handler's 502.
        let strict = httptest::Server::new(ReverseProxy::new(&format!(
            "https://localhost:{}",
            backend.port()
        )));
        let s = std::net::TcpStream::connect(strict.addr()).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        match tungstenite::client::client(format!("ws://{}/ws", strict.addr()).as_str(), s) {
            Err(tungstenite::HandshakeError::Failure(tungstenite::Error::Http(r))) => {
                assert_eq!(r.status(), 502)
            }
            other => panic!("expected a 502, got {:?}", other.map(|(_, r)| r.status())),
        }
    }

    /// A proxy served over TLS: the client's side of the splice is its TLS stream.
    #[test]
    fn an_upgrade_through_an_https_proxy() {
        let ca = Ca::new("goro upgrade CA");
        let backend = httptest::Server::new(websocket::mux());
        let front = serve_tls(Server::new(ReverseProxy::new(backend.url())), &ca);
        let tcp = goro_net::TcpStream::connect(front).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let tls = tls_util::connector(&ca).connect("localhost", tcp).unwrap();
        let url = format!("wss://localhost:{}/ws", front.port());
        let (mut ws, resp) = tungstenite::client::client(url.as_str(), tls).unwrap();
        assert_eq!(resp.status(), 101);
        echo_three(&mut ws);
    }
}
