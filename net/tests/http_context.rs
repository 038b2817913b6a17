//! Request contexts (`Request::context`) and client contexts (`Client::with_context`) over
//! real sockets: a client that leaves, the handler timeout, the shutdown grace, a canceled
//! client exchange, and a pipelining client that must not cancel anything.
use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use goro::context::{self, Error};
use goro_net::http::httptest;
use goro_net::http::{Client, Request, ResponseWriter, Server};

/// A handler that waits up to 10 s for its context and reports what ended the wait.
fn waiter(
    report: mpsc::Sender<Option<Error>>,
) -> impl Fn(&mut ResponseWriter<'_>, &mut Request<'_>) + Send + Sync + 'static {
    waiter_started(report, Arc::default())
}

/// [`waiter`], setting `started` once it holds its context.
fn waiter_started(
    report: mpsc::Sender<Option<Error>>,
    started: Arc<AtomicBool>,
) -> impl Fn(&mut ResponseWriter<'_>, &mut Request<'_>) + Send + Sync + 'static {
    let report = std::sync::Mutex::new(report);
    move |w, r| {
        let ctx = r.context();
        started.store(true, Ordering::SeqCst);
        ctx.wait_timeout(Duration::from_secs(10));
        let err = ctx.err();
        let _ = report.lock().unwrap().send(err);
        let _ = write!(w, "err={err:?}");
    }
}

fn get_and_leave(addr: std::net::SocketAddr, after: Duration) {
    let mut c = std::net::TcpStream::connect(addr).unwrap();
    c.write_all(b"GET /wait HTTP/1.1\r\nHost: h\r\n\r\n")
        .unwrap();
    std::thread::sleep(after);
    drop(c); // the client gives up
}

#[test]
fn a_client_that_leaves_cancels_its_request_context() {
    let (tx, rx) = mpsc::channel();
    let ts = httptest::Server::new(waiter(tx));
    let t = Instant::now();
    get_and_leave(ts.addr(), Duration::from_millis(300));
    let err = rx
        .recv_timeout(Duration::from_secs(5))
        .expect("the handler ended");
    assert_eq!(err, Some(Error::Canceled));
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
}

/// A keep-alive client that sends its last request and half-closes at once, before the
/// handler asks for its context: the context is canceled all the same (Go's background
/// read sees the end of stream too).
#[test]
fn a_client_gone_before_the_handler_asks_is_seen() {
    let (tx, rx) = mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    let ts = httptest::Server::new(move |w: &mut ResponseWriter<'_>, r: &mut Request<'_>| {
        if r.path() == "/first" {
            let _ = w.write_all(b"first");
            return;
        }
        goro::time::sleep(Duration::from_millis(100));
        let ctx = r.context();
        ctx.wait_timeout(Duration::from_secs(10));
        let _ = tx.lock().unwrap().send(ctx.err());
    });
    let mut c = std::net::TcpStream::connect(ts.addr()).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    c.write_all(b"GET /first HTTP/1.1\r\nHost: h\r\n\r\n")
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while !got.ends_with(b"first") {
        let n = c.read(&mut buf).unwrap();
        assert!(n > 0);
        got.extend_from_slice(&buf[..n]);
    }
    // Idle now, its socket watched by the poller; then the request and the end together.
    std::thread::sleep(Duration::from_millis(50));
    c.write_all(b"GET /early HTTP/1.1\r\nHost: h\r\n\r\n")
        .unwrap();
    c.shutdown(std::net::Shutdown::Write).unwrap();
    let err = rx
        .recv_timeout(Duration::from_secs(5))
        .expect("the handler ended");
    assert_eq!(err, Some(Error::Canceled));
}

#[test]
fn the_handler_timeout_is_the_context_deadline() {
    let (tx, rx) = mpsc::channel();
    let server = Server::builder()
        .handler_timeout(Duration::from_millis(200))
        .build(waiter(tx));
    let ts = httptest::Server::start(server);
    let resp = Client::new().get(&format!("{}/", ts.url())).unwrap();
    assert_eq!(resp.body, b"err=Some(DeadlineExceeded)");
    assert_eq!(rx.recv().unwrap(), Some(Error::DeadlineExceeded));
}

