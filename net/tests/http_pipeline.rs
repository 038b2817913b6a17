//! goro_net::http::Client with pipelining (`ClientBuilder::pipeline`) against a hand-written
//! backend on OS threads that shows what arrives in each read, answers in order, and can
//! misbehave on purpose: close mid-pipeline, say `Connection: close`, or never answer.
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use goro_net::http::Client;

/// How the backend behaves on each connection.
#[derive(Clone, Copy)]
struct Behaviour {
    /// Pause before answering what one read brought (lets requests pile up).
    delay: Duration,
    /// Answers per connection before the backend closes it (0: never).
    close_after: usize,
    /// Say `Connection: close` on the last answer before closing.
    say_close: bool,
    /// Answers per connection before the backend stops answering (0: never).
    mute_after: usize,
    /// Follow each write of answers with one answer nobody asked for.
    extra: bool,
}

const NORMAL: Behaviour = Behaviour {
    delay: Duration::from_millis(3),
    close_after: 0,
    say_close: false,
    mute_after: 0,
    extra: false,
};

#[derive(Default)]
struct Seen {
    /// Most complete requests found in the buffer at once, before any of them was answered.
    max_batch: AtomicUsize,
    connections: AtomicUsize,
    requests: AtomicUsize,
    /// Requests that reached a connection the backend then closed without answering them.
    cut_off: AtomicUsize,
    /// Most requests a connection got after it stopped answering.
    max_ignored: AtomicUsize,
}

fn backend(b: Behaviour) -> (SocketAddr, Arc<Seen>) {
    let ln = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = ln.local_addr().unwrap();
    let seen = Arc::new(Seen::default());
    let s = seen.clone();
    std::thread::spawn(move || {
        for c in ln.incoming() {
            let Ok(c) = c else { return };
            s.connections.fetch_add(1, Ordering::Relaxed);
            let s = s.clone();
            std::thread::spawn(move || serve(c, b, &s));
        }
    });
    (addr, seen)
}

/// Answers `GET /x` with body `/x`, `HEAD /x` with the same head and no body, in order.
fn serve(mut c: TcpStream, b: Behaviour, seen: &Seen) {
    let mut buf = Vec::new();
    let mut answered = 0;
    let mut ignored = 0;
    let mut chunk = [0u8; 4096];
    loop {
        let n = match c.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        buf.extend_from_slice(&chunk[..n]);
        let mut reqs = Vec::new();
        while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).into_owned();
            buf.drain(..end + 4);
            let mut line = head.lines().next().unwrap_or("").split(' ');
            let method = line.next().unwrap_or("").to_string();
            reqs.push((method, line.next().unwrap_or("").to_string()));
        }
        if reqs.is_empty() {
            continue;
        }
        seen.requests.fetch_add(reqs.len(), Ordering::Relaxed);
        seen.max_batch.fetch_max(reqs.len(), Ordering::Relaxed);
        if b.mute_after > 0 && answered >= b.mute_after {
            ignored += reqs.len();
            seen.max_ignored.fetch_max(ignored, Ordering::Relaxed);
            continue;
        }
        std::thread::sleep(b.delay);
        let mut out = Vec::new();
        let mut reqs_left = reqs.len();
        for (method, path) in reqs {
            reqs_left -= 1;
            answered += 1;
            let last = b.close_after > 0 && answered == b.close_after
                || b.mute_after > 0 && answered == b.mute_after;
            let close = if last && b.say_close {
                "Connection: close\r\n"
            } else {
                ""
            };
            out.extend_from_slice(
                format!(
                    "HTTP/1.1 200 OK\r\n{close}Content-Length: {}\r\n\r\n",
                    path.len()
                )
                .as_bytes(),
            );
            if method != "HEAD" {
                out.extend_from_slice(path.as_bytes());
            }
            if last {
                break; // the rest of the batch is never answered
            }
        }
        if b.extra {
            out.extend_from_slice(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nextra");
        }
        if c.write_all(&out).is_err() {
            return;
        }
        if b.close_after > 0 && answered >= b.close_after {
            // Count what was cut off: the rest of this batch and whatever comes meanwhile.
            let _ = c.set_read_timeout(Some(Duration::from_millis(20)));
            while let Ok(n @ 1..) = c.read(&mut chunk) {
                buf.extend_from_slice(&chunk[..n]);
            }
            let unanswered = reqs_left + buf.windows(4).filter(|w| *w == b"\r\n\r\n").count();
            seen.cut_off.fetch_add(unanswered, Ordering::Relaxed);
            return;
        }
    }
}

