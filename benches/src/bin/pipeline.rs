//! pipeline: producer -> transformer (+1) -> consumer (sum) over two bounded channels of
//! capacity 128, N ints (peer contract; mirrors `peers/go/pipeline`).
use std::time::Instant;

use goro_benches::{flag, result};
use goro_chan::bounded;

fn main() {
    let n: u64 = flag("n", 10_000_000);
    let cap: usize = flag("cap", 128);
    let start = Instant::now();
    let (a_tx, a_rx) = bounded::<u64>(cap);
    let (b_tx, b_rx) = bounded::<u64>(cap);
    let (res_tx, res_rx) = bounded::<u64>(0);
    goro::spawn(move || {
        for i in 0..n {
            a_tx.send(i).unwrap();
        }
    });
    goro::spawn(move || {
        for v in &a_rx {
            b_tx.send(v + 1).unwrap();
        }
    });
    goro::spawn(move || {
        let mut s = 0u64;
        for v in &b_rx {
            s += v;
        }
        res_tx.send(s).unwrap();
    });
    let sum = res_rx.recv().unwrap();
    let elapsed = start.elapsed();
    result(
        "pipeline",
        &[
            ("n", n.to_string()),
            ("cap", cap.to_string()),
            (
                "msgs_per_s",
                format!("{:.0}", n as f64 / elapsed.as_secs_f64()),
            ),
            ("checksum", sum.to_string()),
        ],
    );
}
