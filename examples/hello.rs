//! hello: the seed's Go `net/http` hello world, line by line; `/` sleeps then answers.
//!
//! ```text
//! cargo run --release --example hello                               # the demo: 2 s per request
//! cargo run --release --example hello -- --addr 127.0.0.1:18083 --sleep-ms 0   # benchmarks
//! cargo run --release --example hello -- --sleep-ms 0 --burn-us 100   # 100 µs of CPU each
//! cargo run --release --example hello -- --addr 127.0.0.1:18445 --sleep-ms 0 \
//!     --cert cert.pem --key key.pem                                 # HTTPS; curl -k https://...
//! ```
//!
//! With `--cert FILE --key FILE` (a PEM certificate chain and its key) it serves HTTPS
//! instead, as Go's `http.ListenAndServeTLS(*addr, *cert, *key, nil)` (the peers'
//! `go/hello_tls`): `http::listen_and_serve_tls`, ALPN `http/1.1`, each handshake on its
//! connection's coroutine, idle keep-alive connections holding no coroutine.
//!
//! `--burn-us N` makes the handler first do N µs of CPU work, a busy loop that checks the
//! clock, as the peers' `go/hello_cpu` does (`run.sh cpu`).
//!
//! The Go original (../shared/peers/go/hello_sleep; go/hello is the same without the sleep):
//!
//! ```go
//! var body = []byte("Hello from Go I/O!\n")
//!
//! func main() {
//!     addr := flag.String("addr", "127.0.0.1:8080", "listen address")
//!     sleep := flag.Duration("sleep", 2*time.Second, "handler sleep")
//!     flag.Parse()
//!     http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
//!         time.Sleep(*sleep)
//!         w.Write(body)
//!     })
//!     log.Fatal(http.ListenAndServe(*addr, nil))
//! }
//! ```
//!
//! Every request runs in its connection's coroutine, so a handler that sleeps 2 s parks
//! only that coroutine: 2,000 clients at once all get their answer after about 2 s. The
//! listener's backlog is `somaxconn`, as Go's, so such a burst is not dropped. Logs go to
//! stderr; the process runs until it is killed (SIGTERM).
use std::io::Write;
use std::time::{Duration, Instant};

use goro_net::http;

static BODY: &[u8] = b"Hello from Go I/O!\n";

/// N µs of CPU: a busy loop that checks the clock (as `go/hello_cpu`'s `burn`).
fn burn(d: Duration) -> u64 {
    let t = Instant::now();
    let mut x = 1u64;
    while t.elapsed() < d {
        for _ in 0..64 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
        }
    }
    x
}

fn main() {
    let (addr, sleep, burn_for, tls) = flags();
    http::handle_func("/", move |w, _r| {
        if !burn_for.is_zero() {
            std::hint::black_box(burn(burn_for));
        }
        if !sleep.is_zero() {
            goro::time::sleep(sleep);
        }
        let _ = w.write(BODY);
    });
    let scheme = if tls.is_some() { "https" } else { "http" };
    eprintln!("hello: {scheme} on {addr} (handler burns {burn_for:?}, sleeps {sleep:?})");
    let served = match tls {
        None => http::listen_and_serve(&addr, http::DefaultServeMux),
        #[cfg(feature = "tls")]
        Some((cert, key)) => http::listen_and_serve_tls(&addr, cert, key, http::DefaultServeMux),
        #[cfg(not(feature = "tls"))]
        Some(_) => Err(std::io::Error::other(
            "--cert/--key: built without the `tls` feature",
        )),
    };
    if let Err(e) = served {
        eprintln!("hello: {e}");
        std::process::exit(1);
    }
}

/// `--addr HOST:PORT` (default 127.0.0.1:8080), `--sleep-ms N` (default 2000),
/// `--burn-us N` (default 0), and `--cert FILE --key FILE` (together, for HTTPS).
fn flags() -> (String, Duration, Duration, Option<(String, String)>) {
    let mut addr = String::from("127.0.0.1:8080");
    let (mut cert, mut key) = (None, None);
    let mut sleep_ms: u64 = 2000;
    let mut burn_us: u64 = 0;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) => (f.to_string(), Some(v.to_string())),
            None => (a.clone(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next())
                .unwrap_or_else(|| usage(&a))
        };
        match flag.trim_start_matches('-') {
            "addr" => addr = value(),
            "sleep-ms" => sleep_ms = value().parse().unwrap_or_else(|_| usage(&a)),
            "burn-us" => burn_us = value().parse().unwrap_or_else(|_| usage(&a)),
            "cert" => cert = Some(value()),
            "key" => key = Some(value()),
            _ => usage(&a),
        }
    }
    let tls = match (cert, key) {
        (Some(c), Some(k)) => Some((c, k)),
        (None, None) => None,
        _ => usage("(--cert and --key go together)"),
    };
    (
        addr,
        Duration::from_millis(sleep_ms),
        Duration::from_micros(burn_us),
        tls,
    )
}

fn usage(arg: &str) -> ! {
    eprintln!(
        "usage: hello [--addr HOST:PORT] [--sleep-ms N] [--burn-us N] [--cert FILE --key FILE] \
         (bad argument {arg:?})"
    );
    std::process::exit(2);
}