/// Runs `n` concurrent requests from coroutines (every third a HEAD); checks each answer
/// belongs to its own request.
fn burst(client: &Client, addr: SocketAddr, n: usize, tag: &str) {
    let handles: Vec<_> = (0..n)
        .map(|i| {
            let client = client.clone();
            let path = format!("/{tag}/{i}");
            goro::spawn(move || {
                let url = format!("http://{addr}{path}");
                if i % 3 == 2 {
                    let r = client
                        .request("HEAD", &url, &[], &[])
                        .unwrap_or_else(|e| panic!("HEAD {path}: {e}"));
                    assert_eq!(r.status, 200);
                    assert_eq!(r.header("content-length"), Some(&*path.len().to_string()));
                    assert!(r.body.is_empty());
                } else {
                    let r = client
                        .get(&url)
                        .unwrap_or_else(|e| panic!("GET {path}: {e}"));
                    assert_eq!((r.status, r.body), (200, path.clone().into_bytes()));
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
}

#[test]
fn pipelined_requests_share_connections_and_get_their_own_answers() {
    let (addr, seen) = backend(NORMAL);
    let client = Client::builder().pipeline(8).build();
    // Four waves at least; more, up to a bound, on a machine so busy that no two requests
    // of a wave happened to meet on one connection yet.
    let mut waves = 0;
    while waves < 4 || (waves < 20 && seen.max_batch.load(Ordering::Relaxed) < 2) {
        burst(&client, addr, 48, &format!("w{waves}"));
        waves += 1;
    }
    assert_eq!(seen.requests.load(Ordering::Relaxed), waves * 48);
    assert!(
        seen.max_batch.load(Ordering::Relaxed) >= 2,
        "requests were never in flight together on one connection in {waves} waves"
    );
    let stats = client.pool_stats();
    assert_eq!(stats.active, 0);
    assert_eq!(
        stats.dials as usize,
        seen.connections.load(Ordering::Relaxed)
    );
}

#[test]
fn without_pipelining_one_request_is_in_flight_per_connection() {
    // The control for the test above: same load, pipelining off.
    let (addr, seen) = backend(NORMAL);
    let client = Client::new();
    for wave in 0..2 {
        burst(&client, addr, 48, &format!("w{wave}"));
    }
    assert_eq!(seen.max_batch.load(Ordering::Relaxed), 1);
}

#[test]
fn a_backend_that_closes_mid_pipeline_loses_no_request() {
    for say_close in [false, true] {
        // Two answers per connection (the first shows the client the backend is fast, so
        // requests then queue behind the second): the ones behind it are cut off there and
        // have to be sent again.
        let (addr, seen) = backend(Behaviour {
            close_after: 2,
            say_close,
            ..NORMAL
        });
        let client = Client::builder().pipeline(8).build();
        // Until some connection was closed with requests on it (how requests meet on a
        // connection depends on scheduling), within a bound; the burst checks every answer.
        for wave in 0..20 {
            burst(&client, addr, 40, &format!("w{wave}"));
            if seen.cut_off.load(Ordering::Relaxed) >= 1 {
                break;
            }
        }
        assert!(seen.cut_off.load(Ordering::Relaxed) >= 1);
    }
}

#[test]
fn a_backend_that_stops_answering_times_out_without_losing_the_rest() {
    // Each connection answers once, then reads and says nothing.
    let (addr, seen) = backend(Behaviour {
        mute_after: 1,
        ..NORMAL
    });
    let client = Client::builder()
        .pipeline(8)
        .read_timeout(Duration::from_millis(200))
        .build();
    let started = Instant::now();
    let mut results = Vec::new();
    // Until a connection went silent with several requests on it, within a bound.
    for wave in 0..10 {
        if wave >= 3 && seen.max_ignored.load(Ordering::Relaxed) >= 2 {
            break;
        }
        let handles: Vec<_> = (0..12)
            .map(|i| {
                let client = client.clone();
                let path = format!("/w{wave}/{i}");
                goro::spawn(move || {
                    client
                        .get(&format!("http://{addr}{path}"))
                        .map(|r| assert_eq!(r.body, path.into_bytes()))
                        .map_err(|e| e.kind())
                })
            })
            .collect();
        for h in handles {
            results.push(h.join().unwrap());
        }
    }
    // Some connection went silent with several requests on it: the one being read timed out,
    // the ones behind it were sent again and answered elsewhere.
    assert!(seen.max_ignored.load(Ordering::Relaxed) >= 2);
    assert!(results
        .iter()
        .all(|r| *r == Ok(()) || *r == Err(ErrorKind::TimedOut)));
    assert!(results.contains(&Err(ErrorKind::TimedOut)));
    assert!(results.iter().filter(|r| r.is_ok()).count() > 12);
    assert!(started.elapsed() < Duration::from_secs(20));
}

#[test]
fn an_answer_nobody_asked_for_is_never_taken_for_the_next_one() {
    let (addr, seen) = backend(Behaviour {
        extra: true,
        ..NORMAL
    });
    let client = Client::builder().pipeline(8).build();
    // One coroutine, one request at a time: each answer arrives with a stray one behind it.
    let c = client.clone();
    goro::spawn(move || {
        for i in 0..5 {
            let path = format!("/s{i}");
            let r = c.get(&format!("http://{addr}{path}")).unwrap();
            assert_eq!(r.body, path.into_bytes());
        }
    })
    .join()
    .unwrap();
    // Every connection that carried a stray answer was dropped.
    assert_eq!(seen.connections.load(Ordering::Relaxed), 5);
}

#[test]
fn requests_do_not_queue_behind_a_slow_handler() {
    // The goro server answers a connection's requests one after another: had 8 requests
    // queued on one connection to this 200 ms handler, the last would take 1.6 s.
    let ln = goro_net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = ln.local_addr().unwrap();
    let server = goro_net::http::Server::new(
        |w: &mut goro_net::http::ResponseWriter<'_>, r: &mut goro_net::http::Request<'_>| {
            goro::time::sleep(Duration::from_millis(200));
            let _ = w.write_all(r.path().as_bytes());
        },
    );
    let s = server.clone();
    goro::spawn(move || s.serve(ln));
    let client = Client::builder().pipeline(8).build();
    for wave in 0..3 {
        let started = Instant::now();
        burst(&client, addr, 16, &format!("w{wave}"));
        let took = started.elapsed();
        assert!(
            took < Duration::from_millis(1000),
            "wave {wave} took {took:?}"
        );
    }
    server.shutdown(Duration::from_secs(1));
}

#[test]
fn the_connection_limit_bounds_pipelined_and_pooled_connections_alike() {
    let (addr, seen) = backend(NORMAL);
    let client = Client::builder().pipeline(4).max_active_per_host(2).build();
    for wave in 0..3 {
        burst(&client, addr, 40, &format!("w{wave}"));
    }
    // At most 2 pipelined connections and 2 from the pool, whatever the load.
    let n = seen.connections.load(Ordering::Relaxed);
    assert!(n <= 4, "{n} connections");
}

#[test]
fn idle_pipelined_connections_are_reused_then_expire() {
    let (addr, seen) = backend(NORMAL);
    let client = Client::builder()
        .pipeline(4)
        .idle_timeout(Duration::from_millis(150))
        .build();
    // One coroutine, so one worker and its lanes.
    let c = client.clone();
    goro::spawn(move || {
        let get = |p: String| {
            let body = c.get(&format!("http://{addr}{p}")).unwrap().body;
            assert_eq!(body, p.into_bytes());
        };
        for i in 0..5 {
            get(format!("/a{i}"));
        }
        assert_eq!(c.pool_stats().dials, 1);
        goro::time::sleep(Duration::from_millis(300));
        for i in 0..5 {
            get(format!("/b{i}"));
        }
    })
    .join()
    .unwrap();
    // The expired lane was closed instead of reused.
    let stats = client.pool_stats();
    assert_eq!((stats.dials, stats.discarded, stats.idle), (2, 1, 1));
    assert_eq!(seen.connections.load(Ordering::Relaxed), 2);
}
