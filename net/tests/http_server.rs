//! The HTTP server against real clients on 127.0.0.1: raw sockets, curl, Python's http.client.
mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

use goro_net::http::{Builder, Request, ResponseWriter, Server};
use goro_net::TcpListener;

/// Echoes the method, path and body: `GET /a body=...`.
fn echo(w: &mut ResponseWriter<'_>, r: &mut Request<'_>) {
    let Some(body) = common::body_or_400(w, r) else {
        return;
    };
    match r.path() {
        "/big" => {
            for i in 0..5000 {
                let _ = writeln!(w, "line {i:05} of a response longer than the buffer");
            }
        }
        "/panic" => panic!("handler panic on purpose"),
        "/panic-midway" => {
            let _ = w.write_all(&[b'p'; 20_000]); // past the buffer: the head is out, chunked
            panic!("handler panic after the head went out");
        }
        "/abort" => {
            w.header_set("Content-Length", "100");
            let _ = w.write_all(b"ten bytes!");
            let _ = w.flush();
            w.abort();
            assert!(
                w.write_all(b"more").is_err(),
                "a write after abort went through"
            );
        }
        "/sleep" => {
            goro::time::sleep(Duration::from_millis(300));
            let _ = w.write_all(b"slept\n");
        }
        _ => {
            w.header_set("X-Method", r.method());
            let _ = write!(
                w,
                "{} {} body={}",
                r.method(),
                r.uri(),
                String::from_utf8_lossy(&body)
            );
        }
    }
}

fn start(b: Builder) -> (SocketAddr, Server) {
    let ln = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = ln.local_addr().unwrap();
    let server = b.build(echo);
    let s = server.clone();
    goro::spawn(move || s.serve(ln));
    (addr, server)
}

fn connect(addr: SocketAddr) -> TcpStream {
    let c = TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    c
}

/// Reads until EOF (the server closes) and returns the text.
fn read_all(c: &mut TcpStream) -> String {
    let mut s = Vec::new();
    let _ = c.read_to_end(&mut s);
    String::from_utf8_lossy(&s).into_owned()
}

/// Reads one response with a Content-Length body.
fn read_response(c: &mut TcpStream) -> String {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        assert_eq!(
            c.read(&mut byte).unwrap(),
            1,
            "EOF inside a head: {:?}",
            String::from_utf8_lossy(&buf)
        );
        buf.push(byte[0]);
    }
    let head = String::from_utf8(buf).unwrap();
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .map_or(0, |v| v.trim().parse().unwrap());
    let mut body = vec![0u8; len];
    c.read_exact(&mut body).unwrap();
    head + &String::from_utf8(body).unwrap()
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let (addr, _s) = start(Server::builder());
    let mut c = connect(addr);
    c.write_all(
        b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\n\
          POST /2 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello\
          POST /3 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\n\r\n\
          HEAD /4 HTTP/1.1\r\nHost: x\r\n\r\n\
          GET /5 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    let all = read_all(&mut c);
    let bodies: Vec<&str> = all.split("HTTP/1.1 200 OK\r\n").skip(1).collect();
    assert_eq!(bodies.len(), 5, "{all}");
    assert!(bodies[0].ends_with("GET /1 body="), "{all}");
    assert!(bodies[1].ends_with("POST /2 body=hello"), "{all}");
    assert!(bodies[2].ends_with("POST /3 body=abcde"), "{all}");
    assert!(
        bodies[3].contains("Content-Length: 13\r\n") && bodies[3].ends_with("\r\n\r\n"),
        "{all}"
    );
    assert!(
        bodies[4].contains("Connection: close") && bodies[4].ends_with("GET /5 body="),
        "{all}"
    );
}

