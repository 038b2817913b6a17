//! The `proxy` example's gateway over TLS on both sides: it terminates HTTPS for its
//! clients (`serve_tls`) and forwards to `https://` backends trusted through a test CA,
//! held answers (pipelining off over https), streamed ones and request bodies alike.
#![cfg(all(feature = "tls", target_os = "linux"))]

mod tls_util;

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::Duration;

use goro_net::http::{Request, ResponseWriter, Server};
use goro_net::tls::TlsAcceptor;
use goro_net::TcpListener;
use tls_util::Ca;

#[allow(dead_code)]
#[path = "../../examples/proxy.rs"]
mod proxy;
use proxy::{Gateway, Policy};

fn serve_tls(server: Server, acceptor: TlsAcceptor) -> SocketAddr {
    let ln = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = ln.local_addr().unwrap();
    goro::spawn(move || server.serve_tls(ln, acceptor));
    addr
}

/// An HTTPS backend answering `<id> <method> <path> <body length>`; `/big` is 3 MiB, more
/// than the gateway holds, so it is streamed.
fn backend(ca: &Ca, id: &'static str) -> SocketAddr {
    let acceptor = TlsAcceptor::new(ca.leaf(&["localhost"]).certificate()).unwrap();
    serve_tls(
        Server::new(move |w: &mut ResponseWriter<'_>, r: &mut Request<'_>| {
            let mut body = Vec::new();
            let _ = r.body().read_to_end(&mut body);
            if r.path() == "/big" {
                let _ = w.write_all(&vec![b'b'; 3 << 20]);
                return;
            }
            let _ = write!(w, "{id} {} {} {}", r.method(), r.path(), body.len());
        }),
        acceptor,
    )
}

#[test]
fn the_gateway_terminates_tls_and_reaches_https_backends() {
    let ca = Ca::new("goro test CA");
    let backends = [backend(&ca, "b1"), backend(&ca, "b2")];
    let connector = tls_util::http_connector(&ca);
    let gw = Gateway::new(
        backends
            .iter()
            .map(|a| format!("https://localhost:{}", a.port()))
            .collect(),
        Policy::RoundRobin,
        Gateway::client_builder()
            .tls_connector(connector.clone())
            .build(),
    )
    .with_stream_client(
        Gateway::stream_client_builder()
            .tls_connector(connector)
            .build(),
    );
    let gw = std::sync::Arc::new(gw);
    let g = gw.clone();
    let front = serve_tls(
        Server::new(move |w: &mut ResponseWriter<'_>, r: &mut Request<'_>| g.serve(w, r)),
        TlsAcceptor::new(ca.leaf(&["localhost"]).certificate()).unwrap(),
    );

    let client = tls_util::https_client(&ca);
    let url = |p: &str| format!("https://localhost:{}{p}", front.port());
    let mut seen = Vec::new();
    for i in 0..4 {
        let resp = client.get(&url(&format!("/g{i}"))).unwrap();
        assert_eq!(resp.status, 200);
        let text = String::from_utf8(resp.body).unwrap();
        let (id, rest) = text.split_once(' ').unwrap();
        assert_eq!(rest, format!("GET /g{i} 0"));
        seen.push(id.to_string());
    }
    assert_eq!(
        seen,
        ["b1", "b2", "b1", "b2"],
        "round robin over both backends"
    );

    // A request body goes through (streamed to the backend).
    let resp = client
        .post(&url("/up"), "application/octet-stream", &vec![7u8; 500_000])
        .unwrap();
    assert!(
        String::from_utf8_lossy(&resp.body).ends_with(" POST /up 500000"),
        "{resp:?}"
    );
    // An answer larger than the gateway holds is relayed as it arrives.
    let resp = client.get(&url("/big")).unwrap();
    assert_eq!(resp.body.len(), 3 << 20);
    assert!(resp.body.iter().all(|&b| b == b'b'));

    // Backend connections were kept alive: far fewer TLS dials than requests.
    let dials = gw.client().pool_stats().dials + gw.stream_client().pool_stats().dials;
    assert!(dials <= 4, "{dials} backend dials for 6 requests");
    assert_eq!(
        client.pool_stats().dials,
        1,
        "the client reused its connection"
    );
}

/// `CONNECT` through the gateway terminating TLS: the tunnel runs inside the client's TLS
/// session (the hijacked connection is the TLS stream, not the raw socket). The bytes sent
/// right behind the `CONNECT` reach the target first, and each side's end of sending
/// (`close_notify` on the client's side) reaches the other.
#[test]
fn connect_tunnels_through_the_tls_terminating_gateway() {
    let ca = Ca::new("goro test CA");
    // The target: answers each line upper-cased, and "bye" once the client has finished.
    let target = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let target_addr = target.local_addr().unwrap();
    let target_thread = std::thread::spawn(move || {
        let (mut s, _) = target.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 256];
        loop {
            let n = s.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
            while let Some(i) = got.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = got.drain(..=i).collect();
                s.write_all(&line.to_ascii_uppercase()).unwrap();
            }
        }
        s.write_all(b"bye\n").unwrap();
    });
    let gw = std::sync::Arc::new(Gateway::new(
        vec![target_addr.to_string()],
        Policy::RoundRobin,
        Gateway::client_builder().build(),
    ));
    let g = gw.clone();
    let front = serve_tls(
        Server::new(move |w: &mut ResponseWriter<'_>, r: &mut Request<'_>| g.serve(w, r)),
        TlsAcceptor::new(ca.leaf(&["localhost"]).certificate()).unwrap(),
    );
    let tcp = goro_net::TcpStream::connect(front).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut tls = tls_util::connector(&ca).connect("localhost", tcp).unwrap();
    write!(
        tls,
        "CONNECT {target_addr} HTTP/1.1\r\nHost: {target_addr}\r\n\r\nearly\n"
    )
    .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 256];
    let mut read_until = |tls: &mut goro_net::tls::TlsStream, want: &str| loop {
        let text = String::from_utf8_lossy(&got).to_string();
        if text.contains(want) {
            return text;
        }
        let n = tls.read(&mut buf).expect("within the read timeout");
        assert!(n > 0, "closed before {want:?}: {text:?}");
        got.extend_from_slice(&buf[..n]);
    };
    let text = read_until(&mut tls, "EARLY\n");
    assert!(
        text.starts_with("HTTP/1.1 200 Connection Established\r\n\r\nEARLY\n"),
        "{text}"
    );
    tls.write_all(b"through tls\n").unwrap();
    read_until(&mut tls, "THROUGH TLS\n");
    // The client's end of sending reaches the target, whose "bye" and end come back.
    tls.shutdown().unwrap();
    let mut rest = String::new();
    tls.read_to_string(&mut rest).unwrap();
    let all = format!("{}{rest}", String::from_utf8_lossy(&got));
    assert!(all.ends_with("THROUGH TLS\nbye\n"), "{all}");
    target_thread.join().unwrap();
}
