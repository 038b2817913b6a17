//! goro's HTTP client over `https://`: against goro's HTTPS server (one handshake for many
//! requests), against python's `http.server` wrapped in `ssl`, certificate errors, the
//! pools of `http://` and `https://` kept apart, and redirects across schemes.
#![cfg(all(feature = "tls", target_os = "linux"))]

mod tls_util;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::Duration;

use goro_net::http::{self, Client, Request, ResponseWriter, Server};
use goro_net::tls::TlsAcceptor;
use goro_net::TcpListener;
use tls_util::{temp_dir, write, Ca};

/// Answers `<scheme> <method> <path> <body length>`, or redirects: `/to-https/<port>` to
/// the HTTPS server on that port, `/to-http/<port>` to the plain one.
fn answer(scheme: &'static str) -> impl Fn(&mut ResponseWriter<'_>, &mut Request<'_>) {
    move |w, r| {
        let mut body = Vec::new();
        let _ = r.body().read_to_end(&mut body);
        let path = r.path().to_string();
        if let Some(port) = path.strip_prefix("/to-https/") {
            let url = format!("https://localhost:{port}/landed");
            return http::redirect(w, r, &url, 302);
        }
        if let Some(port) = path.strip_prefix("/to-http/") {
            let url = format!("http://localhost:{port}/home");
            return http::redirect(w, r, &url, 301);
        }
        let _ = write!(w, "{scheme} {} {path} {}", r.method(), body.len());
    }
}

fn https_server(ca: &Ca, names: &[&str]) -> (Server, SocketAddr) {
    let acceptor = TlsAcceptor::new(ca.leaf(names).certificate()).unwrap();
    let server = Server::new(answer("https"));
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let s = server.clone();
    goro::spawn(move || s.serve_tls(listener, acceptor));
    (server, addr)
}

fn http_server() -> (Server, SocketAddr) {
    let server = Server::new(answer("http"));
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let s = server.clone();
    goro::spawn(move || s.serve(listener));
    (server, addr)
}