#[test]
fn the_shutdown_grace_cancels_requests_still_running() {
    let (tx, rx) = mpsc::channel();
    let started = Arc::new(AtomicBool::new(false));
    let ts = httptest::Server::new(waiter_started(tx, started.clone()));
    let mut c = std::net::TcpStream::connect(ts.addr()).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    c.write_all(b"GET /wait HTTP/1.1\r\nHost: h\r\n\r\n")
        .unwrap();
    until(&started);
    assert!(
        !ts.server().shutdown(Duration::from_millis(200)),
        "not graceful"
    );
    let err = rx
        .recv_timeout(Duration::from_secs(5))
        .expect("the handler ended");
    assert_eq!(err, Some(Error::Canceled));
}

#[test]
fn closing_the_server_cancels_requests_at_once() {
    let (tx, rx) = mpsc::channel();
    let started = Arc::new(AtomicBool::new(false));
    let ts = httptest::Server::new(waiter_started(tx, started.clone()));
    let mut c = std::net::TcpStream::connect(ts.addr()).unwrap();
    c.write_all(b"GET /wait HTTP/1.1\r\nHost: h\r\n\r\n")
        .unwrap();
    until(&started);
    assert!(!ts.server().close(), "a request was in flight");
    let err = rx
        .recv_timeout(Duration::from_secs(5))
        .expect("the handler ended");
    assert_eq!(err, Some(Error::Canceled));
}

/// Waits (up to 5 s) until `started` is set.
fn until(started: &AtomicBool) {
    let bound = Instant::now() + Duration::from_secs(5);
    while !started.load(Ordering::SeqCst) {
        assert!(Instant::now() < bound, "the handler did not start");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Two pipelined requests in one segment: the second one's bytes wake the first request's
/// watcher, which must not take them for a departed client.
#[test]
fn a_pipelining_client_is_not_taken_for_gone() {
    let ts = httptest::Server::new(|w: &mut ResponseWriter<'_>, r: &mut Request<'_>| {
        let ctx = r.context();
        ctx.wait_timeout(Duration::from_millis(300));
        let _ = write!(w, "{} err={:?};", r.path(), ctx.err());
    });
    let mut c = std::net::TcpStream::connect(ts.addr()).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    c.write_all(b"GET /a HTTP/1.1\r\nHost: h\r\n\r\n").unwrap();
    std::thread::sleep(Duration::from_millis(50)); // the first handler is waiting
    c.write_all(b"GET /b HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut all = String::new();
    c.read_to_string(&mut all).unwrap();
    assert!(all.contains("/a err=None;"), "{all}");
    assert!(all.contains("/b err=None;"), "{all}");
}

#[test]
fn canceling_a_client_context_ends_the_exchange_and_its_connection() {
    let (tx, rx) = mpsc::channel();
    let ts = httptest::Server::new(waiter(tx));
    let client = Client::new();
    let (ctx, cancel) = context::with_cancel(&context::background());
    let canceler = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        cancel.cancel();
    });
    let e = client
        .with_context(&ctx)
        .get(&format!("{}/wait", ts.url()))
        .unwrap_err();
    assert_eq!(
        e.get_ref().and_then(|e| e.downcast_ref::<Error>()),
        Some(&Error::Canceled),
        "{e}"
    );
    // The server saw its client leave: the connection was closed, not pooled.
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(5)).unwrap(),
        Some(Error::Canceled)
    );
    let stats = client.pool_stats();
    assert_eq!((stats.active, stats.idle), (0, 0), "{stats:?}");
    // A done context fails at once, before any connection.
    let e = client
        .with_context(&ctx)
        .get(&format!("{}/wait", ts.url()))
        .unwrap_err();
    assert!(e.get_ref().is_some_and(|e| e.is::<Error>()), "{e}");
    assert_eq!(client.pool_stats().dials, 1);
    canceler.join().unwrap();
}

#[test]
fn a_client_context_cancels_a_streamed_body_midway() {
    let ts = httptest::Server::new(|w: &mut ResponseWriter<'_>, r: &mut Request<'_>| {
        let ctx = r.context();
        while !ctx.is_done() {
            if w.write_all(b"tick\n").and_then(|()| w.flush()).is_err() {
                return;
            }
            goro::time::sleep(Duration::from_millis(20));
        }
    });
    let client = Client::new();
    let (ctx, cancel) = context::with_cancel(&context::background());
    let mut resp = client
        .with_context(&ctx)
        .stream("GET", &format!("{}/ticks", ts.url()), &[], &[])
        .unwrap();
    let mut buf = [0u8; 64];
    assert!(resp.read(&mut buf).unwrap() > 0);
    cancel.cancel();
    let mut rest = Vec::new();
    assert!(resp.read_to_end(&mut rest).is_err(), "the body ended cut");
    drop(resp);
    assert_eq!(client.pool_stats().active, 0);
}

