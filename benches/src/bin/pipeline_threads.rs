//! pipeline_threads: the `pipeline` benchmark's shape on OS threads with crossbeam-channel,
//! the baseline for goro-chan's "≥ 2× crossbeam-channel between OS threads" target:
//! producer -> transformer (+1) -> consumer (sum), two bounded channels of capacity 128, N
//! ints, each stage a `std::thread`. Prints `RESULT peer=os_threads_crossbeam bench=pipeline`.
use std::time::Instant;

use crossbeam_channel::bounded;
use goro_benches::flag;

fn main() {
    let n: u64 = flag("n", 10_000_000);
    let cap: usize = flag("cap", 128);
    let start = Instant::now();
    let (a_tx, a_rx) = bounded::<u64>(cap);
    let (b_tx, b_rx) = bounded::<u64>(cap);
    let producer = std::thread::spawn(move || {
        for i in 0..n {
            a_tx.send(i).unwrap();
        }
    });
    let transformer = std::thread::spawn(move || {
        for v in &a_rx {
            b_tx.send(v + 1).unwrap();
        }
    });
    let consumer = std::thread::spawn(move || b_rx.iter().sum::<u64>());
    producer.join().unwrap();
    transformer.join().unwrap();
    let sum = consumer.join().unwrap();
    let elapsed = start.elapsed();
    println!(
        "RESULT peer=os_threads_crossbeam bench=pipeline n={n} cap={cap} msgs_per_s={:.0} checksum={sum}",
        n as f64 / elapsed.as_secs_f64()
    );
}
