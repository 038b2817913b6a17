//! The `proxy` example's gateway: forwarding, X-Forwarded-For, balancing, 502/504, reuse.
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use goro_net::http::{Client, Request, ResponseWriter, Server};
use goro_net::TcpListener;

#[allow(dead_code)]
#[path = "../../examples/proxy.rs"]
mod proxy;

use proxy::{Gateway, Policy};

fn serve(server: Server) -> SocketAddr {
    let ln = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = ln.local_addr().unwrap();
    goro::spawn(move || server.serve(ln));
    addr
}

/// A backend that reports what it received.
fn backend(id: &'static str) -> SocketAddr {
    serve(Server::new(
        move |w: &mut ResponseWriter<'_>, r: &mut Request<'_>| {
            let mut body = String::new();
            let _ = r.body().read_to_string(&mut body);
            match r.path() {
                "/slow" => goro::time::sleep(Duration::from_millis(600)),
                "/trickle" => {
                    // A byte every 50 ms for 2 s: no read waits long, the whole takes long.
                    for _ in 0..40 {
                        if w.write_all(b"x").and_then(|_| w.flush()).is_err() {
                            return;
                        }
                        goro::time::sleep(Duration::from_millis(50));
                    }
                    return;
                }
                "/long" => {
                    // A 2 MiB download in 32 pieces 40 ms apart: each read is quick, the
                    // whole is not. Declared, so the gateway knows at once not to hold it.
                    w.header_set("Content-Length", &(2 << 20).to_string());
                    for i in 0..32u8 {
                        if w.write_all(&[b'a' + i % 26; 64 << 10])
                            .and_then(|_| w.flush())
                            .is_err()
                        {
                            return;
                        }
                        goro::time::sleep(Duration::from_millis(40));
                    }
                    return;
                }
                "/huge" | "/huge-cut" => {
                    // 3 MiB in 64 KiB writes; "/huge-cut" declares it, then stops at 2 MiB.
                    let cut = r.path() == "/huge-cut";
                    if cut {
                        w.header_set("Content-Length", &(3 << 20).to_string());
                    }
                    for i in 0..48u8 {
                        if cut && i == 32 {
                            return w.abort();
                        }
                        if w.write_all(&[b'a' + i % 26; 64 << 10]).is_err() {
                            return;
                        }
                    }
                    return;
                }
                "/moved" => {
                    w.header_set("Location", "/elsewhere");
                    w.write_header(302);
                    return;
                }
                _ => {}
            }
            w.header_set("X-Backend", id);
            let _ = write!(
                w,
                "{id} {} {} host={} xff={} conn={} body={body}",
                r.method(),
                r.uri(),
                r.host(),
                r.header("x-forwarded-for").unwrap_or("-"),
                r.header("connection").unwrap_or("-"),
            );
        },
    ))
}

/// Checks a body the backend wrote as 64 KiB pieces of `a`, `b`, ... `z`, `a`, ...
fn assert_lettered(body: &[u8]) {
    for (i, piece) in body.chunks(64 << 10).enumerate() {
        assert!(
            piece.iter().all(|&b| b == b'a' + (i % 26) as u8),
            "piece {i}"
        );
    }
}

fn gateway(backends: Vec<String>, policy: Policy, client: Client) -> (SocketAddr, Arc<Gateway>) {
    let gw = Arc::new(Gateway::new(backends, policy, client));
    let g = gw.clone();
    let addr = serve(Server::new(
        move |w: &mut ResponseWriter<'_>, r: &mut Request<'_>| g.serve(w, r),
    ));
    (addr, gw)
}

#[test]
fn forwards_with_director_rewrites_and_reuses_backend_connections() {
    let (a, b) = (backend("A"), backend("B"));
    let (proxy, gw) = gateway(
        vec![a.to_string(), b.to_string()],
        Policy::RoundRobin,
        Gateway::default_client(),
    );
    let client = Client::new();
    let mut seen = Vec::new();
    for i in 0..20 {
        let r = client
            .request(
                "POST",
                &format!("http://{proxy}/p/{i}?q=1"),
                &[
                    ("X-Forwarded-For", "203.0.113.7"),
                    ("Connection", "keep-alive"),
                ],
                b"payload",
            )
            .unwrap();
        assert_eq!(r.status, 200);
        let id = r.header("X-Backend").unwrap().to_owned();
        let text = String::from_utf8(r.body).unwrap();
        let host = if id == "A" { a } else { b };
        assert_eq!(
            text,
            format!(
                "{id} POST /p/{i}?q=1 host={host} xff=203.0.113.7, 127.0.0.1 conn=- body=payload"
            )
        );
        seen.push(id);
    }
    assert!(
        seen.windows(2).all(|w| w[0] != w[1]),
        "round-robin alternates: {seen:?}"
    );
    // Requests with bodies go through the gateway's streaming client.
    let s = gw.stream_client().pool_stats();
    assert_eq!(s.dials, 2, "one kept-alive connection per backend: {s:?}");

    let h = client.get(&format!("http://{proxy}/healthz")).unwrap();
    assert_eq!((h.status, h.body.as_slice()), (200, &b"ok\n"[..]));

    // A backend's redirect is passed on for the client to follow, not followed.
    let direct = Client::builder().max_redirects(0).build();
    let r = direct.get(&format!("http://{proxy}/moved")).unwrap();
    assert_eq!((r.status, r.header("location")), (302, Some("/elsewhere")));
}

