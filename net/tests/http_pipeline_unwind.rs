//! A coroutine that parks while it unwinds (a `Drop` that waits, run by a panic) leaves its
//! thread's panic count set while the other coroutines of its worker run, so
//! `std::thread::panicking()` is true in them (docs/CAVEATS.md). The pipelined client must not
//! take that for an unwind of its own: a lane killed on every request would make each one
//! dial a new connection.
//!
//! One worker, so the parked unwinder and the client share a thread.
use std::io::Write;
use std::net::TcpListener;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::{Duration, Instant};

use goro::sync::WaitGroup;
use goro_net::http::{Client, Request, ResponseWriter, Server};

/// Waits on its group when dropped: during an unwind, that parks the unwinding coroutine.
struct WaitOnDrop(Arc<WaitGroup>);

impl Drop for WaitOnDrop {
    fn drop(&mut self) {
        self.0.wait();
    }
}

#[test]
fn a_coroutine_parked_mid_unwind_does_not_kill_pipelined_lanes() {
    goro::Config::new().workers(1).init().unwrap();
    let ln = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = ln.local_addr().unwrap();
    let server = Server::new(|w: &mut ResponseWriter<'_>, _r: &mut Request<'_>| {
        let _ = w.write_all(b"ok");
    });
    let s = server.clone();
    goro::spawn(move || s.serve(ln.into()));

    let gate = Arc::new(WaitGroup::new());
    gate.add(1);
    let (parked_tx, parked_rx) = std::sync::mpsc::channel();
    let g = Arc::clone(&gate);
    let unwinder = goro::spawn(move || {
        let r = catch_unwind(AssertUnwindSafe(|| {
            let _w = WaitOnDrop(g);
            parked_tx.send(()).unwrap();
            std::panic::panic_any("unwinding on purpose");
        }));
        assert!(r.is_err());
    });
    parked_rx.recv_timeout(Duration::from_secs(10)).unwrap();

    let client = Client::builder().pipeline(4).build();
    let url = format!("http://{addr}/");
    let driver = goro::spawn(move || {
        // Parked by now: it had sent, then panicked into `WaitOnDrop::drop` without a switch.
        goro::yield_now();
        let deadline = Instant::now() + Duration::from_secs(20);
        for i in 0..20 {
            let r = client.get(&url).unwrap_or_else(|e| panic!("GET {i}: {e}"));
            assert_eq!((r.status, &r.body[..]), (200, &b"ok"[..]));
            assert!(Instant::now() < deadline, "requests took over 20 s");
        }
        client.pool_stats().dials
    });
    let dials = driver.join().unwrap();
    gate.done();
    unwinder.join().unwrap();
    assert_eq!(
        dials, 1,
        "20 sequential pipelined GETs dialed {dials} connections: lanes were killed"
    );
    server.close();
}
