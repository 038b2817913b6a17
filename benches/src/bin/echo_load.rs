//! Echo load generator: C connections, each sends a message, waits for the whole echo,
//! repeats; reports msgs/s and latency percentiles.
//!
//! ```text
//! echo_load --addr 127.0.0.1:19003 --conns 100 --secs 5 [--warmup 1] [--size 64]
//! ```
//!
//! Runs on goro itself (a coroutine per connection), so it can drive any echo server: goro's
//! `examples/echo` or the Go/may/tokio peers in ../shared/peers. For the numbers in
//! docs/BENCHMARKS.md use the peers' own `loadgen` (single-threaded tokio, the same for every
//! server); this one is for quick checks and for dogfooding goro-net as a client.
use std::io::{Read, Write};
use std::time::{Duration, Instant};

use goro_net::TcpStream;

fn arg<T: std::str::FromStr>(name: &str, default: T) -> T {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|v| v.parse().unwrap_or_else(|_| panic!("bad value for {name}")))
        .unwrap_or(default)
}

fn pct(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize] as f64 / 1000.0
}

fn main() {
    let addr: String = arg("--addr", "127.0.0.1:19003".to_string());
    let conns: usize = arg("--conns", 100);
    let secs: f64 = arg("--secs", 5.0);
    let warmup: f64 = arg("--warmup", 1.0);
    let size: usize = arg("--size", 64);
    let start = Instant::now();
    let measure_from = start + Duration::from_secs_f64(warmup);
    let end = measure_from + Duration::from_secs_f64(secs);
    let handles: Vec<_> = (0..conns)
        .map(|_| {
            let addr = addr.clone();
            goro::spawn(move || -> std::io::Result<Vec<u64>> {
                let mut s = TcpStream::connect(&addr)?;
                s.set_nodelay(true)?;
                s.set_read_timeout(Some(Duration::from_secs(10)))?;
                let msg = vec![b'x'; size];
                let mut buf = vec![0u8; size];
                let mut lat = Vec::with_capacity(1 << 14);
                loop {
                    let t = Instant::now();
                    if t >= end {
                        return Ok(lat);
                    }
                    s.write_all(&msg)?;
                    s.read_exact(&mut buf)?;
                    if t >= measure_from {
                        lat.push(t.elapsed().as_nanos() as u64);
                    }
                }
            })
        })
        .collect();
    let mut all = Vec::new();
    let mut errors = 0;
    for h in handles {
        match h.join() {
            Ok(Ok(l)) => all.extend(l),
            Ok(Err(e)) => {
                errors += 1;
                eprintln!("echo_load: connection failed: {e}");
            }
            Err(_) => errors += 1,
        }
    }
    all.sort_unstable();
    println!(
        "RESULT bench=echo_load conns={conns} size={size} secs={secs} msgs={} msgs_per_s={:.0} p50_us={:.1} p99_us={:.1} max_us={:.1} errors={errors}",
        all.len(),
        all.len() as f64 / secs,
        pct(&all, 0.5),
        pct(&all, 0.99),
        pct(&all, 1.0),
    );
}
