//! goro's HTTP server over TLS (`Server::serve_tls`, `listen_and_serve_tls`) on 127.0.0.1,
//! against curl, python's `ssl` + `http.client`, `openssl s_client` (TLS 1.2 and 1.3), goro's
//! TLS streams speaking raw HTTP, a plaintext HTTP client and a client trickling its
//! handshake.
#![cfg(all(feature = "tls", target_os = "linux"))]

mod tls_util;

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use goro_net::http::{self, Request, ResponseWriter, Server};
use goro_net::tls::{Certificate, TlsAcceptor, TlsStream};
use goro_net::{TcpListener, TcpStream};
use tls_util::{connector, files, pattern, run_tool, Files};

/// Answers `<method> <path> <body length> <body checksum>`.
fn describe(w: &mut ResponseWriter<'_>, r: &mut Request<'_>) {
    let mut body = Vec::new();
    if let Err(e) = r.body().read_to_end(&mut body) {
        w.write_header(400);
        let _ = write!(w, "body error: {e}");
        return;
    }
    let sum = body
        .iter()
        .fold(0u32, |a, &b| a.wrapping_mul(31).wrapping_add(b as u32));
    let _ = write!(w, "{} {} {} {sum}", r.method(), r.path(), body.len());
}

/// Starts an HTTPS server on 127.0.0.1 with the files' certificate.
fn https_server(f: &Files, b: http::Builder) -> (Server, SocketAddr) {
    let acceptor =
        TlsAcceptor::new(Certificate::from_pem_files(&f.cert_pem, &f.key_pem).unwrap()).unwrap();
    let server = b.build(describe);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let s = server.clone();
    goro::spawn(move || s.serve_tls(listener, acceptor));
    (server, addr)
}

/// A TLS connection from goro's connector, trusting the test CA, as "localhost".
fn dial(f: &Files, addr: SocketAddr) -> TlsStream {
    let tls = connector(&f.ca)
        .connect("localhost", TcpStream::connect(addr).unwrap())
        .unwrap();
    tls.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    tls
}

/// Reads one response with a `Content-Length` from `s`; returns (head, body).
fn read_response(s: &TlsStream, buf: &mut Vec<u8>) -> (String, String) {
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_string();
            let len: usize = head
                .lines()
                .find_map(|l| {
                    let (n, v) = l.split_once(':')?;
                    n.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse().unwrap())
                })
                .expect("no Content-Length");
            if buf.len() >= end + 4 + len {
                let body = String::from_utf8_lossy(&buf[end + 4..end + 4 + len]).to_string();
                buf.drain(..end + 4 + len);
                return (head, body);
            }
        }
        let mut chunk = [0u8; 16 << 10];
        let n = (&*s).read(&mut chunk).expect("reading a response");
        assert!(n > 0, "connection closed inside a response: {buf:?}");
        buf.extend_from_slice(&chunk[..n]);
    }
}

#[test]
fn curl_reuses_one_tls_connection() {
    let f = files("https-curl");
    let (server, addr) = https_server(&f, Server::builder());
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "-v", "--max-time", "20", "--cacert"])
        .arg(&f.ca_pem)
        .args(["--resolve", &format!("localhost:{}:127.0.0.1", addr.port())])
        .arg(format!("https://localhost:{}/a", addr.port()))
        .arg(format!("https://localhost:{}/b", addr.port()));
    let out = run_tool(&mut cmd, b"");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "curl failed: {stderr}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "GET /a 0 0GET /b 0 0");
    assert!(
        stderr.contains("ALPN: server accepted http/1.1")
            || stderr.contains("ALPN, server accepted to use http/1.1"),
        "{stderr}"
    );
    assert!(
        stderr
            .to_lowercase()
            .contains("re-using existing connection"),
        "curl opened a second connection: {stderr}"
    );
    assert_eq!(server.stats().accepted, 1);
    server.shutdown(Duration::from_secs(2));
}

