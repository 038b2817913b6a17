//! pool: Go's worker pool with main on the main thread (peer contract; mirrors
//! `peers/go/pool`): W coroutines take jobs from one bounded channel (cap 100), each job is
//! `job_us` µs of CPU (a busy loop that checks the clock), and each result goes back on a
//! second channel that main drains. ratio = wall / ideal, 1.00 when every core is busy.
use std::time::{Duration, Instant};

use goro_benches::{flag, result};
use goro_chan::bounded;

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
    let workers: usize = flag("workers", 8);
    let jobs: usize = flag("jobs", 400);
    let job_us: u64 = flag("job-us", 1000);
    let d = Duration::from_micros(job_us);
    let start = Instant::now();
    let (job_tx, job_rx) = bounded::<usize>(100);
    let (res_tx, res_rx) = bounded::<u64>(100);
    for _ in 0..workers {
        let (job_rx, res_tx) = (job_rx.clone(), res_tx.clone());
        goro::spawn(move || {
            for _ in &job_rx {
                if res_tx.send(burn(d)).is_err() {
                    break;
                }
            }
        });
    }
    drop((job_rx, res_tx));
    goro::spawn(move || {
        for j in 0..jobs {
            if job_tx.send(j).is_err() {
                break;
            }
        }
    });
    let mut sum = 0u64;
    for _ in 0..jobs {
        sum = sum.wrapping_add(res_rx.recv().expect("a pool coroutine died"));
    }
    let wall = start.elapsed();
    let procs = goro::stats().workers;
    let par = procs.min(workers).max(1);
    let ideal_ms = jobs as f64 * job_us as f64 / 1000.0 / par as f64;
    let wall_ms = wall.as_secs_f64() * 1000.0;
    result(
        "pool",
        &[
            ("workers", workers.to_string()),
            ("jobs", jobs.to_string()),
            ("job_us", job_us.to_string()),
            ("procs", procs.to_string()),
            ("wall_ms", format!("{wall_ms:.1}")),
            ("ideal_ms", format!("{ideal_ms:.1}")),
            ("ratio", format!("{:.3}", wall_ms / ideal_ms)),
            ("checksum", (sum % 1000).to_string()),
        ],
    );
}