#[test]
fn concurrent_gets_and_heads_are_pipelined_to_the_backend_and_answered_in_kind() {
    let a = backend("A");
    let (proxy, gw) = gateway(
        vec![a.to_string()],
        Policy::RoundRobin,
        Gateway::default_client(),
    );
    let client = Client::new();
    for wave in 0..3 {
        let handles: Vec<_> = (0..30)
            .map(|i| {
                let client = client.clone();
                goro::spawn(move || {
                    let url = format!("http://{proxy}/g/{wave}/{i}");
                    let get = client.get(&url).unwrap();
                    let text = String::from_utf8(get.body).unwrap();
                    assert!(text.starts_with(&format!("A GET /g/{wave}/{i} ")), "{text}");
                    let head = client.request("HEAD", &url, &[], &[]).unwrap();
                    assert_eq!(head.status, 200);
                    assert!(head.body.is_empty());
                    // The backend's length for the same answer ("HEAD" is one byte longer).
                    let len = head.header("content-length").unwrap();
                    assert_eq!(len.parse::<usize>().unwrap(), text.len() + 1);
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
    }
    assert_eq!(gw.client().pool_stats().active, 0);
}

#[test]
fn least_connections_avoids_the_busy_backend() {
    let (a, b) = (backend("A"), backend("B"));
    let (proxy, _gw) = gateway(
        vec![a.to_string(), b.to_string()],
        Policy::LeastConnections,
        Gateway::default_client(),
    );
    // Park one slow request on whichever backend it lands, then the quick ones all go to
    // the other.
    let slow = goro::spawn(move || Client::new().get(&format!("http://{proxy}/slow")).unwrap());
    std::thread::sleep(Duration::from_millis(150));
    let client = Client::new();
    let ids: Vec<String> = (0..6)
        .map(|_| {
            let r = client.get(&format!("http://{proxy}/q")).unwrap();
            r.header("X-Backend").unwrap().to_owned()
        })
        .collect();
    let slow_id = slow.join().unwrap().header("X-Backend").unwrap().to_owned();
    assert!(
        ids.iter().all(|id| *id != slow_id),
        "{ids:?} while {slow_id} was busy"
    );
}

#[test]
fn backend_down_is_502_and_backend_slow_is_504() {
    let unused = TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = unused.local_addr().unwrap();
    drop(unused);
    let (proxy, _) = gateway(
        vec![dead.to_string()],
        Policy::RoundRobin,
        Gateway::default_client(),
    );
    let r = Client::new().get(&format!("http://{proxy}/x")).unwrap();
    assert_eq!(r.status, 502);

    let slow = backend("S");
    let impatient = Client::builder()
        .read_timeout(Duration::from_millis(200))
        .build();
    let (proxy, _) = gateway(vec![slow.to_string()], Policy::RoundRobin, impatient);
    let r = Client::new().get(&format!("http://{proxy}/slow")).unwrap();
    assert_eq!(r.status, 504);
    let r = Client::new().get(&format!("http://{proxy}/fast")).unwrap();
    assert_eq!(r.status, 200, "the gateway still serves after a timeout");

    // An answer that trickles in past the gateway's whole-request timeout: 504 as well.
    let bounded = Gateway::client_builder()
        .read_timeout(Duration::from_millis(500))
        .timeout(Duration::from_millis(300))
        .build();
    let (proxy, _) = gateway(vec![slow.to_string()], Policy::RoundRobin, bounded);
    let r = Client::new()
        .get(&format!("http://{proxy}/trickle"))
        .unwrap();
    assert_eq!(r.status, 504);
}

#[test]
fn answers_over_the_held_limit_are_relayed_as_streams() {
    let a = backend("A");
    let small_hold = Gateway::client_builder().max_body_bytes(1 << 20).build();
    let (proxy, gw) = gateway(vec![a.to_string()], Policy::RoundRobin, small_hold);
    let client = Client::builder().max_body_bytes(64 << 20).build();
    let r = client.get(&format!("http://{proxy}/huge")).unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.body.len(), 3 << 20);
    assert_lettered(&r.body);
    // A stream the backend cuts midway reaches the client cut, never complete-looking.
    let e = client.get(&format!("http://{proxy}/huge-cut")).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof, "{e}");
    // Small answers are still held and pipelined as before.
    let r = client.get(&format!("http://{proxy}/small")).unwrap();
    assert_eq!(r.status, 200);
    assert!(gw.client().pool_stats().dials >= 1);
}

#[test]
fn a_streamed_answer_may_outlast_the_whole_exchange_timeout() {
    // Held answers must come within 300 ms here; the /long answer takes over a second.
    let a = backend("A");
    let held = Gateway::client_builder()
        .max_body_bytes(1 << 20)
        .timeout(Duration::from_millis(300))
        .build();
    let (proxy, _) = gateway(vec![a.to_string()], Policy::RoundRobin, held);
    let client = Client::builder().max_body_bytes(64 << 20).build();
    let t = std::time::Instant::now();
    let r = client.get(&format!("http://{proxy}/long")).unwrap();
    assert!(t.elapsed() > Duration::from_millis(300));
    assert_eq!(r.status, 200);
    assert_eq!(r.body.len(), 2 << 20, "the stream was cut");
    assert_lettered(&r.body);
}

#[test]
fn request_bodies_are_relayed_as_they_arrive() {
    let a = backend("A");
    let (proxy, _) = gateway(
        vec![a.to_string()],
        Policy::RoundRobin,
        Gateway::default_client(),
    );
    let client = Client::new();
    // 3 MB, chunked from a reader on the client side, relayed to the backend as a stream.
    let mut upload = std::io::repeat(b'u').take(3_000_000);
    let r = client
        .stream_from(
            "POST",
            &format!("http://{proxy}/up"),
            &[],
            &mut upload,
            None,
        )
        .unwrap()
        .into_response()
        .unwrap();
    assert_eq!(r.status, 200);
    let text = String::from_utf8(r.body).unwrap();
    assert!(text.starts_with("A POST /up "), "{text:.80}");
    let sent = text.rsplit("body=").next().unwrap();
    assert_eq!(sent.len(), 3_000_000);
    assert!(sent.bytes().all(|b| b == b'u'));
}

/// `CONNECT` through the gateway with curl as the client (`-p -x`: curl opens a tunnel,
/// then speaks HTTP to the target through it), and a target that cannot be reached.
#[test]
fn connect_tunnels_to_the_target() {
    let target = backend("T");
    let (proxy, _gw) = gateway(
        vec![backend("A").to_string()],
        Policy::RoundRobin,
        Gateway::default_client(),
    );
    let out = std::process::Command::new("curl")
        .args(["-sS", "--max-time", "10", "-p", "-x"])
        .arg(format!("http://{proxy}"))
        .arg(format!("http://{target}/through?x=1"))
        .output()
        .expect("curl runs");
    assert!(out.status.success(), "{out:?}");
    let body = String::from_utf8_lossy(&out.stdout);
    // The target saw curl's own request (origin form, no X-Forwarded-For): a tunnel, not
    // a forwarded request.
    assert_eq!(
        body,
        format!("T GET /through?x=1 host={target} xff=- conn=- body=")
    );

    // A port nothing listens on: 502, and the connection stays an HTTP one.
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = closed.local_addr().unwrap();
    drop(closed);
    let mut c = std::net::TcpStream::connect(proxy).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        c,
        "CONNECT {dead} HTTP/1.1\r\nHost: {dead}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut reply = String::new();
    c.read_to_string(&mut reply).unwrap();
    assert!(reply.starts_with("HTTP/1.1 502 "), "{reply}");
}

/// A client that gives up at 0.3 s frees the gateway's handler and its backend connection
/// well before the backend's 10 s answer: the gateway's request context is canceled when
/// the client leaves, which closes the backend exchange, which cancels the backend
/// handler's own context.
#[test]
fn a_client_that_gives_up_frees_the_handler_and_the_backend_connection() {
    let (tx, rx) = std::sync::mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    let slow = serve(Server::new(
        move |w: &mut ResponseWriter<'_>, r: &mut Request<'_>| {
            // The body first (it may come after the head): then the context can watch the
            // socket, as in Go.
            let _ = std::io::copy(r.body(), &mut std::io::sink());
            let ctx = r.context();
            ctx.wait_timeout(Duration::from_secs(10));
            let _ = tx.lock().unwrap().send(ctx.err());
            let _ = w.write_all(b"late");
        },
    ));
    let (proxy, gw) = gateway(
        vec![slow.to_string()],
        Policy::RoundRobin,
        Gateway::default_client(),
    );
    for path in ["/get", "/post"] {
        let t = std::time::Instant::now();
        let mut c = std::net::TcpStream::connect(proxy).unwrap();
        if path == "/get" {
            c.write_all(b"GET /get HTTP/1.1\r\nHost: h\r\n\r\n")
                .unwrap();
        } else {
            c.write_all(b"POST /post HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\nbody")
                .unwrap();
        }
        std::thread::sleep(Duration::from_millis(300));
        drop(c);
        let err = rx
            .recv_timeout(Duration::from_secs(2))
            .unwrap_or_else(|_| panic!("{path}: the backend handler was not freed within 2 s"));
        assert_eq!(err, Some(goro::context::Error::Canceled), "{path}");
        // The gateway's side: no backend connection in use, none pooled (it was closed).
        let bound = std::time::Instant::now() + Duration::from_secs(2);
        loop {
            let (held, streamed) = (gw.client().pool_stats(), gw.stream_client().pool_stats());
            if held.active + streamed.active + held.idle + streamed.idle == 0 {
                break;
            }
            assert!(
                std::time::Instant::now() < bound,
                "{path}: {held:?} {streamed:?}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(
            t.elapsed() < Duration::from_secs(3),
            "{path}: {:?}",
            t.elapsed()
        );
    }
}
