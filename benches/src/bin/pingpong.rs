//! pingpong: two coroutines exchange N round trips over two unbuffered channels (peer
//! contract; mirrors `peers/go/pingpong`). 10k warm-up trips; timed inside a coroutine.
use std::time::Instant;

use goro_benches::{flag, result};
use goro_chan::bounded;

fn main() {
    let n: usize = flag("n", 1_000_000);
    let h = goro::spawn(move || {
        let (ping_tx, ping_rx) = bounded::<usize>(0);
        let (pong_tx, pong_rx) = bounded::<usize>(0);
        let echo = goro::spawn(move || {
            for v in &ping_rx {
                if pong_tx.send(v + 1).is_err() {
                    break;
                }
            }
        });
        for i in 0..10_000 {
            ping_tx.send(i).unwrap();
            pong_rx.recv().unwrap();
        }
        let start = Instant::now();
        for i in 0..n {
            ping_tx.send(i).unwrap();
            pong_rx.recv().unwrap();
        }
        let elapsed = start.elapsed();
        drop(ping_tx);
        echo.join().unwrap();
        elapsed
    });
    let elapsed = h.join().unwrap();
    result(
        "pingpong",
        &[
            ("n", n.to_string()),
            ("gomaxprocs", goro::stats().workers.to_string()),
            (
                "ns_per_roundtrip",
                format!("{:.1}", elapsed.as_nanos() as f64 / n as f64),
            ),
        ],
    );
}
