//! goro's TLS against other implementations on 127.0.0.1: `openssl s_client` with TLS 1.2
//! and 1.3, python's `ssl` (and `http.client`) as a client, a python TLS server for goro's
//! client, and curl over https (with keep-alive reuse) against a small hand-written
//! HTTP/1.1 responder on a goro TLS server. `.ci/run` installs openssl, python3 and curl.
#![cfg(all(feature = "tls", target_os = "linux"))]

mod tls_util;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use goro_net::tls::{TlsAcceptor, TlsStream};
use goro_net::TcpStream;
use tls_util::{connector, files, run_tool, server, Files};

fn acceptor(f: &Files) -> TlsAcceptor {
    TlsAcceptor::builder()
        .certificate(goro_net::tls::Certificate::from_pem_files(&f.cert_pem, &f.key_pem).unwrap())
        .alpn_protocols(["http/1.1"])
        .build()
        .unwrap()
}

/// Reads one line, answers `<TLS version> <line>`, then closes with close_notify.
fn line_echo(s: TlsStream) {
    let mut line = String::new();
    if BufReader::new(&s).read_line(&mut line).is_err() {
        return;
    }
    let answer = format!("{:?} {line}", s.protocol_version().unwrap());
    let _ = (&s).write_all(answer.as_bytes());
    let _ = s.shutdown();
}

#[test]
fn openssl_s_client_tls12_and_tls13() {
    let f = files("openssl");
    let (addr, _errs) = server(acceptor(&f), line_echo);
    for (flag, version) in [("-tls1_2", "TLSv1_2"), ("-tls1_3", "TLSv1_3")] {
        let out = run_tool(
            Command::new("openssl")
                .args([
                    "s_client",
                    "-quiet",
                    "-ign_eof",
                    "-verify_return_error",
                    flag,
                ])
                .args(["-connect", &addr.to_string(), "-servername", "localhost"])
                .arg("-CAfile")
                .arg(&f.ca_pem),
            b"hello from openssl\n",
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            stdout,
            format!("{version} hello from openssl\n"),
            "openssl {flag}: stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn python_ssl_client() {
    let f = files("pyclient");
    let (addr, _errs) = server(acceptor(&f), line_echo);
    let script = r#"
import socket, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[2])
with socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20) as raw:
    with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
        tls.sendall(b"hello from python\n")
        data = b""
        while True:
            chunk = tls.recv(1024)
            if not chunk:
                break
            data += chunk
        sys.stdout.write(tls.version() + "|" + data.decode())
"#;
    let out = run_tool(
        Command::new("python3")
            .args(["-c", script, &addr.port().to_string()])
            .arg(&f.ca_pem),
        b"",
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        stdout,
        "TLSv1.3|TLSv1_3 hello from python\n",
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// goro's client against a TLS server written with python's `ssl` module.
#[test]
fn goro_client_against_a_python_server() {
    let f = files("pyserver");
    let script = r#"
import socket, ssl, sys
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[1], sys.argv[2])
ctx.set_alpn_protocols(["http/1.1"])
with socket.create_server(("127.0.0.1", 0)) as ls:
    print(ls.getsockname()[1], flush=True)
    ls.settimeout(20)
    raw, _ = ls.accept()
    with ctx.wrap_socket(raw, server_side=True) as tls:
        data = tls.recv(1024)
        tls.sendall(b"python saw: " + data + b" over " + tls.selected_alpn_protocol().encode())
        tls.unwrap()
"#;
    let mut child = Command::new("python3")
        .args(["-c", script])
        .arg(&f.cert_pem)
        .arg(&f.key_pem)
        .stdout(Stdio::piped())
        .spawn()
        .expect("cannot run python3");
    let mut port = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut port)
        .unwrap();
    let addr: SocketAddr = format!("127.0.0.1:{}", port.trim()).parse().unwrap();
    let c = goro_net::tls::TlsConnector::builder()
        .roots(f.ca.pool())
        .alpn_protocols(["http/1.1"])
        .build()
        .unwrap();
    let got = goro::spawn(move || {
        let mut tls = c
            .connect("localhost", TcpStream::connect(addr).unwrap())
            .unwrap();
        tls.write_all(b"ping").unwrap();
        let mut got = String::new();
        tls.read_to_string(&mut got).unwrap();
        got
    })
    .join()
    .unwrap();
    assert_eq!(got, "python saw: ping over http/1.1");
    assert!(child.wait().unwrap().success());
}

/// A fixed HTTP/1.1 answer to every request on the connection (no request bodies), head
/// and body in one vectored write.
fn tiny_http(s: TlsStream) {
    let mut r = BufReader::new(&s);
    let mut served = 0;
    loop {
        let mut line = String::new();
        match r.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) if line == "\r\n" => {
                served += 1;
                let body = format!("hello over tls #{served}\n");
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n",
                    body.len()
                );
                let bufs = [
                    std::io::IoSlice::new(head.as_bytes()),
                    std::io::IoSlice::new(body.as_bytes()),
                ];
                let n = (&s).write_vectored(&bufs).unwrap();
                assert_eq!(n, head.len() + body.len(), "a short TLS write");
            }
            Ok(_) => {}
        }
    }
}

fn curl(addr: SocketAddr, ca: &Path, paths: &[&str]) -> Output {
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "-v", "--max-time", "20", "--cacert"])
        .arg(ca);
    cmd.args(["--resolve", &format!("localhost:{}:127.0.0.1", addr.port())]);
    for p in paths {
        cmd.arg(format!("https://localhost:{}{p}", addr.port()));
    }
    run_tool(&mut cmd, b"")
}

#[test]
fn curl_over_https_reuses_the_connection() {
    let f = files("curl");
    let (addr, _errs) = server(acceptor(&f), tiny_http);
    let out = curl(addr, &f.ca_pem, &["/a", "/b"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "curl failed: {stderr}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "hello over tls #1\nhello over tls #2\n",
        "{stderr}"
    );
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

    // Without the CA, curl refuses our certificate; the server goes on.
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "--max-time", "20", "--resolve"])
        .arg(format!("localhost:{}:127.0.0.1", addr.port()))
        .arg(format!("https://localhost:{}/", addr.port()));
    let out = run_tool(&mut cmd, b"");
    assert!(!out.status.success());
    let out = curl(addr, &f.ca_pem, &["/c"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello over tls #1\n");
}

#[test]
fn python_http_client_over_https_keep_alive() {
    let f = files("pyhttp");
    let (addr, _errs) = server(acceptor(&f), tiny_http);
    let script = r#"
import http.client, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[2])
conn = http.client.HTTPSConnection("localhost", int(sys.argv[1]), context=ctx, timeout=20)
for path in ("/x", "/y"):
    conn.request("GET", path)
    r = conn.getresponse()
    sys.stdout.write(str(r.status) + " " + r.read().decode())
"#;
    let out = run_tool(
        Command::new("python3")
            .args(["-c", script, &addr.port().to_string()])
            .arg(&f.ca_pem),
        b"",
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "200 hello over tls #1\n200 hello over tls #2\n",
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The goro client on the same server, for comparison.
    let mut tls = connector(&f.ca)
        .connect("localhost", TcpStream::connect(addr).unwrap())
        .unwrap();
    tls.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let mut head = [0u8; 15];
    tls.read_exact(&mut head).unwrap();
    assert_eq!(&head, b"HTTP/1.1 200 OK");
}