#[test]
fn goro_client_reuses_one_tls_connection_for_many_requests() {
    let ca = Ca::new("goro test CA");
    let (server, addr) = https_server(&ca, &["localhost"]);
    let c = tls_util::https_client(&ca);
    let base = format!("https://localhost:{}", addr.port());
    for i in 0..5 {
        let resp = c.get(&format!("{base}/get{i}")).unwrap();
        assert_eq!(resp.status, 200);
        assert_eq!(resp.body, format!("https GET /get{i} 0").as_bytes());
    }
    let resp = c
        .post(&format!("{base}/post"), "text/plain", &vec![b'z'; 200_000])
        .unwrap();
    assert_eq!(resp.body, b"https POST /post 200000");
    // A streamed upload (chunked) and a streamed answer.
    let mut upload = std::io::repeat(1).take(300_000);
    let resp = c
        .stream_from("PUT", &format!("{base}/put"), &[], &mut upload, None)
        .unwrap();
    assert_eq!(resp.into_response().unwrap().body, b"https PUT /put 300000");
    assert_eq!(c.pool_stats().dials, 1, "{:?}", c.pool_stats());
    assert_eq!(server.stats().accepted, 1);

    // From coroutines too, several at once: more connections, each reused.
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let (c, base) = (c.clone(), base.clone());
            goro::spawn(move || {
                for j in 0..5 {
                    let resp = c.get(&format!("{base}/co{i}/{j}")).unwrap();
                    assert_eq!(resp.body, format!("https GET /co{i}/{j} 0").as_bytes());
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert!(c.pool_stats().dials <= 4, "{:?}", c.pool_stats());
    server.shutdown(Duration::from_secs(2));
}

#[test]
fn goro_client_against_a_python_https_server() {
    let ca = Ca::new("goro test CA");
    let leaf = ca.leaf(&["localhost"]);
    let dir = temp_dir("https-python-server");
    let cert = write(&dir, "cert.pem", &leaf.cert_pem);
    let key = write(&dir, "key.pem", &leaf.key_pem);
    let script = r#"
import http.server, ssl, sys
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        body = ("python %s %d" % (self.path, id(self.connection) % 1000000)).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
srv = http.server.HTTPServer(("127.0.0.1", 0), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[1], sys.argv[2])
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
print(srv.server_address[1], flush=True)
srv.timeout = 30
srv.handle_request()
"#;
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(&cert)
        .arg(&key)
        .stdout(Stdio::piped())
        .spawn()
        .expect("cannot run python3");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port: u16 = line.trim().parse().unwrap();
    let c = tls_util::https_client(&ca);
    // python's server serves one connection (`handle_request`): every request must reuse it.
    let mut conn_ids = Vec::new();
    for i in 0..3 {
        let resp = c.get(&format!("https://localhost:{port}/p{i}")).unwrap();
        let text = String::from_utf8(resp.body).unwrap();
        let rest = text
            .strip_prefix(&format!("python /p{i} "))
            .unwrap_or_else(|| panic!("{text}"));
        conn_ids.push(rest.to_string());
    }
    assert!(conn_ids.windows(2).all(|w| w[0] == w[1]), "{conn_ids:?}");
    assert_eq!(c.pool_stats().dials, 1);
    drop(c); // closes the connection: python's server returns
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn certificate_errors_are_clear() {
    let ca = Ca::new("goro test CA");
    let (server, addr) = https_server(&ca, &["localhost"]);

    // The default client trusts Mozilla's roots, not our CA.
    let e = Client::new()
        .get(&format!("https://localhost:{}/", addr.port()))
        .unwrap_err();
    let msg = e.to_string().to_lowercase();
    assert!(
        msg.contains("certificate") && msg.contains("localhost"),
        "unclear: {e}"
    );

    // Our CA, but the certificate does not name 127.0.0.1.
    let e = tls_util::https_client(&ca)
        .get(&format!("https://127.0.0.1:{}/", addr.port()))
        .unwrap_err();
    let msg = e.to_string().to_lowercase();
    assert!(
        msg.contains("certificate") && msg.contains("127.0.0.1"),
        "unclear: {e}"
    );

    // The server still serves.
    let resp = tls_util::https_client(&ca)
        .get(&format!("https://localhost:{}/ok", addr.port()))
        .unwrap();
    assert_eq!(resp.body, b"https GET /ok 0");
    server.shutdown(Duration::from_secs(2));
}

#[test]
fn http_and_https_to_one_port_are_pooled_apart() {
    let ca = Ca::new("goro test CA");
    let (server, addr) = https_server(&ca, &["localhost"]);
    let c = tls_util::https_client(&ca);
    let https = format!("https://localhost:{}/a", addr.port());
    let http = format!("http://localhost:{}/a", addr.port());
    assert_eq!(c.get(&https).unwrap().body, b"https GET /a 0");
    // A plaintext request to the TLS port gets the server's plaintext answer, on a
    // connection of its own: the idle TLS connection is not used for it.
    let resp = c.get(&http).unwrap();
    assert_eq!(resp.status, 400);
    assert_eq!(
        resp.body,
        b"Client sent an HTTP request to an HTTPS server.\n"
    );
    assert_eq!(c.get(&https).unwrap().body, b"https GET /a 0");
    assert_eq!(c.pool_stats().dials, 2, "{:?}", c.pool_stats());
    server.shutdown(Duration::from_secs(2));
}

#[test]
fn redirects_cross_schemes_both_ways() {
    let ca = Ca::new("goro test CA");
    let (tls_server, tls_addr) = https_server(&ca, &["localhost"]);
    let (plain_server, plain_addr) = http_server();
    let c = tls_util::https_client(&ca);

    // http -> https
    let resp = c
        .get(&format!(
            "http://localhost:{}/to-https/{}",
            plain_addr.port(),
            tls_addr.port()
        ))
        .unwrap();
    assert_eq!(resp.body, b"https GET /landed 0");
    assert_eq!(
        resp.redirected_to(),
        Some(format!("https://localhost:{}/landed", tls_addr.port()).as_str())
    );

    // https -> http
    let resp = c
        .get(&format!(
            "https://localhost:{}/to-http/{}",
            tls_addr.port(),
            plain_addr.port()
        ))
        .unwrap();
    assert_eq!(resp.body, b"http GET /home 0");
    assert_eq!(
        resp.redirected_to(),
        Some(format!("http://localhost:{}/home", plain_addr.port()).as_str())
    );
    tls_server.shutdown(Duration::from_secs(2));
    plain_server.shutdown(Duration::from_secs(2));
}
