//! sieve: the concurrent prime sieve from the Go tour/spec, a daisy chain of filter
//! coroutines. Each prime found adds a filter stage; the chain is torn down by dropping
//! the last receiver, which makes every stage's send fail and return in turn.
//!
//! Run: `cargo run --release --example sieve -- --n 100`
use goro::go;
use goro_chan::{bounded, Receiver, Sender};

/// Sends 2, 3, 4, ... until the receiver goes away (Go: `for i := 2; ; i++ { ch <- i }`).
fn generate(ch: Sender<u64>) {
    for i in 2.. {
        if ch.send(i).is_err() {
            return;
        }
    }
}

/// Copies values from `input` to `out`, dropping multiples of `prime`.
fn filter(input: Receiver<u64>, out: Sender<u64>, prime: u64) {
    for i in &input {
        if i % prime != 0 && out.send(i).is_err() {
            return;
        }
    }
}

fn main() {
    let n: usize = std::env::args()
        .skip_while(|a| a != "--n")
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);

    let primes = goro::spawn(move || {
        let (tx, mut ch) = bounded(0);
        go!(move || generate(tx));
        let mut primes = Vec::with_capacity(n);
        for _ in 0..n {
            let prime = ch.recv().unwrap();
            primes.push(prime);
            let (tx1, ch1) = bounded(0);
            go!(move || filter(ch, tx1, prime));
            ch = ch1;
        }
        primes
    })
    .join()
    .unwrap();
    let last = primes.last().copied().unwrap_or(0);
    println!("{n} primes, the last is {last}");
    println!("{:?}", &primes[..primes.len().min(20)]);
}