#[test]
fn python_http_client_sends_several_requests_on_one_connection() {
    let f = files("https-python");
    let (server, addr) = https_server(&f, Server::builder());
    let script = r#"
import http.client, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[1])
c = http.client.HTTPSConnection("localhost", int(sys.argv[2]), context=ctx, timeout=10)
for i in range(3):
    c.request("GET", "/n%d" % i)
    r = c.getresponse()
    print(r.status, r.read().decode())
c.request("POST", "/up", body=b"x" * 100000, headers={"Content-Type": "application/octet-stream"})
r = c.getresponse()
print(r.status, r.read().decode())
print(c.sock.version())
c.close()
"#;
    let out = run_tool(
        Command::new("python3")
            .arg("-c")
            .arg(script)
            .arg(&f.ca_pem)
            .arg(addr.port().to_string()),
        b"",
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "python failed: {stderr}");
    let sum = (0..100000).fold(0u32, |a: u32, _| {
        a.wrapping_mul(31).wrapping_add(b'x' as u32)
    });
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("200 GET /n0 0 0\n200 GET /n1 0 0\n200 GET /n2 0 0\n200 POST /up 100000 {sum}\nTLSv1.3\n")
    );
    assert_eq!(
        server.stats().accepted,
        1,
        "python needed a second connection"
    );
    server.shutdown(Duration::from_secs(2));
}

#[test]
fn openssl_s_client_with_tls_1_2_and_1_3() {
    let f = files("https-openssl");
    let (server, addr) = https_server(&f, Server::builder());
    for (flag, version) in [("-tls1_2", "TLSv1.2"), ("-tls1_3", "TLSv1.3")] {
        let out = run_tool(
            Command::new("openssl")
                .args(["s_client", "-connect", &addr.to_string()])
                .args(["-servername", "localhost", "-alpn", "http/1.1", "-ign_eof"])
                .arg("-CAfile")
                .arg(&f.ca_pem)
                .arg(flag),
            b"GET /ssl HTTP/1.1\r\nHost: localhost\r\n\r\n\
              POST /ssl2 HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc",
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains(&format!("Protocol  : {version}"))
                || stdout.contains(&format!("Protocol: {version}"))
                || stdout.contains(&format!("{version}, Cipher")),
            "{version}: {stdout}"
        );
        assert!(stdout.contains("Verify return code: 0 (ok)"), "{stdout}");
        assert!(stdout.contains("ALPN protocol: http/1.1"), "{stdout}");
        assert!(stdout.contains("GET /ssl 0 0"), "{stdout}");
        assert!(stdout.contains("POST /ssl2 3 "), "{stdout}");
    }
    assert_eq!(server.stats().accepted, 2);
    server.shutdown(Duration::from_secs(2));
}

