//! The server over a transport other than a plain `TcpStream` (`Server::serve_with`): a
//! transport that holds bytes of its own, as TLS does, over real sockets.
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use goro_net::http::{Connection, Request, ResponseWriter, Server};
use goro_net::{TcpListener, TcpStream};

/// A transport that reads the socket in big gulps into a buffer of its own and hands the
/// server one request head at a time (as a TLS stream hands out one record's plaintext):
/// after the first answer, the second request waits in this buffer while the socket is
/// empty, so only [`Connection::buffered`] tells the server it is there.
struct Gulping {
    tcp: TcpStream,
    held: Mutex<Vec<u8>>,
}

impl Connection for Gulping {
    fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        let mut held = self.held.lock().unwrap();
        if held.is_empty() {
            let mut gulp = [0u8; 4096];
            let n = (&self.tcp).read(&mut gulp)?;
            held.extend_from_slice(&gulp[..n]);
        }
        let upto = held
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map_or(held.len(), |i| i + 4);
        let n = upto.min(buf.len());
        buf[..n].copy_from_slice(&held[..n]);
        held.drain(..n);
        Ok(n)
    }

    fn send(&self, data: &[u8]) -> io::Result<usize> {
        (&self.tcp).write(data)
    }

    fn socket(&self) -> &TcpStream {
        &self.tcp
    }

    fn buffered(&self) -> usize {
        self.held.lock().unwrap().len()
    }
}

fn hello(w: &mut ResponseWriter<'_>, r: &mut Request<'_>) {
    let _ = write!(w, "path={}", r.path());
}

fn serve_gulping() -> (SocketAddr, Server, Arc<AtomicUsize>) {
    let ln = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = ln.local_addr().unwrap();
    let server = Server::builder()
        .idle_timeout(Duration::from_secs(30))
        .build(hello);
    let wraps = Arc::new(AtomicUsize::new(0));
    let (s, n) = (server.clone(), wraps.clone());
    goro::spawn(move || {
        s.serve_with(ln, move |tcp| {
            n.fetch_add(1, Ordering::Relaxed);
            Ok(Gulping {
                tcp,
                held: Mutex::new(Vec::new()),
            })
        })
    });
    (addr, server, wraps)
}

/// Reads from `c` until `want` answers have fully arrived (each ends with its 6-byte body).
fn read_answers(c: &mut std::net::TcpStream, want: &[&str]) -> String {
    let mut all = String::new();
    let mut buf = [0u8; 4096];
    while !want.iter().all(|w| all.contains(w)) {
        let n = c.read(&mut buf).expect("answer within the read timeout");
        assert!(n > 0, "connection closed early: {all:?}");
        all.push_str(std::str::from_utf8(&buf[..n]).unwrap());
    }
    all
}

#[test]
fn requests_held_by_the_transport_are_served_before_the_connection_idles() {
    let (addr, server, wraps) = serve_gulping();
    let mut c = std::net::TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    // Two requests in one segment: the transport takes both off the socket at once.
    c.write_all(b"GET /one HTTP/1.1\r\nHost: h\r\n\r\nGET /two HTTP/1.1\r\nHost: h\r\n\r\n")
        .unwrap();
    let got = read_answers(&mut c, &["path=/one", "path=/two"]);
    assert!(got.find("path=/one") < got.find("path=/two"), "{got}");
    // The connection then idles with nothing held, and serves the next request as it comes.
    c.write_all(b"GET /three HTTP/1.1\r\nHost: h\r\n\r\n")
        .unwrap();
    read_answers(&mut c, &["path=/three"]);
    assert_eq!(wraps.load(Ordering::Relaxed), 1);
    assert_eq!(server.stats().active, 1);
    drop(c);
    assert!(server.shutdown(Duration::from_secs(5)));
    assert_eq!(server.stats().active, 0);
}

#[test]
fn a_refused_wrap_closes_only_that_connection() {
    let ln = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = ln.local_addr().unwrap();
    let server = Server::new(hello);
    let s = server.clone();
    let first = Arc::new(AtomicUsize::new(0));
    goro::spawn(move || {
        s.serve_with(ln, move |tcp| {
            if first.fetch_add(1, Ordering::Relaxed) == 0 {
                return Err(io::Error::other("handshake refused"));
            }
            Ok(tcp)
        })
    });
    let mut refused = std::net::TcpStream::connect(addr).unwrap();
    refused
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut rest = Vec::new();
    assert_eq!(
        refused.read_to_end(&mut rest).unwrap(),
        0,
        "closed unanswered"
    );
    let mut c = std::net::TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    c.write_all(b"GET /ok HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
        .unwrap();
    read_answers(&mut c, &["path=/ok"]);
    drop(c);
    assert!(server.shutdown(Duration::from_secs(5)));
    assert_eq!(server.stats().active, 0);
    assert_eq!(server.stats().accepted, 2);
}