/// A pipelined request (on a lane, from a coroutine) canceled by its context: the lane is
/// closed, so the server sees its client leave.
#[test]
fn canceling_a_pipelined_request_closes_its_lane() {
    let (tx, rx) = mpsc::channel();
    let ts = httptest::Server::new(waiter(tx));
    let client = Client::builder().pipeline(4).build();
    let url = format!("{}/wait", ts.url());
    let c = client.clone();
    let e = goro::spawn(move || {
        let (ctx, cancel) = context::with_cancel(&context::background());
        let _stop = ctx.after_func(|| {}); // (a second registration: both must be served)
        goro::spawn(move || {
            goro::time::sleep(Duration::from_millis(300));
            cancel.cancel();
        });
        c.with_context(&ctx).get(&url).unwrap_err()
    })
    .join()
    .unwrap();
    assert_eq!(
        e.get_ref().and_then(|e| e.downcast_ref::<Error>()),
        Some(&Error::Canceled),
        "{e}"
    );
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(5)).unwrap(),
        Some(Error::Canceled)
    );
    assert_eq!(client.pool_stats().dials, 1, "one connection");
    assert_eq!(client.pool_stats().active, 0);
}

/// An upload the handler has not read: the head, a declared 1 MB body of which 64 KiB were
/// sent (they sit unread on the server's socket), then the client leaves by `how`. The
/// handler asks for its context without reading the body; the context is canceled all the
/// same, though a peek at the socket finds body bytes.
fn upload_then_leave(how: &str) {
    let (tx, rx) = mpsc::channel();
    let started = Arc::new(AtomicBool::new(false));
    let ts = httptest::Server::new(waiter_started(tx, started.clone()));
    let c = goro_net::TcpStream::connect(ts.addr()).unwrap();
    let mut w = &c;
    w.write_all(b"POST /upload HTTP/1.1\r\nHost: h\r\nContent-Length: 1000000\r\n\r\n")
        .unwrap();
    w.write_all(&vec![b'u'; 64 << 10]).unwrap();
    until(&started);
    std::thread::sleep(Duration::from_millis(100));
    let t = Instant::now();
    match how {
        "fin" => c.shutdown(std::net::Shutdown::Write).unwrap(),
        "rst" => {
            c.set_linger(Some(Duration::ZERO)).unwrap();
            drop(c);
        }
        _ => unreachable!(),
    }
    let err = rx
        .recv_timeout(Duration::from_secs(5))
        .unwrap_or_else(|_| panic!("{how}: the context was not canceled within 5 s"));
    assert_eq!(err, Some(Error::Canceled), "{how}");
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "{how}: {:?}",
        t.elapsed()
    );
}

#[test]
fn a_client_that_half_closes_during_an_unread_upload_cancels_the_context() {
    upload_then_leave("fin");
}

#[test]
fn a_client_that_resets_during_an_unread_upload_cancels_the_context() {
    upload_then_leave("rst");
}

/// A client still there, its upload unread on the socket and more arriving: the context
/// stays live, and the handler reads the whole body after.
#[test]
fn an_unread_upload_from_a_live_client_does_not_cancel() {
    let ts = httptest::Server::new(|w: &mut ResponseWriter<'_>, r: &mut Request<'_>| {
        let ctx = r.context();
        let canceled = ctx.wait_timeout(Duration::from_millis(600));
        let mut body = Vec::new();
        let _ = r.body().read_to_end(&mut body);
        let _ = write!(w, "canceled={canceled} len={}", body.len());
    });
    let mut c = std::net::TcpStream::connect(ts.addr()).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    c.write_all(
        b"POST /upload HTTP/1.1\r\nHost: h\r\nContent-Length: 200000\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    c.write_all(&vec![b'u'; 100_000]).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    c.write_all(&vec![b'u'; 100_000]).unwrap();
    let mut all = String::new();
    c.read_to_string(&mut all).unwrap();
    assert!(all.ends_with("canceled=false len=200000"), "{all}");
}