#[test]
fn a_plaintext_client_gets_400_and_the_server_goes_on() {
    let f = files("https-plain");
    let (server, addr) = https_server(&f, Server::builder());
    for _ in 0..3 {
        let mut c = std::net::TcpStream::connect(addr).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        c.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nUser-Agent: plain\r\n\r\n")
            .unwrap();
        let mut reply = String::new();
        c.read_to_string(&mut reply).unwrap();
        assert_eq!(
            reply,
            "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n"
        );
    }
    // TLS clients are still served.
    let tls = dial(&f, addr);
    (&tls)
        .write_all(b"GET /after HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let (head, body) = read_response(&tls, &mut Vec::new());
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    assert_eq!(body, "GET /after 0 0");
    server.shutdown(Duration::from_secs(2));
}

/// The ClientHello a rustls client trusting `f`'s CA sends to "localhost".
fn client_hello(f: &Files) -> Vec<u8> {
    use goro_net::tls::rustls;
    let cfg = connector(&f.ca).config().clone();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut c = rustls::ClientConnection::new(cfg, name).unwrap();
    let mut hello = Vec::new();
    while c.wants_write() {
        c.write_tls(&mut hello).unwrap();
    }
    assert!(hello.len() > 100, "a ClientHello of {} bytes", hello.len());
    hello
}

#[test]
fn a_trickled_handshake_is_dropped_at_the_read_header_timeout() {
    let f = files("https-slowloris");
    // The acceptor's own handshake timeout is 10 s: the server's 500 ms must win.
    let (server, addr) = https_server(
        &f,
        Server::builder().read_header_timeout(Duration::from_millis(500)),
    );
    let hello = client_hello(&f);
    let slow = std::net::TcpStream::connect(addr).unwrap();
    let mut trickle = slow.try_clone().unwrap();
    let trickler = std::thread::spawn(move || {
        // One byte every 50 ms: the whole hello would take > 5 s.
        for b in hello {
            if trickle.write_all(&[b]).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    });
    let start = Instant::now();

    // Meanwhile the accept loop is not held up: a normal client is served at once.
    let tls = dial(&f, addr);
    (&tls)
        .write_all(b"GET /meanwhile HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    assert_eq!(read_response(&tls, &mut Vec::new()).1, "GET /meanwhile 0 0");

    // The trickler is cut off: end of file or a reset, well before its hello is out.
    let mut slow = slow;
    slow.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut scratch = [0u8; 64];
    match slow.read(&mut scratch) {
        Ok(0) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        other => panic!("the trickling client was not dropped: {other:?}"),
    }
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(400) && took < Duration::from_secs(5),
        "dropped after {took:?}, expected the 500 ms read-header timeout"
    );
    trickler.join().unwrap();

    // The keep-alive connection opened meanwhile is still served.
    (&tls)
        .write_all(b"GET /later HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    assert_eq!(read_response(&tls, &mut Vec::new()).1, "GET /later 0 0");
    server.shutdown(Duration::from_secs(2));
}

#[test]
fn pipelined_requests_over_tls_are_answered_in_order() {
    let f = files("https-pipeline");
    let (server, addr) = https_server(&f, Server::builder());
    let tls = dial(&f, addr);
    let mut batch = Vec::new();
    for i in 0..10 {
        write!(batch, "GET /p{i} HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
    }
    (&tls).write_all(&batch).unwrap();
    let mut buf = Vec::new();
    for i in 0..10 {
        assert_eq!(read_response(&tls, &mut buf).1, format!("GET /p{i} 0 0"));
    }

    // Requests the size of the server's read buffer (4 KiB) and its multiples, pipelined
    // in one write: a read can end exactly at a request's end while the next requests
    // already sit decrypted in the TLS session, where the socket's readiness cannot see
    // them. Each must be answered, not left waiting for the client to send more.
    for size in [4095, 4096, 4097, 8192, 16384] {
        let mut batch = Vec::new();
        for i in 0..4 {
            let head = format!("GET /s{i} HTTP/1.1\r\nHost: localhost\r\nX-Pad: ");
            let pad = size - head.len() - 4;
            batch.extend_from_slice(head.as_bytes());
            batch.extend(std::iter::repeat_n(b'a', pad));
            batch.extend_from_slice(b"\r\n\r\n");
        }
        (&tls).write_all(&batch).unwrap();
        for i in 0..4 {
            let (head, body) = read_response(&tls, &mut buf);
            assert!(head.starts_with("HTTP/1.1 200"), "size {size}: {head}");
            assert_eq!(body, format!("GET /s{i} 0 0"), "size {size}");
        }
    }
    assert_eq!(server.stats().accepted, 1);
    server.shutdown(Duration::from_secs(2));
}

#[test]
fn request_bodies_over_tls_chunked_and_with_a_length() {
    let f = files("https-body");
    let (server, addr) = https_server(&f, Server::builder());
    let tls = dial(&f, addr);
    let mut buf = Vec::new();

    // Chunked, each chunk in its own TLS record.
    (&tls)
        .write_all(
            b"POST /chunked HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n",
        )
        .unwrap();
    let data = pattern(7, 300_000);
    for piece in data.chunks(50_000) {
        (&tls)
            .write_all(format!("{:x}\r\n", piece.len()).as_bytes())
            .unwrap();
        (&tls).write_all(piece).unwrap();
        (&tls).write_all(b"\r\n").unwrap();
    }
    (&tls).write_all(b"0\r\n\r\n").unwrap();
    let sum = data
        .iter()
        .fold(0u32, |a, &b| a.wrapping_mul(31).wrapping_add(b as u32));
    assert_eq!(
        read_response(&tls, &mut buf).1,
        format!("POST /chunked 300000 {sum}")
    );

    // With a Content-Length, in one write, on the same connection.
    let data = pattern(9, 1 << 20);
    let mut req = format!(
        "PUT /length HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\n\r\n",
        data.len()
    )
    .into_bytes();
    req.extend_from_slice(&data);
    (&tls).write_all(&req).unwrap();
    let sum = data
        .iter()
        .fold(0u32, |a, &b| a.wrapping_mul(31).wrapping_add(b as u32));
    assert_eq!(
        read_response(&tls, &mut buf).1,
        format!("PUT /length {} {sum}", 1 << 20)
    );
    assert_eq!(server.stats().accepted, 1);
    server.shutdown(Duration::from_secs(2));
}

#[test]
fn listen_and_serve_tls_reads_pem_files() {
    let f = files("https-listen");
    // Find a free port, then let the server bind it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let server = Server::new(describe);
    let s = server.clone();
    let (cert, key) = (f.cert_pem.clone(), f.key_pem.clone());
    goro::spawn(move || s.listen_and_serve_tls(addr, cert, key));
    let start = Instant::now();
    let tcp = loop {
        match TcpStream::connect(addr) {
            Ok(t) => break t,
            Err(e) if start.elapsed() > Duration::from_secs(10) => panic!("no server: {e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    };
    let tls = connector(&f.ca).connect("localhost", tcp).unwrap();
    tls.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    assert_eq!(tls.alpn_protocol(), None); // our connector offered no ALPN
    (&tls)
        .write_all(b"GET /files HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    assert_eq!(read_response(&tls, &mut Vec::new()).1, "GET /files 0 0");
    server.shutdown(Duration::from_secs(2));

    // A missing key file is an error, not a panic.
    let err = Server::new(describe)
        .listen_and_serve_tls("127.0.0.1:0", &f.cert_pem, f.dir.join("nope.pem"))
        .unwrap_err();
    assert!(err.to_string().contains("nope.pem"), "{err}");
}

#[test]
fn a_client_that_leaves_with_close_notify_cancels_the_request_context() {
    let f = files("https-context");
    let (tx, rx) = std::sync::mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    let acceptor =
        TlsAcceptor::new(Certificate::from_pem_files(&f.cert_pem, &f.key_pem).unwrap()).unwrap();
    let server = Server::new(move |w: &mut ResponseWriter<'_>, r: &mut Request<'_>| {
        let ctx = r.context();
        ctx.wait_timeout(Duration::from_secs(10));
        let _ = tx.lock().unwrap().send(ctx.err());
        let _ = w.write_all(b"late");
    });
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let s = server.clone();
    goro::spawn(move || s.serve_tls(listener, acceptor));

    // The client's goodbye is a TLS alert, bytes on the socket like a next request: the
    // server must decrypt them to see that the client left. Once with close_notify and the
    // TCP write side shut, once with close_notify and the socket closed.
    for shutdown_only in [true, false] {
        let tls = dial(&f, addr);
        (&tls)
            .write_all(b"GET /wait HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .unwrap();
        std::thread::sleep(Duration::from_millis(300));
        if shutdown_only {
            tls.shutdown().unwrap();
        }
        drop(tls);
        let err = rx
            .recv_timeout(Duration::from_secs(5))
            .expect("the handler's context was not canceled when the client left");
        assert_eq!(err, Some(goro::context::Error::Canceled));
    }
    server.shutdown(Duration::from_secs(2));
}
