//! pipeline: the Go blog's "Pipelines and cancellation" pattern, ported line by line.
//!
//! `gen` → two `sq` stages reading the same channel (fan-out) → `merge` (fan-in) → main.
//! Every stage stops early when `done` is closed, which is how the first run below
//! abandons the pipeline after reading one value without leaking a coroutine.
//!
//! Go → goro-chan: `make(chan int)` is `bounded(0)`; `defer close(out)` is the sender being
//! dropped when the coroutine returns; `case <-done:` is `recv(done) -> _ =>`, ready once
//! `done` is closed (a closed channel is always ready, in both).
//!
//! Run: `cargo run --release --example pipeline -- --n 1000`
use goro::go;
use goro_chan::{bounded, select, Receiver, Sender};

/// Emits `nums` on a new channel, stopping early if `done` closes.
fn gen(done: Receiver<()>, nums: Vec<u64>) -> Receiver<u64> {
    let (out, rx) = bounded(0);
    go!(move || {
        for n in nums {
            select! {
                send(out, n) -> r => if r.is_err() { return },
                recv(done) -> _ => return,
            }
        }
    });
    rx
}

/// Squares what arrives on `input`.
fn sq(done: Receiver<()>, input: Receiver<u64>) -> Receiver<u64> {
    let (out, rx) = bounded(0);
    go!(move || {
        for n in &input {
            select! {
                send(out, n * n) -> r => if r.is_err() { return },
                recv(done) -> _ => return,
            }
        }
    });
    rx
}

/// Fans several channels into one; the output closes when every input has closed (the
/// last clone of `out` is dropped: Go's `wg.Wait(); close(out)`).
fn merge(done: Receiver<()>, inputs: Vec<Receiver<u64>>) -> Receiver<u64> {
    let (out, rx) = bounded(0);
    for c in inputs {
        let (out, done): (Sender<u64>, Receiver<()>) = (out.clone(), done.clone());
        go!(move || {
            for n in &c {
                select! {
                    send(out, n) -> r => if r.is_err() { return },
                    recv(done) -> _ => return,
                }
            }
        });
    }
    rx
}

fn main() {
    let n: u64 = std::env::args()
        .skip_while(|a| a != "--n")
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);

    goro::spawn(move || {
        // Run 1: read a single value, then cancel everything (Go: `defer close(done)`).
        let (done_tx, done) = bounded::<()>(0);
        let input = gen(done.clone(), (1..=n).collect());
        let out = merge(
            done.clone(),
            vec![sq(done.clone(), input.clone()), sq(done.clone(), input)],
        );
        let first = out.recv().unwrap();
        done_tx.close();
        println!("first square: {first} (pipeline cancelled)");

        // Run 2: drain it; the sum of squares 1..=n is n(n+1)(2n+1)/6.
        let (_done_tx, done) = bounded::<()>(0);
        let input = gen(done.clone(), (1..=n).collect());
        let out = merge(
            done.clone(),
            vec![sq(done.clone(), input.clone()), sq(done, input)],
        );
        let sum: u64 = out.iter().sum();
        assert_eq!(sum, n * (n + 1) * (2 * n + 1) / 6);
        println!("sum of squares 1..={n}: {sum}");
    })
    .join()
    .unwrap();
}