#[test]
fn malformed_requests_get_400_and_the_server_keeps_serving() {
    let (addr, s) = start(Server::builder());
    for bad in [
        &b"BLAH\r\n\r\n"[..],
        b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    ] {
        let mut c = connect(addr);
        c.write_all(bad).unwrap();
        let reply = read_all(&mut c);
        assert!(
            reply.starts_with("HTTP/1.1 400 "),
            "{:?} -> {reply}",
            String::from_utf8_lossy(bad)
        );
    }
    assert!(s.stats().bad_requests >= 4);
    let mut c = connect(addr);
    c.write_all(b"GET /ok HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    assert!(read_response(&mut c).ends_with("GET /ok body="));
}

#[test]
fn limits_give_431_and_413() {
    let (addr, _s) = start(Server::builder().max_header_bytes(1024).max_body_bytes(100));
    let mut c = connect(addr);
    let big = format!(
        "GET / HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(4000)
    );
    c.write_all(big.as_bytes()).unwrap();
    assert!(read_all(&mut c).starts_with("HTTP/1.1 431 "));

    let mut c = connect(addr);
    c.write_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n")
        .unwrap();
    assert!(read_all(&mut c).starts_with("HTTP/1.1 413 "));

    // A chunked body only shows its size while it is read: the handler sees an error and
    // the server answers 413 in its place.
    let mut c = connect(addr);
    let chunk = "a".repeat(150);
    let req =
        format!("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n96\r\n{chunk}\r\n0\r\n\r\n");
    c.write_all(req.as_bytes()).unwrap();
    assert!(read_all(&mut c).starts_with("HTTP/1.1 413 "));

    // Trailers are bounded on their own (4 KiB, as Go): trailers that never end are a
    // framing error, answered 400, whatever the body limit.
    let mut c = connect(addr);
    let mut req =
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n"
            .to_vec();
    for i in 0..300 {
        req.extend(format!("X-Trailer-{i}: v\r\n").bytes());
    }
    // No final empty line: without the bound the server would wait for more trailers.
    c.write_all(&req).unwrap();
    assert!(read_all(&mut c).starts_with("HTTP/1.1 400 "));
}

#[test]
fn slowloris_is_dropped_by_the_read_header_timeout() {
    let (addr, s) = start(Server::builder().read_header_timeout(Duration::from_millis(300)));
    let mut slow = connect(addr);
    let t = Instant::now();
    slow.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").unwrap();
    let mut closed = false;
    for _ in 0..40 {
        std::thread::sleep(Duration::from_millis(50));
        if slow.write_all(b"X-a: b\r\n").is_err() {
            closed = true;
            break;
        }
        let mut b = [0u8; 16];
        slow.set_read_timeout(Some(Duration::from_millis(1)))
            .unwrap();
        if let Ok(0) = slow.read(&mut b) {
            closed = true;
            break;
        }
    }
    assert!(closed, "a client trickling its head was not dropped");
    assert!(t.elapsed() < Duration::from_millis(1900));
    assert_eq!(s.stats().timed_out, 1);
    // Others are served meanwhile and after.
    let mut c = connect(addr);
    c.write_all(b"GET /after HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    assert!(read_response(&mut c).ends_with("GET /after body="));
}

#[test]
fn a_silent_new_connection_gets_the_read_header_timeout_an_idle_one_the_idle_timeout() {
    let (addr, s) = start(
        Server::builder()
            .read_header_timeout(Duration::from_millis(200))
            .idle_timeout(Duration::from_secs(60)),
    );
    let mut silent = connect(addr);
    let mut kept = connect(addr);
    kept.write_all(b"GET /first HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    assert!(read_response(&mut kept).ends_with("GET /first body="));
    // A connection that never sends a head is dropped from its accept on.
    let t = Instant::now();
    silent
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut b = [0u8; 1];
    assert_eq!(
        silent.read(&mut b).unwrap(),
        0,
        "the silent connection was not closed"
    );
    assert!(t.elapsed() < Duration::from_secs(5));
    assert_eq!(s.stats().timed_out, 1);
    // Between requests the idle timeout applies instead: still served well past 200 ms.
    std::thread::sleep(Duration::from_millis(400).saturating_sub(t.elapsed()));
    kept.write_all(b"GET /again HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    assert!(read_response(&mut kept).ends_with("GET /again body="));
}

#[test]
fn idle_keep_alive_connections_close_after_the_idle_timeout() {
    let (addr, _s) = start(Server::builder().idle_timeout(Duration::from_millis(200)));
    let mut c = connect(addr);
    c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    read_response(&mut c);
    let t = Instant::now();
    let mut b = [0u8; 1];
    assert_eq!(c.read(&mut b).unwrap(), 0);
    assert!(t.elapsed() >= Duration::from_millis(150) && t.elapsed() < Duration::from_secs(3));
}

#[test]
fn expect_100_continue_http10_and_panics() {
    let (addr, _s) = start(Server::builder());
    let mut c = connect(addr);
    c.write_all(
        b"POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n",
    )
    .unwrap();
    let mut interim = [0u8; 25];
    c.read_exact(&mut interim).unwrap();
    assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
    c.write_all(b"data").unwrap();
    assert!(read_response(&mut c).ends_with("POST /e body=data"));

    // HTTP/1.0: closed after the answer unless it asks for keep-alive.
    let mut c = connect(addr);
    c.write_all(b"GET /k HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        .unwrap();
    assert!(read_response(&mut c).contains("Connection: keep-alive\r\n"));
    c.write_all(b"GET /c HTTP/1.0\r\n\r\n").unwrap();
    assert!(read_all(&mut c).ends_with("GET /c body="));

    let mut c = connect(addr);
    c.write_all(b"GET /panic HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    assert!(read_all(&mut c).starts_with("HTTP/1.1 500 "));
    let mut c = connect(addr);
    c.write_all(b"GET /fine HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    assert!(read_response(&mut c).ends_with("GET /fine body="));
}

#[test]
fn an_answer_cut_short_never_looks_complete() {
    let (addr, _s) = start(Server::builder());
    // A panic after the head went out: the chunked body gets no final chunk, and the
    // connection closes.
    let mut c = connect(addr);
    c.write_all(b"GET /panic-midway HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let reply = read_all(&mut c);
    assert!(
        reply.starts_with("HTTP/1.1 200 ") && reply.contains("chunked"),
        "{reply:.200}"
    );
    assert!(reply.contains("ppp"));
    assert!(
        !reply.ends_with("0\r\n\r\n"),
        "a cut body ended like a whole one"
    );
    // abort(): the declared 100 bytes never come; the connection closes after 10.
    let mut c = connect(addr);
    c.write_all(b"GET /abort HTTP/1.1\r\nHost: x\r\n\r\nGET /next HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let reply = read_all(&mut c);
    assert!(reply.contains("Content-Length: 100\r\n"), "{reply}");
    assert!(reply.ends_with("\r\n\r\nten bytes!"), "{reply}");
    // The client is told through the goro client too.
    let e = goro_net::http::Client::new()
        .get(&format!("http://{addr}/abort"))
        .unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof, "{e}");
}

#[test]
fn graceful_shutdown_finishes_requests_in_flight() {
    let (addr, s) = start(Server::builder());
    let mut busy = connect(addr);
    busy.write_all(b"GET /sleep HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut idle = connect(addr);
    idle.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    read_response(&mut idle);
    std::thread::sleep(Duration::from_millis(50));
    let t = Instant::now();
    assert!(s.shutdown(Duration::from_secs(5)));
    assert!(t.elapsed() < Duration::from_secs(3));
    let reply = read_all(&mut busy);
    assert!(
        reply.starts_with("HTTP/1.1 200 ") && reply.contains("Connection: close"),
        "{reply}"
    );
    assert!(reply.ends_with("slept\n"));
    let mut b = [0u8; 1];
    assert_eq!(idle.read(&mut b).unwrap_or(0), 0);
    assert!(TcpStream::connect(addr).is_err());
}

fn have(cmd: &str) -> bool {
    Command::new(cmd).arg("--version").output().is_ok()
}

#[test]
fn curl_reuses_the_connection_and_speaks_head_and_chunked() {
    assert!(have("curl"), "curl is needed (.ci/run installs it)");
    let (addr, _s) = start(Server::builder());
    let base = format!("http://{addr}");
    let out = Command::new("curl")
        .args([
            "-sv",
            "--max-time",
            "10",
            &format!("{base}/a"),
            &format!("{base}/b?x=1"),
            &format!("{base}/big"),
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.starts_with("GET /a body=GET /b?x=1 body=line 00000"),
        "{stdout}"
    );
    assert!(stdout.ends_with("line 04999 of a response longer than the buffer\n"));
    assert_eq!(
        stderr.matches("Re-using existing connection").count(),
        2,
        "{stderr}"
    );
    assert!(stderr.contains("Transfer-Encoding: chunked"));

    let out = Command::new("curl")
        .args(["-sI", "--max-time", "10", &format!("{base}/h")])
        .output()
        .unwrap();
    let head = String::from_utf8_lossy(&out.stdout);
    assert!(
        head.starts_with("HTTP/1.1 200 OK") && head.contains("Content-Length: 13"),
        "{head}"
    );
    assert!(
        head.contains("X-Method: HEAD") && head.contains("Date: ") && !head.contains("Server:"),
        "{head}"
    );

    let mut child = Command::new("curl")
        .args([
            "-s",
            "--max-time",
            "10",
            "-H",
            "Transfer-Encoding: chunked",
            "--data-binary",
            "@-",
            &format!("{base}/up"),
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&b"z".repeat(70_000))
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text, format!("POST /up body={}", "z".repeat(70_000)));
}

#[test]
fn python_http_client_keep_alive_and_pipelining() {
    assert!(have("python3"), "python3 is needed (.ci/run installs it)");
    let (addr, s) = start(Server::builder());
    let script = format!(
        r#"
import http.client, socket
c = http.client.HTTPConnection("{ip}", {port}, timeout=5)
for i in range(20):
    c.request("POST", "/p%d" % i, body=b"x" * i)
    r = c.getresponse()
    assert r.status == 200, r.status
    assert r.read() == b"POST /p%d body=%s" % (i, b"x" * i)
# Pipelining by hand: 50 requests in one send, 50 answers in order.
s = socket.create_connection(("{ip}", {port}), timeout=5)
s.sendall(b"".join(b"GET /q%d HTTP/1.1\r\nHost: x\r\n\r\n" % i for i in range(50)) + b"GET /end HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
data = b""
while True:
    d = s.recv(65536)
    if not d:
        break
    data += d
bodies = [p.split(b"\r\n\r\n", 1)[1] for p in data.split(b"HTTP/1.1 200 OK\r\n")[1:]]
assert bodies == [b"GET /q%d body=" % i for i in range(50)] + [b"GET /end body="], bodies
print("ok")
"#,
        ip = addr.ip(),
        port = addr.port()
    );
    let out = Command::new("python3")
        .args(["-c", &script])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ok");
    assert_eq!(
        s.stats().accepted,
        2,
        "http.client must have kept one connection"
    );
}

#[test]
fn timeouts_past_any_instant_mean_none() {
    // Duration::MAX is "no timeout" in effect: nothing overflows, nothing times out early.
    let (addr, s) = start(
        Server::builder()
            .read_header_timeout(Duration::MAX)
            .read_timeout(Duration::MAX)
            .write_timeout(Duration::MAX)
            .idle_timeout(Duration::MAX),
    );
    let mut c = connect(addr);
    for _ in 0..2 {
        c.write_all(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        assert!(read_response(&mut c).ends_with("GET /a body="));
        std::thread::sleep(Duration::from_millis(30));
    }
    assert_eq!(s.stats().timed_out, 0);
    drop(c);
    assert!(s.shutdown(Duration::MAX));
}
